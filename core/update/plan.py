"""The update plan: for every file, the cheapest way from the installed build to the target.

A pure function over frozen dataclasses (no IO, no clock, no randomness): the installed
and target manifests, the patches of the route the caller chose (:func:`choose_route`)
and what the caller found on disk go in; a :class:`Plan` with one action per file comes
out. Fetching, patching and committing follow it.

How the plan reads its inputs:

- Paths match as the disk does on Windows and macOS, through
  :func:`core.format.paths.collision_key`. A target file whose old version is spelled
  differently (a case-only rename) is planned under its new spelling with
  ``source_path`` set to the old spelling, never as a "deleted" old spelling beside a
  "new" file: on a case-insensitive disk both name the same file, so deleting one would
  delete the other. Even with unchanged content it is restaged (``chunked``, every chunk
  copied from the old spelling, 0 bytes) so that commit can move the old spelling aside
  and rename the new one in on every filesystem.
- ``local_md5`` lists only the installed files whose content on disk is not the
  manifest's: a modified file maps to its md5, a missing one to ``""``. Such a file is
  never the source of a patch or of a copied chunk. A file whose disk content already is
  the target's, under the same spelling (an interrupted update, a repair), is ``unchanged``.
- ``keep`` (``--keep-modified``) names installed files the update must not touch: one the
  target still has is ``unchanged`` whatever its content (missing included), one the
  target dropped gets no action at all and so becomes a file no manifest mentions.

Choosing among candidates for a changed file (cheapest compressed bytes; on a tie
``packed`` before ``patched`` before ``chunked`` before ``full``/``new``):

- ``patched``: the cheapest chain of deltas through the hops (see :mod:`core.update.route`) from
  any unmodified installed file to the target md5, never through an ``avoid`` pair. The
  start is usually the file's own old version; a file renamed and changed starts from the
  old file the publisher paired it with; any other file with the right content works as
  well, because deltas are matched by md5. ``fallback`` is the best action without
  patches. In a case-only rename, only the old spelling may start the chain, so that
  ``source_path`` keeps meaning the file commit replaces.
- ``packed``: the same search over the entries of the hops' packs (Slipstream's patch
  packs, core/format/pack.py), each costing its ``length``. An ``hdiffpatch`` entry for
  a file above ``hdiff_max_bytes`` is never used, and a chain whose entries' sizes do not
  agree with each other and with the manifests' sizes is dropped. ``fallback`` is the
  best action without patches, as for ``patched``. Packed wins a tie with ``patched``:
  its entries come batched in a few objects, where each delta is a request of its own.
- ``chunked``: chunks (by uncompressed md5 and size) copied from unmodified installed
  files, the file's own old version first; the rest fetched. A candidate only when at
  least one chunk is copied.
- ``full`` (``new`` for a path the installed build lacks): every chunk fetched.

Bytes:

- Objects are content-addressed and a fetcher downloads each one once, so totals count
  each distinct ``compressedMd5`` once, delta chunks and file chunks apart:
  ``full_bytes`` is every distinct chunk of the target, and an action's
  ``download_bytes`` counts only the objects no earlier action (in path order) fetches.
  So ``Plan.download_bytes`` is the sum over actions plus the small files container, and
  a plan that downloads everything costs exactly ``full_bytes``. A pack entry is an
  object of its own here (its ``length``); the bytes a range request carries along
  between the entries it needs (core/update/packs.py) are added to the plan's total, not
  to any action. When a plan with entries costs more than the same plan without packs
  (those carried bytes, or xdelta3 deltas that several files share), that one is taken.
  A ``fallback`` counts its own objects, as it would be fetched alone after its patch
  failed. Each file's choice weighs only its own objects; sharing between files shows
  in the totals.
- The small files container replaces the chunks of the small files (``sfc_ref``) that
  would be fetched when its chunks cost less than theirs; those files become ``full``
  (or ``new``) actions with ``from_sfc`` and nothing of their own to fetch.
- ``peak_disk_bytes``: every staged file (new, patched, packed, chunked, full) at its
  full size, every distinct delta at its inflated size, every pack span fetched, and the
  inflated small files container when used. Replaced and deleted files are moved into
  the rollback point on the same filesystem, which costs nothing. The intermediate files
  of a multi-hop chain are not counted: the plan cannot know their sizes, and the
  patcher frees each as it goes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType

from core.delta.hdiff import HDIFF_MAX_BYTES
from core.format.depot import Chunk, DepotFile, SmallFilesContainer, download_size
from core.format.patch import DepotDiff
from core.format.paths import collision_key
from core.update.packs import extra_bytes, spans_for
from core.update.route import (
    Chain,
    ChainFinder,
    Hop,
    PackStep,
    S,
    choose_route,
    diff_finder,
    pack_finder,
    sizes_link,
)

__all__ = [
    "KINDS",
    "ChunkReuse",
    "FileAction",
    "Hop",
    "Plan",
    "PlanKind",
    "choose_route",
    "plan_update",
]


class PlanKind(StrEnum):
    """What the update does to one file (see the module documentation). The values are
    the words reports, JSON output and the library use."""

    NEW = "new"
    PATCHED = "patched"
    PACKED = "packed"
    CHUNKED = "chunked"
    FULL = "full"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


KINDS = tuple(PlanKind)
MISSING = ""
"""The ``local_md5`` value of an installed file that is gone from the disk."""

_STAGED = frozenset(
    {PlanKind.NEW, PlanKind.PATCHED, PlanKind.PACKED, PlanKind.CHUNKED, PlanKind.FULL}
)
PATCH_KINDS = (PlanKind.PATCHED, PlanKind.PACKED)
"""The kinds built by applying deltas to an installed file, with a fallback."""
_NO_LOCAL: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class ChunkReuse:
    """A chunk of the target already present in a local file."""

    index: int
    """Position in ``target.chunks``."""
    source_path: str
    """The installed file holding it."""
    offset: int
    """Byte offset of that chunk inside the source file."""


@dataclass(frozen=True)
class FileAction:
    """What the update does to one file.

    ``source_path``: for ``patched`` and ``packed``, the installed file the chain starts
    from (``diffs``, or ``packs``: the pack entries to apply in order). For any
    kind, a ``source_path`` naming the same file as ``path`` under another spelling (same
    :func:`~core.format.paths.collision_key`) is the old spelling, which commit moves aside
    before renaming the new file in.
    """

    kind: PlanKind
    path: str
    target: DepotFile | None
    source_path: str | None = None
    diffs: tuple[DepotDiff, ...] = ()
    packs: tuple[PackStep, ...] = ()
    fetch: tuple[int, ...] = ()
    reuse: tuple[ChunkReuse, ...] = ()
    from_sfc: bool = False
    download_bytes: int = 0
    fallback: FileAction | None = None


@dataclass(frozen=True)
class Plan:
    """Every file's action, sorted by path, and what the whole update costs."""

    from_build: str | None
    to_build: str
    actions: tuple[FileAction, ...]
    route: tuple[str, ...]
    """Build ids of the patch route the patched actions follow; ``()`` when none does."""
    download_bytes: int
    full_bytes: int
    peak_disk_bytes: int
    sfc_chunks: tuple[Chunk, ...] = ()
    modified: tuple[str, ...] = ()
    """Installed files the player changed (present, with other content than the manifest's)."""
    patch_error: str = ""
    """Why the route's patch documents could not be read, when they could not: the plan
    then patches nothing. Set by the caller that fetched them, never by :func:`plan_update`."""
    pack_error: str = ""
    """Why a hop's pack index could not be used, when one could not: the plan then uses
    no entry of that hop. Set by the caller, like ``patch_error``."""

    @property
    def saved_bytes(self) -> int:
        return max(0, self.full_bytes - self.download_bytes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        for action in self.actions:
            counts[action.kind] += 1
        return counts

    def of_kind(self, kind: str) -> tuple[FileAction, ...]:
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not one of {', '.join(KINDS)}.")
        return tuple(a for a in self.actions if a.kind == kind)


def plan_update(
    old: Mapping[str, DepotFile] | None,
    new: Mapping[str, DepotFile],
    *,
    from_build: str | None,
    to_build: str,
    hops: Sequence[Hop] = (),
    local_md5: Mapping[str, str] = _NO_LOCAL,
    avoid: Collection[tuple[str, str]] = (),
    use_patches: bool = True,
    small_files: SmallFilesContainer | None = None,
    keep: Collection[str] = (),
    hdiff_max_bytes: int = HDIFF_MAX_BYTES,
    use_packs: bool = True,
) -> Plan:
    """Plan the update from ``old`` (``None``: a fresh install) to ``new``; see the module
    documentation for every rule. ``use_packs=False`` ignores the hops' packs."""
    _check_route(hops, from_build, to_build)
    installed = _Installed(old or {}, local_md5)
    kept = {collision_key(p) for p in keep}
    patching = use_patches and bool(hops) and old is not None
    finders = _Finders(
        diff_finder(hops, avoid) if patching else None,
        pack_finder(hops, hdiff_max_bytes) if patching and use_packs else None,
    )
    target = _by_key(new, "target")
    actions = [_plan_file(path, file, installed, finders, kept) for path, file in target.values()]
    actions += [
        FileAction(PlanKind.DELETED, path, None)
        for key, (path, _) in installed.files.items()
        if key not in target and key not in kept
    ]
    actions.sort(key=lambda a: a.path)
    sfc_chunks = _use_small_files(actions, small_files)
    if sfc_chunks:
        actions = [_from_sfc(a, installed) if _sfc_member(a) else a for a in actions]
    actions, sfc_bytes = _attribute(actions, sfc_chunks)
    steps = [s for a in actions if a.kind == PlanKind.PACKED for s in a.packs]
    carried = extra_bytes(steps)
    if steps:
        # Each file chose its entry alone; the bytes a range carries along between the
        # entries it needs, and deltas that files share, are the whole plan's business.
        # An update with packs never downloads more than the same update without them.
        without = plan_update(
            old, new, from_build=from_build, to_build=to_build, hops=hops,
            local_md5=local_md5, avoid=avoid, use_patches=use_patches,
            small_files=small_files, keep=keep, use_packs=False,
        )  # fmt: skip
        if without.download_bytes < _total(actions, sfc_bytes) + carried:
            return without
    patched = any(a.kind in PATCH_KINDS for a in actions)
    return Plan(
        from_build=from_build,
        to_build=to_build,
        actions=tuple(actions),
        route=(hops[0].from_build, *(h.to_build for h in hops)) if patched else (),
        download_bytes=_total(actions, sfc_bytes) + carried,
        full_bytes=_distinct_bytes(c for f in new.values() for c in f.chunks),
        peak_disk_bytes=_peak_disk(actions, small_files if sfc_chunks else None, steps),
        sfc_chunks=sfc_chunks,
        modified=tuple(sorted(p for p, md5 in local_md5.items() if md5 != MISSING)),
    )


def _total(actions: Sequence[FileAction], sfc_bytes: int) -> int:
    return sum(a.download_bytes for a in actions) + sfc_bytes


def _check_route(hops: Sequence[Hop], from_build: str | None, to_build: str) -> None:
    if not hops:
        return
    builds = [hops[0].from_build] + [h.to_build for h in hops]
    linked = all(a.to_build == b.from_build for a, b in pairwise(hops))
    if not linked or builds[0] != from_build or builds[-1] != to_build:
        raise ValueError(f"The hops {builds} do not lead from {from_build} to {to_build}.")


def _by_key(files: Mapping[str, DepotFile], what: str) -> dict[str, tuple[str, DepotFile]]:
    keyed: dict[str, tuple[str, DepotFile]] = {}
    for path, file in files.items():
        key = collision_key(path)
        if key in keyed:
            raise ValueError(f"The {what} files {keyed[key][0]!r} and {path!r} collide.")
        keyed[key] = (path, file)
    return keyed


@dataclass(frozen=True)
class _Finders:
    diffs: ChainFinder[DepotDiff] | None
    packs: ChainFinder[PackStep] | None


class _Installed:
    """The installed files by collision key, with what may serve as a source."""

    def __init__(self, old: Mapping[str, DepotFile], local_md5: Mapping[str, str]) -> None:
        self.files = _by_key(old, "installed")
        local = {collision_key(p): md5 for p, md5 in local_md5.items()}
        self.on_disk = {k: local.get(k, f.file_md5) for k, (_, f) in self.files.items()}
        sources = sorted(p for k, (p, f) in self.files.items() if self.on_disk[k] == f.file_md5)
        self._by_md5: dict[str, list[str]] = {}
        self._chunks: dict[tuple[str, int], dict[str, int]] = {}
        for path in sources:
            file = old[path]
            self._by_md5.setdefault(file.file_md5, []).append(path)
            offset = 0
            for chunk in file.chunks:
                self._chunks.setdefault((chunk.md5, chunk.size), {}).setdefault(path, offset)
                offset += chunk.size

    def reuse(self, file: DepotFile, own: str | None) -> tuple[ChunkReuse, ...]:
        """Chunks of ``file`` found in installed sources, its own old version first."""
        found = []
        for index, chunk in enumerate(file.chunks):
            holders = self._chunks.get((chunk.md5, chunk.size))
            if holders:
                path = own if own in holders else next(iter(holders))
                found.append(ChunkReuse(index, path, holders[path]))
        return tuple(found)

    def size_of(self, path: str) -> int:
        return self.files[collision_key(path)][1].size

    def patch_sources(self, md5s: Iterable[str], own: str | None) -> list[tuple[str, str]]:
        """(path, md5) of the sources with one of ``md5s``, ``own`` first."""
        found = sorted((p, m) for m in md5s for p in self._by_md5.get(m, ()))
        return sorted(found, key=lambda pm: pm[0] != own)


def _plan_file(
    path: str,
    file: DepotFile,
    installed: _Installed,
    finders: _Finders,
    kept: set[str],
) -> FileAction:
    key = collision_key(path)
    held = installed.files.get(key)
    if held is None:
        return _changed(path, file, None, installed, finders)
    old_path = held[0]
    if key in kept or (old_path == path and installed.on_disk[key] == file.file_md5):
        return FileAction(PlanKind.UNCHANGED, path, file)
    return _changed(path, file, old_path, installed, finders)


def _changed(
    path: str,
    file: DepotFile,
    old_path: str | None,
    installed: _Installed,
    finders: _Finders,
) -> FileAction:
    """The cheapest action for a target file that needs staging."""
    respelled = old_path if old_path is not None and old_path != path else None
    base = _fetch_action(
        PlanKind.FULL if old_path else PlanKind.NEW,
        path,
        file,
        respelled,
        installed.reuse(file, old_path),
    )
    chain = _chain(path, file, old_path, respelled, installed, finders.diffs)
    pack = _chain(path, file, old_path, respelled, installed, finders.packs)
    if pack is not None and not sizes_link(
        pack.steps, installed.size_of(pack.source_path), file.size
    ):
        pack = None  # an index at odds with the manifests: its entries cannot be right
    beats_patch = pack is not None and (chain is None or pack.cost <= chain.cost)
    if pack is not None and beats_patch and pack.cost <= base.download_bytes:
        return FileAction(
            PlanKind.PACKED,
            path,
            file,
            source_path=pack.source_path,
            packs=pack.steps,
            download_bytes=pack.cost,
            fallback=base,
        )
    if chain is None or chain.cost > base.download_bytes:
        return base
    return FileAction(
        PlanKind.PATCHED,
        path,
        file,
        source_path=chain.source_path,
        diffs=chain.steps,
        download_bytes=chain.cost,
        fallback=base,
    )


def _chain(
    path: str,
    file: DepotFile,
    old_path: str | None,
    respelled: str | None,
    installed: _Installed,
    finder: ChainFinder[S] | None,
) -> Chain[S] | None:
    if finder is None:
        return None
    starts = finder.starts_for(file.file_md5)
    sources = installed.patch_sources(starts, old_path)
    if respelled is not None:
        sources = [s for s in sources if s[0] == respelled]
    return finder.cheapest(sources, file.file_md5, path) if sources else None


def _fetch_action(
    whole: PlanKind,
    path: str,
    file: DepotFile,
    respelled: str | None,
    reuse: tuple[ChunkReuse, ...],
) -> FileAction:
    """``chunked`` when a chunk can be copied from disk, else ``whole`` (full or new)."""
    copied = {r.index for r in reuse}
    fetch = tuple(i for i in range(len(file.chunks)) if i not in copied)
    return FileAction(
        PlanKind.CHUNKED if reuse else whole,
        path,
        file,
        source_path=respelled,
        fetch=fetch,
        reuse=reuse,
        download_bytes=_distinct_bytes(file.chunks[i] for i in fetch),
    )


def _sfc_member(action: FileAction) -> bool:
    return (
        action.kind in (PlanKind.NEW, PlanKind.FULL, PlanKind.CHUNKED)
        and action.target is not None
        and action.target.sfc_ref is not None
        and bool(action.fetch)
    )


def _from_sfc(action: FileAction, installed: _Installed) -> FileAction:
    """A small file carved whole from the container: nothing fetched or copied."""
    kind = PlanKind.FULL if collision_key(action.path) in installed.files else PlanKind.NEW
    return replace(action, kind=kind, fetch=(), reuse=(), from_sfc=True, download_bytes=0)


def _use_small_files(
    actions: Sequence[FileAction], small_files: SmallFilesContainer | None
) -> tuple[Chunk, ...]:
    """The container's chunks when fetching it costs less than the small files' own chunks
    that nothing else fetches anyway; ``()`` otherwise."""
    if small_files is None or not small_files.chunks:
        return ()
    members: dict[str, int] = {}
    others: set[str] = set()
    for action in actions:
        objects = {c.compressed_md5: c.compressed_size for c in _fetched_chunks(action)}
        if _sfc_member(action):
            members.update(objects)
        else:
            others.update(objects)
    saved = sum(size for md5, size in members.items() if md5 not in others)
    return small_files.chunks if saved > _distinct_bytes(small_files.chunks) else ()


def _fetched_chunks(action: FileAction) -> list[Chunk]:
    if action.target is None or action.kind in PATCH_KINDS:
        return []
    return [action.target.chunks[i] for i in action.fetch]


def _attribute(
    actions: Sequence[FileAction], sfc_chunks: tuple[Chunk, ...]
) -> tuple[list[FileAction], int]:
    """Charge each distinct object to the first action (in path order) that fetches it."""
    seen: set[tuple[str, str]] = set()

    def charge(space: str, chunks: Iterable[Chunk]) -> int:
        total = 0
        for chunk in chunks:
            if (space, chunk.compressed_md5) not in seen:
                seen.add((space, chunk.compressed_md5))
                total += chunk.compressed_size
        return total

    def charge_entries(steps: Iterable[PackStep]) -> int:
        total = 0
        for step in steps:
            key = (f"pack {step.object.id}", f"{step.entry.offset}+{step.entry.length}")
            if key not in seen:
                seen.add(key)
                total += step.entry.length
        return total

    sfc_bytes = charge("store", sfc_chunks)
    charged = []
    for action in actions:
        if action.kind == PlanKind.PATCHED:
            cost = charge("patches", (c for d in action.diffs for c in d.chunks))
        elif action.kind == PlanKind.PACKED:
            cost = charge_entries(action.packs)
        else:
            cost = charge("store", _fetched_chunks(action))
        charged.append(replace(action, download_bytes=cost))
    return charged, sfc_bytes


def _distinct_bytes(chunks: Iterable[Chunk]) -> int:
    return download_size(chunks)  # the publisher's report counts with the same function


def _peak_disk(
    actions: Sequence[FileAction],
    small_files: SmallFilesContainer | None,
    steps: Sequence[PackStep],
) -> int:
    staged = sum(a.target.size for a in actions if a.kind in _STAGED and a.target is not None)
    deltas = {d.md5: d.size for a in actions if a.kind == PlanKind.PATCHED for d in a.diffs}
    # A span on disk, and each entry cut out of it (an xdelta3 entry inflated too, to
    # about its target's size at most).
    spans = sum(s.length for s in spans_for(steps))
    entries = {(s.object.id, s.entry.offset): s.entry.length for s in steps}
    inflated = {
        (s.object.id, s.entry.offset): s.entry.size_target
        for s in steps
        if s.entry.codec == "xdelta3"
    }
    packs = spans + sum(entries.values()) + sum(inflated.values())
    return staged + sum(deltas.values()) + (small_files.size if small_files else 0) + packs
