"""Updates through Slipstream's patch packs (issue 13): cheaper than xdelta3 where
HDiffPatch wins, one request per pack object, the cheapest way per file, and every
hostile pack costs at most its own files a fallback, never the update.

The repositories are published for real, packs and all; the hostile ones are published
without packs and then given packs made from real HDiffPatch and xdelta3 deltas
(tests/update/packing.py), so each test can make the packs lie exactly the way it wants.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from core.errors import CancelledError
from core.format import layout
from core.format.pack import PackIndex, PackObject
from core.progress import CancelToken, Phase, Progress
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install, plan_preview, update
from core.update.options import EngineOptions
from core.update.report import OperationReport
from tests.support.faultserver import Fault, FaultServer
from tests.support.helpers import serving, tree
from tests.support.nginxrun import running_nginx
from tests.support.signed import PRODUCT as PRODUCT_SIGNED
from tests.support.signed import SignedRepo, make_signed_repo
from tests.support.simulator import RepositorySimulator, truncate
from tests.update.packing import add_packs, deltas_between, point_edge, write_pack

PRODUCT = "1207664700"
KB = 1 << 10
pytestmark = pytest.mark.usefixtures("home")


# --- builds -----------------------------------------------------------------------------


def binary(seed: int, size: int, shift: int = 0, insert_at: int | None = None) -> bytes:
    """Machine code, roughly: 12 bytes of instructions, then a 4-byte address. A rebuild
    shifts the addresses of the later two thirds by ``shift`` and inserts a few bytes at
    word ``insert_at``: the change recompiling makes, which xdelta3 copes with badly."""
    rng = random.Random(seed)
    out = bytearray()
    words = size // 16
    for i in range(words):
        out += rng.randbytes(12)
        address = rng.randrange(0, 1 << 24) + (shift if i > words // 3 else 0)
        out += struct.pack("<I", address)
        if i == insert_at:
            out += b"\x90" * 37
    return bytes(out)


def text(seed: int, lines: int) -> bytes:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "level", "enemy", "speed", "jump"]
    return "\n".join(" ".join(rng.choices(words, k=8)) for _ in range(lines)).encode()


def write(folder: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def build_files(n: int) -> dict[str, bytes]:
    """Build ``n`` (1, 2 or 3) of a small game: two binaries rebuilt each time, a data
    file edited in place, a text file, an unchanged asset, and ``copy.bin`` whose new
    content is an installed file's (its chunks are then cheaper than any delta)."""
    shift = 0x40 * (n - 1)
    asset = random.Random(99).randbytes(96 * KB)
    data = bytearray(random.Random(5).randbytes(160 * KB))
    for k in range(n - 1):
        data[40 * KB * (k + 1) : 40 * KB * (k + 1) + 300] = random.Random(50 + k).randbytes(300)
    return {
        "bin/engine.dll": binary(1, 256 * KB, shift, 2000 if n > 1 else None),
        "bin/game.exe": binary(2, 128 * KB, shift * 2, 900 if n > 1 else None),
        "data/levels.dat": bytes(data),
        "readme.txt": text(n, 200),
        "data/asset.bin": asset,
        "data/copy.bin": asset if n > 1 else random.Random(7).randbytes(24 * KB),
    }


@dataclass(frozen=True)
class Published:
    repo: Path
    folders: dict[str, Path]
    """Build id → its folder."""
    ids: list[str]
    """Build ids, oldest first."""


def publish_game(
    tmp: Path, builds: list[dict[str, bytes]], depth: int = 1, packs: bool = False
) -> Published:
    """Publish ``builds``; without ``packs``, a test adds its own (tests/update/packing.py)."""
    repo = tmp / "repo"
    folders, ids = {}, []
    for n, files in enumerate(builds, 1):
        folder = write(tmp / f"b{n}", files)
        options = PublishOptions(PRODUCT, version_name=f"1.{n}", patch_depth=depth, packs=packs)
        report = publish(folder, repo, options)
        folders[report.build_id] = folder
        ids.append(report.build_id)
    return Published(repo, folders, ids)


