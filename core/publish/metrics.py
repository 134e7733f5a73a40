"""Publish metrics: one JSON line per ``publish``, ``promote`` and ``prune``, appended to
``REPO/.slipstream/history.jsonl``, and ``slipstream stats`` reading them back.

The history sits with the publisher's other state, beside the repository but never
served (``serve`` and the nginx example refuse every dotted path). A record holds what
the run cost (wall time per phase, cores busy, bytes written and reused, patches encoded
and their seconds) and what it bought players (each edge's download against a full one),
so a studio can watch both drift build after build.

Phase times come from the progress reports the run already sends: a phase lasts from
its first report to the next phase's first report. Cores busy is the CPU time of the
process tree (this process, the patch pool's workers and their ``xdelta3`` commands)
over wall time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import FormatError, LocalIOError, RepositoryError, UsageError
from core.format import layout
from core.progress import Progress, ProgressSink, null_sink
from core.units import format_bytes, percent_saved

HISTORY_FILE = "history.jsonl"
RECORD_VERSION = 1


def history_path(repo_dir: Path) -> Path:
    return layout.RepoLayout(repo_dir).state_dir / HISTORY_FILE


def _cpu_seconds() -> float:
    """CPU seconds of this process tree: this process, the children it reaped, and every
    live descendant with the children that one reaped. The patch pool's workers are the
    forkserver's children, not ours: only the walk through ``/proc`` sees their encodes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system + _descendants_cpu()


def _descendants_cpu() -> float:
    """Linux only (elsewhere 0: cores busy then counts this process alone)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").is_file():
        return 0.0
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # Fields after the command name, which may hold spaces: state, ppid, ... then
        # utime, stime, cutime, cstime at positions 11 to 14.
        rest = stat.rpartition(")")[2].split()
        try:
            pid, ppid = int(entry.name), int(rest[1])
            ticks[pid] = sum(int(x) for x in rest[11:15])
        except (IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


class Clock:
    """A progress sink that passes every report on and times the phases it sees."""

    def __init__(self, inner: ProgressSink = null_sink) -> None:
        self.inner = inner
        self.started = time.monotonic()
        self.cpu_started = _cpu_seconds()
        self.phases: dict[str, float] = {}
        self._phase: str | None = None
        self._since = self.started

    def __call__(self, progress: Progress) -> None:
        phase = str(progress.phase)
        if phase != self._phase:
            self._close(time.monotonic())
            self._phase = phase
        self.inner(progress)

    def _close(self, now: float) -> None:
        if self._phase is not None:
            self.phases[self._phase] = round(
                self.phases.get(self._phase, 0.0) + now - self._since, 3
            )
        self._since = now

    def measures(self) -> dict[str, Any]:
        now = time.monotonic()
        self._close(now)
        self._phase = None
        wall = now - self.started
        cpu = _cpu_seconds() - self.cpu_started
        return {
            "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "cores_busy": round(cpu / wall, 2) if wall > 0 else 0.0,
            "phases": dict(self.phases),
        }


def edge_savings(edges: Any) -> list[dict[str, Any]]:
    """Each edge's download against a full one (``chain.Edge`` objects)."""
    return [
        {
            "from_build_id": e.from_build,
            "to_build_id": e.to_build,
            "patched": e.index is not None,
            "update_bytes": e.update_bytes,
            "full_bytes": e.full_bytes,
            "saved_bytes": max(0, e.full_bytes - e.update_bytes),
            "patch_bytes": e.patch_bytes,
            "pack_bytes": getattr(e, "pack_bytes", 0),
        }
        for e in edges
    ]


def publish_record(command: str, report: Any, clock: Clock, store: Any) -> dict[str, Any]:
    """The record of a ``publish`` or ``promote`` (a ``PublishReport``)."""
    return {
        "command": command,
        "product_id": report.product,
        "os": report.os,
        "branch": report.branch,
        "build_id": report.build_id,
        "version_name": report.version_name,
        "unchanged": report.unchanged,
        "files": report.files,
        "bytes": report.bytes,
        "full_bytes": report.compressed_bytes,
        **clock.measures(),
        "objects_written": store.stats.objects_written,
        "bytes_written": store.stats.bytes_written,
        "objects_reused": store.stats.objects_reused,
        "bytes_reused": store.stats.bytes_reused,
        "patches_encoded": report.patches_encoded,
        "patches_cached": report.patches_cached,
        "encode_seconds": round(getattr(report, "encode_seconds", 0.0), 3),
        "patch_failures": len(report.patch_failures),
        "edges": edge_savings(report.edges),
    }


def prune_record(product: str, report: Any, clock: Clock) -> dict[str, Any]:
    return {
        "command": "prune",
        "product_id": product,
        **clock.measures(),
        "dry_run": report.dry_run,
        "builds_removed": [b for _, b, _ in report.builds_removed],
        "pairs_removed": len(report.pairs_removed),
        "objects_deleted": report.objects_deleted,
        "bytes_freed": report.bytes_freed,
        "objects_waiting": report.objects_waiting,
    }


