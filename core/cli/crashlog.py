"""The last resort for a bug of ours: its traceback goes to a log file, never at the player.

:func:`log_crash` appends the traceback of an exception that is not a
:class:`~core.errors.SlipstreamError` to ``$SLIPSTREAM_HOME/logs/<program>.log`` and
:func:`crash_line` says in one line what happened and where the details are. Everything
written or printed passes :func:`redact` first, so a login code, token or branch password
that rode along in a URL or a header never reaches the log or the terminal.
"""

from __future__ import annotations

import datetime
import platform
import re
import traceback
from pathlib import Path

from core import __version__

MAX_LOG_BYTES = 2_000_000
"""Past this the log is moved to ``<program>.log.1`` (one old log is kept)."""

_SECRET_PATTERNS = (
    # query parameters and form fields: ?code=..., &refresh_token=..., password=...
    re.compile(r"(?i)\b((?:code|access_token|refresh_token|client_secret|password)=)[^&\s'\"]+"),
    # JSON documents: "access_token": "..."
    re.compile(r"(?i)(\"(?:access_token|refresh_token|password)\"\s*:\s*\")[^\"]*"),
    # headers: Authorization: Bearer ...
    re.compile(r"(?i)\b(Bearer\s+)[^\s'\"]+"),
)


def redact(text: str) -> str:
    """``text`` with the values of anything that looks like a secret replaced."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1[hidden]", text)
    return text


def log_crash(program: str, command: str, exc: BaseException) -> Path:
    """Append ``exc``'s traceback to ``$SLIPSTREAM_HOME/logs/<program>.log``; the log's
    path. Raises OSError when the log cannot be written."""
    from core.library.db import home

    folder = home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{program}.log"
    if path.is_file() and path.stat().st_size > MAX_LOG_BYTES:
        path.replace(path.with_name(path.name + ".1"))
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    details = "".join(traceback.format_exception(exc))
    with open(path, "a", encoding="utf-8") as log:
        log.write(
            f"--- {stamp} {program} {__version__} (Python {platform.python_version()}, "
            f"{platform.platform()}) command: {command}\n{redact(details)}\n"
        )
    return path


def crash_line(program: str, command: str, exc: BaseException) -> str:
    """Log ``exc`` (see :func:`log_crash`) and return the one line to tell the player."""
    what = redact(" ".join(f"{type(exc).__name__}: {exc}".split()))
    if len(what) > 200:
        what = what[:199] + "…"
    try:
        where = f"The details are in {log_crash(program, command, exc)}"
    except Exception as failure:  # the last resort must not fail itself
        where = f"The details could not be saved ({type(failure).__name__}: {failure})"
    return (
        f"{program}: internal error, a bug in Slipstream ({what}). {where}; "
        "please include them when you report it."
    )
