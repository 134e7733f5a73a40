"""The built-in demo: a sample game with three builds, published and served on loopback.

``slipstream demo`` (and the README's run command) prepares the demo repository once
under ``--dir`` and serves it, so a player can try an update straight away.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core import layout
from core.progress import ProgressSink, null_sink
from core.publish.publisher import PublishOptions, publish
from core.sample import sample_game, write_build

DEMO_PRODUCT = "1207664643"
DEMO_NAME = "Slipstream Demo Quest"
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")


def prepare_demo(root: Path, progress: ProgressSink = null_sink) -> Path:
    """Publish the demo game's builds into ``root/repo`` unless already done; return it."""
    repo = root / "repo"
    if (repo / layout.builds_rel(DEMO_PRODUCT, "windows")).is_file():
        return repo
    builds = root / "builds"
    for version, specs in zip(VERSIONS, sample_game(), strict=True):
        folder = builds / version
        if folder.exists():
            shutil.rmtree(folder)
        write_build(folder, specs, folders=["saves"])
        options = PublishOptions(DEMO_PRODUCT, version_name=version, name=DEMO_NAME)
        publish(folder, repo, options, progress=progress)
    return repo


def install_demo_game(root: Path, url: str, progress: ProgressSink = null_sink) -> tuple[Path, str]:
    """Install the oldest demo build into ``root/game`` (once), ready to be updated.

    The server's port changes from run to run, so an existing demo install is pointed
    at this run's address."""
    from dataclasses import replace

    from core.engine import install
    from core.gamedir import GameDir

    game = root / "game"
    state = GameDir(game).load_state() if game.exists() else None
    if state is None:
        report = install(url, DEMO_PRODUCT, game, build="1", progress=progress)
        return game, report.version_name
    folder = GameDir(game)
    with folder.lock():
        folder.save_state(replace(state, source=url))
    return game, state.version_name
