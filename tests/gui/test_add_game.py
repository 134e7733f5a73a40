"""The Add game dialog, driven in the real window like a player would: a repository with
two products and builds on two branches served on 127.0.0.1, the GOG stand-in with a
logged-in account (a real file keyring in a temp folder), real game folders checked file
by file against the build that was chosen. Also the branch password of an installed GOG
game."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.gamedir.folder import GameDir
from core.gog import auth
from core.library.settings import Settings
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install
from gui.add_game import AddGameDialog
from gui.app import create_main_window
from gui.game_pane import PASSWORD_ENTRY
from gui.views import rows
from gui.window import MainWindow
from tests.gui.test_window import row_with, wait_job
from tests.support.gogserver import GogStandIn
from tests.support.helpers import serving, tree

pytestmark = pytest.mark.usefixtures("home", "keyring_env")

ALPHA, BETA_GAME = "11", "22"


@dataclass
class Repo:
    root: Path
    url: str
    builds: dict[str, Path]
    """Each published build's folder, by version name."""


def _publish_all(root: Path) -> tuple[Path, dict[str, Path]]:
    """Alpha Game: 1.0 and 1.1 on the default branch, 2.0-beta on ``beta``; Beta Game:
    one Windows build and one Linux build in two languages."""
    base = [
        FileSpec("alpha.exe", 1, 40_000, executable=True),
        FileSpec("data/a.pak", 2, 60_000),
        FileSpec("data/same.txt", 3, 2_000),
    ]
    specs = {
        "1.0": base,
        "1.1": [scattered_edits(base[0], 5, 3), base[1], base[2], FileSpec("new.txt", 6, 900)],
        "2.0-beta": [scattered_edits(base[0], 7, 4), scattered_edits(base[1], 8, 2), base[2]],
    }
    repo, builds = root / "repo", {}
    for version, files in specs.items():
        builds[version] = write_build(root / "builds" / version, files)
        branch = "beta" if "beta" in version else None
        options = PublishOptions(ALPHA, version_name=version, branch=branch, name="Alpha Game")
        publish(builds[version], repo, options)
    other = write_build(root / "builds" / "other", [FileSpec("b.exe", 9, 10_000)])
    publish(other, repo, PublishOptions(BETA_GAME, version_name="0.9", name="Beta Game"))
    linux = PublishOptions(
        BETA_GAME, os="linux", version_name="0.9-linux", languages=("en-US", "de-DE")
    )
    publish(other, repo, linux)
    return repo, builds


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    return _publish_all(tmp_path_factory.mktemp("addgame"))


@pytest.fixture
def repo(published: tuple[Path, dict[str, Path]]) -> Iterator[Repo]:
    root, builds = published
    with serving(root) as url:
        yield Repo(root, url, builds)


def make_window(qtbot: QtBot, sources: tuple[str, ...] = ()) -> MainWindow:
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    win.settings = Settings(sources=sources)
    win.show()
    return win


def stop(qtbot: QtBot, win: MainWindow) -> None:
    """End the window's jobs, and let their ends reach the GUI thread, before it goes."""
    win.jobs.cancel_all()
    qtbot.waitUntil(lambda: not win.jobs.jobs, timeout=60_000)
    win.quitting = True


def open_dialog(qtbot: QtBot, win: MainWindow) -> AddGameDialog:
    win.library.addGameButton.click()
    dialog = win.findChildren(AddGameDialog, "addGameDialog")[-1]
    assert dialog.isVisible() and dialog.isModal()
    return dialog


def lookups_done(win: MainWindow) -> bool:
    """No lookup of an Add game dialog is running."""
    return not any(key.startswith("add:") for key in win.jobs.jobs)


def names(dialog: AddGameDialog) -> list[str]:
    return [dialog.productList.item(n).text() for n in range(dialog.productList.count())]


def versions(dialog: AddGameDialog) -> list[str]:
    return [item.text(0) for item in rows(dialog.buildList)]


def pick_product(qtbot: QtBot, dialog: AddGameDialog, name: str) -> None:
    qtbot.waitUntil(lambda: name in names(dialog), timeout=20_000)
    dialog.productList.setCurrentRow(names(dialog).index(name))


