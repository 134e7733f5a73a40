"""The window's translations: the committed ``.ts`` holds every string the code marks and
translates each, the ``.qm`` is compiled from it, and with ``SLIPSTREAM_LANG=de`` the
real window, its dialogs and the tray menu show no English string of ours or of Qt's.

"English" is decided from the catalogue itself, not from a list typed here: a text a
widget shows is English when it is (the form of) a source string of our ``.ts`` whose
German differs, or one of Qt's standard button texts whose German differs.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QTreeView,
    QTreeWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from core.demo.start import DEMO_PRODUCT, prepare_demo
from core.errors import DownloadError
from core.progress import Phase, Progress
from core.update.engine import install
from gui import i18n
from gui.app import create_main_window
from gui.charts import ChartPoint, bytes_tooltip, savings_title, speed_tooltip
from gui.dialogs import ConflictDialog, show_error
from gui.progress_panel import bar_text, phase_text, progress_details
from gui.progress_state import ProgressState
from gui.views import rows
from gui.window import MainWindow
from tests.support.helpers import serving

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "resources" / "translations" / "slipstream_de.ts"
QM = TS.with_suffix(".qm")
JOB_TIMEOUT = 120_000
QT_STRINGS = {
    "QPlatformTheme": [
        "OK", "Save", "Save All", "Open", "&Yes", "Yes to &All", "&No", "N&o to All",
        "Abort", "Retry", "Ignore", "Close", "Cancel", "Discard", "Help", "Apply", "Reset",
        "Restore Defaults",
    ],
    "QMessageBox": ["Show Details...", "Hide Details..."],
}  # fmt: skip
"""Qt's own strings our dialogs show (standard buttons, the error dialog's details)."""
PLACEHOLDER = re.compile(r"\{[a-z_0-9]*(?::[^{}]*)?\}|%n|%\d")


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    translations: tuple[str, ...]
    unfinished: bool


def messages(path: Path = TS) -> list[Message]:
    found = []
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name", "")
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            forms = [f.text or "" for f in translation.iter("numerusform")]
            found.append(
                Message(
                    name,
                    message.findtext("source", ""),
                    tuple(forms) if forms else (translation.text or "",),
                    translation.get("type") in ("unfinished", "vanished", "obsolete"),
                )
            )
    return found


def _plain(text: str) -> str:
    """Without mnemonics (``&Update``) and surrounding space."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip()


def english_patterns() -> list[tuple[re.Pattern[str], str]]:
    """A pattern for each English string that German changes, placeholders as wildcards.
    Strings that are (almost) only placeholders say nothing and are left out."""
    patterns = []
    for message in messages():
        if all(_plain(t) == _plain(message.source) for t in message.translations):
            continue
        source = _plain(message.source)
        if len(re.sub(r"[^A-Za-z]", "", PLACEHOLDER.sub("", source))) < 3:
            continue
        parts = [re.escape(p) for p in PLACEHOLDER.split(source)]
        patterns.append((re.compile(".+?".join(parts), re.DOTALL), message.source))
    for context, strings in QT_STRINGS.items():
        for text in strings:
            if _plain(QCoreApplication.translate(context, text)) != _plain(text):
                patterns.append((re.compile(re.escape(_plain(text))), text))
    return patterns


def english_in(texts: list[tuple[str, str]]) -> list[str]:
    patterns = english_patterns()
    return [
        f"{where}: {text!r} is {source!r}"
        for where, text in texts
        for pattern, source in patterns
        if text and pattern.fullmatch(_plain(text))
    ]


# --- what a widget shows ----------------------------------------------------------------


def _item_views(widget: QWidget) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    if isinstance(widget, QTreeWidget):
        header = widget.headerItem()
        texts += [("header", header.text(c)) for c in range(header.columnCount())]
        for item in rows(widget):
            for column in range(widget.columnCount()):
                texts += [("row", item.text(column)), ("tooltip", item.toolTip(column))]
    elif isinstance(widget, QTreeView) and widget.model() is not None:
        model = widget.model()
        texts += [
            ("header", str(model.headerData(c, Qt.Orientation.Horizontal)))
            for c in range(model.columnCount())
        ]
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                texts.append(("row", str(model.index(row, column).data() or "")))
    elif isinstance(widget, QListWidget):
        for n in range(widget.count()):
            texts += [("item", widget.item(n).text()), ("tooltip", widget.item(n).toolTip())]
    return texts


