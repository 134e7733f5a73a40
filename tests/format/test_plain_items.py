"""The quick reader of depot manifest files (core/format/depot.py ``_plain_file``) against
the field-by-field one: on every item, good or hostile, it either declines (``None``, and
the full reader decides) or reads exactly what the full reader reads. It never accepts
what the full reader refuses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from core.errors import FormatError, SlipstreamError
from core.format import zjson
from core.format.depot import DepotFile, _parse_item, _plain_file, parse_depot_manifest
from core.format.fields import LIMITS, Fields, Limits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gog"
MD5 = "0123456789abcdef0123456789abcdef"
MD5B = "fedcba9876543210fedcba9876543210"
SHA = "ab" * 32
SMALL = Limits(chunk_bytes=100, file_bytes=150, chunks_per_file=3, string_chars=64)
TINY = Limits(string_chars=40)  # refuses a sha256 for its length


def _item() -> dict[str, Any]:
    return {
        "type": "DepotFile",
        "path": "data\\pack01\\item.bin",
        "chunks": [
            {"md5": MD5, "size": 40, "compressedMd5": MD5B, "compressedSize": 30},
            {"md5": MD5B, "size": 60, "compressedMd5": MD5, "compressedSize": 61},
        ],
        "md5": MD5,
        "sha256": SHA,
        "flags": ["executable"],
        "sfcRef": {"offset": 0, "size": 100},
    }


ODD: list[Any] = [
    None, True, False, 0, -1, 1, 100, 101, 150, 151, 2**63, 1.0, "", "x", MD5, MD5.upper(),
    SHA, SHA.upper(), MD5 + "0", "DepotFile", "DepotDirectory", [], ["executable"], [1], {},
    {"offset": 0, "size": 100}, {"offset": True, "size": 100}, {"offset": 0, "size": 99},
    {"offset": -1, "size": 100}, {"offset": 151, "size": 100}, "a" * 41, "a" * 65, "..\\evil",
    ".slipstream\\x", "CON", "a/b", "a\\\\b", "evil.", "GAME~1.EXE", "caf\u00e9",
]  # fmt: skip


def _variants() -> list[dict[str, Any]]:
    base = _item()
    found = [base]
    for key in [*base, "extra"]:
        gone = copy.deepcopy(base)
        gone.pop(key, None)
        found.append(gone)
        for value in ODD:
            changed = copy.deepcopy(base)
            changed[key] = value
            found.append(changed)
    for n in range(2):
        for key in ("md5", "size", "compressedMd5", "compressedSize", "extra"):
            gone = copy.deepcopy(base)
            gone["chunks"][n].pop(key, None)
            found.append(gone)
            for value in ODD:
                changed = copy.deepcopy(base)
                changed["chunks"][n][key] = value
                found.append(changed)
    one = copy.deepcopy(base)
    one["chunks"] = one["chunks"][:1]
    one["sfcRef"] = {"offset": 3, "size": 40}
    found += [one, {**one, "md5": None}, {**one, "chunks": []}, {**one, "sfcRef": None}]
    found += [{**base, "chunks": base["chunks"] * 2}, {**base, "chunks": [*base["chunks"], 5]}]
    return found


def _full(item: object, limits: Limits) -> DepotFile | SlipstreamError:
    try:
        parsed = _parse_item(Fields(item, "item", limits))
    except SlipstreamError as exc:
        return exc
    assert isinstance(parsed, DepotFile)
    return parsed


@pytest.mark.parametrize("limits", [LIMITS, SMALL, TINY], ids=["default", "small", "tiny"])
def test_the_quick_reader_never_disagrees_with_the_full_one(limits: Limits) -> None:
    taken = 0
    for item in _variants():
        quick = _plain_file(copy.deepcopy(item), limits)
        if quick is None:
            continue
        taken += 1
        assert quick == _full(item, limits), item
    assert taken > 20 or limits is TINY  # it reads honest items, not only declines


def test_the_quick_reader_reads_plain_items_and_declines_the_rest() -> None:
    plain = _item()
    assert _plain_file(plain, LIMITS) == _full(plain, LIMITS)
    assert _plain_file({**plain, "path": "..\\evil"}, LIMITS) is None
    assert _plain_file({**plain, "type": "DepotLink"}, LIMITS) is None
    assert _plain_file({**plain, "sha256": SHA.upper()}, LIMITS) is None


def test_a_real_gog_depot_reads_the_same_either_way() -> None:
    doc = zjson.loads((FIXTURES / "depot-v2.json").read_bytes(), "depot", 1 << 24)
    items = doc["depot"]["items"]
    files = [i for i in items if i["type"] == "DepotFile"]
    assert files
    for n, item in enumerate(files):
        quick = _plain_file(copy.deepcopy(item), LIMITS)
        assert quick is not None and quick == _full(item, LIMITS), n
    manifest = parse_depot_manifest(doc, "depot")
    assert len(manifest.files) == len(files)


def test_a_hostile_item_is_refused_with_its_place_named() -> None:
    doc = {"depot": {"items": [_item(), {**_item(), "path": "..\\evil"}]}}
    with pytest.raises(SlipstreamError, match=r"items\[1\]\.path"):
        parse_depot_manifest(doc, "depot")
    doc = {"depot": {"items": [_item(), {**_item(), "md5": MD5.upper()}]}}
    with pytest.raises(FormatError, match=r"items\[1\]\.md5"):
        parse_depot_manifest(doc, "depot")
