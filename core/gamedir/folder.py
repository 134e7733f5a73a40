"""The on-disk state of one installed game, kept in ``GAME_DIR/.slipstream/``.

    state.json       what is installed (:class:`InstallState`)
    manifests/       cached copies of the installed build's documents, opaque bytes by name
    journal.json     present only while a commit or rollback is under way (core.gamedir.journal)
    staging/         verified new files waiting for the commit; inside the game folder, so
                     that the commit is a rename on one filesystem
    downloads/       objects of an update in progress
      staged/        the staged files of an update that was cancelled, failed or crashed:
                     resume data, checked chunk by chunk before use (core/update/stage.py)
    discard/<name>/  a finished operation's downloads, moved out of the way by one rename and
                     deleted later (at the process's end, or by the next operation): never
                     read, never resumed from
    rollback/<seq>/  point.json and files/: what one update replaced or deleted
    trash/<seq>/     what a rollback moved out of the way, until the rollback finishes
    lock             held (flock) by the one operation running on the folder

Nothing here writes through a symbolic link: every path below the game folder is checked
component by component with ``lstat`` before anything is created or moved there (a staged
file that an update assembles is opened with ``O_NOFOLLOW`` instead, its folders checked
once: :meth:`GameDir.open_staged`). A damaged state is a :class:`StateError`, never
mistaken for "nothing installed".
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import (
    FileConflictError,
    FormatError,
    GameLockedError,
    LinkInTheWayError,
    LocalIOError,
    SlipstreamError,
    StateError,
    UnsafePathError,
)
from core.format import paths, zjson
from core.format.bounds import BOUNDS
from core.format.fields import SHA256, Fields, Limits
from core.format.layout import MD5, OS_NAMES
from core.fs import TEMP_PREFIX, atomic_write, fsync_dir
from core.lock import FileLock

META_DIR = paths.RESERVED_DIR
DISCARD_DIR = "discard"
RESUME_DIR = "staged"
"""Under ``downloads/``: the staged files an interrupted update left
(:meth:`GameDir.keep_staging`)."""
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
STATE_FORMAT = 1
MAX_STATE_BYTES = BOUNDS.state_bytes
MAX_FILES = 2_000_000
_DOCUMENT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_POINT_DIR = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class InstalledFile:
    """One installed file as the build's manifest describes it."""

    path: str
    """``/``-separated, valid under :func:`core.format.paths.validate`."""
    md5: str
    size: int
    sha256: str | None = None
    executable: bool = False
    mtime_ns: int = 0
    """The file's modification time when it was committed, for a quick verify."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.path, "md5": self.md5, "size": self.size}
        if self.sha256 is not None:
            doc["sha256"] = self.sha256
        if self.executable:
            doc["executable"] = True
        doc["mtime_ns"] = self.mtime_ns
        return doc

    @staticmethod
    def from_fields(f: Fields) -> InstalledFile:
        _only(f, {"path", "md5", "size", "sha256", "executable", "mtime_ns"})
        return InstalledFile(
            path=paths.validate(f.text("path"), f"{f.where}.path"),
            md5=f.md5("md5"),
            size=f.integer("size"),
            sha256=f.sha256("sha256"),
            executable=f.flag("executable", default=False),
            mtime_ns=f.integer("mtime_ns", lo=-(1 << 62), default=0),
        )


@dataclass(frozen=True)
class InstallState:
    """What is installed in a game folder: one build of one product, file by file."""

    product: str
    os: str
    build_id: str
    version_name: str
    branch: str | None
    lang: str
    source: str
    """The repository URL the build came from."""
    files: Mapping[str, InstalledFile]
    """By path."""
    folders: tuple[str, ...] = ()
    failed_patches: frozenset[tuple[str, str]] = frozenset()
    """(md5_source, md5_target) pairs whose patch failed once and is never tried again."""
    dlcs: tuple[str, ...] = ()
    """DLC product ids installed with the base game (``all``: every DLC of the build)."""
    links: Mapping[str, str] = field(default_factory=dict)
    """Symbolic links the build makes (GOG's ``DepotLink``): game path -> game-relative
    target. Created on POSIX only; a target always stays inside the game folder."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "product": self.product,
            "os": self.os,
            "build_id": self.build_id,
            "version_name": self.version_name,
            "branch": self.branch,
            "lang": self.lang,
            "source": self.source,
            "files": [self.files[p].to_json() for p in sorted(self.files)],
            "folders": list(self.folders),
            "failed_patches": [list(pair) for pair in sorted(self.failed_patches)],
            **({"dlcs": list(self.dlcs)} if self.dlcs else {}),
            **(
                {"links": [{"path": k, "target": self.links[k]} for k in sorted(self.links)]}
                if self.links
                else {}
            ),
        }

    @staticmethod
    def from_json(doc: object, where: str = "state.json") -> InstallState:
        """Read a state written by :meth:`to_json`; anything else is a :class:`StateError`."""
        try:
            return _parse_state(Fields(doc, where))
        except FormatError as exc:
            raise StateError(exc.detail) from None


