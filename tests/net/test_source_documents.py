"""Documents are as sturdy as chunks, through the real stack: ``slipstream serve`` behind
a fault-injecting proxy, the requests-based fetcher, the repository source and the engine
(issue 11). A damaged document is fetched again; a link to a host the source does not
name, or a garbled one, makes the document be fetched again and is never followed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.demo.sample import FileSpec, scattered_edits
from core.net.fetcher import Fetcher, FetchLimits
from core.net.source import RepoSource
from core.update.engine import install, update
from core.update.options import EngineOptions
from tests.support.faultserver import Fault, FaultServer
from tests.support.helpers import serving, tree
from tests.support.simulator import publish_builds

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("home")]

PRODUCT = "1207664643"
FAST = FetchLimits(read_timeout=2.0, retries=3, backoff=0.01, backoff_cap=0.05)
BUILDS = f"/products/{PRODUCT}/os/windows/builds"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    first = [
        FileSpec("Game.exe", 1, 1_600_123, executable=True),
        FileSpec("data/big.pak", 2, 2_200_077),
        FileSpec("readme.txt", 5, 4_321),
    ]
    second = [scattered_edits(first[0], 3, 21), scattered_edits(first[1], 2, 22), first[2]]
    repo, folders, _, _ = publish_builds(tmp_path_factory.mktemp("docs"), PRODUCT, [first, second])
    return repo, folders


@pytest.fixture
def proxy(published: tuple[Path, list[Path]]) -> Iterator[FaultServer]:
    with serving(published[0]) as url, FaultServer(upstream=url) as running:
        yield running


def build_ids(proxy: FaultServer) -> list[str]:
    listing = requests.get(proxy.url + BUILDS + "?generation=2", timeout=10).json()
    return sorted(item["build_id"] for item in listing["items"])


def test_every_document_cut_short_once_is_fetched_again(
    published: tuple[Path, list[Path]], proxy: FaultServer, tmp_path: Path
) -> None:
    first, second = build_ids(proxy)
    # A close-delimited body cut short looks complete to HTTP: only decoding it tells.
    cut = Fault(no_length=True, drop_after=40, times=1)
    for pattern in ("/products/*", "/content-system/v2/*meta/*"):
        proxy.plan(pattern, cut)
    options = EngineOptions(fetch_limits=FAST, patch_jobs=1)
    game = tmp_path / "game"
    install(proxy.url, PRODUCT, game, build=first, options=options)
    report = update(game, second, options)
    assert tree(game) == tree(published[1][1])
    assert report.patches_applied > 0 and not report.fallbacks
    asked = [r.path for r in proxy.requests]
    documents = {p for p in asked if "/store/" not in p}
    kinds = {"builds", "secure_link", "patches", "/meta/", "/patches/meta/"}
    assert all(any(k in p for p in documents) for k in kinds), documents
    assert all(asked.count(p) >= 2 for p in documents)  # each was cut once, then read whole


def link_host_offset(proxy: FaultServer) -> int:
    body = requests.get(proxy.url + BUILDS + "?generation=2", timeout=10).content
    return body.index(b'"link":"http://127.0.0.1') + len(b'"link":"http://12')


def test_a_flipped_byte_in_a_links_host_is_fetched_again(proxy: FaultServer) -> None:
    offset = link_host_offset(proxy)  # the '7' of 127.0.0.1: flipped, it reads 126.0.0.1
    proxy.plan(BUILDS, Fault(flip_bit=offset, times=1))
    before = proxy.count(BUILDS)
    with Fetcher(FAST) as fetcher:
        listing = RepoSource(proxy.url, fetcher).listing(PRODUCT, "windows")
    assert all(i.link and i.link.startswith(proxy.url) for i in listing.items)
    assert proxy.count(BUILDS) - before == 2


def test_a_link_off_the_sources_hosts_every_time_is_skipped_not_followed(
    proxy: FaultServer,
) -> None:
    offset = link_host_offset(proxy)
    proxy.plan(BUILDS, Fault(flip_bit=offset))
    before = proxy.count(BUILDS)
    with Fetcher(FAST) as fetcher:
        listing = RepoSource(proxy.url, fetcher).listing(PRODUCT, "windows")
    assert proxy.count(BUILDS) - before == 2  # asked again once, then the same bytes are the answer
    # Only the first item's link was flipped: that build is left out, named, never contacted.
    assert [i.build_id for i in listing.items] == ["1"]
    assert len(listing.skipped) == 1
    assert re.search(r"Skipped build 2: .* leads to 126\.0\.0\.1, a host", listing.skipped[0])
