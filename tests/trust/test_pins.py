"""The root an install trusts (core/trust/pins.py): only a self-signed TUF root is pinned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import SigningKeysError
from core.publish.signing import init_repository
from core.trust.names import SIGNED, UNSIGNED
from core.trust.pins import PIN_DIR, install_signing, is_pinned, pin_root


@pytest.fixture
def metadata(tmp_path: Path) -> Path:
    init_repository(tmp_path / "repo", tmp_path / "keys")
    return tmp_path / "repo" / "metadata"


def test_a_self_signed_root_is_pinned_and_shown(metadata: Path, tmp_path: Path) -> None:
    game = tmp_path / "game"
    assert install_signing(game).state == UNSIGNED
    pin_root(game / ".slipstream" / PIN_DIR, metadata / "root.json")
    signing = install_signing(game)
    root = json.loads((metadata / "root.json").read_text())["signed"]
    assert signing.state == SIGNED
    assert list(signing.root_key_ids) == root["roles"]["root"]["keyids"]


@pytest.mark.parametrize("damage", ["targets", "resigned", "garbage"])
def test_anything_but_a_self_signed_root_is_refused(
    metadata: Path, tmp_path: Path, damage: str
) -> None:
    given = tmp_path / "given.json"
    if damage == "targets":
        given.write_bytes((metadata / "targets.json").read_bytes())
    elif damage == "resigned":  # a root whose signed part was changed after signing
        doc = json.loads((metadata / "root.json").read_text())
        doc["signed"]["version"] = 7
        given.write_text(json.dumps(doc))
    else:
        given.write_bytes(b"not json at all")
    folder = tmp_path / "trust"
    with pytest.raises(SigningKeysError, match="not a signed TUF root"):
        pin_root(folder, given)
    assert not is_pinned(folder)