def _parse_state(f: Fields) -> InstallState:
    _only(f, set(InstallState.__dataclass_fields__) | {"format"})
    version = f.integer("format")
    if version != STATE_FORMAT:
        raise FormatError(f"{f.where} has format {version}; this Slipstream reads format 1.")
    files: dict[str, InstalledFile] = {}
    for i, raw in enumerate(f.array("files", MAX_FILES)):
        record = _plain_record(raw, f.limits) if type(raw) is dict else None
        if record is None:
            record = InstalledFile.from_fields(Fields(raw, f"{f.where}.files[{i}]", f.limits))
        if record.path in files:
            raise FormatError(f"{f.where} lists {record.path!r} twice.")
        files[record.path] = record
    folders = tuple(
        paths.validate(p, f"{f.where}.folders entry")
        for p in f.texts("folders", MAX_FILES, default=True)
    )
    links: dict[str, str] = {}
    for item in f.objects("links", MAX_FILES, default=True):
        path = paths.validate(item.text("path"), f"{item.where}.path")
        links[path] = paths.validate(item.text("target"), f"{item.where}.target")
    paths.check_unique([*files, *links], folders)
    failed: set[tuple[str, str]] = set()
    for i, pair in enumerate(f.array("failed_patches", MAX_FILES, default=True)):
        if not isinstance(pair, list) or len(pair) != 2:
            raise FormatError(f"{f.where}.failed_patches[{i}] should be a pair of md5s.")
        pf = Fields({"source": pair[0], "target": pair[1]}, f"{f.where}.failed_patches[{i}]")
        failed.add((pf.md5("source"), pf.md5("target")))
    os_name = f.text("os")
    if os_name not in OS_NAMES:
        raise FormatError(f"{f.where}.os {os_name!r} is not one of {', '.join(OS_NAMES)}.")
    return InstallState(
        product=_nonempty(f, "product"),
        os=os_name,
        build_id=_nonempty(f, "build_id"),
        version_name=f.text("version_name"),
        branch=f.opt_text("branch"),
        lang=f.text("lang"),
        source=f.text("source"),
        files=files,
        folders=folders,
        failed_patches=frozenset(failed),
        dlcs=tuple(_dlc(f, d) for d in f.texts("dlcs", 10_000, default=True)),
        links=links,
    )


_RECORD_KEYS = frozenset({"path", "md5", "size", "sha256", "executable", "mtime_ns"})
_MTIME_RANGE = 1 << 62


def _plain_record(item: dict[str, Any], limits: Limits) -> InstalledFile | None:
    """A file record read without :class:`Fields` when every field is what
    :meth:`InstalledFile.to_json` writes; ``None`` sends anything else, good or bad,
    through :meth:`InstalledFile.from_fields`, which says exactly what is wrong. It accepts
    nothing that reader refuses (tests/gamedir/test_plain_records.py); field by field, an
    update spent 0.1 s on each read of a 2,000-file state."""
    if not item.keys() <= _RECORD_KEYS or limits.string_chars < 64:
        return None
    path, md5, size = item.get("path"), item.get("md5"), item.get("size")
    sha256, executable = item.get("sha256"), item.get("executable")
    mtime_ns = item.get("mtime_ns")
    if (
        type(path) is not str
        or len(path) > limits.string_chars
        or type(md5) is not str
        or not MD5.fullmatch(md5)
        or type(size) is not int
        or not 0 <= size <= _MTIME_RANGE
        or (sha256 is not None and (type(sha256) is not str or not SHA256.fullmatch(sha256)))
        or (executable is not None and type(executable) is not bool)
        or (mtime_ns is not None and type(mtime_ns) is not int)
        or (mtime_ns is not None and not -_MTIME_RANGE <= mtime_ns <= _MTIME_RANGE)
    ):
        return None
    try:
        rel = paths.validate(path)
    except UnsafePathError:
        return None
    return InstalledFile(rel, md5, size, sha256, bool(executable), mtime_ns or 0)


