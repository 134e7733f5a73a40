"""gui/settings_dialog.py driven through its widgets with pytest-qt."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from core.library import autostart
from core.library.settings import Settings, load_settings
from gui.app import create_main_window
from gui.settings_dialog import SettingsDialog
from gui.window import MainWindow

W = TypeVar("W", bound=QWidget)

FIELDS = ("sourcesList", "sourceEdit", "threadsSpin", "limitSpin", "checkHoursSpin")
FIELDS += ("keepPointsSpin",)
SWITCHES = ("notificationsCheck", "autostartCheck", "autoUpdateCheck")


def make(qtbot: QtBot, settings: Settings | None = None) -> SettingsDialog:
    dialog = SettingsDialog(settings if settings is not None else Settings(sources=("gog",)))
    qtbot.addWidget(dialog)
    return dialog


def child(dialog: SettingsDialog, kind: type[W], name: str) -> W:
    widget = dialog.findChild(kind, name)
    assert widget is not None, name
    return widget


def ok_button(dialog: SettingsDialog) -> QPushButton:
    button = child(dialog, QDialogButtonBox, "buttonBox").button(QDialogButtonBox.StandardButton.Ok)
    assert button is not None
    return button


def sources(dialog: SettingsDialog) -> list[str]:
    view = child(dialog, QListWidget, "sourcesList")
    return [view.item(i).text() for i in range(view.count())]


def tick(qtbot: QtBot, box: QCheckBox) -> None:
    """Click the box's indicator, where the player clicks (a wide row's middle is not it)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def retype(qtbot: QtBot, spin: QSpinBox | QDoubleSpinBox, text: str) -> None:
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    spin.interpretText()


def test_shows_the_given_settings(qtbot: QtBot) -> None:
    given = Settings(("gog", "http://a.example"), 7, 300, 2.5, 9, False, True, True)
    dialog = make(qtbot, given)
    assert dialog.objectName() == "settingsDialog"
    assert dialog.settings() == given
    assert ok_button(dialog).isEnabled()
    assert dialog.error_text() == ""


def test_edit_every_field_and_press_ok(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    edit = child(dialog, QLineEdit, "sourceEdit")
    qtbot.keyClicks(edit, " http://127.0.0.1:8080/ ")
    qtbot.mouseClick(child(dialog, QPushButton, "addSourceButton"), Qt.MouseButton.LeftButton)
    assert edit.text() == ""
    qtbot.keyClicks(edit, "https://cdn.example.com/games")
    with qtbot.assertNotEmitted(dialog.accepted):
        qtbot.keyClick(edit, Qt.Key.Key_Return)  # Enter adds; it does not press OK

    view = child(dialog, QListWidget, "sourcesList")
    first = view.visualItemRect(view.item(0)).center()  # "gog"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=first)
    assert [item.text() for item in view.selectedItems()] == ["gog"]
    qtbot.mouseClick(child(dialog, QPushButton, "removeSourceButton"), Qt.MouseButton.LeftButton)

    retype(qtbot, child(dialog, QSpinBox, "threadsSpin"), "12")
    retype(qtbot, child(dialog, QSpinBox, "limitSpin"), "2048")
    child(dialog, QDoubleSpinBox, "checkHoursSpin").setValue(0.5)
    retype(qtbot, child(dialog, QSpinBox, "keepPointsSpin"), "7")
    for name in SWITCHES:
        tick(qtbot, child(dialog, QCheckBox, name))

    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.settings() == Settings(
        sources=("http://127.0.0.1:8080", "https://cdn.example.com/games"),
        download_threads=12,
        limit_rate_kib=2048,
        check_hours=0.5,
        keep_rollback_points=7,
        notifications=False,
        start_at_login=True,
        auto_update=True,
    )


def test_enter_in_the_address_field_adds_without_accepting(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    dialog.show()
    qtbot.waitExposed(dialog)
    edit = child(dialog, QLineEdit, "sourceEdit")
    edit.setFocus()
    qtbot.keyClicks(edit, "http://mirror.example")
    with qtbot.assertNotEmitted(dialog.accepted):
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert sources(dialog) == ["gog", "http://mirror.example"]
    assert dialog.isVisible()


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("ftp://files.example", "must start with http:// or https://"),
        ("example.com", "must start with http:// or https://"),
        ("http://", "names no server"),
        ("GOG", "gog is already in the list"),
    ],
)
def test_an_invalid_or_duplicate_address_is_refused(
    qtbot: QtBot, typed: str, fragment: str
) -> None:
    dialog = make(qtbot)
    edit = child(dialog, QLineEdit, "sourceEdit")
    qtbot.keyClicks(edit, typed)
    qtbot.mouseClick(child(dialog, QPushButton, "addSourceButton"), Qt.MouseButton.LeftButton)
    assert sources(dialog) == ["gog"]
    assert fragment in dialog.error_text()
    assert edit.text() == typed  # kept, so the player can correct it
    qtbot.keyClicks(edit, "x")  # editing clears the message
    assert dialog.error_text() == ""


