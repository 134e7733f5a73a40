"""Where GOG is: its auth, content-system API, CDN and embed hosts.

``SLIPSTREAM_GOG_AUTH_URL``, ``SLIPSTREAM_GOG_API_URL``, ``SLIPSTREAM_GOG_CDN_URL`` (and
``SLIPSTREAM_GOG_EMBED_URL``, for the account's name) replace GOG's own hosts, for tests
and mirrors. A value may carry a path prefix; it must be an http(s) URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import UsageError

AUTH_URL = "https://auth.gog.com"
API_URL = "https://content-system.gog.com"
CDN_URL = "https://gog-cdn-fastly.gog.com"
EMBED_URL = "https://embed.gog.com"

ENV = {
    "auth": "SLIPSTREAM_GOG_AUTH_URL",
    "api": "SLIPSTREAM_GOG_API_URL",
    "cdn": "SLIPSTREAM_GOG_CDN_URL",
    "embed": "SLIPSTREAM_GOG_EMBED_URL",
}


@dataclass(frozen=True)
class GogHosts:
    auth: str = AUTH_URL
    """OAuth: ``/auth`` (the login page) and ``/token``."""
    api: str = API_URL
    """Content system: builds, secure links, patches."""
    cdn: str = CDN_URL
    """Where root-relative manifest paths resolve (links GOG sends are absolute)."""
    embed: str = EMBED_URL
    """``/userData.json``: the account's name."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GogHosts:
        env = os.environ if environ is None else environ
        defaults = cls()
        values = {}
        for name, variable in ENV.items():
            value = env.get(variable, "").strip() or getattr(defaults, name)
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise UsageError(f"{variable} must be an http(s) URL, not {value!r}.")
            values[name] = value.rstrip("/")
        return cls(**values)
