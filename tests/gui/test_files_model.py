"""The per-file list's model: a view learns of changes as ranges, not file by file."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from core.progress import Progress
from core.update.plan import FileAction, Plan
from gui.files_model import BATCH, FilesModel
from gui.progress_state import FileEvent, ProgressState


def big_plan(count: int) -> Plan:
    actions = tuple(FileAction("patched", f"f{n:05}.bin", None) for n in range(count))
    return Plan(None, "2", actions, (), 10, 100, 0)


def test_thousands_of_file_events_reach_the_view_as_a_range_per_turn(qtbot: QtBot) -> None:
    state = ProgressState("update")
    state.set_plan(big_plan(2_500))
    model = FilesModel()
    resets: list[int] = []
    changed: list[tuple[int, int, int, int]] = []
    model.rowsInserted.connect(lambda parent, first, last: resets.append(last - first + 1))
    model.dataChanged.connect(
        lambda first, last, *_: changed.append(
            (first.row(), last.row(), first.column(), last.column())
        )
    )
    model.sync(state)
    assert model.rowCount() == BATCH  # the rest follow, a batch per turn of the loop
    qtbot.waitUntil(lambda: model.rowCount() == 2_500)
    assert sum(resets) == 2_500
    events = [FileEvent("patching", f"f{n:05}.bin") for n in range(100, 1_100)]
    state.update(Progress("patching", 1_000, 2_500, "f01099.bin", "files"), events)
    model.sync(state)
    # A batch of rows per turn of the event loop, each announced as one range.
    assert changed == [(100, 100 + BATCH - 1, 2, 2)]
    qtbot.waitUntil(lambda: changed[-1][1] == 1_099)
    assert [c[0] for c in changed] == list(range(100, 1_100, BATCH))
    assert all(c[2:] == (2, 2) and c[1] - c[0] < BATCH for c in changed)
    count = len(changed)
    model.sync(state)  # nothing new: nothing to repaint
    assert len(changed) == count
    index = model.index(100, 2)
    assert model.data(index, Qt.ItemDataRole.DisplayRole) == "patched"
    assert model.data(model.index(99, 2)) == "waiting"
    assert model.rowCount(index) == 0 and model.rowCount(QModelIndex()) == 2_500
    assert model.states()["f00100.bin"] == "patched"


def test_an_install_grows_the_list_by_inserting_rows() -> None:
    state = ProgressState("install")
    model = FilesModel()
    model.sync(state)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    events = [FileEvent("assembling", f"f{n}") for n in range(3)]
    state.update(Progress("assembling", 3, 9, "f2", "files"), events)
    model.sync(state)
    assert inserted == [(0, 0), (1, 1), (2, 2)] and model.states() == {
        f"f{n}": "fetched" for n in range(3)
    }
    model.sync(None)
    assert model.rowCount() == 0
