"""What a signed repository signs, and how its metadata files are named.

Shared by the publisher, which signs, and the client, which verifies: the signed targets
are every file below ``products/`` (builds lists, graph, patch indexes, secure links) and
every manifest below the two manifest folders of ``content-system/v2/`` (content-addressed,
so their hashes never change once signed). Chunks are not targets: the signed manifests
pin each chunk's md5 and each file's sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.format import layout
from core.fs import TEMP_PREFIX
from core.trust.tuflib import Root

ROLES = ("root", "targets", "snapshot", "timestamp")
"""The four top-level roles, each with its own key(s)."""

MANIFEST_ROOTS = (
    f"{layout.CONTENT_ROOT}/meta/",
    f"{layout.CONTENT_ROOT}/patches/meta/",
)
"""Folders of content-addressed manifests, signed as targets."""

DOCUMENT_ROOT = layout.PRODUCTS_ROOT + "/"
"""Folder of the mutable documents, all signed as targets."""

ROOT_FILE = "root.json"
KEY_ID_SHOWN = 16
"""Hex digits of a key id shown to people (the whole id is in --json)."""


def is_target(rel: str) -> bool:
    """Whether the repository file ``rel`` (``/``-separated) is a signed target."""
    name = rel.rsplit("/", 1)[-1]
    if not name or name.startswith((".", TEMP_PREFIX)):
        return False
    return rel.startswith((DOCUMENT_ROOT, *MANIFEST_ROOTS))


def root_key_ids(root: Root) -> list[str]:
    """The root role's key ids, sorted."""
    return sorted(root.roles[Root.type].keyids)


def short_ids(key_ids: list[str]) -> str:
    """Key ids as people read them: the first hex digits of each, comma-separated."""
    return ", ".join(k[:KEY_ID_SHOWN] for k in key_ids)


UNSIGNED = "unsigned"
SIGNED = "signed"


@dataclass(frozen=True)
class Signing:
    """How a repository's documents are vouched for, as ``builds``, ``info`` and ``list``
    show it: ``unsigned``, or ``signed`` with the root's key ids."""

    state: str
    root_key_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"signing": self.state, "root_key_ids": list(self.root_key_ids)}

    def describe(self) -> str:
        if self.state == UNSIGNED:
            return UNSIGNED
        return f"{SIGNED} (root key {short_ids(list(self.root_key_ids))})"
