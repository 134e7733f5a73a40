"""The hard bounds of every download, and the small pieces that enforce them.

:class:`FetchLimits` holds every number in one place. :class:`Tries` is one call's
ledger: what failed so far, how long to back off, and when to give up (out of retries,
past the deadline, or told by the server to wait longer than we will). :class:`Watchdog`
aborts a body that arrives too slowly: read timeouts only bound the gap between two
reads, so a drip of one byte every few seconds would otherwise never end.
:class:`RateLimiter` is the token bucket that every thread of one fetcher shares.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from core.errors import DownloadError
from core.format.bounds import BOUNDS
from core.progress import CancelToken

_SLEEP_STEP = 0.05  # how often a long wait looks at the cancel token

log = logging.getLogger(__name__)
"""Each retry is logged at INFO (what failed, and when the next try comes): the command
line shows them on a terminal (core/cli/termprogress.py), so a server that is down is
not a silence of some 13 s until the last try's one-line error."""


@dataclass(frozen=True)
class FetchLimits:
    """Hard bounds on every request: seconds, bytes per second, counts and sizes."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    """Longest silence allowed between two reads (and before the first header)."""
    deadline: float = 3600.0
    """Longest one call (a document or an object) may take, retries and waits included."""
    min_rate: float = 4096.0
    """Slowest body accepted, in bytes per second averaged over ``rate_window`` seconds."""
    rate_window: float = 30.0
    retries: int = 5
    """Tries after the first one, per call."""
    backoff: float = 0.5
    """First wait between tries; doubles each time up to ``backoff_cap``, with jitter."""
    backoff_cap: float = 8.0
    retry_after_cap: float = 60.0
    """A 429/503 ``Retry-After`` is honoured up to this; a longer one fails at once."""
    max_redirects: int = 10
    document_bytes: int = BOUNDS.document_bytes
    """No document is read past this, whatever cap the caller asks for."""


def _when(wait: float) -> str:
    """A retry's wait in words: "now", "in 0.4 s", "in 12 s"."""
    if wait < 0.05:
        return "now"
    return f"in {wait:.1f} s" if wait < 9.5 else f"in {wait:.0f} s"


def sleep(seconds: float, cancel: CancelToken) -> None:
    """Sleep ``seconds``, raising CancelledError soon after ``cancel`` is set."""
    end = time.monotonic() + seconds
    while True:
        cancel.raise_if_cancelled()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, _SLEEP_STEP))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class TryFailed(Exception):
    """One try failed in a way the next try may not (a 5xx, a drop, a timeout)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Tries:
    """One call's ledger: the failures so far, the waits between tries, and the deadline."""

    def __init__(self, limits: FetchLimits, url: str, what: str) -> None:
        self.limits = limits
        self.url = url
        self.what = what
        self.seen: list[str] = []
        self._deadline = time.monotonic() + limits.deadline

    def left(self) -> float:
        """Seconds left before the deadline; DownloadError when there are none."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise self.error(f"it took longer than {self.limits.deadline:g} s")
        return left

    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts for the next request, never past the deadline."""
        left = self.left()
        return min(self.limits.connect_timeout, left), min(self.limits.read_timeout, left)

    def failed(
        self, failure: TryFailed, cancel: CancelToken, final: DownloadError | None = None
    ) -> None:
        """Record ``failure`` and wait before the next try; raise ``final`` (or a summary
        of every failure) when no try is left."""
        self.seen.append(failure.reason)
        if len(self.seen) > self.limits.retries:
            raise (final or self.error()) from failure.__cause__
        wait = self._wait(failure)
        if wait >= self.left():
            raise self.error(f"waiting {wait:.0f} s more would pass the deadline")
        log.info(
            "%s from %s: %s; trying again %s (try %d of %d)",
            self.what,
            self.url,
            failure.reason,
            _when(wait),
            len(self.seen) + 1,
            self.limits.retries + 1,
        )
        sleep(wait, cancel)

    def _wait(self, failure: TryFailed) -> float:
        if failure.retry_after is None:
            step = self.limits.backoff * 2.0 ** (len(self.seen) - 1)
            return min(self.limits.backoff_cap, step) * random.uniform(0.5, 1.0)
        if failure.retry_after > self.limits.retry_after_cap:
            raise self.error(
                f"the server is busy and asked to wait {failure.retry_after:.0f} s, longer "
                f"than Slipstream waits ({self.limits.retry_after_cap:g} s); try again later"
            )
        return failure.retry_after

    def error(self, why: str = "") -> DownloadError:
        """The DownloadError for this call: the URL, every failure seen, and ``why``."""
        text = f"Could not download {self.what} from {self.url}"
        if self.seen:
            count = "1 try" if len(self.seen) == 1 else f"{len(self.seen)} tries"
            text += f" after {count} ({', '.join(self.seen)})"
        return DownloadError(f"{text}: {why}." if why else f"{text}.")


class Watchdog:
    """Aborts a body slower than ``min_rate`` over each ``rate_window``, or one that runs
    past the call's deadline. Time spent waiting for the rate limiter does not count."""

    def __init__(self, tries: Tries) -> None:
        self._tries = tries
        self._start = time.monotonic()
        self._bytes = 0

    def check(self, received: int, throttled: float) -> None:
        """Account ``received`` bytes and ``throttled`` seconds spent in the limiter."""
        self._tries.left()
        limits = self._tries.limits
        self._bytes += received
        self._start += throttled
        elapsed = time.monotonic() - self._start
        if elapsed < limits.rate_window:
            return
        if self._bytes < limits.min_rate * elapsed:
            raise TryFailed(f"too slow ({self._bytes / elapsed:.0f} bytes/s)")
        self._start, self._bytes = time.monotonic(), 0


class RateLimiter:
    """A token bucket shared by every thread of one fetcher: at most ``rate`` body bytes
    per second in total (``None``: no limit). Threads reserve bytes under the lock and
    sleep off their debt outside it, so a sleeping thread never blocks the others."""

    BURST = 0.25
    """Seconds of rate that a quiet bucket saves up."""

    def __init__(self, rate: float | None = None) -> None:
        self._lock = threading.Lock()
        self._rate = rate
        self._tokens = 0.0
        self._stamp = time.monotonic()

    def set_rate(self, rate: float | None) -> None:
        with self._lock:
            self._rate = rate
            self._tokens = 0.0
            self._stamp = time.monotonic()

    def block_size(self, largest: int) -> int:
        """A read size that keeps each wait short at the current rate."""
        rate = self._rate
        return largest if rate is None else max(16384, min(largest, int(rate / 8)))

    def take(self, n: int, cancel: CancelToken) -> float:
        """Spend ``n`` bytes, sleeping as long as the bucket needs; returns the seconds slept."""
        with self._lock:
            if self._rate is None:
                return 0.0
            now = time.monotonic()
            saved = self._tokens + (now - self._stamp) * self._rate
            self._tokens = min(self._rate * self.BURST, saved) - n
            self._stamp = now
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        sleep(wait, cancel)
        return wait
