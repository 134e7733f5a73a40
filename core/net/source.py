"""A Slipstream (or GOG-format) repository over HTTP, read through GOG's endpoints.

``RepoSource`` is the client's view of one repository URL: builds lists, manifests,
patch documents, the version graph and where each chunk lives. It asks the same
endpoints a GOG client does (``builds?generation=2``, ``secure_link``,
``patches?_version=4``), so it works against ``slipstream serve``, the nginx example and
any server that answers them. Every document goes through the strict format model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from core.errors import FormatError, NotFoundError
from core.format import layout
from core.format.build import BuildManifest, parse_build_manifest
from core.format.builds import (
    BuildItem,
    BuildsListing,
    Endpoint,
    parse_builds_listing,
    parse_secure_link,
)
from core.format.depot import DepotManifest, parse_depot_manifest
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
from core.net.fetcher import Fetcher

LISTING_BYTES = 16 * 2**20


class RepoSource:
    """One repository at ``base_url``, read with ``fetcher``."""

    def __init__(self, base_url: str, fetcher: Fetcher) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FormatError(f"The source {base_url!r} is not an http(s) URL.")
        self.base_url = base_url.rstrip("/")
        self.fetcher = fetcher
        self._links: dict[tuple[str, bool], list[Endpoint]] = {}
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        """What an install's state records as where its builds come from."""
        return self.base_url

    def url(self, link: str) -> str:
        """A document's link as a URL: root-relative links are relative to the repository."""
        if link.startswith(("http://", "https://")):
            return link
        if not link.startswith("/"):
            raise FormatError(f"The link {link!r} is neither absolute nor root-relative.")
        return self.base_url + link

    def _json(self, url: str, what: str, cap: int = LIMITS.document_bytes) -> Any:
        return self.fetcher.get_json(url, max_bytes=cap, what=what)

    def _api(self, path: str, what: str) -> Any:
        """A document of GOG's dynamic endpoints (``/products/...``); GogSource asks GOG's
        API host with the account's token instead."""
        return self._json(self.base_url + path, what, LISTING_BYTES)

    # --- builds and manifests ----------------------------------------------------------

    def listing(self, product: str, os_name: str) -> BuildsListing:
        layout.check_id(product, "product id")
        path = f"/products/{product}/os/{os_name}/builds?generation=2"
        try:
            doc = self._api(path, f"the builds list of product {product}")
        except NotFoundError:
            raise NotFoundError(
                f"{self.base_url} has no builds of product {product} for {os_name}."
            ) from None
        return parse_builds_listing(doc, f"builds list of product {product}")

    def build_manifest(self, item: BuildItem) -> BuildManifest:
        what = f"build manifest {item.build_id}"
        last: Exception | None = None
        for link in item.meta_urls:
            try:
                manifest = parse_build_manifest(self._json(self.url(link), what), what)
            except NotFoundError as exc:
                last = exc
                continue
            if manifest.build_id != item.build_id:
                raise FormatError(f"The {what} describes build {manifest.build_id} instead.")
            return manifest
        raise last or FormatError(f"The {what} has no link.")

    def depot_manifest(self, manifest_id: str) -> DepotManifest:
        what = f"depot manifest {manifest_id}"
        url = self.url(layout.url_path(layout.meta_rel(manifest_id)))
        return parse_depot_manifest(self._json(url, what), what)

    def graph(self, product: str, os_name: str) -> PatchGraph | None:
        """The version graph, or ``None`` when the repository has none (GOG's CDN)."""
        url = self.url(layout.url_path(layout.graph_rel(product, os_name)))
        try:
            doc = self._json(url, "the version graph", LISTING_BYTES)
        except NotFoundError:
            return None
        return parse_graph(doc, "graph.json")

    # --- patches -----------------------------------------------------------------------

    def patch_index(self, product: str, from_build: str, to_build: str) -> PatchIndex | None:
        query = urlencode({"_version": 4, "from_build_id": from_build, "to_build_id": to_build})
        what = f"patch {from_build}→{to_build}"
        try:
            doc = self._api(f"/products/{product}/patches?{query}", what)
        except NotFoundError:
            return None
        return parse_patch_index(doc, what)

    def patch_root(self, index: PatchIndex) -> PatchRootManifest:
        what = f"patch manifest {index.id}"
        root = parse_patch_root(self._json(self.url(index.link), what), what)
        if (root.build_id_source, root.build_id_target) != (index.from_build_id, index.to_build_id):
            raise FormatError(f"The {what} is for another pair of builds.")
        return root

    def patch_depot(self, manifest_id: str) -> PatchDepotManifest:
        what = f"patch depot manifest {manifest_id}"
        url = self.url(layout.url_path(layout.patch_meta_rel(manifest_id)))
        return parse_patch_depot(self._json(url, what), what)

    # --- objects -----------------------------------------------------------------------

    def endpoints(self, product: str, patches: bool = False) -> list[Endpoint]:
        """Where ``product``'s chunks (or patch chunks) are, preferred first (cached)."""
        key = (product, patches)
        with self._lock:
            if key in self._links:
                return self._links[key]
        doc = self._api(secure_link_path(product, patches), "the secure link")
        ordered = parse_secure_link(doc, "secure_link").ordered()
        with self._lock:
            self._links[key] = ordered
        return ordered

    def renew_links(
        self, product: str, compressed_md5: str, patches: bool, refused: Sequence[str]
    ) -> None:
        """A server refused ``refused``, the chunk's URLs: forget the secure link that
        made them, unless another download thread has renewed it meanwhile."""
        key = (product, patches)
        suffix = "/" + layout.galaxy_path(compressed_md5)
        with self._lock:
            cached = self._links.get(key)
            if cached is not None and [self.url(e.assemble(suffix)) for e in cached] == list(
                refused
            ):
                del self._links[key]

    def chunk_urls(self, product: str, compressed_md5: str, patches: bool = False) -> list[str]:
        suffix = "/" + layout.galaxy_path(compressed_md5)
        return [self.url(e.assemble(suffix)) for e in self.endpoints(product, patches)]


def secure_link_path(product: str, patches: bool) -> str:
    """The ``secure_link`` request for ``product``'s chunk store (or its patch store)."""
    params = {"_version": "2", "generation": "2", "path": "/"}
    if patches:
        params["root"] = "/patches/store"
    return f"/products/{product}/secure_link?{urlencode(params)}"
