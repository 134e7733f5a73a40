"""The demo game's icon and cover, drawn without any image library: a PNG is a signature,
an IHDR chunk, zlib-compressed scanlines and an IEND chunk."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

Pixel = tuple[int, int, int]


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An 8-bit RGB PNG whose colour at (x, y) is ``pixel(x, y)``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _cover(x: int, y: int) -> Pixel:
    # A dusk sky over three hills: something a library grid can tell apart from a blank.
    ground = 300 - 40 * ((x // 60) % 3)
    if y > ground:
        return (30, 70 + (y - ground) // 4, 40)
    sun = (x - 220) ** 2 + (y - 110) ** 2 < 40**2
    return (250, 200, 90) if sun else (40 + y // 3, 40 + y // 5, 120 - y // 4)


def _icon(x: int, y: int) -> Pixel:
    inside = (x - 32) ** 2 + (y - 32) ** 2 < 26**2
    return (250, 200, 90) if inside else (40, 50, 110)


def write_demo_art(folder: Path) -> tuple[Path, Path]:
    """The demo's icon (64×64) and cover (300×400) as PNG files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    icon, cover = folder / "icon.png", folder / "cover.png"
    icon.write_bytes(png(64, 64, _icon))
    cover.write_bytes(png(300, 400, _cover))
    return icon, cover
