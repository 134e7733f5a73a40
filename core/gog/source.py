"""GOG's own content system as a source for the engine.

:class:`GogSource` answers the same calls as :class:`~core.net.source.RepoSource`, from GOG's
hosts: builds (``_version=2``, with a branch password when one is given), build and
depot manifests from the CDN, patches through ``/patches?_version=4``, and chunks through
each product's secure link (signed ``url_format`` + ``parameters``, endpoints by
priority, ``fallback_only`` last; a new link once it expires or the CDN answers 401/403).
API calls carry the account's Bearer token when the player is logged in.

Chunks live in the store of the product whose depot lists them (base game or DLC), so
the source remembers, for each depot and chunk it has read, which product it belongs to.
Files flagged ``support`` go to ``gog-support/<product>/`` as GOG's clients put them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import keyring

from core.errors import (
    AccessDeniedError,
    KeyringError,
    NotFoundError,
    NotLoggedInError,
    SlipstreamError,
)
from core.format import layout
from core.format.bounds import BOUNDS
from core.format.build import BuildManifest
from core.format.builds import (
    BuildItem,
    BuildsListing,
    Endpoint,
)
from core.format.depot import DepotFile, DepotManifest
from core.format.fields import Fields
from core.format.graph import PatchGraph
from core.format.patch import PatchDepotManifest, PatchIndex, PatchRootManifest
from core.format.product_info import ProductInfo, ProductsIndex
from core.gog.auth import SERVICE, Account, keyring_call, scrub
from core.gog.hosts import API_URL, GogHosts
from core.net.http import RefusedAddress, check_host
from core.net.source import RepoSource, secure_link_path
from core.net.transport import Transport, get_document
from core.trust.source import open_repository

GOG = "gog"
"""What ``--source`` and an install's state call GOG's own hosts."""
SUPPORT_DIR = "gog-support"
STORE_API_URL = "https://api.gog.com"
MAX_OWNED = 100_000
NAMES_PER_REQUEST = 50
"""GOG's public product API (names and images); not the content system."""
LINK_MARGIN = 300.0
"""Seconds before a secure link's ``expires_at`` that a new one is fetched."""


def open_source(
    location: str, fetcher: Transport, password: str | None = None, pins: Path | None = None
) -> RepoSource:
    """The source an install names: GOG itself for ``"gog"``, else a repository URL, read
    through its signed metadata when it has any (``pins``: the install's trusted root,
    see core/trust/source.py)."""
    if location == GOG:
        return GogSource(fetcher, password=password)
    return open_repository(location, fetcher, pins)


def _password_key(product: str) -> str:
    return f"branch-password/{product}"


