"""A private D-Bus session bus and a notification server on it, for the notification tests.

:func:`session_bus` runs ``dbus-daemon`` with a configuration of its own (no service
activation, so nothing installed on the machine answers in its place) and yields the
bus's address. :class:`NotificationServer` is a small ``org.freedesktop.Notifications``
written with dbus-fast, on its own thread and asyncio loop, that records every ``Notify``
call and can play the player clicking a notice (the ``ActionInvoked`` signal).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature, DBusStr, DBusUInt32
from dbus_fast.constants import RequestNameReply
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextmanager
def session_bus(folder: Path) -> Iterator[str]:
    """A private session bus whose socket lives in ``folder``; yields its address."""
    daemon = shutil.which("dbus-daemon")
    assert daemon is not None, "dbus-daemon is installed by scripts/setup.sh --dev"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "session.conf"
    config.write_text(CONFIG.format(folder=folder), "utf-8")
    process = subprocess.Popen(
        [daemon, "--nofork", "--print-address=1", f"--config-file={config}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@dataclass(frozen=True)
class Notice:
    """One ``Notify`` call, as the server received it."""

    id: int
    app_name: str
    icon: str
    summary: str
    body: str
    actions: tuple[str, ...]


class _Interface(ServiceInterface):
    def __init__(self, received: list[Notice], lock: threading.Lock) -> None:
        super().__init__(NAME)
        self._received = received
        self._lock = lock

    @dbus_method()
    def Notify(
        self,
        app_name: DBusStr,
        replaces_id: DBusUInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: Annotated[list[str], DBusSignature("as")],
        hints: Annotated[dict[str, Any], DBusSignature("a{sv}")],
        expire_timeout: Annotated[int, DBusSignature("i")],
    ) -> DBusUInt32:
        with self._lock:
            notice = Notice(
                len(self._received) + 1, app_name, app_icon, summary, body, tuple(actions)
            )
            self._received.append(notice)
        return notice.id

    @dbus_method()
    def GetCapabilities(self) -> Annotated[list[str], DBusSignature("as")]:
        return ["actions", "body"]

    @dbus_method()
    def GetServerInformation(
        self,
    ) -> Annotated[tuple[str, str, str, str], DBusSignature("ssss")]:
        return ["Slipstream test server", "slipstream", "1.0", "1.2"]  # type: ignore[return-value]

    @dbus_method()
    def CloseNotification(self, id: DBusUInt32):  # type: ignore[no-untyped-def]
        """No reply value: dbus-fast reads an empty return annotation as "no arguments"."""

    @dbus_signal()
    def ActionInvoked(
        self, id: DBusUInt32, action_key: DBusStr
    ) -> Annotated[list[Any], DBusSignature("us")]:
        return [id, action_key]

    @dbus_signal()
    def NotificationClosed(
        self, id: DBusUInt32, reason: DBusUInt32
    ) -> Annotated[list[Any], DBusSignature("uu")]:
        return [id, reason]


class NotificationServer:
    """``org.freedesktop.Notifications`` on the bus at ``address``, on its own thread."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._received: list[Notice] = []
        self._interface = _Interface(self._received, self._lock)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._bus: MessageBus | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)

    async def _serve(self) -> None:
        self._bus = await MessageBus(bus_address=self.address).connect()
        self._bus.export(PATH, self._interface)
        reply = await self._bus.request_name(NAME)
        assert reply == RequestNameReply.PRIMARY_OWNER, reply

    def received(self) -> list[Notice]:
        with self._lock:
            return list(self._received)

    def click(self, notice: Notice) -> None:
        """Play the player clicking ``notice`` (its "default" action)."""
        self._loop.call_soon_threadsafe(self._interface.ActionInvoked, notice.id, "default")

    def stop(self) -> None:
        async def close() -> None:
            if self._bus is not None:
                self._bus.disconnect()
                await self._bus.wait_for_disconnect()

        try:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
