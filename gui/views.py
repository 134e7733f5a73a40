"""Filling the window's lists from the library, the repository and the running jobs.

Each function takes the data and a widget and nothing else, so the window decides what
to show and these decide how.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from core.errors import SlipstreamError
from core.format.builds import BuildItem
from core.gamedir.folder import RollbackPoint
from core.library.db import InstallRecord, OperationRecord
from core.units import format_bytes, percent_saved
from core.update.estimate import Cost
from gui.progress_state import ProgressState

ROLE = Qt.ItemDataRole.UserRole
JOB_WORDS = {
    "prepare": "Preparing update",
    "update": "Updating",
    "install": "Installing",
    "rollback": "Rolling back",
    "verify": "Verifying",
    "adopt": "Adding",
    "uninstall": "Uninstalling",
    "play": "Starting",
    "source": "Changing source",
}
GAME_COLUMNS = ["Game", "Version", "Build", "Status", "Size on disk"]


def rows(view: QTreeWidget) -> list[QTreeWidgetItem]:
    """The view's top-level items."""
    found = [view.topLevelItem(i) for i in range(view.topLevelItemCount())]
    return [item for item in found if item is not None]


def when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def game_status(
    record: InstallRecord,
    job_kind: str | None,
    progress: ProgressState | None,
    newest: BuildItem | None,
    error: str | None,
) -> str:
    """The Status column: the most pressing of job, error, repair, update available. A
    running job says what the progress bar says: its step and that step's share."""
    if job_kind:
        word = JOB_WORDS.get(job_kind, "Working")
        if progress is None or progress.finished or not progress.phase:
            return f"{word}…"
        return f"{word}: {progress.phase} {progress.fraction:.0%}"
    if error:
        return "Error"
    if record.status == "needs repair":
        return "Needs repair"
    if record.status == "installing":
        return "Installing…"
    if newest is None:
        return "Installed"
    if newest.build_id != record.build_id:
        return f"Update available ({newest.version_name or newest.build_id})"
    return "Up to date"


