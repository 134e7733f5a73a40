"""``slipstream-gui --self-test``: the built-in demo, driven through the real window.

In a scratch folder with its own library it publishes the demo game's three builds,
serves them on 127.0.0.1, installs build 1, then works the window the way a player
would (widgets found by object name): selects the game and the newest build, presses
Update, and after it checks every file of the folder against build 3 and that patches
were used; then selects that update in the history, presses Roll back, and checks every
file against build 1. It prints one line per step and exits 0 only when all passed, so
an installed package can be checked on a machine without a screen.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QPushButton, QTreeWidget, QTreeWidgetItem

from core.gamedir.folder import files_md5

if TYPE_CHECKING:
    from gui.window import MainWindow

STEP_TIMEOUT = 300.0
T = TypeVar("T", bound=QObject)


class Failed(Exception):
    pass


WindowFactory = Callable[[], "MainWindow"]
"""Builds the main window, not shown, with no tray and no check on start."""


def run_self_test(make_window: WindowFactory, out: Any = None) -> int:
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="slipstream-selftest-") as scratch:
        root = Path(scratch)
        os.environ["SLIPSTREAM_HOME"] = str(root / "home")
        try:
            _run(root, make_window, out)
        except Failed as exc:
            print(f"FAILED: {exc}", file=out, flush=True)
            return 1
        except Exception as exc:  # the self-test reports every failure as one line
            print(f"FAILED: {type(exc).__name__}: {exc}", file=out, flush=True)
            return 1
    print("self-test passed", file=out, flush=True)
    return 0


def _run(root: Path, make_window: WindowFactory, out: Any) -> None:
    from core.demo.start import VERSIONS, start_demo

    def step(text: str) -> None:
        print(f"ok  {text}", file=out, flush=True)

    started = time.monotonic()
    demo = start_demo(root)
    step(f"published the demo's {len(VERSIONS)} builds, serving them at {demo.url}")
    try:
        builds = [files_md5(root / "builds" / v) for v in VERSIONS]
        _expect(files_md5(demo.game) == builds[0], "the installed folder is not build 1")
        step("installed build 1 and checked every file")
        window = make_window()
        driver = _Driver(window, demo.game.resolve())
        window.show()
        try:
            _update_to_newest(driver, builds, step)
            _roll_back(driver, builds, step)
        finally:
            window.quitting = True
            window.close()
    finally:
        demo.stop()
    step(f"all steps verified in {time.monotonic() - started:.1f} s")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


class _Driver:
    """Works the window the way a player would, and waits for its jobs."""

    def __init__(self, window: MainWindow, game: Path) -> None:
        self.window = window
        self.game = game
        self.key = str(game)
        self.finished: list[tuple[str, str, bool, str]] = []
        window.jobFinished.connect(self._on_window_job_finished)

    def _on_window_job_finished(self, *event: Any) -> None:
        self.finished.append(event)

    def wait_for(self, kind: str) -> tuple[str, str, bool, str]:
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            _pump()
            for event in self.finished:
                if event[0].endswith(self.key) and event[1] == kind:
                    self.finished.remove(event)
                    return event
            time.sleep(0.01)
        raise Failed(f"the {kind} did not finish within {STEP_TIMEOUT:.0f} s")

    def child(self, kind: type[T], name: str) -> T:
        found = self.window.findChild(kind, name)
        _expect(found is not None, f"the window has no {name}")
        return cast(T, found)

    def row(self, view_name: str, column: int, text: str, missing: str) -> QTreeWidgetItem:
        """Select the row starting ``text``, waiting a little for it: lists such as the
        history are read off the GUI thread."""
        from gui.views import rows

        view = self.child(QTreeWidget, view_name)
        deadline = time.monotonic() + 10
        while True:
            found = next((r for r in rows(view) if r.text(column).startswith(text)), None)
            if found is not None or time.monotonic() > deadline:
                break
            _pump()
            time.sleep(0.01)
        if found is None:
            raise Failed(missing)
        view.setCurrentItem(found)
        return found


def _update_to_newest(
    driver: _Driver, builds: list[dict[str, str]], step: Callable[[str], None]
) -> None:
    from core.library.db import Library

    window, game = driver.window, driver.game
    driver.child(QTreeWidget, "gamesView")
    _expect(window.select_game(driver.key), "the demo game is not listed")
    window.check_game(driver.key)
    driver.wait_for("check")
    driver.row("buildsView", 1, "3", "build 3 is not in the builds list")
    step("the window lists the game and its builds; build 3 selected")
    driver.child(QPushButton, "updateButton").click()
    _, _, ok, message = driver.wait_for("update")
    _expect(ok, f"the update failed: {message}")
    _expect(files_md5(game) == builds[2], "after the update the folder is not build 3")
    with Library.open() as library:
        last = library.history(game)[0]
    _expect(
        last.kind == "update" and last.patches_applied > 0 and not last.fallbacks,
        f"the update did not go through patches cleanly ({last.patches_applied} patches, "
        f"{len(last.fallbacks)} fallbacks)",
    )
    step(
        f"Update: the folder is build 3, every file checked ({last.patches_applied} "
        f"patches, {last.bytes_downloaded:,} of {last.bytes_full:,} bytes downloaded)"
    )


def _roll_back(driver: _Driver, builds: list[dict[str, str]], step: Callable[[str], None]) -> None:
    from gui.views import OPERATION_WORDS, word

    # The history names the operation in the window's language: the self-test runs in any.
    update = word(OPERATION_WORDS, "update")
    driver.row("historyView", 1, f"{update} 1 → 3", "the update is not in the history")
    rollback_button = driver.child(QPushButton, "rollbackButton")
    _expect(rollback_button.isEnabled(), "Roll back is not enabled for the update")
    rollback_button.click()
    _, _, ok, message = driver.wait_for("rollback")
    _expect(ok, f"the rollback failed: {message}")
    _expect(files_md5(driver.game) == builds[0], "after Roll back the folder is not build 1")
    step("Roll back: the folder is build 1 again, every file checked")


def _pump() -> None:
    QApplication.processEvents()
