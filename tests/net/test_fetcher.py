"""Rules of core/net/fetcher.py, one test each, over real loopback sockets (catalogue group B).

Every test runs a :class:`FaultServer` and counts what the fetcher asked for. Limits
are small so faults resolve in tenths of a second; the only timing assertions are lower
bounds on waits the fetcher must make (Retry-After, the rate limiter), plus hang guards.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from core.errors import (
    AccessDeniedError,
    CancelledError,
    DownloadError,
    FormatError,
    HashMismatchError,
    LimitExceededError,
    LocalIOError,
    NotFoundError,
    UsageError,
)
from core.net import http as fetch_http
from core.net.fetcher import HTTP_ENV, Fetcher, FetchLimits, curl_available
from core.net.limits import parse_retry_after
from core.progress import CancelToken
from tests.support.faultserver import Fault, FaultServer

try:
    import pycurl
except ImportError:  # the requests wire only
    pycurl = None

pytestmark = pytest.mark.timeout(30)

FAST = FetchLimits(
    connect_timeout=2.0,
    read_timeout=0.5,
    deadline=20.0,
    min_rate=4096.0,
    rate_window=1.0,
    retries=3,
    backoff=0.01,
    backoff_cap=0.05,
    retry_after_cap=2.0,
    max_redirects=4,
)
TRIES = FAST.retries + 1


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "www"
    path.mkdir()
    return path


@pytest.fixture
def server(root: Path) -> Iterator[FaultServer]:
    with FaultServer(root) as running:
        yield running


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as running:
        yield running


def put(root: Path, name: str, size: int, seed: int = 0) -> bytes:
    data = random.Random(seed).randbytes(size)
    path = root / name.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def fetch(fetcher: Fetcher, server: FaultServer, name: str, dest: Path, data: bytes) -> None:
    fetcher.download(server.url_for(name), dest, size=len(data), md5=md5(data), what=name)


def cancel_after(limit: int) -> tuple[CancelToken, Callable[[int], None]]:
    """A token, and an ``on_bytes`` that cancels it once ``limit`` bytes have come."""
    token = CancelToken()
    got = 0

    def count(n: int) -> None:
        nonlocal got
        got += n
        if got >= limit:
            token.cancel()

    return token, count


# --- B1 drops --------------------------------------------------------------------------


@pytest.mark.parametrize("no_length", [False, True], ids=["content-length", "close-delimited"])
def test_drop_mid_body_resumes_with_range(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path, no_length: bool
) -> None:
    data = put(root, "a.bin", 300_000)
    server.plan("/a.bin", Fault(drop_after=100_000, no_length=no_length, times=1))
    fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert (tmp_path / "a.part").read_bytes() == data
    assert server.ranges("/a.bin") == [None, "bytes=100000-"]


def test_document_cut_short_is_fetched_again(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    data = put(root, "doc", 200_000)
    server.plan("/doc", Fault(chunked=True, drop_after=50_000, times=1))
    assert fetcher.get_bytes(server.url_for("doc"), max_bytes=10**6, what="doc") == data
    assert server.ranges("/doc") == [None, None]


# --- B2 lengths ------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [-10, 10])
def test_wrong_content_length_is_refused(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path, delta: int
) -> None:
    data = put(root, "a.bin", 50_000)
    server.plan("/a.bin", Fault(length_delta=delta))
    with pytest.raises(DownloadError, match=f"announced {50_000 + delta} bytes"):
        fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert server.count("/a.bin") == TRIES
    assert (tmp_path / "a.part").stat().st_size <= len(data)


def test_document_shorter_than_its_content_length_is_retried_then_refused(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    put(root, "doc", 5_000)
    server.plan("/doc", Fault(length_delta=10))
    with pytest.raises(DownloadError, match="connection lost"):
        fetcher.get_bytes(server.url_for("doc"), max_bytes=10**6, what="doc")
    assert server.count("/doc") == TRIES


@pytest.mark.parametrize("fault", [Fault(endless=True), Fault(no_length=True)])
def test_body_longer_than_size_stops_at_size(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path, fault: Fault
) -> None:
    data = put(root, "a.bin", 50_000)
    server.plan("/a.bin", fault)
    dest = tmp_path / "a.part"
    with pytest.raises(DownloadError, match="more than 40000 bytes"):
        fetcher.download(server.url_for("a.bin"), dest, size=40_000, what="a")
    assert dest.stat().st_size <= 40_000
    assert server.count("/a.bin") == TRIES
    del data


def test_body_longer_than_size_by_content_length_is_refused_before_reading(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    put(root, "a.bin", 50_000)
    with pytest.raises(DownloadError, match="announced 50000 bytes instead of 40000"):
        fetcher.download(server.url_for("a.bin"), tmp_path / "a.part", size=40_000, what="a")
    assert (tmp_path / "a.part").stat().st_size == 0


@pytest.mark.parametrize("fault", [Fault(endless=True), Fault()], ids=["endless", "declared"])
def test_document_over_cap_is_refused_without_retry(
    fetcher: Fetcher, server: FaultServer, root: Path, fault: Fault
) -> None:
    put(root, "doc", 5_000)
    server.plan("/doc", fault)
    with pytest.raises(LimitExceededError, match="over 4096 bytes"):
        fetcher.get_bytes(server.url_for("doc"), max_bytes=4096, what="doc")
    assert server.count("/doc") == 1


# --- B3 statuses -----------------------------------------------------------------------


def test_every_object_arrives_when_half_the_answers_are_5xx(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    objects = {f"store/{i}": put(root, f"store/{i}", 20_000 + i, seed=i) for i in range(6)}
    server.plan("/store/*", Fault(statuses=[500, None]))

    def one(name: str) -> None:
        fetch(fetcher, server, name, tmp_path / f"{name.replace('/', '_')}.part", objects[name])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, objects))
    for name, data in objects.items():
        assert (tmp_path / f"{name.replace('/', '_')}.part").read_bytes() == data
        assert server.count("/" + name) == 2


def test_persistent_5xx_fails_listing_every_status(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 1000)
    server.plan("/a.bin", Fault(statuses=[500, 502, 408], status=503))
    with pytest.raises(DownloadError) as caught:
        fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert "after 4 tries (HTTP 500, HTTP 502, HTTP 408, HTTP 503)" in str(caught.value)
    assert server.url_for("a.bin") in str(caught.value)
    assert server.count("/a.bin") == TRIES


@pytest.mark.parametrize("kind", ["download", "document"])
def test_404_is_not_found_and_not_retried(
    fetcher: Fetcher, server: FaultServer, tmp_path: Path, kind: str
) -> None:
    url = server.url_for("missing")
    with pytest.raises(NotFoundError, match="HTTP 404"):
        if kind == "download":
            fetcher.download(url, tmp_path / "m.part", size=10, what="missing")
        else:
            fetcher.get_json(url, max_bytes=100, what="missing")
    assert server.count("/missing") == 1


@pytest.mark.parametrize(("status", "error"), [(403, AccessDeniedError), (400, DownloadError)])
def test_other_4xx_fail_at_once(
    fetcher: Fetcher, server: FaultServer, root: Path, status: int, error: type[Exception]
) -> None:
    put(root, "doc", 10)
    server.plan("/doc", Fault(status=status))
    with pytest.raises(error, match=f"HTTP {status}") as caught:
        fetcher.get_bytes(server.url_for("doc"), max_bytes=100, what="doc")
    assert not isinstance(caught.value, NotFoundError)
    assert server.count("/doc") == 1


# --- B4 Retry-After --------------------------------------------------------------------


def test_retry_after_is_honoured(fetcher: Fetcher, server: FaultServer, root: Path) -> None:
    data = put(root, "doc", 100)
    server.plan("/doc", Fault(status=429, retry_after="1", times=1))
    began = time.monotonic()
    assert fetcher.get_bytes(server.url_for("doc"), max_bytes=1000, what="doc") == data
    assert time.monotonic() - began >= 0.95
    assert server.count("/doc") == 2


def test_retry_after_past_the_cap_fails_now(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    put(root, "doc", 100)
    server.plan("/doc", Fault(status=503, retry_after="1000000"))
    began = time.monotonic()
    with pytest.raises(DownloadError, match=r"asked to wait 1000000 s.*try again later"):
        fetcher.get_bytes(server.url_for("doc"), max_bytes=1000, what="doc")
    assert time.monotonic() - began < 10  # hang guard: it must not wait
    assert server.count("/doc") == 1


def test_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    future = parse_retry_after(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(2e9)))
    assert future is not None and future > 10**6
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- B5 stalls and slow loris ----------------------------------------------------------


def test_stall_after_headers_times_out_and_is_retried(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 10_000)
    server.plan("/a.bin", Fault(stall=5.0, times=1))
    fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert server.count("/a.bin") == 2


def test_stall_every_time_fails_with_timeouts(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 10_000)
    server.plan("/a.bin", Fault(stall=5.0))
    with pytest.raises(DownloadError, match=r"after 4 tries \(timed out, timed out"):
        fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert server.count("/a.bin") == TRIES


def test_drip_under_the_read_timeout_is_aborted_by_the_watchdog(
    server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 50_000)
    server.plan("/a.bin", Fault(drip=(1, 0.1)))  # 10 bytes/s, each gap under 0.5 s
    with (
        Fetcher(replace(FAST, retries=1)) as fetcher,
        pytest.raises(DownloadError, match=r"after 2 tries \(too slow"),
    ):
        fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert server.count("/a.bin") == 2


def test_deadline_bounds_a_call_the_watchdog_lets_through(
    server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 50_000)
    server.plan("/a.bin", Fault(drip=(1, 0.1)))
    with (
        Fetcher(replace(FAST, min_rate=0.0, deadline=1.0)) as fetcher,
        pytest.raises(DownloadError, match="took longer than 1 s"),
    ):
        fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert server.count("/a.bin") == 1


def test_refused_connection_is_wrapped_and_retried(
    fetcher: Fetcher, tmp_path: Path, wire: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match=r"after 4 tries \(could not connect") as caught:
        fetcher.get_bytes(f"http://127.0.0.1:{port}/x", max_bytes=10, what="x")
    assert fetcher.wire == wire
    cause = caught.value.__cause__
    if wire == "curl":
        assert isinstance(cause, OSError) and pycurl and isinstance(cause.__cause__, pycurl.error)
    elif wire == "plain":
        assert isinstance(cause, OSError) and isinstance(cause.__cause__, ConnectionRefusedError)
    else:
        assert isinstance(cause, requests.ConnectionError)


def test_the_wire_is_http_client_unless_told_or_given_a_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(HTTP_ENV)
    with Fetcher(FAST) as default:
        assert default.wire == ("plain" if curl_available() else "requests")
    monkeypatch.setenv(HTTP_ENV, "curl")
    with Fetcher(FAST) as curled:
        assert curled.wire == ("curl" if curl_available() else "requests")
    monkeypatch.setenv(HTTP_ENV, "requests")
    with Fetcher(FAST) as told:
        assert told.wire == "requests"
    monkeypatch.setenv(HTTP_ENV, "curl")
    with requests.Session() as session, Fetcher(FAST, session=session) as given:
        assert given.wire == "requests"  # the caller's session: its cookies, auth, hooks


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example"])
def test_a_host_name_that_cannot_be_valid_fails_at_once(fetcher: Fetcher, host: str) -> None:
    with pytest.raises(DownloadError) as caught:
        fetcher.get_bytes(f"http://{host}/x", max_bytes=10, what="x")
    assert "is not valid" in str(caught.value) and "tries" not in str(caught.value)


# --- B6 redirects ----------------------------------------------------------------------


def test_redirect_loop_is_capped(fetcher: Fetcher, server: FaultServer) -> None:
    server.plan("/loop", Fault(redirect="/loop"))
    with pytest.raises(DownloadError, match="redirects more than 4 times"):
        fetcher.get_bytes(server.url_for("loop"), max_bytes=10, what="loop")
    assert server.count("/loop") == FAST.max_redirects + 1


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", ""])
def test_redirect_off_the_web_is_refused(
    fetcher: Fetcher, server: FaultServer, target: str
) -> None:
    server.plan("/doc", Fault(redirect=target))
    with pytest.raises(DownloadError, match="which is refused"):
        fetcher.get_bytes(server.url_for("doc"), max_bytes=10, what="doc")
    assert server.count("/doc") == 1


def test_https_to_http_redirect_is_refused() -> None:
    with pytest.raises(fetch_http.RefusedAddress, match="from https to plain http"):
        fetch_http.redirect_target("https://cdn.example/a/b", "http://cdn.example/a/c")
    assert fetch_http.redirect_target("http://h/a/b", "https://g/c") == "https://g/c"


def test_relative_redirect_is_followed(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "store/real.bin", 30_000)
    server.plan("/store/old.bin", Fault(redirect="real.bin", redirect_status=301))
    fetcher.download(server.url_for("store/old.bin"), tmp_path / "o", size=30_000, what="o")
    assert (tmp_path / "o").read_bytes() == data
    assert [r.path for r in server.requests] == ["/store/old.bin", "/store/real.bin"]


def test_credentials_stay_on_their_host(fetcher: Fetcher, server: FaultServer, root: Path) -> None:
    put(root, "b", 10)
    other_host = server.url.replace("127.0.0.1", "localhost")
    server.plan("/a", Fault(redirect=f"{other_host}/b"))
    auth = {"Authorization": "Bearer secret"}
    fetcher.get_bytes(server.url_for("a"), max_bytes=10, what="a", headers=auth)
    first, second = server.requests
    assert first.headers["Authorization"] == "Bearer secret"
    assert "Authorization" not in second.headers
    assert first.headers["User-Agent"].startswith("slipstream/")
    assert first.headers["Accept-Encoding"] == "identity"


# --- B7 ranges -------------------------------------------------------------------------


def test_ignored_range_restarts_from_zero(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 100_000)
    dest = tmp_path / "a.part"
    dest.write_bytes(b"\xff" * 30_000)  # a prefix that would corrupt the file if kept
    server.plan("/a.bin", Fault(ignore_range=True))
    fetch(fetcher, server, "a.bin", dest, data)
    assert dest.read_bytes() == data
    assert server.ranges("/a.bin") == ["bytes=30000-"]


def test_wrong_content_range_restarts_from_zero(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 100_000)
    dest = tmp_path / "a.part"
    dest.write_bytes(data[:30_000])
    server.plan("/a.bin", Fault(range_shift=7))
    fetcher.download(server.url_for("a.bin"), dest, size=len(data), what="a")  # no md5
    assert dest.read_bytes() == data
    assert server.ranges("/a.bin") == ["bytes=30000-", None]


def test_resume_from_a_partial_file_asks_for_the_rest(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 100_000)
    dest = tmp_path / "a.part"
    dest.write_bytes(data[:40_000])
    counted: list[int] = []
    fetcher.download(
        server.url_for("a.bin"), dest, size=len(data), md5=md5(data), what="a",
        on_bytes=counted.append,
    )  # fmt: skip
    assert dest.read_bytes() == data
    assert server.ranges("/a.bin") == ["bytes=40000-"]
    assert sum(counted) == 60_000


# --- B8 wrong bytes --------------------------------------------------------------------


def test_flipped_bit_is_caught_and_fetched_again(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 100_000)
    server.plan("/a.bin", Fault(flip_bit=12_345, times=1))
    fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    assert (tmp_path / "a.part").read_bytes() == data
    assert server.ranges("/a.bin") == [None, None]


def test_wrong_object_every_time_is_a_hash_mismatch_after_two_tries(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    """The same wrong bytes twice are the server's copy, not a damaged transfer: no more
    tries (and no more waits) than that."""
    data = put(root, "a.bin", 10_000, seed=1)
    other = put(root, "other.bin", 10_000, seed=2)
    server.plan("/a.bin", Fault(serve_path="/other.bin"))
    with pytest.raises(HashMismatchError) as caught:
        fetch(fetcher, server, "a.bin", tmp_path / "a.part", data)
    message = str(caught.value)
    assert server.url_for("a.bin") in message
    assert md5(data) in message and md5(other) in message
    assert "tried 2 times; the server sent the same bytes each time" in message, message
    assert server.count("/a.bin") == 2 < TRIES
    assert not (tmp_path / "a.part").exists()


def test_different_wrong_bytes_each_time_are_tried_again(
    fetcher: Fetcher, root: Path, tmp_path: Path
) -> None:
    """A link that damages each transfer differently is a bad transfer: the object is
    fetched again until it arrives intact (here on the third request)."""
    data = os.urandom(10_000)
    bodies = [bytes([data[0] ^ 1]) + data[1:], data[:-1] + bytes([data[-1] ^ 1]), data]
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[min(len(asked), 2)]
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{httpd.server_address[1]}/a.bin"
            dest = tmp_path / "a.part"
            fetcher.download(url, dest, size=len(data), md5=md5(data), what="a.bin")
        finally:
            httpd.shutdown()
    assert dest.read_bytes() == data
    assert len(asked) == 3


def test_complete_but_wrong_partial_file_is_fetched_again(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 10_000)
    dest = tmp_path / "a.part"
    dest.write_bytes(bytes(10_000))
    fetch(fetcher, server, "a.bin", dest, data)
    assert dest.read_bytes() == data
    assert server.ranges("/a.bin") == [None]


# --- cancel, local errors, threads -----------------------------------------------------


def test_cancel_keeps_the_partial_file_for_a_resume(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 400_000)
    dest = tmp_path / "a.part"
    server.plan("/a.bin", Fault(drip=(16_384, 0.02), times=1))
    token, count = cancel_after(50_000)
    with pytest.raises(CancelledError):
        fetcher.download(
            server.url_for("a.bin"), dest, size=len(data), what="a", on_bytes=count, cancel=token
        )
    kept = dest.stat().st_size
    assert 50_000 <= kept < len(data)
    assert dest.read_bytes() == data[:kept]
    fetch(fetcher, server, "a.bin", dest, data)
    assert dest.read_bytes() == data
    assert server.ranges("/a.bin") == [None, f"bytes={kept}-"]


def test_unwritable_partial_file_is_a_local_error(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 100)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LocalIOError, match=r"Could not open .*file/a\.part"):
        fetch(fetcher, server, "a.bin", tmp_path / "file" / "a.part", data)
    assert server.count("/a.bin") == 0


def test_threads_share_one_fetcher(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    objects = {f"o{i}": put(root, f"o{i}", 50_000 + i, seed=i) for i in range(16)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: fetch(fetcher, server, n, tmp_path / n, objects[n]), objects))
    assert all((tmp_path / n).read_bytes() == data for n, data in objects.items())


# --- bandwidth limit -------------------------------------------------------------------


def test_rate_limit_slows_a_download(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "big.bin", 2_000_000)
    fetcher.set_rate_limit(1_000_000)
    began = time.monotonic()
    fetch(fetcher, server, "big.bin", tmp_path / "big.part", data)
    assert time.monotonic() - began >= 1.5
    with pytest.raises(UsageError):
        fetcher.set_rate_limit(0)


def test_rate_limit_is_shared_by_all_threads(
    server: FaultServer, root: Path, tmp_path: Path
) -> None:
    objects = {f"half{i}": put(root, f"half{i}", 1_000_000, seed=i) for i in range(2)}
    began = time.monotonic()
    with Fetcher(FAST, rate_limit=1_000_000) as fetcher:
        threads = [
            threading.Thread(target=fetch, args=(fetcher, server, n, tmp_path / n, d))
            for n, d in objects.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert time.monotonic() - began >= 1.5
    assert all((tmp_path / n).read_bytes() == d for n, d in objects.items())


# --- documents -------------------------------------------------------------------------


def test_get_json_reads_zlib_and_plain_documents(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    doc = {"version": 2, "name": "ünïcode"}
    (root / "packed").write_bytes(zlib.compress(json.dumps(doc).encode()))
    (root / "plain").write_bytes(json.dumps(doc).encode())
    for name in ("packed", "plain"):
        assert fetcher.get_json(server.url_for(name), max_bytes=1000, what=name) == doc


def test_get_json_of_garbage_is_a_format_error(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    (root / "junk").write_bytes(b"\x78\x9c not really zlib")
    with pytest.raises(FormatError, match="junk"):
        fetcher.get_json(server.url_for("junk"), max_bytes=1000, what="junk")
    # Asked twice: the same damaged bytes again are what the server serves, not a bad transfer.
    assert server.count("/junk") == 2


DOC = {"items": [{"n": i, "name": f"file {i}"} for i in range(400)]}


@pytest.mark.parametrize(
    "fault",
    [
        Fault(no_length=True, drop_after=900, times=1),
        Fault(flip_bit=300, times=1),
        Fault(length_delta=-20, times=1),
        Fault(statuses=[502]),
    ],
    ids=["cut-short-without-length", "flipped", "short-content-length", "5xx"],
)
def test_a_damaged_document_is_fetched_again(
    fetcher: Fetcher, server: FaultServer, root: Path, fault: Fault
) -> None:
    (root / "doc").write_bytes(zlib.compress(json.dumps(DOC).encode()))
    server.plan("/doc", fault)
    assert fetcher.get_json(server.url_for("doc"), max_bytes=10**6, what="the doc") == DOC
    assert server.count("/doc") == 2


def test_a_document_damaged_the_same_way_twice_is_refused(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    (root / "doc").write_bytes(zlib.compress(json.dumps(DOC).encode()))
    server.plan("/doc", Fault(flip_bit=300))
    with pytest.raises(FormatError, match="the doc is not a valid zlib stream"):
        fetcher.get_json(server.url_for("doc"), max_bytes=10**6, what="the doc")
    assert server.count("/doc") == 2


def test_differently_damaged_copies_are_retried_up_to_the_limit(
    fetcher: Fetcher, root: Path
) -> None:
    body = zlib.compress(json.dumps(DOC).encode())
    served: list[int] = []

    class Flipping(Fetcher):
        def get_bytes(self, url: str, **kwargs: object) -> bytes:  # type: ignore[override]
            served.append(len(served))
            damaged = bytearray(body)
            damaged[100 + 7 * len(served)] ^= 1
            return bytes(damaged)

    flipping = Flipping(FAST)
    damaged = r"after 4 tries \(damaged, damaged, damaged, damaged\): the doc is not a valid"
    with flipping, pytest.raises(DownloadError, match=damaged):
        flipping.get_json("http://127.0.0.1:9/doc", max_bytes=10**6, what="the doc")
    assert len(served) == TRIES


def test_a_garbled_host_is_never_contacted(fetcher: Fetcher) -> None:
    with pytest.raises(DownloadError, match="is not valid") as caught:
        fetcher.get_bytes("http://12'.0.0.1/builds", max_bytes=10, what="x")
    assert "tries" not in str(caught.value)


# --- the rate limit is for content ----------------------------------------------------


class CountingLimiter:
    """Wraps a fetcher's limiter and counts the bytes it was asked to charge."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.charged = 0
        real = fetcher._limiter.take

        def take(n: int, cancel: CancelToken) -> float:
            self.charged += n
            return real(n, cancel)

        fetcher._limiter.take = take  # type: ignore[method-assign]


