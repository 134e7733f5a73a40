"""``graph.json``, Slipstream's extension: every build and every patch edge of one
product and OS with its byte cost, so a client can plan a multi-hop patch chain as a
shortest path without fetching every pair document. GOG clients never ask for it."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from core.errors import FormatError
from core.format.fields import LIMITS, Fields, Limits
from core.format.layout import pack_meta_rel, url_path


@dataclass(frozen=True)
class GraphBuild:
    build_id: str
    branches: tuple[str | None, ...]
    version_name: str
    full_bytes: int
    """Compressed bytes of a whole download of the build."""


@dataclass(frozen=True)
class PackRef:
    """An edge's pack (issue 13): the index ``id`` at ``link``, its objects' total
    ``bytes`` and the number of ``files`` it has an entry for. See core/format/pack.py."""

    id: str
    link: str
    bytes: int
    files: int


@dataclass(frozen=True)
class GraphEdge:
    from_build: str
    to_build: str
    patch_id: str
    link: str
    bytes: int
    """What updating along this edge downloads: patch chunks plus the new chunks of the
    changed files that have no patch."""
    patch_bytes: int
    files_patched: int
    pack: PackRef | None = None
    """The edge's Slipstream-native pack, if the publisher made one; older graphs have none."""


@dataclass(frozen=True)
class PatchGraph:
    product_id: str
    os: str
    builds: tuple[GraphBuild, ...]
    edges: tuple[GraphEdge, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "product_id": self.product_id,
            "os": self.os,
            "builds": [
                {
                    "build_id": b.build_id,
                    "branches": list(b.branches),
                    "version_name": b.version_name,
                    "full_bytes": b.full_bytes,
                }
                for b in self.builds
            ],
            "edges": [
                {
                    "from_build_id": e.from_build,
                    "to_build_id": e.to_build,
                    "id": e.patch_id,
                    "link": e.link,
                    "bytes": e.bytes,
                    "patch_bytes": e.patch_bytes,
                    "files_patched": e.files_patched,
                    **({"pack": _pack_json(e.pack)} if e.pack is not None else {}),
                }
                for e in self.edges
            ],
        }


def parse_graph(doc: object, where: str, limits: Limits = LIMITS) -> PatchGraph:
    f = Fields(doc, where, limits)
    builds = []
    for b in f.objects("builds", limits.builds_per_listing):
        branches = b.array("branches", 1000)
        if not all(x is None or isinstance(x, str) for x in branches):
            raise FormatError(f"{b.where}.branches should list strings or null.")
        builds.append(
            GraphBuild(
                b.id("build_id"),
                tuple(branches),
                b.text("version_name", default=""),
                b.integer("full_bytes"),
            )
        )
    edges = tuple(
        GraphEdge(
            e.id("from_build_id"),
            e.id("to_build_id"),
            e.md5("id"),
            e.text("link"),
            e.integer("bytes"),
            e.integer("patch_bytes"),
            e.integer("files_patched"),
            _parse_pack_ref(e.obj("pack"), limits) if e.has("pack") else None,
        )
        for e in f.objects("edges", limits.builds_per_listing * 8)
    )
    return PatchGraph(f.id("product_id"), f.text("os"), tuple(builds), edges)


def _pack_json(pack: PackRef) -> dict[str, Any]:
    return {"id": pack.id, "link": pack.link, "bytes": pack.bytes, "files": pack.files}


def _parse_pack_ref(p: Fields, limits: Limits) -> PackRef:
    index_id = p.md5("id")
    link = p.text("link")
    expected = url_path(pack_meta_rel(index_id))
    if link != expected:
        raise FormatError(f"{p.where}.link is {link!r}; a pack index's link is {expected!r}.")
    return PackRef(index_id, link, p.integer("bytes", 0, limits.file_bytes), p.integer("files"))


def edge_cost(edge: GraphEdge, packs: bool = False) -> int:
    """What updating along ``edge`` downloads: ``bytes``, or with ``packs`` the cheaper of
    that and the edge's pack in place of its xdelta3 patches."""
    if packs and edge.pack is not None:
        return min(edge.bytes, max(0, edge.bytes - edge.patch_bytes) + edge.pack.bytes)
    return edge.bytes


def choose_route(
    graph: PatchGraph, from_build: str, to_build: str, *, packs: bool = False
) -> tuple[GraphEdge, ...] | None:
    """The cheapest chain of patch edges from ``from_build`` to ``to_build`` by
    :func:`edge_cost` (``packs``: a client that uses packs).

    Ties go to fewer hops, then to the smaller sequence of (build id, patch id), so the
    answer never depends on the order of ``graph.edges``. ``None`` when no chain exists
    or the two builds are the same (there is nothing to patch).
    """
    if from_build == to_build:
        return None
    out: dict[str, list[GraphEdge]] = {}
    for edge in graph.edges:
        if edge.bytes < 0:
            raise ValueError(f"The edge {edge.from_build}→{edge.to_build} has negative bytes.")
        if edge.from_build != edge.to_build:
            out.setdefault(edge.from_build, []).append(edge)
    # A label (bytes, hops, ids) only grows along a path and extending two labels by the
    # same edge keeps their order, so Dijkstra settles each build at its best label.
    Label = tuple[int, int, tuple[tuple[str, str], ...]]
    best: dict[str, Label] = {from_build: (0, 0, ())}
    heap: list[tuple[Label, int, str, tuple[GraphEdge, ...]]] = [((0, 0, ()), 0, from_build, ())]
    settled: set[str] = set()
    pushed = 0
    while heap:
        (cost, hops, ids), _, build, edges = heapq.heappop(heap)
        if build in settled:
            continue
        settled.add(build)
        if build == to_build:
            return edges
        for edge in out.get(build, ()):
            if edge.to_build in settled:
                continue
            label = (
                cost + edge_cost(edge, packs),
                hops + 1,
                (*ids, (edge.to_build, edge.patch_id)),
            )
            held = best.get(edge.to_build)
            if held is None or label < held:
                best[edge.to_build] = label
                pushed += 1
                heapq.heappush(heap, (label, pushed, edge.to_build, (*edges, edge)))
    return None
