"""FaultServer (harness H1): a loopback static file server that misbehaves on request.

With no plan it is a plain static server for ``root``: GET and HEAD, one ``Range`` per
request (206 with ``Content-Range``, 416 past the end), an ``ETag``, HTTP/1.1 keep-alive.
A test then plans faults per path (exact, or an ``fnmatch`` glob such as ``/store/*``)
while it runs; every request is recorded, so a test can assert what was fetched and how
often (like python-tuf's ``fetch_tracker``)::

    with FaultServer(tmp_path) as server:
        server.plan("/a.bin", Fault(statuses=[500, 503]))     # two errors, then the file
        server.plan("/b.bin", Fault(drop_after=1000, times=1))  # one cut body, then fine
        fetcher.download(server.url + "/a.bin", ...)
        assert server.count("/a.bin") == 3

How a planned path answers request number *n* (counted per path, from 0): while ``n`` is
inside ``statuses``, a non-``None`` entry is sent as that status (with ``retry_after``);
otherwise the request reaches the "body" faults, which apply to the first ``times`` such
requests (``None``: all of them). A response with a lie in it is sent with ``Connection:
close``, and the socket is closed after it, so a lie never spills into the next request.

Files are read whole for each request: meant for test-sized objects (tens of MiB).

Proxy mode: with ``upstream="http://127.0.0.1:PORT"`` (say, ``slipstream serve``), a
request for a path that ``root`` has no file for (every request when ``root`` is
``None``) is forwarded there as a plain GET, query string and the client's ``Host``
header included, so links the upstream writes from ``Host`` lead back to the proxy. A
200 answer is then served as if it were a local file, so every fault above (Range and
all) applies to it; any other upstream status is relayed with its body::

    with FaultServer(upstream=repo_url) as proxy:
        proxy.plan("/content-system/v2/store/*", Fault(drop_after=1000, times=1))
        install(proxy.url, ...)
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

_BLOCK = 64 * 1024
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
_UNSATISFIABLE = (-1, -1)


@dataclass(frozen=True)
class Fault:
    """How a planned path misbehaves. Body faults combine (say, drip and drop)."""

    statuses: Sequence[int | None] = ()
    """Consumed one per request: a status to send, or ``None`` to go on to the body faults."""
    status: int | None = None
    """A status sent instead of the file (a body fault: it obeys ``times``)."""
    retry_after: str | None = None
    """``Retry-After`` sent with every planned status."""
    times: int | None = None
    """How many requests the body faults apply to; ``None``: every one."""
    redirect: str | None = None
    """Answer ``redirect_status`` with this ``Location`` (absolute, relative, any scheme)."""
    redirect_status: int = 302
    serve_path: str | None = None
    """Serve this other file's bytes (a stale or wrong object)."""
    flip_bit: int | None = None
    """Flip the lowest bit of the byte at this offset of the file."""
    ignore_range: bool = False
    """Answer a ``Range`` request with 200 and the whole file."""
    range_shift: int = 0
    """Answer a ``Range`` request from ``start + range_shift``, saying so in Content-Range."""
    length_delta: int = 0
    """Announce ``Content-Length`` this many bytes off the body actually sent."""
    no_length: bool = False
    """Send no ``Content-Length``: the body ends when the connection closes."""
    chunked: bool = False
    """Send the body with ``Transfer-Encoding: chunked``."""
    stall: float = 0.0
    """Seconds of silence between the headers and the body."""
    drip: tuple[int, float] | None = None
    """Send the body ``B`` bytes at a time, ``T`` seconds apart."""
    drop_after: int | None = None
    """Close the connection after this many body bytes."""
    endless: bool = False
    """After the file, keep sending zero bytes until the client goes away."""

    @property
    def lies(self) -> bool:
        """True when the connection must close after this answer."""
        return self != Fault(statuses=self.statuses, times=self.times)


NORMAL = Fault()


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""


