"""Does the window stay responsive while an update runs?

Two scenarios, each publishing two builds, installing the first, then pressing Update in
the real window (Qt offscreen) while a 5 ms timer on the GUI thread records how long the
event loop went without running it:

- ``big``: one large file (default 512 MiB) with a few scattered edits, so the update is
  one long xdelta3 decode plus hashing;
- ``many``: thousands of small files (default 2,500), most of them changed, so per-file
  reports flood the window's files list and the games row.

The baseline is the same probe over an idle window for the same length of time, in the
same run, so the ratio says what the update costs the event loop on this machine, not how
noisy it is; the longest wait is also given as a ratio to the target.

Target (issues "The desktop app" and 15): longest stall under 50 ms during the update.

    .venv/bin/python bench/bench_gui.py [--scenario big|many|both] [--size-mib 512]
                                        [--files 2500] [--why]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typing import TYPE_CHECKING

# Slipstream's modules and PySide6 are imported where they are used: every process the
# window starts (a job's process, the patch workers) runs this main script's top level
# again (Python 3.11's fork server does not keep it imported), and heavy imports here made
# each update in the window seconds longer than it is under the slipstream-gui command.
if TYPE_CHECKING:
    from core.demo.sample import FileSpec

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = "1207664643"
TARGET_MS = 50.0
NOTABLE_MS = 30.0


class Probe:
    """A 5 ms timer that records the gaps between its ticks."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.long: list[tuple[float, float]] = []
        """(when the wait began, its length in ms) of each wait over the target."""
        self.notable: list[tuple[float, float]] = []
        """The same for each wait over :data:`NOTABLE_MS` (what ``--why`` explains)."""
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self._last = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000
        self.gaps.append(gap)
        if gap > NOTABLE_MS:
            self.notable.append((self._last, gap))
        if gap > TARGET_MS:
            self.long.append((self._last, gap))
        self._last = now

    def run_until(self, done: Callable[[], bool], limit: float) -> float:
        """Run Qt's own event loop, as the app does, until ``done()``: a Python loop of
        processEvents and sleep would itself wait for the GIL twice per turn and count
        those waits as the window's."""
        self.gaps.clear()
        self.long.clear()
        self.notable.clear()
        self._last = time.perf_counter()
        started = self._last
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        check = QTimer()
        check.setInterval(20)

        def _on_check_timeout() -> None:
            if done() or time.perf_counter() - started > limit:
                loop.quit()

        check.timeout.connect(_on_check_timeout)
        self.timer.start()
        check.start()
        if not done():
            loop.exec()
        check.stop()
        self.timer.stop()
        return time.perf_counter() - started

    def summary(self) -> dict[str, float]:
        gaps = sorted(self.gaps) or [0.0]
        return {
            "ticks": len(gaps),
            "max": gaps[-1],
            "p99": gaps[int(len(gaps) * 0.99) - 1 if len(gaps) > 1 else 0],
            "median": statistics.median(gaps),
            "over_50": sum(g > 50 for g in gaps),
        }


def big_builds(size_mib: int) -> tuple[list[FileSpec], list[FileSpec]]:
    from core.demo.sample import FileSpec, scattered_edits

    big = FileSpec("data/assets.pak", 1, size_mib << 20)
    first = [big, FileSpec("Game.exe", 2, 3 << 20, executable=True)]
    return first, [scattered_edits(big, 6, 5), scattered_edits(first[1], 2, 7)]


