"""The transport seam: what the client needs from whatever brings it bytes.

:class:`Transport` is the protocol every layer above ``net`` types its fetcher as (the
sources, staging, the engine through ``EngineOptions``). The requests-based
:class:`~core.net.fetcher.Fetcher` implements it in production; tests plug in an
in-memory repository (tests/support/simulator.py) that records every fetch.

The rules for *documents* that hold whatever the wire is sit here, above it, so a test
double runs them too: a document that arrives damaged (a zlib or JSON error, a link to a
host nobody named) is fetched again with backoff, like a chunk with a wrong md5, and
refused with one clear error when it keeps coming damaged. A document that comes back
damaged in exactly the same way twice is what the server really serves: it is refused
at once instead of being asked for again and again (or, when the damage is confined to
parts that can be left out, accepted without them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, cast

from core.errors import FormatError, LimitExceededError
from core.format import zjson
from core.net.limits import FetchLimits, Tries, TryFailed
from core.progress import NEVER_CANCELLED, CancelToken

T = TypeVar("T")


def ignore_bytes(n: int) -> None:
    """The default ``on_bytes``: nobody is counting."""


class DamagedDocument(FormatError):
    """Raised by a document's ``parse`` for damage a new copy may not have (a link whose
    host is garbled or unknown); :func:`get_document` fetches the document again.

    ``accept`` is what to make of the document if the server serves it this way for
    good (say, a builds list without its damaged items); ``None``: refuse it."""

    def __init__(self, detail: str = "", accept: object | None = None) -> None:
        super().__init__(detail)
        self.accept = accept


class Transport(Protocol):
    """Fetches documents and objects; one instance is shared by the download threads.

    Implementations raise the errors listed in core/net/fetcher.py's docstring."""

    limits: FetchLimits

    def get_bytes(
        self,
        url: str,
        *,
        max_bytes: int,
        what: str,
        headers: dict[str, str] | None = None,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> bytes:
        """The whole body of the document at ``url``, at most ``max_bytes`` of it."""
        ...

    def download(
        self,
        url: str,
        dest: Path,
        *,
        size: int,
        md5: str | None = None,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Write the ``size``-byte object at ``url`` into the partial file ``dest``."""
        ...

    def fetch_object(
        self,
        url: str,
        *,
        size: int,
        md5: str | None = None,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
        spill: Path | None = None,
    ) -> bytes:
        """The ``size``-byte object at ``url``, in memory: for a caller that keeps no copy;
        what arrived before it gives up goes to the partial file ``spill``."""
        ...

    def download_range(
        self,
        url: str,
        dest: Path,
        *,
        start: int,
        length: int,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Write bytes ``start`` to ``start + length`` of the object at ``url`` into the
        partial file ``dest``, in one request (a pack span: core/update/packs.py)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def get_json(
        self,
        url: str,
        *,
        max_bytes: int,
        what: str,
        headers: dict[str, str] | None = None,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> Any:
        """The JSON document at ``url``, plain or zlib-compressed, refetched while damaged."""
        return get_document(
            self, url, max_bytes=max_bytes, what=what, parse=_as_is, headers=headers, cancel=cancel
        )


def _as_is(doc: Any) -> Any:
    return doc


def get_document(
    transport: Transport,
    url: str,
    *,
    max_bytes: int,
    what: str,
    parse: Callable[[Any], T],
    headers: dict[str, str] | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> T:
    """``parse`` of the (zlib) JSON document at ``url``, fetched again with backoff while
    it arrives damaged; a DownloadError naming every damage once no try is left.

    Damage is a body that does not decode (zlib, UTF-8, JSON) or a :class:`DamagedDocument`
    from ``parse``. Other FormatErrors (a well-formed document that breaks the format's
    rules) and LimitExceededError are the server's answer and are raised at once."""
    tries = Tries(transport.limits, url, what)
    previous: str | None = None
    while True:
        body = transport.get_bytes(
            url, max_bytes=max_bytes, what=what, headers=headers, cancel=cancel
        )
        damage: FormatError
        try:
            doc = zjson.loads(body, what, max_bytes)
        except LimitExceededError:
            raise
        except FormatError as exc:
            damage = exc
        else:
            try:
                return parse(doc)
            except DamagedDocument as exc:
                damage = exc
        digest = hashlib.sha256(body).hexdigest()
        if digest == previous:  # the same bytes twice: what the server serves, not a bad transfer
            if isinstance(damage, DamagedDocument) and damage.accept is not None:
                return cast(T, damage.accept)
            raise damage
        previous = digest
        if len(tries.seen) >= transport.limits.retries:  # that was the last try
            tries.seen.append("damaged")
            raise tries.error(damage.detail.rstrip(".")) from None
        tries.failed(TryFailed("damaged"), cancel)
