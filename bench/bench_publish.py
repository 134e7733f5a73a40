"""Publish benchmark: our publisher against the ``xdelta3`` command on a pair of large builds.

Run on demand, never by the test suite::

    .venv/bin/python bench/bench_publish.py [--scale N] [--keep] [--workdir DIR] [--jobs N]
                                            [--scenario big|many]

It writes two builds of about ``N`` × 600 MB (generated from seeds by :mod:`core.demo.sample`;
``--scenario many``: the 2,000 files of 1 kB to ``N`` × 5 MB of ``bench_update.py``'s
many-file scenario, a fifth of them edited), publishes the first and then the second into a
fresh repository, and measures in the same run the baselines that the publisher's work is
made of:

- ``xdelta3 -e -S none -B <size>`` encoding every changed file pair of the same two builds,
  ``--jobs`` commands at a time (the encode a shell script on both cores would do);
- zlib level 6 over build 2 in 10 MiB chunks on ``--jobs`` threads, and md5 + sha256 of
  build 2 on one thread (publish = compress + hash + encode).

The report goes to stdout; progress goes to stderr. Phase times come from the publisher's
own progress sink ("chunking", "preparing patches", "patching", "writing documents"), and
CPU use is counted over the whole process tree (threads, the patch pool's forkserver
workers and the ``xdelta3`` commands they run), so "cores busy" shows whether both cores
worked; the report says whether each publish kept issue 12's :data:`CORES_TARGET` cores
busy. Speed is reported as ratios against the baselines, never as absolute targets.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a plain script in a checkout

from common import fmt_mb, log, machine_busy, row, tree_cpu

from core.demo.sample import BLOCK, FileSpec, iter_content, scattered_edits
from core.format.layout import RepoLayout
from core.progress import Progress
from core.publish.catalog import Catalog
from core.publish.publisher import PublishOptions, PublishReport, publish
from core.publish.store import ZLIB_LEVEL, chunk_spans

MB = 1 << 20
PRODUCT = "1207658924"
XDELTA = shutil.which("xdelta3") or "/usr/bin/xdelta3"
CLI_MIN_WINDOW = 512 * 1024  # xdelta3 refuses a smaller -B
T = TypeVar("T")
PHASES = ("scanning", "chunking", "preparing patches", "patching", "writing documents")
CORES_TARGET = 1.6
"""Issue 12: "publish uses both cores (>= 1.6 cores busy) on the many-file scenario"."""
PER_FILE_LINES = 40


# --- the two builds -----------------------------------------------------------------------


@dataclass(frozen=True)
class BenchFile:
    """A file made of one or more seeded parts, written one after the other.

    Two parts let build 2 hold the same bytes as build 1 with its halves swapped: content
    that moved further than pyxdelta's 64 MiB window, which only the command finds.
    """

    path: str
    parts: tuple[FileSpec, ...]
    executable: bool = False

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)


def scenario(scale: float) -> tuple[list[BenchFile], list[BenchFile]]:
    """Build 1 and build 2: big assets with scattered edits, one big file whose content
    moved, a renamed file, a few dozen medium and small files, two added, two removed."""
    rng = random.Random(2026)

    def mib(n: float) -> int:
        return max(BLOCK, int(n * scale * MB))

    def one(path: str, seed: int, size: int, executable: bool = False) -> BenchFile:
        return BenchFile(path, (FileSpec(path, seed, size),), executable)

    def edited(f: BenchFile, count: int, seed: int) -> BenchFile:
        count = max(1, round(count * scale))
        return replace(f, parts=tuple(scattered_edits(p, count, seed) for p in f.parts))

    big = [
        ("data/world.pak", 200, 240),
        ("data/textures.pak", 150, 180),
        ("data/audio.pak", 110, 90),
    ]
    half = mib(40) // BLOCK * BLOCK
    movie = (FileSpec("movie-a", 20, half), FileSpec("movie-b", 21, half))
    first = [one("Game.exe", 1, mib(6), executable=True)]
    first += [one(path, 10 + i, mib(size)) for i, (path, size, _) in enumerate(big)]
    first.append(BenchFile("data/cinematics.bik", movie))
    first.append(one("data/voice_en.pak", 22, mib(12)))
    first += [
        one(f"data/levels/level{i:02}.dat", 100 + i, mib(rng.uniform(1, 4))) for i in range(16)
    ]
    first += [
        one(f"data/scripts/script{i:02}.lua", 200 + i, rng.randrange(1_000, 120_000))
        for i in range(30)
    ]
    first += [one(f"data/legacy/old{i}.dat", 300 + i, 300_000) for i in range(2)]

    edits = {path: count for path, _, count in big}
    second: list[BenchFile] = []
    for n, f in enumerate(first):
        if f.path == "Game.exe":
            f = edited(f, 20, 1001)
        elif f.path in edits:
            f = edited(f, edits[f.path], 1000 + n)
        elif f.path == "data/cinematics.bik":
            f = replace(f, parts=f.parts[::-1])
        elif f.path == "data/voice_en.pak":
            f = replace(edited(f, 20, 1022), path="data/voice/voice_en.pak")
        elif f.path.startswith("data/levels/") and n % 3 == 0:
            f = edited(f, 5, 1000 + n)
        elif f.path.startswith("data/scripts/") and n % 4 == 0:
            f = edited(f, 2, 1000 + n)
        elif f.path.startswith("data/legacy/"):
            continue
        second.append(f)
    second += [one("data/dlc/dlc1.pak", 400, mib(2)), one("data/dlc/readme.txt", 401, 5_000)]
    return first, second


def write_files(dest: Path, files: Iterable[BenchFile]) -> None:
    for f in files:
        target = dest / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for part in f.parts:
                for piece in iter_content(part):
                    out.write(piece)
        os.chmod(target, 0o755 if f.executable else 0o644)


def changed_pairs(old: list[BenchFile], new: list[BenchFile]) -> list[tuple[BenchFile, BenchFile]]:
    """(old, new) pairs the publisher patches: same path with other content, or a new path
    whose name matches a vanished old file (mirrors ``core.publish.chain.pair_files``)."""
    by_path = {f.path: f for f in old}
    new_paths = {f.path for f in new}
    vanished = {f.path.rpartition("/")[2]: f for f in old if f.path not in new_paths}
    pairs = []
    for target in new:
        source = by_path.get(target.path) or vanished.get(target.path.rpartition("/")[2])
        if source is not None and source.parts != target.parts:
            pairs.append((source, target))
    return pairs


# --- CPU accounting over the process tree -------------------------------------------------


@dataclass(frozen=True)
class CpuMark:
    wall: float
    tree: float
    """CPU seconds of this process, its reaped children and every live descendant."""
    machine_busy: float
    """CPU seconds the whole machine spent outside idle and iowait (other users included)."""


def cpu_mark() -> CpuMark:
    """A reading that differences into "cores busy" for this process tree (see
    :func:`common.tree_cpu`) and the machine."""
    wall = time.monotonic()
    tree, _ = tree_cpu()
    return CpuMark(wall, tree, machine_busy())


@dataclass(frozen=True)
class Span:
    """What happened between two readings."""

    start: CpuMark
    end: CpuMark

    @property
    def seconds(self) -> float:
        return max(self.end.wall - self.start.wall, 1e-9)

    @property
    def cores(self) -> float:
        """Cores busy in this process tree."""
        return (self.end.tree - self.start.tree) / self.seconds

    @property
    def others(self) -> float:
        """Cores busy outside this process tree (other users of the machine)."""
        return (self.end.machine_busy - self.start.machine_busy) / self.seconds - self.cores

    def show(self) -> str:
        return f"{self.seconds:.2f} ({self.cores:.2f})"


# --- our publisher ------------------------------------------------------------------------


@dataclass
class PhaseClock:
    """A progress sink that timestamps phase changes (with a CPU reading) and patch jobs."""

    marks: list[tuple[str, CpuMark]] = field(default_factory=list)
    patch_done: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, progress: Progress) -> None:
        if not self.marks or self.marks[-1][0] != progress.phase:
            self.marks.append((progress.phase, cpu_mark()))
            log(f"  phase: {progress.phase}")
        if progress.phase == "patching" and progress.done:
            self.patch_done.append((time.monotonic(), progress.item))

    def phases(self, whole: Span) -> dict[str, Span]:
        """Each phase's span; the time before the first report counts as scanning (the
        publisher reports "scanning" once, when the scan is done). A phase that comes
        back later (the pack builder prepares and patches after the chain builder) is
        listed again as "<phase> #2"."""
        marks = [("scanning", whole.start), *self.marks, ("", whole.end)]
        spans: dict[str, Span] = {}
        label = ""
        for (name, a), (_, b) in itertools.pairwise(marks):
            if label.partition(" #")[0] == name:  # the same phase reported again: one span
                spans[label] = Span(spans[label].start, b)
                continue
            label, n = name, 1
            while label in spans:
                n += 1
                label = f"{name} #{n}"
            spans[label] = Span(a, b)
        return spans

    def started(self, phase: str) -> float | None:
        return next((m.wall for name, m in self.marks if name == phase), None)


@dataclass
class PublishRun:
    report: PublishReport
    clock: PhaseClock
    span: Span

    def patch_phase(self) -> float:
        """From the first "preparing patches" report to "writing documents"."""
        begin = self.clock.started("preparing patches") or self.clock.started("patching")
        finish = self.clock.started("writing documents") or self.span.end.wall
        return finish - begin if begin is not None else 0.0


def run_publish(build: Path, repo: Path, version: str, jobs: int) -> PublishRun:
    clock = PhaseClock()
    start = cpu_mark()
    options = PublishOptions(product=PRODUCT, version_name=version, jobs=jobs)
    report = publish(build, repo, options, progress=clock)
    return PublishRun(report, clock, Span(start, cpu_mark()))


def raw_deltas(repo: Path, pairs: list[tuple[BenchFile, BenchFile]]) -> dict[str, dict[str, int]]:
    """Per target path, the publisher's cached encode result: raw delta size and kept flag."""
    catalog = Catalog(RepoLayout(repo), PRODUCT)
    items = catalog.listing("windows").items  # newest first
    new, old = (catalog.load_build(i).files for i in items[:2])
    cache = RepoLayout(repo).state_dir / "patch-cache"
    out = {}
    for source, target in pairs:
        src, dst = old[source.path].file_md5, new[target.path].file_md5
        try:
            doc = json.loads((cache / src[:2] / f"{src}-{dst}.json").read_text())
        except OSError:
            continue
        out[target.path] = {"size": int(doc["size"]), "kept": int(bool(doc["kept"]))}
    return out


