"""The shipped nginx example (packaging/nginx/slipstream.conf), run by the real nginx.

Each test starts nginx on 127.0.0.1 with a generated main config that includes the shipped
file, its ``root`` and ``listen`` replaced, in front of the hand-written ``mini_repo``, and
checks the same answers as tests/test_serve.py, except that nginx sends the publisher's
documents as written (no link rewriting). nginx must be installed: scripts/setup.sh --dev.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import MiniRepo
from test_serve import NOT_FOUND, REFUSED_TARGETS, raw_get

from core import layout

pytestmark = pytest.mark.nginx

SHIPPED = Path(__file__).resolve().parents[1] / "packaging" / "nginx" / "slipstream.conf"
START_DEADLINE = 30.0  # seconds nginx gets to accept connections: a hang guard, not a check

MAIN_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/slipstream.conf;
}}
"""


def _nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is None:
        pytest.fail(
            "nginx is not installed: run scripts/setup.sh --dev (Debian package nginx-light)"
        )
    return found


def _free_port() -> int:
    # nginx cannot listen on port 0, so borrow a free port from the kernel and hand it over.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def site_config(repo: Path, port: int) -> str:
    """The shipped config with its ``root`` and ``listen`` lines pointed at the test."""
    text = SHIPPED.read_text()
    text, roots = re.subn(
        r"^(\s*)root /srv/slipstream/repo;", rf"\g<1>root {repo};", text, flags=re.M
    )
    text, listens = re.subn(
        r"^(\s*)listen 80;\n\s*listen \[::\]:80;.*$",
        rf"\g<1>listen 127.0.0.1:{port};",
        text,
        flags=re.M,
    )
    assert (roots, listens) == (1, 1), "slipstream.conf changed shape: update site_config()"
    return text


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nginx did not listen on port {port}: {log.read_text(errors='replace')}")


@dataclass(frozen=True)
class Nginx:
    repo: MiniRepo
    port: int
    session: requests.Session

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, **kwargs)


@pytest.fixture
def nginx(mini_repo: MiniRepo, tmp_path: Path) -> Iterator[Nginx]:
    binary = _nginx_binary()
    conf_dir = tmp_path / "nginx"
    conf_dir.mkdir()
    port = _free_port()
    (conf_dir / "slipstream.conf").write_text(site_config(mini_repo.root, port))
    # Workers run as nobody unless told otherwise, and pytest's tmp folders are 0700.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (conf_dir / "nginx.conf").write_text(MAIN_CONF.format(user=user, tmp=conf_dir))
    log = conf_dir / "error.log"
    cmd = [binary, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")]
    with log.open("ab") as stderr:  # nginx's own early complaints land beside error_log
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        _wait_until_listening(proc, port, log)
        with requests.Session() as session:
            yield Nginx(mini_repo, port, session)
    finally:
        proc.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_static_object_with_etag_and_range(nginx: Nginx) -> None:
    rel = nginx.repo.chunk
    data = nginx.repo.objects[rel]
    whole = nginx.get(layout.url_path(rel))
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["Content-Type"] == "application/octet-stream"
    assert whole.headers["ETag"].startswith('"')
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = nginx.get(layout.url_path(rel), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert part.content == data[10:20]
    etag = whole.headers["ETag"]
    assert nginx.get(layout.url_path(rel), headers={"If-None-Match": etag}).status_code == 304


def test_head(nginx: Nginx) -> None:
    rel = nginx.repo.chunk
    status, headers, body = raw_get(nginx.port, layout.url_path(rel), method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(nginx.repo.objects[rel]))


def test_builds_link_and_urls_forms(nginx: Nginx) -> None:
    p = nginx.repo.product
    builds = f"/products/{p}/os/windows/builds"
    for query, rel in (
        ("?generation=2", layout.builds_rel(p, "windows")),
        ("", layout.builds_rel(p, "windows")),
        ("?&generation=2&password=x", layout.builds_rel(p, "windows")),
        ("?generation=2&_version=2", layout.builds_v2_rel(p, "windows")),
    ):
        response = nginx.get(builds + query)
        assert response.status_code == 200, query
        assert response.headers["Content-Type"] == "application/json"
        assert response.content == nginx.repo.objects[rel], query  # sent as written


def test_builds_generation_1_empty(nginx: Nginx) -> None:
    response = nginx.get(f"/products/{nginx.repo.product}/os/windows/builds?generation=1")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "total_count": 0,
        "count": 0,
        "items": [],
        "has_private_branches": False,
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/products/1/os/windows/builds", 404),
        ("/products/{p}/os/osx/builds", 404),
        ("/products/abc/os/windows/builds", 404),
        ("/products/1/os/windows/builds?generation=1", 404),
        ("/products/{p}/os/windows/builds?generation=3", 400),
        ("/products/{p}/os/windows/builds?_version=7", 400),
    ],
)
def test_builds_errors_are_json(nginx: Nginx, path: str, status: int) -> None:
    response = nginx.get(path.format(p=nginx.repo.product))
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == ("not_found" if status == 404 else "invalid_request")


