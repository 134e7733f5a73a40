"""The update engine end to end: a published repository served on 127.0.0.1, real game
folders, a real SQLite library; every scenario ends with the folder exactly one build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, next_build, sample_game, scattered_edits, write_build
from core.errors import (
    GameLockedError,
    InsufficientSpaceError,
    LocalIOError,
    StateError,
    UsageError,
)
from core.format import layout
from core.gamedir.folder import GameDir
from core.progress import Phase, Progress
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install, plan_preview, rollback_game, update, verify_game
from core.update.options import EngineOptions
from core.update.plan import KINDS, Plan
from tests.support.helpers import serving, tree

PRODUCT = "1207664643"
SAVE = b"player save data \x00\x01"

pytestmark = pytest.mark.usefixtures("home")  # a temp library for every test


def without_player(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if not k.startswith(("saves/", "mods/"))}


@dataclass
class Repo:
    root: Path
    builds: list[Path]
    url: str = ""

    def build_tree(self, n: int) -> dict[str, str]:
        return tree(self.builds[n - 1])


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    root = tmp_path_factory.mktemp("engine")
    builds = []
    specs = sample_game()
    beta = next_build(specs[2], 303, changed=0.5)
    beta[0] = scattered_edits(beta[0], 2, 31)
    for n, s in enumerate([*specs, beta], 1):
        folder = write_build(root / f"b{n}", s)
        branch = "beta" if n == 4 else None
        publish(
            folder,
            root / "repo",
            PublishOptions(PRODUCT, version_name=f"1.{n}", name="Demo", branch=branch),
        )
        builds.append(folder)
    return Repo(root / "repo", builds)


@pytest.fixture
def repo(published: Repo, tmp_path: Path) -> Iterator[Repo]:
    """A private copy of the published repository, served on 127.0.0.1."""
    copy = tmp_path / "repo"
    shutil.copytree(published.root, copy)
    with serving(copy) as url:
        yield Repo(copy, published.builds, url)


def installed(repo: Repo, game: Path, build: str = "1") -> Path:
    install(repo.url, PRODUCT, game, build=build)
    (game / "saves").mkdir(exist_ok=True)
    (game / "saves" / "slot1.sav").write_bytes(SAVE)
    return game


def test_install_update_rollback_done_when(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    assert without_player(tree(game)) == repo.build_tree(1)
    report = update(game, "3")
    assert (report.from_build, report.to_build) == ("1", "3")
    assert without_player(tree(game)) == repo.build_tree(3)
    assert (game / "saves" / "slot1.sav").read_bytes() == SAVE
    assert report.fallbacks == [] and report.patches_applied > 0
    assert report.bytes_downloaded < report.bytes_full / 4, report
    # Rollback needs no server: point the state at a dead address first.
    state = GameDir(game).load_state()
    assert state is not None
    back = rollback_game(game)
    assert back.to_build == "1"
    assert without_player(tree(game)) == repo.build_tree(1)
    assert (game / "saves" / "slot1.sav").read_bytes() == SAVE


def test_rollback_works_without_the_server(published: Repo, tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(published.root, copy)
    game = tmp_path / "game"
    with serving(copy) as url:
        install(url, PRODUCT, game, build="1")
        update(game, "3")
    rollback_game(game)
    assert tree(game) == published.build_tree(1)


def test_a_corrupted_patch_falls_back_to_chunks(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    patch_store = repo.root / layout.patch_store_prefix_rel(PRODUCT)
    for obj in patch_store.rglob("*"):
        if obj.is_file():  # a valid zlib stream of the wrong delta bytes, same name
            data = bytearray(zlib.decompress(obj.read_bytes()))
            data[len(data) // 2] ^= 0xFF
            obj.write_bytes(zlib.compress(bytes(data)))
    result = subprocess.run(
        # --no-packs: the xdelta3 patches themselves are what is corrupted (the same
        # fault with packs is tests/update/test_packs.py's).
        [
            sys.executable,
            "-m",
            "core.cli",
            "update",
            str(game),
            "--to",
            "3",
            "--json",
            "--no-packs",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["to_build"] == "3" and doc["fallbacks"]
    assert without_player(tree(game)) == repo.build_tree(3)
    assert (game / "saves" / "slot1.sav").read_bytes() == SAVE
    for key in (
        "from_build",
        "files_patched",
        "files_new",
        "bytes_downloaded",
        "bytes_full",
        "seconds",
    ):
        assert key in doc
    state = GameDir(game).load_state()
    assert state is not None and state.failed_patches  # remembered: a retry will not loop


def test_every_phase_an_operation_reports_is_a_phase(repo: Repo, tmp_path: Path) -> None:
    seen: list[Progress] = []
    game = tmp_path / "game"
    install(repo.url, PRODUCT, game, build="1", progress=seen.append)
    report = update(game, "3", progress=seen.append)
    verify_game(game, full=True, progress=seen.append)
    rollback_game(game, progress=seen.append)
    assert seen and all(type(p.phase) is Phase for p in seen), {p.phase for p in seen}
    expected = {"planning", "downloading", "patching", "committing", "hashing", "restoring"}
    assert expected <= {p.phase for p in seen}
    assert report.phases and set(report.phases) <= set(Phase)


def test_plan_and_update_json_keep_the_words_of_kinds_and_phases(
    repo: Repo, tmp_path: Path
) -> None:
    game = installed(repo, tmp_path / "game")

    def cli_json(*args: str) -> dict[str, object]:
        result = subprocess.run(
            [sys.executable, "-m", "core.cli", *args, "--json"],
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert isinstance(doc, dict)
        return doc

    words = ["new", "patched", "packed", "chunked", "full", "deleted", "unchanged"]
    planned = cli_json("plan", str(game), "--to", "3")
    done = cli_json("update", str(game), "--to", "3")
    for doc in (planned, done):
        assert doc["counts"] == {k: doc[f"files_{k}"] for k in words}
        assert list(doc["counts"]) == words
    assert planned["counts"] == done["counts"]
    assert isinstance(done["phases"], dict)
    assert {"planning", "committing"} <= set(done["phases"]) <= {p.value for p in Phase}


def test_make_plan_returns_the_plan_and_the_report_says_why_patches_were_skipped(
    repo: Repo, tmp_path: Path
) -> None:
    game = installed(repo, tmp_path / "game")
    plan, report = plan_preview(game, "3")
    assert isinstance(plan, Plan) and plan.patch_error == "" and plan.route
    assert report.counts == plan.counts() and set(report.counts) == set(KINDS)
    assert (report.bytes_planned, report.bytes_full) == (plan.download_bytes, plan.full_bytes)
    assert report.route == list(plan.route) and report.fallbacks == []
    (repo.root / layout.graph_rel(PRODUCT, "windows")).write_bytes(b"not json")
    plan, report = plan_preview(game, "3")
    assert plan.patch_error and plan.route == () and not plan.of_kind("patched")
    assert report.fallbacks == [("*", f"patches unavailable: {plan.patch_error}")]


def test_modified_file_is_replaced_and_kept_in_the_rollback_point(
    repo: Repo, tmp_path: Path
) -> None:
    game = installed(repo, tmp_path / "game")
    mod = b"my mod of the game executable"
    (game / "Game.exe").write_bytes(mod)
    report = update(game, "2")
    assert "Game.exe" in report.modified
    assert without_player(tree(game)) == repo.build_tree(2)
    rollback_game(game)
    assert (game / "Game.exe").read_bytes() == mod  # the player's own copy comes back


def test_keep_modified_leaves_the_players_file(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    mod = b"my mod"
    (game / "Game.exe").write_bytes(mod)
    update(game, "2", EngineOptions(keep_modified=True))
    assert (game / "Game.exe").read_bytes() == mod
    expected = repo.build_tree(2)
    del expected["Game.exe"]
    got = without_player(tree(game))
    del got["Game.exe"]
    assert got == expected


def test_keep_points_bounds_the_rollback_points_on_disk(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    update(game, "2", EngineOptions(keep_points=1))
    update(game, "3", EngineOptions(keep_points=1))
    points = GameDir(game).rollback_points()
    assert [p.state_before.build_id for p in points if p.state_before] == ["2"]
    update(game, "1", EngineOptions(keep_points=0))
    assert GameDir(game).rollback_points() == []
    with pytest.raises(UsageError, match="no rollback point"):
        rollback_game(game)


def test_verify_and_repair_every_kind_of_damage(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game", "2")
    with open(game / "data/levels.pak", "r+b") as f:  # flipped byte
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    with open(game / "Game.exe", "ab") as f:  # extra trailing bytes
        f.write(b"garbage")
    (game / "data/config.ini").write_bytes(
        (game / "data/config.ini").read_bytes()[:10]
    )  # truncated
    (game / "readme.txt").unlink()  # missing
    _, result = verify_game(game, full=True)
    assert {w.path for w in result.wounds} == {
        "data/levels.pak",
        "Game.exe",
        "data/config.ini",
        "readme.txt",
    }
    verify_game(game, full=True, repair=True)
    assert without_player(tree(game)) == repo.build_tree(2)
    assert verify_game(game, full=True)[1].ok
    assert (game / "saves" / "slot1.sav").read_bytes() == SAVE


def test_repair_mends_lost_cached_manifests_the_update_asks_for(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game", "1")
    manifests = game / ".slipstream" / "manifests"
    shutil.rmtree(manifests)
    with pytest.raises(StateError, match="run verify --repair"):
        update(game, "2")
    # With no file damaged, the repair fetches the installed build's manifests again.
    verify_game(game, repair=True)
    assert sorted(p.name for p in manifests.iterdir()) == ["build-1", *depot_names(game)]
    # With a damaged file, the repair plans from the fetched manifests, not the lost cache.
    shutil.rmtree(manifests)
    (game / "readme.txt").unlink()
    verify_game(game, full=True, repair=True)
    assert without_player(tree(game)) == repo.build_tree(1)
    update(game, "2")
    assert without_player(tree(game)) == repo.build_tree(2)


def depot_names(game: Path) -> list[str]:
    build = GameDir(game).load_document("build-1")
    assert build is not None
    entries = json.loads(zlib.decompress(build))["depots"]
    return sorted(f"depot-{e['manifest']}" for e in entries)


def test_downgrade_and_branch_switch_through_the_planner(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game", "3")
    update(game, "1")  # an older build, no rollback point: fetched through the planner
    assert without_player(tree(game)) == repo.build_tree(1)
    update(game, "4")  # the beta build
    assert without_player(tree(game)) == repo.build_tree(4)
    state = GameDir(game).load_state()
    assert state is not None and state.branch == "beta"


def test_install_refuses_a_non_empty_folder_and_adopts_on_request(
    repo: Repo, tmp_path: Path
) -> None:
    game = tmp_path / "game"
    shutil.copytree(repo.builds[0], game)
    (game / "data/levels.pak").write_bytes(b"damaged")
    with pytest.raises(UsageError, match="not empty"):
        install(repo.url, PRODUCT, game, build="1")
    report = install(repo.url, PRODUCT, game, build="1", adopt=True)
    assert tree(game) == repo.build_tree(1)
    assert report.counts["unchanged"] >= 5  # the intact files were kept, not downloaded


def test_install_where_a_file_is_in_the_way_says_so(tmp_path: Path) -> None:
    (tmp_path / "afile").write_bytes(b"x")
    for dest in (tmp_path / "afile", tmp_path / "afile" / "game"):
        with pytest.raises(LocalIOError, match="Could not create the game folder"):
            install("http://127.0.0.1:9/", PRODUCT, dest)
    assert (tmp_path / "afile").read_bytes() == b"x"


def test_a_delta_that_cannot_be_written_falls_back_to_the_download(
    repo: Repo, tmp_path: Path
) -> None:
    game = installed(repo, tmp_path / "game", "1")
    xdelta_only = EngineOptions(use_packs=False)  # the deltas of GOG's patch depots
    plan, _ = plan_preview(game, "2", xdelta_only)
    downloads = game / ".slipstream" / "downloads"
    blocked = {a.path for a in plan.of_kind("patched")}
    assert blocked
    for action in plan.of_kind("patched"):  # a folder where each delta is written
        for d in action.diffs:
            (downloads / f"delta-{d.md5_source}-{d.md5_target}").mkdir(parents=True)
    report = update(game, "2", xdelta_only)
    assert without_player(tree(game)) == repo.build_tree(2)
    assert {p for p, _ in report.fallbacks} == blocked
    assert all("Could not write the delta" in reason for _, reason in report.fallbacks)


def test_two_operations_on_one_folder_are_refused(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    with GameDir(game).lock(), pytest.raises(GameLockedError):
        update(game, "2")


def test_history_and_list_read_the_library(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    update(game, "3")
    rollback_game(game)
    env = {**os.environ}
    hist = subprocess.run(
        [sys.executable, "-m", "core.cli", "history", str(game), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert hist.returncode == 0, hist.stderr
    kinds = [op["kind"] for op in json.loads(hist.stdout)]
    assert kinds == ["rollback", "update", "install"]
    listing = subprocess.run(
        [sys.executable, "-m", "core.cli", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    (entry,) = json.loads(listing.stdout)
    assert entry["build_id"] == "1" and entry["name"] == "Demo"


def test_player_files_survive_update_rollback_repair(repo: Repo, tmp_path: Path) -> None:
    game = installed(repo, tmp_path / "game")
    (game / "mods").mkdir()
    (game / "mods" / "x.txt").write_bytes(b"mod")
    (game / "data" / "screenshot.png").write_bytes(b"png")
    update(game, "3")
    rollback_game(game)
    verify_game(game, full=True, repair=True)
    assert (game / "mods" / "x.txt").read_bytes() == b"mod"
    assert (game / "data" / "screenshot.png").read_bytes() == b"png"
    assert (game / "saves" / "slot1.sav").read_bytes() == SAVE


def test_case_only_rename_and_small_repository(tmp_path: Path) -> None:
    """A file whose name changes only in case, plus a removed file the player deleted."""
    first = [
        FileSpec("Data/Map.pak", 1, 300_000),
        FileSpec("gone.txt", 2, 5_000),
        FileSpec("game.exe", 3, 200_000, executable=True),
    ]
    second = [
        scattered_edits(FileSpec("data/map.pak", 1, 300_000), 3, 4),
        FileSpec("game.exe", 3, 200_000, executable=True),
    ]
    repo = tmp_path / "repo"
    dirs = []
    for n, specs in enumerate([first, second], 1):
        dirs.append(write_build(tmp_path / f"b{n}", specs))
        publish(dirs[-1], repo, PublishOptions(PRODUCT, version_name=f"{n}"))
    with serving(repo) as url:
        game = tmp_path / "game"
        install(url, PRODUCT, game, build="1")
        (game / "gone.txt").unlink()  # the player deleted a file the next build drops
        update(game, "2")
        assert tree(game) == tree(dirs[1])
        assert os.access(game / "game.exe", os.X_OK)
        rollback_game(game)
        assert tree(game) == {k: v for k, v in tree(dirs[0]).items() if k != "gone.txt"}


def test_too_little_disk_space_is_refused_with_both_numbers(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.update.engine

    game = installed(repo, tmp_path / "game")
    before = tree(game)

    class Usage:
        total, used, free = 10**9, 10**9 - 1000, 1000

    monkeypatch.setattr(core.update.engine.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(InsufficientSpaceError, match=r"needs [\d,]+ bytes.*only 1,000 bytes"):
        update(game, "3")
    assert tree(game) == before
    assert not any((game / ".slipstream" / "staging").rglob("*"))
