"""One holder at a time: an advisory, non-blocking lock on a lock file.

POSIX takes ``flock`` on the whole file; Windows, which has no ``fcntl``, takes an
``msvcrt`` byte-range lock on one byte far past the pid, so a second process can still
read whose lock it is. Either way the system drops the lock when its holder dies, so a
crashed process never leaves a stale lock behind; the holder's pid is written into the
file only to name it in the message a second process sees. The lock file is opened
without following a symbolic link.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

from core.errors import LocalIOError, SlipstreamError

if sys.platform == "win32":
    import msvcrt
else:
    try:
        import fcntl
    except ImportError:  # a platform with neither: importing core must still work
        fcntl = None  # type: ignore[assignment]

_WIN_LOCK_OFFSET = 1 << 20
"""Where the Windows lock byte sits: locked bytes cannot be read, the pid must be."""
_PID_BYTES = 64


def _try_lock(fd: int) -> bool:
    """Take the lock on ``fd`` without waiting; False when another process holds it."""
    if sys.platform == "win32":
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    else:
        if fcntl is None:
            raise LocalIOError("This system offers no file locks, which Slipstream needs.")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _read_start(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, _PID_BYTES)


def _write_start(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


class FileLock:
    """Hold ``path`` exclusively for the ``with`` block, or raise ``busy`` at once.

    ``what`` names the lock in the error when the file cannot be created."""

    def __init__(self, path: Path, busy: type[SlipstreamError], what: str = "lock") -> None:
        self.path = path
        self._busy = busy
        self._what = what
        self._fd: int | None = None

    def __enter__(self) -> Self:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(self.path, flags | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            raise LocalIOError.wrap(exc, f"create the {self._what}") from None
        try:
            locked = _try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            holder = _read_start(fd).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise self._busy(
                f"Process {holder} holds {self.path}; run again when it has finished."
            ) from None
        _write_start(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None
