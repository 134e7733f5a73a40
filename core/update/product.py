"""What a player's library shows of a game beyond its files: the source's products to
pick from, each product's name, icon and cover (cached under ``SLIPSTREAM_HOME``) and
the launch task its repository publishes (kept in the game folder for Play).

Every call here reads small documents only; the window runs them off its event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import BuildNotFoundError, FormatError, NotFoundError
from core.format.build import ALL_LANGUAGES
from core.format.builds import BuildItem
from core.format.layout import OS_NAMES
from core.format.product_info import (
    ART_KINDS,
    MAX_ART_BYTES,
    ProductInfo,
    image_suffix,
    parse_product_info,
)
from core.gamedir.folder import GameDir
from core.gog.source import GogSource, open_source
from core.library.art import cached_art, store_art
from core.net.source import RepoSource
from core.progress import NEVER_CANCELLED, CancelToken
from core.update.engine import existing_game, not_installed
from core.update.options import EngineOptions
from core.update.target import open_target

PRODUCT_DOCUMENT = "product"
"""The installed game's copy of its ``product.json``, in ``.slipstream/manifests/``."""


@dataclass(frozen=True)
class ProductArt:
    """A product's name and its art as cached files (None where there is none)."""

    product: str
    name: str
    icon: Path | None = None
    cover: Path | None = None
    info: ProductInfo | None = None


def list_products(
    source: str, options: EngineOptions = EngineOptions(), cancel: CancelToken = NEVER_CANCELLED
) -> list[tuple[str, str]]:
    """(product id, name) of every product the source lists, by name: a repository's
    ``products/index.json`` (empty when it has none: an older publisher's), or for
    ``gog`` the games the logged-in account owns."""
    with options.fetcher(cancel) as fetcher:
        index = open_source(source, fetcher, options.password).products()
    return list(index.products) if index else []


def list_builds(
    source: str, product: str, os_name: str = "windows", options: EngineOptions = EngineOptions()
) -> list[BuildItem]:
    """The product's installable builds, newest first, every branch the source shows
    (``options.password`` opens GOG's private ones); ``item.branch`` None is the default."""
    with options.fetcher() as fetcher:
        listing = open_source(source, fetcher, options.password).listing(product, os_name)
    return list(listing.installable())


@dataclass(frozen=True)
class ProductBuilds:
    """A product's installable builds on each OS that has any (newest first), and
    whether its source hides more branches behind a password (GOG's private ones)."""

    by_os: tuple[tuple[str, tuple[BuildItem, ...]], ...]
    has_private_branches: bool = False

    def oses(self) -> list[str]:
        return [os_name for os_name, _ in self.by_os]

    def builds(self, os_name: str) -> tuple[BuildItem, ...]:
        return next((items for name, items in self.by_os if name == os_name), ())


def product_builds(
    source: str,
    product: str,
    options: EngineOptions = EngineOptions(),
    cancel: CancelToken = NEVER_CANCELLED,
) -> ProductBuilds:
    """Every OS's builds of ``product`` (``options.password`` opens GOG's private
    branches), for the window's Add game list; an OS the source has no list for is left
    out, and a product with no installable build on any OS is a BuildNotFoundError."""
    found: list[tuple[str, tuple[BuildItem, ...]]] = []
    private = False
    with options.fetcher(cancel) as fetcher:
        repo = open_source(source, fetcher, options.password)
        for os_name in OS_NAMES:
            try:
                listing = repo.listing(product, os_name)
            except NotFoundError:
                continue
            private = private or listing.has_private_branches
            if listing.installable():
                found.append((os_name, listing.installable()))
    if not found:
        raise BuildNotFoundError(f"{source} has no builds of product {product} to install.")
    return ProductBuilds(tuple(found), private)


@dataclass(frozen=True)
class BuildDetails:
    """What the Add game dialog asks of one build before installing it."""

    build_id: str
    install_directory: str
    """The folder name the publisher chose for the game."""
    languages: tuple[str, ...]
    """The language codes its depots name (none: it takes any)."""


