"""GOG's dynamic content-system endpoints, answered from the publisher's static documents.

``slipstream serve`` answers the three calls a GOG client makes before it fetches
objects (DESIGN.md, "Server endpoints"; reference §2, §4.5, §5.1). Everything here is a
function of the repository folder, the request path and query, and the base URL the
client reached us at: no sockets, so the handler in :mod:`core.serve.server` stays thin.

Query rules, shared with the nginx example: a blank value counts as absent; a repeated
key, a value we do not understand or a missing required key is a 400; keys we do not know
(``password``, cache busters) are ignored. ``secure_link`` accepts only ``path=/``: the
store prefix is the whole answer, and nginx could not append a sub-path to a static file.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from core.errors import FormatError
from core.format import layout
from core.format.bounds import BOUNDS
from core.format.builds import direct_endpoint, unsigned_link
from core.serve.static import lstat_chain, read_document

MAX_DOCUMENT_BYTES = BOUNDS.listing_bytes
"""Largest ``products/`` document the server will parse."""

PATCH_STORE_ROOT = "/patches/store"
"""The ``root`` argument of ``secure_link`` that selects the patch store (reference §5.4)."""


@dataclass(frozen=True)
class Answer:
    """A JSON response: HTTP status and the document to send."""

    status: int
    body: Mapping[str, Any]


class _BadQuery(Exception):
    """The query string does not fit the endpoint (a 400)."""


def not_found(description: str = "") -> Answer:
    """GOG's ``404 {"error":"not_found"}``."""
    return Answer(404, {"error": "not_found", "error_description": description})


def bad_request(description: str) -> Answer:
    """A 400 with an OAuth-style error document, the shape GOG's API uses for errors."""
    return Answer(400, {"error": "invalid_request", "error_description": description})


def absolute(link: str, base_url: str) -> str:
    """``/content-system/…`` → ``BASE/content-system/…``; absolute links stay as they are."""
    if link.startswith("/") and not link.startswith("//"):
        return base_url + link
    return link


def answer(root: Path, segments: Sequence[str], query: str, base_url: str) -> Answer | None:
    """The answer to a dynamic endpoint, or ``None`` if the path is not one (a static file).

    ``root`` is the repository's real path, ``segments`` the decoded, already validated
    path, ``query`` the raw query string and ``base_url`` ``http://host[:port]``.
    """
    route = _route(segments)
    if route is None:
        return None
    handler, ids = route
    if not _is_id(ids[0]) or not all(os_name in layout.OS_NAMES for os_name in ids[1:]):
        return not_found(f"No product or os named {'/'.join(ids)!r} here.")
    try:
        params = _params(query)
        return handler(root, ids, params, base_url)
    except _BadQuery as exc:
        return bad_request(str(exc))


_Handler = Callable[[Path, Sequence[str], Mapping[str, str], str], Answer]


def _route(segments: Sequence[str]) -> tuple[_Handler, Sequence[str]] | None:
    if len(segments) == 5 and (segments[0], segments[2], segments[4]) == (
        "products",
        "os",
        "builds",
    ):
        return _builds, (segments[1], segments[3])
    if len(segments) == 3 and segments[0] == "products":
        handler = {"patches": _patches, "secure_link": _secure_link}.get(segments[2])
        if handler is not None:
            return handler, (segments[1],)
    return None


def _is_id(value: str) -> bool:
    try:
        layout.check_id(value)
    except FormatError:
        return False
    return True


def _params(query: str) -> dict[str, str]:
    """Decode the query; repeated keys are refused and blank values dropped."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=32)
    except ValueError as exc:
        raise _BadQuery("The query string cannot be decoded.") from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise _BadQuery(f"The query repeats {key!r}.")
        params[key] = value
    return {key: value for key, value in params.items() if value}


def _choice(params: Mapping[str, str], key: str, allowed: Sequence[str], default: str) -> str:
    value = params.get(key, default)
    if value not in allowed:
        raise _BadQuery(f"{key}={value!r} is not supported; use one of {', '.join(allowed)}.")
    return value


def _load_json(root: Path, rel: str) -> Any:
    data = read_document(root, rel, MAX_DOCUMENT_BYTES)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise FormatError(f"{rel} is not valid JSON: {exc}.") from exc


def _builds(root: Path, ids: Sequence[str], params: Mapping[str, str], base: str) -> Answer:
    """``/products/{p}/os/{os}/builds?generation=2[&_version=2]`` (reference §2)."""
    product, os_name = ids
    generation = _choice(params, "generation", ("1", "2"), "2")
    urls_form = _choice(params, "_version", ("1", "2"), "1") == "2"
    doc = _load_json(root, layout.builds_rel(product, os_name))
    if doc is None:
        return not_found(f"No builds of product {product} for {os_name}.")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FormatError(f"{layout.builds_rel(product, os_name)} is not a builds response.")
    items = [item for item in doc["items"] if isinstance(item, dict)]
    if generation == "1":  # generation=2 lists every generation; 1 lists only gen-1 builds
        items = [item for item in items if item.get("generation") == 1]
        doc = {**doc, "total_count": len(items), "count": len(items)}
    return Answer(200, {**doc, "items": [_build_item(item, base, urls_form) for item in items]})


def _build_item(item: dict[str, Any], base: str, urls_form: bool) -> dict[str, Any]:
    link = item.get("link")
    if not isinstance(link, str):
        return item
    url = absolute(link, base)
    if not urls_form:
        return {**item, "link": url}
    rest = {key: value for key, value in item.items() if key != "link"}
    return {**rest, "urls": [direct_endpoint(url).to_json()]}


def _patches(root: Path, ids: Sequence[str], params: Mapping[str, str], base: str) -> Answer:
    """``/products/{p}/patches?_version=4&from_build_id=A&to_build_id=B`` (reference §5.1)."""
    _choice(params, "_version", ("4",), "4")
    pair = [params.get("from_build_id"), params.get("to_build_id")]
    if pair[0] is None or pair[1] is None:
        raise _BadQuery("from_build_id and to_build_id are both required.")
    if not (_is_id(pair[0]) and _is_id(pair[1])):
        return not_found()
    rel = layout.patch_pair_rel(ids[0], pair[0], pair[1])
    doc = _load_json(root, rel)
    if doc is None:
        return not_found()
    if not isinstance(doc, dict) or not isinstance(doc.get("link"), str):
        raise FormatError(f"{rel} is not a patch-index response.")
    return Answer(200, {**doc, "link": absolute(doc["link"], base)})


def _secure_link(root: Path, ids: Sequence[str], params: Mapping[str, str], base: str) -> Answer:
    """``/products/{p}/secure_link?_version=2&generation=2&path=/[&root=…]`` (reference §4.5)."""
    product = ids[0]
    _choice(params, "_version", ("2",), "2")
    _choice(params, "generation", ("2",), "2")
    _choice(params, "path", ("/",), "/")
    store_root = params.get("root")
    if store_root not in (None, PATCH_STORE_ROOT):
        raise _BadQuery(f"root={store_root!r} is not supported; omit it or use {PATCH_STORE_ROOT}.")
    folder = lstat_chain(root, layout.product_rel(product).split("/"))
    if folder is None or not stat.S_ISDIR(folder.st_mode):
        return not_found(f"No product {product} in this repository.")
    prefix_rel = layout.patch_store_prefix_rel if store_root else layout.store_prefix_rel
    link = unsigned_link(base, layout.url_path(prefix_rel(product)))
    return Answer(200, {"product_id": product, **link.to_json()})
