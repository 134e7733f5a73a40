"""The window's language: Qt translators for our strings and for Qt's own (standard
buttons, file dialogs), installed on the application before any widget is made.

The language is ``SLIPSTREAM_LANG`` when it is set (``de``, ``en``: tests and the
screenshots use it), else the system's (:meth:`QLocale.system`, which reads ``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES`` and ``LANG``). The first of the player's languages that we
have a translation for wins, unless English (the language of the source) comes before it.
Our translations are ``resources/translations/slipstream_<lang>.qm``, built from the
``.ts`` files beside them by ``scripts/translations.sh``; Qt's are ``qtbase_<lang>.qm``
from Qt's own translations folder, which PySide6 ships and PyInstaller bundles.

Strings are marked where they are written: ``self.tr(...)`` in a QObject, else
:func:`translate` (or ``QCoreApplication.translate``) with the module's context, and
``QT_TRANSLATE_NOOP`` for tables that are translated when shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from gui.icons import resources_dir

ENV = "SLIPSTREAM_LANG"
DOMAIN = "slipstream"
SOURCE_LANGUAGE = "en"

_installed: list[QTranslator] = []


def translations_dir() -> Path:
    """Where our ``.ts`` sources and compiled ``.qm`` files live."""
    return resources_dir() / "translations"


def qt_translations_dir() -> Path:
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


def wanted_locale() -> QLocale:
    """``SLIPSTREAM_LANG`` as a locale, else the system's."""
    name = os.environ.get(ENV, "").strip()
    return QLocale(name) if name else QLocale.system()


def _candidates(locale: QLocale) -> list[str]:
    """The locale's languages in the player's order, each as ``de_AT`` then ``de``."""
    names: list[str] = []
    for ui in [*locale.uiLanguages(), locale.name()]:
        tag = ui.replace("-", "_")
        for name in (tag, tag.split("_")[0]):
            if name and name not in names:
                names.append(name)
    return names


def language(locale: QLocale | None = None) -> str | None:
    """The translation to load for ``locale`` (the wanted one by default): ``de`` for
    ``slipstream_de.qm``; None for English, or when we have none of its languages."""
    for name in _candidates(wanted_locale() if locale is None else locale):
        if name.split("_")[0] in (SOURCE_LANGUAGE, "C", "POSIX"):
            return None
        if (translations_dir() / f"{DOMAIN}_{name}.qm").is_file():
            return name
    return None


def install_translators(app: QCoreApplication, locale: QLocale | None = None) -> str | None:
    """Install the translators for ``locale`` (the wanted one by default) on ``app``,
    replacing any installed before; the language installed, or None for English."""
    remove_translators(app)
    chosen = language(locale)
    if chosen is None:
        return None
    for name, folder in ((DOMAIN, translations_dir()), ("qtbase", qt_translations_dir())):
        translator = QTranslator(app)
        # load() falls back from qtbase_de_AT to qtbase_de on its own.
        if translator.load(f"{name}_{chosen}", str(folder)):
            app.installTranslator(translator)
            _installed.append(translator)
    return chosen


def remove_translators(app: QCoreApplication) -> None:
    """Back to the source strings (English)."""
    while _installed:
        translator = _installed.pop()
        app.removeTranslator(translator)
        translator.deleteLater()


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Marks ``text`` for lupdate (which looks for this name) without translating it: for
    tables translated when they are shown, with :func:`translate` and the same context.
    PySide6's own marker is typed as returning ``object``; this one keeps the ``str``."""
    return text


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """``QCoreApplication.translate``: ``text`` in the installed language (lupdate finds
    calls of this name too). With ``n`` >= 0, ``%n`` in ``text`` becomes ``n`` and the
    translation picks its plural form."""
    return QCoreApplication.translate(context, text, disambiguation, n)
