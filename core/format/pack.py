"""Pack indexes, Slipstream's extension beside GOG's xdelta3 patch depots (issue 13).

One index per graph edge (``from_build_id`` → ``to_build_id``) lists, for every changed
file that has a delta, which codec made it and where its bytes sit: ``length`` bytes at
``offset`` in one pack object. A pack object is the plain concatenation of its entries
(not zlib-wrapped as a whole), named by the md5 of its bytes; each entry is
self-contained, so it can be fetched alone with an HTTP range and checked by its own
``md5``. ``hdiffpatch`` entries are HDiffPatch compressed diffs; ``xdelta3`` entries are
a VCDIFF delta in one zlib stream, as GOG's patch chunks are.

The index lives at :func:`core.format.layout.pack_meta_rel` as zlib JSON named by the
md5 of its compressed bytes, and is reached only through the edge's ``pack`` field in
graph.json, so GOG clients never see it. Reading is strict: anything out of place
refuses the whole index, and the client then updates without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import FormatError
from core.format import layout, paths
from core.format.fields import LIMITS, Fields, Limits

VERSION = 1
CODECS = ("hdiffpatch", "xdelta3")
"""The codecs an entry may name; anything else refuses the index."""


@dataclass(frozen=True)
class PackObject:
    """One pack object: ``size`` bytes at the root-relative ``link``, md5 ``id``."""

    id: str
    link: str
    size: int


@dataclass(frozen=True)
class PackEntry:
    """One file's delta: ``length`` bytes at ``offset`` in ``objects[object]``.

    ``md5`` is the md5 of those bytes. Applied to the file ``md5_source`` (``size_source``
    bytes) the delta gives ``md5_target`` (``size_target`` bytes). Paths are ``/``-separated
    here and in the depot manifests' ``\\`` form in JSON, as :class:`DepotDiff`'s are."""

    path_source: str
    path_target: str
    codec: str
    object: int
    offset: int
    length: int
    md5: str
    md5_source: str
    md5_target: str
    sha256_source: str | None
    sha256_target: str | None
    size_source: int
    size_target: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class PackIndex:
    product_id: str
    from_build_id: str
    to_build_id: str
    objects: tuple[PackObject, ...]
    files: tuple[PackEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "product_id": self.product_id,
            "from_build_id": self.from_build_id,
            "to_build_id": self.to_build_id,
            "objects": [{"id": o.id, "link": o.link, "size": o.size} for o in self.objects],
            "files": [
                {
                    "path_source": paths.to_galaxy(e.path_source),
                    "path_target": paths.to_galaxy(e.path_target),
                    "codec": e.codec,
                    "object": e.object,
                    "offset": e.offset,
                    "length": e.length,
                    "md5": e.md5,
                    "md5_source": e.md5_source,
                    "md5_target": e.md5_target,
                    "sha256_source": e.sha256_source,
                    "sha256_target": e.sha256_target,
                    "size_source": e.size_source,
                    "size_target": e.size_target,
                }
                for e in self.files
            ],
        }


def object_link(product_id: str, md5: str) -> str:
    """The one link a pack object of ``product_id`` named ``md5`` may have."""
    return layout.url_path(layout.pack_store_rel(product_id, md5))


def parse_pack_index(doc: object, where: str, limits: Limits = LIMITS) -> PackIndex:
    """Read a pack index, refusing anything out of place with a :class:`FormatError`."""
    f = Fields(doc, where, limits)
    version = f.integer("version", 0, 1 << 31)
    if version != VERSION:
        raise FormatError(f"{where} is pack index version {version}; only {VERSION} is known.")
    product_id = f.id("product_id")
    objects = tuple(
        _parse_object(o, product_id, limits)
        for o in f.objects("objects", limits.pack_objects_per_index)
    )
    if len({o.id for o in objects}) != len(objects):
        raise FormatError(f"{where}.objects lists the same object twice.")
    files = tuple(
        _parse_entry(e, objects, limits) for e in f.objects("files", limits.items_per_depot)
    )
    paths.check_unique([e.path_target for e in files], what=f"{where} target path")
    return PackIndex(product_id, f.id("from_build_id"), f.id("to_build_id"), objects, files)


def _parse_object(o: Fields, product_id: str, limits: Limits) -> PackObject:
    md5 = o.md5("id")
    link = o.text("link")
    expected = object_link(product_id, md5)
    if link != expected:
        raise FormatError(f"{o.where}.link is {link!r}; a pack object's link is {expected!r}.")
    return PackObject(md5, link, o.integer("size", 0, limits.pack_object_bytes))


def _parse_entry(e: Fields, objects: tuple[PackObject, ...], limits: Limits) -> PackEntry:
    codec = e.text("codec")
    if codec not in CODECS:
        raise FormatError(
            f"{e.where}.codec is {codec!r}; a pack entry's codec is one of {', '.join(CODECS)}."
        )
    index = e.integer("object", 0, max(len(objects) - 1, 0))
    if not objects:
        raise FormatError(f"{e.where}.object names an object, but the index lists none.")
    offset = e.integer("offset", 0, limits.pack_object_bytes)
    length = e.integer("length", 0, limits.pack_object_bytes)
    size = objects[index].size
    if offset + length > size:
        raise FormatError(
            f"{e.where} spans bytes {offset}..{offset + length} of an object of {size} bytes."
        )
    return PackEntry(
        path_source=paths.validate(e.text("path_source"), f"{e.where}.path_source"),
        path_target=paths.validate(e.text("path_target"), f"{e.where}.path_target"),
        codec=codec,
        object=index,
        offset=offset,
        length=length,
        md5=e.md5("md5"),
        md5_source=e.md5("md5_source"),
        md5_target=e.md5("md5_target"),
        sha256_source=e.sha256("sha256_source"),
        sha256_target=e.sha256("sha256_target"),
        size_source=e.integer("size_source", 0, limits.file_bytes),
        size_target=e.integer("size_target", 0, limits.file_bytes),
    )
