"""A repository read through its signed metadata, and the choice between signed and not.

:func:`open_repository` decides: an install that pinned a root (``pins`` holds it) is
always read through :class:`SignedRepoSource`, and refused if the repository stopped
signing; a repository seen for the first time that publishes ``metadata/root.json`` is
trusted on first use (pinned into ``pins`` once its metadata checks out); any other is an
unsigned :class:`~core.net.source.RepoSource`, as before.

:class:`SignedRepoSource` answers the same calls as RepoSource, from the static documents
(``builds.json``, ``patches/A/B.json``, ``secure_link.json``) instead of GOG's dynamic
endpoints, because only the static files are signed: each is fetched capped at its signed
length and refused unless its sha256 matches, before it is parsed.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import (
    AccessDeniedError,
    FormatError,
    LimitExceededError,
    LocalIOError,
    NotFoundError,
    TamperedError,
)
from core.format import layout, zjson
from core.format.bounds import BOUNDS
from core.format.builds import BuildsListing, Endpoint, parse_builds_listing
from core.format.graph import PatchGraph, parse_graph
from core.format.patch import PatchIndex, parse_patch_index
from core.net.source import RepoSource
from core.net.transport import Transport
from core.trust.client import SignedRepository, check_target
from core.trust.names import DOCUMENT_ROOT, ROOT_FILE, SIGNED, UNSIGNED, Signing
from core.trust.pins import is_pinned
from core.trust.tuflib import TargetFile


def signing_of(source: RepoSource) -> Signing:
    """Whether ``source`` is read through signed metadata."""
    if isinstance(source, SignedRepoSource):
        return Signing(SIGNED, tuple(source.signed.root_key_ids))
    return Signing(UNSIGNED)


class SignedRepoSource(RepoSource):
    """A repository whose every document is checked against ``signed`` before use."""

    def __init__(self, base_url: str, fetcher: Transport, signed: SignedRepository) -> None:
        super().__init__(base_url, fetcher)
        self.signed = signed
        self._renewed = False
        # Download threads ask for documents (secure links) at once; ngclient is not
        # thread-safe, and a renewal replaces ``signed``.
        self._trust_lock = threading.RLock()

    def rel_of(self, url: str) -> str:
        """The repository path of a document URL (root-relative, or absolute under the
        repository or a CDN that mirrors its layout)."""
        path = urlsplit(url).path
        base = urlsplit(self.base_url).path.rstrip("/")
        if url.startswith(self.base_url + "/"):
            return path[len(base) + 1 :]
        marker = f"/{layout.CONTENT_ROOT}/"
        if marker in path:
            return path[path.index(marker) + 1 :]
        raise TamperedError(f"(the link {url} points outside the signed repository).")

    def signed_document(self, rel: str, what: str, cap: int, url: str | None = None) -> Any:
        """The JSON document ``rel``, checked against its signed hashes; ``None`` when the
        signed metadata does not list it (so the repository does not publish it).

        A document that does not match is looked up once more in freshly loaded metadata:
        a publisher writes documents first and signs them moments later, and a player who
        read the metadata before that must not be told of an attack."""
        url = url or f"{self.base_url}/{rel}"
        with self._trust_lock:
            return self._signed_document(rel, what, cap, url)

    def _signed_document(self, rel: str, what: str, cap: int, url: str) -> Any:
        info = self.signed.target(rel)
        while True:
            if info is None:
                return None
            if info.length > cap:
                raise FormatError(f"The {what} is over {cap} bytes.")
            try:
                data = self._checked_bytes(info, url, what)
            except TamperedError:
                if self._renewed:
                    raise
                self._renewed = True
                self.signed = self.signed.renewed()
                fresh = self.signed.target(rel)
                if fresh == info:
                    raise
                info = fresh
                continue
            return zjson.loads(data, what, cap)

    def _checked_bytes(self, info: TargetFile, url: str, what: str) -> bytes:
        try:
            data = self.fetcher.get_bytes(url, max_bytes=info.length, what=what)
        except LimitExceededError:
            raise TamperedError(f"({what}, {info.path}, is longer than signed).") from None
        check_target(info, data, what)
        return data

    def _json(
        self,
        url: str,
        what: str,
        cap: int = BOUNDS.document_bytes,
        parse: Callable[[Any], Any] = lambda doc: doc,
    ) -> Any:
        rel = self.rel_of(url)
        doc = self.signed_document(rel, what, cap, url)
        if doc is None and rel.startswith(DOCUMENT_ROOT):
            # The signed metadata is the repository's own word that it publishes no such
            # document (a product without product.json): the same as a 404.
            raise NotFoundError(f"{what} is not in the repository's signed metadata.")
        if doc is None:
            raise TamperedError(f"(the {what}, {rel}, is not in the signed metadata).")
        return parse(doc)

    def listing(self, product: str, os_name: str) -> BuildsListing:
        what = f"the builds list of product {product}"
        doc = self.signed_document(layout.builds_rel(product, os_name), what, BOUNDS.listing_bytes)
        if doc is None:
            raise NotFoundError(
                f"{self.base_url} has no builds of product {product} for {os_name}."
            )
        listing = parse_builds_listing(doc, f"builds list of product {product}")
        for item in listing.items:
            self.meta_links(item)  # links stay on hosts the source names
        return listing

    def graph(self, product: str, os_name: str) -> PatchGraph | None:
        doc = self.signed_document(
            layout.graph_rel(product, os_name), "the version graph", BOUNDS.listing_bytes
        )
        return None if doc is None else parse_graph(doc, "graph.json")

    def patch_index(self, product: str, from_build: str, to_build: str) -> PatchIndex | None:
        what = f"patch {from_build}→{to_build}"
        rel = layout.patch_pair_rel(product, from_build, to_build)
        doc = self.signed_document(rel, what, BOUNDS.listing_bytes)
        index = None if doc is None else parse_patch_index(doc, what)
        if index is not None:
            self.url(index.link)  # links stay on hosts the source names
        return index

    def endpoints(self, product: str, patches: bool = False) -> list[Endpoint]:
        key = (product, patches)
        with self._lock:
            if key in self._links:
                return self._links[key]
        rel = layout.secure_link_rel(product, patches)
        doc = self.signed_document(rel, "the secure link", BOUNDS.listing_bytes)
        if doc is None:
            raise TamperedError(f"(the secure link, {rel}, is not in the signed metadata).")
        ordered = self.checked_endpoints(doc)
        with self._lock:
            self._links[key] = ordered
        return ordered


def published_root(base_url: str, fetcher: Transport) -> bytes | None:
    """The repository's current root metadata, or ``None`` if it publishes none."""
    url = f"{base_url.rstrip('/')}/{layout.METADATA_ROOT}/{ROOT_FILE}"
    try:
        return fetcher.get_bytes(url, max_bytes=2**20, what="the repository's root metadata")
    except (NotFoundError, AccessDeniedError):
        # A bucket anyone may read but not list answers 403 for a key it lacks.
        return None


def open_repository(location: str, fetcher: Transport, pins: Path | None = None) -> RepoSource:
    """The source for the repository at ``location``; see the module doc. ``pins`` is the
    folder of an install's trusted metadata (``None``: browse, trusting nothing lasting)."""
    base = location.rstrip("/")
    if pins is not None and is_pinned(pins):
        signed = SignedRepository(base, fetcher, pins, bootstrap=None)
        signed.refresh()
        return SignedRepoSource(base, fetcher, signed)
    root = published_root(base, fetcher)
    if root is None:
        return RepoSource(base, fetcher)
    folder = pins if pins is not None else Path(tempfile.mkdtemp(prefix="slipstream-trust-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        signed = SignedRepository(base, fetcher, folder, bootstrap=root)
        signed.refresh()
    except OSError as exc:
        raise LocalIOError.wrap(exc, "store signed metadata") from None
    except BaseException:
        # Nothing is trusted from a refused first contact: no half pin stays behind.
        shutil.rmtree(folder, ignore_errors=True)
        raise
    source = SignedRepoSource(base, fetcher, signed)
    if pins is None:
        weakref.finalize(source, shutil.rmtree, folder, True)
    return source
