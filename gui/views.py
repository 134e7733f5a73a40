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
from gui.i18n import QT_TRANSLATE_NOOP, translate
from gui.progress_state import ProgressState

ROLE = Qt.ItemDataRole.UserRole
# The tables below are marked for lupdate and translated when shown (context "Views").
JOB_WORDS = {
    "prepare": QT_TRANSLATE_NOOP("Views", "Preparing update"),
    "update": QT_TRANSLATE_NOOP("Views", "Updating"),
    "install": QT_TRANSLATE_NOOP("Views", "Installing"),
    "rollback": QT_TRANSLATE_NOOP("Views", "Rolling back"),
    "verify": QT_TRANSLATE_NOOP("Views", "Verifying"),
    "adopt": QT_TRANSLATE_NOOP("Views", "Adding"),
    "uninstall": QT_TRANSLATE_NOOP("Views", "Uninstalling"),
    "play": QT_TRANSLATE_NOOP("Views", "Starting"),
    "source": QT_TRANSLATE_NOOP("Views", "Changing source"),
}
"""What a game's running job is doing, by job kind (the Status column)."""
OPERATION_WORDS = {
    "update": QT_TRANSLATE_NOOP("Views", "update"),
    "install": QT_TRANSLATE_NOOP("Views", "install"),
    "rollback": QT_TRANSLATE_NOOP("Views", "rollback"),
    "verify": QT_TRANSLATE_NOOP("Views", "verify"),
    "repair": QT_TRANSLATE_NOOP("Views", "repair"),
    "adopt": QT_TRANSLATE_NOOP("Views", "adopt"),
    "uninstall": QT_TRANSLATE_NOOP("Views", "uninstall"),
}
"""The library's operation kinds, as the history and the progress panel name them."""
OUTCOME_WORDS = {
    "ok": QT_TRANSLATE_NOOP("Views", "ok"),
    "failed": QT_TRANSLATE_NOOP("Views", "failed"),
    "cancelled": QT_TRANSLATE_NOOP("Views", "cancelled"),
}
PHASE_WORDS = {
    "planning": QT_TRANSLATE_NOOP("Views", "planning"),
    "downloading": QT_TRANSLATE_NOOP("Views", "downloading"),
    "patching": QT_TRANSLATE_NOOP("Views", "patching"),
    "assembling": QT_TRANSLATE_NOOP("Views", "assembling"),
    "verifying": QT_TRANSLATE_NOOP("Views", "verifying"),
    "committing": QT_TRANSLATE_NOOP("Views", "committing"),
    "restoring": QT_TRANSLATE_NOOP("Views", "restoring"),
    "keeping copies": QT_TRANSLATE_NOOP("Views", "keeping copies"),
    "checking files": QT_TRANSLATE_NOOP("Views", "checking files"),
    "hashing": QT_TRANSLATE_NOOP("Views", "hashing"),
}
"""The engine's phases (:class:`core.progress.Phase`) a window job reports."""
GAME_COLUMNS = [
    QT_TRANSLATE_NOOP("Views", "Game"),
    QT_TRANSLATE_NOOP("Views", "Version"),
    QT_TRANSLATE_NOOP("Views", "Build"),
    QT_TRANSLATE_NOOP("Views", "Status"),
    QT_TRANSLATE_NOOP("Views", "Size on disk"),
]


def word(table: dict[str, str], key: str) -> str:
    """``key``'s entry of one of the tables above, translated; ``key`` itself when the
    table lacks it (a kind or phase added to the core later still shows)."""
    found = table.get(key)
    return translate("Views", found) if found else key


def phase_name(phase: str) -> str:
    return word(PHASE_WORDS, phase)


def game_columns() -> list[str]:
    return [translate("Views", title) for title in GAME_COLUMNS]


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
        doing = word(JOB_WORDS, job_kind)
        if job_kind not in JOB_WORDS:
            doing = translate("Views", "Working")
        if progress is None or progress.finished or not progress.phase:
            return translate("Views", "{doing}…").format(doing=doing)
        return translate("Views", "{doing}: {phase} {percent}").format(
            doing=doing, phase=phase_name(progress.phase), percent=f"{progress.fraction:.0%}"
        )
    if error:
        return translate("Views", "Error")
    if record.status == "needs repair":
        return translate("Views", "Needs repair")
    if record.status == "installing":
        return translate("Views", "Installing…")
    if newest is None:
        return translate("Views", "Installed")
    if newest.build_id != record.build_id:
        return translate("Views", "Update available ({version})").format(
            version=newest.version_name or newest.build_id
        )
    return translate("Views", "Up to date")


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
        return translate("Views", "installed")
    if item.generation != 2:
        return translate("Views", "not installable (generation 1)")
    if cost is None:
        return "…"
    if isinstance(cost, SlipstreamError):
        return translate("Views", "unknown")
    text = translate("Views", "{download} (full: {full})")
    if cost.patched_files:
        text = translate("Views", "{download} with patches (full: {full})")
    return text.format(
        download=format_bytes(cost.download_bytes), full=format_bytes(cost.full_bytes)
    )


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
                build.branch or translate("Views", "default"),
                build.date_published[:10],
                cost_text(build, installed, cost),
            ]
        )
        row.setData(0, ROLE, build.build_id)
        if isinstance(cost, SlipstreamError):
            row.setToolTip(4, str(cost))
        elif isinstance(cost, Cost):
            text = translate("Views", "{changed} files change, {patched} by patch; {saved}% saved")
            row.setToolTip(
                4,
                text.format(
                    changed=cost.changed_files,
                    patched=cost.patched_files,
                    saved=f"{percent_saved(cost.download_bytes, cost.full_bytes):.1f}",
                ),
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
                f"{word(OPERATION_WORDS, record.kind)} {route}".strip(),
                word(OUTCOME_WORDS, record.outcome),
                _downloaded(record),
                format_bytes(saved) if _saved_shown(record) else "",
                str(len(record.fallbacks)) if record.fallbacks else "",
                translate("Views", "on disk") if rollbackable and record.from_build in kept else "",
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
                translate("Views", "back to {version} (build {build})").format(
                    version=before.version_name or before.build_id, build=before.build_id
                ),
                translate("Views", "{replaced} replaced, {added} added").format(
                    replaced=len(point.replaced), added=len(point.added)
                ),
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
