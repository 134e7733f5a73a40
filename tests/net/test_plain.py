"""What only the ``http.client`` wire (core/net/plain.py) has to get right itself: a kept
connection the server closed meanwhile, and a body in a content coding we did not ask
for. Everything else it shares with the other wires is in test_fetcher.py, which runs on
each of them (conftest.py)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from core.errors import CancelledError, LimitExceededError
from core.net.fetcher import HTTP_ENV, Fetcher
from core.net.limits import FetchLimits
from core.progress import CancelToken

BODY = b"slipstream " * 1000
NO_RETRY = FetchLimits(retries=0, backoff=0.001, backoff_cap=0.002)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> str:
    """This module's tests run on the http.client wire only (see conftest.py's)."""
    monkeypatch.setenv(HTTP_ENV, "plain")
    return "plain"


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn.recv(65536)
        if not data:
            return b""
        head += data
    return head


@contextmanager
def raw_server(answer: Callable[[socket.socket, int], bool]) -> Iterator[tuple[str, list[int]]]:
    """A server on 127.0.0.1 that hands each request to ``answer(conn, n)`` (n counts the
    requests) and reads the next one from the same connection while ``answer`` says so;
    yields its URL and the list of connections' request counts."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # (closing it would not wake a blocked accept)
    port = listener.getsockname()[1]
    per_connection: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        n = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(30)
            per_connection.append(0)
            with conn:
                while _read_head(conn):
                    n += 1
                    per_connection[-1] += 1
                    if not answer(conn, n):
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/doc", per_connection
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _ok(body: bytes, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra, "", ""]
    return "\r\n".join(lines).encode() + body


def test_a_kept_connection_the_server_closed_is_opened_again_without_a_try() -> None:
    """The server answers with keep-alive, then hangs up (an idle timeout, say). The next
    request on that connection fails before any answer: it is sent again on a new one,
    not counted as a failed try (no retries are allowed here)."""

    def answer_then_hang_up(conn: socket.socket, n: int) -> bool:
        conn.sendall(_ok(BODY))
        return False

    with raw_server(answer_then_hang_up) as (url, per_connection), Fetcher(NO_RETRY) as fetcher:
        assert fetcher.get_bytes(url, max_bytes=len(BODY), what="doc") == BODY
        assert fetcher.get_bytes(url, max_bytes=len(BODY), what="doc") == BODY
    assert per_connection == [1, 1]


def test_a_kept_connection_serves_the_next_request() -> None:
    def answer(conn: socket.socket, n: int) -> bool:
        conn.sendall(_ok(BODY))
        return True

    with raw_server(answer) as (url, per_connection), Fetcher(NO_RETRY) as fetcher:
        for _ in range(3):
            assert fetcher.get_bytes(url, max_bytes=len(BODY), what="doc") == BODY
    assert per_connection == [3]


def test_a_gzip_body_is_decoded_and_its_decoded_size_is_what_the_limit_counts() -> None:
    packed = gzip.compress(BODY)

    def gzipped(conn: socket.socket, n: int) -> bool:
        conn.sendall(_ok(packed, "Content-Encoding: gzip"))
        return True

    with raw_server(gzipped) as (url, _), Fetcher(NO_RETRY) as fetcher:
        assert fetcher.get_bytes(url, max_bytes=len(BODY), what="doc") == BODY
        with pytest.raises(LimitExceededError):
            fetcher.get_bytes(url, max_bytes=len(BODY) // 2, what="doc")


def test_a_cancel_ends_a_connect_that_hangs() -> None:
    """A server whose accept queue is full drops the handshake, so the connect hangs; a
    cancel still ends the call within about a second (the connect is polled), long before
    the connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = [socket.socket() for _ in range(4)]
    for sock in queued:
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
    token = CancelToken()
    outcome: list[BaseException] = []
    slow = FetchLimits(retries=0, connect_timeout=60.0, deadline=120.0)

    def fetch() -> None:
        with Fetcher(slow) as fetcher:
            try:
                fetcher.get_bytes(
                    f"http://127.0.0.1:{port}/x", max_bytes=10, what="x", cancel=token
                )
            except BaseException as exc:  # the test looks at what it was
                outcome.append(exc)

    try:
        worker = threading.Thread(target=fetch)
        worker.start()
        time.sleep(0.3)
        token.cancel()
        worker.join(20)  # a liveness bound, not a timing: the connect timeout is 60 s
        assert not worker.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], CancelledError), outcome
    finally:
        for sock in queued:
            sock.close()
        listener.close()


SLOW_NAME = "slow-dns.invalid"


@pytest.fixture
def slow_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A name server that never answers, for :data:`SLOW_NAME` only: its lookup waits
    (up to 30 s) until the test ends, then fails."""
    real = socket.getaddrinfo
    released = threading.Event()

    def lookup(host: object, *args: object, **kwargs: object) -> object:
        if host == SLOW_NAME:
            released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "no answer")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield
    released.set()


def test_a_cancel_ends_a_name_lookup_that_hangs(slow_lookup: None) -> None:
    """``getaddrinfo`` cannot be interrupted, and a dead name server keeps it for many
    seconds; the lookup runs on a thread of its own, so a cancel ends the call at once."""
    token = CancelToken()
    outcome: list[BaseException] = []

    def fetch() -> None:
        with Fetcher(NO_RETRY) as fetcher:
            try:
                fetcher.get_bytes(f"http://{SLOW_NAME}/x", max_bytes=10, what="x", cancel=token)
            except BaseException as exc:  # the test looks at what it was
                outcome.append(exc)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    time.sleep(0.3)
    token.cancel()
    worker.join(10)  # a liveness bound: the lookup itself waits 30 s
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CancelledError), outcome


def test_a_name_lookup_longer_than_the_connect_timeout_has_timed_out(slow_lookup: None) -> None:
    quick = FetchLimits(retries=0, connect_timeout=0.5)
    with Fetcher(quick) as fetcher, pytest.raises(Exception) as failed:
        fetcher.get_bytes(f"http://{SLOW_NAME}/x", max_bytes=10, what="x")
    assert "(timed out)" in str(failed.value), failed.value


def test_a_name_that_does_not_resolve_is_server_not_found() -> None:
    with Fetcher(NO_RETRY) as fetcher, pytest.raises(Exception) as failed:
        fetcher.get_bytes("http://no-such-host.invalid/x", max_bytes=10, what="x")
    assert "server not found" in str(failed.value), failed.value
