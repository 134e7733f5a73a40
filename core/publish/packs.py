"""Patch packs: Slipstream's own update along an edge, beside GOG's xdelta3 patch depot.

For every edge the chain patches (core/publish/chain.py), each changed file pair gets an
HDiffPatch delta too (both files at most :data:`core.delta.hdiff.HDIFF_MAX_BYTES`),
encoded in the worker pool and cached under ``.slipstream/patch-cache/hdiffpatch/`` by
the pair's md5s, so a re-run or another edge with the same pair never encodes twice. The
pack keeps the smaller of that delta and the chain's zlib'd xdelta3 delta (the patch
chunk itself) when it is smaller than the file's chunks. Its entries, largest first,
fill pack objects of at most :data:`PACK_OBJECT_BYTES` (an entry larger than that alone),
so a client fetches a few objects instead of one request per delta, and the first object
holds the longest decode.

Objects are written before the index that names them, and the index before graph.json
points at it (the publisher's order), each content-addressed: an interrupted publish
leaves only unreferenced objects, which prune removes. GOG's clients never see a pack:
only graph.json's ``pack`` field names the index (docs/repository.md, "Patch packs").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from core.delta import hdiff
from core.delta.xdelta import EncodeJob, PatchPool
from core.errors import LocalIOError
from core.format import layout, zjson
from core.format.depot import DepotFile
from core.format.graph import GraphEdge, PackRef
from core.format.pack import PackEntry, PackIndex, PackObject, object_link, parse_pack_index
from core.progress import NEVER_CANCELLED, CancelToken, ProgressSink, null_sink
from core.publish.catalog import Catalog, LoadedBuild, rel_from_link
from core.publish.chain import DeltaCache, Edge, materialize_pairs, pair_files
from core.publish.store import ObjectStore

PACK_OBJECT_BYTES = 8 * 2**20
"""Most bytes in one pack object, unless a single entry is larger."""

Pair = tuple[str, str]


@dataclass(frozen=True)
class Candidate:
    """One file pair's delta for the pack: ``codec``, and where its bytes are now."""

    codec: str
    size: int
    path: Path


