"""Static-file rules of ``slipstream serve``: safe paths, validators and byte ranges.

Pure functions and small file helpers, no sockets: the request handler in
:mod:`core.serve.server` strings them together. The safety rules are deliberately stricter than
any path the repository layout produces, so a request either names a published object
or document exactly, or it is a 404.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from core.errors import LimitExceededError
from core.format import layout

# Every name the layout writes (md5s, digits, os names, ``builds.json``…) fits this. No
# leading dot, so ``.``, ``..``, ``.slipstream`` and publisher temp files never match; no
# ``/``, ``\``, ``:``, ``%``, NUL or control characters, so nothing decoded can escape.
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # POSIX: refuse a symlink swapped in after the checks
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not hang the handler
    | getattr(os, "O_BINARY", 0)  # Windows
    | getattr(os, "O_CLOEXEC", 0)
)
_RANGE = re.compile(r"bytes=[ \t]*([0-9]{0,19})[ \t]*-[ \t]*([0-9]{0,19})[ \t]*")


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``start``–``end`` of a representation of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable:
    """The ``Range`` asks only for bytes past the end: answer 416."""


UNSATISFIABLE = Unsatisfiable()


def split_target(target: str) -> tuple[list[str], str] | None:
    """Split a raw request target into percent-decoded path segments and the raw query.

    Decodes each segment exactly once, after splitting, so ``%2f`` cannot make a new
    segment and ``%252e`` stays a literal (and unsafe) ``%2e``. Returns ``None`` for
    anything that is not an origin-form path made only of safe segments.
    """
    if not target.startswith("/"):
        return None  # absolute-form, authority-form or ``*``: we are not a proxy
    path, _, query = target.partition("?")
    segments = []
    for raw in path[1:].split("/"):
        try:
            segment = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        if not _SAFE_SEGMENT.fullmatch(segment):
            return None
        segments.append(segment)
    return segments, query


def is_served(segments: Sequence[str]) -> bool:
    """Whether the path lies under one of :data:`core.format.layout.SERVED_ROOTS`."""
    rel = "/".join(segments)
    return any(rel.startswith(prefix) for prefix in layout.SERVED_ROOTS)


def lstat_chain(root: Path, segments: Sequence[str]) -> os.stat_result | None:
    """``lstat`` of ``root/segments``, or ``None`` if it is missing or any component is a
    symlink. ``root`` must already be a real path (no symlinks of its own)."""
    path = root
    result = None
    for segment in segments:
        path = path / segment
        try:
            result = os.lstat(path)
        except (OSError, ValueError):
            return None
        if stat.S_ISLNK(result.st_mode):
            return None
    if result is None:
        return None
    real = os.path.realpath(path)
    if os.path.commonpath([real, str(root)]) != str(root):
        return None  # belt and braces: the chain check above should make this impossible
    return result


def open_regular(root: Path, segments: Sequence[str]) -> tuple[BinaryIO, os.stat_result] | None:
    """Open ``root/segments`` for reading if it is a regular file reached without any
    symlink, else ``None``. The caller closes the file."""
    checked = lstat_chain(root, segments)
    if checked is None or not stat.S_ISREG(checked.st_mode):
        return None  # a directory is a 404: nothing is ever listed
    try:
        fd = os.open(root.joinpath(*segments), _OPEN_FLAGS)
    except OSError:
        return None
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
        os.close(fd)  # swapped between the check and the open
        return None
    return os.fdopen(fd, "rb"), opened


def open_served(root: Path, segments: Sequence[str]) -> tuple[BinaryIO, os.stat_result] | None:
    """:func:`open_regular`, for paths under the served roots only."""
    return open_regular(root, segments) if is_served(segments) else None


def read_document(root: Path, rel: str, limit: int) -> bytes | None:
    """The bytes of the layout document ``rel`` (safe-opened), or ``None`` if it is absent.

    Raises :class:`LimitExceededError` if the file is larger than ``limit`` bytes.
    """
    opened = open_regular(root, rel.split("/"))
    if opened is None:
        return None
    file, _ = opened
    with file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise LimitExceededError(f"{rel} is larger than {limit} bytes.")
    return data


def etag_of(st: os.stat_result) -> str:
    """A strong ETag from size and modification time (documents change by atomic rename)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def http_date(st: os.stat_result) -> str:
    """The ``Last-Modified`` value of a file."""
    return formatdate(st.st_mtime, usegmt=True)


def _etag_listed(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §8.8.3.2) of ``etag`` against an If-None-Match list."""
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, st: os.stat_result
) -> bool:
    """Whether a GET or HEAD with these validators gets a 304 (RFC 9110 §13.2.2)."""
    if if_none_match is not None:
        return _etag_listed(if_none_match, etag_of(st))
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since).timestamp()
    except (TypeError, ValueError):
        return False
    return int(st.st_mtime) <= since


def if_range_allows(if_range: str | None, st: os.stat_result) -> bool:
    """Whether the ``Range`` may be honoured: no If-Range, or it names this exact file."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag_of(st)  # strong comparison: a weak tag never matches
    return value == http_date(st)


def parse_range(header: str, size: int) -> ByteRange | Unsatisfiable | None:
    """Interpret a ``Range`` header for a file of ``size`` bytes.

    Only one ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` is honoured. ``None`` means
    "ignore it and send the whole file", which RFC 9110 allows for multiple or malformed
    ranges; :data:`UNSATISFIABLE` means 416.
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - suffix), size - 1, size)
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec invalidates the whole header
    if start >= size:
        return UNSATISFIABLE
    end = min(int(last), size - 1) if last else size - 1
    return ByteRange(start, end, size)
