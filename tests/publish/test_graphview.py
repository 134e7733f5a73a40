"""``slipstream graph``'s model: the chain read back from a real repository, with each
update's cost checked against graph.json and the depot manifests read as raw JSON."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.errors import RepositoryError, UsageError
from core.format import layout
from core.publish.graphview import chain_view, render_dot, render_text
from core.publish.publisher import PublishOptions, publish

PRODUCT = "8086"
MiB = 2**20


def builds(base: Path, count: int) -> list[Path]:
    spec = FileSpec("data/levels.pak", 81, MiB)
    still = FileSpec("readme.txt", 82, 3000)
    out = []
    for n in range(count):
        out.append(write_build(base / f"b{n + 1}", [spec, still]))
        spec = scattered_edits(spec, 3, 800 + n)
    return out


def opts(**kw: Any) -> PublishOptions:
    return PublishOptions(PRODUCT, jobs=2, **kw)


def raw(repo: Path, rel: str) -> Any:
    data = (repo / rel).read_bytes()
    return json.loads(zlib.decompress(data) if rel.startswith(layout.CONTENT_ROOT) else data)


def raw_chunks(repo: Path, build_id: str) -> list[dict[str, Any]]:
    listing = raw(repo, layout.builds_rel(PRODUCT, "windows"))
    item = next(i for i in listing["items"] if i["build_id"] == build_id)
    manifest = raw(repo, item["link"].lstrip("/"))
    depot = raw(repo, layout.meta_rel(manifest["depots"][0]["manifest"]))
    return [c for i in depot["depot"]["items"] for c in i.get("chunks", [])]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Public builds 1, 2, 3 patched only from the one before (so 1 reaches 3 in two hops),
    and beta build 4, forked from public build 3."""
    base = tmp_path_factory.mktemp("chain")
    repo = base / "repo"
    b1, b2, b3, b4 = builds(base, 4)
    for n, folder in enumerate((b1, b2, b3), 1):
        publish(folder, repo, opts(version_name=f"1.{n}", patch_depth=1))
    publish(b4, repo, opts(version_name="2.0-beta", branch="beta", patch_depth=1))
    return repo


def test_branches_edges_and_the_routes_players_take(chain: Path) -> None:
    view = chain_view(chain, PRODUCT)
    (system,) = view.systems
    assert system.os == "windows"
    assert system.branches == ((None, ("3", "2", "1")), ("beta", ("4",)))
    graph = raw(chain, layout.graph_rel(PRODUCT, "windows"))
    edge_bytes = {(e["from_build_id"], e["to_build_id"]): e["bytes"] for e in graph["edges"]}
    assert set(edge_bytes) == {("1", "2"), ("2", "3"), ("3", "4")}
    updates = {(u.branch, u.build_id): u for u in system.updates}
    assert set(updates) == {(None, "3"), (None, "2"), (None, "1"), ("beta", "4")}
    assert updates[(None, "3")].via == updates[("beta", "4")].via == "newest"
    two_hops = updates[(None, "1")]
    assert two_hops.route == ("1", "2", "3")
    assert two_hops.route_bytes == edge_bytes[("1", "2")] + edge_bytes[("2", "3")]
    # Without patches: build 3's chunk objects that build 1 does not have (by content).
    have = {(c["md5"], c["size"]) for c in raw_chunks(chain, "1")}
    lacking = {
        c["compressedMd5"]: c["compressedSize"]
        for c in raw_chunks(chain, "3")
        if (c["md5"], c["size"]) not in have
    }
    assert two_hops.chunk_bytes == sum(lacking.values())
    assert two_hops.via == "patches" and two_hops.bytes == two_hops.route_bytes
    assert two_hops.full_bytes == next(
        b["full_bytes"] for b in graph["builds"] if b["build_id"] == "3"
    )
    assert two_hops.bytes < two_hops.full_bytes / 10


def test_a_build_without_a_patch_route_updates_by_chunks(tmp_path: Path) -> None:
    b1, b2 = builds(tmp_path, 2)
    repo = tmp_path / "repo"
    publish(b1, repo, opts(version_name="1"))
    publish(b2, repo, opts(version_name="2", patch_depth=0))
    (system,) = chain_view(repo, PRODUCT, "windows").systems
    old = next(u for u in system.updates if u.build_id == "1")
    assert (old.route, old.route_bytes, old.via) == ((), None, "chunks")
    # Everything but the unchanged readme's chunk, which the installed build already has.
    readme = next(c for c in raw_chunks(repo, "2") if c["size"] == 3000)
    assert old.bytes == old.chunk_bytes == old.full_bytes - readme["compressedSize"]
    assert "without patches (no route)" in render_text(chain_view(repo, PRODUCT))


def test_text_json_and_dot(chain: Path) -> None:
    view = chain_view(chain, PRODUCT)
    text = render_text(view)
    assert "branch public, newest first: 3 (1.3), 2 (1.2), 1 (1.1)" in text
    assert "branch beta, newest first: 4 (2.0-beta)" in text
    assert "public: 1 → 3:" in text and "via 1 → 2 → 3" in text
    doc = json.loads(json.dumps(view.to_json()))
    (system,) = doc["systems"]
    assert {e["from_build_id"] for e in system["edges"]} == {"1", "2", "3"}
    assert all(e["full_bytes"] > e["bytes"] for e in system["edges"])
    dot = render_dot(view)
    assert dot.startswith('digraph "product 8086" {') and dot.rstrip().endswith("}")
    assert dot.count("subgraph") == 2
    # The edges of the route build 1 takes are bold; the beta fork edge is not taken.
    assert '"windows:1" -> "windows:2" [label=' in dot
    bold = [line for line in dot.splitlines() if "penwidth=2" in line]
    assert len(bold) == 2 and all('-> "windows:3"' in b or '-> "windows:2"' in b for b in bold)


def test_refusals(chain: Path, tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="nothing published"):
        chain_view(tmp_path, PRODUCT)
    with pytest.raises(RepositoryError, match="for linux"):
        chain_view(chain, PRODUCT, "linux")
    with pytest.raises(UsageError):
        chain_view(chain, "not-digits")
