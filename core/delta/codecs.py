"""The codecs a pack entry may name, and applying an entry with the one it names.

A pack entry (:mod:`core.format.pack`) is self-contained: an ``hdiffpatch`` entry is an
HDiffPatch compressed diff (:mod:`core.delta.hdiff`), an ``xdelta3`` entry a VCDIFF delta
in one zlib stream, as GOG's patch chunks are (:mod:`core.delta.vcdiff`). The client runs
:func:`decode_entry` in its worker processes through
:meth:`core.delta.xdelta.PatchPool.decode_entry`, never in its own process.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from core.delta import hdiff, vcdiff
from core.errors import PatchDecodeError
from core.format import zlibs

__all__ = ["CODECS", "decode_entry", "inflate_to"]

CODECS = ("hdiffpatch", "xdelta3")
"""Every codec an entry may name (the same list as :data:`core.format.pack.CODECS`)."""

_READ_BYTES = 1 << 20


def decode_entry(
    codec: str, source: Path, delta: Path, out: Path, *, size_target: int | None = None
) -> None:
    """Apply the pack entry ``delta``, made by ``codec``, to ``source``; write ``out``.

    ``size_target``, when the caller knows it, bounds the work: an ``hdiffpatch`` diff
    whose header names another size is refused unread, and an ``xdelta3`` entry may not
    inflate to more than the target could need. Raises :class:`PatchDecodeError` for an
    unknown codec and for any failure of the codec's own; ``out`` is then left as it was.
    """
    if codec == "hdiffpatch":
        if size_target is not None:
            _check_target(source, delta, size_target)
        hdiff.decode(source, delta, out)
    elif codec == "xdelta3":
        inflated = vcdiff.partial_path(delta.with_name(delta.name + ".vcdiff"))
        cap = None if size_target is None else size_target + size_target // 4 + (1 << 20)
        try:
            inflate_to(delta, inflated, cap)
            vcdiff.decode(source, inflated, out)
        finally:
            with suppress(OSError):
                vcdiff.remove(inflated)
    else:
        raise PatchDecodeError(
            f"{delta} on {source}: the codec {codec!r} is not one of {', '.join(CODECS)}."
        )


def _check_target(source: Path, delta: Path, size_target: int) -> None:
    try:
        with open(delta, "rb") as file:
            header = hdiff.read_header(file.read(64))
    except ValueError as exc:
        raise PatchDecodeError(f"{delta} on {source}: HDiffPatch: {exc}.") from None
    except OSError as exc:
        raise PatchDecodeError(f"{delta} on {source}: {vcdiff.os_reason(exc)}") from exc
    if header.target_size != size_target:
        raise PatchDecodeError(
            f"{delta} on {source}: HDiffPatch: the delta makes {header.target_size} bytes, "
            f"the file should have {size_target}."
        )


def inflate_to(packed: Path, out: Path, cap: int | None = None) -> None:
    """Inflate the one zlib stream in ``packed`` into ``out``, streaming, at most ``cap``
    bytes. Raises :class:`PatchDecodeError` for a damaged, truncated or oversized stream,
    or data after it."""
    what = f"{packed}"
    codec = zlibs.ACTIVE
    inflater = codec.decompressobj()
    written = 0
    try:
        with open(packed, "rb") as src, open(out, "wb") as dst:
            pending = b""
            while not inflater.eof:
                try:
                    # A bounded step: a bomb stops within 1 MiB of the cap.
                    data = inflater.decompress(pending, _READ_BYTES)
                except codec.errors as exc:
                    raise PatchDecodeError(f"{what}: not a valid zlib stream ({exc}).") from None
                pending = inflater.unconsumed_tail
                if data:
                    written += len(data)
                    if cap is not None and written > cap:
                        raise PatchDecodeError(f"{what}: inflates to more than {cap} bytes.")
                    dst.write(data)
                elif not pending and not (pending := src.read(_READ_BYTES)):
                    break
            trailing = len(inflater.unused_data) + len(pending) + len(src.read(1))
    except OSError as exc:
        raise PatchDecodeError(f"{what}: {vcdiff.os_reason(exc)}") from exc
    if not inflater.eof:
        raise PatchDecodeError(f"{what}: a truncated zlib stream.")
    if trailing:
        raise PatchDecodeError(f"{what}: data after its zlib stream.")
