"""Build ("repository", "meta") manifests: which depots make up one build (reference §3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import FormatError
from core.format import paths
from core.format.fields import LIMITS, Fields, Limits

ALL_LANGUAGES = "*"


@dataclass(frozen=True)
class DepotEntry:
    """One depot of a build (or of a patch root manifest)."""

    product_id: str
    languages: tuple[str, ...]
    manifest: str
    size: int
    compressed_size: int
    os_bitness: tuple[str, ...] = ()
    is_gog_depot: bool = False

    def matches_language(self, lang: str) -> bool:
        return ALL_LANGUAGES in self.languages or lang in self.languages

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "productId": self.product_id,
            "languages": list(self.languages),
            "manifest": self.manifest,
            "size": self.size,
            "compressedSize": self.compressed_size,
        }
        if self.os_bitness:
            doc["osBitness"] = list(self.os_bitness)
        if self.is_gog_depot:
            doc["isGogDepot"] = True
        return doc


def parse_depot_entry(f: Fields) -> DepotEntry:
    return DepotEntry(
        product_id=f.id("productId"),
        languages=f.texts("languages", 200),
        manifest=f.md5("manifest"),
        size=f.integer("size"),
        compressed_size=f.integer("compressedSize"),
        os_bitness=f.texts("osBitness", 8, default=True),
        is_gog_depot=f.flag("isGogDepot", default=False),
    )


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    temp_executable: str = ""
    temp_arguments: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "productId": self.product_id,
            "name": self.name,
            "temp_executable": self.temp_executable,
            "temp_arguments": self.temp_arguments,
        }


@dataclass(frozen=True)
class BuildManifest:
    base_product_id: str
    build_id: str
    platform: str
    install_directory: str
    depots: tuple[DepotEntry, ...]
    products: tuple[Product, ...]
    offline_depot: DepotEntry | None = None
    dependencies: tuple[str, ...] = ()
    client_id: str | None = None
    client_secret: str | None = None
    script_interpreter: bool = False
    tags: tuple[str, ...] = field(default=())

    def depots_for(self, lang: str, products: Iterable[str] | None = None) -> list[DepotEntry]:
        """The depots a player with language ``lang`` installs (reference §3.3)."""
        wanted = {self.base_product_id} if products is None else set(products)
        return [d for d in self.depots if d.product_id in wanted and d.matches_language(lang)]

    def product_name(self, product_id: str) -> str:
        return next((p.name for p in self.products if p.product_id == product_id), product_id)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "version": 2,
            "baseProductId": self.base_product_id,
            "buildId": self.build_id,
            "platform": self.platform,
            "installDirectory": self.install_directory,
            "depots": [d.to_json() for d in self.depots],
            "products": [p.to_json() for p in self.products],
            "dependencies": list(self.dependencies),
            "scriptInterpreter": self.script_interpreter,
            "tags": list(self.tags),
        }
        if self.offline_depot:
            doc["offlineDepot"] = self.offline_depot.to_json()
        if self.client_id is not None:
            doc["clientId"] = self.client_id
        if self.client_secret is not None:
            doc["clientSecret"] = self.client_secret
        return doc


def parse_build_manifest(doc: object, where: str, limits: Limits = LIMITS) -> BuildManifest:
    """Validate a version-2 build manifest (already decoded from zlib JSON)."""
    f = Fields(doc, where, limits)
    version = f.integer("version", 0, 100)
    if version != 2:
        raise FormatError(
            f"{where} is a version {version} build manifest; only version 2 is supported."
        )
    products = tuple(
        Product(
            p.id("productId"),
            p.text("name"),
            p.text("temp_executable", default=""),
            p.text("temp_arguments", default=""),
        )
        for p in f.objects("products", limits.depots_per_build)
    )
    return BuildManifest(
        base_product_id=f.id("baseProductId"),
        build_id=f.id("buildId"),
        platform=f.text("platform"),
        install_directory=paths.validate(f.text("installDirectory"), f"{where}.installDirectory"),
        depots=tuple(parse_depot_entry(d) for d in f.objects("depots", limits.depots_per_build)),
        products=products,
        offline_depot=parse_depot_entry(f.obj("offlineDepot")) if f.has("offlineDepot") else None,
        dependencies=f.texts("dependencies", 1000, default=True),
        client_id=f.opt_text("clientId"),
        client_secret=f.opt_text("clientSecret"),
        script_interpreter=f.flag("scriptInterpreter", default=False),
        tags=f.texts("tags", 1000, default=True),
    )
