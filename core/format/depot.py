"""Depot manifests: the files, folders and links of one depot, and their chunks.

Wire shape (reference §4.2): ``{"version": 2, "depot": {"items": [...],
"smallFilesContainer": {...}}}``. Paths are held in the validated ``/`` form and written
back with ``\\`` as game depots use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.errors import FormatError, LimitExceededError, RepositoryError, UnsafePathError
from core.format import paths
from core.format.fields import LIMITS, SHA256, Fields, Limits
from core.format.layout import MD5
from core.format.zjson import inflate

EMPTY_MD5 = hashlib.md5(b"").hexdigest()
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

FLAG_EXECUTABLE = "executable"
FLAG_SUPPORT = "support"


@dataclass(frozen=True)
class Chunk:
    """A piece of a file: ``md5``/``size`` of its bytes, ``compressed_*`` of its zlib body
    (the body's md5 is its address in the store)."""

    md5: str
    size: int
    compressed_md5: str
    compressed_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "md5": self.md5,
            "size": self.size,
            "compressedMd5": self.compressed_md5,
            "compressedSize": self.compressed_size,
        }


def download_size(chunks: Iterable[Chunk]) -> int:
    """Compressed bytes a client downloads to fetch ``chunks``: each object (by
    ``compressed_md5``) once, as a fetcher does. The planner's and the publisher's one
    count of a download, so ``plan`` and ``publish`` never disagree."""
    return sum({c.compressed_md5: c.compressed_size for c in chunks}.values())


def parse_chunk(f: Fields) -> Chunk:
    return Chunk(
        md5=f.md5("md5"),
        size=f.integer("size", 0, f.limits.chunk_bytes),
        compressed_md5=f.md5("compressedMd5"),
        # zlib can grow incompressible data by a few bytes per 16 KiB block.
        compressed_size=f.integer("compressedSize", 0, f.limits.chunk_bytes + (1 << 20)),
    )


def parse_chunks(f: Fields, key: str = "chunks") -> tuple[Chunk, ...]:
    return tuple(parse_chunk(c) for c in f.objects(key, f.limits.chunks_per_file))


@dataclass(frozen=True)
class SfcRef:
    """Where a small file sits inside the inflated small files container."""

    offset: int
    size: int


@dataclass(frozen=True)
class DepotFile:
    path: str
    chunks: tuple[Chunk, ...]
    md5: str | None = None
    sha256: str | None = None
    flags: tuple[str, ...] = ()
    sfc_ref: SfcRef | None = None

    @property
    def size(self) -> int:
        return sum(c.size for c in self.chunks)

    @property
    def compressed_size(self) -> int:
        return sum(c.compressed_size for c in self.chunks)

    @property
    def file_md5(self) -> str:
        """The whole file's md5: explicit, else the single chunk's (reference §4.2)."""
        if self.md5:
            return self.md5
        if not self.chunks:
            return EMPTY_MD5
        if len(self.chunks) == 1:
            return self.chunks[0].md5
        raise FormatError(f"The multi-chunk file {self.path!r} carries no whole-file md5.")

    @property
    def executable(self) -> bool:
        return FLAG_EXECUTABLE in self.flags

    @property
    def support(self) -> bool:
        return FLAG_SUPPORT in self.flags

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "DepotFile",
            "path": paths.to_galaxy(self.path),
            "chunks": [c.to_json() for c in self.chunks],
        }
        if self.md5:
            doc["md5"] = self.md5
        if self.sha256:
            doc["sha256"] = self.sha256
        if self.flags:
            doc["flags"] = list(self.flags)
        if self.sfc_ref:
            doc["sfcRef"] = {"offset": self.sfc_ref.offset, "size": self.sfc_ref.size}
        return doc


@dataclass(frozen=True)
class DepotDirectory:
    path: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "DepotDirectory", "path": paths.to_galaxy(self.path)}


@dataclass(frozen=True)
class DepotLink:
    """A symbolic link; ``target`` is resolved against the install root (as gogdl does)."""

    path: str
    target: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "DepotLink",
            "path": paths.to_galaxy(self.path),
            "target": paths.to_galaxy(self.target),
        }


