"""The update engine through a fault-injecting proxy (catalogue groups B, C, D and F).

Every test runs the real engine against ``slipstream serve`` (core.serve.server.make_server) on
a private copy of a small published repository, through a FaultServer in proxy mode: the
proxy forwards every request, dynamic endpoints included, with the client's Host header,
so the links the server writes lead back through the proxy, and it injects faults per
path. Each test ends with the game folder exactly the old or the new build, the player's
own files byte-identical, and no leftovers (.slipstream/staging empty, no journal).
Failures also go through the CLI in a subprocess for their one-line message.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.errors import FormatError, RepositoryError, UnsafePathError
from core.format import layout, zjson
from core.fs import TEMP_PREFIX
from core.gamedir.folder import GameDir
from core.net.fetcher import FetchLimits
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install, rollback_game, update, verify_game
from core.update.options import EngineOptions
from tests.support.faultserver import Fault, FaultServer
from tests.support.helpers import serving

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("home")]

PRODUCT = "1207664643"
ROOT = Path(__file__).resolve().parents[2]
STORE = "/content-system/v2/store/*"
ANY_STORE = "/content-system/v2/*store/*"
"""File chunks and patch chunks."""

FAST = FetchLimits(
    connect_timeout=2.0,
    read_timeout=1.0,
    deadline=30.0,
    min_rate=4096.0,
    rate_window=2.0,
    retries=3,
    backoff=0.01,
    backoff_cap=0.05,
    retry_after_cap=2.0,
)
TRIES = FAST.retries + 1
OPTIONS = EngineOptions(fetch_limits=FAST, patch_jobs=2)
XDELTA_ONLY = replace(OPTIONS, use_packs=False)
"""For the faults of GOG's xdelta3 patch depots themselves; with packs in play (the
default) a patched file takes its pack entry, whose faults tests/update/test_packs.py
covers."""

PLAYER = {
    "saves/slot1.sav": b"player save data \x00\x01",
    "mods/my.mod": b"a mod the player installed",
    "data/screenshot.png": b"a player file inside a managed folder",
}


def builds() -> list[list[FileSpec]]:
    """Three builds of about 6 MB: three files over 1 MB edited in scattered places, small
    files in the small files container, a file and a folder added, a folder dropped."""
    b1 = [
        FileSpec("Game.exe", 1, 1_600_123, executable=True),
        FileSpec("data/big.pak", 2, 3_200_077),
        FileSpec("data/other.pak", 3, 1_200_000),
        FileSpec("data/config.ini", 4, 2_000),
        FileSpec("readme.txt", 5, 4_321),
        FileSpec("extras/bonus.bin", 6, 200_000),
    ]
    b2 = [
        scattered_edits(b1[0], 3, 21),
        scattered_edits(b1[1], 4, 22),
        b1[2],
        scattered_edits(b1[3], 1, 23, 100),
        b1[4],
        b1[5],
        FileSpec("mods/bundled.dat", 7, 150_000),
    ]
    b3 = [
        scattered_edits(b2[0], 2, 31),
        scattered_edits(b2[1], 3, 32),
        scattered_edits(b2[2], 2, 33),
        b2[3],
        b2[4],
        b2[6],
        FileSpec("data/added.bin", 8, 300_000),
    ]
    return [b1, b2, b3]


# --- looking at a game folder ----------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    """Every file below ``root`` but .slipstream, with its md5; links are never followed
    and show as ``link -> target``."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if here == root and layout.STATE_DIR in dirs:
            dirs.remove(layout.STATE_DIR)
        for name in [*files, *(d for d in dirs if (here / d).is_symlink())]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = f"link -> {os.readlink(path)}"
            else:
                found[rel] = hashlib.md5(path.read_bytes()).hexdigest()
    return found


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def assert_clean(game: Path) -> None:
    """No commit under way and nothing left over: staging empty, no journal, no trash,
    no half-written temporary file."""
    meta = game / layout.STATE_DIR
    assert not (meta / "journal.json").exists()
    staging = meta / "staging"
    assert not staging.exists() or not any(staging.iterdir()), list(staging.rglob("*"))
    trash = meta / "trash"
    assert not trash.exists() or not any(trash.iterdir())
    assert not [p for p in meta.rglob(f"{TEMP_PREFIX}*")]


def assert_build(game: Path, repo: Repo, n: int, player: dict[str, bytes] | None = None) -> None:
    """``game`` is exactly build ``n`` plus the player's files, and clean."""
    got = tree(game)
    for path, data in (PLAYER if player is None else player).items():
        assert got.pop(path, None) == md5(data), f"the player's {path} changed"
    assert got == repo.build_tree(n)
    assert_clean(game)
    state = GameDir(game).load_state()
    assert state is not None and state.build_id == str(n)


# --- the repository, the server and the proxy ----------------------------------------


@dataclass
class Published:
    root: Path
    folders: list[Path]


