"""The player's settings: sources, download threads, bandwidth limit, checks, rollback points,
desktop notifications, starting at login and automatic updates.

They live in ``settings.json`` in :func:`core.library.db.home`, written atomically (a temporary
file, fsync, rename). Reading never fails: a missing file gives the defaults, and a damaged or
hand-edited file gives the defaults for whatever could not be used plus a message saying what
was wrong (:func:`load_settings_checked`). The file itself is left as it was, so the player
can still repair it by hand; only an explicit :func:`save_settings` replaces it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import LocalIOError, SettingsError
from core.format.bounds import BOUNDS
from core.fs import atomic_write, fsync_dir
from core.library.db import home

FILE_NAME = "settings.json"
FORMAT_VERSION = 1
MAX_FILE_BYTES = BOUNDS.settings_bytes
GOG_SOURCE = "gog"
"""The source name that stands for GOG's own hosts."""

THREADS_RANGE = (1, 32)
LIMIT_KIB_RANGE = (0, 1_000_000)
"""0 means no limit; the top is about 1 GB/s, above which a limit means nothing."""
CHECK_HOURS_RANGE = (0.0, 720.0)
CHECK_HOURS_MIN = 0.25
"""Background checks closer together than this only load the servers (0 means never)."""
KEEP_POINTS_RANGE = (0, 20)
MAX_SOURCES = 64


def normalize_source(text: str) -> str:
    """The source ``text`` as stored: ``gog`` or an http(s) URL without a trailing slash.

    Raises :class:`SettingsError` naming what is wrong with it."""
    value = text.strip()
    if value.casefold() == GOG_SOURCE:
        return GOG_SOURCE
    if not value:
        raise SettingsError("Enter a repository address such as http://127.0.0.1:8080.")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # a bracketed host that is no IPv6 address: http://[::1
        raise SettingsError(f"The source {value!r} is not a valid address ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise SettingsError(
            f"The source {value!r} must start with http:// or https:// (or be the word gog)."
        )
    if not parts.hostname:
        raise SettingsError(f"The source {value!r} names no server.")
    if any(ch.isspace() for ch in value):
        raise SettingsError(f"The source {value!r} contains spaces.")
    if parts.query or parts.fragment:
        raise SettingsError(f"The source {value!r} must not have a ?query or #fragment.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535
    except ValueError:
        raise SettingsError(f"The source {value!r} has an invalid port.") from None
    return value.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """What the player chose in the settings dialog; :meth:`validate` checks it."""

    sources: tuple[str, ...] = ()
    """Repository base URLs the player added; ``gog`` stands for GOG's own hosts."""
    download_threads: int = 4
    limit_rate_kib: int = 0
    """Bandwidth limit in KiB/s; 0 means no limit."""
    check_hours: float = 6.0
    """Hours between background checks for updates; 0 means never check."""
    keep_rollback_points: int = 2
    notifications: bool = True
    """Tell the player through the desktop's notifications (or the tray's balloons)."""
    start_at_login: bool = False
    """Start in the tray when the player logs in (:mod:`core.library.autostart`)."""
    auto_update: bool = False
    """Start an update on its own when a background check finds a newer build."""

    def validate(self) -> None:
        """Raise :class:`SettingsError` with an actionable message if any value is invalid."""
        seen: set[str] = set()
        if len(self.sources) > MAX_SOURCES:
            raise SettingsError(f"There are more than {MAX_SOURCES} sources; remove some.")
        for source in self.sources:
            normalized = normalize_source(source)
            if normalized != source:
                raise SettingsError(f"Write the source {source!r} as {normalized!r}.")
            if normalized.casefold() in seen:
                raise SettingsError(f"The source {source!r} is listed twice; remove one.")
            seen.add(normalized.casefold())
        for name, check in _FIELD_CHECKS.items():
            check(getattr(self, name))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "sources": list(self.sources),
            "download_threads": self.download_threads,
            "limit_rate_kib": self.limit_rate_kib,
            "check_hours": self.check_hours,
            "keep_rollback_points": self.keep_rollback_points,
            "notifications": self.notifications,
            "start_at_login": self.start_at_login,
            "auto_update": self.auto_update,
        }