# --- baselines ----------------------------------------------------------------------------


@dataclass
class CliRun:
    span: Span
    per_file: dict[str, tuple[float, int]]  # target path -> (seconds, delta bytes)
    zlib_bytes: int


def cli_encode(
    pairs: list[tuple[BenchFile, BenchFile]], old: Path, new: Path, out: Path, jobs: int
) -> CliRun:
    """``xdelta3 -e -S none -B <source size>`` per pair, ``jobs`` at a time, largest first."""
    out.mkdir(parents=True, exist_ok=True)

    def encode(pair: tuple[BenchFile, BenchFile]) -> tuple[str, float, int]:
        source, target = pair
        delta = out / f"{len(target.path)}-{target.path.replace('/', '_')}.vcdiff"
        window = max(source.size, CLI_MIN_WINDOW)
        began = time.monotonic()
        subprocess.run(
            [XDELTA, "-e", "-f", "-S", "none", "-B", str(window), "-s", str(old / source.path),
             str(new / target.path), str(delta)],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return target.path, time.monotonic() - began, delta.stat().st_size

    ordered = sorted(pairs, key=lambda p: -p[1].size)
    start = cpu_mark()
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(encode, ordered))
    end = cpu_mark()
    packed = sum(len(zlib.compress(p.read_bytes(), ZLIB_LEVEL)) for p in out.iterdir())
    per_file = {path: (secs, size) for path, secs, size in results}
    return CliRun(Span(start, end), per_file, packed)


