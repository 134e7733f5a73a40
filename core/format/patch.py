"""Patch documents (reference §5): the pair index, the patch root manifest and the
DepotDiff manifests whose chunks are pieces of an xdelta3 delta."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import FormatError
from core.format import paths
from core.format.build import DepotEntry, Product, parse_depot_entry
from core.format.depot import Chunk, parse_chunks
from core.format.fields import LIMITS, Fields, Limits

ALGORITHM = "xdelta3"


@dataclass(frozen=True)
class PatchIndex:
    """``patches?_version=4`` answer for one (from, to) pair."""

    id: str
    from_build_id: str
    to_build_id: str
    link: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from_build_id": self.from_build_id,
            "to_build_id": self.to_build_id,
            "link": self.link,
        }


def parse_patch_index(doc: object, where: str, limits: Limits = LIMITS) -> PatchIndex | None:
    """The pair document, or ``None`` for GOG's ``{"error": ...}`` "no patch" answer."""
    f = Fields(doc, where, limits)
    if f.has("error"):
        return None
    return PatchIndex(f.md5("id"), f.id("from_build_id"), f.id("to_build_id"), f.text("link"))


@dataclass(frozen=True)
class PatchRootManifest:
    base_product_id: str
    build_id_source: str
    build_id_target: str
    depots: tuple[DepotEntry, ...]
    products: tuple[Product, ...]
    algorithm: str = ALGORITHM
    client_id: str = ""
    client_secret: str = ""

    def depots_for(self, lang: str) -> list[DepotEntry]:
        return [d for d in self.depots if d.matches_language(lang)]

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "baseProductId": self.base_product_id,
            "buildId_source": self.build_id_source,
            "buildId_target": self.build_id_target,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "products": [{"name": p.name, "productId": p.product_id} for p in self.products],
            "depots": [d.to_json() for d in self.depots],
        }


def parse_patch_root(doc: object, where: str, limits: Limits = LIMITS) -> PatchRootManifest:
    f = Fields(doc, where, limits)
    algorithm = f.text("algorithm")
    if algorithm != ALGORITHM:
        raise FormatError(
            f"{where} uses the patch algorithm {algorithm!r}; only xdelta3 is supported."
        )
    return PatchRootManifest(
        base_product_id=f.id("baseProductId"),
        build_id_source=f.id("buildId_source"),
        build_id_target=f.id("buildId_target"),
        depots=tuple(parse_depot_entry(d) for d in f.objects("depots", limits.depots_per_build)),
        products=tuple(
            Product(p.id("productId"), p.text("name", default=""))
            for p in f.objects("products", limits.depots_per_build, default=True)
        ),
        algorithm=algorithm,
        client_id=f.text("clientId", default=""),
        client_secret=f.text("clientSecret", default=""),
    )


@dataclass(frozen=True)
class DepotDiff:
    """An xdelta3 delta turning the file ``md5_source`` into ``md5_target``; ``chunks`` are
    pieces of the delta and ``md5`` is the md5 of the whole reassembled delta."""

    path_source: str
    path_target: str
    md5_source: str
    md5_target: str
    md5: str
    chunks: tuple[Chunk, ...]

    @property
    def compressed_size(self) -> int:
        return sum(c.compressed_size for c in self.chunks)

    @property
    def size(self) -> int:
        return sum(c.size for c in self.chunks)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "DepotDiff",
            "path_source": paths.to_galaxy(self.path_source),
            "path_target": paths.to_galaxy(self.path_target),
            "md5_source": self.md5_source,
            "md5_target": self.md5_target,
            "md5": self.md5,
            "chunks": [c.to_json() for c in self.chunks],
        }


@dataclass(frozen=True)
class PatchDepotManifest:
    items: tuple[DepotDiff, ...]

    def to_json(self) -> dict[str, Any]:
        return {"depot": {"items": [i.to_json() for i in self.items]}}


def parse_patch_depot(doc: object, where: str, limits: Limits = LIMITS) -> PatchDepotManifest:
    f = Fields(doc, where, limits)
    items = []
    for item in f.obj("depot").objects("items", limits.items_per_depot):
        kind = item.text("type")
        if kind != "DepotDiff":
            raise FormatError(f"{item.where}.type is {kind!r}; a patch depot holds only DepotDiff.")
        items.append(
            DepotDiff(
                path_source=paths.validate(item.text("path_source"), f"{item.where}.path_source"),
                path_target=paths.validate(item.text("path_target"), f"{item.where}.path_target"),
                md5_source=item.md5("md5_source"),
                md5_target=item.md5("md5_target"),
                md5=item.md5("md5"),
                chunks=parse_chunks(item),
            )
        )
    paths.check_unique([i.path_target for i in items], what=f"{where} target path")
    return PatchDepotManifest(tuple(items))
