"""The window, driven like a player would: widgets found by object name, a real repository
served on 127.0.0.1, real game folders and a real SQLite library in a temp home, Qt
offscreen. Each flow ends by checking the folder's files, not the window's words."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
)
from pytestqt.qtbot import QtBot

from core.demo.start import DEMO_PRODUCT, VERSIONS, prepare_demo
from core.gamedir.folder import GameDir
from core.library.db import Library
from core.library.settings import Settings, load_settings
from core.update.engine import install
from gui.app import create_main_window
from gui.dialogs import ConflictDialog
from gui.settings_dialog import SettingsDialog
from gui.views import ROLE, rows
from gui.window import MainWindow
from tests.support.helpers import serving, tree

JOB_TIMEOUT = 120_000

# A temp library and a real file keyring in a temp folder for every test.
pytestmark = pytest.mark.usefixtures("home", "keyring_env")


def digest(root: Path) -> dict[str, str]:
    """:func:`helpers.tree` without the player's saves."""
    return {rel: md5 for rel, md5 in tree(root).items() if not rel.startswith("saves/")}


@dataclass
class Demo:
    root: Path
    url: str
    builds: list[dict[str, str]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    repo = prepare_demo(root)
    with serving(repo) as url:
        yield Demo(root, url, [digest(root / "builds" / v) for v in VERSIONS])


@pytest.fixture
def game(demo: Demo, tmp_path: Path) -> Path:
    folder = (tmp_path / "game").resolve()
    install(demo.url, DEMO_PRODUCT, folder, build="1")
    return folder


@pytest.fixture
def window(qtbot: QtBot, game: Path) -> Iterator[MainWindow]:
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.jobs.cancel_all()
    win.jobs.wait_all()
    # The jobs' last signals are queued: deliver them while the window still exists, or
    # they reach the next test's event loop as "Signal source has been deleted".
    qtbot.wait(50)
    win.quitting = True


def child(win: MainWindow, kind: type, name: str):  # type: ignore[no-untyped-def]
    found = win.findChild(kind, name)
    assert found is not None, name
    return found


def wait_job(qtbot: QtBot, win: MainWindow, kind: str, timeout: int = JOB_TIMEOUT) -> tuple:
    """Wait for the next ``jobFinished`` of ``kind``; return its arguments."""
    got: list[tuple] = []

    def record(*args: object) -> None:
        if args[1] == kind:
            got.append(args)

    win.jobFinished.connect(record)
    try:
        qtbot.waitUntil(lambda: bool(got), timeout=timeout)
    finally:
        win.jobFinished.disconnect(record)
    return got[0]


def row_with(view: QTreeWidget, column: int, text: str) -> QTreeWidgetItem:
    for item in rows(view):
        if item.text(column).startswith(text):
            return item
    raise AssertionError(f"no row starting {text!r} in {[r.text(column) for r in rows(view)]}")


def listed(qtbot: QtBot, view: QTreeWidget, column: int, text: str) -> QTreeWidgetItem:
    """The row starting ``text``, once it is there: history is read off the GUI thread."""
    qtbot.waitUntil(
        lambda: any(r.text(column).startswith(text) for r in rows(view)), timeout=30_000
    )
    return row_with(view, column, text)


def checked(qtbot: QtBot, win: MainWindow, game: Path) -> None:
    assert win.select_game(str(game))
    win.check_game(str(game))
    wait_job(qtbot, win, "check")


def update_into_conflict(qtbot: QtBot, win: MainWindow, game: Path) -> ConflictDialog:
    """Check ``game``, click Update and return the conflict dialog the update opens."""
    checked(qtbot, win, game)
    win.updateButton.click()
    # Planning runs in a process of its own (gui/child.py): seconds on a busy machine.
    qtbot.waitUntil(
        lambda: win.findChild(ConflictDialog, "conflictDialog") is not None, timeout=30_000
    )
    dialog: ConflictDialog = win.findChild(ConflictDialog, "conflictDialog")
    return dialog


def test_done_when_update_to_build_3_and_roll_back_with_a_responsive_window(
    qtbot: QtBot,
    window: MainWindow,
    game: Path,
    demo: Demo,
    record_property: Callable[[str, object], None],
) -> None:
    games = child(window, QTreeWidget, "gamesView")
    games.setCurrentItem(row_with(games, 0, "Slipstream Demo Quest"))
    window.check_game(str(game))
    wait_job(qtbot, window, "check")
    builds = child(window, QTreeWidget, "buildsView")
    builds.setCurrentItem(row_with(builds, 1, "3"))
    update = child(window, QPushButton, "updateButton")
    assert update.isEnabled() and "1.2.0" in update.text()

    # A 5 ms timer on the GUI thread measures the longest wait of the event loop.
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    probe.start()
    update.click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    probe.stop()
    assert ok, message
    assert digest(game) == demo.builds[2]
    # The 100 ms bound is measured, not asserted: timing checks do not belong in a
    # suite run on shared machines. bench/bench_gui.py holds the target (50 ms, on a
    # 512 MiB patch); here the longest wait goes into the report for a reader.
    record_property("longest_event_loop_wait_ms", round(max(gaps) * 1000, 1))
    print(f"longest event-loop wait during the update: {max(gaps) * 1000:.1f} ms")
    assert len(gaps) > 10  # the probe ran while the update did
    assert window.progress[str(game)].overall == 1.0
    files = child(window, QTreeView, "filesView")
    states = files.model().states()
    assert states["Game.exe"] == "verified" and set(states.values()) <= {"verified", "removed"}
    assert child(window, type(window.overallProgress), "overallProgress").value() == 1000

    history = child(window, QTreeWidget, "historyView")
    history.setCurrentItem(listed(qtbot, history, 1, "update 1 → 3"))
    rollback = child(window, QPushButton, "rollbackButton")
    assert rollback.isEnabled()
    rollback.click()
    _, _, ok, message = wait_job(qtbot, window, "rollback")
    assert ok, message
    assert digest(game) == demo.builds[0]
    assert GameDir(game).load_state().build_id == "1"  # type: ignore[union-attr]


def test_builds_list_shows_what_each_build_costs_and_status_says_update_available(
    qtbot: QtBot, window: MainWindow, game: Path
) -> None:
    checked(qtbot, window, game)
    builds = child(window, QTreeWidget, "buildsView")
    qtbot.waitUntil(lambda: "with patches" in row_with(builds, 1, "3").text(4), timeout=30_000)
    three = row_with(builds, 1, "3").text(4)
    assert three.endswith(" MB)") and "(full: 1" in three, three
    assert row_with(builds, 1, "1").text(4) == "installed"
    games = child(window, QTreeWidget, "gamesView")
    assert row_with(games, 0, "Slipstream").text(3) == "Update available (1.2.0)"
    assert ("Update available", "Slipstream Demo Quest 1.2.0 is out.") in window.notifications


def test_costs_are_estimated_again_from_the_new_build_after_an_update(
    qtbot: QtBot, window: MainWindow, game: Path
) -> None:
    checked(qtbot, window, game)
    builds = child(window, QTreeWidget, "buildsView")
    qtbot.waitUntil(lambda: "with patches" in row_with(builds, 1, "3").text(4), timeout=30_000)
    window.updateButton.click()
    assert wait_job(qtbot, window, "update")[2]
    assert row_with(builds, 1, "3").text(4) == "installed"
    # Going back to 1 is now what costs something; 3 is no longer priced from 1.
    qtbot.waitUntil(lambda: "(full:" in row_with(builds, 1, "1").text(4), timeout=30_000)
    assert str(game) in window.costs and "3" not in window.costs[str(game)]


def test_cancel_stops_cleanly_and_the_next_update_resumes(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    window.settings = Settings(limit_rate_kib=16)  # 16 KiB/s: the patches take seconds
    checked(qtbot, window, game)
    window.updateButton.click()
    state = lambda: window.progress.get(str(game))  # noqa: E731
    qtbot.waitUntil(
        lambda: state() is not None and state().download_done > 0,  # type: ignore[union-attr]
        timeout=30_000,
    )
    cancel = child(window, QPushButton, "cancelButton")
    assert cancel.isEnabled()
    cancel.click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert not ok and "resume" in message
    assert digest(game) == demo.builds[0]
    downloads = GameDir(game).downloads
    kept = sum(p.stat().st_size for p in downloads.rglob("*") if p.is_file())
    assert kept > 0  # what was downloaded stays for the next run
    with Library.open() as library:
        assert library.history(game)[0].outcome == "cancelled"

    window.settings = Settings()
    window.updateButton.click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert ok, message
    assert digest(game) == demo.builds[2]
    with Library.open() as library:
        last = library.history(game)[0]
    assert last.outcome == "ok" and last.patches_applied > 0


def modify(game: Path) -> bytes:
    mod = b"my mod of the game executable"
    (game / "Game.exe").write_bytes(mod)
    return mod


def test_conflict_take_the_new_version_keeps_a_copy(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo, home: Path
) -> None:
    mod = modify(game)
    dialog = update_into_conflict(qtbot, window, game)
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == ["Game.exe"]
    child(dialog, QPushButton, "takeNewButton").click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert ok, message
    assert digest(game) == demo.builds[2]
    copies = list((home / "kept").rglob("Game.exe"))
    assert len(copies) == 1 and copies[0].read_bytes() == mod
    assert str(copies[0].parent) in message


def test_conflict_keep_mine_leaves_the_players_file(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    mod = modify(game)
    dialog = update_into_conflict(qtbot, window, game)
    child(dialog, QPushButton, "keepMineButton").click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert ok, message
    assert (game / "Game.exe").read_bytes() == mod
    expected = dict(demo.builds[2])
    del expected["Game.exe"]
    got = digest(game)
    del got["Game.exe"]
    assert got == expected


def test_conflict_cancel_starts_nothing(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    modify(game)
    dialog = update_into_conflict(qtbot, window, game)
    with qtbot.waitSignal(window.jobFinished) as finished:
        dialog.reject()
    assert finished.args is not None and finished.args[1:3] == ["update", False]
    assert GameDir(game).load_state().build_id == "1"  # type: ignore[union-attr]


def test_verify_repairs_a_damaged_file(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    target = game / "data" / "levels.pak"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    window.select_game(str(game))
    child(window, QPushButton, "verifyButton").click()
    _, _, ok, message = wait_job(qtbot, window, "verify")
    assert ok and "Repaired 1 file(s): data/levels.pak" in message
    assert digest(game) == demo.builds[0]
    window.verifyButton.click()
    _, _, ok, message = wait_job(qtbot, window, "verify")
    assert ok and message == f"All {len(demo.builds[0])} files are intact."


def test_an_error_reaches_the_player_as_a_message_not_a_traceback(
    qtbot: QtBot, window: MainWindow, game: Path
) -> None:
    folder = GameDir(game)
    state = folder.load_state()
    assert state is not None
    from dataclasses import replace

    with folder.lock():
        folder.save_state(replace(state, product="404"))  # the repository has no such game
    window.select_game(str(game))
    window.updateButton.click()
    _, _, ok, _message = wait_job(qtbot, window, "prepare")
    assert not ok
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and box.isVisible()
    assert "has no builds of product 404" in box.text() + box.informativeText()
    assert "Traceback" not in box.text() + box.informativeText()
    assert "Error" in box.detailedText()  # the class name, folded away
    games = child(window, QTreeWidget, "gamesView")
    assert row_with(games, 0, "Slipstream").text(3) == "Error"
    assert GameDir(game).load_state().build_id == "1"  # type: ignore[union-attr]


def test_settings_dialog_from_the_window_saves_and_applies(
    qtbot: QtBot, window: MainWindow, home: Path
) -> None:
    window.settingsAction.trigger()
    dialog = window.findChild(SettingsDialog, "settingsDialog")
    assert dialog is not None and dialog.isVisible()
    child(dialog, QSpinBox, "threadsSpin").setValue(7)
    child(dialog, QDoubleSpinBox, "checkHoursSpin").setValue(1)
    dialog.accept()
    assert window.settings.download_threads == 7
    assert window.engine_options().jobs == 7
    assert load_settings().download_threads == 7
    assert window.check_timer.isActive() and window.check_timer.interval() == 3_600_000


def test_tray_menu_checks_and_closing_keeps_running(qtbot: QtBot, game: Path, demo: Demo) -> None:
    win = create_main_window(tray=True, check_on_start=False)
    qtbot.addWidget(win)
    win.show()
    names = [a.objectName() for a in win.tray.menu.actions()]
    assert names == ["trayOpen", "trayCheck", "trayUpdateAll", "trayQuit"]
    win.tray.actions["trayCheck"].trigger()
    wait_job(qtbot, win, "check")
    assert ("Update available", "Slipstream Demo Quest 1.2.0 is out.") in win.notifications
    win.close()
    assert not win.isVisible() and not win.quitting  # hidden in the tray
    assert win.notifications[-1][0] == "Slipstream"
    win.tray.actions["trayOpen"].trigger()
    assert win.isVisible()
    win.tray.actions["trayUpdateAll"].trigger()
    _, _, ok, message = wait_job(qtbot, win, "update")
    assert ok, message
    assert digest(game) == demo.builds[2]
    win.quitting = True
    win.tray.hide()


def test_without_a_tray_closing_quits_and_notes_go_to_the_status_bar(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert not window.tray.visible()
    window.notify("Title", "something happened")
    assert window.statusBar().currentMessage() == "Title: something happened"
    window.quitting = False
    window.close()
    assert window.quitting and not window.isVisible()


def test_add_game_dialog_installs_into_an_empty_folder(
    qtbot: QtBot, demo: Demo, tmp_path: Path
) -> None:
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    dialog = choose_demo(qtbot, win, demo)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    dialog.folderEdit.setText(str(tmp_path / "busy"))
    child(dialog, QPushButton, "installButton").click()
    assert "not empty" in dialog.problem.text() and dialog.isVisible()
    dialog.folderEdit.setText(str(tmp_path / "new game"))
    child(dialog, QPushButton, "installButton").click()
    _, _, ok, message = wait_job(qtbot, win, "install")
    assert ok, message
    assert digest(tmp_path / "new game") == demo.builds[-1]
    assert win.current_game() == str((tmp_path / "new game").resolve())
    # The check, size and art jobs the install started end (and say so on the GUI
    # thread) before the window goes.
    qtbot.waitUntil(lambda: not win.jobs.jobs, timeout=JOB_TIMEOUT)
    win.quitting = True


def choose_demo(qtbot: QtBot, win: MainWindow, demo: Demo):  # type: ignore[no-untyped-def]
    """The Add game dialog with the demo's source typed in, its game and newest build
    chosen (tests/gui/test_add_game.py drives the dialog's lists in full)."""
    dialog = win.add_game()
    dialog.sourceEdit.setEditText(demo.url)
    dialog.loadButton.click()
    qtbot.waitUntil(lambda: dialog.productList.count() == 1, timeout=30_000)
    dialog.productList.setCurrentRow(0)
    qtbot.waitUntil(lambda: dialog.folderEdit.text() != "", timeout=30_000)
    assert dialog.product() == DEMO_PRODUCT
    return dialog


def test_add_existing_game_registers_a_folder_the_library_lost(
    qtbot: QtBot, window: MainWindow, game: Path, home: Path
) -> None:
    # The window's background jobs (art, sizes, estimates) write under home: let them
    # end first, or the folder is not empty when it is removed.
    assert window.jobs.wait_all()
    shutil.rmtree(home)
    window.reload_library()
    assert window.gamesView.topLevelItemCount() == 0
    window.adopt_folder(str(game))
    _, _, ok, message = wait_job(qtbot, window, "adopt")
    assert ok, message
    assert window.current_game() == str(game)
    with Library.open() as library:
        assert [str(r.path) for r in library.installs()] == [str(game)]


def test_rollback_from_a_point_on_disk(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    checked(qtbot, window, game)
    window.buildsView.setCurrentItem(row_with(window.buildsView, 1, "2"))
    window.updateButton.click()
    assert wait_job(qtbot, window, "update")[2]
    points = child(window, QTreeWidget, "pointsView")
    points.setCurrentItem(listed(qtbot, points, 1, "back to 1.0.0"))
    assert window.historyView.currentItem() is None and window.rollbackButton.isEnabled()
    window.rollbackButton.click()
    assert wait_job(qtbot, window, "rollback")[2]
    assert digest(game) == demo.builds[0]


def test_a_second_launch_brings_the_running_window_forward(
    qtbot: QtBot, window: MainWindow, home: Path
) -> None:
    from gui.single import SingleInstance

    single = SingleInstance()
    assert single.listen()
    single.activated.connect(window.bring_forward)
    window.hide()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SLIPSTREAM_HOME": str(home)}
    with qtbot.waitSignal(single.activated, timeout=30_000):
        proc = subprocess.Popen(
            [sys.executable, "-m", "gui.app"], env=env, stdout=subprocess.PIPE, text=True
        )
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "already running" in out
    assert window.isVisible()
    single.close()


def test_self_test_command_passes(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "gui.app", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout
    assert "Update: the folder is build 3" in result.stdout


def test_the_account_menu_shows_who_is_logged_in(qtbot: QtBot, game: Path) -> None:
    from core.gog.auth import Tokens, save_tokens

    save_tokens(Tokens("access", "refresh", time.time() + 3600, "42", "Ada"))
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.account == "Ada")
    assert "Ada" in win.loginAction.text() and "Ada" in win.accountMenu.title()
    dialog = win.open_login()
    assert dialog.objectName() == "loginDialog" and dialog.isVisible()
    dialog.reject()
    win.quitting = True


def test_adding_a_folder_with_no_game_says_so(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    empty = tmp_path / "nothing here"
    empty.mkdir()
    window.adopt_folder(str(empty))
    _, _, ok, message = wait_job(qtbot, window, "adopt")
    assert not ok and message
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "goggame" in (box.text() + box.informativeText()).lower()
    assert not (empty / ".slipstream").exists()
    with Library.open() as library:
        assert str(empty.resolve()) not in [str(r.path) for r in library.installs()]


def test_without_a_screen_the_window_says_so_in_one_line(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(
        [sys.executable, "-m", "gui.app"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no screen" in result.stderr
    assert "Traceback" not in result.stderr and "qt." not in result.stderr.lower()


def bar_agrees_with_its_text(win: MainWindow) -> bool:
    text = win.overallProgress.format()
    if not text.endswith("%)"):
        return True
    return int(text.rsplit("(", 1)[1].rstrip("%)")) == round(win.overallProgress.value() / 10)


def test_an_install_shows_in_its_row_and_the_panel_from_its_start_and_can_be_stopped(
    qtbot: QtBot, demo: Demo, tmp_path: Path
) -> None:
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    win.show()
    win.settings = Settings(limit_rate_kib=64)  # the install takes minutes: catch it
    dialog = choose_demo(qtbot, win, demo)
    folder = (tmp_path / "new game").resolve()
    dialog.folderEdit.setText(str(folder))
    child(dialog, QPushButton, "installButton").click()
    # At once, before any byte arrived: the row, the panel and Cancel.
    assert win.current_game() == str(folder)
    assert row_with(win.gamesView, 0, "new game").text(3).startswith("Installing")
    assert win.cancelButton.isEnabled() and not win.updateButton.isEnabled()
    assert win.overallProgress.format() != "No job running"
    state = win.progress[str(folder)]
    qtbot.waitUntil(lambda: state.download_done > 0, timeout=30_000)
    assert "downloading" in row_with(win.gamesView, 0, "new game").text(3)
    assert bar_agrees_with_its_text(win) and "downloaded" in win.detailLabel.text()
    win.cancelButton.click()
    _, _, ok, message = wait_job(qtbot, win, "install")
    assert not ok and "resume" in message
    assert win.notifications[-1][0] == "Install stopped"
    assert "Cancelled: Cancelled" not in win.statusBar().currentMessage()
    assert str(folder) not in win.records  # nothing was installed, so nothing is listed
    with Library.open() as library:
        assert library.install(folder) is None
    win.quitting = True


def test_a_stopped_update_resumes_its_counters_and_history_saves_nothing_it_did_not(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    window.settings = Settings(limit_rate_kib=32)
    checked(qtbot, window, game)
    window.updateButton.click()
    state = lambda: window.progress.get(str(game))  # noqa: E731
    qtbot.waitUntil(
        lambda: state() is not None and state().download_done > 40_000,  # type: ignore[union-attr]
        timeout=60_000,
    )
    assert bar_agrees_with_its_text(window)
    window.cancelButton.click()
    assert not wait_job(qtbot, window, "update")[2]
    assert window.notifications[-1][0] == "Update stopped"
    assert "Update again to resume from the" in window.notifications[-1][1]
    cancelled = listed(qtbot, window.historyView, 2, "cancelled")
    assert cancelled.text(4) == ""  # a stopped run saved nothing
    assert cancelled.text(3) != "0 B"  # and did download something
    # Kept: objects, and the chunks already written into the files the run had staged.
    objects = sum(p.stat().st_size for p in GameDir(game).downloads.glob("?-*"))
    staged = [p for p in GameDir(game).resume_dir.rglob("*") if p.is_file()]

    window.settings = Settings()
    window.updateButton.click()
    qtbot.waitUntil(lambda: state() is not None and bool(state().files))  # type: ignore[union-attr]
    resumed = state()
    assert resumed is not None and resumed.resumed_bytes >= objects
    assert resumed.resumed_bytes > 0 and (staged or resumed.resumed_bytes == objects)
    assert resumed.download_done >= resumed.resumed_bytes
    assert wait_job(qtbot, window, "update")[2]
    assert digest(game) == demo.builds[2]
    assert resumed.download_done == resumed.download_total


def test_verify_says_how_many_files_it_checked(
    qtbot: QtBot, window: MainWindow, game: Path
) -> None:
    window.select_game(str(game))
    window.verifyButton.click()
    assert wait_job(qtbot, window, "verify")[2]
    count = len(GameDir(game).load_state().files)  # type: ignore[union-attr]
    assert f"checked {count} of {count} files" in window.detailLabel.text()
    assert "downloaded" not in window.detailLabel.text()


def test_files_of_the_player_that_an_update_ships_are_named_as_kept(
    qtbot: QtBot, window: MainWindow, game: Path, home: Path
) -> None:
    mine = game / "data" / "added-202.bin"  # build 3 adds this file
    mine.write_bytes(b"the player's own file")
    checked(qtbot, window, game)
    window.updateButton.click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert ok and "data/added-202.bin" in message
    label = window.pane.keptLabel
    assert label.isVisible() and "data/added-202.bin" in label.text()


def test_uninstall_asks_first_and_keeps_the_players_save(
    qtbot: QtBot, window: MainWindow, game: Path
) -> None:
    save = game / "saves" / "slot1.sav"
    save.parent.mkdir(exist_ok=True)
    save.write_bytes(b"level 12, 300 gold")
    window.select_game(str(game))
    button = child(window, QPushButton, "uninstallButton")
    assert button.isEnabled() and button.accessibleName() == "Uninstall"
    button.click()
    box = window.findChild(QMessageBox, "uninstallDialog")
    assert box is not None and box.isVisible() and box.isModal()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert (game / "Game.exe").is_file()  # asked, not done
    button.click()
    box = window.findChild(QMessageBox, "uninstallDialog")
    box.button(QMessageBox.StandardButton.Yes).click()
    _, _, ok, message = wait_job(qtbot, window, "uninstall")
    assert ok and "saves" in message
    assert save.read_bytes() == b"level 12, 300 gold"
    assert sorted(p.relative_to(game).as_posix() for p in game.rglob("*")) == [
        "saves",
        "saves/slot1.sav",
    ]
    assert window.gamesView.topLevelItemCount() == 0


def test_play_without_a_launch_task_says_so(qtbot: QtBot, window: MainWindow, game: Path) -> None:
    window.select_game(str(game))
    child(window, QPushButton, "playButton").click()
    _, _, ok, message = wait_job(qtbot, window, "play")
    assert not ok and "launch task" in message


def test_change_source_moves_the_game_to_another_server(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo
) -> None:
    from PySide6.QtWidgets import QInputDialog

    window.select_game(str(game))
    with serving(demo.root / "repo") as other:
        window.changeSourceAction.trigger()
        dialog = window.findChild(QInputDialog, "changeSourceDialog")
        assert dialog is not None and dialog.textValue() == demo.url
        dialog.setTextValue(other)
        dialog.accept()
        _, _, ok, message = wait_job(qtbot, window, "source")
        assert ok and other in message
        assert window.records[str(game)].source == other
        assert GameDir(game).load_state().source == other  # type: ignore[union-attr]


def test_the_library_lists_size_on_disk_and_the_games_icon(
    qtbot: QtBot, window: MainWindow, game: Path
) -> None:
    size = sum(p.stat().st_size for p in game.rglob("*") if ".slipstream" not in p.parts)
    row = lambda: row_with(window.gamesView, 0, "Slipstream")  # noqa: E731
    qtbot.waitUntil(lambda: row().text(4) != "" and not row().icon(0).isNull())
    from core.units import format_bytes

    assert row().text(4) == format_bytes(size)
    assert window.gamesView.headerItem().text(4) == "Size on disk"


def test_every_control_has_an_accessible_name(window: MainWindow) -> None:
    from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QHeaderView, QProgressBar

    unnamed = [
        w.objectName() or type(w).__name__
        for kind in (QAbstractButton, QAbstractItemView, QProgressBar)
        for w in window.findChildren(kind)
        if w.isVisibleTo(window)
        and not isinstance(w, QHeaderView)  # a list's column titles, read with the list
        and not w.accessibleName()
        and not _labelled(w)
    ]
    assert not unnamed


def _labelled(widget: object) -> bool:
    """Buttons read their text; tab bars' and toolbar buttons their actions."""
    from PySide6.QtWidgets import QAbstractButton

    return isinstance(widget, QAbstractButton) and bool(widget.text().replace("&", ""))


def test_the_branch_selector_moves_the_game_and_its_name_stays(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from core.demo.start import DEMO_NAME
    from core.publish.publisher import PublishOptions, publish

    repo = prepare_demo(tmp_path / "own")  # with the product document naming the game
    beta = shutil.copytree(tmp_path / "own" / "builds" / "1.1.0", tmp_path / "b4")
    # No --name: the branch's first build names the product after its folder, "b4".
    publish(beta, repo, PublishOptions(DEMO_PRODUCT, version_name="2.0-beta", branch="beta"))
    with serving(repo) as url:
        game = (tmp_path / "game").resolve()
        install(url, DEMO_PRODUCT, game, build="1")
        win = create_main_window(tray=False, check_on_start=False)
        qtbot.addWidget(win)
        win.show()
        checked(qtbot, win, game)
        selector = win.branchSelector
        assert selector.currentText() == "default" and selector.findText("beta") >= 0
        selector.setCurrentIndex(selector.findText("beta"))
        selector.activated.emit(selector.currentIndex())
        _, _, ok, message = wait_job(qtbot, win, "update")
        assert ok, message
        assert GameDir(game).load_state().branch == "beta"  # type: ignore[union-attr]
        assert digest(game) == digest(tmp_path / "b4")
        qtbot.waitUntil(lambda: DEMO_NAME in win.titleLabel.text())
        assert row_with(win.gamesView, 0, DEMO_NAME).text(1) == "2.0-beta"
        assert "b4" not in win.titleLabel.text() and "branch beta" in win.titleLabel.text()
        win.quitting = True


def test_the_covers_grid_shows_each_game_and_choosing_one_selects_it(
    qtbot: QtBot, window: MainWindow, game: Path, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QListWidget

    other = (tmp_path / "second").resolve()
    shutil.copytree(game, other)
    window.adopt_folder(str(other))
    assert wait_job(qtbot, window, "adopt")[2]
    toggle = child(window, QPushButton, "coverToggle")
    toggle.click()
    covers = child(window, QListWidget, "coverView")
    assert covers.isVisible() and not window.gamesView.isVisible()
    assert covers.count() == 2
    qtbot.waitUntil(lambda: all(not covers.item(n).icon().isNull() for n in range(2)))
    first = next(covers.item(n) for n in range(2) if covers.item(n).data(ROLE) == str(game))
    covers.setCurrentItem(first)
    assert window.current_game() == str(game)
    toggle.click()
    assert window.gamesView.isVisible()


def test_the_window_outlives_an_update_killed_mid_way_and_the_next_one_finishes(
    qtbot: QtBot, window: MainWindow, game: Path, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update runs in a process of its own (gui/child.py): kill -9 it after its files
    are staged, and the window says so, the folder is still build 1, and Update again
    finishes the job."""
    checked(qtbot, window, game)
    monkeypatch.setenv("SLIPSTREAM_CRASHPOINT", "update-assembled")
    window.updateButton.click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert not ok and "stopped unexpectedly" in message and "resume" in message
    assert digest(game) == demo.builds[0]
    assert window.isVisible()

    monkeypatch.delenv("SLIPSTREAM_CRASHPOINT")
    window.updateButton.click()
    _, _, ok, message = wait_job(qtbot, window, "update")
    assert ok, message
    assert digest(game) == demo.builds[2]