def _dlc(f: Fields, value: str) -> str:
    if value != "all" and not value.isdigit():
        raise FormatError(f"{f.where}.dlcs entry {value!r} is not a product id.")
    return value


def _nonempty(f: Fields, key: str) -> str:
    value = f.text(key)
    if not value:
        raise FormatError(f"{f.where}.{key} is empty.")
    return value


def _only(f: Fields, allowed: set[str]) -> None:
    extra = sorted(set(f.data) - allowed)
    if extra:
        raise FormatError(f"{f.where} has unknown fields: {', '.join(extra)}.")


@dataclass(frozen=True)
class RollbackPoint:
    """What one commit replaced, kept so that a rollback needs no server."""

    seq: int
    created: float
    from_build: str
    """Empty when the commit was the first install."""
    to_build: str
    label: str
    state_before: InstallState | None
    """The install state before the commit; None when it was the first install."""
    replaced: tuple[str, ...]
    """Paths whose previous content is saved in the point (a rollback puts it back)."""
    added: tuple[str, ...]
    """Paths the commit created (a rollback removes them)."""
    path: Path
    """``.slipstream/rollback/<seq>``."""

    @property
    def is_repair(self) -> bool:
        """Whether the commit went from a build to the same build (a repair): what it put
        aside is damage, which no rollback should ever bring back."""
        return self.state_before is not None and self.from_build == self.to_build

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "seq": self.seq,
            "created": self.created,
            "from_build": self.from_build,
            "to_build": self.to_build,
            "label": self.label,
            "state_before": self.state_before.to_json() if self.state_before else None,
            "replaced": list(self.replaced),
            "added": list(self.added),
        }

    @staticmethod
    def from_json(doc: object, path: Path) -> RollbackPoint:
        where = str(path / "point.json")
        try:
            f = Fields(doc, where)
            _only(f, set(RollbackPoint.__dataclass_fields__) - {"path"} | {"format"})
            if f.integer("format") != STATE_FORMAT:
                raise FormatError(f"{where} has an unknown format.")
            created = f.raw("created")
            if not isinstance(created, int | float) or isinstance(created, bool):
                raise FormatError(f"{where}.created should be a number.")
            before = f.raw("state_before")
            return RollbackPoint(
                seq=f.integer("seq"),
                created=float(created),
                from_build=f.text("from_build"),
                to_build=f.text("to_build"),
                label=f.text("label"),
                state_before=None if before is None else _parse_state(f.obj("state_before")),
                replaced=_paths(f, "replaced"),
                added=_paths(f, "added"),
                path=path,
            )
        except FormatError as exc:
            raise StateError(exc.detail) from None


def _paths(f: Fields, key: str) -> tuple[str, ...]:
    return tuple(paths.validate(p, f"{f.where}.{key} entry") for p in f.texts(key, MAX_FILES))


# --- never through a link ------------------------------------------------------------------


def check_components(base: Path | str, parts: Sequence[str], known: set[str] | None = None) -> None:
    """Refuse when an existing component of ``base/parts…`` is a symbolic link.

    ``base`` itself is trusted (the user chose the game folder); below it, every component
    that exists is checked with ``lstat`` until one is missing or is not a folder.
    ``known``: folders (full paths) one commit found or made as real folders so far, not
    looked at again; the folders this call finds are added."""
    # Plain strings, not Paths: a commit of thousands of files calls this for every file,
    # and pathlib's joins cost more than the lstat calls themselves.
    here = os.fspath(base)
    for part in parts:
        here = os.path.join(here, part)
        if known is not None and here in known:
            continue
        try:
            mode = os.lstat(here).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise LocalIOError.wrap(exc, "examine") from None
        if stat.S_ISLNK(mode):
            raise LinkInTheWayError(
                f"{here} is a symbolic link. Replace it with a real folder or file, then run "
                "the command again."
            )
        if not stat.S_ISDIR(mode):
            return
        if known is not None:
            known.add(here)


