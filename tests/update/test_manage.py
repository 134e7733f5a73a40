"""Managing an install: change its source (checked first), switch its branch, and its
size on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, write_build
from core.errors import NotFoundError
from core.gamedir.folder import GameDir
from core.library.db import Library
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install, update
from core.update.manage import set_source, size_on_disk, switch_branch
from tests.support.helpers import serving, tree

PRODUCT = "808"


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    root = tmp_path_factory.mktemp("manage")
    repo, other = root / "repo", root / "other"
    builds = []
    for n, branch in ((1, None), (2, None), (3, "beta")):
        specs = [FileSpec("game.exe", n, 4000 + n), FileSpec("data/x.pak", 10, 7000)]
        folder = write_build(root / f"b{n}", specs)
        options = PublishOptions(PRODUCT, version_name=f"1.{n}", branch=branch, name="Branchy")
        publish(folder, repo, options)
        builds.append(folder)
    publish(builds[0], other, PublishOptions("909", name="Someone else"))
    return repo, other, builds


@pytest.fixture
def two_servers(repos: tuple[Path, Path, list[Path]]) -> Iterator[tuple[str, str, str]]:
    with serving(repos[0]) as first, serving(repos[0]) as second, serving(repos[1]) as other:
        yield first, second, other


def test_set_source_is_checked_then_moves_state_and_library(
    two_servers: tuple[str, str, str], tmp_path: Path, home: Path
) -> None:
    first, second, other = two_servers
    game = tmp_path / "game"
    install(first, PRODUCT, game, build="1")
    with pytest.raises(NotFoundError):
        set_source(game, other)  # that repository has no builds of the game
    state = GameDir(game).read_state()
    assert state is not None and state.source == first
    moved = set_source(game, second + "/")
    assert moved.source == second
    state = GameDir(game).read_state()
    assert state is not None and state.source == second
    with Library.open() as library:
        record = library.install(game)
    assert record is not None and record.source == second
    assert update(game).to_build == "2"  # from the new source


def test_switch_branch_and_back_keeps_the_name(
    two_servers: tuple[str, str, str],
    repos: tuple[Path, Path, list[Path]],
    tmp_path: Path,
    home: Path,
) -> None:
    game = tmp_path / "game"
    install(two_servers[0], PRODUCT, game)
    assert size_on_disk(game) == 4002 + 7000
    report = switch_branch(game, "beta")
    assert report.to_build == "3" and tree(game) == tree(repos[2][2])
    state = GameDir(game).read_state()
    assert state is not None and state.branch == "beta"
    assert update(game).up_to_date  # updates now follow beta
    assert switch_branch(game, None).to_build == "2"
    with Library.open() as library:
        record = library.install(game)
    assert record is not None and record.name == "Branchy" and record.branch is None
    (game / "data" / "x.pak").unlink()
    (game / "save.dat").write_bytes(b"12345")
    assert size_on_disk(game) == 4002  # the player's files do not count, missing ones neither


def test_cli_set_source_and_update_branch(
    two_servers: tuple[str, str, str], tmp_path: Path
) -> None:
    env = {**os.environ, "SLIPSTREAM_HOME": str(tmp_path / "home")}
    first, second, _ = two_servers
    game = tmp_path / "game"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core.cli", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    done = cli("install", "--source", first, "--product", PRODUCT, "--dir", str(game))
    assert done.returncode == 0, done.stderr
    moved = cli("set-source", str(game), second, "--json")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["source"] == second
    switched = cli("update", str(game), "--branch", "beta", "--json", "--no-progress")
    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout)["to_build"] == "3"
    listed = json.loads(cli("list", "--json").stdout)
    assert listed[0]["source"] == second and listed[0]["branch"] == "beta"
