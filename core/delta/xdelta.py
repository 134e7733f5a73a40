"""xdelta3 (VCDIFF) patches: make them, apply them, and run both in worker processes.

Why a process pool: pyxdelta holds the GIL for the whole encode or decode (a Python thread
beside a 64 MiB decode ran at 3% of its rate), so patching on a thread would freeze the
window for the length of the patch. Every call therefore runs in :class:`PatchPool`, a
process pool with one worker per core, which also keeps a crash in xdelta3's C code on a
hostile patch out of the calling process.

Why two encoders: pyxdelta encodes with xdelta3's fixed 64 MiB source window, so in a
larger file content that moved further than that finds no match (a 512 MiB file with its
halves swapped gave a 537 MB patch in 150 s). The ``xdelta3`` command with a source window
covering the whole source made 1.8 KB in 4 s. Files above ``cli_above`` are encoded with the
command when it is installed, always with ``-S none`` (Debian's default ``-S lzma`` makes
patches pyxdelta cannot read). Decoding always uses pyxdelta, which reads both kinds.

Both :func:`encode` and :func:`decode` write a partial file next to their result and rename it
into place, so an interrupted call never leaves a half-written patch or output behind.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    InvalidStateError,
    ProcessPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, ParamSpec, TypeVar

import pyxdelta

from core.delta import codecs, hdiff
from core.delta.vcdiff import call_pyxdelta, decode, os_reason, partial_path, remove, tidy
from core.errors import CancelledError, PatchDecodeError, PatchEncodeError
from core.progress import NEVER_CANCELLED, CancelToken, Phase, Progress, ProgressSink, null_sink

__all__ = [
    "CLI_MAX_WINDOW",
    "CLI_MIN_WINDOW",
    "DEFAULT_CLI_ABOVE",
    "EncodeJob",
    "EncodeResult",
    "PatchPool",
    "decode",
    "encode",
    "partial_path",
]

log = logging.getLogger(__name__)

DEFAULT_CLI_ABOVE = 64 * 2**20
"""Files larger than pyxdelta's fixed 64 MiB source window go to the ``xdelta3`` command."""

CLI_MIN_WINDOW = 512 * 2**10
CLI_MAX_WINDOW = 2 * 2**30
"""xdelta3 3.0.11 refuses ``-B`` outside 512 KiB..2 GiB (``-B: maximum value: 2147483648``).
A source larger than 2 GiB is encoded with a 2 GiB window: content that moved further than
that finds no match and is stored literally, so such patches grow but stay correct. The
command's memory grows with the window: 190 MB peak for an 80 MiB source, about 1 GB of
tables alone at the 2 GiB cap, once per worker encoding a large file."""

_POLL_SECONDS = 0.1

_P = ParamSpec("_P")
_T = TypeVar("_T")


def encode(source: Path, target: Path, patch: Path, *, cli_above: int = DEFAULT_CLI_ABOVE) -> int:
    """Write a patch at ``patch`` that turns ``source`` into ``target``; return its size.

    Files where the source or target is larger than ``cli_above`` bytes are encoded with the
    ``xdelta3`` command and a source window covering the whole source (capped at
    :data:`CLI_MAX_WINDOW`); without the command they fall back to pyxdelta, which is correct
    but finds no far-moved content. Raises :class:`PatchEncodeError` naming the files and
    carrying xdelta3's message.

    pyxdelta's message is captured by pointing file descriptor 2 at a temporary file for the
    length of the call. That is process-wide, which is fine because this function is meant
    to run in a worker process (see :class:`PatchPool`).
    """
    what = f"{source} → {target}"
    try:
        source_size = source.stat().st_size
        largest = max(source_size, target.stat().st_size)
    except OSError as exc:
        raise PatchEncodeError(f"{what}: {os_reason(exc)}") from exc
    cli = _find_cli() if largest > cli_above else None
    if largest > cli_above and cli is None:
        log.info("xdelta3 command not found; encoding %s with pyxdelta's 64 MiB window", target)
    partial = partial_path(patch)
    try:
        remove(partial)
        if cli is not None:
            ok, message = _encode_cli(cli, source, target, partial, _cli_window(source_size))
        else:
            ok, message = call_pyxdelta(
                pyxdelta.run, infile=str(source), outfile=str(target), patchfile=str(partial)
            )
        if not ok:
            raise PatchEncodeError(f"{what}: {message or 'xdelta3 printed no message'}")
        size = partial.stat().st_size
        os.replace(partial, patch)
        return size
    except OSError as exc:
        raise PatchEncodeError(f"{what}: {os_reason(exc)}") from exc
    finally:
        with suppress(OSError):
            remove(partial)


