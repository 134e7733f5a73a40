"""What the benchmark scripts share: progress lines, report rows and CPU readings from /proc."""

from __future__ import annotations

import os
import resource
import sys
import time


def log(message: str) -> None:
    """A progress line on stderr (the report goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fmt_mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} kB"


def row(label: str, *cells: str, width: int = 48) -> str:
    """One line of a report table: the label, then right-aligned cells."""
    return (f"{label:<{width}}" + "".join(f"{c:>16}" for c in cells)).rstrip()


def proc_stats() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, CPU ticks including reaped children) for every process."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                rest = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
    return stats


def tree_cpu(skip: int | None = None) -> tuple[float, float]:
    """CPU seconds of this process tree, and of process ``skip`` (left out of the first).

    A live descendant is counted with its own time plus the children it reaped, a reaped
    one inside its reaper's count, so each process counts once: the forkserver reaps the
    pool workers, the workers reap their ``xdelta3`` commands. ``skip`` and its own
    descendants are not walked.
    """
    tick = os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    stats = proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    skipped = 0.0
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        if pid == skip:
            skipped = stats[pid][1] / tick
            continue
        ours += stats[pid][1] / tick
        todo += children.get(pid, [])
    return ours, skipped


def machine_busy() -> float:
    """CPU seconds the whole machine has spent outside idle and iowait since boot."""
    with open("/proc/stat") as proc_stat:
        fields = [int(x) for x in proc_stat.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
