"""Screenshots of the window's main states, for the README and the AppStream metainfo.

Run under a virtual X server (scripts/screenshots.sh does: ``xvfb-run``), so the window
is drawn by the same xcb platform plugin a desktop uses. It builds the demo in a scratch
folder with its own library, then saves into docs/screenshots/ (English) or, with
``SLIPSTREAM_LANG`` set to another language, docs/screenshots/<lang>/:

- main-window.png: the library (icon, version, status, size on disk) with the demo game
  selected, its builds with what each costs;
- covers.png: the library as a grid of covers;
- update-progress.png: an update under way (downloads slowed so it can be caught);
- history.png: the history after the update, the update selected for Roll back;
- statistics.png: bytes downloaded against full-download cost, and speeds.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gui.window import MainWindow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LANGUAGE = os.environ.setdefault("SLIPSTREAM_LANG", "en")
OUT = ROOT / "docs" / "screenshots"
if LANGUAGE != "en":
    OUT = OUT / LANGUAGE


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="slipstream-shots-") as scratch:
        root = Path(scratch)
        os.environ["SLIPSTREAM_HOME"] = str(root / "home")
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        from PySide6.QtWidgets import QApplication

        from core.demo.start import start_demo
        from core.library.settings import Settings
        from core.update.engine import update
        from core.update.estimate import Cost
        from gui.app import create_main_window
        from gui.views import OPERATION_WORDS, rows, word

        demo = start_demo(root)
        game = demo.game
        # Some history for the charts: 1 → 2 → 1, then the window updates to 3.
        from core.update.engine import rollback_game

        update(game, "2")
        rollback_game(game)
        key = str(game.resolve())
        window = create_main_window(tray=False, check_on_start=False)
        window.resize(1280, 720)
        window.show()
        finished: list[tuple[object, ...]] = []
        window.jobFinished.connect(lambda *a: finished.append(a))

        def wait(condition: Callable[[], bool], limit: float = 120) -> None:
            deadline = time.monotonic() + limit
            while not condition():
                if time.monotonic() > deadline:
                    raise SystemExit("screenshots: timed out")
                QApplication.processEvents()
                time.sleep(0.01)

        def shot(name: str) -> None:
            for _ in range(20):
                QApplication.processEvents()
                time.sleep(0.01)
            OUT.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(OUT / name))
            print(f"saved {OUT / name}")

        window.select_game(key)
        window.check_game(key)
        wait(lambda: any(f[1] == "check" for f in finished))
        wait(lambda: any(isinstance(c, Cost) and c.patched_files for c in costs(window, key)))
        wait(lambda: key in window.store.art and key in window.store.sizes)
        window.refresh_details()
        shot("main-window.png")
        window.library.coverToggle.setChecked(True)
        shot("covers.png")
        window.library.coverToggle.setChecked(False)

        window.settings = Settings(limit_rate_kib=24)
        window.updateButton.click()
        wait(lambda: downloaded(window, key) > 30_000)
        shot("update-progress.png")
        wait(lambda: any(f[1] == "update" for f in finished), 300)

        window.tabs.setCurrentIndex(2)
        updated = f"{word(OPERATION_WORDS, 'update')} 1 → 3"  # in the window's language
        wait(lambda: any(r.text(1).startswith(updated) for r in rows(window.historyView)))
        window.historyView.setCurrentItem(rows(window.historyView)[0])
        shot("history.png")
        if window.statsView is not None:
            window.tabs.setCurrentWidget(window.statsView)
            shot("statistics.png")
        window.quitting = True
        window.close()
        demo.stop()
    return 0


def costs(window: MainWindow, key: str) -> list[object]:
    """What the builds list shows each build of ``key`` costs (known so far)."""
    return list(window.store.costs.get(key, {}).values())


def downloaded(window: MainWindow, key: str) -> int:
    state = window.progress.get(key)
    return state.download_done if state is not None else 0


if __name__ == "__main__":
    sys.exit(main())