def _find_cli() -> str | None:
    return shutil.which("xdelta3")


def _cli_window(source_size: int) -> int:
    return min(max(source_size, CLI_MIN_WINDOW), CLI_MAX_WINDOW)


def _encode_cli(cli: str, source: Path, target: Path, out: Path, window: int) -> tuple[bool, str]:
    # -S none: pyxdelta cannot decode Debian's default lzma secondary compression.
    # -D: never decompress gzip/xz inputs through an external program (pyxdelta cannot
    #     recompress on decode). -A=: no application header, so patches do not carry the
    #     publisher's file paths. Absolute paths keep a name starting with "-" from
    #     reading as an option; XDELTA is dropped because xdelta3 takes options from it.
    args = [cli, "-e", "-f", "-D", "-A=", "-S", "none", "-B", str(window)]
    args += ["-s", str(source.absolute()), str(target.absolute()), str(out.absolute())]
    env = {k: v for k, v in os.environ.items() if k != "XDELTA"}
    with (
        subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        ) as proc,
        _child_dies_with_us(proc),
    ):
        try:
            _, err = proc.communicate()
        except BaseException:
            proc.kill()
            raise
    if proc.returncode == 0:
        return True, ""
    return False, tidy(err) or f"xdelta3 exited with status {proc.returncode}"