class HdiffCache:
    """HDiffPatch deltas under ``.slipstream/patch-cache/hdiffpatch``, one file each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, src: str, dst: str) -> Path:
        return self.root / src[:2] / f"{src}-{dst}"

    def get(self, src: str, dst: str) -> Path | None:
        path = self.path(src, dst)
        return path if path.is_file() else None


class PackBuilder:
    """Makes the packs of the edges a :class:`core.publish.chain.ChainBuilder` made."""

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        workdir: Path,
        *,
        jobs: int | None = None,
        progress: ProgressSink = null_sink,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.workdir = workdir
        self.jobs = jobs
        self.progress = progress
        self.cancel = cancel
        cache_root = catalog.repo.state_dir / "patch-cache"
        self.xdelta_cache = DeltaCache(cache_root, catalog)
        self.cache = HdiffCache(cache_root / "hdiffpatch")
        self.encoded = 0
        self.reused = 0
        self.failures: list[str] = []

    def build(
        self,
        edges: list[Edge],
        olds: list[LoadedBuild],
        new: LoadedBuild,
        target_file: Callable[[DepotFile], Path | None],
        have: Mapping[str, Path] | None = None,
    ) -> list[Edge]:
        """``edges`` with a pack on each that has a GOG patch and a file worth packing.
        ``have``: files already on disk by md5 (the chain builder's, in ``workdir``)."""
        by_id = {o.item.build_id: o for o in olds}
        pairs = {
            e.from_build: pair_files(by_id[e.from_build].files, new.files)
            for e in edges
            if e.index is not None
        }
        wanted = {(s.file_md5, t.file_md5): (s, t) for ps in pairs.values() for s, t in ps}
        self._encode(wanted, target_file, have)
        return [
            self._with_pack(e, by_id[e.from_build], new, pairs[e.from_build])
            if e.from_build in pairs
            else e
            for e in edges
        ]

    # --- encoding ------------------------------------------------------------------------

    def _encode(
        self,
        wanted: dict[Pair, tuple[DepotFile, DepotFile]],
        target_file: Callable[[DepotFile], Path | None],
        have: Mapping[str, Path] | None = None,
    ) -> None:
        todo: dict[Pair, tuple[DepotFile, DepotFile]] = {}
        for key, (source, target) in wanted.items():
            if max(source.size, target.size) > hdiff.HDIFF_MAX_BYTES:
                continue  # xdelta3 only: HDiffPatch would hold both files in memory
            if self.cache.get(*key) is not None:
                self.reused += 1
            else:
                todo[key] = (source, target)
        if not todo:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            on_disk = materialize_pairs(
                self.catalog,
                self.workdir,
                todo,
                target_file,
                self.jobs,
                self.progress,
                self.cancel,
                have,
            )
            ordered = sorted(todo.items(), key=lambda kv: kv[1][1].size, reverse=True)
            jobs = {}
            for (src, dst), (source, target) in ordered:
                out = self.cache.path(src, dst)
                out.parent.mkdir(parents=True, exist_ok=True)
                job = EncodeJob(
                    on_disk[source.file_md5], on_disk[target.file_md5], out, "hdiffpatch"
                )
                jobs[job] = target
            with PatchPool(self.jobs) as pool:
                for result in pool.encode_all(
                    list(jobs), progress=self.progress, cancel=self.cancel
                ):
                    if result.error is None:
                        self.encoded += 1
                    else:  # the file keeps its xdelta3 delta, if it has one
                        self.failures.append(f"{jobs[result.job].path}: {result.error}")
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write the patch cache") from None

    # --- one edge's pack -----------------------------------------------------------------

    def _candidate(self, source: DepotFile, target: DepotFile) -> Candidate | None:
        """The smaller delta of the pair, if it is smaller than the file's chunks.

        Any saving counts, unlike the chain's rule for patch depots (80%, 1 KiB): a pack
        entry costs no request of its own, while the file's chunks cost one each."""
        found = []
        made = self.cache.get(source.file_md5, target.file_md5)
        if made is not None:
            found.append(Candidate("hdiffpatch", made.stat().st_size, made))
        delta = self.xdelta_cache.get(source.file_md5, target.file_md5)
        # Only a one-chunk xdelta3 delta is one zlib stream; a larger one stays in GOG's
        # patch depot alone, where it costs the client the same bytes.
        if delta is not None and delta.kept and len(delta.chunks) == 1:
            chunk = delta.chunks[0]
            if chunk.compressed_size <= PACK_OBJECT_BYTES:
                rel = layout.patch_store_rel(self.catalog.product, chunk.compressed_md5)
                found.append(
                    Candidate("xdelta3", chunk.compressed_size, self.catalog.repo.path(rel))
                )
        best = min(found, key=lambda c: (c.size, c.codec != "hdiffpatch"), default=None)
        if best is None or best.size >= target.compressed_size:
            return None
        return best

    def _with_pack(
        self,
        edge: Edge,
        old: LoadedBuild,
        new: LoadedBuild,
        pairs: list[tuple[DepotFile, DepotFile]],
    ) -> Edge:
        chosen = [(s, t, c) for s, t in pairs if (c := self._candidate(s, t)) is not None]
        if not chosen:
            return edge
        chosen.sort(key=lambda stc: stc[2].size, reverse=True)
        product = self.catalog.product
        objects: list[PackObject] = []
        entries: list[PackEntry] = []
        for batch in batches([c.size for _, _, c in chosen], PACK_OBJECT_BYTES):
            body = bytearray()
            for i in batch:
                source, target, candidate = chosen[i]
                data = _read(candidate.path)
                entries.append(
                    PackEntry(
                        path_source=source.path,
                        path_target=target.path,
                        codec=candidate.codec,
                        object=len(objects),
                        offset=len(body),
                        length=len(data),
                        md5=hashlib.md5(data).hexdigest(),
                        md5_source=source.file_md5,
                        md5_target=target.file_md5,
                        sha256_source=source.sha256,
                        sha256_target=target.sha256,
                        size_source=source.size,
                        size_target=target.size,
                    )
                )
                body += data
            md5 = hashlib.md5(body).hexdigest()
            self.store.put(layout.pack_store_rel(product, md5), bytes(body))
            objects.append(PackObject(md5, object_link(product, md5), len(body)))
        index = PackIndex(
            product, old.item.build_id, new.item.build_id, tuple(objects), tuple(entries)
        )
        data = zjson.dumps(index.to_json())
        index_id = hashlib.md5(data).hexdigest()
        self.store.put(layout.pack_meta_rel(index_id), data)
        link = layout.url_path(layout.pack_meta_rel(index_id))
        ref = PackRef(index_id, link, sum(o.size for o in objects), len(entries))
        return replace(edge, pack=ref)


def batches(sizes: list[int], limit: int) -> list[list[int]]:
    """Indexes of ``sizes`` (largest first) grouped into runs of at most ``limit`` bytes,
    in order; an entry larger than ``limit`` is alone in its run."""
    runs: list[list[int]] = []
    total = 0
    for i, size in enumerate(sizes):
        if runs and total + size <= limit:
            runs[-1].append(i)
            total += size
        else:
            runs.append([i])
            total = size
    return runs


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read a delta for the pack") from None


def pack_refs(catalog: Catalog, edge: GraphEdge) -> set[str]:
    """The repository paths of ``edge``'s pack: its index and the objects it names
    (for prune). A missing index names nothing more; a damaged one stops prune with a
    :class:`FormatError` rather than let it delete what the index may still name."""
    if edge.pack is None:
        return set()
    rel = rel_from_link(edge.pack.link)
    refs = {rel}
    if not catalog.exists(rel):
        return refs
    index = parse_pack_index(catalog.read(rel), rel)
    refs.update(rel_from_link(o.link) for o in index.objects)
    return refs