def test_ok_with_an_invalid_address_still_typed_does_not_close(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    qtbot.keyClicks(child(dialog, QLineEdit, "sourceEdit"), "nonsense")
    with qtbot.assertNotEmitted(dialog.accepted):
        qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    assert "must start with http://" in dialog.error_text()
    assert dialog.result() != QDialog.DialogCode.Accepted


def test_ok_adds_a_valid_address_still_typed(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    qtbot.keyClicks(child(dialog, QLineEdit, "sourceEdit"), "http://late.example/")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.settings().sources == ("gog", "http://late.example")


def test_a_check_interval_below_the_minimum_disables_ok(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    spin = child(dialog, QDoubleSpinBox, "checkHoursSpin")
    spin.setValue(0.1)
    assert not ok_button(dialog).isEnabled()
    assert "at most every 0.25 hours" in dialog.error_text()
    spin.setValue(0)
    assert ok_button(dialog).isEnabled() and dialog.error_text() == ""
    assert spin.text() == "Never"
    assert dialog.settings().check_hours == 0.0


def test_spin_ranges_follow_the_settings_rules(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    threads = child(dialog, QSpinBox, "threadsSpin")
    keep = child(dialog, QSpinBox, "keepPointsSpin")
    limit = child(dialog, QSpinBox, "limitSpin")
    assert (threads.minimum(), threads.maximum()) == (1, 32)
    assert (keep.minimum(), keep.maximum()) == (0, 20)
    limit.setValue(0)
    assert limit.text() == "No limit"


def test_remove_needs_a_selection_and_delete_removes(qtbot: QtBot) -> None:
    dialog = make(qtbot, Settings(sources=("gog", "http://a.example", "http://b.example")))
    remove = child(dialog, QPushButton, "removeSourceButton")
    view = child(dialog, QListWidget, "sourcesList")
    view.clearSelection()
    assert not remove.isEnabled()
    dialog.show()
    qtbot.waitExposed(dialog)
    view.setFocus()
    view.setCurrentRow(1)
    assert remove.isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert sources(dialog) == ["gog", "http://b.example"]


def test_cancel_rejects(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    child(dialog, QSpinBox, "threadsSpin").setValue(20)
    with qtbot.waitSignal(dialog.rejected):
        button = child(dialog, QDialogButtonBox, "buttonBox").button(
            QDialogButtonBox.StandardButton.Cancel
        )
        assert button is not None
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_every_field_has_a_tooltip_and_a_label_buddy(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    buddies = {label.buddy() for label in dialog.findChildren(QLabel) if label.buddy()}
    for name in FIELDS:
        widget = child(dialog, QWidget, name)
        assert widget.toolTip(), name
        assert widget in buddies, name
        assert widget.accessibleName(), name
    for name in ("addSourceButton", "removeSourceButton"):
        assert child(dialog, QPushButton, name).toolTip()
    for name in SWITCHES:
        box = child(dialog, QCheckBox, name)
        assert box.toolTip() and box.text(), name
        assert box.accessibleName() == box.text().replace("&", ""), name


def test_the_switches_default_to_notifications_on_and_the_rest_off(qtbot: QtBot) -> None:
    dialog = make(qtbot, Settings())
    checked = {name: child(dialog, QCheckBox, name).isChecked() for name in SWITCHES}
    assert checked == {
        "notificationsCheck": True,
        "autostartCheck": False,
        "autoUpdateCheck": False,
    }
    assert dialog.settings() == Settings()


def test_every_mnemonic_in_the_dialog_is_a_different_letter(qtbot: QtBot) -> None:
    dialog = make(qtbot, Settings())
    texts = [
        w.text() for kind in (QLabel, QPushButton, QCheckBox) for w in dialog.findChildren(kind)
    ]
    letters = [t[t.index("&") + 1].lower() for t in texts if "&" in t]
    assert len(letters) >= 11
    assert len(set(letters)) == len(letters), letters


def test_tab_order(qtbot: QtBot) -> None:
    dialog = make(qtbot)
    wanted = [*FIELDS[:2], "addSourceButton", "removeSourceButton", *FIELDS[2:], *SWITCHES]
    wanted.append("buttonBox")
    seen: list[str] = []
    widget: QWidget = child(dialog, QWidget, "sourcesList")
    for _ in range(200):
        if widget.objectName() in wanted and widget.objectName() not in seen:
            seen.append(widget.objectName())
        widget = widget.nextInFocusChain()
        if widget.objectName() == "sourcesList":
            break
    assert seen == wanted


# --- from the window: the switches take effect --------------------------------------------


@pytest.fixture
def window(qtbot: QtBot, home: Path, keyring_env: Path) -> Iterator[MainWindow]:
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.quitting = True
    win.close()


def open_from(window: MainWindow) -> SettingsDialog:
    window.settingsAction.trigger()
    shown = [d for d in window.findChildren(SettingsDialog) if d.isVisible()]
    assert len(shown) == 1
    return shown[0]


@pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is Linux's")
def test_start_at_login_from_the_window_writes_and_removes_the_autostart_entry(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """tests/gui/conftest.py points XDG_CONFIG_HOME into tmp_path."""
    entry = tmp_path / "xdg-config" / "autostart" / autostart.ENTRY_NAME
    assert autostart.entry_path() == entry
    dialog = open_from(window)
    box = child(dialog, QCheckBox, "autostartCheck")
    assert box.isEnabled() and not box.isChecked()
    tick(qtbot, box)
    dialog.accept()
    assert entry.is_file() and autostart.is_enabled()
    assert "--hidden" in entry.read_text("utf-8")
    assert load_settings().start_at_login

    entry.unlink()  # the desktop's own "startup applications" turned it off
    dialog = open_from(window)
    assert not child(dialog, QCheckBox, "autostartCheck").isChecked()
    tick(qtbot, child(dialog, QCheckBox, "autostartCheck"))
    dialog.accept()
    assert entry.is_file()
    dialog = open_from(window)
    tick(qtbot, child(dialog, QCheckBox, "autostartCheck"))
    dialog.accept()
    assert not entry.exists()
    assert not load_settings().start_at_login


@pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is Linux's")
def test_an_autostart_entry_that_cannot_be_written_is_reported(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    config = tmp_path / "xdg-config"
    config.mkdir()
    (config / "autostart").write_text("a file where the folder should be", "utf-8")
    dialog = open_from(window)
    tick(qtbot, child(dialog, QCheckBox, "autostartCheck"))
    dialog.accept()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None)
    error = window.findChild(QMessageBox, "errorDialog")
    assert error is not None
    assert error.windowTitle() == "Start at login not changed"
    assert "could not change whether it starts when you log in" in error.text()
    assert not autostart.is_enabled()
    error.close()


def test_notifications_and_automatic_updates_from_the_window_take_effect(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert window.notifier.enabled and not window.ops.auto_update
    dialog = open_from(window)
    tick(qtbot, child(dialog, QCheckBox, "notificationsCheck"))
    tick(qtbot, child(dialog, QCheckBox, "autoUpdateCheck"))
    dialog.accept()
    assert not window.notifier.enabled and window.ops.auto_update
    saved = load_settings()
    assert (saved.notifications, saved.auto_update) == (False, True)


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_where_start_at_login_is_not_supported_the_switch_says_so_and_is_off(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    dialog = make(qtbot, Settings())
    box = child(dialog, QCheckBox, "autostartCheck")
    assert not box.isEnabled() and not box.isChecked()
    assert box.toolTip() == "Starting at login is not supported on this system yet."
    assert not dialog.settings().start_at_login
