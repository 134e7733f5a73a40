"""The small, mutable ``products/`` documents: builds lists, pair documents, graph.json
and the static secure links. Written last, by atomic rename, ``builds.json`` very last."""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.errors import LocalIOError
from core.format import layout
from core.format.build import BuildManifest
from core.format.builds import BuildItem, BuildsListing, unsigned_link
from core.format.graph import GraphBuild, GraphEdge, PatchGraph
from core.publish.catalog import Catalog, LoadedBuild
from core.publish.chain import Edge


def next_build_id(catalog: Catalog) -> str:
    """One more than the largest build id of the product on any OS."""
    ids = [int(i.build_id) for o in catalog.os_names() for i in catalog.listing(o).items]
    return str(max(ids, default=0) + 1)


def folder_name(name: str) -> str:
    """A safe install folder name derived from a product name."""
    cleaned = re.sub(r'[<>:"/\\|?*\x00-\x1f]', "", name).strip(" .")
    return cleaned or "Game"


def sort_items(items: Iterable[BuildItem]) -> tuple[BuildItem, ...]:
    """Newest first, as GOG lists them."""
    return tuple(sorted(items, key=lambda i: (i.date_published, int(i.build_id)), reverse=True))


def product_manifest(catalog: Catalog) -> BuildManifest | None:
    """The build manifest of the product's newest build on any OS and branch: the product's
    name and install folder live there, whichever branch the next build goes to."""
    newest = sort_items(i for o in catalog.os_names() for i in catalog.listing(o).items)
    return catalog.build_manifest(newest[0]) if newest else None


def write_listing(catalog: Catalog, os_name: str, listing: BuildsListing) -> None:
    """builds-v2.json first, then builds.json (the one old clients and we read)."""
    product = catalog.product
    catalog.write_json(layout.builds_v2_rel(product, os_name), listing.to_json(version=2))
    catalog.write_json(layout.builds_rel(product, os_name), listing.to_json(version=1))


def write_secure_links(catalog: Catalog, base_url: str) -> None:
    product = catalog.product
    for patches, prefix in (
        (False, layout.store_prefix_rel(product)),
        (True, layout.patch_store_prefix_rel(product)),
    ):
        link = unsigned_link(base_url, layout.url_path(prefix))
        doc = {**link.to_json(), "product_id": product}
        catalog.write_json(layout.secure_link_rel(product, patches), doc)


def write_graph(
    catalog: Catalog,
    os_name: str,
    listing: BuildsListing,
    edges: Iterable[GraphEdge],
    full_bytes: dict[str, int],
) -> None:
    branches: dict[str, list[str | None]] = {}
    names: dict[str, str] = {}
    for item in listing.items:
        branches.setdefault(item.build_id, []).append(item.branch)
        names.setdefault(item.build_id, item.version_name)
    builds = tuple(
        GraphBuild(b, tuple(branches[b]), names[b], full_bytes.get(b, 0)) for b in branches
    )
    kept = tuple(e for e in edges if e.from_build in branches and e.to_build in branches)
    graph = PatchGraph(catalog.product, os_name, builds, kept)
    catalog.write_json(layout.graph_rel(catalog.product, os_name), graph.to_json())


def drop_pairs_to(catalog: Catalog, build_id: str) -> None:
    """Remove the pair documents to ``build_id``, an id no listing names yet: a publish
    interrupted before its ``builds.json`` left them, and they patch into that run's
    content, not into what is published now under the same id."""
    folder = catalog.repo.path(layout.product_rel(catalog.product)) / "patches"
    try:
        for stale in folder.glob(f"*/{layout.check_id(build_id)}.json"):
            stale.unlink()
    except OSError as exc:
        raise LocalIOError.wrap(exc, "remove a stale patch document") from None


def add_build(catalog: Catalog, new: LoadedBuild, edges: list[Edge], base_url: str) -> None:
    """Point the product's documents at ``new`` and its patch pairs."""
    os_name = new.item.os
    for edge in edges:
        if edge.index is not None:
            rel = layout.patch_pair_rel(catalog.product, edge.from_build, edge.to_build)
            catalog.write_json(rel, edge.index.to_json())
    listing = catalog.listing(os_name)
    listed = {i.build_id for i in listing.items}  # an edge to an unlisted build is stale
    listing = listing.with_items(sort_items((new.item, *listing.items)))
    graph = catalog.graph(os_name)
    replaced = {(e.from_build, e.to_build) for e in edges}
    graph_edges = [
        e
        for e in graph.edges
        if (e.from_build, e.to_build) not in replaced and e.to_build in listed
    ]
    graph_edges += [g for e in edges if (g := e.graph_edge()) is not None]
    full = {b.build_id: b.full_bytes for b in graph.builds}
    full[new.item.build_id] = new.download_bytes
    write_secure_links(catalog, base_url)
    write_graph(catalog, os_name, listing, graph_edges, full)
    write_listing(catalog, os_name, listing)
