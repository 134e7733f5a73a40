"""``slipstream graph``: the version chain of one product, as text, JSON or Graphviz.

Read from the repository like a client reads it (listings, ``graph.json``, manifests), so
what it shows is what players get: every branch's builds, every patch edge with its bytes
against a full download, and for each build what updating to the newest build of its
branch costs. That cost is the cheaper of the patch route the client's planner picks
(:func:`core.format.graph.choose_route`, the same function) and the download without
patches (the newest build's chunks the installed one lacks, each object once).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from core.errors import FormatError, RepositoryError, UsageError
from core.format import layout
from core.format.depot import download_size
from core.format.graph import PatchGraph, choose_route
from core.publish.catalog import Catalog, LoadedBuild
from core.units import format_bytes, percent_saved

PUBLIC = "public"
"""What the command line calls the default branch (``branch: null``)."""


@dataclass(frozen=True)
class UpdateCost:
    """Updating ``build_id`` to ``to_build``, the newest build of ``branch``."""

    branch: str | None
    build_id: str
    to_build: str
    route: tuple[str, ...]
    """The builds along the cheapest patch route, both ends included; ``()`` for none."""
    route_bytes: int | None
    chunk_bytes: int
    """Without patches: the newest build's chunk objects the build lacks."""
    full_bytes: int

    @property
    def bytes(self) -> int:
        if self.route_bytes is None:
            return self.chunk_bytes
        return min(self.route_bytes, self.chunk_bytes)

    @property
    def via(self) -> str:
        if self.build_id == self.to_build:
            return "newest"
        if self.route_bytes is not None and self.route_bytes <= self.chunk_bytes:
            return "patches"
        return "chunks"

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "build_id": self.build_id,
            "to_build_id": self.to_build,
            "via": self.via,
            "bytes": self.bytes,
            "route": list(self.route),
            "route_bytes": self.route_bytes,
            "chunk_bytes": self.chunk_bytes,
            "full_bytes": self.full_bytes,
        }


@dataclass(frozen=True)
class OsChain:
    os: str
    graph: PatchGraph
    branches: tuple[tuple[str | None, tuple[str, ...]], ...]
    """Each branch and its build ids, newest first; the default branch first."""
    updates: tuple[UpdateCost, ...]

    def to_json(self) -> dict[str, Any]:
        full = {b.build_id: b.full_bytes for b in self.graph.builds}
        doc = self.graph.to_json()
        for edge in doc["edges"]:
            edge["full_bytes"] = full.get(edge["to_build_id"], 0)
        return {
            "os": self.os,
            "branches": [{"branch": b, "builds": list(ids)} for b, ids in self.branches],
            "builds": doc["builds"],
            "edges": doc["edges"],
            "updates": [u.to_json() for u in self.updates],
        }


@dataclass
class ChainView:
    product: str
    systems: list[OsChain]
    dot: bool = False
    """Print as Graphviz (``--dot``) rather than text."""

    def to_json(self) -> dict[str, Any]:
        return {"product_id": self.product, "systems": [s.to_json() for s in self.systems]}


def chain_view(repo_dir: Path, product: str, os_name: str | None = None) -> ChainView:
    """The version chain of ``product`` on ``os_name`` (every OS it has when ``None``)."""
    try:
        layout.check_id(product, "--product")
        if os_name is not None:
            layout.check_os(os_name)
    except FormatError as exc:
        raise UsageError(exc.detail) from None
    catalog = Catalog(layout.RepoLayout(repo_dir), product)
    systems = catalog.os_names() if os_name is None else [os_name]
    systems = [o for o in systems if catalog.listing(o).items]
    if not systems:
        where = f" for {os_name}" if os_name else ""
        raise RepositoryError(f"Product {product} has nothing published{where} in {repo_dir}.")
    return ChainView(product, [_os_chain(catalog, o) for o in systems])


