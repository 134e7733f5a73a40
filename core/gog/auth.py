"""The GOG account: login URL, code exchange, refresh, and the tokens in the system keyring.

GOG's Galaxy client credentials and its fixed redirect page (reference §1.1, §1.2): the
player logs in in a browser, lands on ``embed.gog.com/on_login_success?...&code=CODE``
and pastes that URL (or the code) back. Tokens are exchanged and refreshed at the auth
host (§1.3, §1.4) and kept only in the system keyring, under one service name, as one
entry; never in a file of ours, never in a log or an error message: every message that
could carry a URL with a code or a token in it is scrubbed first.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import keyring
import keyring.errors

from core.errors import (
    AccessDeniedError,
    DownloadError,
    FormatError,
    KeyringError,
    LoginError,
    NotLoggedInError,
    SlipstreamError,
    UsageError,
)
from core.format.bounds import BOUNDS
from core.gog.hosts import GogHosts
from core.net.fetcher import Fetcher
from core.net.transport import Transport

CLIENT_ID = "46899977096215655"
CLIENT_SECRET = "9d85c43b1482497dbbce61f6e4aa173a433796eeae2ca8c5f6129f2dc4de46d9"
REDIRECT_URI = "https://embed.gog.com/on_login_success?origin=client"

SERVICE = "slipstream-gog"
"""The keyring service; the one entry under it is ``ACCOUNT``."""
ACCOUNT = "galaxy-client"
EXPIRY_MARGIN = 60.0
"""Seconds before ``expires_in`` runs out that a token counts as expired."""
DEFAULT_LIFETIME = 3600
_TOKEN_BYTES = BOUNDS.token_bytes


@dataclass(frozen=True)
class Tokens:
    """One login. The tokens never show in ``repr`` (tracebacks, logs)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    user_id: str
    username: str = ""

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at - EXPIRY_MARGIN

    @property
    def display_name(self) -> str:
        return self.username or f"GOG user {self.user_id}"

    def to_secret(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "user_id": self.user_id,
                "username": self.username,
            }
        )

    @staticmethod
    def from_secret(text: str) -> Tokens | None:
        try:
            doc = json.loads(text)
            return Tokens(
                access_token=str(doc["access_token"]),
                refresh_token=str(doc["refresh_token"]),
                expires_at=float(doc["expires_at"]),
                user_id=str(doc.get("user_id", "")),
                username=str(doc.get("username", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None


# --- the keyring -----------------------------------------------------------------------


def keyring_call(action: str, fn: Any, *args: str) -> Any:
    """``fn(*args)`` on the keyring; every failure of the backend is a KeyringError."""
    try:
        return fn(*args)
    except keyring.errors.PasswordDeleteError:
        return None
    except (keyring.errors.KeyringError, OSError, RuntimeError) as exc:
        # The backend's message names the backend and its reason, never the secret.
        raise KeyringError(f"Could not {action}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        # A backend is foreign code that can fail in any way (a damaged keyring file is a
        # configparser error). Its message may quote the stored data, so name only the kind.
        backend = type(keyring.get_keyring()).__name__
        raise KeyringError(
            f"Could not {action}: the {backend} keyring failed ({type(exc).__name__})."
        ) from None


def load_tokens() -> Tokens | None:
    """The stored login, or ``None`` when there is none (or it is unreadable)."""
    text = keyring_call("read the GOG login", keyring.get_password, SERVICE, ACCOUNT)
    return Tokens.from_secret(text) if text else None


def save_tokens(tokens: Tokens) -> None:
    keyring_call("store the GOG login", keyring.set_password, SERVICE, ACCOUNT, tokens.to_secret())


def delete_tokens() -> bool:
    """Forget the login; ``False`` when there was none."""
    if load_tokens() is None:
        return False
    keyring_call("remove the GOG login", keyring.delete_password, SERVICE, ACCOUNT)
    return True


def logged_in_user() -> str | None:
    """Who is logged in to GOG (no network), or ``None``."""
    try:
        tokens = load_tokens()
    except KeyringError:
        return None
    return tokens.display_name if tokens else None


# --- the login flow --------------------------------------------------------------------


def login_url(hosts: GogHosts | None = None) -> str:
    """The page where the player logs in; it ends on a URL holding ``code=``."""
    hosts = hosts or GogHosts.from_env()
    query = urlencode(
        {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "layout": "client2",
        }
    )
    return f"{hosts.auth}/auth?{query}"


def parse_code(text: str) -> str:
    """The login code from what the player pasted: the code itself, or the whole URL
    the browser ended on (``...on_login_success?origin=client&code=CODE``)."""
    value = text.strip()
    if not value:
        raise UsageError("Paste the code, or the whole address the browser ended on.")
    if "://" in value or "?" in value or "code=" in value:
        query = urlsplit(value).query if "://" in value else value.split("?", 1)[-1]
        codes = parse_qs(query).get("code", [])
        if not codes or not codes[0].strip():
            raise UsageError(
                "That address holds no login code. Log in in the browser, then paste the "
                "address of the page it ends on (it contains code=)."
            )
        value = codes[0].strip()
    if any(c.isspace() for c in value) or len(value) > 4096:
        raise UsageError("That does not look like a GOG login code.")
    return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in it replaced, for messages and logs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[hidden]")
    return text


def _token_request(
    params: dict[str, str], fetcher: Transport, hosts: GogHosts, secrets: list[str]
) -> dict[str, Any]:
    url = f"{hosts.auth}/token?{urlencode(params)}"
    try:
        doc = fetcher.get_json(url, max_bytes=_TOKEN_BYTES, what="GOG's token answer")
    except (AccessDeniedError, FormatError) as exc:
        raise LoginError(scrub(exc.detail, secrets)) from None
    except DownloadError as exc:
        detail = scrub(exc.detail, secrets)
        if "HTTP 400" in detail:
            raise LoginError(
                "GOG answered that the code or login is not valid (codes work once and "
                "only for a few minutes). Log in again for a new one."
            ) from None
        raise LoginError(f"Could not reach GOG's login server: {detail}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
        raise LoginError("GOG's token answer holds no access token.")
    return doc


def _tokens_from(doc: dict[str, Any], previous: Tokens | None = None) -> Tokens:
    refresh = doc.get("refresh_token") or (previous.refresh_token if previous else "")
    if not isinstance(refresh, str) or not refresh:
        raise LoginError("GOG's token answer holds no refresh token.")
    lifetime = doc.get("expires_in", DEFAULT_LIFETIME)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    return Tokens(
        access_token=doc["access_token"],
        refresh_token=refresh,
        expires_at=time.time() + float(lifetime),
        user_id=str(doc.get("user_id") or (previous.user_id if previous else "")),
        username=previous.username if previous else "",
    )


def exchange_code(code: str, fetcher: Transport, hosts: GogHosts) -> Tokens:
    params = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
    }
    doc = _token_request(params, fetcher, hosts, [code])
    return _tokens_from(doc)


def refresh_tokens(tokens: Tokens, fetcher: Transport, hosts: GogHosts) -> Tokens:
    params = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
    }
    try:
        doc = _token_request(params, fetcher, hosts, [tokens.refresh_token, tokens.access_token])
    except LoginError as exc:
        reason = "GOG no longer accepts it" if "not valid" in exc.detail else exc.detail
        raise NotLoggedInError(f"The saved login could not be renewed: {reason}.") from None
    return _tokens_from(doc, tokens)


def fetch_username(tokens: Tokens, fetcher: Transport, hosts: GogHosts) -> str:
    """The account's name from ``userData.json``; ``""`` when GOG does not say."""
    try:
        doc = fetcher.get_json(
            f"{hosts.embed}/userData.json",
            max_bytes=_TOKEN_BYTES,
            what="the GOG account's data",
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        )
    except SlipstreamError:
        return ""
    name = doc.get("username") if isinstance(doc, dict) else None
    return name if isinstance(name, str) else ""


def login(
    code_or_url: str, *, fetcher: Transport | None = None, hosts: GogHosts | None = None
) -> Tokens:
    """Exchange the pasted code for tokens, learn the account's name, store the login."""
    code = parse_code(code_or_url)
    hosts = hosts or GogHosts.from_env()
    load_tokens()  # no usable keyring: say so before the one-time code is spent
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    try:
        tokens = exchange_code(code, fetcher, hosts)
        tokens = replace(tokens, username=fetch_username(tokens, fetcher, hosts))
    finally:
        if own:
            fetcher.close()
    save_tokens(tokens)
    return tokens


class Account:
    """The stored login as the content-system calls use it: a fresh access token on
    demand (refreshed and stored again when it expires or GOG refuses it)."""

    def __init__(self, fetcher: Transport, hosts: GogHosts) -> None:
        self.fetcher = fetcher
        self.hosts = hosts
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None
        self._loaded = False

    def _current(self) -> Tokens | None:
        if not self._loaded:
            try:
                self._tokens = load_tokens()
            except KeyringError:
                self._tokens = None  # no keyring, no login: public builds still work
            self._loaded = True
        return self._tokens

    @property
    def logged_in(self) -> bool:
        with self._lock:
            return self._current() is not None

    def secrets(self) -> list[str]:
        """The values to keep out of messages."""
        with self._lock:
            tokens = self._current()
        return [tokens.access_token, tokens.refresh_token] if tokens else []

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer …`` when logged in (refreshing first if due), else {}."""
        with self._lock:
            tokens = self._current()
            if tokens is None:
                return {}
            if tokens.expired():
                tokens = self._refresh(tokens)
            return {"Authorization": f"Bearer {tokens.access_token}"}

    def renew(self, used: dict[str, str]) -> bool:
        """GOG refused the token in ``used``: refresh it (unless another thread already
        did). ``False`` when there is no login to renew."""
        with self._lock:
            tokens = self._current()
            if tokens is None:
                return False
            if used.get("Authorization") == f"Bearer {tokens.access_token}":
                self._refresh(tokens)
            return True

    def _refresh(self, tokens: Tokens) -> Tokens:
        fresh = refresh_tokens(tokens, self.fetcher, self.hosts)
        save_tokens(fresh)
        self._tokens = fresh
        return fresh
