"""ngclient's fetcher seam, backed by the engine's one transport (core/net/transport.py).

Every metadata download goes through the :class:`~core.net.transport.Transport` the
operation uses (core/net/fetcher.py in production, an in-memory repository in tests), so
it gets the same timeouts, retries, redirect rules and length caps as any document. 404
and 403 become ``DownloadHTTPError`` (ngclient reads them as "no newer root"); every other
failure keeps our own typed error as its cause, which :mod:`core.trust.client` hands on
unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from core.errors import AccessDeniedError, NotFoundError
from core.net.transport import Transport
from core.trust.tuflib import DownloadHTTPError, FetcherInterface

METADATA_BYTES = 8 * 2**20
"""Cap of one metadata file; ngclient caps each role more tightly on top (UpdaterConfig)."""


def role_of(url: str) -> str:
    """``…/metadata/3.snapshot.json`` → ``snapshot``: which role a metadata URL holds."""
    name = urlsplit(url).path.rsplit("/", 1)[-1].removesuffix(".json")
    return name.rsplit(".", 1)[-1]


class MetadataFetcher(FetcherInterface):
    """Fetches TUF metadata with ``fetcher``; remembers the role it fetched last, which
    names the stage a refusal happened at (timestamp, snapshot, targets, root)."""

    def __init__(self, fetcher: Transport) -> None:
        self._fetcher = fetcher
        self.last_role = ""
        self.fetched: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.last_role = role_of(url)
        self.fetched.append(url)
        try:
            body = self._fetcher.get_bytes(
                url, max_bytes=METADATA_BYTES, what=f"signed metadata ({self.last_role})"
            )
        except NotFoundError as exc:
            raise DownloadHTTPError(f"{url} is missing", 404) from exc
        except AccessDeniedError as exc:
            raise DownloadHTTPError(f"{url} is refused", 403) from exc
        return iter((body,))
