"""The route through the version chain, and the patch chain of one file along it.

Two pure searches, both shortest paths over compressed bytes:

- :func:`choose_route` (in ``core.format.graph``, which the publisher's graph view
  shares) picks the patch edges of ``graph.json`` to follow from the
  installed build to the target (Dijkstra over ``GraphEdge.bytes``).
- :meth:`ChainFinder.cheapest` picks, for one file, the deltas along that route that turn
  an installed file into the target file. Intermediate manifests are never fetched, so a
  chain is followed by md5 alone: at each hop the file either takes a delta whose
  ``md5_source`` is its current md5, or stays as it is. Only a chain that ends at the
  target md5 counts, which rejects every wrong guess about an intermediate build.

The same search runs twice per file: over GOG's xdelta3 patch depots (steps are
:class:`DepotDiff`, costing their compressed chunks) and over Slipstream's packs (steps
are :class:`PackStep`, costing their entry's length); the planner takes the cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from core.format import paths
from core.format.graph import choose_route as choose_route  # shared with the publisher
from core.format.pack import PackEntry, PackObject
from core.format.patch import DepotDiff


@dataclass(frozen=True)
class PackStep:
    """One entry of a hop's pack, with the object that holds its bytes."""

    entry: PackEntry
    object: PackObject

    @property
    def md5_source(self) -> str:
        return self.entry.md5_source

    @property
    def md5_target(self) -> str:
        return self.entry.md5_target

    @property
    def path_target(self) -> str:
        return self.entry.path_target

    @property
    def length(self) -> int:
        return self.entry.length


@dataclass(frozen=True)
class Hop:
    """One edge of the route, with its patch documents already fetched by the caller;
    ``packs``: the entries of the edge's pack index, when it has one and packs are used."""

    from_build: str
    to_build: str
    diffs: tuple[DepotDiff, ...]
    packs: tuple[PackStep, ...] = ()


class _Step(Protocol):
    @property
    def md5_source(self) -> str: ...

    @property
    def md5_target(self) -> str: ...

    @property
    def path_target(self) -> str: ...


S = TypeVar("S", bound=_Step)


@dataclass(frozen=True)
class Chain(Generic[S]):
    """Deltas to apply in order to ``source_path`` (an unmodified installed file), and
    what they cost to download."""

    source_path: str
    steps: tuple[S, ...]
    cost: int


def diff_cost(diff: DepotDiff) -> int:
    return diff.compressed_size


def pack_cost(step: PackStep) -> int:
    return step.entry.length


# (bytes, deltas, deltas made for another path, source rank, (hop, position) of each delta):
# every part is additive or appended, so the order of two labels survives a common extension.
_Label = tuple[int, int, int, int, tuple[tuple[int, int], ...]]


class ChainFinder(Generic[S]):
    """Indexes the hops' deltas once; then finds each file's cheapest chain.

    ``steps`` are the deltas of each hop, ``cost`` what one costs to download; a delta
    ``usable`` refuses (say, one too large for its codec) is left out."""

    def __init__(
        self,
        steps: Sequence[Sequence[S]],
        cost: Callable[[S], int],
        avoid: Collection[tuple[str, str]] = (),
        usable: Callable[[S], bool] = lambda step: True,
    ) -> None:
        avoided = frozenset(avoid)
        self._cost = cost
        self._by_source: list[dict[str, list[tuple[int, S]]]] = []
        self._by_target: list[dict[str, list[S]]] = []
        for hop in steps:
            by_source: dict[str, list[tuple[int, S]]] = {}
            by_target: dict[str, list[S]] = {}
            for position, diff in enumerate(hop):
                pair = (diff.md5_source, diff.md5_target)
                if diff.md5_source == diff.md5_target or pair in avoided or not usable(diff):
                    continue
                by_source.setdefault(diff.md5_source, []).append((position, diff))
                by_target.setdefault(diff.md5_target, []).append(diff)
            self._by_source.append(by_source)
            self._by_target.append(by_target)

    def starts_for(self, target_md5: str) -> frozenset[str]:
        """The md5s an installed file may have for some chain to reach ``target_md5``."""
        reach = {target_md5}
        for by_target in reversed(self._by_target):
            reach |= {d.md5_source for md5 in list(reach) for d in by_target.get(md5, ())}
        return frozenset(reach - {target_md5})

    def cheapest(
        self, sources: Sequence[tuple[str, str]], target_md5: str, target_path: str
    ) -> Chain[S] | None:
        """The cheapest chain with at least one delta from one of ``sources`` — (path, md5)
        pairs in order of preference — to ``target_md5``, or ``None``.

        Ties go to fewer deltas, then to deltas published for ``target_path`` itself
        (gogdl matches by ``md5_source`` first, then by path), then to the earlier source.
        """
        key = paths.collision_key(target_path)
        states: dict[str, tuple[_Label, str, tuple[S, ...]]] = {}
        for rank, (path, md5) in enumerate(sources):
            if md5 != target_md5 and md5 not in states:
                states[md5] = ((0, 0, 0, rank, ()), path, ())
        for hop_index, by_source in enumerate(self._by_source):
            following = dict(states)  # a file no delta applies to stays as it is
            for md5, (label, path, diffs) in states.items():
                for position, diff in by_source.get(md5, ()):
                    other = int(paths.collision_key(diff.path_target) != key)
                    cost, count, others, rank, ids = label
                    step: _Label = (
                        cost + self._cost(diff),
                        count + 1,
                        others + other,
                        rank,
                        (*ids, (hop_index, position)),
                    )
                    held = following.get(diff.md5_target)
                    if held is None or step < held[0]:
                        following[diff.md5_target] = (step, path, (*diffs, diff))
            states = following
        end = states.get(target_md5)
        return Chain(end[1], end[2], end[0][0]) if end else None


def diff_finder(
    hops: Sequence[Hop], avoid: Collection[tuple[str, str]] = ()
) -> ChainFinder[DepotDiff]:
    """The finder over the hops' xdelta3 patch depots, never through an ``avoid`` pair."""
    return ChainFinder([h.diffs for h in hops], diff_cost, avoid)


def pack_finder(hops: Sequence[Hop], hdiff_max_bytes: int) -> ChainFinder[PackStep] | None:
    """The finder over the hops' pack entries, ``None`` when no hop has any. An
    ``hdiffpatch`` entry for a file above ``hdiff_max_bytes`` is left out: its decoder
    holds both files in memory."""

    def usable(step: PackStep) -> bool:
        e = step.entry
        return e.codec != "hdiffpatch" or max(e.size_source, e.size_target) <= hdiff_max_bytes

    if not any(h.packs for h in hops):
        return None
    return ChainFinder([h.packs for h in hops], pack_cost, usable=usable)


def sizes_link(steps: Sequence[PackStep], source_size: int, target_size: int) -> bool:
    """Whether the entries' sizes agree with each other and with the manifests' sizes of
    the file the chain starts from and the file it ends at."""
    size = source_size
    for step in steps:
        if step.entry.size_source != size:
            return False
        size = step.entry.size_target
    return size == target_size
