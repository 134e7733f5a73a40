"""ObjectStore.chunk_stream: one-chunk streams on the calling thread, longer ones in the pool."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.errors import LocalIOError
from core.format import layout
from core.publish import store as store_module
from core.publish.store import ChunkedData, ObjectStore

PRODUCT = "1207658924"


def rel(md5: str) -> str:
    return layout.store_rel(PRODUCT, md5)


def pieces(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


def content(seed: int, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        out += hashlib.sha256(f"{seed}-{len(out)}".encode()).digest() * 4
    return bytes(out[:size])


def check(store: ObjectStore, data: bytes, got: ChunkedData) -> None:
    assert got.md5 == hashlib.md5(data).hexdigest()
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.size == len(data)
    rebuilt = b""
    for chunk in got.chunks:
        body = store.layout.path(rel(chunk.compressed_md5)).read_bytes()
        assert hashlib.md5(body).hexdigest() == chunk.compressed_md5
        raw = zlib.decompress(body)  # plain zlib streams, as GOG's clients read them
        assert hashlib.md5(raw).hexdigest() == chunk.md5
        assert len(raw) == chunk.size
        rebuilt += raw
    assert rebuilt == data


def test_one_chunk_streams_from_many_threads_store_plain_zlib_objects(tmp_path: Path) -> None:
    files = [content(n, 500 + 3_000 * n) for n in range(24)]
    seen: list[int] = []
    with ObjectStore(layout.RepoLayout(tmp_path), jobs=2, fsync=False) as store:

        def one(data: bytes) -> ChunkedData:
            return store.chunk_stream(pieces(data), len(data), rel, on_bytes=seen.append)

        with ThreadPoolExecutor(4) as threads:
            results = list(threads.map(one, files))
        for data, got in zip(files, results, strict=True):
            assert len(got.chunks) == 1
            assert got.chunks[0].md5 == got.md5  # one md5 for the file and its chunk
            check(store, data, got)
        again = store.chunk_stream(pieces(files[3]), len(files[3]), rel)
    assert again == results[3]
    assert sorted(seen) == sorted(len(f) for f in files)
    assert store.stats.objects_written == len(files)


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    data = content(7, 5_000)
    with ObjectStore(layout.RepoLayout(tmp_path), jobs=2, fsync=False) as store:
        got = store.chunk_stream(pieces(data), len(data), rel, write=False)
    assert not store.layout.path(rel(got.chunks[0].compressed_md5)).exists()
    assert store.stats.objects_written == 0


def test_streams_of_several_chunks_are_cut_and_stored_in_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHUNK_BYTES", 1_000)
    files = [content(n, 4_500 + 1_700 * n) for n in range(12)]
    with ObjectStore(layout.RepoLayout(tmp_path), jobs=2, fsync=False) as store:
        with ThreadPoolExecutor(4) as threads:
            results = list(
                threads.map(lambda d: store.chunk_stream(pieces(d, 700), len(d), rel), files)
            )
        for data, got in zip(files, results, strict=True):
            assert [c.size for c in got.chunks] == store_module.chunk_spans(len(data))
            check(store, data, got)


@pytest.mark.parametrize("chunk_bytes", [1_000, 10 * 2**20])
@pytest.mark.parametrize("delta", [-1, 1])
def test_a_stream_of_another_size_fails_and_leaves_the_store_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, delta: int
) -> None:
    monkeypatch.setattr(store_module, "CHUNK_BYTES", chunk_bytes)
    data = content(1, 5_000)
    with ObjectStore(layout.RepoLayout(tmp_path), jobs=2, fsync=False) as store:
        # More failures than the store has slots for chunks in flight: none may leak.
        for _ in range(8):
            with pytest.raises(LocalIOError, match="changed size"):
                store.chunk_stream(pieces(data), len(data) + delta, rel)
        check(store, data, store.chunk_stream(pieces(data), len(data), rel))
