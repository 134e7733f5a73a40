"""A signed repository for tests: builds published and signed as ``publish --keys`` does,
with a copy of the whole repository kept after each build (a mirror's older state)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.publish.publisher import PublishOptions, publish
from core.publish.signing import init_repository, resigning

PRODUCT = "4242"


def small_builds(count: int) -> list[list[FileSpec]]:
    """``count`` builds of a three-file game, each editing the last one a little."""
    specs = [
        FileSpec("game.exe", 1, 150_000, executable=True),
        FileSpec("data/a.pak", 2, 300_000),
        FileSpec("readme.txt", 3, 2_000),
    ]
    builds = [specs]
    for n in range(1, count):
        previous = builds[-1]
        builds.append([scattered_edits(previous[0], 2, 10 + n), *previous[1:2], previous[2]])
    return builds


@dataclass
class SignedRepo:
    root: Path
    """Where the repository is (the last state)."""
    keys: Path
    builds: list[Path]
    states: list[Path] = field(default_factory=list)
    """``states[n]``: a copy of the repository right after build n + 1 was signed."""

    def serve_state(self, n: int, dest: Path) -> None:
        """Make ``dest`` hold the repository as it was after build ``n`` (1-based)."""
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(self.states[n - 1], dest, symlinks=True)


def publish_signed(folder: Path, repo: Path, keys: Path, version: str) -> None:
    with resigning(repo, keys, explicit=True):
        publish(folder, repo, PublishOptions(PRODUCT, version_name=version, name="Signed"))


def make_signed_repo(root: Path, count: int = 3, threshold: int = 1) -> SignedRepo:
    """Publish ``count`` small builds into a repository signed from the start."""
    repo, keys = root / "repo", root / "keys"
    init_repository(repo, keys, threshold=threshold)
    signed = SignedRepo(repo, keys, [])
    for n, specs in enumerate(small_builds(count), 1):
        folder = write_build(root / f"b{n}", specs)
        publish_signed(folder, repo, keys, f"1.{n}")
        signed.builds.append(folder)
        state = root / f"state{n}"
        shutil.copytree(repo, state, symlinks=True)
        signed.states.append(state)
    return signed
