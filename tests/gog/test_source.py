"""GOG compatibility against a stand-in GOG on 127.0.0.1 (tests/gogserver.py): login and
refresh with the tokens in a real (file) keyring, builds and info over the real GOG
documents in the fixtures, install, update and rollback through signed links, expired
links, endpoint fallback, a missing patch, and adopting a game GOG installed."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import pytest

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.errors import (
    BuildNotFoundError,
    LoginError,
    NotLoggedInError,
    UnknownInstallError,
    UsageError,
)
from core.format import layout
from core.gamedir.folder import GameDir
from core.gog import auth
from core.gog.source import GogSource
from core.net.fetcher import Fetcher, FetchLimits
from core.publish.publisher import PublishOptions, publish
from core.update.adopt import find_gog_install
from core.update.engine import install, update, verify_game
from core.update.options import EngineOptions
from tests.support.gogserver import GogStandIn
from tests.support.helpers import tree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gog"
PRODUCT = "1207660413"
DLC = "1207660414"
QUICK = FetchLimits(retries=1, backoff=0.01, backoff_cap=0.01, read_timeout=10.0)


@dataclass
class Published:
    repo: Path
    builds: list[Path]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    root = tmp_path_factory.mktemp("gogrepo")
    base = [
        FileSpec("game.exe", 1, 300_000, executable=True),
        FileSpec("data/a.pak", 2, 700_000),
        FileSpec("data/same.txt", 3, 5_000),
    ]
    second = [scattered_edits(base[0], 3, 5), scattered_edits(base[1], 4, 6), base[2]]
    folders = []
    for n, specs in enumerate([base, second], 1):
        folder = write_build(root / f"b{n}", specs)
        folders.append(folder)
        publish(
            folder, root / "repo", PublishOptions(PRODUCT, version_name=f"1.{n}", name="Gog Game")
        )
    dlc = write_build(root / "dlc", [FileSpec("dlc/extra.pak", 9, 60_000)])
    publish(dlc, root / "repo", PublishOptions(DLC, version_name="1.0", name="Gog Game DLC"))
    return Published(root / "repo", folders)


@pytest.fixture
def gog(
    published: Published, keyring_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GogStandIn]:
    with GogStandIn(published.repo) as standin:
        for name, value in standin.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SLIPSTREAM_HOME", str(tmp_path / "home"))
        yield standin


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``slipstream`` as a player runs it, with this test's environment (hosts, keyring)."""
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )


def log_in(gog: GogStandIn) -> auth.Tokens:
    return auth.login(gog.redirect_url(gog.new_code()))


def files_holding(folder: Path, needles: list[str]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n[:6]}…" for n in needles if n.encode() in data]
    return found


# --- login -----------------------------------------------------------------------------


def test_code_is_read_from_the_code_or_the_redirect_address() -> None:
    url = "https://embed.gog.com/on_login_success?origin=client&code=AbC-123_x"
    assert auth.parse_code(url) == "AbC-123_x"
    assert auth.parse_code("  AbC-123_x\n") == "AbC-123_x"
    assert auth.parse_code("on_login_success?origin=client&code=Zz9") == "Zz9"
    for bad in ("", "https://embed.gog.com/on_login_success?origin=client", "two words"):
        with pytest.raises(UsageError):
            auth.parse_code(bad)


def test_login_stores_tokens_in_the_keyring_and_api_calls_carry_them(
    gog: GogStandIn, tmp_path: Path
) -> None:
    code = gog.new_code()
    result = cli("login", "--code", gog.redirect_url(code))
    assert result.returncode == 0, result.stderr
    assert "player_one" in result.stdout
    tokens = auth.load_tokens()
    assert tokens is not None and tokens.access_token in gog.access
    assert auth.logged_in_user() == "player_one"
    assert tokens.access_token not in result.stdout + result.stderr

    listed = cli("builds", "--source", "gog", "--product", PRODUCT)
    assert listed.returncode == 0, listed.stderr
    builds_calls = gog.seen("api", f"/products/{PRODUCT}/os/windows/builds")
    assert builds_calls[-1].authorization == f"Bearer {tokens.access_token}"

    home = tmp_path / "home"
    installed = cli("install", "--source", "gog", "--product", PRODUCT, "--dir", tmp_path / "g")
    assert installed.returncode == 0, installed.stderr
    assert (home / "library.sqlite3").is_file()
    secrets_ = [tokens.access_token, tokens.refresh_token, code]
    assert files_holding(home, secrets_) == []
    assert files_holding(tmp_path / "g", secrets_) == []

    out = cli("logout")
    assert out.returncode == 0 and "Logged out" in out.stdout
    assert auth.load_tokens() is None and auth.logged_in_user() is None
    assert files_holding(keyring_file_dir(), [tokens.refresh_token]) == []


