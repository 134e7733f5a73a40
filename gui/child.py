"""Running a job's body in a child process, so the window never shares a GIL with it.

The window's long jobs (update, install, verify, rollback, planning) are CPU-bound Python
in the core: planning over thousands of files, hundreds of requests, hashing. Run on a
thread of the window's process, each of them held CPython's one GIL for tens of
milliseconds at a time, and the event loop waited that long (issue 15 measured up to
275 ms). :func:`in_child` runs such a body in a process of its own instead, started from
multiprocessing's fork server (forking the threaded window is unsafe), and relays what it
reports:

- progress reports travel over a pipe in batches, at most every :data:`BATCH_SECONDS`,
  and reach the job's own sink in order, so the window's relay sees exactly what a thread
  would have given it;
- the job's cancel token is forwarded as one message; the child cancels its own token
  (a window that dies closes the pipe, which cancels the child the same way);
- the body's result, or its exception with the child's traceback as a note, comes back
  the same way; an exception that cannot be pickled arrives as a
  :class:`~core.errors.SlipstreamError` with its text;
- the child's log records go to the window's log;
- a child that dies (killed, crashed) fails the job with :class:`EngineProcessError`. The
  core is crash-safe: the game folder is left at its old build or its new one, never
  mixed, and running the job again resumes.

The body must pickle: a module-level function, or a :func:`functools.partial` of one
over picklable arguments. The fork server's environment is the one it started with, so
the child is given the window's environment and working folder as they are now.

This module is Qt-free; :mod:`gui.jobs` runs the returned callable on a job's thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sys
import threading
import traceback
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

from core.errors import SlipstreamError
from core.progress import CancelToken, Progress, ProgressSink

log = logging.getLogger("slipstream.gui.child")

BATCH_SECONDS = 0.05
"""How long progress reports gather in the child before they are sent on."""

REAP_SECONDS = 120.0
"""How long a job's process may go on after its result (deleting the discarded downloads)
before it is killed; what it had not deleted goes at the game's next operation."""

NICENESS = 10
"""How much lower the child's CPU priority is than the window's (its patch workers
inherit it), as for any background work on a desktop: on two cores an update's processes
left the GUI thread waiting 10-45 ms for a CPU within single 50-130 ms waits of the event
loop at +5 (bench_gui.py --why). Alone on the machine the update runs as fast; beside a
busy program (a game being played) it yields to it."""

Body = Callable[[ProgressSink, CancelToken], Any]


class EngineProcessError(SlipstreamError):
    """The process doing this work stopped unexpectedly; run it again to resume."""


PRELOAD = ["__main__", "core.delta.xdelta", "gui.work"]
"""What the window's fork server imports before it forks anything: the patch workers'
module (:mod:`core.delta.xdelta`'s own list) and the job bodies with the whole engine
behind them. Without ``gui.work`` each job's process imported the engine itself, 0.5-0.8 s
before its first report (Python 3.11's fork server never keeps ``__main__`` imported,
whatever the list says, so the main script stays light: see gui/app.py)."""


def start_fork_server() -> None:
    """Start the fork server now, with :data:`PRELOAD`, so the first job does not wait for
    it (a fork server already running keeps its own list)."""
    if sys.platform == "linux":
        import multiprocessing.forkserver

        multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
        multiprocessing.forkserver.ensure_running()


def in_child(body: Body) -> Body:
    """A job body that runs ``body`` in a child process (see the module's docstring)."""

    def run(sink: ProgressSink, cancel: CancelToken) -> Any:
        return run_in_child(body, sink, cancel)

    return run


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform != "linux":
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("forkserver")


