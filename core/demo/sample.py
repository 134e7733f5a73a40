"""Reproducible sample builds, generated from (path, seed, size) descriptions.

The demo, the tests and the benchmarks all need builds of any size that change between
versions the way real games do: most files untouched, some edited in a few places, a few
added, removed or renamed. A file's content is a pure function of its seed, made of
64 KiB blocks that are either random (incompressible, like packed assets) or repetitive
(compressible, like text and tables), so patch and compression ratios are realistic.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

BLOCK = 64 * 1024


@dataclass(frozen=True)
class Edit:
    """Overwrite ``length`` bytes at ``offset`` with bytes drawn from ``seed``."""

    offset: int
    length: int
    seed: int


@dataclass(frozen=True)
class FileSpec:
    path: str
    seed: int
    size: int
    executable: bool = False
    edits: tuple[Edit, ...] = ()


def _block(seed: int, index: int) -> bytes:
    rng = random.Random(seed * 1_000_003 + index)
    if rng.random() < 0.5:
        return rng.randbytes(BLOCK)
    return rng.randbytes(BLOCK // 8) * 8  # repeats within zlib's window: compresses well


def iter_content(spec: FileSpec, piece: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes, ``piece`` bytes at a time (memory stays flat for any size)."""
    pos = 0
    while pos < spec.size:
        end = min(spec.size, pos + piece)
        first, last = pos // BLOCK, (end - 1) // BLOCK
        data = bytearray(b"".join(_block(spec.seed, i) for i in range(first, last + 1)))
        data = data[pos - first * BLOCK : end - first * BLOCK]
        for edit in spec.edits:
            lo, hi = max(pos, edit.offset), min(end, edit.offset + edit.length)
            if lo < hi:
                patch = random.Random(edit.seed).randbytes(edit.length)
                data[lo - pos : hi - pos] = patch[lo - edit.offset : hi - edit.offset]
        yield bytes(data)
        pos = end


def write_build(dest: Path, specs: Iterable[FileSpec], folders: Iterable[str] = ()) -> Path:
    """Write the files (and extra, possibly empty, folders) under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        (dest / folder).mkdir(parents=True, exist_ok=True)
    for spec in specs:
        target = dest / spec.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for piece in iter_content(spec):
                out.write(piece)
        os.chmod(target, 0o755 if spec.executable else 0o644)
    return dest


def scattered_edits(spec: FileSpec, count: int, seed: int, length: int = 512) -> FileSpec:
    """``spec`` with ``count`` small edits spread over the file."""
    if spec.size == 0:
        return spec
    rng = random.Random(seed)
    edits = tuple(
        Edit(
            rng.randrange(0, max(1, spec.size - length)),
            min(length, spec.size),
            rng.randrange(1 << 30),
        )
        for _ in range(count)
    )
    return replace(spec, edits=spec.edits + edits)


def next_build(specs: list[FileSpec], seed: int, changed: float = 0.3) -> list[FileSpec]:
    """The next version of a build: a share ``changed`` of the files edited in a few places,
    one small file added and one removed (never the first, so every build keeps its
    executable, and never a large one, so the big assets stay to be patched)."""
    rng = random.Random(seed)
    result = []
    for spec in specs:
        if spec.size and rng.random() < changed:
            spec = scattered_edits(spec, rng.randrange(1, 6), rng.randrange(1 << 30))
        result.append(spec)
    removable = [i for i, s in enumerate(result) if i > 0 and s.size < (1 << 20)]
    if removable:
        del result[rng.choice(removable)]
    result.append(FileSpec(f"data/added-{seed}.bin", seed, rng.randrange(1, 200_000)))
    return result


def sample_game(scale: int = 1) -> list[list[FileSpec]]:
    """Three builds of a small game (about ``scale`` × 24 MB): the demo's sample."""
    mb = 1 << 20
    first = [
        FileSpec("Game.exe", 1, 3 * mb * scale + 12_345, executable=True),
        FileSpec("data/levels.pak", 2, 14 * mb * scale + 777),
        FileSpec("data/textures.pak", 3, 6 * mb * scale),
        FileSpec("data/audio/music.ogg", 4, 900_000 * scale),
        FileSpec("data/config.ini", 5, 2_000),
        FileSpec("data/strings/en.txt", 6, 40_000),
        FileSpec("readme.txt", 7, 4_321),
        FileSpec("data/empty.flag", 8, 0),
    ]
    second = next_build(first, 101, changed=0.5)
    second[0] = scattered_edits(second[0], 4, 7)
    third = next_build(second, 202, changed=0.5)
    third[0] = scattered_edits(third[0], 3, 9)
    # A renamed and edited file, which the publisher pairs by name for a patch.
    third = [
        scattered_edits(replace(s, path="data/packs/textures.pak"), 2, 11)
        if s.path == "data/textures.pak"
        else s
        for s in third
    ]
    return [first, second, third]
