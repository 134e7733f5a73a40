"""Every downloaded object is flushed to disk before it is renamed into place, so a power
cut never leaves a torn object under its final name (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import fs
from core.demo.sample import FileSpec, write_build
from core.publish.publisher import PublishOptions, publish
from core.update.engine import install
from tests.support.helpers import serving, tree

PRODUCT = "1207664643"
pytestmark = pytest.mark.usefixtures("home")


def test_downloads_are_fsynced_before_their_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = write_build(
        tmp_path / "b1",
        [FileSpec("Game.exe", 1, 300_000, executable=True), FileSpec("data/big.pak", 2, 1 << 20)],
    )
    publish(build, tmp_path / "repo", PublishOptions(PRODUCT, version_name="1.0"))
    flushed: list[Path] = []
    real = fs.fsync_file

    def recording(path: Path) -> None:
        # Called while the download still has its partial name: the rename comes after.
        assert path.name.endswith(".part") and path.is_file(), path
        flushed.append(path)
        real(path)

    monkeypatch.setattr(fs, "fsync_file", recording)
    with serving(tmp_path / "repo") as url:
        install(url, PRODUCT, tmp_path / "game")
    assert tree(tmp_path / "game") == tree(build)
    downloads = [p for p in flushed if p.parent.name == "downloads"]
    assert len(downloads) >= 2  # one object per file at least
    assert len({p.name for p in downloads}) == len(downloads)
