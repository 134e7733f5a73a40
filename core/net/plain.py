"""One HTTP exchange through the standard library's ``http.client``: the fetcher's wire
for every origin reached without a proxy.

Why: libcurl (core/net/curl.py) hands its body to Python 16 kB at a time
(``CURL_MAX_WRITE_SIZE``, fixed when libcurl is built), so a many-file install of 711 MB
took the GIL back some 44,000 times on its download threads. Here each read takes what
the socket has, up to :data:`BUFFER`, in one system call with the GIL released: on
loopback (1,017 objects, 711 MB, bare loops of md5-less reads and writes) 16 threads
fetched in 2.12-2.18 s against 2.57-2.91 s through pycurl, with 0.4-0.9 core-seconds
less CPU. Python parses each answer's head (about a tenth of a millisecond), which
``requests`` did with much more around it.

Like :class:`core.net.curl.CurlWire`, this module only moves bytes and keeps one
connection per origin per thread; every rule lives in the fetcher's callbacks. Proxies
stay with libcurl (the fetcher sends proxied origins there). A body in a content coding
(``gzip``, ``deflate``), which a server may send although we ask for none, is decoded,
at most :data:`BUFFER` bytes a block, so the fetcher's limits still bind it. A host name
is looked up on a thread of its own, so a cancel never waits for a slow name server.
"""

from __future__ import annotations

import errno
import http.client
import io
import ipaddress
import os
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pycurl

from core.net.curl import Answer, Route, Stop, TransferError

BUFFER = 1 << 20
"""The most one read takes from the socket, and the largest block a body callback gets."""

HEAD_BUFFER = 64 << 10
"""The buffer an answer's head is read through."""

POLL_SECONDS = 1.0
"""How long a read waits for bytes before the caller's ``poll`` runs (cancel, deadline)."""


