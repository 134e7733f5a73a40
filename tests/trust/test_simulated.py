"""A signed repository behind the Transport seam, in memory (tests/support/simulator.py):
which metadata and documents a signed install and update ask for, and that a refusal
downloads nothing after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import TamperedError
from core.format import layout
from core.update.engine import install, update
from core.update.options import EngineOptions
from tests.support.helpers import tree
from tests.support.signed import PRODUCT, SignedRepo, make_signed_repo
from tests.support.simulator import RepositorySimulator

pytestmark = pytest.mark.usefixtures("home")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> SignedRepo:
    return make_signed_repo(tmp_path_factory.mktemp("simulated"), count=2)


def test_a_signed_update_reads_static_documents_checked_by_metadata(
    signed: SignedRepo, tmp_path: Path
) -> None:
    folder = tmp_path / "repo"
    signed.serve_state(1, folder)
    sim = RepositorySimulator(folder)
    options = EngineOptions(transport=sim, patch_jobs=1)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, options=options)
    signed.serve_state(2, folder)
    sim.clear()
    assert update(game, options=options).to_build == "2"
    assert tree(game) == tree(signed.builds[1])
    documents = sim.documents()
    metadata = [p for p in documents if p.startswith(f"/{layout.METADATA_ROOT}/")]
    assert metadata == [
        "/metadata/2.root.json",  # is there a newer root? (404: no)
        "/metadata/timestamp.json",
        f"/metadata/{_version(folder, 'snapshot')}.snapshot.json",
        f"/metadata/{_version(folder, 'targets')}.targets.json",
    ]
    # The listing and patch index come from their signed static files, never from GOG's
    # dynamic endpoints, whose answers are not what was signed.
    assert f"/{layout.builds_rel(PRODUCT, 'windows')}" in documents
    assert f"/{layout.patch_pair_rel(PRODUCT, '1', '2')}" in documents
    assert not [p for p in documents if p.endswith(("/builds", "/patches", "/secure_link"))]
    assert sim.twice() == [] and sim.foreign == []


def test_a_refusal_downloads_nothing_after_it(signed: SignedRepo, tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    signed.serve_state(1, folder)
    sim = RepositorySimulator(folder)
    options = EngineOptions(transport=sim, patch_jobs=1)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, options=options)
    signed.serve_state(2, folder)
    sim.clear()
    listing = f"/{layout.builds_rel(PRODUCT, 'windows')}"
    sim.damage(listing, lambda body: body.replace(b'"1.2"', b'"1.9"'), times=None)
    with pytest.raises(TamperedError):
        update(game, options=options)
    assert sim.objects() == []
    documents = sim.documents()
    after = documents[documents.index(listing) + 1 :]
    # Only a fresh look at the metadata (a publish may have signed it meanwhile), which
    # still does not vouch for the listing: nothing else is asked for.
    assert after and all(p.startswith(f"/{layout.METADATA_ROOT}/") for p in after)


def _version(folder: Path, role: str) -> int:
    doc = json.loads((folder / layout.METADATA_ROOT / f"{role}.json").read_text())
    return int(doc["signed"]["version"])
