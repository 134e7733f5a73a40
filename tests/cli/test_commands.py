"""The ``slipstream`` command as a user runs it: a real subprocess each time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import __version__
from core.cli import commands as cli
from core.demo.sample import FileSpec, write_build
from core.errors import UsageError
from core.format import layout
from core.serve.server import make_server

PRODUCT = "31337"


def slipstream(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build(tmp_path: Path, name: str, size: int = 300_000, seed: int = 1) -> Path:
    specs = [FileSpec("game.exe", seed, size, executable=True), FileSpec("a.txt", seed + 1, 500)]
    return write_build(tmp_path / name, specs)


def test_version() -> None:
    result = slipstream("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"slipstream {__version__}"


def test_publish_prints_a_summary_and_json(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    first = slipstream("publish", build(tmp_path, "b1"), "--repo", repo, "--product", PRODUCT)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"Published build 1 (b1) of product {PRODUCT}")
    second = slipstream(
        "publish",
        build(tmp_path, "b2", seed=2),
        "--repo",
        repo,
        "--product",
        PRODUCT,
        "--version-name",
        "2.0",
        "--json",
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["build_id"] == "2" and report["version_name"] == "2.0"
    assert report["files"] == 2 and report["unchanged"] is False
    assert [e["from_build_id"] for e in report["edges"]] == ["1"]


def test_failures_are_one_line_with_exit_1(tmp_path: Path) -> None:
    result = slipstream("publish", tmp_path / "missing", "--repo", tmp_path / "r", "--product", "1")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    bad_id = slipstream("publish", build(tmp_path, "b"), "--repo", tmp_path / "r", "--product", "x")
    assert bad_id.returncode == 2 and "--product" in bad_id.stderr
    missing_arg = slipstream("prune", "--repo", tmp_path / "r")
    assert missing_arg.returncode == 2 and "--product" in missing_arg.stderr
    bad_branch = slipstream(
        "publish",
        build(tmp_path, "c"),
        "--repo",
        tmp_path / "r",
        "--product",
        "1",
        "--branch",
        "a/b",
    )
    assert bad_branch.returncode == 2 and "branch" in bad_branch.stderr


def test_prune_dry_run_then_real(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for n in range(1, 4):
        done = slipstream(
            "publish", build(tmp_path, f"b{n}", seed=n), "--repo", repo, "--product", PRODUCT
        )
        assert done.returncode == 0, done.stderr
    dry = slipstream(
        "prune",
        "--repo",
        repo,
        "--product",
        PRODUCT,
        "--keep-builds",
        "1",
        "--grace",
        "0",
        "--dry-run",
        "--json",
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["objects_deleted"] > 0
    assert len(json.loads((repo / layout.builds_rel(PRODUCT, "windows")).read_text())["items"]) == 3
    real = slipstream(
        "prune", "--repo", repo, "--product", PRODUCT, "--keep-builds", "1", "--grace", "0"
    )
    assert real.returncode == 0 and "were deleted" in real.stdout
    assert len(json.loads((repo / layout.builds_rel(PRODUCT, "windows")).read_text())["items"]) == 1


def test_ctrl_c_stops_cleanly_and_a_rerun_resumes(tmp_path: Path) -> None:
    """SIGINT mid-publish: exit 130, no listing yet; the rerun reuses what was written."""
    folder = write_build(
        tmp_path / "big", [FileSpec(f"data/{i}.pak", i, 8 * 2**20) for i in range(6)]
    )
    repo = tmp_path / "repo"
    args = [
        sys.executable,
        "-m",
        "core.cli",
        "publish",
        str(folder),
        "--repo",
        str(repo),
        "--product",
        PRODUCT,
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = repo / layout.store_prefix_rel(PRODUCT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (store.is_dir() and any(store.rglob("*"))):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "stopping at the next safe point" in err and "Traceback" not in err
    assert not (repo / layout.builds_rel(PRODUCT, "windows")).exists()
    rerun = slipstream("publish", folder, "--repo", repo, "--product", PRODUCT, "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["objects_reused"] > 0


CRASH = """
import sys
from core.cli import commands as cli
from core.library.db import Library

def broken(self):
    raise ZeroDivisionError("near https://x/?code=SEKRIT-CODE, Bearer SEKRIT-TOKEN")

Library.installs = broken  # the seam: a bug of ours deep inside a command
sys.exit(cli.main(sys.argv[1:]))
"""


def crashing(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CRASH, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SLIPSTREAM_HOME": str(home)},
        timeout=120,
    )


def test_a_bug_of_ours_is_logged_and_told_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = crashing(home, "list")
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    log = home / "logs" / "slipstream.log"
    assert f"The details are in {log}" in result.stderr and "ZeroDivisionError" in result.stderr
    text = log.read_text()
    assert "Traceback" in text and "in broken" in text and "command: list" in text
    assert "SEKRIT" not in result.stderr + text
    # A second bug is appended to the same log.
    assert crashing(home, "list").returncode == 1
    assert log.read_text().count("Traceback") == 2


def test_a_bug_is_told_in_one_line_even_when_the_log_cannot_be_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "logs").write_text("a file where the log folder should be")
    result = crashing(home, "list")
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "ZeroDivisionError" in result.stderr and "could not be saved" in result.stderr


def test_player_arguments_are_checked_as_usage_errors(tmp_path: Path) -> None:
    """A mistyped --source, --product or --os is the player's to fix: exit 2, naming it."""
    game = tmp_path / "g"
    cases = {
        "--source": ["install", "--source", "ftp://x", "--product", "1", "--dir", game],
        "--product": ["info", "--source", "http://127.0.0.1:9", "--product", "x1"],
        "--os": ["builds", "--source", "gog", "--product", "1", "--os", "macos"],
    }
    for option, args in cases.items():
        result = slipstream(*args)
        assert result.returncode == 2, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert f"argument {option}:" in last and "malformed" not in last
    assert not game.exists()


USAGE_MISTAKES = [
    [],
    ["bogus"],
    ["update"],
    ["update", "g", "--jobs", "abc"],
    ["install", "--source", "ftp://x", "--product", "1", "--dir", "g"],
    ["builds", "--source", "gog", "--product", "1", "--os", "plan9"],
    ["publish", "b", "--repo", "r", "--product", "1", "--patch-depth", "two"],
    ["update", "g", "--limit-rate", "inf"],
    ["update", "g", "--limit-rate", "nan"],
    ["update", "g", "--limit-rate", "-5"],
    ["install", "--source", "gog", "--product", "1", "--dir", "g", "--limit-rate", "0"],
    ["serve", "--repo", "r", "--port", "70000"],
    ["serve", "--repo", "r", "--port", "-1"],
    ["demo", "--port", "http"],
]


@pytest.mark.parametrize("args", USAGE_MISTAKES, ids=" ".join)
def test_a_usage_error_is_one_line_with_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("slipstream: error: ") and "--help" in err


def test_the_server_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    for port in (70000, -1):
        with pytest.raises(UsageError, match="0 to 65535"):
            make_server(tmp_path, port=port)
