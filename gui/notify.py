"""Desktop notifications: the desktop's own notification service, the tray as fallback.

A notice goes to the desktop's notification service through ``desktop-notifier``
(org.freedesktop.Notifications over D-Bus on Linux, the Windows and macOS notification
centres elsewhere), so it looks and behaves like every other application's, and clicking
it brings the window forward where the service reports clicks. The service is reached from
one background thread running its own asyncio loop, started on the first notice: the GUI
thread never waits on D-Bus, and a service that does not answer within
:data:`SEND_TIMEOUT` counts as failed.

When the service fails (no session bus, no notification server, an error, a timeout) the
notice goes to the fallback (the tray's balloon) instead, and the service is left alone
for :data:`RETRY_AFTER` seconds, so a desktop without one is not asked again for every
notice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from desktop_notifier.backends.dummy import DummyNotificationCenter
from desktop_notifier.main import get_backend_class
from PySide6.QtCore import QObject, Signal

from gui.icons import resources_dir

log = logging.getLogger("slipstream.gui")

APP_NAME = "Slipstream"
SEND_TIMEOUT = 2.0
"""Seconds the notification service has to take a notice before it counts as failed."""
RETRY_AFTER = 600.0
"""Seconds to leave a failed notification service alone before trying it again."""

# desktop-notifier logs a failed send as a warning with a traceback; with no handler set
# up, Python would print it on the player's terminal. The reason goes to our own log.
logging.getLogger("desktop_notifier").addHandler(logging.NullHandler())


def _backend_class() -> type:
    return get_backend_class()


# desktop-notifier and its D-Bus library are imported with this module, while the app
# starts: imported on the first notice, on the service's thread, they held the GIL for
# tens of milliseconds at a time just as the player pressed Update after a check, and
# the window's event loop waited up to 100 ms. A backend that cannot load fails here
# without stopping the app; the first notice meets the same error and uses the tray.
try:
    _backend_class()
except Exception as exc:  # a foreign library's seam, as in DesktopService._send
    log.warning("desktop notifications unavailable: %s", exc)


class DesktopService:
    """The desktop's notification service, reached from a thread with its own asyncio loop.

    No Qt here: :meth:`send` hands the notice to the thread and returns a future that
    resolves to None once the service took it, or to the reason it could not.
    ``on_clicked`` is called on the service's thread when the player clicks a notice."""

    def __init__(self, on_clicked: Callable[[], None], timeout: float = SEND_TIMEOUT) -> None:
        self._on_clicked = on_clicked
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._notifier: Any = None
        self._pending: set[Future[str | None]] = set()
        self._pending_lock = threading.Lock()  # added on the GUI thread, dropped on the service's

    def send(self, title: str, message: str) -> Future[str | None]:
        """Send a notice on the service's thread (started on first use)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="slipstream-notifications", daemon=True
            )
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._send(title, message), self._loop)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._drop_pending)
        return future

    def _drop_pending(self, future: Future[str | None]) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    async def _send(self, title: str, message: str) -> str | None:
        try:
            return await asyncio.wait_for(self._deliver(title, message), self._timeout)
        except TimeoutError:
            reason = f"the notification service did not answer within {self._timeout:g} s"
        except Exception as exc:  # a foreign library's seam: any failure means "use the tray"
            reason = f"{type(exc).__name__}: {exc}"
        await self._forget()
        return reason

    async def _deliver(self, title: str, message: str) -> str | None:
        from desktop_notifier import DesktopNotifier, Icon

        if issubclass(_backend_class(), DummyNotificationCenter):
            return "this system has no notification service desktop-notifier can use"
        if self._notifier is None:
            icon = icon_path()
            self._notifier = DesktopNotifier(
                app_name=APP_NAME, app_icon=Icon(path=icon) if icon.is_file() else None
            )
        # Connects and asks what the server can do; unlike send, it raises on failure.
        await self._notifier.get_capabilities()
        dispatched: list[bool] = []
        await self._notifier.send(
            title,
            message,
            on_dispatched=lambda: dispatched.append(True),
            on_clicked=self._on_clicked,
        )
        return None if dispatched else "the notification service refused the notice"

    async def _forget(self) -> None:
        """Drop the notifier and its bus connection: the next try starts afresh."""
        notifier, self._notifier = self._notifier, None
        # desktop-notifier has no close(); its D-Bus backend keeps the connection here.
        bus = getattr(getattr(notifier, "_backend", None), "bus", None)
        if bus is not None:
            try:
                bus.disconnect()
                await asyncio.wait_for(bus.wait_for_disconnect(), 1.0)
            except Exception as exc:  # already gone, or the reason it went
                log.debug("notification bus closed: %s", exc)

    def running(self) -> bool:
        """Whether the service's thread runs (from the first notice until :meth:`close`)."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Close the connection and stop the thread; a later :meth:`send` starts anew."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            with self._pending_lock:
                pending = list(self._pending)
            for future in pending:
                future.cancel()  # its future says so: the notice falls back
            asyncio.run_coroutine_threadsafe(self._forget(), loop).result(2.0)
        except Exception as exc:  # closing must never stop the app from quitting
            log.debug("closing the notification service: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(2.0)
        if not thread.is_alive():
            loop.close()


class Notifier(QObject):
    """Tells the player something through the desktop, or ``fallback`` when it cannot.

    ``enabled`` False sends nothing (the window still shows the notice in its status bar).

    Signals:
        clicked: the player clicked one of our desktop notifications.
        fellBack: (title, message) went to the fallback, not the desktop's service.
    """

    clicked = Signal()
    fellBack = Signal(str, str)
    _answered = Signal(str, str, object)
    """(title, message, None or why the service failed), from the service's thread."""

    def __init__(
        self,
        fallback: Callable[[str, str], object],
        parent: QObject | None = None,
        *,
        timeout: float = SEND_TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        super().__init__(parent)
        self.enabled = True
        self.retry_after = retry_after
        self._fallback = fallback
        self._service = DesktopService(self.clicked.emit, timeout)
        self._failed_at: float | None = None
        self.last_failure: str | None = None
        """Why the service last failed, for the log and for tests."""
        self._answered.connect(self._on_answered)

    def service_failed(self) -> bool:
        """Whether the service failed less than ``retry_after`` seconds ago."""
        failed_at = self._failed_at
        return failed_at is not None and time.monotonic() - failed_at < self.retry_after

    def notify(self, title: str, message: str) -> None:
        """Send the notice without waiting; it falls back on the GUI thread if it fails."""
        if not self.enabled:
            return
        if self.service_failed():
            self._fall_back(title, message)
            return
        future = self._service.send(title, message)
        future.add_done_callback(lambda done: self._answered.emit(title, message, _reason(done)))

    def _on_answered(self, title: str, message: str, reason: str | None) -> None:
        if reason is None:
            if self._failed_at is not None:
                log.info("desktop notifications work again")
            self._failed_at = None
            return
        if not self.service_failed():
            log.info(
                "desktop notifications unavailable (%s); using the tray for %d minutes",
                reason,
                self.retry_after // 60,
            )
        self._failed_at = time.monotonic()
        self.last_failure = reason
        self._fall_back(title, message)

    def _fall_back(self, title: str, message: str) -> None:
        self._fallback(title, message)
        self.fellBack.emit(title, message)

    def service_running(self) -> bool:
        """Whether the thread that talks to the service runs."""
        return self._service.running()

    def close(self) -> None:
        """Stop the service's thread (on quit); a notice still under way falls back."""
        self._service.close()


def _reason(done: Future[str | None]) -> str | None:
    if done.cancelled():
        return "the notification was cancelled"
    exc = done.exception()
    return f"{type(exc).__name__}: {exc}" if exc is not None else done.result()


def icon_path() -> Path:
    """The icon desktop notifications show."""
    return resources_dir() / "icons" / "slipstream.svg"
