"""What the progress panel shows for one job, computed from the core's reports.

Pure Python (no Qt), so the numbers are tested without a window: the overall fraction
across phases (never going backwards), download speed and time left, bytes saved by
patches, and each file's state as the reports name it: a file that was patched and then
assembled from chunks fell back; one that was assembled was fetched; verified files (and
patched ones, which are checked as they leave the patch pool) end as verified.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.progress import Progress
from core.update.plan import Plan

# Share of the overall bar per phase of each kind of job: (start, end) in percent.
PHASES: dict[str, dict[str, tuple[float, float]]] = {
    "update": {
        "keeping copies": (0, 1),
        "planning": (1, 2),
        "downloading": (2, 62),
        "patching": (62, 80),
        "assembling": (80, 90),
        "verifying": (90, 97),
        "committing": (97, 100),
    },
    "rollback": {"planning": (0, 2), "restoring": (2, 100)},
    "verify": {"checking files": (0, 10), "hashing": (10, 70), "downloading": (70, 85)},
}
PHASES["install"] = PHASES["update"]

KIND_LABELS = {
    "patched": "patch",
    "chunked": "changed chunks",
    "new": "download",
    "full": "download",
    "deleted": "remove",
}


@dataclass(frozen=True)
class FileEvent:
    """One file reached ``phase`` (patching, assembling, verifying)."""

    phase: str
    path: str


@dataclass
class FileRow:
    path: str
    action: str
    state: str = "waiting"


@dataclass
class ProgressState:
    kind: str = "update"
    phase: str = ""
    item: str = ""
    overall: float = 0.0
    download_done: int = 0
    download_total: int = 0
    planned_bytes: int = 0
    full_bytes: int = 0
    files: dict[str, FileRow] = field(default_factory=dict)
    finished: bool = False
    outcome: str = ""
    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))
    _round: tuple[int, int] = (0, 0)
    _base: tuple[int, int] = (0, 0)

    # --- inputs ---------------------------------------------------------------------

    def set_plan(self, plan: Plan) -> None:
        self.planned_bytes, self.full_bytes = plan.download_bytes, plan.full_bytes
        self.files = {
            a.path: FileRow(a.path, KIND_LABELS.get(a.kind, a.kind))
            for a in plan.actions
            if a.kind != "unchanged"
        }

    def update(
        self, progress: Progress, events: Iterable[FileEvent] = (), now: float | None = None
    ) -> None:
        now = time.monotonic() if now is None else now
        if progress.phase == "downloading" and progress.unit == "bytes":
            last_done, last_total = self._round
            if progress.total != last_total or progress.done < last_done:
                # A new download round (patch chunks, then fallbacks): count on from
                # the rounds before it.
                self._base = (self._base[0] + last_done, self._base[1] + last_total)
                self._samples.clear()
            self._round = (progress.done, progress.total)
            self.download_done = self._base[0] + progress.done
            self.download_total = self._base[1] + progress.total
            self._samples.append((now, self.download_done))
        self.phase, self.item = progress.phase, progress.item
        span = PHASES.get(self.kind, {}).get(progress.phase)
        if span is not None:
            start, end = span
            value = (start + (end - start) * progress.fraction) / 100
        else:
            value = progress.fraction if not PHASES.get(self.kind) else self.overall
        self.overall = max(self.overall, min(1.0, value))
        for event in events:
            self.file_event(event.phase, event.path)

    def file_event(self, phase: str, path: str) -> None:
        row = self.files.get(path)
        if row is None:
            return  # a file the plan did not list (verify's scan names every file)
        if phase == "patching":
            row.state = "patched"
        elif phase == "assembling":
            row.state = "fell back" if row.state == "patched" else "fetched"
        elif phase == "verifying":
            row.state = "verified" if row.state != "fell back" else "fell back, verified"

    def finish(self, outcome: str, fallbacks: Iterable[str] = ()) -> None:
        """The job ended (``ok``, ``cancelled``, ``failed``)."""
        self.finished, self.outcome = True, outcome
        failed = set(fallbacks)
        for row in self.files.values():
            if row.path in failed and not row.state.startswith("fell back"):
                row.state = "fell back"
            if outcome == "ok":
                if row.state in ("patched", "fetched"):
                    row.state = "verified"
                elif row.action == "remove":
                    row.state = "removed"
                elif row.state == "fell back":
                    row.state = "fell back, verified"
        if outcome == "ok":
            self.overall = 1.0

    # --- outputs --------------------------------------------------------------------

    def speed(self) -> float | None:
        """Bytes per second over the last few seconds of downloading."""
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.2:
            return None
        return (b1 - b0) / (t1 - t0)

    def eta(self) -> float | None:
        speed = self.speed()
        if self.phase != "downloading" or not speed or speed <= 0:
            return None
        return max(0.0, (self.download_total - self.download_done) / speed)

    def saved_bytes(self) -> int:
        return max(0, self.full_bytes - self.planned_bytes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.files.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        return counts
