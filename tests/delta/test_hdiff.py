"""core.delta.hdiff and core.delta.codecs against real files and the real hdiffpatch package,
and pack entries decoded in PatchPool's worker processes."""

from __future__ import annotations

import errno
import multiprocessing
import os
import random
import signal
import time
import zlib
from pathlib import Path

import hdiffpatch
import pytest

from core.delta import hdiff
from core.delta.codecs import decode_entry, inflate_to
from core.delta.xdelta import EncodeJob, PatchPool, encode, partial_path
from core.errors import PatchDecodeError, PatchEncodeError

from .test_xdelta import edited, write_pair

MiB = 2**20


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


def code_like(seed: int, size: int) -> bytes:
    """Bytes that look like machine code: a small vocabulary of words, with addresses."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randrange(2, 9)) for _ in range(400)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words)
        if rng.random() < 0.2:
            out += rng.randrange(1 << 32).to_bytes(4, "little")
    return bytes(out[:size])


def shifted(data: bytes, seed: int) -> bytes:
    """``data`` as after recompiling: a few insertions and edits, and past the first
    insertion a displacement every 61 bytes one larger (code moved, its references follow)."""
    rng = random.Random(seed)
    out = bytearray(edited(data, seed, 10))
    inserts = sorted(rng.randrange(len(out)) for _ in range(5))
    for at in reversed(inserts):
        out[at:at] = rng.randbytes(rng.randrange(10, 200))
    for at in range(inserts[0], len(out), 61):
        out[at] = (out[at] + 1) % 256
    return bytes(out)


# --- in this process -----------------------------------------------------------------------


def test_roundtrip_smaller_than_the_file(tmp_path: Path) -> None:
    data = code_like(1, 2 * MiB)
    source, target = tmp_path / "old.so", tmp_path / "new.so"
    source.write_bytes(data)
    target.write_bytes(shifted(data, 2))
    delta, out = tmp_path / "d.hdiff", tmp_path / "out.so"

    hdiff.encode(source, target, delta)
    hdiff.decode(source, delta, out)

    assert out.read_bytes() == target.read_bytes()
    assert delta.stat().st_size < len(zlib.compress(target.read_bytes())) // 10
    header = hdiff.read_header(delta.read_bytes())
    assert header == hdiff.DiffHeader("zstd", target.stat().st_size, source.stat().st_size)
    assert leftovers(tmp_path) == []


def test_roundtrip_of_empty_and_unrelated_files(tmp_path: Path) -> None:
    for name, old, new in [
        ("empty-target", b"some bytes", b""),
        ("empty-source", b"", b"new bytes"),
        ("unrelated", random.Random(3).randbytes(5000), random.Random(4).randbytes(7000)),
    ]:
        source, target = tmp_path / f"{name}.old", tmp_path / f"{name}.new"
        source.write_bytes(old)
        target.write_bytes(new)
        delta, out = tmp_path / f"{name}.hdiff", tmp_path / f"{name}.out"
        hdiff.encode(source, target, delta)
        hdiff.decode(source, delta, out)
        assert out.read_bytes() == new, name


def test_header_sizes_need_several_bytes(tmp_path: Path) -> None:
    # 300 000 needs three base-128 digits: the reader must get the order right.
    source, target = write_pair(tmp_path, seed=5, size=300_000)
    delta = tmp_path / "d.hdiff"
    hdiff.encode(source, target, delta)

    assert hdiff.read_header(delta.read_bytes()).target_size == 300_000


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d[:40] + random.Random(6).randbytes(len(d) - 40), id="garbage"),
        pytest.param(lambda d: b"not a diff at all", id="not-hdiff"),
        pytest.param(lambda d: b"HDIFF13&zstd", id="header-cut"),
    ],
)
def test_corrupt_delta_raises_and_keeps_output(tmp_path: Path, spoil: object) -> None:
    source, target = write_pair(tmp_path, seed=7, size=400_000, edits=500)
    delta, out = tmp_path / "d.hdiff", tmp_path / "out.bin"
    hdiff.encode(source, target, delta)
    assert callable(spoil)
    delta.write_bytes(spoil(delta.read_bytes()))
    out.write_bytes(b"keep me")

    with pytest.raises(PatchDecodeError) as caught:
        hdiff.decode(source, delta, out)

    assert "HDiffPatch" in caught.value.detail and str(delta) in caught.value.detail
    assert out.read_bytes() == b"keep me"
    assert leftovers(tmp_path) == []


def test_delta_for_another_source_size_is_refused_unread(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=8, size=100_000)
    delta, out = tmp_path / "d.hdiff", tmp_path / "out.bin"
    hdiff.encode(source, target, delta)
    source.write_bytes(source.read_bytes() + b"x")

    with pytest.raises(PatchDecodeError, match="source of 100000 bytes"):
        hdiff.decode(source, delta, out)

    assert not out.exists()


def test_delta_claiming_a_huge_result_is_refused_before_allocating(tmp_path: Path) -> None:
    source = tmp_path / "old.bin"
    source.write_bytes(b"a" * 1000)
    # The header of a real diff whose target size was rewritten to 1 TiB.
    real = hdiffpatch.diff(b"a" * 1000, b"b" * 10, compression=hdiff.COMPRESSION)
    header = hdiff.read_header(real)
    start = len(b"HDIFF13&zstd\0") + 1  # the target's size is one byte for 10
    assert header.target_size == 10 and real[start - 1] == 10
    digits = [(1 << 40) >> (7 * i) & 0x7F for i in reversed(range(6))]
    huge = bytes([*(d | 0x80 for d in digits[:-1]), digits[-1]])
    delta = tmp_path / "d.hdiff"
    delta.write_bytes(real[: start - 1] + huge + real[start:])
    assert hdiff.read_header(delta.read_bytes()).target_size == 1 << 40

    with pytest.raises(PatchDecodeError, match="only xdelta3"):
        hdiff.decode(source, delta, tmp_path / "out.bin")


def test_files_above_the_bound_are_not_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hdiff, "HDIFF_MAX_BYTES", 50_000)
    source, target = write_pair(tmp_path, seed=9, size=60_000)
    delta = tmp_path / "d.hdiff"

    with pytest.raises(PatchEncodeError, match="larger than HDiffPatch's bound"):
        hdiff.encode(source, target, delta)

    assert not delta.exists() and leftovers(tmp_path) == []


def test_encode_of_a_missing_file_names_it(tmp_path: Path) -> None:
    _, target = write_pair(tmp_path, seed=10, size=1000)

    with pytest.raises(PatchEncodeError, match=r"no-such\.bin"):
        hdiff.encode(tmp_path / "no-such.bin", target, tmp_path / "d.hdiff")


# --- pack entries ----------------------------------------------------------------------


def xdelta3_entry(source: Path, target: Path, entry: Path) -> None:
    """An ``xdelta3`` pack entry: the VCDIFF delta in one zlib stream."""
    raw = entry.with_suffix(".vcdiff")
    encode(source, target, raw, cli_above=0)
    entry.write_bytes(zlib.compress(raw.read_bytes(), 9))
    raw.unlink()


def test_decode_entry_with_either_codec(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=11, size=300_000)
    made = tmp_path / "h.hdiff"
    hdiff.encode(source, target, made)
    packed = tmp_path / "x.entry"
    xdelta3_entry(source, target, packed)

    for codec, delta in (("hdiffpatch", made), ("xdelta3", packed)):
        out = tmp_path / f"{codec}.out"
        decode_entry(codec, source, delta, out, size_target=300_000)
        assert out.read_bytes() == target.read_bytes(), codec
    assert leftovers(tmp_path) == []


def test_unknown_codec_is_a_decode_error(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=12, size=1000)

    with pytest.raises(PatchDecodeError, match="'bsdiff' is not one of hdiffpatch, xdelta3"):
        decode_entry("bsdiff", source, target, tmp_path / "out")


def test_entry_for_another_target_size_is_refused(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=13, size=10_000)
    delta = tmp_path / "d.hdiff"
    hdiff.encode(source, target, delta)

    with pytest.raises(PatchDecodeError, match="the file should have 9999"):
        decode_entry("hdiffpatch", source, delta, tmp_path / "out", size_target=9999)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(zlib.compress(b"x" * 100)[:-5], "truncated", id="truncated"),
        pytest.param(zlib.compress(b"x" * 100) + b"more", "after its zlib", id="trailing"),
        pytest.param(b"\x78\x9c" + b"\xff" * 20, "not a valid zlib", id="garbage"),
        pytest.param(zlib.compress(b"\0" * 20 * MiB), "more than", id="bomb"),
    ],
)
def test_inflate_refuses_damaged_streams(tmp_path: Path, body: bytes, message: str) -> None:
    packed, out = tmp_path / "entry", tmp_path / "vcdiff"
    packed.write_bytes(body)

    with pytest.raises(PatchDecodeError, match=message):
        inflate_to(packed, out, cap=MiB)


def test_inflate_streams_a_large_entry(tmp_path: Path) -> None:
    data = random.Random(14).randbytes(3 * MiB) + b"\0" * (5 * MiB)
    packed, out = tmp_path / "entry", tmp_path / "vcdiff"
    packed.write_bytes(zlib.compress(data))

    inflate_to(packed, out)

    assert out.read_bytes() == data


def test_xdelta3_entry_that_is_not_zlib_fails_without_leftovers(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=15, size=10_000)
    raw = tmp_path / "raw.vcdiff"
    encode(source, target, raw)  # plain VCDIFF: the zlib wrapper is missing

    with pytest.raises(PatchDecodeError, match="zlib"):
        decode_entry("xdelta3", source, raw, tmp_path / "out")

    assert leftovers(tmp_path) == [] and not (tmp_path / "out").exists()


# --- in the worker processes -------------------------------------------------------------


def test_pool_encodes_and_decodes_hdiffpatch(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=16, size=500_000)
    delta, out = tmp_path / "d.hdiff", tmp_path / "out.bin"

    with PatchPool(jobs=2) as pool:
        (result,) = pool.encode_all([EncodeJob(source, target, delta, "hdiffpatch")])
        assert result.error is None and result.size == delta.stat().st_size
        pool.decode_entry("hdiffpatch", source, delta, out).result(timeout=60)
        with pytest.raises(PatchDecodeError, match="not one of"):
            pool.decode_entry("lzma", source, delta, tmp_path / "x").result(timeout=60)

    assert out.read_bytes() == target.read_bytes()
    assert multiprocessing.active_children() == []


def wait_for_reader(fifo: Path) -> int:
    """Wait until a process opens ``fifo`` to read; return our write end."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            assert exc.errno == errno.ENXIO, exc
            assert time.monotonic() < deadline, "no worker opened the source"
            time.sleep(0.01)


