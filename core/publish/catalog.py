"""What a repository on disk already holds, read through the strict format model.

The publisher, ``promote`` and ``prune`` never trust their own earlier output blindly:
they read it back like a client would, so a damaged repository is reported, not built on.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import FormatError, LocalIOError, RepositoryError
from core.format import layout, zjson
from core.format.build import BuildManifest, parse_build_manifest
from core.format.builds import BuildItem, BuildsListing, parse_builds_listing
from core.format.depot import (
    Chunk,
    DepotFile,
    DepotManifest,
    download_size,
    parse_depot_manifest,
    unpack_chunk,
)
from core.format.fields import LIMITS
from core.format.graph import PatchGraph, parse_graph
from core.format.patch import (
    PatchDepotManifest,
    PatchIndex,
    PatchRootManifest,
    parse_patch_depot,
    parse_patch_index,
    parse_patch_root,
)
from core.fs import atomic_write

ObjectFetch = Callable[[str], bool]
"""Brings the object ``rel`` into a repository folder from elsewhere; False if absent."""
_FETCHERS: dict[Path, ObjectFetch] = {}
_FETCHERS_LOCK = threading.Lock()


@contextmanager
def objects_from(root: Path, fetch: ObjectFetch) -> Iterator[None]:
    """While inside, a chunk the folder ``root`` lacks is fetched with ``fetch`` before
    it counts as missing: the local mirror of a repository in object storage holds old
    builds only when this machine published them (core/publish/sync.py)."""
    key = root.resolve()
    with _FETCHERS_LOCK:
        _FETCHERS[key] = fetch
    try:
        yield
    finally:
        with _FETCHERS_LOCK:
            _FETCHERS.pop(key, None)


def fetch_missing(root: Path, rel: str) -> bool:
    """Fetch ``rel`` into ``root`` through its registered source, if it has one."""
    with _FETCHERS_LOCK:
        fetch = _FETCHERS.get(root.resolve())
    return fetch is not None and fetch(rel)


def rel_from_link(link: str) -> str:
    """The repository path a document's ``link`` (root-relative or absolute) points at."""
    rel = urlsplit(link).path.lstrip("/")
    parts = rel.split("/")
    if not rel.startswith(layout.CONTENT_ROOT + "/") or any(p in ("", ".", "..") for p in parts):
        raise FormatError(f"The link {link!r} does not point into the repository's content.")
    return rel


@dataclass(frozen=True)
class LoadedBuild:
    item: BuildItem
    manifest: BuildManifest
    depots: tuple[DepotManifest, ...]

    @property
    def files(self) -> dict[str, DepotFile]:
        return {f.path: f for depot in self.depots for f in depot.files}

    @property
    def compressed_size(self) -> int:
        return sum(d.compressed_size for d in self.manifest.depots)

    @property
    def download_bytes(self) -> int:
        """A whole download as a player makes it (each chunk object once), which GOG's
        ``compressedSize`` (duplicates counted) overstates."""
        return download_size(c for f in self.files.values() for c in f.chunks)


class Catalog:
    """Read access to one product's documents in a repository folder."""

    def __init__(self, repo: layout.RepoLayout, product: str) -> None:
        self.repo = repo
        self.product = layout.check_id(product, "product id")

    # --- raw documents -----------------------------------------------------------------

    def read(self, rel: str, cap: int = LIMITS.document_bytes) -> Any:
        path = self.repo.path(rel)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RepositoryError(f"The repository lacks {rel}.") from None
        except OSError as exc:
            raise LocalIOError.wrap(exc, "read") from None
        return zjson.loads(data, rel, cap)

    def exists(self, rel: str) -> bool:
        return self.repo.path(rel).is_file()

    def write_json(self, rel: str, doc: Any) -> None:
        """Replace a ``products/`` document atomically (readers see old or new)."""
        try:
            atomic_write(self.repo.path(rel), zjson.dumps_plain(doc) + b"\n")
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write") from None

    # --- listings and manifests --------------------------------------------------------

    def os_names(self) -> list[str]:
        return [o for o in layout.OS_NAMES if self.exists(layout.builds_rel(self.product, o))]

    def listing(self, os_name: str) -> BuildsListing:
        rel = layout.builds_rel(self.product, os_name)
        if not self.exists(rel):
            return BuildsListing((), 0)
        listing = parse_builds_listing(self.read(rel), rel)
        if listing.skipped:  # players skip a malformed item; the publisher must not drop one
            raise FormatError(listing.skipped[0])
        return listing

    def build_manifest(self, item: BuildItem) -> BuildManifest:
        rel = rel_from_link(item.meta_urls[0])
        return parse_build_manifest(self.read(rel), f"build manifest {item.build_id}")

    def depot_manifest(self, manifest_id: str) -> DepotManifest:
        rel = layout.meta_rel(manifest_id)
        return parse_depot_manifest(self.read(rel), f"depot manifest {manifest_id}")

    def load_build(self, item: BuildItem) -> LoadedBuild:
        manifest = self.build_manifest(item)
        depots = tuple(self.depot_manifest(d.manifest) for d in manifest.depots)
        return LoadedBuild(item, manifest, depots)

    def graph(self, os_name: str) -> PatchGraph:
        rel = layout.graph_rel(self.product, os_name)
        if not self.exists(rel):
            return PatchGraph(self.product, os_name, (), ())
        return parse_graph(self.read(rel), rel)

    def pair(self, from_build: str, to_build: str) -> PatchIndex | None:
        rel = layout.patch_pair_rel(self.product, from_build, to_build)
        return parse_patch_index(self.read(rel), rel) if self.exists(rel) else None

    def patch_root(self, index: PatchIndex) -> PatchRootManifest:
        rel = rel_from_link(index.link)
        return parse_patch_root(self.read(rel), f"patch manifest {index.id}")

    def patch_depot(self, manifest_id: str) -> PatchDepotManifest:
        rel = layout.patch_meta_rel(manifest_id)
        return parse_patch_depot(self.read(rel), f"patch depot manifest {manifest_id}")

    # --- objects -----------------------------------------------------------------------

    def read_chunk(self, chunk: Chunk, patches: bool = False) -> bytes:
        """A chunk's bytes, with both md5s checked (compressed before inflating)."""
        rel_of = layout.patch_store_rel if patches else layout.store_rel
        rel = rel_of(self.product, chunk.compressed_md5)
        try:
            try:
                body = self.repo.path(rel).read_bytes()
            except FileNotFoundError:
                if not fetch_missing(self.repo.root, rel):
                    raise
                body = self.repo.path(rel).read_bytes()
        except FileNotFoundError:
            raise RepositoryError(f"The repository lacks the chunk {rel}.") from None
        except OSError as exc:
            raise LocalIOError.wrap(exc, "read") from None
        return unpack_chunk(body, chunk, f"chunk {rel}")

    def materialize(self, item: DepotFile, dest: Path) -> None:
        """Rebuild a published file from its chunks into ``dest``, checking its md5."""
        # read_chunk checks each chunk's md5: a one-chunk file's md5 needs no second pass.
        single = len(item.chunks) == 1
        digest = hashlib.md5()
        try:
            with open(dest, "wb") as out:
                for chunk in item.chunks:
                    data = self.read_chunk(chunk)
                    if not single:
                        digest.update(data)
                    out.write(data)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write") from None
        whole = item.chunks[0].md5 if single else digest.hexdigest()
        if whole != item.file_md5:
            raise RepositoryError(f"The published file {item.path!r} does not rebuild to its md5.")
