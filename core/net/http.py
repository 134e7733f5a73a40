"""The HTTP rules the fetcher applies, as pure functions over URLs, headers and exceptions.

Which statuses are retried, where a redirect may go, which ``Content-Range`` a resume
accepts, and how a network failure is told to a player in a few words.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import ssl
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_FOUND_STATUSES = frozenset({404, 410})
DENIED_STATUSES = frozenset({401, 403})
RETRY_AFTER_STATUSES = frozenset({429, 503})

NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
"""Everything the network stack raises (requests' own errors are OSErrors too)."""
BAD_ADDRESS_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    urllib3.exceptions.LocationValueError,  # a host name IDNA refuses (``a..b``) escapes requests
)
"""Failures no retry can fix: the URL or a header is malformed."""

_CONTENT_RANGE = re.compile(r"bytes ([0-9]+)-([0-9]+)/([0-9]+|\*)")
# Letters, digits, hyphens (and the underscores some CDN names carry), 63 at most a label.
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


class RefusedAddress(Exception):
    """A URL or redirect target that Slipstream will not fetch; the text says why."""


def redirect_target(current: str, location: str) -> str:
    """``location`` resolved against ``current``; RefusedAddress unless it is an http(s)
    URL that does not downgrade https to http."""
    location = location.strip()
    if not location:
        raise RefusedAddress("it redirects without saying where to")
    try:
        target = urljoin(current, location)
        scheme = urlsplit(target).scheme.lower()
    except ValueError as exc:
        raise RefusedAddress(f"it redirects to an invalid address ({exc})") from None
    if scheme not in ("http", "https"):
        raise RefusedAddress(f"{location!r} is not a web address Slipstream downloads from")
    if scheme == "http" and urlsplit(current).scheme.lower() == "https":
        raise RefusedAddress(f"it redirects from https to plain http ({target})")
    check_host(target)
    return target


def check_host(url: str) -> str:
    """The host of the http(s) URL ``url``, lowercase; RefusedAddress unless it is a
    well-formed DNS name or IP address (so a garbled one is never even looked up)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError as exc:
        raise RefusedAddress(f"{url!r} is not a valid address ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise RefusedAddress(f"{url!r} is not a web address Slipstream downloads from")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii").rstrip(".")
    except UnicodeError:
        name = ""
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(x) for x in name.split(".")):
        raise RefusedAddress(f"the host {host or url!r} in {url!r} is not valid")
    return host


def same_origin(first: str, second: str) -> bool:
    """True when both URLs name the same scheme, host and port (credentials may follow)."""
    a, b = urlsplit(first), urlsplit(second)
    return (a.scheme.lower(), a.netloc.lower()) == (b.scheme.lower(), b.netloc.lower())


def content_length(headers: Mapping[str, str]) -> int | None:
    """The declared body length, or ``None`` when absent or not a plain number."""
    value = headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def range_matches(headers: Mapping[str, str], start: int, size: int) -> bool:
    """True for ``Content-Range: bytes start-(size-1)/size`` (or ``/*``): the rest of
    exactly the object we asked for, from exactly where our file ends."""
    match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
    if not match:
        return False
    first, last, total = match.groups()
    return int(first) == start and int(last) == size - 1 and total in ("*", str(size))


def range_is(headers: Mapping[str, str], first: int, last: int) -> bool:
    """True for ``Content-Range: bytes first-last/total`` (any total, or ``*``)."""
    match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
    if not match:
        return False
    return (int(match.group(1)), int(match.group(2))) == (first, last)


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True if ``kind`` is among ``exc``'s causes (requests nests urllib3 nests socket)."""
    todo, seen = [exc], 0
    while todo and seen < 12:
        current = todo.pop()
        seen += 1
        if isinstance(current, kind):
            return True
        links = (getattr(current, "reason", None), current.__cause__, current.__context__)
        todo += [e for e in (*links, *current.args) if isinstance(e, BaseException)]
    return False


def describe(exc: BaseException) -> str:
    """A network failure in a few plain words."""
    # Most specific first: urllib3's NewConnectionError is a kind of ConnectTimeoutError.
    if caused_by(exc, urllib3.exceptions.NameResolutionError):
        return "server not found"
    if caused_by(exc, ConnectionRefusedError) or caused_by(
        exc, urllib3.exceptions.NewConnectionError
    ):
        return "could not connect"
    if caused_by(exc, TimeoutError) or caused_by(exc, urllib3.exceptions.TimeoutError):
        return "timed out"
    if caused_by(exc, ssl.SSLError):
        return "secure connection failed"
    return "connection lost"