def test_documents_under_a_mib_pass_the_rate_limit_untaxed(
    server: FaultServer, root: Path, tmp_path: Path
) -> None:
    small = put(root, "small.json", 300_000)
    big = put(root, "big.json", (1 << 20) + 50_000, seed=1)
    chunk = put(root, "chunk", 200_000, seed=2)
    # A rate so high it never sleeps: the test counts bytes, it does not time them.
    with Fetcher(FAST, rate_limit=1e12) as fetcher:
        counter = CountingLimiter(fetcher)
        assert fetcher.get_bytes(server.url_for("small.json"), max_bytes=10**7, what="s") == small
        assert counter.charged == 0
        assert fetcher.get_bytes(server.url_for("big.json"), max_bytes=10**7, what="b") == big
        assert counter.charged == 50_000
        dest = tmp_path / "chunk.part"
        fetcher.download(server.url_for("chunk"), dest, size=len(chunk), what="chunk")
        assert counter.charged == 50_000 + len(chunk)


# --- the harness itself ----------------------------------------------------------------


def test_fault_server_is_a_plain_static_server(server: FaultServer, root: Path) -> None:
    data = put(root, "dir/f.bin", 1000)
    (root.parent / "secret").write_bytes(b"outside")
    with requests.Session() as session:
        whole = session.get(server.url_for("dir/f.bin"))
        assert (whole.status_code, whole.content) == (200, data)
        assert whole.headers["ETag"] == f'"{md5(data)}"'
        part = session.get(server.url_for("dir/f.bin"), headers={"Range": "bytes=10-19"})
        assert (part.status_code, part.content) == (206, data[10:20])
        assert part.headers["Content-Range"] == "bytes 10-19/1000"
        tail = session.get(server.url_for("dir/f.bin"), headers={"Range": "bytes=-5"})
        assert tail.content == data[-5:]
        past = session.get(server.url_for("dir/f.bin"), headers={"Range": "bytes=1000-"})
        assert (past.status_code, past.headers["Content-Range"]) == (416, "bytes */1000")
        head = session.head(server.url_for("dir/f.bin"))
        assert (head.headers["Content-Length"], head.content) == ("1000", b"")
        assert session.get(server.url + "/dir/../../secret").status_code == 404
        assert session.get(server.url_for("dir")).status_code == 404
    assert server.count("/dir/f.bin") == 5


