"""Fixtures for the window's tests: a desktop of their own.

Every test here gets a temp ``XDG_CONFIG_HOME`` (the start-at-login entry is never written
into the real one) and a ``DBUS_SESSION_BUS_ADDRESS`` that leads nowhere, so the window's
notices take the fallback path and never pop up on the desktop of whoever runs the tests;
the window speaks English (``SLIPSTREAM_LANG=en``) whatever their language.
A test that wants the desktop's notification service asks for ``notification_server``:
a private ``dbus-daemon`` with a recording ``org.freedesktop.Notifications`` on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.desktop_bus import NotificationServer, session_bus


@pytest.fixture(autouse=True)
def private_desktop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-session-bus'}")
    # The tests read the window's English words, whatever the language of whoever runs them.
    monkeypatch.setenv("SLIPSTREAM_LANG", "en")


@pytest.fixture
def notification_server(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NotificationServer]:
    """A recording notification server on a private session bus, which the process's
    ``DBUS_SESSION_BUS_ADDRESS`` points at for the test."""
    with session_bus(tmp_path_factory.mktemp("bus")) as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        server = NotificationServer(address)
        server.start()
        try:
            yield server
        finally:
            server.stop()
