"""Update benchmark: the client engine against ``xdelta3 -d``, ``curl`` and zlib on the same data.

Run on demand, never by the test suite::

    .venv/bin/python bench/bench_update.py [--scale N] [--keep] [--workdir DIR] [--big-mib M]
                                           [--no-memory] [--repeat N] [--wait-quiet S]
                                           [--scenario big|many] [--latency-ms MS]

It writes the two builds of ``bench_publish.py`` (about ``N`` × 630 MB, big assets with
scattered edits; ``--scenario many``: 2,000 files of 1 kB to ``N`` × 5 MB, a fifth of them
edited), publishes both into a fresh repository, serves it with
:func:`core.serve.server.make_server` on 127.0.0.1 (in a child process, so the server never
shares the client's GIL or shows up in the client's CPU time), and measures in one run:

1. **Patch and verify.** ``core.update.engine.install`` of build 1, then
   ``core.update.engine.update``
   to build 2; the "patching" and "verifying" phase times come from the progress sink.
   Baseline: for every file the update patches (its own plan, from
   ``core.update.engine.plan_preview``), the same delta (read from the patch depot manifests,
   patch chunks inflated from the repository folder) applied with ``xdelta3 -d -s OLD
   DELTA OUT``, two commands at a time, each output then hashed with sha256; files the
   update assembles from chunks instead are hashed too, as its verifying phase does.
   Ratio: baseline seconds / ours. A breakdown runs the pieces of our patch work alone
   on the same files (md5 of the sources, pyxdelta in :class:`core.delta.xdelta.PatchPool`,
   sha256 of the outputs).
2. **Full download.** A fresh ``core.update.engine.install`` of build 2, against ``curl``
   fetching exactly the same objects from the same server (``--parallel --parallel-max
   4``) and against zlib inflate + md5 of the same objects from disk on two threads, with
   stdlib zlib and with the faster library the engine uses (``core.format.zlibs``).
   Rates are compressed (network) bytes per second; the ratio is ours over the lower
   baseline.
   With ``--latency-ms MS`` the server answers every request (ours and curl's) that
   much later, requests in flight waiting side by side, as a distant CDN would; with
   ``--curl-parallel N`` curl keeps N requests in flight, to show what the bandwidth allows.
3. **Bytes.** The update's ``bytes_downloaded`` against ``bytes_full``.
4. **Peak memory while patching a big file.** A pair of ``--big-mib`` files (1 GiB at
   scale 1) with scattered edits is published, build 1 installed, and the update to
   build 2 run in a child process. ``VmRSS`` of that process and every descendant (the
   forkserver, the patch workers, any ``xdelta3``) is summed every 50 ms from ``/proc``;
   the peak is reported, with PSS (shared pages counted once) beside it and the peak of
   ``xdelta3 -d`` on the same pair.

Parts 1 and 2 run each timed step ``--repeat`` times (default 3; the update goes back to
build 1 with ``core.update.engine.rollback_game`` in between) and report the fastest run with the
spread. "Phase ends at its last item": the engine reports a file-by-file phase (patching,
assembling, verifying) only when its first file is *done*, so its own phase clock
(``report.phases``) charges the first file's work to the phase before. The bench column
therefore ends each phase at its last report (``done == total``) and starts the next one
there. "Cores busy" is CPU seconds over wall seconds of this process tree without the
server; the server's and the rest of the machine's are reported apart, with a warning when
other processes competed for the cores; ``--wait-quiet`` makes each timed step wait for a
quiet moment first. Before each timed step the bench writes back dirty pages, reads the
step's input files and writes and deletes a scratch file as large as the step's output, so
that ours and the baselines all start from the page cache and from memory the VM has not
handed back to its host (see :func:`warm`). The report goes to stdout, progress to stderr.
Speed is reported as ratios against baselines measured in this run; there are no
assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a plain script in a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_mb, log, machine_busy, proc_stats, row, tree_cpu  # noqa: E402

if TYPE_CHECKING:
    from bench_publish import BenchFile

    from core.format.depot import Chunk, DepotFile
    from core.format.patch import DepotDiff
    from core.progress import Progress
    from core.publish.catalog import LoadedBuild
    from core.publish.publisher import PublishReport
    from core.update.plan import Plan
    from core.update.report import OperationReport

# Everything else of Slipstream's is imported inside the functions that use it. The patch
# workers run this script again as they start (multiprocessing's fork server runs the main
# module in each worker it forks), so what this module imports at its top, every worker of
# every update's pool imports too: the publisher and the engine made that 0.2-0.5 s per
# pool, where the `slipstream` command's own main module imports next to nothing.

MB = 1 << 20
PRODUCT = "1207658924"
BIG_PRODUCT = "1207658926"
LANG = "en-US"
XDELTA = shutil.which("xdelta3") or "/usr/bin/xdelta3"
CURL = shutil.which("curl") or "/usr/bin/curl"
CORES = len(os.sched_getaffinity(0))
CURL_PARALLEL = 4  # the engine's default download threads
SAMPLE_SECONDS = 0.05
BIG_EDITS = 400
READ = 1 << 20
FLUSH_THREADS = 16
"""As core/update/stage.py flushes staged files (its ``FLUSH_THREADS``)."""
QUIET_CORES = 0.25
TARGETS = {"apply": 0.9, "download": 1.0, "fast": 0.8, "memory": 300e6}
"""Issue 12's targets: patch + verify ≥ 0.9 of xdelta3 -d + sha256; a full install ≥ 1.0
of stdlib inflate + md5 (the lower baseline) and ≥ 0.8 of the faster library's."""
ENGINE_PHASES = ("planning", "downloading", "patching", "assembling", "verifying", "committing")
T = TypeVar("T")
QUIET = {"wait": 0.0, "waited": 0.0}
"""``--wait-quiet``, and the seconds spent waiting for quiet moments so far."""
SCRATCH = {"dir": Path(tempfile.gettempdir())}
"""Where :func:`warm` writes its scratch file (the work folder, once there is one)."""


# --- CPU accounting: this process tree without the server ----------------------------------


@dataclass(frozen=True)
class Mark:
    wall: float
    ours: float
    """CPU seconds of this process, its reaped children and its live descendants, except
    the server process."""
    server: float
    """CPU seconds of the server process."""
    machine: float
    """CPU seconds the whole machine spent outside idle and iowait."""


class Meter:
    """Takes :class:`Mark` readings; ``server_pid`` is left out of "ours" once set."""

    server_pid: int | None = None

    @classmethod
    def mark(cls) -> Mark:
        wall = time.monotonic()
        ours, server = tree_cpu(skip=cls.server_pid)
        return Mark(wall, ours, server, machine_busy())


@dataclass(frozen=True)
class Span:
    start: Mark
    end: Mark

    @property
    def seconds(self) -> float:
        return max(self.end.wall - self.start.wall, 1e-9)

    @property
    def cores(self) -> float:
        return (self.end.ours - self.start.ours) / self.seconds

    @property
    def server(self) -> float:
        return (self.end.server - self.start.server) / self.seconds

    @property
    def others(self) -> float:
        machine = (self.end.machine - self.start.machine) / self.seconds
        return machine - self.cores - self.server

    def show(self) -> str:
        return f"{self.seconds:.2f} ({self.cores:.2f})"


