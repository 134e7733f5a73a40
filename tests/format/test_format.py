"""The format model reads real GOG documents and refuses hostile ones with a named reason."""

from __future__ import annotations

import json
import ntpath
import posixpath
import zlib
from pathlib import Path
from typing import Any

import pytest

from core.errors import FormatError, LimitExceededError, UnsafePathError
from core.format import paths, zjson
from core.format.build import parse_build_manifest
from core.format.builds import parse_builds_listing, parse_secure_link, unsigned_link
from core.format.depot import EMPTY_MD5, DepotFile, parse_depot_manifest
from core.format.fields import Limits
from core.format.graph import GraphBuild, GraphEdge, PatchGraph, parse_graph
from core.format.patch import (
    PatchDepotManifest,
    parse_patch_depot,
    parse_patch_index,
    parse_patch_root,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gog"
MD5 = "0123456789abcdef0123456789abcdef"


def fixture(name: str) -> Any:
    data = (FIXTURES / name).read_bytes()
    return zjson.loads(data, name, 1 << 24)


# --- real GOG documents ----------------------------------------------------------------


def test_fixtures_are_present() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == [
        "builds-mixed.json",
        "depot-v2.json",
        "meta-v2.json",
    ]


def test_reads_real_build_manifest() -> None:
    meta = parse_build_manifest(fixture("meta-v2.json"), "meta-v2.json")
    assert meta.base_product_id == "1441974651"
    assert meta.build_id == "56279155486691846"
    assert meta.install_directory == "Prison Architect"
    assert len(meta.products) == 12 and len(meta.depots) == 25
    assert meta.product_name("1619024184") == "Prison Architect - Psych Ward: Warden's Edition"
    base = meta.depots_for("en-US")
    assert [d.manifest for d in base][:1] == ["b1b516678797013ca63b16803818cfc0"]
    assert all(d.product_id == "1441974651" for d in base)
    assert meta.offline_depot is not None and meta.offline_depot.languages == ("*",)
    assert meta.dependencies == ("MSVC2010", "MSVC2013", "MSVC2017")


def test_reads_real_depot_manifest() -> None:
    depot = parse_depot_manifest(fixture("depot-v2.json"), "depot-v2.json")
    (item,) = depot.items
    assert isinstance(item, DepotFile)
    assert item.path == "goggame-1619024184.hashdb"
    assert item.size == 157
    assert item.file_md5 == "f25e9815eee7819a0208e7a22cfcbbc5"  # single chunk: chunk md5


def test_reads_real_mixed_builds_listing() -> None:
    listing = parse_builds_listing(fixture("builds-mixed.json"), "builds-mixed.json")
    assert listing.total_count == 13 and len(listing.items) == 4
    names = [i.version_name for i in listing.installable()]
    assert names == ["1.5 (CS) GOG 0.2", "1.5 (A)", "1.5"]
    legacy = [i for i in listing.items if i.generation == 1]
    assert len(legacy) == 1 and legacy[0].legacy_build_id is not None
    first = listing.items[0]
    # fastly (priority 10) before the fallback-only gcore endpoint
    assert first.meta_urls[0].startswith("https://gog-cdn-fastly.gog.com/")
    assert first.meta_urls[1].startswith("https://gog-cdn.gcdn.co/")


def test_real_documents_roundtrip_through_the_model() -> None:
    meta = parse_build_manifest(fixture("meta-v2.json"), "meta")
    assert parse_build_manifest(meta.to_json(), "again") == meta
    depot = parse_depot_manifest(fixture("depot-v2.json"), "depot")
    assert parse_depot_manifest(depot.to_json(), "again") == depot
    listing = parse_builds_listing(fixture("builds-mixed.json"), "builds")
    for version in (1, 2):
        again = parse_builds_listing(listing.to_json(version), "again")
        assert [i.meta_urls[0] for i in again.items] == [i.meta_urls[0] for i in listing.items]


def test_zlib_encoded_document_equals_plain() -> None:
    doc = fixture("meta-v2.json")
    data = zjson.dumps(doc)
    assert data[:2] == b"\x78\x9c"
    assert zjson.loads(data, "z", 1 << 24) == doc


# --- endpoints and secure links --------------------------------------------------------


def test_secure_link_assembles_chunk_urls_like_gog() -> None:
    doc = {
        "product_id": 2034949552,
        "urls": [
            {
                "endpoint_name": "fastly",
                "url_format": "{base_url}/token=nva={expires_at}~dirs={dirs}~token={token}{path}",
                "parameters": {
                    "base_url": "https://gog-cdn-fastly.gog.com",
                    "path": "/content-system/v2/store/2034949552",
                    "dirs": 4,
                    "token": "0f76ef3e8f6b5d6baddc4",
                    "expires_at": "1717011195",
                },
                "priority": 998,
                "supports_generation": [1, 2],
            }
        ],
    }
    link = parse_secure_link(doc, "secure_link")
    url = link.ordered()[0].assemble("/f1/d4/f1d41c76eb9639d2f8c1d3fd2057d7f1")
    assert url == (
        "https://gog-cdn-fastly.gog.com/token=nva=1717011195~dirs=4~token=0f76ef3e8f6b5d6baddc4"
        "/content-system/v2/store/2034949552/f1/d4/f1d41c76eb9639d2f8c1d3fd2057d7f1"
    )
    assert link.product_id == "2034949552"


def test_unsigned_link_assembles_relative_urls() -> None:
    link = unsigned_link("", "/content-system/v2/store/1")
    assert link.urls[0].assemble("/ab/cd/x") == "/content-system/v2/store/1/ab/cd/x"


# --- hostile paths (fault catalogue D1-D3, D6-D8) ---------------------------------------

HOSTILE = [
    "../x",
    "a/../../x",
    "..\\x",
    "x/..",
    "a//b",
    "./a",
    "a/./b",
    "/x",
    "//x",
    "\\x",
    "C:\\x",
    "C:x",
    "\\\\srv\\share\\x",
    "\\\\?\\C:\\x",
    "a/b.",
    "a/b ",
    "CON",
    "nul.txt",
    "dir/COM1",
    "lpt9.log",
    "a:b",
    "a\x00b",
    "a\nb",
    "GAME~1",
    "DATA~12.PAK",
    "x" * 256,
    ".slipstream/journal",
    ".SLIPSTREAM/x",
    "",
]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_paths_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePathError):
        paths.validate(bad)


