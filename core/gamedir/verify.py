"""Check an installed game's files against the records of what was installed.

Each problem is a :class:`Wound` (wharf's word): a file that is missing, the wrong size,
the wrong content, unreadable, or not a regular file (a folder or a symlink in its place).
A healer re-downloads exactly the wounded files; verify itself never writes anything.

Two depths:

* quick: ``lstat`` every file; a file whose size matches and whose ``mtime_ns`` equals the
  recorded one is trusted without reading it. A changed mtime (or none recorded) means the
  file is hashed to decide, so a file touched but unchanged passes. A change that keeps the
  size and restores the mtime (a flipped bit, say) is **not** seen: that is what full is for.
* full: every file's size is checked and its content hashed (sha256 when recorded, else md5).

Symlinks are never followed: a file or any folder above it that is a symlink is a wound,
and files are opened with ``O_NOFOLLOW``. The recorded paths are validated like manifest
paths, so a damaged record cannot point verify outside the game folder.

The links a build makes (GOG's ``DepotLink``) are checked too, at both depths: each must be a
symbolic link holding exactly the text the journal writes (:func:`link_text`); a missing
link, a link pointing elsewhere, or a file or folder in its place is a wound.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import threading
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.format import paths
from core.progress import NEVER_CANCELLED, CancelToken, Phase, Progress, ProgressSink, null_sink

READ_BYTES = 1 << 20
DEFAULT_JOBS = min(8, os.cpu_count() or 1)
SCAN_PHASE = Phase.CHECKING_FILES
HASH_PHASE = Phase.HASHING
SCAN_REPORT_EVERY = 256

MISSING = "missing"
SIZE = "size"
HASH = "hash"
UNREADABLE = "unreadable"
NOT_A_FILE = "not a file"
LINK = "link"

# O_NONBLOCK: opening a FIFO that replaced a file must not hang; it is refused by fstat.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


class InstalledFileLike(Protocol):
    """What verify needs of an installed file's record (``core.gamedir.folder.InstalledFile``)."""

    @property
    def path(self) -> str: ...
    @property
    def md5(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def mtime_ns(self) -> int: ...


@dataclass(frozen=True)
class Wound:
    """Something wrong with one file.

    ``reason`` is one of ``missing``, ``size`` (detail: expected and actual bytes), ``hash``,
    ``unreadable`` (detail: the OS message), ``not a file`` (detail: what is there) or, for
    one of the build's links, ``link`` (detail: what is there instead of the link)."""

    path: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_files`: ``checked`` files, wounds sorted by path."""

    checked: int
    bytes_hashed: int
    wounds: tuple[Wound, ...]
    full: bool
    links_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.wounds

    @property
    def link_wounds(self) -> tuple[Wound, ...]:
        """The wounds of the build's links: repaired by making the link again, not by a
        download."""
        return tuple(w for w in self.wounds if w.reason == LINK)

    @property
    def file_wounds(self) -> tuple[Wound, ...]:
        return tuple(w for w in self.wounds if w.reason != LINK)


def _open(path: str) -> io.RawIOBase:
    """Open ``path`` for reading without following a final symlink (a seam for tests)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EISDIR, _kind(mode), path)
        return io.FileIO(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def verify_files(
    root: Path,
    files: Mapping[str, InstalledFileLike],
    *,
    full: bool = False,
    links: Mapping[str, str] | None = None,
    jobs: int | None = None,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> VerifyReport:
    """Check the files under ``root`` against ``files`` (relative path → record), and the
    build's ``links`` (game path → game-relative target) when given.

    Raises :class:`~core.errors.UnsafePathError` for a record whose path is not safe, and
    :class:`~core.errors.CancelledError` when cancelled; every problem with a file on disk
    is a wound in the report, never an exception."""
    wounds: list[Wound] = []
    to_hash: list[tuple[str, str, InstalledFileLike]] = []
    folders = _FolderCheck(root)
    for n, (key, record) in enumerate(files.items()):
        cancel.raise_if_cancelled()
        if n % SCAN_REPORT_EVERY == 0:
            progress(Progress(SCAN_PHASE, n, len(files), key, "files"))
        rel = paths.validate(key, "recorded path")
        wound, st = _look(root, rel, key, record, folders)
        if wound:
            wounds.append(wound)
        elif full or st is None or st.st_mtime_ns != record.mtime_ns or not record.mtime_ns:
            to_hash.append((key, str(root.joinpath(*rel.split("/"))), record))
    progress(Progress(SCAN_PHASE, len(files), len(files), "", "files"))
    for key, target in sorted((links or {}).items()):
        cancel.raise_if_cancelled()
        wound = _look_link(root, paths.validate(key, "recorded link"), key, target, folders)
        if wound:
            wounds.append(wound)
    hasher = _Hasher(sum(r.size for _, _, r in to_hash), progress, cancel)
    wounds += hasher.run(to_hash, jobs or DEFAULT_JOBS)
    return VerifyReport(
        checked=len(files),
        bytes_hashed=hasher.hashed,
        wounds=tuple(sorted(wounds, key=lambda w: w.path)),
        full=full,
        links_checked=len(links or {}),
    )


def link_text(path: str, target: str) -> str:
    """What the symbolic link at game path ``path`` holds: the game-relative ``target``
    written relative to the link's own folder, so the folder can be moved."""
    return "/".join([".."] * path.count("/") + [target])


def _look_link(root: Path, rel: str, key: str, target: str, folders: _FolderCheck) -> Wound | None:
    """The wound of one of the build's links, if it is not the link the journal made."""
    above = folders.wound(rel, key)
    if above:
        return above
    full = root.joinpath(*rel.split("/"))
    expected = link_text(rel, target)
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return Wound(key, LINK, f"the link to {target} is missing")
    except OSError as exc:
        return Wound(key, UNREADABLE, _message(exc))
    if not stat.S_ISLNK(st.st_mode):
        return Wound(key, LINK, f"{_kind(st.st_mode)} is where the link to {target} belongs")
    try:
        found = os.readlink(full)
    except OSError as exc:
        return Wound(key, UNREADABLE, _message(exc))
    if found != expected:
        return Wound(key, LINK, f"it points to {found}, not to {expected}")
    return None


class _FolderCheck:
    """Whether each folder between the root and a file is a real folder, cached."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, Wound | None] = {}

    def wound(self, rel: str, key: str) -> Wound | None:
        """The wound of file ``key`` caused by a folder above it, if any."""
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder not in self._seen:
                self._seen[folder] = self._check(folder)
            found = self._seen[folder]
            if found:
                return Wound(key, found.reason, found.detail)
        return None

    def _check(self, folder: str) -> Wound | None:
        try:
            mode = os.lstat(self.root.joinpath(*folder.split("/"))).st_mode
        except FileNotFoundError:
            return Wound(folder, MISSING, f"its folder {folder} is missing")
        except OSError as exc:
            return Wound(folder, UNREADABLE, f"its folder {folder}: {_message(exc)}")
        if stat.S_ISDIR(mode):
            return None
        return Wound(folder, NOT_A_FILE, f"its folder {folder} is {_kind(mode)}")


def _look(
    root: Path, rel: str, key: str, record: InstalledFileLike, folders: _FolderCheck
) -> tuple[Wound | None, os.stat_result | None]:
    """``lstat`` one file: the wound that needs no reading, or its stat."""
    above = folders.wound(rel, key)
    if above:
        return above, None
    try:
        st = os.lstat(root.joinpath(*rel.split("/")))
    except (FileNotFoundError, NotADirectoryError):
        return Wound(key, MISSING), None
    except OSError as exc:
        return Wound(key, UNREADABLE, _message(exc)), None
    if not stat.S_ISREG(st.st_mode):
        return Wound(key, NOT_A_FILE, _kind(st.st_mode)), None
    if st.st_size != record.size:
        return Wound(key, SIZE, f"expected {record.size} bytes, found {st.st_size}"), None
    return None, st


class _Hasher:
    """Hashes files on a thread pool, reporting bytes to one sink, serialised by a lock."""

    def __init__(self, total: int, progress: ProgressSink, cancel: CancelToken) -> None:
        self.total = total
        self.hashed = 0
        """Bytes read and hashed."""
        self._done = 0
        """Bytes reported to the sink: never past a file's recorded size."""
        self._progress = progress
        self._cancel = cancel
        self._lock = threading.Lock()

    def run(self, items: list[tuple[str, str, InstalledFileLike]], jobs: int) -> list[Wound]:
        if not items:
            return []
        self._progress(Progress(HASH_PHASE, 0, self.total))
        # Largest first, so one big file does not start last and leave the others idle.
        items = sorted(items, key=lambda item: -item[2].size)
        with ThreadPoolExecutor(max(1, min(jobs, len(items)))) as pool:
            futures = [pool.submit(self._check, *item) for item in items]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            # Re-raises the first failure (a cancel); the others stop at their next read.
            found = [f.result() for f in futures if f in done]
        if self._done != self.total:
            # Files that turned out shorter than recorded never report their missing bytes.
            self._progress(Progress(HASH_PHASE, self.total, self.total))
        return [wound for wound in found if wound]

    def _check(self, key: str, path: str, record: InstalledFileLike) -> Wound | None:
        self._cancel.raise_if_cancelled()
        algorithm, expected = ("sha256", record.sha256) if record.sha256 else ("md5", record.md5)
        digest = hashlib.new(algorithm)
        buffer = bytearray(READ_BYTES)
        view = memoryview(buffer)
        size = 0
        try:
            with _open(path) as stream:
                # Read at most one byte past the recorded size: enough to know it grew.
                while size <= record.size:
                    self._cancel.raise_if_cancelled()
                    n = stream.readinto(view)
                    if not n:
                        break
                    digest.update(view[:n])
                    self._advance(n, min(size + n, record.size) - min(size, record.size), key)
                    size += n
        except OSError as exc:
            # ELOOP: O_NOFOLLOW met a symlink that replaced the file since it was lstat'ed.
            if exc.errno == errno.ELOOP:
                return Wound(key, NOT_A_FILE, _kind(stat.S_IFLNK))
            if exc.errno in (errno.EISDIR, errno.ENXIO):
                return Wound(key, NOT_A_FILE, _message(exc))
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return Wound(key, MISSING)
            return Wound(key, UNREADABLE, _message(exc))
        if size != record.size:
            shown = f"more than {record.size}" if size > record.size else str(size)
            return Wound(key, SIZE, f"expected {record.size} bytes, found {shown}")
        if digest.hexdigest() != expected.lower():
            return Wound(key, HASH, f"expected {algorithm} {expected}, found {digest.hexdigest()}")
        return None

    def _advance(self, read: int, counted: int, item: str) -> None:
        with self._lock:
            self.hashed += read
            self._done += counted
            self._progress(Progress(HASH_PHASE, self._done, self.total, item))


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file"


def _message(exc: OSError) -> str:
    return exc.strerror or str(exc)
