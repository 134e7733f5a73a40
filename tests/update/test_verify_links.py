"""Verify checks the links a build makes (GOG's ``DepotLink``), and repair makes them again
without touching a file of the player's that stands where a link belongs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, write_build
from core.errors import FileConflictError
from core.gamedir.folder import GameDir
from core.gamedir.journal import LINKS_SUPPORTED
from core.gamedir.verify import LINK, link_text
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install, verify_game
from tests.support.helpers import serving

pytestmark = pytest.mark.skipif(not LINKS_SUPPORTED, reason="links are not made on Windows")

PRODUCT = "4343"
LINKS = {"bin/current.exe": "game.exe", "manual.pak": "data/a.pak"}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("verify-links")
    specs = [FileSpec("game.exe", 1, 3000, executable=True), FileSpec("data/a.pak", 2, 5000)]
    folder = write_build(root / "b1", specs)
    publish(folder, root / "repo", PublishOptions(PRODUCT, version_name="1.0"))
    with serving(root / "repo") as base:
        yield base


def _linked_game(url: str, where: Path) -> Path:
    """An installed game whose state records LINKS, made as the journal makes them."""
    install(url, PRODUCT, where)
    game = GameDir(where)
    state = game.load_state()
    assert state is not None
    game.save_state(replace(state, links=dict(LINKS)))
    (where / "bin").mkdir()
    for path, target in LINKS.items():
        os.symlink(link_text(path, target), where / path)
    return where


def _link_wounds(where: Path, *, repair: bool = False) -> dict[str, str]:
    _, result = verify_game(where, full=True, repair=repair)
    assert result.links_checked == len(LINKS)
    return {w.path: w.detail for w in result.wounds if w.reason == LINK}


def test_intact_links_pass(url: str, tmp_path: Path) -> None:
    game = _linked_game(url, tmp_path / "game")
    _, result = verify_game(game, full=False)
    assert result.ok and result.links_checked == 2


def test_missing_and_retargeted_links_are_wounds_and_repair_makes_them_again(
    url: str, tmp_path: Path
) -> None:
    game = _linked_game(url, tmp_path / "game")
    os.unlink(game / "manual.pak")
    os.unlink(game / "bin" / "current.exe")
    os.symlink("../data/a.pak", game / "bin" / "current.exe")
    wounds = _link_wounds(game)
    assert set(wounds) == set(LINKS)
    assert "missing" in wounds["manual.pak"]
    assert "../data/a.pak" in wounds["bin/current.exe"]
    _link_wounds(game, repair=True)
    for path, target in LINKS.items():
        assert os.readlink(game / path) == link_text(path, target)
    assert _link_wounds(game) == {}
    assert (game / "bin" / "current.exe").read_bytes() == (game / "game.exe").read_bytes()


def test_a_players_file_where_a_link_belongs_is_reported_and_kept(url: str, tmp_path: Path) -> None:
    game = _linked_game(url, tmp_path / "game")
    os.unlink(game / "manual.pak")
    (game / "manual.pak").write_bytes(b"the player's notes")
    assert "a file" in _link_wounds(game)["manual.pak"]
    with pytest.raises(FileConflictError, match=r"manual\.pak"):
        verify_game(game, full=True, repair=True)
    assert (game / "manual.pak").read_bytes() == b"the player's notes"
    assert set(_link_wounds(game)) == {"manual.pak"}