DepotItem = DepotFile | DepotDirectory | DepotLink


@dataclass(frozen=True)
class SmallFilesContainer:
    chunks: tuple[Chunk, ...]
    md5: str | None = None

    @property
    def size(self) -> int:
        return sum(c.size for c in self.chunks)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"chunks": [c.to_json() for c in self.chunks]}
        if self.md5:
            doc["md5"] = self.md5
        return doc


@dataclass(frozen=True)
class DepotManifest:
    items: tuple[DepotItem, ...]
    small_files: SmallFilesContainer | None = None

    @property
    def files(self) -> tuple[DepotFile, ...]:
        return tuple(i for i in self.items if isinstance(i, DepotFile))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def compressed_size(self) -> int:
        return sum(f.compressed_size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        depot: dict[str, Any] = {"items": [i.to_json() for i in self.items]}
        if self.small_files:
            depot["smallFilesContainer"] = self.small_files.to_json()
        return {"version": 2, "depot": depot}


def parse_depot_manifest(doc: object, where: str, limits: Limits = LIMITS) -> DepotManifest:
    """Validate a depot manifest document (already decoded from zlib JSON)."""
    top = Fields(doc, where, limits)
    if top.has("version") and top.integer("version", 0, 100) != 2:
        raise FormatError(f"{where} is a version {top.data['version']} manifest, not version 2.")
    depot = top.obj("depot")
    items: list[DepotItem] = []
    for i, raw in enumerate(depot.array("items", limits.items_per_depot)):
        plain = _plain_file(raw, limits) if type(raw) is dict else None
        if plain is None:
            items.append(_parse_item(Fields(raw, f"{depot.where}.items[{i}]", limits)))
        else:
            items.append(plain)
    sfc = None
    if depot.has("smallFilesContainer"):
        s = depot.obj("smallFilesContainer")
        sfc = SmallFilesContainer(parse_chunks(s), s.opt_md5("md5"))
    manifest = DepotManifest(tuple(items), sfc)
    _check_consistency(manifest, where, limits)
    return manifest


def _parse_item(f: Fields) -> DepotItem:
    kind = f.text("type")
    path = paths.validate(f.text("path"), f"{f.where}.path")
    if kind == "DepotFile":
        return _parse_file(f, path)
    if kind == "DepotDirectory":
        return DepotDirectory(path)
    if kind == "DepotLink":
        return DepotLink(path, paths.validate(f.text("target"), f"{f.where}.target"))
    raise FormatError(f"{f.where}.type is {kind!r}, not DepotFile, DepotDirectory or DepotLink.")


def _plain_file(item: dict[str, Any], limits: Limits) -> DepotFile | None:
    """A ``DepotFile`` item read without :class:`Fields`, when every field is what an
    honest manifest has; ``None`` sends anything else, good or bad, through
    :func:`_parse_item`, which says exactly what is wrong. It accepts nothing that
    :func:`_parse_item` refuses and reads the same values (tests/format/test_plain_items.py):
    going through :class:`Fields` field by field cost 0.1 s of each 2,000-file manifest,
    read twice per update (the target and the cached copy of the installed build)."""
    if item.get("type") != "DepotFile" or limits.string_chars < 64:
        return None  # (bounds that refuse a hash for its length: the full reader's case)
    raw_path, raw_chunks = item.get("path"), item.get("chunks")
    if (
        type(raw_path) is not str
        or len(raw_path) > limits.string_chars
        or type(raw_chunks) is not list
        or len(raw_chunks) > limits.chunks_per_file
    ):
        return None
    try:
        path = paths.validate(raw_path)
    except UnsafePathError:
        return None
    chunk_bytes = limits.chunk_bytes
    chunks = []
    total = 0
    for c in raw_chunks:
        if type(c) is not dict:
            return None
        md5, size = c.get("md5"), c.get("size")
        cmd5, csize = c.get("compressedMd5"), c.get("compressedSize")
        if (
            type(size) is not int
            or type(csize) is not int
            or not 0 <= size <= chunk_bytes
            or not 0 <= csize <= chunk_bytes + (1 << 20)
            or type(md5) is not str
            or type(cmd5) is not str
            or not MD5.fullmatch(md5)
            or not MD5.fullmatch(cmd5)
        ):
            return None
        chunks.append(Chunk(md5, size, cmd5, csize))
        total += size
    if total > limits.file_bytes:
        return None
    md5, sha256 = item.get("md5"), item.get("sha256")
    if not (_plain_hash(md5, MD5) and _plain_hash(sha256, SHA256)):
        return None
    if md5 is None and len(chunks) > 1:
        return None
    flags: tuple[str, ...] = ()
    raw_flags = item.get("flags")
    if raw_flags is not None:
        if type(raw_flags) is not list or len(raw_flags) > 64:
            return None
        if any(type(flag) is not str for flag in raw_flags):
            return None
        flags = tuple(raw_flags)
    sfc_ref = None
    ref = item.get("sfcRef")
    if ref is not None:
        if type(ref) is not dict:
            return None
        offset, size = ref.get("offset"), ref.get("size")
        if (
            type(offset) is not int
            or type(size) is not int
            or not 0 <= offset <= limits.file_bytes
            or size != total
        ):
            return None
        sfc_ref = SfcRef(offset, size)
    return DepotFile(path, tuple(chunks), md5, sha256, flags, sfc_ref)


def _plain_hash(value: object, pattern: re.Pattern[str]) -> bool:
    """Whether an optional hash field is absent (None) or a plain hash."""
    return value is None or (type(value) is str and pattern.fullmatch(value) is not None)


def _parse_file(f: Fields, path: str) -> DepotFile:
    chunks = parse_chunks(f)
    size = sum(c.size for c in chunks)
    if size > f.limits.file_bytes:
        raise LimitExceededError(f"{f.where} is a {size}-byte file (limit {f.limits.file_bytes}).")
    sfc_ref = None
    if f.has("sfcRef"):
        ref = f.obj("sfcRef")
        sfc_ref = SfcRef(
            ref.integer("offset", 0, f.limits.file_bytes), ref.integer("size", 0, size)
        )
        if sfc_ref.size != size:
            raise FormatError(f"{f.where}.sfcRef.size {sfc_ref.size} differs from its size {size}.")
    md5 = f.opt_md5("md5")
    if md5 is None and len(chunks) > 1:
        raise FormatError(f"{f.where} has {len(chunks)} chunks but no whole-file md5.")
    return DepotFile(
        path=path,
        chunks=chunks,
        md5=md5,
        sha256=f.sha256("sha256"),
        flags=f.texts("flags", 64, default=True),
        sfc_ref=sfc_ref,
    )


def _check_consistency(manifest: DepotManifest, where: str, limits: Limits) -> None:
    entries = [i.path for i in manifest.items if not isinstance(i, DepotDirectory)]
    folders = [i.path for i in manifest.items if isinstance(i, DepotDirectory)]
    paths.check_unique(entries, folders, f"{where} path")
    total = 0
    sfc_size = manifest.small_files.size if manifest.small_files else 0
    for item in manifest.files:
        total += item.size
        ref = item.sfc_ref
        if ref and ref.offset + ref.size > sfc_size:
            raise FormatError(
                f"{where}: {item.path!r} points past the end of its small files container."
            )
    if total > limits.file_bytes:
        raise LimitExceededError(f"{where} describes {total} bytes (limit {limits.file_bytes}).")


def unpack_chunk(body: bytes, chunk: Chunk, what: str, *, check_compressed: bool = True) -> bytes:
    """A stored chunk's data: compressed md5 (unless the caller checked it already, as the
    fetcher does while downloading), inflated under the chunk's size, then size and md5."""
    if check_compressed and hashlib.md5(body).hexdigest() != chunk.compressed_md5:
        raise RepositoryError(f"The {what} is damaged (its md5 does not match).")
    try:
        data = inflate(body, chunk.size, what)
    except FormatError as exc:  # says which: a bomb, a truncated or garbled stream
        raise RepositoryError(exc.detail) from None
    if len(data) != chunk.size or hashlib.md5(data).hexdigest() != chunk.md5:
        raise RepositoryError(f"The {what} inflates to other data than its manifest says.")
    return data
