"""Signing a repository (core/publish/signing.py): which documents the targets pin, what
each command writes, and the refusals that keep keys and unsigned writes out."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import SigningKeysError, UnsignedWriteError
from core.format import layout
from core.publish.prune import prune
from core.publish.signing import (
    init_repository,
    refresh_timestamp,
    resigning,
    rotate_key,
    sign_repository,
)
from tests.support.helpers import tree
from tests.support.signed import PRODUCT, SignedRepo, make_signed_repo


@pytest.fixture
def signed(tmp_path: Path) -> SignedRepo:
    return make_signed_repo(tmp_path, count=2)


def targets_of(repo: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((repo / layout.METADATA_ROOT / "targets.json").read_text())
    targets: dict[str, dict[str, object]] = doc["signed"]["targets"]
    return targets


def versions(repo: Path) -> dict[str, int]:
    folder = repo / layout.METADATA_ROOT
    return {
        role: json.loads((folder / f"{role}.json").read_text())["signed"]["version"]
        for role in ("root", "targets", "snapshot", "timestamp")
    }


def test_keys_init_writes_owner_only_keys_and_the_first_metadata(tmp_path: Path) -> None:
    report = init_repository(tmp_path / "repo", tmp_path / "keys")
    keys = sorted((tmp_path / "keys").glob("*.pem"))
    assert sorted(k.name.split("-")[0] for k in keys) == [
        "root",
        "snapshot",
        "targets",
        "timestamp",
    ]
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    names = {p.name for p in (tmp_path / "repo" / layout.METADATA_ROOT).iterdir()}
    assert {"root.json", "1.root.json", "1.targets.json", "1.snapshot.json"} <= names
    assert report.versions == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}


@pytest.mark.parametrize("inside", ["keys", "."])
def test_keys_inside_the_repository_are_refused(tmp_path: Path, inside: str) -> None:
    repo = tmp_path / "repo"
    with pytest.raises(SigningKeysError, match="outside the repository"):
        init_repository(repo, repo / inside)
    assert not (repo / layout.METADATA_ROOT).exists()
    assert not list(repo.rglob("*.pem"))


def test_targets_pin_every_document_and_manifest_by_sha256(signed: SignedRepo) -> None:
    repo = signed.root
    on_disk = {
        p.relative_to(repo).as_posix(): p
        for top in ("products", "content-system/v2/meta", "content-system/v2/patches/meta")
        for p in (repo / top).rglob("*")
        if p.is_file()
    }
    targets = targets_of(repo)
    assert set(targets) == set(on_disk)
    assert layout.builds_rel(PRODUCT, "windows") in targets
    assert layout.patch_pair_rel(PRODUCT, "1", "2") in targets
    for rel, path in on_disk.items():
        data = path.read_bytes()
        assert targets[rel] == {
            "length": len(data),
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
        }
    assert not any("/store/" in rel for rel in targets)  # chunks are pinned by manifests


def test_signing_an_unchanged_repository_writes_nothing(signed: SignedRepo) -> None:
    before = versions(signed.root)
    report = sign_repository(signed.root, signed.keys)
    assert report.changed == [] and versions(signed.root) == before


def test_the_timestamp_command_renews_only_the_timestamp(signed: SignedRepo) -> None:
    before = versions(signed.root)
    report = refresh_timestamp(signed.root, signed.keys)
    assert report.changed == ["timestamp"]
    assert versions(signed.root) == {**before, "timestamp": before["timestamp"] + 1}


def test_an_interrupted_signing_is_finished_by_the_next_one(signed: SignedRepo) -> None:
    """Killed after its targets but before the snapshot and timestamp named them, a
    signing leaves the documents unchanged since; the next one must still publish."""
    old = signed.states[0] / layout.METADATA_ROOT
    for name in ("snapshot.json", "timestamp.json"):
        (signed.root / layout.METADATA_ROOT / name).write_bytes((old / name).read_bytes())
    report = sign_repository(signed.root, signed.keys)
    assert report.changed == ["targets", "snapshot", "timestamp"]
    folder = signed.root / layout.METADATA_ROOT
    snapshot = json.loads((folder / "snapshot.json").read_text())["signed"]
    stamp = json.loads((folder / "timestamp.json").read_text())["signed"]
    assert snapshot["meta"]["targets.json"]["version"] == report.versions["targets"]
    assert stamp["meta"]["snapshot.json"]["version"] == report.versions["snapshot"]


def test_the_timestamp_command_renews_targets_and_snapshot_before_they_expire(
    signed: SignedRepo, tmp_path: Path
) -> None:
    later = datetime.now(UTC) + timedelta(days=350)
    stamp_only = tmp_path / "stamp-only"
    stamp_only.mkdir()
    for key in signed.keys.glob("timestamp-*.pem"):
        (stamp_only / key.name).write_bytes(key.read_bytes())
    before = versions(signed.root)
    warned = refresh_timestamp(signed.root, stamp_only, now=later)
    assert warned.changed == ["timestamp"] and versions(signed.root)["targets"] == before["targets"]
    assert [n.split(" expire")[0] for n in warned.notes] == ["the root", "targets and snapshot"]
    assert "keys rotate --role root" in warned.notes[0]
    renewed = refresh_timestamp(signed.root, signed.keys, now=later)
    assert renewed.changed == ["targets", "snapshot", "timestamp"]
    assert [n.split(" expire")[0] for n in renewed.notes] == ["the root"]
    assert renewed.expires["targets"].startswith(str((later + timedelta(days=365)).year))


def test_an_unsigned_write_into_a_signed_repository_is_refused_first(
    signed: SignedRepo,
) -> None:
    before = tree(signed.root)
    with (
        pytest.raises(UnsignedWriteError, match="--keys DIR"),
        resigning(signed.root, None, explicit=False),
    ):
        prune(signed.root, PRODUCT, keep_builds=1, grace=0)
    assert tree(signed.root) == before
    with resigning(signed.root, None, explicit=False, dry_run=True):  # writes nothing
        report = prune(signed.root, PRODUCT, keep_builds=1, grace=0, dry_run=True)
    assert report.builds_removed and tree(signed.root) == before


def test_prune_with_keys_signs_what_is_left(signed: SignedRepo) -> None:
    with resigning(signed.root, signed.keys, explicit=True):
        prune(signed.root, PRODUCT, keep_builds=1, grace=0)
    targets = targets_of(signed.root)
    assert layout.patch_pair_rel(PRODUCT, "1", "2") not in targets
    assert all((signed.root / rel).is_file() for rel in targets)


def test_rotation_needs_the_root_key_and_replaces_only_that_role(
    signed: SignedRepo, tmp_path: Path
) -> None:
    online = tmp_path / "online"
    online.mkdir()
    for key in signed.keys.glob("*.pem"):
        if not key.name.startswith("root-"):
            (online / key.name).write_bytes(key.read_bytes())
    with pytest.raises(SigningKeysError, match="root key"):
        rotate_key(signed.root, online, "snapshot")
    assert versions(signed.root)["root"] == 1
    before = {k.name for k in signed.keys.glob("*.pem")}
    report = rotate_key(signed.root, signed.keys, "snapshot")
    after = {k.name for k in signed.keys.glob("*.pem")}
    assert report.versions["root"] == 2
    assert {n.split("-")[0] for n in before - after} == {"snapshot"}
    assert {n.split("-")[0] for n in after - before} == {"snapshot"}
    # The publishing host needs no root key to publish after the rotation either.
    for key in online.glob("snapshot-*.pem"):
        key.unlink()
    for key in signed.keys.glob("snapshot-*.pem"):
        (online / key.name).write_bytes(key.read_bytes())
    assert sign_repository(signed.root, online, force=True).versions["targets"] > 1
