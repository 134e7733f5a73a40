"""The running job's per-file list as a Qt model, repainted in ranges.

A view over a QTreeWidget redrew every row on each report: with thousands of files the
event loop waited hundreds of milliseconds. This model holds no copy of the rows; it reads
them from the job's :class:`~gui.progress_state.ProgressState`, and :meth:`FilesModel.sync`
tells the view what changed as at most one row insertion and one ``dataChanged`` over the
span of rows that changed since the last sync. Syncs follow the job's progress reports,
which :class:`~gui.jobs.ProgressRelay` already limits to about ten a second.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from gui.progress_state import ProgressState

HEADERS = ("File", "Action", "State")
Index = QModelIndex | QPersistentModelIndex


class FilesModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.state: ProgressState | None = None
        self._shown = 0

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if self.state is None or not index.isValid() or index.row() >= self._shown:
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        row = self.state.row_at(index.row())
        return (row.path, row.action, row.state)[index.column()]

    def sync(self, state: ProgressState | None) -> None:
        """Show ``state``'s rows: a new job resets the view, a running one repaints only
        the rows that were added or changed."""
        if state is not self.state:
            self.beginResetModel()
            self.state = state
            self._shown = state.row_count() if state is not None else 0
            if state is not None:
                state.take_changes()
            self.endResetModel()
            return
        if state is None:
            return
        count = state.row_count()
        if count > self._shown:
            self.beginInsertRows(QModelIndex(), self._shown, count - 1)
            self._shown = count
            self.endInsertRows()
        changed = state.take_changes()
        if changed is not None:
            first, last = changed
            self.dataChanged.emit(self.index(first, 2), self.index(last, 2))

    def states(self) -> dict[str, str]:
        """File → state as shown (for tests and tools)."""
        if self.state is None:
            return {}
        return {self.state.row_at(n).path: self.state.row_at(n).state for n in range(self._shown)}