def keyring_file_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"])


def test_login_without_a_code_prints_the_address(gog: GogStandIn) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "login", "--no-browser"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{gog.url('auth')}/auth?client_id={auth.CLIENT_ID}" in result.stderr
    assert "--code" in result.stderr


@pytest.mark.parametrize(
    ("key", "status", "said"),
    [("ctrl-d", 2, "No code was entered"), ("ctrl-c", 130, "slipstream: stopped.")],
)
def test_the_login_prompt_ends_at_the_first_ctrl_d_or_ctrl_c(
    gog: GogStandIn, key: str, status: int, said: str
) -> None:
    """At the prompt (a real terminal), Ctrl-D and one Ctrl-C end login with one line."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "login", "--no-browser"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    os.close(terminal)
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("Log in to GOG at:")
        if key == "ctrl-d":
            os.write(controller, b"\x04")
        else:
            proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"login still waits at its prompt after {key}")
    finally:
        os.close(controller)
    assert proc.returncode == status, err
    assert "Traceback" not in err and "safe point" not in err
    assert said in err.strip().splitlines()[-1]
    assert gog.seen("auth", "/token") == []


def test_a_wrong_code_is_refused_without_echoing_it(gog: GogStandIn) -> None:
    result = cli("login", "--code", "not-a-real-code-4711")
    assert result.returncode == 1
    assert "not valid" in result.stderr and "4711" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert auth.load_tokens() is None


def test_an_expired_token_is_refreshed_and_stored_again(gog: GogStandIn) -> None:
    first = log_in(gog)
    with Fetcher(QUICK) as fetcher:
        # GOG refuses the token before we think it expired: refresh after the 401.
        gog.expire_access_tokens()
        GogSource(fetcher).endpoints(PRODUCT)
        second = auth.load_tokens()
        assert second is not None and second.access_token != first.access_token
        assert second.username == "player_one"
        # The stored expiry has passed: refresh before the call.
        auth.save_tokens(auth.Tokens(second.access_token, second.refresh_token, 0.0, "1", "x"))
        GogSource(fetcher).endpoints(PRODUCT)
        third = auth.load_tokens()
        assert third is not None and third.access_token not in (
            first.access_token,
            second.access_token,
        )
    grants = [r.query.get("grant_type") for r in gog.seen("auth", "/token")]
    assert grants == ["authorization_code", "refresh_token", "refresh_token"]
    links = gog.seen("api", f"/products/{PRODUCT}/secure_link")
    assert links[-1].authorization == f"Bearer {third.access_token}"


def test_a_refused_refresh_asks_to_log_in_again(gog: GogStandIn) -> None:
    tokens = log_in(gog)
    gog.refresh.clear()
    gog.expire_access_tokens()
    with Fetcher(QUICK) as fetcher, pytest.raises(NotLoggedInError) as caught:
        GogSource(fetcher).endpoints(PRODUCT)
    assert "slipstream login" in str(caught.value)
    assert tokens.refresh_token not in str(caught.value)


def test_without_a_keyring_login_refuses_before_spending_the_code(
    gog: GogStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    result = cli("login", "--code", gog.redirect_url(gog.new_code()))
    assert result.returncode == 1 and "keyring" in result.stderr
    assert gog.seen("auth", "/token") == [] and len(gog.codes) == 1


def test_a_damaged_keyring_is_one_line_and_public_builds_still_list(gog: GogStandIn) -> None:
    log_in(gog)
    stored = keyring_file_dir() / "python_keyring" / "keyring_pass.cfg"
    assert stored.is_file()
    stored.write_text("[[[ damaged\n")
    public = cli("builds", "--source", "gog", "--product", PRODUCT)
    assert public.returncode == 0, public.stderr
    for result in (cli("logout"), cli("login", "--code", gog.redirect_url(gog.new_code()))):
        assert result.returncode == 1, result.stderr
        assert "keyring" in result.stderr and "internal error" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert len(gog.seen("auth", "/token")) == 1  # the second code was not spent


def test_login_error_never_carries_the_code(gog: GogStandIn) -> None:
    with pytest.raises(LoginError) as caught:
        auth.login("secret-code-zz")
    assert "secret-code-zz" not in str(caught.value)


# --- builds and info over real GOG documents -------------------------------------------


def test_builds_lists_the_real_mixed_generation_listing(gog: GogStandIn) -> None:
    doc = json.loads((FIXTURES / "builds-mixed.json").read_text())
    gog.listings[("1207658924", "windows")] = doc
    result = cli("builds", "--source", "gog", "--product", "1207658924")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for item in doc["items"]:
        line = next(x for x in lines if f"build {item['build_id']} " in x)
        if item["generation"] == 2:
            assert line.startswith(item["version_name"]) and "not installable" not in line
        else:
            assert "generation 1: not installable" in line
    assert f"{doc['count']} of {doc['total_count']} builds" in result.stdout
    assert "private branches" in result.stdout
    listed = json.loads(
        cli("builds", "--source", "gog", "--product", "1207658924", "--json").stdout
    )
    assert [i["build_id"] for i in listed] == [i["build_id"] for i in doc["items"]]
    gen1 = cli("info", "--source", "gog", "--product", "1207658924", "--build", "3091")
    assert gen1.returncode == 1 and "generation 1" in gen1.stderr


def test_info_describes_a_real_multi_depot_build(gog: GogStandIn) -> None:
    meta = json.loads((FIXTURES / "meta-v2.json").read_text())
    body = zlib.compress(json.dumps(meta).encode())
    manifest_id = hashlib.md5(body).hexdigest()
    gog.cdn_files["/" + layout.meta_rel(manifest_id)] = body
    product, build = meta["baseProductId"], meta["buildId"]
    item = {
        "build_id": build,
        "product_id": product,
        "os": "windows",
        "branch": None,
        "version_name": "real meta",
        "tags": [],
        "public": True,
        "date_published": "2024-01-01T00:00:00+0000",
        "generation": 2,
        "link": gog.url("cdn") + "/" + layout.meta_rel(manifest_id),
    }
    gog.listings[(product, "windows")] = {"total_count": 1, "count": 1, "items": [item]}
    result = cli("info", "--source", "gog", "--product", product, "--lang", "en-US", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    # Reference §3.3: the base game's depots whose languages hold "*" or the code.
    base = [
        d
        for d in meta["depots"]
        if d["productId"] == product and {"*", "en-US"} & set(d["languages"])
    ]
    assert doc["download_bytes"] == sum(d["compressedSize"] for d in base)
    assert doc["disk_bytes"] == sum(d["size"] for d in base)
    assert [p["name"] for p in doc["products"]] == [p["name"] for p in meta["products"]]
    assert doc["install_directory"] == "Prison Architect"
    assert doc["dependencies"] == meta["dependencies"]
    assert [p["dlc"] for p in doc["products"]].count(False) == 1
    text = cli("info", "--source", "gog", "--product", product, "--lang", "en-US").stdout
    for p in meta["products"]:
        assert p["name"] in text
    assert "MSVC2010" in text and "not installed" in text


# --- install, update, rollback ---------------------------------------------------------


def test_install_update_rollback_from_gog(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    log_in(gog)
    game = tmp_path / "game"
    steps = [
        ("install", "--source", "gog", "--product", PRODUCT, "--dir", game, "--build", "1"),
        ("update", game, "--json"),
        ("rollback", game),
        ("list",),
    ]
    out = {}
    for step in steps:
        result = cli(*step)
        assert result.returncode == 0, (step, result.stderr)
        out[step[0]] = result.stdout
        if step[0] == "install":
            assert tree(game) == tree(published.builds[0])
            assert os.access(game / "game.exe", os.X_OK)  # the "executable" flag
            assert not os.access(game / "data" / "a.pak", os.X_OK)
        if step[0] == "update":
            assert tree(game) == tree(published.builds[1])
    report = json.loads(out["update"])
    assert report["to_build"] == "2" and report["patches_applied"] >= 1
    assert report["bytes_downloaded"] < report["bytes_full"]
    assert tree(game) == tree(published.builds[0])
    assert GameDir(game).load_state().source == "gog"  # type: ignore[union-attr]
    # Chunks came through signed links only; patches through their own secure link.
    store = gog.seen("cdn", "/token=")
    assert store and all(r.authorization is None for r in gog.seen("cdn"))
    assert any(r.query.get("root") == "/patches/store" for r in gog.seen("api", "/products"))
    assert gog.seen("api", f"/products/{PRODUCT}/patches")


def test_an_expired_link_is_replaced(gog: GogStandIn, published: Published, tmp_path: Path) -> None:
    log_in(gog)
    gog.refuse_link_serials = {1}
    options = EngineOptions(fetch_limits=QUICK)
    install("gog", PRODUCT, tmp_path / "game", build="2", options=options)
    assert tree(tmp_path / "game") == tree(published.builds[1])
    # One new link for all the download threads; each used the refused one at most once.
    assert len(gog.seen("api", f"/products/{PRODUCT}/secure_link")) == 2
    refused = [r for r in gog.seen("cdn", "/token=") if "token=1x" in r.path]
    assert 1 <= len(refused) <= options.jobs


def test_links_past_expires_at_are_not_used(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    log_in(gog)
    gog.link_lifetime = 60  # inside the client's margin: every use asks for a fresh link
    with Fetcher(QUICK) as fetcher:
        source = GogSource(fetcher)
        source.endpoints(PRODUCT)
        source.endpoints(PRODUCT)
    assert len(gog.seen("api", f"/products/{PRODUCT}/secure_link")) == 2


def test_fallback_endpoint_serves_when_the_preferred_one_fails(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    log_in(gog)
    gog.fastly_status = 503
    install("gog", PRODUCT, tmp_path / "game", options=EngineOptions(fetch_limits=QUICK))
    assert tree(tmp_path / "game") == tree(published.builds[1])
    assert gog.seen("cdn", "/token=") and gog.seen("cdn", "/gcore/")


def test_update_without_a_patch_falls_back_to_chunks(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    log_in(gog)
    gog.no_patches = True
    game = tmp_path / "game"
    options = EngineOptions(fetch_limits=QUICK)
    install("gog", PRODUCT, game, build="1", options=options)
    report = update(game, options=options)
    assert tree(game) == tree(published.builds[1])
    assert report.patches_applied == 0 and report.counts.get("patched", 0) == 0
    assert gog.seen("api", f"/products/{PRODUCT}/patches")


def test_install_without_login_says_how_to_log_in(gog: GogStandIn, tmp_path: Path) -> None:
    result = cli("install", "--source", "gog", "--product", PRODUCT, "--dir", tmp_path / "g")
    assert result.returncode == 1
    assert "not logged in" in result.stderr and "slipstream login" in result.stderr


def test_private_branch_needs_its_password(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    listing = json.loads((published.repo / layout.builds_rel(PRODUCT, "windows")).read_text())
    beta = {**listing["items"][0], "build_id": "3", "branch": "beta", "version_name": "1.3b"}
    path = published.repo / layout.builds_rel(PRODUCT, "windows")
    saved = path.read_bytes()
    path.write_text(json.dumps({**listing, "items": [beta, *listing["items"]]}))
    try:
        hidden = cli("builds", "--source", "gog", "--product", PRODUCT)
        assert "1.3b" not in hidden.stdout and "--password" in hidden.stdout
        # Not logged in: public builds need no token, and none is sent.
        assert gog.seen("api")[-1].authorization is None
        shown = cli("builds", "--source", "gog", "--product", PRODUCT, "--password", "letmein")
        assert "1.3b" in shown.stdout and "beta" in shown.stdout
        assert keyring.get_password(auth.SERVICE, f"branch-password/{PRODUCT}") == "letmein"
        home = tmp_path / "home"
        assert not home.exists() or files_holding(home, ["letmein"]) == []
        # Kept in the keyring for later calls (updates of a branch install).
        again = cli("builds", "--source", "gog", "--product", PRODUCT)
        assert "1.3b" in again.stdout
    finally:
        path.write_bytes(saved)


# --- adopting a game GOG installed -----------------------------------------------------


def test_adopt_registers_a_gog_installed_game(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    log_in(gog)
    game = tmp_path / "Gog Game"
    shutil.copytree(published.builds[0], game)
    info = {
        "gameId": PRODUCT,
        "rootGameId": PRODUCT,
        "buildId": "1",
        "language": "English",
        "name": "Gog Game",
        "playTasks": [],
        "version": 1,
    }
    (game / f"goggame-{PRODUCT}.info").write_text(json.dumps(info))
    (game / "data" / "same.txt").write_bytes(b"damaged")  # adopt puts it right
    result = cli("adopt", game, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["to_build"] == "1" and report["files_unchanged"] == 2
    assert tree(game) == {
        **tree(published.builds[0]),
        f"goggame-{PRODUCT}.info": tree(game)[f"goggame-{PRODUCT}.info"],
    }
    listed = json.loads(cli("list", "--json").stdout)
    assert [r["build_id"] for r in listed] == ["1"]
    updated = cli("update", game)
    assert updated.returncode == 0, updated.stderr
    assert GameDir(game).load_state().build_id == "2"  # type: ignore[union-attr]
    assert cli("rollback", game).returncode == 0
    assert GameDir(game).load_state().build_id == "1"  # type: ignore[union-attr]


def test_gog_markers_are_found_on_mac_builds_and_through_id_files(tmp_path: Path) -> None:
    game = tmp_path / "Game.app"
    resources = game / "Contents" / "Resources"
    resources.mkdir(parents=True)
    base = {"gameId": "17", "rootGameId": "17", "language": "German", "name": "Spiel"}
    (resources / "goggame-17.info").write_text(json.dumps(base))
    (resources / "goggame-17.id").write_text(json.dumps({"buildId": "5005"}))
    dlc = {"gameId": "18", "rootGameId": "17", "buildId": "5005", "name": "DLC"}
    (resources / "goggame-18.info").write_text(json.dumps(dlc))
    found = find_gog_install(game)
    assert (found.product, found.build_id, found.os, found.lang) == ("17", "5005", "osx", "de-DE")
    assert found.dlcs == ("18",)

    (resources / "goggame-17.info").unlink()
    with pytest.raises(UnknownInstallError, match="DLC"):
        find_gog_install(game)
    with pytest.raises(UnknownInstallError, match=r"goggame-\*\.info"):
        find_gog_install(tmp_path / "elsewhere")
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "goggame-9.info").write_text(json.dumps({"gameId": "9", "rootGameId": "9"}))
    with pytest.raises(UnknownInstallError, match="names no build"):
        find_gog_install(offline)


# --- DLCs, support files, product stores ------------------------------------------------


def _meta(repo: Path, product: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest build item of ``product`` and its build manifest, as published."""
    listing = json.loads((repo / layout.builds_rel(product, "windows")).read_text())
    item = listing["items"][0]
    return item, json.loads(zlib.decompress((repo / item["link"].lstrip("/")).read_bytes()))


