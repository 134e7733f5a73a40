"""One publisher per repository at a time: an advisory ``flock`` on ``.slipstream/lock``.

The kernel drops the lock when its holder dies, so a crashed publisher never leaves a
stale lock behind; the holder's pid is written into the file only to name it in the
message the second publisher sees.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import RepositoryLockedError
from core.lock import FileLock


class RepoLock(FileLock):
    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir / "lock", RepositoryLockedError, "repository lock")