def zlib_baseline(build: Path, files: list[BenchFile], jobs: int) -> tuple[Span, int]:
    """zlib -6 of every 10 MiB chunk of the build on ``jobs`` threads, and its bytes."""
    spans = []
    for f in files:
        offset = 0
        for length in chunk_spans(f.size):
            spans.append((build / f.path, offset, length))
            offset += length

    def compress(span: tuple[Path, int, int]) -> int:
        path, offset, length = span
        with open(path, "rb") as src:
            src.seek(offset)
            return len(zlib.compress(src.read(length), ZLIB_LEVEL))

    start = cpu_mark()
    with ThreadPoolExecutor(jobs) as pool:
        total = sum(pool.map(compress, spans))
    return Span(start, cpu_mark()), total


def hash_baseline(build: Path, files: list[BenchFile]) -> Span:
    """md5 and sha256 of every file on one thread (what publish does beside compressing)."""
    start = cpu_mark()
    for f in files:
        md5, sha = hashlib.md5(), hashlib.sha256()
        with open(build / f.path, "rb") as src:
            while piece := src.read(MB):
                md5.update(piece)
                sha.update(piece)
    return Span(start, cpu_mark())


# --- the report ---------------------------------------------------------------------------


@dataclass
class Results:
    builds: tuple[list[BenchFile], list[BenchFile]]
    pairs: list[tuple[BenchFile, BenchFile]]
    runs: tuple[PublishRun, PublishRun]
    ours_raw: dict[str, dict[str, int]]
    cli: CliRun
    zlib_span: Span
    zlib_bytes: int
    hash_span: Span


