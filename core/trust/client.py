"""One signed repository as the client sees it: ngclient's Updater over our fetcher.

:class:`SignedRepository` refreshes the top-level metadata once (root chain, timestamp,
snapshot, targets, in the order and with the checks of the TUF specification) and then
answers, for any repository file, the length and hashes it must have. Every refusal of
ngclient becomes the error of core/errors.py that names the attack: see :func:`refusals`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import (
    DownloadError,
    FrozenMetadataError,
    LocalIOError,
    MixAndMatchError,
    RollbackAttackError,
    SigningRemovedError,
    SlipstreamError,
    TamperedError,
    TrustError,
)
from core.format import layout
from core.net.transport import Transport
from core.trust.fetcher import MetadataFetcher
from core.trust.names import ROOT_FILE, root_key_ids
from core.trust.tuflib import Metadata, Root, TargetFile, Updater, tuf_errors


class SignedRepository:
    """The signed metadata of the repository at ``base_url``, trusted from the root in
    ``metadata_dir`` (or from ``bootstrap``, which is then stored there)."""

    def __init__(
        self, base_url: str, fetcher: Transport, metadata_dir: Path, bootstrap: bytes | None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.metadata_dir = metadata_dir
        self._transport = fetcher
        self._fetcher = MetadataFetcher(fetcher)
        with refusals(self._fetcher):
            self._updater = Updater(
                str(metadata_dir),
                f"{self.base_url}/{layout.METADATA_ROOT}/",
                fetcher=self._fetcher,
                bootstrap=bootstrap,
            )
        self._refreshed = False

    def refresh(self) -> None:
        """Load and check the newest metadata; raises the TrustError naming the attack."""
        with refusals(self._fetcher):
            self._updater.refresh()
        self._refreshed = True

    def renewed(self) -> SignedRepository:
        """The repository's metadata loaded afresh, from what this one trusts now."""
        fresh = SignedRepository(self.base_url, self._transport, self.metadata_dir, None)
        fresh.refresh()
        return fresh

    def target(self, rel: str) -> TargetFile | None:
        """The signed length and hashes of the repository file ``rel``, or ``None`` when
        the signed metadata does not list it."""
        if not self._refreshed:
            self.refresh()
        with refusals(self._fetcher):
            return self._updater.get_targetinfo(rel)

    @property
    def root(self) -> Root:
        """The root trusted now (ngclient keeps the newest verified one as root.json)."""
        path = self.metadata_dir / ROOT_FILE
        try:
            return Metadata[Root].from_file(str(path)).signed
        except OSError as exc:
            raise LocalIOError.wrap(exc, "read the trusted root") from None

    @property
    def root_key_ids(self) -> list[str]:
        return root_key_ids(self.root)

    @property
    def fetched(self) -> list[str]:
        """Every metadata URL fetched so far, in order (for tests and logs)."""
        return list(self._fetcher.fetched)


def check_target(info: TargetFile, data: bytes, what: str) -> None:
    """Refuse ``data`` unless it has the signed length and hashes of ``info``."""
    try:
        info.verify_length_and_hashes(data)
    except tuf_errors.LengthOrHashMismatchError:
        raise TamperedError(f"({what}, {info.path}, is not what was signed).") from None


@contextmanager
def refusals(fetcher: MetadataFetcher) -> Iterator[None]:
    """Turn ngclient's exceptions into ours; the role fetched last tells the stage.

    A version going backwards is a rollback, unless it is the targets version that the
    snapshot names: then snapshot and targets come from different states of the repository
    (mix and match). A missing timestamp means the repository stopped signing."""
    try:
        yield
    except tuf_errors.ExpiredMetadataError as exc:
        raise FrozenMetadataError(f"({exc}).") from None
    except tuf_errors.BadVersionNumberError as exc:
        if fetcher.last_role == "targets":
            raise MixAndMatchError(f"({exc})") from None
        raise RollbackAttackError(f"({fetcher.last_role}: {exc})") from None
    except tuf_errors.RepositoryError as exc:
        # Bad signatures, wrong hashes or lengths, malformed or mislabelled metadata.
        raise TamperedError(f"({fetcher.last_role or 'root'}: {exc})") from None
    except tuf_errors.DownloadHTTPError as exc:
        if fetcher.last_role == "timestamp":
            raise SigningRemovedError(f"({exc})") from None
        raise TrustError(f"Its {fetcher.last_role} metadata is missing ({exc})") from None
    except tuf_errors.DownloadError as exc:
        cause = exc.__cause__
        if isinstance(cause, SlipstreamError):
            raise cause from None
        raise DownloadError(f"signed metadata: {exc}") from None
    except OSError as exc:
        raise LocalIOError.wrap(exc, "store signed metadata") from None