def test_a_game_picked_from_the_lists_installs_the_older_build_chosen(
    qtbot: QtBot, repo: Repo, tmp_path: Path
) -> None:
    win = make_window(qtbot, (repo.url,))
    dialog = open_dialog(qtbot, win)
    assert dialog.sourceEdit.currentText() == repo.url
    pick_product(qtbot, dialog, "Alpha Game")
    assert names(dialog) == ["Alpha Game", "Beta Game"]
    qtbot.waitUntil(lambda: len(versions(dialog)) == 3, timeout=20_000)
    assert versions(dialog) == ["2.0-beta", "1.1", "1.0"]
    assert [i.text(1) for i in rows(dialog.buildList)] == ["beta", "default", "default"]
    # The newest build of the default branch is chosen, not the newest of all.
    assert current_version(dialog) == "1.1"
    # One system, one language: nothing to choose; no passwords in a repository.
    assert dialog.osBox.isHidden() and dialog.langBox.isHidden()
    assert dialog.branchPasswordEdit.isHidden()
    # The folder is prefilled: the library folder and the publisher's folder name.
    qtbot.waitUntil(lambda: dialog.folderEdit.text().endswith("Alpha Game"), timeout=20_000)
    dialog.buildList.setCurrentItem(row_with(dialog.buildList, 0, "1.0"))
    folder = (tmp_path / "games" / "alpha").resolve()
    dialog.folderEdit.setText(str(folder))
    qtbot.waitUntil(dialog.installButton.isEnabled)
    dialog.installButton.click()
    # The row and its progress within a second of accepting.
    qtbot.waitUntil(lambda: win.current_game() == str(folder), timeout=1000)
    assert row_with(win.gamesView, 0, "alpha").text(3).startswith("Installing")
    _, _, ok, message = wait_job(qtbot, win, "install")
    assert ok, message
    assert tree(folder) == tree(repo.builds["1.0"])
    assert GameDir(folder).load_state().build_id == _build_id(repo, "1.0")  # type: ignore[union-attr]
    stop(qtbot, win)


def _build_id(repo: Repo, version: str) -> str:
    from core.update.product import list_builds

    return next(b.build_id for b in list_builds(repo.url, ALPHA) if b.version_name == version)


