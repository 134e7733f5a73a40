"""Pack indexes and graph.json's ``pack`` field round-trip, and every malformed one is
refused with a named reason (issue 13)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.errors import FormatError, LimitExceededError, UnsafePathError
from core.format import layout, zjson
from core.format.fields import Limits
from core.format.graph import GraphBuild, GraphEdge, PackRef, PatchGraph, parse_graph
from core.format.pack import (
    CODECS,
    PackEntry,
    PackIndex,
    PackObject,
    object_link,
    parse_pack_index,
)

A = "0123456789abcdef0123456789abcdef"
B = "fedcba9876543210fedcba9876543210"
C = "00112233445566778899aabbccddeeff"
SHA = "ab" * 32


def entry(path: str = "bin/game.so", **changes: Any) -> PackEntry:
    fields: dict[str, Any] = {
        "path_source": path,
        "path_target": path,
        "codec": "hdiffpatch",
        "object": 0,
        "offset": 0,
        "length": 100,
        "md5": C,
        "md5_source": A,
        "md5_target": B,
        "sha256_source": SHA,
        "sha256_target": None,
        "size_source": 5000,
        "size_target": 5100,
    }
    fields.update(changes)
    return PackEntry(**fields)


def index() -> PackIndex:
    objects = (PackObject(A, object_link("42", A), 300), PackObject(B, object_link("42", B), 50))
    files = (
        entry("bin/game.so"),
        entry("data/b.pak", codec="xdelta3", offset=100, length=200),
        entry("data/c.pak", object=1, offset=0, length=50, sha256_target=SHA),
    )
    return PackIndex("42", "100", "200", objects, files)


def doc() -> dict[str, Any]:
    return index().to_json()


def test_a_pack_index_round_trips_through_zlib_json() -> None:
    data = zjson.dumps(index().to_json())
    assert parse_pack_index(zjson.loads(data, "pack", 1 << 20), "pack") == index()


def test_the_json_has_the_agreed_shape() -> None:
    d = doc()
    assert sorted(d) == [
        "files",
        "from_build_id",
        "objects",
        "product_id",
        "to_build_id",
        "version",
    ]
    assert d["version"] == 1
    assert d["objects"][0] == {
        "id": A,
        "link": f"/content-system/v2/packs/store/42/01/23/{A}",
        "size": 300,
    }
    assert d["files"][1]["path_source"] == "data\\b.pak"
    assert sorted(d["files"][0]) == sorted(
        [
            "path_source",
            "path_target",
            "codec",
            "object",
            "offset",
            "length",
            "md5",
            "md5_source",
            "md5_target",
            "sha256_source",
            "sha256_target",
            "size_source",
            "size_target",
        ]
    )
    assert CODECS == ("hdiffpatch", "xdelta3")


def test_layout_names_where_packs_live() -> None:
    assert layout.pack_meta_rel(A) == f"content-system/v2/packs/meta/01/23/{A}"
    assert layout.pack_store_rel("42", B) == f"content-system/v2/packs/store/42/fe/dc/{B}"


def test_an_empty_pack_index_is_valid() -> None:
    empty = PackIndex("42", "1", "2", (), ())
    assert parse_pack_index(empty.to_json(), "pack") == empty


def bad(change: Any) -> dict[str, Any]:
    d = copy.deepcopy(doc())
    change(d)
    return d


REJECTIONS: dict[str, Any] = {
    "version 2": lambda d: d.update(version=2),
    "no version": lambda d: d.pop("version"),
    "version as text": lambda d: d.update(version="1"),
    "unknown codec": lambda d: d["files"][0].update(codec="bsdiff"),
    "codec differing in case": lambda d: d["files"][0].update(codec="HDiffPatch"),
    "upper-case md5": lambda d: d["files"][0].update(md5=A.upper()),
    "short md5_source": lambda d: d["files"][0].update(md5_source=A[:31]),
    "non-hex md5_target": lambda d: d["files"][0].update(md5_target="g" * 32),
    "bad sha256": lambda d: d["files"][0].update(sha256_source="ab" * 31),
    "bad object id": lambda d: d["objects"][0].update(id="nothex"),
    "negative offset": lambda d: d["files"][0].update(offset=-1),
    "negative length": lambda d: d["files"][0].update(length=-5),
    "negative size": lambda d: d["objects"][0].update(size=-1),
    "huge object": lambda d: d["objects"][0].update(size=1 << 60),
    "huge file size": lambda d: d["files"][0].update(size_target=1 << 50),
    "float length": lambda d: d["files"][0].update(length=1.5),
    "boolean offset": lambda d: d["files"][0].update(offset=True),
    "entry past its object's end": lambda d: d["files"][1].update(length=201),
    "entry starting past its object": lambda d: d["files"][2].update(offset=51, length=0),
    "object index out of range": lambda d: d["files"][0].update(object=2),
    "negative object index": lambda d: d["files"][0].update(object=-1),
    "foreign link": lambda d: d["objects"][0].update(link=f"https://evil.example/{A}"),
    "link of another product": lambda d: d["objects"][0].update(link=object_link("43", A)),
    "link under the chunk store": lambda d: d["objects"][0].update(
        link=f"/content-system/v2/store/42/01/23/{A}"
    ),
    "link naming another object": lambda d: d["objects"][0].update(link=object_link("42", B)),
    "same object twice": lambda d: d["objects"][1].update(id=A, link=object_link("42", A)),
    "bad product id": lambda d: d.update(product_id="4x"),
    "bad build id": lambda d: d.update(to_build_id=""),
    "not an object": lambda d: d.update(files=[1]),
    "missing field": lambda d: d["files"][0].pop("md5_source"),
}


@pytest.mark.parametrize("name", sorted(REJECTIONS))
def test_a_malformed_pack_index_is_refused(name: str) -> None:
    with pytest.raises(FormatError):
        parse_pack_index(bad(REJECTIONS[name]), "pack index")


def test_an_unsafe_path_is_refused() -> None:
    d = bad(lambda d: d["files"][0].update(path_target="..\\..\\evil.dll"))
    with pytest.raises(UnsafePathError):
        parse_pack_index(d, "pack index")


def test_two_entries_for_one_target_are_refused() -> None:
    d = bad(lambda d: d["files"][1].update(path_target="BIN\\game.so"))
    with pytest.raises(FormatError, match="target path"):
        parse_pack_index(d, "pack index")


def test_the_counts_are_bounded() -> None:
    with pytest.raises(LimitExceededError):
        parse_pack_index(doc(), "pack index", Limits(pack_objects_per_index=1))
    with pytest.raises(LimitExceededError):
        parse_pack_index(doc(), "pack index", Limits(items_per_depot=2))


def test_a_rejection_names_the_field() -> None:
    with pytest.raises(FormatError, match=r"pack index\.files\[1\]"):
        parse_pack_index(bad(REJECTIONS["entry past its object's end"]), "pack index")


# --- graph.json's pack field -------------------------------------------------------------


def graph(pack: PackRef | None) -> PatchGraph:
    return PatchGraph(
        "42",
        "windows",
        (GraphBuild("100", ("main",), "1.0", 10), GraphBuild("200", ("main",), "2.0", 20)),
        (GraphEdge("100", "200", A, "/x", 30, 20, 2, pack),),
    )


def test_an_edge_pack_round_trips() -> None:
    ref = PackRef(C, f"/content-system/v2/packs/meta/00/11/{C}", 1234, 3)
    g = graph(ref)
    assert g.to_json()["edges"][0]["pack"] == {"id": C, "link": ref.link, "bytes": 1234, "files": 3}
    assert parse_graph(g.to_json(), "graph") == g


def test_a_graph_without_packs_still_parses_and_writes_no_pack() -> None:
    g = graph(None)
    assert "pack" not in g.to_json()["edges"][0]
    assert parse_graph(g.to_json(), "graph").edges[0].pack is None
    d = g.to_json()
    d["edges"][0]["pack"] = None
    assert parse_graph(d, "graph").edges[0].pack is None


@pytest.mark.parametrize(
    "pack",
    [
        {"id": "x", "link": "/y", "bytes": 1, "files": 1},
        {"id": C, "link": f"/content-system/v2/meta/00/11/{C}", "bytes": 1, "files": 1},
        {"id": C, "link": f"/content-system/v2/packs/meta/00/11/{C}", "bytes": -1, "files": 1},
        {"id": C, "link": f"/content-system/v2/packs/meta/00/11/{C}", "bytes": 1},
        {"id": C, "link": f"/content-system/v2/packs/meta/00/11/{C}", "bytes": 1, "files": "3"},
        [],
    ],
)
def test_a_malformed_edge_pack_is_refused(pack: Any) -> None:
    d = graph(None).to_json()
    d["edges"][0]["pack"] = pack
    with pytest.raises(FormatError):
        parse_graph(d, "graph")
