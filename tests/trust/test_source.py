"""Signed repositories end to end: a repository signed with TUF metadata, served by
``slipstream serve`` on 127.0.0.1, installed and updated through tuf.ngclient; each attack
of issue 14 is refused with its own error, before anything in the game folder changes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Targets

from core.errors import (
    FrozenMetadataError,
    MixAndMatchError,
    RollbackAttackError,
    SigningRemovedError,
    TamperedError,
    TrustError,
)
from core.format import layout
from core.format.product_info import product_info_rel
from core.gamedir.folder import GameDir
from core.gog.source import open_source
from core.net.fetcher import Fetcher
from core.publish.promote import promote
from core.publish.prune import prune
from core.publish.publisher import PublishOptions
from core.publish.signing import refresh_timestamp, resigning, rotate_key
from core.trust.names import SIGNED, UNSIGNED
from core.trust.pins import PIN_DIR, install_signing
from core.trust.source import SignedRepoSource, signing_of
from core.update.engine import install, rollback_game, update
from tests.support import gogreader
from tests.support.helpers import serving, tree
from tests.support.nginxrun import running_nginx
from tests.support.signed import PRODUCT, SignedRepo, make_signed_repo, publish_signed

pytestmark = pytest.mark.usefixtures("home")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> SignedRepo:
    return make_signed_repo(tmp_path_factory.mktemp("signed"), count=3)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An empty folder served on loopback; tests put a repository state into it."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    with serving(folder) as url:
        yield folder, url


def snapshot_of(game: Path) -> dict[str, str]:
    """The game's files and its Slipstream state, which no refusal may change."""
    state = (game / ".slipstream" / "state.json").read_text()
    return {**tree(game), ".slipstream/state.json": state}


def metadata(folder: Path, name: str) -> Path:
    return folder / layout.METADATA_ROOT / name


def version_of(folder: Path, role: str) -> int:
    return int(json.loads(metadata(folder, f"{role}.json").read_text())["signed"]["version"])


