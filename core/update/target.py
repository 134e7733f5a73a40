"""The build an operation goes to, and what the game folder holds now.

Reading the target (listing, build and depot manifests), the installed build's cached
manifests, the player's local changes, the patch route's hops, and the install state an
operation leaves behind. The operations themselves are in core/update/engine.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import BuildNotFoundError, SlipstreamError, StateError, UsageError
from core.format import paths, zjson
from core.format.bounds import BOUNDS
from core.format.build import ALL_LANGUAGES, BuildManifest, parse_build_manifest
from core.format.builds import BuildItem, BuildsListing
from core.format.depot import (
    DepotDirectory,
    DepotFile,
    DepotLink,
    DepotManifest,
    parse_depot_manifest,
)
from core.format.graph import GraphEdge
from core.gamedir.folder import GameDir, InstalledFile, InstallState
from core.gamedir.verify import verify_files
from core.gog.source import open_source
from core.net.source import RepoSource
from core.net.transport import Transport
from core.update.plan import Hop, Plan, PlanKind, choose_route
from core.update.route import PackStep
from core.update.stage import file_digest, matches

# --- reading the target ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    item: BuildItem
    manifest: BuildManifest
    depots: tuple[DepotManifest, ...]
    raw: Mapping[str, bytes]
    """The documents as fetched, cached in the game folder for later plans."""

    @property
    def files(self) -> dict[str, DepotFile]:
        return {f.path: f for d in self.depots for f in d.files}

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(
            sorted(i.path for d in self.depots for i in d.items if isinstance(i, DepotDirectory))
        )

    @property
    def links(self) -> dict[str, str]:
        """The build's symbolic links (GOG's ``DepotLink``): game path -> game-relative
        target (both validated when the manifest was read, so neither leaves the folder)."""
        return {i.path: i.target for d in self.depots for i in d.items if isinstance(i, DepotLink)}


def pick_build(listing: BuildsListing, build: str | None, branch: str | None) -> BuildItem:
    """The requested build, or the newest installable build of ``branch``."""
    items = listing.installable()
    if build is not None:
        found = next((i for i in items if i.build_id == build), None)
        if found is None:
            if listing.find(build) is not None:
                raise BuildNotFoundError(
                    f"Build {build} is a generation 1 build, which Slipstream cannot install."
                )
            raise BuildNotFoundError(
                f"Build {build} is not in the repository's builds list.{_skipped(listing)}"
            )
        return found
    for item in items:
        if item.branch == branch:
            return item
    raise BuildNotFoundError(
        f"The repository has no build on the {branch or 'default'} branch.{_skipped(listing)}"
    )


def _skipped(listing: BuildsListing) -> str:
    """The malformed items left out of ``listing``, which may be why a build is missing."""
    return "".join(f" {note}" for note in listing.skipped[:3])


ALL_DLCS = "all"


def products_of(manifest: BuildManifest, dlcs: Sequence[str], *, strict: bool = True) -> list[str]:
    """The base game and the chosen DLCs (``all``: every one) that ``manifest`` has; with
    ``strict``, a chosen DLC the build lacks is refused."""
    known = [p.product_id for p in manifest.products if p.product_id != manifest.base_product_id]
    if ALL_DLCS in dlcs:
        return [manifest.base_product_id, *known]
    missing = [d for d in dlcs if d not in known]
    if missing and strict:
        raise BuildNotFoundError(
            f"Build {manifest.build_id} has no DLC {', '.join(missing)} "
            "(slipstream info lists its products)."
        )
    return [manifest.base_product_id, *(d for d in dlcs if d in known)]


@dataclass(frozen=True)
class OpenBuild:
    """A repository opened at the build an operation goes to. Its manifests are fetched
    only by :meth:`target`, so a caller can record the build, or stop when it is the one
    installed, without fetching them."""

    source: RepoSource
    item: BuildItem
    skipped: tuple[str, ...] = ()
    """The listing's malformed items, left out (:attr:`BuildsListing.skipped`)."""

    def target(self, lang: str, dlcs: Sequence[str] = (), *, strict_lang: bool = False) -> Target:
        return fetch_target(self.source, self.item, lang, dlcs, strict_lang=strict_lang)


