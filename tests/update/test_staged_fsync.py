"""Every staged file is on the disk before the commit names it (issue 12's power-cut gap).

The commit fsyncs its journal, the folders it renames in, the rollback point and the
state; a staged file's own bytes must be flushed before all of that, or a power cut just
after a commit could leave a new file empty under its name while the state names the new
build. These tests run real installs and updates over HTTP and record the path behind
every ``os.fsync`` of this process, in order, next to the moment the journal is written.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec, next_build, scattered_edits
from core.errors import LocalIOError
from core.gamedir import journal
from core.gamedir.folder import GameDir
from core.update.engine import install, update
from core.update.options import EngineOptions
from tests.support.helpers import serving, tree
from tests.support.simulator import publish_builds

PRODUCT = "1207664643"
MB = 1 << 20
JOURNAL = "<journal written>"

pytestmark = [
    pytest.mark.usefixtures("home"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd"),
]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    first = [
        FileSpec("Game.exe", 1, 2 * MB + 12_345, executable=True),
        FileSpec("data/levels.pak", 2, 3 * MB + 777),
        FileSpec("data/big.pak", 3, 11 * MB),  # two chunks
        FileSpec("data/config.ini", 5, 2_000),
    ]
    second = next_build(first, 101, changed=0.0)
    second = [scattered_edits(s, 3, 7 + i) if s.size > MB else s for i, s in enumerate(second)]
    second.append(FileSpec("data/added.bin", 9, 1 * MB + 3))
    repo, folders, _, _ = publish_builds(tmp_path_factory.mktemp("fsync"), PRODUCT, [first, second])
    return repo, folders


class Flushes:
    """What this process fsynced (the real path of each descriptor), in order, with a
    marker where the journal was written and the staged files that journal names."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, game: Path) -> None:
        self.log: list[str] = []
        self.named: list[set[str]] = []
        real_fsync: Callable[[int], None] = os.fsync
        real_write: Callable[..., None] = journal._write_journal

        def fsync(fd: int) -> None:
            self.log.append(os.path.realpath(f"/proc/self/fd/{fd}"))
            real_fsync(fd)

        def write_journal(game_dir: GameDir, swap: Any) -> None:
            if not swap.done:
                staged = {s.incoming for s in swap.steps if s.incoming is not None}
                self.named.append({os.path.realpath(game_dir.meta / p) for p in staged})
                self.log.append(JOURNAL)
            real_write(game_dir, swap)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(journal, "_write_journal", write_journal)

    def check(self) -> int:
        """Every staged file the first journal names was fsynced before it; the count."""
        assert self.named, "no commit was made"
        before = set(self.log[: self.log.index(JOURNAL)])
        missing = sorted(self.named[0] - before)
        assert not missing, f"staged but not flushed before the journal: {missing}"
        return len(self.named[0])


