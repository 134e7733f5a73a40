"""Time fresh installs from a kept repository, for before/after comparisons of the engine.

    python bench/install_ab.py REPO PRODUCT [--tree DIR] [--runs N] [--jobs N] [--warm]

``REPO`` is a repository folder (``bench_update.py --keep`` leaves one under its work
folder), ``PRODUCT`` its product id, ``--tree`` a checkout (or ``git archive``) whose
``core/`` is timed (default: this one), ``--jobs`` the engine's threads (default: its
own). A child process serves the repository; each run installs into a fresh folder and
prints its wall time, the CPU of this process (user and system), the server's CPU, the
bytes the machine wrote to its disk (``/sys/block``), and the engine's phases.

Every run after the first in a process reuses that process's memory: run it once per
tree, alternating trees, and compare first runs with first runs. ``--warm`` first writes
and deletes a scratch file as large as the repository, as ``bench_update.py`` does before
each step: on a virtual machine whose host takes back the guest's free memory, touching
fresh pages can cost more system time than the install's own work (a big-file install
here swung between 0.3 and 1.2 s of system time from one run to the next without it).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVE = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[3]);"
    "from core.serve.server import make_server;"
    "s = make_server(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]));"
    "print(s.server_address[1], flush=True); s.serve_forever()"
)


def disk_written() -> int:
    """Bytes written to the machine's disks so far (every ``/sys/block`` device)."""
    total = 0
    for stat in Path("/sys/block").glob("*/stat"):
        fields = stat.read_text().split()
        if len(fields) > 6:
            total += int(fields[6]) * 512
    return total


def repo_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in repo.rglob("*") if p.is_file())


def warm_up(scratch: Path, size: int) -> None:
    """Write ``size`` bytes to ``scratch`` and delete it: pages the host took back are
    touched once before the install needs them."""
    block = b"\1" * (1 << 20)
    with open(scratch, "wb") as out:
        for _ in range(size // len(block) + 1):
            out.write(block)
    scratch.unlink()


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("product")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=None, help="download and assembling threads")
    parser.add_argument("--warm", action="store_true", help="write a scratch file first")
    args = parser.parse_args(argv)
    tree = str(args.tree.resolve())
    sys.path.insert(0, tree)
    from core.update.engine import install
    from core.update.options import EngineOptions

    options = EngineOptions() if args.jobs is None else EngineOptions(jobs=args.jobs)

    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(args.repo), "0", tree],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = f"http://127.0.0.1:{int(server.stdout.readline())}"
    work = Path(tempfile.mkdtemp(prefix="install-ab-", dir=args.repo.parent))
    try:
        for n in range(args.runs):
            game = work / f"game-{n}"
            if args.warm:
                warm_up(work / "scratch", repo_bytes(args.repo))
            os.sync()
            time.sleep(1.0)
            before = resource.getrusage(resource.RUSAGE_SELF)
            served, written, started = cpu_of(server.pid), disk_written(), time.monotonic()
            report = install(url, args.product, game, options=options)
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
            phases = ", ".join(f"{k} {v:.2f}" for k, v in report.phases.items())
            print(
                f"{tree} run {n + 1}: wall {wall:.2f} s, cpu {user + system:.2f} "
                f"(user {user:.2f}, system {system:.2f}), server "
                f"{cpu_of(server.pid) - served:.2f}, disk written "
                f"{(disk_written() - written) / 1e6:,.0f} MB; {phases}",
                flush=True,
            )
            shutil.rmtree(game, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
