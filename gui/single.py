"""One window per user and library: a second launch brings the running window forward.

The first instance listens on a local socket named after the library folder (so two
libraries, as in tests, never meet); a later launch connects, says ``show`` and exits.
"""

from __future__ import annotations

import hashlib
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core.library import db as library


def instance_name() -> str:
    home = str(library.home().resolve())
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return f"slipstream-{uid}-{hashlib.sha1(home.encode()).hexdigest()[:12]}"


def ask_running_instance(name: str | None = None, timeout_ms: int = 1000) -> bool:
    """True when another instance took the message (this one should exit)."""
    socket = QLocalSocket()
    socket.connectToServer(name or instance_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(b"show\n")
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """Listens for later launches; emits ``activated`` when one asks to be shown."""

    activated = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or instance_name()
        self.server = QLocalServer(self)
        self.server.newConnection.connect(self._on_server_new_connection)

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        # A socket file left by a crashed instance: nobody answered, so take it over.
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()

    def _on_server_new_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_socket_ready_read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._on_socket_ready_read(socket)

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).strip() == b"show":
            self.activated.emit()
