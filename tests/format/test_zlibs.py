"""The zlib codec choice: the fast libraries and the stdlib fallback read and write the same
plain zlib streams, refuse the same damage, and the fallback is taken when they are missing."""

from __future__ import annotations

import hashlib
import random
import sys
import zlib
from pathlib import Path

import pytest

from core.errors import FormatError, LimitExceededError, RepositoryError
from core.format import layout, zjson, zlibs
from core.format.depot import Chunk, unpack_chunk
from core.publish.store import ObjectStore, read_pieces

CODECS = {"stdlib": zlibs.STDLIB, "fastest": zlibs.fastest()}


@pytest.fixture(params=sorted(CODECS))
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> zlibs.Codec:
    chosen = CODECS[request.param]
    monkeypatch.setattr(zlibs, "ACTIVE", chosen)
    return chosen


def sample(size: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(3, 12)) for _ in range(300)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words)
    return bytes(out[:size])


def test_the_fast_libraries_are_chosen_when_installed() -> None:
    pytest.importorskip("isal")
    pytest.importorskip("zlib_ng")
    fast = zlibs.choose({})
    assert (fast.inflate_name, fast.deflate_name) == ("isal", "zlib-ng")
    assert zlibs.choose({"SLIPSTREAM_ZLIB": "stdlib"}) is zlibs.STDLIB


def test_without_the_fast_libraries_stdlib_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as on a machine without the wheels.
    for name in ("isal", "isal.isal_zlib", "zlib_ng", "zlib_ng.zlib_ng"):
        monkeypatch.setitem(sys.modules, name, None)
    fallback = zlibs.fastest()
    assert (fallback.inflate_name, fallback.deflate_name) == ("zlib", "zlib")
    data = sample(100_000)
    assert zlib.decompress(fallback.compress(data, 6)) == data


def test_inflate_reads_stdlib_streams(codec: zlibs.Codec) -> None:
    data = sample(3 * 2**20)
    for level in (1, 6, 9):
        assert zjson.inflate(zlib.compress(data, level), len(data), "chunk") == data


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (zlib.compress(bytes(5 * 2**20), 9), LimitExceededError, "more than"),
        (zlib.compress(sample(50_000))[:-9], FormatError, "truncated"),
        (zlib.compress(sample(50_000)) + b"junk", FormatError, "after its zlib stream"),
        (b"\x78\x9c" + random.Random(4).randbytes(500), FormatError, "not a valid zlib"),
    ],
)
def test_inflate_refuses_damage_alike(
    codec: zlibs.Codec, body: bytes, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        zjson.inflate(body, 60_000, "chunk")


def test_published_chunks_are_plain_zlib_any_reader_inflates(
    codec: zlibs.Codec, tmp_path: Path
) -> None:
    data = sample(23 * 2**20, seed=7)  # two chunks, the second one larger
    source = tmp_path / "file.bin"
    source.write_bytes(data)
    root = layout.RepoLayout(tmp_path / "repo")
    with ObjectStore(root, jobs=2, fsync=False) as store:
        chunked = store.chunk_stream(
            read_pieces(source), len(data), lambda md5: layout.store_rel("1", md5)
        )
    assert chunked.sha256 == hashlib.sha256(data).hexdigest()
    rebuilt = b""
    for chunk in chunked.chunks:
        body = root.path(layout.store_rel("1", chunk.compressed_md5)).read_bytes()
        assert zjson.is_zlib(body) and hashlib.md5(body).hexdigest() == chunk.compressed_md5
        plain = zlib.decompress(body)  # the standard library reads what either wrote
        assert plain == unpack_chunk(body, chunk, "chunk")
        rebuilt += plain
    assert rebuilt == data


def test_a_chunk_with_other_data_is_refused(codec: zlibs.Codec) -> None:
    data = sample(70_000)
    body = codec.compress(data, 6)
    wrong = Chunk("0" * 32, len(data), hashlib.md5(body).hexdigest(), len(body))
    with pytest.raises(RepositoryError, match="other data"):
        unpack_chunk(body, wrong, "chunk")
