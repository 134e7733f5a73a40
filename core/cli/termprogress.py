"""A progress sink that draws on the terminal.

On a terminal it redraws one line at most ten times a second: phase, bar, percentage,
and for byte counts the speed and time left. When stderr is not a terminal (CI logs,
pipes) it prints one line per phase instead, so logs stay readable.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from core.progress import Progress
from core.units import format_bytes, format_duration

BAR = 24
INTERVAL = 0.1
NOTICE_EVERY = 1.0
"""Seconds between two retry notices at most: sixteen download threads waiting on one
server that is down would otherwise fill the terminal."""


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._phase = ""
        self._phase_started = 0.0
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.phase != self._phase:
            self._phase, self._phase_started = progress.phase, now
            if not self.interactive:
                self.stream.write(f"{progress.phase}…\n")
                self.stream.flush()
        if not self.interactive:
            return
        finished = progress.total > 0 and progress.done >= progress.total
        if now - self._last_draw < INTERVAL and not finished:
            return
        self._last_draw = now
        self.stream.write("\r" + self._line(progress, now - self._phase_started) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _line(self, p: Progress, elapsed: float) -> str:
        filled = int(BAR * p.fraction)
        head = f"{p.phase:<18} [{'#' * filled}{'.' * (BAR - filled)}] {p.fraction * 100:5.1f}%"
        if p.unit == "bytes":
            speed = p.done / elapsed if elapsed > 0.2 else 0.0
            left = (p.total - p.done) / speed if speed > 0 else None
            eta = f" ETA {format_duration(left)}" if left is not None else ""
            head += (
                f"  {format_bytes(p.done)}/{format_bytes(p.total)}  {format_bytes(speed)}/s{eta}"
            )
        else:
            head += f"  {p.done}/{p.total} {p.unit}"
        item = p.item if len(p.item) <= 40 else "…" + p.item[-39:]
        return f"{head}  {item}"

    def close(self) -> None:
        """End the progress line so the summary starts on a fresh one."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


class RetryNotices(logging.Handler):
    """Shows the fetcher's retries (core/net/limits.py logs each at INFO) on a terminal,
    one line each, at most one every :data:`NOTICE_EVERY` seconds, above the progress
    line (which the next redraw puts back)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self._shown = -NOTICE_EVERY

    def emit(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        if now - self._shown < NOTICE_EVERY:
            return
        self._shown = now
        try:
            self.stream.write(f"\r\x1b[Kslipstream: {record.getMessage()}\n")
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: nothing to tell
            pass


def show_retries(stream: TextIO | None = None) -> RetryNotices | None:
    """On a terminal, show each retry of the fetcher as it happens (see
    :class:`RetryNotices`); elsewhere (pipes, logs, the tests) say nothing more than the
    final one-line error, as before. The handler, or ``None``."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None
    logger = logging.getLogger("core.net")
    for known in logger.handlers:  # a second command in one process: one line a retry
        if isinstance(known, RetryNotices) and known.stream is stream:
            return known
    handler = RetryNotices(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler
