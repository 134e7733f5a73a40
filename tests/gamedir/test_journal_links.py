"""Symbolic links a build makes (GOG's ``DepotLink``): the journal makes them after the
files, removes them on rollback, re-targets them between builds, survives a kill at any
crash point, and never overwrites a player's file to make one (issue 11)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import FileConflictError, LocalIOError, StateError
from core.gamedir import journal
from core.gamedir.folder import GameDir, InstallState
from core.gamedir.journal import recover, rollback
from core.gamedir.verify import link_text
from tests.gamedir.test_journal import (
    NEW_FILES,
    NEW_TREE,
    OLD_FILES,
    OLD_TREE,
    Game,
    make_game,
    run_child,
    snapshot,
)
from tests.support.helpers import COMMIT_POINTS, ROLLBACK_POINTS

NEW_LINKS = {"current.dat": "data/a.dat", "music/menu.ogg": "music/theme.ogg"}


def linked_tree(links: dict[str, str]) -> dict[str, str]:
    return {p: f"link -> {link_text(p, t)}" for p, t in links.items()}


def game_with_links(where: Path, old: dict[str, str] | None = None) -> Game:
    """make_game's builds, the new one with NEW_LINKS (the old one with ``old``)."""
    game = make_game(where)
    game.new_state = replace(game.new_state, links=dict(NEW_LINKS))
    if old:
        for path, target in old.items():
            os.symlink(link_text(path, target), game.root / path)
        game.old_state = replace(game.old_state, links=dict(old))
        game.dir.save_state(game.old_state)
    return game


def test_link_text_is_relative_to_the_links_own_folder() -> None:
    assert link_text("current.dat", "data/a.dat") == "data/a.dat"
    assert link_text("music/menu.ogg", "music/theme.ogg") == "../music/theme.ogg"
    assert link_text("a/b/c", "x") == "../../x"


def test_a_commit_makes_the_builds_links_and_a_rollback_removes_them(tmp_path: Path) -> None:
    game = game_with_links(tmp_path)
    game.commit()
    assert snapshot(game.root) == {**NEW_TREE, **linked_tree(NEW_LINKS)}
    assert (game.root / "current.dat").read_bytes() == NEW_FILES["data/a.dat"]
    assert (game.root / "music/menu.ogg").read_bytes() == NEW_FILES["music/theme.ogg"]
    state = game.dir.load_state()
    assert state is not None and dict(state.links) == NEW_LINKS
    rollback(game.dir)
    assert snapshot(game.root) == OLD_TREE


def test_a_link_whose_target_changed_is_made_again_and_rolled_back(tmp_path: Path) -> None:
    game = game_with_links(tmp_path, old={"current.dat": "data/old.dat"})
    assert (game.root / "current.dat").read_bytes() == OLD_FILES["data/old.dat"]
    game.commit()
    assert os.readlink(game.root / "current.dat") == "data/a.dat"
    rollback(game.dir)
    assert os.readlink(game.root / "current.dat") == "data/old.dat"
    assert (game.root / "current.dat").read_bytes() == OLD_FILES["data/old.dat"]


def test_a_players_file_where_the_build_puts_a_link_stops_the_commit_before_any_change(
    tmp_path: Path,
) -> None:
    game = game_with_links(tmp_path)
    (game.root / "current.dat").write_bytes(b"the player's own file")
    before = snapshot(game.root)
    with pytest.raises(FileConflictError, match="in the way of a link"):
        game.commit()
    assert snapshot(game.root) == before
    assert (game.root / "current.dat").read_bytes() == b"the player's own file"


@pytest.mark.parametrize("name", COMMIT_POINTS)
def test_a_commit_with_links_killed_at_a_crash_point_recovers_to_the_new_build(
    tmp_path: Path, name: str
) -> None:
    game = game_with_links(tmp_path)
    if run_child("commit", game, f"{name}:1") == 0:
        pytest.fail(f"the commit never reached {name}")
    recover(game.dir)
    assert snapshot(game.root) == {**NEW_TREE, **linked_tree(NEW_LINKS)}


@pytest.mark.parametrize("name", ROLLBACK_POINTS)
def test_a_rollback_of_links_killed_at_a_crash_point_recovers_to_the_old_build(
    tmp_path: Path, name: str
) -> None:
    game = game_with_links(tmp_path, old={"current.dat": "data/old.dat"})
    game.commit()
    if run_child("rollback", game, f"{name}:1") == 0:
        pytest.fail(f"the rollback never reached {name}")
    recover(game.dir)
    assert snapshot(game.root) == {**OLD_TREE, **linked_tree({"current.dat": "data/old.dat"})}


def test_an_error_part_way_undoes_the_links_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = game_with_links(tmp_path)

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(GameDir, "save_state", fail)
    with pytest.raises(LocalIOError, match="disk full"):
        game.commit()
    monkeypatch.undo()
    assert snapshot(game.root) == OLD_TREE


def test_where_links_cannot_be_made_they_are_recorded_but_not_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "LINKS_SUPPORTED", False)
    game = game_with_links(tmp_path)
    game.commit()
    assert snapshot(game.root) == NEW_TREE
    state = game.dir.load_state()
    assert state is not None and dict(state.links) == NEW_LINKS


def test_the_state_keeps_its_links_and_refuses_one_that_leaves_the_folder(
    tmp_path: Path,
) -> None:
    game = game_with_links(tmp_path)
    doc = game.new_state.to_json()
    assert InstallState.from_json(doc).links == NEW_LINKS
    bad = {**doc, "links": [{"path": "escape", "target": "../../etc/passwd"}]}
    with pytest.raises(StateError):
        InstallState.from_json(bad)
    clash = {**doc, "links": [{"path": "data/a.dat", "target": "readme.txt"}]}
    with pytest.raises(StateError):
        InstallState.from_json(clash)
    assert "links" not in replace(game.new_state, links={}).to_json()