def open_target(
    fetcher: Transport,
    location: str,
    product: str,
    os_name: str,
    *,
    build: str | None,
    branch: str | None,
    password: str | None = None,
    pins: Path | None = None,
) -> OpenBuild:
    """Open the repository at ``location`` and pick ``build`` (default: the newest
    installable build of ``branch``) from its listing of ``product`` on ``os_name``;
    ``pins``: the install's trusted signed metadata (core/trust/source.py)."""
    source = open_source(location, fetcher, password, pins)
    listing = source.listing(product, os_name)
    return OpenBuild(source, pick_build(listing, build, branch), listing.skipped)


def check_language(manifest: BuildManifest, lang: str) -> None:
    """Refuse a language the build does not name (a typo would otherwise install the
    language-neutral depots alone, silently); a build that names none takes any."""
    known = sorted({code for d in manifest.depots for code in d.languages} - {ALL_LANGUAGES})
    if known and lang not in known:
        raise UsageError(
            f"Build {manifest.build_id} has no language {lang!r}; its languages: "
            f"{', '.join(known)}."
        )


def fetch_target(
    source: RepoSource,
    item: BuildItem,
    lang: str,
    dlcs: Sequence[str] = (),
    *,
    strict_lang: bool = False,
) -> Target:
    """The build's manifests for ``lang`` and ``dlcs``; with ``strict_lang`` (a player's
    choice, not an installed game's) a language the build lacks is a UsageError."""
    manifest = source.build_manifest(item)
    if strict_lang:
        check_language(manifest, lang)
    entries = manifest.depots_for(lang, products_of(manifest, dlcs))
    if not entries:
        raise BuildNotFoundError(f"Build {item.build_id} has no depot for the language {lang}.")
    raw: dict[str, bytes] = {f"build-{item.build_id}": zjson.dumps(manifest.to_json())}
    depots = []
    for entry in entries:
        depot = source.depot_manifest(entry.manifest)
        raw[f"depot-{entry.manifest}"] = zjson.dumps(depot.to_json())
        depots.append(depot)
    paths.check_unique(
        [f.path for d in depots for f in d.files], what=f"build {item.build_id} path"
    )
    return Target(item, manifest, tuple(depots), raw)


def cached_files(game: GameDir, state: InstallState) -> dict[str, DepotFile]:
    """The installed build's files as its manifests describe them (with chunks)."""
    data = game.load_document(f"build-{state.build_id}")
    if data is None:
        raise StateError(
            f"The cached manifest of build {state.build_id} is missing; run verify --repair."
        )
    manifest = parse_build_manifest(
        zjson.loads(data, "cached build manifest", BOUNDS.cached_build_bytes),
        "cached build manifest",
    )
    files: dict[str, DepotFile] = {}
    for entry in manifest.depots_for(state.lang, products_of(manifest, state.dlcs, strict=False)):
        doc = game.load_document(f"depot-{entry.manifest}")
        if doc is None:
            raise StateError(
                f"The cached depot manifest {entry.manifest} is missing; run verify --repair."
            )
        depot = parse_depot_manifest(
            zjson.loads(doc, "cached depot manifest", BOUNDS.cached_depot_bytes), "cached depot"
        )
        files.update({f.path: f for f in depot.files})
    return files


# --- planning --------------------------------------------------------------------------