def serve_build(gog: GogStandIn, item: dict[str, Any], meta: dict[str, Any]) -> None:
    """List ``meta`` as the only build of its product, from the stand-in's CDN."""
    body = zlib.compress(json.dumps(meta).encode())
    rel = layout.meta_rel(hashlib.md5(body).hexdigest())
    gog.cdn_files["/" + rel] = body
    item = {k: v for k, v in item.items() if k != "urls"}
    item["link"] = f"{gog.url('cdn')}/{rel}"
    gog.listings[(meta["baseProductId"], "windows")] = {"total_count": 1, "items": [item]}


def test_a_chosen_dlc_is_installed_from_its_own_store(
    gog: GogStandIn, published: Published, tmp_path: Path
) -> None:
    log_in(gog)
    item, meta = _meta(published.repo, PRODUCT)
    _dlc_item, dlc_meta = _meta(published.repo, DLC)
    meta = {
        **meta,
        "depots": meta["depots"] + dlc_meta["depots"],
        "products": meta["products"] + dlc_meta["products"],
    }
    serve_build(gog, item, meta)
    options = EngineOptions(fetch_limits=QUICK)
    with pytest.raises(BuildNotFoundError, match="no DLC 999"):
        install("gog", PRODUCT, tmp_path / "none", dlcs=["999"], options=options)

    game = tmp_path / "game"
    install("gog", PRODUCT, game, dlcs=[DLC], options=options)
    expected = {
        **tree(published.builds[1]),
        "dlc/extra.pak": tree(published.repo.parent / "dlc")["dlc/extra.pak"],
    }
    assert tree(game) == expected
    assert GameDir(game).load_state().dlcs == (DLC,)  # type: ignore[union-attr]
    assert gog.seen("cdn", "/token=") and any(
        f"/content-system/v2/store/{DLC}/" in r.path for r in gog.seen("cdn", "/token=")
    )
    assert update(game, options=options).up_to_date
    assert verify_game(game, full=True)[1].ok

    plain = tmp_path / "plain"
    install("gog", PRODUCT, plain, options=options)
    assert tree(plain) == tree(published.builds[1])