def _os_chain(catalog: Catalog, os_name: str) -> OsChain:
    items = [i for i in catalog.listing(os_name).items if i.generation == 2]
    graph = catalog.graph(os_name)
    branches: dict[str | None, list[str]] = {}
    for item in items:  # listings are newest first
        branches.setdefault(item.branch, []).append(item.build_id)
    order = sorted(branches, key=lambda b: (b is not None, b or ""))
    loaded: dict[str, LoadedBuild] = {}
    by_id = {i.build_id: i for i in items}

    def load(build_id: str) -> LoadedBuild:
        if build_id not in loaded:
            loaded[build_id] = catalog.load_build(by_id[build_id])
        return loaded[build_id]

    full = {b.build_id: b.full_bytes for b in graph.builds}
    updates = []
    for branch in order:
        newest = branches[branch][0]
        target = load(newest)
        target_full = full.get(newest) or target.download_bytes
        for build_id in branches[branch]:
            route = choose_route(graph, build_id, newest)
            have = {(c.md5, c.size) for f in load(build_id).files.values() for c in f.chunks}
            lacking = download_size(
                c for f in target.files.values() for c in f.chunks if (c.md5, c.size) not in have
            )
            updates.append(
                UpdateCost(
                    branch,
                    build_id,
                    newest,
                    (build_id, *(e.to_build for e in route)) if route else (),
                    sum(e.bytes for e in route) if route else None,
                    lacking,
                    target_full,
                )
            )
    return OsChain(os_name, graph, tuple((b, tuple(branches[b])) for b in order), tuple(updates))


def _branch(name: str | None) -> str:
    return name or PUBLIC


def render_text(view: ChainView) -> str:
    lines: list[str] = []
    for chain in view.systems:
        builds = {b.build_id: b for b in chain.graph.builds}
        lines.append(
            f"Product {view.product} for {chain.os}: {len(builds)} builds, "
            f"{len(chain.graph.edges)} patch edges"
        )
        for branch, ids in chain.branches:
            names = ", ".join(f"{i} ({builds[i].version_name})" if i in builds else i for i in ids)
            lines.append(f"  branch {_branch(branch)}, newest first: {names}")
        lines.append("  patch edges (what updating along each downloads):")
        if not chain.graph.edges:
            lines.append("    none: every update downloads the chunks it lacks")
        for e in sorted(chain.graph.edges, key=lambda e: (int(e.to_build), int(e.from_build))):
            whole = builds[e.to_build].full_bytes if e.to_build in builds else 0
            lines.append(
                f"    {e.from_build} → {e.to_build}: {format_bytes(e.bytes)} of "
                f"{format_bytes(whole)} in full ({percent_saved(e.bytes, whole):.1f}% saved; "
                f"{e.files_patched} files patched, {format_bytes(e.patch_bytes)} of deltas)"
            )
        lines.append("  updating to the newest build of its branch:")
        for u in chain.updates:
            head = f"    {_branch(u.branch)}: {u.build_id} → {u.to_build}"
            if u.via == "newest":
                lines.append(f"    {_branch(u.branch)}: {u.build_id} is the newest")
                continue
            how = (
                "via " + " → ".join(u.route)
                if u.via == "patches"
                else "without patches (no route)"
                if u.route_bytes is None
                else "without patches (cheaper than the route)"
            )
            lines.append(
                f"{head}: {format_bytes(u.bytes)} of {format_bytes(u.full_bytes)} "
                f"({percent_saved(u.bytes, u.full_bytes):.1f}% saved), {how}"
            )
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(view: ChainView) -> str:
    """Graphviz: one cluster per OS and branch, edges labelled with their bytes; the edges
    of the routes players take to each branch's newest build are drawn bold."""
    out = [
        f"digraph {_quote('product ' + view.product)} {{",
        "  rankdir=LR;",
        "  node [shape=box];",
    ]
    for chain in view.systems:
        builds = {b.build_id: b for b in chain.graph.builds}
        placed: set[str] = set()
        for branch, ids in chain.branches:
            cluster = _quote(f"cluster {chain.os} {_branch(branch)}")
            out.append(f"  subgraph {cluster} {{")
            out.append(f"    label={_quote(f'{chain.os}, branch {_branch(branch)}')};")
            for i in ids:
                if i in placed:
                    continue  # a build on two branches is drawn once
                placed.add(i)
                b = builds.get(i)
                name = b.version_name.replace('"', "'") if b else ""
                label = f"{i}\\n{name}\\n{format_bytes(b.full_bytes)}" if b else i
                out.append(f'    {_quote(chain.os + ":" + i)} [label="{label}"];')
            out.append("  }")
        taken = {(a, b) for u in chain.updates if u.via == "patches" for a, b in pairwise(u.route)}
        for e in chain.graph.edges:
            whole = builds[e.to_build].full_bytes if e.to_build in builds else 0
            label = f"{format_bytes(e.bytes)} ({percent_saved(e.bytes, whole):.1f}% saved)"
            style = ", penwidth=2" if (e.from_build, e.to_build) in taken else ""
            out.append(
                f"  {_quote(chain.os + ':' + e.from_build)} -> "
                f"{_quote(chain.os + ':' + e.to_build)} [label={_quote(label)}{style}];"
            )
    out.append("}")
    return "\n".join(out) + "\n"
