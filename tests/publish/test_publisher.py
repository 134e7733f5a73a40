"""Tests of ``slipstream publish`` (core/publish): real build folders, a real repository.

The acceptance checks read the repository only through ``gogreader``, the independent
reader written from the format reference, and through the ``xdelta3`` command, never
through our own format model: a build is published correctly when a third party can
rebuild it byte for byte and decode every patch. Other tests read the raw zlib JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec, sample_game, scattered_edits, write_build
from core.errors import (
    CancelledError,
    PublishError,
    RepositoryError,
    RepositoryLockedError,
    UsageError,
)
from core.format import layout
from core.progress import CancelToken, Progress
from core.publish import publisher as publisher_module
from core.publish.catalog import Catalog
from core.publish.chain import keep_patch, zlib_bound
from core.publish.lock import RepoLock
from core.publish.publisher import PublishOptions, PublishReport, publish
from core.publish.store import CHUNK_BYTES, ZLIB_LEVEL, chunk_spans
from tests.support import gogreader

PRODUCT = "1207664643"
MiB = 2**20
PROJECT = Path(__file__).resolve().parents[2]
CONTENT = "content-system/v2"
_MD5_NAME = re.compile(r"[0-9a-f]{32}")


# --------------------------------------------------------------------------------------
# Helpers: plain file and JSON access, nothing from core.format


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def fan_out(md5: str) -> str:
    return f"{md5[:2]}/{md5[2:4]}/{md5}"


def file_tree(root: Path, skip: str | None = None) -> dict[str, tuple[str, bool]]:
    """``{relative path: (md5, executable)}`` of every regular file under ``root``."""
    tree = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if skip and (rel == skip or rel.startswith(skip + "/")):
            continue
        if path.is_file() and not path.is_symlink():
            tree[rel] = (md5_file(path), bool(path.stat().st_mode & 0o100))
    return tree


def folder_set(root: Path, skip: str | None = None) -> set[str]:
    found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}
    return {f for f in found if not skip or not (f == skip or f.startswith(skip + "/"))}


def repo_listing(repo: Path) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file in the repository but publisher state."""
    listing = {}
    for path in repo.rglob("*"):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and not rel.startswith(".slipstream/"):
            info = path.stat()
            listing[rel] = (info.st_size, info.st_mtime_ns)
    return listing


def objects_under(folder: Path) -> dict[str, int]:
    """Complete objects (named by an md5, not temporaries) under ``folder``: name → mtime_ns."""
    if not folder.is_dir():
        return {}
    return {
        p.name: p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and _MD5_NAME.fullmatch(p.name)
    }


def read_zjson(path: Path) -> Any:
    return json.loads(zlib.decompress(path.read_bytes()))


def builds_path(repo: Path, os_name: str = "windows") -> Path:
    return repo / "products" / PRODUCT / "os" / os_name / "builds.json"


