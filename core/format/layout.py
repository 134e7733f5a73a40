"""Where every document and object lives inside a repository (DESIGN.md, "Repository layout").

One place maps ids to paths, for the publisher that writes them, the server and the
nginx example that serve them, and the client that fetches them. URL paths are the
same strings with a leading ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import FormatError

MD5 = re.compile(r"[0-9a-f]{32}")
"""An md5 as manifests write it: 32 lowercase hex digits."""
_MD5 = MD5
_DIGITS = re.compile(r"[0-9]{1,20}")
OS_NAMES = ("windows", "osx", "linux")

CONTENT_ROOT = "content-system/v2"
PRODUCTS_ROOT = "products"
METADATA_ROOT = "metadata"
"""Signed TUF metadata (root, targets, snapshot, timestamp) of a signed repository."""
STATE_DIR = ".slipstream"
"""Publisher state (lock, patch cache, object ages); never served."""

SERVED_ROOTS = (CONTENT_ROOT + "/", PRODUCTS_ROOT + "/", METADATA_ROOT + "/")
"""The only path prefixes the server answers; everything else is a 404."""


def check_md5(value: str, what: str = "hash") -> str:
    """Return ``value`` if it is 32 lowercase hex digits, else raise :class:`FormatError`."""
    if not isinstance(value, str) or not _MD5.fullmatch(value):
        raise FormatError(f"{what} {value!r} is not a 32-digit lowercase hex md5.")
    return value


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a product or build id (1-20 digits), else raise."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise FormatError(f"{what} {value!r} is not a string of 1 to 20 digits.")
    return value


def check_os(value: str) -> str:
    if value not in OS_NAMES:
        raise FormatError(f"os {value!r} is not one of {', '.join(OS_NAMES)}.")
    return value


def galaxy_path(md5: str) -> str:
    """``f1d4…`` → ``f1/d4/f1d4…``: the two-level fan-out GOG uses for every object."""
    check_md5(md5)
    return f"{md5[0:2]}/{md5[2:4]}/{md5}"


def meta_rel(manifest_id: str) -> str:
    """Build and depot manifests."""
    return f"{CONTENT_ROOT}/meta/{galaxy_path(manifest_id)}"


def store_rel(product: str, md5: str) -> str:
    """File chunks of ``product``, named by the md5 of their zlib bytes."""
    return f"{store_prefix_rel(product)}/{galaxy_path(md5)}"


def store_prefix_rel(product: str) -> str:
    return f"{CONTENT_ROOT}/store/{check_id(product, 'product id')}"


def patch_meta_rel(manifest_id: str) -> str:
    """Patch root manifests and DepotDiff manifests."""
    return f"{CONTENT_ROOT}/patches/meta/{galaxy_path(manifest_id)}"


def patch_store_rel(product: str, md5: str) -> str:
    """Patch (delta) chunks of ``product``."""
    return f"{patch_store_prefix_rel(product)}/{galaxy_path(md5)}"


def patch_store_prefix_rel(product: str) -> str:
    return f"{CONTENT_ROOT}/patches/store/{check_id(product, 'product id')}"


def pack_meta_rel(index_id: str) -> str:
    """Pack indexes (Slipstream extension), named by the md5 of their zlib bytes."""
    return f"{CONTENT_ROOT}/packs/meta/{galaxy_path(index_id)}"


def pack_store_rel(product: str, md5: str) -> str:
    """Pack objects of ``product`` (concatenated deltas), named by the md5 of their bytes."""
    return f"{pack_store_prefix_rel(product)}/{galaxy_path(md5)}"


def pack_store_prefix_rel(product: str) -> str:
    return f"{CONTENT_ROOT}/packs/store/{check_id(product, 'product id')}"


def product_rel(product: str) -> str:
    return f"{PRODUCTS_ROOT}/{check_id(product, 'product id')}"


def builds_rel(product: str, os_name: str) -> str:
    """GOG builds response with ``link`` (newest first)."""
    return f"{product_rel(product)}/os/{check_os(os_name)}/builds.json"


def builds_v2_rel(product: str, os_name: str) -> str:
    """The same list in the ``_version=2`` form (``urls[]``), a static variant for nginx."""
    return f"{product_rel(product)}/os/{check_os(os_name)}/builds-v2.json"


def graph_rel(product: str, os_name: str) -> str:
    """Slipstream extension: every build and patch edge with its byte cost."""
    return f"{product_rel(product)}/os/{check_os(os_name)}/graph.json"


def patch_pair_rel(product: str, from_build: str, to_build: str) -> str:
    """GOG patch-index response for one (from, to) pair."""
    a = check_id(from_build, "from build id")
    b = check_id(to_build, "to build id")
    return f"{product_rel(product)}/patches/{a}/{b}.json"


def secure_link_rel(product: str, patches: bool = False) -> str:
    """Static ``secure_link`` answer (one unsigned endpoint) for nginx; ``serve`` makes its own."""
    name = "secure_link-patches.json" if patches else "secure_link.json"
    return f"{product_rel(product)}/{name}"


def url_path(rel: str) -> str:
    """The root-relative URL of a repository-relative path."""
    return "/" + rel


@dataclass(frozen=True)
class RepoLayout:
    """A repository folder on disk, with ``path(rel)`` mapping layout names to files."""

    root: Path

    def path(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR
