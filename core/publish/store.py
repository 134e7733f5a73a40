"""Writing immutable, content-addressed objects into a repository.

Chunks are 10 MiB of file data each, the remainder merged into the last one, each its own
zlib stream stored under the md5 of its compressed bytes. Every object is written to a
temporary name in its final folder, fsynced and renamed, so a crash never leaves a torn
object under a real name. Compression and hashing release the GIL, so threads keep both
cores working: a stream of several chunks hands them to the store's pool, while a stream
that is one chunk (most files) is hashed, compressed and written on the calling thread,
its md5 computed once for the file and the chunk alike. Chunks are deflated by
:data:`core.format.zlibs.ACTIVE` (zlib-ng where installed): still plain zlib streams, so
any zlib reads them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import LocalIOError
from core.format import layout, zjson, zlibs
from core.format.depot import Chunk
from core.fs import atomic_write
from core.progress import NEVER_CANCELLED, CancelToken

CHUNK_BYTES = 10 * 2**20
ZLIB_LEVEL = 6
"""The deflate level of every chunk, whichever library deflates (see bench/README.md)."""
READ_BYTES = 1 << 20


def chunk_spans(size: int) -> list[int]:
    """Lengths of the chunks of a ``size``-byte file: 10 MiB each, the remainder merged
    into the last, so every chunk is under 20 MiB and small files are one chunk."""
    if size <= 0:
        return []
    count = max(1, size // CHUNK_BYTES)
    return [CHUNK_BYTES] * (count - 1) + [size - CHUNK_BYTES * (count - 1)]


@dataclass(frozen=True)
class ChunkedData:
    """The chunks of one file (or delta) and its whole-content hashes."""

    chunks: tuple[Chunk, ...]
    md5: str
    sha256: str
    size: int

    @property
    def compressed_size(self) -> int:
        return sum(c.compressed_size for c in self.chunks)


@dataclass
class StoreStats:
    objects_written: int = 0
    objects_reused: int = 0
    bytes_reused: int = 0
    bytes_written: int = 0


class ObjectStore:
    """A repository's object folders, written by a pool of ``jobs`` threads."""

    def __init__(self, root: layout.RepoLayout, jobs: int | None = None, fsync: bool = True):
        self.layout = root
        self.fsync = fsync
        self.stats = StoreStats()
        self._lock = threading.Lock()
        self.jobs = jobs or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=self.jobs)
        self._known: dict[tuple[str, int], Chunk] = {}
        # Chunks in the pool or waiting for it, over every stream at once (see chunk_stream).
        self._slots = threading.BoundedSemaphore(self.jobs * (self.jobs + 1))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def remember(self, chunks: Iterable[Chunk]) -> None:
        """Chunks already in the store: identical data is then not compressed again."""
        for chunk in chunks:
            self._known[(chunk.md5, chunk.size)] = chunk

    def put(self, rel: str, data: bytes) -> bool:
        """Store ``data`` at ``rel`` unless an object of that size is already there."""
        path = self.layout.path(rel)
        try:
            if path.is_file() and path.stat().st_size == len(data):
                with self._lock:
                    self.stats.objects_reused += 1
                    self.stats.bytes_reused += len(data)
                return False
            atomic_write(path, data, self.fsync)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write the repository object") from None
        with self._lock:
            self.stats.objects_written += 1
            self.stats.bytes_written += len(data)
        return True

    def put_document(self, doc: Any, patches: bool = False) -> str:
        """Store a manifest as zlib JSON under the md5 of its bytes; return that id."""
        data = zjson.dumps(doc)
        doc_id = hashlib.md5(data).hexdigest()
        self.put(layout.patch_meta_rel(doc_id) if patches else layout.meta_rel(doc_id), data)
        return doc_id

    def _store_chunk(
        self, data: bytes, rel_of: Callable[[str], str], write: bool, raw_md5: str | None = None
    ) -> Chunk:
        if raw_md5 is None:
            raw_md5 = hashlib.md5(data).hexdigest()
        known = self._known.get((raw_md5, len(data)))
        if known and self.layout.path(rel_of(known.compressed_md5)).is_file():
            with self._lock:
                self.stats.objects_reused += 1
                self.stats.bytes_reused += known.compressed_size
            return known
        body = zlibs.ACTIVE.compress(data, ZLIB_LEVEL)
        chunk = Chunk(raw_md5, len(data), hashlib.md5(body).hexdigest(), len(body))
        if write:
            self.put(rel_of(chunk.compressed_md5), body)
        return chunk

    def chunk_stream(
        self,
        pieces: Iterable[bytes],
        size: int,
        rel_of: Callable[[str], str],
        *,
        write: bool = True,
        on_bytes: Callable[[int], None] = lambda n: None,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> ChunkedData:
        """Cut ``size`` bytes arriving as ``pieces`` into chunks and store them at
        ``rel_of(compressed md5)``; with ``write=False`` only compute the chunks.

        Safe to call from several threads at once. A one-chunk stream is stored on the
        calling thread: handing it to the pool would only make this thread wait, and
        threads that hash while others compress keep every core busy (bench/README.md,
        "many files")."""
        spans = chunk_spans(size)
        if len(spans) == 1:
            return self._chunk_one(pieces, size, rel_of, write, on_bytes, cancel)
        whole_md5, whole_sha = hashlib.md5(), hashlib.sha256()
        futures: list[Future[Chunk]] = []
        # Bounds memory: at most jobs + 1 chunks (each under 20 MiB) of one stream, and
        # jobs × (jobs + 1) over all streams, are in flight.
        window = self.jobs + 1
        seen = 0
        try:
            for span, data in _cut(pieces, spans):
                cancel.raise_if_cancelled()
                whole_md5.update(data)
                whole_sha.update(data)
                seen += span
                self._slots.acquire()
                try:
                    future = self._pool.submit(self._store_chunk, data, rel_of, write)
                except BaseException:
                    self._slots.release()
                    raise
                future.add_done_callback(lambda _: self._slots.release())
                futures.append(future)
                pending = [f for f in futures if not f.done()]
                if len(pending) >= window:
                    pending[0].result()
                on_bytes(span)
            chunks = tuple(f.result() for f in futures)
        finally:
            for f in futures:
                f.cancel()  # a failure above: drop what has not started
        return ChunkedData(chunks, whole_md5.hexdigest(), whole_sha.hexdigest(), seen)

    def _chunk_one(
        self,
        pieces: Iterable[bytes],
        size: int,
        rel_of: Callable[[str], str],
        write: bool,
        on_bytes: Callable[[int], None],
        cancel: CancelToken,
    ) -> ChunkedData:
        """A stream that is one chunk, on this thread; the chunk's md5 is the stream's."""
        ((span, data),) = _cut(pieces, [size])
        cancel.raise_if_cancelled()
        md5 = hashlib.md5(data).hexdigest()
        sha256 = hashlib.sha256(data).hexdigest()
        chunk = self._store_chunk(data, rel_of, write, md5)
        on_bytes(span)
        return ChunkedData((chunk,), md5, sha256, span)


def _cut(pieces: Iterable[bytes], spans: list[int]) -> Iterator[tuple[int, bytes]]:
    """Regroup a byte stream into ``spans``; fail if the stream is shorter or longer."""
    it = iter(pieces)
    if len(spans) == 1:  # one chunk: join the pieces once, without a second copy
        data = b"".join(it)
        if len(data) != spans[0]:
            raise LocalIOError("A file changed size while it was being published.")
        yield spans[0], data
        return
    buffer = bytearray()
    for span in spans:
        while len(buffer) < span:
            piece = next(it, None)
            if piece is None:
                raise LocalIOError("A file changed size while it was being published.")
            buffer += piece
        yield span, bytes(buffer[:span])
        del buffer[:span]
    if buffer or next(it, b""):
        raise LocalIOError("A file changed size while it was being published.")


def read_pieces(path: Path) -> Iterator[bytes]:
    """A file's bytes in 1 MiB pieces, with read errors wrapped."""
    try:
        with open(path, "rb") as src:
            while piece := src.read(READ_BYTES):
                yield piece
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read") from None
