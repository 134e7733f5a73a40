"""Durable file writes, shared by the publisher and the client.

A file is written under a temporary name in its final folder, fsynced, then renamed over
the real name, so a crash leaves either the old file or the whole new one, never a torn
one. Folders are fsynced after renames so the renames themselves survive power loss.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".tmp-"
"""Every temporary file a durable write makes starts with this; sweeps may delete them."""

# Windows flushes only a handle opened for writing (FlushFileBuffers needs GENERIC_WRITE).
_FLUSH_FLAGS = (os.O_RDWR if os.name == "nt" else os.O_RDONLY) | getattr(os, "O_BINARY", 0)


def atomic_write(path: Path, data: bytes, fsync: bool = True, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; the file gets
    ``mode`` before it has its name (0o600 for a private key is never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_file(path: Path) -> None:
    """Flush a file that was written and closed to the disk before it is renamed."""
    fd = os.open(path, _FLUSH_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the renames inside ``path`` durable. Windows cannot open a folder for this
    (NTFS journals renames itself), so there it does nothing."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(partial: Path, path: Path) -> None:
    """Flush ``partial`` and rename it over ``path``: after this the content survives a
    power loss under its final name, or the old name is still what it was."""
    fsync_file(partial)
    os.replace(partial, path)
