"""Chunks that stream through memory into the files being assembled (core/update/stage.py):
the memory they may hold, and what an interrupted run keeps for the next one (its staged
files, in ``downloads/staged``, kept chunk by chunk while each still matches its md5)."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec
from core.errors import CancelledError, InsufficientSpaceError
from core.format import layout
from core.format.depot import Chunk
from core.progress import NEVER_CANCELLED, CancelToken
from core.update import stage
from core.update.engine import install
from core.update.options import EngineOptions
from core.update.report import OperationReport
from core.update.target import open_target
from tests.support.helpers import tree
from tests.support.simulator import RepositorySimulator, publish_builds

PRODUCT = "1207664644"
MB = 1 << 20
pytestmark = [pytest.mark.usefixtures("home"), pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One build: a three-chunk file (10 + 10 + 12 MiB), two one-chunk files, a small one."""
    files = [
        FileSpec("data/big.pak", 31, 32 * MB),
        FileSpec("data/levels.pak", 32, 3 * MB + 777),
        FileSpec("Game.exe", 33, 2 * MB + 12_345, executable=True),
        FileSpec("readme.txt", 34, 2_000),
    ]
    repo, folders, _, _ = publish_builds(tmp_path_factory.mktemp("streamed"), PRODUCT, [files])
    return repo, folders[0]


def big_chunks(sim: RepositorySimulator) -> list[Chunk]:
    """The chunks of data/big.pak, from the build's own depot manifest."""
    opened = open_target(sim, sim.base_url, PRODUCT, "windows", build=None, branch=None)
    big = opened.target("en-US").files["data/big.pak"]
    assert len(big.chunks) == 3
    return list(big.chunks)


def chunk_url(chunk: Chunk) -> str:
    return "/" + layout.store_rel(PRODUCT, chunk.compressed_md5)


def cancel_before_last_chunk(sim: RepositorySimulator, game: Path, chunks: list[Chunk]) -> None:
    """Install with a cancel that comes as the last chunk of data/big.pak is asked for,
    once its first two are written into the staged file."""
    token = CancelToken()
    staged = game / ".slipstream" / "staging" / "data" / "big.pak"
    plain = sim.fetch_object

    def fetch(url: str, **kwargs: Any) -> bytes:
        if url.endswith(chunks[2].compressed_md5):
            written = chunks[0].size + chunks[1].size
            for _ in range(2000):
                if staged.exists() and staged.stat().st_size >= written:
                    break
                threading.Event().wait(0.01)
            token.cancel()
            raise CancelledError()
        return plain(url, **kwargs)

    sim.fetch_object = fetch  # type: ignore[method-assign]
    try:
        with pytest.raises(CancelledError):
            install(sim.base_url, PRODUCT, game, options=EngineOptions(transport=sim), cancel=token)
    finally:
        sim.fetch_object = plain  # type: ignore[method-assign]


@dataclass
class Cancelled:
    """An install cancelled as data/big.pak's last chunk was asked for."""

    sim: RepositorySimulator
    game: Path
    build: Path
    chunks: list[Chunk]

    @property
    def kept(self) -> Path:
        return self.game / ".slipstream" / "downloads" / "staged" / "data" / "big.pak"

    def rerun(self) -> OperationReport:
        """The same install again, with the simulator's log cleared first."""
        self.sim.clear()
        return install(
            self.sim.base_url, PRODUCT, self.game, options=EngineOptions(transport=self.sim)
        )


@pytest.fixture
def cancelled(published: tuple[Path, Path], tmp_path: Path) -> Cancelled:
    repo, build = published
    sim = RepositorySimulator(repo)
    game = tmp_path / "game"
    chunks = big_chunks(sim)
    cancel_before_last_chunk(sim, game, chunks)
    return Cancelled(sim, game, build, chunks)


def test_a_cancelled_install_keeps_its_staged_files_and_the_rerun_fetches_only_the_rest(
    cancelled: Cancelled,
) -> None:
    meta = cancelled.game / ".slipstream"
    chunks = cancelled.chunks
    assert not (meta / "staging").exists() or not any((meta / "staging").iterdir())
    assert cancelled.kept.stat().st_size == chunks[0].size + chunks[1].size
    report = cancelled.rerun()
    assert tree(cancelled.game) == tree(cancelled.build)
    sim = cancelled.sim
    assert sim.count(chunk_url(chunks[0])) == sim.count(chunk_url(chunks[1])) == 0
    assert sim.count(chunk_url(chunks[2])) == 1
    assert report.bytes_downloaded < report.bytes_planned
    assert not (meta / "downloads").exists()  # resume data goes with the downloads


def test_a_kept_file_damaged_in_its_second_chunk_keeps_only_the_first(
    cancelled: Cancelled,
) -> None:
    chunks = cancelled.chunks
    with open(cancelled.kept, "r+b") as damaged:  # a byte of the second chunk, as if torn
        damaged.seek(chunks[0].size + 1234)
        byte = damaged.read(1)
        damaged.seek(chunks[0].size + 1234)
        damaged.write(bytes([byte[0] ^ 0xFF]))
    cancelled.rerun()
    assert tree(cancelled.game) == tree(cancelled.build)
    sim = cancelled.sim
    assert sim.count(chunk_url(chunks[0])) == 0
    assert sim.count(chunk_url(chunks[1])) == sim.count(chunk_url(chunks[2])) == 1