@pytest.mark.parametrize(
    "good", ["a", "Data\\Maps\\x.pak", "a/b/c.txt", "ünïcode/名前.dat", ".hidden"]
)
def test_ordinary_paths_pass_and_stay_inside_on_every_os(good: str) -> None:
    result = paths.validate(good)
    for mod in (posixpath, ntpath):
        joined = mod.normpath(mod.join("root", *result.split("/")))
        assert joined.startswith("root" + mod.sep)
        assert not mod.isabs(result)


def test_non_string_path_is_refused() -> None:
    with pytest.raises(UnsafePathError):
        paths.validate(42)


@pytest.mark.parametrize(
    ("files", "folders"),
    [
        (["Data/a", "data/A"], []),
        (["caf\u00e9", "cafe\u0301"], []),  # NFC and NFD spellings of the same name
        (["a", "a/b"], []),
        (["a"], ["a"]),
        (["x", "x"], []),
    ],
)
def test_colliding_entries_are_refused(files: list[str], folders: list[str]) -> None:
    with pytest.raises(UnsafePathError):
        paths.check_unique(files, folders)


def test_folders_may_contain_files() -> None:
    paths.check_unique(["a/b", "a/c/d"], ["a", "a/c"])


# --- hostile documents (fault catalogue C4, C5, D) -------------------------------------


def depot_doc(*items: dict[str, Any]) -> dict[str, Any]:
    return {"version": 2, "depot": {"items": list(items)}}


def file_item(path: str = "a.bin", size: int = 10, **extra: Any) -> dict[str, Any]:
    chunk = {"md5": MD5, "size": size, "compressedMd5": MD5, "compressedSize": 5}
    return {"type": "DepotFile", "path": path, "chunks": [chunk], **extra}


