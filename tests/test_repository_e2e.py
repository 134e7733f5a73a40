"""A published repository, served by ``slipstream serve`` and by the shipped nginx config,
read over HTTP through GOG's endpoints by the independent reader: every build rebuilds
byte for byte and every patch pair applies."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo.sample import sample_game, write_build
from core.format import layout
from core.publish.publisher import PublishOptions, publish
from tests.support import gogreader
from tests.support.helpers import serving, tree
from tests.support.nginxrun import running_nginx

PRODUCT = "1207664643"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("e2e")
    dirs = []
    icon = root / "icon.png"
    icon.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    for n, specs in enumerate(sample_game(), 1):
        folder = write_build(root / f"b{n}", specs, folders=["saves"])
        # Slipstream's product documents (products/<p>/product.json, products/index.json
        # and art) sit beside GOG's: a GOG client must not trip over them.
        options = PublishOptions(PRODUCT, version_name=f"1.{n}", icon=icon, launch="Game.exe")
        publish(folder, root / "repo", options)
        dirs.append(folder)
    return root / "repo", dirs


@pytest.fixture
def served(published: tuple[Path, list[Path]]) -> Iterator[str]:
    with serving(published[0]) as url:
        yield url


def check_reads_everything(src: gogreader.Source, dirs: list[Path], scratch: Path) -> None:
    builds = gogreader.list_builds(src, PRODUCT, "windows")
    assert [b["version_name"] for b in builds] == ["1.3", "1.2", "1.1"]
    for n, folder in enumerate(dirs, 1):
        out = scratch / f"rebuilt-{n}"
        gogreader.rebuild(src, PRODUCT, str(n), "windows", out)
        assert tree(out) == tree(folder)
        assert (out / "saves").is_dir()
    for old, new in [(1, 2), (2, 3), (1, 3)]:
        install = scratch / f"patch-{old}-{new}"
        shutil.copytree(dirs[old - 1], install)
        patched = gogreader.apply_patch(src, PRODUCT, str(old), str(new), "windows", install)
        assert patched, f"no patch applied from {old} to {new}"
        target = tree(dirs[new - 1])
        assert all(tree(install)[p] == target[p] for p in patched)
    assert gogreader.apply_patch(src, PRODUCT, "3", "1", "windows", scratch / "none") == []


def test_serve_answers_a_gog_client(
    served: str, published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    check_reads_everything(gogreader.HttpSource(served), published[1], tmp_path)


def test_nginx_answers_a_gog_client(published: tuple[Path, list[Path]], tmp_path: Path) -> None:
    repo, dirs = published
    with running_nginx(repo, tmp_path / "nginx") as port:
        check_reads_everything(gogreader.HttpSource(f"http://127.0.0.1:{port}"), dirs, tmp_path)


def test_static_variants_agree(published: tuple[Path, list[Path]]) -> None:
    """builds-v2.json (for nginx) lists the same builds as builds.json, in urls[] form."""
    repo, _ = published
    plain = json.loads((repo / layout.builds_rel(PRODUCT, "windows")).read_text())
    v2 = json.loads((repo / layout.builds_v2_rel(PRODUCT, "windows")).read_text())
    assert [i["build_id"] for i in v2["items"]] == [i["build_id"] for i in plain["items"]]
    assert [i["urls"][0]["url"] for i in v2["items"]] == [i["link"] for i in plain["items"]]
    assert all("link" not in i for i in v2["items"])
