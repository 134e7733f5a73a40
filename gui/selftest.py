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

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STEP_TIMEOUT = 300.0


def folder_digest(root: Path) -> dict[str, str]:
    """Relative path → md5 of every file, leaving out Slipstream's bookkeeping."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] == ".slipstream" or not path.is_file():
            continue
        found[rel] = hashlib.md5(path.read_bytes()).hexdigest()
    return found


class Failed(Exception):
    pass


def run_self_test(out: Any = None) -> int:
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="slipstream-selftest-") as scratch:
        root = Path(scratch)
        os.environ["SLIPSTREAM_HOME"] = str(root / "home")
        try:
            _run(root, out)
        except Failed as exc:
            print(f"FAILED: {exc}", file=out, flush=True)
            return 1
        except Exception as exc:  # the self-test reports every failure as one line
            print(f"FAILED: {type(exc).__name__}: {exc}", file=out, flush=True)
            return 1
    print("self-test passed", file=out, flush=True)
    return 0


def _run(root: Path, out: Any) -> None:
    from core.demo.start import VERSIONS, start_demo

    def step(text: str) -> None:
        print(f"ok  {text}", file=out, flush=True)

    started = time.monotonic()
    demo = start_demo(root)
    step(f"published the demo's {len(VERSIONS)} builds, serving them at {demo.url}")
    try:
        builds = [folder_digest(root / "builds" / v) for v in VERSIONS]
        _expect(folder_digest(demo.game) == builds[0], "the installed folder is not build 1")
        step("installed build 1 and checked every file")
        _drive(demo.game.resolve(), builds, step)
    finally:
        demo.stop()
    step(f"all steps verified in {time.monotonic() - started:.1f} s")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def _drive(game: Path, builds: list[dict[str, str]], step: Callable[[str], None]) -> None:
    from PySide6.QtWidgets import QPushButton, QTreeWidget

    from core.library.db import Library
    from gui.app import create_main_window
    from gui.views import rows

    window = create_main_window(tray=False, check_on_start=False)
    finished: list[tuple[str, str, bool, str]] = []
    window.jobFinished.connect(lambda *args: finished.append(args))
    window.show()
    key = str(game)

    def wait_for(kind: str) -> tuple[str, str, bool, str]:
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            _pump()
            for event in finished:
                if event[0].endswith(key) and event[1] == kind:
                    finished.remove(event)
                    return event
            time.sleep(0.01)
        raise Failed(f"the {kind} did not finish within {STEP_TIMEOUT:.0f} s")

    games = window.findChild(QTreeWidget, "gamesView")
    _expect(games is not None and window.select_game(key), "the demo game is not listed")
    window.check_game(key)
    wait_for("check")
    builds_view = window.findChild(QTreeWidget, "buildsView")
    assert builds_view is not None
    newest = next((r for r in rows(builds_view) if r.text(1) == "3"), None)
    if newest is None:
        raise Failed("build 3 is not in the builds list")
    builds_view.setCurrentItem(newest)
    step("the window lists the game and its builds; build 3 selected")
    update_button = window.findChild(QPushButton, "updateButton")
    assert update_button is not None
    update_button.click()
    _, _, ok, message = wait_for("update")
    _expect(ok, f"the update failed: {message}")
    _expect(folder_digest(game) == builds[2], "after the update the folder is not build 3")
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
    history = window.findChild(QTreeWidget, "historyView")
    assert history is not None
    row = next((r for r in rows(history) if r.text(1).startswith("update 1 → 3")), None)
    if row is None:
        raise Failed("the update is not in the history")
    history.setCurrentItem(row)
    rollback_button = window.findChild(QPushButton, "rollbackButton")
    assert rollback_button is not None
    _expect(rollback_button.isEnabled(), "Roll back is not enabled for the update")
    rollback_button.click()
    _, _, ok, message = wait_for("rollback")
    _expect(ok, f"the rollback failed: {message}")
    _expect(folder_digest(game) == builds[0], "after Roll back the folder is not build 1")
    step("Roll back: the folder is build 1 again, every file checked")
    window.quitting = True
    window.close()


def _pump() -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