def test_zlib_bomb_is_stopped_at_the_cap() -> None:
    bomb = zlib.compress(b"{" + b" " * (50 * 2**20) + b"}")
    assert len(bomb) < 100_000
    with pytest.raises(LimitExceededError, match="inflates to more than"):
        zjson.loads(bomb, "depot manifest", 2**20)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": 1, "a": 2}', "repeats the key"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": Infinity}', "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        (zlib.compress(b"{}")[:-3], "truncated"),
        (zlib.compress(b"{}") + b"junk", "after its zlib stream"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_json_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        zjson.loads(data, "doc", 1 << 24)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (depot_doc(file_item(size=-1)), r"items\[0\]\.chunks\[0\]\.size"),
        (depot_doc(file_item(size=2**63)), r"chunks\[0\]\.size"),
        (depot_doc(file_item(size="10")), "should be an integer"),
        (depot_doc(file_item(size=True)), "should be an integer"),
        (depot_doc(file_item(path="../evil")), "'..'"),
        (depot_doc(file_item(path="C:\\evil")), "drive letter"),
        (depot_doc(file_item("A.bin"), file_item("a.BIN")), "same entry"),
        (depot_doc(file_item("a"), file_item("a/b")), "uses it as a folder"),
        (depot_doc({"type": "DepotLink", "path": "l", "target": "../../etc"}), "target"),
        (depot_doc({"type": "Surprise", "path": "x"}), "not DepotFile"),
        (depot_doc(file_item(md5="XYZ")), "md5"),
        (depot_doc(file_item(sfcRef={"offset": 0, "size": 10})), "past the end"),
        ({"version": 1, "depot": {"items": []}}, "not version 2"),
        ({"version": 2}, "required field 'depot'"),
        ([], "should be a JSON object"),
    ],
)
def test_bad_depot_manifests_name_what_is_wrong(doc: Any, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        parse_depot_manifest(doc, "depot manifest test")


def test_multi_chunk_file_without_md5_is_refused() -> None:
    item = file_item()
    item["chunks"] = item["chunks"] * 2
    with pytest.raises(FormatError, match="no whole-file md5"):
        parse_depot_manifest(depot_doc(item), "d")


def test_item_count_is_capped_before_parsing_items() -> None:
    doc = depot_doc(*[file_item(f"f{i}") for i in range(11)])
    with pytest.raises(LimitExceededError, match="limit 10"):
        parse_depot_manifest(doc, "d", Limits(items_per_depot=10))


def test_empty_file_has_the_empty_md5() -> None:
    item = {"type": "DepotFile", "path": "empty", "chunks": []}
    (f,) = parse_depot_manifest(depot_doc(item), "d").files
    assert isinstance(f, DepotFile) and f.size == 0 and f.file_md5 == EMPTY_MD5


def test_build_manifest_refuses_version_1_and_bad_install_dir() -> None:
    meta = fixture("meta-v2.json")
    with pytest.raises(FormatError, match="version 1"):
        parse_build_manifest({**meta, "version": 1}, "m")
    with pytest.raises(UnsafePathError):
        parse_build_manifest({**meta, "installDirectory": "../x"}, "m")
    with pytest.raises(FormatError, match="baseProductId"):
        parse_build_manifest({**meta, "baseProductId": 1441974651}, "m")


# --- patch documents -------------------------------------------------------------------


def test_patch_index_and_not_found() -> None:
    doc = {"id": MD5, "from_build_id": "1", "to_build_id": "2", "link": "/x"}
    index = parse_patch_index(doc, "pair")
    assert index is not None and index.to_json() == doc
    assert parse_patch_index({"error": "not_found", "error_description": ""}, "pair") is None


def test_patch_root_refuses_other_algorithms() -> None:
    doc = {
        "algorithm": "bsdiff",
        "baseProductId": "1",
        "buildId_source": "1",
        "buildId_target": "2",
        "depots": [],
    }
    with pytest.raises(FormatError, match="only xdelta3"):
        parse_patch_root(doc, "root")
    root = parse_patch_root({**doc, "algorithm": "xdelta3"}, "root")
    assert parse_patch_root(root.to_json(), "again") == root


def test_patch_depot_holds_only_depot_diffs() -> None:
    diff = {
        "type": "DepotDiff",
        "path_source": "bin\\a",
        "path_target": "bin\\a",
        "md5_source": MD5,
        "md5_target": MD5,
        "md5": MD5,
        "chunks": [],
    }
    manifest = parse_patch_depot({"depot": {"items": [diff]}}, "p")
    assert manifest.items[0].path_target == "bin/a"
    assert parse_patch_depot(manifest.to_json(), "again") == manifest
    assert isinstance(manifest, PatchDepotManifest)
    with pytest.raises(FormatError, match="only DepotDiff"):
        parse_patch_depot({"depot": {"items": [file_item()]}}, "p")
    with pytest.raises(UnsafePathError):
        parse_patch_depot({"depot": {"items": [{**diff, "path_target": "../x"}]}}, "p")


def test_graph_roundtrip() -> None:
    graph = PatchGraph(
        "1",
        "windows",
        (GraphBuild("1", (None,), "1.0", 100), GraphBuild("2", (None, "beta"), "1.1", 120)),
        (GraphEdge("1", "2", MD5, "/x", 30, 20, 2),),
    )
    text = json.dumps(graph.to_json())
    assert parse_graph(json.loads(text), "graph") == graph