class PlainWire:
    """``http.client`` connections, one per origin per thread, kept alive between
    exchanges."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[_Connection] = set()
        self._contexts: dict[Route, ssl.SSLContext] = {}

    def close(self) -> None:
        """Close every thread's connections; a later exchange opens new ones."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.shut()

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
        """GET ``url``, as :meth:`core.net.curl.CurlWire.exchange` does (same callbacks,
        same :class:`TransferError` codes), without a proxy. A kept connection that the
        server has closed meanwhile is opened again once, as libcurl would."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        scheme = parts.scheme.lower()
        try:
            host = (parts.hostname or "").encode("idna").decode("ascii")
            port = parts.port or (443 if scheme == "https" else 80)
        except (UnicodeError, ValueError) as exc:
            raise TransferError(pycurl.E_URL_MALFORMAT, f"{url}: {exc}") from exc
        key = (scheme, host, port, route)
        for attempt in (1, 2):
            connection = self._connection(key, timeout[0])
            reused = connection.sock is not None
            connection.arm(poll, timeout[1])
            keep = False
            try:
                try:
                    if not reused:
                        connection.connect()
                    connection.putrequest("GET", target, skip_accept_encoding=True)
                    for line in headers:
                        name, _, value = line.partition(":")
                        connection.putheader(name.strip(), value.strip())
                    connection.endheaders()
                    response = connection.getresponse()
                except (OSError, http.client.HTTPException) as exc:
                    if reused and attempt == 1 and _stale(exc):
                        continue  # (finally drops it)
                    raise _failure(exc, connection) from exc
                answer = Answer()
                answer.status_code = response.status
                answer.reason = response.reason
                for name in dict.fromkeys(response.headers.keys()):
                    answer.headers[name] = ", ".join(response.headers.get_all(name) or [])
                if on_head(answer):
                    keep = _read(response, connection, max(1, min(buffer, BUFFER)), on_body)
                return
            except Stop:
                return
            finally:
                connection.disarm()
                if not keep:
                    self._drop(key, connection)

    def _connection(self, key: _Key, connect: float) -> _Connection:
        mine: dict[_Key, _Connection] | None = getattr(self._local, "connections", None)
        if mine is None:
            mine = self._local.connections = {}
        connection = mine.get(key)
        if connection is not None and connection in self._open:
            return connection
        scheme, host, port, route = key
        context = self._context(route) if scheme == "https" else None
        connection = _Connection(host, port, connect, context)
        mine[key] = connection
        with self._lock:
            self._open.add(connection)
        return connection

    def _context(self, route: Route) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(route)
        if context is None:
            try:
                if route.ca_is_folder:
                    context = ssl.create_default_context(capath=route.ca)
                else:
                    context = ssl.create_default_context(cafile=route.ca)
                if route.cert is not None:
                    context.load_cert_chain(route.cert, route.key)
            except (OSError, ssl.SSLError) as exc:
                raise TransferError(pycurl.E_SSL_CACERT_BADFILE, str(exc)) from exc
            with self._lock:
                self._contexts[route] = context
        return context

    def _drop(self, key: _Key, connection: _Connection) -> None:
        with self._lock:
            self._open.discard(connection)
        mine: dict[_Key, _Connection] = getattr(self._local, "connections", {})
        if mine.get(key) is connection:
            del mine[key]
        connection.shut()


_Key = tuple[str, str, int, Route]


def _read(
    response: http.client.HTTPResponse,
    connection: _Connection,
    chunk: int,
    on_body: Callable[[bytes], None],
) -> bool:
    """Deliver the body; whether the connection may serve the next exchange."""
    coding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    inflater = _inflater(coding)
    while True:
        try:
            data = response.read1(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise _failure(exc, connection) from exc
        if not data:
            break
        if inflater is None:
            on_body(data)
            continue
        try:
            data = inflater.decompress(data, chunk)
            while data:
                on_body(data)
                data = inflater.decompress(inflater.unconsumed_tail, chunk)
        except zlib.error as exc:
            raise TransferError(pycurl.E_BAD_CONTENT_ENCODING, str(exc)) from exc
    if response.length:  # the connection ended before the announced length
        raise TransferError(pycurl.E_PARTIAL_FILE, "connection lost")
    response.close()  # done with: the connection can send the next request
    return not response.will_close


class _PatientReader(io.RawIOBase):
    """The socket under one answer, read with short timeouts: between reads that find
    nothing, the exchange's ``poll`` runs (at least every :data:`POLL_SECONDS`), and a
    silence longer than the exchange's limit is a timeout. ``http.client``'s own reader
    cannot do this: after one timeout it refuses every later read."""

    def __init__(self, sock: socket.socket, connection: _Connection) -> None:
        super().__init__()
        self._sock = sock
        self._connection = connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        c = self._connection
        while True:
            now = time.monotonic()
            if c.poll is not None and now - c.polled >= POLL_SECONDS:
                c.polled = now
                c.poll()
            try:
                n = self._sock.recv_into(buffer)
            except TimeoutError:
                if time.monotonic() - c.heard > c.silence:
                    c.timed_out = True
                    raise
                continue
            c.heard = time.monotonic()
            return n


class _SocketView:
    """What ``HTTPResponse`` asks of its socket: a buffered :class:`_PatientReader`."""

    def __init__(self, sock: socket.socket, connection: _Connection) -> None:
        self._sock = sock
        self._connection = connection

    def makefile(self, mode: str) -> io.BufferedReader:
        # The buffer serves the head's lines; a body read larger than what it holds
        # goes straight from the socket (``read1``), so it need not be BUFFER's size,
        # which would be allocated anew for every answer.
        return io.BufferedReader(_PatientReader(self._sock, self._connection), HEAD_BUFFER)

    def close(self) -> None:
        """``http.client`` closes the connection when an answer will end it: the answer
        still reads from the socket, which :meth:`_Connection.shut` closes."""


class _Connection(http.client.HTTPConnection):
    """A connection (TLS when given a context) whose answers read patiently."""

    def __init__(
        self, host: str, port: int, connect: float, context: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=connect)
        self._context = context
        if context is not None:
            self.default_port = http.client.HTTPS_PORT  # (the Host header omits it)
        self.raw: socket.socket | None = None
        self.poll: Callable[[], None] | None = None
        self.silence = 0.0
        self.heard = self.polled = 0.0
        self.timed_out = False

    def arm(self, poll: Callable[[], None], silence: float) -> None:
        self.poll, self.silence = poll, silence
        self.heard = self.polled = time.monotonic()
        self.timed_out = False
        if self.raw is not None:
            self.raw.settimeout(min(POLL_SECONDS, max(silence, 0.001)))

    def disarm(self) -> None:
        self.poll = None

    def connect(self) -> None:
        sock = _connect(self.host, self.port, self.timeout, self)
        self.sock = sock
        if self._context is not None:
            sock.settimeout(self.timeout)  # the handshake, as long as a connect may take
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.raw = self.sock
        self.sock.settimeout(min(POLL_SECONDS, max(self.silence, 0.001)))
        self.heard = time.monotonic()

    def getresponse(self) -> http.client.HTTPResponse:
        raw = self.sock
        assert raw is not None
        self.sock = _SocketView(raw, self)
        try:
            return super().getresponse()
        finally:
            if self.sock is not None:  # (None: the answer ends the connection)
                self.sock = raw

    def shut(self) -> None:
        """Close the connection and its socket, whoever holds it."""
        self.close()
        if self.raw is not None:
            self.raw.close()
            self.raw = None


def _connect(host: str, port: int, limit: float | None, connection: _Connection) -> socket.socket:
    """A connected socket to ``host``:``port``, each address tried in turn within
    ``limit`` seconds in all; the exchange's ``poll`` runs at least every
    :data:`POLL_SECONDS` while a connection is under way (``socket.create_connection``
    would wait out its whole timeout after a cancel)."""
    deadline = time.monotonic() + (limit if limit is not None else 60.0)
    error: OSError = TimeoutError("timed out")
    for family, kind, proto, _, address in _resolve(host, port, deadline, connection):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            while code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out")
                _, writable, _ = select.select([], [sock], [], min(POLL_SECONDS, left))
                if writable:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                elif connection.poll is not None:
                    connection.poll()
            if code:
                raise OSError(code, os.strerror(code))
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = ConnectionRefusedError(*exc.args) if exc.errno == errno.ECONNREFUSED else exc
            if isinstance(exc, TimeoutError):
                break
        except BaseException:
            sock.close()
            raise
    raise error


_Addresses = list[tuple[Any, Any, int, str, Any]]


def _resolve(host: str, port: int, deadline: float, connection: _Connection) -> _Addresses:
    """``host``'s addresses for a TCP connection. An address is used as it is; a name is
    looked up on a thread of its own (as libcurl does), while this one runs the
    exchange's ``poll`` every :data:`POLL_SECONDS`: ``getaddrinfo`` cannot be
    interrupted, so a cancel (or the window's Quit) would otherwise wait for a slow or
    dead name server (5 s a try, several tries, with glibc's defaults). An abandoned
    lookup ends on its own; its thread is a daemon, so it never holds up an exit.
    Past ``deadline`` the lookup has timed out (``TimeoutError``), as a connect would."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass  # a name, not an address
    else:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    found: list[_Addresses] = []
    failed: list[OSError] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except OSError as exc:
            failed.append(exc)
        except UnicodeError as exc:  # a name IDNA cannot encode
            failed.append(socket.gaierror(socket.EAI_NONAME, str(exc)))
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    while not done.wait(max(0.0, min(POLL_SECONDS, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no answer for {host} from the name server in time")
        if connection.poll is not None:
            connection.poll()
    if failed:
        raise failed[0]
    return found[0]


def _stale(exc: BaseException) -> bool:
    """Whether a kept connection failed the way one the server had closed does."""
    return isinstance(
        exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
    ) or (isinstance(exc, http.client.BadStatusLine) and not str(exc).strip("'\""))


def _inflater(coding: str) -> Any:
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj()
    raise TransferError(pycurl.E_BAD_CONTENT_ENCODING, f"unknown content coding {coding!r}")


def _failure(exc: BaseException, connection: _Connection) -> BaseException:
    """The exception a failed exchange raises: the caller's own (a cancel from ``poll``)
    as it is, anything from the network as a :class:`TransferError`."""
    if not isinstance(exc, OSError | http.client.HTTPException):
        return exc
    if isinstance(exc, TimeoutError) or connection.timed_out:
        return TransferError(pycurl.E_OPERATION_TIMEDOUT, "timed out")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TransferError(pycurl.E_PEER_FAILED_VERIFICATION, str(exc))
    if isinstance(exc, ssl.SSLError):
        return TransferError(pycurl.E_SSL_CONNECT_ERROR, str(exc))
    if isinstance(exc, socket.gaierror):
        return TransferError(pycurl.E_COULDNT_RESOLVE_HOST, str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return TransferError(pycurl.E_COULDNT_CONNECT, str(exc))
    return TransferError(pycurl.E_RECV_ERROR, str(exc) or type(exc).__name__)
