"""One holder at a time: an advisory, non-blocking ``flock`` on a lock file.

The kernel drops the lock when its holder dies, so a crashed process never leaves a stale
lock behind; the holder's pid is written into the file only to name it in the message a
second process sees. The lock file is opened without following a symbolic link.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from core.errors import LocalIOError, SlipstreamError


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
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise LocalIOError.wrap(exc, f"create the {self._what}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise self._busy(
                f"Process {holder} holds {self.path}; run again when it has finished."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
