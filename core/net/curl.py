"""One HTTP exchange through libcurl (pycurl), the fetcher's default wire.

Why: with ``requests`` each request held the GIL for about 2 ms of Python (building the
request, urllib3's pool, http.client sending it and parsing the status line and headers
with ``email.feedparser``); a many-file install of 1,017 objects spent half its
download threads' time in it, at 1.4 cores, while ``curl`` fetched the same objects in a
third of the time. libcurl does all of that in C with the GIL released
(``Curl.perform``); Python runs only in the callbacks, once per header line and once per
block of up to :data:`BUFFER` bytes. A micro-benchmark against this project's own server
(1,000 objects of 18 kB, four threads): 2.0 ms of CPU a request through the fetcher on
requests, 0.48 ms on pycurl, and 0.84 s against 2.96 s of wall time.

This module only moves bytes: :meth:`CurlWire.exchange` sends one GET and reports the
answer's head and body to the caller's callbacks, which hold every rule (status codes,
ranges, the rate limit, the watchdog, hashes: core/net/fetcher.py, the same code as on
the requests wire). Redirects are not followed here. Each thread keeps its own handle,
and with it its connections, for its next request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pycurl
from requests.structures import CaseInsensitiveDict

BUFFER = 1 << 20
"""libcurl's receive buffer: the largest block a body callback gets (at most the
fetcher's ``BLOCK``, so a range cut from a 200 never overshoots its limit)."""

DELIVER_EVERY = 0.05
"""Seconds at most that received bytes wait before the rules see them (a slow body)."""

ADDRESS_CODES = frozenset({pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL})
CERTIFICATE_CODES = frozenset({pycurl.E_PEER_FAILED_VERIFICATION})
_REASONS = {
    pycurl.E_COULDNT_RESOLVE_HOST: "server not found",
    pycurl.E_COULDNT_RESOLVE_PROXY: "proxy not found",
    pycurl.E_COULDNT_CONNECT: "could not connect",
    pycurl.E_OPERATION_TIMEDOUT: "timed out",
    pycurl.E_SSL_CONNECT_ERROR: "secure connection failed",
    pycurl.E_SSL_CERTPROBLEM: "secure connection failed",
    pycurl.E_SSL_CIPHER: "secure connection failed",
    pycurl.E_SSL_CACERT_BADFILE: "secure connection failed",
}


class TransferError(OSError):
    """libcurl gave up on the exchange; ``code`` is its CURLE_ number, ``reason`` a few
    plain words (the same as core/net/http.py's ``describe`` gives for requests)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.reason = _REASONS.get(code, "connection lost")


@dataclass(frozen=True)
class Route:
    """How to reach one origin, read from the environment once (core/net/fetcher.py):
    the proxy (``""``: none), the CA bundle (file or folder), a client certificate."""

    proxy: str
    ca: str
    ca_is_folder: bool = False
    cert: str | None = None
    key: str | None = None


class Answer:
    """The head of an answer: what the fetcher's rules read of a ``requests`` response."""

    __slots__ = ("headers", "reason", "status_code")

    def __init__(self) -> None:
        self.status_code = 0
        self.reason = ""
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()


class Stop(Exception):
    """Raised by a body callback that has what it needs: the exchange ends quietly."""