def test_an_install_flushes_every_staged_file_before_the_journal(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, folders = published
    game = tmp_path / "game"
    with serving(repo) as url:
        install(url, PRODUCT, game, build=_build_ids(url)[0])
        # An update of every file (a fresh folder of build 2) assembles them all.
        flushes = Flushes(monkeypatch, game)
        install(url, PRODUCT, tmp_path / "game-2", build=_build_ids(url)[1])
    assert tree(tmp_path / "game-2") == tree(folders[1])
    assert flushes.check() == len(tree(folders[1]))


@pytest.mark.parametrize("use_packs", [False, True], ids=["xdelta3-chains", "packs"])
def test_an_update_flushes_patched_and_assembled_files_before_the_journal(
    published: tuple[Path, list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_packs: bool,
) -> None:
    repo, folders = published
    game = tmp_path / "game"
    options = EngineOptions(use_packs=use_packs, patch_jobs=2)
    with serving(repo) as url:
        first, second = _build_ids(url)
        install(url, PRODUCT, game, build=first)
        flushes = Flushes(monkeypatch, game)
        report = update(game, second, options)
    assert tree(game) == tree(folders[1])
    assert report.patches_applied >= 3 and not report.fallbacks
    # Every changed file is staged: three patched, one new (Game.exe's edits included).
    assert flushes.check() >= 4


def test_small_files_patched_in_batches_are_flushed_before_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files under a MiB patched by one delta each go to the workers several at a time,
    # past the stager's own flush: the commit flushes them.
    first = [FileSpec(f"data/small-{n}.dat", 20 + n, 40_000 + n) for n in range(6)]
    second = [scattered_edits(s, 2, 50 + i) for i, s in enumerate(first)]
    repo, folders, _, _ = publish_builds(tmp_path / "pub", PRODUCT, [first, second])
    game = tmp_path / "game"
    with serving(repo) as url:
        one, two = _build_ids(url)
        install(url, PRODUCT, game, build=one)
        flushes = Flushes(monkeypatch, game)
        report = update(game, two, EngineOptions(use_packs=False, patch_jobs=2))
    assert tree(game) == tree(folders[1])
    assert report.patches_applied == 6 and not report.fallbacks
    assert flushes.check() == 6


def _build_ids(url: str) -> tuple[str, str]:
    from core.net.fetcher import Fetcher

    with Fetcher() as fetcher:
        listing = fetcher.get_json(
            f"{url}/products/{PRODUCT}/os/windows/builds?generation=2",
            max_bytes=MB,
            what="builds",
        )
    first, second = sorted(i["build_id"] for i in listing["items"])
    return first, second


def test_a_file_patched_alone_is_flushed_beside_its_hash_not_by_the_commit(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Staging flushes each file it patched alone on a thread of its own while the file is
    # hashed (Stager.patched_matches), and marks it flushed, so the commit has none of
    # them left to flush on its own critical path.
    repo, folders = published
    game = tmp_path / "game"
    threads: dict[str, str] = {}
    real_fsync: Callable[[int], None] = os.fsync

    def fsync(fd: int) -> None:
        threads.setdefault(os.path.realpath(f"/proc/self/fd/{fd}"), threading.current_thread().name)
        real_fsync(fd)

    with serving(repo) as url:
        first, second = _build_ids(url)
        install(url, PRODUCT, game, build=first)
        monkeypatch.setattr(os, "fsync", fsync)
        report = update(game, second, EngineOptions(use_packs=False, patch_jobs=2))
    assert tree(game) == tree(folders[1])
    assert report.patches_applied >= 3 and not report.fallbacks
    staging = os.path.realpath(GameDir(game).meta / "staging")
    patched = {p: t for p, t in threads.items() if p.startswith(staging) and p.endswith(".pak")}
    assert len(patched) >= 2, threads
    assert all(name.startswith("flush-staged") for name in patched.values()), patched


def test_assembled_files_are_flushed_off_the_assembling_threads_and_only_once(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An assembling thread hands its file's fsync to the flush threads and goes on to the
    # next file (Stager.flush_later): many flushes then wait together and the journal
    # commits them in one go. Each is marked flushed, so the commit flushes none again.
    repo, folders = published
    flushed: list[tuple[str, str]] = []
    real_fsync: Callable[[int], None] = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # not the folders the commit flushes
            path = os.path.realpath(f"/proc/self/fd/{fd}")
            flushed.append((path, threading.current_thread().name))
        real_fsync(fd)

    game = tmp_path / "game"
    staging = os.path.realpath(GameDir(game).meta / "staging")
    monkeypatch.setattr(os, "fsync", fsync)
    with serving(repo) as url:
        install(url, PRODUCT, game, build=_build_ids(url)[1])
    assert tree(game) == tree(folders[1])
    staged = [(p, t) for p, t in flushed if p.startswith(staging + os.sep)]
    assert len(staged) == len(tree(folders[1])), staged
    assert len({p for p, _ in staged}) == len(staged), "a staged file was flushed twice"
    assert all(t.startswith("flush-staged") for _, t in staged), staged


def test_a_staged_file_the_disk_cannot_flush_stops_the_update_and_changes_nothing(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, folders = published
    game = tmp_path / "game"
    real_fsync: Callable[[int], None] = os.fsync

    def failing(fd: int) -> None:
        if "/.slipstream/staging/" in os.path.realpath(f"/proc/self/fd/{fd}"):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    with serving(repo) as url:
        first, second = _build_ids(url)
        install(url, PRODUCT, game, build=first)
        monkeypatch.setattr(os, "fsync", failing)
        with pytest.raises(LocalIOError, match="Input/output error"):
            update(game, second, EngineOptions(use_packs=False, patch_jobs=2))
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert tree(game) == tree(folders[0])
        update(game, second, EngineOptions(use_packs=False, patch_jobs=2))
    assert tree(game) == tree(folders[1])


def test_a_file_counts_as_assembled_only_once_it_is_on_the_disk(
    published: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flushes run beside the assembling: the count must follow them, or a slow disk
    # would show every file assembled while the install still waits for its flushes.
    from core.progress import Phase, Progress

    repo, folders = published
    flushed: list[str] = []
    seen: list[tuple[int, int]] = []  # (files counted as assembled, staged files flushed)
    real_fsync: Callable[[int], None] = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        path = os.path.realpath(f"/proc/self/fd/{fd}")
        if "/.slipstream/staging/" in path and stat.S_ISREG(os.fstat(fd).st_mode):
            flushed.append(path)

    def sink(progress: Progress) -> None:
        if progress.phase == Phase.ASSEMBLING:
            seen.append((progress.done, len(flushed)))

    monkeypatch.setattr(os, "fsync", fsync)
    with serving(repo) as url:
        install(url, PRODUCT, tmp_path / "game", build=_build_ids(url)[1], progress=sink)
    assert seen[-1][0] == len(tree(folders[1]))
    assert all(done <= flushes for done, flushes in seen), seen