@dataclass
class Best(Generic[T]):
    """The fastest of repeated runs of one step, with every run's seconds."""

    run: T
    seconds: list[float]

    @staticmethod
    def of(
        runs: list[T], seconds: Callable[[T], float], usable: Callable[[T], bool] = bool
    ) -> Best[T]:
        """The fastest run of those ``usable`` says are a measure (of all, if none is)."""
        times = [seconds(r) for r in runs]
        kept = [r for r in runs if usable(r)] or runs
        return Best(min(kept, key=seconds), times)

    def spread(self) -> str:
        """ "min-max of n" over the runs."""
        if len(self.seconds) < 2:
            return ""
        return f"{min(self.seconds):.2f}-{max(self.seconds):.2f} of {len(self.seconds)}"


def timed(fn: Callable[[], T]) -> tuple[T, Span]:
    start = Meter.mark()
    result = fn()
    return result, Span(start, Meter.mark())


# --- the engine's phases -------------------------------------------------------------------


@dataclass
class PhaseSink:
    """A progress sink that marks each phase's first report and its last one
    (``done == total``); file-by-file phases report a file only when it is done."""

    events: list[tuple[str, bool, Mark]] = field(default_factory=list)
    """(phase, is the phase's first report, reading) in arrival order."""
    _phase: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            first = progress.phase != self._phase
            if first:
                self._phase = progress.phase
                log(f"  phase: {progress.phase}")
            if first or (progress.total >= 0 and progress.done >= progress.total):
                self.events.append((progress.phase, first, Meter.mark()))

    def spans(self, whole: Span) -> dict[str, Span]:
        """Each phase from the previous phase's end to its own last report (or, when it
        never reports done, to the next phase's first report); repeats are merged."""
        runs: list[tuple[str, Mark, Mark | None]] = []  # phase, first report, last done
        for phase, first, mark in self.events:
            if first:
                runs.append((phase, mark, None))
            else:
                name, began, _ = runs[-1]
                runs[-1] = (name, began, mark)
        spans: dict[str, Span] = {}
        start = whole.start
        for n, (phase, _, done) in enumerate(runs):
            later = runs[n + 1][1] if n + 1 < len(runs) else whole.end
            end = done if done is not None and n + 1 < len(runs) else later
            end = max(end, start, key=lambda m: m.wall)
            previous = spans.get(phase)
            if previous is None:
                spans[phase] = Span(start, end)
            else:  # a phase that came back (fallback downloads): add the time up
                spans[phase] = _added(previous, Span(start, end))
            start = end
        return spans


def _added(a: Span, b: Span) -> Span:
    """One span lasting as long as ``a`` and ``b`` together, with their CPU added."""
    d = b.end
    shifted = Mark(
        a.end.wall + (d.wall - b.start.wall),
        a.end.ours + (d.ours - b.start.ours),
        a.end.server + (d.server - b.start.server),
        a.end.machine + (d.machine - b.start.machine),
    )
    return Span(a.start, shifted)


@dataclass
class EngineRun:
    report: OperationReport
    sink: PhaseSink
    span: Span

    @property
    def phases(self) -> dict[str, Span]:
        return self.sink.spans(self.span)

    def seconds(self, *phases: str) -> float:
        spans = self.phases
        return sum(spans[p].seconds for p in phases if p in spans)


def run_engine(fn: Callable[[PhaseSink], OperationReport]) -> EngineRun:
    sink = PhaseSink()
    report, span = timed(lambda: fn(sink))
    return EngineRun(report, sink, span)


# --- data ----------------------------------------------------------------------------------


def publish_build(build: Path, repo: Path, product: str, version: str) -> PublishReport:
    from core.publish.publisher import PublishOptions, publish

    return publish(build, repo, PublishOptions(product=product, version_name=version))


def loaded(repo: Path, product: str) -> tuple[LoadedBuild, LoadedBuild]:
    """(build 1, build 2) as published (newest first in the listing)."""
    from core.format.layout import RepoLayout
    from core.publish.catalog import Catalog

    catalog = Catalog(RepoLayout(repo), product)
    newest, older = catalog.listing("windows").items[:2]
    return catalog.load_build(older), catalog.load_build(newest)


def many_files(scale: float, count: int = 2000) -> tuple[list[BenchFile], list[BenchFile]]:
    """The many-file scenario: ``count`` files of 1 kB to 5 MB × ``scale`` (log-uniform, so
    most are small), every fifth one changed in build 2 by one to three 512-byte edits."""
    from bench_publish import BenchFile

    from core.demo.sample import FileSpec, scattered_edits

    rng = random.Random(12)
    top = max(2_000, int(5 * MB * scale))
    first = []
    for n in range(count):
        size = int(math.exp(rng.uniform(math.log(1_000), math.log(top))))
        path = f"data/pack{n % 40:02}/item{n:04}.bin"
        first.append(BenchFile(path, (FileSpec(path, 5000 + n, size),), n % 97 == 0))
    second = [
        replace(f, parts=(scattered_edits(f.parts[0], 1 + n % 3, 9000 + n),)) if n % 5 == 0 else f
        for n, f in enumerate(first)
    ]
    return first, second


def big_pair(size: int) -> tuple[list[BenchFile], list[BenchFile]]:
    """One big asset with scattered edits, beside a small executable."""
    from bench_publish import BenchFile

    from core.demo.sample import FileSpec, scattered_edits

    exe = BenchFile("Game.exe", (FileSpec("Game.exe", 1, 4 * MB),), True)
    big = BenchFile("data/huge.pak", (FileSpec("data/huge.pak", 77, size),))
    edited = replace(big, parts=(scattered_edits(big.parts[0], BIG_EDITS, 4077),))
    exe2 = replace(exe, parts=(scattered_edits(exe.parts[0], 10, 4001),))
    return [exe, big], [exe2, edited]


class Server:
    """``make_server`` for the repository, serving in a child process."""

    CODE = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from core.serve import server as s\n"
        "delay = float(sys.argv[3]) / 1000\n"
        "if delay:\n"
        "    plain = s._Handler.do_GET\n"
        "    def slow(self):\n"
        "        time.sleep(delay)\n"
        "        plain(self)\n"
        "    s._Handler.do_GET = slow\n"
        "server = s.make_server(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]))\n"
        "print(server.server_address[1], flush=True)\n"
        "server.serve_forever()\n"
    )
    """With ``latency_ms``, every request waits that long before it is answered (requests
    in flight wait side by side), as a CDN far away would: the ``--latency-ms`` scenario."""

    def __init__(self, repo: Path, port: int = 0, latency_ms: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(repo), str(port), str(latency_ms)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}"
        Meter.server_pid = self.proc.pid

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        Meter.server_pid = None


# --- 1. patch and verify ---------------------------------------------------------------------


def repo_deltas(repo: Path, product: str, one: LoadedBuild, two: LoadedBuild) -> list[DepotDiff]:
    """The DepotDiffs of the patch 1 → 2, read from the repository folder."""
    from core.format.layout import RepoLayout
    from core.publish.catalog import Catalog

    catalog = Catalog(RepoLayout(repo), product)
    index = catalog.pair(one.item.build_id, two.item.build_id)
    assert index is not None, "the publisher wrote no patch for 1 → 2"
    root = catalog.patch_root(index)
    return [d for e in root.depots_for(LANG) for d in catalog.patch_depot(e.manifest).items]