def report_lines(args: argparse.Namespace, r: Results) -> list[str]:
    xdelta = subprocess.run([XDELTA, "-V"], capture_output=True, text=True).stderr
    head = (
        f"Publish benchmark, {args.scenario} scenario, scale {args.scale:g}, "
        f"--jobs {args.jobs} on {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{xdelta.split(',')[0]}"
    )
    return [
        head,
        *_sizes(r),
        *_times(r),
        *_target(r),
        *_patch_bytes(r),
        *_per_file(r),
    ]


def _sizes(r: Results) -> list[str]:
    (first, second), (one, two) = r.builds, r.runs
    edge = two.report.edges[0]
    full = two.report.compressed_bytes
    changed = sum(t.size for _, t in r.pairs)
    return [
        "",
        row("builds", "build 1", "build 2"),
        row("  files", str(len(first)), str(len(second))),
        row("  bytes", fmt_mb(one.report.bytes), fmt_mb(two.report.bytes)),
        row(
            "  full compressed download (compressed_bytes)",
            fmt_mb(one.report.compressed_bytes),
            fmt_mb(full),
        ),
        f"  changed file pairs 1 → 2: {len(r.pairs)}, {fmt_mb(changed)} of targets "
        f"(edge: {edge.files_changed} files changed, {edge.files_patched} patched)",
        "",
        row("download 1 → 2"),
        row("  update (edges[0].update_bytes)", fmt_mb(edge.update_bytes)),
        row("  full compressed download of build 2", fmt_mb(full)),
        row("  saved by the update", f"{100 * (1 - edge.update_bytes / full):.2f} %"),
    ]


def _times(r: Results) -> list[str]:
    one, two = r.runs
    phases1, phases2 = one.clock.phases(one.span), two.clock.phases(two.span)
    lines = [
        "",
        row("publish (ours): wall s (cores busy)", "build 1", "build 2"),
        row("  total", one.span.show(), two.span.show()),
    ]
    for phase in dict.fromkeys([*PHASES, *phases1, *phases2]):
        a, b = phases1.get(phase), phases2.get(phase)
        lines.append(row(f"  {phase}", a.show() if a else "-", b.show() if b else "-"))
    lines += [
        row(
            "  objects written / reused",
            f"{one.report.objects_written} / {one.report.objects_reused}",
            f"{two.report.objects_written} / {two.report.objects_reused}",
        ),
        row("  bytes written", fmt_mb(one.report.bytes_written), fmt_mb(two.report.bytes_written)),
    ]
    cli, patch_phase = r.cli.span, two.patch_phase()
    chunking = phases2["chunking"].seconds if "chunking" in phases2 else 0.0
    lines += [
        "",
        row("baselines, same builds, same run: wall s (cores busy)"),
        row("  xdelta3 -e -S none -B <size>, changed pairs", cli.show()),
        row("  zlib -6 of build 2, 10 MiB chunks", r.zlib_span.show(), fmt_mb(r.zlib_bytes)),
        row("  md5 + sha256 of build 2, one thread", r.hash_span.show()),
        "",
        row("ratios"),
        row(
            "  publish 2 patch phase / xdelta3 CLI encode",
            f"{patch_phase / cli.seconds:.2f}×",
            f"{patch_phase:.2f} / {cli.seconds:.2f}",
        ),
        row(
            "  publish 2 total / xdelta3 CLI encode",
            f"{two.span.seconds / cli.seconds:.2f}×",
            f"{two.span.seconds:.2f} / {cli.seconds:.2f}",
        ),
        row(
            "  publish 2 chunking / zlib of build 2",
            f"{chunking / r.zlib_span.seconds:.2f}×",
            f"{chunking:.2f} / {r.zlib_span.seconds:.2f}",
        ),
    ]
    spans = {"publish 1": one.span, "publish 2": two.span, "xdelta3": cli, "zlib": r.zlib_span}
    others = ", ".join(f"{name} {span.others:.2f}" for name, span in spans.items())
    lines.append(f"  other load on the machine (cores): {others}")
    if max(span.others for span in spans.values()) > 0.25:
        lines.append("  WARNING: other processes competed for the cores; re-run on a quiet machine")
    return lines


def _target(r: Results) -> list[str]:
    lines = ["", row(f"issue 12 target: publish keeps >= {CORES_TARGET} cores busy")]
    for label, run in zip(("publish 1", "publish 2"), r.runs, strict=True):
        cores = run.span.cores
        verdict = "met" if cores >= CORES_TARGET else "NOT met"
        lines.append(
            row(f"  {label}", f"{cores:.2f} cores", f"{cores / CORES_TARGET:.2f}× target", verdict)
        )
    return lines


