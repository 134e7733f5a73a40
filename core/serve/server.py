"""``slipstream serve``: the embedded HTTP server for a published repository.

Serves the repository's static files (DESIGN.md, "Repository layout") with HEAD, ETag,
conditional requests and single byte ranges, plus GOG's dynamic endpoints answered from
the publisher's documents (:mod:`core.serve.endpoints`). Standard library only.

Only paths under :data:`core.format.layout.SERVED_ROOTS` are reachable; every other path,
directory, symlink or unsafe name is a 404 (the rules live in :mod:`core.serve.static`).
Every error body is a small JSON document in GOG's ``{"error", "error_description"}``
shape. Quiet by default; ``verbose=True`` logs one line per request to stderr.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import sys
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import stat_result
from pathlib import Path
from typing import Any, BinaryIO, TextIO, cast

from core.errors import RepositoryError, SlipstreamError, UsageError
from core.serve import endpoints as serve_endpoints
from core.serve import static as serve_static
from core.serve.static import UNSATISFIABLE, ByteRange

IDLE_TIMEOUT = 60.0
"""Seconds a kept-alive connection may sit idle before its thread lets it go."""

# A Host header we are willing to echo into absolute links: a name or IPv4 address, or an
# [IPv6] address, with an optional port.
_SANE_HOST = re.compile(
    r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)


def make_server(
    repo: Path, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
) -> ThreadingHTTPServer:
    """Bind a server for ``repo`` on ``host:port`` (0 picks a free port), ready to
    ``serve_forever()``. Each request runs in its own daemon thread.

    Raises :class:`RepositoryError` if ``repo`` is not an existing folder, and
    :class:`SlipstreamError` if the address cannot be bound.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"The port must be a number from 0 to 65535, not {port!r}.")
    if not repo.is_dir():
        raise RepositoryError(
            f"The repository folder {repo} does not exist or is not a folder; "
            "check --repo, or publish a build into it first with `slipstream publish`."
        )
    try:
        return _RepoServer(repo.resolve(strict=True), (host, port), verbose)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SlipstreamError(f"Could not listen on {host}:{port}: {reason}.") from exc


def run(repo: Path, host: str, port: int, out: TextIO, *, verbose: bool = False) -> int:
    """Serve ``repo`` until interrupted (Ctrl-C), then close the socket and return 0.

    The first line written to ``out`` is ``serving REPO at http://HOST:PORT``, with the
    port actually bound (an IPv6 HOST is written in brackets, as URLs need).
    """
    server = make_server(repo, host, port, verbose=verbose)
    try:
        bound_port = server.socket.getsockname()[1]
        print(f"serving {repo} at http://{_url_host(host)}:{bound_port}", file=out, flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # the normal way to stop a foreground server
    finally:
        server.server_close()
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _RepoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, address: tuple[str, int], verbose: bool) -> None:
        self.repo_root = root
        self.verbose = verbose
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (a cancelled download, a closed keep-alive
        # connection) is routine for a file server: no traceback on the publisher's screen.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up with getfqdn(), a DNS round trip we
        # neither need nor want to wait for.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    server_version = "Slipstream"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out as separate small writes
    _started = False  # whether this response's status line has gone out

    @property
    def _repo(self) -> _RepoServer:
        return cast(_RepoServer, self.server)

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        self._started = False
        try:
            self._dispatch(head)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away or stalled: nothing to tell it
        except Exception as exc:  # the one catch-all: a bug must cost a 500, not the server
            self._report(exc)
            if self._started:
                self.close_connection = True  # mid-body: the only honest signal left
            else:
                self._send_json(500, _server_error(exc), head)

    def _dispatch(self, head: bool) -> None:
        words = self.requestline.split()  # the raw target: self.path has had "//" folded
        target = serve_static.split_target(words[1] if len(words) > 1 else "")
        if target is None:
            self._send_json(404, serve_endpoints.not_found().body, head)
            return
        segments, query = target
        root = self._repo.repo_root
        answer = serve_endpoints.answer(root, segments, query, self._base_url())
        if answer is not None:
            self._send_json(answer.status, answer.body, head)
            return
        opened = serve_static.open_served(root, segments)
        if opened is None:
            self._send_json(404, serve_endpoints.not_found().body, head)
            return
        file, st = opened
        with file:
            self._send_file(file, st, _content_type(segments[-1]), head)

    def _base_url(self) -> str:
        host = self.headers.get("Host", "")
        if not _SANE_HOST.fullmatch(host):
            name, port = self.connection.getsockname()[:2]
            host = f"{_url_host(name)}:{port}"
        return f"http://{host}"

    def _send_file(self, file: BinaryIO, st: stat_result, content_type: str, head: bool) -> None:
        validators = {"ETag": serve_static.etag_of(st), "Last-Modified": serve_static.http_date(st)}
        if serve_static.not_modified(
            self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), st
        ):
            self._start(304, validators)
            self.end_headers()
            return
        wanted = self._range(st)
        if wanted is UNSATISFIABLE:
            body = {"error": "range_not_satisfiable", "error_description": ""}
            self._send_json(416, body, head, {"Content-Range": f"bytes */{st.st_size}"})
            return
        headers = {**validators, "Content-Type": content_type, "Accept-Ranges": "bytes"}
        if isinstance(wanted, ByteRange):
            status, part = 206, wanted
            headers["Content-Range"] = part.content_range
        else:
            status, part = 200, ByteRange(0, st.st_size - 1, st.st_size)
        self._start(status, headers)
        self.send_header("Content-Length", str(part.length))
        self.end_headers()
        if not head:
            self._copy(file, part)

    def _range(self, st: stat_result) -> ByteRange | serve_static.Unsatisfiable | None:
        header = self.headers.get("Range")
        if header is None or self.command != "GET":  # RFC 9110: Range is for GET only
            return None
        if not serve_static.if_range_allows(self.headers.get("If-Range"), st):
            return None
        return serve_static.parse_range(header, st.st_size)

    def _copy(self, file: BinaryIO, part: ByteRange) -> None:
        """Send ``part`` of ``file``: by ``sendfile``, which the kernel copies from the page
        cache to the socket without a pass through this process (a third of the server's
        CPU went to reading and writing the blocks; without ``os.sendfile``, Python
        sends it in blocks)."""
        sent = self.connection.sendfile(file, part.start, part.length)
        if sent < part.length:  # the file shrank under us: the promised length cannot be met
            self.close_connection = True

    def _send_json(
        self,
        status: int,
        body: Mapping[str, Any],
        head: bool,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self._start(status, {"Content-Type": "application/json", **(extra or {})})
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _start(self, status: int, headers: Mapping[str, str]) -> None:
        self._started = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unknown method) as JSON, then hang up."""
        self.close_connection = True
        body = {"error": _error_name(code), "error_description": message or ""}
        self._send_json(code, body, head=self.command == "HEAD", extra={"Connection": "close"})

    def log_message(self, format: str, *args: Any) -> None:
        if self._repo.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _report(self, exc: Exception) -> None:
        # Unexpected failures are always worth a line, even when requests are not logged.
        sys.stderr.write(f"slipstream serve: {self.command} {self.path}: {exc!r}\n")


def _content_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/octet-stream"


def _error_name(code: int) -> str:
    try:
        return HTTPStatus(code).phrase.lower().replace(" ", "_")
    except ValueError:
        return "error"


def _server_error(exc: Exception) -> dict[str, str]:
    description = str(exc) if isinstance(exc, SlipstreamError) else "Internal server error."
    return {"error": "server_error", "error_description": description}