def builds_doc(repo: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(builds_path(repo).read_text())
    return doc


def listed_ids(repo: Path) -> list[str]:
    if not builds_path(repo).exists():
        return []
    return [str(i["build_id"]) for i in builds_doc(repo)["items"]]


def build_manifest(repo: Path, build_id: str) -> dict[str, Any]:
    item = next(i for i in builds_doc(repo)["items"] if i["build_id"] == build_id)
    doc: dict[str, Any] = read_zjson(repo / item["link"].lstrip("/"))
    return doc


def raw_depot(repo: Path, build_id: str) -> dict[str, Any]:
    """The ``depot`` object of a build's only depot manifest, from the raw zlib JSON."""
    manifest = build_manifest(repo, build_id)
    assert len(manifest["depots"]) == 1
    doc = read_zjson(repo / CONTENT / "meta" / fan_out(manifest["depots"][0]["manifest"]))
    assert doc["version"] == 2
    depot: dict[str, Any] = doc["depot"]
    return depot


def depot_files(depot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["path"].replace("\\", "/"): i for i in depot["items"] if i["type"] == "DepotFile"}


def pair_docs(repo: Path) -> dict[tuple[str, str], dict[str, Any]]:
    folder = repo / "products" / PRODUCT / "patches"
    return {
        (p.parent.name, p.stem): json.loads(p.read_text()) for p in sorted(folder.glob("*/*.json"))
    }


def patch_items(repo: Path, pair: dict[str, Any]) -> list[dict[str, Any]]:
    """Every DepotDiff of a pair document, through its root manifest."""
    root = read_zjson(repo / pair["link"].lstrip("/"))
    items = []
    for depot in root["depots"]:
        doc = read_zjson(repo / CONTENT / "patches" / "meta" / fan_out(depot["manifest"]))
        items += doc["depot"]["items"]
    return items


def read_chunk(repo: Path, chunk: dict[str, Any], patch: bool = False) -> bytes:
    """A chunk's bytes, checked: the object's name and md5, then size and md5 inflated."""
    store = f"{CONTENT}/patches/store" if patch else f"{CONTENT}/store"
    path = repo / store / PRODUCT / fan_out(chunk["compressedMd5"])
    body = path.read_bytes()
    assert md5_bytes(body) == chunk["compressedMd5"] == path.name
    assert len(body) == chunk["compressedSize"]
    data = zlib.decompress(body)
    assert len(data) == chunk["size"]
    assert md5_bytes(data) == chunk["md5"]
    return data


def assert_consistent(repo: Path) -> None:
    """Everything the products/ documents point at exists and is what it claims to be."""
    for item in builds_doc(repo)["items"]:
        manifest = build_manifest(repo, item["build_id"])
        assert manifest["buildId"] == item["build_id"]
        for entry in manifest["depots"]:
            depot = read_zjson(repo / CONTENT / "meta" / fan_out(entry["manifest"]))["depot"]
            for f in depot_files(depot).values():
                for chunk in f["chunks"]:
                    read_chunk(repo, chunk)
            for chunk in (depot.get("smallFilesContainer") or {}).get("chunks", []):
                read_chunk(repo, chunk)
    for pair in pair_docs(repo).values():
        for diff in patch_items(repo, pair):
            for chunk in diff["chunks"]:
                read_chunk(repo, chunk, patch=True)


def options(**kw: Any) -> PublishOptions:
    return PublishOptions(product=PRODUCT, **kw)


def rebuilt_tree(repo: Path, build_id: str, dest: Path, use_sfc: bool = False) -> Any:
    written = gogreader.rebuild(
        gogreader.DirSource(repo), PRODUCT, build_id, "windows", dest, use_sfc=use_sfc
    )
    tree = file_tree(dest)
    assert written == {rel: md5 for rel, (md5, _) in tree.items()}
    return tree


def random_file(path: Path, seed: int, size: int) -> None:
    """Incompressible bytes that share nothing with another seed's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))


# --------------------------------------------------------------------------------------
# The three sample builds, published once for the module


@dataclass(frozen=True)
class Published:
    repo: Path
    builds: list[Path]
    reports: list[PublishReport]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Published:
    base = tmp_path_factory.mktemp("sample")
    repo = base / "repo"
    builds, reports = [], []
    for n, specs in enumerate(sample_game(), 1):
        # An empty folder in every build: it must survive as a DepotDirectory.
        build = write_build(base / f"build{n}", specs, folders=["saves/slot1"])
        builds.append(build)
        reports.append(publish(build, repo, options(version_name=f"1.{n}")))
    return Published(repo, builds, reports)


@pytest.fixture
def sample_copy(sample: Published, tmp_path: Path) -> Path:
    """A private copy of the sample repository, for tests that publish more into it."""
    return Path(shutil.copytree(sample.repo, tmp_path / "repo"))


# --------------------------------------------------------------------------------------
# 1. Acceptance: an independent reader rebuilds every build byte for byte


@pytest.mark.parametrize("use_sfc", [False, True], ids=["chunks", "small-files-container"])
def test_reader_rebuilds_every_sample_build(
    sample: Published, tmp_path: Path, use_sfc: bool
) -> None:
    for n, build in enumerate(sample.builds, 1):
        dest = tmp_path / f"rebuilt{n}"
        assert rebuilt_tree(sample.repo, str(n), dest, use_sfc) == file_tree(build)
        assert folder_set(dest) == folder_set(build)
    names = {i["build_id"]: i["version_name"] for i in builds_doc(sample.repo)["items"]}
    assert names == {"1": "1.1", "2": "1.2", "3": "1.3"}


# --------------------------------------------------------------------------------------
# 2. Every published patch applies, with the reader and with the xdelta3 command


def test_every_patch_applies_with_reader_and_xdelta3_command(
    sample: Published, tmp_path: Path
) -> None:
    src = gogreader.DirSource(sample.repo)
    pairs = pair_docs(sample.repo)
    assert set(pairs) == {("1", "2"), ("2", "3"), ("1", "3")}
    decoded = 0
    for (a, b), pair in pairs.items():
        old, new = sample.builds[int(a) - 1], sample.builds[int(b) - 1]
        target = file_tree(new)
        install = Path(shutil.copytree(old, tmp_path / f"install-{a}-{b}"))
        patched = gogreader.apply_patch(src, PRODUCT, a, b, "windows", install)
        assert patched
        for rel in patched:
            assert md5_file(install / rel) == target[rel][0], rel

        for n, item in enumerate(patch_items(sample.repo, pair)):
            assert item["type"] == "DepotDiff"
            delta = tmp_path / f"{a}-{b}-{n}.delta"
            delta.write_bytes(
                b"".join(read_chunk(sample.repo, c, patch=True) for c in item["chunks"])
            )
            assert md5_file(delta) == item["md5"]
            source = old / item["path_source"].replace("\\", "/")
            assert md5_file(source) == item["md5_source"]
            assert item["md5_target"] == target[item["path_target"].replace("\\", "/")][0]
            out = tmp_path / f"{a}-{b}-{n}.out"
            subprocess.run(
                ["/usr/bin/xdelta3", "-d", "-s", str(source), str(delta), str(out)],
                check=True,
                capture_output=True,
            )
            assert md5_file(out) == item["md5_target"]
            decoded += 1
    assert decoded >= 3

    # The moved and edited file is patched from its old path (matched by name).
    moved = [
        (i["path_source"], i["path_target"]) for i in patch_items(sample.repo, pairs[("2", "3")])
    ]
    assert ("data\\textures.pak", "data\\packs\\textures.pak") in moved


# --------------------------------------------------------------------------------------
# 3. Document shapes, read from the raw zlib JSON


@pytest.mark.parametrize(
    ("size", "spans"),
    [
        (0, []),
        (1, [1]),
        (10 * MiB, [10 * MiB]),
        (10 * MiB + 1, [10 * MiB + 1]),
        (20 * MiB - 1, [20 * MiB - 1]),
        (20 * MiB, [10 * MiB, 10 * MiB]),
        (25 * MiB, [10 * MiB, 15 * MiB]),
        (35 * MiB, [10 * MiB, 10 * MiB, 15 * MiB]),
    ],
)
def test_chunk_spans_merge_the_remainder_into_the_last_chunk(size: int, spans: list[int]) -> None:
    assert chunk_spans(CHUNK_BYTES) == [10 * MiB]
    assert chunk_spans(size) == spans


SHAPE_SPECS = [
    FileSpec("bin/Game.exe", 11, 300_000, executable=True),
    FileSpec("data/movie.bik", 12, 25 * MiB),
    FileSpec("data/nine.pak", 18, 9 * MiB),
    FileSpec("data/exact64k.dat", 13, 64 * 1024),
    FileSpec("data/over64k.dat", 14, 64 * 1024 + 1),
    FileSpec("data/tiny.txt", 15, 10),
    FileSpec("data/empty.flag", 16, 0),
    FileSpec("tools/run.sh", 17, 500, executable=True),
]


@pytest.fixture(scope="module")
def shape(tmp_path_factory: pytest.TempPathFactory) -> Published:
    base = tmp_path_factory.mktemp("shape")
    build = write_build(base / "build", SHAPE_SPECS, folders=["saves/slot1"])
    repo = base / "repo"
    return Published(repo, [build], [publish(build, repo, options(version_name="1.0"))])


def test_depot_manifest_shape(shape: Published, tmp_path: Path) -> None:
    repo, build = shape.repo, shape.builds[0]
    depot = raw_depot(repo, "1")
    files = depot_files(depot)
    assert set(files) == {s.path for s in SHAPE_SPECS}
    for item in depot["items"]:
        assert "/" not in item["path"]
    assert files["bin/Game.exe"]["path"] == "bin\\Game.exe"

    folders = {i["path"] for i in depot["items"] if i["type"] == "DepotDirectory"}
    assert folders == {"bin", "data", "saves", "saves\\slot1", "tools"}

    for rel, item in files.items():
        data = (build / rel).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest(), rel
        content = b"".join(read_chunk(repo, c) for c in item["chunks"])
        assert content == data, rel
        executable = (build / rel).stat().st_mode & 0o100 != 0
        assert ("executable" in item.get("flags", [])) == executable, rel
    assert files["bin/Game.exe"]["flags"] == ["executable"]
    assert files["tools/run.sh"]["flags"] == ["executable"]

    movie = files["data/movie.bik"]
    assert [c["size"] for c in movie["chunks"]] == [10 * MiB, 15 * MiB]
    assert movie["md5"] == md5_file(build / "data/movie.bik")
    assert [c["size"] for c in files["data/nine.pak"]["chunks"]] == [9 * MiB]

    empty = files["data/empty.flag"]
    assert empty["chunks"] == []
    assert empty["sha256"] == hashlib.sha256(b"").hexdigest()

    # Small files (<= 64 KiB) sit in the container and keep their own chunk too.
    small = {rel for rel, item in files.items() if "sfcRef" in item}
    assert small == {"data/exact64k.dat", "data/tiny.txt", "tools/run.sh"}
    sfc = depot["smallFilesContainer"]
    container = b"".join(read_chunk(repo, c) for c in sfc["chunks"])
    assert md5_bytes(container) == sfc["md5"]
    for rel in small:
        ref = files[rel]["sfcRef"]
        assert container[ref["offset"] : ref["offset"] + ref["size"]] == (build / rel).read_bytes()
        assert len(files[rel]["chunks"]) == 1

    # Every object is named by the md5 of its bytes, in the two-level fan-out.
    for folder in (f"{CONTENT}/store/{PRODUCT}", f"{CONTENT}/meta"):
        objects = [p for p in (repo / folder).rglob("*") if p.is_file()]
        assert objects
        for path in objects:
            assert path.name == md5_bytes(path.read_bytes())
            assert path.parent.name == path.name[2:4]
            assert path.parent.parent.name == path.name[:2]

    for use_sfc in (False, True):
        dest = tmp_path / f"rebuilt-{use_sfc}"
        assert rebuilt_tree(repo, "1", dest, use_sfc) == file_tree(build)
        assert folder_set(dest) == folder_set(build)


def test_builds_lists_have_gogs_fields_newest_first(sample: Published) -> None:
    doc = builds_doc(sample.repo)
    items = doc["items"]
    assert doc["count"] == doc["total_count"] == 3
    assert [i["build_id"] for i in items] == ["3", "2", "1"]
    assert [i["version_name"] for i in items] == ["1.3", "1.2", "1.1"]
    for item in items:
        assert item["product_id"] == PRODUCT
        assert item["os"] == "windows"
        assert item["branch"] is None
        assert isinstance(item["tags"], list)
        assert item["public"] is True
        assert item["generation"] == 2
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", item["date_published"])
        datetime.strptime(item["date_published"], "%Y-%m-%dT%H:%M:%S%z")
        assert item["link"].startswith(f"/{CONTENT}/meta/")
        manifest = build_manifest(sample.repo, item["build_id"])
        assert manifest["version"] == 2
        assert manifest["buildId"] == item["build_id"]
        assert manifest["baseProductId"] == PRODUCT
        assert manifest["platform"] == "windows"
        assert [d["languages"] for d in manifest["depots"]] == [["*", "en-US"]]
    dates = [i["date_published"] for i in items]
    assert dates == sorted(dates, reverse=True)

    v2 = json.loads((builds_path(sample.repo).parent / "builds-v2.json").read_text())
    assert [i["build_id"] for i in v2["items"]] == ["3", "2", "1"]
    for old, new in zip(items, v2["items"], strict=True):
        assert new["urls"]
        assert gogreader.build_links(new)[0] == old["link"]


def test_patch_documents_and_graph(sample: Published) -> None:
    repo = sample.repo
    pairs = pair_docs(repo)
    full = {
        b: sum(
            c["compressedSize"]
            for f in depot_files(raw_depot(repo, b)).values()
            for c in f["chunks"]
        )
        for b in ("1", "2", "3")
    }
    for (a, b), pair in pairs.items():
        assert pair["from_build_id"] == a and pair["to_build_id"] == b
        root_path = repo / pair["link"].lstrip("/")
        assert pair["link"].startswith(f"/{CONTENT}/patches/meta/")
        assert root_path.name == pair["id"] == md5_bytes(root_path.read_bytes())
        root = read_zjson(root_path)
        assert root["algorithm"] == "xdelta3"
        assert root["baseProductId"] == PRODUCT
        assert (root["buildId_source"], root["buildId_target"]) == (a, b)
        assert [d["languages"] for d in root["depots"]] == [["*", "en-US"]]
        for item in patch_items(repo, pair):
            assert set(item) >= {"path_source", "path_target", "md5_source", "md5_target"}
            assert set(item) >= {"md5", "chunks", "type"}

    graph = json.loads((builds_path(repo).parent / "graph.json").read_text())
    assert graph["product_id"] == PRODUCT and graph["os"] == "windows"
    builds = {g["build_id"]: g for g in graph["builds"]}
    assert set(builds) == {"1", "2", "3"}
    assert {b: g["full_bytes"] for b, g in builds.items()} == full
    assert {b: g["version_name"] for b, g in builds.items()} == {"1": "1.1", "2": "1.2", "3": "1.3"}
    edges = {(e["from_build_id"], e["to_build_id"]): e for e in graph["edges"]}
    assert set(edges) == set(pairs) == {("1", "2"), ("2", "3"), ("1", "3")}
    for key, edge in edges.items():
        assert edge["id"] == pairs[key]["id"]
        assert edge["link"] == pairs[key]["link"]
        patch_bytes = sum(
            c["compressedSize"] for i in patch_items(repo, pairs[key]) for c in i["chunks"]
        )
        assert edge["patch_bytes"] == patch_bytes
        assert edge["files_patched"] == len(patch_items(repo, pairs[key]))
        # The byte cost: the patch, plus the chunks new to the unpatched files.
        old, new = depot_files(raw_depot(repo, key[0])), depot_files(raw_depot(repo, key[1]))
        patched = {i["path_target"].replace("\\", "/") for i in patch_items(repo, pairs[key])}
        old_chunks = {c["md5"] for f in old.values() for c in f["chunks"]}
        fetched = sum(
            c["compressedSize"]
            for path, f in new.items()
            if path not in patched
            for c in f["chunks"]
            if c["md5"] not in old_chunks
        )
        assert edge["bytes"] == patch_bytes + fetched
        assert 0 < patch_bytes < edge["bytes"] < full[key[1]]


# --------------------------------------------------------------------------------------
# 4. Build ids and branches


def test_build_ids_increase_and_an_existing_one_is_refused(
    sample: Published, sample_copy: Path
) -> None:
    assert [r.build_id for r in sample.reports] == ["1", "2", "3"]
    assert [r.version_name for r in sample.reports] == ["1.1", "1.2", "1.3"]
    before = repo_listing(sample_copy)
    with pytest.raises(PublishError, match=r"Build 2 is already published"):
        publish(sample.builds[0], sample_copy, options(build_id="2", version_name="again"))
    assert repo_listing(sample_copy) == before
    # A re-run with the same id and the same content (a CI job run twice) is a no-op.
    rerun = publish(sample.builds[1], sample_copy, options(build_id="2", version_name="1.2"))
    assert rerun.unchanged and rerun.build_id == "2" and rerun.objects_written == 0
    assert repo_listing(sample_copy) == before
    report = publish(sample.builds[0], sample_copy, options(build_id="70", version_name="x"))
    assert report.build_id == "70"
    assert publish(sample.builds[1], sample_copy, options(version_name="y")).build_id == "71"


def _edited_builds(base: Path, count: int) -> list[Path]:
    """Builds of one 1 MiB file edited a little more in each, plus an unchanged one."""
    spec = FileSpec("data/levels.pak", 41, MiB)
    still = FileSpec("readme.txt", 42, 3000)
    builds = []
    for n in range(count):
        builds.append(write_build(base / f"build{n + 1}", [spec, still]))
        spec = scattered_edits(spec, 3, 100 + n)
    return builds


def test_beta_branch_has_its_own_chain(tmp_path: Path) -> None:
    b1, b2, b3, b4 = _edited_builds(tmp_path, 4)
    repo = tmp_path / "repo"
    r1 = publish(b1, repo, options(version_name="1.0"))
    r2 = publish(b2, repo, options(version_name="1.1-beta", branch="beta"))
    r3 = publish(b3, repo, options(version_name="1.2-beta", branch="beta"))
    r4 = publish(b4, repo, options(version_name="1.1"))
    assert [r.build_id for r in (r1, r2, r3, r4)] == ["1", "2", "3", "4"]
    # The branch's first build is patched from the default branch it forks from; later
    # builds of each branch only from their own branch.
    assert [e.from_build for e in r2.edges] == ["1"]
    assert [e.from_build for e in r3.edges] == ["2"]
    assert [e.from_build for e in r4.edges] == ["1"]
    assert set(pair_docs(repo)) == {("1", "2"), ("2", "3"), ("1", "4")}

    items = builds_doc(repo)["items"]
    assert [(i["build_id"], i["branch"]) for i in items] == [
        ("4", None),
        ("3", "beta"),
        ("2", "beta"),
        ("1", None),
    ]
    graph = json.loads((builds_path(repo).parent / "graph.json").read_text())
    assert {(e["from_build_id"], e["to_build_id"]) for e in graph["edges"]} == {
        ("1", "2"),
        ("2", "3"),
        ("1", "4"),
    }
    assert {g["build_id"]: g["branches"] for g in graph["builds"]} == {
        "1": [None],
        "2": ["beta"],
        "3": ["beta"],
        "4": [None],
    }
    install = Path(shutil.copytree(b2, tmp_path / "install"))
    src = gogreader.DirSource(repo)
    assert gogreader.apply_patch(src, PRODUCT, "2", "3", "windows", install) == ["data/levels.pak"]
    assert file_tree(install) == file_tree(b3)


# --------------------------------------------------------------------------------------
# 5. Idempotency


def test_republishing_the_newest_build_changes_nothing(
    sample: Published, sample_copy: Path
) -> None:
    before = repo_listing(sample_copy)
    report = publish(sample.builds[2], sample_copy, options(version_name="1.3"))
    assert report.unchanged
    assert report.build_id == "3"
    assert report.objects_written == 0
    assert report.bytes_written == 0
    assert repo_listing(sample_copy) == before


def test_old_content_as_a_new_version_writes_no_chunks(
    sample: Published, sample_copy: Path, tmp_path: Path
) -> None:
    store = sample_copy / CONTENT / "store" / PRODUCT
    before = objects_under(store)
    report = publish(sample.builds[1], sample_copy, options(version_name="1.2.1"))
    assert not report.unchanged
    assert report.build_id == "4"
    assert objects_under(store) == before  # same names, same mtimes: nothing rewritten
    assert listed_ids(sample_copy) == ["4", "3", "2", "1"]
    # 1 -> 4 needs exactly the deltas 1 -> 2 had; 3 -> 4 needs new ones.
    assert report.patches_cached > 0
    assert report.patches_encoded > 0
    assert {e.from_build for e in report.edges if e.index} == {"1", "3"}
    assert rebuilt_tree(sample_copy, "4", tmp_path / "rebuilt") == file_tree(sample.builds[1])


# --------------------------------------------------------------------------------------
# 6. The patch cache


def test_patch_cache_hits_only_for_a_pair_of_contents_seen_before(tmp_path: Path) -> None:
    x = FileSpec("data/world.pak", 51, MiB)
    x_edited = scattered_edits(x, 4, 52)
    still = FileSpec("readme.txt", 53, 2000)
    repo = tmp_path / "repo"
    contents = {"1": x, "2": x_edited, "3": x, "4": x_edited}  # edit, revert, edit again
    reports = {}
    for build_id, spec in contents.items():
        build = write_build(tmp_path / f"build{build_id}", [spec, still])
        reports[build_id] = publish(build, repo, options(version_name=build_id, patch_depth=1))
    # (x, x') and then (x', x) are new pairs; the last publish needs (x, x') again.
    assert (reports["2"].patches_encoded, reports["2"].patches_cached) == (1, 0)
    assert (reports["3"].patches_encoded, reports["3"].patches_cached) == (1, 0)
    assert (reports["4"].patches_encoded, reports["4"].patches_cached) == (0, 1)
    assert set(pair_docs(repo)) == {("1", "2"), ("2", "3"), ("3", "4")}
    # The cached delta is published as a working patch.
    install = Path(shutil.copytree(tmp_path / "build3", tmp_path / "install"))
    src = gogreader.DirSource(repo)
    assert gogreader.apply_patch(src, PRODUCT, "3", "4", "windows", install) == ["data/world.pak"]
    assert file_tree(install) == file_tree(tmp_path / "build4")


def test_a_failed_encode_is_not_remembered_as_no_patch(tmp_path: Path) -> None:
    """An encode that fails (here: its input vanished mid-publish) says nothing about
    the pair, so a later build needing the same pair must encode it again."""
    x = FileSpec("data/world.pak", 61, MiB)
    repo = tmp_path / "repo"
    publish(write_build(tmp_path / "build1", [x]), repo, options(version_name="1"))
    build2 = write_build(tmp_path / "build2", [scattered_edits(x, 3, 62)])
    aside = tmp_path / "aside"

    def hide_target(p: Progress) -> None:
        if p.phase == "patching" and p.done == 0 and not aside.exists():
            (build2 / "data/world.pak").rename(aside)

    report = publish(build2, repo, options(version_name="2"), progress=hide_target)
    assert report.edges[0].index is None  # no patch this time
    assert len(report.patch_failures) == 1 and "data/world.pak" in report.patch_failures[0]
    assert report.patches_encoded == 0
    aside.rename(build2 / "data/world.pak")

    again = publish(build2, repo, options(version_name="2 again"))
    assert again.build_id == "3"
    assert ("1", "3") in pair_docs(repo)
    install = Path(shutil.copytree(tmp_path / "build1", tmp_path / "install"))
    src = gogreader.DirSource(repo)
    assert gogreader.apply_patch(src, PRODUCT, "1", "3", "windows", install)
    assert file_tree(install) == file_tree(build2)


# --------------------------------------------------------------------------------------
# 7. The keep rule and patch depth


def test_zlib_bound_is_never_beaten() -> None:
    # The patch phase skips measuring a patch's compressed size when even this bound is kept.
    data = random.Random(5).randbytes(CHUNK_BYTES + 300_000)  # incompressible: zlib's worst
    for size in (1, 70_000, len(data)):
        spans = chunk_spans(size)
        starts = [sum(spans[:i]) for i in range(len(spans))]
        compressed = sum(
            len(zlib.compress(data[s : s + n], ZLIB_LEVEL))
            for s, n in zip(starts, spans, strict=True)
        )
        assert size < compressed <= zlib_bound(size)


def test_rebuilding_a_published_file_checks_its_md5(tmp_path: Path) -> None:
    # The patch phase rebuilds old files from the repository; a manifest whose file md5
    # disagrees with its chunks must stop it, with or without a whole-file hash pass.
    repo = tmp_path / "repo"
    build = write_build(tmp_path / "b1", [FileSpec("game.exe", 1, 300_000)])
    publish(build, repo, PublishOptions(PRODUCT))
    catalog = Catalog(layout.RepoLayout(repo), PRODUCT)
    item = catalog.listing("windows").find("1")
    assert item is not None
    (published,) = catalog.load_build(item).files.values()
    catalog.materialize(published, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == (build / "game.exe").read_bytes()
    with pytest.raises(RepositoryError, match="does not rebuild"):
        catalog.materialize(replace(published, md5="0" * 32), tmp_path / "bad")


def test_keep_patch_rule() -> None:
    assert keep_patch(8_000, 10_000)
    assert not keep_patch(8_001, 10_000)  # not clearly smaller
    assert not keep_patch(0, 1_000)  # saves too little to pay for itself
    assert keep_patch(0, 1_024)


def test_rewritten_file_gets_no_patch_edited_file_does(tmp_path: Path) -> None:
    edited = FileSpec("data/levels.pak", 71, MiB)
    repo = tmp_path / "repo"
    b1 = write_build(tmp_path / "build1", [edited])
    random_file(b1 / "data/rewritten.pak", 72, MiB)
    publish(b1, repo, options(version_name="1"))
    b2 = write_build(tmp_path / "build2", [scattered_edits(edited, 3, 73)])
    random_file(b2 / "data/rewritten.pak", 74, MiB)

    report = publish(b2, repo, options(version_name="2"))
    assert report.patches_encoded == 2  # both were tried
    (edge,) = report.edges
    assert (edge.files_changed, edge.files_patched) == (2, 1)
    targets = [i["path_target"] for i in patch_items(repo, pair_docs(repo)[("1", "2")])]
    assert targets == ["data\\levels.pak"]

    b3 = write_build(tmp_path / "build3", [scattered_edits(edited, 5, 75)])
    report = publish(b3, repo, options(version_name="3", patch_depth=0))
    assert report.edges == []
    assert report.patches_encoded == report.patches_cached == 0
    assert set(pair_docs(repo)) == {("1", "2")}
    graph = json.loads((builds_path(repo).parent / "graph.json").read_text())
    assert [(e["from_build_id"], e["to_build_id"]) for e in graph["edges"]] == [("1", "2")]


# --------------------------------------------------------------------------------------
# 8. The repository lock


def test_a_held_lock_refuses_a_second_publisher(tmp_path: Path) -> None:
    build = write_build(tmp_path / "build", [FileSpec("a.txt", 81, 1000)])
    repo = tmp_path / "repo"
    with RepoLock(repo / ".slipstream"):
        with pytest.raises(RepositoryLockedError) as info:
            publish(build, repo, options())
        assert f"Process {os.getpid()} holds" in str(info.value)
        assert "Another publisher is writing to this repository" in str(info.value)
    assert not builds_path(repo).exists()
    assert publish(build, repo, options()).build_id == "1"


def test_the_lock_names_the_process_that_holds_it(tmp_path: Path) -> None:
    build = write_build(tmp_path / "build", [FileSpec("a.txt", 82, 1000)])
    repo = tmp_path / "repo"
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from core.publish.lock import RepoLock
        with RepoLock(Path(sys.argv[1])):
            print("locked", flush=True)
            sys.stdin.read()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(repo / ".slipstream")],
        cwd=PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RepositoryLockedError, match=rf"Process {holder.pid} holds"):
            publish(build, repo, options())
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    assert publish(build, repo, options()).build_id == "1"


# --------------------------------------------------------------------------------------
# 9. Interrupt safety


def _cancel_when(
    predicate: Callable[[Progress], bool],
) -> tuple[CancelToken, Callable[[Progress], None]]:
    token = CancelToken()

    def sink(p: Progress) -> None:
        if predicate(p):
            token.cancel()

    return token, sink


def test_cancel_while_chunking_then_rerun_reuses_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    publish(write_build(tmp_path / "build1", [FileSpec("old.bin", 91, 5000)]), repo, options())
    builds_before = builds_path(repo).read_bytes()
    store = repo / CONTENT / "store" / PRODUCT
    old_objects = objects_under(store)
    # Nothing in common with build 1, so any reuse is of the cancelled run's objects.
    specs = [FileSpec(f"data/part{n}.pak", 92 + n, 3 * MiB) for n in range(8)]
    build = write_build(tmp_path / "build2", specs)

    token, sink = _cancel_when(lambda p: p.phase == "chunking" and p.item == "data/part1.pak")
    # Files are chunked a few at a time. Parts 4 and up are held at their first read
    # until the cancel, so the cancel lands with some parts stored and others untouched,
    # whatever the machine's load (a report of part1 that came after every part was
    # stored made this test fail: 8 < 8).
    real_read = publisher_module.read_pieces

    def held(path: Path) -> Iterator[bytes]:
        if int(path.stem.removeprefix("part")) >= 4:
            deadline = time.monotonic() + 30
            while not token.cancelled:
                assert time.monotonic() < deadline, "the cancel never came"
                time.sleep(0.005)
        yield from real_read(path)

    monkeypatch.setattr(publisher_module, "read_pieces", held)
    with pytest.raises(CancelledError):
        publish(build, repo, options(), progress=sink, cancel=token)
    monkeypatch.undo()
    assert builds_path(repo).read_bytes() == builds_before
    assert_consistent(repo)
    left = {k: v for k, v in objects_under(store).items() if k not in old_objects}
    assert 1 <= len(left) <= 4  # some parts were stored before the cancel, not all

    report = publish(build, repo, options())
    assert report.build_id == "2"
    assert report.objects_reused >= len(left)
    assert all(objects_under(store)[k] == v for k, v in left.items())  # not rewritten
    assert set(objects_under(store)) - set(left) - set(old_objects)  # the cancel stopped it
    assert rebuilt_tree(repo, "2", tmp_path / "rebuilt") == file_tree(build)


def test_cancel_while_patching_then_rerun_reuses_finished_patches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    specs = [FileSpec(f"data/part{n}.pak", 101 + n, MiB) for n in range(3)]
    b1 = write_build(tmp_path / "build1", specs)
    publish(b1, repo, options())
    builds_before = builds_path(repo).read_bytes()
    b2 = write_build(tmp_path / "build2", [scattered_edits(s, 3, 110) for s in specs])

    token, sink = _cancel_when(lambda p: p.phase == "patching" and p.done > 0)
    with pytest.raises(CancelledError):
        publish(b2, repo, options(), progress=sink, cancel=token)
    assert builds_path(repo).read_bytes() == builds_before
    assert not pair_docs(repo)

    report = publish(b2, repo, options())
    assert report.patches_cached >= 1
    assert report.patches_cached + report.patches_encoded == 3
    install = Path(shutil.copytree(b1, tmp_path / "install"))
    patched = gogreader.apply_patch(
        gogreader.DirSource(repo), PRODUCT, "1", "2", "windows", install
    )
    assert sorted(patched) == [s.path for s in specs]
    assert file_tree(install) == file_tree(b2)


def test_kill_9_mid_publish_leaves_a_consistent_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    readme = FileSpec("readme.txt", 121, 5000)
    publish(write_build(tmp_path / "build1", [readme]), repo, options(version_name="1"))
    big = [readme, FileSpec("data/a.pak", 122, 20 * MiB), FileSpec("data/b.pak", 123, 20 * MiB)]
    build = write_build(tmp_path / "build2", big)
    store = repo / CONTENT / "store" / PRODUCT
    known = objects_under(store)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from core.publish.publisher import PublishOptions, publish
        publish(Path({str(build)!r}), Path({str(repo)!r}),
                PublishOptions({PRODUCT!r}, version_name="2", jobs=1))
        """
    )
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", script], cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            deadline = time.monotonic() + 120  # a safety net, not a speed requirement
            while not set(objects_under(store)) - set(known):
                assert proc.poll() is None, stderr.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    written = {k: v for k, v in objects_under(store).items() if k not in known}

    assert listed_ids(repo) in (["1"], ["2", "1"])
    assert_consistent(repo)

    report = publish(build, repo, options(version_name="2"))
    assert report.build_id == "2"
    assert listed_ids(repo) == ["2", "1"]
    assert all(objects_under(store)[k] == v for k, v in written.items())  # reused
    assert_consistent(repo)
    assert rebuilt_tree(repo, "2", tmp_path / "rebuilt") == file_tree(build)


