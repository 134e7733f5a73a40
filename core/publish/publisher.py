"""``slipstream publish``: one build folder into the repository.

Order is what makes it safe to interrupt: objects (chunks, patch chunks) first, then the
manifests that name them, then the ``products/`` documents that point at the manifests,
each replaced by an atomic rename, ``builds.json`` last. A reader therefore never sees a
pointer to a missing object, and a re-run after a crash reuses every object already
written. A lock keeps a second publisher out.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import FormatError, PublishError, UsageError
from core.format import layout
from core.format.build import ALL_LANGUAGES, BuildManifest, DepotEntry, Product
from core.format.builds import DATE_FORMAT, BuildItem
from core.format.depot import (
    DepotDirectory,
    DepotFile,
    DepotItem,
    DepotManifest,
    SfcRef,
    download_size,
)
from core.format.depot import SmallFilesContainer as Sfc
from core.progress import NEVER_CANCELLED, CancelToken, Phase, Progress, ProgressSink, null_sink
from core.publish import documents, metrics, product
from core.publish.catalog import Catalog, LoadedBuild
from core.publish.chain import ChainBuilder, Edge
from core.publish.lock import RepoLock
from core.publish.packs import PackBuilder
from core.publish.scan import ScannedBuild, ScannedFile, scan_build
from core.publish.store import ObjectStore, read_pieces

SMALL_FILE_BYTES = 64 * 1024
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class PublishOptions:
    product: str
    os: str = "windows"
    build_id: str | None = None
    version_name: str | None = None
    branch: str | None = None
    from_branch: str | None = None
    """The branch a new branch forks from: its first build is patched from there."""
    patch_depth: int = 3
    jobs: int | None = None
    languages: tuple[str, ...] = ("en-US",)
    name: str | None = None
    install_directory: str | None = None
    base_url: str = ""
    icon: Path | None = None
    cover: Path | None = None
    launch: str | None = None
    """The file that starts the game, relative to the build folder (product.json)."""
    packs: bool = True
    """Make patch packs beside GOG's xdelta3 patch depots (core/publish/packs.py)."""

    def check(self) -> None:
        try:
            layout.check_id(self.product, "--product")
            layout.check_os(self.os)
            if self.build_id is not None:
                layout.check_id(self.build_id, "--build-id")
        except FormatError as exc:
            raise UsageError(exc.detail) from None
        check_branch(self.branch)
        check_branch(self.from_branch)
        if not 0 <= self.patch_depth <= 50:
            raise UsageError("--patch-depth must be between 0 and 50.")
        if self.jobs is not None and self.jobs < 1:
            raise UsageError("--jobs must be at least 1.")
        if self.base_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.base_url):
            raise UsageError(f"--base-url {self.base_url!r} is not an http(s) URL.")


def check_branch(branch: str | None) -> None:
    if branch is not None and not _BRANCH.fullmatch(branch):
        raise UsageError(
            f"The branch name {branch!r} should be 1-64 letters, digits, dots, dashes "
            "or underscores."
        )


@dataclass
class PublishReport:
    product: str
    os: str
    build_id: str
    version_name: str
    branch: str | None
    files: int = 0
    folders: int = 0
    bytes: int = 0
    compressed_bytes: int = 0
    chunks: int = 0
    objects_written: int = 0
    objects_reused: int = 0
    bytes_written: int = 0
    patches_encoded: int = 0
    patches_cached: int = 0
    packs_encoded: int = 0
    """HDiffPatch deltas encoded for the packs; ``packs_cached``: found in the cache."""
    packs_cached: int = 0
    patch_failures: list[str] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    unchanged: bool = False
    seconds: float = 0.0
    encode_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in self.__dict__.items() if k != "edges"}
        doc["edges"] = [
            {
                "from_build_id": e.from_build,
                "to_build_id": e.to_build,
                "files_changed": e.files_changed,
                "files_patched": e.files_patched,
                "patch_bytes": e.patch_bytes,
                "pack_bytes": e.pack_bytes,
                "files_packed": e.pack.files if e.pack else 0,
                "update_bytes": e.update_bytes,
                "full_bytes": e.full_bytes,
            }
            for e in self.edges
        ]
        return doc