def append(repo_dir: Path, record: dict[str, Any]) -> None:
    """Add ``record`` as one line; the caller holds the repository lock. A crash mid-line
    leaves a torn last line, which :func:`read_history` skips."""
    line = {"version": RECORD_VERSION, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    line.update(record)
    path = history_path(repo_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, sort_keys=True) + "\n")
    except OSError as exc:
        raise LocalIOError.wrap(exc, "record the publish history") from None


def read_history(repo_dir: Path) -> Iterator[dict[str, Any]]:
    """Every readable record, oldest first."""
    path = history_path(repo_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read the publish history") from None
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash
        if isinstance(doc, dict) and doc.get("version") == RECORD_VERSION:
            yield doc


# --- slipstream stats --------------------------------------------------------------------


@dataclass(frozen=True)
class BuildTrend:
    """One publish of a build, with the update from the build before it on its branch."""

    at: str
    product: str
    os: str
    branch: str | None
    build_id: str
    version_name: str
    seconds: float
    cores_busy: float
    patches_encoded: int
    encode_seconds: float
    full_bytes: int
    previous: str | None
    update_bytes: int | None
    """Updating from ``previous``: what its edge downloads, patched or not."""

    @property
    def saved_percent(self) -> float | None:
        if self.update_bytes is None:
            return None
        return round(percent_saved(self.update_bytes, self.full_bytes), 1)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "saved_percent": self.saved_percent}


@dataclass
class Stats:
    builds: list[BuildTrend] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every record, publishes included, oldest first."""

    def to_json(self) -> dict[str, Any]:
        return {"builds": [b.to_json() for b in self.builds], "records": self.events}


def stats(repo_dir: Path, product: str | None = None) -> Stats:
    """The trend of publishes in ``repo_dir`` (of ``product`` only, when given)."""
    if product is not None:
        try:
            layout.check_id(product, "--product")
        except FormatError as exc:
            raise UsageError(exc.detail) from None
    if not repo_dir.is_dir():
        raise RepositoryError(f"There is no repository at {repo_dir}.")
    result = Stats()
    for doc in read_history(repo_dir):
        if product is not None and doc.get("product_id") != product:
            continue
        result.events.append(doc)
        if doc.get("command") != "publish" or doc.get("unchanged"):
            continue
        edges = doc.get("edges") or []
        first = edges[0] if edges else None  # edges run from the newest earlier build
        result.builds.append(
            BuildTrend(
                str(doc.get("at", "")),
                str(doc.get("product_id", "")),
                str(doc.get("os", "")),
                doc.get("branch"),
                str(doc.get("build_id", "")),
                str(doc.get("version_name", "")),
                float(doc.get("seconds", 0.0)),
                float(doc.get("cores_busy", 0.0)),
                int(doc.get("patches_encoded", 0)),
                float(doc.get("encode_seconds", 0.0)),
                int(doc.get("full_bytes", 0)),
                str(first["from_build_id"]) if first else None,
                int(first["update_bytes"]) if first else None,
            )
        )
    return result


def render_stats(result: Stats) -> str:
    if not result.events:
        return "No publish history yet: it starts with the next publish, promote or prune."
    lines = [
        f"{'build':>6} {'version':<12} {'branch':<8} {'os':<7} {'publish':>8} {'cores':>5} "
        f"{'encodes':>7} {'full':>9}  update from previous"
    ]
    for b in result.builds:
        update = (
            "first build"
            if b.previous is None
            else f"{b.previous}: {format_bytes(b.update_bytes or 0)} ({b.saved_percent:.1f}% saved)"
        )
        lines.append(
            f"{b.build_id:>6} {b.version_name[:12]:<12} {(b.branch or 'public')[:8]:<8} "
            f"{b.os:<7} {b.seconds:>7.1f}s {b.cores_busy:>5.2f} {b.patches_encoded:>7} "
            f"{format_bytes(b.full_bytes):>9}  {update}"
        )
    others = [e for e in result.events if e.get("command") != "publish"]
    for e in others:
        if e.get("command") == "prune":
            lines.append(
                f"{e.get('at', '')}: prune removed {len(e.get('builds_removed', []))} builds, "
                f"freed {format_bytes(int(e.get('bytes_freed', 0)))}"
                + (" (dry run)" if e.get("dry_run") else "")
            )
        elif e.get("command") == "promote" and not e.get("unchanged"):
            lines.append(
                f"{e.get('at', '')}: promoted build {e.get('build_id')} to "
                f"{e.get('branch') or 'public'} in {float(e.get('seconds', 0.0)):.1f} s"
            )
    return "\n".join(lines)
