"""The two servers of a published repository over real loopback sockets: ``slipstream serve``
(core/serve/server.py) and nginx with the shipped packaging/nginx/slipstream.conf
(tests/support/nginxrun.py).

Every test that takes ``served`` (tests/conftest.py) runs once over each server, in front of
the same hand-written ``mini_repo``. A test that only one server can pass, because of a
documented difference (nginx sends the publisher's documents as written, serve rewrites their
links; nginx is not Python code to break), is narrowed with ``only_serve`` and says why; the
nginx-only ones are in test_nginx.py. ``requests`` checks what a client sees; ``raw_get`` and
``raw_socket`` send request targets that ``requests`` would normalise (``..``, ``%2e``,
backslashes, NUL).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from core.errors import RepositoryError, SlipstreamError
from core.format import layout
from core.serve import endpoints as serve_endpoints
from core.serve import server as serve
from core.serve import static as serve_static
from tests.conftest import MiniRepo, Served, gog_endpoint, only_serve
from tests.support.helpers import raw_get, raw_socket, serving

PROJECT = Path(__file__).resolve().parents[2]
NOT_FOUND = {"error": "not_found", "error_description": ""}


def url(rel: str) -> str:
    return layout.url_path(rel)


# --- static files ---------------------------------------------------------------------


def test_get_object_body_and_headers(served: Served) -> None:
    rel = served.repo.chunk
    response = served.get(url(rel))
    assert response.status_code == 200
    assert response.content == served.repo.objects[rel]
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Length"] == str(len(served.repo.objects[rel]))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', response.headers["ETag"])  # strong
    assert response.headers["Last-Modified"].endswith(" GMT")


def test_big_object_streams_whole(served: Served) -> None:
    rel = served.repo.big_chunk
    assert len(served.repo.objects[rel]) > 2 * 1024 * 1024  # several of any sending block
    with served.get(url(rel), stream=True) as response:
        body = b"".join(response.iter_content(256 * 1024))
    assert body == served.repo.objects[rel]


def test_json_document_has_json_type(served: Served) -> None:
    rel = layout.builds_rel(served.repo.product, "windows")
    response = served.get(url(rel))
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == served.repo.objects[rel]  # the static file, not rewritten


def test_head_has_headers_and_no_body(served: Served) -> None:
    rel = served.repo.chunk
    get = served.get(url(rel))
    status, headers, body = raw_get(served.port, url(rel), method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(served.repo.objects[rel]))
    assert headers["ETag"] == get.headers["ETag"]
    assert headers["Last-Modified"] == get.headers["Last-Modified"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=4000-", 4000, 4095),
        ("bytes=-50", 4046, 4095),
        ("bytes=4090-99999", 4090, 4095),
        ("bytes=-99999", 0, 4095),
    ],
)
def test_single_range_is_206(served: Served, header: str, start: int, end: int) -> None:
    rel = served.repo.chunk
    data = served.repo.objects[rel]
    assert len(data) == 4096
    response = served.get(url(rel), headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/4096"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.content == data[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=4096-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(served: Served, header: str) -> None:
    response = served.get(url(served.repo.chunk), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */4096"


@pytest.mark.parametrize("header", ["items=0-1", "bytes 0-1"])
def test_range_of_another_unit_or_form_sends_everything(served: Served, header: str) -> None:
    rel = served.repo.chunk
    response = served.get(url(rel), headers={"Range": header})
    assert response.status_code == 200
    assert "Content-Range" not in response.headers
    assert response.content == served.repo.objects[rel]


# serve only: it sends one range or none, so a multi-range or a broken bytes= range gets the
# whole file (RFC 9110 lets a server ignore Range); nginx answers a multi-range with a
# multipart 206 and a reversed or unparsable bytes= range with 416.
@only_serve
@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=5-2", "bytes=abc", "bytes=-"])
def test_multi_or_malformed_range_sends_everything(served: Served, header: str) -> None:
    rel = served.repo.chunk
    response = served.get(url(rel), headers={"Range": header})
    assert response.status_code == 200
    assert "Content-Range" not in response.headers
    assert response.content == served.repo.objects[rel]


# serve only: nginx answers a HEAD with a Range header as it would the GET, with a 206.
@only_serve
def test_head_ignores_range(served: Served) -> None:
    status, headers, _ = raw_get(
        served.port, url(served.repo.chunk), {"Range": "bytes=0-9"}, "HEAD"
    )
    assert status == 200
    assert headers["Content-Length"] == "4096"


def test_if_none_match_gives_304(served: Served) -> None:
    rel = served.repo.chunk
    etag = served.get(url(rel)).headers["ETag"]
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = served.get(url(rel), headers={"If-None-Match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["ETag"] == etag
    assert served.get(url(rel), headers={"If-None-Match": '"other"'}).status_code == 200


def test_if_modified_since_gives_304(served: Served) -> None:
    rel = served.repo.chunk
    last_modified = served.get(url(rel)).headers["Last-Modified"]
    response = served.get(url(rel), headers={"If-Modified-Since": last_modified})
    assert response.status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert served.get(url(rel), headers={"If-Modified-Since": old}).status_code == 200


def test_if_range_honoured_only_when_it_matches(served: Served) -> None:
    rel = served.repo.chunk
    first = served.get(url(rel))
    etag, date = first.headers["ETag"], first.headers["Last-Modified"]
    for validator, status in (
        (etag, 206),
        (date, 206),
        ('"stale"', 200),
        (f"W/{etag}", 200),
        ("Mon, 01 Jan 2001 00:00:00 GMT", 200),
    ):
        response = served.get(url(rel), headers={"Range": "bytes=0-9", "If-Range": validator})
        assert response.status_code == status, validator
        assert len(response.content) == (10 if status == 206 else 4096)


def test_keep_alive_connection_survives_every_answer(served: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    rel = served.repo.chunk
    builds = f"/products/{served.repo.product}/os/windows/builds"
    requests_made = [
        ("GET", url(rel), {}, 200),
        ("HEAD", url(rel), {}, 200),
        ("GET", "/nope", {}, 404),
        ("GET", url(rel), {"Range": "bytes=1-2"}, 206),
        ("GET", url(rel), {"Range": "bytes=9999-"}, 416),
        ("HEAD", builds, {}, 200),
        ("GET", builds, {}, 200),
    ]
    try:
        for method, target, headers, status in requests_made:
            conn.request(method, target, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == status, (method, target)
    finally:
        conn.close()


# --- GOG endpoints --------------------------------------------------------------------


def test_links_lead_to_their_documents(served: Served) -> None:
    """A client resolving each link against the server's URL (as Slipstream's does) reaches
    the document: absolute links from serve, the publisher's root-relative ones from nginx."""
    repo, builds = served.repo, f"/products/{served.repo.product}/os/windows/builds"
    links = [item["link"] for item in served.get(builds).json()["items"]]
    v2_items = served.get(builds + "?_version=2").json()["items"]
    links += [item["urls"][0]["url"] for item in v2_items]
    query = f"?_version=4&from_build_id={repo.old}&to_build_id={repo.new}"
    links.append(served.get(f"/products/{repo.product}/patches{query}").json()["link"])
    assert len(links) == 5
    for link in links:
        response = served.session.get(urljoin(served.base + "/", link))
        assert response.status_code == 200, link
        assert response.content == repo.objects[urlsplit(link).path.removeprefix("/")], link


