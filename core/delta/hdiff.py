"""HDiffPatch deltas (the ``hdiffpatch`` package): make them, apply them.

Why beside xdelta3: on binaries that changed by recompilation (addresses shifted all
over), HDiffPatch's matcher and a zstd pass over its streams made deltas 0.41× the size
of ``xdelta3 -9 -S none`` and zlib (bench/README.md, "bench_packs.py").

Why a size bound: the package works on ``bytes`` in memory. Applying holds the source,
the delta and the result at once (about twice the file), and encoding holds both files
and a suffix array of the source besides. Files above :data:`HDIFF_MAX_BYTES` are
therefore never encoded, and a delta that would produce one is refused before anything
is allocated: its header names both sizes, and :func:`decode` reads them first.

Both functions run in worker processes (:class:`core.delta.xdelta.PatchPool`): the C++
code holds the GIL and may crash on hostile input. Each writes a partial file next to its
result and renames it into place, so an interrupted call leaves nothing half-written.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import hdiffpatch

from core.delta.vcdiff import os_reason, partial_path, remove
from core.errors import PatchDecodeError, PatchEncodeError

__all__ = ["COMPRESSION", "HDIFF_MAX_BYTES", "DiffHeader", "decode", "encode", "read_header"]

HDIFF_MAX_BYTES = 24 * 2**20
"""Largest source or target handled with HDiffPatch. Applying a delta between two 24 MiB
files peaks at 95-99 MB of RSS in the worker, as much as pyxdelta's fixed buffers (95 MB),
so a worker needs no more than it did for xdelta3; 32 MiB peaked at 123 MB and 64 MiB at
215 MB (bench/README.md, "bench_packs.py")."""

COMPRESSION = hdiffpatch.ZStdConfig(level=19, window=23)
"""How the delta's streams are compressed. On the recompiled binaries of bench_packs.py,
zstd 19 made 12 % smaller deltas than zstd 3 and lzma 9 2 % smaller than zstd 19 but
decoded at half its speed (bench/README.md, "bench_packs.py"). The window caps what a decoder
allocates for zstd at 8 MiB."""

_MAGIC = b"HDIFF13&"
_HEADER_BYTES = 64


@dataclass(frozen=True)
class DiffHeader:
    """What an HDiffPatch compressed diff says of itself before any work."""

    compressor: str
    target_size: int
    source_size: int


def read_header(head: bytes) -> DiffHeader:
    """Parse the start of a compressed diff: ``HDIFF13&``, the compressor's name and a NUL,
    then the target's and the source's size, each a big-endian base-128 number whose bytes
    other than the last have the top bit set (HDiffPatch's ``packUInt``). Raises
    :class:`ValueError` on anything else."""
    if not head.startswith(_MAGIC):
        raise ValueError("it is not an HDiffPatch diff (no HDIFF13& header)")
    end = head.find(b"\0", len(_MAGIC))
    if end < 0 or end - len(_MAGIC) > 16:
        raise ValueError("its header names no compressor")
    compressor = head[len(_MAGIC) : end].decode("ascii", "replace")
    at = end + 1
    sizes = []
    for _ in range(2):
        value = 0
        for count in range(10):
            if at >= len(head):
                raise ValueError("its header is cut short")
            byte = head[at]
            at += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
            if count == 9:
                raise ValueError("its header holds an oversized number")
        sizes.append(value)
    return DiffHeader(compressor, sizes[0], sizes[1])


def encode(source: Path, target: Path, out: Path) -> None:
    """Write at ``out`` a compressed diff that turns ``source`` into ``target``.

    Raises :class:`PatchEncodeError` naming the files when either is larger than
    :data:`HDIFF_MAX_BYTES`, cannot be read, or HDiffPatch fails. The diff is checked by
    applying it before it is written (HDiffPatch's ``validate``): a wrong delta would cost
    every client a fallback download."""
    what = f"{source} → {target}"
    partial = partial_path(out)
    try:
        for path in (source, target):
            if path.stat().st_size > HDIFF_MAX_BYTES:
                raise PatchEncodeError(
                    f"{what}: {path} is larger than HDiffPatch's bound of "
                    f"{HDIFF_MAX_BYTES} bytes; xdelta3 handles it."
                )
        old, new = source.read_bytes(), target.read_bytes()
        try:
            diff = hdiffpatch.diff(old, new, compression=COMPRESSION, validate=True)
        except (hdiffpatch.HDiffPatchError, MemoryError) as exc:
            raise PatchEncodeError(f"{what}: HDiffPatch: {exc or type(exc).__name__}") from exc
        del old, new
        remove(partial)
        partial.write_bytes(diff)
        os.replace(partial, out)
    except OSError as exc:
        raise PatchEncodeError(f"{what}: {os_reason(exc)}") from exc
    finally:
        with suppress(OSError):
            remove(partial)


def decode(source: Path, delta: Path, out: Path) -> None:
    """Apply the compressed diff ``delta`` to ``source`` and write the result at ``out``.

    The diff's header is read first: a diff for a source of another size, or for a
    result larger than :data:`HDIFF_MAX_BYTES`, is refused before anything is allocated.
    Raises :class:`PatchDecodeError` carrying HDiffPatch's message; the caller verifies
    the result's hash (a wrong source of the right size is not always detected)."""
    what = f"{delta} on {source}"
    partial = partial_path(out)
    try:
        with open(delta, "rb") as file:
            head = file.read(_HEADER_BYTES)
        try:
            header = read_header(head)
        except ValueError as exc:
            raise PatchDecodeError(f"{what}: HDiffPatch: {exc}.") from None
        source_size = source.stat().st_size
        if header.source_size != source_size:
            raise PatchDecodeError(
                f"{what}: HDiffPatch: the delta is for a source of {header.source_size} "
                f"bytes, this one has {source_size}."
            )
        if delta.stat().st_size > 2 * HDIFF_MAX_BYTES:  # an honest one is under the target
            raise PatchDecodeError(
                f"{what}: HDiffPatch: the delta is larger than any made for files of at most "
                f"{HDIFF_MAX_BYTES} bytes."
            )
        if max(header.target_size, source_size) > HDIFF_MAX_BYTES:
            raise PatchDecodeError(
                f"{what}: HDiffPatch: the delta makes a file of {header.target_size} bytes "
                f"from one of {source_size}; above {HDIFF_MAX_BYTES} bytes only xdelta3 "
                "is used."
            )
        old, diff = source.read_bytes(), delta.read_bytes()
        try:
            new = hdiffpatch.apply(old, diff)
        except (hdiffpatch.HDiffPatchError, MemoryError) as exc:
            raise PatchDecodeError(f"{what}: HDiffPatch: {exc or type(exc).__name__}") from exc
        del old, diff
        remove(partial)
        partial.write_bytes(new)
        os.replace(partial, out)
    except OSError as exc:
        raise PatchDecodeError(f"{what}: {os_reason(exc)}") from exc
    finally:
        with suppress(OSError):
            remove(partial)
