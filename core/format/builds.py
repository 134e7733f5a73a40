"""Build listings (``builds?generation=2``), CDN endpoint objects and secure links.

Reference §2 and §4.5. A listing item points at its build manifest either with ``link``
(plain) or with ``urls[]`` endpoint objects (``_version=2``); both are read, and both are
written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from core.errors import FormatError
from core.format.fields import LIMITS, Fields, Limits

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S+0000"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class Endpoint:
    """One CDN endpoint: ``url_format`` with ``{name}`` placeholders filled from ``parameters``."""

    endpoint_name: str
    url_format: str
    parameters: tuple[tuple[str, str], ...] = ()
    url: str = ""
    priority: int = 0
    max_fails: int = 100
    supports_generation: tuple[int, ...] = (2,)
    fallback_only: bool = False

    def assemble(self, suffix: str = "") -> str:
        """The URL of ``suffix`` (``/ab/cd/<md5>``) under this endpoint (reference §4.4):
        the suffix is appended to ``parameters.path``, then every placeholder is filled."""
        params = dict(self.parameters)
        if not params:
            return (self.url_format or self.url) + suffix
        params["path"] = params.get("path", "") + suffix

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in params:
                raise FormatError(f"Endpoint {self.endpoint_name!r} has no parameter {name!r}.")
            return params[name]

        return _PLACEHOLDER.sub(fill, self.url_format)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_name": self.endpoint_name,
            "url": self.url,
            "url_format": self.url_format,
            "parameters": dict(self.parameters),
            "priority": self.priority,
            "max_fails": self.max_fails,
            "supports_generation": list(self.supports_generation),
            "fallback_only": self.fallback_only,
        }


def parse_endpoint(f: Fields) -> Endpoint:
    params = f.obj("parameters") if f.has("parameters") else None
    pairs: list[tuple[str, str]] = []
    if params is not None:
        for key, value in params.data.items():
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise FormatError(f"{params.where}.{key} should be a string or a number.")
            pairs.append((key, str(value)))
    generations = f.array("supports_generation", 8, default=True)
    if not all(isinstance(g, int) and not isinstance(g, bool) for g in generations):
        raise FormatError(f"{f.where}.supports_generation should list numbers.")
    return Endpoint(
        endpoint_name=f.text("endpoint_name", default=""),
        url_format=f.text("url_format", default=""),
        parameters=tuple(pairs),
        url=f.text("url", default=""),
        priority=f.integer("priority", -(1 << 31), 1 << 31, default=0),
        max_fails=f.integer("max_fails", 0, 1 << 31, default=100),
        supports_generation=tuple(generations) or (2,),
        fallback_only=f.flag("fallback_only", default=False),
    )


def order_endpoints(endpoints: tuple[Endpoint, ...], generation: int = 2) -> list[Endpoint]:
    """Usable endpoints, preferred first: higher priority first, fallback-only ones last."""
    usable = [e for e in endpoints if generation in e.supports_generation] or list(endpoints)
    return sorted(usable, key=lambda e: (e.fallback_only, -e.priority))


@dataclass(frozen=True)
class BuildItem:
    build_id: str
    product_id: str
    os: str
    branch: str | None
    version_name: str
    date_published: str
    generation: int = 2
    public: bool = True
    tags: tuple[str, ...] = ()
    link: str | None = None
    urls: tuple[Endpoint, ...] = ()
    legacy_build_id: int | None = None

    @property
    def meta_urls(self) -> list[str]:
        """Where the build manifest is, preferred first."""
        found = [e.assemble() for e in order_endpoints(self.urls, self.generation)]
        return found or ([self.link] if self.link else [])

    def to_json(self, version: int = 1) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "build_id": self.build_id,
            "product_id": self.product_id,
            "os": self.os,
            "branch": self.branch,
            "version_name": self.version_name,
            "tags": list(self.tags),
            "public": self.public,
            "date_published": self.date_published,
            "generation": self.generation,
        }
        if version == 2:
            doc["urls"] = [e.to_json() for e in (self.urls or _single_endpoint(self.link))]
        else:
            doc["link"] = self.link if self.link else self.meta_urls[0]
        if self.legacy_build_id is not None:
            doc["legacy_build_id"] = self.legacy_build_id
        return doc


def _single_endpoint(link: str | None) -> tuple[Endpoint, ...]:
    return (direct_endpoint(link),) if link else ()


def direct_endpoint(url: str) -> Endpoint:
    """The ``urls[]`` entry of a build manifest that sits at ``url`` (nothing to fill in)."""
    return Endpoint("slipstream", url_format=url, url=url, priority=10)


def parse_build_item(f: Fields) -> BuildItem:
    urls = tuple(parse_endpoint(e) for e in f.objects("urls", 64, default=True))
    link = f.opt_text("link")
    if link is None and not urls:
        raise FormatError(f"{f.where} has neither a link nor urls.")
    return BuildItem(
        build_id=f.id("build_id"),
        product_id=f.id("product_id"),
        os=f.text("os"),
        branch=f.opt_text("branch"),
        version_name=f.text("version_name", default=""),
        date_published=f.text("date_published", default=""),
        generation=f.integer("generation", 1, 2),
        public=f.flag("public", default=True),
        tags=f.texts("tags", 1000, default=True),
        link=link,
        urls=urls,
        legacy_build_id=f.integer("legacy_build_id") if f.has("legacy_build_id") else None,
    )


@dataclass(frozen=True)
class BuildsListing:
    items: tuple[BuildItem, ...]
    total_count: int
    has_private_branches: bool = False
    skipped: tuple[str, ...] = ()
    """Why each malformed item was left out, one sentence each: one bad entry must not
    make every other build of the repository unusable."""

    def installable(self) -> tuple[BuildItem, ...]:
        """Generation-2 items: the only ones this client can install."""
        return tuple(i for i in self.items if i.generation == 2)

    def find(self, build_id: str) -> BuildItem | None:
        return next((i for i in self.items if i.build_id == build_id), None)

    def with_items(self, items: tuple[BuildItem, ...]) -> BuildsListing:
        return replace(self, items=items, total_count=len(items))

    def to_json(self, version: int = 1) -> dict[str, Any]:
        return {
            "total_count": self.total_count,
            "count": len(self.items),
            "items": [i.to_json(version) for i in self.items],
            "has_private_branches": self.has_private_branches,
        }


def parse_builds_listing(doc: object, where: str, limits: Limits = LIMITS) -> BuildsListing:
    """A builds list; a malformed item is skipped (named in ``skipped``), never fatal."""
    f = Fields(doc, where, limits)
    items: list[BuildItem] = []
    skipped: list[str] = []
    for n, value in enumerate(f.array("items", limits.builds_per_listing)):
        try:
            items.append(parse_build_item(Fields(value, f"{where}.items[{n}]", limits)))
        except FormatError as exc:
            skipped.append(f"Skipped a malformed build in the list: {exc.detail}")
    return BuildsListing(
        items=tuple(items),
        total_count=f.integer("total_count", default=len(items)),
        has_private_branches=f.flag("has_private_branches", default=False),
        skipped=tuple(skipped),
    )


@dataclass(frozen=True)
class SecureLink:
    """A ``secure_link`` answer: where the chunks of one product (or its patches) are."""

    urls: tuple[Endpoint, ...]
    product_id: str | None = None

    def ordered(self) -> list[Endpoint]:
        return order_endpoints(self.urls)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"urls": [e.to_json() for e in self.urls]}
        if self.product_id is not None:
            doc["product_id"] = self.product_id
        return doc


def parse_secure_link(doc: object, where: str, limits: Limits = LIMITS) -> SecureLink:
    f = Fields(doc, where, limits)
    urls = tuple(parse_endpoint(e) for e in f.objects("urls", 64))
    if not urls:
        raise FormatError(f"{where} lists no endpoints.")
    product = f.raw("product_id") if f.has("product_id") else None
    return SecureLink(urls, None if product is None else str(product))


def unsigned_link(base_url: str, path: str) -> SecureLink:
    """The secure link of an unsigned server: ``{base_url}{path}`` (reference §9)."""
    endpoint = Endpoint(
        "slipstream",
        url_format="{base_url}{path}",
        parameters=(("base_url", base_url), ("path", path)),
        url=base_url + path,
        priority=10,
    )
    return SecureLink((endpoint,))