def write_deltas(repo: Path, product: str, diffs: list[DepotDiff], out: Path) -> dict[str, Path]:
    """Each delta reassembled from its patch chunks (inflated from the repository)."""
    from core.format.layout import RepoLayout
    from core.publish.catalog import Catalog

    catalog = Catalog(RepoLayout(repo), product)
    out.mkdir(parents=True, exist_ok=True)
    deltas = {}
    for n, diff in enumerate(diffs):
        data = b"".join(catalog.read_chunk(c, patches=True) for c in diff.chunks)
        assert hashlib.md5(data).hexdigest() == diff.md5
        deltas[diff.path_target] = out / f"{n:03}.vcdiff"
        deltas[diff.path_target].write_bytes(data)
    return deltas


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as src:
        while piece := src.read(READ):
            digest.update(piece)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb", buffering=0) as src:
        while piece := src.read(READ):
            digest.update(piece)
    return digest.hexdigest()


@dataclass(frozen=True)
class Job:
    """One file the update stages: a patched one (its source in build 1 and its delta),
    or one the update assembles from chunks, which is only hashed (``copy``: the same
    file in build 2)."""

    target: DepotFile
    source: Path | None = None
    delta: Path | None = None
    copy: Path | None = None

    def inputs(self) -> list[Path]:
        return [p for p in (self.source, self.delta, self.copy) if p is not None]


def update_jobs(plan: Plan, deltas: dict[str, Path], old: Path, new: Path) -> list[Job]:
    """What the update stages, per its own plan, largest first (as a script would)."""
    jobs = []
    for action in plan.actions:
        if action.target is None or action.kind in ("unchanged", "deleted"):
            continue
        if action.kind == "patched":
            (diff,) = action.diffs  # a direct patch: one hop
            jobs.append(Job(action.target, old / diff.path_source, deltas[diff.path_target]))
        else:
            jobs.append(Job(action.target, copy=new / action.path))
    return sorted(jobs, key=lambda j: -j.target.size)


def warm(paths: Iterable[Path], writes: int) -> None:
    """Get a timed step ready: wait for a quiet moment (``--wait-quiet``), write back dirty
    pages, read the step's input files once, then write and delete a scratch file as large
    as what the step will write.

    Both are about this VM, and both even out ours and the baselines. A DAMON "pageout"
    scheme evicts file pages untouched for about 30 s, so a build written a minute earlier
    would be read from the disk again. And memory left free for a while goes back to the
    host: writing 632 MB into the page cache then took 0.6-0.95 s of system time, against
    0.15 s right after another file had been written and deleted.
    """
    wait_for_quiet()
    os.sync()  # no step pays for writing back an earlier step's output
    buffer = bytearray(READ)
    for path in paths:
        with open(path, "rb", buffering=0) as src:
            while src.readinto(buffer):
                pass
    scratch = SCRATCH["dir"] / "scratch"
    zeros = bytes(READ)
    with open(scratch, "wb", buffering=0) as out:
        for _ in range(0, writes, READ):
            out.write(zeros)
    scratch.unlink()


