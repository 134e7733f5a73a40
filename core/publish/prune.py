"""``slipstream prune``: drop old builds and the objects nothing refers to any more.

Steps, in the order that keeps every reader safe:

1. keep the last N builds of every branch, plus any build named with ``--keep``, and
   rewrite the listings and graph without the others (atomic renames);
2. delete patch pair documents whose ends are gone;
3. mark every object no kept document of any product references (a pack's index and
   objects count as referenced while a kept graph.json edge names the pack), and delete it only
   once it has stayed unreferenced longer than the grace period, so a player who is
   mid-download with an older listing does not lose the objects under their feet.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.errors import FormatError, LocalIOError, RepositoryError, UsageError
from core.format import layout
from core.format.builds import BuildItem
from core.fs import atomic_write
from core.progress import Phase, Progress, ProgressSink, null_sink
from core.publish import documents, metrics
from core.publish.catalog import Catalog, rel_from_link
from core.publish.lock import RepoLock
from core.publish.packs import pack_refs

DEFAULT_GRACE = 24 * 3600
STATE_FILE = "unreferenced.json"


@dataclass
class PruneReport:
    dry_run: bool
    builds_removed: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(os, build id, branch) of every listing item dropped."""
    pairs_removed: list[tuple[str, str]] = field(default_factory=list)
    objects_deleted: int = 0
    bytes_freed: int = 0
    objects_waiting: int = 0
    """Unreferenced, but not for longer than the grace period yet."""
    bytes_waiting: int = 0
    objects_kept: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "builds_removed": [
                {"os": o, "build_id": b, "branch": br} for o, b, br in self.builds_removed
            ],
            "pairs_removed": [
                {"from_build_id": a, "to_build_id": b} for a, b in self.pairs_removed
            ],
        }


def prune(
    repo_dir: Path,
    product: str,
    *,
    keep_builds: int = 3,
    keep: Iterable[str] = (),
    grace: float = DEFAULT_GRACE,
    dry_run: bool = False,
    now: float | None = None,
    progress: ProgressSink = null_sink,
    sweep: ObjectSweep | None = None,
) -> PruneReport:
    """Prune ``product`` in the repository at ``repo_dir``; see the module doc.
    ``sweep``: where the objects live, when not in ``repo_dir`` itself."""
    try:
        layout.check_id(product, "--product")
        kept_builds = {layout.check_id(b, "--keep") for b in keep}
    except FormatError as exc:
        raise UsageError(exc.detail) from None
    if keep_builds < 1:
        raise UsageError("--keep-builds must be at least 1.")
    if grace < 0:
        raise UsageError("--grace must not be negative.")
    repo = layout.RepoLayout(repo_dir)
    if not repo.path(layout.product_rel(product)).is_dir():
        raise RepositoryError(f"Product {product} has nothing published in {repo_dir}.")
    moment = time.time() if now is None else now
    report = PruneReport(dry_run)
    progress = clock = metrics.Clock(progress)  # times the phases for the history
    with RepoLock(repo.state_dir):
        catalog = Catalog(repo, product)
        kept_ids = _prune_listings(catalog, keep_builds, kept_builds, report, dry_run)
        _prune_pairs(catalog, kept_ids, report, dry_run)
        progress(Progress(Phase.FINDING_REFERENCES, 0, 1, "", "steps"))
        referenced = _referenced(repo, kept_override={product: kept_ids} if dry_run else None)
        sweep = sweep or FolderSweep(repo)
        _sweep(repo, referenced, moment, grace, report, dry_run, progress, sweep)
        metrics.append(repo_dir, metrics.prune_record(product, report, clock))
    return report


def _prune_listings(
    catalog: Catalog, keep_builds: int, keep: set[str], report: PruneReport, dry_run: bool
) -> set[str]:
    kept_ids: set[str] = set()
    for os_name in catalog.os_names():
        listing = catalog.listing(os_name)
        seen: dict[str | None, int] = {}
        kept: list[BuildItem] = []
        for item in documents.sort_items(listing.items):
            seen[item.branch] = seen.get(item.branch, 0) + 1
            if seen[item.branch] <= keep_builds or item.build_id in keep:
                kept.append(item)
            else:
                report.builds_removed.append((os_name, item.build_id, item.branch))
        kept_ids.update(i.build_id for i in kept)
        if len(kept) != len(listing.items) and not dry_run:
            new_listing = listing.with_items(tuple(kept))
            graph = catalog.graph(os_name)
            full = {b.build_id: b.full_bytes for b in graph.builds}
            documents.write_graph(catalog, os_name, new_listing, graph.edges, full)
            documents.write_listing(catalog, os_name, new_listing)
    return kept_ids


def _pair_files(repo: layout.RepoLayout, product: str) -> Iterator[tuple[str, str, Path]]:
    root = repo.path(layout.product_rel(product)) / "patches"
    if not root.is_dir():
        return
    for from_dir in sorted(root.iterdir()):
        for doc in sorted(from_dir.glob("*.json")):
            yield from_dir.name, doc.stem, doc


