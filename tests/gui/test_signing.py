"""The window says whether a game's repository is signed (with the root key the install
trusts) or unsigned, and a repository that fails its signatures reaches the player as a
message naming the attack, never a traceback, with the game folder unchanged (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from core.format import layout
from core.trust.pins import install_signing
from core.update.engine import install
from gui.app import create_main_window
from gui.window import MainWindow
from tests.gui.test_window import wait_job
from tests.support.helpers import serving, tree
from tests.support.signed import PRODUCT, SignedRepo, make_signed_repo

pytestmark = pytest.mark.usefixtures("home")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> SignedRepo:
    return make_signed_repo(tmp_path_factory.mktemp("signed"), count=2)


@pytest.fixture
def mirror(signed: SignedRepo, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "mirror"
    signed.serve_state(2, folder)
    with serving(folder) as url:
        yield folder, url


def open_window(qtbot: QtBot, game: Path) -> MainWindow:
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    win.show()
    win.select_game(str(game))
    return win


def close_window(win: MainWindow) -> None:
    win.jobs.cancel_all()
    win.jobs.wait_all()
    win.quitting = True


def test_a_signed_game_shows_its_root_key_and_a_tampered_listing_is_a_message(
    qtbot: QtBot, signed: SignedRepo, mirror: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = mirror
    game = (tmp_path / "game").resolve()
    install(url, PRODUCT, game, build="1")
    signing = install_signing(game)
    win = open_window(qtbot, game)
    try:
        label = win.findChild(QLabel, "signingLabel")
        assert label is not None
        assert label.text() == f"Repository: {signing.describe()}"
        assert signing.root_key_ids and signing.root_key_ids[0][:8] in label.text()
        listing = folder / layout.builds_rel(PRODUCT, "windows")
        listing.write_text(listing.read_text().replace('"1.2"', '"1.9"'))
        before = tree(game)
        win.updateButton.click()
        _, _, ok, _ = wait_job(qtbot, win, "prepare")
        assert not ok
        box = win.findChild(QMessageBox, "errorDialog")
        assert box is not None and box.isVisible()
        words = box.text() + box.informativeText()
        assert "tampered" in words and "Traceback" not in words
        assert tree(game) == before
    finally:
        close_window(win)


def test_an_unsigned_game_says_so(qtbot: QtBot, signed: SignedRepo, tmp_path: Path) -> None:
    folder = tmp_path / "unsigned"
    signed.serve_state(2, folder)
    for metadata in (folder / "metadata").glob("*"):
        metadata.unlink()
    with serving(folder) as url:
        game = (tmp_path / "game").resolve()
        install(url, PRODUCT, game, build="1")
        win = open_window(qtbot, game)
        try:
            label = win.findChild(QLabel, "signingLabel")
            assert label is not None and label.text() == "Repository: unsigned"
            assert "not against a mirror that lies" in label.toolTip()
        finally:
            close_window(win)
