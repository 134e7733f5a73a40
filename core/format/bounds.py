"""Every size cap in one place: how large anything read from outside may be.

One frozen dataclass with one default instance, as python-tuf's ngclient ``UpdaterConfig``
holds its length limits: the wire format's readers, the fetcher, the repository source,
the game folder's state and the server all read their caps from :data:`BOUNDS`, so a cap
is changed (or shrunk in a test) in one place. Counts are here too, since they bound
memory the same way bytes do. Time limits and retries are the network's business and
live in :class:`core.net.limits.FetchLimits`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    """Hard bounds on everything read from outside, enforced before any allocation."""

    document_bytes: int = 512 * 2**20
    """Largest manifest, fetched or inflated (a 1M-file depot manifest is about 300 MB)."""
    listing_bytes: int = 16 * 2**20
    """Largest answer of the dynamic endpoints (builds lists, patch indexes, secure
    links) and of the version graph; also what the server parses of them."""
    cached_build_bytes: int = 1 << 28
    """Largest inflated build manifest cached in a game folder."""
    cached_depot_bytes: int = 1 << 30
    """Largest inflated depot manifest cached in a game folder."""
    state_bytes: int = 1 << 30
    """Largest file of a game folder's ``.slipstream/`` state that is read back."""
    items_per_depot: int = 2_000_000
    depots_per_build: int = 10_000
    chunks_per_file: int = 1 << 20
    chunk_bytes: int = 256 * 2**20
    """Largest uncompressed chunk; GOG's are under 20 MiB, ours too."""
    file_bytes: int = 1 << 42
    builds_per_listing: int = 100_000
    string_chars: int = 64 * 1024
    token_bytes: int = 64 * 1024
    """Largest answer of GOG's auth host (tokens, the account's name)."""
    settings_bytes: int = 1 << 20
    """Largest settings.json read back."""
    info_bytes: int = 1 << 20
    """Largest ``goggame-<id>.info`` read when adopting a GOG install."""
    pack_objects_per_index: int = 100_000
    """Most objects one pack index may list."""
    pack_object_bytes: int = 1 << 40
    """Largest pack object: a batch of small deltas, or one big file's delta."""


BOUNDS = Bounds()
"""The bounds every reader uses unless a caller passes others."""