# serve only, the four tests below: serve rewrites the publisher's root-relative links into
# absolute ones on this server; nginx sends the documents as written (test_nginx.py).


def _builds_file(served: Served) -> dict[str, Any]:
    rel = layout.builds_rel(served.repo.product, "windows")
    doc: dict[str, Any] = json.loads(served.repo.objects[rel])
    return doc


@only_serve
def test_builds_links_made_absolute(served: Served) -> None:
    expected = _builds_file(served)
    for item in expected["items"]:
        item["link"] = served.base + item["link"]
    builds = f"/products/{served.repo.product}/os/windows/builds"
    for query in ("?generation=2", "", "?&generation=2&password=x"):
        response = served.get(builds + query)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == expected, query


@only_serve
def test_builds_version_2_has_urls(served: Served) -> None:
    response = served.get(
        f"/products/{served.repo.product}/os/windows/builds?generation=2&_version=2"
    )
    items = response.json()["items"]
    assert [item["build_id"] for item in items] == [served.repo.new, served.repo.old]
    for item, original in zip(items, _builds_file(served)["items"], strict=True):
        assert "link" not in item
        absolute = served.base + original["link"]
        assert item["urls"] == [gog_endpoint(absolute, absolute, {})]


@only_serve
def test_builds_links_use_a_sane_host_header_only(served: Served) -> None:
    builds = f"/products/{served.repo.product}/os/windows/builds"
    sane = served.get(builds, headers={"Host": "cdn.example.org:8080"}).json()
    assert sane["items"][0]["link"].startswith(
        "http://cdn.example.org:8080/content-system/v2/meta/"
    )
    insane = served.get(builds, headers={"Host": "evil.example/@x"}).json()
    assert insane["items"][0]["link"].startswith(served.base + "/content-system/v2/meta/")


@only_serve
def test_builds_keeps_absolute_links(served: Served) -> None:
    path = served.repo.root / layout.builds_rel(served.repo.product, "windows")
    doc = _builds_file(served)
    doc["items"][0]["link"] = "https://cdn.example.org/content-system/v2/meta/aa/bb/x"
    path.write_text(json.dumps(doc))
    items = served.get(f"/products/{served.repo.product}/os/windows/builds").json()["items"]
    assert items[0]["link"] == "https://cdn.example.org/content-system/v2/meta/aa/bb/x"
    assert items[1]["link"].startswith(served.base + "/")


def test_builds_generation_1_is_empty(served: Served) -> None:
    response = served.get(f"/products/{served.repo.product}/os/windows/builds?generation=1")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "total_count": 0,
        "count": 0,
        "items": [],
        "has_private_branches": False,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/products/1/os/windows/builds?generation=2",
        "/products/1/os/windows/builds",
        "/products/1/os/windows/builds?generation=1",
        "/products/{p}/os/osx/builds?generation=2",
        "/products/{p}/os/beos/builds?generation=2",
        "/products/abc/os/windows/builds?generation=2",
    ],
)
def test_builds_unknown_is_json_404(served: Served, path: str) -> None:
    response = served.get(path.format(p=served.repo.product))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("query", ["?generation=3", "?_version=7", "?generation=%ff"])