def cli_decode(jobs: list[Job], out: Path, *, flush: bool = False) -> Span:
    """``xdelta3 -d -s OLD DELTA OUT`` and sha256 of OUT for every patched file, and
    sha256 of every other staged file, ``CORES`` files at a time. With ``flush``, each OUT
    is also fsynced before it is hashed: what an update must do besides (a commit never
    names a file a power cut could still lose), and the baseline leaves out."""
    from core.fs import fsync_file

    out.mkdir(parents=True, exist_ok=True)

    def one(n_job: tuple[int, Job]) -> None:
        n, job = n_job
        result = job.copy
        if job.delta is not None:
            result = out / f"{n:03}.out"
            subprocess.run(
                [XDELTA, "-d", "-f", "-s", str(job.source), str(job.delta), str(result)],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            if flush:
                fsync_file(result)
        assert result is not None
        if sha256_of(result) != job.target.sha256:
            raise SystemExit(f"xdelta3 -d made a wrong {job.target.path}")

    outputs = sum(j.target.size for j in jobs if j.delta is not None)
    warm((p for j in jobs for p in j.inputs()), outputs)
    with ThreadPoolExecutor(CORES) as pool:
        _, span = timed(lambda: list(pool.map(one, enumerate(jobs))))
    shutil.rmtree(out)
    return span


@dataclass
class Breakdown:
    """The pieces of our patch work, each alone on the same files."""

    source_md5: Span
    pyxdelta: Span
    sha256: Span
    first_decode: float
    """Seconds from a fresh PatchPool's first submit to the end of its smallest decode."""

    @staticmethod
    def best(runs: list[Breakdown]) -> Breakdown:
        """Each piece's fastest run."""
        return Breakdown(
            min((r.source_md5 for r in runs), key=lambda s: s.seconds),
            min((r.pyxdelta for r in runs), key=lambda s: s.seconds),
            min((r.sha256 for r in runs), key=lambda s: s.seconds),
            min(r.first_decode for r in runs),
        )


def breakdown(staged: list[Job], out: Path) -> Breakdown:
    from core.delta.xdelta import PatchPool

    jobs = [j for j in staged if j.delta is not None]
    out.mkdir(parents=True, exist_ok=True)
    warm((p for j in jobs for p in j.inputs()), sum(j.target.size for j in jobs))
    results = [out / f"{n:03}.out" for n in range(len(jobs))]
    sources = [j.source for j in jobs if j.source is not None]
    deltas = [j.delta for j in jobs if j.delta is not None]
    with ThreadPoolExecutor(CORES) as pool:
        _, md5_span = timed(lambda: list(pool.map(md5_of, sources)))
    smallest = min(range(len(jobs)), key=lambda n: jobs[n].target.size)
    with PatchPool(CORES) as patcher:
        began = time.monotonic()
        patcher.decode(sources[smallest], deltas[smallest], results[smallest]).result()
        first = time.monotonic() - began

        def decode_all() -> None:
            futures = [patcher.decode(*job) for job in zip(sources, deltas, results, strict=True)]
            for future in futures:
                future.result()

        _, decode_span = timed(decode_all)
    with ThreadPoolExecutor(CORES) as pool:
        hashes, sha_span = timed(lambda: list(pool.map(sha256_of, results)))
    if hashes != [j.target.sha256 for j in jobs]:
        raise SystemExit("pyxdelta made a wrong file")
    shutil.rmtree(out)
    return Breakdown(md5_span, decode_span, sha_span, first)


# --- 2. full download ----------------------------------------------------------------------


def install_objects(build: LoadedBuild) -> list[Chunk]:
    """The objects a fresh install of ``build`` downloads (the plan's own choice, small
    files container included), each once."""
    from core.update.apply import objects_of
    from core.update.plan import plan_update

    depots = build.depots
    plan = plan_update(
        None,
        build.files,
        from_build=None,
        to_build=build.item.build_id,
        small_files=depots[0].small_files if len(depots) == 1 else None,
    )
    refs = objects_of(plan.actions)
    chunks = {r.chunk.compressed_md5: r.chunk for r in refs}
    chunks.update({c.compressed_md5: c for c in plan.sfc_chunks})
    return sorted(chunks.values(), key=lambda c: -c.compressed_size)


def download_writes(build: LoadedBuild) -> int:
    """Bytes a fresh install of ``build`` writes: the objects, then the files."""
    return sum(c.compressed_size for c in install_objects(build)) + sum(
        f.size for f in build.files.values()
    )


def curl_fetch(url: str, repo: Path, product: str, chunks: list[Chunk], out: Path) -> Span:
    """``curl --parallel`` fetching every object from the server, wall clock."""
    from core.format import layout

    out.mkdir(parents=True, exist_ok=True)
    config = out.with_suffix(".curlrc")
    lines = []
    for c in chunks:
        lines.append(f'url = "{url}/{layout.store_rel(product, c.compressed_md5)}"')
        lines.append(f'output = "{out / c.compressed_md5}"')
    config.write_text("\n".join(lines) + "\n")
    warm(object_paths(repo, product, chunks), sum(c.compressed_size for c in chunks))
    _, span = timed(
        lambda: subprocess.run(
            [
                CURL,
                "--parallel",
                "--parallel-max",
                str(CURL_PARALLEL),
                "-s",
                "-f",
                "-K",
                str(config),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    )
    got = sum((out / c.compressed_md5).stat().st_size for c in chunks)
    if got != sum(c.compressed_size for c in chunks):
        raise SystemExit("curl fetched other bytes than the objects' sizes")
    shutil.rmtree(out)
    return span


def object_paths(repo: Path, product: str, chunks: list[Chunk]) -> list[Path]:
    from core.format import layout
    from core.format.layout import RepoLayout

    return [RepoLayout(repo).path(layout.store_rel(product, c.compressed_md5)) for c in chunks]


@dataclass
class DownloadPieces:
    """CPU work a full download is made of, each alone on the same data, ``CORES``
    threads: the baseline (inflate + md5 of each chunk) and the rest our install does."""

    inflate: Span
    compressed_md5: Span
    sha256: Span
    fast_inflate: Span
    """The same with the inflater the engine uses (``core.format.zlibs.ACTIVE``)."""
    inflate_only: Span
    """That inflater alone, no hash: the only part of the baseline an install must do."""
    write_only: Span
    """The build's files written from memory into the page cache, not flushed: the CPU an
    install spends putting its bytes into files, whatever else it does."""
    write_fsync: Span
    """The build's files written (from the page cache) and fsynced, as the install stages
    them (writes on ``CORES`` threads, fsyncs on ``FLUSH_THREADS``): what the disk alone
    takes."""
    inflate_runs: list[float] = field(default_factory=list)
    fast_runs: list[float] = field(default_factory=list)

    @staticmethod
    def best(runs: list[DownloadPieces]) -> DownloadPieces:
        """Each piece's fastest run."""
        return DownloadPieces(
            min((r.inflate for r in runs), key=lambda s: s.seconds),
            min((r.compressed_md5 for r in runs), key=lambda s: s.seconds),
            min((r.sha256 for r in runs), key=lambda s: s.seconds),
            min((r.fast_inflate for r in runs), key=lambda s: s.seconds),
            min((r.inflate_only for r in runs), key=lambda s: s.seconds),
            min((r.write_only for r in runs), key=lambda s: s.seconds),
            min((r.write_fsync for r in runs), key=lambda s: s.seconds),
            [r.inflate.seconds for r in runs],
            [r.fast_inflate.seconds for r in runs],
        )


def download_pieces(
    repo: Path, product: str, chunks: list[Chunk], build: Path, files: list[DepotFile]
) -> DownloadPieces:
    from core.format import zlibs
    from core.fs import fsync_file

    paths = object_paths(repo, product, chunks)

    def one(n: int) -> None:
        data = zlib.decompress(paths[n].read_bytes())
        if hashlib.md5(data).hexdigest() != chunks[n].md5:
            raise SystemExit("a chunk inflated to the wrong data")

    def fast(n: int) -> None:
        data = zlibs.ACTIVE.decompressobj().decompress(paths[n].read_bytes(), chunks[n].size + 1)
        if hashlib.md5(data).hexdigest() != chunks[n].md5:
            raise SystemExit("a chunk inflated to the wrong data")

    def fast_only(n: int) -> None:
        data = zlibs.ACTIVE.decompressobj().decompress(paths[n].read_bytes(), chunks[n].size + 1)
        if len(data) != chunks[n].size:
            raise SystemExit("a chunk inflated to the wrong size")

    warm(paths, 32 * MB)
    with ThreadPoolExecutor(CORES) as pool:
        _, inflate = timed(lambda: list(pool.map(one, range(len(chunks)))))
        _, compressed = timed(lambda: list(pool.map(md5_of, paths)))
        _, fast_inflate = timed(lambda: list(pool.map(fast, range(len(chunks)))))
        _, inflate_only = timed(lambda: list(pool.map(fast_only, range(len(chunks)))))
    copies = [build / f.path for f in sorted(files, key=lambda f: -f.size)]
    warm(copies, 32 * MB)
    with ThreadPoolExecutor(CORES) as pool:
        _, sha = timed(lambda: list(pool.map(sha256_of, copies)))
    contents = [path.read_bytes() for path in copies]
    scratch = Path(tempfile.mkdtemp(prefix="write-", dir=build.parent))
    try:
        outs = [scratch / str(n) for n in range(len(copies))]
        warm([], sum(len(c) for c in contents))
        with ThreadPoolExecutor(CORES) as pool:
            _, write_only = timed(lambda: list(pool.map(write_file, contents, outs)))
        shutil.rmtree(scratch)
        scratch.mkdir()
        warm([], sum(len(c) for c in contents))
        with ThreadPoolExecutor(CORES) as pool, ThreadPoolExecutor(FLUSH_THREADS) as flusher:

            def write_flushed(data: bytes, out: Path) -> Future[None]:
                write_file(data, out)
                return flusher.submit(fsync_file, out)

            def write_all() -> None:
                for future in list(pool.map(write_flushed, contents, outs)):
                    future.result()

            _, written = timed(write_all)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return DownloadPieces(inflate, compressed, sha, fast_inflate, inflate_only, write_only, written)


def write_file(data: bytes, out: Path) -> None:
    """``data`` into a new file ``out`` in 1 MiB writes, as the install writes a file."""
    view = memoryview(data)
    with open(out, "wb", buffering=0) as dst:
        for at in range(0, len(data), READ):
            dst.write(view[at : at + READ])


# --- 4. peak memory ------------------------------------------------------------------------

CHILD = """
import json, sys, threading, time
from pathlib import Path
from core.update.engine import update
lock, last = threading.Lock(), [""]
def sink(p):
    with lock:
        if p.phase != last[0] or (p.total >= 0 and p.done >= p.total):
            print(json.dumps([p.phase, p.done, p.total, time.monotonic()]), file=sys.stderr,
                  flush=True)
            last[0] = p.phase
report = update(Path(sys.argv[1]), progress=sink)
print(json.dumps(report.to_json(), default=str))
"""


@dataclass
class MemoryPeak:
    rss: int = 0
    pss: int = 0
    at: float = 0.0
    parts: dict[str, int] = field(default_factory=dict)
    """RSS by role at the moment of the peak sum."""
    roles: dict[str, int] = field(default_factory=dict)
    """Each role's own peak RSS over the run."""
    samples: int = 0
    worst_gap: float = 0.0


class TreeSampler(threading.Thread):
    """Sums VmRSS (and Pss) of ``pid`` and its descendants every ``SAMPLE_SECONDS``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = MemoryPeak()
        self.stop = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.stop.is_set():
            self.sample()
            now = time.monotonic()
            self.peak.worst_gap = max(self.peak.worst_gap, now - last)
            last = now
            self.stop.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        stats = proc_stats()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        roles = {self.pid: "update process"}
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            for kid in children.get(pid, []):
                roles[kid] = _role(kid, roles[pid])
                todo.append(kid)
        rss = pss = 0
        parts: dict[str, int] = {}
        for pid, role in roles.items():
            got = _rss_pss(pid)
            if got is None:
                continue
            rss += got[0]
            pss += got[1]
            parts[role] = parts.get(role, 0) + got[0]
        peak = self.peak
        peak.samples += 1
        for role, value in parts.items():
            peak.roles[role] = max(peak.roles.get(role, 0), value)
        peak.pss = max(peak.pss, pss)
        if rss > peak.rss:
            peak.rss, peak.at, peak.parts = rss, time.monotonic(), parts


def _role(pid: int, parent_role: str) -> str:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    if comm.startswith("xdelta3"):
        return "xdelta3 command"
    if b"forkserver" in cmdline and parent_role == "update process":
        return "forkserver"
    if b"resource_tracker" in cmdline:
        return "resource tracker"
    if parent_role == "forkserver":
        return "patch workers"
    return comm


def _rss_pss(pid: int) -> tuple[int, int] | None:
    """(VmRSS, Pss) in bytes."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
    pss = next((int(x.split()[1]) for x in rollup.splitlines() if x.startswith("Pss:")), 0)
    return rss * 1024, pss * 1024


@dataclass
class MemoryRun:
    size: int
    peak: MemoryPeak
    report: dict[str, Any]
    seconds: float
    phases: dict[str, float]
    """The child's phases, each ending at its last report (as the main table's)."""
    phase_at_peak: str
    cli_peak: int
    cli_seconds: float
    """``xdelta3 -d`` on the big pair plus sha256 of its output."""


def memory_run(game: Path, big: Job, out: Path, env: dict[str, str]) -> MemoryRun:
    """Update ``game`` in a child process while sampling its process tree's memory; then
    ``xdelta3 -d`` on the same big pair, for its own peak."""
    errors = out.with_suffix(".stderr")
    files = [p for p in game.rglob("*") if p.is_file() and ".slipstream" not in p.parts]
    warm(files, sum(p.stat().st_size for p in files))
    began = time.monotonic()
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(game)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        stdout, _ = proc.communicate()
        sampler.stop.set()
        sampler.join()
    seconds = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"the update in the child failed:\n{errors.read_text()}")
    report = json.loads(stdout)
    events = [json.loads(x) for x in errors.read_text().splitlines() if x.startswith("[")]
    phases = _child_phases(events, began, began + seconds)
    at_peak = next((p for p, a, b in phases if a <= sampler.peak.at < b), "?")
    result = out / "big.out"
    out.mkdir(parents=True, exist_ok=True)
    warm(big.inputs(), big.target.size)
    cli_began = time.monotonic()
    cli = subprocess.Popen(
        [XDELTA, "-d", "-f", "-s", str(big.source), str(big.delta), str(result)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(cli.pid, 0)
    cli.returncode = os.waitstatus_to_exitcode(status)
    if cli.returncode != 0 or sha256_of(result) != big.target.sha256:
        raise SystemExit("xdelta3 -d failed on the big pair")
    return MemoryRun(
        big.target.size,
        sampler.peak,
        report,
        seconds,
        {p: b - a for p, a, b in phases},
        at_peak,
        usage.ru_maxrss * 1024,
        time.monotonic() - cli_began,
    )


def _child_phases(
    events: list[list[Any]], start: float, end: float
) -> list[tuple[str, float, float]]:
    """(phase, start, end) from the child's reports, ending file-by-file phases at their
    last report (as the main table does)."""
    runs: list[tuple[str, float, float | None]] = []
    for phase, done, total, t in events:
        if not runs or runs[-1][0] != phase:
            runs.append((phase, t, None))
        if total >= 0 and done >= total:
            runs[-1] = (runs[-1][0], runs[-1][1], t)
    spans = []
    for n, (phase, _, done) in enumerate(runs):
        later = runs[n + 1][1] if n + 1 < len(runs) else end
        finish = max(start, done if done is not None and n + 1 < len(runs) else later)
        spans.append((phase, start, finish))
        start = finish
    return spans


# --- the report ----------------------------------------------------------------------------


@dataclass
class Results:
    builds: tuple[list[BenchFile], list[BenchFile]]
    published: tuple[PublishReport, PublishReport]
    install1: EngineRun
    updates: Best[EngineRun]
    jobs: list[Job]
    clis: Best[Span]
    flushed_clis: Best[Span]
    parts: Breakdown
    installs: Best[EngineRun]
    objects: list[Chunk]
    curls: Best[Span]
    pieces: DownloadPieces

    @property
    def update(self) -> EngineRun:
        return self.updates.run

    @property
    def cli(self) -> Span:
        return self.clis.run

    @property
    def install2(self) -> EngineRun:
        return self.installs.run

    @property
    def curl(self) -> Span:
        return self.curls.run

    memory: MemoryRun | None
    quiet_at_start: float


def noted(line: str, note: str) -> str:
    return f"{line}   {note}"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


OVERLAP_BELOW = 0.5
"""A patching + verifying time under this share of pyxdelta's decode alone on the same files
is no measure: the patches ran inside a longer downloading phase (a slow moment fetching
the chunks of the files the update assembles), which the phase split charges them nothing
for. One big-file run printed 0.08 s and "ratio 11.07" that way."""


def _patch_measured(run: EngineRun, parts: Breakdown) -> bool:
    """Whether an update's patching + verifying is a measure (:data:`OVERLAP_BELOW`)."""
    return run.seconds("patching", "verifying") >= OVERLAP_BELOW * parts.pyxdelta.seconds


def patch_verdict(r: Results, ratio: float) -> str:
    """``met``/``NOT met`` for the patch + verify target, or why this run cannot say."""
    if not _patch_measured(r.update, r.parts):
        return "NOT MEASURED: the patches ended inside the downloading phase; run again"
    return met(ratio >= TARGETS["apply"])


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds / 1e6:,.0f} MB/s"


def report_lines(args: argparse.Namespace, r: Results) -> list[str]:
    xdelta = subprocess.run([XDELTA, "-V"], capture_output=True, text=True).stderr
    curl = subprocess.run([CURL, "--version"], capture_output=True, text=True).stdout
    head = (
        f"Update benchmark, {args.scenario} scenario, scale {args.scale:g}, {CORES} cores, "
        f"{args.latency_ms:g} ms added to every request, curl --parallel-max {CURL_PARALLEL}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{xdelta.split(',')[0]}, curl {curl.split()[1]}"
    )
    return [
        head,
        f"other load on the machine before the run: {r.quiet_at_start:.2f} cores; waited "
        f"{QUIET['waited']:.0f} s for quiet moments (--wait-quiet {args.wait_quiet:g})",
        *_builds(r),
        *_patching(r),
        *_download(r),
        *_bytes(r),
        *_memory(r),
        *_summary(r),
    ]


def _builds(r: Results) -> list[str]:
    one, two = r.published
    patched = [j for j in r.jobs if j.delta is not None]
    others = [j for j in r.jobs if j.delta is None]
    deltas = sum(j.delta.stat().st_size for j in patched if j.delta is not None)
    return [
        "",
        row("builds", "build 1", "build 2"),
        row("  files", str(len(r.builds[0])), str(len(r.builds[1]))),
        row("  bytes", fmt_mb(one.bytes), fmt_mb(two.bytes)),
        row(
            "  full compressed download", fmt_mb(one.compressed_bytes), fmt_mb(two.compressed_bytes)
        ),
        f"  the update's plan: {len(patched)} files patched "
        f"({fmt_mb(sum(j.target.size for j in patched))}, {fmt_mb(deltas)} of deltas), "
        f"{len(others)} assembled from chunks ({fmt_mb(sum(j.target.size for j in others))})",
    ]


def _phase_rows(runs: dict[str, EngineRun]) -> list[str]:
    lines = [row("  total", *(f"{e.span.show()}" for e in runs.values()))]
    for phase in ENGINE_PHASES:
        cells = []
        for e in runs.values():
            span = e.phases.get(phase)
            engine = e.report.phases.get(phase)
            cells.append("-" if span is None else f"{span.show()}")
            cells.append("-" if engine is None else f"{engine:.2f}")
        lines.append(row(f"  {phase}", *cells))
    return lines


def _patching(r: Results) -> list[str]:
    u = r.update
    ours = u.seconds("patching", "verifying")
    cli = r.cli.seconds
    ratio = cli / ours
    b = r.parts
    lines = [
        "",
        "1. patch + verify: core.update.engine.update 1 → 2 from make_server on 127.0.0.1",
        f"  fastest of {len(r.updates.seconds)} updates (each back to build 1 by rollback_game)",
        row("  wall s (cores busy); engine's report.phases", "bench", "engine"),
        *_phase_rows({"update": u}),
        row(
            "  patches applied / fallbacks",
            f"{u.report.patches_applied} / {len(u.report.fallbacks)}",
        ),
        row("  ours: patching + verifying", f"{ours:.2f}", "", r.updates.spread()),
        "",
        row("  baseline, same deltas, same run: wall s (cores busy), fastest"),
        row(
            f"  xdelta3 -d + sha256 of the output, {CORES} at a time",
            r.cli.show(),
            "",
            r.clis.spread(),
        ),
        row("    (and sha256 of the files assembled from chunks, as verifying does)"),
        row(
            "  the same, each output fsynced first",
            r.flushed_clis.run.show(),
            "",
            r.flushed_clis.spread(),
        ),
        row("    (an update must flush what it commits; the target's baseline does not)"),
        row(f"  pieces of our work alone on the same files ({CORES} threads or workers),"),
        row("  each the fastest of its runs:"),
        row("    md5 of the patch sources", b.source_md5.show()),
        row("    pyxdelta decode in PatchPool", b.pyxdelta.show()),
        row("    sha256 of the outputs", b.sha256.show()),
        row("    PatchPool start + smallest decode", f"{b.first_decode:.2f}"),
        "",
        noted(
            row("  ratio xdelta3 -d + sha256 / ours", f"{ratio:.2f}", f"{cli:.2f} / {ours:.2f}"),
            f"target ≥ {TARGETS['apply']}: {patch_verdict(r, ratio)}",
        ),
        row(
            "  ratio flushed xdelta3 -d + sha256 / ours",
            f"{r.flushed_clis.run.seconds / ours:.2f}",
            f"{r.flushed_clis.run.seconds:.2f} / {ours:.2f}",
        ),
        _others({"update": u.span, "patching": u.phases.get("patching"), "xdelta3": r.cli}),
    ]
    return lines


def _download(r: Results) -> list[str]:
    from core.format import zlibs

    i = r.install2
    size = sum(c.compressed_size for c in r.objects)
    data = sum(c.size for c in r.objects)
    ours = i.span.seconds
    inflate = r.pieces.inflate
    lowest = max(r.curl.seconds, inflate.seconds)  # the slower baseline: the lower rate
    ratio = lowest / ours
    name = "curl" if r.curl.seconds >= inflate.seconds else "inflate + md5"
    fast_ratio = r.pieces.fast_inflate.seconds / ours
    return [
        "",
        "2. full download: a fresh core.update.engine.install of build 2",
        f"  fastest of {len(r.installs.seconds)} installs",
        row("  wall s (cores busy); engine's report.phases", "bench", "engine"),
        *_phase_rows({"install": i}),
        row(
            "  objects: count, compressed, inflated",
            str(len(r.objects)),
            fmt_mb(size),
            fmt_mb(data),
        ),
        row("  bytes_downloaded (must equal compressed)", fmt_mb(i.report.bytes_downloaded)),
        "",
        row("  compressed bytes/s: wall s (cores busy)", "seconds", "rate", "all runs"),
        row("  ours, whole install", i.span.show(), rate(size, ours), r.installs.spread()),
        row(
            "  ours, downloading phase only",
            _show(i.phases.get("downloading")),
            rate(size, i.seconds("downloading")),
        ),
        row(
            "  ours, install of build 1 (earlier in the run)",
            r.install1.span.show(),
            rate(r.install1.report.bytes_downloaded, r.install1.span.seconds),
        ),
        row(
            f"  curl --parallel-max {CURL_PARALLEL}, same objects, same server",
            r.curl.show(),
            rate(size, r.curl.seconds),
            r.curls.spread(),
        ),
        row(
            f"  zlib inflate + md5 from disk, {CORES} threads",
            inflate.show(),
            rate(size, inflate.seconds),
            Best(inflate, r.pieces.inflate_runs).spread(),
        ),
        row(
            f"  {zlibs.ACTIVE.inflate_name} inflate + md5 from disk, {CORES} threads",
            r.pieces.fast_inflate.show(),
            rate(size, r.pieces.fast_inflate.seconds),
            Best(r.pieces.fast_inflate, r.pieces.fast_runs).spread(),
        ),
        noted(
            row(
                f"  ratio ours / lower baseline ({name})",
                f"{ratio:.2f}",
                f"{lowest:.2f} / {ours:.2f}",
            ),
            f"target ≥ {TARGETS['download']}: {met(ratio >= TARGETS['download'])}",
        ),
        row("  ratio ours / curl", f"{r.curl.seconds / ours:.2f}"),
        row("  ratio ours / inflate + md5", f"{inflate.seconds / ours:.2f}"),
        noted(
            row(
                f"  ratio ours / {zlibs.ACTIVE.inflate_name} inflate + md5",
                f"{r.pieces.fast_inflate.seconds / ours:.2f}",
            ),
            f"target ≥ {TARGETS['fast']}: {met(fast_ratio >= TARGETS['fast'])}",
        ),
        f"  server process: {i.span.server:.2f} cores during our install, "
        f"{r.curl.server:.2f} during curl",
        "",
        row(f"  the rest of our install's CPU work, alone ({CORES} threads)"),
        row("    md5 of the compressed objects", r.pieces.compressed_md5.show()),
        row("    sha256 of the build's files", r.pieces.sha256.show()),
        row(
            f"    write + fsync ({FLUSH_THREADS} fsync threads)",
            r.pieces.write_fsync.show(),
        ),
        *_floor(r),
        _others({"install": i.span, "curl": r.curl, "inflate": inflate}),
    ]


@dataclass(frozen=True)
class Floor:
    """The least time any install of these files takes on this machine, measured in the
    same run: the longer of the CPU it cannot skip spread over every core, and the disk's
    time to take the files. No network, no server, no bookkeeping: a lower bound."""

    cpu: float
    disk: float

    @property
    def seconds(self) -> float:
        return max(self.cpu, self.disk)


def core_seconds(span: Span) -> float:
    return span.seconds * span.cores


def floor_of(pieces: DownloadPieces) -> Floor:
    """Inflating (the engine's inflater), hashing each file (sha256) and writing the files
    into the page cache are what an install of a GOG build must spend CPU on, whatever its
    design; flushing them is what it must wait for."""
    work = (
        core_seconds(pieces.inflate_only)
        + core_seconds(pieces.sha256)
        + core_seconds(pieces.write_only)
    )
    return Floor(work / CORES, pieces.write_fsync.seconds)


def _floor(r: Results) -> list[str]:
    from core.format import zlibs

    p = r.pieces
    f = floor_of(p)
    ours = r.install2.span.seconds
    best = p.inflate.seconds / f.seconds
    best_fast = p.fast_inflate.seconds / f.seconds
    return [
        row(f"    {zlibs.ACTIVE.inflate_name} inflate alone, no hash", p.inflate_only.show()),
        row("    write of the build's files, not flushed", p.write_only.show()),
        "",
        row("  the floor: what any install of these files takes here, at least"),
        row(
            f"    CPU: inflate + sha256 + write, core-s / {CORES}",
            f"{f.cpu:.2f}",
        ),
        row("    disk: write + fsync of the files", f"{f.disk:.2f}"),
        row("    floor / ours (1.0: nothing left to gain)", f"{f.seconds / ours:.2f}"),
        noted(
            row("    best allowed: inflate + md5 / floor", f"{best:.2f}"),
            f"target {TARGETS['download']}: {_reach(best >= TARGETS['download'])}",
        ),
        noted(
            row(
                f"    best allowed: {zlibs.ACTIVE.inflate_name} inflate + md5 / floor",
                f"{best_fast:.2f}",
            ),
            f"target {TARGETS['fast']}: {_reach(best_fast >= TARGETS['fast'])}",
        ),
    ]


def _reach(ok: bool) -> str:
    return "within reach" if ok else "OUT OF REACH on this machine"


def _show(span: Span | None) -> str:
    return "-" if span is None else span.show()


def _bytes(r: Results) -> list[str]:
    u = r.update.report
    edge = r.published[1].edges[0]
    return [
        "",
        "3. bytes downloaded: update 1 → 2 against a full download of build 2",
        row("  update (report.bytes_downloaded)", f"{u.bytes_downloaded:,}"),
        row("  planned (report.bytes_planned)", f"{u.bytes_planned:,}"),
        row("  full download (report.bytes_full)", f"{u.bytes_full:,}"),
        row("  publisher's edge: update_bytes", f"{edge.update_bytes:,}"),
        row(
            "  bytes_downloaded / bytes_full",
            f"{u.bytes_downloaded / u.bytes_full:.4f}",
            f"{100 * (1 - u.bytes_downloaded / u.bytes_full):.2f} % saved",
        ),
    ]


def _memory(r: Results) -> list[str]:
    m = r.memory
    if m is None:
        return ["", "4. peak memory: skipped (--no-memory)"]
    p = m.peak
    report = m.report
    phases = ", ".join(f"{k} {v:.2f}" for k, v in m.phases.items())
    engine = ", ".join(f"{k} {v:.2f}" for k, v in report.get("phases", {}).items())
    ours = m.phases.get("patching", 0.0) + m.phases.get("verifying", 0.0)
    parts = ", ".join(f"{k} {fmt_mb(v)}" for k, v in sorted(p.parts.items(), key=lambda x: -x[1]))
    roles = ", ".join(f"{k} {fmt_mb(v)}" for k, v in sorted(p.roles.items(), key=lambda x: -x[1]))
    ok = p.rss < TARGETS["memory"]
    return [
        "",
        f"4. peak memory: update of a {m.size / 2**30:.2f} GiB file with {BIG_EDITS} scattered "
        "edits, in a child process",
        row(
            "  update: wall s, patches applied / fallbacks",
            f"{m.seconds:.2f}",
            f"{report['patches_applied']} / {len(report['fallbacks'])}",
        ),
        f"  phases (bench): {phases}",
        f"  phases (its report.phases): {engine}",
        f"  samples: {p.samples} (every {SAMPLE_SECONDS * 1000:.0f} ms; longest gap "
        f"{p.worst_gap * 1000:.0f} ms)",
        noted(
            row("  peak VmRSS, summed over the process tree", fmt_mb(p.rss)),
            f"target < {TARGETS['memory'] / 1e6:.0f} MB: {met(ok)}",
        ),
        f"    at the peak ({m.phase_at_peak}): {parts}",
        f"    each one's own peak: {roles}",
        row("  peak PSS (shared pages counted once), summed", fmt_mb(p.pss)),
        row("  xdelta3 -d on the same pair: peak RSS", fmt_mb(m.cli_peak)),
        "",
        row("  the same update's speed: wall s", width=58),
        row("  ours: patching + verifying (bench phases)", f"{ours:.2f}", width=58),
        row("  xdelta3 -d + sha256 of the output, big file only", f"{m.cli_seconds:.2f}", width=58),
        row(
            "  ratio xdelta3 -d + sha256 / ours", f"{m.cli_seconds / max(ours, 1e-9):.2f}", width=58
        ),
        "  (the memory sampler shares the machine with the child; the update has a small",
        "  Game.exe patch besides the big one, which the command baseline leaves out)",
    ]


def _summary(r: Results) -> list[str]:
    from core.format import zlibs

    apply_ratio = r.cli.seconds / r.update.seconds("patching", "verifying")
    lowest = max(r.curl.seconds, r.pieces.inflate.seconds)
    download_ratio = lowest / r.install2.span.seconds
    fast_ratio = r.pieces.fast_inflate.seconds / r.install2.span.seconds
    floor = floor_of(r.pieces)
    u = r.update.report
    lines = [
        "",
        "targets",
        row(
            f"  patch + verify ≥ {TARGETS['apply']} of xdelta3 -d + sha256",
            f"{apply_ratio:.2f}",
            patch_verdict(r, apply_ratio),
        ),
        row(
            "    the same against xdelta3 -d + fsync + sha256",
            f"{r.flushed_clis.run.seconds / r.update.seconds('patching', 'verifying'):.2f}",
        ),
        row(
            f"  full download ≥ {TARGETS['download']} of the lower baseline",
            f"{download_ratio:.2f}",
            met(download_ratio >= TARGETS["download"]),
        ),
        row(
            f"  full download ≥ {TARGETS['fast']} of {zlibs.ACTIVE.inflate_name} inflate + md5",
            f"{fast_ratio:.2f}",
            met(fast_ratio >= TARGETS["fast"]),
        ),
        row(
            "    the most the floor allows (see 2.)",
            f"{r.pieces.inflate.seconds / floor.seconds:.2f} / "
            f"{r.pieces.fast_inflate.seconds / floor.seconds:.2f}",
        ),
        noted(
            row("  update bytes / full bytes", f"{u.bytes_downloaded / u.bytes_full:.4f}"),
            f"{fmt_mb(u.bytes_downloaded)} of {fmt_mb(u.bytes_full)}",
        ),
    ]
    if r.memory is not None:
        peak = r.memory.peak.rss
        lines.append(
            row(
                "  peak memory patching the big file < 300 MB",
                fmt_mb(peak),
                met(peak < TARGETS["memory"]),
            )
        )
    return lines


def _others(spans: dict[str, Span | None]) -> str:
    shown = {k: v for k, v in spans.items() if v is not None}
    text = ", ".join(f"{k} {v.others:.2f}" for k, v in shown.items())
    line = f"  other load on the machine (cores): {text}"
    if max(v.others for v in shown.values()) > 0.25:
        line += "\n  WARNING: other processes competed for the cores; re-run on a quiet machine"
    return line


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply build sizes")
    parser.add_argument("--keep", action="store_true", help="keep the builds and repository")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp folder)")
    parser.add_argument(
        "--big-mib",
        type=int,
        help="size of the big file for the memory step (default: 1024 × scale)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory step")
    parser.add_argument(
        "--scenario",
        choices=("big", "many"),
        default="big",
        help="big: bench_publish.py's builds (default); many: 2,000 files of 1 kB-5 MB, a "
        "fifth of them changed",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="answer every request (ours and curl's) this many milliseconds late, as a "
        "distant CDN would (the issue's latency scenario: 30)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="run each timed step of parts 1 and 2 N times and keep the fastest (default 3)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each timed step, wait up to this long for the rest of the machine to "
        f"stay under {QUIET_CORES} cores for a second (default: do not wait)",
    )
    parser.add_argument(
        "--curl-parallel",
        type=int,
        default=CURL_PARALLEL,
        metavar="N",
        help=f"curl's --parallel-max (default {CURL_PARALLEL}, the engine's download threads; "
        "with --latency-ms, more shows what the bandwidth allows)",
    )
    args = parser.parse_args(argv)
    globals()["CURL_PARALLEL"] = args.curl_parallel
    QUIET["wait"] = args.wait_quiet
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-update-", dir=args.workdir))
    try:
        run(args, work)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def quiet_now(seconds: float = 1.0) -> float:
    """Cores the rest of the machine kept busy over the next ``seconds``."""
    start = Meter.mark()
    time.sleep(seconds)
    return Span(start, Meter.mark()).others


def wait_for_quiet() -> None:
    """Wait, up to ``--wait-quiet`` seconds, until the rest of the machine stays under
    ``QUIET_CORES`` for a second."""
    deadline = time.monotonic() + QUIET["wait"]
    began = time.monotonic()
    while time.monotonic() < deadline and quiet_now() > QUIET_CORES:
        pass
    QUIET["waited"] += time.monotonic() - began


def run(args: argparse.Namespace, work: Path) -> None:
    from bench_publish import scenario, write_files

    from core.update.engine import install, plan_preview, rollback_game, update
    from core.update.options import EngineOptions

    quiet = quiet_now()
    log(f"other load on the machine: {quiet:.2f} cores")
    home = work / "home"  # the engine's library goes here, not into the user's
    home.mkdir()
    os.environ["SLIPSTREAM_HOME"] = str(home)
    SCRATCH["dir"] = work
    first, second = scenario(args.scale) if args.scenario == "big" else many_files(args.scale)
    old, new, repo = work / "build-1", work / "build-2", work / "repo"
    for label, dest, files in (("1", old, first), ("2", new, second)):
        log(f"writing build {label}: {len(files)} files, {fmt_mb(sum(f.size for f in files))}")
        write_files(dest, files)
    published = []
    for label, build in (("1.0", old), ("1.1", new)):
        log(f"publishing {build.name}")
        published.append(publish_build(build, repo, PRODUCT, label))
    one, two = loaded(repo, PRODUCT)
    if not args.no_memory:
        size = (args.big_mib or max(1, round(1024 * args.scale))) * MB
        for label, files in zip("12", big_pair(size), strict=True):
            dest = work / f"big-{label}"
            log(f"writing big build {label}: {fmt_mb(sum(f.size for f in files))}")
            write_files(dest, files)
            log(f"publishing big build {label}")
            publish_build(dest, repo, BIG_PRODUCT, f"1.{label}")

    server = Server(repo, latency_ms=args.latency_ms)
    try:
        log(f"serving {repo} at {server.url}; installing build 1")
        game = work / "game-a"
        warm(object_paths(repo, PRODUCT, install_objects(one)), download_writes(one))
        install1 = run_engine(
            lambda sink: install(server.url, PRODUCT, game, build=one.item.build_id, progress=sink)
        )
        # Part 1 compares the xdelta3 pipeline with `xdelta3 -d` on the same deltas, so
        # it updates without packs (bench_packs.py measures those); the memory step runs
        # with the defaults, packs included.
        xdelta_only = EngineOptions(use_packs=False)
        plan, _ = plan_preview(game, two.item.build_id, xdelta_only)
        diffs = repo_deltas(repo, PRODUCT, one, two)
        jobs = update_jobs(plan, write_deltas(repo, PRODUCT, diffs, work / "deltas"), old, new)
        updates = []
        for n in range(args.repeat):
            if n:
                rollback_game(game)  # back to build 1, from the rollback point
            log(f"updating to build 2 ({n + 1} of {args.repeat})")
            warm((p for p in game.rglob("*") if p.is_file()), sum(j.target.size for j in jobs))
            updates.append(
                run_engine(lambda sink: update(game, two.item.build_id, xdelta_only, progress=sink))
            )
        log(f"xdelta3 -d + sha256 on {len(jobs)} files, {CORES} at a time")
        clis = [cli_decode(jobs, work / "cli-out") for _ in range(args.repeat)]
        log("the same, each output flushed (fsync) as an update must")
        flushed = [cli_decode(jobs, work / "cli-out", flush=True) for _ in range(args.repeat)]
        log("pieces of our patch work, alone")
        parts = Breakdown.best([breakdown(jobs, work / "pieces-out") for _ in range(args.repeat)])

        objects = install_objects(two)
        installs = []
        for n in range(args.repeat):
            log(f"fresh install of build 2 ({n + 1} of {args.repeat})")
            warm(object_paths(repo, PRODUCT, objects), download_writes(two))
            installs.append(
                run_engine(
                    lambda sink: install(
                        server.url, PRODUCT, work / "game-b", build=two.item.build_id, progress=sink
                    )
                )
            )
            shutil.rmtree(work / "game-b")
        log(f"curl on {len(objects)} objects")
        curls = [
            curl_fetch(server.url, repo, PRODUCT, objects, work / "curl-out")
            for _ in range(args.repeat)
        ]
        log("inflate + md5 baseline, and the other pieces of a download")
        entries = list(two.files.values())
        pieces = DownloadPieces.best(
            [download_pieces(repo, PRODUCT, objects, new, entries) for _ in range(args.repeat)]
        )

        memory = None
        if not args.no_memory:
            big1, big2 = loaded(repo, BIG_PRODUCT)
            log("installing big build 1")
            install(server.url, BIG_PRODUCT, work / "game-c", build=big1.item.build_id)
            big_diffs = repo_deltas(repo, BIG_PRODUCT, big1, big2)
            big_deltas = write_deltas(repo, BIG_PRODUCT, big_diffs, work / "big-deltas")
            big = max(big_diffs, key=lambda d: big2.files[d.path_target].size)
            job = Job(
                big2.files[big.path_target],
                work / "big-1" / big.path_source,
                big_deltas[big.path_target],
            )
            log("updating the big build in a child process, sampling its memory")
            env = {**os.environ, "SLIPSTREAM_HOME": str(home)}
            memory = memory_run(work / "game-c", job, work / "big-out", env)
    finally:
        server.close()

    results = Results(
        (first, second),
        (published[0], published[1]),
        install1,
        Best.of(
            updates,
            lambda e: e.seconds("patching", "verifying"),
            lambda e: _patch_measured(e, parts),
        ),
        jobs,
        Best.of(clis, lambda span: span.seconds),
        Best.of(flushed, lambda span: span.seconds),
        parts,
        Best.of(installs, lambda e: e.span.seconds),
        objects,
        Best.of(curls, lambda span: span.seconds),
        pieces,
        memory,
        quiet,
    )
    print("\n".join(report_lines(args, results)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
