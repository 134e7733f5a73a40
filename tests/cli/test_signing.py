"""The signing commands as a publisher and a player run them: real subprocesses, a real
signed repository served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.demo.sample import FileSpec, write_build
from tests.support.helpers import serving, tree

PRODUCT = "6060"


def cli(
    home: Path, *args: str | Path, keys: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPSTREAM_HOME": str(home)}
    env.pop("SLIPSTREAM_KEYS", None)
    if keys is not None:
        env["SLIPSTREAM_KEYS"] = str(keys)
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_publish_sign_browse_and_install_a_signed_repository(tmp_path: Path) -> None:
    home, repo, keys = tmp_path / "home", tmp_path / "repo", tmp_path / "keys"
    b1 = write_build(tmp_path / "b1", [FileSpec("game.exe", 1, 50_000)])
    b2 = write_build(tmp_path / "b2", [FileSpec("game.exe", 2, 50_000)])
    publish = ("publish", "--repo", repo, "--product", PRODUCT, "--no-progress")
    assert cli(home, publish[0], b1, *publish[1:]).returncode == 0
    made = cli(home, "keys", "init", "--repo", repo, keys=keys)
    assert made.returncode == 0, made.stderr
    assert "root key" in made.stdout
    refused = cli(home, publish[0], b2, *publish[1:])
    assert refused.returncode == 2
    assert "--keys DIR" in one_line(refused)
    assert cli(home, publish[0], b2, *publish[1:], "--keys", keys).returncode == 0
    stamped = cli(home, "timestamp", "--repo", repo, "--json", keys=keys)
    assert json.loads(stamped.stdout)["changed"] == ["timestamp"], stamped.stderr
    with serving(repo) as url:
        builds = cli(home, "builds", "--source", url, "--product", PRODUCT)
        assert builds.returncode == 0, builds.stderr
        assert builds.stdout.splitlines()[-1].startswith("repository: signed (root key ")
        as_json = cli(home, "builds", "--source", url, "--product", PRODUCT, "--json")
        rows = json.loads(as_json.stdout)
        assert {r["signing"] for r in rows} == {"signed"}
        key_id = rows[0]["root_key_ids"][0]
        assert key_id[:16] in builds.stdout
        info = cli(home, "info", "--source", url, "--product", PRODUCT, "--json")
        assert json.loads(info.stdout)["root_key_ids"] == [key_id]
        root = repo / "metadata" / "root.json"
        game = tmp_path / "game"
        installed = cli(
            home, "install", "--source", url, "--product", PRODUCT, "--dir", game,
            "--build", "1", "--trust-root", root, "--no-progress",
        )  # fmt: skip
        assert installed.returncode == 0, installed.stderr
        assert cli(home, "update", game, "--no-progress").returncode == 0
    assert tree(game) == tree(b2)
    listed = cli(home, "list")
    assert f"signed (root key {key_id[:16]})" in listed.stdout
    assert json.loads(cli(home, "list", "--json").stdout)[0]["signing"] == "signed"


def test_unsigned_repositories_show_unsigned_and_refuse_a_trust_root(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    b1 = write_build(tmp_path / "b1", [FileSpec("game.exe", 1, 30_000)])
    assert cli(home, "publish", b1, "--repo", repo, "--product", PRODUCT).returncode == 0
    other = tmp_path / "other"
    assert cli(home, "keys", "init", "--repo", other, "--keys", tmp_path / "keys").returncode == 0
    with serving(repo) as url:
        builds = cli(home, "builds", "--source", url, "--product", PRODUCT)
        assert builds.stdout.splitlines()[-1] == "repository: unsigned"
        info = cli(home, "info", "--source", url, "--product", PRODUCT)
        assert "  repository: unsigned" in info.stdout.splitlines()
        as_json = cli(home, "builds", "--source", url, "--product", PRODUCT, "--json")
        rows = json.loads(as_json.stdout)
        assert rows[0]["signing"] == "unsigned" and rows[0]["root_key_ids"] == []
        game = tmp_path / "game"
        plain = cli(home, "install", "--source", url, "--product", PRODUCT, "--dir", game)
        assert plain.returncode == 0, plain.stderr
        assert json.loads(cli(home, "list", "--json").stdout)[0]["signing"] == "unsigned"
        pinned = tmp_path / "pinned"
        root = other / "metadata" / "root.json"
        refused = cli(
            home, "install", "--source", url, "--product", PRODUCT, "--dir", pinned,
            "--trust-root", root,
        )  # fmt: skip
        assert refused.returncode == 1
        assert "serves no signed metadata" in one_line(refused)
        assert tree(pinned) == {}
