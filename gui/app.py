"""Entry point of ``slipstream-gui``, and :func:`create_main_window` for tests and tools.

This module is imported again in every patch worker process (multiprocessing re-imports
the main script there), so it imports nothing heavy at module level: PySide6 and the
window are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import multiprocessing
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from gui.window import MainWindow

log = logging.getLogger("slipstream.gui")

GUI_SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL while another waits for it (CPython's default: 0.005)."""
NO_AUTOMATIC_FULL_GC = 1 << 30
"""A generation-2 threshold no run reaches: the window collects fully by itself."""


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created when there is none."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(["slipstream-gui", *(argv or [])])
    assert isinstance(app, QApplication)
    # The GUI thread shares the GIL with the jobs' threads (plans, downloads, hashing).
    # CPython hands the GIL over unfairly: with two threads busy in Python, the event loop
    # waited up to about 90 ms for it at the default 5 ms switch interval, and about 18 ms
    # at 1 ms (measured on a 2-core machine); the cost is more, cheap, switches.
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)
    # CPython's full (generation 2) collections hold the GIL for the whole pass, and a job
    # that parses two manifests of thousands of files made each pass 50-140 ms: the
    # window froze that long, whichever thread ran it. Young collections stay on; the
    # full one runs when the last job has ended (gui/jobs.py), when the jobs' objects
    # are gone and a pass is short.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NO_AUTOMATIC_FULL_GC)
    app.setApplicationName("Slipstream")
    app.setOrganizationName("Slipstream")
    app.setDesktopFileName("io.github.slipstream.Slipstream")
    from gui.i18n import install_translators

    install_translators(app)  # SLIPSTREAM_LANG or the system's, before any widget exists
    return app


def create_main_window(*, tray: bool | None = None, check_on_start: bool = True) -> MainWindow:
    """The main window over the library in ``SLIPSTREAM_HOME``, built but not shown and
    without entering the event loop."""
    application()
    from gui.window import MainWindow

    window = MainWindow(tray=tray, check_on_start=check_on_start)
    # What start-up made (modules, Qt's wrappers, the window) lives as long as the app:
    # frozen out of the collector's passes, each full pass scans only what came after.
    gc.collect()
    gc.freeze()
    # The jobs' processes and the patch workers come from multiprocessing's fork server
    # (forking a threaded GUI process is unsafe). Started on the first update, its fork
    # held the GIL for 100 ms or more just as the downloads began; started here, with the
    # engine imported in it, it is ready.
    from gui.child import start_fork_server

    start_fork_server()
    return window


def _self_test_window() -> MainWindow:
    """The self-test's window: its notices stay in the window, off the player's desktop."""
    window = create_main_window(tray=False, check_on_start=False)
    window.notifier.enabled = False
    return window


def _show_window(window: MainWindow, *, hidden: bool) -> None:
    """Show the window; ``--hidden`` (as at login) leaves it in the tray or, where the
    desktop has no tray, minimized: out of the way, never invisible."""
    if not hidden:
        window.show()
    elif not window.tray.visible():
        window.showMinimized()


def _setup_logging() -> Path | None:
    """Log to ``$SLIPSTREAM_HOME/logs/gui.log`` (never tokens: the core scrubs them)."""
    from core.library.db import home

    try:
        folder = home() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            folder / "gui.log", maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("slipstream")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return folder / "gui.log"


def _install_excepthook(window_ref: list[Any]) -> None:
    """A bug of ours in a slot must not end the app silently or print a traceback at the
    player: log it, and show the usual error dialog with the details folded away."""
    import traceback

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        from core.cli.crashlog import redact

        details = redact("".join(traceback.format_exception(kind, exc, tb)))
        log.error("unexpected error\n%s", details)
        if window_ref and window_ref[0].isVisible():
            from gui.dialogs import show_error
            from gui.i18n import translate

            show_error(window_ref[0], translate("App", "Something went wrong"), exc, details)
        else:
            print(f"slipstream-gui: internal error: {exc} (details in the log)", file=sys.stderr)

    sys.excepthook = hook


def _start_demo(folder: Path) -> str:
    """Publish, serve and install the demo (as ``slipstream demo``), printing progress."""
    from core.cli.termprogress import TerminalProgress
    from core.demo.start import DEMO_NAME, start_demo

    bar = TerminalProgress()
    try:
        demo = start_demo(folder, progress=bar)
    finally:
        bar.close()
    print(
        f"serving {demo.repo} at {demo.url}; {DEMO_NAME} {demo.version} is installed in "
        f"{demo.game}.",
        flush=True,
    )
    return str(demo.game.resolve())


def _no_screen() -> bool:
    """On Linux without a display Qt aborts with its own message; say it plainly first."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    from core import __version__
    from core.errors import SlipstreamError

    parser = argparse.ArgumentParser(prog="slipstream-gui", description="Slipstream's window.")
    parser.add_argument("--version", action="version", version=f"slipstream-gui {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="run the demo offscreen (publish, serve, install, update, roll back) and exit",
    )
    parser.add_argument(
        "--demo", type=Path, metavar="DIR", help="publish, serve and install the demo game first"
    )
    parser.add_argument("--hidden", action="store_true", help="start in the tray")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from gui.selftest import run_self_test

        return int(run_self_test(_self_test_window))

    if _no_screen():
        print(
            "slipstream-gui: no screen to open the window on (DISPLAY and WAYLAND_DISPLAY are "
            "not set). Run it in a desktop session, use the slipstream command, or check a "
            "package with slipstream-gui --self-test.",
            file=sys.stderr,
        )
        return 2
    _setup_logging()
    app = application()
    from gui.single import SingleInstance, ask_running_instance

    if ask_running_instance():
        print("Slipstream is already running; its window was brought forward.")
        return 0
    demo_game = None
    if args.demo is not None:
        try:
            demo_game = _start_demo(args.demo)
        except SlipstreamError as exc:
            print(f"slipstream-gui: {exc}", file=sys.stderr)
            return exc.exit_code
    single = SingleInstance()
    single.listen()
    window_ref: list[Any] = []
    _install_excepthook(window_ref)
    window = create_main_window()
    window_ref.append(window)
    single.activated.connect(window.bring_forward)
    app.setQuitOnLastWindowClosed(not window.tray.visible())
    if demo_game:
        window.select_game(demo_game)
    _show_window(window, hidden=args.hidden)
    code = app.exec()
    single.close()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
