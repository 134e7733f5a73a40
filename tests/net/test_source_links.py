"""Where a repository's documents may send the client (core/net/source.py), through the
in-memory repository: every link is checked before anything is fetched from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.demo.sample import FileSpec
from core.errors import FormatError
from core.net.source import RepoSource
from tests.support.simulator import RepositorySimulator, publish_builds

PRODUCT = "1207664643"
BUILDS = f"/products/{PRODUCT}/os/windows/builds"
SECURE_LINK = f"/products/{PRODUCT}/secure_link"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = [[FileSpec("Game.exe", 1, 50_000, executable=True)], [FileSpec("Game.exe", 2, 60_000)]]
    return publish_builds(tmp_path_factory.mktemp("links"), PRODUCT, specs)[0]


def relative_link_for_build_1(body: bytes) -> bytes:
    doc = json.loads(body)
    for item in doc["items"]:
        if item["build_id"] == "1":
            item["link"] = "content-system/v2/meta/no-leading-slash"
    return json.dumps(doc).encode()


def test_an_item_whose_link_cannot_be_used_is_skipped_and_the_rest_still_works(
    repo: Path,
) -> None:
    sim = RepositorySimulator(repo)
    sim.damage(BUILDS, relative_link_for_build_1, times=None)
    listing = RepoSource(sim.base_url, sim).listing(PRODUCT, "windows")
    assert [i.build_id for i in listing.items] == ["2"]
    assert len(listing.skipped) == 1 and "Skipped build 1:" in listing.skipped[0]
    assert sim.count(BUILDS) == 1  # no new copy can mend a link that is not a link


def garble_endpoint_host(body: bytes) -> bytes:
    return body.replace(b"repo.example", b"repo..example")


def test_a_garbled_endpoint_host_is_refused_and_never_contacted(repo: Path) -> None:
    sim = RepositorySimulator(repo)
    sim.damage(SECURE_LINK, garble_endpoint_host, times=None)
    source = RepoSource(sim.base_url, sim)
    with pytest.raises(FormatError, match=r"repo\.\.example"):
        source.chunk_urls(PRODUCT, "0" * 32)
    assert sim.count(SECURE_LINK) == 2 and sim.foreign == []


def test_a_garbled_endpoint_host_once_is_mended_by_a_new_copy(repo: Path) -> None:
    sim = RepositorySimulator(repo)
    sim.damage(SECURE_LINK, garble_endpoint_host, times=1)
    urls = RepoSource(sim.base_url, sim).chunk_urls(PRODUCT, "0" * 32)
    assert urls and all(u.startswith(sim.base_url + "/") for u in urls)
    assert sim.count(SECURE_LINK) == 2