def copy_repo(published: Published, dest: Path) -> Published:
    """A copy of a published repository that a test may make lie."""
    shutil.copytree(published.repo, dest)
    return replace(published, repo=dest)


@pytest.fixture(scope="module")
def game3(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """Three builds, patched 1→2 and 2→3 only, without packs yet."""
    tmp = tmp_path_factory.mktemp("packs")
    return publish_game(tmp, [build_files(1), build_files(2), build_files(3)])


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The same three builds, published with packs (the publisher's own)."""
    tmp = tmp_path_factory.mktemp("packed")
    return publish_game(tmp, [build_files(1), build_files(2), build_files(3)], packs=True)


@pytest.fixture(scope="module")
def handmade(game3: Published, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """``game3`` with a pack on every edge holding an entry for every changed file (the
    smaller of the two codecs), whether or not it beats the file's chunks."""
    tmp = tmp_path_factory.mktemp("handmade")
    copy = copy_repo(game3, tmp / "repo")
    add_packs(copy.repo, PRODUCT, copy.folders, tmp / "work")
    return copy


def options(sim: RepositorySimulator, **changes: object) -> EngineOptions:
    return replace(EngineOptions(transport=sim, patch_jobs=1), **changes)  # type: ignore[arg-type]


def installed(published: Published, game: Path, sim: RepositorySimulator, build: int = 0) -> Path:
    install(sim.base_url, PRODUCT, game, build=published.ids[build], options=options(sim))
    sim.clear()
    return game


def pack_fetches(sim: RepositorySimulator) -> list[str]:
    """The requests for pack objects (whole or ranges)."""
    prefix = "/" + layout.CONTENT_ROOT + "/packs/store/"
    return [f.path for f in sim.fetches if f.path.startswith(prefix)]


def patch_fetches(sim: RepositorySimulator) -> list[str]:
    prefix = "/" + layout.CONTENT_ROOT + "/patches/store/"
    return [f.path for f in sim.fetches if f.path.startswith(prefix)]


def fetched_bytes(sim: RepositorySimulator) -> int:
    return sum(f.length for f in sim.fetches if f.kind in ("object", "range"))


def update_to(
    published: Published, game: Path, sim: RepositorySimulator, build: int, **changes: object
) -> OperationReport:
    report = update(game, published.ids[build], options(sim, **changes))
    assert tree(game) == tree(published.folders[published.ids[build]])
    return report


# --- the update through packs -----------------------------------------------------------


def test_an_update_through_packs_downloads_less_than_xdelta3_alone(
    packed: Published, tmp_path: Path
) -> None:
    sim = RepositorySimulator(packed.repo)
    with_packs = installed(packed, tmp_path / "a", sim)
    report = update_to(packed, with_packs, sim, 1)
    packs_bytes, packs_requests = fetched_bytes(sim), pack_fetches(sim)
    assert report.counts["packed"] >= 3 and report.fallbacks == []
    assert report.patches_applied == report.counts["packed"] + report.counts["patched"]
    assert report.bytes_downloaded == packs_bytes

    sim.clear()
    without = installed(packed, tmp_path / "b", sim)
    sim.clear()
    baseline = update_to(packed, without, sim, 1, use_packs=False)
    assert baseline.counts["packed"] == 0 and baseline.counts["patched"] >= 3
    assert pack_fetches(sim) == [] and layout.CONTENT_ROOT + "/packs/meta" not in str(sim.paths())
    xdelta_bytes = fetched_bytes(sim)
    # HDiffPatch wins on the rebuilt binaries: the whole update is far smaller.
    assert packs_bytes * 2 <= xdelta_bytes, (packs_bytes, xdelta_bytes)
    assert len(packs_requests) == len(set(packs_requests))  # each object asked for once


def test_each_file_takes_its_cheapest_way(handmade: Published, tmp_path: Path) -> None:
    sim = RepositorySimulator(handmade.repo)
    game = installed(handmade, tmp_path / "game", sim)
    assert "data/copy.bin" in {e.path_target for e in read_index(handmade, 0).files}
    plan, report = plan_preview(game, handmade.ids[1], options(sim))
    kinds = {a.path: a.kind for a in plan.actions}
    # copy.bin's new content is asset.bin's: copying its chunks costs nothing, so its
    # pack entry is not used even though the pack has one.
    assert kinds["data/copy.bin"] == "chunked"
    assert kinds["bin/engine.dll"] == kinds["bin/game.exe"] == "packed"
    assert kinds["data/asset.bin"] == "unchanged"
    entry_of = {s.entry.path_target: s.entry for a in plan.actions for s in a.packs}
    for action in plan.actions:
        if action.kind == "packed":
            assert action.download_bytes == entry_of[action.path].length
            assert action.fallback is not None
            assert action.download_bytes <= action.fallback.download_bytes
    assert report.counts == plan.counts() and report.bytes_planned == plan.download_bytes


def test_a_multi_hop_update_chains_pack_entries(packed: Published, tmp_path: Path) -> None:
    sim = RepositorySimulator(packed.repo)
    game = installed(packed, tmp_path / "game", sim)
    plan, _ = plan_preview(game, packed.ids[2], options(sim))
    engine = next(a for a in plan.actions if a.path == "bin/engine.dll")
    assert engine.kind == "packed" and len(engine.packs) == 2
    assert plan.route == tuple(packed.ids)
    report = update_to(packed, game, sim, 2)
    assert report.fallbacks == [] and report.counts["packed"] >= 2


def test_no_packs_is_an_xdelta3_only_update(packed: Published, tmp_path: Path) -> None:
    sim = RepositorySimulator(packed.repo)
    game = installed(packed, tmp_path / "game", sim)
    plan, _ = plan_preview(game, packed.ids[1], options(sim, use_packs=False))
    assert plan.counts()["packed"] == 0 and plan.counts()["patched"] >= 3
    assert not any("packs/meta" in p for p in sim.paths())


def test_a_repository_without_packs_updates_as_before(game3: Published, tmp_path: Path) -> None:
    sim = RepositorySimulator(game3.repo)
    game = installed(game3, tmp_path / "game", sim)
    report = update_to(game3, game, sim, 1)
    assert report.counts["packed"] == 0 and report.counts["patched"] >= 1
    assert pack_fetches(sim) == []


# --- requests ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_small(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """200 small files that all change between two builds, with packs."""
    tmp = tmp_path_factory.mktemp("many")

    def files(n: int) -> dict[str, bytes]:
        made = {}
        for i in range(200):
            data = bytearray(random.Random(i).randbytes(4 * KB))
            data[i * 16 : i * 16 + 16] = random.Random(n * 1000 + i).randbytes(16)
            made[f"scripts/s{i:03}.bin"] = bytes(data)
        return made

    published = publish_game(tmp, [files(1), files(2)])
    add_packs(
        published.repo,
        PRODUCT,
        published.folders,
        tmp / "work",
        codec=lambda path: "hdiffpatch",
        object_bytes=4 * KB,
    )
    return published


def test_hundreds_of_changed_small_files_cost_one_request_per_pack_object(
    many_small: Published, tmp_path: Path
) -> None:
    sim = RepositorySimulator(many_small.repo)
    game = installed(many_small, tmp_path / "game", sim)
    report = update_to(many_small, game, sim, 1)
    assert report.counts["packed"] == 200 and report.fallbacks == []
    objects = {f.path for f in sim.fetches if f.kind in ("object", "range")}
    index = read_index(many_small, 0)
    links = {o.link for o in index.objects}
    assert 1 < len(links) < 20
    # Every object request is a pack object's, each asked for once: no patch chunk, no
    # file chunk.
    assert objects == links and len(pack_fetches(sim)) == len(links)
    assert patch_fetches(sim) == []


def read_index(published: Published, edge: int) -> PackIndex:
    from core.format import zjson
    from core.format.graph import parse_graph
    from core.format.pack import parse_pack_index

    graph_file = published.repo / layout.graph_rel(PRODUCT, "windows")
    graph = parse_graph(zjson.loads(graph_file.read_bytes(), "g", 1 << 24), "g")
    a, b = published.ids[edge], published.ids[edge + 1]
    [e] = [e for e in graph.edges if (e.from_build, e.to_build) == (a, b)]
    assert e.pack is not None
    data = (published.repo / e.pack.link.lstrip("/")).read_bytes()
    return parse_pack_index(zjson.loads(data, "pack", 1 << 24), "pack")


def test_a_cancelled_update_resumes_without_fetching_its_pack_objects_again(
    game3: Published, tmp_path: Path
) -> None:
    copy = copy_repo(game3, tmp_path / "repo")
    add_packs(copy.repo, PRODUCT, copy.folders, tmp_path / "work", object_bytes=2 * KB)
    sim = RepositorySimulator(copy.repo)
    game = installed(copy, tmp_path / "game", sim)
    cancel = CancelToken()

    def sink(progress: Progress) -> None:
        if progress.phase == Phase.DOWNLOADING and progress.done > 0:
            cancel.cancel()

    with pytest.raises(CancelledError):
        update(game, copy.ids[1], options(sim, jobs=1), progress=sink, cancel=cancel)
    first = pack_fetches(sim)
    assert first  # at least one pack object was in before the cancel
    report = update_to(copy, game, sim, 1)
    assert report.counts["packed"] >= 2 and report.fallbacks == []
    every = pack_fetches(sim)
    assert len(every) > len(first) and len(set(every)) == len(every)  # none fetched twice


# --- hostile packs ------------------------------------------------------------------------


def hostile(
    game3: Published,
    tmp: Path,
    *,
    lie: Callable[[PackIndex], PackIndex] = lambda index: index,
    damage: Callable[[bytes], bytes] = lambda data: data,
    codec: Callable[[str], str | None] = lambda path: None,
) -> Published:
    """``game3`` with one pack, on its first edge, that lies as told."""
    copy = copy_repo(game3, tmp / "repo")
    a, b = copy.ids[0], copy.ids[1]
    deltas = deltas_between(copy.folders[a], copy.folders[b], tmp / "work", codec)
    write_pack(copy.repo, PRODUCT, a, b, deltas, lie=lie, damage=damage)
    return copy


def first_entry(path: str, **changes: int | str) -> Callable[[PackIndex], PackIndex]:
    """A lie about the entry of ``path``."""

    def lie(index: PackIndex) -> PackIndex:
        files = tuple(replace(e, **changes) if e.path_target == path else e for e in index.files)  # type: ignore[arg-type]
        return replace(index, files=files)

    return lie


def update_despite(published: Published, tmp: Path) -> tuple[OperationReport, RepositorySimulator]:
    """Install build 1, update to build 2: the folder must be build 2 exactly."""
    sim = RepositorySimulator(published.repo)
    game = installed(published, tmp / "game", sim)
    report = update_to(published, game, sim, 1)
    return report, sim


def fell_back(report: OperationReport) -> list[str]:
    return [path for path, _ in report.fallbacks]


def test_a_lying_offset_costs_that_file_a_fallback(game3: Published, tmp_path: Path) -> None:
    # The entry names the bytes of its neighbour in the same object, engine.dll's.
    def lie(index: PackIndex) -> PackIndex:
        [engine] = [e for e in index.files if e.path_target == "bin/engine.dll"]
        return first_entry("bin/game.exe", offset=engine.offset)(index)

    published = hostile(game3, tmp_path, lie=lie)
    report, _ = update_despite(published, tmp_path)
    assert fell_back(report) == ["bin/game.exe"]
    assert "md5" in report.fallbacks[0][1]
    assert report.counts["packed"] >= 2  # the other entries were used


def test_a_lying_length_costs_that_file_a_fallback(game3: Published, tmp_path: Path) -> None:
    published = hostile(game3, tmp_path, lie=first_entry("bin/engine.dll", length=100))
    report, _ = update_despite(published, tmp_path)
    assert fell_back(report) == ["bin/engine.dll"]


def test_a_truncated_object_costs_its_files_a_fallback(game3: Published, tmp_path: Path) -> None:
    published = hostile(game3, tmp_path)
    # Cut every pack object on the server after the fact: the index still names the md5
    # and size of the whole object.
    for obj in (published.repo / layout.CONTENT_ROOT / "packs" / "store").rglob("*"):
        if obj.is_file():
            obj.write_bytes(truncate(obj.read_bytes()))
    report, _ = update_despite(published, tmp_path)
    assert {"bin/engine.dll", "bin/game.exe"} <= set(fell_back(report))
    assert report.counts["packed"] >= 2
    assert all("patch could not be downloaded" in why for _, why in report.fallbacks)


def test_a_wrong_codec_name_costs_that_file_a_fallback(game3: Published, tmp_path: Path) -> None:
    # An HDiffPatch delta said to be xdelta3: the worker refuses it, the file falls back.
    published = hostile(
        game3,
        tmp_path,
        codec=lambda path: "hdiffpatch",
        lie=first_entry("bin/engine.dll", codec="xdelta3"),
    )
    report, _ = update_despite(published, tmp_path)
    assert fell_back(report) == ["bin/engine.dll"]


def test_an_unknown_codec_refuses_the_pack_and_the_update_goes_on(
    game3: Published, tmp_path: Path
) -> None:
    published = hostile(game3, tmp_path)
    index = read_index(published, 0)
    doc = index.to_json()
    doc["files"][0]["codec"] = "bsdiff"
    point_edge(published.repo, PRODUCT, index, doc)
    report, sim = update_despite(published, tmp_path)
    assert report.counts["packed"] == 0 and report.counts["patched"] >= 1
    assert [p for p, _ in report.fallbacks] == ["*"]
    assert "packs unavailable" in report.fallbacks[0][1] and "bsdiff" in report.fallbacks[0][1]
    assert pack_fetches(sim) == []


def test_an_index_pointing_outside_its_object_refuses_the_pack(
    game3: Published, tmp_path: Path
) -> None:
    published = hostile(game3, tmp_path)
    index = read_index(published, 0)
    doc = index.to_json()
    doc["files"][0]["offset"] = doc["objects"][doc["files"][0]["object"]]["size"]
    point_edge(published.repo, PRODUCT, index, doc)
    report, sim = update_despite(published, tmp_path)
    assert report.counts["packed"] == 0 and report.counts["patched"] >= 1
    assert "packs unavailable" in report.fallbacks[0][1]
    assert pack_fetches(sim) == []


def test_an_index_that_does_not_match_the_edge_id_is_refused(
    game3: Published, tmp_path: Path
) -> None:
    published = hostile(game3, tmp_path)
    index = read_index(published, 0)
    wrong = hashlib.md5(b"another index").hexdigest()
    # The edge names an id; the index at that id's address has other bytes.
    point_edge(published.repo, PRODUCT, index, pack_id=wrong)
    real = published.repo / layout.pack_meta_rel(wrong)
    real.parent.mkdir(parents=True, exist_ok=True)
    pointed = published.repo / layout.CONTENT_ROOT / "packs" / "meta"
    shutil.copy(next(p for p in pointed.rglob("*") if p.is_file() and p != real), real)
    report, sim = update_despite(published, tmp_path)
    assert report.counts["packed"] == 0
    assert "packs unavailable" in report.fallbacks[0][1] and "md5" in report.fallbacks[0][1]
    assert pack_fetches(sim) == []


def test_a_crashing_decoder_costs_that_file_a_fallback(tmp_path: Path) -> None:
    # A worker killed the way a crash in HDiffPatch's C++ code kills it (SIGSEGV), while
    # it decodes: the source of that file's entry is made a FIFO once planning is done,
    # so the worker blocks reading it until the test kills it.
    first = build_files(1)
    first["data/empty.bin"] = b""
    second = build_files(2)
    second["data/empty.bin"] = text(9, 400)
    published = publish_game(tmp_path / "pub", [first, second])
    add_packs(published.repo, PRODUCT, published.folders, tmp_path / "work")
    sim = RepositorySimulator(published.repo)
    game = installed(published, tmp_path / "game", sim)
    plan, _ = plan_preview(game, published.ids[1], options(sim))
    assert next(a for a in plan.actions if a.path == "data/empty.bin").kind == "packed"

    fifo = game / "data" / "empty.bin"
    killed = threading.Event()

    def kill_the_reader() -> None:
        writer = wait_for_reader(fifo)
        try:
            for child in multiprocessing.active_children():
                os.kill(child.pid or 0, signal.SIGSEGV)
            killed.set()
        finally:
            os.close(writer)

    swapped: list[threading.Thread] = []

    def sink(progress: Progress) -> None:
        if progress.phase == Phase.DOWNLOADING and not swapped:
            fifo.unlink()
            os.mkfifo(fifo)
            thread = threading.Thread(target=kill_the_reader, daemon=True)
            thread.start()
            swapped.append(thread)

    report = update(game, published.ids[1], options(sim), progress=sink)
    swapped[0].join(60)
    assert killed.is_set()
    assert tree(game) == tree(published.folders[published.ids[1]])
    assert fell_back(report) == ["data/empty.bin"]
    # The reason names the source, which the test turned into a FIFO behind the
    # engine's back (the worker's death is tests/delta/test_hdiff.py's business).
    assert "not the file the patch was made for" in report.fallbacks[0][1]
    assert report.counts["packed"] >= 3  # the other files were decoded by fresh workers


def wait_for_reader(fifo: Path) -> int:
    """Wait until a process opens ``fifo`` to read; return our write end."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            assert time.monotonic() < deadline, "no worker opened the source"
            time.sleep(0.01)


# --- over HTTP ---------------------------------------------------------------------------


def ranged(game3: Published, tmp: Path) -> tuple[Published, PackObject, int, list[str]]:
    """A pack of one object, and the files whose entries make up its first half or more:
    when the player has changed those, the rest of the object is fetched as a range.
    Returns the repository, the object, the range's first byte and those files."""
    published = hostile(game3, tmp, codec=lambda path: "hdiffpatch")
    [obj] = read_index(published, 0).objects
    entries = sorted(read_index(published, 0).files, key=lambda e: e.offset)
    changed = []
    while sum(e.length for e in entries) * 2 >= obj.size:
        changed.append(entries.pop(0).path_target)
    return published, obj, entries[0].offset, changed


def update_changed(
    published: Published, url: str, game: Path, changed: list[str]
) -> OperationReport:
    """Install build 1 from ``url``, change ``changed`` as a player would, update to 2."""
    opts = EngineOptions(patch_jobs=1)
    install(url, PRODUCT, game, build=published.ids[0], options=opts)
    for path in changed:
        (game / path).write_bytes(b"modded")
    report = update(game, published.ids[1], opts)
    assert tree(game) == tree(published.folders[published.ids[1]])
    assert report.fallbacks == [] and report.counts["packed"] >= 1
    return report


@pytest.mark.parametrize("ignore_range", [False, True])
def test_pack_ranges_over_http_even_from_a_server_that_ignores_them(
    game3: Published, tmp_path: Path, ignore_range: bool
) -> None:
    published, obj, first, changed = ranged(game3, tmp_path)
    with serving(published.repo) as url, FaultServer(upstream=url) as proxy:
        if ignore_range:
            proxy.plan("/content-system/v2/packs/store/*", Fault(ignore_range=True))
        before = len(proxy.requests)
        report = update_changed(published, proxy.url, tmp_path / "game", changed)
        asked = [r for r in proxy.requests[before:] if "/packs/store/" in r.path]
    assert [r.path for r in asked] == [obj.link]  # one request for the object
    assert asked[0].range == f"bytes={first}-{obj.size - 1}"
    if ignore_range:  # the whole object came, and was cut
        assert report.bytes_downloaded >= report.bytes_planned + first
    else:
        assert report.bytes_downloaded == report.bytes_planned


def test_nginx_and_slipstream_serve_answer_pack_ranges(game3: Published, tmp_path: Path) -> None:
    published, _, _, changed = ranged(game3, tmp_path)
    with serving(published.repo) as url:
        report = update_changed(published, url, tmp_path / "served", changed)
        assert report.bytes_downloaded == report.bytes_planned  # the range, not the object
    with running_nginx(published.repo, tmp_path / "nginx") as port:
        url = f"http://127.0.0.1:{port}"
        report = update_changed(published, url, tmp_path / "nginx-game", changed)
        assert report.bytes_downloaded == report.bytes_planned


# --- signed repositories -------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> SignedRepo:
    return make_signed_repo(tmp_path_factory.mktemp("signed"), count=2)


def pack_files(repo: Path, kind: str) -> list[Path]:
    return sorted(
        p for p in (repo / layout.CONTENT_ROOT / "packs" / kind).rglob("*") if p.is_file()
    )


@pytest.mark.parametrize("tamper", ["none", "index", "object"])
def test_a_signed_repository_vouches_for_its_packs_through_graph_json(
    signed: SignedRepo, tmp_path: Path, tamper: str
) -> None:
    # Packs are not TUF targets: graph.json (signed) names the index by its md5, the
    # index names each object and entry by theirs. A pack changed on a mirror therefore
    # costs the client the pack (or those files), never a wrong file or the update.
    folder = tmp_path / "mirror"
    signed.serve_state(2, folder)
    assert pack_files(folder, "meta") and pack_files(folder, "store")
    if tamper == "index":
        for index in pack_files(folder, "meta"):
            data = bytearray(index.read_bytes())
            data[-3] ^= 1
            index.write_bytes(bytes(data))
    elif tamper == "object":
        for obj in pack_files(folder, "store"):
            data = bytearray(obj.read_bytes())
            data[len(data) // 2] ^= 1
            obj.write_bytes(bytes(data))
    with serving(folder) as url:
        game = tmp_path / "game"
        install(url, PRODUCT_SIGNED, game, build="1")
        report = update(game)
    assert tree(game) == tree(signed.builds[1])
    if tamper == "none":
        assert report.counts["packed"] >= 1 and report.fallbacks == []
    elif tamper == "index":  # refused by its md5: the update goes on with xdelta3
        assert report.counts["packed"] == 0 and report.counts["patched"] >= 1
        assert [p for p, _ in report.fallbacks] == ["*"]
        assert "packs unavailable" in report.fallbacks[0][1] and "md5" in report.fallbacks[0][1]
    else:  # the object fails its md5: its files fall back to their chunks
        assert report.counts["packed"] >= 1 and report.fallbacks
        assert {p for p, _ in report.fallbacks} <= set(tree(game))
        assert all("could not be downloaded" in why for _, why in report.fallbacks)


# --- the command line ------------------------------------------------------------------------


def test_no_packs_on_the_command_line(packed: Published, tmp_path: Path) -> None:
    def cli(*args: object) -> dict[str, Any]:
        result = subprocess.run(
            [sys.executable, "-m", "core.cli", *map(str, args), "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    with serving(packed.repo) as url:
        game = tmp_path / "game"
        first = packed.ids[0]
        cli("install", "--source", url, "--product", PRODUCT, "--dir", game, "--build", first)
        with_packs = cli("plan", game, "--to", packed.ids[1])
        without = cli("plan", game, "--to", packed.ids[1], "--no-packs")
        assert with_packs["files_packed"] >= 3 and without["files_packed"] == 0
        assert without["files_patched"] >= 3
        assert with_packs["bytes_planned"] < without["bytes_planned"]
        done = cli("update", game, "--to", packed.ids[1], "--no-packs")
        assert done["files_packed"] == 0 and done["files_patched"] >= 3
    assert tree(game) == tree(packed.folders[packed.ids[1]])
