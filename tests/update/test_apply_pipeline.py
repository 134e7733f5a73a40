"""The update pipeline (core/update/apply.py, core/update/stage.py): downloads in the
background that patches and files wait on, phases still reported in order, and the checks
that hashing each byte once must not lose."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec, next_build, scattered_edits
from core.errors import NotFoundError
from core.format import layout
from core.format.depot import Chunk
from core.gamedir.folder import GameDir
from core.net.source import RepoSource
from core.progress import Phase, Progress
from core.update import stage
from core.update.engine import install, plan_preview, update
from core.update.options import EngineOptions
from core.update.stage import ObjectRef, Stager
from tests.support.helpers import tree
from tests.support.simulator import BASE_URL, RepositorySimulator, publish_builds

PRODUCT = "1207664643"
MB = 1 << 20
pytestmark = pytest.mark.usefixtures("home")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    first = [
        FileSpec("Game.exe", 1, 2 * MB + 12_345, executable=True),
        FileSpec("data/levels.pak", 2, 3 * MB + 777),
        FileSpec("data/big.pak", 3, 23 * MB),  # two chunks
        FileSpec("data/config.ini", 5, 2_000),
    ]
    second = next_build(first, 101, changed=0.0)
    second = [scattered_edits(s, 3, 7 + i) if s.size > MB else s for i, s in enumerate(second)]
    second.append(FileSpec("data/added.bin", 9, 5 * MB + 3))
    repo, folders, _, _ = publish_builds(tmp_path_factory.mktemp("pipe"), PRODUCT, [first, second])
    return repo, folders


def build_ids(sim: RepositorySimulator) -> tuple[str, str]:
    listing = sim.get_json(
        f"{sim.base_url}/products/{PRODUCT}/os/windows/builds?generation=2",
        max_bytes=MB,
        what="builds",
    )
    first, second = sorted(i["build_id"] for i in listing["items"])
    return first, second


def at_first_build(
    published: tuple[Path, list[Path]], game: Path, **options: Any
) -> tuple[RepositorySimulator, EngineOptions, str]:
    """The repository behind a simulator, the engine's options on it, and ``game``
    installed at the first build: (simulator, options, the second build's id)."""
    sim = RepositorySimulator(published[0])
    engine = EngineOptions(transport=sim, **options)
    first, second = build_ids(sim)
    install(sim.base_url, PRODUCT, game, build=first, options=engine)
    return sim, engine, second


def test_phases_are_announced_in_order_although_the_work_overlaps(
    published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    folders = published[1]
    game = tmp_path / "game"
    sim, options, second = at_first_build(published, game, patch_jobs=2)
    seen: list[Progress] = []
    report = update(game, second, options, progress=seen.append)
    assert tree(game) == tree(folders[1])
    assert report.patches_applied >= 3 and not report.fallbacks
    order = [p.phase for n, p in enumerate(seen) if n == 0 or seen[n - 1].phase != p.phase]
    assert order == [
        Phase.PLANNING,
        Phase.DOWNLOADING,
        Phase.PATCHING,
        Phase.ASSEMBLING,
        Phase.VERIFYING,
        Phase.COMMITTING,
    ]
    for phase in (Phase.PATCHING, Phase.ASSEMBLING, Phase.VERIFYING):
        reports = [p for p in seen if p.phase == phase]
        assert reports[0].done == 0  # announced before its first file is done
        assert [p.done for p in reports] == list(range(reports[-1].total + 1))
    assert sim.twice() == []


def _other_data(body: bytes, chunk: Chunk) -> bytes:
    return zlib.compress(bytes(chunk.size))  # valid zlib, right size, other data


def _torn(body: bytes, chunk: Chunk) -> bytes:
    return body[: len(body) // 2]  # cut short under its final name, as a power cut may


def test_download_progress_comes_from_one_thread_at_a_time_and_ends_at_the_total(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports are coalesced off the count's lock (core/update/stage.py Downloads._advance):
    still never two at once, never going back, and the last one is the whole download.
    Every block reports here (no coalescing), so that threads do meet in the sink."""
    monkeypatch.setattr(stage, "REPORT_SECONDS", 0.0)
    repo, _ = published
    sim = RepositorySimulator(repo)
    _, second = build_ids(sim)
    inside = threading.Lock()
    overlaps: list[int] = []
    counts: list[tuple[int, int]] = []

    def sink(p: Progress) -> None:
        if p.phase != Phase.DOWNLOADING:
            return
        if not inside.acquire(blocking=False):
            overlaps.append(p.done)
            return
        try:
            counts.append((p.done, p.total))
            time.sleep(0.002)  # a slow sink: other threads' bytes arrive meanwhile
        finally:
            inside.release()

    options = EngineOptions(transport=sim, jobs=8)
    report = install(sim.base_url, PRODUCT, tmp_path / "game", build=second, options=options,
                     progress=sink)  # fmt: skip
    assert not overlaps
    done = [d for d, _ in counts]
    assert done == sorted(done)
    assert counts[-1] == (report.bytes_downloaded, report.bytes_downloaded)
    assert report.bytes_downloaded == report.bytes_planned


@pytest.mark.parametrize("damage", [_other_data, _torn], ids=["other data", "torn"])
def test_an_object_an_earlier_run_left_damaged_is_fetched_again_by_the_same_run(
    published: tuple[Path, list[Path]],
    tmp_path: Path,
    damage: Callable[[bytes, Chunk], bytes],
) -> None:
    """Objects fetched by this run skip the chunk md5 (the fetcher checked them and the
    file hash covers them); one found on disk from an earlier run is still checked, and a
    damaged one fetched again by the same run. Objects are renamed into downloads/ without
    an fsync (they are resume data, not the game), so a power cut may leave one torn."""
    repo, folders = published
    game = tmp_path / "game"
    sim, options, second = at_first_build(published, game)
    chunk = _added_chunk(game, second, options)
    body = (repo / layout.store_rel(PRODUCT, chunk.compressed_md5)).read_bytes()
    left = GameDir(game).downloads / f"c-{chunk.compressed_md5}"
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(damage(body, chunk))
    sim.clear()
    report = update(game, second, options)
    assert tree(game) == tree(folders[1])
    assert sim.count("/" + layout.store_rel(PRODUCT, chunk.compressed_md5)) == 1
    assert report.bytes_downloaded == report.bytes_planned  # counted once, when refetched


def _flipped(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x10]) + body[middle + 1 :]


def _added_chunk(game: Path, second: str, options: EngineOptions) -> Chunk:
    plan, _ = plan_preview(game, second, options)
    (added,) = [a for a in plan.actions if a.path == "data/added.bin"]
    assert added.target is not None and len(added.target.chunks) == 1
    return added.target.chunks[0]


def test_objects_of_assembled_files_arrive_unchecked_and_patch_objects_checked(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk of a file written by assembling is covered by the file's hash, so it is
    fetched without its md5 check (Stager.check_later); a patch chunk is checked on
    arrival (its delta has no other check before the patch runs)."""
    folders = published[1]
    game = tmp_path / "game"
    sim, options, second = at_first_build(published, game, patch_jobs=2, use_packs=False)
    chunk = _added_chunk(game, second, options)
    asked: dict[str, str | None] = {}
    held: set[str] = set()
    plain, in_memory = sim.download, sim.fetch_object

    def recorded(url: str, dest: Path, **kwargs: Any) -> None:
        asked[url.rsplit("/", 1)[1]] = kwargs.get("md5")
        plain(url, dest, **kwargs)

    def recorded_held(url: str, **kwargs: Any) -> bytes:
        asked[url.rsplit("/", 1)[1]] = kwargs.get("md5")
        held.add(url.rsplit("/", 1)[1])
        return in_memory(url, **kwargs)

    monkeypatch.setattr(sim, "download", recorded)
    monkeypatch.setattr(sim, "fetch_object", recorded_held)
    report = update(game, second, options)
    assert tree(game) == tree(folders[1])
    assert report.patches_applied >= 3
    assert asked[chunk.compressed_md5] is None
    assert chunk.compressed_md5 in held  # streamed through memory, never a file
    checked = [name for name, md5 in asked.items() if md5 is not None]
    assert checked and all(asked[name] == name for name in checked)  # the patch chunks
    assert len(checked) < len(asked)


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: body[: len(body) // 2],
        _flipped,
        lambda body: zlib.compress(b"other" * 1000),
        lambda body: zlib.compress(bytes(5 * MB + 3)),
    ],
    ids=["torn", "flipped", "other size", "right size other data"],
)
def test_an_object_damaged_on_the_way_is_checked_and_fetched_again_by_the_same_run(
    published: tuple[Path, list[Path]], tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    """Unchecked on arrival, a damaged object shows when it will not inflate, inflates to
    the wrong size, or (a valid stream of other data of the right size) gives its file
    the wrong hash: the file's objects are then checked, the damaged one fetched again
    with its md5 checked, and the file written again, all in the same run."""
    folders = published[1]
    game = tmp_path / "game"
    sim, options, second = at_first_build(published, game)
    chunk = _added_chunk(game, second, options)
    path = "/" + layout.store_rel(PRODUCT, chunk.compressed_md5)
    sim.clear()
    sim.damage(path, damage, times=1)
    update(game, second, options)
    assert tree(game) == tree(folders[1])
    assert sim.count(path) == 2
    assert sim.twice() == [path.lstrip("/")]


def _stager(repo: Path, game: Path, sim: RepositorySimulator) -> Stager:
    return Stager(GameDir(game), RepoSource(BASE_URL, sim), sim, PRODUCT, jobs=1)


def _chunk_refs(repo: Path) -> list[ObjectRef]:
    """A few of the repository's real file chunks."""
    refs = []
    for path in sorted((repo / "content-system/v2/store").rglob("*"))[:3]:
        if path.is_file():
            body = path.read_bytes()
            data = zlib.decompress(body)
            md5 = hashlib.md5(body).hexdigest()
            refs.append(
                ObjectRef(Chunk(hashlib.md5(data).hexdigest(), len(data), md5, len(body)), False)
            )
    return refs


def test_a_lost_patch_chunk_is_reported_and_the_downloads_go_on(
    published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    repo, _ = published
    sim = RepositorySimulator(repo)
    game = tmp_path / "game"
    game.mkdir()
    stager = _stager(repo, game, sim)
    gone = ObjectRef(Chunk("1" * 32, 10, "2" * 32, 20), True)  # a patch chunk: tolerated
    good = _chunk_refs(repo)
    with stager.start_downloads([gone, *good]) as downloads:
        failures = downloads.finish()
        assert isinstance(downloads.wait(gone), NotFoundError)
        assert all(downloads.wait(r) is None for r in good)
    assert list(failures) == ["2" * 32] and isinstance(failures["2" * 32], NotFoundError)
    assert all(stager.object_path(r).is_file() for r in good)
    assert stager.bytes_downloaded == sum(r.chunk.compressed_size for r in good)


def test_a_lost_file_chunk_stops_the_downloads_not_yet_started(
    published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    repo, _ = published
    sim = RepositorySimulator(repo)
    game = tmp_path / "game"
    game.mkdir()
    stager = _stager(repo, game, sim)
    gone = ObjectRef(Chunk("1" * 32, 10, "2" * 32, 20), False)  # a file chunk: fatal
    later = _chunk_refs(repo)
    with stager.start_downloads([gone, *later]) as downloads, pytest.raises(NotFoundError):
        downloads.finish()
    # One download thread: nothing after the lost chunk was even asked for.
    assert not any(
        sim.count("/" + layout.store_rel(PRODUCT, r.chunk.compressed_md5)) for r in later
    )
    assert not any(stager.object_path(r).exists() for r in later)
