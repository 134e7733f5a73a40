"""zlib-compressed JSON, the encoding of every GOG manifest, read strictly and with caps.

Reading never trusts the input: the inflated size is capped *while* inflating (a 10 kB
zlib bomb never allocates its 10 GB), duplicate keys, NaN/Infinity, invalid UTF-8 and
trailing garbage are refused, and every failure is a :class:`FormatError` naming the
document. Writing is canonical (sorted keys, compact separators), so publishing the same
content twice gives the same bytes and therefore the same content address.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from core.errors import FormatError, LimitExceededError
from core.format import zlibs

ZLIB_LEVEL = 6  # zlib's default: the "78 9c" header GOG's own documents carry


def inflate(data: bytes, cap: int, what: str) -> bytes:
    """Inflate one complete zlib stream, refusing more than ``cap`` output bytes.

    One call with an output limit: a bomb stops at ``cap + 1`` bytes, and honest data
    inflates at full speed (stepping 1 MiB at a time was three times slower). The library
    is :data:`core.format.zlibs.ACTIVE`'s."""
    codec = zlibs.ACTIVE
    inflater = codec.decompressobj()
    try:
        out = inflater.decompress(data, cap + 1)
    except codec.errors as exc:
        raise FormatError(f"{what} is not a valid zlib stream ({exc}).") from None
    if len(out) > cap:
        raise LimitExceededError(f"{what} inflates to more than {cap} bytes.")
    if not inflater.eof:
        raise FormatError(f"{what} is a truncated zlib stream.")
    if inflater.unused_data:
        raise FormatError(f"{what} has {len(inflater.unused_data)} bytes after its zlib stream.")
    return out


def is_zlib(data: bytes) -> bool:
    """True when ``data`` starts with a zlib header (deflate, valid check bits)."""
    return (
        len(data) >= 2
        and data[0] & 0x0F == 8
        and data[0] >> 4 <= 7
        and (data[0] << 8 | data[1]) % 31 == 0
    )


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes, what: str, cap: int) -> Any:
    """Parse a document that is either a zlib stream of JSON or plain JSON (GOG clients
    accept both), with the inflated size capped at ``cap`` bytes."""
    if len(data) > cap:
        raise LimitExceededError(f"{what} is larger than {cap} bytes.")
    text_bytes = inflate(data, cap, what) if is_zlib(data) else data
    try:
        text = text_bytes.decode("utf-8")
        return json.loads(
            text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant
        )
    except _DuplicateKey as exc:
        raise FormatError(f"{what} repeats the key {exc.args[0]!r}.") from None
    except UnicodeDecodeError:
        raise FormatError(f"{what} is not valid UTF-8 text.") from None
    except RecursionError:
        raise FormatError(f"{what} is nested too deeply.") from None
    except ValueError as exc:
        raise FormatError(f"{what} is not valid JSON ({exc}).") from None


def dumps_plain(doc: Any) -> bytes:
    """Canonical compact JSON bytes."""
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def dumps(doc: Any) -> bytes:
    """Canonical compact JSON, zlib-compressed as GOG stores manifests.

    Always stdlib zlib: a document is named by the md5 of these bytes, so they must not
    depend on which faster libraries the publishing machine has."""
    return zlib.compress(dumps_plain(doc), ZLIB_LEVEL)