@dataclass
class Repo:
    root: Path
    folders: list[Path]
    url: str

    def build_tree(self, n: int) -> dict[str, str]:
        return tree(self.folders[n - 1])

    @property
    def docs(self) -> Docs:
        return Docs(self.root)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    root = tmp_path_factory.mktemp("faults")
    folders = []
    for n, specs in enumerate(builds(), 1):
        folder = write_build(root / f"b{n}", specs)
        publish(folder, root / "repo", PublishOptions(PRODUCT, version_name=f"1.{n}", name="F"))
        folders.append(folder)
    return Published(root / "repo", folders)


@pytest.fixture
def repo(published: Published, tmp_path: Path) -> Iterator[Repo]:
    """A private copy of the repository, served by ``slipstream serve`` on 127.0.0.1."""
    copy = tmp_path / "repo"
    shutil.copytree(published.root, copy)
    with serving(copy) as url:
        yield Repo(copy, published.folders, url)


@pytest.fixture
def proxy(repo: Repo) -> Iterator[FaultServer]:
    with FaultServer(upstream=repo.url) as running:
        yield running


def installed(proxy: FaultServer, game: Path, build: str = "1") -> Path:
    """``build`` installed through the proxy, plus the player's own files."""
    install(proxy.url, PRODUCT, game, build=build, options=OPTIONS)
    for rel, data in PLAYER.items():
        (game / rel).parent.mkdir(parents=True, exist_ok=True)
        (game / rel).write_bytes(data)
    return game


# --- the CLI, with small fetch limits --------------------------------------------------

