"""Patch-pack benchmark (issue 13): an update with packs against the same update with
GOG's xdelta3 patches only, on three scenarios.

Run on demand, never by the test suite::

    .venv/bin/python bench/bench_packs.py [--workdir DIR] [--keep] [--repeat N]
                                          [--scenario recompiled|big|many ...]
                                          [--big-mib M] [--many-scale S] [--codecs]

Scenarios:

- ``recompiled``: a generated C program (``bench/cproject.py``: 48 modules of generated
  functions, three shared libraries and three executables, gcc -O2 from Debian's
  packages) at two versions that differ as a release does (edited functions, a struct
  with a new field, changed constants, an added module), plus unchanged data files and
  a changed text file.
- ``big``: ``bench_update.py``'s big-file pair, a ``--big-mib`` asset with 400 scattered
  edits beside a 4 MiB executable (above HDiffPatch's bound, so the asset is xdelta3's).
- ``many``: ``bench_update.py``'s many-file scenario, 2,000 files of 1 kB to
  ``--many-scale`` × 5 MB, every fifth one edited: hundreds of small changed files.

For each, both builds are published once into a repository with packs (publish time is
also measured into a second repository with ``--no-packs``), served by
:func:`core.serve.server.make_server` in a child process that logs every request, and
build 1 is installed. Then, ``--repeat`` times for each mode, the game is updated to
build 2 (``EngineOptions(use_packs=True)`` or ``False``, a fresh ``ObjectStore``-free
client each time) and rolled back. Reported per mode: the update's downloaded bytes
(``OperationReport.bytes_downloaded``), its wall time (best and spread), and the
requests the server saw during the update, split into documents and objects (each run's
list in ``requests-<scenario>-<mode>-<run>.txt`` of the work folder). Ratios are
packs over xdelta3-only. ``--codecs`` also compares HDiffPatch's compressors on the
recompiled binaries. The report goes to stdout, progress to stderr; no assertions.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a plain script in a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cproject  # noqa: E402
from bench_publish import write_files  # noqa: E402
from bench_update import big_pair, many_files  # noqa: E402
from common import fmt_mb, log, row  # noqa: E402

from core.update.engine import install, rollback_game, update  # noqa: E402
from core.update.options import EngineOptions  # noqa: E402

PRODUCT = "1207658930"
MB = 1 << 20
TARGET_RECOMPILED = 0.5
"""Issue 13: update bytes with packs ≤ 0.5× xdelta3-only on the recompiled binaries."""
OBJECT_PREFIXES = ("/content-system/v2/store/", "/content-system/v2/patches/store/")
PACK_PREFIX = "/content-system/v2/packs/store/"


class Server:
    """``make_server(verbose=True)`` in a child process; its request log goes to a file."""

    CODE = (
        "import sys\n"
        "from pathlib import Path\n"
        "from core.serve.server import make_server\n"
        "server = make_server(Path(sys.argv[1]), '127.0.0.1', 0, verbose=True)\n"
        "print(server.server_address[1], flush=True)\n"
        "server.serve_forever()\n"
    )

    def __init__(self, repo: Path, log_file: Path) -> None:
        self.log_file = log_file
        self._log = open(log_file, "w")  # noqa: SIM115 - open for the server's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(repo)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def mark(self) -> int:
        return self.log_file.stat().st_size

    def requests_since(self, mark: int) -> list[str]:
        """Paths requested since ``mark`` (the log is line-buffered by the server)."""
        time.sleep(0.2)
        with open(self.log_file, "rb") as f:
            f.seek(mark)
            lines = f.read().decode(errors="replace").splitlines()
        paths = []
        for line in lines:
            if '"GET ' in line or '"HEAD ' in line:
                paths.append(line.split('"', 2)[1].split()[1])
        return paths

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


@dataclass
class Requests:
    documents: int = 0
    objects: int = 0
    pack_objects: int = 0

    @classmethod
    def of(cls, paths: list[str]) -> Requests:
        r = cls()
        for path in paths:
            path = path.split("?", 1)[0]
            if path.startswith(PACK_PREFIX):
                r.pack_objects += 1
            elif path.startswith(OBJECT_PREFIXES):
                r.objects += 1
            else:
                r.documents += 1
        return r

    @property
    def total(self) -> int:
        return self.documents + self.objects + self.pack_objects


@dataclass
class ModeRuns:
    bytes: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    requests: list[Requests] = field(default_factory=list)
    patches: list[int] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)


@dataclass
class ScenarioResult:
    name: str
    files: int
    full_bytes: int
    publish_seconds: dict[str, float]
    edge: dict[str, Any]
    modes: dict[str, ModeRuns]


def publish_both(one: Path, two: Path, repo: Path, packs: bool) -> tuple[float, dict[str, Any]]:
    """Publish builds 1 and 2 with the command; seconds of build 2's publish and its
    edge from ``publish --json``."""
    seconds = 0.0
    edges: list[dict[str, Any]] = []
    for n, folder in enumerate((one, two), 1):
        args = [sys.executable, "-m", "core.cli", "publish", str(folder), "--json"]
        args += ["--repo", str(repo), "--product", PRODUCT, "--version-name", f"v{n}"]
        args += ["--no-progress"]
        if not packs:
            args.append("--no-packs")
        started = time.monotonic()
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"publish failed: {done.stderr}")
        seconds = time.monotonic() - started
        edges = json.loads(done.stdout).get("edges", [])
    return seconds, edges[0] if edges else {}


def run_scenario(name: str, one: Path, two: Path, work: Path, repeat: int) -> ScenarioResult:
    repo = work / f"repo-{name}"
    bare = work / f"repo-{name}-nopacks"
    for folder in (repo, bare):
        shutil.rmtree(folder, ignore_errors=True)
    log(f"{name}: publishing without packs")
    plain_seconds, _ = publish_both(one, two, bare, packs=False)
    shutil.rmtree(bare, ignore_errors=True)
    log(f"{name}: publishing with packs")
    pack_seconds, edge = publish_both(one, two, repo, packs=True)
    files = sum(1 for p in two.rglob("*") if p.is_file())
    server = Server(repo, work / f"server-{name}.log")
    game = work / f"game-{name}"
    shutil.rmtree(game, ignore_errors=True)
    modes = {"xdelta3 only": ModeRuns(), "packs": ModeRuns()}
    try:
        log(f"{name}: installing build 1")
        first = install(server.url, PRODUCT, game, build="1")
        full = first.bytes_full
        for n in range(repeat):
            for mode, runs in modes.items():
                options = EngineOptions(use_packs=mode == "packs")
                mark = server.mark()
                started = time.monotonic()
                report = update(game, "2", options)
                runs.seconds.append(time.monotonic() - started)
                seen = server.requests_since(mark)
                runs.requests.append(Requests.of(seen))
                slug = mode.replace(" ", "-")
                (work / f"requests-{name}-{slug}-{n + 1}.txt").write_text("\n".join(seen) + "\n")
                runs.bytes.append(report.bytes_downloaded)
                runs.patches.append(report.patches_applied)
                runs.fallbacks.append(len(report.fallbacks))
                log(
                    f"{name} run {n + 1} {mode}: {report.bytes_downloaded} bytes, "
                    f"{runs.seconds[-1]:.2f} s, {runs.requests[-1].total} requests, "
                    f"{len(report.fallbacks)} fallbacks"
                )
                rollback_game(game, "1")
    finally:
        server.close()
    return ScenarioResult(
        name,
        files,
        full,
        {"xdelta3 only": plain_seconds, "packs": pack_seconds},
        edge,
        modes,
    )


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def report_lines(results: list[ScenarioResult]) -> list[str]:
    lines = [
        f"# bench_packs on {platform.node()} ({platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores), {time.strftime('%Y-%m-%d %H:%M')}",
        "",
    ]
    for r in results:
        plain, packs = r.modes["xdelta3 only"], r.modes["packs"]
        ratio = min(packs.bytes) / min(plain.bytes) if min(plain.bytes) else float("nan")
        lines += [
            f"## {r.name}: {r.files} files, {fmt_mb(r.full_bytes)} in full",
            row("", "xdelta3 only", "packs", "ratio"),
            row(
                "update bytes (best)",
                fmt_mb(min(plain.bytes)),
                fmt_mb(min(packs.bytes)),
                f"{ratio:.2f}×",
            ),
            row(
                "update bytes (all runs)",
                ",".join(str(b) for b in sorted(set(plain.bytes))),
                ",".join(str(b) for b in sorted(set(packs.bytes))),
            ),
            row(
                "update wall time, best (s)",
                f"{min(plain.seconds):.2f}",
                f"{min(packs.seconds):.2f}",
                f"{min(packs.seconds) / min(plain.seconds):.2f}×",
            ),
            row("update wall time, spread (s)", spread(plain.seconds), spread(packs.seconds)),
            row(
                "requests: documents",
                str(plain.requests[0].documents),
                str(packs.requests[0].documents),
            ),
            row(
                "requests: chunk and patch objects",
                str(plain.requests[0].objects),
                str(packs.requests[0].objects),
            ),
            row("requests: pack objects", "0", str(packs.requests[0].pack_objects)),
            row(
                "requests: total (first run)",
                str(plain.requests[0].total),
                str(packs.requests[0].total),
                f"{packs.requests[0].total / max(1, plain.requests[0].total):.2f}×",
            ),
            row(
                "requests: total (every run)",
                ",".join(str(q.total) for q in plain.requests),
                ",".join(str(q.total) for q in packs.requests),
            ),
            row("patches applied", str(plain.patches[0]), str(packs.patches[0])),
            row("fallbacks", str(max(plain.fallbacks)), str(max(packs.fallbacks))),
            row(
                "publish build 2 (s)",
                f"{r.publish_seconds['xdelta3 only']:.1f}",
                f"{r.publish_seconds['packs']:.1f}",
            ),
            row(
                "edge: xdelta3 patch bytes / pack bytes",
                fmt_mb(r.edge.get("patch_bytes", 0)),
                fmt_mb(r.edge.get("pack_bytes", 0)),
            ),
        ]
        if r.name == "recompiled":
            lines.append(
                f"target: update bytes ≤ {TARGET_RECOMPILED}× xdelta3-only: "
                + ("met" if ratio <= TARGET_RECOMPILED else "missed")
            )
        else:
            lines.append(
                "target: never larger than xdelta3-only: " + ("met" if ratio <= 1 else "missed")
            )
        lines.append("")
    return lines


# --- HDiffPatch's compressors on the recompiled binaries -----------------------------------


def codec_lines(one: Path, two: Path) -> list[str]:
    import hdiffpatch

    pairs = []
    for path in sorted(two.rglob("*")):
        rel = path.relative_to(two)
        old = one / rel
        if path.is_file() and old.is_file() and rel.parts[0] != "data":
            a, b = old.read_bytes(), path.read_bytes()
            if a != b:
                pairs.append((a, b))
    xdelta = 0
    with tempfile.TemporaryDirectory() as tmp:
        for a, b in pairs:
            paths = [Path(tmp) / n for n in ("a", "b", "d")]
            paths[0].write_bytes(a)
            paths[1].write_bytes(b)
            subprocess.run(
                ["xdelta3", "-e", "-9", "-f", "-S", "none", "-s", *map(str, paths)], check=True
            )
            xdelta += len(zlib.compress(paths[2].read_bytes(), 6))
    configs: dict[str, Any] = {
        "none": None,
        "zlib 9": hdiffpatch.ZlibConfig(level=9),
        "zstd 3": hdiffpatch.ZStdConfig(level=3),
        "zstd 9": hdiffpatch.ZStdConfig(level=9),
        "zstd 19 (window 2^23)": hdiffpatch.ZStdConfig(level=19, window=23),
        "zstd 22 (window 2^23)": hdiffpatch.ZStdConfig(level=22, window=23),
        "lzma 9 (window 2^23)": hdiffpatch.LzmaConfig(level=9, window=23),
    }
    total = sum(len(b) for _, b in pairs)
    lines = [
        f"## HDiffPatch compressors: {len(pairs)} changed binaries, {fmt_mb(total)}",
        row("", "delta bytes", "encode (s)", "decode (s)"),
        row("xdelta3 -9 -S none, then zlib 6", str(xdelta)),
    ]
    for name, config in configs.items():
        started = time.perf_counter()
        diffs = [hdiffpatch.diff(a, b, compression=config, validate=False) for a, b in pairs]
        encode = time.perf_counter() - started
        started = time.perf_counter()
        for (a, b), d in zip(pairs, diffs, strict=True):
            assert hdiffpatch.apply(a, d) == b
        decode = time.perf_counter() - started
        lines.append(row(name, str(sum(map(len, diffs))), f"{encode:.2f}", f"{decode:.3f}"))
    return [*lines, ""]


# --- scenarios -------------------------------------------------------------------------------


def write_pair(work: Path, name: str, builds: tuple[list[Any], list[Any]]) -> tuple[Path, Path]:
    one, two = work / f"{name}-1", work / f"{name}-2"
    if not (one.is_dir() and two.is_dir()):
        for folder, files in ((one, builds[0]), (two, builds[1])):
            shutil.rmtree(folder, ignore_errors=True)
            write_files(folder, files)
    return one, two


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=["recompiled", "big", "many"],
        help="run only these (default: all three)",
    )
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--many-scale", type=float, default=0.05)
    parser.add_argument("--codecs", action="store_true", help="compare HDiffPatch compressors")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-packs-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    extra: list[str] = []
    try:
        for name in args.scenario or ["recompiled", "big", "many"]:
            if name == "recompiled":
                log("compiling the two versions (cached in the work folder)")
                one = cproject.build_version(work / "cproject", 1)
                two = cproject.build_version(work / "cproject", 2)
                if args.codecs:
                    extra += codec_lines(one, two)
            elif name == "big":
                one, two = write_pair(work, "big", big_pair(args.big_mib * MB))
            else:
                one, two = write_pair(work, "many", many_files(args.many_scale))
            results.append(run_scenario(name, one, two, work, args.repeat))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(report_lines(results) + extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