def test_real_dlc_depot_chunks_and_support_files(gog: GogStandIn) -> None:
    log_in(gog)
    meta = json.loads((FIXTURES / "meta-v2.json").read_text())
    base, dlc = meta["baseProductId"], "1619024184"
    item = {
        "build_id": meta["buildId"],
        "product_id": base,
        "os": "windows",
        "branch": None,
        "version_name": "real",
        "generation": 2,
    }
    serve_build(gog, item, meta)
    # The real depot manifest is one of the DLC's gog depots (a 157-byte .hashdb file).
    depot_id = next(
        d["manifest"] for d in meta["depots"] if d["productId"] == dlc and d["size"] == 157
    )
    gog.cdn_files["/" + layout.meta_rel(depot_id)] = zlib.compress(
        (FIXTURES / "depot-v2.json").read_bytes()
    )
    main_id = meta["depots"][0]["manifest"]
    chunk = {"md5": "0" * 32, "size": 4, "compressedMd5": "1" * 32, "compressedSize": 12}
    support = {
        "type": "DepotFile",
        "path": "scripts\\redist.ini",
        "flags": ["support"],
        "chunks": [chunk],
    }
    gog.cdn_files["/" + layout.meta_rel(main_id)] = zlib.compress(
        json.dumps({"version": 2, "depot": {"items": [support]}}).encode()
    )
    with Fetcher(QUICK) as fetcher:
        source = GogSource(fetcher)
        manifest = source.build_manifest(source.listing(base, "windows").items[0])
        assert len(manifest.products) == 12
        hashdb = source.depot_manifest(depot_id).files[0]
        assert hashdb.path == f"goggame-{dlc}.hashdb" and hashdb.size == 157
        urls = source.chunk_urls(base, hashdb.chunks[0].compressed_md5)
        moved = source.depot_manifest(main_id).files[0]
    # Chunks come from the store of the product that owns the depot, preferred endpoint first.
    assert f"/content-system/v2/store/{dlc}/6e/25/" in urls[0] and "/token=nva=" in urls[0]
    assert urls[1].startswith(gog.url("cdn") + "/gcore/")
    assert moved.path == f"gog-support/{base}/scripts/redist.ini"