def fill_games(
    view: QTreeWidget,
    records: Sequence[InstallRecord],
    statuses: Mapping[str, str],
    errors: Mapping[str, str],
    sizes: Mapping[str, int],
    names: Mapping[str, str],
) -> None:
    selected = view.currentItem()
    current = selected.data(0, ROLE) if selected is not None else None
    view.clear()
    for record in records:
        key = str(record.path)
        size = sizes.get(key)
        item = QTreeWidgetItem(
            [
                names.get(key) or record.name,
                record.version_name,
                record.build_id,
                statuses.get(key, ""),
                format_bytes(size) if size is not None else "",
            ]
        )
        item.setData(0, ROLE, key)
        item.setToolTip(0, key)
        item.setToolTip(3, errors.get(key) or statuses.get(key, ""))
        item.setTextAlignment(4, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        view.addTopLevelItem(item)
        if key == current:
            view.setCurrentItem(item)
    first = rows(view)[:1]
    if view.currentItem() is None and first:
        view.setCurrentItem(first[0])


def cost_text(item: BuildItem, installed: str, cost: Cost | SlipstreamError | None) -> str:
    if item.build_id == installed:
        return "installed"
    if item.generation != 2:
        return "not installable (generation 1)"
    if cost is None:
        return "…"
    if isinstance(cost, SlipstreamError):
        return "unknown"
    if cost.patched_files:
        return (
            f"{format_bytes(cost.download_bytes)} with patches "
            f"(full: {format_bytes(cost.full_bytes)})"
        )
    return f"{format_bytes(cost.download_bytes)} (full: {format_bytes(cost.full_bytes)})"


def fill_builds(
    view: QTreeWidget,
    items: Sequence[BuildItem],
    installed: str,
    costs: Mapping[str, Cost | SlipstreamError],
    select: str | None,
) -> None:
    view.clear()
    bold = QFont()
    bold.setBold(True)
    for build in items:
        cost = costs.get(build.build_id)
        row = QTreeWidgetItem(
            [
                build.version_name,
                build.build_id,
                build.branch or "default",
                build.date_published[:10],
                cost_text(build, installed, cost),
            ]
        )
        row.setData(0, ROLE, build.build_id)
        if isinstance(cost, SlipstreamError):
            row.setToolTip(4, str(cost))
        elif isinstance(cost, Cost):
            row.setToolTip(
                4,
                f"{cost.changed_files} files change, {cost.patched_files} by patch; "
                f"{percent_saved(cost.download_bytes, cost.full_bytes):.1f}% saved",
            )
        if build.build_id == installed:
            for column in range(5):
                row.setFont(column, bold)
        if build.generation != 2:
            row.setFlags(row.flags() & ~Qt.ItemFlag.ItemIsSelectable)
        view.addTopLevelItem(row)
        if build.build_id == select:
            view.setCurrentItem(row)


def fill_history(
    view: QTreeWidget, records: Sequence[OperationRecord], points: Sequence[RollbackPoint]
) -> None:
    """Every operation, newest first. An update's row offers a rollback to its starting
    build; rows whose starting build is still in a rollback point on disk say so."""
    kept = {p.state_before.build_id for p in points if p.state_before is not None}
    chosen = _chosen(view)
    view.clear()
    for record in records:
        route = (
            f"{record.from_build} → {record.to_build}"
            if record.from_build and record.to_build and record.from_build != record.to_build
            else (record.to_build or record.from_build or "")
        )
        saved = max(0, record.bytes_full - record.bytes_downloaded)
        rollbackable = (
            record.kind in ("update", "rollback")
            and record.outcome == "ok"
            and bool(record.from_build)
            and record.from_build != record.to_build
        )
        row = QTreeWidgetItem(
            [
                when(record.started_at),
                f"{record.kind} {route}".strip(),
                record.outcome,
                _downloaded(record),
                format_bytes(saved) if _saved_shown(record) else "",
                str(len(record.fallbacks)) if record.fallbacks else "",
                "on disk" if rollbackable and record.from_build in kept else "",
            ]
        )
        row.setData(0, ROLE, record.from_build if rollbackable else None)
        if record.error:
            row.setToolTip(2, record.error)
        if record.fallbacks:
            row.setToolTip(5, "\n".join(f"{p}: {why}" for p, why in record.fallbacks))
        view.addTopLevelItem(row)
    _choose_again(view, chosen)
    fit_columns(view)


def _downloaded(record: OperationRecord) -> str:
    """A run that stopped before its end may not have recorded its bytes: blank, not a
    "0 B" that did not happen."""
    if record.outcome != "ok" and not record.bytes_downloaded:
        return ""
    return format_bytes(record.bytes_downloaded)


def _saved_shown(record: OperationRecord) -> bool:
    """A run that did not finish saved nothing: its plan's full cost is not a saving."""
    return record.outcome == "ok" and bool(record.bytes_full) and record.kind != "install"


def fit_columns(view: QTreeWidget) -> None:
    for column in range(view.columnCount()):
        view.resizeColumnToContents(column)


def fill_points(view: QTreeWidget, points: Sequence[RollbackPoint]) -> None:
    chosen = _chosen(view)
    view.clear()
    for point in points:
        if point.state_before is None:
            continue
        before = point.state_before
        row = QTreeWidgetItem(
            [
                when(point.created),
                f"back to {before.version_name or before.build_id} (build {before.build_id})",
                f"{len(point.replaced)} replaced, {len(point.added)} added",
            ]
        )
        row.setData(0, ROLE, before.build_id)
        row.setToolTip(1, point.label)
        view.addTopLevelItem(row)
    _choose_again(view, chosen)
    fit_columns(view)


def _chosen(view: QTreeWidget) -> tuple[str, str] | None:
    """The selected row's first two columns: lists read again keep the player's choice."""
    item = view.currentItem()
    return (item.text(0), item.text(1)) if item is not None else None


def _choose_again(view: QTreeWidget, chosen: tuple[str, str] | None) -> None:
    if chosen is None:
        return
    for item in rows(view):
        if (item.text(0), item.text(1)) == chosen:
            view.blockSignals(True)
            view.setCurrentItem(item)
            view.blockSignals(False)
            return
