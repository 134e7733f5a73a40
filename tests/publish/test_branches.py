"""A branch's first build, the product's name across branches and OSes, and the one count
of a full download that ``publish`` and ``plan`` share; real builds, a real repository."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.errors import UsageError
from core.format import layout
from core.format.depot import download_size, parse_depot_manifest
from core.publish.promote import promote
from core.publish.publisher import PublishOptions, publish
from tests.support import gogreader
from tests.support.helpers import tree

PRODUCT = "5150"
MiB = 2**20


def builds(base: Path, count: int) -> list[Path]:
    """Successive builds of one 1 MiB file edited a little more each time."""
    spec = FileSpec("data/levels.pak", 61, MiB)
    still = FileSpec("readme.txt", 62, 3000)
    out = []
    for n in range(count):
        out.append(write_build(base / f"b{n + 1}", [spec, still]))
        spec = scattered_edits(spec, 3, 600 + n)
    return out


def opts(**kw: Any) -> PublishOptions:
    return PublishOptions(PRODUCT, jobs=2, **kw)


def build_manifest(repo: Path, build_id: str, os_name: str = "windows") -> dict[str, Any]:
    doc = json.loads((repo / layout.builds_rel(PRODUCT, os_name)).read_text())
    item = next(i for i in doc["items"] if i["build_id"] == build_id)
    rel = item["link"].lstrip("/")
    manifest: dict[str, Any] = json.loads(zlib.decompress((repo / rel).read_bytes()))
    return manifest


def test_a_new_branchs_first_build_is_patched_from_the_default_branch(tmp_path: Path) -> None:
    b1, b2, b3, b4 = builds(tmp_path, 4)
    repo = tmp_path / "repo"
    publish(b1, repo, opts(version_name="1.0"))
    publish(b2, repo, opts(version_name="1.1"))
    beta = publish(b3, repo, opts(version_name="1.2-beta", branch="beta"))
    assert [e.from_build for e in beta.edges] == ["2", "1"]
    assert all(e.index is not None for e in beta.edges)
    # A player of the default branch's newest build switches to beta with a patch.
    install = Path(shutil.copytree(b2, tmp_path / "install"))
    patched = gogreader.apply_patch(
        gogreader.DirSource(repo), PRODUCT, "2", "3", "windows", install
    )
    assert patched == ["data/levels.pak"]
    assert tree(install) == tree(b3)
    # --from-branch names another branch to fork from.
    rc = publish(b4, repo, opts(version_name="1.3-rc", branch="rc", from_branch="beta"))
    assert [e.from_build for e in rc.edges] == ["3"]
    with pytest.raises(UsageError, match="no builds to fork from"):
        publish(b4, repo, opts(version_name="1.3", branch="next", from_branch="bta"))
    # The branch's own builds come first once it has some; --from-branch no longer matters.
    again = publish(b1, repo, opts(version_name="1.4-rc", branch="rc", from_branch="bta"))
    assert [e.from_build for e in again.edges] == ["4"]


def test_a_first_build_identical_to_the_fork_point_is_still_published(tmp_path: Path) -> None:
    (b1,) = builds(tmp_path, 1)
    repo = tmp_path / "repo"
    publish(b1, repo, opts(version_name="1.0"))
    again = publish(b1, repo, opts(version_name="1.0", branch="beta"))
    assert not again.unchanged and again.build_id == "2"


def test_promote_to_a_new_branch_patches_from_the_fork_branch(tmp_path: Path) -> None:
    b1, b2 = builds(tmp_path, 2)
    repo = tmp_path / "repo"
    publish(b1, repo, opts(version_name="1.0"))
    publish(b2, repo, opts(version_name="1.1-beta", branch="beta"))
    report = promote(repo, opts(branch="staging", from_branch="beta"), "1")
    assert [e.from_build for e in report.edges] == ["2"]


def test_the_product_name_is_kept_across_branches_and_oses(tmp_path: Path) -> None:
    b1, b2, b3, b4 = builds(tmp_path, 4)
    repo = tmp_path / "repo"
    publish(b1, repo, opts(version_name="1.0", name="Star Lanes"))
    publish(b2, repo, opts(version_name="1.1-beta", branch="beta"))
    publish(b3, repo, opts(version_name="1.2", os="linux"))
    for build_id, os_name in (("2", "windows"), ("3", "linux")):
        manifest = build_manifest(repo, build_id, os_name)
        assert [p["name"] for p in manifest["products"]] == ["Star Lanes"]
        assert manifest["installDirectory"] == "Star Lanes"
    # --name renames the product, and the new name then sticks everywhere.
    publish(b4, repo, opts(version_name="1.3", branch="beta", name="Star Lanes II"))
    publish(b1, repo, opts(version_name="1.4"))
    assert [p["name"] for p in build_manifest(repo, "5")["products"]] == ["Star Lanes II"]


def test_the_full_download_counts_each_chunk_object_once(tmp_path: Path) -> None:
    """Two copies of one file are one download: publish reports what ``plan`` counts."""
    same = FileSpec("data/a.pak", 71, 300_000)
    copy = FileSpec("data/copy-of-a.pak", 71, 300_000)
    other = FileSpec("game.exe", 72, 200_000, executable=True)
    build = write_build(tmp_path / "b1", [same, copy, other])
    repo = tmp_path / "repo"
    report = publish(build, repo, opts(version_name="1.0"))
    manifest = build_manifest(repo, "1")
    depot_id = manifest["depots"][0]["manifest"]
    raw = zlib.decompress((repo / layout.meta_rel(depot_id)).read_bytes())
    depot = parse_depot_manifest(json.loads(raw), "depot")
    chunks = [c for f in depot.files for c in f.chunks]
    with_duplicates = sum(c.compressed_size for c in chunks)
    distinct = {c.compressed_md5: c.compressed_size for c in chunks}
    assert report.compressed_bytes == sum(distinct.values()) == download_size(chunks)
    assert report.compressed_bytes < with_duplicates
    graph = json.loads((repo / layout.graph_rel(PRODUCT, "windows")).read_text())
    assert graph["builds"][0]["full_bytes"] == report.compressed_bytes
