"""How the pack entries an update needs are fetched: one request per pack object.

Pure functions over the planned :class:`~core.update.route.PackStep`\\ s. The entries
needed from one object become one :class:`PackSpan`: the whole object when they cover
most of it (:data:`WHOLE_SHARE`; it is then checked against its md5, its name), else one
HTTP range from the first needed byte to the last (each entry is then checked by its own
md5). So an update with hundreds of changed small files costs one request per pack
object, not one per file, and the planner counts the bytes between entries that a range
carries along (:func:`extra_bytes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.format.pack import PackEntry, PackObject
from core.update.route import PackStep

WHOLE_SHARE = 0.6
"""Fetch the whole object when the needed entries are at least this share of it."""


@dataclass(frozen=True)
class PackSpan:
    """Bytes ``start`` to ``end`` (exclusive) of one pack object, fetched in one request."""

    object: PackObject
    start: int
    end: int
    needed: int
    """Bytes of the entries the update needs inside the span."""

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end == self.object.size

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def key(self) -> str:
        """A name for the span's file in the downloads folder."""
        if self.whole:
            return f"k-{self.object.id}"
        return f"k-{self.object.id}-{self.start}-{self.end}"

    def holds(self, entry: PackEntry) -> bool:
        return self.start <= entry.offset and entry.offset + entry.length <= self.end


def spans_for(steps: Iterable[PackStep]) -> list[PackSpan]:
    """The one span of each object the ``steps`` need, largest first (so the first object
    fetched unblocks the longest decodes), then by object id."""
    entries: dict[str, tuple[PackObject, dict[tuple[int, int], None]]] = {}
    for step in steps:
        held = entries.setdefault(step.object.id, (step.object, {}))
        held[1][(step.entry.offset, step.entry.length)] = None
    spans = []
    for obj, ranges in entries.values():
        needed = _union(ranges)
        start = min(offset for offset, _ in ranges)
        end = max(offset + length for offset, length in ranges)
        if needed >= WHOLE_SHARE * obj.size or (start, end) == (0, obj.size):
            start, end = 0, obj.size
        spans.append(PackSpan(obj, start, end, needed))
    return sorted(spans, key=lambda s: (-s.length, s.object.id))


def extra_bytes(steps: Iterable[PackStep]) -> int:
    """Bytes the spans of ``steps`` fetch beyond their distinct entries."""
    return sum(span.length - span.needed for span in spans_for(steps))


def _union(ranges: Iterable[tuple[int, int]]) -> int:
    """Bytes covered by (offset, length) ranges, overlaps counted once."""
    total, reach = 0, 0
    for offset, length in sorted(ranges):
        end = offset + length
        if end > reach:
            total += end - max(offset, reach)
            reach = end
    return total
