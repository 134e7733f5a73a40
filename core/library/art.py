"""The player's cache of game art: ``$SLIPSTREAM_HOME/art/<source>/<product>/<kind><ext>``.

``<source>`` is a short hash of the repository's URL (two repositories may use the same
product id). Every cached image is checked against the sha256 its product document gives
before it is used, so a damaged or stale file is fetched again, never shown.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import LocalIOError
from core.format.layout import check_id
from core.format.product_info import ART_KINDS, ART_TYPES
from core.fs import atomic_write
from core.library.db import home


def source_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def art_folder(source: str, product: str) -> Path:
    return home() / "art" / source_key(source) / check_id(product, "product id")


def _check(kind: str, suffix: str) -> None:
    if kind not in ART_KINDS or suffix not in ART_TYPES:
        raise ValueError(f"no art {kind}{suffix}")


def cached_art(
    source: str, product: str, kind: str, sha256: str | None = None, origin: str | None = None
) -> Path | None:
    """The cached ``kind`` (icon or cover) image of the product, or None; with ``sha256``,
    only a file whose content has that hash; with ``origin``, only one fetched from that
    URL (GOG's images come with no hash, but a new image gets a new URL)."""
    if kind not in ART_KINDS:
        return None
    folder = art_folder(source, product)
    if origin is not None:
        try:
            if (folder / f"{kind}.origin").read_text(encoding="utf-8") != origin:
                return None
        except (OSError, UnicodeDecodeError):
            return None
    for suffix in ART_TYPES:
        path = folder / f"{kind}{suffix}"
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if sha256 is None or hashlib.sha256(data).hexdigest() == sha256:
            return path
    return None


def store_art(
    source: str, product: str, kind: str, suffix: str, data: bytes, origin: str = ""
) -> Path:
    """Keep ``data`` as the product's ``kind`` image (any older one of it goes), and the
    URL it came from when its document gives no hash."""
    _check(kind, suffix)
    folder = art_folder(source, product)
    path = folder / f"{kind}{suffix}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for other in ART_TYPES:
            if other != suffix:
                (folder / f"{kind}{other}").unlink(missing_ok=True)
        (folder / f"{kind}.origin").unlink(missing_ok=True)
        atomic_write(path, data, fsync=False)  # a cache: a lost file is fetched again
        if origin:
            atomic_write(folder / f"{kind}.origin", origin.encode("utf-8"), fsync=False)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "cache the game's art in") from None
    return path
