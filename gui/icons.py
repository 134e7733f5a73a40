"""Icons from ``resources/icons/*.svg`` (beside the packages in a checkout, at the root
of the folder in a PyInstaller bundle)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


@cache
def icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg``; an empty icon when it is missing (never an error:
    a missing picture must not stop the window)."""
    path = resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def app_icon() -> QIcon:
    found = icon("slipstream")
    return found if not found.isNull() else icon("update")