@pytest.mark.parametrize("killed_after", ["pairs", "graph"])
@pytest.mark.parametrize("rerun", ["rewritten file", "patch depth 0"])
def test_pairs_left_by_an_interrupted_run_do_not_survive(
    tmp_path: Path, rerun: str, killed_after: str
) -> None:
    """A run killed after writing its pair documents (and perhaps graph.json) but before
    builds.json leaves patches to a build id that nobody lists. The next publish takes that
    id for other content: those patches would turn a player's files into the killed run's."""
    repo = tmp_path / "repo"
    levels = FileSpec("data/levels.pak", 161, MiB)
    b1 = write_build(tmp_path / "build1", [levels])
    publish(b1, repo, options(version_name="1"))
    os_dir = builds_path(repo).parent
    kept = ("builds.json", "builds-v2.json") + (("graph.json",) if killed_after == "pairs" else ())
    saved = {name: (os_dir / name).read_bytes() for name in kept}
    killed = write_build(tmp_path / "killed", [scattered_edits(levels, 3, 162)])
    publish(killed, repo, options(version_name="killed"))
    assert ("1", "2") in pair_docs(repo)
    for name, data in saved.items():  # the listing as the killed run left it
        (os_dir / name).write_bytes(data)
    assert listed_ids(repo) == ["1"]

    b2 = write_build(tmp_path / "build2", [])
    depth = 3
    if rerun == "rewritten file":
        random_file(b2 / "data/levels.pak", 163, MiB)  # no patch from build 1 pays
    else:
        write_build(b2, [scattered_edits(levels, 3, 164)])
        depth = 0
    report = publish(b2, repo, options(version_name="2", patch_depth=depth))
    assert report.build_id == "2"
    assert ("1", "2") not in pair_docs(repo)
    graph = json.loads((os_dir / "graph.json").read_text())
    assert graph["edges"] == []
    install = Path(shutil.copytree(b1, tmp_path / "install"))
    assert (
        gogreader.apply_patch(gogreader.DirSource(repo), PRODUCT, "1", "2", "windows", install)
        == []
    )
    assert_consistent(repo)