def many_builds(count: int) -> tuple[list[FileSpec], list[FileSpec]]:
    """``count`` files of 2 to 60 kB in 50 folders; the second build edits three in
    four of them and adds one in fifty."""
    from core.demo.sample import FileSpec, scattered_edits

    rng = random.Random(15)
    first = [
        FileSpec(f"data/{n % 50:02}/file{n:05}.bin", n + 1, rng.randrange(2_000, 60_000))
        for n in range(count)
    ]
    second = [scattered_edits(s, 1, n) if n % 4 else s for n, s in enumerate(first)]
    second += [FileSpec(f"data/new/add{n:05}.bin", 90_000 + n, 5_000) for n in range(count // 50)]
    return first, second


def run_scenario(
    name: str, builds: tuple[list[FileSpec], list[FileSpec]], root: Path, why: bool = False
) -> bool:
    """Publish, serve, install, update in the window; print the probe's figures."""
    from core.demo.sample import write_build
    from core.publish.publisher import PublishOptions, publish
    from core.update.engine import install

    os.environ["SLIPSTREAM_HOME"] = str(root / "home")
    t0 = time.perf_counter()
    for n, specs in enumerate(builds, 1):
        folder = write_build(root / "builds" / str(n), specs)
        publish(folder, root / "repo", PublishOptions(PRODUCT, version_name=f"1.{n}"))
    files = len(builds[1])
    print(f"[{name}] published 2 builds ({files} files) in {time.perf_counter() - t0:.1f} s")
    with served(root / "repo") as url:
        game = (root / "game").resolve()
        install(url, PRODUCT, game, build="1")
        return _update_in_window(name, game, why)


SERVE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from core.serve.server import make_server\n"
    "server = make_server(Path(sys.argv[1]), '127.0.0.1', 0)\n"
    "print(server.server_address[1], flush=True)\n"
    "server.serve_forever()\n"
)


@contextmanager
def served(repo: Path) -> Iterator[str]:
    """The repository served from a child process, as a player's server is elsewhere: a
    server thread in the window's process would compete with it for the GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(repo)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(10)


class StallSampler:
    """``--why``: a thread that, once the probe has not ticked for :data:`SAMPLE_AFTER_MS`,
    takes the GUI thread's Python stack every few milliseconds until it ticks again. Each
    wait over :data:`NOTABLE_MS` is printed with the stacks seen during it: Python of ours,
    a Qt call, or the event loop itself (then the process was not scheduled, or a C call
    that holds the GIL ran on another thread)."""

    SAMPLE_AFTER_MS = 15.0

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.samples: list[tuple[float, str]] = []
        self.sched: dict[float, tuple[tuple[int, int], tuple[int, int]]] = {}
        """Per wait: the GUI thread's (ns on a CPU, ns waiting for one) when first and
        last sampled (Linux schedstat): the gap says whether it ran, waited for a CPU,
        or waited for something else (the GIL, a lock)."""
        self._gui = threading.get_ident()
        self._schedstat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)

    def __enter__(self) -> StallSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import traceback

        while not self._stop.wait(0.003):
            last = self.probe._last
            if (time.perf_counter() - last) * 1000 < self.SAMPLE_AFTER_MS:
                continue
            reading = self._read_schedstat()
            if reading is not None:
                first = self.sched.get(last, (reading, reading))[0]
                self.sched[last] = (first, reading)
            frames = sys._current_frames()
            for ident, other in frames.items():
                if ident not in (self._gui, threading.get_ident()):
                    top = traceback.extract_stack(other)[-1]
                    where = f"{Path(top.filename).name}:{top.lineno} {top.name}"
                    self.samples.append((last, "other thread: " + where))
            frame = frames.get(self._gui)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-4:]
            where = " < ".join(
                f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
            )
            self.samples.append((last, where))

    def _read_schedstat(self) -> tuple[int, int] | None:
        try:
            cpu, queue, _ = self._schedstat.read_text().split()
        except (OSError, ValueError):
            return None
        return int(cpu), int(queue)

    def explain(self, waits: list[tuple[float, float]]) -> None:
        for began, gap in waits:
            seen: dict[str, int] = {}
            for when, where in self.samples:
                if when == began:
                    seen[where] = seen.get(where, 0) + 1
            (cpu0, queue0), (cpu1, queue1) = self.sched.get(began, ((0, 0), (0, 0)))
            print(
                f"  during the {gap:.1f} ms wait, sampled from {self.SAMPLE_AFTER_MS:.0f} ms in: "
                f"GUI thread ran {(cpu1 - cpu0) / 1e6:.1f} ms, waited for a CPU "
                f"{(queue1 - queue0) / 1e6:.1f} ms; stacks:"
            )
            for where, count in sorted(seen.items(), key=lambda kv: -kv[1])[:8]:
                print(f"    {count:3d} x {where}")


class FullCollections:
    """The length of each of CPython's full (generation 2) collections: each holds the GIL,
    so the window waits for it whichever thread runs it."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.spans: list[tuple[float, float]] = []
        self.clicked = 0.0
        """(start, end) of each, by time.perf_counter()."""
        self._began: dict[int, float] = {}

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        thread = threading.get_ident()
        if phase == "start":
            self._began[thread] = time.perf_counter()
        elif thread in self._began:
            began, now = self._began.pop(thread), time.perf_counter()
            self.seconds.append(now - began)
            self.spans.append((began, now))


def _update_in_window(name: str, game: Path, why: bool) -> bool:
    with FullCollections() as collections:
        ok = _update_in_window_probed(name, game, why, collections)
    longest = max(collections.seconds, default=0.0) * 1000
    clicked = collections.clicked
    each = ", ".join(
        f"{(e - b) * 1000:.1f} ms at {b - clicked:+.1f} s" for b, e in collections.spans
    )
    print(
        f"[{name}] full garbage collections in the window's process: "
        f"{len(collections.seconds)}, longest {longest:.1f} ms ({each}; seconds from the "
        "click on Update; the first is the window's own at start-up)"
    )
    return ok


def _update_in_window_probed(
    name: str, game: Path, why: bool, collections: FullCollections
) -> bool:
    from PySide6.QtWidgets import QPushButton, QTreeWidget

    from gui.app import create_main_window

    window = create_main_window(tray=False, check_on_start=False)
    window.show()
    finished: list[tuple[object, ...]] = []
    window.jobFinished.connect(lambda *a: finished.append(a))
    probe = Probe()
    # The window's start-up work (the account read from the keyring, the library's sizes
    # and art) is not the update's: it finishes before the check and the update begin.
    probe.run_until(lambda: not window.jobs.jobs, 60)
    window.select_game(str(game))
    window.check_game(str(game))
    probe.run_until(lambda: any(f[1] == "check" for f in finished), 60)
    # The player presses Update once the builds list shows each build's cost: the check's
    # follow-up (the estimate, which plans every build) is not the update's work either.
    probe.run_until(lambda: not window.jobs.jobs, 60)
    builds = window.findChild(QTreeWidget, "buildsView")
    update = window.findChild(QPushButton, "updateButton")
    newest = builds.topLevelItem(0) if builds is not None else None
    assert newest is not None and update is not None
    builds.setCurrentItem(newest)
    phases: list[tuple[float, str]] = []

    def _on_progress_changed(key: str) -> None:
        state = window.ops.store.progress.get(key)
        if state is not None and (not phases or phases[-1][1] != state.phase):
            phases.append((time.perf_counter(), state.phase))

    window.ops.progressChanged.connect(_on_progress_changed)
    clicked = collections.clicked = time.perf_counter()
    sampler = StallSampler(probe)
    with sampler if why else contextlib.nullcontext():
        update.click()
        seconds = probe.run_until(lambda: any(f[1] == "update" for f in finished), 900)
    during = probe.summary()
    _print_waits(probe.long, phases, clicked, collections)
    if why:
        sampler.explain(probe.notable)
    result = next((f for f in finished if f[1] == "update"), (None, None, False, "timed out"))
    # The baseline starts once the window's follow-up reads (history, size) are done.
    probe.run_until(lambda: not window.jobs.jobs, 60)
    probe.run_until(lambda: False, seconds)
    idle = probe.summary()
    window.quitting = True
    window.close()
    _print(name, seconds, result, idle, during)
    return bool(result[2])


def _print_waits(
    waits: list[tuple[float, float]],
    phases: list[tuple[float, str]],
    clicked: float,
    collections: FullCollections,
) -> None:
    """Each wait over the target: when it began after the click on Update, and the
    phase the window had last shown by then."""
    if phases:
        print("phases (s after Update):", ", ".join(f"{p} {t - clicked:.2f}" for t, p in phases))
    for began, gap in waits:
        phase = next((p for t, p in reversed(phases) if t <= began), "before the first report")
        ended = began + gap / 1000
        inside = [(e - b) * 1000 for b, e in collections.spans if b < ended and e > began]
        gc_note = f", full GC of {max(inside):.1f} ms in it" if inside else ""
        print(f"  wait of {gap:5.1f} ms at {began - clicked:6.2f} s ({phase}{gc_note})")


def _print(
    name: str,
    seconds: float,
    result: tuple[object, ...],
    idle: dict[str, float],
    during: dict[str, float],
) -> None:
    print(
        f"[{name}] update {'succeeded' if result[2] else 'FAILED'} in {seconds:.1f} s: {result[3]}"
    )
    heads = ("ticks", "median", "p99", "max", ">50ms")
    print(f"{'event loop (5 ms probe)':28} " + " ".join(f"{h:>8}" for h in heads))
    for label, s in (("idle window (baseline)", idle), ("during the update", during)):
        print(
            f"{label:28} {s['ticks']:8.0f} {s['median']:6.1f}ms {s['p99']:6.1f}ms "
            f"{s['max']:6.1f}ms {s['over_50']:8.0f}"
        )
    ratio = during["max"] / idle["max"] if idle["max"] else float("inf")
    verdict = "MET" if during["max"] < TARGET_MS else "NOT MET"
    print(
        f"[{name}] longest stall: {during['max']:.1f} ms = {during['max'] / TARGET_MS:.2f}x "
        f"the {TARGET_MS:.0f} ms target ({verdict}); {ratio:.2f}x the idle baseline's "
        f"{idle['max']:.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("big", "many", "both"), default="both")
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--files", type=int, default=2_500)
    parser.add_argument(
        "--why", action="store_true", help="sample the GUI thread's stack during each long wait"
    )
    args = parser.parse_args()
    scenarios = {
        "big": lambda: big_builds(args.size_mib),
        "many": lambda: many_builds(args.files),
    }
    chosen = list(scenarios) if args.scenario == "both" else [args.scenario]
    ok = True
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"bench-gui-{name}-") as scratch:
            ok = run_scenario(name, scenarios[name](), Path(scratch), args.why) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
