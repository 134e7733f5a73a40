"""The one network seam of the update engine: documents and objects over HTTP(S).

:class:`Fetcher` is shared by a pool of download threads. Its wire is the standard
library's ``http.client`` (core/net/plain.py: each thread keeps its connections alive,
and each read takes what the socket has, up to 1 MiB, where libcurl calls back every
16 kB), with libcurl through pycurl (core/net/curl.py) for origins reached through a
proxy, and for all with ``SLIPSTREAM_HTTP=curl``. A keep-alive ``requests.Session`` is
the wire where pycurl cannot be imported, when ``SLIPSTREAM_HTTP=requests`` is set, or
when the caller passes its own session. Every rule below is the same code on every
wire: the wire only sends a GET and hands back the answer's head and body. Every
call is bounded by :class:`~core.net.limits.FetchLimits`: connect and read timeouts, an
overall deadline, a slow-body watchdog, retries with jittered backoff, and a length cap
on every body. Redirects are followed here, one hop at a time, so none can leave
http(s) or downgrade https to http. Every foreign exception (requests, urllib3,
http.client, pycurl, OSError) is wrapped at this seam. Callers meet:

* :class:`~core.errors.NotFoundError`: HTTP 404 or 410, not retried.
* :class:`~core.errors.AccessDeniedError`: HTTP 401 or 403, not retried.
* :class:`~core.errors.HashMismatchError`: an object's md5 was wrong on the last try.
* :class:`~core.errors.DownloadError`: any other transport failure, once the tries, the
  deadline or the server's ``Retry-After`` rule out success; the message lists each
  failure. Also at once for a refused redirect or a redirect loop.
* :class:`~core.errors.LimitExceededError`: a document larger than its cap (not retried).
* :class:`~core.errors.FormatError`: ``get_json`` of a body that is not (zlib) JSON the
  same way twice (a body damaged differently each time ends as a DownloadError).
* :class:`~core.errors.LocalIOError`: the partial file could not be written.
* :class:`~core.errors.CancelledError`: the token was set; a partial object stays on
  disk and the next :meth:`Fetcher.download` resumes it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from core import __version__
from core.errors import (
    AccessDeniedError,
    HashMismatchError,
    LimitExceededError,
    LocalIOError,
    NotFoundError,
    UsageError,
)
from core.net import http as wire
from core.net.limits import (
    FetchLimits,
    RateLimiter,
    Tries,
    TryFailed,
    Watchdog,
    parse_retry_after,
)
from core.net.transport import Transport, ignore_bytes
from core.progress import NEVER_CANCELLED, CancelToken, either

try:
    from core.net import curl, plain

    _HAVE_CURL = True
except ImportError:  # no pycurl wheel for this platform: the requests wire
    _HAVE_CURL = False

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LIMITS", "FetchLimits", "Fetcher"]

BLOCK = 1 << 20
POOL_SIZE = 16
DEFAULT_LIMITS = FetchLimits()
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)

FREE_DOCUMENT_BYTES = 1 << 20
"""The first bytes of every document pass the rate limiter untaxed: the limit is for
content (chunks, deltas), and a throttled update must still show its plan at once."""


class _Overflow(Exception):
    """The body went on past its cap."""


class _Stop(Exception):
    """Raised by a body callback that has what it needs: the answer ends there."""


class _Head(Protocol):
    """What the rules read of an answer: a ``requests.Response`` or :class:`curl.Answer`."""

    status_code: int
    reason: str

    @property
    def headers(self) -> Mapping[str, str]: ...


HTTP_ENV = "SLIPSTREAM_HTTP"
"""``plain`` (the default): ``http.client``, and libcurl for proxied origins; ``curl``:
libcurl for all; ``requests``: the requests wire even where pycurl is installed."""


def curl_available() -> bool:
    """Whether the libcurl wire can be used here (pycurl imports)."""
    return _HAVE_CURL


class Fetcher(Transport):
    """Fetches documents and objects over HTTP(S); one instance is shared by the
    download threads.

    ``rate_limit`` caps the content bytes per second of all threads together (a
    document's first :data:`FREE_DOCUMENT_BYTES` are not counted). A ``session``
    passed in is used as it is (its own adapters) and left open by :meth:`close`."""

    def __init__(
        self,
        limits: FetchLimits = DEFAULT_LIMITS,
        *,
        rate_limit: float | None = None,
        session: requests.Session | None = None,
        user_agent: str = f"slipstream/{__version__}",
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        self.limits = limits
        self.cancel = cancel
        """Stops every call of this fetcher, beside each call's own token: the operation's
        token, for documents fetched deep inside sources that take none (a window's job
        must end within moments when the player quits, not after the retries)."""
        self._limiter = RateLimiter()
        self.set_rate_limit(rate_limit)
        self._owns_session = session is None
        self._session = session or _new_session()
        self._curl = _curl_wire() if session is None else None
        self._plain = _plain_wire() if self._curl is not None else None
        # identity: lengths and ranges then count the bytes we store, and no gzip bomb.
        self._headers = {
            "User-Agent": user_agent,
            "Accept-Encoding": "identity",
            "Accept": "*/*",
            "Connection": "keep-alive",
        }
        self._settings: dict[str, dict[str, Any]] = {}
        """Per origin: the proxies, CA bundle and netrc login the environment gives it."""
        self._origins: set[str] = set()
        """Origins (``scheme://host:port``) whose URLs passed :meth:`_checked`."""
        self._routes: dict[str, tuple[curl.Route, list[str]]] = {}
        """Per URL's origin, for the libcurl wire: its route and login header."""

    @property
    def wire(self) -> str:
        """Which HTTP client this fetcher uses: ``"plain"`` (and libcurl for proxied
        origins), ``"curl"`` or ``"requests"``."""
        if self._plain is not None:
            return "plain"
        return "curl" if self._curl is not None else "requests"

    def set_rate_limit(self, bytes_per_s: float | None) -> None:
        """Change the shared bandwidth cap (``None``: unlimited), also mid-download."""
        if bytes_per_s is not None and not bytes_per_s > 0:
            raise UsageError(f"The download rate limit must be above zero, not {bytes_per_s}.")
        self._limiter.set_rate(bytes_per_s)

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
        if self._curl is not None:
            self._curl.close()
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- documents ---------------------------------------------------------------------

    def get_bytes(
        self,
        url: str,
        *,
        max_bytes: int,
        what: str,
        headers: dict[str, str] | None = None,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> bytes:
        """The whole body at ``url``; LimitExceededError past ``max_bytes`` (no more than
        ``max_bytes + 1`` bytes are ever read)."""
        cap = min(max_bytes, self.limits.document_bytes)
        cancel = either(cancel, self.cancel)
        tries = Tries(self.limits, url, what)
        while True:
            cancel.raise_if_cancelled()
            try:
                return self._get_once(cap, headers or {}, tries, cancel)
            except TryFailed as failure:
                tries.failed(failure, cancel)

    def _get_once(
        self, cap: int, headers: dict[str, str], tries: Tries, cancel: CancelToken
    ) -> bytes:
        too_big = LimitExceededError(f"{tries.what} at {tries.url} is over {cap} bytes.")
        body: list[bytes] = []

        def answer(response: _Head) -> int:
            self._check_status(response, tries, ok=(200,))
            declared = wire.content_length(response.headers)
            if declared is not None and declared > cap:
                raise too_big
            return cap

        try:
            self._get(headers, tries, cancel, answer, body.append, free=FREE_DOCUMENT_BYTES)
        except _Overflow:
            raise too_big from None
        return b"".join(body)

    # --- objects -----------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest: Path,
        *,
        size: int,
        md5: str | None = None,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Stream the ``size``-byte object at ``url`` into the partial file ``dest``.

        Bytes already in ``dest`` are resumed with ``Range``; a server that ignores it or
        answers another range makes the file start over, so no misaligned byte is kept.
        ``dest`` never grows past ``size``. With ``md5`` the complete file is checked, and
        a wrong one deleted and fetched again, unless the server sent the same wrong bytes
        twice running: that is its copy, not a damaged transfer, and more tries (with their
        waits, 15 s of them by default) would only delay the caller's fallback or error, as
        :func:`core.net.transport.get_document` stops for documents. ``on_bytes(n)``
        reports each block written (network bytes: a resumed prefix is not reported, a
        refetched block is reported again). The caller renames ``dest`` once this returns."""
        cancel = either(cancel, self.cancel)
        tries = Tries(self.limits, url, what)
        wrong: str | None = None
        while True:
            cancel.raise_if_cancelled()
            try:
                with _Partial(dest) as part:
                    actual = self._download_once(part, size, md5, tries, on_bytes, cancel)
            except TryFailed as failure:
                tries.failed(failure, cancel)
                continue
            if md5 is None or actual == md5:
                return
            _Partial.remove(dest)
            assert actual is not None  # asked for, with md5
            wrong = _wrong_md5(tries, md5, actual, wrong, cancel)

    def fetch_object(
        self,
        url: str,
        *,
        size: int,
        md5: str | None = None,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
        spill: Path | None = None,
    ) -> bytes:
        """The ``size``-byte object at ``url``, in memory, for a caller that uses it at once
        and keeps no copy (core/update/stage.py streams the chunks of the files it
        assembles this way). The rules of :meth:`download`: a try cut short goes on with
        ``Range`` from the bytes already in memory, a server that ignores it or answers
        another range starts the object over, and with ``md5`` a wrong body is fetched
        again unless the server sent the same wrong bytes twice running. With ``spill``,
        the bytes received when it gives up (an error, a cancel) are written to that
        partial file, which :meth:`download` resumes. ``on_bytes(n)`` reports each block
        as it arrives."""
        cancel = either(cancel, self.cancel)
        tries = Tries(self.limits, url, what)
        wrong: str | None = None
        blocks: list[bytes] = []
        try:
            while True:
                cancel.raise_if_cancelled()
                try:
                    self._fetch_once(blocks, size, tries, on_bytes, cancel)
                except TryFailed as failure:
                    tries.failed(failure, cancel)
                    continue
                body = blocks[0] if len(blocks) == 1 else b"".join(blocks)
                if md5 is None:
                    return body
                actual = hashlib.md5(body).hexdigest()
                if actual == md5:
                    return body
                blocks.clear()
                wrong = _wrong_md5(tries, md5, actual, wrong, cancel)
        except BaseException:
            if spill is not None and blocks:
                _spill(spill, blocks)
            raise

    def _fetch_once(
        self,
        blocks: list[bytes],
        size: int,
        tries: Tries,
        on_bytes: Callable[[int], None],
        cancel: CancelToken,
    ) -> None:
        """One try of :meth:`fetch_object`, adding to ``blocks`` (the bytes so far)."""
        have = sum(len(b) for b in blocks)
        if have == size:
            return  # every byte came before the last try failed: nothing to ask for
        headers = {"Range": f"bytes={have}-"} if have else {}
        kept = len(blocks)

        def cut(length: int) -> None:  # to ``have`` (keep all) or to 0 (start over)
            if not length:
                blocks.clear()

        def answer(response: _Head) -> int:
            nonlocal kept
            start = self._resume_point(response, cut, have, size, tries)
            kept = len(blocks)
            return size - start

        def block(data: bytes) -> None:
            blocks.append(data)
            on_bytes(len(data))

        try:
            self._get(headers, tries, cancel, answer, block)
        except _Overflow:
            del blocks[kept:]  # this answer was some other, longer object
            raise TryFailed(f"more than {size} bytes") from None
        if sum(len(b) for b in blocks) < size:
            raise TryFailed("cut short")

    def _download_once(
        self,
        part: _Partial,
        size: int,
        md5: str | None,
        tries: Tries,
        on_bytes: Callable[[int], None],
        cancel: CancelToken,
    ) -> str | None:
        """One try; the md5 of the complete file when ``md5`` is wanted."""
        have = part.length()
        if have > size:
            part.truncate(0)
            have = 0
        if have == size:
            return part.md5_of_first(size) if md5 else None
        headers = {"Range": f"bytes={have}-"} if have else {}
        start = written = 0
        hasher: Any = None

        def answer(response: _Head) -> int:
            nonlocal start, written, hasher
            start = written = self._resume_point(response, part.truncate, have, size, tries)
            hasher = hashlib.md5() if md5 else None
            if hasher and start:
                hasher = part.hasher_of_first(start)
            return size - start

        def block(data: bytes) -> None:
            nonlocal written
            part.write(data)
            written += len(data)
            if hasher:
                hasher.update(data)
            on_bytes(len(data))

        try:
            self._get(headers, tries, cancel, answer, block)
        except _Overflow:
            part.truncate(start)  # this answer was some other, longer object
            raise TryFailed(f"more than {size} bytes") from None
        if written < size:
            raise TryFailed("cut short")
        return hasher.hexdigest() if hasher else None

    def _resume_point(
        self,
        response: _Head,
        cut: Callable[[int], None],
        have: int,
        size: int,
        tries: Tries,
    ) -> int:
        """Where the body goes: ``have`` for a 206 of exactly the rest, 0 for a 200. What
        was received so far is ``cut`` to that length (to 0 before a failure when the
        server's idea of the object differs), in a partial file or in memory."""
        status = response.status_code
        if status == 416 or (
            status == 206 and not wire.range_matches(response.headers, have, size)
        ):
            cut(0)  # the server's idea of the object differs: start over
            raise TryFailed("wrong byte range" if status == 206 else "HTTP 416")
        self._check_status(response, tries, ok=(200, 206))
        start = have if status == 206 else 0
        cut(start)
        declared = wire.content_length(response.headers)
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        if declared is not None and not encoded and declared != size - start:
            raise TryFailed(f"announced {declared} bytes instead of {size - start}")
        return start

    def download_range(
        self,
        url: str,
        dest: Path,
        *,
        start: int,
        length: int,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Stream bytes ``start`` to ``start + length`` of the object at ``url`` into the
        partial file ``dest``, with one ``Range`` request (resumed like :meth:`download`).

        The answer must be a 206 whose ``Content-Range`` is exactly the bytes asked for; a
        200 (a server that ignores ranges) is read up to the range's end and cut to it. Any
        other range is refused and asked for again; a short body is retried. No hash is
        checked here: the caller checks each piece of the range against its own md5.
        ``on_bytes`` reports every byte that came over the network, a 200's skipped prefix
        included."""
        cancel = either(cancel, self.cancel)
        tries = Tries(self.limits, url, what)
        while True:
            cancel.raise_if_cancelled()
            try:
                with _Partial(dest) as part:
                    self._range_once(part, start, length, tries, on_bytes, cancel)
                return
            except TryFailed as failure:
                tries.failed(failure, cancel)

    def _range_once(
        self,
        part: _Partial,
        start: int,
        length: int,
        tries: Tries,
        on_bytes: Callable[[int], None],
        cancel: CancelToken,
    ) -> None:
        have = part.length()
        if have > length:
            part.truncate(0)
            have = 0
        if have == length:
            return
        first, last = start + have, start + length - 1
        keep = length - have
        skip = written = 0

        def answer(response: _Head) -> int:
            nonlocal skip
            status = response.status_code
            if status == 416:
                raise tries.error(f"it has no bytes {first}-{last} (HTTP 416)")
            if status == 206 and not wire.range_is(response.headers, first, last):
                part.truncate(0)  # not what we asked for: start over
                raise TryFailed("wrong byte range")
            self._check_status(response, tries, ok=(200, 206))
            skip = first if status == 200 else 0
            part.truncate(have)
            declared = wire.content_length(response.headers)
            if status == 206 and declared is not None and declared != keep:
                raise TryFailed(f"announced {declared} bytes instead of {keep}")
            # A 200 goes on past the range: reading stops at its end, which one block
            # may overshoot (the overshoot is dropped).
            return keep if status == 206 else skip + keep + BLOCK

        def block(data: bytes) -> None:
            nonlocal skip, written
            on_bytes(len(data))
            if skip >= len(data):
                skip -= len(data)
                return
            piece = data[skip : skip + keep - written]
            skip = 0
            part.write(piece)
            written += len(piece)
            if written == keep:
                raise _Stop()

        try:
            self._get({"Range": f"bytes={first}-{last}"}, tries, cancel, answer, block)
        except _Overflow:
            if written < keep:
                raise TryFailed("wrong byte range") from None
        if written < keep:
            raise TryFailed("cut short")

    # --- HTTP --------------------------------------------------------------------------

    def _get(
        self,
        headers: dict[str, str],
        tries: Tries,
        cancel: CancelToken,
        answer: Callable[[_Head], int],
        block: Callable[[bytes], None],
        free: int = 0,
    ) -> None:
        """GET ``tries.url``, following redirects ourselves. ``answer`` gets the final
        answer's head and returns how many body bytes it accepts (more is an _Overflow);
        ``block`` gets the body as it arrives and may raise _Stop to end it. The first
        ``free`` bytes do not go through the rate limiter."""
        current = self._first_hop(tries)
        for _hop in range(self.limits.max_redirects + 1):
            if self._curl is not None:
                location = self._exchange_wire(current, headers, tries, cancel, answer, block, free)
            else:
                location = self._exchange(current, headers, tries, cancel, answer, block, free)
            if location is None:
                return
            target = self._checked(current, location, tries)
            if not wire.same_origin(current, target):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            current = target
        raise tries.error(f"it redirects more than {self.limits.max_redirects} times (a loop?)")

    def _exchange(
        self,
        url: str,
        headers: dict[str, str],
        tries: Tries,
        cancel: CancelToken,
        answer: Callable[[_Head], int],
        block: Callable[[bytes], None],
        free: int,
    ) -> str | None:
        """One GET on the requests wire; a redirect's ``Location``, else ``None``."""
        with self._send(url, headers, tries) as response:
            if response.status_code in wire.REDIRECT_STATUSES:
                return str(response.headers.get("Location", ""))
            limit = answer(response)
            try:
                for data in self._body(response, limit, tries, cancel, free):
                    block(data)
            except _Stop:
                pass
        return None

    def _exchange_wire(
        self,
        url: str,
        headers: dict[str, str],
        tries: Tries,
        cancel: CancelToken,
        answer: Callable[[_Head], int],
        block: Callable[[bytes], None],
        free: int,
    ) -> str | None:
        """One GET on the http.client wire (the libcurl one for a proxied origin), with the
        same rules per block as :meth:`_body`."""
        assert self._curl is not None
        location: str | None = None
        meter: _Meter | None = None

        def on_head(response: curl.Answer) -> bool:
            nonlocal location, meter
            if response.status_code in wire.REDIRECT_STATUSES:
                location = response.headers.get("Location", "")
                return False
            meter = _Meter(self._limiter, tries, cancel, answer(response), free)
            return True

        def on_body(data: bytes) -> None:
            assert meter is not None
            cancel.raise_if_cancelled()
            meter.count(data)
            block(data)

        def poll() -> None:
            cancel.raise_if_cancelled()
            tries.left()

        route, login = self._route(url)
        lines = [f"{k}: {v}" for k, v in {**self._headers, **headers}.items()]
        if login and not any(k.lower() == "authorization" for k in headers):
            lines += login
        wire_ = self._plain if self._plain is not None and not route.proxy else self._curl
        try:
            wire_.exchange(
                url,
                lines,
                route=route,
                timeout=tries.timeout(),
                buffer=self._limiter.block_size(BLOCK),
                on_head=on_head,
                on_body=on_body,
                poll=poll,
            )
        except _Stop:
            pass
        except curl.TransferError as exc:
            if exc.code in curl.ADDRESS_CODES:
                raise tries.error(f"the address {url} is not valid ({exc.args[1]})") from exc
            if exc.code in curl.CERTIFICATE_CODES:
                raise tries.error(f"the certificate of {url} is not trusted") from exc
            raise TryFailed(exc.reason) from exc
        return location

    def _route(self, url: str) -> tuple[curl.Route, list[str]]:
        """How the libcurl wire reaches ``url``'s origin: what requests would read from
        the environment (proxies and ``no_proxy``, ``REQUESTS_CA_BUNDLE`` or certifi's
        bundle, the ``~/.netrc`` login), read once per origin."""
        origin = "/".join(url.split("/", 3)[:3])
        known = self._routes.get(origin)
        if known is not None:
            return known
        settings = self._environment(url)
        proxy = requests.utils.select_proxy(url, settings["proxies"]) or ""
        verify = settings["verify"]
        ca = verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
        cert, key = settings["cert"], None
        if isinstance(cert, tuple):
            cert, key = cert
        route = curl.Route(proxy, ca, os.path.isdir(ca), cert, key)
        login: list[str] = []
        if settings["auth"]:
            user, password = settings["auth"]
            token = base64.b64encode(f"{user}:{password}".encode("latin-1")).decode("ascii")
            login = [f"Authorization: Basic {token}"]
        self._routes[origin] = (route, login)
        return route, login

    def _environment(self, url: str) -> dict[str, Any]:
        """The proxies, CA bundle, client certificate and netrc login for ``url``'s
        origin, as ``Session.get`` would read them, once per origin."""
        origin = "/".join(url.split("/", 3)[:3])
        settings = self._settings.get(origin)
        if settings is None:
            session = self._session
            settings = dict(session.merge_environment_settings(url, {}, True, None, None))
            settings["auth"] = requests.utils.get_netrc_auth(url) if session.trust_env else None
            self._settings[origin] = settings
        return settings

    def _first_hop(self, tries: Tries) -> str:
        """``tries.url``, checked by the same rules as a redirect's target; once per
        origin: scheme, host and port are all the rules look at, and checking each of an
        install's thousand URLs (urljoin, urlsplit, the host's IDNA form) was among the
        larger Python costs of a request left on the libcurl wire."""
        url = tries.url
        scheme, sep, rest = url.partition("://")
        host, slash, _ = rest.partition("/")
        plain = sep and slash and not any(c in host for c in "@\\?#")
        key = f"{scheme}://{host}"
        if plain and key in self._origins:
            return url
        checked = self._checked(url, url, tries)
        if plain and checked == url:
            self._origins.add(key)
        return checked

    @staticmethod
    def _checked(current: str, location: str, tries: Tries) -> str:
        try:
            return wire.redirect_target(current, location)
        except wire.RefusedAddress as exc:
            raise tries.error(f"{exc}, which is refused") from None

    def _send(self, url: str, headers: dict[str, str], tries: Tries) -> requests.Response:
        try:
            if not self._owns_session:  # the caller's: its own cookies, auth and hooks
                return self._session.get(
                    url,
                    headers={**self._headers, **headers},
                    timeout=tries.timeout(),
                    stream=True,
                    allow_redirects=False,
                )
            return self._send_direct(url, {**self._headers, **headers}, tries.timeout())
        except wire.BAD_ADDRESS_ERRORS as exc:
            raise tries.error(f"the address {url} is not valid ({exc})") from exc
        except wire.NETWORK_ERRORS as exc:
            if wire.caused_by(exc, ssl.SSLCertVerificationError):
                raise tries.error(f"the certificate of {url} is not trusted") from exc
            raise TryFailed(wire.describe(exc)) from exc

    def _send_direct(
        self, url: str, headers: dict[str, str], timeout: tuple[float, float]
    ) -> requests.Response:
        """What ``Session.get`` does for us, without its work per request: the session's
        merge of cookies, hooks and headers, and its reading of the environment (proxies,
        CA bundle, ~/.netrc), which is done once per origin here. That work held the GIL
        for about 0.4 ms a request, as long again as urllib3's own: 0.4 s of the 1,017
        objects of bench_update.py's many-file install. No Slipstream server needs
        cookies; the session's adapter (its connection pool) is the same."""
        settings = self._environment(url)
        request = requests.PreparedRequest()
        request.prepare(method="GET", url=url, headers=headers, auth=settings["auth"])
        return self._session.get_adapter(url).send(
            request,
            stream=True,
            timeout=timeout,
            verify=settings["verify"],
            cert=settings["cert"],
            proxies=settings["proxies"],
        )

    def _check_status(self, response: _Head, tries: Tries, ok: tuple[int, ...]) -> None:
        status = response.status_code
        if status in ok:
            return
        answer = f"the server answered HTTP {status} {response.reason or ''}".rstrip()
        if status in wire.NOT_FOUND_STATUSES:
            raise NotFoundError(f"{tries.what} is not at {tries.url} (HTTP {status}).")
        if status in wire.DENIED_STATUSES:
            raise AccessDeniedError(f"{tries.what} at {tries.url}: {answer}.")
        if status in wire.RETRY_STATUSES:
            wait = response.headers.get("Retry-After")
            honoured = status in wire.RETRY_AFTER_STATUSES
            raise TryFailed(f"HTTP {status}", parse_retry_after(wait) if honoured else None)
        raise tries.error(answer)

    def _body(
        self,
        response: requests.Response,
        limit: int,
        tries: Tries,
        cancel: CancelToken,
        free: int = 0,
    ) -> Iterator[bytes]:
        """The body in blocks as they arrive, at most ``limit`` bytes; _Overflow if more.
        The first ``free`` bytes do not go through the rate limiter.

        ``read1`` returns what one socket read brings, so the watchdog and the cancel token
        are looked at after every read, however slowly the bytes drip in."""
        meter = _Meter(self._limiter, tries, cancel, limit, free)
        while True:
            cancel.raise_if_cancelled()
            size = BLOCK if meter.got < free else self._limiter.block_size(BLOCK)
            amount = min(size, limit - meter.got + 1)
            try:
                block: bytes = response.raw.read1(amount, decode_content=True)
            except wire.NETWORK_ERRORS as exc:
                raise TryFailed(wire.describe(exc)) from exc
            if not block:
                return
            meter.count(block)
            yield block


def _spill(path: Path, blocks: list[bytes]) -> None:
    """Keep the first bytes of an object in the partial file ``path`` (resume data: what
    cannot be written is simply fetched again)."""
    try:
        with open(path, "wb") as out:
            for block in blocks:
                out.write(block)
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()


def _wrong_md5(tries: Tries, md5: str, actual: str, wrong: str | None, cancel: CancelToken) -> str:
    """After an object arrived with md5 ``actual``, not ``md5``: wait for the next try and
    return ``actual`` (the next try's ``wrong``), or raise HashMismatchError when it is
    out of tries or the server sent the same wrong bytes twice running (``wrong``): that
    is its copy, not a damaged transfer."""
    again = actual == wrong
    damaged = HashMismatchError(
        f"{tries.what} from {tries.url} had md5 {actual} instead of {md5} "
        f"(tried {len(tries.seen) + 1} times"
        + ("; the server sent the same bytes each time)." if again else ").")
    )
    if again:
        raise damaged
    tries.failed(TryFailed("damaged data"), cancel, final=damaged)
    return actual


class _Meter:
    """One body's rules per block, on either wire: at most ``limit`` bytes (_Overflow
    past it), the shared rate limit past the first ``free`` bytes, and the watchdog."""

    def __init__(
        self, limiter: RateLimiter, tries: Tries, cancel: CancelToken, limit: int, free: int
    ) -> None:
        self._limiter = limiter
        self._watchdog = Watchdog(tries)
        self._cancel = cancel
        self._limit = limit
        self._free = free
        self.got = 0

    def count(self, block: bytes) -> None:
        taxed = min(len(block), self.got + len(block) - self._free)
        self.got += len(block)
        if self.got > self._limit:
            raise _Overflow()
        throttled = self._limiter.take(taxed, self._cancel) if taxed > 0 else 0.0
        self._watchdog.check(len(block), throttled)


def _plain_wire() -> plain.PlainWire | None:
    """The ``http.client`` wire, unless ``SLIPSTREAM_HTTP`` names another."""
    choice = os.environ.get(HTTP_ENV, "").strip().lower()
    return plain.PlainWire() if choice in ("", "plain") else None


def _curl_wire() -> curl.CurlWire | None:
    """The libcurl wire, unless ``SLIPSTREAM_HTTP=requests`` or pycurl is missing."""
    choice = os.environ.get(HTTP_ENV, "").strip().lower()
    if choice == "requests":
        return None
    if not _HAVE_CURL:
        if choice == "curl":
            log.warning("%s=curl, but pycurl cannot be imported: using requests", HTTP_ENV)
        return None
    return curl.CurlWire()


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Partial:
    """The partial file of one download, opened for reading and writing (created if
    missing, never through a symlink); every OSError becomes a LocalIOError naming it."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        try:
            self._file = os.fdopen(os.open(dest, _OPEN_FLAGS, 0o644), "r+b")
        except OSError as exc:
            raise self._error(exc, "open") from None

    def __enter__(self) -> _Partial:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._file.close()
        except OSError as exc:
            raise self._error(exc, "write") from None

    def length(self) -> int:
        try:
            return self._file.seek(0, os.SEEK_END)
        except OSError as exc:
            raise self._error(exc, "read") from None

    def truncate(self, length: int) -> None:
        """Cut the file to ``length`` bytes and write from there on.

        A file already ``length`` bytes long (a fresh download's empty file) is not
        truncated: ext4 (``auto_da_alloc``, on by default) takes a file truncated and
        written again for a file being replaced, and writes its data to the disk when it
        is closed. Every object of an install was then written out as it was closed
        (1,016 objects: about 0.4 ms a close, and 711 MB of disk writes beside the
        staged files' flushes), where objects only need the page cache."""
        try:
            if self._file.seek(0, os.SEEK_END) != length:
                self._file.truncate(length)
            self._file.seek(length)
        except OSError as exc:
            raise self._error(exc, "write") from None

    def write(self, block: bytes) -> None:
        try:
            self._file.write(block)
        except OSError as exc:
            raise self._error(exc, "write") from None

    def hasher_of_first(self, length: int) -> Any:
        """An md5 object fed the first ``length`` bytes; the file is left at ``length``."""
        hasher = hashlib.md5()
        try:
            self._file.seek(0)
            left = length
            while left > 0 and (block := self._file.read(min(BLOCK, left))):
                hasher.update(block)
                left -= len(block)
            self._file.seek(length)
        except OSError as exc:
            raise self._error(exc, "read") from None
        return hasher

    def md5_of_first(self, length: int) -> str:
        return str(self.hasher_of_first(length).hexdigest())

    @staticmethod
    def remove(dest: Path) -> None:
        try:
            dest.unlink(missing_ok=True)
        except OSError as exc:
            raise _Partial._error_for(dest, exc, "delete") from None

    def _error(self, exc: OSError, action: str) -> LocalIOError:
        return self._error_for(self.dest, exc, action)

    @staticmethod
    def _error_for(dest: Path, exc: OSError, action: str) -> LocalIOError:
        if exc.filename is None:
            exc.filename = str(dest)
        return LocalIOError.wrap(exc, action)
