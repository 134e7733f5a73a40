"""The route through the version chain, and the patch chain of one file along it.

Two pure searches, both shortest paths over compressed bytes:

- :func:`choose_route` (in ``core.format.graph``, which the publisher's graph view
  shares) picks the patch edges of ``graph.json`` to follow from the
  installed build to the target (Dijkstra over ``GraphEdge.bytes``).
- :func:`cheapest_chain` picks, for one file, the deltas along that route that turn an
  installed file into the target file. Intermediate manifests are never fetched, so a
  chain is followed by md5 alone: at each hop the file either takes a delta whose
  ``md5_source`` is its current md5, or stays as it is. Only a chain that ends at the
  target md5 counts, which rejects every wrong guess about an intermediate build.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.format import paths
from core.format.graph import choose_route as choose_route  # shared with the publisher
from core.format.patch import DepotDiff


@dataclass(frozen=True)
class Hop:
    """One edge of the route, with its patch documents already fetched by the caller."""

    from_build: str
    to_build: str
    diffs: tuple[DepotDiff, ...]


@dataclass(frozen=True)
class Chain:
    """Deltas to apply in order to ``source_path`` (an unmodified installed file)."""

    source_path: str
    diffs: tuple[DepotDiff, ...]

    @property
    def compressed_size(self) -> int:
        return sum(d.compressed_size for d in self.diffs)


# (bytes, deltas, deltas made for another path, source rank, (hop, position) of each delta):
# every part is additive or appended, so the order of two labels survives a common extension.
_Label = tuple[int, int, int, int, tuple[tuple[int, int], ...]]


class ChainFinder:
    """Indexes the hops' deltas once; then finds each file's cheapest chain."""

    def __init__(self, hops: Sequence[Hop], avoid: Collection[tuple[str, str]] = ()) -> None:
        avoided = frozenset(avoid)
        self._by_source: list[dict[str, list[tuple[int, DepotDiff]]]] = []
        self._by_target: list[dict[str, list[DepotDiff]]] = []
        for hop in hops:
            by_source: dict[str, list[tuple[int, DepotDiff]]] = {}
            by_target: dict[str, list[DepotDiff]] = {}
            for position, diff in enumerate(hop.diffs):
                pair = (diff.md5_source, diff.md5_target)
                if diff.md5_source == diff.md5_target or pair in avoided:
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
    ) -> Chain | None:
        """The cheapest chain with at least one delta from one of ``sources`` — (path, md5)
        pairs in order of preference — to ``target_md5``, or ``None``.

        Ties go to fewer deltas, then to deltas published for ``target_path`` itself
        (gogdl matches by ``md5_source`` first, then by path), then to the earlier source.
        """
        key = paths.collision_key(target_path)
        states: dict[str, tuple[_Label, str, tuple[DepotDiff, ...]]] = {}
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
                        cost + diff.compressed_size,
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
        return Chain(end[1], end[2]) if end else None