def _worth_keeping(path: str) -> bool:
    """A regular file with something in it (a link is never moved or followed)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size > 0


def _keep_one(source: str, base: str, parts: list[str]) -> None:
    """Move the file ``source`` to ``base/parts…``; what cannot be moved is left."""
    with contextlib.suppress(SlipstreamError, OSError):
        make_dirs(base, parts[:-1])
        check_components(base, parts)
        os.replace(source, os.path.join(base, *parts))


def _lstat_mode(path: str) -> int | None:
    """``path``'s mode, not following a link; None when nothing is there."""
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalIOError.wrap(exc, "examine") from None


def make_dirs(
    base: Path | str, parts: Sequence[str], mode: int = 0o777, known: set[str] | None = None
) -> list[Path]:
    """Create ``base/parts…`` one folder at a time, refusing a link or a file in the way.

    Returns the folders it created, shallowest first. ``base`` must exist. ``known``: as
    for :func:`check_components`; the folders it finds or makes are added."""
    created: list[Path] = []
    here = os.fspath(base)
    for part in parts:
        here = os.path.join(here, part)
        if known is not None and here in known:
            continue
        # Look first: most folders exist already (a commit of thousands of files moves
        # each into a folder made for an earlier one), and a failed mkdir costs an
        # exception besides the lstat.
        st_mode = _lstat_mode(here)
        if st_mode is None:
            try:
                os.mkdir(here, mode)
                created.append(Path(here))
                if known is not None:
                    known.add(here)
                continue
            except FileExistsError:  # made by another thread meanwhile: check what it is
                st_mode = _lstat_mode(here) or 0
            except OSError as exc:
                raise LocalIOError.wrap(exc, "create the folder") from None
        if stat.S_ISLNK(st_mode):
            raise UnsafePathError(
                f"{here} is a symbolic link; Slipstream never writes through a link."
            )
        if not stat.S_ISDIR(st_mode):
            raise FileConflictError(f"{here} is a file where a folder is needed.")
        if known is not None:
            known.add(here)
    return created


# --- the folder ----------------------------------------------------------------------------


