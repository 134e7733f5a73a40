"""How ngclient's refusals become ours (core/trust/client.py): the stage a refusal
happened at names the attack, and a transport failure is never called one."""

from __future__ import annotations

import pytest
from tuf.api import exceptions as tuf_errors

from core.errors import (
    DownloadError,
    MixAndMatchError,
    RollbackAttackError,
    SigningRemovedError,
    TrustError,
)
from core.net.fetcher import Fetcher
from core.trust.client import refusals
from core.trust.fetcher import MetadataFetcher, role_of


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("http://h/r/metadata/timestamp.json", "timestamp"),
        ("http://h/r/metadata/12.snapshot.json", "snapshot"),
        ("http://h/r/metadata/3.targets.json?x=1", "targets"),
        ("http://h/metadata/2.root.json", "root"),
    ],
)
def test_the_role_is_read_from_the_metadata_url(url: str, role: str) -> None:
    assert role_of(url) == role


def fetcher_at(role: str) -> MetadataFetcher:
    fetcher = MetadataFetcher(Fetcher())
    fetcher.last_role = role
    return fetcher


@pytest.mark.parametrize(
    ("role", "expected"),
    [("timestamp", RollbackAttackError), ("snapshot", RollbackAttackError)],
)
def test_a_version_going_back_is_a_rollback_unless_targets_mismatch(
    role: str, expected: type[TrustError]
) -> None:
    with pytest.raises(expected), refusals(fetcher_at(role)):
        raise tuf_errors.BadVersionNumberError("older")
    with pytest.raises(MixAndMatchError), refusals(fetcher_at("targets")):
        raise tuf_errors.BadVersionNumberError("Expected targets v3, got v2.")


def test_a_missing_timestamp_means_signing_was_removed() -> None:
    with pytest.raises(SigningRemovedError), refusals(fetcher_at("timestamp")):
        raise tuf_errors.DownloadHTTPError("missing", 404)
    with pytest.raises(TrustError) as caught, refusals(fetcher_at("snapshot")):
        raise tuf_errors.DownloadHTTPError("missing", 404)
    assert not isinstance(caught.value, SigningRemovedError)


def test_a_transport_failure_is_not_called_an_attack() -> None:
    ours = DownloadError("the connection was refused")
    with pytest.raises(DownloadError) as caught, refusals(fetcher_at("timestamp")):
        try:
            raise ours
        except DownloadError as exc:
            raise tuf_errors.DownloadError("Failed to download") from exc
    assert caught.value is ours and not isinstance(caught.value, TrustError)
