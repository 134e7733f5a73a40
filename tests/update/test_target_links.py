"""A build's ``DepotLink`` entries reach the install state, and a link that collides with a
file of the same build is refused before anything is staged or committed (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UnsafePathError
from core.format.build import BuildManifest
from core.format.builds import BuildItem
from core.format.depot import DepotDirectory, DepotLink, DepotManifest, parse_depot_manifest
from core.gamedir.folder import GameDir, InstallState
from core.update.plan import Plan
from core.update.target import Target, new_state

ITEM = BuildItem("2", "1207658924", "linux", None, "1.2", "2026-12-01T00:00:00+0000")
MANIFEST = BuildManifest("1207658924", "2", "linux", "Game", (), ())
BASE = InstallState("1207658924", "linux", "1", "1.1", None, "en-US", "http://x", {})
EMPTY = Plan(None, "2", (), (), 0, 0, 0)


def target_with(*items: DepotLink | DepotDirectory) -> Target:
    return Target(ITEM, MANIFEST, (DepotManifest(items),), {})


def test_the_builds_links_reach_the_new_state(tmp_path: Path) -> None:
    target = target_with(DepotDirectory("lib"), DepotLink("lib/libgame.so", "lib/libgame.so.2"))
    assert target.links == {"lib/libgame.so": "lib/libgame.so.2"}
    state = new_state(None, BASE, target, EMPTY, GameDir(tmp_path), set())
    assert dict(state.links) == {"lib/libgame.so": "lib/libgame.so.2"}


def test_a_link_where_the_build_has_a_folder_is_refused(tmp_path: Path) -> None:
    target = target_with(DepotDirectory("lib"), DepotLink("lib", "bin"))
    with pytest.raises(UnsafePathError):
        new_state(None, BASE, target, EMPTY, GameDir(tmp_path), set())


def test_a_depot_link_leaving_the_folder_is_refused_when_the_manifest_is_read() -> None:
    doc = {
        "depot": {
            "items": [{"type": "DepotLink", "path": "lib\\x.so", "target": "..\\..\\etc\\passwd"}]
        },
        "version": 2,
    }
    with pytest.raises(UnsafePathError):
        parse_depot_manifest(doc, "depot")
