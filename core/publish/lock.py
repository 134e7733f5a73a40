"""One publisher per repository at a time: an advisory ``flock`` on ``.slipstream/lock``.

The kernel drops the lock when its holder dies, so a crashed publisher never leaves a
stale lock behind; the holder's pid is written into the file only to name it in the
message the second publisher sees.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from core.errors import LocalIOError, RepositoryLockedError


class RepoLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._fd: int | None = None

    def __enter__(self) -> RepoLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "create the repository lock") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RepositoryLockedError(
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
