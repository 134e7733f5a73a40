"""PatchPool.start: the workers start on a thread of their own, before the first job, and
no worker outlives close() or terminate(), however soon after start() they come."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

import pytest

from core.delta.xdelta import PatchPool, encode


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
