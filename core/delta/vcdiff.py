"""Applying an xdelta3 (VCDIFF) delta, and the partial-file rule every codec's output keeps.

This is the part of xdelta3 that :mod:`core.delta.codecs` needs to decode a pack entry;
:mod:`core.delta.xdelta` (encoding, and the worker pool that runs every codec) builds on
it. pyxdelta reports failures only on file descriptor 2, so :func:`call_pyxdelta`
captures that descriptor for the length of a call.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pyxdelta

from core.errors import PatchDecodeError

__all__ = ["call_pyxdelta", "decode", "os_reason", "partial_path", "remove", "tidy"]

MESSAGE_LIMIT = 4000


def partial_path(final: Path) -> Path:
    """Where an encode or decode writes before renaming to ``final``.

    The name is fixed, so a leftover from a killed worker is found and replaced by the next
    call, and a caller can poll its size to draw a live bar during a long decode. Every
    codec uses it, so the pool cleans up after a dead worker whatever it was decoding.
    """
    name = f".{final.name}.xdelta-partial"
    if len(os.fsencode(name)) > 255:  # the usual file-name limit
        name = f".{hashlib.sha256(os.fsencode(final.name)).hexdigest()}.xdelta-partial"
    return final.with_name(name)


def decode(source: Path, patch: Path, out: Path) -> None:
    """Apply ``patch`` to ``source`` and write the result at ``out``.

    The output goes to a fresh partial file (decoding over an existing file was 15× slower)
    that is renamed to ``out`` only on success. Raises :class:`PatchDecodeError` carrying
    xdelta3's message. A wrong source is not always detected, so the caller verifies the
    output's hash. Captures file descriptor 2 (see :func:`call_pyxdelta`).
    """
    partial = partial_path(out)
    try:
        remove(partial)
        ok, message = call_pyxdelta(
            pyxdelta.decode, infile=str(source), patchfile=str(patch), outfile=str(partial)
        )
        if not ok:
            raise PatchDecodeError(
                f"{patch} on {source}: {message or 'xdelta3 printed no message'}"
            )
        os.replace(partial, out)
    except OSError as exc:
        raise PatchDecodeError(f"{patch} on {source}: {os_reason(exc)}") from exc
    finally:
        with suppress(OSError):
            remove(partial)


def os_reason(exc: OSError) -> str:
    """``file: reason.`` for a message."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}."


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def call_pyxdelta(fn: Callable[..., object], **paths: str) -> tuple[bool, str]:
    """Call a pyxdelta function; return its verdict and what it printed on fd 2.

    Pointing descriptor 2 elsewhere is process-wide, which is fine in a worker process
    (see :class:`core.delta.xdelta.PatchPool`), where these calls are meant to run."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            try:
                ok = bool(fn(**paths))
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        capture.seek(0)
        return ok, tidy(capture.read(MESSAGE_LIMIT))


def tidy(message: bytes) -> str:
    """A tool's stderr as one line, capped."""
    lines = message.decode("utf-8", "replace").strip().splitlines()
    return " ".join(line.strip() for line in lines if line.strip())[:MESSAGE_LIMIT]
