"""Patch packs written into a published test repository, from real deltas.

The client's pack tests need repositories whose graph edges carry packs, some of them
hostile. :func:`add_packs` writes them the way the contract of issue 13 describes (an
index per edge at ``packs/meta``, objects at ``packs/store``, the edge's ``pack`` field in
graph.json), from real HDiffPatch and xdelta3 deltas between the published build
folders, so a test controls every byte: the codec of each entry, the size of the
objects, and any lie an index tells.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import hdiffpatch

from core.delta import hdiff
from core.delta.xdelta import encode as xdelta_encode
from core.format import layout, zjson
from core.format.graph import PackRef, parse_graph
from core.format.pack import PackEntry, PackIndex, PackObject, object_link

OS = "windows"


@dataclass(frozen=True)
class Delta:
    path: str
    codec: str
    data: bytes
    source: bytes
    target: bytes


def _hdiff(old: bytes, new: bytes) -> bytes:
    return bytes(hdiffpatch.diff(old, new, compression=hdiff.COMPRESSION))


def _xdelta(old: bytes, new: bytes, work: Path) -> bytes:
    work.mkdir(parents=True, exist_ok=True)
    a, b, out = work / "old", work / "new", work / "delta"
    a.write_bytes(old)
    b.write_bytes(new)
    xdelta_encode(a, b, out)
    return zlib.compress(out.read_bytes(), 9)


def deltas_between(
    old: Path, new: Path, work: Path, codec: Callable[[str], str | None] = lambda path: None
) -> list[Delta]:
    """A delta for every file of ``new`` whose content differs from the same path in
    ``old``: by ``codec(path)`` when it names one, else the smaller of the two."""
    found = []
    for file in sorted(p for p in new.rglob("*") if p.is_file()):
        path = file.relative_to(new).as_posix()
        before = old / path
        if not before.is_file():
            continue
        a, b = before.read_bytes(), file.read_bytes()
        if a == b:
            continue
        chosen = codec(path)
        made = {}
        if chosen in (None, "hdiffpatch"):
            made["hdiffpatch"] = _hdiff(a, b)
        if chosen in (None, "xdelta3"):
            made["xdelta3"] = _xdelta(a, b, work)
        name = min(made, key=lambda k: len(made[k]))
        found.append(Delta(path, name, made[name], a, b))
    return found


def write_pack(
    repo: Path,
    product: str,
    from_build: str,
    to_build: str,
    deltas: list[Delta],
    *,
    object_bytes: int = 1 << 20,
    lie: Callable[[PackIndex], PackIndex] = lambda index: index,
    damage: Callable[[bytes], bytes] = lambda data: data,
) -> PackIndex:
    """Write the objects and the index of one edge's pack (largest deltas first, batched
    into objects of at most ``object_bytes`` unless one delta is larger), and point the
    edge in graph.json at it. ``lie`` rewrites the index and ``damage`` each object's
    bytes after the entries were placed (hostile packs)."""
    ordered = sorted(deltas, key=lambda d: (-len(d.data), d.path))
    batches: list[list[Delta]] = []
    for d in ordered:
        if batches and sum(len(x.data) for x in batches[-1]) + len(d.data) <= object_bytes:
            batches[-1].append(d)
        else:
            batches.append([d])
    objects, files = [], []
    for n, batch in enumerate(batches):
        body = damage(b"".join(d.data for d in batch))
        md5 = hashlib.md5(body).hexdigest()
        target = repo / layout.pack_store_rel(product, md5)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        objects.append(PackObject(md5, object_link(product, md5), len(body)))
        offset = 0
        for d in batch:
            files.append(
                PackEntry(
                    path_source=d.path,
                    path_target=d.path,
                    codec=d.codec,
                    object=n,
                    offset=offset,
                    length=len(d.data),
                    md5=hashlib.md5(d.data).hexdigest(),
                    md5_source=hashlib.md5(d.source).hexdigest(),
                    md5_target=hashlib.md5(d.target).hexdigest(),
                    sha256_source=hashlib.sha256(d.source).hexdigest(),
                    sha256_target=hashlib.sha256(d.target).hexdigest(),
                    size_source=len(d.source),
                    size_target=len(d.target),
                )
            )
            offset += len(d.data)
    index = lie(PackIndex(product, from_build, to_build, tuple(objects), tuple(files)))
    return point_edge(repo, product, index)


def point_edge(
    repo: Path, product: str, index: PackIndex, doc: Any = None, *, pack_id: str | None = None
) -> PackIndex:
    """Write ``index`` (or the raw JSON ``doc``) as the pack of its edge in graph.json;
    ``pack_id`` overrides the id the edge names (an index that does not match it)."""
    data = zjson.dumps(index.to_json() if doc is None else doc)
    index_id = hashlib.md5(data).hexdigest()
    meta = repo / layout.pack_meta_rel(index_id)
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_bytes(data)
    graph_file = repo / layout.graph_rel(product, OS)
    graph = parse_graph(json.loads(graph_file.read_bytes()), "graph.json")
    shown = pack_id or index_id
    ref = PackRef(
        shown,
        layout.url_path(layout.pack_meta_rel(shown)),
        sum(o.size for o in index.objects),
        len(index.files),
    )
    edges = tuple(
        replace(e, pack=ref)
        if (e.from_build, e.to_build) == (index.from_build_id, index.to_build_id)
        else e
        for e in graph.edges
    )
    assert any(e.pack == ref for e in edges), "no such edge in graph.json"
    graph_file.write_text(json.dumps(replace(graph, edges=edges).to_json()))
    return index


def add_packs(
    repo: Path,
    product: str,
    folders: dict[str, Path],
    work: Path,
    *,
    codec: Callable[[str], str | None] = lambda path: None,
    object_bytes: int = 1 << 20,
) -> dict[tuple[str, str], PackIndex]:
    """A pack for every edge of graph.json, between the build folders ``folders`` (build
    id → folder)."""
    graph_file = repo / layout.graph_rel(product, OS)
    graph = parse_graph(json.loads(graph_file.read_bytes()), "graph.json")
    packs = {}
    for e in graph.edges:
        deltas = deltas_between(folders[e.from_build], folders[e.to_build], work, codec)
        packs[(e.from_build, e.to_build)] = write_pack(
            repo, product, e.from_build, e.to_build, deltas, object_bytes=object_bytes
        )
    return packs
