"""What an operation did: the report the CLI prints, the window shows and the library
records, and the clock that times each phase of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from core.progress import Progress, ProgressSink


@dataclass
class OperationReport:
    kind: str
    game_dir: str
    product: str = ""
    from_build: str | None = None
    to_build: str | None = None
    version_name: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    route: list[str] = field(default_factory=list)
    bytes_downloaded: int = 0
    bytes_planned: int = 0
    bytes_full: int = 0
    patches_applied: int = 0
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """The player's own files (no installed build had them) that the new build replaced;
    copies are in ``kept_in``."""
    kept_in: str = ""
    recovered: str | None = None
    up_to_date: bool = False
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What the player should know that is not an error (say, skipped dependencies)."""

    def to_json(self) -> dict[str, Any]:
        doc = dict(self.__dict__)
        doc["fallbacks"] = [{"path": p, "reason": r} for p, r in self.fallbacks]
        doc.update({f"files_{k}": v for k, v in self.counts.items()})
        return doc


class PhaseClock:
    """A progress sink that also times each phase."""

    def __init__(self, sink: ProgressSink) -> None:
        self.sink = sink
        self.phases: dict[str, float] = {}
        self._phase = ""
        self._since = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        if progress.phase != self._phase:
            self.switch(progress.phase)
        self.sink(progress)

    def switch(self, phase: str) -> None:
        now = time.monotonic()
        if self._phase:
            self.phases[self._phase] = self.phases.get(self._phase, 0.0) + now - self._since
        self._phase, self._since = phase, now

    def done(self) -> dict[str, float]:
        self.switch("")
        return {k: round(v, 3) for k, v in self.phases.items()}