class CurlWire:
    """libcurl handles, one per thread, each keeping its connections alive."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list[pycurl.Curl] = []
        self._generation = 0

    def close(self) -> None:
        """Close every thread's handle (and its connections); a later exchange opens a
        new one, as a closed ``requests.Session`` would."""
        with self._lock:
            handles, self._handles = self._handles, []
            self._generation += 1
        for handle in handles:
            handle.close()

    def _handle(self) -> pycurl.Curl:
        mine: tuple[int, pycurl.Curl] | None = getattr(self._local, "handle", None)
        if mine is not None and mine[0] == self._generation:
            mine[1].reset()  # options only: its connections and caches stay
            return mine[1]
        handle = pycurl.Curl()
        with self._lock:
            self._handles.append(handle)
            self._local.handle = (self._generation, handle)
        return handle

    def exchange(
        self,
        url: str,
        headers: list[str],
        *,
        route: Route,
        timeout: tuple[float, float],
        buffer: int = BUFFER,
        on_head: Callable[[Answer], bool],
        on_body: Callable[[bytes], None],
        poll: Callable[[], None],
    ) -> None:
        """GET ``url`` with ``headers`` (``"Name: value"`` lines).

        ``on_head(answer)`` runs once the final head is in (before the first body byte,
        or at the end of an empty body) and says whether to read the body. ``on_body``
        gets each block; ``poll`` runs at least once a second while bytes are awaited
        (cancel, deadline). Whatever a callback raises ends the exchange and is raised
        here, except :class:`Stop`, which just ends it. ``timeout``: (connect, longest
        silence) in seconds; ``buffer``: the largest block (at most :data:`BUFFER`). Any
        other failure is a :class:`TransferError`."""
        handle = self._handle()
        answer = Answer()
        state = _State(time.monotonic() + timeout[0] + timeout[1])
        chunk = max(16384, min(buffer, BUFFER))
        silence = timeout[1]

        def header(line: bytes) -> None:
            state.seen = time.monotonic() + silence
            text = line.decode("latin-1").rstrip("\r\n")
            if text.startswith("HTTP/"):
                status = text.split(" ", 2)
                code = status[1] if len(status) > 1 else ""
                answer.status_code = int(code) if code.isdigit() else 0
                answer.reason = status[2] if len(status) > 2 else ""
                answer.headers = CaseInsensitiveDict()
            elif ":" in text and not text[0].isspace():
                name, value = text.split(":", 1)
                value = value.strip()
                old = answer.headers.get(name)
                answer.headers[name] = value if old is None else f"{old}, {value}"

        def head() -> bool:
            state.headed = True
            state.reading = on_head(answer)
            return state.reading

        def deliver(now: float) -> None:
            state.delivered = now
            if state.pending:
                data = bytes(state.pending)
                state.pending.clear()
                on_body(data)

        def write(block: bytes) -> int | None:
            try:
                now = time.monotonic()
                state.seen = now + silence
                if not state.headed and not head():
                    return 0
                if not state.reading:
                    return 0
                # libcurl hands over at most 16 kB a call (CURL_MAX_WRITE_SIZE): kept
                # here and passed on in blocks of up to ``chunk``, or every
                # DELIVER_EVERY seconds while bytes drip, so the rules' work per block
                # (hash, write, rate limit, watchdog, progress) runs about as often as
                # on the requests wire, which reads up to 1 MiB at a time.
                if state.pending and len(state.pending) + len(block) > chunk:
                    deliver(now)
                state.pending += block
                if len(state.pending) >= chunk or now - state.delivered >= DELIVER_EVERY:
                    deliver(now)
                return None
            except BaseException as exc:
                state.error = exc
                return 0  # any count but len(block) aborts the transfer

        def progress(_dt: int, _dn: int, _ut: int, _un: int) -> int:
            try:
                if state.pending:
                    deliver(time.monotonic())
                poll()
                if time.monotonic() > state.seen:
                    state.error = _TimedOut()
                    return 1
                return 0
            except BaseException as exc:
                state.error = exc
                return 1

        setopt = handle.setopt
        setopt(pycurl.URL, url)
        setopt(pycurl.HTTPHEADER, headers)
        setopt(pycurl.HEADERFUNCTION, header)
        setopt(pycurl.WRITEFUNCTION, write)
        setopt(pycurl.NOPROGRESS, 0)
        setopt(pycurl.XFERINFOFUNCTION, progress)
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.FOLLOWLOCATION, 0)
        setopt(pycurl.ACCEPT_ENCODING, "")  # decode as requests would; our header asks for none
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        setopt(pycurl.BUFFERSIZE, chunk)
        setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(timeout[0] * 1000)))
        setopt(pycurl.PROXY, route.proxy)
        if route.ca_is_folder:
            setopt(pycurl.CAPATH, route.ca)
        else:
            setopt(pycurl.CAINFO, route.ca)
        if route.cert is not None:
            setopt(pycurl.SSLCERT, route.cert)
            if route.key is not None:
                setopt(pycurl.SSLKEY, route.key)
        try:
            handle.perform()
        except pycurl.error as exc:
            if isinstance(state.error, Stop):
                return
            if state.error is not None:
                if isinstance(state.error, _TimedOut):
                    raise TransferError(pycurl.E_OPERATION_TIMEDOUT, "timed out") from exc
                raise state.error from None
            if not state.reading and state.headed:
                return  # the body was not wanted, and libcurl stopped it
            code, message = int(exc.args[0]), str(exc.args[1]) if len(exc.args) > 1 else ""
            try:
                deliver(0.0)  # what came before the failure is kept (a resume asks for the rest)
            except Stop:
                return
            raise TransferError(code, message) from exc
        if not state.headed:
            head()
        try:
            deliver(0.0)
        except Stop:
            return


class _State:
    __slots__ = ("delivered", "error", "headed", "pending", "reading", "seen")

    def __init__(self, first: float) -> None:
        self.seen = first
        self.headed = False
        self.reading = False
        self.error: BaseException | None = None
        self.pending = bytearray()
        self.delivered = time.monotonic()


class _TimedOut(Exception):
    pass
