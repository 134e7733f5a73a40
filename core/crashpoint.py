"""Named crash points: the updater kills itself on purpose, so tests can crash it anywhere.

``SLIPSTREAM_CRASHPOINT=name`` kills the process at the first call of ``crashpoint(name)``;
``name:N`` at the N-th call of that name (1-based, counted per process). The kill is a
SIGKILL, so nothing is flushed, closed or cleaned up: exactly what a power cut or an
``kill -9`` leaves behind. Unset, a crash point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "SLIPSTREAM_CRASHPOINT"

_calls: dict[str, int] = {}


def crashpoint(name: str) -> None:
    """Die here, at once and without cleanup, if ``SLIPSTREAM_CRASHPOINT`` names this call."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _calls[name] = count = _calls.get(name, 0) + 1
    if count == (int(nth) if nth else 1):
        if sys.platform == "win32":
            os._exit(137)
        os.kill(os.getpid(), signal.SIGKILL)