def test_builds_bad_query_is_json_400(served: Served, query: str) -> None:
    response = served.get(f"/products/{served.repo.product}/os/windows/builds{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"


# serve only: it refuses a repeated key as ambiguous; nginx's $arg_NAME reads the first one.
@only_serve
def test_builds_repeated_key_is_json_400(served: Served) -> None:
    query = "?generation=2&generation=2"
    response = served.get(f"/products/{served.repo.product}/os/windows/builds{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# serve only: it makes the pair's link absolute; nginx sends it as written (test_nginx.py).
@only_serve
def test_patches_pair_found(served: Served) -> None:
    repo = served.repo
    rel = layout.patch_pair_rel(repo.product, repo.old, repo.new)
    expected = json.loads(repo.objects[rel])
    expected["link"] = served.base + expected["link"]
    query = f"?_version=4&from_build_id={repo.old}&to_build_id={repo.new}"
    response = served.get(f"/products/{repo.product}/patches{query}")
    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize(
    "query",
    [
        "?_version=4&from_build_id={new}&to_build_id={old}",
        "?_version=4&from_build_id=12&to_build_id={new}",
        "?_version=4&from_build_id=x1&to_build_id={new}",
        "?_version=4&from_build_id=../{old}&to_build_id={new}",
    ],
)
def test_patches_absent_is_gog_not_found(served: Served, query: str) -> None:
    repo = served.repo
    response = served.get(
        f"/products/{repo.product}/patches" + query.format(old=repo.old, new=repo.new)
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    "query", ["?_version=4&from_build_id=1", "?_version=3&from_build_id=1&to_build_id=2"]
)
def test_patches_bad_query_is_400(served: Served, query: str) -> None:
    response = served.get(f"/products/{served.repo.product}/patches{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("root", "prefix"), [("", "store"), ("&root=/patches/store", "patches/store")]
)
# serve only: it fills in its own base_url; nginx sends the publisher's "" (test_nginx.py).
@only_serve
def test_secure_link(served: Served, root: str, prefix: str) -> None:
    p = served.repo.product
    response = served.get(f"/products/{p}/secure_link?_version=2&generation=2&path=/{root}")
    assert response.status_code == 200
    path = f"/content-system/v2/{prefix}/{p}"
    parameters = {"base_url": served.base, "path": path}
    expected = [gog_endpoint(served.base + path, "{base_url}{path}", parameters)]
    assert response.json() == {"product_id": p, "urls": expected}


def test_secure_link_chunk_url_resolves(served: Served) -> None:
    """A client following reference §4.4 reaches the chunk through the secure link, resolving
    the URL against the server's as Slipstream's client does (nginx's is root-relative)."""
    p, rel = served.repo.product, served.repo.chunk
    endpoint = served.get(f"/products/{p}/secure_link?generation=2&path=/").json()["urls"][0]
    params = dict(endpoint["parameters"])
    params["path"] += "/" + layout.galaxy_path(rel.rsplit("/", 1)[1])
    chunk_url = urljoin(served.base + "/", endpoint["url_format"].format(**params))
    assert served.session.get(chunk_url).content == served.repo.objects[rel]


def test_secure_link_unknown_product_is_404(served: Served) -> None:
    response = served.get("/products/42/secure_link?_version=2&generation=2&path=/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "?root=/store/other",
        "?root=/other",
        "?path=/ab/cd",
        "?path=/ab",
        "?_version=1",
        "?generation=1",
    ],
)
def test_secure_link_bad_query_is_400(served: Served, query: str) -> None:
    response = served.get(f"/products/{served.repo.product}/secure_link{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_dynamic_head_matches_get(served: Served) -> None:
    builds = f"/products/{served.repo.product}/os/windows/builds?generation=2"
    body = served.get(builds).content
    status, headers, head_body = raw_get(served.port, builds, method="HEAD")
    assert (status, head_body) == (200, b"")
    assert headers["Content-Length"] == str(len(body))


# --- errors ---------------------------------------------------------------------------


# serve only, the three tests below: nginx never parses the documents it sends, has no
# Python code to break, and answers a POST to a file with its own 405.
@only_serve
def test_broken_document_is_500_and_server_lives_on(served: Served) -> None:
    (served.repo.root / layout.builds_rel(served.repo.product, "windows")).write_text("{oops")
    response = served.get(f"/products/{served.repo.product}/os/windows/builds")
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "builds.json" in response.json()["error_description"]
    assert served.get(url(served.repo.chunk)).status_code == 200


@only_serve
def test_unexpected_exception_is_500_and_server_lives_on(
    served: Served, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(serve_endpoints, "answer", explode)
    response = served.get(f"/products/{served.repo.product}/os/windows/builds")
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "Internal server error.",
    }
    assert "boom" in capfd.readouterr().err  # the operator still hears about it
    monkeypatch.undo()
    assert served.get(f"/products/{served.repo.product}/os/windows/builds").status_code == 200


@only_serve
def test_other_methods_get_json_501(served: Served) -> None:
    response = served.session.post(served.base + url(served.repo.chunk), data=b"x")
    assert response.status_code == 501
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_implemented"


# serve only, like the run() tests at the end: they check serve's own logging and start-up.
def test_quiet_unless_verbose(mini_repo: MiniRepo, capfd: pytest.CaptureFixture[str]) -> None:
    for verbose in (False, True):
        with serving(mini_repo.root, verbose=verbose) as base:
            raw_get(urlsplit(base).port or 0, url(mini_repo.chunk))
        err = capfd.readouterr().err
        assert ('"GET /' in err) is verbose


# --- safety ---------------------------------------------------------------------------

REFUSED_TARGETS = [
    # Traversal, encoding tricks, absolute-looking paths, control characters, and names
    # outside the served roots: every one must be a plain JSON 404.
    "/content-system/../../secret.txt",
    "/products/../../secret.txt",
    "/products/../../etc/passwd",
    "/%2e%2e/secret.txt",
    "/content-system/%2e%2e/%2e%2e/secret.txt",
    "/content-system/%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/content-system/%252e%252e/%252e%252e/secret.txt",
    "/content-system/v2/..%2f..%2f..%2fsecret.txt",
    "//etc/passwd",
    "/etc/passwd",
    "/products//etc/passwd",
    "/content-system\\..\\..\\secret.txt",
    "/products/..\\..\\secret.txt",
    "/products/%5c..%5c..%5csecret.txt",
    "/products/%00/x",
    "/products/%0a",
    "/products/./1",
    "/",
    "/.slipstream/lock",
    "/products/../.slipstream/lock",
    "/%2eslipstream/lock",
    "/index.html",
    "*",
]
NGINX_400 = {
    # A documented difference: nginx answers a target that, once decoded, climbs above the
    # root, holds a NUL or is not a path with its own (HTML) 400 before any location runs;
    # serve answers every refused target with GOG's JSON 404.
    "/content-system/../../secret.txt",
    "/products/../../secret.txt",
    "/products/../../etc/passwd",
    "/%2e%2e/secret.txt",
    "/content-system/%2e%2e/%2e%2e/secret.txt",
    "/content-system/%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/content-system/v2/..%2f..%2f..%2fsecret.txt",
    "/products/%00/x",
    "*",
    "http://127.0.0.1:{port}/../secret.txt",
}


def assert_refused(served: Served, target: str) -> None:
    status, _, body = raw_get(served.port, target)
    assert served.repo.secret not in body, target
    assert b"root:" not in body, target
    if served.name == "nginx" and target.replace(str(served.port), "{port}") in NGINX_400:
        assert status == 400, target
    else:
        assert status == 404, target
        assert json.loads(body) == NOT_FOUND, target


@pytest.mark.parametrize("target", REFUSED_TARGETS)
def test_traversal_refused(served: Served, target: str) -> None:
    assert_refused(served, target)


def test_absolute_paths_in_the_target_refused(served: Served) -> None:
    secret = served.repo.root.parent / "secret.txt"
    for target in (
        str(secret),
        "/" + str(secret),
        f"/products/{secret}",
        f"http://127.0.0.1:{served.port}/../secret.txt",
    ):
        assert_refused(served, target)


# serve only: it answers origin-form targets (/path) alone; nginx also takes the absolute form
# (http://host/path, which RFC 9112 says a server must accept) and so serves this chunk.
@only_serve
def test_absolute_form_target_refused(served: Served) -> None:
    assert_refused(served, f"http://127.0.0.1:{served.port}{url(served.repo.chunk)}")


def test_raw_control_bytes_refused(served: Served) -> None:
    for target in (b"/products/\x00/x", b"/products/\x01", b"/products/\xff"):
        answer = raw_socket(
            served.port, b"GET " + target + b" HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith((b"HTTP/1.1 404 ", b"HTTP/1.1 400 ")), answer[:40]
        assert served.repo.secret not in answer


def test_percent_encoded_letter_is_a_plain_name(served: Served) -> None:
    rel = served.repo.chunk
    encoded_letter = url(rel).replace("/store/", "/%73tore/")  # %73 is "s": a plain name
    status, _, body = raw_get(served.port, encoded_letter)
    assert (status, body) == (200, served.repo.objects[rel])


# serve only: nginx decodes %2F into a separator before it picks a location, so for nginx the
# target below is the chunk's own path (and it stays inside the root: test_traversal_refused).
@only_serve
def test_percent_decoding_happens_once(served: Served) -> None:
    rel = served.repo.chunk
    encoded_slashes = "/" + rel.replace("/", "%2f")
    assert raw_get(served.port, encoded_slashes)[0] == 404


def test_symlinks_refused(served: Served) -> None:
    repo = served.repo
    chunk_parts = repo.chunk.split("/")
    targets = [url(rel) for rel in repo.symlinks if rel.endswith(".json")]
    targets.append(url(f"{layout.store_prefix_rel(repo.product)}/ff/" + "/".join(chunk_parts[-2:])))
    targets.append(url(f"{layout.store_prefix_rel(repo.product)}/etc/passwd"))
    assert len(targets) == 4
    for target in targets:
        status, _, body = raw_get(served.port, target)
        assert status == 404, target
        assert repo.secret not in body
        assert b"root:" not in body


def test_symlink_to_product_folder_refused(served: Served) -> None:
    """The dynamic endpoints read their documents through the same no-symlink rule."""
    repo = served.repo
    (repo.root / "products" / "77").symlink_to(repo.root / "products" / repo.product)
    query = f"?from_build_id={repo.old}&to_build_id={repo.new}"
    for path in (
        "/products/77/os/windows/builds",
        "/products/77/secure_link?path=/",
        "/products/77/os/windows/builds.json",
        f"/products/77/patches{query}",
    ):
        response = served.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path
    assert served.get(f"/products/77/patches{query}").json() == NOT_FOUND  # GOG's "no patch"


def test_directories_are_404_without_listing(served: Served) -> None:
    prefix = url(layout.store_prefix_rel(served.repo.product))
    for target in (
        prefix,
        prefix + "/",
        "/content-system/v2",
        "/content-system/v2/",
        "/products",
        "/products/",
        "/",
    ):
        status, headers, body = raw_get(served.port, target)
        assert status == 404, target
        assert headers["Content-Type"] == "application/json", target
        assert json.loads(body) == NOT_FOUND, target


# --- run() ----------------------------------------------------------------------------


def test_missing_repo_is_repository_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(RepositoryError, match="nowhere"):
        serve.make_server(missing)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RepositoryError, match="--repo"):
        serve.run(tmp_path / "file", "127.0.0.1", 0, sys.stdout)


def test_busy_port_is_slipstream_error(mini_repo: MiniRepo) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(SlipstreamError, match=r"Could not listen on 127\.0\.0\.1"):
            serve.make_server(mini_repo.root, "127.0.0.1", busy.getsockname()[1])


_RUN = """
import signal, sys
from pathlib import Path
from core.serve.server import run
# A shell may start us with SIGINT ignored; the test wants Ctrl-C's normal meaning.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.exit(run(Path(sys.argv[1]), "127.0.0.1", 0, sys.stdout))
"""


def test_run_prints_url_first_and_stops_on_ctrl_c(mini_repo: MiniRepo) -> None:
    command = [sys.executable, "-c", _RUN, str(mini_repo.root)]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, cwd=PROJECT, stdout=pipe, stderr=pipe, text=True) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            served_at = rf"serving {re.escape(str(mini_repo.root))} at http://127\.0\.0\.1:(\d+)\n"
            match = re.fullmatch(served_at, first)
            assert match, first
            chunk = requests.get(f"http://127.0.0.1:{match[1]}{url(mini_repo.chunk)}", timeout=30)
            assert chunk.content == mini_repo.objects[mini_repo.chunk]
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()  # only after a failure above; leaving the block reaps it
    assert proc.returncode == 0, err
    assert (rest, err) == ("", "")


def test_a_client_that_hangs_up_leaves_no_traceback_but_a_bug_still_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve.make_server(tmp_path, "127.0.0.1", 0)
    try:
        for reset in (ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")):
            try:
                raise reset
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a bug of ours")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a bug of ours" in capsys.readouterr().err
    finally:
        server.server_close()


class _Grown:
    """A file's stat, claiming ``extra`` bytes more than the file has: a file that shrank
    between the server's stat and its send."""

    def __init__(self, st: os.stat_result, extra: int) -> None:
        self._st = st
        self.st_size = st.st_size + extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._st, name)


@only_serve
def test_a_file_that_shrank_under_the_send_ends_that_connection_not_the_server(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = served.repo.chunk
    real = serve_static.open_served

    def shrunk(root: Path, segments: Any) -> Any:
        opened = real(root, segments)
        assert opened is not None
        file, st = opened
        return file, _Grown(st, 1000)

    monkeypatch.setattr(serve_static, "open_served", shrunk)
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("GET", url(rel))
        response = connection.getresponse()
        assert response.getheader("Content-Length") == str(len(served.repo.objects[rel]) + 1000)
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()  # the server hangs up: the promised length cannot be met
        assert cut.value.partial == served.repo.objects[rel]
    finally:
        connection.close()
    monkeypatch.undo()
    assert served.get(url(rel)).content == served.repo.objects[rel]
