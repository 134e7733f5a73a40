"""Automatic updates, driven from the real window offscreen: the demo game installed at its
first build from a repository served on 127.0.0.1, a background check, and the folder's
files checked by md5 afterwards; the notices are read from a recording
org.freedesktop.Notifications server on a private D-Bus session bus."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from core.demo.start import DEMO_NAME, DEMO_PRODUCT, VERSIONS, prepare_demo
from core.library.settings import Settings, save_settings
from core.update.engine import install
from gui.app import create_main_window
from gui.window import MainWindow
from tests.support.desktop_bus import NotificationServer
from tests.support.helpers import serving, tree

JOB_TIMEOUT = 120_000

pytestmark = pytest.mark.usefixtures("keyring_env")


@dataclass
class Demo:
    url: str
    builds: list[dict[str, str]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    repo = prepare_demo(root)
    with serving(repo) as url:
        yield Demo(url, [tree(root / "builds" / v) for v in VERSIONS])


@pytest.fixture
def game(demo: Demo, home: Path, tmp_path: Path) -> Path:
    folder = (tmp_path / "game").resolve()
    install(demo.url, DEMO_PRODUCT, folder, build="1")
    return folder


def start_window(qtbot: QtBot, auto_update: bool) -> MainWindow:
    """The window as it starts at login: settings from the file, a check at once."""
    save_settings(Settings(auto_update=auto_update))
    win = create_main_window(tray=False, check_on_start=True)
    qtbot.addWidget(win)
    assert win.settings.auto_update is auto_update
    return win


def record_jobs(win: MainWindow) -> list[tuple[Any, ...]]:
    got: list[tuple[Any, ...]] = []
    win.jobFinished.connect(lambda *args: got.append(args))
    return got


def of_kind(got: list[tuple[Any, ...]], kind: str) -> list[tuple[Any, ...]]:
    return [args for args in got if args[1] == kind]


def summaries(server: NotificationServer) -> list[str]:
    return [notice.summary for notice in server.received()]


def close(win: MainWindow) -> None:
    win.jobs.cancel_all()
    win.jobs.wait_all()
    win.quitting = True
    win.close()


def test_with_automatic_updates_a_check_updates_the_game_and_notifies_when_done(
    qtbot: QtBot, game: Path, demo: Demo, notification_server: NotificationServer
) -> None:
    assert tree(game) == demo.builds[0]
    win = start_window(qtbot, auto_update=True)
    got = record_jobs(win)
    qtbot.waitUntil(lambda: bool(of_kind(got, "update")), timeout=JOB_TIMEOUT)
    (_, _, ok, message), *_ = of_kind(got, "update")
    assert ok, message
    assert tree(game) == demo.builds[2]
    qtbot.waitUntil(lambda: "Update finished" in summaries(notification_server))
    finished = next(n for n in notification_server.received() if n.summary == "Update finished")
    assert finished.body.startswith(f"{DEMO_NAME} is now 1.2.0 (3)")
    assert "Update available" not in summaries(notification_server)
    close(win)


def test_without_automatic_updates_a_check_only_notifies(
    qtbot: QtBot, game: Path, demo: Demo, notification_server: NotificationServer
) -> None:
    win = start_window(qtbot, auto_update=False)
    got = record_jobs(win)
    qtbot.waitUntil(lambda: bool(of_kind(got, "check")), timeout=JOB_TIMEOUT)
    # An update would have started inside the check's handler, before "check" finished.
    assert not win.jobs.busy(str(game))
    qtbot.waitUntil(lambda: "Update available" in summaries(notification_server))
    available = next(n for n in notification_server.received() if n.summary == "Update available")
    assert available.body == f"{DEMO_NAME} 1.2.0 is out."
    assert not of_kind(got, "update") and not of_kind(got, "prepare")
    assert tree(game) == demo.builds[0]
    close(win)


def test_a_game_whose_files_the_player_changed_is_not_updated_on_its_own(
    qtbot: QtBot, game: Path, demo: Demo, notification_server: NotificationServer
) -> None:
    """The conflict dialog's choice (keep mine, or take theirs and keep a copy) is the
    player's: an automatic update leaves the game as it is and tells them."""
    mod = b"the player's own patch of the game\n"
    (game / "Game.exe").write_bytes(mod)
    win = start_window(qtbot, auto_update=True)
    got = record_jobs(win)
    qtbot.waitUntil(lambda: bool(of_kind(got, "update")), timeout=JOB_TIMEOUT)
    (_, _, ok, message), *_ = of_kind(got, "update")
    assert not ok
    assert "1 of its files were changed" in message and "press Update" in message
    qtbot.waitUntil(lambda: "Update available" in summaries(notification_server))
    assert (game / "Game.exe").read_bytes() == mod
    expected = dict(demo.builds[0])
    del expected["Game.exe"]
    got_files = tree(game)
    del got_files["Game.exe"]
    assert got_files == expected
    close(win)


def test_no_automatic_update_while_another_job_runs_on_the_game(
    qtbot: QtBot, game: Path, demo: Demo, notification_server: NotificationServer
) -> None:
    save_settings(Settings(auto_update=True))
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    release = threading.Event()
    busy = win.jobs.start(str(game), "verify", lambda sink, cancel: release.wait(60))
    assert busy is not None
    got = record_jobs(win)
    try:
        win.check_timer.setInterval(1)  # the background check, due now
        win.check_timer.start()
        qtbot.waitUntil(lambda: bool(of_kind(got, "check")), timeout=JOB_TIMEOUT)
        win.check_timer.stop()
        assert win.jobs.get(str(game)) is busy  # no update was queued behind it
        qtbot.waitUntil(lambda: "Update available" in summaries(notification_server))
    finally:
        release.set()
    qtbot.waitUntil(lambda: not win.jobs.busy(str(game)))
    assert not of_kind(got, "update")
    assert tree(game) == demo.builds[0]
    close(win)


def test_an_automatic_update_that_fails_tells_the_player_and_leaves_the_game(
    qtbot: QtBot, game: Path, demo: Demo, notification_server: NotificationServer
) -> None:
    downloads = game / ".slipstream" / "downloads"
    if downloads.is_dir():
        shutil.rmtree(downloads)
    downloads.write_text("a file where the update downloads to\n", "utf-8")
    win = start_window(qtbot, auto_update=True)
    got = record_jobs(win)
    qtbot.waitUntil(
        lambda: any(a[1] in ("prepare", "update") and a[2] is False for a in got),
        timeout=JOB_TIMEOUT,
    )
    qtbot.waitUntil(lambda: "Update failed" in summaries(notification_server))
    notice = next(n for n in notification_server.received() if n.summary == "Update failed")
    assert "downloads" in notice.body
    assert tree(game) == demo.builds[0]  # tree() leaves .slipstream/ out
    close(win)
