"""Play: the task that starts an installed game, and starting it.

A GOG game names its tasks in ``goggame-<product>.info`` (reference §7): the primary
``FileTask`` of its ``playTasks``, else the first visible game task. A game published
by Slipstream names one in its ``product.json`` (``publish --launch``), which the game
folder keeps (core/update/product.py). Either way the task is untrusted: its file must be
a file of the installed build, inside the game folder, reached through no link.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import FormatError, SlipstreamError, UsageError
from core.format import paths
from core.format.bounds import BOUNDS
from core.gamedir.folder import GameDir, InstallState, check_components
from core.update.engine import existing_game, not_installed
from core.update.options import EngineOptions
from core.update.product import installed_product_info, refresh_installed


@dataclass(frozen=True)
class LaunchTask:
    """What to run: ``path`` with ``arguments`` in ``working_dir`` (all absolute)."""

    path: Path
    arguments: tuple[str, ...]
    working_dir: Path
    name: str = ""
    source: str = ""
    """Where the task came from: ``goggame-<product>.info`` or ``product.json``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "arguments": list(self.arguments),
            "working_dir": str(self.working_dir),
            "name": self.name,
            "source": self.source,
        }


def launch_task(game_dir: Path) -> LaunchTask | None:
    """The installed game's launch task, or None when its build declares none."""
    game = existing_game(game_dir)
    state = game.read_state()
    if state is None:
        raise not_installed(game_dir)
    task = _gog_task(game, state)
    info = installed_product_info(game) if task is None else None
    spec = info.launch_for(state.os) if info else None
    if info is None or spec is None:
        return task
    try:
        return _checked(
            game, state, spec.path, spec.arguments, spec.working_dir, info.name, "product.json"
        )
    except SlipstreamError:
        return None  # a task that points outside the build is no task


def _gog_task(game: GameDir, state: InstallState) -> LaunchTask | None:
    for rel in (
        f"goggame-{state.product}.info",
        f"Contents/Resources/goggame-{state.product}.info",
    ):
        if rel not in state.files:
            continue  # only the build's own marker names its tasks, never one put there
        doc = _read_info(game, rel)
        tasks = doc.get("playTasks") if doc else None
        if not isinstance(tasks, list):
            continue
        files = [t for t in tasks if isinstance(t, dict) and t.get("type") == "FileTask"]
        chosen = next((t for t in files if t.get("isPrimary") is True), None) or next(
            (t for t in files if not t.get("isHidden") and t.get("category", "game") == "game"),
            None,
        )
        if chosen is None:
            continue
        arguments = chosen.get("arguments", "")
        try:
            args = (
                tuple(shlex.split(arguments, posix=os.name != "nt"))
                if isinstance(arguments, str)
                else ()
            )
            work = chosen.get("workingDir", "")
            return _checked(
                game,
                state,
                chosen.get("path"),
                args,
                work if isinstance(work, str) else "",
                str(chosen.get("name", "")),
                rel.rsplit("/", 1)[-1],
            )
        except (ValueError, SlipstreamError):
            continue  # a task that points outside the build is no task
    return None


def _read_info(game: GameDir, rel: str) -> dict[str, Any] | None:
    try:
        path = game.game_path(rel)
        with open(path, "rb") as src:
            data = src.read(BOUNDS.info_bytes + 1)
        doc = json.loads(data) if len(data) <= BOUNDS.info_bytes else None
    except (OSError, ValueError, SlipstreamError):
        return None
    return doc if isinstance(doc, dict) else None


def _checked(
    game: GameDir,
    state: InstallState,
    raw_path: object,
    arguments: tuple[str, ...],
    working_dir: str,
    name: str,
    source: str,
) -> LaunchTask:
    """A task whose file is a file of the installed build, reached through no link."""
    rel = paths.validate(raw_path, "launch path")
    if rel not in state.files:
        raise FormatError(f"The launch path {rel!r} is not a file of the installed build.")
    path = game.game_path(rel)
    work = game.root
    if working_dir:
        parts = paths.validate(working_dir, "launch working folder").split("/")
        check_components(game.root, parts)
        work = game.root.joinpath(*parts)
    return LaunchTask(path, arguments, work, name, source)


def find_task(game_dir: Path, options: EngineOptions = EngineOptions()) -> LaunchTask | None:
    """:func:`launch_task`, asking the game's repository for its product document when
    the folder's copy names no usable task (none kept yet, or one an update made stale)."""
    task = launch_task(game_dir)
    if task is None:
        with suppress(SlipstreamError):  # no network, no document: no task, as before
            refresh_installed(game_dir, options)
        task = launch_task(game_dir)
    return task


def play(game_dir: Path, options: EngineOptions = EngineOptions()) -> subprocess.Popen[bytes]:
    """Start the installed game (not waiting for it); UsageError when it has no task."""
    task = find_task(game_dir, options)
    if task is None:
        raise UsageError(
            f"{game_dir}: its build declares no launch task (publish --launch PATH adds one)."
        )
    command = [str(task.path), *task.arguments]
    try:
        return subprocess.Popen(command, cwd=task.working_dir, start_new_session=True)
    except OSError as exc:
        raise UsageError(f"Could not start {task.path}: {exc.strerror or exc}.") from None