def _patch_bytes(r: Results) -> list[str]:
    edge = r.runs[1].report.edges[0]
    cli_raw = sum(size for _, size in r.cli.per_file.values())
    raw_all = sum(d["size"] for d in r.ours_raw.values())
    raw_kept = sum(d["size"] for d in r.ours_raw.values() if d["kept"])
    return [
        "",
        row("patch bytes 1 → 2", width=58),
        row(
            "  ours, stored zlib patch chunks (edges[0].patch_bytes)",
            f"{edge.patch_bytes:,}",
            width=58,
        ),
        row("  ours, raw deltas of the kept patches", f"{raw_kept:,}", width=58),
        row("  ours, raw deltas of every encoded pair", f"{raw_all:,}", width=58),
        row("  xdelta3 -e -S none -B <size>, raw deltas", f"{cli_raw:,}", width=58),
        row("  the same xdelta3 deltas through zlib -6", f"{r.cli.zlib_bytes:,}", width=58),
    ]


def _per_file(r: Results) -> list[str]:
    two = r.runs[1]
    patching = two.clock.started("patching") or two.span.start.wall
    done_at = {name: t - patching for t, name in two.clock.patch_done}
    lines = [
        "",
        "per changed file: xdelta3 command (seconds, raw delta bytes); ours (raw delta bytes,",
        "kept or dropped, seconds after the patching phase began when its encode finished)",
    ]
    ordered = sorted(r.pairs, key=lambda p: -p[1].size)
    if len(ordered) > PER_FILE_LINES:
        lines.append(f"(the {PER_FILE_LINES} largest of {len(ordered)} pairs)")
    for _, target in ordered[:PER_FILE_LINES]:
        secs, size = r.cli.per_file[target.path]
        ours = r.ours_raw.get(target.path, {"size": -1, "kept": 0})
        finished = done_at.get(target.path.rpartition("/")[2])
        lines.append(
            f"  {target.path:<26}{fmt_mb(target.size):>10}{secs:>7.2f} s{size:>10,}"
            f"{ours['size']:>10,} {'kept' if ours['kept'] else 'drop'}"
            + ("" if finished is None else f"{finished:>8.2f} s")
        )
    return lines


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply build sizes")
    parser.add_argument("--keep", action="store_true", help="keep the builds and repository")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp folder)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="publisher jobs and baseline processes (default: all cores)",
    )
    parser.add_argument(
        "--scenario",
        choices=("big", "many"),
        default="big",
        help="big assets (default) or bench_update.py's 2,000 files of 1 kB to 5 MB",
    )
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-publish-", dir=args.workdir))
    try:
        run(args, work)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def builds(name: str, scale: float) -> tuple[list[BenchFile], list[BenchFile]]:
    if name == "big":
        return scenario(scale)
    # bench_update imports this module, so it is imported here, once the script has loaded.
    from bench_update import many_files

    return many_files(scale)


def run(args: argparse.Namespace, work: Path) -> None:
    first, second = builds(args.scenario, args.scale)
    old, new, repo = work / "build-1", work / "build-2", work / "repo"
    for label, dest, files in (("1", old, first), ("2", new, second)):
        log(f"writing build {label}: {len(files)} files, {fmt_mb(sum(f.size for f in files))}")
        write_files(dest, files)
    pairs = changed_pairs(first, second)
    runs = []
    for label, build in (("1.0", old), ("1.1", new)):
        log(f"publishing {build.name}")
        runs.append(_timed(lambda b=build, v=label: run_publish(b, repo, v, args.jobs)))
    log(f"xdelta3 command on {len(pairs)} changed pairs, {args.jobs} at a time")
    cli = _timed(lambda: cli_encode(pairs, old, new, work / "cli-deltas", args.jobs))
    log("zlib baseline")
    zlib_span, zlib_bytes = _timed(lambda: zlib_baseline(new, second, args.jobs))
    log("hash baseline")
    hash_span = _timed(lambda: hash_baseline(new, second))
    results = Results(
        (first, second),
        pairs,
        (runs[0], runs[1]),
        raw_deltas(repo, pairs),
        cli,
        zlib_span,
        zlib_bytes,
        hash_span,
    )
    print("\n".join(report_lines(args, results)), flush=True)


def _timed(fn: Callable[[], T]) -> T:
    began = time.monotonic()
    result = fn()
    log(f"  {time.monotonic() - began:.1f} s")
    return result


if __name__ == "__main__":
    sys.exit(main())
