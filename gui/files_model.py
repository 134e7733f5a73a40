"""The running job's per-file list as a Qt model, repainted in ranges.

A running update reports thousands of file events; drawing each as it came stalled the
window. Here the rows live in a :class:`QStandardItemModel`, so painting them runs no
Python: a Python ``data()`` would be called for every visible cell on every repaint,
and each call waits for the GIL, which the job's threads hold most of the time. Changes
arrive through :meth:`FilesModel.sync`, at most about ten times a second (the rate of
:class:`~gui.jobs.ProgressRelay`): rows added since the last sync are appended a batch
per turn of the event loop, and only the rows that changed are set (also a batch per
turn), with the model's
signals blocked, then announced as one ``dataChanged`` over their span (the view repaints
what is visible of it, without calling any Python).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QStandardItem, QStandardItemModel

from gui.i18n import QT_TRANSLATE_NOOP, translate
from gui.progress_state import FileRow, ProgressState

HEADERS = [
    QT_TRANSLATE_NOOP("FilesModel", "File"),
    QT_TRANSLATE_NOOP("FilesModel", "Action"),
    QT_TRANSLATE_NOOP("FilesModel", "State"),
]
ROW_WORDS = {
    # What is done to a file (gui.progress_state.KIND_LABELS).
    "patch": QT_TRANSLATE_NOOP("FilesModel", "patch"),
    "changed chunks": QT_TRANSLATE_NOOP("FilesModel", "changed chunks"),
    "download": QT_TRANSLATE_NOOP("FilesModel", "download"),
    "remove": QT_TRANSLATE_NOOP("FilesModel", "remove"),
    # Where the file is (gui.progress_state.ProgressState's row states).
    "waiting": QT_TRANSLATE_NOOP("FilesModel", "waiting"),
    "downloading": QT_TRANSLATE_NOOP("FilesModel", "downloading"),
    "downloaded": QT_TRANSLATE_NOOP("FilesModel", "downloaded"),
    "patching": QT_TRANSLATE_NOOP("FilesModel", "patching"),
    "patched": QT_TRANSLATE_NOOP("FilesModel", "patched"),
    "fetched": QT_TRANSLATE_NOOP("FilesModel", "fetched"),
    "fell back": QT_TRANSLATE_NOOP("FilesModel", "fell back"),
    "fell back, verified": QT_TRANSLATE_NOOP("FilesModel", "fell back, verified"),
    "verified": QT_TRANSLATE_NOOP("FilesModel", "verified"),
    "stopped": QT_TRANSLATE_NOOP("FilesModel", "stopped"),
    "removed": QT_TRANSLATE_NOOP("FilesModel", "removed"),
}
"""The Qt-free progress state's English words for a row, translated when shown."""
STATE = 2
BATCH = 100
"""Rows appended, or rows repainted, per turn of the event loop (300 took the GUI thread
10-25 ms a turn on a busy 2-core machine, bench_gui.py --why)."""


class FilesModel(QStandardItemModel):
    def __init__(self) -> None:
        super().__init__(0, len(HEADERS))
        self.setHorizontalHeaderLabels([translate("FilesModel", h) for h in HEADERS])
        self.state: ProgressState | None = None
        self._more = False
        self._waiting: list[int] = []
        """Changed rows left for the next turn of the event loop."""

    def sync(self, state: ProgressState | None) -> None:
        """Show ``state``'s rows: another job's state replaces the rows, the same job's
        appends its new rows and repaints the span of rows that changed."""
        if state is not self.state:
            self.state = state
            self._waiting = []
            self.removeRows(0, self.rowCount())
            if state is not None:
                state.take_changes()
                self._append(state, 0)
            return
        if state is None:
            return
        self._append(state, self.rowCount())
        changed = state.take_changes()
        if self._waiting:
            changed = sorted(set(self._waiting).union(changed))
        if changed:
            self._repaint(state, changed)

    def _append(self, state: ProgressState, first: int) -> None:
        """Append up to :data:`BATCH` rows; the rest follow on the event loop's next
        turns, so a plan of thousands of files never holds the window in one go."""
        last = min(state.row_count(), first + BATCH)
        for n in range(first, last):
            self.appendRow(_items(state.row_at(n)))
        if last < state.row_count():
            self._another_turn()

    def _another_turn(self) -> None:
        if not self._more:
            self._more = True
            QTimer.singleShot(0, self._on_more_timeout)

    def _on_more_timeout(self) -> None:
        self._more = False
        if self.state is not None:
            self.sync(self.state)

    def _repaint(self, state: ProgressState, rows: list[int]) -> None:
        """Set the state of ``rows`` (in order), :data:`BATCH` of them per turn of the
        event loop (a new phase moves every row at once); rows not appended yet get
        theirs when they are."""
        rows = [n for n in rows if n < self.rowCount()]
        rows, self._waiting = rows[:BATCH], rows[BATCH:]
        if self._waiting:
            self._another_turn()
        if not rows:
            return
        words: dict[str, str] = {}
        self.blockSignals(True)
        try:
            for n in rows:
                item = self.item(n, STATE)
                if item is not None:
                    word = state.row_at(n).state
                    if word not in words:
                        words[word] = shown(word)
                    item.setText(words[word])
        finally:
            self.blockSignals(False)
        self.dataChanged.emit(self.index(rows[0], STATE), self.index(rows[-1], STATE))

    def states(self) -> dict[str, str]:
        """File → state as shown, in the window's language (for tests and tools)."""
        found = {}
        for n in range(self.rowCount()):
            path, state = self.item(n, 0), self.item(n, STATE)
            if path is not None and state is not None:
                found[path.text()] = state.text()
        return found


def shown(text: str) -> str:
    """A row's action or state in the window's language."""
    found = ROW_WORDS.get(text)
    return translate("FilesModel", found) if found else text


def _items(row: FileRow) -> list[QStandardItem]:
    items = [
        QStandardItem(row.path),
        QStandardItem(shown(row.action)),
        QStandardItem(shown(row.state)),
    ]
    for item in items:
        item.setEditable(False)
    items[0].setToolTip(row.path)
    return items