def test_a_signed_repository_installs_updates_and_rolls_back_through_tuf(
    signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = mirror
    signed.serve_state(3, folder)
    game = tmp_path / "game"
    install(url, PRODUCT, game, build="1")
    assert tree(game) == tree(signed.builds[0])
    assert install_signing(game).state == SIGNED  # pinned on first install
    assert (game / ".slipstream" / PIN_DIR / "timestamp.json").is_file()
    report = update(game)
    assert report.to_build == "3" and report.patches_applied > 0
    assert tree(game) == tree(signed.builds[2])
    rollback_game(game)
    assert tree(game) == tree(signed.builds[0])
    with Fetcher() as fetcher:
        source = open_source(url, fetcher, pins=GameDir(game).meta / PIN_DIR)
        assert isinstance(source, SignedRepoSource)
        fetched = source.signed.fetched
        assert any(u.endswith("/metadata/timestamp.json") for u in fetched)
        root_ids = signing_of(source).root_key_ids
    assert root_ids == install_signing(game).root_key_ids and len(root_ids[0]) == 64


def test_a_signed_repository_promotes_and_prunes_as_an_unsigned_one_does(
    signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = mirror
    signed.serve_state(3, folder)
    keys = tmp_path / "keys"
    shutil.copytree(signed.keys, keys)
    game = tmp_path / "game"
    install(url, PRODUCT, game, build="2")
    with resigning(folder, keys, explicit=True):
        promote(folder, PublishOptions(PRODUCT, branch="beta"), "3")
    with resigning(folder, keys, explicit=True):
        prune(folder, PRODUCT, keep_builds=1, grace=0)
    assert not (folder / layout.patch_pair_rel(PRODUCT, "1", "2")).exists()
    assert update(game).to_build == "3"
    assert tree(game) == tree(signed.builds[2])
    assert rollback_game(game).to_build == "2"
    assert tree(game) == tree(signed.builds[1])


def test_an_unsigned_repository_still_installs_and_shows_unsigned(
    signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = mirror
    signed.serve_state(1, folder)
    shutil.rmtree(folder / layout.METADATA_ROOT)
    game = tmp_path / "game"
    install(url, PRODUCT, game)
    assert tree(game) == tree(signed.builds[0])
    assert install_signing(game).state == UNSIGNED
    assert not (game / ".slipstream" / PIN_DIR).exists()


@pytest.fixture
def installed(signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path) -> Path:
    """Build 1 installed from the mirror holding the repository's second state."""
    folder, url = mirror
    signed.serve_state(2, folder)
    game = tmp_path / "game"
    install(url, PRODUCT, game, build="1")
    return game


def refused(game: Path, kind: type[TrustError]) -> str:
    before = snapshot_of(game)
    with pytest.raises(kind) as caught:
        update(game)
    assert snapshot_of(game) == before
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_tampered_listing_is_refused(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    folder, _ = mirror
    listing = folder / layout.builds_rel(PRODUCT, "windows")
    listing.write_text(listing.read_text().replace('"1.2"', '"1.9"'))
    assert "tampered" in refused(installed, TamperedError)


def test_a_longer_tampered_listing_is_refused_as_tampered(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    folder, _ = mirror
    listing = folder / layout.builds_rel(PRODUCT, "windows")
    listing.write_text(listing.read_text().replace('"1.2"', '"1.2 (with a download link)"'))
    refused(installed, TamperedError)


def test_a_document_signed_after_the_metadata_was_read_is_accepted(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    """A publish writes documents first and signs them after: a player who read the old
    metadata meanwhile looks the document up once more in the new one."""
    folder, url = mirror
    with Fetcher() as fetcher:
        source = open_source(url, fetcher, pins=GameDir(installed).meta / PIN_DIR)
        signed.serve_state(3, folder)  # the publish (and its signing) finished meanwhile
        assert source.listing(PRODUCT, "windows").items[0].build_id == "3"


def test_a_flipped_byte_in_a_manifest_is_refused(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    folder, _ = mirror
    for manifest in (folder / layout.CONTENT_ROOT / "meta").rglob("*"):
        if manifest.is_file():
            data = bytearray(manifest.read_bytes())
            data[-1] ^= 0x01
            manifest.write_bytes(bytes(data))
    refused(installed, TamperedError)


def test_a_mirror_serving_older_metadata_is_a_rollback(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    """Issue 14's mirror: an older, validly signed state of the repository (builds 1 and
    2 only) after the client has seen a newer one."""
    folder, _ = mirror
    signed.serve_state(3, folder)
    update(installed)  # the client now trusts the third state
    signed.serve_state(2, folder)
    assert "rollback" in refused(installed, RollbackAttackError)


def test_an_older_snapshot_replayed_under_the_new_name_is_a_rollback(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    folder, _ = mirror
    signed.serve_state(3, folder)
    new = version_of(folder, "snapshot")
    old = metadata(folder, f"{new - 1}.snapshot.json").read_bytes()
    metadata(folder, f"{new}.snapshot.json").write_bytes(old)
    refused(installed, RollbackAttackError)


def test_an_expired_timestamp_is_a_freeze(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, _ = mirror
    keys = tmp_path / "keys"
    shutil.copytree(signed.keys, keys)
    a_day_ago = datetime.now(UTC) - timedelta(days=1)
    refresh_timestamp(folder, keys, timedelta(hours=1), now=a_day_ago)
    assert "expired" in refused(installed, FrozenMetadataError)


def test_a_new_snapshot_with_old_targets_is_mix_and_match(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    folder, _ = mirror
    signed.serve_state(3, folder)
    new = version_of(folder, "targets")
    old = metadata(folder, f"{new - 1}.targets.json").read_bytes()
    metadata(folder, f"{new}.targets.json").write_bytes(old)
    assert "mix-and-match" in refused(installed, MixAndMatchError)


def test_a_pinned_repository_stripped_of_its_metadata_is_refused(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str]
) -> None:
    folder, _ = mirror
    signed.serve_state(3, folder)
    shutil.rmtree(folder / layout.METADATA_ROOT)
    assert "serves no signed metadata" in refused(installed, SigningRemovedError)


def test_a_refused_first_contact_pins_nothing(
    signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    """A root is pinned only once the metadata it signs checks out."""
    folder, url = mirror
    signed.serve_state(2, folder)
    stamp = json.loads(metadata(folder, "timestamp.json").read_text())
    stamp["signed"]["expires"] = "2099-01-01T00:00:00Z"  # a freeze that outlives the key
    metadata(folder, "timestamp.json").write_text(json.dumps(stamp))
    game = tmp_path / "game"
    with pytest.raises(TamperedError):
        install(url, PRODUCT, game)
    assert tree(game) == {}
    assert not (game / ".slipstream" / PIN_DIR).exists()


def resign_with(path: Path, key_file: Path) -> None:
    """Sign the metadata file ``path`` again, with the key in ``key_file`` only."""
    private = load_pem_private_key(key_file.read_bytes(), None)
    assert isinstance(private, Ed25519PrivateKey)
    md = Metadata[Targets].from_bytes(path.read_bytes())
    md.signatures.clear()
    md.sign(CryptoSigner(private, SSlibKey.from_crypto(private.public_key())))
    path.write_bytes(md.to_bytes())


def test_rotated_keys_are_followed_and_a_retired_key_is_refused(
    signed: SignedRepo, installed: Path, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, _ = mirror
    keys = tmp_path / "keys"
    shutil.copytree(signed.keys, keys)
    (old_targets_key,) = keys.glob("targets-*.pem")
    retired = tmp_path / "retired.pem"
    shutil.copy(old_targets_key, retired)
    old_root_ids = install_signing(installed).root_key_ids
    rotate_key(folder, keys, "root")
    rotate_key(folder, keys, "targets")
    assert not old_targets_key.exists() and len(list(keys.glob("*.pem"))) == 4
    assert update(installed).to_build == "2"
    new_root_ids = install_signing(installed).root_key_ids
    assert new_root_ids != old_root_ids  # the pin followed the signed root chain
    root = json.loads(metadata(folder, "root.json").read_text())["signed"]
    assert list(new_root_ids) == root["roles"]["root"]["keyids"]
    # Whoever kept the retired targets key can no longer sign for the repository.
    publish_signed(signed.builds[2], folder, keys, "1.3")
    current = metadata(folder, f"{version_of(folder, 'targets')}.targets.json")
    good = current.read_bytes()
    resign_with(current, retired)
    refused(installed, TamperedError)
    current.write_bytes(good)
    assert update(installed).to_build == "3"
    assert tree(installed) == tree(signed.builds[2])


def test_a_threshold_of_two_needs_both_signatures(mirror: tuple[Path, str], tmp_path: Path) -> None:
    repo = make_signed_repo(tmp_path / "two", count=2, threshold=2)
    folder, url = mirror
    repo.serve_state(1, folder)
    game = tmp_path / "game"
    install(url, PRODUCT, game)
    repo.serve_state(2, folder)
    current = metadata(folder, f"{version_of(folder, 'targets')}.targets.json")
    md = Metadata[Targets].from_bytes(current.read_bytes())
    assert len(md.signatures) == 2
    good = current.read_bytes()
    md.signatures.popitem()
    current.write_bytes(md.to_bytes())
    assert "signature" in refused(game, TamperedError)
    current.write_bytes(good)
    assert update(game).to_build == "2"


@pytest.mark.nginx
def test_nginx_serves_a_signed_repository_to_the_client(signed: SignedRepo, tmp_path: Path) -> None:
    with running_nginx(signed.root, tmp_path / "nginx") as port:
        game = tmp_path / "game"
        install(f"http://127.0.0.1:{port}", PRODUCT, game)
    assert tree(game) == tree(signed.builds[2])
    assert install_signing(game).state == SIGNED


def test_a_gog_client_ignores_the_signatures(
    signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = mirror
    signed.serve_state(3, folder)
    src = gogreader.HttpSource(url)
    listed = gogreader.list_builds(src, PRODUCT, "windows")
    assert [b["build_id"] for b in listed] == ["3", "2", "1"]
    out = tmp_path / "rebuilt"
    gogreader.rebuild(src, PRODUCT, "3", "windows", out)
    assert tree(out) == tree(signed.builds[2])
    install = tmp_path / "patched"
    shutil.copytree(signed.builds[1], install)
    assert gogreader.apply_patch(src, PRODUCT, "2", "3", "windows", install)
    assert tree(install) == tree(signed.builds[2])


def test_product_documents_are_signed_too(
    signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = mirror
    signed.serve_state(3, folder)
    with Fetcher() as fetcher:
        source = open_source(url, fetcher)
        assert isinstance(source, SignedRepoSource)
        info = source.product_info(PRODUCT)
        assert info is not None and info.name == "Signed"
        index = source.products()
        assert index is not None and [p for p, _ in index.products] == [PRODUCT]
        assert source.product_info("999") is None  # not published: absent, not an attack
    document = folder / product_info_rel(PRODUCT)
    document.write_text(document.read_text().replace('"Signed"', '"Signex"'))
    with Fetcher() as fetcher:
        source = open_source(url, fetcher)
        with pytest.raises(TamperedError):
            source.product_info(PRODUCT)
