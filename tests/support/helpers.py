"""Plain helpers several test files share; fixtures live in conftest.py.

Import it as ``from tests.support.helpers import tree``.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

from core.gamedir.folder import files_md5
from core.serve.server import make_server

COMMIT_POINTS = [
    "journal-written",
    "commit-backup",
    "commit-replace",
    "commit-folders",
    "commit-point-written",
    "commit-state-saved",
    "journal-done",
    "commit-cleaned",
    "journal-removed",
]
"""core.gamedir.journal's crash points in a commit, in order, named here independently of it."""
ROLLBACK_POINTS = [
    "rollback-journal-written",
    "rollback-trash",
    "rollback-restore",
    "rollback-folders",
    "rollback-point-dropped",
    "rollback-state-saved",
    "rollback-journal-done",
    "rollback-cleaned",
    "rollback-journal-removed",
]
"""core.gamedir.journal's crash points in a rollback, in order."""


def tree(root: Path) -> dict[str, str]:
    """Every file below ``root`` outside Slipstream's own state (.slipstream), with its md5."""
    return files_md5(root)


@contextmanager
def serving(repo: Path, *, verbose: bool = False) -> Iterator[str]:
    """``slipstream serve`` (core.serve.server.make_server) for ``repo`` on 127.0.0.1, port 0, in a
    thread; yields the base URL and stops the server (and its thread) on the way out."""
    server = make_server(repo, verbose=verbose)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def raw_get(
    port: int, target: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, Message, bytes]:
    """Send ``target`` to 127.0.0.1:``port`` exactly as given: http.client does not normalise
    ``..``, ``%2e`` or backslashes the way ``requests`` would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_socket(port: int, request: bytes) -> bytes:
    """Send raw bytes (even ones http.client refuses) and read until the server hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while data := sock.recv(65536):
            received += data
    return received
