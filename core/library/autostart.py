"""Starting Slipstream, in the tray, when the player logs in.

On Linux and the other freedesktop desktops this is an XDG autostart entry,
``$XDG_CONFIG_HOME/autostart/io.github.slipstream.Slipstream.desktop`` (``~/.config`` when
the variable is unset or not absolute, as the XDG base directory spec says), whose
``Exec`` runs the installed ``slipstream-gui --hidden``. The entry is written atomically
(a temporary file, fsync, rename), so a crash leaves the old entry or the new one, never
half of one. The entry itself is the truth: a player who removes it through the desktop's
own "startup applications" has turned the setting off.

Windows and macOS are not supported yet (:func:`supported`); the window says so.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import AutostartError
from core.fs import atomic_write, fsync_dir

APP_ID = "io.github.slipstream.Slipstream"
ENTRY_NAME = f"{APP_ID}.desktop"
GUI_SCRIPT = "slipstream-gui"
HIDDEN_FLAG = "--hidden"

_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
"""Characters that make an ``Exec`` argument need quotes (desktop entry spec, "The Exec key")."""


def supported() -> bool:
    """Whether this system starts programs at login from XDG autostart entries."""
    return not (sys.platform.startswith("win") or sys.platform == "darwin")


def config_home() -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config`` when it is unset, empty or relative."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".config"


def entry_path() -> Path:
    """Where Slipstream's autostart entry lives."""
    return config_home() / "autostart" / ENTRY_NAME


def gui_command() -> list[str]:
    """The command that starts this installation's window.

    A frozen build (PyInstaller, AppImage) is its own executable; an installed package has
    ``slipstream-gui`` beside its Python (a virtual environment, pipx) or on ``PATH``;
    running from a source checkout falls back to ``python -m gui.app``."""
    appimage = os.environ.get("APPIMAGE")
    if appimage and os.path.isabs(appimage):
        return [appimage]
    if getattr(sys, "frozen", False):
        return [sys.executable]
    beside = Path(sys.executable).parent / GUI_SCRIPT
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(GUI_SCRIPT)
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "gui.app"]


def exec_line(command: Sequence[str]) -> str:
    """``command`` as a desktop entry's ``Exec`` value: each argument quoted when it needs
    it, with the spec's two levels of escaping (inside quotes, then the string value)."""
    return " ".join(_exec_argument(arg) for arg in command)


def _exec_argument(arg: str) -> str:
    if arg and not any(ch in _RESERVED for ch in arg):
        quoted = arg
    else:
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        quoted = f'"{inner}"'
    # The string level: a backslash is written twice, and % is the field-code escape.
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def entry_text(command: Sequence[str]) -> str:
    """The autostart entry that runs ``command`` followed by ``--hidden``."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Slipstream\n"
        "Comment=Check for game updates in the background\n"
        f"Exec={exec_line([*command, HIDDEN_FLAG])}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "Categories=Game;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def is_enabled(path: Path | None = None) -> bool:
    """Whether Slipstream starts at login: its entry exists and no one turned it off
    (``Hidden=true`` or ``X-GNOME-Autostart-enabled=false``, as desktops write)."""
    path = path if path is not None else entry_path()
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("Hidden", "X-GNOME-Autostart-enabled"):
            off = "true" if key.strip() == "Hidden" else "false"
            if value.strip().lower() == off:
                return False
    return True


def enable(command: Sequence[str] | None = None, path: Path | None = None) -> Path:
    """Write the entry (replacing an older one) so that the window starts in the tray at
    login; returns its path. Raises :class:`AutostartError` naming the file and reason."""
    if not supported():
        raise AutostartError("Starting at login is not supported on this system yet.")
    path = path if path is not None else entry_path()
    data = entry_text(command if command is not None else gui_command()).encode("utf-8")
    try:
        atomic_write(path, data)
        fsync_dir(path.parent)
    except OSError as exc:
        raise AutostartError.wrap(exc, "write the start-at-login entry") from None
    return path


def disable(path: Path | None = None) -> None:
    """Remove the entry if it is there. Raises :class:`AutostartError` on failure."""
    path = path if path is not None else entry_path()
    try:
        path.unlink(missing_ok=True)
        if path.parent.is_dir():
            fsync_dir(path.parent)
    except OSError as exc:
        raise AutostartError.wrap(exc, "remove the start-at-login entry") from None


def set_enabled(on: bool, path: Path | None = None) -> None:
    """:func:`enable` or :func:`disable`; nothing to do when it already is as asked and,
    when on, the entry runs this installation."""
    path = path if path is not None else entry_path()
    if not on:
        if path.exists():
            disable(path)
        return
    wanted = entry_text(gui_command())
    try:
        current = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current != wanted:
        enable(path=path)
