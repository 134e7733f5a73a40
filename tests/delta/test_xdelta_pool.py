"""PatchPool.start (the workers start on a thread of their own, before the first job, and
no worker outlives close() or terminate(), however soon after start() they come) and
PatchPool.decode_many and decode_entries (several small decodes in one job, each output
hashed there)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import signal
import threading
import time
import zlib
from pathlib import Path

import pytest

from core.delta import hdiff
from core.delta.xdelta import PatchPool, encode, partial_path
from core.errors import PatchDecodeError


def write_pair(folder: Path, seed: int, size: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    source, target = folder / f"{seed}.old", folder / f"{seed}.new"
    source.write_bytes(data)
    for _ in range(20):
        at = rng.randrange(size - 64)
        data[at : at + 64] = rng.randbytes(64)
    target.write_bytes(data)
    return source, target


def test_started_pool_decodes_and_stops_its_workers(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, 1, 200_000)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"
    encode(source, target, patch)

    with PatchPool(jobs=2) as pool:
        pool.start()
        pool.start()  # a second call does nothing more
        pool.decode(source, patch, out).result(timeout=60)

    assert out.read_bytes() == target.read_bytes()
    assert multiprocessing.active_children() == []


def test_close_and_terminate_right_after_start_leave_no_worker(tmp_path: Path) -> None:
    for stop in ("close", "terminate"):
        pool = PatchPool(jobs=2)
        pool.start()
        getattr(pool, stop)()
        assert multiprocessing.active_children() == [], stop
    # A pool stopped that way still works: its next job starts fresh workers.
    source, target = write_pair(tmp_path, 2, 50_000)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"
    encode(source, target, patch)
    with pool:
        pool.decode(source, patch, out).result(timeout=60)
    assert out.read_bytes() == target.read_bytes()
    assert multiprocessing.active_children() == []


def test_an_exception_leaving_a_started_pool_stops_it(tmp_path: Path) -> None:
    with pytest.raises(KeyError), PatchPool(jobs=1) as pool:
        pool.start()
        raise KeyError("caller failed")
    assert multiprocessing.active_children() == []


def test_decode_many_decodes_and_hashes_each_and_reports_each_failure(tmp_path: Path) -> None:
    items = []
    for seed, algorithm in ((3, "sha256"), (4, "md5"), (5, "sha256")):
        source, target = write_pair(tmp_path, seed, 30_000 + seed)
        patch = tmp_path / f"{seed}.vcdiff"
        encode(source, target, patch)
        items.append((source, patch, tmp_path / f"{seed}.out", algorithm))
    garbage = tmp_path / "garbage.vcdiff"
    garbage.write_bytes(random.Random(6).randbytes(4000))
    items.insert(1, (items[0][0], garbage, tmp_path / "garbage.out", "sha256"))

    with PatchPool(jobs=2) as pool:
        results = pool.decode_many(items).result(timeout=60)

    assert isinstance(results[1], PatchDecodeError) and "xdelta3" in results[1].detail
    assert not (tmp_path / "garbage.out").exists()
    for (_, _, out, algorithm), got in zip(items, results, strict=True):
        if out.name == "garbage.out":
            continue
        data = out.read_bytes()
        assert data == (tmp_path / f"{out.stem}.new").read_bytes()
        assert got == (len(data), hashlib.new(algorithm, data).hexdigest())
    assert list(tmp_path.glob(".*xdelta-partial")) == []
    assert multiprocessing.active_children() == []


def test_decode_many_whose_worker_dies_fails_whole_and_leaves_no_partial(tmp_path: Path) -> None:
    small = write_pair(tmp_path, 7, 20_000)
    big = write_pair(tmp_path, 8, 48 * 2**20)  # long enough to be killed mid-way
    items = []
    for n, (source, target) in enumerate((small, big)):
        patch = tmp_path / f"{n}.vcdiff"
        encode(source, target, patch)
        items.append((source, patch, tmp_path / f"{n}.out", "sha256"))

    def kill_workers_mid_job() -> None:
        deadline = time.monotonic() + 60
        while not partial_path(items[1][2]).exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)

    with PatchPool(jobs=1) as pool:
        killer = threading.Thread(target=kill_workers_mid_job)
        killer.start()
        with pytest.raises(PatchDecodeError, match="stopped unexpectedly"):
            pool.decode_many(items).result(timeout=60)
        killer.join()
        # The pool starts a fresh worker for the next job.
        (again,) = pool.decode_many(items[:1]).result(timeout=60)

    assert again == (20_000, hashlib.sha256(small[1].read_bytes()).hexdigest())
    assert not partial_path(items[1][2]).exists() and not items[1][2].exists()
    assert multiprocessing.active_children() == []


def test_decode_entries_decodes_both_codecs_hashes_each_and_reports_each_failure(
    tmp_path: Path,
) -> None:
    """Pack entries several to a job (a many-file update with packs): an HDiffPatch entry
    and a zlib'd xdelta3 entry, each decoded by the codec it names and hashed in the
    worker; an entry whose target size is wrong fails alone."""
    items = []
    for seed, codec in ((11, "hdiffpatch"), (12, "xdelta3")):
        source, target = write_pair(tmp_path, seed, 40_000 + seed)
        delta = tmp_path / f"{seed}.{codec}"
        if codec == "hdiffpatch":
            hdiff.encode(source, target, delta)
        else:
            plain = tmp_path / f"{seed}.vcdiff"
            encode(source, target, plain)
            delta.write_bytes(zlib.compress(plain.read_bytes()))
        size = target.stat().st_size
        items.append((codec, source, delta, tmp_path / f"{seed}.out", size, "sha256"))
    wrong = items[0]
    items.append((wrong[0], wrong[1], wrong[2], tmp_path / "wrong.out", wrong[4] + 1, "md5"))

    with PatchPool(jobs=1) as pool:
        results = pool.decode_entries(items).result(timeout=60)

    for (_, _, _, out, _, algorithm), got in zip(items[:2], results, strict=False):
        data = out.read_bytes()
        assert data == (tmp_path / f"{out.stem}.new").read_bytes()
        assert got == (len(data), hashlib.new(algorithm, data).hexdigest())
    assert isinstance(results[2], PatchDecodeError) and "makes" in results[2].detail
    assert not (tmp_path / "wrong.out").exists()
    assert multiprocessing.active_children() == []
