"""Slipstream's product documents, beside GOG's (GOG clients never ask for them).

``products/<p>/product.json`` describes one product for a player's library: its name, its
icon and cover (files under ``products/<p>/art/`` named by their sha256, so they never
change once published) and, per OS, the task that starts the game. ``products/index.json``
lists every product of the repository with its name, so a player can pick one from a list.

Both are untrusted: art is bounded in size and verified by hash, a launch path must be a
relative path inside the game folder (:func:`core.format.paths.validate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.errors import FormatError
from core.format import paths
from core.format.fields import Fields
from core.format.layout import OS_NAMES, PRODUCTS_ROOT, check_id, product_rel

FORMAT = 1
ART_KINDS = ("icon", "cover")
ART_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
"""The image files a repository may publish as art, by suffix."""
MAX_ART_BYTES = 8 * 2**20
MAX_PRODUCTS = 100_000
_ART_NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|jpeg|webp)")


def product_info_rel(product: str) -> str:
    return f"{product_rel(product)}/product.json"


def products_index_rel() -> str:
    return f"{PRODUCTS_ROOT}/index.json"


def art_rel(product: str, sha256: str, suffix: str) -> str:
    """An art file, named by its content so a published one never changes."""
    name = f"{sha256}{suffix.lower()}"
    if not _ART_NAME.fullmatch(name):
        raise FormatError(f"{name!r} is not an art file name (sha256 and an image suffix).")
    return f"{product_rel(product)}/art/{name}"


def image_suffix(data: bytes) -> str | None:
    """The suffix the bytes' signature says they are (png, jpeg, webp), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


@dataclass(frozen=True)
class ArtRef:
    """One image: where it is (root-relative ``/products/<p>/art/<sha256>.<ext>``), its
    sha256 and its size."""

    link: str
    sha256: str
    size: int

    @property
    def suffix(self) -> str:
        return "." + self.link.rsplit(".", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {"link": self.link, "sha256": self.sha256, "size": self.size}

    @staticmethod
    def from_fields(f: Fields, product: str) -> ArtRef:
        sha = f.sha256("sha256")
        if sha is None:
            raise FormatError(f"{f.where} lacks the required field 'sha256'.")
        link = f.text("link")
        suffix = "." + link.rsplit(".", 1)[-1] if "." in link else ""
        if suffix.lower() not in ART_TYPES or link != "/" + art_rel(product, sha, suffix):
            raise FormatError(f"{f.where}.link {link!r} is not this product's art file {sha}.")
        return ArtRef(link, sha, f.integer("size", hi=MAX_ART_BYTES))


@dataclass(frozen=True)
class LaunchSpec:
    """What starts the game: a file of the build (relative, ``/``-separated), its
    arguments, and the folder it runs in (relative; the game folder by default)."""

    path: str
    arguments: tuple[str, ...] = ()
    working_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.path}
        if self.arguments:
            doc["arguments"] = list(self.arguments)
        if self.working_dir:
            doc["working_dir"] = self.working_dir
        return doc

    @staticmethod
    def from_fields(f: Fields) -> LaunchSpec:
        work = f.text("working_dir", default="")
        return LaunchSpec(
            path=paths.validate(f.text("path"), f"{f.where}.path"),
            arguments=f.texts("arguments", 256, default=True),
            working_dir=paths.validate(work, f"{f.where}.working_dir") if work else "",
        )


@dataclass(frozen=True)
class ProductInfo:
    """``products/<p>/product.json``."""

    product_id: str
    name: str
    icon: ArtRef | None = None
    cover: ArtRef | None = None
    launch: tuple[tuple[str, LaunchSpec], ...] = ()
    """(os, task) pairs, one per OS at most."""

    def launch_for(self, os_name: str) -> LaunchSpec | None:
        return dict(self.launch).get(os_name)

    def art(self, kind: str) -> ArtRef | None:
        return self.icon if kind == "icon" else self.cover if kind == "cover" else None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"version": FORMAT, "product_id": self.product_id, "name": self.name}
        for kind in ART_KINDS:
            ref = self.art(kind)
            if ref is not None:
                doc[kind] = ref.to_json()
        if self.launch:
            doc["launch"] = {o: spec.to_json() for o, spec in sorted(self.launch)}
        return doc


def parse_product_info(doc: object, where: str = "product.json") -> ProductInfo:
    f = Fields(doc, where)
    if f.integer("version") != FORMAT:
        raise FormatError(f"{where} has a format this Slipstream does not read.")
    product = f.id("product_id")
    art = {k: ArtRef.from_fields(f.obj(k), product) if f.has(k) else None for k in ART_KINDS}
    launch: list[tuple[str, LaunchSpec]] = []
    if f.has("launch"):
        tasks = f.obj("launch")
        for os_name in sorted(tasks.data):
            if os_name not in OS_NAMES:
                raise FormatError(f"{where}.launch names an unknown os {os_name!r}.")
            launch.append((os_name, LaunchSpec.from_fields(tasks.obj(os_name))))
    return ProductInfo(product, f.text("name"), art["icon"], art["cover"], tuple(launch))


@dataclass(frozen=True)
class ProductsIndex:
    """``products/index.json``: (product id, name) of every product, by name."""

    products: tuple[tuple[str, str], ...]

    def with_product(self, product: str, name: str) -> ProductsIndex:
        entries = dict(self.products)
        entries[check_id(product, "product id")] = name
        return ProductsIndex(tuple(sorted(entries.items(), key=lambda e: (e[1].lower(), e[0]))))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT,
            "products": [{"product_id": p, "name": n} for p, n in self.products],
        }


def parse_products_index(doc: object, where: str = "products/index.json") -> ProductsIndex:
    f = Fields(doc, where)
    if f.integer("version") != FORMAT:
        raise FormatError(f"{where} has a format this Slipstream does not read.")
    entries = [(e.id("product_id"), e.text("name")) for e in f.objects("products", MAX_PRODUCTS)]
    return ProductsIndex(tuple(entries))