def _widget_texts(widget: QWidget) -> list[tuple[str, str]]:
    texts = [
        ("title", widget.windowTitle() if widget.isWindow() else ""),
        ("tooltip", widget.toolTip()),
        ("accessible name", widget.accessibleName()),
    ]
    if isinstance(widget, (QLabel, QAbstractButton)):
        texts.append(("text", widget.text()))
    if isinstance(widget, QLineEdit):
        texts.append(("placeholder", widget.placeholderText()))
    if isinstance(widget, QComboBox):
        texts += [("choice", widget.itemText(n)) for n in range(widget.count())]
    if isinstance(widget, QGroupBox):
        texts.append(("group", widget.title()))
    if isinstance(widget, QProgressBar):
        texts.append(("bar", widget.text()))
    if isinstance(widget, QMenu):
        texts.append(("menu", widget.title()))
    if isinstance(widget, QTabWidget):
        for n in range(widget.count()):
            texts += [("tab", widget.tabText(n)), ("tab tooltip", widget.tabToolTip(n))]
    if isinstance(widget, QMessageBox):
        texts += [("message", widget.text()), ("advice", widget.informativeText())]
    return texts + _item_views(widget)


def visible_texts(top: QObject) -> list[tuple[str, str]]:
    """Every text ``top`` and its children show: titles, labels, buttons, menus and their
    actions, tabs, list headers and rows, placeholders, tooltips, accessible names."""
    widgets = [top] if isinstance(top, QWidget) else []
    widgets += top.findChildren(QWidget)
    texts: list[tuple[str, str]] = []
    for widget in widgets:
        name = widget.objectName() or type(widget).__name__
        texts += [(f"{name} {kind}", text) for kind, text in _widget_texts(widget)]
        for action in widget.actions():
            texts += [(f"{name} action", action.text()), (f"{name} action", action.toolTip())]
    for action in top.findChildren(QAction):  # menus made with a parent are widgets above
        texts += [(f"{action.objectName()} action", action.text())]
    return texts


# --- fixtures -----------------------------------------------------------------------------


