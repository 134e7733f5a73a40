"""Operations and the tray on their own, with no window: what they need comes through
their constructors and what they do comes out as signals, so each can be driven and
checked without building a MainWindow. Real jobs on real threads, a real temp home."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.library.settings import Settings
from core.progress import CancelToken, ProgressSink
from core.update.options import options_from_settings
from gui.dialogs import ConflictDialog
from gui.jobs import JobManager
from gui.operations import Operations
from gui.store import GameStore
from gui.tray import Tray

pytestmark = pytest.mark.usefixtures("home")


def no_conflict_expected(name: str, files: list[str]) -> ConflictDialog:
    raise AssertionError(f"no conflict dialog was expected ({name}: {files})")


@pytest.fixture
def notes() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def jobs() -> Iterator[JobManager]:
    manager = JobManager()
    yield manager
    manager.cancel_all()
    manager.wait_all()


@pytest.fixture
def ops(jobs: JobManager, notes: list[tuple[str, str]]) -> Operations:
    return Operations(
        jobs=jobs,
        store=GameStore(),
        notify=lambda title, message: notes.append((title, message)),
        options=lambda: options_from_settings(Settings()),
        current_game=lambda: None,
        ask_conflict=no_conflict_expected,
    )


def test_a_game_busy_with_a_job_is_not_given_a_second_one(
    qtbot: QtBot, ops: Operations, jobs: JobManager, notes: list[tuple[str, str]], tmp_path: Path
) -> None:
    release = threading.Event()

    def hold(sink: ProgressSink, cancel: CancelToken) -> None:
        release.wait(60)

    key = str(tmp_path / "game")
    first = jobs.start(key, "update", hold)
    assert first is not None
    ops.verify(key)
    assert notes == [("Busy", "game is busy with another job; wait for it.")]
    assert jobs.get(key) is first
    release.set()
    qtbot.waitUntil(lambda: not jobs.busy(key))


def test_a_failed_job_is_recorded_and_reported_through_signals(
    qtbot: QtBot, ops: Operations, notes: list[tuple[str, str]], tmp_path: Path
) -> None:
    key = str(tmp_path)  # no game here: verifying it fails
    failures: list[tuple[str, object, str]] = []
    reloads: list[bool] = []
    ops.jobFailed.connect(lambda *args: failures.append(args))
    ops.libraryChanged.connect(lambda: reloads.append(True))
    with qtbot.waitSignal(ops.jobFinished, timeout=60_000) as finished:
        ops.verify(key)
    assert finished.args is not None
    assert finished.args[:3] == [key, "verify", False]
    message = finished.args[3]
    assert message and ops.store.errors[key] == message
    assert [f[0] for f in failures] == ["Verify failed"]
    assert notes[-1] == ("Verify failed", message)
    assert reloads == [True]
    assert ops.store.progress[key].outcome == "failed"


def test_the_tray_asks_through_signals(qtbot: QtBot) -> None:
    tray = Tray(available=False)
    asked = {
        "trayOpen": tray.openRequested,
        "trayCheck": tray.checkRequested,
        "trayUpdateAll": tray.updateAllRequested,
        "trayQuit": tray.quitRequested,
    }
    assert list(tray.actions) == list(asked)
    for name, signal in asked.items():
        with qtbot.waitSignal(signal, timeout=1_000):
            tray.actions[name].trigger()
    assert not tray.visible() and not tray.show_message("Title", "no tray to show it in")
