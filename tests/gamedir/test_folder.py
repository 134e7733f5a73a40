"""Reading a game folder as the tests and the self-test compare it with a build."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from core.errors import LinkInTheWayError, UnsafePathError
from core.gamedir.folder import GameDir, files_md5


def test_files_md5_lists_the_game_and_leaves_out_only_slipstreams_own_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / ".slipstream" / "downloads").mkdir(parents=True)
    (tmp_path / ".slipstream" / "downloads" / "c-1").write_bytes(b"resume data")
    (tmp_path / "data" / ".slipstream").mkdir(parents=True)  # a game's own folder of that name
    (tmp_path / "data" / ".slipstream" / "x").write_bytes(b"x")
    (tmp_path / "b.txt").write_bytes(b"b")
    (tmp_path / "a.txt").write_bytes(b"a")
    assert files_md5(tmp_path) == {
        "a.txt": hashlib.md5(b"a").hexdigest(),
        "b.txt": hashlib.md5(b"b").hexdigest(),
        "data/.slipstream/x": hashlib.md5(b"x").hexdigest(),
    }
    assert list(files_md5(tmp_path)) == ["a.txt", "b.txt", "data/.slipstream/x"]


def test_keep_staging_moves_what_was_staged_to_the_resume_folder_and_empties_staging(
    tmp_path: Path,
) -> None:
    (tmp_path / "game").mkdir()
    game = GameDir(tmp_path / "game")
    game.staged_path("data/a.bin").write_bytes(b"a" * 100)
    game.staged_path("b.bin").write_bytes(b"")  # nothing in it to keep
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not Slipstream's")
    game.staged_path("c.bin").symlink_to(outside)  # a link is never moved or followed
    game.keep_staging()
    assert not any(game.staging.iterdir())
    kept = {p.relative_to(game.resume_dir).as_posix() for p in game.resume_dir.rglob("*")}
    assert kept == {"data", "data/a.bin"}
    assert (game.resume_dir / "data" / "a.bin").read_bytes() == b"a" * 100
    assert outside.read_bytes() == b"not Slipstream's"
    game.staged_path("data/a.bin").write_bytes(b"b" * 10)  # a later run's copy replaces it
    game.keep_staging()
    assert (game.resume_dir / "data" / "a.bin").read_bytes() == b"b" * 10


def test_keep_staging_with_nothing_staged_makes_no_downloads_folder(tmp_path: Path) -> None:
    (tmp_path / "game").mkdir()
    game = GameDir(tmp_path / "game")
    game.staged_path("empty.bin").write_bytes(b"")
    game.keep_staging()
    assert not game.downloads.exists()


def test_open_staged_makes_folders_and_mode_and_never_writes_through_a_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "game").mkdir()
    game = GameDir(tmp_path / "game")
    path, out = game.open_staged("data/a.bin", executable=False)
    with out:
        out.write(b"first")
    assert path == game.staging / "data/a.bin"
    assert path.read_bytes() == b"first"
    path, out = game.open_staged("data/run.sh", executable=True)
    out.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o755 & ~current_umask()
    path, out = game.open_staged("data/a.bin", executable=False, keep=True)
    with out:
        out.seek(0, os.SEEK_END)
        out.write(b" second")
    assert path.read_bytes() == b"first second"  # kept, not emptied
    # The folder was checked with the first file; the file itself, by its open.
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not Slipstream's")
    (game.staging / "data/b.bin").symlink_to(outside)
    for keep in (False, True):
        with pytest.raises(LinkInTheWayError, match="symbolic link"):
            game.open_staged("data/b.bin", executable=False, keep=keep)
    assert outside.read_bytes() == b"not Slipstream's"
    # A link in place of a folder not met before is refused too.
    (game.staging / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        game.open_staged("elsewhere/c.bin", executable=False)
    assert not (tmp_path / "c.bin").exists()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
