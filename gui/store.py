"""What the window knows about the player's games, shared by the window and its operations.

The window renders this state and the operations (gui/operations.py) change it; keeping
it in one plain object, below both, is what lets neither hold the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import SlipstreamError
from core.format.builds import BuildItem
from core.library.db import InstallRecord, Library
from core.update.estimate import Cost
from core.update.target import pick_build
from gui import work
from gui.progress_state import ProgressState


@dataclass
class GameStore:
    records: dict[str, InstallRecord] = field(default_factory=dict)
    """Installed games by folder (the key every other map uses)."""
    listings: dict[str, list[BuildItem]] = field(default_factory=dict)
    """The builds each game's source offered at the last check."""
    costs: dict[str, dict[str, Cost | SlipstreamError]] = field(default_factory=dict)
    """What each listed build costs from the installed one, by build id."""
    progress: dict[str, ProgressState] = field(default_factory=dict)
    """The running (or last finished) job's progress of each game."""
    errors: dict[str, str] = field(default_factory=dict)
    """Why a game's last job failed, until the next one starts."""
    notified: dict[str, str] = field(default_factory=dict)
    """The newest build the player was told about, so each is announced once."""
    pending: dict[str, InstallRecord] = field(default_factory=dict)
    """Installs under way: listed from their first second, before the library has them."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes each game's installed files take, by folder."""
    names: dict[str, str] = field(default_factory=dict)
    """Each game's product name from its repository's product document: it stays the
    same on every branch, where a build's manifest may name the product otherwise."""
    art: dict[str, str] = field(default_factory=dict)
    """Each game's cached icon file ("" when it has none)."""
    covers: dict[str, str] = field(default_factory=dict)
    """Each game's cached cover image ("" when it has none)."""
    kept: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    """The player's own files the last update moved out of the new build's way, and
    the folder they are in."""

    def reload(self) -> None:
        """Read the installed games from the library (installs under way after them); on
        error only those under way are listed."""
        self.records = dict(self.pending)
        with Library.open() as lib:
            installs = lib.installs()
        self.records = {str(r.path): r for r in installs}
        for key, record in self.pending.items():
            self.records.setdefault(key, record)

    def add_pending(self, key: str, product: str, os: str, lang: str, source: str) -> None:
        """List an install from its start, named after its folder until the build's
        manifest names it."""
        now = time.time()
        self.pending[key] = InstallRecord(
            0, Path(key), product, os, Path(key).name, "", "", None, lang, source,
            "installing", now, now,
        )  # fmt: skip
        self.records.setdefault(key, self.pending[key])

    def drop_pending(self, key: str) -> None:
        record = self.records.get(key)
        if self.pending.pop(key, None) is not None and record and record.status == "installing":
            del self.records[key]

    def is_pending(self, key: str) -> bool:
        record = self.records.get(key)
        return record is not None and record.status == "installing" and key in self.pending

    def name(self, key: str, default: str) -> str:
        record = self.records.get(key)
        if key in self.names:
            return self.names[key]
        return record.name if record is not None else default

    def newest(self, key: str) -> BuildItem | None:
        """The build an update of ``key`` goes to: the newest of its branch."""
        record = self.records.get(key)
        items = self.listings.get(key)
        if record is None or not items:
            return None
        try:
            return pick_build(work.as_listing(items), None, record.branch)
        except SlipstreamError:
            return None

    def has_update(self, key: str) -> bool:
        newest = self.newest(key)
        record = self.records.get(key)
        return newest is not None and record is not None and newest.build_id != record.build_id
