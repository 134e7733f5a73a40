"""A finished operation's downloads (core/update/engine.py ``_discard_downloads``): moved
into ``.slipstream/discard/`` by one rename and deleted once the operation has returned
(``core.gamedir.folder.delete_later``: at the process's end), or by the next operation
when a process was killed first. A discarded folder is never resumed from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.demo.sample import next_build, sample_game, write_build
from core.errors import SlipstreamError
from core.format import layout
from core.gamedir.folder import GameDir, delete_pending
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install, update, verify_game
from tests.support.helpers import serving, tree

PRODUCT = "1207664644"

pytestmark = pytest.mark.usefixtures("home")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("discard")
    specs = sample_game()
    builds = []
    for n, spec in enumerate([specs[0], next_build(specs[0], 77, changed=0.5)], 1):
        folder = write_build(root / f"b{n}", spec)
        publish(folder, root / "repo", PublishOptions(PRODUCT, version_name=f"1.{n}"))
        builds.append(folder)
    return root / "repo", builds


@pytest.fixture
def repo(published: tuple[Path, list[Path]], tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(published[0], copy)
    return copy


def _discarded(game: Path) -> list[Path]:
    folder = GameDir(game).discard_dir
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _store_objects(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / layout.store_prefix_rel(PRODUCT)).rglob("*") if p.is_file())


def test_an_install_leaves_no_downloads_and_its_discarded_ones_go_after_it(
    repo: Path, published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    game = tmp_path / "game"
    with serving(repo) as url:
        install(url, PRODUCT, game, build="1")
        assert not GameDir(game).downloads.exists()
        assert [p.name[:2] for p in _discarded(game)[0].iterdir()]  # moved, not yet deleted
        assert tree(game) == tree(published[1][0])
        delete_pending()  # what the process's end does
        assert not GameDir(game).discard_dir.exists()
        update(game, "2")
        assert not GameDir(game).downloads.exists()
        assert tree(game) == tree(published[1][1])
        _, result = verify_game(game, full=True)  # the next operation sweeps
        assert result.ok and not GameDir(game).discard_dir.exists()


def test_a_leftover_discard_folder_is_swept_by_the_next_operation_never_resumed_from(
    repo: Path, tmp_path: Path
) -> None:
    """A process killed before it deleted its discarded downloads leaves them; the next
    operation deletes them before it plans, and never takes an object from them: with one
    object gone from the server, the same object in ``downloads/`` completes the install,
    and in ``discard/`` it does not."""
    victim = _store_objects(repo)[0]
    name = f"c-{victim.name}"
    body = victim.read_bytes()
    victim.unlink()
    with serving(repo) as url:
        discarded = tmp_path / "discarded"
        left = GameDir(discarded).meta / "discard" / "123-456"
        left.mkdir(parents=True)
        (left / name).write_bytes(body)
        with pytest.raises(SlipstreamError):
            install(url, PRODUCT, discarded, build="1")
        assert not GameDir(discarded).discard_dir.exists()

        resumed = tmp_path / "resumed"
        GameDir(resumed).downloads.mkdir(parents=True)
        (GameDir(resumed).downloads / name).write_bytes(body)
        install(url, PRODUCT, resumed, build="1")  # the control: the name is the right one
        assert GameDir(resumed).load_state() is not None


def test_a_link_or_file_in_place_of_the_discard_folder_is_removed_never_followed(
    repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    game = tmp_path / "game"
    GameDir(game).meta.mkdir(parents=True)
    os.symlink(outside, GameDir(game).discard_dir)
    with serving(repo) as url:
        install(url, PRODUCT, game, build="1")
    assert (outside / "keep.txt").read_text() == "mine"
    assert not GameDir(game).downloads.exists()
    delete_pending()
    assert not os.path.lexists(GameDir(game).discard_dir)


def test_the_slipstream_command_deletes_its_discarded_downloads_before_it_exits(
    repo: Path, tmp_path: Path
) -> None:
    game = tmp_path / "game"
    with serving(repo) as url:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "core.cli", "install", "--source", url),
                *("--product", PRODUCT, "--dir", str(game), "--build", "1", "--no-progress"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ},
        )
    assert done.returncode == 0, done.stderr
    assert GameDir(game).load_state() is not None
    assert not GameDir(game).downloads.exists()
    assert not os.path.lexists(GameDir(game).discard_dir)