def test_pool_turns_a_crashing_decode_into_an_error_for_that_file(tmp_path: Path) -> None:
    # The source is a FIFO, so the worker blocks reading it; it is then killed the way a
    # crash in HDiffPatch's C++ code would kill it (SIGSEGV).
    target = tmp_path / "new.bin"
    target.write_bytes(random.Random(17).randbytes(10_000))
    delta, out, fine = tmp_path / "d.hdiff", tmp_path / "out.bin", tmp_path / "fine.bin"
    delta.write_bytes(hdiffpatch.diff(b"", target.read_bytes(), compression=hdiff.COMPRESSION))
    fifo = tmp_path / "old.fifo"
    os.mkfifo(fifo)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")

    with PatchPool(jobs=1) as pool:
        crashed = pool.decode_entry("hdiffpatch", fifo, delta, out)
        writer = wait_for_reader(fifo)
        try:
            for child in multiprocessing.active_children():
                os.kill(child.pid or 0, signal.SIGSEGV)
            with pytest.raises(PatchDecodeError, match="stopped unexpectedly"):
                crashed.result(timeout=60)
        finally:
            os.close(writer)
        # The next file gets fresh workers.
        pool.decode_entry("hdiffpatch", empty, delta, fine).result(timeout=60)

    assert not out.exists() and not partial_path(out).exists()
    assert fine.read_bytes() == target.read_bytes()
    assert multiprocessing.active_children() == []


def test_a_delta_larger_than_any_honest_one_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hdiff, "HDIFF_MAX_BYTES", 1000)
    source, target = write_pair(tmp_path, seed=18, size=900)
    delta = tmp_path / "d.hdiff"
    hdiff.encode(source, target, delta)
    with open(delta, "ab") as grown:
        grown.write(bytes(2000))

    with pytest.raises(PatchDecodeError, match="larger than any made"):
        hdiff.decode(source, delta, tmp_path / "out")