@dataclass
class _Plan:
    pattern: str
    fault: Fault
    seen: dict[str, int] = field(default_factory=dict)
    faulted: dict[str, int] = field(default_factory=dict)

    def matches(self, path: str) -> bool:
        return path == self.pattern or fnmatch.fnmatchcase(path, self.pattern)

    def next_fault(self, path: str) -> Fault:
        """The fault for the next request to ``path``; NORMAL when none is left."""
        n = self.seen.get(path, 0)
        self.seen[path] = n + 1
        if n < len(self.fault.statuses) and self.fault.statuses[n] is not None:
            return Fault(status=self.fault.statuses[n], retry_after=self.fault.retry_after)
        used = self.faulted.get(path, 0)
        if self.fault.times is not None and used >= self.fault.times:
            return NORMAL
        self.faulted[path] = used + 1
        return self.fault


class _Server(ThreadingHTTPServer):
    """The socket server, holding the state that handler threads share."""

    daemon_threads = True
    block_on_close = True

    def __init__(self, root: Path | None, upstream: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve() if root is not None else None
        self.upstream = urlsplit(upstream) if upstream else None
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.plans: list[_Plan] = []
        self.log: list[Request] = []
        self.connections: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def fault_for(self, request: Request) -> Fault:
        with self.lock:
            self.log.append(request)
            for plan in self.plans:
                if plan.matches(request.path):
                    return plan.next_fault(request.path)
        return NORMAL

    def hang_up_all(self) -> None:
        """Wake every handler: stop faults that wait, and close idle keep-alive sockets."""
        self.closing.set()
        with self.lock:
            connections = list(self.connections)
        for sock in connections:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log is :meth:`FaultServer.requests`."""

    def handle(self) -> None:
        # The client went away mid-answer, as clients under test do.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        target = urlsplit(self.path)
        path = unquote(target.path)
        request = Request(
            self.command, path, self.headers.get("Range"), dict(self.headers), target.query
        )
        fault = self.server.fault_for(request)
        if fault.lies:
            self.close_connection = True
        if fault.status is not None:
            return self._send_status(fault.status, fault)
        if fault.redirect is not None:
            return self._send_status(fault.redirect_status, fault, fault.redirect)
        source = fault.serve_path or path
        data = self._read(source)
        content_type = "application/octet-stream"
        if data is None and self.server.upstream is not None:
            status, data, content_type = self._forward(fault.serve_path or self.path)
            if status != 200:
                return self._send_status(status, fault, body=data, content_type=content_type)
        if data is None:
            return self._send_status(404, fault)
        if fault.flip_bit is not None and fault.flip_bit < len(data):
            flipped = bytearray(data)
            flipped[fault.flip_bit] ^= 1
            data = bytes(flipped)
        self._send_file(data, request.range, fault, head, content_type)

    def _forward(self, target: str) -> tuple[int, bytes, str]:
        """GET ``target`` (path and query) from the upstream with the client's Host
        header; (status, whole body, Content-Type). A dead upstream is a 502."""
        upstream = self.server.upstream
        assert upstream is not None
        host = self.headers.get("Host") or upstream.netloc
        connection = http.client.HTTPConnection(
            upstream.hostname or "127.0.0.1", upstream.port or 80, timeout=30
        )
        try:
            connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host)
            connection.putheader("Accept-Encoding", "identity")
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
            kind = response.getheader("Content-Type") or "application/octet-stream"
            return response.status, body, kind
        except (OSError, http.client.HTTPException) as exc:
            return 502, f"upstream failed: {exc!r}\n".encode(), "text/plain"
        finally:
            connection.close()

    def _read(self, path: str) -> bytes | None:
        if self.server.root is None:
            return None
        parts = [p for p in path.split("/") if p]
        if any(p in ("..", ".") or "\\" in p for p in parts):
            return None
        file = self.server.root.joinpath(*parts)
        try:
            return file.read_bytes() if file.resolve().is_relative_to(self.server.root) else None
        except OSError:
            return None  # missing, a folder, unreadable: all 404

    def _send_status(
        self,
        status: int,
        fault: Fault,
        location: str | None = None,
        *,
        body: bytes | None = None,
        content_type: str = "text/plain",
    ) -> None:
        if body is None:
            body = f"{status} from FaultServer\n".encode()
        self.send_response(status)
        if fault.retry_after is not None:
            self.send_header("Retry-After", fault.retry_after)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._end_headers(fault)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(
        self,
        data: bytes,
        range_header: str | None,
        fault: Fault,
        head: bool,
        content_type: str = "application/octet-stream",
    ) -> None:
        size = len(data)
        wanted = None if fault.ignore_range else _parse_range(range_header, size)
        if wanted == _UNSATISFIABLE:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            return self._end_headers(fault)
        self.send_response(200 if wanted is None else 206)
        start, end = (0, size - 1) if wanted is None else wanted
        if wanted is not None:
            start = max(0, min(start + fault.range_shift, end))
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        body = data[start : end + 1]
        self.send_header("Content-Type", content_type)
        self.send_header("ETag", f'"{hashlib.md5(data).hexdigest()}"')
        self.send_header("Accept-Ranges", "bytes")
        if fault.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif not (fault.no_length or fault.endless):
            self.send_header("Content-Length", str(len(body) + fault.length_delta))
        self._end_headers(fault)
        if not head:
            self._send_body(body, fault)

    def _end_headers(self, fault: Fault) -> None:
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def _send_body(self, body: bytes, fault: Fault) -> None:
        if fault.stall and self.server.closing.wait(fault.stall):
            return
        step, pause = fault.drip or (_BLOCK, 0.0)
        sent = 0
        for piece in _pieces(body, step, fault.endless):
            if fault.drop_after is not None and sent + len(piece) >= fault.drop_after:
                return self._write(piece[: fault.drop_after - sent], fault)
            self._write(piece, fault)
            sent += len(piece)
            if (pause and self.server.closing.wait(pause)) or self.server.closing.is_set():
                return
        if fault.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write(self, piece: bytes, fault: Fault) -> None:
        if fault.chunked and piece:
            piece = b"%x\r\n%s\r\n" % (len(piece), piece)
        self.wfile.write(piece)


def _pieces(body: bytes, step: int, endless: bool) -> Iterator[bytes]:
    for offset in range(0, len(body), step):
        yield body[offset : offset + step]
    while endless:
        yield bytes(step)


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` of a single byte range, ``_UNSATISFIABLE``, or ``None`` to ignore
    it and send the whole file (as RFC 9110 allows for anything we do not understand)."""
    match = _RANGE.fullmatch((value or "").strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n and size else _UNSATISFIABLE
    start, end = int(first), int(last) if last else size - 1
    if start >= size:
        return _UNSATISFIABLE
    return None if end < start else (start, min(end, size - 1))


class FaultServer:
    """A :class:`_Server` on 127.0.0.1 (port 0) serving ``root``, run in a thread; with
    ``upstream``, a fault-injecting proxy in front of that server (see the module text)."""

    def __init__(self, root: Path | None = None, upstream: str | None = None) -> None:
        if root is None and upstream is None:
            raise ValueError("FaultServer needs a root folder, an upstream URL, or both")
        if upstream is not None and urlsplit(upstream).scheme != "http":
            raise ValueError(f"the upstream {upstream!r} is not an http:// URL")
        self._server = _Server(root, upstream)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="FaultServer", daemon=True
        )

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake and close every connection, and join the handler threads."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.hang_up_all()
        self._server.server_close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_for(self, path: str) -> str:
        return self.url + "/" + path.lstrip("/")

    def plan(self, pattern: str, fault: Fault) -> None:
        """Make requests whose path matches ``pattern`` meet ``fault`` (replacing an
        earlier plan for the same pattern; among different patterns the newest wins)."""
        with self._server.lock:
            plans = [p for p in self._server.plans if p.pattern != pattern]
            self._server.plans = [_Plan(pattern, fault), *plans]

    def clear(self) -> None:
        """Drop every plan: serve plainly from now on (the request log stays)."""
        with self._server.lock:
            self._server.plans = []

    @property
    def requests(self) -> list[Request]:
        """Every request so far, oldest first."""
        with self._server.lock:
            return list(self._server.log)

    def count(self, path: str) -> int:
        """How many requests named exactly ``path``."""
        return sum(1 for r in self.requests if r.path == path)

    def ranges(self, path: str) -> list[str | None]:
        """The ``Range`` header of each request for ``path`` (``None`` where absent)."""
        return [r.range for r in self.requests if r.path == path]