class GogSource(RepoSource):
    """GOG's content system, read with ``fetcher`` (and the stored login, if any)."""

    def __init__(
        self,
        fetcher: Transport,
        hosts: GogHosts | None = None,
        account: Account | None = None,
        password: str | None = None,
    ) -> None:
        self.hosts = hosts or GogHosts.from_env()
        super().__init__(self.hosts.cdn, fetcher)
        self.account = account or Account(fetcher, self.hosts)
        self.password = password
        self._owner: dict[tuple[str, bool], str] = {}
        """(manifest id or compressed md5, is a patch object) → product id."""
        self._expiry: dict[tuple[str, bool], float] = {}
        self._owner_lock = threading.Lock()
        self._fetching = threading.Lock()

    @property
    def location(self) -> str:
        return GOG

    # --- the API -----------------------------------------------------------------------

    def _api(
        self,
        path: str,
        what: str,
        parse: Callable[[Any], Any] = lambda doc: doc,
        extra_secrets: tuple[str, ...] = (),
    ) -> Any:
        url = self.hosts.api + path
        headers = self.account.headers()
        try:
            try:
                return get_document(
                    self.fetcher,
                    url,
                    max_bytes=BOUNDS.listing_bytes,
                    what=what,
                    parse=parse,
                    headers=headers,
                )
            except AccessDeniedError:
                if not headers or not self.account.renew(headers):
                    raise
                return get_document(
                    self.fetcher,
                    url,
                    max_bytes=BOUNDS.listing_bytes,
                    what=what,
                    parse=parse,
                    headers=self.account.headers(),
                )
        except SlipstreamError as exc:
            secrets = [*self.account.secrets(), *extra_secrets]
            if any(s and s in exc.detail for s in secrets):
                raise type(exc)(scrub(exc.detail, secrets)) from None
            raise

    def listing(self, product: str, os_name: str) -> BuildsListing:
        layout.check_id(product, "product id")
        params = {"generation": "2", "_version": "2"}
        password = self.password or self._stored_password(product)
        if password:
            params["password"] = password
        path = f"/products/{product}/os/{os_name}/builds?{urlencode(params)}"
        what = f"GOG's builds list of product {product}"
        try:
            listing: BuildsListing = self._api(
                path,
                what,
                parse=lambda doc: self.parse_listing(doc, what),
                extra_secrets=(password or "",),
            )
        except NotFoundError:
            raise NotFoundError(f"GOG has no {os_name} builds of product {product}.") from None
        if not listing.items:
            raise NotFoundError(
                f"GOG has no content-system builds of product {product} for {os_name} "
                "(it may only have offline installers)."
            )
        # Kept only once it opened a branch: a mistyped password must not replace the
        # one a branch install's later updates need.
        if self.password and any(item.branch is not None for item in listing.items):
            keyring_call(
                "store the branch password",
                keyring.set_password,
                SERVICE,
                _password_key(product),
                self.password,
            )
        return listing

    @staticmethod
    def _stored_password(product: str) -> str | None:
        try:
            value = keyring_call(
                "read the branch password", keyring.get_password, SERVICE, _password_key(product)
            )
        except KeyringError:
            return None
        return value if isinstance(value, str) and value else None

    def graph(self, product: str, os_name: str) -> PatchGraph | None:
        return None  # GOG publishes no version graph: patches are asked for pair by pair

    def product_info(self, product: str) -> ProductInfo | None:
        return None  # GOG's CDN has no product.json; its art comes from the product API

    def product_images(self, product: str) -> tuple[str, dict[str, str]]:
        """The product's title and the URLs of its ``icon`` and ``cover`` from GOG's
        public product API (``images``: ``sidebarIcon2x`` or ``icon``, ``logo2x`` or
        ``logo``); the API's stand-in is ``SLIPSTREAM_GOG_API_URL`` when that is set."""
        layout.check_id(product, "product id")
        base = STORE_API_URL if self.hosts.api == API_URL else self.hosts.api
        what = f"GOG's product page data of product {product}"
        doc = get_document(
            self.fetcher,
            f"{base}/products/{product}",
            max_bytes=BOUNDS.listing_bytes,
            what=what,
            parse=lambda d: d,
        )
        f = Fields(doc, what)
        title = f.text("title", default="")
        images = f.obj("images") if f.has("images") else None
        found: dict[str, str] = {}
        for kind, keys in (("icon", ("sidebarIcon2x", "icon")), ("cover", ("logo2x", "logo"))):
            for key in keys:
                if images is None or not images.has(key):
                    continue
                url = images.text(key)
                url = "https:" + url if url.startswith("//") else url
                try:
                    check_host(url)
                except RefusedAddress:
                    continue  # a garbled address is no image
                if url.startswith(("http://", "https://")):
                    found[kind] = url
                    break
        return title, found

    def products(self) -> ProductsIndex | None:
        """The games the logged-in account owns (``embed``'s ``/user/data/games``), named
        by GOG's product API; DLCs and packs are left out (they install with a game)."""
        headers = self.account.headers()
        if not headers:
            raise NotLoggedInError("GOG lists the games an account owns only once logged in.")
        doc = get_document(
            self.fetcher,
            f"{self.hosts.embed}/user/data/games",
            max_bytes=BOUNDS.listing_bytes,
            what="the games the GOG account owns",
            parse=lambda d: d,
            headers=headers,
        )
        owned = Fields(doc, "GOG's owned games").array("owned", MAX_OWNED)
        ids = sorted({str(i) for i in owned if isinstance(i, int) and not isinstance(i, bool)})
        named: list[tuple[str, str]] = []
        base = STORE_API_URL if self.hosts.api == API_URL else self.hosts.api
        for start in range(0, len(ids), NAMES_PER_REQUEST):
            batch = ids[start : start + NAMES_PER_REQUEST]
            found = get_document(
                self.fetcher,
                f"{base}/products?{urlencode({'ids': ','.join(batch)})}",
                max_bytes=BOUNDS.listing_bytes,
                what="GOG's names of the owned games",
                parse=lambda d: d,
            )
            for item in found if isinstance(found, list) else []:
                f = Fields(item, "GOG's product")
                if f.has("game_type") and f.text("game_type") != "game":
                    continue
                pid = f.raw("id")
                if isinstance(pid, int) and not isinstance(pid, bool) and str(pid) in batch:
                    named.append((str(pid), f.text("title", default=str(pid))))
        return ProductsIndex(tuple(sorted(named, key=lambda e: (e[1].lower(), e[0]))))

    # --- manifests: remember who owns what ---------------------------------------------

    def _own(self, key: str, patches: bool, product: str) -> None:
        with self._owner_lock:
            self._owner[(key, patches)] = product

    def owner(self, key: str, patches: bool, default: str) -> str:
        with self._owner_lock:
            return self._owner.get((key, patches), default)

    def build_manifest(self, item: BuildItem) -> BuildManifest:
        manifest = super().build_manifest(item)
        for depot in manifest.depots:
            self._own(depot.manifest, False, depot.product_id)
        return manifest

    def depot_manifest(self, manifest_id: str) -> DepotManifest:
        depot = super().depot_manifest(manifest_id)
        product = self.owner(manifest_id, False, "")
        if not product:
            return depot
        for item in depot.files:
            for chunk in item.chunks:
                self._own(chunk.compressed_md5, False, product)
        for chunk in depot.small_files.chunks if depot.small_files else ():
            self._own(chunk.compressed_md5, False, product)
        items = tuple(
            _to_support(i, product) if isinstance(i, DepotFile) and i.support else i
            for i in depot.items
        )
        return replace(depot, items=items)

    def patch_root(self, index: PatchIndex) -> PatchRootManifest:
        root = super().patch_root(index)
        for depot in root.depots:
            self._own(depot.manifest, True, depot.product_id)
        return root

    def patch_depot(self, manifest_id: str) -> PatchDepotManifest:
        depot = super().patch_depot(manifest_id)
        product = self.owner(manifest_id, True, "")
        if product:
            for diff in depot.items:
                for chunk in diff.chunks:
                    self._own(chunk.compressed_md5, True, product)
        return depot

    # --- secure links ------------------------------------------------------------------

    def endpoints(self, product: str, patches: bool = False) -> list[Endpoint]:
        key = (product, patches)
        cached = self._cached_link(key)
        if cached is not None:
            return cached
        with self._fetching:  # one request for all the download threads that need it
            return self._cached_link(key) or self._fetch_link(product, patches)

    def _cached_link(self, key: tuple[str, bool]) -> list[Endpoint] | None:
        with self._lock:
            cached = self._links.get(key)
            if cached is not None and time.time() < self._expiry.get(key, float("inf")):
                return cached
        return None

    def _fetch_link(self, product: str, patches: bool) -> list[Endpoint]:
        key = (product, patches)
        what = f"the secure link of product {product}"
        try:
            ordered: list[Endpoint] = self._api(
                secure_link_path(product, patches), what, parse=self.checked_endpoints
            )
        except NotLoggedInError:
            raise
        except AccessDeniedError as exc:
            if not self.account.logged_in:
                raise NotLoggedInError(
                    f"GOG gives download links only to a logged-in owner ({exc.detail})"
                ) from None
            raise AccessDeniedError(
                f"GOG refused the download link of product {product}: does this account "
                f"own it? ({exc.detail})"
            ) from None
        with self._lock:
            self._links[key] = ordered
            self._expiry[key] = _expiry_of(ordered) - LINK_MARGIN
        return ordered

    def chunk_urls(self, product: str, compressed_md5: str, patches: bool = False) -> list[str]:
        owner = self.owner(compressed_md5, patches, product)
        return super().chunk_urls(owner, compressed_md5, patches)

    def renew_links(
        self, product: str, compressed_md5: str, patches: bool, refused: Sequence[str]
    ) -> None:
        owner = self.owner(compressed_md5, patches, product)
        super().renew_links(owner, compressed_md5, patches, refused)


def _to_support(item: DepotFile, product: str) -> DepotFile:
    return replace(item, path=f"{SUPPORT_DIR}/{product}/{item.path}")


def _expiry_of(endpoints: list[Endpoint]) -> float:
    """When the first of the endpoints' signatures runs out (``inf`` when unsigned)."""
    found = [
        float(value)
        for e in endpoints
        for name, value in e.parameters
        if name == "expires_at" and value.isdigit()
    ]
    return min(found, default=float("inf"))
