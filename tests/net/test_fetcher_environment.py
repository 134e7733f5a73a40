"""What the fetcher takes from the environment, on both wires (tests/net/conftest.py): a
proxy and ``no_proxy``, and the CA bundle that decides whether an https server is
trusted. Real sockets on loopback; the https server has a certificate made here."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import DownloadError
from core.net.fetcher import Fetcher, FetchLimits

pytestmark = pytest.mark.timeout(30)

QUICK = FetchLimits(connect_timeout=2.0, read_timeout=2.0, retries=1, backoff=0.01)
BODY = bytes(range(256)) * 40


class _Answering(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    """Answers every GET with :data:`BODY` and records the request target (a proxy gets
    the absolute URL)."""

    protocol_version = "HTTP/1.1"
    server: _Answering

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _running(server: _Answering) -> Iterator[_Answering]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def answering() -> Iterator[_Answering]:
    yield from _running(_Answering())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def _download(fetcher: Fetcher, url: str, dest: Path) -> bytes:
    md5 = hashlib.md5(BODY).hexdigest()
    fetcher.download(url, dest, size=len(BODY), md5=md5, what="a")
    return dest.read_bytes()


def test_the_proxy_the_environment_names_is_used(
    answering: _Answering, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("http_proxy", answering.url)
    with Fetcher(QUICK) as fetcher:
        got = _download(fetcher, "http://files.example.com/store/a.bin", tmp_path / "a")
    assert got == BODY
    assert answering.seen == ["http://files.example.com/store/a.bin"]


def test_no_proxy_goes_direct(
    answering: _Answering, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    clean_env.setenv("no_proxy", "127.0.0.1")
    with Fetcher(QUICK) as fetcher:
        assert _download(fetcher, answering.url + "/a.bin", tmp_path / "a") == BODY
    assert answering.seen == ["/a.bin"]


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[tuple[_Answering, Path]]:
    cert, key = _certificate(tmp_path)
    server = _Answering()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for running in _running(server):
        yield running, cert


def test_https_is_trusted_through_the_environments_ca_bundle(
    secure: tuple[_Answering, Path], clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, cert = secure
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with Fetcher(QUICK) as fetcher:
        assert _download(fetcher, server.url + "/a.bin", tmp_path / "a") == BODY


def test_an_untrusted_certificate_fails_at_once_and_says_so(
    secure: tuple[_Answering, Path], clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, _ = secure
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        clean_env.delenv(name, raising=False)
    with Fetcher(QUICK) as fetcher, pytest.raises(DownloadError) as caught:
        _download(fetcher, server.url + "/a.bin", tmp_path / "a")
    assert "is not trusted" in str(caught.value) and "tries" not in str(caught.value)
    assert server.seen == []