@contextmanager
def _child_dies_with_us(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill ``proc`` if this process gets SIGTERM (how :class:`PatchPool` stops workers).

    Without this the ``xdelta3`` command would outlive a cancelled worker and keep writing.
    Signal handlers can only be set from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or sys.platform == "win32":
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:  # set outside Python: it could not be put back
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        if previous == signal.SIG_IGN:
            return
        proc.kill()
        if callable(previous):  # the command's exit status then fails the encode
            previous(signum, frame)
            return
        with suppress(ChildProcessError):  # reap it now: nobody else will wait for it
            os.waitpid(proc.pid, 0)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the process pool ------------------------------------------------------------------


@dataclass(frozen=True)
class EncodeJob:
    """Make ``patch``, turning ``source`` into ``target``, with ``codec`` (one of
    :data:`core.delta.codecs.CODECS`; an ``xdelta3`` patch is plain VCDIFF, not zlib'd)."""

    source: Path
    target: Path
    patch: Path
    codec: str = "xdelta3"


@dataclass(frozen=True)
class EncodeResult:
    """The outcome of one :class:`EncodeJob`: the patch's size, or the error."""

    job: EncodeJob
    size: int | None
    error: PatchEncodeError | None


def _default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class PatchPool:
    """Worker processes that run every codec's encode and decode (:func:`encode`,
    :func:`decode`, :mod:`core.delta.hdiff`, pack entries), one per core by default.

    Use it as a context manager: leaving the block waits for the workers to stop, or, if an
    exception is leaving it, stops them at once. Workers start on first use with the
    "forkserver" method on Linux (forking a threaded GUI process is unsafe) and "spawn"
    elsewhere. A cancel, or a worker that died (a crash on a hostile patch), discards the
    workers; the next call starts fresh ones.
    """

    def __init__(self, jobs: int | None = None, *, cli_above: int = DEFAULT_CLI_ABOVE) -> None:
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.jobs = jobs or _default_workers()
        self.cli_above = cli_above
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._starter: threading.Thread | None = None
        # Partial output of every job not finished yet, removed once its worker is dead.
        self._partials: dict[Future[Any], tuple[Path, ...]] = {}

    def __enter__(self) -> PatchPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    def close(self) -> None:
        """Let running jobs finish, then stop the workers."""
        self._join_starter()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def terminate(self) -> None:
        """Drop queued jobs and stop the workers now, running jobs included."""
        self._join_starter()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list(executor._processes.values())  # public only from Python 3.14
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with suppress(ValueError):  # already closed
                process.terminate()
        for process in processes:
            with suppress(ValueError):
                process.join(5)
                if process.is_alive():
                    process.kill()
                    process.join()
        executor.shutdown(wait=True)
        # Every worker is dead now, so nothing can write these any more. The futures'
        # own callbacks may still be on their way; removing here does not race them.
        with self._lock:
            partials, self._partials = self._partials, {}
        for future, paths in partials.items():
            if not (future.done() and not future.cancelled() and future.exception() is None):
                for partial in paths:
                    with suppress(OSError):
                        remove(partial)

    def warm(self) -> None:
        """Start the workers now, without waiting for them: an update calls this before it
        downloads, so the first decode does not also pay for the forkserver and the workers
        starting (0.06-0.3 s, more when the host program imports much)."""
        executor = self._live_executor()
        for _ in range(self.jobs):  # one job each: the pool spawns a worker per idle-less submit
            executor.submit(_warm_up)

    def start(self) -> None:
        """:meth:`warm` on a thread of its own, returning at once: an update calls this
        before it fetches its manifests and plans, so the workers (and, the first time in a
        process, the fork server) start while it does. :meth:`close` and :meth:`terminate`
        wait for that thread first, so no worker starts after them."""
        with self._lock:
            if self._starter is not None:
                return
            self._starter = threading.Thread(target=self._warm_quietly, name="patch-pool-start")
            self._starter.start()

    def _warm_quietly(self) -> None:
        # A pool that cannot start its workers fails its first job, with the reason.
        with suppress(OSError, RuntimeError, BrokenProcessPool):
            self.warm()

    def _join_starter(self) -> None:
        with self._lock:
            starter, self._starter = self._starter, None
        if starter is not None:
            starter.join()

    def encode_all(
        self,
        jobs: Sequence[EncodeJob],
        *,
        progress: ProgressSink = null_sink,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> Iterator[EncodeResult]:
        """Run every job and yield each one's result as it finishes, in finishing order.

        A failing job is yielded with its :class:`PatchEncodeError`; the others carry on.
        Progress counts the bytes of the targets done so far. A cancel stops every job in
        this pool at once and raises :class:`CancelledError`; finished patches stay.
        """
        cancel.raise_if_cancelled()
        if not jobs:
            return
        sizes = {job: _size_or_zero(job.target) for job in jobs}
        total, done = sum(sizes.values()), 0
        progress(Progress(phase=Phase.PATCHING, done=0, total=total))
        running: dict[Future[int], EncodeJob] = {}
        for job in jobs:
            if job.codec == "hdiffpatch":
                future = self._submit(
                    partial_path(job.patch), _encode_hdiff, job.source, job.target, job.patch
                )
            else:
                future = self._submit(
                    partial_path(job.patch),
                    encode,
                    job.source,
                    job.target,
                    job.patch,
                    cli_above=self.cli_above,
                )
            running[future] = job
        try:
            while running:
                finished, _ = wait(running, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                if cancel.cancelled:
                    self.terminate()
                    raise CancelledError()
                for future in finished:
                    job = running.pop(future)
                    done += sizes[job]
                    progress(Progress(Phase.PATCHING, done, total, item=job.target.name))
                    yield _encode_result(job, future)
        finally:
            for future in running:  # only left when the caller stopped iterating early
                future.cancel()

    def decode(self, source: Path, patch: Path, out: Path) -> Future[None]:
        """Queue one :func:`decode`; the future fails with :class:`PatchDecodeError`.

        Cancelling the future drops the job if it has not started; a started job runs on.
        """
        inner = self._submit(partial_path(out), decode, source, patch, out)
        return self._settled(inner, f"{patch} on {source}")

    def decode_many(self, items: Sequence[tuple[Path, Path, Path, str]]) -> Future[list[Decoded]]:
        """Queue several :func:`decode` calls (source, patch, out, algorithm) as one job,
        each output then hashed in the worker with its ``algorithm`` (a :mod:`hashlib`
        name): for each item, (bytes, hex digest) or its :class:`PatchDecodeError`.

        Meant for small files: one job costs a round trip through the pool's queues and
        threads, which for a file of a few kB took longer than its decode, and the output
        is hashed while it is still in the page cache, away from the caller's GIL. A
        worker that dies (a crash on a hostile patch) fails the whole future with
        :class:`PatchDecodeError`; the caller can then decode the items one by one."""
        partials = tuple(partial_path(out) for _, _, out, _ in items)
        inner = self._submit(partials, _decode_many, list(items))
        return self._settled(inner, f"{len(items)} patches")

    def decode_entries(
        self, items: Sequence[tuple[str, Path, Path, Path, int, str]]
    ) -> Future[list[Decoded]]:
        """Queue several pack entries' decodes (codec, source, delta, out, size of the
        target, algorithm) as one job, like :meth:`decode_many`: each output hashed in
        the worker, for each item (bytes, hex digest) or its :class:`PatchDecodeError`,
        and a worker that dies fails the whole future with :class:`PatchDecodeError`.
        Each entry was one job before: a many-file update with packs spent 1.5 s patching
        372 small files, about twice its xdelta3 patches' batched time."""
        partials = tuple(partial_path(out) for _, _, _, out, _, _ in items)
        inner = self._submit(partials, _decode_entries, list(items))
        return self._settled(inner, f"{len(items)} pack entries")

    @staticmethod
    def _settled(inner: Future[_T], what: str) -> Future[_T]:
        """A future for the caller: a dead worker becomes a :class:`PatchDecodeError`, and
        cancelling it drops the job if it has not started."""
        outer: Future[_T] = Future()

        def settle(done: Future[_T]) -> None:
            with suppress(InvalidStateError):  # outer was cancelled meanwhile
                if done.cancelled():
                    outer.cancel()
                elif isinstance(error := done.exception(), BrokenProcessPool):
                    outer.set_exception(PatchDecodeError(f"{what}: {_DIED}"))
                elif error is not None:
                    outer.set_exception(error)
                else:
                    outer.set_result(done.result())

        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        inner.add_done_callback(settle)
        return outer

    def decode_entry(
        self, codec: str, source: Path, delta: Path, out: Path, *, size_target: int | None = None
    ) -> Future[None]:
        """Queue one pack entry's decode (:func:`core.delta.codecs.decode_entry`), with the
        same crash isolation as :meth:`decode`: a worker that dies fails this future with
        :class:`PatchDecodeError`, and the pool starts fresh workers for the next job."""
        return self._settled(
            self._submit(
                partial_path(out),
                codecs.decode_entry,
                codec,
                source,
                delta,
                out,
                size_target=size_target,
            ),
            f"{delta} on {source}",
        )

    def _submit(
        self,
        partials: Path | tuple[Path, ...],
        fn: Callable[_P, _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Future[_T]:
        """Queue ``fn``, which writes ``partials``; remove them if its worker dies."""
        paths = (partials,) if isinstance(partials, Path) else partials
        try:
            future = self._live_executor().submit(fn, *args, **kwargs)
        except BrokenProcessPool:  # a worker died since the last look; start afresh once
            future = self._live_executor().submit(fn, *args, **kwargs)
        with self._lock:
            self._partials[future] = paths
        future.add_done_callback(functools.partial(_drop_if_died, paths))
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        """A job that ran to its end cleaned up its own partial file."""
        if future.cancelled() or isinstance(future.exception(), BrokenProcessPool):
            return  # terminate() (or _drop_if_died) removes what it left
        with self._lock:
            self._partials.pop(future, None)

    def _live_executor(self) -> ProcessPoolExecutor:
        with self._lock:
            broken = self._executor
            # _broken is private but typed; it turns true once a worker has died.
            if broken is not None and broken._broken:
                self._executor = None
            else:
                broken = None
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.jobs,
                    mp_context=_context(),
                    initializer=_exit_with_owner,
                    initargs=(os.getpid(),),
                )
            executor = self._executor
        if broken is not None:
            broken.shutdown(wait=True)
        return executor


_DIED = "the worker process stopped unexpectedly (it crashed or was killed)."

_PRELOAD = ["__main__", __name__]
"""What the fork server imports before it forks any worker: the host program's main
module (multiprocessing's default) and this module, with pyxdelta and every codec. Each
worker then starts with them imported; otherwise every worker of every pool imported them
itself on its first job (0.1-0.3 s here, on the path of an update's first patch)."""


def _context() -> multiprocessing.context.BaseContext:
    """Workers come from the fork server on Linux (forking a threaded GUI process is
    unsafe), with :data:`_PRELOAD` imported; elsewhere they are spawned."""
    if sys.platform != "linux":
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("forkserver")


if sys.platform == "linux":
    # Set when this module is imported, before a program starts the fork server itself
    # (the window does at start-up); a fork server already running keeps its own list.
    multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)


def _encode_hdiff(source: Path, target: Path, patch: Path) -> int:
    hdiff.encode(source, target, patch)
    return patch.stat().st_size


Decoded = tuple[int, str] | PatchDecodeError
"""One item of :meth:`PatchPool.decode_many`: the output's size and hex digest, or why it
could not be made."""


def _decode_many(items: list[tuple[Path, Path, Path, str]]) -> list[Decoded]:
    results: list[Decoded] = []
    for source, patch, out, algorithm in items:
        try:
            decode(source, patch, out)
            results.append(_digest(out, algorithm))
        except PatchDecodeError as exc:
            results.append(exc)
    return results


def _decode_entries(items: list[tuple[str, Path, Path, Path, int, str]]) -> list[Decoded]:
    results: list[Decoded] = []
    for codec, source, delta, out, size_target, algorithm in items:
        try:
            codecs.decode_entry(codec, source, delta, out, size_target=size_target)
            results.append(_digest(out, algorithm))
        except PatchDecodeError as exc:
            results.append(exc)
    return results


def _digest(path: Path, algorithm: str) -> tuple[int, str]:
    digest = hashlib.new(algorithm)
    size = 0
    try:
        with open(path, "rb", buffering=0) as src:
            while piece := src.read(_READ):
                digest.update(piece)
                size += len(piece)
    except OSError as exc:
        raise PatchDecodeError(f"{path}: {os_reason(exc)}") from exc
    return size, digest.hexdigest()


_READ = 2**20


def _warm_up() -> None:
    """A worker's first job: having unpickled it, the worker has imported this module and
    pyxdelta. The short sleep leaves the next warm-up job to another worker."""
    time.sleep(0.02)


def _exit_with_owner(owner: int) -> None:
    """Worker initializer: end this worker when the process that owns the pool dies.

    A SIGKILLed updater cannot shut its pool down, and a worker waiting on its call
    queue (whose write end it holds itself) would wait forever, keeping the forkserver
    and the dead updater's stdout alive. A watcher thread notices the owner's exit
    (pidfd on Linux, immune to pid reuse; polling elsewhere) and ends the worker. A
    decode in progress holds the GIL, so the worker ends when that decode returns."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(owner)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _alive(owner):
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _encode_result(job: EncodeJob, future: Future[int]) -> EncodeResult:
    if future.cancelled():  # another thread terminated the pool
        raise CancelledError()
    error = future.exception()
    if error is None:
        return EncodeResult(job, future.result(), None)
    if isinstance(error, PatchEncodeError):
        return EncodeResult(job, None, error)
    what = f"{job.source} → {job.target}"
    if isinstance(error, BrokenProcessPool):
        return EncodeResult(job, None, PatchEncodeError(f"{what}: {_DIED}"))
    # Anything else is unexpected, but one bad job must not cost the rest of the batch.
    return EncodeResult(job, None, PatchEncodeError(f"{what}: {type(error).__name__}: {error}"))


def _drop_if_died(partials: tuple[Path, ...], future: Future[Any]) -> None:
    # A dead worker (crash, or terminate()) cannot finish or remove its partial files.
    if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
        for partial in partials:
            with suppress(OSError):
                remove(partial)


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
