"""The per-user library: installed games and what happened to them, in SQLite.

The database lives at ``$SLIPSTREAM_HOME/library.sqlite3`` (see :func:`home`). It records
each install folder (product, build, source, status) and one row per operation on it
(install, update, rollback, verify, repair) with its outcome, byte counts, per-kind file
counts, per-phase seconds and the files that fell back from a patch to a download.

Secrets never go here: GOG and repository tokens live only in the system keyring.

One :class:`Library` holds one connection; every call takes its lock, so threads may share
it. Several ``Library`` objects (or processes) may open the same file: WAL lets readers run
beside a writer, and writers wait up to :data:`BUSY_TIMEOUT_S` for each other. Every sqlite
failure (a damaged file, a lock held too long, a full disk) becomes a :class:`LibraryError`
naming the file and sqlite's message.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import platformdirs

from core.errors import LibraryError, UnknownInstallError
from core.lock import FileLock

DB_NAME = "library.sqlite3"
BUSY_TIMEOUT_S = 10.0
OPERATION_KINDS = frozenset({"install", "update", "rollback", "verify", "repair"})
OUTCOMES = frozenset({"ok", "failed", "cancelled"})

# Forward migrations: MIGRATIONS[n] takes the schema from version n to n + 1. Never edit
# one that has shipped; append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE installs (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            product TEXT NOT NULL,
            os TEXT NOT NULL,
            name TEXT NOT NULL,
            build_id TEXT NOT NULL,
            version_name TEXT NOT NULL,
            branch TEXT,
            lang TEXT NOT NULL,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            added_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE operations (
            id INTEGER PRIMARY KEY,
            install_id INTEGER NOT NULL REFERENCES installs(id) ON DELETE CASCADE,
            kind TEXT NOT NULL
                CHECK (kind IN ('install', 'update', 'rollback', 'verify', 'repair')),
            from_build TEXT,
            to_build TEXT,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'cancelled')),
            error TEXT,
            bytes_downloaded INTEGER NOT NULL,
            bytes_full INTEGER NOT NULL,
            patches_applied INTEGER NOT NULL,
            fallbacks INTEGER NOT NULL,
            files_json TEXT NOT NULL,
            phases_json TEXT NOT NULL
        )""",
        "CREATE INDEX operations_by_install ON operations(install_id, started_at)",
        """CREATE TABLE fallbacks (
            id INTEGER PRIMARY KEY,
            operation_id INTEGER NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
        "CREATE INDEX fallbacks_by_operation ON fallbacks(operation_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def home() -> Path:
    """Slipstream's per-user folder: ``$SLIPSTREAM_HOME``, else the platform's data folder.

    Created on demand."""
    configured = os.environ.get("SLIPSTREAM_HOME")
    path = Path(configured) if configured else platformdirs.user_data_path("slipstream")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class InstallRecord:
    """One installed game: its folder (absolute, resolved) and the build in it."""

    id: int
    path: Path
    product: str
    os: str
    name: str
    build_id: str
    version_name: str
    branch: str | None
    lang: str
    source: str
    status: str
    added_at: float
    """Seconds since the epoch, like ``updated_at``."""
    updated_at: float


@dataclass(frozen=True)
class OperationRecord:
    """One install, update, rollback, verify or repair of a game, as it ended.

    ``files`` counts files per plan kind (``new``, ``patched``, …), ``phases`` holds seconds
    per phase, ``fallbacks`` names each file that could not be patched and why. Times are
    seconds since the epoch."""

    kind: str
    from_build: str | None
    to_build: str | None
    started_at: float
    finished_at: float
    outcome: str
    error: str | None = None
    bytes_downloaded: int = 0
    bytes_full: int = 0
    patches_applied: int = 0
    fallbacks: tuple[tuple[str, str], ...] = ()
    files: Mapping[str, int] = field(default_factory=dict)
    phases: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in OPERATION_KINDS:
            raise ValueError(f"unknown operation kind {self.kind!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        # Copies, so a caller changing its dict later cannot change a "frozen" record.
        object.__setattr__(self, "fallbacks", tuple((p, r) for p, r in self.fallbacks))
        object.__setattr__(self, "files", dict(self.files))
        object.__setattr__(self, "phases", dict(self.phases))


class Library:
    """The library database, opened with :meth:`open`; use it as a context manager."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        """Wrap an open, migrated connection; call :meth:`open` instead."""
        self.path = path
        self._db = connection
        self._lock = threading.RLock()
        self.set_aside: Path | None = None
        """Where :meth:`open` moved a damaged database before starting this one afresh."""

    @classmethod
    def open(cls, path: Path | None = None, *, set_aside_damage: bool = False) -> Library:
        """Open (creating and migrating as needed) the library at ``path``.

        The default is ``library.sqlite3`` in :func:`home`. With ``set_aside_damage`` the
        whole file is checked too, and a file that SQLite finds damaged (not a database,
        a malformed page) is moved aside, kept for the curious, and an empty library is
        started in its place: :attr:`set_aside` names where the old file went. Without it,
        a damaged file is a :class:`LibraryError` like any other failure."""
        try:
            path = path if path is not None else home() / DB_NAME
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"{exc.filename or path}: {exc.strerror or exc}.") from None
        try:
            return cls._connect(path, check=set_aside_damage)
        except _Damaged as damaged:
            if not set_aside_damage:
                raise _wrap(path, damaged.cause) from None
        # Under a lock, and only if it is still damaged: another process that found it so
        # too may have started a new library already, which must not be moved aside.
        with FileLock(path.with_name(path.name + ".lock"), LibraryError, "library lock"):
            try:
                return cls._connect(path, check=True)
            except _Damaged:
                moved = _set_aside(path)
            library = cls._connect(path, check=False)
        library.set_aside = moved
        return library

    @classmethod
    def _connect(cls, path: Path, *, check: bool) -> Library:
        try:
            db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _wrap(path, exc) from None
        try:
            _prepare(db, path, check)
        except BaseException:
            db.close()
            raise
        return cls(path, db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- installs ----------------------------------------------------------------------

    def upsert_install(
        self,
        path: Path | str,
        product: str,
        os: str,
        name: str,
        build_id: str,
        version_name: str,
        branch: str | None,
        lang: str,
        source: str,
        status: str = "ok",
    ) -> int:
        """Record the game at ``path`` (added, or its build and details replaced); its id."""
        now = time.time()
        with self._write() as db:
            row = db.execute(
                """INSERT INTO installs (path, product, os, name, build_id, version_name,
                       branch, lang, source, status, added_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (path) DO UPDATE SET
                       product = excluded.product, os = excluded.os, name = excluded.name,
                       build_id = excluded.build_id, version_name = excluded.version_name,
                       branch = excluded.branch, lang = excluded.lang,
                       source = excluded.source, status = excluded.status,
                       updated_at = excluded.updated_at
                   RETURNING id""",
                (
                    _key(path),
                    product,
                    os,
                    name,
                    build_id,
                    version_name,
                    branch,
                    lang,
                    source,
                    status,
                    now,
                    now,
                ),
            ).fetchone()
        return int(row[0])

    def set_status(self, path: Path | str, status: str) -> None:
        """Change the status of the game at ``path``; :class:`UnknownInstallError` if none."""
        with self._write() as db:
            changed = db.execute(
                "UPDATE installs SET status = ?, updated_at = ? WHERE path = ?",
                (status, time.time(), _key(path)),
            ).rowcount
        if not changed:
            raise UnknownInstallError(str(_key(path)))

    def set_source(self, path: Path | str, source: str) -> None:
        """Point the game at ``path`` at another repository URL (or ``gog``);
        :class:`UnknownInstallError` if the library does not know the game."""
        with self._write() as db:
            changed = db.execute(
                "UPDATE installs SET source = ?, updated_at = ? WHERE path = ?",
                (source, time.time(), _key(path)),
            ).rowcount
        if not changed:
            raise UnknownInstallError(str(_key(path)))

    def installs(self) -> list[InstallRecord]:
        """Every recorded game, by name."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_INSTALL_COLUMNS} FROM installs ORDER BY name COLLATE NOCASE, path"
            ).fetchall()
        return [_install(row) for row in rows]

    def install(self, path: Path | str) -> InstallRecord | None:
        """The game recorded at ``path``, or None."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {_INSTALL_COLUMNS} FROM installs WHERE path = ?", (_key(path),)
            ).fetchone()
        return _install(row) if row else None

    def remove_install(self, path: Path | str) -> None:
        """Forget the game at ``path`` and its history (its files are not touched)."""
        with self._write() as db:
            db.execute("DELETE FROM installs WHERE path = ?", (_key(path),))

    # --- operations --------------------------------------------------------------------

    def record_operation(self, path: Path | str, op: OperationRecord) -> int:
        """Add ``op`` (with its fallbacks) to the history of the game at ``path``; its id."""
        with self._write() as db:
            found = db.execute("SELECT id FROM installs WHERE path = ?", (_key(path),))
            install = found.fetchone()
            if install is None:
                raise UnknownInstallError(str(_key(path)))
            row = db.execute(
                """INSERT INTO operations (install_id, kind, from_build, to_build,
                       started_at, finished_at, outcome, error, bytes_downloaded, bytes_full,
                       patches_applied, fallbacks, files_json, phases_json)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                (
                    install[0],
                    op.kind,
                    op.from_build,
                    op.to_build,
                    op.started_at,
                    op.finished_at,
                    op.outcome,
                    op.error,
                    op.bytes_downloaded,
                    op.bytes_full,
                    op.patches_applied,
                    len(op.fallbacks),
                    json.dumps(dict(op.files)),
                    json.dumps(dict(op.phases)),
                ),
            ).fetchone()
            db.executemany(
                "INSERT INTO fallbacks (operation_id, path, reason) VALUES (?, ?, ?)",
                [(row[0], p, reason) for p, reason in op.fallbacks],
            )
        return int(row[0])

    def history(self, path: Path | str, limit: int = 100) -> list[OperationRecord]:
        """The last ``limit`` operations on the game at ``path``, newest first."""
        with self._read() as db:
            rows = db.execute(
                """SELECT o.id, kind, from_build, to_build, started_at, finished_at, outcome,
                       error, bytes_downloaded, bytes_full, patches_applied, files_json,
                       phases_json
                   FROM operations o JOIN installs i ON i.id = o.install_id
                   WHERE i.path = ? ORDER BY started_at DESC, o.id DESC LIMIT ?""",
                (_key(path), limit),
            ).fetchall()
            fallbacks: dict[int, list[tuple[str, str]]] = {row[0]: [] for row in rows}
            for chunk in _chunks(list(fallbacks), 500):
                marks = ",".join("?" * len(chunk))
                for op_id, p, reason in db.execute(
                    "SELECT operation_id, path, reason FROM fallbacks "
                    f"WHERE operation_id IN ({marks}) ORDER BY id",
                    chunk,
                ):
                    fallbacks[op_id].append((p, reason))
        return [_operation(row, fallbacks[row[0]]) for row in rows]

    # --- transactions ------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the database's write lock up front."""
        with self._lock, self._translated():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so queries inside it see a single snapshot."""
        with self._lock, self._translated():
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.rollback()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _wrap(self.path, exc) from None


_INSTALL_COLUMNS = (
    "id, path, product, os, name, build_id, version_name, branch, lang, source, status, "
    "added_at, updated_at"
)


class _Damaged(Exception):
    """SQLite says the file is not a database, or a damaged one."""

    def __init__(self, cause: sqlite3.Error) -> None:
        super().__init__(str(cause))
        self.cause = cause


_DAMAGE_CODES = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})


def _prepare(db: sqlite3.Connection, path: Path, check: bool = False) -> None:
    """Switch on WAL and foreign keys, then migrate the schema to :data:`SCHEMA_VERSION`;
    with ``check``, read every page and the tables the library uses first."""
    try:
        db.execute("PRAGMA foreign_keys = ON")
        # A filesystem without shared memory (some network shares) keeps the old journal
        # mode; the library still works there, only readers wait for writers.
        db.execute("PRAGMA journal_mode = WAL")
        if check:
            verdict = db.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise _Damaged(sqlite3.DatabaseError(f"quick_check: {verdict and verdict[0]}"))
        db.execute("BEGIN IMMEDIATE")
        try:
            _migrate(db, path)
            if check:
                for table in ("installs", "operations", "fallbacks"):
                    db.execute(f"SELECT count(*) FROM {table}").fetchone()
        except BaseException:
            db.rollback()
            raise
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", None) in _DAMAGE_CODES:
            raise _Damaged(exc) from None
        if check and isinstance(exc, sqlite3.OperationalError) and "no such" in str(exc):
            raise _Damaged(exc) from None  # a table or column lost: the schema is damaged
        raise _wrap(path, exc) from None


def _set_aside(path: Path) -> Path:
    """Move the damaged database (and its WAL files) to a dated name beside it; return
    the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while moved.exists():
        n += 1
        moved = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        os.replace(path, moved)
        for suffix in ("-wal", "-shm"):
            extra = path.with_name(path.name + suffix)
            if extra.exists():
                os.replace(extra, moved.with_name(moved.name + suffix))
    except OSError as exc:
        raise LibraryError(
            f"{path} is damaged and could not be moved aside: {exc.strerror or exc}."
        ) from None
    return moved


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise LibraryError(
            f"{path} has schema version {current}, newer than this Slipstream knows "
            f"({SCHEMA_VERSION}); update Slipstream."
        )
    for version in range(current, SCHEMA_VERSION):
        for statement in MIGRATIONS[version]:
            db.execute(statement)
        db.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
            (version + 1, time.time()),
        )


def _wrap(path: Path, exc: sqlite3.Error) -> LibraryError:
    return LibraryError(f"{path}: {exc}.")


def _key(path: Path | str) -> str:
    return str(Path(path).resolve())


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _install(row: Any) -> InstallRecord:
    return InstallRecord(
        id=row[0],
        path=Path(row[1]),
        product=row[2],
        os=row[3],
        name=row[4],
        build_id=row[5],
        version_name=row[6],
        branch=row[7],
        lang=row[8],
        source=row[9],
        status=row[10],
        added_at=row[11],
        updated_at=row[12],
    )


def _operation(row: Any, fallbacks: list[tuple[str, str]]) -> OperationRecord:
    return OperationRecord(
        kind=row[1],
        from_build=row[2],
        to_build=row[3],
        started_at=row[4],
        finished_at=row[5],
        outcome=row[6],
        error=row[7],
        bytes_downloaded=row[8],
        bytes_full=row[9],
        patches_applied=row[10],
        fallbacks=tuple(fallbacks),
        files=json.loads(row[11]),
        phases=json.loads(row[12]),
    )