def publish(
    build_dir: Path,
    repo_dir: Path,
    options: PublishOptions,
    *,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> PublishReport:
    """Publish ``build_dir`` as a new build of ``options.product``; see the module doc."""
    options.check()
    started = time.monotonic()
    progress = clock = metrics.Clock(progress)  # times the phases for the history
    repo = layout.RepoLayout(repo_dir)
    repo_dir.mkdir(parents=True, exist_ok=True)
    with RepoLock(repo.state_dir), ObjectStore(repo, options.jobs) as store:
        catalog = Catalog(repo, options.product)
        scanned = scan_build(build_dir, exclude=repo_dir)
        progress(Progress(Phase.SCANNING, len(scanned.files), len(scanned.files), "", "files"))
        files = {f.path for f in scanned.files}
        extra = product.check_options(options.launch, options.icon, options.cover, files)
        listing = catalog.listing(options.os)
        recent = patch_sources(listing.items, options)[: max(1, options.patch_depth)]
        olds = [catalog.load_build(i) for i in recent]
        own = [o for o in olds if o.item.branch == options.branch]
        for old in olds:
            store.remember(c for f in old.files.values() for c in f.chunks)
        build_id = options.build_id or documents.next_build_id(catalog)
        existing = _listed(catalog, build_id)
        if existing is not None and (existing.os, existing.branch) != (options.os, options.branch):
            raise PublishError(f"Build {build_id} is already published; choose another --build-id.")
        depot = _write_depot(store, scanned, options.product, progress, cancel)
        depot_id = store.put_document(depot.to_json())
        name = options.version_name if options.version_name is not None else build_dir.name
        report = PublishReport(options.product, options.os, build_id, name, options.branch)
        _count(report, scanned, depot)
        same = catalog.load_build(existing) if existing else (own[0] if own else None)
        if same and same.manifest.depots[0].manifest == depot_id and same.item.version_name == name:
            # A re-run of an earlier publish (maybe with the same --build-id): nothing to add.
            report.build_id, report.unchanged = same.item.build_id, True
        elif existing is not None:
            raise PublishError(
                f"Build {build_id} is already published with other content; "
                "choose another --build-id."
            )
        else:
            previous = documents.product_manifest(catalog)
            new = _new_build(options, build_id, name, depot, depot_id, store, previous, build_dir)
            documents.drop_pairs_to(catalog, build_id)
            extend_chain(
                catalog,
                store,
                olds,
                new,
                lambda f: build_dir / f.path,
                options,
                report,
                progress,
                cancel,
            )
        count_objects(report, store)
        product.write_product(catalog, options.os, options.name, extra)
        metrics.append(repo_dir, metrics.publish_record("publish", report, clock, store))
    report.seconds = round(time.monotonic() - started, 3)
    return report


def extend_chain(
    catalog: Catalog,
    store: ObjectStore,
    olds: list[LoadedBuild],
    new: LoadedBuild,
    target_file: Callable[[DepotFile], Path | None],
    options: PublishOptions,
    report: PublishReport,
    progress: ProgressSink,
    cancel: CancelToken,
) -> None:
    """Patch the branch's last ``patch_depth`` builds to ``new``, then point the
    product's documents at it (pairs, graph, listings: the publish's last step)."""
    base_url = options.base_url or base_url_of(new.item.meta_urls[0])
    # The pack builder encodes the same pairs again: it reads the old files the chain
    # rebuilt into its workdir (rebuilding them twice cost 0.5 s on 2,000 files, deleting
    # them twice 1 s). The workdir is this function's: deleted once, here, whatever happens.
    chain = ChainBuilder(
        catalog,
        store,
        catalog.repo.state_dir / "work",
        jobs=options.jobs,
        progress=progress,
        cancel=cancel,
    )
    try:
        report.edges = chain.build(olds[: options.patch_depth], new, target_file, base_url)
        report.patches_encoded, report.patches_cached = chain.encoded, chain.reused
        report.patch_failures = chain.failures
        if options.packs:
            packs = PackBuilder(
                catalog, store, chain.workdir, jobs=options.jobs, progress=progress, cancel=cancel
            )
            report.edges = packs.build(report.edges, olds, new, target_file, chain.files)
            report.packs_encoded, report.packs_cached = packs.encoded, packs.reused
            report.patch_failures += packs.failures
    finally:
        shutil.rmtree(chain.workdir, ignore_errors=True)
    report.encode_seconds = round(chain.encode_seconds, 3)
    cancel.raise_if_cancelled()
    progress(Progress(Phase.WRITING_DOCUMENTS, 0, 1, "", "steps"))
    documents.add_build(catalog, new, report.edges, base_url)


def base_url_of(link: str) -> str:
    """``https://cdn/x/content-system/...`` → ``https://cdn/x``; root-relative → ``""``."""
    parts = urlsplit(link)
    if not parts.scheme:
        return ""
    prefix = parts.path.split("/" + layout.CONTENT_ROOT + "/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def _listed(catalog: Catalog, build_id: str) -> BuildItem | None:
    """The listing item of ``build_id`` on any OS of the product, if published."""
    return next(
        (i for o in catalog.os_names() for i in catalog.listing(o).items if i.build_id == build_id),
        None,
    )


def branch_items(items: tuple[BuildItem, ...], branch: str | None) -> list[BuildItem]:
    """The listing's generation-2 builds on ``branch``, in listing order (newest first)."""
    return [i for i in items if i.branch == branch and i.generation == 2]


def patch_sources(
    items: tuple[BuildItem, ...], options: PublishOptions, skip: str | None = None
) -> list[BuildItem]:
    """The builds a new build of ``options.branch`` is patched from, newest first: the
    branch's own, or, for a branch's first build, those of ``options.from_branch``, where
    its players come from (without them they would download it whole)."""
    own = [i for i in branch_items(items, options.branch) if i.build_id != skip]
    if own or options.from_branch == options.branch:
        return own
    fork = [i for i in branch_items(items, options.from_branch) if i.build_id != skip]
    if not fork and options.from_branch is not None:  # a typo would silently cost patches
        raise UsageError(
            f"Branch {options.from_branch!r} has no builds to fork from; check --from-branch."
        )
    return fork


def count_objects(report: PublishReport, store: ObjectStore) -> None:
    """Copy the store's object counts into ``report``."""
    report.objects_written = store.stats.objects_written
    report.objects_reused = store.stats.objects_reused
    report.bytes_written = store.stats.bytes_written


def _count(report: PublishReport, scanned: ScannedBuild, depot: DepotManifest) -> None:
    report.files = len(scanned.files)
    report.folders = len(scanned.folders)
    report.bytes = scanned.size
    report.compressed_bytes = download_size(c for f in depot.files for c in f.chunks)
    report.chunks = sum(len(f.chunks) for f in depot.files)


def _write_depot(
    store: ObjectStore,
    scanned: ScannedBuild,
    product: str,
    progress: ProgressSink,
    cancel: CancelToken,
) -> DepotManifest:
    """Chunk every file into the store, then pack the small ones into a container.

    Files are chunked ``2 × store.jobs`` at a time: most files are a single chunk, which
    the thread reading it also hashes, compresses and writes (see
    :meth:`ObjectStore.chunk_stream`), and while some threads wait for a read or an fsync
    the others keep the cores busy."""
    lock = threading.Lock()
    done = 0

    def rel(md5: str) -> str:
        return layout.store_rel(product, md5)

    def advance(n: int, item: str) -> None:
        nonlocal done
        with lock:
            done += n
            progress(Progress(Phase.CHUNKING, done, scanned.size, item))

    def chunk(source: ScannedFile) -> DepotFile:
        cancel.raise_if_cancelled()
        data = store.chunk_stream(
            read_pieces(source.source),
            source.size,
            rel,
            on_bytes=functools.partial(advance, item=source.path),
            cancel=cancel,
        )
        return DepotFile(
            path=source.path,
            chunks=data.chunks,
            md5=data.md5 if len(data.chunks) > 1 else None,
            sha256=data.sha256,
            flags=("executable",) if source.executable else (),
        )

    with ThreadPoolExecutor(2 * store.jobs) as files:
        items: list[DepotItem] = [DepotDirectory(f) for f in scanned.folders]
        items += files.map(chunk, scanned.files)
    small = [s for s in scanned.files if 0 < s.size <= SMALL_FILE_BYTES]
    sfc = None
    if small:
        sfc_size = sum(s.size for s in small)
        pieces = (piece for s in small for piece in read_pieces(s.source))
        sfc_data = store.chunk_stream(pieces, sfc_size, rel, cancel=cancel)
        sfc = Sfc(sfc_data.chunks, sfc_data.md5)
        items = _with_sfc_refs(items, small)
    return DepotManifest(tuple(items), sfc)


def _with_sfc_refs(items: list[DepotItem], small: list[ScannedFile]) -> list[DepotItem]:
    offsets: dict[str, SfcRef] = {}
    offset = 0
    for s in small:
        offsets[s.path] = SfcRef(offset, s.size)
        offset += s.size
    return [
        DepotFile(i.path, i.chunks, i.md5, i.sha256, i.flags, offsets[i.path])
        if isinstance(i, DepotFile) and i.path in offsets
        else i
        for i in items
    ]


def _new_build(
    options: PublishOptions,
    build_id: str,
    version_name: str,
    depot: DepotManifest,
    depot_id: str,
    store: ObjectStore,
    previous: BuildManifest | None,
    build_dir: Path,
) -> LoadedBuild:
    # The folder's name only names a product published for the first time without --name.
    name = options.name or (previous.product_name(options.product) if previous else build_dir.name)
    install_dir = options.install_directory or (
        previous.install_directory if previous else documents.folder_name(name)
    )
    languages = (ALL_LANGUAGES, *[lang for lang in options.languages if lang != ALL_LANGUAGES])
    manifest = BuildManifest(
        base_product_id=options.product,
        build_id=build_id,
        platform=options.os,
        install_directory=install_dir,
        depots=(
            DepotEntry(
                product_id=options.product,
                languages=languages,
                manifest=depot_id,
                size=depot.size,
                compressed_size=depot.compressed_size,
            ),
        ),
        products=(Product(options.product, name),),
        tags=("slipstream",),
    )
    manifest_id = store.put_document(manifest.to_json())
    item = BuildItem(
        build_id=build_id,
        product_id=options.product,
        os=options.os,
        branch=options.branch,
        version_name=version_name,
        date_published=datetime.now(UTC).strftime(DATE_FORMAT),
        link=options.base_url + layout.url_path(layout.meta_rel(manifest_id)),
    )
    return LoadedBuild(item, manifest, (depot,))