# --- ranges of pack objects (issue 13) -------------------------------------------------


def get_range(
    fetcher: Fetcher, server: FaultServer, dest: Path, start: int, length: int, seen: list[int]
) -> bytes:
    fetcher.download_range(
        server.url_for("pack"), dest, start=start, length=length, what="pack",
        on_bytes=seen.append,
    )  # fmt: skip
    return dest.read_bytes()


def test_a_range_is_one_request_for_exactly_its_bytes(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "pack", 300_000)
    seen: list[int] = []
    assert get_range(fetcher, server, tmp_path / "r", 1000, 50_000, seen) == data[1000:51_000]
    assert server.ranges("/pack") == ["bytes=1000-50999"] and sum(seen) == 50_000


def test_a_range_ignored_by_the_server_is_cut_from_the_whole_object(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "pack", 3_000_000)
    server.plan("/pack", Fault(ignore_range=True))
    seen: list[int] = []
    got = get_range(fetcher, server, tmp_path / "r", 1_000_000, 20_000, seen)
    assert got == data[1_000_000:1_020_000]
    assert server.ranges("/pack") == ["bytes=1000000-1019999"]
    # The bytes that came over the wire are counted; reading stopped near the range's end.
    assert 1_020_000 <= sum(seen) < len(data)


def test_a_shifted_range_is_refused_and_asked_for_again(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "pack", 100_000)
    server.plan("/pack", Fault(range_shift=7, times=1))
    got = get_range(fetcher, server, tmp_path / "r", 500, 1000, [])
    assert got == data[500:1500]
    assert server.ranges("/pack") == ["bytes=500-1499", "bytes=500-1499"]