def test_patches_pair_found(nginx: Nginx) -> None:
    repo = nginx.repo
    query = f"?_version=4&from_build_id={repo.old}&to_build_id={repo.new}"
    response = nginx.get(f"/products/{repo.product}/patches{query}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert (
        response.content
        == nginx.repo.objects[layout.patch_pair_rel(repo.product, repo.old, repo.new)]
    )


@pytest.mark.parametrize(
    "query",
    [
        "?_version=4&from_build_id={new}&to_build_id={old}",
        "?_version=4&from_build_id=x1&to_build_id={new}",
        "?_version=4&from_build_id=../{old}&to_build_id={new}",
    ],
)
def test_patches_absent_is_gog_not_found(nginx: Nginx, query: str) -> None:
    repo = nginx.repo
    response = nginx.get(
        f"/products/{repo.product}/patches" + query.format(old=repo.old, new=repo.new)
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    "query", ["?_version=4&from_build_id=1", "?_version=3&from_build_id=1&to_build_id=2"]
)
def test_patches_bad_query_is_400(nginx: Nginx, query: str) -> None:
    response = nginx.get(f"/products/{nginx.repo.product}/patches{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("query", "patches"),
    [
        ("?_version=2&generation=2&path=/", False),
        ("?_version=2&generation=2&path=%2F", False),
        ("?_version=2&generation=2&path=/&root=/patches/store", True),
        ("?path=/&root=%2Fpatches%2Fstore", True),
    ],
)
def test_secure_link_both_roots(nginx: Nginx, query: str, patches: bool) -> None:
    p = nginx.repo.product
    response = nginx.get(f"/products/{p}/secure_link{query}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == nginx.repo.objects[layout.secure_link_rel(p, patches)]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/products/42/secure_link?path=/", 404),
        ("/products/{p}/secure_link?root=/other", 400),
        ("/products/{p}/secure_link?path=/ab", 400),
        ("/products/{p}/secure_link?generation=1", 400),
    ],
)
def test_secure_link_errors_are_json(nginx: Nginx, path: str, status: int) -> None:
    response = nginx.get(path.format(p=nginx.repo.product))
    assert response.status_code == status
    assert response.json()["error"] == ("not_found" if status == 404 else "invalid_request")


def test_traversal_refused(nginx: Nginx) -> None:
    for target in REFUSED_TARGETS:
        status, _, body = raw_get(nginx.port, target)
        # nginx answers a path that climbs above the root with 400 before any location.
        assert status in (400, 404), target
        assert nginx.repo.secret not in body
        assert b"root:" not in body


def test_symlinks_refused(nginx: Nginx) -> None:
    repo = nginx.repo
    chunk_tail = "/".join(repo.chunk.split("/")[-2:])
    targets = [layout.url_path(rel) for rel in repo.symlinks if rel.endswith(".json")]
    targets.append(layout.url_path(f"{layout.store_prefix_rel(repo.product)}/ff/{chunk_tail}"))
    targets.append(layout.url_path(f"{layout.store_prefix_rel(repo.product)}/etc/passwd"))
    for target in targets:
        status, _, body = raw_get(nginx.port, target)
        assert status == 404, target
        assert repo.secret not in body
        assert b"root:" not in body


def test_directories_not_listed(nginx: Nginx) -> None:
    prefix = layout.url_path(layout.store_prefix_rel(nginx.repo.product))
    for target in (prefix, prefix + "/", "/content-system/v2/", "/products/", "/"):
        status, headers, body = raw_get(nginx.port, target)
        assert status == 404, target
        assert headers["Content-Type"] == "application/json"
        assert body == b'{"error":"not_found","error_description":""}'


def test_publisher_state_not_served(nginx: Nginx) -> None:
    for target in ("/.slipstream/lock", "/products/../.slipstream/lock", "/index.html"):
        status, _, body = raw_get(nginx.port, target)
        assert status == 404, target
        assert b"publisher state" not in body


def test_symlinked_product_folder_refused(nginx: Nginx) -> None:
    repo = nginx.repo
    (repo.root / "products" / "77").symlink_to(repo.root / "products" / repo.product)
    query = f"?from_build_id={repo.old}&to_build_id={repo.new}"
    for path in (
        "/products/77/os/windows/builds",
        "/products/77/secure_link?path=/",
        "/products/77/os/windows/builds.json",
        f"/products/77/patches{query}",
    ):
        response = nginx.get(path)
        assert response.status_code == 404, path
        assert response.json() == NOT_FOUND
