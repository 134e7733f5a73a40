"""What an operation may do: threads, bandwidth, patches, rollback points kept, request
limits; and how the player's settings map onto them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.library.settings import Settings
from core.net.fetcher import DEFAULT_LIMITS, Fetcher, FetchLimits
from core.net.transport import Transport
from core.progress import NEVER_CANCELLED, CancelToken


@dataclass(frozen=True)
class EngineOptions:
    jobs: int = 4
    """Download threads."""
    patch_jobs: int | None = None
    """xdelta3 worker processes (default: one per core)."""
    limit_rate: float | None = None
    use_patches: bool = True
    use_packs: bool = True
    """Consider Slipstream's patch packs beside GOG's xdelta3 patches (``--no-packs``:
    xdelta3 patches only, as a GOG client updates; no effect without ``use_patches``)."""
    keep_modified: bool = False
    keep_points: int = 2
    """Rollback points kept on disk after each update (older ones are dropped)."""
    fetch_limits: FetchLimits = DEFAULT_LIMITS
    """Timeouts, retries and caps of every request (tests make them small)."""
    password: str | None = field(default=None, repr=False)
    """A GOG private branch's password (kept in the keyring for later updates)."""
    transport: Transport | None = field(default=None, repr=False, compare=False)
    """What every operation fetches through instead of a new requests-based Fetcher (a
    test's in-memory repository, an embedder's own transport). Operations close it when
    they end, so its ``close`` must leave it usable; ``fetch_limits`` and ``limit_rate``
    are its own business then."""

    def fetcher(self, cancel: CancelToken = NEVER_CANCELLED) -> Transport:
        """The ``transport``, or a new Fetcher whose every request also stops when
        ``cancel`` (the operation's token) is set."""
        if self.transport is not None:
            return self.transport
        return Fetcher(self.fetch_limits, rate_limit=self.limit_rate, cancel=cancel)


def options_from_settings(settings: Settings, base: EngineOptions | None = None) -> EngineOptions:
    """``base`` (default: the engine's defaults) with the settings' threads, bandwidth
    limit (bytes per second, None for no limit) and rollback points to keep."""
    return replace(
        base if base is not None else EngineOptions(),
        jobs=settings.download_threads,
        limit_rate=float(settings.limit_rate_kib * 1024) if settings.limit_rate_kib else None,
        keep_points=settings.keep_rollback_points,
    )
