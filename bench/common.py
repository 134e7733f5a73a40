"""What the benchmark scripts share: progress lines, report rows and CPU readings from /proc."""

from __future__ import annotations

import os
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


def machine_busy() -> float:
    """CPU seconds the whole machine has spent outside idle and iowait since boot."""
    with open("/proc/stat") as proc_stat:
        fields = [int(x) for x in proc_stat.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