def _check_int(what: str, value: object, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{what} must be a whole number, not {value!r}.")
    if not low <= value <= high:
        raise SettingsError(f"{what} must be between {low} and {high}, not {value}.")


def _check_bool(what: str, value: object) -> None:
    if not isinstance(value, bool):
        raise SettingsError(f"{what} must be true or false, not {value!r}.")


def _check_hours(value: object) -> None:
    low, high = CHECK_HOURS_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise SettingsError(f"Hours between update checks must be a number, not {value!r}.")
    if not low <= value <= high:
        raise SettingsError(
            f"Hours between update checks must be between {low:g} and {high:g}, not {value:g}."
        )
    if 0 < value < CHECK_HOURS_MIN:
        raise SettingsError(
            f"Check for updates at most every {CHECK_HOURS_MIN:g} hours, or set 0 to never "
            f"check (not {value:g})."
        )


_FIELD_CHECKS: dict[str, Callable[[Any], None]] = {
    "download_threads": lambda v: _check_int("Download threads", v, THREADS_RANGE),
    "limit_rate_kib": lambda v: _check_int("The bandwidth limit (KiB/s)", v, LIMIT_KIB_RANGE),
    "check_hours": _check_hours,
    "keep_rollback_points": lambda v: _check_int("Rollback points to keep", v, KEEP_POINTS_RANGE),
    "notifications": lambda v: _check_bool("Desktop notifications", v),
    "start_at_login": lambda v: _check_bool("Start at login", v),
    "auto_update": lambda v: _check_bool("Automatic updates", v),
}
"""Each number and switch setting's check, for :meth:`Settings.validate` and reading the file."""


def default_path() -> Path:
    """``settings.json`` in Slipstream's per-user folder."""
    return home() / FILE_NAME


def load_settings(path: Path | None = None) -> Settings:
    """The settings in ``path`` (default :func:`default_path`); never raises for a bad file.

    Use :func:`load_settings_checked` to learn what was wrong with a bad one."""
    return load_settings_checked(path)[0]


def load_settings_checked(path: Path | None = None) -> tuple[Settings, str | None]:
    """The settings in ``path`` and, if some could not be used, a message saying why.

    A missing file gives the defaults and no message. An unreadable or corrupt file gives the
    defaults; a file with some bad values keeps the good ones. The file is never changed."""
    path = path if path is not None else default_path()
    try:
        with path.open("rb") as src:
            data = src.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return Settings(), None
    except OSError as exc:
        return Settings(), (
            f"Could not read the settings in {path}: {exc.strerror or exc}. The defaults are used."
        )
    if len(data) > MAX_FILE_BYTES:
        return Settings(), _whole_file(path, f"is larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Settings(), _whole_file(path, "is not valid JSON")
    if not isinstance(doc, dict):
        return Settings(), _whole_file(path, "does not hold a JSON object")
    settings, problems = _from_json(doc)
    if not problems:
        return settings, None
    return settings, (
        f"Some settings in {path} could not be used. {' '.join(problems)} "
        "Saving the settings will replace the file."
    )


def _whole_file(path: Path, reason: str) -> str:
    return (
        f"The settings file {path} {reason}, so the defaults are used. "
        "Fix it by hand, or save the settings to replace it."
    )


def _from_json(doc: Mapping[str, Any]) -> tuple[Settings, list[str]]:
    """Settings from a parsed file, each bad value replaced by its default and described."""
    defaults = Settings()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, check in _FIELD_CHECKS.items():
        if name not in doc:
            continue
        try:
            check(doc[name])
        except SettingsError as exc:
            problems.append(f"{exc.detail} Using {getattr(defaults, name)!r} instead.")
        else:
            values[name] = float(doc[name]) if name == "check_hours" else doc[name]
    if "sources" in doc:
        values["sources"] = _sources_from_json(doc["sources"], problems)
    return replace(defaults, **values), problems


def _sources_from_json(raw: object, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list):
        problems.append("The sources are not a list; none are used.")
        return ()
    kept: list[str] = []
    for item in raw[:MAX_SOURCES]:
        if not isinstance(item, str):
            problems.append(f"The source {item!r} is not text and was skipped.")
            continue
        try:
            source = normalize_source(item)
        except SettingsError as exc:
            problems.append(f"{exc.detail} It was skipped.")
            continue
        if source.casefold() not in {k.casefold() for k in kept}:
            kept.append(source)
    if len(raw) > MAX_SOURCES:
        problems.append(f"Only the first {MAX_SOURCES} sources are used.")
    return tuple(kept)


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Validate ``settings`` and write them to ``path`` (default :func:`default_path`).

    The write is atomic: a temporary file in the same folder, fsynced, then renamed over the
    old file, so a crash leaves either the old settings or the new ones."""
    settings.validate()
    path = path if path is not None else default_path()
    data = (json.dumps(settings.to_json(), indent=2) + "\n").encode("utf-8")
    try:
        atomic_write(path, data)
        fsync_dir(path.parent)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "save the settings to") from None