def run_in_child(body: Body, sink: ProgressSink, cancel: CancelToken) -> Any:
    """Run ``body`` in a child process; block until it ends, relaying to ``sink``."""
    context = _context()
    ours, theirs = context.Pipe()
    process = context.Process(  # type: ignore[attr-defined]
        target=_child_main,
        args=(theirs, body, dict(os.environ), os.getcwd()),
        name="slipstream-job",
    )
    process.start()
    theirs.close()
    told_to_cancel = False
    try:
        while True:
            if cancel.cancelled and not told_to_cancel:
                told_to_cancel = True
                with suppress(OSError):  # it is gone already; recv says how
                    ours.send(("cancel",))
            if not ours.poll(0.05):
                continue
            try:
                message = ours.recv()
            except (EOFError, OSError):
                process.join()
                raise EngineProcessError(
                    f"(exit code {process.exitcode}). The game folder is at its old build "
                    "or its new one, never a mix of both."
                ) from None
            kind = message[0]
            if kind == "progress":
                for progress in message[1]:
                    sink(progress)
            elif kind == "log":
                _, name, level, text = message
                logging.getLogger(name).log(level, "%s", text)
            elif kind == "succeeded":
                return message[1]
            elif kind == "failed":
                _, exc, details = message
                exc.add_note(f"In the job's process:\n{details}")
                raise exc
    finally:
        ours.close()
        # After its result the process still deletes the operation's discarded downloads
        # (core/gamedir/folder.py delete_later: 0.3-1.2 s for thousands of objects); the
        # job is done for the window, so the process is reaped on a thread of its own.
        threading.Thread(target=_reap, args=(process,), name="job-reaper", daemon=True).start()


def _reap(process: Any) -> None:
    process.join(REAP_SECONDS)
    if process.is_alive():  # it sent its result, so it has nothing left to lose
        process.kill()  # (discarded downloads it had not deleted go at the next operation)
        process.join()


class _Sender:
    """The child's side of the pipe: progress in batches, log records, the outcome.
    Sends come from several threads (the body's, the batcher's), one at a time."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._pending: list[Progress] = []
        self._wake = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._loop, name="job-progress", daemon=True)
        self._thread.start()

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            self._pending.append(progress)

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self._send_pending()
            self.conn.send(message)

    def close(self) -> None:
        self._done = True
        self._wake.set()
        self._thread.join()

    def _send_pending(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.conn.send(("progress", pending))

    def _loop(self) -> None:
        while not self._done:
            self._wake.wait(BATCH_SECONDS)
            with self._lock:
                try:
                    self._send_pending()
                except OSError:
                    return  # the window is gone; the listener cancels the body


class _PipeLogHandler(logging.Handler):
    def __init__(self, sender: _Sender) -> None:
        super().__init__(logging.INFO)
        self.sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sender.send(("log", record.name, record.levelno, self.format(record)))
        except Exception:  # a log line must never fail the work
            self.handleError(record)


def _listen(conn: Connection, token: CancelToken) -> None:
    """Cancel the body when the window says so, or when the window is gone."""
    try:
        while conn.recv()[0] != "cancel":
            pass
    except (EOFError, OSError):
        pass
    token.cancel()


def _child_main(conn: Connection, body: Body, environ: dict[str, str], cwd: str) -> None:
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    with suppress(OSError, AttributeError):  # AttributeError: no os.nice on Windows
        os.nice(NICENESS)
    token = CancelToken()
    sender = _Sender(conn)
    handler = _PipeLogHandler(sender)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("slipstream")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    threading.Thread(target=_listen, args=(conn, token), name="job-cancel", daemon=True).start()
    try:
        result = body(sender, token)
    except BaseException as exc:  # every failure reaches the window
        outcome: tuple[Any, ...] = ("failed", _picklable(exc), traceback.format_exc())
    else:
        outcome = ("succeeded", result)
        try:
            pickle.dumps(result)
        except Exception as exc:  # a bug of ours: say so rather than die mid-send
            outcome = ("failed", SlipstreamError(f"(its result could not be sent: {exc})"), "")
    root.removeHandler(handler)
    sender.close()
    with suppress(OSError):  # the window is gone; nothing is waiting for the outcome
        sender.send(outcome)


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return SlipstreamError(str(exc) or type(exc).__name__)
    return exc