class GameDir:
    """One game folder and its ``.slipstream`` state."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._lock_owner: int | None = None
        self._lock_depth = 0
        # Made once: a commit of thousands of files asks for them thousands of times.
        self._meta = self._root / META_DIR
        self._staging = self._meta / "staging"
        self._staged_dirs: set[str] = set()
        """Folders under staging that :meth:`staged_path` made or checked (real folders, no
        link) since staging was last cleared: a staging of 2,000 files asked for each of
        them again with a mkdir and an lstat per component, about 0.5 s of an install."""
        self._flushed: set[str] = set()
        """Staged files (staging-relative) fsynced since their last write: the commit
        flushes the others itself before its journal names them."""

    @property
    def root(self) -> Path:
        return self._root

    @property
    def meta(self) -> Path:
        return self._meta

    @property
    def staging(self) -> Path:
        return self._staging

    @property
    def downloads(self) -> Path:
        return self._meta / "downloads"

    @property
    def discard_dir(self) -> Path:
        return self._meta / DISCARD_DIR

    @property
    def state_file(self) -> Path:
        return self._meta / "state.json"

    @property
    def journal_file(self) -> Path:
        return self._meta / "journal.json"

    @property
    def rollback_dir(self) -> Path:
        return self._meta / "rollback"

    @property
    def trash_dir(self) -> Path:
        return self._meta / "trash"

    def make_downloads(self) -> Path:
        """``.slipstream/downloads``, created as needed: a folder that cannot be made (no
        permission, an immutable ``.slipstream``, a file in its place) is a LocalIOError
        naming it, like any other file Slipstream cannot write."""
        try:
            return self.meta_dirs("downloads")
        except FileConflictError:
            raise LocalIOError(
                f"Could not create the downloads folder {self.downloads}: a file is in its "
                "place. Remove that file and run the command again."
            ) from None

    @property
    def resume_dir(self) -> Path:
        return self.downloads / RESUME_DIR

    def keep_staging(self) -> None:
        """Move the files staging holds into ``downloads/staged/`` (same paths, replacing
        older ones), then clear staging. The staged files of an update that did not get
        through are resume data, like its downloads: the next run keeps the leading chunks
        of each that still match their md5 (core/update/stage.py ``Stager.resume``) and
        fetches only the rest. Nothing there is trusted or ever committed as it is, and it
        goes with the downloads once an update is through. A file that cannot be moved is
        deleted with the rest of staging."""
        check_components(self.root, [META_DIR, "staging"])
        staging = os.fspath(self.staging)
        mode = _lstat_mode(staging)
        if mode is not None and stat.S_ISDIR(mode):
            found = [
                (os.path.join(folder, name), os.path.relpath(folder, staging), name)
                for folder, _dirs, files in os.walk(staging)
                for name in files
                if _worth_keeping(os.path.join(folder, name))
            ]
            if found:
                with contextlib.suppress(SlipstreamError, OSError):
                    check_components(self.root, [META_DIR, "downloads", RESUME_DIR])
                    resume = os.fspath(self.meta_dirs("downloads", RESUME_DIR))
                    for path, rel, name in found:
                        parts = [] if rel == "." else rel.split(os.sep)
                        _keep_one(path, resume, [*parts, name])
        self.clear_staging()

    def discard_downloads(self) -> Path | None:
        """Move ``.slipstream/downloads`` into ``.slipstream/discard/`` with one rename and
        return where it went (None when there was none); :func:`delete_later` or the next
        :meth:`sweep_discarded` deletes it. Deleting a finished install's downloads took
        0.5-1.0 s of its commit (thousands of objects whose blocks the disk discards one by
        one); the rename takes microseconds. Nothing reads ``discard/``: a folder left there
        by a killed process is only disk space, freed by the next operation."""
        check_components(self.root, [META_DIR, "downloads"])
        if _lstat_mode(os.fspath(self.downloads)) is None:
            return None
        folder = self.meta_dirs(DISCARD_DIR)
        target = folder / f"{os.getpid()}-{time.time_ns()}"
        try:
            os.rename(self.downloads, target)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "move aside the downloads folder") from None
        return target

    def sweep_discarded(self) -> None:
        """Delete what ``.slipstream/discard/`` holds (earlier operations' downloads), never
        following a link; what cannot be deleted stays for the next sweep."""
        check_components(self.root, [META_DIR])
        here = os.fspath(self.discard_dir)
        mode = _lstat_mode(here)
        if mode is None:
            return
        if not stat.S_ISDIR(mode):
            with contextlib.suppress(OSError):
                os.unlink(here)  # a link or a file in its place: removed, never followed
            return
        try:
            entries = list(os.scandir(here))
        except OSError:
            return
        for entry in entries:
            _delete_quietly(entry.path)
        with contextlib.suppress(OSError):
            os.rmdir(here)

    def meta_dirs(self, *parts: str, mode: int = 0o777) -> Path:
        """``.slipstream/parts…``, created as needed and never through a link."""
        make_dirs(self.root, [META_DIR])
        make_dirs(self.meta, parts, mode)
        return self.meta.joinpath(*parts)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one operation; a second holder gets :class:`GameLockedError`.

        Re-entrant in the thread that holds it, so a caller can hold the lock across
        recover, stage and commit while each of them takes it too."""
        me = threading.get_ident()
        if self._lock_depth and self._lock_owner == me:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.meta_dirs()
        with FileLock(self.meta / "lock", GameLockedError, "game folder lock"):
            self._lock_owner, self._lock_depth = me, 1
            try:
                yield
            finally:
                self._lock_owner, self._lock_depth = None, 0

    # --- state ---------------------------------------------------------------------------

    def load_state(self) -> InstallState | None:
        """The installed state; None when Slipstream never installed into this folder."""
        state = self.read_state()
        if state is None and self.rollback_points():
            raise StateError(
                f"{self.state_file} is missing although {self.rollback_dir} holds rollback "
                "points, so what is installed is unknown."
            )
        return state

    def read_state(self) -> InstallState | None:
        """:meth:`load_state` without the check for a lost state file."""
        check_components(self.root, [META_DIR, "state.json"])
        data = read_if_present(self.state_file)
        if data is None:
            return None
        return InstallState.from_json(read_json(data, self.state_file), str(self.state_file))

    def save_state(self, state: InstallState) -> None:
        """Replace the state atomically and durably."""
        self.meta_dirs()
        write_durable(self.state_file, zjson.dumps_plain(state.to_json()))

    def save_document(self, name: str, data: bytes) -> None:
        """Keep a copy of one of the installed build's documents (opaque bytes)."""
        folder = self.meta_dirs("manifests")
        write_durable(folder / _document_name(name), data)

    def load_document(self, name: str) -> bytes | None:
        check_components(self.root, [META_DIR, "manifests", _document_name(name)])
        return read_if_present(self.meta / "manifests" / name)

    # --- paths ---------------------------------------------------------------------------

    def staged_path(self, rel: str) -> Path:
        """Where the new version of ``rel`` is staged; its folders exist afterwards."""
        rel = paths.validate(rel, "staged path")
        folder = rel.rpartition("/")[0]
        if folder not in self._staged_dirs:
            self.meta_dirs("staging", mode=0o700)
            make_dirs(self.staging, folder.split("/") if folder else [])
            check_components(self.staging, rel.split("/"))
            self._staged_dirs.add(folder)
        else:  # its folders were checked: only the file itself may be a link
            check_components(self.staging, [rel])
        return self.staging / rel

    def open_staged(
        self, rel: str, *, executable: bool, keep: bool = False
    ) -> tuple[Path, BinaryIO]:
        """Open the staged file ``rel`` to write it, made with mode 0o755 or 0o644 (less
        the umask) and emptied, or with ``keep`` as it is (a resumed file); its folders
        exist afterwards. Returns its path and the open file.

        Never through a link, as :meth:`staged_path`, but without its ``lstat`` of the
        file: its folders are checked when the first file in them is opened, and the file
        itself is opened with ``O_NOFOLLOW``, so a link in its place fails the open, with
        no window between a check and the open. Where ``O_NOFOLLOW`` does not exist
        (Windows), :meth:`staged_path` checks the file first."""
        rel = paths.validate(rel, "staged path")
        folder = rel.rpartition("/")[0]
        path = self.staging / rel
        if folder not in self._staged_dirs or not _NOFOLLOW:
            path = self.staged_path(rel)  # (without O_NOFOLLOW, the file is checked here)
        flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(
                path, flags if keep else flags | os.O_TRUNC, 0o755 if executable else 0o644
            )
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LinkInTheWayError(
                    f"{path} is a symbolic link. Replace it with a real folder or file, then "
                    "run the command again."
                ) from None
            raise LocalIOError.wrap(exc, "write the staged file") from None
        return path, os.fdopen(fd, "wb")

    def staged_flushed(self, rel: str) -> None:
        """Note that the staged file ``rel`` was fsynced after it was written (by staging,
        while the update went on), so the commit need not flush it again."""
        self._flushed.add(rel)

    def is_staged_flushed(self, rel: str) -> bool:
        return rel in self._flushed

    def game_path(self, rel: str) -> Path:
        """``root/rel``, after checking that no existing component of it is a link."""
        parts = paths.validate(rel).split("/")
        check_components(self.root, parts)
        return self.root.joinpath(*parts)

    def clear_staging(self) -> None:
        """Remove everything staged (never following a link out of the folder)."""
        check_components(self.root, [META_DIR, "staging"])
        self._staged_dirs.clear()
        self._flushed.clear()
        try:
            entries = list(os.scandir(self.staging))
        except FileNotFoundError:
            return
        try:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "clear the staging folder at") from None

    # --- rollback points and recovery ----------------------------------------------------

    def rollback_points(self) -> list[RollbackPoint]:
        """Every complete rollback point, newest first."""
        check_components(self.root, [META_DIR, "rollback"])
        try:
            entries = list(os.scandir(self.rollback_dir))
        except FileNotFoundError:
            return []
        points = []
        for entry in entries:
            if not (_POINT_DIR.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)):
                continue
            folder = Path(entry.path)
            data = read_if_present(folder / "point.json")
            if data is None:
                continue  # a commit under way (its journal says so) or an abandoned one
            point = RollbackPoint.from_json(read_json(data, folder / "point.json"), folder)
            if point.seq != int(entry.name):
                raise StateError(f"{folder}/point.json says it is point {point.seq}.")
            points.append(point)
        return sorted(points, key=lambda p: p.seq, reverse=True)

    def drop_point(self, point: RollbackPoint) -> None:
        """Delete a rollback point: its ``point.json`` first, so that a crash part way
        leaves an incomplete point, which nothing reads, rather than one with lost files."""
        check_components(self.root, [META_DIR, "rollback", str(point.seq)])
        try:
            (point.path / "point.json").unlink(missing_ok=True)
            fsync_dir(point.path)
            shutil.rmtree(point.path)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "remove the rollback point") from None

    def sweep_temporaries(self) -> None:
        """Remove temporary files left by a write that a crash interrupted."""
        folders = [self.meta, self.meta / "manifests"]
        check_components(self.root, [META_DIR, "rollback"])
        if self.rollback_dir.is_dir():
            folders += [p for p in self.rollback_dir.iterdir() if _POINT_DIR.fullmatch(p.name)]
        for folder in folders:
            check_components(self.root, folder.relative_to(self.root).parts)
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)