def local_changes(
    game: GameDir, state: InstallState, old: Mapping[str, DepotFile]
) -> dict[str, str]:
    """Managed files whose content on disk is not the installed build's: path → md5 on
    disk (``""`` when missing). Files the player kept on purpose count as changed too."""
    changed: dict[str, str] = {}
    report = verify_files(game.root, state.files, full=False)
    for wound in report.wounds:
        if wound.reason in ("missing", "not a file"):
            changed[wound.path] = ""
        else:
            try:
                changed[wound.path] = file_digest(game.game_path(wound.path))
            except SlipstreamError:
                changed[wound.path] = ""
    for path, record in state.files.items():
        entry = old.get(path)
        if entry is not None and record.md5 != entry.file_md5 and path not in changed:
            changed[path] = record.md5
    return changed


def patch_hops(
    source: RepoSource,
    product: str,
    os_name: str,
    lang: str,
    from_build: str,
    to_build: str,
    *,
    use_packs: bool = False,
) -> tuple[list[Hop], str]:
    """The patch route's hops: a shortest path over graph.json when the repository has
    one, else the direct pair from the patch index. Empty when no route exists.

    With ``use_packs``, each hop whose graph edge names a pack carries its entries; a pack
    index that cannot be fetched or read costs that hop its pack, not the update: the
    second value says why (empty when nothing was lost)."""
    graph = source.graph(product, os_name)
    edges: list[GraphEdge | None]
    if graph is not None:
        route = choose_route(graph, from_build, to_build, packs=use_packs)
        if route is None:
            return [], ""
        edges = list(route)
        pairs = [(e.from_build, e.to_build) for e in route]
    else:
        edges, pairs = [None], [(from_build, to_build)]
    hops = []
    lost: list[str] = []
    for (a, b), edge in zip(pairs, edges, strict=True):
        index = source.patch_index(product, a, b)
        if index is None:
            return [], ""
        root = source.patch_root(index)
        diffs = tuple(
            d for entry in root.depots_for(lang) for d in source.patch_depot(entry.manifest).items
        )
        packs: tuple[PackStep, ...] = ()
        if use_packs and edge is not None and edge.pack is not None:
            try:
                pack = source.pack_index(product, edge.pack, a, b)
                packs = tuple(PackStep(e, pack.objects[e.object]) for e in pack.files)
            except SlipstreamError as exc:
                lost.append(f"the pack of {a}→{b}: {exc}")
        hops.append(Hop(a, b, diffs, packs))
    return hops, "; ".join(lost)


def new_state(
    previous: InstallState | None,
    base: InstallState,
    target: Target,
    plan: Plan,
    game: GameDir,
    failed: set[tuple[str, str]],
) -> InstallState:
    """The install state after committing ``plan``: unchanged and kept files keep their
    records; staged ones get their manifest hashes and the staged file's mtime."""
    files: dict[str, InstalledFile] = {}
    for action in plan.actions:
        if action.kind == PlanKind.DELETED or action.target is None:
            continue
        old = previous.files.get(action.path) if previous else None
        if action.kind == PlanKind.UNCHANGED and old is not None:
            files[action.path] = old
            continue
        f = action.target
        # Unchanged files without a record (adopted ones) are already in place.
        unchanged = action.kind == PlanKind.UNCHANGED
        staged = game.game_path(f.path) if unchanged else game.staged_path(f.path)
        files[f.path] = InstalledFile(
            path=f.path,
            md5=f.file_md5,
            size=f.size,
            sha256=f.sha256,
            executable=f.executable,
            mtime_ns=staged.stat().st_mtime_ns,
        )
    links = target.links
    # A link may not share its path with a file or stand where a folder is needed.
    paths.check_unique([*files, *links], target.folders, "build path")
    return replace(
        base,
        build_id=target.item.build_id,
        version_name=target.item.version_name,
        branch=target.item.branch,
        files=files,
        folders=target.folders,
        links=links,
        failed_patches=frozenset(set(base.failed_patches) | failed),
    )


def adoptable(game: GameDir, target: Target) -> dict[str, DepotFile]:
    """The target's files already present, byte for byte, in the folder."""
    found = {}
    for path, entry in target.files.items():
        try:
            if matches(game.game_path(path), entry):
                found[path] = entry
        except SlipstreamError:
            continue
    return found
