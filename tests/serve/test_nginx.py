"""The shipped nginx example (packaging/nginx/slipstream.conf), run by the real nginx.

Each test starts nginx on 127.0.0.1 with a generated main config that includes the shipped
file, its ``root`` and ``listen`` replaced, in front of the hand-written ``mini_repo``, and
checks the same answers as tests/serve/test_server.py, except that nginx sends the publisher's
documents as written (no link rewriting). nginx must be installed: scripts/setup.sh --dev.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.format import layout
from tests.conftest import MiniRepo
from tests.serve.test_server import NOT_FOUND, REFUSED_TARGETS, Served, raw_get
from tests.support.nginxrun import running_nginx

pytestmark = pytest.mark.nginx


@pytest.fixture
def nginx(mini_repo: MiniRepo, tmp_path: Path) -> Iterator[Served]:
    with running_nginx(mini_repo.root, tmp_path / "nginx") as port, requests.Session() as session:
        yield Served(mini_repo, port, session)


def test_static_object_with_etag_and_range(nginx: Served) -> None:
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


def test_head(nginx: Served) -> None:
    rel = nginx.repo.chunk
    status, headers, body = raw_get(nginx.port, layout.url_path(rel), method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(nginx.repo.objects[rel]))


def test_builds_link_and_urls_forms(nginx: Served) -> None:
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


def test_builds_generation_1_empty(nginx: Served) -> None:
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
def test_builds_errors_are_json(nginx: Served, path: str, status: int) -> None:
    response = nginx.get(path.format(p=nginx.repo.product))
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == ("not_found" if status == 404 else "invalid_request")


def test_patches_pair_found(nginx: Served) -> None:
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
def test_patches_absent_is_gog_not_found(nginx: Served, query: str) -> None:
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
def test_patches_bad_query_is_400(nginx: Served, query: str) -> None:
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
def test_secure_link_both_roots(nginx: Served, query: str, patches: bool) -> None:
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
def test_secure_link_errors_are_json(nginx: Served, path: str, status: int) -> None:
    response = nginx.get(path.format(p=nginx.repo.product))
    assert response.status_code == status
    assert response.json()["error"] == ("not_found" if status == 404 else "invalid_request")


def test_traversal_refused(nginx: Served) -> None:
    for target in REFUSED_TARGETS:
        status, _, body = raw_get(nginx.port, target)
        # nginx answers a path that climbs above the root with 400 before any location.
        assert status in (400, 404), target
        assert nginx.repo.secret not in body
        assert b"root:" not in body


def test_symlinks_refused(nginx: Served) -> None:
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


def test_directories_not_listed(nginx: Served) -> None:
    prefix = layout.url_path(layout.store_prefix_rel(nginx.repo.product))
    for target in (prefix, prefix + "/", "/content-system/v2/", "/products/", "/"):
        status, headers, body = raw_get(nginx.port, target)
        assert status == 404, target
        assert headers["Content-Type"] == "application/json"
        assert body == b'{"error":"not_found","error_description":""}'


def test_publisher_state_not_served(nginx: Served) -> None:
    for target in ("/.slipstream/lock", "/products/../.slipstream/lock", "/index.html"):
        status, _, body = raw_get(nginx.port, target)
        assert status == 404, target
        assert b"publisher state" not in body


def test_symlinked_product_folder_refused(nginx: Served) -> None:
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
