"""What only nginx does, with the shipped example (packaging/nginx/slipstream.conf).

Everything both servers must answer alike is in test_server.py, whose ``served`` tests run over
nginx too. The documented difference checked here: nginx sends the publisher's documents
(builds.json, builds-v2.json, the patch pairs, secure_link.json) as written, root-relative
links and all, where ``slipstream serve`` rewrites them into absolute links on itself.
nginx must be installed: scripts/setup.sh --dev.
"""

from __future__ import annotations

import pytest

from core.format import layout
from tests.conftest import Served, only_nginx


@only_nginx
def test_builds_sent_as_written(served: Served) -> None:
    p = served.repo.product
    builds = f"/products/{p}/os/windows/builds"
    for query, rel in (
        ("?generation=2", layout.builds_rel(p, "windows")),
        ("", layout.builds_rel(p, "windows")),
        ("?&generation=2&password=x", layout.builds_rel(p, "windows")),
        ("?generation=2&_version=2", layout.builds_v2_rel(p, "windows")),
    ):
        response = served.get(builds + query)
        assert response.status_code == 200, query
        assert response.headers["Content-Type"] == "application/json"
        assert response.content == served.repo.objects[rel], query


@only_nginx
def test_patches_pair_sent_as_written(served: Served) -> None:
    repo = served.repo
    query = f"?_version=4&from_build_id={repo.old}&to_build_id={repo.new}"
    response = served.get(f"/products/{repo.product}/patches{query}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    rel = layout.patch_pair_rel(repo.product, repo.old, repo.new)
    assert response.content == repo.objects[rel]


@only_nginx
@pytest.mark.parametrize(
    ("query", "patches"),
    [
        ("?_version=2&generation=2&path=/", False),
        ("?_version=2&generation=2&path=%2F", False),
        ("?_version=2&generation=2&path=/&root=/patches/store", True),
        ("?path=/&root=%2Fpatches%2Fstore", True),
    ],
)
def test_secure_link_sent_as_written_for_both_roots(
    served: Served, query: str, patches: bool
) -> None:
    p = served.repo.product
    response = served.get(f"/products/{p}/secure_link{query}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == served.repo.objects[layout.secure_link_rel(p, patches)]
