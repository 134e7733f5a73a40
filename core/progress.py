"""Progress reporting and cancellation, shared by every long core call.

The engine never knows who listens: a long call takes a ``ProgressSink`` (any callable
taking a :class:`Progress`) and a :class:`CancelToken`, both no-ops by default. The CLI
draws a terminal bar from the sink; the window turns it into a rate-limited Qt signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.errors import CancelledError


class Phase(StrEnum):
    """Every phase a core call reports progress in. The values are what the terminal
    shows, what the window maps onto its bar and what the library times: the same words
    as before there was an enum, so string comparisons keep working."""

    # Updating, installing, rolling back or repairing a game.
    PLANNING = "planning"
    DOWNLOADING = "downloading"
    PATCHING = "patching"
    ASSEMBLING = "assembling"
    VERIFYING = "verifying"
    COMMITTING = "committing"
    RESTORING = "restoring"
    KEEPING_COPIES = "keeping copies"
    # Checking the installed files.
    CHECKING_FILES = "checking files"
    HASHING = "hashing"
    # Publishing and pruning a repository.
    SCANNING = "scanning"
    CHUNKING = "chunking"
    PREPARING_PATCHES = "preparing patches"
    WRITING_DOCUMENTS = "writing documents"
    FINDING_REFERENCES = "finding references"
    SWEEPING = "sweeping"
    UPLOADING = "uploading"


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units in ``phase``, working on ``item``."""

    phase: Phase
    done: int
    total: int
    item: str = ""
    unit: str = "bytes"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


ProgressSink = Callable[[Progress], None]


def null_sink(progress: Progress) -> None:
    """A sink that ignores every report."""


class CancelToken:
    """A thread-safe flag that long calls check at chunk, file and phase boundaries."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError()


class _NeverCancelled(CancelToken):
    def cancel(self) -> None:
        raise RuntimeError("NEVER_CANCELLED is shared; pass your own CancelToken to cancel")


NEVER_CANCELLED: CancelToken = _NeverCancelled()
"""A token nobody cancels, the default for every ``cancel=`` parameter."""


class _Either(CancelToken):
    """Cancelled as soon as either of two tokens is."""

    def __init__(self, first: CancelToken, second: CancelToken) -> None:
        self._first = first
        self._second = second

    def cancel(self) -> None:
        raise RuntimeError("cancel one of the tokens this one watches")

    @property
    def cancelled(self) -> bool:
        return self._first.cancelled or self._second.cancelled

    def raise_if_cancelled(self) -> None:
        self._first.raise_if_cancelled()
        self._second.raise_if_cancelled()


def either(first: CancelToken, second: CancelToken) -> CancelToken:
    """A token cancelled when ``first`` or ``second`` is (either one, when the other is
    :data:`NEVER_CANCELLED` or the same token)."""
    if second is NEVER_CANCELLED or second is first:
        return first
    if first is NEVER_CANCELLED:
        return second
    return _Either(first, second)