def test_a_link_in_place_of_a_kept_file_is_never_followed(
    cancelled: Cancelled, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.pak"
    outside.write_bytes(cancelled.kept.read_bytes())  # the right bytes, not Slipstream's file
    cancelled.kept.unlink()
    os.symlink(outside, cancelled.kept)
    cancelled.rerun()
    assert tree(cancelled.game) == tree(cancelled.build)
    assert all(cancelled.sim.count(chunk_url(c)) == 1 for c in cancelled.chunks)
    whole = (cancelled.build / "data" / "big.pak").read_bytes()
    assert outside.read_bytes() == whole[: outside.stat().st_size]
    assert not (cancelled.game / "data" / "big.pak").is_symlink()


def test_chunks_held_in_memory_stay_within_the_budget_and_every_file_is_built(
    published: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for one object at a time, the downloads wait for the assembling threads
    (several files at once, in the order they read their chunks) and never deadlock."""
    repo, build = published
    sim = RepositorySimulator(repo)
    monkeypatch.setattr(stage, "MEMORY_BYTES", 1)
    peaks: list[int] = []
    take = stage._Budget.take

    def recorded(self: stage._Budget, *args: Any) -> None:
        take(self, *args)
        peaks.append(self._held)

    monkeypatch.setattr(stage._Budget, "take", recorded)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, options=EngineOptions(transport=sim, jobs=4))
    assert tree(game) == tree(build)
    largest = max(c.compressed_size for c in big_chunks(sim))
    assert len(peaks) >= 5 and max(peaks) <= largest  # one object in memory at a time
    assert sim.twice() == []


def test_the_budget_serves_tickets_in_order_and_skips_abandoned_ones() -> None:
    budget = stage._Budget(100)
    first, second, third = budget.ticket(), budget.ticket(), budget.ticket()
    stopped = threading.Event()
    order: list[int] = []

    def take(ticket: int, size: int) -> None:
        budget.take(ticket, size, stopped, NEVER_CANCELLED)
        order.append(ticket)

    late = threading.Thread(target=take, args=(third, 10))
    late.start()
    late.join(0.3)
    assert late.is_alive()  # its turn has not come: the first two are still waiting
    take(first, 95)
    budget.abandon([second])
    late.join(0.3)
    assert late.is_alive()  # its turn, but no room: 95 + 10 > 100
    budget.give(95)
    late.join(5)
    assert order == [first, third]
    stopped.set()
    with pytest.raises(CancelledError):
        budget.take(budget.ticket() + 1, 1, stopped, NEVER_CANCELLED)


def test_an_object_larger_than_held_objects_may_be_goes_to_downloads(
    published: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest may name chunks up to 257 MiB; one above HELD_OBJECT_BYTES is fetched
    into downloads/ as a file, never into memory."""
    repo, build = published
    sim = RepositorySimulator(repo)
    monkeypatch.setattr(stage, "HELD_OBJECT_BYTES", 1)
    held: list[str] = []
    plain = sim.fetch_object

    def fetch(url: str, **kwargs: Any) -> bytes:
        held.append(url)
        return plain(url, **kwargs)

    monkeypatch.setattr(sim, "fetch_object", fetch)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, options=EngineOptions(transport=sim))
    assert tree(game) == tree(build)
    assert held == []
    assert all(sim.count(chunk_url(c)) == 1 for c in big_chunks(sim))


def test_the_space_check_counts_the_kept_files_as_already_on_the_disk(
    cancelled: Cancelled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.update.engine

    class Usage:
        total, used, free = 10**12, 0, 1000

    def refused_need(game: Path) -> int:
        with pytest.raises(InsufficientSpaceError) as refused:
            install(
                cancelled.sim.base_url,
                PRODUCT,
                game,
                options=EngineOptions(transport=cancelled.sim),
            )
        found = re.search(r"needs ([\d,]+) bytes", str(refused.value))
        assert found is not None
        return int(found.group(1).replace(",", ""))

    monkeypatch.setattr(core.update.engine.shutil, "disk_usage", lambda path: Usage())
    fresh = refused_need(tmp_path / "fresh")
    resumed = refused_need(cancelled.game)  # the refusal leaves the kept file where it was
    # Every file the cancelled run had staged: whole, or (data/big.pak) its first two
    # chunks.
    resume_dir = cancelled.kept.parents[1]
    kept = {
        p.relative_to(resume_dir).as_posix(): p.stat().st_size
        for p in resume_dir.rglob("*")
        if p.is_file()
    }
    assert kept["data/big.pak"] == cancelled.chunks[0].size + cancelled.chunks[1].size
    assert len(kept) > 1
    assert fresh - resumed == sum(kept.values())
    Usage.free = resumed  # enough for the rest, not for all of it
    cancelled.rerun()
    assert tree(cancelled.game) == tree(cancelled.build)
