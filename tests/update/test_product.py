"""The client side of product documents: the products list, art cached under
SLIPSTREAM_HOME and checked by sha256, and the kept product document of an install."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, write_build
from core.errors import HashMismatchError, NotFoundError
from core.format.product_info import product_info_rel
from core.gamedir.folder import GameDir
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install
from core.update.product import (
    cached_product_art,
    fetch_product_art,
    installed_product_info,
    list_products,
    refresh_installed,
)
from tests.support.helpers import serving

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(100))
COVER = b"\x89PNG\r\n\x1a\n" + bytes(range(100, 250))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    icon, cover = tmp_path / "icon.png", tmp_path / "cover.png"
    icon.write_bytes(PNG)
    cover.write_bytes(COVER)
    build = write_build(tmp_path / "b1", [FileSpec("game.exe", 1, 1000, executable=True)])
    options = PublishOptions("31", name="Art Game", icon=icon, cover=cover, launch="game.exe")
    publish(build, tmp_path / "repo", options)
    publish(build, tmp_path / "repo", PublishOptions("12", name="Plain Game"))
    return tmp_path / "repo"


@pytest.fixture
def url(repo: Path) -> Iterator[str]:
    with serving(repo) as base:
        yield base


def test_products_list_and_art_cached_by_hash(url: str, repo: Path, home: Path) -> None:
    assert list_products(url) == [("31", "Art Game"), ("12", "Plain Game")]
    art = fetch_product_art(url, "31")
    assert art.name == "Art Game" and art.icon is not None and art.cover is not None
    assert art.icon.read_bytes() == PNG and art.cover.read_bytes() == COVER
    assert home in art.icon.parents
    # Cached: the repository's files may go, the art is still there, offline too.
    shutil.rmtree(repo / "products" / "31" / "art")
    assert fetch_product_art(url, "31").cover == art.cover
    assert cached_product_art(url, "31").icon == art.icon
    # A damaged cached image is never shown: it is fetched again (and here it is gone).
    art.cover.write_bytes(b"damaged")
    with pytest.raises(NotFoundError):
        fetch_product_art(url, "31")


def test_art_that_does_not_match_its_hash_is_refused(url: str, repo: Path, home: Path) -> None:
    for path in (repo / "products" / "31" / "art").iterdir():
        path.write_bytes(path.read_bytes()[:-1] + b"X")  # same size, other content
    with pytest.raises(HashMismatchError):
        fetch_product_art(url, "31")
    assert cached_product_art(url, "31").icon is None


def test_a_repository_without_product_documents(url: str, repo: Path, home: Path) -> None:
    (repo / product_info_rel("12")).unlink()
    (repo / "products" / "index.json").unlink()
    assert list_products(url) == []
    art = fetch_product_art(url, "12")
    assert art.info is None and art.icon is None


def test_an_install_keeps_its_product_document(url: str, tmp_path: Path, home: Path) -> None:
    game = tmp_path / "game"
    install(url, "31", game)
    assert installed_product_info(GameDir(game)) is None
    art = refresh_installed(game)
    assert art.cover is not None
    kept = installed_product_info(GameDir(game))
    assert kept is not None and kept.launch == art.info.launch  # type: ignore[union-attr]


class _GogProductApi:
    """GOG's public product API on loopback: /products/<id> with ``images``, and the
    images themselves; counts every request."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[str] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                api.requests.append(self.path)
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                bodies = {
                    "/products/1207658930": json.dumps(
                        {
                            "id": 1207658930,
                            "title": "The Witcher 2",
                            "images": {
                                "icon": f"{base}/img/icon.png",
                                "logo2x": f"{base}/img/logo2x.png",
                                "background": f"{base}/img/background.jpg",
                            },
                        }
                    ).encode(),
                    "/img/icon.png": PNG,
                    "/img/logo2x.png": COVER,
                }
                if self.headers.get("Authorization") == "Bearer owner-token":
                    bodies["/user/data/games"] = b'{"owned": [1207658930, 1, 2, true]}'
                if self.path.startswith("/products?ids="):
                    # the ids GOG's clients send, comma-separated (urlencoded)
                    bodies[self.path.split("?")[0]] = json.dumps(
                        [
                            {"id": 1207658930, "title": "The Witcher 2", "game_type": "game"},
                            {"id": 1, "title": "A soundtrack DLC", "game_type": "dlc"},
                            {"id": 2, "title": "Another Game", "game_type": "game"},
                            {"id": 3, "title": "Not owned", "game_type": "game"},
                        ]
                    ).encode()
                body = bodies.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_gog_art_from_the_product_api(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = _GogProductApi()
    try:
        monkeypatch.setenv("SLIPSTREAM_GOG_API_URL", api.url)
        art = fetch_product_art("gog", "1207658930")
        assert art.name == "The Witcher 2"
        assert art.icon is not None and art.icon.read_bytes() == PNG
        assert art.cover is not None and art.cover.read_bytes() == COVER
        assert sorted(api.requests) == ["/img/icon.png", "/img/logo2x.png", "/products/1207658930"]
        again = fetch_product_art("gog", "1207658930")  # the same URLs: from the cache
        assert again.cover == art.cover and api.requests.count("/img/logo2x.png") == 1
    finally:
        api.close()


def test_cli_products(url: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "SLIPSTREAM_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "products", "--source", url, "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"product_id": "31", "name": "Art Game"},
        {"product_id": "12", "name": "Plain Game"},
    ]


