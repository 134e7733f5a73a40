"""Uninstall: the build's files and .slipstream go, the player's files stay, the library
forgets the game, and a run killed part way is finished by the next one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, write_build
from core.errors import UnknownInstallError
from core.gamedir.folder import GameDir
from core.gamedir.verify import link_text
from core.library.db import Library
from core.publish.publisher import PublishOptions, publish
from core.update import uninstall as uninstall_module
from core.update.engine import install
from core.update.uninstall import uninstall
from tests.support.helpers import serving

PRODUCT = "4242"
SPECS = [
    FileSpec("game.exe", 1, 3000, executable=True),
    FileSpec("data/a.pak", 2, 5000),
    FileSpec("data/deep/b.pak", 3, 100),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("uninstall")
    folder = write_build(root / "b1", SPECS, folders=["saves"])
    publish(folder, root / "repo", PublishOptions(PRODUCT, version_name="1.0", name="Gone Game"))
    with serving(root / "repo") as base:
        yield base


def _installed(url: str, game: Path) -> Path:
    install(url, PRODUCT, game)
    return game


def test_a_save_survives_and_the_library_forgets_the_game(
    url: str, tmp_path: Path, home: Path
) -> None:
    game = _installed(url, tmp_path / "game")
    (game / "saves" / "slot1.sav").write_bytes(b"my progress")
    (game / "data" / "mod.pak").write_bytes(b"a mod")
    with Library.open() as library:
        assert library.install(game) is not None
    report = uninstall(game)
    assert report.files_removed == 3 and report.bytes_freed == 8100
    assert report.product == PRODUCT and not report.folder_removed
    assert sorted(report.kept) == ["data", "saves"]
    assert (game / "saves" / "slot1.sav").read_bytes() == b"my progress"
    assert (game / "data" / "mod.pak").read_bytes() == b"a mod"
    assert not (game / "game.exe").exists() and not (game / "data" / "deep").exists()
    assert not (game / ".slipstream").exists()
    with Library.open() as library:
        assert library.install(game) is None
    with pytest.raises(UnknownInstallError):
        uninstall(game)


def test_a_folder_with_nothing_of_the_player_goes(url: str, tmp_path: Path, home: Path) -> None:
    game = _installed(url, tmp_path / "game")
    report = uninstall(game)
    assert report.folder_removed and report.kept == [] and not game.exists()


def test_an_uninstall_killed_part_way_is_finished_by_the_next(
    url: str, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = _installed(url, tmp_path / "game")
    (game / "saves" / "slot1.sav").write_bytes(b"mine")
    real_unlink = os.unlink
    calls = 0

    def killed_after_one(path: object, *args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # the process dies between two files
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uninstall_module.os, "unlink", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        uninstall(game)
    monkeypatch.setattr(uninstall_module.os, "unlink", real_unlink)
    assert (game / ".slipstream" / "uninstalling").exists()
    report = uninstall(game)
    assert report.finished_earlier_run
    assert not (game / "game.exe").exists() and not (game / ".slipstream").exists()
    assert (game / "saves" / "slot1.sav").read_bytes() == b"mine"


def test_killed_after_the_state_went_the_next_run_still_finishes(
    url: str, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = _installed(url, tmp_path / "game")

    def killed(game_dir: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(uninstall_module, "_remove_meta", killed)
    with pytest.raises(KeyboardInterrupt):
        uninstall(game)
    monkeypatch.undo()
    assert not (game / ".slipstream" / "state.json").exists()
    assert uninstall(game).finished_earlier_run
    assert not game.exists()


def test_cli_uninstall_asks_nothing_and_prints_json(url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SLIPSTREAM_HOME": str(home)}
    game = tmp_path / "game"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    done = cli("install", "--source", url, "--product", PRODUCT, "--dir", str(game))
    assert done.returncode == 0, done.stderr
    (game / "saves" / "keep.sav").write_bytes(b"x")
    out = cli("uninstall", str(game), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["files_removed"] == 3 and doc["kept"] == ["saves"]
    again = cli("uninstall", str(game))
    assert again.returncode == 1 and "install a game into it first" in again.stderr
    listed = cli("list", "--json")
    assert json.loads(listed.stdout) == []


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_nothing_is_removed_through_a_link(url: str, tmp_path: Path, home: Path) -> None:
    game = _installed(url, tmp_path / "game")
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "a.pak").write_bytes(b"not the game's")
    (outside / "deep" / "b.pak").write_bytes(b"nor this")
    for path in sorted((game / "data").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (game / "data").rmdir()
    (game / "data").symlink_to(outside, target_is_directory=True)
    report = uninstall(game)
    assert report.files_removed == 1  # game.exe
    assert (outside / "a.pak").read_bytes() == b"not the game's"
    assert (outside / "deep" / "b.pak").read_bytes() == b"nor this"
    assert report.kept == ["data"]  # the link; the empty saves folder went


def test_the_builds_links_go_and_a_players_file_at_a_link_path_stays(
    url: str, tmp_path: Path, home: Path
) -> None:
    game = _installed(url, tmp_path / "game")
    state = GameDir(game).load_state()
    assert state is not None
    links = {"bin/current.exe": "game.exe", "manual.exe": "game.exe"}
    GameDir(game).save_state(replace(state, links=links))
    (game / "bin").mkdir()
    os.symlink(link_text("bin/current.exe", "game.exe"), game / "bin" / "current.exe")
    (game / "manual.exe").write_bytes(b"the player's own file where the build had a link")
    report = uninstall(game)
    assert not os.path.lexists(game / "bin" / "current.exe") and not (game / "bin").exists()
    assert (game / "manual.exe").read_bytes().startswith(b"the player's own")
    assert report.kept == ["manual.exe"]


def test_an_uninstall_racing_the_deletion_of_discarded_downloads_finishes(
    url: str, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's process may still be deleting ``.slipstream/discard/`` (an install's
    downloads, moved aside) as the player uninstalls: each file it deletes first must not
    stop the uninstall."""
    game = _installed(url, tmp_path / "game")
    (game / "saves" / "slot1.sav").write_bytes(b"my progress")
    leftover = game / ".slipstream" / "discard" / "1-2"
    leftover.mkdir(parents=True)
    for i in range(3):
        (leftover / f"object{i}").write_bytes(b"x" * 10)
    real_unlink = os.unlink
    raced: list[str] = []

    def unlink_after_the_other_process(path: str, *, dir_fd: int | None = None) -> None:
        if "object" in os.fspath(path):
            real_unlink(path, dir_fd=dir_fd)  # the other process got there first
            raced.append(os.fspath(path))
        real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", unlink_after_the_other_process)
    report = uninstall(game)
    assert len(raced) == 3
    assert not (game / ".slipstream").exists()
    assert report.kept == ["saves"]
    assert (game / "saves" / "slot1.sav").read_bytes() == b"my progress"
