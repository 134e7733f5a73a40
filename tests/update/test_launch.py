"""Play: the launch task of an installed build (product.json or GOG's goggame-<p>.info),
checked against the build's files, and started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import UsageError
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install
from core.update.launch import find_task, launch_task, play
from tests.support.helpers import serving

SCRIPT = '#!/bin/sh\nprintf "%s|" "$@" > played.txt\n'


def _publish(root: Path, repo: Path, product: str, files: dict[str, str], **extra: str) -> None:
    build = root / f"build-{product}"
    for rel, text in files.items():
        (build / rel).parent.mkdir(parents=True, exist_ok=True)
        (build / rel).write_text(text)
        os.chmod(build / rel, 0o755)
    publish(build, repo, PublishOptions(product, name=f"Game {product}", **extra))  # type: ignore[arg-type]


def _info(path: str, **task: object) -> str:
    tasks = [
        {"type": "FileTask", "path": "tools/setup.sh", "isHidden": True, "category": "tool"},
        {"type": "FileTask", "path": path, "isPrimary": True, **task},
    ]
    return json.dumps({"gameId": "61", "rootGameId": "61", "name": "Gog", "playTasks": tasks})


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("launch")
    repo = root / "repo"
    _publish(root, repo, "60", {"bin/run.sh": SCRIPT}, launch="bin/run.sh")
    _publish(
        root,
        repo,
        "61",
        {
            "bin/run.sh": SCRIPT,
            "tools/setup.sh": SCRIPT,
            "goggame-61.info": _info(
                "bin/run.sh", arguments="--fast 'two words'", workingDir="bin"
            ),
        },
    )
    _publish(root, repo, "62", {"run.sh": SCRIPT, "goggame-62.info": _info("../../bin/sh")})
    _publish(root, repo, "63", {"run.sh": SCRIPT})
    with serving(repo) as base:
        yield base


def test_our_build_runs_its_published_launch_task(url: str, tmp_path: Path, home: Path) -> None:
    game = tmp_path / "g60"
    install(url, "60", game)
    assert launch_task(game) is None  # nothing kept yet: the network is not asked here
    task = find_task(game)  # asks the repository once, then keeps the document
    assert task is not None and task.path == game / "bin" / "run.sh"
    assert task.working_dir == game and task.source == "product.json"
    assert launch_task(game) == task
    if sys.platform != "win32":
        play(game).wait(timeout=60)
        assert (game / "played.txt").read_text() == "|"  # printf: no arguments


def test_gog_info_primary_task_with_arguments_and_working_dir(
    url: str, tmp_path: Path, home: Path
) -> None:
    game = tmp_path / "g61"
    install(url, "61", game)
    task = launch_task(game)
    assert task is not None and task.path == game / "bin" / "run.sh"
    assert task.arguments == ("--fast", "two words") and task.working_dir == game / "bin"
    assert task.source == "goggame-61.info"
    if sys.platform != "win32":
        play(game).wait(timeout=60)
        assert (game / "bin" / "played.txt").read_text() == "--fast|two words|"


def test_a_task_outside_the_build_is_no_task(url: str, tmp_path: Path, home: Path) -> None:
    game = tmp_path / "g62"
    install(url, "62", game)
    assert find_task(game) is None
    # A marker the player (or anything else) drops into the folder names no task either.
    other = tmp_path / "g63"
    install(url, "63", other)
    (other / "goggame-63.info").write_text(_info("run.sh"))
    assert find_task(other) is None
    with pytest.raises(UsageError, match="declares no launch task"):
        play(other)


def test_cli_play_show(url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SLIPSTREAM_HOME": str(tmp_path / "home")}
    game = tmp_path / "g61"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core.cli", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    assert cli("install", "--source", url, "--product", "61", "--dir", str(game)).returncode == 0
    shown = cli("play", str(game), "--show", "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["path"] == str(game / "bin" / "run.sh") and "pid" not in doc
    assert not (game / "bin" / "played.txt").exists()
