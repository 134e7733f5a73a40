"""Running the core off the GUI thread: one QThread per job, one job per game at a time.

The core reports progress from its own threads (download threads, the patch pool's
collector) through a plain callable. :class:`ProgressRelay` is that callable: it keeps
the newest report and emits it as a Qt signal at most ``rate`` times a second, so a fast
download cannot flood the event loop; reports that name a file (``unit == "files"``) are
never dropped but batched, so the per-file list misses no file. A report of a new phase
goes out at once.
"""

from __future__ import annotations

import atexit
import gc
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from shiboken6 import isValid

from core.progress import CancelToken, Progress, ProgressSink
from gui.progress_state import FileEvent

IDLE_COLLECT_MS = 2_000
"""How long the jobs must have been idle before a full garbage collection."""

Work = Callable[[ProgressSink, CancelToken], Any]
"""A job's body: runs on the job's thread, given a sink and a cancel token."""

EXIT_WAIT_MS = 10_000
"""How long the process's exit waits for each job still running (cancelled first)."""

_live: set[Job] = set()
"""Every job whose thread may still run. Qt aborts the process when a QThread is
destroyed while it runs ("QThread: Destroyed while thread 'job-history' is still
running"), and a job started as a window closed (its history read after an update, say)
could lose its last reference with the window: the job stays here until it has ended."""


class ProgressRelay(QObject):
    """A thread-safe progress sink that emits ``progressed(Progress, list[FileEvent])``
    on the receiver's thread, rate-limited."""

    progressed = Signal(object, object)

    def __init__(self, rate: float = 10.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = 1.0 / rate
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._unsent: Progress | None = None
        self._events: list[FileEvent] = []
        self._phase = ""
        self._sent = 0.0

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            last, self._latest = self._latest, progress
            unsent, self._unsent = self._unsent, progress
            if progress.unit == "files" and progress.item:
                self._events.append(FileEvent(progress.phase, progress.item))
            now = time.monotonic()
            # A phase or a download round ends with the report just before the next one:
            # that count goes out too, or the window's counters come up short.
            new_phase = progress.phase != self._phase
            ended = unsent if new_phase or _new_round(last, progress) else None
            if not (new_phase or ended or now - self._sent >= self.interval):
                return
            self._phase, self._sent, self._unsent = progress.phase, now, None
            events, self._events = self._events, []
        if ended is not None:
            self.progressed.emit(ended, [])
        self.progressed.emit(progress, events)

    def flush(self) -> None:
        """Send whatever is pending (called when the job ends)."""
        with self._lock:
            latest, events, self._events = self._latest, self._events, []
        if latest is not None and events:
            self.progressed.emit(latest, events)


def _new_round(last: Progress | None, progress: Progress) -> bool:
    """Whether ``progress`` starts a new count in the same phase (another download)."""
    return (
        last is not None
        and last.phase == progress.phase
        and last.unit == progress.unit == "bytes"
        and (last.total != progress.total or progress.done < last.done)
    )


class _Runner(QObject):
    """Lives on the job's thread and runs the work there."""

    succeeded = Signal(object)
    failed = Signal(object, str)

    def __init__(self, work: Work, relay: ProgressRelay, cancel: CancelToken) -> None:
        super().__init__()
        self.work = work
        self.relay = relay
        self.cancel = cancel

    @Slot()
    def _on_thread_started(self) -> None:
        try:
            result = self.work(self.relay, self.cancel)
        except BaseException as exc:  # every failure reaches the window, none is lost
            self.relay.flush()
            self.failed.emit(exc, traceback.format_exc())
        else:
            self.relay.flush()
            self.succeeded.emit(result)
        finally:
            # End the thread now, not when the GUI thread gets round to it: a window
            # waiting for its jobs (quitting) must not wait on an idle event loop.
            thread = QThread.currentThread()
            if thread is not None:
                thread.quit()


class Job(QObject):
    """One piece of core work on its own QThread.

    Signals arrive on the GUI thread: ``progressed(Progress, list[FileEvent])``,
    ``succeeded(result)``, ``failed(exception, traceback text)`` and, after either,
    ``ended()``."""

    progressed = Signal(object, object)
    succeeded = Signal(object)
    failed = Signal(object, str)
    ended = Signal()

    def __init__(self, key: str, kind: str, work: Work, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.kind = kind
        self.cancel_token = CancelToken()
        # No Qt parent: the runner's thread holds the relay too, and a parent deleted
        # while the work still runs (a window torn down mid-job) would delete the relay
        # under it ("Signal source has been deleted" on its next report).
        self.relay = ProgressRelay()
        self.relay.progressed.connect(self.progressed)
        self._thread = QThread()
        self._thread.setObjectName(f"job-{kind}")
        self._runner = _Runner(work, self.relay, self.cancel_token)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner._on_thread_started)
        self._runner.succeeded.connect(self._on_runner_succeeded)
        self._runner.failed.connect(self._on_runner_failed)
        self.running = False

    def start(self) -> None:
        self.running = True
        _live.add(self)
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def wait(self, ms: int = 60_000) -> bool:
        return self._thread.wait(ms)

    def _finish(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self.running = False
        _live.discard(self)
        self.ended.emit()

    @Slot(object)
    def _on_runner_succeeded(self, result: Any) -> None:
        self._finish()
        self.succeeded.emit(result)

    @Slot(object, str)
    def _on_runner_failed(self, exc: BaseException, details: str) -> None:
        self._finish()
        self.failed.emit(exc, details)


class JobManager(QObject):
    """Keeps one job per key (a game folder, or a named background task) at a time."""

    changed = Signal(str)
    """A job started or ended for this key."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs: dict[str, Job] = {}

    def busy(self, key: str) -> bool:
        return key in self.jobs

    def get(self, key: str) -> Job | None:
        return self.jobs.get(key)

    def start(self, key: str, kind: str, work: Work) -> Job | None:
        """Start ``work`` for ``key``; None when a job for ``key`` is still running."""
        if key in self.jobs:
            return None
        # No Qt parent: the dict owns the job, and dropping it once it has ended frees
        # it (a parent deleting jobs behind Python's back crashes on teardown).
        job = Job(key, kind, work)
        self.jobs[key] = job
        job.ended.connect(lambda: self._on_job_ended(key, job))
        job.start()
        self.changed.emit(key)
        return job

    def _on_job_ended(self, key: str, job: Job) -> None:
        if not isValid(self):
            return  # the window, and this manager with it, went first (at quit)
        if self.jobs.get(key) is job:
            del self.jobs[key]
        self.changed.emit(key)
        if not self.jobs:
            QTimer.singleShot(IDLE_COLLECT_MS, self._collect_if_idle)

    def _collect_if_idle(self) -> None:
        """The window turns off CPython's automatic full collections (gui/app.py): the
        collector runs here instead, once no job has run for a moment (an update's end
        is followed by its history and size reads, and a prepared update by the update)."""
        if isValid(self) and not self.jobs:
            gc.collect()

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel()

    def wait_all(self, ms: int = 60_000) -> bool:
        return all(job.wait(ms) for job in list(self.jobs.values()))


@atexit.register
def _wait_for_live_jobs() -> None:
    """At the process's exit, cancel the jobs still running and wait for their threads
    (each ends its own thread after its work): none is destroyed while it runs."""
    for job in list(_live):
        job.cancel()
        if isValid(job._thread):
            job._thread.wait(EXIT_WAIT_MS)
    _live.clear()
