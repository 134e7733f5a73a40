"""Benchmark core.delta.xdelta against the plain ``xdelta3`` command on the same large files.

For each generated pair (scattered edits; halves swapped) it prints our encode time against
``xdelta3 -e -S none`` with its default window, our decode time (pyxdelta) against
``xdelta3 -d``, and the patch sizes. Ratios are against baselines measured in this run; there
are no assertions. Run: ``.venv/bin/python bench/bench_xdelta.py [--size-mib 256]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core.delta.xdelta import decode, encode

MiB = 2**20


def random_bytes(rng: random.Random, size: int) -> bytes:
    # randbytes takes at most 2**31 bits at a time.
    return b"".join(rng.randbytes(min(16 * MiB, size - at)) for at in range(0, size, 16 * MiB))


def make_edited(folder: Path, size: int, edits: int) -> tuple[Path, Path]:
    rng = random.Random(1)
    data = bytearray(random_bytes(rng, size))
    source, target = folder / "edited-old.bin", folder / "edited-new.bin"
    source.write_bytes(data)
    for _ in range(edits):
        at = rng.randrange(size - 64)
        data[at : at + 64] = rng.randbytes(64)
    target.write_bytes(data)
    return source, target


def make_swapped(folder: Path, size: int) -> tuple[Path, Path]:
    data = random_bytes(random.Random(2), size)
    source, target = folder / "swapped-old.bin", folder / "swapped-new.bin"
    source.write_bytes(data)
    target.write_bytes(data[size // 2 :] + data[: size // 2])
    return source, target


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def command(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def bench_pair(name: str, source: Path, target: Path, folder: Path, repeat: int) -> None:
    ours, plain = folder / f"{name}-ours.vcdiff", folder / f"{name}-plain.vcdiff"
    out = folder / f"{name}-out.bin"
    xd = shutil.which("xdelta3") or "xdelta3"

    t_ours = best_of(repeat, lambda: encode(source, target, ours))
    t_plain = best_of(
        repeat, lambda: command(xd, "-e", "-f", "-S", "none", "-s", source, target, plain)
    )
    t_dec = best_of(repeat, lambda: decode(source, ours, out))
    assert out.read_bytes() == target.read_bytes(), "our decode produced the wrong file"
    t_cli_dec = best_of(repeat, lambda: command(xd, "-d", "-f", "-s", source, ours, out))

    print(f"\n{name}: {target.stat().st_size / MiB:.0f} MiB")
    print(
        f"  encode  ours {t_ours:7.2f} s   xdelta3 -e -S none {t_plain:7.2f} s"
        f"   ratio {t_ours / t_plain:5.2f}"
    )
    print(
        f"  decode  ours {t_dec:7.2f} s   xdelta3 -d         {t_cli_dec:7.2f} s"
        f"   ratio {t_dec / t_cli_dec:5.2f}"
    )
    print(
        f"  patch   ours {ours.stat().st_size:>12,} B   plain command {plain.stat().st_size:>12,} B"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1, help="report the best of N runs")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        folder = Path(scratch)
        source, target = make_edited(folder, size, args.edits)
        bench_pair(f"{args.edits} scattered edits", source, target, folder, args.repeat)
        for path in folder.iterdir():
            path.unlink()
        source, target = make_swapped(folder, size)
        bench_pair("halves swapped", source, target, folder, args.repeat)


if __name__ == "__main__":
    main()
