"""The GOG login dialog against the stand-in GOG (tests/gogserver.py), with a real file
keyring in a temp folder; the exchange runs on the dialog's worker thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from core.gog import auth
from gui.login_dialog import LoginDialog, logged_in_user
from tests.support.gogserver import GogStandIn


@pytest.fixture
def gog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyring_env: Path) -> Iterator[GogStandIn]:
    monkeypatch.setenv("SLIPSTREAM_HOME", str(tmp_path / "home"))
    with GogStandIn() as standin:
        for name, value in standin.env().items():
            monkeypatch.setenv(name, value)
        yield standin


def parts(dialog: LoginDialog) -> tuple[QLineEdit, QLineEdit, QPushButton, QLabel, QLabel]:
    return (
        dialog.findChild(QLineEdit, "loginUrlEdit"),
        dialog.findChild(QLineEdit, "codeEdit"),
        dialog.findChild(QPushButton, "loginButton"),
        dialog.findChild(QLabel, "errorLabel"),
        dialog.findChild(QLabel, "loginUserLabel"),
    )


def test_pasting_the_redirect_address_logs_in(qtbot: QtBot, gog: GogStandIn) -> None:
    dialog = LoginDialog(open_url=lambda url: True)
    qtbot.addWidget(dialog)
    url_edit, code_edit, login, error, user = parts(dialog)
    assert dialog.objectName() == "loginDialog"
    assert url_edit.text().startswith(f"{gog.url('auth')}/auth?client_id={auth.CLIENT_ID}")
    assert user.text() == "Not logged in" and logged_in_user() is None

    code_edit.setText(gog.redirect_url(gog.new_code()))
    with (
        qtbot.assert_not_emitted(dialog.logged_out),
        qtbot.wait_signal(dialog.logged_in, timeout=30_000) as signal,
    ):
        login.click()
        assert dialog.busy() and not login.isEnabled()
    assert signal.args == ["player_one"]
    qtbot.wait_until(lambda: not dialog.busy(), timeout=10_000)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.user() == "player_one" and logged_in_user() == "player_one"
    stored = auth.load_tokens()
    assert stored is not None and stored.access_token in gog.access
    assert error.isHidden()
    assert "player_one" in user.text()


def test_a_refused_code_is_shown_and_nothing_is_stored(qtbot: QtBot, gog: GogStandIn) -> None:
    dialog = LoginDialog(open_url=lambda url: True)
    qtbot.addWidget(dialog)
    _url, code_edit, login, error, _user = parts(dialog)
    code_edit.setText("https://embed.gog.com/on_login_success?origin=client&code=stale-77")
    with qtbot.assert_not_emitted(dialog.logged_in):
        login.click()
        qtbot.wait_until(lambda: not dialog.busy(), timeout=30_000)
    assert not error.isHidden()
    assert "not valid" in error.text() and "stale-77" not in error.text()
    assert auth.load_tokens() is None and dialog.result() != QDialog.DialogCode.Accepted
    assert login.isEnabled()


def test_an_address_without_a_code_is_refused_before_any_request(
    qtbot: QtBot, gog: GogStandIn
) -> None:
    dialog = LoginDialog(open_url=lambda url: True)
    qtbot.addWidget(dialog)
    _url, code_edit, login, error, _user = parts(dialog)
    code_edit.setText("https://embed.gog.com/on_login_success?origin=client")
    login.click()
    assert not dialog.busy() and not error.isHidden() and "code=" in error.text()
    assert gog.seen("auth", "/token") == []


def test_open_in_browser_opens_the_login_address(qtbot: QtBot, gog: GogStandIn) -> None:
    opened: list[str] = []

    def opener(url: QUrl) -> bool:
        opened.append(url.toString())
        return False  # no browser here: the dialog says so

    dialog = LoginDialog(open_url=opener)
    qtbot.addWidget(dialog)
    dialog.findChild(QPushButton, "openBrowserButton").click()
    assert opened == [dialog.login_url()]
    assert "No browser" in dialog.findChild(QLabel, "errorLabel").text()


def test_log_out_forgets_the_login(qtbot: QtBot, gog: GogStandIn) -> None:
    auth.login(gog.redirect_url(gog.new_code()))
    dialog = LoginDialog(open_url=lambda url: True)
    qtbot.addWidget(dialog)
    assert dialog.user() == "player_one"
    logout = dialog.findChild(QPushButton, "logoutButton")
    assert logout.isEnabled()
    with qtbot.wait_signal(dialog.logged_out, timeout=5_000):
        logout.click()
    assert auth.load_tokens() is None and dialog.user() is None and not logout.isEnabled()