def build_details(
    source: str,
    product: str,
    os_name: str,
    build: str,
    options: EngineOptions = EngineOptions(),
    cancel: CancelToken = NEVER_CANCELLED,
) -> BuildDetails:
    """The build's install folder name and languages, from its build manifest alone
    (depot manifests can be large)."""
    with options.fetcher(cancel) as fetcher:
        opened = open_target(
            fetcher, source, product, os_name, build=build, branch=None, password=options.password
        )
        manifest = opened.source.build_manifest(opened.item)
    languages = sorted({code for d in manifest.depots for code in d.languages} - {ALL_LANGUAGES})
    return BuildDetails(build, manifest.install_directory, tuple(languages))


def cached_product_art(source: str, product: str) -> ProductArt:
    """The art already cached for the product, without asking the network."""
    icon, cover = (cached_art(source, product, kind) for kind in ART_KINDS)
    return ProductArt(product, "", icon, cover)


def fetch_product_art(
    source: str,
    product: str,
    options: EngineOptions = EngineOptions(),
    cancel: CancelToken = NEVER_CANCELLED,
) -> ProductArt:
    """The product's document and art from ``source``, each image fetched only when the
    cache lacks that exact image (checked by sha256)."""
    with options.fetcher(cancel) as fetcher:
        repo = open_source(source, fetcher, options.password)
        return _art(repo, product)


def _art(repo: RepoSource, product: str) -> ProductArt:
    if isinstance(repo, GogSource):
        return _gog_art(repo, product)
    info = repo.product_info(product)
    if info is None:
        return ProductArt(product, "")
    found: dict[str, Path | None] = {}
    for kind in ART_KINDS:
        ref = info.art(kind)
        if ref is None:
            found[kind] = None
            continue
        path = cached_art(repo.location, product, kind, ref.sha256)
        if path is None:
            path = store_art(repo.location, product, kind, ref.suffix, repo.art(ref))
        found[kind] = path
    return ProductArt(product, info.name, found["icon"], found["cover"], info)


def _gog_art(repo: GogSource, product: str) -> ProductArt:
    """GOG's images of the product, fetched only when their URL changed: they are the
    product API's, not the content system's, and carry no hash."""
    title, urls = repo.product_images(product)
    found: dict[str, Path | None] = {"icon": None, "cover": None}
    for kind, url in urls.items():
        path = cached_art(repo.location, product, kind, origin=url)
        if path is None:
            what = f"GOG's {kind} image of product {product}"
            data = repo.fetcher.get_bytes(url, max_bytes=MAX_ART_BYTES, what=what)
            suffix = image_suffix(data)
            if suffix is None:
                continue  # not an image we show: no art rather than a broken one
            path = store_art(repo.location, product, kind, suffix, data, origin=url)
        found[kind] = path
    return ProductArt(product, title, found["icon"], found["cover"])


def refresh_installed(game_dir: Path, options: EngineOptions = EngineOptions()) -> ProductArt:
    """Fetch the installed game's product document and art, and keep the document in the
    game folder, so that Play finds its launch task without the network."""
    game = existing_game(game_dir)
    state = game.read_state()
    if state is None:
        raise not_installed(game_dir)
    art = fetch_product_art(state.source, state.product, options)
    if art.info is not None:
        data = json.dumps(art.info.to_json(), sort_keys=True).encode()
        with game.lock():
            game.save_document(PRODUCT_DOCUMENT, data)
    return art


def installed_product_info(game: GameDir) -> ProductInfo | None:
    """The product document kept in the game folder, or None (none kept, or damaged)."""
    data = game.load_document(PRODUCT_DOCUMENT)
    if data is None:
        return None
    try:
        return parse_product_info(json.loads(data), "the kept product document")
    except (ValueError, FormatError):
        return None
