"""Small files patched several to a pool job (core/update/apply.py, ``_batches``): every
file of a batch is patched and checked as if alone, and a bad patch in a batch costs only
its own file. The repository is served over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import random
import shutil
import zlib
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, scattered_edits
from core.format import layout
from core.gamedir.folder import GameDir
from core.update import apply
from core.update.engine import install, plan_preview, update
from core.update.options import EngineOptions
from core.update.plan import PlanKind
from tests.support.helpers import serving, tree
from tests.support.simulator import publish_builds

PRODUCT = "1207664651"
XDELTA_ONLY = EngineOptions(use_packs=False, patch_jobs=2)
FILES = 15
pytestmark = pytest.mark.usefixtures("home")

Published = tuple[Path, list[Path], tuple[str, str]]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    first = [FileSpec(f"data/item{n:02}.bin", 40 + n, 20_000 + 3_000 * n) for n in range(14)]
    first.append(FileSpec("Game.exe", 7, 40_000, executable=True))
    second = [scattered_edits(s, 2, 300 + n) for n, s in enumerate(first)]
    repo, folders, _, reports = publish_builds(
        tmp_path_factory.mktemp("batches"), PRODUCT, [first, second]
    )
    return repo, folders, (reports[0].build_id, reports[1].build_id)


def test_small_files_are_patched_in_batches_each_checked(
    published: Published, tmp_path: Path
) -> None:
    repo, folders, (first, second) = published
    with serving(repo) as url:
        game = tmp_path / "game"
        install(url, PRODUCT, game, build=first)
        plan, _ = plan_preview(game, second, XDELTA_ONLY)
        patched = [a for a in plan.actions if a.kind == PlanKind.PATCHED]
        assert len(patched) == FILES
        groups = list(apply._batches(sorted(patched, key=apply._size, reverse=True)))
        assert max(len(g) for g in groups) > 1  # the update below goes through batches
        report = update(game, second, XDELTA_ONLY)
    assert report.patches_applied == FILES and not report.fallbacks
    assert tree(game) == tree(folders[1])
    assert (game / "Game.exe").stat().st_mode & 0o111  # its mode set as when patched alone


@pytest.mark.parametrize("damage", ["patch object", "source, same size and time"])
def test_a_bad_patch_in_a_batch_costs_only_its_own_file(
    published: Published, tmp_path: Path, damage: str
) -> None:
    """A patch object whose bytes are not its name (its download fails), or a patch
    source the player changed where a quick look cannot see it (the patch then fails or
    makes other bytes, which the worker's hash of the output catches): that one file
    falls back to its chunks, the rest of its batch is patched."""
    source, folders, (first, second) = published
    repo = tmp_path / "repo"
    shutil.copytree(source, repo)
    victim = "data/item05.bin"
    with serving(repo) as url:
        game = tmp_path / "game"
        install(url, PRODUCT, game, build=first)
        plan, _ = plan_preview(game, second, XDELTA_ONLY)
        (action,) = [a for a in plan.actions if a.path == victim]
        (diff,) = action.diffs
        if damage == "patch object":
            (chunk,) = diff.chunks
            stored = repo / layout.patch_store_rel(PRODUCT, chunk.compressed_md5)
            stored.write_bytes(zlib.compress(random.Random(1).randbytes(3000)))
        else:
            changed = game / victim
            st = changed.stat()
            data = bytearray(changed.read_bytes())
            for at in range(0, len(data), 1000):
                data[at] ^= 0xFF
            changed.write_bytes(data)
            os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))
        report = update(game, second, XDELTA_ONLY)
    ((path, reason),) = report.fallbacks
    assert path == victim
    if damage == "patch object":
        assert "could not be downloaded" in reason, reason
    else:
        assert "not the file the patch was made for" in reason, reason
    assert report.patches_applied == FILES - 1
    assert tree(game) == tree(folders[1])
    state = GameDir(game).load_state()
    assert state is not None
    assert (diff.md5_source, diff.md5_target) in state.failed_patches  # never retried in a loop