def _prune_pairs(catalog: Catalog, kept_ids: set[str], report: PruneReport, dry_run: bool) -> None:
    for from_build, to_build, path in _pair_files(catalog.repo, catalog.product):
        if from_build in kept_ids and to_build in kept_ids:
            continue
        report.pairs_removed.append((from_build, to_build))
        if not dry_run:
            try:
                path.unlink()
                if not any(path.parent.iterdir()):
                    path.parent.rmdir()
            except OSError as exc:
                raise LocalIOError.wrap(exc, "remove the patch pair document") from None


def _referenced(
    repo: layout.RepoLayout, kept_override: dict[str, set[str]] | None = None
) -> set[str]:
    """Every object path that a kept document of any product in the repository names."""
    refs: set[str] = set()
    products_dir = repo.root / layout.PRODUCTS_ROOT
    # Only folders are products: products/index.json lists them for players.
    products = (
        sorted(p.name for p in products_dir.iterdir() if p.is_dir())
        if products_dir.is_dir()
        else []
    )
    for product in products:
        catalog = Catalog(repo, product)
        only = kept_override.get(product) if kept_override else None
        for os_name in catalog.os_names():
            for item in catalog.listing(os_name).items:
                # A build listed on several branches is one manifest: read it once.
                seen = rel_from_link(item.meta_urls[0]) in refs
                if not seen and (only is None or item.build_id in only):
                    refs |= _build_refs(catalog, item)
        for from_build, to_build, _ in _pair_files(repo, product):
            if only is None or (from_build in only and to_build in only):
                refs |= _pair_refs(catalog, from_build, to_build)
        for os_name in catalog.os_names():  # packs are named by graph.json's edges alone
            for edge in catalog.graph(os_name).edges:
                if only is None or (edge.from_build in only and edge.to_build in only):
                    refs |= pack_refs(catalog, edge)
    return refs


def _build_refs(catalog: Catalog, item: BuildItem) -> set[str]:
    refs = {rel_from_link(item.meta_urls[0])}
    manifest = catalog.build_manifest(item)
    for entry in manifest.depots:
        refs.add(layout.meta_rel(entry.manifest))
        depot = catalog.depot_manifest(entry.manifest)
        chunks = [c for f in depot.files for c in f.chunks]
        chunks += list(depot.small_files.chunks) if depot.small_files else []
        refs.update(layout.store_rel(entry.product_id, c.compressed_md5) for c in chunks)
    return refs


def _pair_refs(catalog: Catalog, from_build: str, to_build: str) -> set[str]:
    index = catalog.pair(from_build, to_build)
    if index is None:
        return set()
    refs = {rel_from_link(index.link)}
    root = catalog.patch_root(index)
    for entry in root.depots:
        refs.add(layout.patch_meta_rel(entry.manifest))
        for diff in catalog.patch_depot(entry.manifest).items:
            refs.update(
                layout.patch_store_rel(root.base_product_id, c.compressed_md5) for c in diff.chunks
            )
    return refs


class ObjectSweep(Protocol):
    """Where the objects ``prune`` sweeps live: the repository folder itself, or an
    object store (core/publish/sync.py)."""

    def objects(self) -> dict[str, int]:
        """Every object's repository-relative path and size."""
        ...

    def delete(self, rel: str) -> None: ...


class FolderSweep:
    """The objects under a repository folder's ``content-system/``."""

    def __init__(self, repo: layout.RepoLayout) -> None:
        self.repo = repo

    def objects(self) -> dict[str, int]:
        found = {}
        for dirpath, _dirs, files in os.walk(self.repo.root / layout.CONTENT_ROOT):
            for name in files:
                path = Path(dirpath) / name
                found[path.relative_to(self.repo.root).as_posix()] = path.stat().st_size
        return found

    def delete(self, rel: str) -> None:
        path = self.repo.path(rel)
        path.unlink(missing_ok=True)
        _remove_empty_parents(path.parent, self.repo.root / layout.CONTENT_ROOT)


def _sweep(
    repo: layout.RepoLayout,
    referenced: set[str],
    now: float,
    grace: float,
    report: PruneReport,
    dry_run: bool,
    progress: ProgressSink,
    sweep: ObjectSweep,
) -> None:
    state_path = repo.state_dir / STATE_FILE
    first_seen = _load_state(state_path)
    still: dict[str, float] = {}
    try:
        objects = sorted(sweep.objects().items())
        for n, (rel, size) in enumerate(objects):
            progress(Progress(Phase.SWEEPING, n, len(objects), rel, "objects"))
            if rel in referenced:
                report.objects_kept += 1
                continue
            # Temporary files left by an interrupted publisher age like any other object.
            since = first_seen.get(rel, now)
            if now - since >= grace:
                report.objects_deleted += 1
                report.bytes_freed += size
                if not dry_run:
                    sweep.delete(rel)
            else:
                report.objects_waiting += 1
                report.bytes_waiting += size
                still[rel] = since
        if not dry_run:
            atomic_write(state_path, json.dumps(still, sort_keys=True).encode())
    except OSError as exc:
        raise LocalIOError.wrap(exc, "prune") from None


def _load_state(path: Path) -> dict[str, float]:
    try:
        doc = json.loads(path.read_text())
        return {str(k): float(v) for k, v in doc.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError):
        # A damaged record only delays deletion by one grace period; it never deletes more.
        return {}


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
