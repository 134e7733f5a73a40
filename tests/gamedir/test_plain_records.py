"""The quick reader of an install state's file records (core/gamedir/folder.py
``_plain_record``) against :meth:`InstalledFile.from_fields`: on every record, good or
damaged, it either declines (``None``, and the full reader decides) or reads exactly what
the full reader reads. It never accepts what the full reader refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import SlipstreamError, StateError
from core.format.fields import LIMITS, Fields, Limits
from core.gamedir.folder import GameDir, InstalledFile, InstallState, _plain_record

MD5 = "0123456789abcdef0123456789abcdef"
SHA = "cd" * 32
SMALL = Limits(string_chars=64)
TINY = Limits(string_chars=40)  # refuses a sha256 for its length


def _record() -> dict[str, Any]:
    return {
        "path": "data/pack01/item.bin",
        "md5": MD5,
        "size": 12,
        "sha256": SHA,
        "executable": True,
        "mtime_ns": 1_700_000_000_123_456_789,
    }


ODD: list[Any] = [
    None, True, False, 0, -1, 1, 2**62, 2**62 + 1, -(2**62), -(2**62) - 1, 1.0, "", "x",
    MD5, MD5.upper(), SHA, SHA.upper(), MD5 + "0", [], {}, [MD5], "a" * 41, "a" * 65, "../evil",
    "a\\b", "/abs", ".slipstream/state.json", "CON", "evil.", "GAME~1.EXE", "caf\u00e9",
]  # fmt: skip


def _variants() -> list[dict[str, Any]]:
    base = _record()
    found = [base]
    for key in [*base, "extra"]:
        gone = copy.deepcopy(base)
        gone.pop(key, None)
        found.append(gone)
        for value in ODD:
            found.append({**base, key: value})
    return found


def _full(item: object, limits: Limits) -> InstalledFile | SlipstreamError:
    try:
        return InstalledFile.from_fields(Fields(item, "record", limits))
    except SlipstreamError as exc:
        return exc


@pytest.mark.parametrize("limits", [LIMITS, SMALL, TINY], ids=["default", "small", "tiny"])
def test_the_quick_reader_never_disagrees_with_the_full_one(limits: Limits) -> None:
    taken = 0
    for item in _variants():
        quick = _plain_record(copy.deepcopy(item), limits)
        if quick is None:
            continue
        taken += 1
        assert quick == _full(item, limits), item
    assert taken > 10 or limits is TINY


def test_a_state_reads_the_same_and_a_damaged_record_is_named(tmp_path: Path) -> None:
    files = {
        f"data/{n}.bin": InstalledFile(
            f"data/{n}.bin", MD5, n, SHA if n % 2 else None, n % 3 == 0, n
        )
        for n in range(50)
    }
    state = InstallState("1", "windows", "2", "1.0", None, "en-US", "http://x", files)
    doc = state.to_json()
    assert InstallState.from_json(copy.deepcopy(doc)) == state
    doc["files"][7]["size"] = True
    with pytest.raises(StateError, match=r"files\[7\]\.size"):
        InstallState.from_json(doc)
    game = GameDir(tmp_path)
    game.save_state(state)
    assert game.load_state() == state
    damaged = json.loads(game.state_file.read_text())
    damaged["files"][3]["path"] = "../evil"
    game.state_file.write_text(json.dumps(damaged))
    with pytest.raises(SlipstreamError, match="evil"):
        game.load_state()