_CLI = """
import json, sys
from dataclasses import replace
import core.cli.player as player
from core.net.limits import FetchLimits
limits = FetchLimits(**json.loads(sys.argv[1]))
chosen = player._options
player._options = lambda args: replace(chosen(args), fetch_limits=limits)
from core.cli.commands import main
sys.exit(main(sys.argv[2:]))
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``slipstream ARGS`` in a subprocess (the engine's options get FAST's limits)."""
    return subprocess.run(
        [sys.executable, "-c", _CLI, json.dumps(asdict(FAST)), *args, "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def cli_update(game: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("update", str(game), "--to", "3", *args)


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (exit 1, no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slipstream: ")
    return lines[0]


# --- reading and rewriting the published documents ------------------------------------


class Docs:
    """The repository's documents, rewritten consistently: a changed manifest is stored
    under its new content address and every document that named it is re-pointed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, rel: str) -> Any:
        return zjson.loads((self.root / rel).read_bytes(), rel, 1 << 30)

    def write_meta(self, data: bytes, patches: bool = False) -> str:
        doc_id = md5(data)
        rel = layout.patch_meta_rel(doc_id) if patches else layout.meta_rel(doc_id)
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_bytes(data)
        return doc_id

    def put_object(self, data: bytes, patches: bool = False, body: bytes | None = None) -> dict:
        """Store ``data`` (as ``body``, default its zlib stream); its chunk entry."""
        body = zlib.compress(data) if body is None else body
        rel_of = layout.patch_store_rel if patches else layout.store_rel
        path = self.root / rel_of(PRODUCT, md5(body))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return {
            "md5": md5(data),
            "size": len(data),
            "compressedMd5": md5(body),
            "compressedSize": len(body),
        }

    def repoint(self, old: str, new: str, rels: list[str]) -> None:
        """Replace the document id ``old`` by ``new`` in ``rels`` (links and ids)."""
        for rel in rels:
            path = self.root / rel
            text = path.read_text()
            assert old in text, (old, rel)
            text = text.replace(layout.galaxy_path(old), layout.galaxy_path(new))
            path.write_text(text.replace(old, new))

    # builds

    def build(self, build_id: str) -> tuple[str, dict]:
        listing = json.loads((self.root / layout.builds_rel(PRODUCT, "windows")).read_text())
        item = next(i for i in listing["items"] if i["build_id"] == build_id)
        manifest_id = item["link"].rsplit("/", 1)[1]
        return manifest_id, self.read(layout.meta_rel(manifest_id))

    def depot(self, build_id: str) -> dict:
        _, manifest = self.build(build_id)
        return self.read(layout.meta_rel(manifest["depots"][0]["manifest"]))

    def items(self, build_id: str) -> dict[str, dict]:
        return {i["path"].replace("\\", "/"): i for i in self.depot(build_id)["depot"]["items"]}

    def set_depot(self, build_id: str, raw: bytes) -> None:
        """Serve ``raw`` (a zlib stream) as ``build_id``'s depot manifest."""
        manifest_id, manifest = self.build(build_id)
        manifest["depots"][0]["manifest"] = self.write_meta(raw)
        new_id = self.write_meta(zjson.dumps(manifest))
        listings = [layout.builds_rel(PRODUCT, "windows"), layout.builds_v2_rel(PRODUCT, "windows")]
        self.repoint(manifest_id, new_id, listings)

    def edit_depot(self, build_id: str, edit: Callable[[list[dict]], None]) -> None:
        doc = self.depot(build_id)
        edit(doc["depot"]["items"])
        self.set_depot(build_id, zjson.dumps(doc))

    def chunk_url(self, build_id: str, path: str) -> str:
        (chunk,) = self.items(build_id)[path]["chunks"]
        return "/" + layout.store_rel(PRODUCT, chunk["compressedMd5"])

    # patches

    def pairs(self) -> list[str]:
        folder = self.root / layout.product_rel(PRODUCT) / "patches"
        return sorted(p.relative_to(self.root).as_posix() for p in folder.glob("*/*.json"))

    def patch_depots(self) -> Iterator[tuple[str, str, dict, int, dict]]:
        """(pair document, root id, root manifest, depot index, DepotDiff manifest)."""
        for pair_rel in self.pairs():
            root_id = json.loads((self.root / pair_rel).read_text())["id"]
            root = self.read(layout.patch_meta_rel(root_id))
            for n, entry in enumerate(root["depots"]):
                yield (
                    pair_rel,
                    root_id,
                    root,
                    n,
                    self.read(layout.patch_meta_rel(entry["manifest"])),
                )

    def diffs(self, target: str) -> list[dict]:
        return [
            item
            for *_, depot in self.patch_depots()
            for item in depot["depot"]["items"]
            if item["path_target"].replace("\\", "/") == target
        ]

    def patch_urls(self, target: str) -> list[str]:
        return [
            "/" + layout.patch_store_rel(PRODUCT, c["compressedMd5"])
            for d in self.diffs(target)
            for c in d["chunks"]
        ]

    def delta(self, diff: dict) -> bytes:
        return b"".join(
            zlib.decompress(
                (self.root / layout.patch_store_rel(PRODUCT, c["compressedMd5"])).read_bytes()
            )
            for c in diff["chunks"]
        )

    def edit_diffs(self, edit: Callable[[dict], bool]) -> int:
        """Apply ``edit`` to every DepotDiff (it returns whether it changed the item) and
        re-point the patch depot, the patch root, the pair document and graph.json."""
        changed = 0
        for pair_rel, root_id, root, n, depot in list(self.patch_depots()):
            if not [edit(item) for item in depot["depot"]["items"]].count(True):
                continue
            changed += 1
            root["depots"][n]["manifest"] = self.write_meta(zjson.dumps(depot), patches=True)
            new_root = self.write_meta(zjson.dumps(root), patches=True)
            graph = layout.graph_rel(PRODUCT, "windows")
            self.repoint(root_id, new_root, [pair_rel, graph])
        return changed


# --- the proxy itself ----------------------------------------------------------------


def test_the_proxy_forwards_the_host_so_links_lead_back_through_it(
    repo: Repo, proxy: FaultServer
) -> None:
    base = f"/products/{PRODUCT}"
    listing = requests.get(f"{proxy.url}{base}/os/windows/builds?generation=2", timeout=10)
    assert listing.status_code == 200
    assert all(i["link"].startswith(proxy.url + "/") for i in listing.json()["items"])
    query = "_version=2&generation=2&path=/&root=/patches/store"
    link = requests.get(f"{proxy.url}{base}/secure_link?{query}", timeout=10).json()
    assert link["urls"][0]["url"] == proxy.url + "/content-system/v2/patches/store/" + PRODUCT
    assert proxy.requests[-1].query == query  # the query went upstream untouched
    # Upstream statuses are relayed with their body; faults apply to what is forwarded.
    missing = requests.get(f"{proxy.url}{base}/patches?from_build_id=9&to_build_id=8", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    url = repo.docs.chunk_url("1", "data/other.pak")
    body = (repo.root / url.lstrip("/")).read_bytes()
    proxy.plan(url, Fault(flip_bit=10, times=1))
    flipped = requests.get(proxy.url + url, timeout=10).content
    assert len(flipped) == len(body) and flipped[10] == body[10] ^ 1 and flipped[11:] == body[11:]
    part = requests.get(proxy.url + url, headers={"Range": "bytes=100-"}, timeout=10)
    assert part.status_code == 206 and part.content == body[100:]


def test_with_a_root_too_the_proxy_serves_its_own_files_first(repo: Repo, tmp_path: Path) -> None:
    """A file in ``root`` (here a stale, empty builds list) wins; the rest is forwarded."""
    stale = tmp_path / "www/products" / PRODUCT / "os/windows/builds"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"total_count": 0, "count": 0, "items": []}))
    url = repo.docs.chunk_url("1", "data/other.pak")
    with FaultServer(tmp_path / "www", upstream=repo.url) as both:
        listing = requests.get(f"{both.url}/products/{PRODUCT}/os/windows/builds", timeout=10)
        assert listing.json()["items"] == []
        chunk = requests.get(both.url + url, timeout=10)
        assert chunk.content == (repo.root / url.lstrip("/")).read_bytes()
    with pytest.raises(ValueError):
        FaultServer()


# --- B: network faults ---------------------------------------------------------------


def test_b1_bodies_cut_mid_way_are_resumed(repo: Repo, proxy: FaultServer, tmp_path: Path) -> None:
    """Every chunk and patch chunk is cut after 2000 bytes once: install and update
    resume each with a Range request and end exact."""
    proxy.plan(ANY_STORE, Fault(drop_after=2000, times=1))
    game = installed(proxy, tmp_path / "game")
    assert_build(game, repo, 1)
    report = update(game, "3", OPTIONS)
    assert report.patches_applied > 0 and not report.fallbacks
    assert_build(game, repo, 3)
    objects = {r.path for r in proxy.requests if "/store/" in r.path}
    big = [p for p in objects if (repo.root / p.lstrip("/")).stat().st_size > 2000]
    # With packs in play the update's deltas come from pack objects, whole or by range.
    patches = [p for p in big if "/patches/" in p or "/packs/" in p]
    assert patches and any(p not in patches for p in big)
    for path in big:
        first, second = proxy.ranges(path)
        assert second is not None and second.startswith("bytes=")
        resumed = int(second[6:].split("-")[0])
        started = 0 if first is None else int(first[6:].split("-")[0])
        assert resumed > started, "the retry must resume, not start over"


def test_b3_half_the_requests_fail_with_5xx(repo: Repo, proxy: FaultServer, tmp_path: Path) -> None:
    """Each document's first request gets a 5xx; each object gets a random 50% of 5xx
    (at most three in a row, so four tries always suffice): retried, exact."""
    game = installed(proxy, tmp_path / "game")
    rng = random.Random(5)
    # /metadata/*: the look for signed metadata (a 404 from this unsigned repository).
    for pattern in ("/products/*", "/content-system/v2/*meta/*", "/metadata/*"):
        proxy.plan(pattern, Fault(statuses=[503, None]))
    needed: dict[str, int] = {}  # requests each object takes: its failures, then one more
    for file in repo.root.glob("content-system/v2/**/store/**/*"):
        statuses = [rng.choice([500, 502, 503, 504]) if rng.random() < 0.5 else None]
        statuses += [rng.choice([500, 502, 503, 504]) if rng.random() < 0.5 else None]
        statuses += [rng.choice([500, 502, 503, 504]) if rng.random() < 0.5 else None]
        url = "/" + file.relative_to(repo.root).as_posix()
        proxy.plan(url, Fault(statuses=statuses))
        needed[url] = [*statuses, None].index(None) + 1
    # Object names depend on the deflate library, so the draw alone may spare every object
    # the update fetches; Game.exe's patch always fails three times in a row.
    for url in repo.docs.patch_urls("Game.exe"):
        proxy.plan(url, Fault(statuses=[500, 503, 504]))
        needed[url] = 4
    for file in repo.root.glob("content-system/v2/packs/store/**/*"):  # packs, likewise
        url = "/" + file.relative_to(repo.root).as_posix()
        proxy.plan(url, Fault(statuses=[500, 503, 504]))
        needed[url] = 4
    start = len(proxy.requests)
    report = update(game, "3", OPTIONS)
    assert report.patches_applied > 0 and not report.fallbacks
    assert_build(game, repo, 3)
    asked = [r.path for r in proxy.requests[start:]]
    objects = {p for p in asked if "/store/" in p}
    assert all(asked.count(p) == needed[p] for p in objects)  # every failure was retried
    assert max(needed[p] for p in objects) >= 3
    documents = {p for p in asked if "/store/" not in p}
    assert documents and all(asked.count(p) >= 2 for p in documents)


def test_b3_a_storm_on_every_chunk_fails_cleanly_and_the_rerun_resumes(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """99% of chunk requests fail: the first answer is cut after 20 kB, then HTTP 500
    every time. The update fails naming the statuses, the folder is still build 1, and
    once the server is healthy the next run resumes the partial downloads."""
    game = installed(proxy, tmp_path / "game")
    proxy.plan(STORE, Fault(statuses=[None] + [500] * 99, drop_after=20_000, times=1))
    line = failure(cli_update(game))
    assert "Could not download chunk" in line and "HTTP 500, HTTP 500" in line, line
    assert f"after {TRIES} tries (connection lost, HTTP 500" in line, line  # cut, then 500s
    assert_build(game, repo, 1)
    downloads = (game / ".slipstream/downloads").iterdir()
    partials = {p.name: p.stat().st_size for p in downloads if p.name[:2] in ("c-", "p-")}
    assert any(n.endswith(".part") and size > 0 for n, size in partials.items()), partials
    proxy.clear()
    start = len(proxy.requests)
    update(game, "3", OPTIONS)
    assert_build(game, repo, 3)
    resumed = [r for r in proxy.requests[start:] if r.path.startswith("/content-system/v2/store/")]
    kept = {n.split("-")[1].split(".")[0]: size for n, size in partials.items()}
    for request in resumed:
        size = kept.get(request.path.rsplit("/", 1)[1])
        if size:  # a partial object continues where it stopped
            assert request.range == f"bytes={size}-", (request, size)
    assert any(r.range for r in resumed)


def test_b3_one_chunk_always_failing_fails_the_update_and_the_rest_is_kept(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """100% 5xx on one chunk (503 with Retry-After, then 500): a clear failure; the
    chunks that did arrive are not fetched again by the next run."""
    game = installed(proxy, tmp_path / "game")
    bad = repo.docs.chunk_url("3", "data/added.bin")
    proxy.plan(bad, Fault(statuses=[503, 500] * 50, retry_after="1"))
    line = failure(cli_update(game))
    assert bad.rsplit("/", 1)[1] in line and "HTTP 503, HTTP 500, HTTP 503, HTTP 500" in line
    assert proxy.count(bad) == TRIES
    assert_build(game, repo, 1)
    # The other new chunks arrived while the bad one was retried. They are kept as objects
    # ("c-" chunks not yet written into their files, "p-" patch chunks) or inside the
    # files written from them, which the failed run left in downloads/staged.
    meta = game / ".slipstream"
    kept = [p for p in (meta / "downloads").iterdir() if p.name[:2] in ("c-", "p-")]
    staged = [p for p in (meta / "downloads" / "staged").rglob("*") if p.is_file()]
    assert staged and not any(p.name.endswith(".part") for p in kept), (kept, staged)
    arrived = {r.path for r in proxy.requests if "/store/" in r.path and r.path != bad}
    assert arrived
    proxy.clear()
    update(game, "3", OPTIONS)
    assert_build(game, repo, 3)
    for url in arrived:
        assert proxy.count(url) == 1, url  # none fetched again
    assert proxy.count(bad) == TRIES + 1


def test_b5_a_stall_after_the_headers_is_retried(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    game = installed(proxy, tmp_path / "game")
    stalled = [repo.docs.chunk_url("3", "data/added.bin"), f"/products/{PRODUCT}/os/windows/builds"]
    for path in stalled:
        proxy.plan(path, Fault(stall=20, times=1))
    start = len(proxy.requests)
    update(game, "3", OPTIONS)
    assert_build(game, repo, 3)
    asked = [r.path for r in proxy.requests[start:]]
    assert [asked.count(p) for p in stalled] == [2, 2]


@pytest.mark.parametrize(
    "lie", [Fault(ignore_range=True), Fault(range_shift=100), Fault(range_shift=-100)]
)
def test_b7_range_lies_on_a_resumed_object_never_misalign_bytes(
    repo: Repo, proxy: FaultServer, tmp_path: Path, lie: Fault
) -> None:
    """Each object is cut after 5000 bytes; the resuming request is answered with the
    whole object as 200 (cut again), or a 206 from another offset. Exactly one more
    request completes each object, so no misaligned byte was ever kept."""
    game = installed(proxy, tmp_path / "game")
    proxy.plan(
        ANY_STORE,
        Fault(
            drop_after=5000,
            ignore_range=lie.ignore_range,
            range_shift=lie.range_shift,
            times=2,
        ),
    )
    start = len(proxy.requests)
    update(game, "3", OPTIONS)
    assert_build(game, repo, 3)
    asked = {r.path for r in proxy.requests[start:] if "/store/" in r.path}
    big = [p for p in asked if (repo.root / p.lstrip("/")).stat().st_size > 5000]
    assert big
    for path in big:
        ranges = proxy.ranges(path)
        assert len(ranges) == 3, (path, ranges)
        assert ranges[:2] == [None, "bytes=5000-"]
        # A 200 restarts the file from its first byte; a wrong 206 empties it.
        assert ranges[2] == ("bytes=5000-" if lie.ignore_range else None)


def test_b8_a_chunk_with_a_flipped_bit_fails_naming_chunk_and_hashes(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    game = installed(proxy, tmp_path / "game")
    bad = repo.docs.chunk_url("3", "data/added.bin")
    good = bad.rsplit("/", 1)[1]
    proxy.plan(bad, Fault(flip_bit=1234))
    line = failure(cli_update(game))
    assert f"chunk {good} from {proxy.url}{bad} had md5 " in line, line
    assert f"instead of {good}" in line, line
    assert "tried 2 times; the server sent the same bytes each time" in line, line
    # Once unchecked (the file's hash covers it: Stager.check_later); then, since it
    # would not inflate, checked, found damaged, and fetched with its md5 checked: twice,
    # since the same wrong bytes came back (the server's copy, not the transfer).
    assert proxy.count(bad) == 1 + 2 < 1 + TRIES
    assert_build(game, repo, 1)
    assert not list((game / ".slipstream/downloads").glob(f"*{good}*"))  # bad bytes dropped


def test_a_404_on_a_patch_chunk_falls_back_to_chunks_for_that_file(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    game = installed(proxy, tmp_path / "game")
    lost = repo.docs.patch_urls("data/big.pak")
    for url in lost:
        proxy.plan(url, Fault(status=404))
    result = cli_update(game, "--json", "--no-packs")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    (fallback,) = doc["fallbacks"]
    assert fallback["path"] == "data/big.pak"
    assert "could not be downloaded" in fallback["reason"] and "404" in fallback["reason"]
    assert doc["patches_applied"] >= 2  # the other files were still patched
    assert_build(game, repo, 3)
    assert sum(proxy.count(u) for u in lost) == 1  # a 404 is not retried
    # ...and not held against the patch: it may be back (a prune in progress, a CDN glitch).
    state = GameDir(game).load_state()
    assert state is not None and not state.failed_patches


# --- C: corrupted inputs ------------------------------------------------------------


def test_c1_a_patch_object_with_other_bytes_falls_back(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """A patch chunk replaced by a valid zlib stream of other bytes (its compressedMd5
    no longer matches): that file is downloaded whole, the rest is patched."""
    game = installed(proxy, tmp_path / "game")
    for url in repo.docs.patch_urls("data/big.pak"):
        (repo.root / url.lstrip("/")).write_bytes(zlib.compress(random.Random(1).randbytes(5000)))
    report = update(game, "3", XDELTA_ONLY)
    assert [p for p, _ in report.fallbacks] == ["data/big.pak"]
    assert report.patches_applied >= 2
    assert_build(game, repo, 3)
    state = GameDir(game).load_state()
    assert state is not None and state.failed_patches  # remembered: never retried in a loop


@pytest.mark.parametrize("wrong", ["garbage", "another file's delta"])
def test_c1_a_consistent_but_wrong_delta_falls_back(
    repo: Repo, proxy: FaultServer, tmp_path: Path, wrong: str
) -> None:
    """The DepotDiff manifest is rewritten so that every hash matches the bad delta (the
    download verifies): xdelta3 fails, or its output is not the new file. Fallback."""
    game = installed(proxy, tmp_path / "game")
    docs = repo.docs

    def poison(item: dict) -> bool:
        if item["path_target"] != "data\\big.pak":
            return False
        if wrong == "garbage":
            delta = random.Random(3).randbytes(40_000)
        else:  # a real delta, made for Game.exe
            delta = docs.delta(docs.diffs("Game.exe")[0])
        item["chunks"] = [docs.put_object(delta, patches=True)]
        item["md5"] = md5(delta)
        return True

    assert docs.edit_diffs(poison) >= 1
    report = update(game, "3", XDELTA_ONLY)
    ((path, reason),) = report.fallbacks
    assert path == "data/big.pak" and "xdelta3" in reason, reason  # the delta arrived intact
    assert report.patches_applied >= 2
    assert_build(game, repo, 3)


@pytest.mark.parametrize("how", ["resized", "same size and time"])
def test_c2_a_patch_source_the_player_changed_is_replaced_and_kept(
    repo: Repo, proxy: FaultServer, tmp_path: Path, how: str
) -> None:
    """Game.exe modified by the player is not patched but downloaded, and the player's
    copy goes into the rollback point. A change that a quick look cannot see (same size,
    same mtime) is caught by hashing the patch source before patching."""
    game = installed(proxy, tmp_path / "game")
    exe = game / "Game.exe"
    if how == "resized":
        mod = b"the player's own build of the executable"
        exe.write_bytes(mod)
    else:
        st = exe.stat()
        data = bytearray(exe.read_bytes())
        data[len(data) // 2] ^= 0xFF
        mod = bytes(data)
        exe.write_bytes(mod)
        os.utime(exe, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = update(game, "3", OPTIONS)
    assert_build(game, repo, 3)
    if how == "resized":
        assert report.modified == ["Game.exe"] and not report.fallbacks
        assert not any(proxy.count(u) for u in repo.docs.patch_urls("Game.exe"))
    else:
        ((path, reason),) = report.fallbacks
        assert path == "Game.exe" and "not the file the patch was made for" in reason
    point = GameDir(game).rollback_points()[0]  # the update's
    assert md5((point.path / "files/Game.exe").read_bytes()) == md5(mod)
    rollback_game(game, options=OPTIONS)
    expected = {**repo.build_tree(1), "Game.exe": md5(mod)}
    got = tree(game)
    assert {k: got.pop(k) for k in PLAYER} == {k: md5(v) for k, v in PLAYER.items()}
    assert got == expected
    assert_clean(game)


def test_c4_a_zlib_bomb_chunk_is_refused_with_bounded_memory(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """A new file whose one chunk claims 10 bytes, with the right compressedMd5, but
    inflates to 50 MB: refused, inflating stops at the declared size."""
    game = installed(proxy, tmp_path / "game")
    bomb = zlib.compress(bytes(50 * 2**20), 9)
    chunk = repo.docs.put_object(b"0123456789", body=bomb)
    entry = {"type": "DepotFile", "path": "data\\bomb.bin", "chunks": [chunk]}
    repo.docs.edit_depot("3", lambda items: items.append(entry))
    tracemalloc.start()
    try:
        with pytest.raises(RepositoryError, match="inflates to more than 10 bytes"):
            update(game, "3", OPTIONS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 2**20, f"peak {peak:,} bytes: the bomb was inflated"
    assert_build(game, repo, 1)
    line = failure(cli_update(game))
    assert chunk["compressedMd5"] in line and "inflates to more than 10 bytes" in line, line
    assert_build(game, repo, 1)


def _set_chunk_field(field: str, value: int) -> Callable[[list[dict]], None]:
    def edit(items: list[dict]) -> None:
        item = next(i for i in items if i["path"] == "data\\big.pak")
        item["chunks"][0][field] = value

    return edit


@pytest.mark.parametrize(
    "junk",
    ["size 2**62", "compressedSize 2**62", "size -1", "duplicate key", "NaN"],
)
def test_c5_absurd_sizes_and_schema_junk_are_refused_before_any_write(
    repo: Repo, proxy: FaultServer, tmp_path: Path, junk: str
) -> None:
    game = installed(proxy, tmp_path / "game")
    docs = repo.docs
    if junk == "size 2**62":
        docs.edit_depot("3", _set_chunk_field("size", 2**62))
    elif junk == "compressedSize 2**62":
        docs.edit_depot("3", _set_chunk_field("compressedSize", 2**62))
    elif junk == "size -1":
        docs.edit_depot("3", _set_chunk_field("size", -1))
    else:
        text = zjson.dumps_plain(docs.depot("3")).decode()
        if junk == "duplicate key":
            text = text.replace('{"depot":', '{"version":2,"depot":', 1)
            assert text.count('"version":2') == 2
        else:
            old = f'"size":{docs.items("3")["data/big.pak"]["chunks"][0]["size"]}'
            text = text.replace(old, '"size":NaN', 1)
        docs.set_depot("3", zlib.compress(text.encode()))
    start = len(proxy.requests)
    line = failure(cli_update(game))
    assert "A repository document is malformed and was refused" in line, line
    assert_build(game, repo, 1)
    assert not (game / ".slipstream/downloads").exists()
    assert not [r for r in proxy.requests[start:] if "/store/" in r.path]  # nothing fetched
    fresh = tmp_path / "fresh"
    with pytest.raises(FormatError):
        install(proxy.url, PRODUCT, fresh, build="3", options=OPTIONS)
    assert tree(fresh) == {} and not (fresh / ".slipstream/downloads").exists()
    assert_clean(fresh)


# --- D: malicious manifests -----------------------------------------------------------

HOSTILE = {
    "../evil": ["..\\evil"],
    "a/../../evil": ["a\\..\\..\\evil"],
    "absolute": ["/tmp/evil"],
    "drive": ["C:\\evil"],
    "drive-relative": ["C:evil"],
    "unc": ["\\\\srv\\share\\evil"],
    "reserved dir": [".slipstream\\state.json"],
    "reserved dir, case": [".SLIPSTREAM\\evil"],
    "device": ["CON"],
    "device with extension": ["data\\nul.txt"],
    "trailing dot": ["evil."],
    "stream": ["readme.txt:evil"],
    "case collision": ["data\\Other.pak"],  # beside data/other.pak
    "unicode collision": ["caf\u00e9.txt", "cafe\u0301.txt"],
    "duplicate": ["data\\added.bin"],  # already in the build
    "file used as folder": ["readme.txt\\evil"],  # readme.txt is a file of the build
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_d_hostile_paths_are_refused_before_the_first_write(
    repo: Repo, proxy: FaultServer, tmp_path: Path, case: str
) -> None:
    """A served depot manifest names an unsafe path (each entry points at a real chunk,
    so an engine that let it through would write it): update and install refuse the whole
    build before anything is written, and nothing appears outside the game folder."""
    game = installed(proxy, tmp_path / "game")
    chunk = repo.docs.items("3")["data/other.pak"]["chunks"][0]

    def add(items: list[dict]) -> None:
        items += [{"type": "DepotFile", "path": p, "chunks": [chunk]} for p in HOSTILE[case]]

    repo.docs.edit_depot("3", add)
    outside = sorted(os.listdir(tmp_path)), sorted(os.listdir(tmp_path.parent))
    start = len(proxy.requests)
    line = failure(cli_update(game))
    assert "refused" in line, line
    shown = HOSTILE[case][-1]
    assert repr(shown) in line or repr(shown.replace("\\", "/")) in line, line
    assert_build(game, repo, 1)
    assert not (game / ".slipstream/downloads").exists()
    assert not [r for r in proxy.requests[start:] if "/store/" in r.path]
    fresh = tmp_path / "fresh"
    with pytest.raises(UnsafePathError):
        install(proxy.url, PRODUCT, fresh, build="3", options=OPTIONS)
    assert tree(fresh) == {} and not (fresh / ".slipstream/downloads").exists()
    assert_clean(fresh)
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(tmp_path.parent))) == (
        sorted([*outside[0], "fresh"]),
        outside[1],
    )
    assert not [p for p in tmp_path.rglob("*") if "evil" in p.name.lower()]
    assert not (game / "C:").exists() and not (game / "C:evil").exists()


def test_d_a_hostile_patch_manifest_costs_the_patches_not_the_update(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """A DepotDiff whose target path escapes: the patch documents are refused as a whole,
    the update downloads chunks instead and ends exact."""
    game = installed(proxy, tmp_path / "game")

    def escape(item: dict) -> bool:
        if item["path_target"] != "data\\big.pak":
            return False
        item["path_target"] = "..\\..\\evil.pak"
        return True

    assert repo.docs.edit_diffs(escape) >= 1
    report = update(game, "3", OPTIONS)
    assert report.patches_applied == 0
    ((star, reason),) = report.fallbacks
    assert star == "*" and "'..\\\\..\\\\evil.pak'" in reason, reason
    assert_build(game, repo, 3)
    assert not [p for p in tmp_path.rglob("*") if "evil" in p.name]


def test_d5_a_symlink_planted_in_the_game_folder_is_never_followed(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """``game/data`` is replaced by a link to a folder outside: the update refuses with a
    clear message, and nothing outside the game folder is written or changed."""
    game = installed(proxy, tmp_path / "game")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(game / "data", outside / "data")
    (game / "data").symlink_to(outside / "data", target_is_directory=True)
    before = tree(outside), {p: p.stat().st_mtime_ns for p in outside.rglob("*")}
    game_before = tree(game)
    line = failure(cli_update(game))
    assert "symbolic link" in line and str(game / "data") in line, line
    assert (tree(outside), {p: p.stat().st_mtime_ns for p in outside.rglob("*")}) == before
    assert tree(game) == game_before
    assert_clean(game)
    # Repair: the same refusal; still nothing written through the link.
    result = cli("verify", str(game), "--repair")
    assert "symbolic link" in failure(result)
    assert (tree(outside), {p: p.stat().st_mtime_ns for p in outside.rglob("*")}) == before
    assert tree(game) == game_before
    assert_clean(game)


# --- F: the player's files ------------------------------------------------------------


def test_f_player_files_survive_update_rollback_and_repair(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """Saves and mods survive everything (F1); a player file at a path the new build adds
    is backed up and comes back on rollback, a case variant of it is never touched (F3);
    a folder the new build drops stays while it holds a player file (F4)."""
    game = installed(proxy, tmp_path / "game")
    mine = b"the player's own mods/bundled.dat"
    player = {
        **PLAYER,
        "mods/BUNDLED.DAT": b"a case variant the player made",
        "extras/notes.txt": b"notes in a folder build 3 drops",
    }
    for rel, data in player.items():
        (game / rel).write_bytes(data)
    (game / "mods/bundled.dat").write_bytes(mine)
    proxy.plan(ANY_STORE, Fault(drop_after=3000, times=1))  # and a little weather
    update(game, "3", OPTIONS)
    assert_build(game, repo, 3, player)
    assert not (game / "extras/bonus.bin").exists()
    rollback_game(game, options=OPTIONS)
    assert_build(game, repo, 1, {**player, "mods/bundled.dat": mine})
    (game / "readme.txt").write_bytes(b"damaged")
    (game / "data/other.pak").unlink()
    _, result = verify_game(game, full=True, repair=True, options=OPTIONS)
    assert {w.path for w in result.wounds} == {"readme.txt", "data/other.pak"}
    assert_build(game, repo, 1, {**player, "mods/bundled.dat": mine})
    update(game, "3", OPTIONS)
    assert_build(game, repo, 3, player)


# --- bandwidth ---------------------------------------------------------------------


def test_limit_rate_bounds_the_download_speed(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    game = installed(proxy, tmp_path / "game")
    rate = 2_000_000
    result = cli_update(game, "--no-patches", "--limit-rate", str(rate), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["bytes_downloaded"] > 3_500_000, doc
    # A lower bound only: the bucket may start with a quarter second of burst.
    assert doc["seconds"] >= (doc["bytes_downloaded"] - rate / 4) / rate * 0.95 >= 1.4, doc
    assert_build(game, repo, 3)


def test_a_cancel_stops_a_document_that_is_being_retried(
    repo: Repo, proxy: FaultServer, tmp_path: Path
) -> None:
    """The sources fetch their documents with no cancel token of their own: the
    operation's token reaches those requests through its fetcher (EngineOptions.fetcher),
    so a window's job (here the builds list's cost estimates) ends as soon as the player
    quits, instead of after the fetcher's retries against a server that is gone."""
    from core.errors import CancelledError
    from core.progress import CancelToken
    from core.update.estimate import estimate_costs
    from core.update.product import list_builds

    game = installed(proxy, tmp_path / "game")
    items = list_builds(proxy.url, PRODUCT, options=OPTIONS)
    meta = "/content-system/v2/meta/"

    def asked() -> int:
        return sum(r.path.startswith(meta) for r in proxy.requests)

    before = asked()
    proxy.plan(meta + "*", Fault(statuses=[503] * 1000, retry_after="1"))
    patient = replace(OPTIONS, fetch_limits=replace(FAST, retries=8))  # 8 s of Retry-After
    cancel = CancelToken()

    def cancel_once_asked() -> None:
        while asked() == before:
            time.sleep(0.01)
        cancel.cancel()

    watcher = threading.Thread(target=cancel_once_asked, daemon=True)
    watcher.start()
    with pytest.raises(CancelledError):
        estimate_costs(game, items, patient, cancel)
    watcher.join(5)
    # The first build's manifest was asked for once or twice before the cancel, not
    # through its nine tries.
    assert 1 <= asked() - before <= 2
    assert_clean(game)
