"""Desktop notifications (gui/notify.py) from the real window, offscreen: sent over a private
D-Bus session bus to a recording org.freedesktop.Notifications server, clicked back, and
the tray's balloon or the status bar when there is no service to send them to."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.library.settings import Settings
from gui.app import create_main_window
from gui.window import MainWindow
from tests.support.desktop_bus import NotificationServer, session_bus

pytestmark = pytest.mark.usefixtures("home", "keyring_env")

TITLE, MESSAGE = "Update available", "Slipstream Demo Quest 1.2.0 is out."


@pytest.fixture
def make_window(qtbot: QtBot) -> Iterator[Callable[[bool], MainWindow]]:
    made: list[MainWindow] = []

    def make(tray: bool = False) -> MainWindow:
        win = create_main_window(tray=tray, check_on_start=False)
        qtbot.addWidget(win)
        made.append(win)
        return win

    yield make
    for win in made:
        win.quitting = True
        win.tray.hide()
        win.close()


def test_a_notice_goes_to_the_desktop_s_notification_server(
    qtbot: QtBot, make_window: Callable[[bool], MainWindow], notification_server: NotificationServer
) -> None:
    window = make_window(False)
    with qtbot.assertNotEmitted(window.notifier.fellBack, wait=0):
        window.notify(TITLE, MESSAGE)
        qtbot.waitUntil(lambda: len(notification_server.received()) == 1)
    notice = notification_server.received()[0]
    assert (notice.summary, notice.body, notice.app_name) == (TITLE, MESSAGE, "Slipstream")
    assert notice.icon.startswith("file://") and notice.icon.endswith("/slipstream.svg")
    assert "default" in notice.actions  # the server said it takes clicks
    assert window.statusBar().currentMessage() == f"{TITLE}: {MESSAGE}"
    assert not window.notifier.service_failed()


def test_clicking_a_notice_brings_the_window_forward(
    qtbot: QtBot, make_window: Callable[[bool], MainWindow], notification_server: NotificationServer
) -> None:
    window = make_window(True)  # in the tray, hidden, as after login
    assert not window.isVisible()
    window.notify("Update finished", "Slipstream Demo Quest is now 1.2.0.")
    qtbot.waitUntil(lambda: len(notification_server.received()) == 1)
    with qtbot.waitSignal(window.notifier.clicked):
        notification_server.click(notification_server.received()[0])
    qtbot.waitUntil(window.isVisible)


def test_with_no_session_bus_the_tray_balloon_shows_it_and_the_service_rests(
    qtbot: QtBot, make_window: Callable[[bool], MainWindow]
) -> None:
    """The fixtures point DBUS_SESSION_BUS_ADDRESS at a socket that does not exist."""
    window = make_window(True)
    assert window.tray.visible()
    with qtbot.waitSignal(window.tray.messageShown) as shown:
        window.notify(TITLE, MESSAGE)
    assert shown.args == [TITLE, MESSAGE]
    assert window.notifier.service_failed()
    assert window.notifier.last_failure
    # Asked again at once, it does not wait for the service: the balloon shows it now.
    balloons: list[tuple[str, str]] = []
    window.tray.messageShown.connect(lambda title, message: balloons.append((title, message)))
    window.notify("Update finished", "done")
    assert balloons == [("Update finished", "done")]


def test_with_no_tray_either_the_status_bar_has_it(
    qtbot: QtBot, make_window: Callable[[bool], MainWindow]
) -> None:
    window = make_window(False)
    with qtbot.waitSignal(window.notifier.fellBack) as fell:
        window.notify(TITLE, MESSAGE)
    assert fell.args == [TITLE, MESSAGE]
    assert window.statusBar().currentMessage() == f"{TITLE}: {MESSAGE}"
    assert window.notifier.service_failed()


def test_a_bus_without_a_notification_server_falls_back(
    qtbot: QtBot,
    make_window: Callable[[bool], MainWindow],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_bus(tmp_path / "bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        window = make_window(True)
        with qtbot.waitSignal(window.tray.messageShown):
            window.notify(TITLE, MESSAGE)
        assert "org.freedesktop.Notifications" in (window.notifier.last_failure or "")
        window.close()  # closes the notifier's connection while the bus still runs


def test_a_service_that_does_not_answer_falls_back_after_the_timeout(
    qtbot: QtBot,
    make_window: Callable[[bool], MainWindow],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socket that takes the connection and never says a word: the D-Bus handshake
    waits forever, so only the notifier's own timeout ends it."""
    path = tmp_path / "silent"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(path))
        silent.listen(4)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={path}")
        window = make_window(False)
        with qtbot.waitSignal(window.notifier.fellBack, timeout=10_000):
            window.notify(TITLE, MESSAGE)
        assert "did not answer" in (window.notifier.last_failure or "")


def test_the_service_is_tried_again_after_the_rest(
    qtbot: QtBot,
    make_window: Callable[[bool], MainWindow],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window(False)
    with qtbot.waitSignal(window.notifier.fellBack):
        window.notify("first", "no bus yet")
    window.notifier.retry_after = 0.0  # the rest is over
    with session_bus(tmp_path / "bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        server = NotificationServer(address)
        server.start()
        try:
            window.notify("second", "the service is back")
            qtbot.waitUntil(lambda: len(server.received()) == 1)
            assert server.received()[0].summary == "second"
            qtbot.waitUntil(lambda: not window.notifier.service_failed())
            window.close()
        finally:
            server.stop()


def test_notifications_turned_off_send_nothing_but_the_status_bar_keeps_them(
    qtbot: QtBot, make_window: Callable[[bool], MainWindow], notification_server: NotificationServer
) -> None:
    window = make_window(False)
    window.apply_settings(replace(Settings(), notifications=False))
    with qtbot.assertNotEmitted(window.notifier.fellBack, wait=0):
        window.notify("off", "not sent")
    assert window.statusBar().currentMessage() == "off: not sent"
    window.apply_settings(Settings())
    window.notify("on", "sent")
    qtbot.waitUntil(lambda: len(notification_server.received()) >= 1)
    # Notices go out in order on one thread: had "off" been sent, it would be first.
    assert [n.summary for n in notification_server.received()] == ["on"]


def test_the_service_thread_starts_with_the_first_notice_and_quitting_stops_it(
    qtbot: QtBot,
    make_window: Callable[[bool], MainWindow],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notice still waiting on a silent service when the window quits falls back at
    once instead of holding the quit up."""
    path = tmp_path / "silent"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(path))
        silent.listen(4)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={path}")
        window = make_window(False)
        assert not window.notifier.service_running()  # created lazily
        window.notify(TITLE, MESSAGE)
        assert window.notifier.service_running()
        with qtbot.waitSignal(window.notifier.fellBack) as fell:
            window.quitting = True
            window.close()
        assert not window.notifier.service_running()
        assert fell.args == [TITLE, MESSAGE]
        assert window.notifier.last_failure == "the notification was cancelled"