def test_an_unreachable_source_is_an_error_in_the_dialog_which_stays_usable(
    qtbot: QtBot, repo: Repo
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    win = make_window(qtbot, (dead, repo.url))
    dialog = open_dialog(qtbot, win)
    qtbot.waitUntil(dialog.retryButton.isVisible, timeout=30_000)
    assert dead in dialog.statusLabel.text() or "connect" in dialog.statusLabel.text().lower()
    assert "Traceback" not in dialog.statusLabel.text()
    assert dialog.isVisible() and dialog.productList.count() == 0
    assert not dialog.installButton.isEnabled()
    # Another source, then Retry: the dialog asks again and lists its games.
    dialog.sourceEdit.setCurrentIndex(1)
    dialog.retryButton.click()
    qtbot.waitUntil(lambda: names(dialog) == ["Alpha Game", "Beta Game"], timeout=20_000)
    assert dialog.retryButton.isHidden() and dialog.statusLabel.text() == ""
    dialog.reject()
    stop(qtbot, win)


def test_an_address_that_is_no_source_is_refused_before_any_request(
    qtbot: QtBot, repo: Repo
) -> None:
    win = make_window(qtbot)
    dialog = open_dialog(qtbot, win)
    dialog.sourceEdit.setEditText("ftp://example.com/games")
    dialog.loadButton.click()
    assert "http://" in dialog.statusLabel.text() and dialog.productList.count() == 0
    assert lookups_done(win)  # nothing was asked
    # A trailing slash is no mistake: the games of the repository are listed.
    dialog.sourceEdit.setEditText(repo.url + "/")
    dialog.loadButton.click()
    qtbot.waitUntil(lambda: names(dialog) == ["Alpha Game", "Beta Game"], timeout=20_000)
    assert dialog.choice().source == repo.url
    dialog.reject()
    stop(qtbot, win)


def test_browse_picks_the_folder_with_a_dialog_opened_by_open(
    qtbot: QtBot, repo: Repo, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QFileDialog

    win = make_window(qtbot, (repo.url,))
    dialog = open_dialog(qtbot, win)
    pick_product(qtbot, dialog, "Beta Game")
    qtbot.waitUntil(lambda: dialog.folderEdit.text() != "", timeout=20_000)
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    browse = dialog.findChild(QPushButton, "browseButton")
    assert browse is not None
    browse.click()
    picker = dialog.findChild(QFileDialog, "folderDialog")
    assert picker is not None and picker.isVisible() and picker.isModal()
    picker.selectFile(str(chosen))
    picker.accept()
    assert Path(dialog.folderEdit.text()) == chosen
    # Another system's build is read (its folder name too): the chosen folder stays.
    dialog.osBox.setCurrentIndex(dialog.osBox.findData("windows"))
    dialog.osBox.activated.emit(dialog.osBox.currentIndex())
    assert current_version(dialog) == "0.9"
    qtbot.waitUntil(lambda: lookups_done(win), timeout=20_000)
    assert Path(dialog.folderEdit.text()) == chosen  # a chosen folder is never overwritten
    dialog.reject()
    stop(qtbot, win)


def test_a_source_without_products_says_so_and_takes_a_product_id(
    qtbot: QtBot, repo: Repo, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    import shutil

    shutil.copytree(repo.root, bare)
    (bare / "products" / "index.json").unlink()
    with serving(bare) as url:
        win = make_window(qtbot, (url,))
        dialog = open_dialog(qtbot, win)
        qtbot.waitUntil(lambda: not dialog.productIdEdit.isHidden(), timeout=20_000)
        assert "no games" in dialog.statusLabel.text()
        QTest.keyClicks(dialog.productIdEdit, BETA_GAME)
        QTest.keyClick(dialog.productIdEdit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: len(versions(dialog)) == 1, timeout=20_000)
        assert dialog.isVisible()  # Enter in the product id did not accept the dialog
        dialog.reject()
        stop(qtbot, win)


def test_systems_and_languages_are_offered_only_where_there_is_a_choice(
    qtbot: QtBot, repo: Repo
) -> None:
    from gui.add_game import this_os

    win = make_window(qtbot, (repo.url,))
    dialog = open_dialog(qtbot, win)
    pick_product(qtbot, dialog, "Beta Game")
    qtbot.waitUntil(lambda: not dialog.osBox.isHidden(), timeout=20_000)
    systems = [dialog.osBox.itemData(n) for n in range(dialog.osBox.count())]
    assert systems == ["windows", "linux"] and dialog.os_name() == this_os()
    dialog.osBox.setCurrentIndex(systems.index("linux"))
    dialog.osBox.activated.emit(dialog.osBox.currentIndex())
    assert versions(dialog) == ["0.9-linux"]
    qtbot.waitUntil(lambda: not dialog.langBox.isHidden(), timeout=20_000)
    assert dialog.langBox.currentText() == "en-US"
    dialog.langBox.setCurrentText("de-DE")
    assert (dialog.choice().os, dialog.choice().lang) == ("linux", "de-DE")
    dialog.osBox.setCurrentIndex(systems.index("windows"))
    dialog.osBox.activated.emit(dialog.osBox.currentIndex())
    assert versions(dialog) == ["0.9"]
    qtbot.waitUntil(dialog.langBox.isHidden, timeout=20_000)  # one language: no choice
    assert (dialog.choice().os, dialog.choice().lang) == ("windows", "en-US")
    dialog.reject()
    stop(qtbot, win)


def test_the_whole_flow_by_keyboard_alone(qtbot: QtBot, repo: Repo, tmp_path: Path) -> None:
    """Keys go to whichever control has the focus, as a player's keyboard sends them."""

    def focused() -> QWidget:
        widget = QApplication.focusWidget()
        assert widget is not None
        return widget

    def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        QTest.keyClick(focused(), key, modifier)

    alt = Qt.KeyboardModifier.AltModifier
    win = make_window(qtbot)
    dialog = open_dialog(qtbot, win)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    assert dialog.productList.count() == 0  # no source configured: nothing asked yet
    assert dialog.sourceEdit.hasFocus()  # the source first
    QTest.keyClicks(focused(), repo.url)
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: names(dialog) == ["Alpha Game", "Beta Game"], timeout=20_000)
    assert dialog.isVisible()  # Enter there listed the games; it did not install
    press(Qt.Key.Key_G, alt)  # &Game
    assert dialog.productList.hasFocus()
    press(Qt.Key.Key_Home)
    assert names(dialog)[dialog.productList.currentRow()] == "Alpha Game"
    qtbot.waitUntil(lambda: current_version(dialog) == "1.1", timeout=20_000)
    press(Qt.Key.Key_B, alt)  # &Build
    assert dialog.buildList.hasFocus()
    press(Qt.Key.Key_Down)
    assert current_version(dialog) == "1.0"
    qtbot.waitUntil(lambda: lookups_done(win), timeout=20_000)  # the build's details
    press(Qt.Key.Key_F, alt)  # &Folder
    assert dialog.folderEdit.hasFocus()
    folder = (tmp_path / "by keys").resolve()
    press(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(focused(), str(folder))
    assert dialog.folderEdit.text() == str(folder)
    # Tab leaves the folder for its Browse button and Shift+Tab comes back.
    press(Qt.Key.Key_Tab)
    assert focused() is dialog.findChild(QWidget, "browseButton")
    press(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert dialog.folderEdit.hasFocus()
    press(Qt.Key.Key_Return)  # Enter installs
    qtbot.waitUntil(lambda: win.current_game() == str(folder), timeout=1000)
    assert not dialog.isVisible()
    _, _, ok, message = wait_job(qtbot, win, "install")
    assert ok, message
    assert tree(folder) == tree(repo.builds["1.0"])
    # Escape closes a second dialog without installing anything.
    again = open_dialog(qtbot, win)
    QTest.keyClick(again, Qt.Key.Key_Escape)
    assert not again.isVisible()
    assert list(win.records) == [str(folder)]
    stop(qtbot, win)


def current_version(dialog: AddGameDialog) -> str:
    item = dialog.buildList.currentItem()
    return item.text(0) if item is not None else ""


def test_every_control_of_the_dialog_has_an_accessible_name(qtbot: QtBot, repo: Repo) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QComboBox,
        QHeaderView,
        QLineEdit,
    )

    win = make_window(qtbot, (repo.url,))
    dialog = open_dialog(qtbot, win)
    pick_product(qtbot, dialog, "Alpha Game")
    kinds = (QAbstractButton, QAbstractItemView, QComboBox, QLineEdit)
    controls = [w for kind in kinds for w in dialog.findChildren(kind)]
    unnamed = [
        w.objectName() or type(w).__name__
        for w in controls
        if w.isVisibleTo(dialog)
        and not isinstance(w, QHeaderView)  # a list's column titles, read with the list
        and not w.accessibleName()
        and not (isinstance(w, QAbstractButton) and w.text().replace("&", ""))
    ]
    assert not unnamed
    hidden = [w.objectName() for w in controls if w.objectName() and not w.accessibleName()]
    assert [n for n in hidden if not n.endswith("Button")] == []
    dialog.reject()
    stop(qtbot, win)


# --- GOG --------------------------------------------------------------------------------

GOG_GAME = "1207660413"


@pytest.fixture(scope="module")
def gog_published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("gogadd")
    base = [FileSpec("game.exe", 1, 30_000, executable=True), FileSpec("data.pak", 2, 50_000)]
    builds = {
        "1.0": write_build(root / "b1", base),
        "1.5-beta": write_build(root / "beta", [scattered_edits(base[0], 3, 3), base[1]]),
    }
    for version, folder in builds.items():
        branch = "beta" if "beta" in version else None
        options = PublishOptions(GOG_GAME, version_name=version, branch=branch, name="Gog Game")
        publish(folder, root / "repo", options)
    return root / "repo", builds


@pytest.fixture
def gog(
    gog_published: tuple[Path, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[GogStandIn]:
    with GogStandIn(gog_published[0], owned={GOG_GAME: "Gog Game"}) as standin:
        for name, value in standin.env().items():
            monkeypatch.setenv(name, value)
        auth.login(standin.redirect_url(standin.new_code()))
        yield standin


def stored_password() -> str | None:
    import keyring

    return keyring.get_password(auth.SERVICE, f"branch-password/{GOG_GAME}")


def test_gog_lists_the_owned_games_and_a_private_branch_only_with_its_password(
    qtbot: QtBot, gog: GogStandIn, gog_published: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    win = make_window(qtbot)
    qtbot.waitUntil(lambda: win.account == gog.username, timeout=20_000)
    dialog = open_dialog(qtbot, win)
    assert dialog.sourceEdit.currentText() == "gog"
    pick_product(qtbot, dialog, "Gog Game")
    assert names(dialog) == ["Gog Game"]
    qtbot.waitUntil(lambda: versions(dialog) == ["1.0"], timeout=20_000)
    assert not dialog.branchPasswordEdit.isHidden()
    assert dialog.branchPasswordEdit.echoMode() == QLineEdit.EchoMode.Password
    # A wrong password opens nothing.
    dialog.branchPasswordEdit.setText("guess")
    dialog.privateButton.click()
    qtbot.waitUntil(lambda: "No private branch" in dialog.statusLabel.text(), timeout=20_000)
    lists = gog.seen("api", f"/products/{GOG_GAME}/os/windows/builds")
    assert any(r.query.get("password") == "guess" for r in lists)
    assert stored_password() is None  # a password that opened nothing is not kept
    assert versions(dialog) == ["1.0"]
    dialog.branchPasswordEdit.setText(gog.branch_password)
    dialog.privateButton.click()
    qtbot.waitUntil(lambda: "1.5-beta" in versions(dialog), timeout=20_000)
    assert stored_password() == gog.branch_password
    dialog.buildList.setCurrentItem(row_with(dialog.buildList, 0, "1.5-beta"))
    folder = (tmp_path / "gog game").resolve()
    # The test keyring is a plain file rewritten in place: a lookup still reading it
    # while the install stores the branch password there could miss the login.
    qtbot.waitUntil(lambda: lookups_done(win), timeout=20_000)
    dialog.folderEdit.setText(str(folder))
    dialog.installButton.click()
    qtbot.waitUntil(lambda: win.current_game() == str(folder), timeout=1000)
    _, _, ok, message = wait_job(qtbot, win, "install")
    assert ok, message
    assert tree(folder) == tree(gog_published[1]["1.5-beta"])
    assert GameDir(folder).load_state().branch == "beta"  # type: ignore[union-attr]
    stop(qtbot, win)


def test_an_installed_gog_game_opens_its_private_branch_with_a_password(
    qtbot: QtBot, gog: GogStandIn, gog_published: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    folder = (tmp_path / "installed").resolve()
    install("gog", GOG_GAME, folder)
    win = make_window(qtbot)
    assert win.select_game(str(folder))
    win.check_game(str(folder))
    qtbot.waitUntil(lambda: str(folder) in win.store.listings, timeout=20_000)
    selector = win.branchSelector
    assert selector.findText("beta") < 0
    entry = selector.findData(PASSWORD_ENTRY)
    assert entry >= 0
    selector.setCurrentIndex(entry)
    selector.activated.emit(entry)
    assert selector.currentData() is None  # back on the game's branch while asking
    ask = win.findChild(QInputDialog, "branchPasswordDialog")
    assert ask is not None and ask.isVisible()
    assert ask.textEchoMode() == QLineEdit.EchoMode.Password
    ask.setTextValue(gog.branch_password)
    ask.accept()
    _, _, found, message = wait_job(qtbot, win, "branches")
    assert found, message
    qtbot.waitUntil(lambda: selector.findText("beta") >= 0)
    selector.setCurrentIndex(selector.findText("beta"))
    selector.activated.emit(selector.currentIndex())
    _, _, ok, message = wait_job(qtbot, win, "update")
    assert ok, message
    assert GameDir(folder).load_state().branch == "beta"  # type: ignore[union-attr]
    assert tree(folder) == tree(gog_published[1]["1.5-beta"])
    stop(qtbot, win)


def test_a_repository_game_has_no_password_entry(qtbot: QtBot, repo: Repo, tmp_path: Path) -> None:
    folder = (tmp_path / "repo game").resolve()
    install(repo.url, ALPHA, folder)
    win = make_window(qtbot)
    assert win.select_game(str(folder))
    win.check_game(str(folder))
    qtbot.waitUntil(lambda: win.branchSelector.findText("beta") >= 0, timeout=20_000)
    assert win.branchSelector.findData(PASSWORD_ENTRY) < 0
    stop(qtbot, win)


def test_quitting_during_an_install_asks_first_without_stopping_it(
    qtbot: QtBot, repo: Repo, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QMessageBox

    win = make_window(qtbot, (repo.url,))
    win.settings = Settings(sources=(repo.url,), limit_rate_kib=16)  # minutes: catch it
    dialog = open_dialog(qtbot, win)
    pick_product(qtbot, dialog, "Alpha Game")
    qtbot.waitUntil(dialog.installButton.isEnabled, timeout=20_000)
    folder = (tmp_path / "slow").resolve()
    dialog.folderEdit.setText(str(folder))
    dialog.installButton.click()
    job = win.jobs.get(str(folder))
    assert job is not None
    win.quit()  # the question opens with open(): this call returns at once
    box = win.findChild(QMessageBox, "quitDialog")
    assert box is not None and box.isVisible() and "1 job" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.No).click()
    assert win.isVisible() and win.jobs.get(str(folder)) is job
    # Yes: the install stops cleanly (it resumes next time) and the window goes.
    win.quit()
    box = win.findChildren(QMessageBox, "quitDialog")[-1]
    box.button(QMessageBox.StandardButton.Yes).click()
    assert win.quitting and not win.isVisible()
    qtbot.waitUntil(lambda: not job.running)
    assert win.notifications[-1][0] == "Install stopped"
    stop(qtbot, win)
