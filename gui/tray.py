"""The tray icon: Open, Check now, Update all, Quit, and the balloon messages that stand in
for desktop notifications when the desktop has no notification service (:mod:`gui.notify`).

Where the desktop has no tray (or the platform plugin offers none, as offscreen), the
icon is never shown, notices stay in the window's status bar, and closing the window
quits instead of hiding it, so the player is never left with an invisible app.

The tray asks for things through its signals and knows nothing of the window: whoever
owns it connects them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from gui.icons import app_icon


class Tray(QObject):
    """The tray icon and its menu.

    Signals:
        openRequested, checkRequested, updateAllRequested, quitRequested: menu choices.
        messageShown: (title, message) was shown in a balloon.
    """

    openRequested = Signal()
    checkRequested = Signal()
    updateAllRequested = Signal()
    quitRequested = Signal()
    messageShown = Signal(str, str)

    def __init__(self, parent: QWidget | None = None, available: bool | None = None) -> None:
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.menu = QMenu(parent)
        self.menu.setObjectName("trayMenu")
        self.actions: dict[str, QAction] = {}
        for name, text, signal in (
            ("trayOpen", self.tr("&Open Slipstream"), self.openRequested),
            ("trayCheck", self.tr("&Check now"), self.checkRequested),
            ("trayUpdateAll", self.tr("&Update all"), self.updateAllRequested),
            ("trayQuit", self.tr("&Quit"), self.quitRequested),
        ):
            action = QAction(text, self.menu)
            action.setObjectName(name)
            action.triggered.connect(signal)
            self.menu.addAction(action)
            self.actions[name] = action
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(app_icon(), parent)
            self.icon.setObjectName("trayIcon")
            self.icon.setToolTip("Slipstream")
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_icon_activated)
            self.icon.show()

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.openRequested.emit()

    def visible(self) -> bool:
        return self.icon is not None and self.icon.isVisible()

    def show_message(self, title: str, message: str) -> bool:
        """A balloon from the tray icon; False when there is no tray to show it."""
        if not self.visible():
            return False
        assert self.icon is not None
        self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 8000)
        self.messageShown.emit(title, message)
        return True

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
