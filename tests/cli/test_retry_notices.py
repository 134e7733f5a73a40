"""On a terminal, the command line shows the fetcher's retries as they happen; through a
pipe it says nothing more than the one-line error (tests/cli/test_player.py). Real
subprocesses, stderr on a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support.faultserver import Fault, FaultServer


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def test_a_server_that_is_down_shows_its_retries_then_the_one_line_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "repo").mkdir()
    with FaultServer(tmp_path / "repo") as server:
        # Every request: 503, "try again now" (so the test does not wait the backoff).
        server.plan("*", Fault(statuses=[503] * 50, retry_after="0"))
        controller, terminal = pty.openpty()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "core.cli", "builds", "--source", server.url,
                 "--product", "1207658924"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=terminal,
                env={**os.environ, "SLIPSTREAM_HOME": str(tmp_path / "home")},
            )  # fmt: skip
        finally:
            os.close(terminal)
        try:
            shown = _read_all(controller)
            out, _ = proc.communicate(timeout=120)
        finally:
            os.close(controller)
    assert proc.returncode == 1, (shown, out)
    lines = [line.strip("\r\x1b[K") for line in shown.splitlines() if line.strip()]
    assert any("HTTP 503; trying again now (try 2 of 6)" in line for line in lines), shown
    assert lines[-1].startswith("slipstream: A download failed."), shown
    assert "after 6 tries (HTTP 503" in lines[-1], shown
    assert "Traceback" not in shown


def test_a_second_command_in_one_process_adds_no_second_notice_handler() -> None:
    import logging

    from core.cli.termprogress import RetryNotices, show_retries

    controller, terminal = pty.openpty()
    logger = logging.getLogger("core.net")
    with os.fdopen(terminal, "w") as stream:
        first = show_retries(stream)
        try:
            assert first is not None and show_retries(stream) is first
            assert sum(isinstance(h, RetryNotices) for h in logger.handlers) == 1
        finally:
            logger.removeHandler(first)  # type: ignore[arg-type]
            logger.setLevel(logging.NOTSET)
    os.close(controller)
