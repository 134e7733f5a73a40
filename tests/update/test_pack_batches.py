"""Small files patched through pack entries, several to a pool job (core/update/apply.py,
``_batches`` and ``PatchPool.decode_entries``), as xdelta3 patches are: each file of a
batch is patched, checked by the worker's hash and flushed by staging (so the commit need
not), and a failed entry costs only its own file, which is not remembered as a failed
pair. The repository, packs and all, is published for real and served over HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, scattered_edits
from core.gamedir.folder import GameDir
from core.update import apply
from core.update.engine import install, plan_preview, update
from core.update.options import EngineOptions
from core.update.plan import PlanKind
from tests.support.helpers import serving, tree
from tests.support.simulator import publish_builds

PRODUCT = "1207664652"
PACKS = EngineOptions(use_packs=True, patch_jobs=2)
FILES = 15
pytestmark = pytest.mark.usefixtures("home")

Published = tuple[Path, list[Path], tuple[str, str]]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    first = [FileSpec(f"data/item{n:02}.bin", 60 + n, 20_000 + 3_000 * n) for n in range(14)]
    first.append(FileSpec("Game.exe", 9, 40_000, executable=True))
    second = [scattered_edits(s, 2, 500 + n) for n, s in enumerate(first)]
    repo, folders, _, reports = publish_builds(
        tmp_path_factory.mktemp("packbatches"), PRODUCT, [first, second]
    )
    return repo, folders, (reports[0].build_id, reports[1].build_id)


def test_small_packed_files_are_patched_in_batches_flushed_by_staging(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, folders, (first, second) = published
    flushed: list[str] = []
    real = GameDir.staged_flushed

    def record(self: GameDir, rel: str) -> None:
        flushed.append(rel)
        real(self, rel)

    with serving(repo) as url:
        game = tmp_path / "game"
        install(url, PRODUCT, game, build=first)
        plan, _ = plan_preview(game, second, PACKS)
        packed = [a for a in plan.actions if a.kind == PlanKind.PACKED]
        assert len(packed) == FILES
        groups = list(apply._batches(sorted(packed, key=apply._size, reverse=True)))
        assert max(len(g) for g in groups) > 1  # the update below goes through batches
        monkeypatch.setattr(GameDir, "staged_flushed", record)
        report = update(game, second, PACKS)
    assert report.patches_applied == FILES and not report.fallbacks
    assert tree(game) == tree(folders[1])
    assert (game / "Game.exe").stat().st_mode & 0o111  # its mode set as when patched alone
    assert sorted(flushed) == sorted(a.path for a in packed)
    assert not [p for p in (game / ".slipstream").rglob("e-*")]  # no cut-out entry left


def test_a_changed_source_in_a_batch_costs_only_its_own_file(
    published: Published, tmp_path: Path
) -> None:
    """A patch source the player changed where a quick look cannot see it (same size and
    time): its entry makes other bytes, which the worker's hash catches; that file falls
    back to its chunks, the rest of its batch is patched, and no pair is remembered (the
    pair's xdelta3 patch may still be good)."""
    repo, folders, (first, second) = published
    victim = "data/item05.bin"
    with serving(repo) as url:
        game = tmp_path / "game"
        install(url, PRODUCT, game, build=first)
        changed = game / victim
        st = changed.stat()
        data = bytearray(changed.read_bytes())
        for at in range(0, len(data), 1000):
            data[at] ^= 0xFF
        changed.write_bytes(data)
        os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))
        report = update(game, second, PACKS)
    ((path, reason),) = report.fallbacks
    assert path == victim
    assert "not the file the patch was made for" in reason, reason
    assert report.patches_applied == FILES - 1
    assert tree(game) == tree(folders[1])
    state = GameDir(game).load_state()
    assert state is not None and not state.failed_patches