def test_a_range_cut_short_resumes_from_where_it_stopped(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "pack", 400_000)
    server.plan("/pack", Fault(drop_after=100_000, times=1))
    got = get_range(fetcher, server, tmp_path / "r", 50_000, 300_000, [])
    assert got == data[50_000:350_000]
    assert server.ranges("/pack") == ["bytes=50000-349999", "bytes=150000-349999"]


def test_a_range_past_the_object_fails_at_once(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    put(root, "pack", 1000)
    with pytest.raises(DownloadError, match="416"):
        get_range(fetcher, server, tmp_path / "r", 5000, 10, [])
    assert server.count("/pack") == 1


def test_a_whole_object_shorter_than_the_range_is_refused(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    put(root, "pack", 1000)
    server.plan("/pack", Fault(ignore_range=True))
    with pytest.raises(DownloadError, match="cut short"):
        get_range(fetcher, server, tmp_path / "r", 900, 200, [])
    assert server.count("/pack") == TRIES


# --- objects in memory (fetch_object: the chunks of files assembled as they arrive) -----


def test_object_in_memory_cut_mid_body_resumes_with_range(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    data = put(root, "a.bin", 300_000)
    server.plan("/a.bin", Fault(drop_after=100_000, times=1))
    counted: list[int] = []
    got = fetcher.fetch_object(
        server.url_for("a.bin"), size=len(data), what="a", on_bytes=counted.append
    )
    assert got == data
    assert server.ranges("/a.bin") == [None, "bytes=100000-"]
    assert sum(counted) == len(data)  # network bytes: the resumed rest, not the prefix again


@pytest.mark.parametrize(
    "lie", [Fault(ignore_range=True), Fault(range_shift=7)], ids=["ignored", "shifted"]
)
def test_object_in_memory_resumed_against_a_lying_range_starts_over(
    fetcher: Fetcher, server: FaultServer, root: Path, lie: Fault
) -> None:
    data = put(root, "a.bin", 100_000)
    server.plan("/a.bin", Fault(drop_after=30_000, times=1))
    first = True

    def lie_after_the_cut(n: int) -> None:
        nonlocal first
        if first:  # from the second request on, the server answers a range wrongly
            first = False
            server.plan("/a.bin", lie)

    got = fetcher.fetch_object(
        server.url_for("a.bin"), size=len(data), what="a", on_bytes=lie_after_the_cut
    )
    assert got == data  # no misaligned byte kept
    assert server.ranges("/a.bin")[1] == "bytes=30000-"


def test_object_in_memory_with_a_flipped_bit_is_fetched_again(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    data = put(root, "a.bin", 100_000)
    server.plan("/a.bin", Fault(flip_bit=12_345, times=1))
    assert fetcher.fetch_object(server.url_for("a.bin"), size=len(data), md5=md5(data), what="a")
    assert server.ranges("/a.bin") == [None, None]
    put(root, "b.bin", 10_000, seed=1)
    other = put(root, "other.bin", 10_000, seed=2)
    server.plan("/b.bin", Fault(serve_path="/other.bin"))
    with pytest.raises(HashMismatchError, match="the server sent the same bytes each time"):
        fetcher.fetch_object(server.url_for("b.bin"), size=10_000, md5=md5(data), what="b")
    assert server.count("/b.bin") == 2 and md5(other) != md5(data)


def test_object_in_memory_stops_at_its_size(
    fetcher: Fetcher, server: FaultServer, root: Path
) -> None:
    data = put(root, "a.bin", 50_000)
    server.plan("/a.bin", Fault(endless=True, times=1))
    assert fetcher.fetch_object(server.url_for("a.bin"), size=len(data), what="a") == data
    assert server.count("/a.bin") == 2


def test_object_in_memory_spills_what_arrived_when_cancelled_and_download_resumes_it(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 400_000)
    spill = tmp_path / "a.part"
    server.plan("/a.bin", Fault(drip=(16_384, 0.02), times=1))
    token, count = cancel_after(50_000)
    with pytest.raises(CancelledError):
        fetcher.fetch_object(
            server.url_for("a.bin"), size=len(data), what="a", on_bytes=count, cancel=token,
            spill=spill,
        )  # fmt: skip
    kept = spill.stat().st_size
    assert 50_000 <= kept < len(data)
    assert spill.read_bytes() == data[:kept]
    fetch(fetcher, server, "a.bin", spill, data)
    assert spill.read_bytes() == data
    assert server.ranges("/a.bin") == [None, f"bytes={kept}-"]


def test_object_in_memory_spills_what_arrived_when_it_gives_up(
    fetcher: Fetcher, server: FaultServer, root: Path, tmp_path: Path
) -> None:
    data = put(root, "a.bin", 100_000)
    spill = tmp_path / "a.part"
    server.plan("/a.bin", Fault(statuses=[None] + [500] * 20, drop_after=40_000, times=1))
    with pytest.raises(DownloadError):
        fetcher.fetch_object(server.url_for("a.bin"), size=len(data), what="a", spill=spill)
    assert spill.read_bytes() == data[:40_000]