# --------------------------------------------------------------------------------------
# 10. Refusals


def _symlink_to_file(build: Path) -> str:
    (build / "data/link.txt").symlink_to(build / "data/a.txt")
    return "data/link.txt"


def _symlink_to_folder(build: Path) -> str:
    (build / "more").symlink_to(build / "data")
    return "more"


def _fifo(build: Path) -> str:
    os.mkfifo(build / "data/pipe")
    return "data/pipe"


def _case_collision(build: Path) -> str:
    (build / "data/A.txt").write_bytes(b"upper")
    return "data/A.txt"


def _reserved_name(build: Path) -> str:
    (build / "data/aux.txt").write_bytes(b"a Windows device name")
    return "data/aux.txt"


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_symlink_to_file, "symbolic link"),
        (_symlink_to_folder, "symbolic link"),
        (_fifo, "not a regular file"),
        (_case_collision, "case-insensitive"),
        (_reserved_name, "reserved Windows device name"),
    ],
)
def test_unpublishable_build_folders_are_refused(
    tmp_path: Path, spoil: Callable[[Path], str], message: str
) -> None:
    build = write_build(tmp_path / "build", [FileSpec("data/a.txt", 131, 100)])
    name = spoil(build)
    repo = tmp_path / "repo"
    with pytest.raises(PublishError, match=message) as info:
        publish(build, repo, options())
    assert name in str(info.value)
    assert not (repo / "products").exists()
    assert not (repo / CONTENT).exists()


