"""The library database: a real SQLite file under a temporary SLIPSTREAM_HOME."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from core.errors import LibraryError, UnknownInstallError
from core.library import db as library
from core.library.db import SCHEMA_VERSION, Library, OperationRecord


def _add(lib: Library, path: Path | str, build: str = "b1", status: str = "ok") -> int:
    return lib.upsert_install(
        path, "1207658924", "windows", "Game", build, f"v-{build}", None, "en-US", "gog", status
    )


def _op(started: float, kind: str = "update", **extra: object) -> OperationRecord:
    fields: dict[str, object] = {
        "kind": kind,
        "from_build": "b1",
        "to_build": "b2",
        "started_at": started,
        "finished_at": started + 5,
        "outcome": "ok",
    }
    fields.update(extra)
    return OperationRecord(**fields)  # type: ignore[arg-type]


def test_home_comes_from_the_environment_and_is_created(home: Path) -> None:
    assert library.home() == home
    assert home.is_dir()
    with Library.open() as lib:
        assert lib.path == home / "library.sqlite3"
    assert (home / "library.sqlite3").is_file()


def test_schema_version_recorded_wal_and_foreign_keys(home: Path) -> None:
    with Library.open():
        pass
    db = sqlite3.connect(home / "library.sqlite3")
    try:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    with Library.open() as lib:  # reopening migrates nothing twice
        assert lib._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        count = lib._db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
        assert count == SCHEMA_VERSION


def test_upsert_adds_then_updates_keeping_added_at(home: Path, tmp_path: Path) -> None:
    game = tmp_path / "games" / "Game"
    with Library.open() as lib:
        first = _add(lib, game)
        before = lib.install(game)
        second = _add(lib, str(game), build="b2", status="updating")
        after = lib.install(game)
    assert first == second
    assert before is not None and after is not None
    assert after.build_id == "b2" and after.version_name == "v-b2" and after.status == "updating"
    assert after.added_at == before.added_at and after.updated_at >= before.updated_at
    assert after.branch is None and after.lang == "en-US" and after.source == "gog"


def test_paths_are_stored_resolved(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "games").mkdir()
    monkeypatch.chdir(tmp_path)
    with Library.open() as lib:
        _add(lib, "games/./Game")
        record = lib.install(tmp_path / "games" / "Game")
    assert record is not None
    assert record.path == (tmp_path / "games" / "Game").resolve()
    assert record.path.is_absolute()


def test_list_status_and_remove(home: Path, tmp_path: Path) -> None:
    with Library.open() as lib:
        lib.upsert_install(tmp_path / "b", "2", "linux", "beta", "1", "1.0", "beta", "de", "u")
        lib.upsert_install(tmp_path / "a", "1", "linux", "Alpha", "1", "1.0", None, "en", "u")
        assert [r.name for r in lib.installs()] == ["Alpha", "beta"]
        lib.set_status(tmp_path / "a", "broken")
        assert lib.install(tmp_path / "a").status == "broken"  # type: ignore[union-attr]
        with pytest.raises(UnknownInstallError):
            lib.set_status(tmp_path / "nowhere", "ok")
        lib.record_operation(tmp_path / "a", _op(1.0, fallbacks=(("x", "no patch"),)))
        lib.remove_install(tmp_path / "a")
        lib.remove_install(tmp_path / "never")  # forgetting an unknown folder is a no-op
        assert [r.name for r in lib.installs()] == ["beta"]
        assert lib.install(tmp_path / "a") is None
        assert lib.history(tmp_path / "a") == []
        # The history went with it: nothing dangles.
        assert lib._db.execute("SELECT COUNT(*) FROM operations").fetchone()[0] == 0
        assert lib._db.execute("SELECT COUNT(*) FROM fallbacks").fetchone()[0] == 0


def test_history_roundtrip_newest_first_with_limit(home: Path, tmp_path: Path) -> None:
    game = tmp_path / "Game"
    full = _op(
        200.0,
        error=None,
        bytes_downloaded=1234,
        bytes_full=99999,
        patches_applied=7,
        fallbacks=(("bin/game.exe", "patch output hash mismatch"), ("data/a.pak", "no patch")),
        files={"patched": 7, "chunked": 1, "unchanged": 40},
        phases={"fetch": 1.5, "patch": 2.25},
    )
    with Library.open() as lib:
        _add(lib, game)
        other = tmp_path / "Other"
        _add(lib, other)
        lib.record_operation(other, _op(150.0, kind="verify"))
        ids = [
            lib.record_operation(game, _op(100.0, kind="install", from_build=None)),
            lib.record_operation(game, full),
            lib.record_operation(
                game, _op(300.0, kind="rollback", outcome="failed", error="disk full")
            ),
            lib.record_operation(game, _op(200.0, kind="verify")),  # same start: later id first
        ]
        assert len(set(ids)) == 4
        history = lib.history(game)
        assert [(h.kind, h.started_at) for h in history] == [
            ("rollback", 300.0),
            ("verify", 200.0),
            ("update", 200.0),
            ("install", 100.0),
        ]
        assert history[2] == full
        assert history[0].error == "disk full" and history[0].outcome == "failed"
        assert history[3].from_build is None
        assert lib.history(game, limit=2) == history[:2]
        assert [h.kind for h in lib.history(other)] == ["verify"]
        count = lib._db.execute("SELECT fallbacks FROM operations WHERE id = ?", (ids[1],))
        assert count.fetchone()[0] == 2


def test_operation_for_an_unknown_folder_is_refused(home: Path, tmp_path: Path) -> None:
    with Library.open() as lib, pytest.raises(UnknownInstallError):
        lib.record_operation(tmp_path / "nowhere", _op(1.0))


def test_operation_record_rejects_unknown_kind_and_outcome() -> None:
    with pytest.raises(ValueError, match="kind"):
        _op(1.0, kind="download")
    with pytest.raises(ValueError, match="outcome"):
        _op(1.0, outcome="maybe")


def test_operation_record_copies_its_mappings() -> None:
    files = {"new": 1}
    op = _op(1.0, files=files)
    files["new"] = 2
    assert op.files == {"new": 1}


def test_two_library_objects_on_one_file(home: Path, tmp_path: Path) -> None:
    with Library.open() as first, Library.open() as second:
        _add(first, tmp_path / "Game")
        assert second.install(tmp_path / "Game") is not None
        second.record_operation(tmp_path / "Game", _op(1.0))
        assert len(first.history(tmp_path / "Game")) == 1


def test_concurrent_writes_from_threads(home: Path, tmp_path: Path) -> None:
    """Threads sharing one Library and threads with their own all land every write."""
    game = tmp_path / "Game"
    errors: list[BaseException] = []
    with Library.open() as shared:
        _add(shared, game)

        def write(lib: Library, n: int) -> None:
            try:
                for i in range(20):
                    lib.record_operation(game, _op(n * 100.0 + i, fallbacks=(("f", str(i)),)))
                    _add(lib, tmp_path / f"g{n}-{i}")
            except BaseException as exc:  # collected so the assertion names it
                errors.append(exc)

        def write_own(n: int) -> None:
            with Library.open() as own:
                write(own, n)

        threads = [threading.Thread(target=write, args=(shared, n)) for n in range(4)]
        threads += [threading.Thread(target=write_own, args=(n,)) for n in range(4, 8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        history = shared.history(game, limit=1000)
        assert len(history) == 8 * 20
        assert all(len(h.fallbacks) == 1 for h in history)
        assert len(shared.installs()) == 1 + 8 * 20


def test_garbage_file_is_a_library_error(home: Path) -> None:
    home.mkdir(parents=True)
    db = home / "library.sqlite3"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    with pytest.raises(LibraryError) as caught:
        Library.open()
    message = str(caught.value)
    assert message.startswith("Slipstream's library database could not be used.")
    assert str(db) in message and "not a database" in message


def test_newer_schema_is_refused(home: Path) -> None:
    with Library.open() as lib, lib._write() as db:
        db.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(LibraryError, match="newer than this Slipstream knows"):
        Library.open()


def test_a_lock_held_too_long_is_a_library_error(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library, "BUSY_TIMEOUT_S", 0.05)
    with Library.open() as lib:
        holder = sqlite3.connect(home / "library.sqlite3", isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(LibraryError, match="database is locked"):
                _add(lib, tmp_path / "Game")
            assert lib.installs() == []  # WAL: reading goes on beside the writer
        finally:
            holder.close()
        _add(lib, tmp_path / "Game")  # and the library works again once it is released


def test_a_folder_at_the_database_path_is_a_library_error(home: Path) -> None:
    (home / "library.sqlite3").mkdir(parents=True)
    with pytest.raises(LibraryError, match=r"library\.sqlite3"):
        Library.open()


def test_use_after_close_is_a_library_error(home: Path) -> None:
    lib = Library.open()
    lib.close()
    with pytest.raises(LibraryError):
        lib.installs()


def test_a_damaged_file_is_set_aside_and_a_new_library_started(home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True)
    db = home / "library.sqlite3"
    garbage = b"this is not a database, it is a shopping list\n" * 100
    db.write_bytes(garbage)
    with Library.open(set_aside_damage=True) as lib:
        assert lib.set_aside is not None and lib.set_aside.parent == home
        assert lib.set_aside.read_bytes() == garbage
        assert lib.installs() == []
        _add(lib, tmp_path / "Game")
    with Library.open(set_aside_damage=True) as lib:  # a sound file is left as it is
        assert lib.set_aside is None and len(lib.installs()) == 1


def test_a_library_that_lost_a_table_is_damage(home: Path) -> None:
    with Library.open() as lib, lib._write() as db:
        db.execute("DROP TABLE fallbacks")
    with Library.open(set_aside_damage=True) as lib:
        assert lib.set_aside is not None
        assert lib.history(home / "nothing") == []
