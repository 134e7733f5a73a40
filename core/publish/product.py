"""The product documents a player's library reads: ``products/<p>/product.json`` (name,
icon, cover, launch task per OS) and ``products/index.json`` (every product by name).

Written after the builds lists, each by atomic rename; art files first, named by their
sha256, so a product document never points at a missing or changed image. A publish
without ``--icon``, ``--cover`` or ``--launch`` keeps what the product already had.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import FormatError, LocalIOError, UsageError
from core.format import paths
from core.format.product_info import (
    ART_TYPES,
    MAX_ART_BYTES,
    ArtRef,
    LaunchSpec,
    ProductInfo,
    ProductsIndex,
    art_rel,
    image_suffix,
    parse_product_info,
    parse_products_index,
    product_info_rel,
    products_index_rel,
)
from core.fs import atomic_write
from core.publish import documents
from core.publish.catalog import Catalog


@dataclass(frozen=True)
class ProductOptions:
    """``--launch``, ``--icon`` and ``--cover``, checked before anything is published."""

    launch: LaunchSpec | None = None
    art: tuple[tuple[str, bytes, str], ...] = ()
    """(kind, bytes, suffix) of each image given."""


def check_options(
    launch: str | None, icon: Path | None, cover: Path | None, files: set[str]
) -> ProductOptions:
    """Refuse a launch path that is not a file of the build, or art that is not an image."""
    spec = None
    if launch is not None:
        try:
            rel = paths.validate(launch.replace("\\", "/"), "--launch path")
        except FormatError as exc:
            raise UsageError(exc.detail) from None
        if rel not in files:
            raise UsageError(f"--launch {launch!r} is not a file of the build folder.")
        spec = LaunchSpec(rel)
    art = []
    for kind, path in (("icon", icon), ("cover", cover)):
        if path is not None:
            art.append((kind, *read_art(path, f"--{kind}")))
    return ProductOptions(spec, tuple(art))


def read_art(path: Path, option: str) -> tuple[bytes, str]:
    """An ``--icon`` or ``--cover`` image: its bytes and its suffix, checked."""
    try:
        with open(path, "rb") as src:
            data = src.read(MAX_ART_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or exc}.") from None
    if len(data) > MAX_ART_BYTES:
        raise UsageError(f"{option} {path} is larger than {MAX_ART_BYTES // 2**20} MiB.")
    suffix = image_suffix(data)
    if suffix is None or suffix not in ART_TYPES:
        raise UsageError(f"{option} {path} is not a PNG, JPEG or WebP image.")
    return data, suffix


def current_info(catalog: Catalog) -> ProductInfo | None:
    rel = product_info_rel(catalog.product)
    return parse_product_info(catalog.read(rel), rel) if catalog.exists(rel) else None


def write_product(
    catalog: Catalog, os_name: str, name: str | None, checked: ProductOptions
) -> ProductInfo:
    """Write the product's art, ``product.json`` and its line in ``products/index.json``."""
    product = catalog.product
    before = current_info(catalog)
    info = before or ProductInfo(product, "")
    refs: dict[str, Any] = {}
    for kind, data, suffix in checked.art:
        sha = hashlib.sha256(data).hexdigest()
        rel = art_rel(product, sha, suffix)
        if not catalog.exists(rel):
            try:
                atomic_write(catalog.repo.path(rel), data)
            except OSError as exc:
                raise LocalIOError.wrap(exc, "write") from None
        refs[kind] = ArtRef("/" + rel, sha, len(data))
    tasks = dict(info.launch)
    if checked.launch is not None:
        tasks[os_name] = checked.launch
    info = replace(
        info,
        name=name or _newest_name(catalog) or info.name or product,
        launch=tuple(sorted(tasks.items())),
        **refs,
    )
    if info != before:  # a re-run that changes nothing leaves the repository as it was
        catalog.write_json(product_info_rel(product), info.to_json())
    index_rel = products_index_rel()
    index = (
        parse_products_index(catalog.read(index_rel), index_rel)
        if catalog.exists(index_rel)
        else ProductsIndex(())
    )
    listed = index.with_product(product, info.name)
    if listed != index:
        catalog.write_json(index_rel, listed.to_json())
    return info


def _newest_name(catalog: Catalog) -> str:
    """The product's name in its newest build, on any OS and branch."""
    manifest = documents.product_manifest(catalog)
    return manifest.product_name(catalog.product) if manifest else ""