def test_missing_build_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="does not exist"):
        publish(tmp_path / "nowhere", tmp_path / "repo", options())
    assert not (tmp_path / "repo" / "products").exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"product": "abc"},
        {"product": ""},
        {"build_id": "12a"},
        {"os": "dos"},
        {"branch": "bad branch"},
        {"branch": ""},
        {"branch": "-x"},
        {"patch_depth": -1},
        {"patch_depth": 51},
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, bad: dict[str, Any]) -> None:
    build = write_build(tmp_path / "build", [FileSpec("a.txt", 141, 100)])
    with pytest.raises(UsageError) as info:
        publish(build, tmp_path / "repo", replace(options(), **bad))
    assert info.value.exit_code == 2
    assert not (tmp_path / "repo").exists()


# --------------------------------------------------------------------------------------
# 11. A repository inside the build folder


@pytest.mark.parametrize("where", ["repo", "out/../repo"])
def test_repository_inside_the_build_folder_is_not_published(tmp_path: Path, where: str) -> None:
    build = write_build(
        tmp_path / "game", [FileSpec("Game.exe", 151, 50_000, executable=True)], ["saves"]
    )
    (build / "out").mkdir()
    repo = build / where
    first = publish(build, repo, options(version_name="1.0"))
    paths = {i["path"] for i in raw_depot(build / "repo", "1")["items"]}
    assert paths == {"Game.exe", "saves", "out"}
    # The repository grew in between; if it were scanned this would be a new build.
    again = publish(build, repo, options(version_name="1.0"))
    assert again.unchanged and again.build_id == first.build_id
    dest = tmp_path / "rebuilt"
    assert rebuilt_tree(build / "repo", "1", dest) == file_tree(build, skip="repo")
    assert folder_set(dest) == folder_set(build, skip="repo")
