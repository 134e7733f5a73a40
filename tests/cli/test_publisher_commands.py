"""The publisher's commands as text: what ``prune``, ``graph`` and ``stats`` print."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import commands as cli
from core.demo.sample import FileSpec, scattered_edits, write_build
from core.publish.prune import PruneReport

PRODUCT = "2600"


def test_prune_message_has_no_dangling_colon() -> None:
    nothing = cli.describe_prune(PruneReport(dry_run=False))
    assert nothing.splitlines()[0] == "0 listing entries were removed."
    report = PruneReport(dry_run=True, builds_removed=[("windows", "1", None)])
    lines = cli.describe_prune(report).splitlines()
    assert lines[:2] == [
        "1 listing entries would be removed:",
        "  build 1 (windows, public branch)",
    ]


def test_from_branch_reaches_the_publish_options() -> None:
    args = cli.build_parser().parse_args(
        [
            "promote",
            "--repo",
            "r",
            "--product",
            "1",
            "--build",
            "2",
            "--branch",
            "rc",
            "--from-branch",
            "beta",
        ]
    )
    options = cli._options(args)
    assert (options.branch, options.from_branch) == ("rc", "beta")
    default = cli.build_parser().parse_args(
        ["promote", "--repo", "r", "--product", "1", "--build", "2"]
    )
    assert cli._options(default).from_branch is None


def slipstream(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two public builds and a beta build, published through the command."""
    base = tmp_path_factory.mktemp("cli")
    repo = base / "repo"
    spec = FileSpec("data/levels.pak", 91, 600_000)
    for n, branch in enumerate(["public", "public", "beta"], 1):
        folder = write_build(base / f"b{n}", [spec, FileSpec("readme.txt", 92, 2000)])
        spec = scattered_edits(spec, 3, 900 + n)
        done = slipstream(
            "publish",
            folder,
            "--repo",
            repo,
            "--product",
            PRODUCT,
            "--branch",
            branch,
            "--version-name",
            f"1.{n}",
            "--name",
            "Quiet Hills",
            "--no-progress",
        )
        assert done.returncode == 0, done.stderr
    return repo


def test_graph_prints_the_chain_as_text_json_and_dot(repo: Path) -> None:
    text = slipstream("graph", "--repo", repo, "--product", PRODUCT)
    assert text.returncode == 0, text.stderr
    assert f"Product {PRODUCT} for windows: 3 builds, 3 patch edges" in text.stdout
    assert "branch beta, newest first: 3 (1.3)" in text.stdout
    assert "public: 1 → 2:" in text.stdout
    doc = json.loads(slipstream("graph", "--repo", repo, "--product", PRODUCT, "--json").stdout)
    assert doc["product_id"] == PRODUCT
    assert {(e["from_build_id"], e["to_build_id"]) for e in doc["systems"][0]["edges"]} == {
        ("1", "2"),
        ("2", "3"),
        ("1", "3"),
    }
    dot = slipstream("graph", "--repo", repo, "--product", PRODUCT, "--os", "windows", "--dot")
    assert dot.returncode == 0 and dot.stdout.startswith("digraph ")
    both = slipstream("graph", "--repo", repo, "--product", PRODUCT, "--dot", "--json")
    assert both.returncode == 2 and "choose one" in both.stderr
    missing = slipstream("graph", "--repo", repo, "--product", "1")
    assert missing.returncode == 1 and "nothing published" in missing.stderr


def test_stats_prints_the_trend_as_text_and_json(repo: Path, tmp_path: Path) -> None:
    text = slipstream("stats", "--repo", repo, "--product", PRODUCT)
    assert text.returncode == 0, text.stderr
    rows = text.stdout.splitlines()
    assert rows[0].split()[:4] == ["build", "version", "branch", "os"]
    assert rows[1].split()[:4] == ["1", "1.1", "public", "windows"]
    assert "first build" in rows[1] and "2: " in rows[3] and "% saved" in rows[3]
    doc = json.loads(slipstream("stats", "--repo", repo, "--json").stdout)
    assert [b["build_id"] for b in doc["builds"]] == ["1", "2", "3"]
    assert [b["previous"] for b in doc["builds"]] == [None, "1", "2"]
    empty = slipstream("stats", "--repo", tmp_path)
    assert empty.returncode == 0 and "No publish history yet" in empty.stdout
    missing = slipstream("stats", "--repo", tmp_path / "nowhere")
    assert missing.returncode == 1 and "no repository" in missing.stderr
