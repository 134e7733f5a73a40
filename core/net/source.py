"""A Slipstream (or GOG-format) repository over HTTP, read through GOG's endpoints.

``RepoSource`` is the client's view of one repository URL: builds lists, manifests,
patch documents, the version graph and where each chunk lives. It asks the same
endpoints a GOG client does (``builds?generation=2``, ``secure_link``,
``patches?_version=4``), so it works against ``slipstream serve``, the nginx example and
any server that answers them. Every document goes through the strict format model.

Links read from a document lead only where the source said its things are: a plain
``link`` to a host the source's URL names, an endpoint object to a well-formed host (a
CDN the repository delegates to). Anything else is damage (a flipped byte in a host name)
or a hostile document: the document is fetched again, then refused, and the host is
never contacted.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from core.errors import (
    AccessDeniedError,
    FormatError,
    HashMismatchError,
    NotFoundError,
    SlipstreamError,
)
from core.format import layout, zjson
from core.format.bounds import BOUNDS
from core.format.build import BuildManifest, parse_build_manifest
from core.format.builds import (
    BuildItem,
    BuildsListing,
    Endpoint,
    parse_builds_listing,
    parse_secure_link,
)
from core.format.depot import DepotManifest, parse_depot_manifest
from core.format.graph import PackRef, PatchGraph, parse_graph
from core.format.pack import PackIndex, parse_pack_index
from core.format.patch import (
    PatchDepotManifest,
    PatchIndex,
    PatchRootManifest,
    parse_patch_depot,
    parse_patch_index,
    parse_patch_root,
)
from core.format.product_info import (
    ArtRef,
    ProductInfo,
    ProductsIndex,
    parse_product_info,
    parse_products_index,
    product_info_rel,
    products_index_rel,
)
from core.net.http import RefusedAddress, check_host
from core.net.transport import DamagedDocument, Transport, get_document


def _as_is(doc: Any) -> Any:
    return doc


class RepoSource:
    """One repository at ``base_url``, read with ``fetcher``."""

    def __init__(self, base_url: str, fetcher: Transport) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FormatError(f"The source {base_url!r} is not an http(s) URL.")
        try:
            host = check_host(base_url)
        except RefusedAddress as exc:
            raise FormatError(f"The source {base_url!r} is not a valid address: {exc}.") from None
        self.base_url = base_url.rstrip("/")
        self.fetcher = fetcher
        self.named_hosts = {host}
        """The hosts a plain ``link`` in a document may lead to."""
        self._links: dict[tuple[str, bool], list[Endpoint]] = {}
        self._lock = threading.Lock()
        self._link_fetch = threading.Lock()

    @property
    def location(self) -> str:
        """What an install's state records as where its builds come from."""
        return self.base_url

    def url(self, link: str) -> str:
        """A document's link as a URL: root-relative links are relative to the repository,
        absolute ones must stay on a host the source names (DamagedDocument otherwise)."""
        if link.startswith(("http://", "https://")):
            host = self._host_of(link)
            if host not in self.named_hosts:
                raise DamagedDocument(
                    f"The link {link!r} leads to {host}, a host {self.base_url} does not name; "
                    "it was not contacted."
                )
            return link
        if not link.startswith("/"):
            raise FormatError(f"The link {link!r} is neither absolute nor root-relative.")
        return self.base_url + link

    def endpoint_url(self, assembled: str) -> str:
        """The URL an endpoint object assembled: a CDN the repository delegates to may be
        any host, but only a well-formed one (DamagedDocument otherwise)."""
        if assembled.startswith(("http://", "https://")):
            self._host_of(assembled)
            return assembled
        return self.url(assembled)

    @staticmethod
    def _host_of(url: str) -> str:
        try:
            return check_host(url)
        except RefusedAddress as exc:
            raise DamagedDocument(f"The link {url!r} was refused: {exc}.") from None

    def meta_links(self, item: BuildItem) -> list[str]:
        """Where ``item``'s build manifest is, preferred first, each link checked."""
        if item.urls:
            return [self.endpoint_url(u) for u in item.meta_urls]
        return [self.url(item.link)] if item.link else []

    def _json(
        self,
        url: str,
        what: str,
        cap: int = BOUNDS.document_bytes,
        parse: Callable[[Any], Any] = _as_is,
    ) -> Any:
        return get_document(self.fetcher, url, max_bytes=cap, what=what, parse=parse)

    def _api(self, path: str, what: str, parse: Callable[[Any], Any] = _as_is) -> Any:
        """A document of GOG's dynamic endpoints (``/products/...``); GogSource asks GOG's
        API host with the account's token instead."""
        return self._json(self.base_url + path, what, BOUNDS.listing_bytes, parse)

    def _static(
        self, refused: SlipstreamError, rel: str, what: str, parse: Callable[[Any], Any]
    ) -> Any:
        """The file ``rel`` that answers a dynamic URL the server ``refused``, for a server
        that answers none (a bucket's plain HTTP endpoint, docs/hosting.md). ``None`` when
        the server lacks that too and refused with a 404; its refusal otherwise (a bucket
        answers 403 for a missing key, a 403 is not a 404)."""
        if self.location == self.base_url:  # GOG's own hosts have no such files
            try:
                return self._json(self.url("/" + rel), what, BOUNDS.listing_bytes, parse)
            except (NotFoundError, AccessDeniedError):
                pass
        if isinstance(refused, NotFoundError):
            return None
        raise refused

    # --- builds and manifests ----------------------------------------------------------

    def listing(self, product: str, os_name: str) -> BuildsListing:
        layout.check_id(product, "product id")
        path = f"/products/{product}/os/{os_name}/builds?generation=2"

        def parse(doc: Any) -> BuildsListing:
            return self.parse_listing(doc, f"builds list of product {product}")

        try:
            listing: BuildsListing = self._api(path, f"the builds list of product {product}", parse)
        except (NotFoundError, AccessDeniedError) as exc:
            static: BuildsListing | None = self._static(
                exc, layout.builds_rel(product, os_name), "the builds list", parse
            )
            if static is not None:
                return static
            raise NotFoundError(
                f"{self.base_url} has no builds of product {product} for {os_name}."
            ) from None
        return listing

    def parse_listing(self, doc: Any, where: str) -> BuildsListing:
        """A builds list whose every link was checked; DamagedDocument if one is bad."""
        listing = parse_builds_listing(doc, where)
        kept, damaged, broken = [], [], []
        for item in listing.items:
            try:
                self.meta_links(item)
                kept.append(item)
            except DamagedDocument as exc:  # a garbled or foreign host
                damaged.append(f"Skipped build {item.build_id}: {exc.detail}")
            except FormatError as exc:  # a link that cannot be made at all
                broken.append(f"Skipped build {item.build_id}: {exc.detail}")
        if not damaged and not broken:
            return listing
        # Like a malformed item, an item without a usable link is skipped: the rest of the
        # repository still works. A bad host may be a flipped byte: fetch the list again
        # first, and skip the item only if the server says the same.
        notes = (*listing.skipped, *broken, *damaged)
        without = replace(listing, items=tuple(kept), skipped=notes)
        if damaged:
            raise DamagedDocument(damaged[0], accept=without)
        return without

    def build_manifest(self, item: BuildItem) -> BuildManifest:
        what = f"build manifest {item.build_id}"
        last: Exception | None = None
        for url in self.meta_links(item):
            try:
                manifest = parse_build_manifest(self._json(url, what), what)
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
            doc = self._json(url, "the version graph", BOUNDS.listing_bytes)
        except NotFoundError:
            return None
        return parse_graph(doc, "graph.json")

    # --- patches -----------------------------------------------------------------------

    def patch_index(self, product: str, from_build: str, to_build: str) -> PatchIndex | None:
        query = urlencode({"_version": 4, "from_build_id": from_build, "to_build_id": to_build})
        what = f"patch {from_build}→{to_build}"

        def parse(doc: Any) -> PatchIndex | None:
            index = parse_patch_index(doc, what)
            if index is not None:
                self.url(index.link)  # a garbled link: fetch the index again
            return index

        try:
            found: PatchIndex | None = self._api(
                f"/products/{product}/patches?{query}", what, parse
            )
        except (NotFoundError, AccessDeniedError) as exc:
            rel = layout.patch_pair_rel(product, from_build, to_build)
            static: PatchIndex | None = self._static(exc, rel, what, parse)
            return static
        return found

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

    # --- packs (Slipstream's extension) -------------------------------------------------

    def pack_index(self, product: str, ref: PackRef, from_build: str, to_build: str) -> PackIndex:
        """The pack index a graph edge names, checked against the edge: its zlib bytes must
        have the md5 ``ref.id`` (graph.json, signed in a signed repository, is what vouches
        for it), and it must describe that edge of ``product``.

        Not read through :meth:`_json`: the index is content-addressed, like a chunk, and
        not a signed target. A body with another md5 is fetched once more (a damaged
        transfer), then refused with :class:`HashMismatchError`."""
        what = f"pack index {ref.id}"
        url = self.url(ref.link)
        cap = BOUNDS.document_bytes
        for attempt in range(2):
            data = self.fetcher.get_bytes(url, max_bytes=cap, what=what)
            if hashlib.md5(data).hexdigest() == ref.id:
                break
            if attempt:
                raise HashMismatchError(f"The {what} from {url} does not match its md5.")
        index = parse_pack_index(zjson.loads(data, what, cap), what)
        if (index.product_id, index.from_build_id, index.to_build_id) != (
            product,
            from_build,
            to_build,
        ):
            raise FormatError(
                f"The {what} is for {index.from_build_id}→{index.to_build_id} of product "
                f"{index.product_id}, not {from_build}→{to_build} of {product}."
            )
        return index

    def pack_url(self, link: str) -> str:
        """Where a pack object is: its root-relative link, on the repository's own host."""
        return self.url(link)

    # --- the product documents a library reads -----------------------------------------

    def product_info(self, product: str) -> ProductInfo | None:
        """The product's name, art and launch tasks; ``None`` when the repository
        publishes none (an older publisher, or a plain GOG-format repository)."""
        url = self.url(layout.url_path(product_info_rel(layout.check_id(product, "product id"))))
        what = f"the product document of product {product}"

        def parse(doc: Any) -> ProductInfo:
            info = parse_product_info(doc, what)
            if info.product_id != product:
                raise FormatError(f"The {what} describes product {info.product_id} instead.")
            return info

        try:
            found: ProductInfo = self._json(url, what, BOUNDS.listing_bytes, parse)
        except NotFoundError:
            return None
        return found

    def products(self) -> ProductsIndex | None:
        """Every product the repository lists, with its name; ``None`` without an index."""
        url = self.url(layout.url_path(products_index_rel()))
        try:
            index: ProductsIndex = self._json(
                url, "the products index", BOUNDS.listing_bytes, parse_products_index
            )
        except NotFoundError:
            return None
        return index

    def art(self, ref: ArtRef) -> bytes:
        """An image a product document names, checked against its size and sha256."""
        what = f"art {ref.sha256[:12]}"
        data = self.fetcher.get_bytes(self.url(ref.link), max_bytes=ref.size, what=what)
        if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
            raise HashMismatchError(f"The {what} from {self.base_url} does not match its sha256.")
        return data

    # --- objects -----------------------------------------------------------------------

    def endpoints(self, product: str, patches: bool = False) -> list[Endpoint]:
        """Where ``product``'s chunks (or patch chunks) are, preferred first (cached)."""
        key = (product, patches)
        # One thread asks for the link while the other download threads wait for its
        # answer, instead of each of them asking the server for the same document.
        with self._link_fetch:
            with self._lock:
                if key in self._links:
                    return self._links[key]
            try:
                ordered: list[Endpoint] = self._api(
                    secure_link_path(product, patches), "the secure link", self.checked_endpoints
                )
            except (NotFoundError, AccessDeniedError) as exc:
                rel = layout.secure_link_rel(product, patches)
                ordered = self._static(exc, rel, "the secure link", self.checked_endpoints)
                if ordered is None:
                    raise exc from None
            with self._lock:
                self._links[key] = ordered
        return ordered

    def checked_endpoints(self, doc: Any) -> list[Endpoint]:
        """A secure link's endpoints, preferred first; DamagedDocument for a garbled host."""
        ordered = parse_secure_link(doc, "secure_link").ordered()
        for endpoint in ordered:
            self.endpoint_url(endpoint.assemble("/"))  # a garbled host: fetch it again
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
            if cached is not None and [
                self.endpoint_url(e.assemble(suffix)) for e in cached
            ] == list(refused):
                del self._links[key]

    def chunk_urls(self, product: str, compressed_md5: str, patches: bool = False) -> list[str]:
        suffix = "/" + layout.galaxy_path(compressed_md5)
        return [self.endpoint_url(e.assemble(suffix)) for e in self.endpoints(product, patches)]


def secure_link_path(product: str, patches: bool) -> str:
    """The ``secure_link`` request for ``product``'s chunk store (or its patch store)."""
    params = {"_version": "2", "generation": "2", "path": "/"}
    if patches:
        params["root"] = "/patches/store"
    return f"/products/{product}/secure_link?{urlencode(params)}"
