"""A stand-in for GOG on 127.0.0.1: its auth host, content-system API and CDN.

Three loopback servers (port 0) share one :class:`GogStandIn`:

- **auth**: ``/auth`` (the login page), ``/token`` (code exchange and refresh, GET with
  query parameters as GOG's clients send them, reference §1.3-1.4) and the embed host's
  ``/userData.json`` (the account name) and ``/user/data/games`` (the owned games' ids),
  both Bearer only.
- **api**: ``/products?ids=`` (the owned games' titles, as GOG's public product API
  answers), ``/products/<p>/os/<os>/builds`` (``_version=2`` gives ``urls[]``, a branch
  password reveals private builds), ``/products/<p>/secure_link`` (Bearer required; signed
  fastly-style and gcore-style endpoints with an ``expires_at``) and
  ``/products/<p>/patches?_version=4`` (404 ``not_found`` when there is none).
- **cdn**: manifests unsigned under ``/content-system/v2/(patches/)meta``; chunks only
  through a valid, unexpired signature, as GOG's CDN does.

Documents come from a repository written by our publisher (``repo``) plus any extra
builds lists and CDN files a test adds (the real GOG documents in the fixtures). Every
request is recorded with its ``Authorization`` header, so a test can assert what was
sent. Tokens are random per stand-in; a test can expire access tokens or links at will.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.format import layout
from core.gog.auth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

_FASTLY = re.compile(r"/token=nva=([0-9]+)~dirs=([0-9]+)~token=([0-9a-z]+)(/content-system/.+)")
_PRODUCT = re.compile(r"/products/([0-9]+)/(.+)")


@dataclass
class Request:
    role: str
    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class GogStandIn:
    repo: Path | None = None
    username: str = "player_one"
    user_id: str = "48628349957132247"
    expires_in: int = 3600
    link_lifetime: int = 86400
    branch_password: str = "letmein"
    listings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """Extra builds responses by (product, os), served as they are."""
    cdn_files: dict[str, bytes] = field(default_factory=dict)
    """Extra CDN files by URL path."""
    fastly_status: int | None = None
    """When set, the preferred (fastly) endpoint answers every chunk with this status."""
    refuse_link_serials: set[int] = field(default_factory=set)
    """Secure links with these serial numbers (1, 2, ...) are refused by the CDN (403)."""
    no_patches: bool = False
    owned: dict[str, str] = field(default_factory=dict)
    """The account's games: product id → title (``/user/data/games``, ``/products?ids=``)."""
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes: set[str] = set()
        self.access: dict[str, float] = {}
        self.refresh: set[str] = set()
        self.links_issued = 0
        self._key = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._servers = {role: _make(self, role) for role in ("auth", "api", "cdn")}
        self._threads = [
            threading.Thread(target=s.serve_forever, daemon=True) for s in self._servers.values()
        ]
        for thread in self._threads:
            thread.start()

    # --- test controls -----------------------------------------------------------------

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self._servers[role].server_address[1]}"

    def env(self) -> dict[str, str]:
        return {
            "SLIPSTREAM_GOG_AUTH_URL": self.url("auth"),
            "SLIPSTREAM_GOG_EMBED_URL": self.url("auth"),
            "SLIPSTREAM_GOG_API_URL": self.url("api"),
            "SLIPSTREAM_GOG_CDN_URL": self.url("cdn"),
        }

    def new_code(self) -> str:
        code = secrets.token_urlsafe(24)
        self.codes.add(code)
        return code

    def redirect_url(self, code: str) -> str:
        return f"https://embed.gog.com/on_login_success?origin=client&code={code}"

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access = dict.fromkeys(self.access, 0.0)

    def seen(self, role: str, prefix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.role == role and r.path.startswith(prefix)]

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> GogStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- auth --------------------------------------------------------------------------

    def _issue(self) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(40)
        self.access[access] = time.time() + self.expires_in
        self.refresh.add(refresh)
        return {
            "expires_in": self.expires_in,
            "scope": "",
            "token_type": "bearer",
            "access_token": access,
            "user_id": self.user_id,
            "refresh_token": refresh,
            "session_id": "6354900816570477251",
        }

    def token(self, q: dict[str, str]) -> tuple[int, Any]:
        if (q.get("client_id"), q.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        grant = q.get("grant_type")
        with self._lock:
            if grant == "authorization_code" and q.get("redirect_uri") == REDIRECT_URI:
                if q.get("code") in self.codes:
                    self.codes.discard(q["code"])
                    return 200, self._issue()
            elif grant == "refresh_token" and q.get("refresh_token") in self.refresh:
                self.refresh.discard(q["refresh_token"])
                return 200, self._issue()
        error = "Code doesn't exist or is invalid for the client"
        return 400, {"error": "invalid_grant", "error_description": error}

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            return self.access.get(header[7:], 0.0) > time.time()

    # --- content system ----------------------------------------------------------------

    def _repo_json(self, rel: str) -> Any:
        if self.repo is None:
            return None
        path = self.repo / rel
        return json.loads(path.read_bytes()) if path.is_file() else None

    def builds(self, product: str, os_name: str, q: dict[str, str]) -> tuple[int, Any]:
        doc = self.listings.get((product, os_name))
        if doc is not None:
            return 200, doc
        listing = self._repo_json(layout.builds_rel(product, os_name))
        if listing is None:
            return 404, {"error": "not_found", "error_description": ""}
        items = listing["items"]
        hidden = [i for i in items if i.get("branch") is not None]
        if q.get("password") != self.branch_password:
            items = [i for i in items if i.get("branch") is None]
        cdn = self.url("cdn")
        out = []
        for item in items:
            item = dict(item)
            link = cdn + item.pop("link")
            if q.get("_version") == "2":
                item["urls"] = [
                    _endpoint("fastly", link, 10, False),
                    _endpoint("gcore", link, 1, True),
                ]
            else:
                item["link"] = link
            out.append(item)
        return 200, {
            "total_count": listing["total_count"],
            "count": len(out),
            "items": out,
            "has_private_branches": bool(hidden),
        }

    def secure_link(self, product: str, q: dict[str, str], auth: str | None) -> tuple[int, Any]:
        if not self.authorized(auth):
            return 401, {
                "error": "access_denied",
                "error_description": "OAuth2 authentication required",
            }
        patches = q.get("root") == "/patches/store"
        prefix = "/" + (
            layout.patch_store_prefix_rel(product) if patches else layout.store_prefix_rel(product)
        )
        dirs = prefix.count("/")
        with self._lock:
            self.links_issued += 1
            serial = self.links_issued
        expires = str(int(time.time()) + self.link_lifetime)
        token = f"{serial}x{self._sign(serial, expires, prefix)}"
        cdn = self.url("cdn")
        fastly = {
            "endpoint_name": "fastly",
            "url": "",
            "url_format": "{base_url}/token=nva={expires_at}~dirs={dirs}~token={token}{path}",
            "parameters": {
                "base_url": cdn,
                "path": prefix,
                "dirs": dirs,
                "token": token,
                "expires_at": expires,
            },
            "priority": 998,
            "max_fails": 100,
            "supports_generation": [1, 2],
            "fallback_only": False,
        }
        gcore = {
            "endpoint_name": "gcore",
            "url_format": "{base_url}/{path}?wsSecret={token}&wsTime={time}&prefix={prefix}",
            "parameters": {
                "base_url": cdn + "/gcore",
                "path": prefix.lstrip("/"),
                "token": token,
                "time": expires,
                "prefix": prefix,
            },
            "priority": 1,
            "max_fails": 100,
            "supports_generation": [2],
            "fallback_only": True,
        }
        # gcore first in the document: the client must order by priority itself.
        return 200, {"product_id": int(product), "urls": [gcore, fastly]}

    def _sign(self, serial: int, expires: str, prefix: str) -> str:
        message = f"{serial}|{expires}|{prefix}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]

    def signed_ok(self, token: str, expires: str, path: str) -> bool:
        serial_text, _, mac = token.partition("x")
        if not serial_text.isdigit() or int(serial_text) in self.refuse_link_serials:
            return False
        if int(expires) < time.time():
            return False
        for dirs in (4, 5):
            prefix = "/" + "/".join(path.lstrip("/").split("/")[:dirs])
            if hmac.compare_digest(mac, self._sign(int(serial_text), expires, prefix)):
                return True
        return False

    def patches(self, product: str, q: dict[str, str]) -> tuple[int, Any]:
        a, b = q.get("from_build_id", ""), q.get("to_build_id", "")
        doc = None
        if not self.no_patches and a.isdigit() and b.isdigit():
            doc = self._repo_json(layout.patch_pair_rel(product, a, b))
        if doc is None:
            return 404, {"error": "not_found", "error_description": ""}
        return 200, {**doc, "link": self.url("cdn") + doc["link"]}

    def cdn_file(self, path: str) -> bytes | None:
        if path in self.cdn_files:
            return self.cdn_files[path]
        if self.repo is None or ".." in path.split("/"):
            return None
        file = self.repo / path.lstrip("/")
        return file.read_bytes() if file.is_file() else None


def _endpoint(name: str, url: str, priority: int, fallback: bool) -> dict[str, Any]:
    return {
        "endpoint_name": name,
        "url": url,
        "url_format": url,
        "parameters": {},
        "priority": priority,
        "max_fails": 100,
        "supports_generation": [1, 2] if not fallback else [2],
        "fallback_only": fallback,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client closing a keep-alive connection is not news


def _make(standin: GogStandIn, role: str) -> ThreadingHTTPServer:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.standin = standin  # type: ignore[attr-defined]
    server.role = role  # type: ignore[attr-defined]
    return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        standin: GogStandIn = self.server.standin  # type: ignore[attr-defined]
        role: str = self.server.role  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        auth = self.headers.get("Authorization")
        with standin._lock:
            standin.requests.append(Request(role, parts.path, query, auth))
        if role == "auth":
            self._auth(standin, parts.path, query, auth)
        elif role == "api":
            self._api(standin, parts.path, query, auth)
        else:
            self._cdn(standin, parts.path, query)

    def _auth(self, s: GogStandIn, path: str, q: dict[str, str], auth: str | None) -> None:
        if path == "/auth":
            self._send(200, b"<html><body>GOG login (stand-in)</body></html>", "text/html")
        elif path == "/token":
            self._json(*s.token(q))
        elif path == "/user/data/games":
            if s.authorized(auth):
                self._json(200, {"owned": [int(p) for p in s.owned]})
            else:
                self._json(401, {"error": "unauthorized"})
        elif path == "/userData.json":
            if s.authorized(auth):
                self._json(
                    200, {"isLoggedIn": True, "username": s.username, "galaxyUserId": s.user_id}
                )
            else:
                self._json(401, {"isLoggedIn": False})
        else:
            self._json(404, {"error": "not_found"})

    def _api(self, s: GogStandIn, path: str, q: dict[str, str], auth: str | None) -> None:
        if path == "/products":
            ids = q.get("ids", "").split(",")
            found = [
                {"id": int(p), "title": title, "game_type": "game"}
                for p, title in s.owned.items()
                if p in ids
            ]
            self._json(200, found)
            return
        match = _PRODUCT.fullmatch(path)
        if not match:
            self._json(404, {"error": "not_found"})
            return
        product, rest = match.groups()
        if rest.startswith("os/") and rest.endswith("/builds"):
            self._json(*s.builds(product, rest.split("/")[1], q))
        elif rest == "secure_link":
            self._json(*s.secure_link(product, q, auth))
        elif rest == "patches" and q.get("_version") == "4":
            self._json(*s.patches(product, q))
        else:
            self._json(404, {"error": "not_found"})

    def _cdn(self, s: GogStandIn, path: str, q: dict[str, str]) -> None:
        if path.startswith(("/content-system/v2/meta/", "/content-system/v2/patches/meta/")):
            self._file(s.cdn_file(path))
            return
        fastly = _FASTLY.fullmatch(path)
        if fastly:
            expires, _dirs, token, rest = fastly.groups()
            if s.fastly_status is not None:
                self._send(s.fastly_status, b"edge trouble", "text/plain")
            elif s.signed_ok(token, expires, rest):
                self._file(s.cdn_file(rest))
            else:
                self._send(403, b"Forbidden", "text/plain")
            return
        if path.startswith("/gcore/"):
            rest = path[len("/gcore") :]
            if s.signed_ok(q.get("wsSecret", ""), q.get("wsTime", "0"), rest):
                self._file(s.cdn_file(rest))
            else:
                self._send(403, b"Forbidden", "text/plain")
            return
        self._send(403, b"Forbidden", "text/plain")  # the store needs a signature

    def _file(self, body: bytes | None) -> None:
        if body is None:
            self._send(404, b"Not Found", "text/plain")
        else:
            self._send(200, body, "application/octet-stream")

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
