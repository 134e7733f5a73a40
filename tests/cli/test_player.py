"""The player's commands as a user runs them: real subprocesses against a served repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.publish.publisher import PublishOptions, publish
from tests.support.helpers import serving, tree

PRODUCT = "5150"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("cli")
    base = [FileSpec("game.exe", 1, 400_000, executable=True), FileSpec("data/a.pak", 2, 900_000)]
    builds = [base, [scattered_edits(base[0], 3, 5), scattered_edits(base[1], 4, 6)]]
    for n, specs in enumerate(builds, 1):
        folder = write_build(root / f"b{n}", specs)
        publish(
            folder, root / "repo", PublishOptions(PRODUCT, version_name=f"2.{n}", name="Cli Game")
        )
    with serving(root / "repo") as url:
        yield url


def cli(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPSTREAM_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_builds_and_info(served: str, tmp_path: Path) -> None:
    listed = cli(tmp_path, "builds", "--source", served, "--product", PRODUCT)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith("2.2") and "build 2" in listed.stdout
    info = cli(
        tmp_path, "info", "--source", served, "--product", PRODUCT, "--lang", "en-US", "--json"
    )
    doc = json.loads(info.stdout)
    assert doc["build_id"] == "2" and doc["products"][0]["name"] == "Cli Game"
    assert doc["disk_bytes"] == 1_300_000 and doc["download_bytes"] > 0


def test_install_update_verify_rollback_history_list(served: str, tmp_path: Path) -> None:
    game = tmp_path / "game"
    home = tmp_path / "home"
    steps = [
        ("install", "--source", served, "--product", PRODUCT, "--dir", game, "--build", "1"),
        ("plan", game),
        ("update", game, "--json"),
        ("verify", game, "--full"),
        ("rollback", game),
        ("history", game),
        ("list",),
    ]
    out = {}
    for step in steps:
        result = cli(home, *step)
        assert result.returncode == 0, (step, result.stderr)
        out[step[0]] = result.stdout
    assert "would download" in out["plan"] and "1 → 2" in out["plan"]
    update = json.loads(out["update"])
    patched = update["files_patched"] + update["files_packed"]  # packs are on by default
    assert update["to_build"] == "2" and patched == 2 and update["fallbacks"] == []
    assert "All 2 files are intact." in out["verify"]
    assert out["rollback"].startswith("Rolled back to build 1")
    assert [line.split()[2] for line in out["history"].splitlines()] == [
        "rollback",
        "verify",
        "update",
        "install",
    ]
    assert "Cli Game" in out["list"] and "build 1" in out["list"]


def test_player_errors_are_one_clear_line(
    served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GOG unreachable, and no keyring at all: still one line, naming the cause.
    monkeypatch.setenv("SLIPSTREAM_GOG_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    commands: dict[str, tuple[str | Path, ...]] = {
        "gog": ("builds", "--source", "gog", "--product", PRODUCT),
        "missing": ("update", tmp_path / "nowhere"),
        "dead": ("builds", "--source", "http://127.0.0.1:9", "--product", PRODUCT),
        "no_build": ("install", "--source", served, "--product", PRODUCT,
                     "--dir", tmp_path / "g", "--build", "99"),
    }  # fmt: skip
    # Side by side, each with a home of its own: the two unreachable servers are each
    # retried for about 13 s before the error, and nothing here needs them in turn.
    with ThreadPoolExecutor(len(commands)) as pool:
        running = {k: pool.submit(cli, tmp_path / k, *args) for k, args in commands.items()}
        result = {k: future.result() for k, future in running.items()}
    gog, missing, dead, no_build = (result[k] for k in commands)
    assert gog.returncode == 1 and "could not connect" in gog.stderr
    assert missing.returncode == 1 and "not a game that Slipstream has installed" in missing.stderr
    assert dead.returncode == 1 and "Traceback" not in dead.stderr
    assert no_build.returncode == 1 and "Build 99" in no_build.stderr
    for done in (gog, missing, dead, no_build):
        assert done.stderr.count("\n") == 1, done.stderr


def test_rollback_right_after_a_repair_goes_to_the_previous_build(
    served: str, tmp_path: Path
) -> None:
    game, home = tmp_path / "game", tmp_path / "home"
    installed = cli(home, "install", "--source", served, "--product", PRODUCT, "--dir", game,
                    "--build", "1")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    build_1 = tree(game)
    assert cli(home, "update", game).returncode == 0
    target = game / "data" / "a.pak"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    repaired = cli(home, "verify", game, "--full", "--repair")
    assert repaired.returncode == 0 and "Repaired them." in repaired.stdout, repaired.stderr
    back = cli(home, "rollback", game)
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith("Rolled back to build 1"), back.stdout
    assert tree(game) == build_1


def test_a_damaged_library_is_set_aside_and_the_game_registered_again(
    served: str, tmp_path: Path
) -> None:
    game, home = tmp_path / "game", tmp_path / "home"
    installed = cli(home, "install", "--source", served, "--product", PRODUCT, "--dir", game,
                    "--build", "1")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    damaged = os.urandom(64 * 1024)
    (home / "library.sqlite3").write_bytes(damaged)
    updated = cli(home, "update", game)
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout.startswith("Updated to build 2")
    kept = [p for p in home.iterdir() if p.name.startswith("library.sqlite3.damaged-")]
    assert [p.read_bytes() for p in kept] == [damaged]
    assert str(kept[0]) in updated.stdout
    listed = cli(home, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [record] = json.loads(listed.stdout)
    assert record["build_id"] == "2" and record["name"] == "Cli Game"
    assert record["path"] == str(game.resolve())


def test_a_library_that_cannot_be_used_stops_the_update_before_any_change(
    served: str, tmp_path: Path
) -> None:
    game, home = tmp_path / "game", tmp_path / "home"
    installed = cli(home, "install", "--source", served, "--product", PRODUCT, "--dir", game,
                    "--build", "1")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    before = tree(game)
    not_a_folder = tmp_path / "home-file"
    not_a_folder.write_text("a file where Slipstream's home should be")
    for command in (("update", game), ("verify", game, "--repair")):
        result = cli(not_a_folder, *command)
        assert result.returncode == 1 and "library database" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    assert tree(game) == before
    assert json.loads((game / ".slipstream" / "state.json").read_text())["build_id"] == "1"


def test_a_downloads_folder_that_cannot_be_made_is_one_clean_line(
    served: str, tmp_path: Path
) -> None:
    game, home = tmp_path / "game", tmp_path / "home"
    installed = cli(home, "install", "--source", served, "--product", PRODUCT, "--dir", game,
                    "--build", "1")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    before = tree(game)
    # Tests run as root, which ignores permission bits: a file in the folder's place fails
    # the mkdir the way an immutable .slipstream does.
    (game / ".slipstream" / "downloads").write_text("in the way")
    result = cli(home, "update", game, "--no-progress")
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr
    assert "A file on this computer could not be read or written" in result.stderr
    assert str(game / ".slipstream" / "downloads") in result.stderr
    assert tree(game) == before


def test_verify_that_finds_damage_lists_it_and_exits_1(served: str, tmp_path: Path) -> None:
    game, home = tmp_path / "game", tmp_path / "home"
    installed = cli(home, "install", "--source", served, "--product", PRODUCT, "--dir", game)
    assert installed.returncode == 0, installed.stderr
    target = game / "data" / "a.pak"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    found = cli(home, "verify", game, "--full", "--no-progress")
    assert found.returncode == 1, found.stderr
    assert "1 of 2 files are damaged:" in found.stdout and "data/a.pak" in found.stdout
    assert found.stderr.count("\n") == 1 and "verify --repair" in found.stderr
    as_json = cli(home, "verify", game, "--full", "--json", "--no-progress")
    assert as_json.returncode == 1
    assert [w["path"] for w in json.loads(as_json.stdout)["wounds"]] == ["data/a.pak"]
    repaired = cli(home, "verify", game, "--full", "--repair", "--no-progress")
    assert repaired.returncode == 0, repaired.stderr
    assert cli(home, "verify", game, "--full").returncode == 0


def test_a_new_build_file_over_the_players_own_is_kept_and_named(tmp_path: Path) -> None:
    game, home = tmp_path / "game", tmp_path / "home"
    exe = FileSpec("game.exe", 1, 50_000, executable=True)
    builds = [[exe], [exe, FileSpec("saves/slot1.sav", 7, 3_000)]]
    for n, specs in enumerate(builds, 1):
        folder = write_build(tmp_path / f"b{n}", specs)
        publish(folder, tmp_path / "repo", PublishOptions(PRODUCT, version_name=f"3.{n}"))
    shipped = (tmp_path / "b2" / "saves" / "slot1.sav").read_bytes()
    mine = game / "saves" / "slot1.sav"
    with serving(tmp_path / "repo") as url:
        installed = cli(
            home, "install", "--source", url, "--product", PRODUCT, "--dir", game, "--build", "1"
        )
        assert installed.returncode == 0, installed.stderr
        mine.parent.mkdir()
        mine.write_bytes(b"the player's own save")
        updated = cli(home, "update", game, "--json", "--no-progress")
        assert updated.returncode == 0, updated.stderr
        report = json.loads(updated.stdout)
        assert report["kept"] == ["saves/slot1.sav"]
        kept = Path(report["kept_in"])
        assert kept.parent == home / "kept"
        assert (kept / "saves" / "slot1.sav").read_bytes() == b"the player's own save"
        assert mine.read_bytes() == shipped
        # Rolled back, the player's file is there again; the next update names it.
        back = cli(home, "rollback", game)
        assert back.returncode == 0 and mine.read_bytes() == b"the player's own save"
        again = cli(home, "update", game, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "your own files that the new build replaced" in again.stdout
    assert "saves/slot1.sav" in again.stdout and str(home / "kept") in again.stdout
    assert mine.read_bytes() == shipped


def test_one_malformed_listing_item_leaves_the_rest_of_the_repository_usable(
    tmp_path: Path,
) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    folder = write_build(tmp_path / "b1", [FileSpec("game.exe", 1, 20_000)])
    publish(folder, repo, PublishOptions(PRODUCT, version_name="4.1"))
    listed = repo / "products" / PRODUCT / "os" / "windows" / "builds.json"
    doc = json.loads(listed.read_text())
    doc["items"].insert(0, {**doc["items"][0], "build_id": "9x"})
    listed.write_text(json.dumps(doc))
    with serving(repo) as url:
        builds = cli(home, "builds", "--source", url, "--product", PRODUCT)
        game = tmp_path / "game"
        installed = cli(home, "install", "--source", url, "--product", PRODUCT, "--dir", game)
    assert builds.returncode == 0, builds.stderr
    assert "build 1" in builds.stdout and "'9x'" in builds.stdout and "note:" in builds.stdout
    assert installed.returncode == 0, installed.stderr
    assert "note: Skipped a malformed build" in installed.stdout and "'9x'" in installed.stdout
    assert (game / "game.exe").read_bytes() == (folder / "game.exe").read_bytes()


def test_an_unknown_language_is_a_usage_error_naming_the_builds_languages(
    served: str, tmp_path: Path
) -> None:
    game = tmp_path / "game"
    for command in (
        ("install", "--source", served, "--product", PRODUCT, "--dir", game, "--lang", "zz-ZZ"),
        ("info", "--source", served, "--product", PRODUCT, "--lang", "zz-ZZ"),
    ):
        result = cli(tmp_path / "home", *command)
        assert result.returncode == 2, result.stderr
        assert "'zz-ZZ'" in result.stderr and "en-US" in result.stderr
        assert result.stderr.count("\n") == 1
    assert not (game / "game.exe").exists()
