"""Reading a build folder: its files and folders, with every path checked.

The publisher refuses what it could not describe safely to a client: symbolic links,
devices, names that are unsafe on some operating system, and names that collide on a
case-insensitive filesystem. It says which file and why, before writing anything.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from core.errors import LocalIOError, PublishError, UnsafePathError
from core.format import paths


@dataclass(frozen=True)
class ScannedFile:
    path: str
    """Relative, ``/``-separated, validated."""
    source: Path
    size: int
    executable: bool


@dataclass(frozen=True)
class ScannedBuild:
    root: Path
    files: tuple[ScannedFile, ...]
    folders: tuple[str, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def scan_build(root: Path, exclude: Path | None = None) -> ScannedBuild:
    """List the regular files and folders under ``root``, sorted by path.

    ``exclude`` (the repository, if it sits inside the build folder) is skipped.
    """
    if not root.is_dir():
        raise PublishError(f"{root} does not exist or is not a folder.")
    files: list[ScannedFile] = []
    folders: list[str] = []
    skip = exclude.resolve() if exclude else None
    try:
        for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
            here = Path(dirpath)
            dirnames[:] = sorted(
                d for d in dirnames if skip is None or (here / d).resolve() != skip
            )
            for name in dirnames:
                _check_kind(here / name, root, want_dir=True)
                folders.append(_relative(here / name, root))
            for name in sorted(filenames):
                info = _check_kind(here / name, root, want_dir=False)
                files.append(
                    ScannedFile(
                        path=_relative(here / name, root),
                        source=here / name,
                        size=info.st_size,
                        executable=bool(info.st_mode & 0o111),
                    )
                )
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read the build folder") from None
    try:
        paths.check_unique([f.path for f in files], folders, "build path")
    except UnsafePathError as exc:
        raise PublishError(str(exc)) from None
    files.sort(key=lambda f: f.path)
    folders.sort()
    return ScannedBuild(root, tuple(files), tuple(folders))


def _raise(exc: OSError) -> None:
    raise exc


def _relative(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    try:
        return paths.validate(rel, "file name")
    except UnsafePathError as exc:
        raise PublishError(f"{exc} Rename it before publishing.") from None


def _check_kind(path: Path, root: Path, want_dir: bool) -> os.stat_result:
    info = path.lstat()
    rel = path.relative_to(root).as_posix()
    if stat.S_ISLNK(info.st_mode):
        raise PublishError(
            f"{rel} is a symbolic link; Slipstream publishes only regular files and folders. "
            "Replace the link with a copy of its target."
        )
    expected = stat.S_ISDIR if want_dir else stat.S_ISREG
    if not expected(info.st_mode):
        raise PublishError(f"{rel} is not a regular file or folder (a device, socket or pipe).")
    return info