def test_gog_products_are_the_owned_games(
    home: Path, keyring_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from core.errors import NotLoggedInError
    from core.gog import auth

    api = _GogProductApi()
    try:
        monkeypatch.setenv("SLIPSTREAM_GOG_API_URL", api.url)
        monkeypatch.setenv("SLIPSTREAM_GOG_EMBED_URL", api.url)
        with pytest.raises(NotLoggedInError):
            list_products("gog")
        auth.save_tokens(auth.Tokens("owner-token", "refresh", time.time() + 3600, "42"))
        assert list_products("gog") == [("2", "Another Game"), ("1207658930", "The Witcher 2")]
        assert any(r.startswith("/products?ids=1%2C1207658930%2C2") for r in api.requests)
    finally:
        api.close()


@pytest.mark.nginx
def test_nginx_serves_the_product_documents_and_art(repo: Path, tmp_path: Path, home: Path) -> None:
    from tests.support.nginxrun import running_nginx

    with running_nginx(repo, tmp_path / "nginx") as port:
        base = f"http://127.0.0.1:{port}"
        assert list_products(base) == [("31", "Art Game"), ("12", "Plain Game")]
        art = fetch_product_art(base, "31")
    assert art.cover is not None and art.cover.read_bytes() == COVER


def test_list_builds_for_the_add_game_list(url: str, home: Path) -> None:
    from core.update.product import list_builds

    builds = list_builds(url, "31")
    assert [(b.build_id, b.branch) for b in builds] == [("1", None)]


def test_product_builds_and_build_details_for_the_add_game_dialog(
    url: str, repo: Path, tmp_path: Path, home: Path
) -> None:
    from core.errors import BuildNotFoundError
    from core.update.product import build_details, product_builds

    linux = write_build(tmp_path / "l1", [FileSpec("game", 4, 500, executable=True)])
    options = PublishOptions("12", os="linux", languages=("en-US", "de-DE"), install_directory="PG")
    publish(linux, repo, options)
    found = product_builds(url, "12")
    assert found.oses() == ["windows", "linux"] and not found.has_private_branches
    (windows,), (linux_build,) = found.builds("windows"), found.builds("linux")
    assert (windows.os, linux_build.os) == ("windows", "linux")
    details = build_details(url, "12", "linux", linux_build.build_id)
    assert details.languages == ("de-DE", "en-US") and details.install_directory == "PG"
    assert build_details(url, "12", "windows", windows.build_id).languages == ("en-US",)
    with pytest.raises(BuildNotFoundError):
        product_builds(url, "99")
