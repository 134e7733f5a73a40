"""What the progress panel shows for one job, computed from the core's reports.

Pure Python (no Qt), so the numbers are tested without a window. The bar and its text
come from the same numbers, so they never disagree: while downloading both are the
bytes (those already on disk from a cancelled run included, so a resumed update counts
on), in the other phases the files of that phase. Each file's state moves with the
work: ``waiting``, ``downloading``, ``patching``, then ``patched`` or ``fetched``, and
``verified``; a file that was patched and then assembled from chunks ``fell back``.
Changed rows are remembered by number (:meth:`ProgressState.take_changes`), so a view
touches only the rows that changed since its last refresh: with thousands of files,
walking the whole span between the first and the last change cost the window tens of
milliseconds of Python per refresh.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.progress import Phase, Progress
from core.units import format_bytes
from core.update.plan import Plan, PlanKind

# Share of the overall fraction per phase of each kind of job: (start, end) in percent.
PHASES: dict[str, dict[Phase, tuple[float, float]]] = {
    "update": {
        Phase.KEEPING_COPIES: (0, 1),
        Phase.PLANNING: (1, 2),
        Phase.DOWNLOADING: (2, 62),
        Phase.PATCHING: (62, 80),
        Phase.ASSEMBLING: (80, 90),
        Phase.VERIFYING: (90, 97),
        Phase.COMMITTING: (97, 100),
    },
    "rollback": {Phase.PLANNING: (0, 2), Phase.RESTORING: (2, 100)},
    "verify": {Phase.CHECKING_FILES: (0, 10), Phase.HASHING: (10, 70), Phase.DOWNLOADING: (70, 85)},
}
PHASES["install"] = PHASES["update"]

KIND_LABELS: dict[str, str] = {
    PlanKind.PATCHED: "patch",
    PlanKind.PACKED: "patch",
    PlanKind.CHUNKED: "changed chunks",
    PlanKind.NEW: "download",
    PlanKind.FULL: "download",
    PlanKind.DELETED: "remove",
}
OUTCOME_WORDS = {"ok": "Done", "cancelled": "Stopped", "failed": "Failed"}
IN_FLIGHT = ("downloading", "downloaded", "patching")


@dataclass(frozen=True)
class PlanRows:
    """What the window keeps of a plan: its byte counts and each changed file's path and
    kind. The plan itself is made in the job's process; a 2,500-file plan took the window's
    GIL for tens of milliseconds to unpickle, this takes about one."""

    download_bytes: int
    full_bytes: int
    rows: tuple[tuple[str, str], ...]
    """(path, plan kind) of every action that is not ``unchanged``, in the plan's order."""

    @classmethod
    def of(cls, plan: Plan) -> PlanRows:
        rows = tuple((a.path, str(a.kind)) for a in plan.actions if a.kind != "unchanged")
        return cls(plan.download_bytes, plan.full_bytes, rows)


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
    """The whole job's fraction over its phases; it never goes back."""
    fraction: float = 0.0
    """The current phase's fraction: what the bar shows."""
    done: int = 0
    total: int = 0
    unit: str = ""
    download_done: int = 0
    download_total: int = 0
    resumed_bytes: int = 0
    """Bytes a cancelled earlier run left downloaded: counted as done from the start."""
    planned_bytes: int = 0
    full_bytes: int = 0
    files_total: int = 0
    """Verify: the files it checks."""
    files: dict[str, FileRow] = field(default_factory=dict)
    finished: bool = False
    outcome: str = ""
    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))
    _round: tuple[int, int] = (0, 0)
    _base: tuple[int, int] = (0, 0)
    _index: dict[str, int] = field(default_factory=dict)
    _rows: list[FileRow] = field(default_factory=list)
    _dirty: set[int] = field(default_factory=set)
    _hashed: set[str] = field(default_factory=set)
    _resumed_whole: int = 0

    # --- inputs ---------------------------------------------------------------------

    def set_plan(self, plan: Plan | PlanRows) -> None:
        rows = plan if isinstance(plan, PlanRows) else PlanRows.of(plan)
        self.planned_bytes, self.full_bytes = rows.download_bytes, rows.full_bytes
        self.files, self._index, self._rows = {}, {}, []
        for path, kind in rows.rows:
            self._add_row(path, KIND_LABELS.get(kind, kind))
        self._dirty = set()

    def resume_from(self, whole: int, partial: int = 0) -> None:
        """Count bytes already on disk as downloaded: ``whole`` objects, which the update
        skips, and ``partial`` ones, whose rest it fetches (counting them whole)."""
        self.resumed_bytes, self._resumed_whole = whole + partial, whole
        self.download_done = whole + partial
        self.download_total = max(self.planned_bytes, self.download_done)

    def update(
        self, progress: Progress, events: Iterable[FileEvent] = (), now: float | None = None
    ) -> None:
        now = time.monotonic() if now is None else now
        if progress.phase != self.phase:
            self._enter_phase(str(progress.phase))
        if progress.phase == Phase.DOWNLOADING and progress.unit == "bytes":
            self._count_download(progress, now)
        self.phase, self.item = str(progress.phase), progress.item
        self.done, self.total, self.unit = progress.done, progress.total, progress.unit
        self._track_verify(progress)
        self.fraction = self._phase_fraction(progress)
        span = PHASES.get(self.kind, {}).get(progress.phase)
        if span is not None:
            start, end = span
            value = (start + (end - start) * progress.fraction) / 100
        else:
            value = progress.fraction if not PHASES.get(self.kind) else self.overall
        self.overall = max(self.overall, min(1.0, value))
        for event in events:
            self.file_event(event.phase, event.path)

    def _count_download(self, progress: Progress, now: float) -> None:
        last_done, last_total = self._round
        if progress.total != last_total or progress.done < last_done:
            # A new download round (patch chunks, then fallbacks): count on from the
            # rounds before it (the relay sends each round's last report).
            self._base = (self._base[0] + last_done, self._base[1] + last_total)
            self._samples.clear()
        self._round = (progress.done, progress.total)
        self.download_done = self.resumed_bytes + self._base[0] + progress.done
        self.download_total = max(
            self.planned_bytes, self._resumed_whole + self._base[1] + progress.total
        )
        self._samples.append((now, self.download_done))

    def _track_verify(self, progress: Progress) -> None:
        if progress.phase == Phase.CHECKING_FILES and progress.unit == "files":
            self.files_total = progress.total
        elif progress.phase == Phase.HASHING and progress.item:
            self._hashed.add(progress.item)

    def _phase_fraction(self, progress: Progress) -> float:
        if progress.phase == Phase.DOWNLOADING and self.download_total:
            return min(1.0, self.download_done / self.download_total)
        return progress.fraction

    def _enter_phase(self, phase: str) -> None:
        """Move the files the new phase works on."""
        for row in self.files.values():
            if phase == Phase.DOWNLOADING and row.state == "waiting" and row.action != "remove":
                self._set(row, "downloading")
            elif phase == Phase.PATCHING and row.state == "downloading":
                self._set(row, "patching" if row.action == "patch" else "downloaded")

    def file_event(self, phase: str, path: str) -> None:
        row = self.files.get(path)
        if row is None:
            if self.kind != "install" or phase != Phase.ASSEMBLING:
                return  # a file the plan did not list (verify's scan names every file)
            row = self._add_row(path, "download")
        if phase == Phase.PATCHING:
            self._set(row, "patched")
        elif phase == Phase.ASSEMBLING:
            self._set(row, "fell back" if row.state == "patched" else "fetched")
        elif phase == Phase.VERIFYING:
            self._set(row, "verified" if row.state != "fell back" else "fell back, verified")

    def finish(self, outcome: str, fallbacks: Iterable[str] = ()) -> None:
        """The job ended (``ok``, ``cancelled``, ``failed``)."""
        self.finished, self.outcome = True, outcome
        failed = set(fallbacks)
        for row in self.files.values():
            if row.path in failed and not row.state.startswith("fell back"):
                self._set(row, "fell back")
            if outcome == "ok":
                self._set(row, _final_state(row))
            elif row.state in IN_FLIGHT:
                self._set(row, "stopped")
        if outcome == "ok":
            self.overall = self.fraction = 1.0

    def _add_row(self, path: str, action: str) -> FileRow:
        row = FileRow(path, action)
        self._index[path] = len(self._rows)
        self.files[path] = row
        self._rows.append(row)
        self._mark(self._index[path])
        return row

    def _set(self, row: FileRow, state: str) -> None:
        if row.state != state:
            row.state = state
            self._mark(self._index[row.path])

    def _mark(self, n: int) -> None:
        self._dirty.add(n)

    # --- outputs --------------------------------------------------------------------

    def take_changes(self) -> list[int]:
        """The rows changed since the last call, in order (empty: none)."""
        dirty, self._dirty = self._dirty, set()
        return sorted(dirty)

    def row_at(self, n: int) -> FileRow:
        return self._rows[n]

    def row_count(self) -> int:
        return len(self._rows)

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
        if self.phase != Phase.DOWNLOADING or not speed or speed <= 0:
            return None
        return max(0.0, (self.download_total - self.download_done) / speed)

    def saved_bytes(self) -> int:
        return max(0, self.full_bytes - self.planned_bytes)

    def checked_files(self) -> int:
        """Verify: the files checked so far."""
        if self.finished and self.outcome == "ok":
            return self.files_total
        if self.phase == "hashing":
            return min(len(self._hashed), self.files_total)
        return 0  # the scan before hashing looks at sizes and dates only

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.files.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        return counts

    def bar_text(self) -> str:
        """What the bar says, from the same numbers as its value."""
        if self.finished:
            return OUTCOME_WORDS.get(self.outcome, self.outcome)
        percent = f"{self.fraction:.0%}"
        if self.phase == Phase.DOWNLOADING and self.download_total:
            done, total = format_bytes(self.download_done), format_bytes(self.download_total)
            return f"{done} of {total} ({percent})"
        if self.unit == "files" and self.total:
            return f"{self.done} of {self.total} files ({percent})"
        if self.unit == "bytes" and self.total:
            return f"{format_bytes(self.done)} of {format_bytes(self.total)} ({percent})"
        return percent if self.phase else "Starting…"


def _final_state(row: FileRow) -> str:
    if row.action == "remove":
        return "removed"
    if row.state.startswith("fell back"):
        return "fell back, verified"
    return "verified"