def files_md5(root: Path) -> dict[str, str]:
    """Relative path → md5 of every regular file below ``root``, in path order, leaving
    out Slipstream's own folder at its top. That folder is never entered: a window's job
    process may still be deleting its discarded downloads there after its result
    (:func:`delete_later`). What a game folder holds, as the self-test and the tests
    compare it with a build."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if folder == os.fspath(root):
            dirs[:] = [d for d in dirs if d != META_DIR]
        for name in files:
            path = Path(folder, name)
            if path.is_file():
                with open(path, "rb") as src:  # streamed: game files can be gigabytes
                    digest = hashlib.file_digest(src, "md5").hexdigest()
                found[path.relative_to(root).as_posix()] = digest
    return dict(sorted(found.items()))


def _delete_quietly(path: str) -> None:
    """Delete ``path`` (a folder with what it holds, or a file or link); never follows a
    link, and leaves what cannot be deleted (an entry deleted meanwhile is no error)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


_later: list[str] = []
_later_lock = threading.Lock()
_later_thread: threading.Thread | None = None


def delete_later(path: Path) -> None:
    """Delete ``path`` (a folder :meth:`GameDir.discard_downloads` moved aside) once the
    main thread of this process has ended, on a thread the process waits for at its exit:
    the operation that discarded it returns first. The slipstream command deletes it after
    printing its report, a window's job process after sending its result. A process killed
    before that leaves the folder for the next operation's :meth:`GameDir.sweep_discarded`."""
    global _later_thread
    with _later_lock:
        _later.append(os.fspath(path))
        if _later_thread is None or not _later_thread.is_alive():
            _later_thread = threading.Thread(target=_delete_at_exit, name="discard", daemon=False)
            _later_thread.start()


def _delete_at_exit() -> None:
    threading.main_thread().join()
    delete_pending()


def delete_pending() -> None:
    """Delete now what :func:`delete_later` was given (each folder, then its parent
    ``discard/`` when that is empty)."""
    while True:
        with _later_lock:
            if not _later:
                return
            path = _later.pop()
        _delete_quietly(path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))


def _document_name(name: str) -> str:
    if not _DOCUMENT_NAME.fullmatch(name):
        raise UnsafePathError(f"{name!r} is not a valid name for a cached document.")
    return name


def read_if_present(path: Path) -> bytes | None:
    """The bytes of one of our own files; None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read") from None


def read_json(data: bytes, path: Path) -> Any:
    """Parse one of our own JSON files; a file that does not parse is a :class:`StateError`."""
    if len(data) > MAX_STATE_BYTES:
        raise StateError(f"{path} is larger than {MAX_STATE_BYTES} bytes.")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StateError(f"{path} is not valid JSON.") from None


def write_durable(path: Path, data: bytes) -> None:
    """Write ``path`` atomically, then fsync its folder so that the rename survives a crash."""
    try:
        atomic_write(path, data)
        fsync_dir(path.parent)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "write") from None