def _language(qapp: QApplication, monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[str]:
    """``SLIPSTREAM_LANG`` (as the screenshots set it) with the translators the app then
    installs; translators are the process's, so the next test starts in English again."""
    monkeypatch.setenv(i18n.ENV, name)
    chosen = i18n.install_translators(qapp)
    try:
        yield chosen or i18n.SOURCE_LANGUAGE
    finally:
        i18n.remove_translators(qapp)


@pytest.fixture
def german(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _language(qapp, monkeypatch, "de")


@pytest.fixture
def english(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _language(qapp, monkeypatch, "en")


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    repo = prepare_demo(tmp_path_factory.mktemp("demo"))
    with serving(repo) as url:
        yield url


@pytest.fixture
def window(qtbot: QtBot, demo_url: str, tmp_path: Path) -> Iterator[MainWindow]:
    """The real window over a real install of the demo's build 1, checked against its
    served repository."""
    game = (tmp_path / "game").resolve()
    install(demo_url, DEMO_PRODUCT, game, build="1")
    win = create_main_window(tray=False, check_on_start=False)
    qtbot.addWidget(win)
    win.show()
    assert win.select_game(str(game))
    _run(qtbot, win, "check", lambda: win.check_game(str(game)))
    yield win
    win.jobs.cancel_all()
    win.jobs.wait_all()
    # The jobs' last signals are queued: deliver them while the window still exists (as
    # tests/gui/test_window.py does), or they reach the next test's event loop.
    qtbot.wait(50)
    win.quitting = True


def _run(qtbot: QtBot, win: MainWindow, kind: str, start) -> None:  # type: ignore[no-untyped-def]
    done: list[object] = []

    def record(*args: object) -> None:
        if args[1] == kind:
            done.append(args)

    win.jobFinished.connect(record)
    try:
        start()
        qtbot.waitUntil(lambda: bool(done), timeout=JOB_TIMEOUT)
    finally:
        win.jobFinished.disconnect(record)


# --- the catalogue ------------------------------------------------------------------------


def test_the_committed_translations_are_what_the_script_makes_from_the_code(
    tmp_path: Path,
) -> None:
    script = ROOT / "scripts" / "translations.sh"
    subprocess.run([str(script), "--into", str(tmp_path)], check=True)
    made = {(m.context, m.source) for m in messages(tmp_path / TS.name)}
    committed = {(m.context, m.source) for m in messages()}
    assert not made - committed, f"run scripts/translations.sh: new {sorted(made - committed)}"
    assert not committed - made, f"run scripts/translations.sh: gone {sorted(committed - made)}"
    assert (tmp_path / TS.name).read_bytes() == TS.read_bytes(), "run scripts/translations.sh"
    assert (tmp_path / QM.name).read_bytes() == QM.read_bytes(), (
        "the .qm is not compiled from the .ts: run scripts/translations.sh"
    )


def marked_strings() -> set[str]:
    """Every string literal gui/ hands to ``tr``, ``translate`` or ``QT_TRANSLATE_NOOP``."""
    found = set()
    for path in sorted((ROOT / "gui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = {"tr": 0, "translate": 1, "QT_TRANSLATE_NOOP": 1}.get(name)
            if position is None or len(node.args) <= position:
                continue
            text = node.args[position]
            if isinstance(text, ast.Constant) and isinstance(text.value, str):
                found.add(text.value)
            elif isinstance(text, ast.JoinedStr):  # never in any catalogue: it fails below
                found.add(f"f-string at {path.name}:{node.lineno}")
    return found


def test_lupdate_found_every_string_the_code_marks() -> None:
    """lupdate skips a call it cannot read (an f-string, say) without a word: the code's
    own literals must all be in the catalogue."""
    missing = marked_strings() - {m.source for m in messages()}
    assert not missing, f"marked in gui/ but not in the .ts: {sorted(missing)}"


def test_every_string_has_a_german_translation_with_the_same_placeholders() -> None:
    found = messages()
    assert len(found) > 200
    problems = []
    for m in found:
        if m.unfinished or not all(t.strip() for t in m.translations):
            problems.append(f"{m.context}: {m.source!r} is not translated")
        for t in m.translations:
            if sorted(PLACEHOLDER.findall(t)) != sorted(PLACEHOLDER.findall(m.source)):
                problems.append(f"{m.context}: {m.source!r} → {t!r} changes the placeholders")
            if t and ("&" in m.source.replace("&&", "")) != ("&" in t.replace("&&", "")):
                problems.append(f"{m.context}: {m.source!r} → {t!r} adds or drops a shortcut")
    assert not problems, "\n".join(problems)


def test_the_language_is_the_first_the_player_wants_that_we_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert i18n.language(QLocale("de_AT")) == "de"
    assert i18n.language(QLocale("de")) == "de"
    assert i18n.language(QLocale("en_GB")) is None
    assert i18n.language(QLocale("C")) is None
    assert i18n.language(QLocale("ja_JP")) is None  # no Japanese yet: English
    monkeypatch.setenv(i18n.ENV, "de_CH")
    assert i18n.language() == "de"
    monkeypatch.setenv(i18n.ENV, "en")
    assert i18n.language() is None


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"LANG": "de_DE.UTF-8"}, "de"),
        ({"LANG": "fr_FR.UTF-8", "LANGUAGE": "fr:de"}, "de"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "en:de"}, "None"),
        ({"LANG": "de_AT.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}, "None"),
    ],
)
def test_without_slipstream_lang_the_systems_languages_decide(
    variables: dict[str, str], expected: str
) -> None:
    """Qt reads the system's locale once per process: each case is a fresh Python."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (i18n.ENV, "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")
    }
    probe = "from gui.i18n import language; print(language())"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT, env={**env, **variables}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == expected


def test_german_loads_ours_and_qts_own_and_removing_them_gives_english(
    qapp: QApplication, german: str
) -> None:
    assert QCoreApplication.translate("Views", "Up to date") != "Up to date"
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Abbrechen"
    i18n.remove_translators(qapp)
    assert QCoreApplication.translate("Views", "Up to date") == "Up to date"
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"


# --- the window in German -----------------------------------------------------------------


def test_the_german_window_after_an_update_shows_no_english(
    qtbot: QtBot, german: str, window: MainWindow
) -> None:
    english = english_in(visible_texts(window))
    assert not english, "\n".join(english)
    window.tabs.setCurrentWidget(window.filesView)
    _run(qtbot, window, "update", window.updateButton.click)
    # install, update (history with rollback points is read in a process of its own)
    qtbot.waitUntil(lambda: window.historyView.topLevelItemCount() >= 2, timeout=30_000)
    texts = [*visible_texts(window), ("status bar", window.statusBar().currentMessage())]
    texts += [
        (f"notice {title!r}", part) for title, m in window.notifications for part in (title, m)
    ]
    english = english_in(texts)
    assert not english, "\n".join(english)
    shown = {text for _, text in texts}
    assert "Aktualisierung abgeschlossen." in shown  # the progress panel's last word


def test_the_german_dialogs_and_tray_menu_show_no_english(
    qtbot: QtBot, german: str, window: MainWindow
) -> None:
    dialogs: list[QObject | None] = [
        window.add_game(),
        window.open_settings(),
        window.open_login(),
        window.uninstall_selected(),
        window.change_source_selected(),
        ConflictDialog("Demo", ["saves/slot1.sav", "config.ini"], window),
        show_error(
            window, window.tr("Settings not saved"), DownloadError("no route to the server"), "x"
        ),
        show_error(window, "Slipstream", RuntimeError("a bug"), "Traceback …"),
        window.tray.menu,
    ]
    english = [
        line
        for dialog in dialogs
        if dialog is not None
        for line in english_in(visible_texts(dialog))
    ]
    assert not english, "\n".join(english)
    assert all(dialog is not None for dialog in dialogs)
    for dialog in dialogs:
        if isinstance(dialog, QWidget):
            dialog.close()


def test_the_german_progress_words_leave_no_english(german: str) -> None:
    state = ProgressState("update")
    state.update(Progress(Phase.DOWNLOADING, 40, 100), now=1.0)
    state.update(Progress(Phase.DOWNLOADING, 60, 100), now=2.0)
    moments = [bar_text(state), phase_text(state), progress_details(state)]
    state.update(Progress(Phase.VERIFYING, 2, 3, "a.bin", "files"), now=3.0)
    moments += [bar_text(state), phase_text(state)]
    for outcome in ("ok", "cancelled", "failed"):
        state.finish(outcome)
        moments += [bar_text(state), phase_text(state)]
    english = english_in([("progress", text) for text in moments])
    assert not english, "\n".join(english)


def test_the_german_charts_words_leave_no_english(german: str) -> None:
    """The statistics draw their titles and tooltips themselves: no widget holds them."""
    points = [
        ChartPoint("install", None, "1", 1.0, 14_000_000, 14_000_000, 2.0),
        ChartPoint("update", "1", "3", 2.0, 75_000, 13_900_000, 0.0),
        ChartPoint("repair", "3", "3", 3.0, 2_000, 13_900_000, 1.0),
    ]
    texts = [savings_title(points), savings_title(points[:1]), savings_title([])]
    texts += [
        line for p in points for line in (bytes_tooltip(p) + "\n" + speed_tooltip(p)).split("\n")
    ]
    english = english_in([("chart", text) for text in texts])
    assert not english, "\n".join(english)


# --- and in English -----------------------------------------------------------------------


def test_with_slipstream_lang_en_the_window_speaks_english(
    english: str, window: MainWindow
) -> None:
    assert english == "en"
    assert window.verifyButton.text() == "&Verify"
    assert window.updateButton.text() == "Update to 1.2.0"  # the newest build, selected
    assert window.gamesView.headerItem().text(0) == "Game"
    assert window.menuBar().actions()[0].text() == "&Slipstream"
    assert window.tray.menu.actions()[0].text() == "&Open Slipstream"
    assert window.pane.progressPanel.overallProgress.format() == "No job running"


def test_the_panel_says_what_the_qt_free_state_says_in_english() -> None:
    state = ProgressState("update")
    state.update(Progress(Phase.DOWNLOADING, 70, 100), now=1.0)
    assert bar_text(state) == state.bar_text()
    state.update(Progress(Phase.VERIFYING, 2, 3, "a.bin", "files"), now=2.0)
    assert bar_text(state) == state.bar_text() == "2 of 3 files (67%)"
    state.finish("cancelled")
    assert bar_text(state) == state.bar_text()
