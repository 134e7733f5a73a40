"""Which zlib library inflates and deflates: the one decision, made once per process.

Measured on this project's machine (DESIGN.md, "Measured facts"): ``isal`` inflates real
binaries 2.1× and ``zlib-ng`` 1.9× faster than the standard library's zlib, with identical
output, and ``zlib-ng`` deflates at level 6 about 2.5× faster than stdlib level 6 for about
4% more bytes. All three read and write plain zlib streams, so GOG's clients read what we
publish and we read what GOG publishes; only the speed differs. Each library is optional:
what is not installed falls back to stdlib zlib, which always works.

``SLIPSTREAM_ZLIB=stdlib`` in the environment forces the standard library (to compare, or
to rule the fast libraries out when chasing a bug).

Manifests and other documents stay on stdlib zlib (:mod:`core.format.zjson`): they are
small, and their bytes name them (the md5 of the compressed document), so they must come
out the same whichever libraries a publisher's machine has.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

__all__ = ["ACTIVE", "STDLIB", "Codec", "Inflater", "choose", "fastest"]


class Inflater(Protocol):
    """The part of ``zlib.decompressobj()`` we use; isal's and zlib-ng's have it too."""

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def unconsumed_tail(self) -> bytes: ...


@dataclass(frozen=True)
class Codec:
    """One choice of libraries: who inflates, who deflates, and the errors they raise."""

    inflate_name: str
    deflate_name: str
    decompressobj: Callable[[], Inflater]
    compress: Callable[[bytes, int], bytes]
    errors: tuple[type[Exception], ...]
    """What a damaged stream raises (isal's error is not a ``zlib.error``)."""


STDLIB = Codec("zlib", "zlib", zlib.decompressobj, zlib.compress, (zlib.error,))


def fastest() -> Codec:
    """isal to inflate and zlib-ng to deflate, each where installed, else stdlib zlib."""
    inflate_name, decompressobj = STDLIB.inflate_name, STDLIB.decompressobj
    deflate_name, compress = STDLIB.deflate_name, STDLIB.compress
    errors: list[type[Exception]] = [zlib.error]
    try:
        from zlib_ng import zlib_ng

        # zlib-ng inflates 1.9× stdlib: the second best, used when isal is missing.
        inflate_name, decompressobj = "zlib-ng", zlib_ng.decompressobj
        deflate_name, compress = "zlib-ng", zlib_ng.compress
        errors.append(cast(type[Exception], zlib_ng.error))  # typed as an instance
    except ImportError:
        pass
    try:
        from isal import isal_zlib

        # isal's deflate has only levels 0-3 (poorer ratios), so it only inflates.
        inflate_name, decompressobj = "isal", isal_zlib.decompressobj
        errors.append(cast(type[Exception], isal_zlib.error))
    except ImportError:
        pass
    return Codec(inflate_name, deflate_name, decompressobj, compress, tuple(errors))


def choose(environ: dict[str, str] | None = None) -> Codec:
    """The codec this process uses: :func:`fastest`, unless ``SLIPSTREAM_ZLIB=stdlib``."""
    env = os.environ if environ is None else environ
    if env.get("SLIPSTREAM_ZLIB", "").strip().lower() == "stdlib":
        return STDLIB
    return fastest()


ACTIVE = choose()
"""The codec every chunk inflate and deflate goes through (tests may swap it)."""
