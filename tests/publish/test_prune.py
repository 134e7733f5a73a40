"""prune and promote against real published repositories, checked with the independent reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, next_build, scattered_edits, write_build
from core.errors import LocalIOError, RepositoryLockedError, UsageError
from core.format import layout
from core.format.depot import DepotManifest
from core.publish.catalog import Catalog
from core.publish.lock import RepoLock
from core.publish.promote import promote
from core.publish.prune import prune
from core.publish.publisher import PublishOptions, publish
from tests.support import gogreader
from tests.support.helpers import tree

PRODUCT = "4242"


def small_builds(count: int, seed: int = 1) -> list[list[FileSpec]]:
    """``count`` successive builds of a ~1.5 MB game: quick to publish, still patchable."""
    specs = [
        FileSpec("game.exe", seed, 600_000, executable=True),
        FileSpec("data/a.pak", seed + 1, 700_000),
        FileSpec("data/b.txt", seed + 2, 30_000),
        FileSpec("data/c.bin", seed + 3, 5_000),
    ]
    builds = [specs]
    for n in range(1, count):
        nxt = next_build(builds[-1], seed * 100 + n, changed=0.5)
        nxt[0] = scattered_edits(nxt[0], 3, seed * 1000 + n)
        builds.append(nxt)
    return builds


def snapshot(repo: Path) -> dict[str, tuple[int, int]]:
    """Every file of the repository except publisher state, with size and mtime."""
    return {
        p.relative_to(repo).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in repo.rglob("*")
        if p.is_file() and layout.STATE_DIR not in p.relative_to(repo).parts
    }


def object_count(repo: Path) -> int:
    return sum(1 for p in (repo / layout.CONTENT_ROOT).rglob("*") if p.is_file())


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Four public builds of PRODUCT, published with a patch depth of 3."""
    repo = tmp_path / "repo"
    dirs = []
    for n, specs in enumerate(small_builds(4), 1):
        folder = write_build(tmp_path / f"b{n}", specs)
        publish(folder, repo, PublishOptions(PRODUCT, version_name=f"1.{n}", jobs=2))
        dirs.append(folder)
    return repo, dirs


def listed(repo: Path, product: str = PRODUCT) -> list[tuple[str, str | None]]:
    doc = json.loads((repo / layout.builds_rel(product, "windows")).read_text())
    return [(i["build_id"], i["branch"]) for i in doc["items"]]


def test_prune_keeps_the_newest_builds_and_they_still_rebuild(
    published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    repo, dirs = published
    before = object_count(repo)
    report = prune(repo, PRODUCT, keep_builds=2, grace=0)
    assert listed(repo) == [("4", None), ("3", None)]
    assert sorted(b for _, b, _ in report.builds_removed) == ["1", "2"]
    assert object_count(repo) < before
    assert report.objects_deleted == before - object_count(repo) and report.bytes_freed > 0
    src = gogreader.DirSource(repo)
    for n in ("3", "4"):
        out = tmp_path / f"rebuilt{n}"
        gogreader.rebuild(src, PRODUCT, n, "windows", out)
        assert tree(out) == tree(dirs[int(n) - 1])
    pairs = sorted(p.relative_to(repo).as_posix() for p in repo.glob("products/*/patches/*/*.json"))
    assert pairs == [layout.patch_pair_rel(PRODUCT, "3", "4")]
    patched = tmp_path / "patched"
    write_build(patched, small_builds(4)[2])
    done = gogreader.apply_patch(src, PRODUCT, "3", "4", "windows", patched)
    assert done and all(tree(patched)[p] == tree(dirs[3])[p] for p in done)
    graph = json.loads((repo / layout.graph_rel(PRODUCT, "windows")).read_text())
    assert [b["build_id"] for b in graph["builds"]] == ["4", "3"]
    assert [(e["from_build_id"], e["to_build_id"]) for e in graph["edges"]] == [("3", "4")]
    with pytest.raises(gogreader.ReaderError):
        gogreader.rebuild(src, PRODUCT, "1", "windows", tmp_path / "gone")


def test_keep_names_an_extra_build(published: tuple[Path, list[Path]], tmp_path: Path) -> None:
    repo, dirs = published
    prune(repo, PRODUCT, keep_builds=1, keep=["1"], grace=0)
    assert listed(repo) == [("4", None), ("1", None)]
    out = tmp_path / "one"
    gogreader.rebuild(gogreader.DirSource(repo), PRODUCT, "1", "windows", out)
    assert tree(out) == tree(dirs[0])
    assert (repo / layout.patch_pair_rel(PRODUCT, "1", "4")).is_file()


def test_dry_run_changes_nothing_and_predicts_the_real_run(
    published: tuple[Path, list[Path]],
) -> None:
    repo, _ = published
    before = snapshot(repo)
    dry = prune(repo, PRODUCT, keep_builds=2, grace=0, dry_run=True)
    assert snapshot(repo) == before
    real = prune(repo, PRODUCT, keep_builds=2, grace=0)
    assert (dry.objects_deleted, dry.bytes_freed) == (real.objects_deleted, real.bytes_freed)
    assert dry.builds_removed == real.builds_removed
    assert dry.pairs_removed == real.pairs_removed


def test_objects_wait_out_the_grace_period(published: tuple[Path, list[Path]]) -> None:
    repo, _ = published
    count = object_count(repo)
    first = prune(repo, PRODUCT, keep_builds=2, grace=3600, now=1_000_000.0)
    assert first.objects_deleted == 0 and first.objects_waiting > 0
    assert object_count(repo) == count  # builds dropped from the listing, objects kept
    early = prune(repo, PRODUCT, keep_builds=2, grace=3600, now=1_003_599.0)
    assert early.objects_deleted == 0 and early.objects_waiting == first.objects_waiting
    late = prune(repo, PRODUCT, keep_builds=2, grace=3600, now=1_003_600.0)
    assert late.objects_deleted == first.objects_waiting
    assert object_count(repo) == count - first.objects_waiting


def test_pruning_one_product_never_touches_another(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    other = write_build(tmp_path / "other", small_builds(1, seed=9)[0])
    publish(other, repo, PublishOptions("777", version_name="x"))
    for n, specs in enumerate(small_builds(3), 1):
        publish(write_build(tmp_path / f"b{n}", specs), repo, PublishOptions(PRODUCT))
    prune(repo, PRODUCT, keep_builds=1, grace=0)
    out = tmp_path / "out"
    gogreader.rebuild(gogreader.DirSource(repo), "777", "1", "windows", out)
    assert tree(out) == tree(other)


def test_branches_are_pruned_separately(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    builds = small_builds(4)
    for n, branch in enumerate([None, "beta", "beta", None], 1):
        folder = write_build(tmp_path / f"b{n}", builds[n - 1])
        publish(folder, repo, PublishOptions(PRODUCT, branch=branch, patch_depth=2))
    # beta's first build forks from public build 1; then each branch patches from its own
    pairs = sorted((p.parent.name, p.stem) for p in repo.glob("products/*/patches/*/*.json"))
    assert pairs == [("1", "2"), ("1", "4"), ("2", "3")]
    prune(repo, PRODUCT, keep_builds=1, grace=0)
    assert listed(repo) == [("4", None), ("3", "beta")]


def test_promote_lists_the_build_again_without_copying_chunks(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    builds = small_builds(3)
    dirs = [write_build(tmp_path / f"b{n}", s) for n, s in enumerate(builds, 1)]
    publish(dirs[0], repo, PublishOptions(PRODUCT, version_name="1.0"))
    publish(dirs[1], repo, PublishOptions(PRODUCT, version_name="1.1"))
    publish(dirs[2], repo, PublishOptions(PRODUCT, version_name="2.0-beta", branch="beta"))
    store = repo / layout.store_prefix_rel(PRODUCT)
    chunks_before = sorted(p.name for p in store.rglob("*") if p.is_file())
    report = promote(repo, PublishOptions(PRODUCT, branch=None), "3")
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == chunks_before
    assert listed(repo)[0] == ("3", None) and ("3", "beta") in listed(repo)
    assert {e.from_build for e in report.edges} == {"1", "2"}
    patched = tmp_path / "patched"
    write_build(patched, builds[1])
    src = gogreader.DirSource(repo)
    done = gogreader.apply_patch(src, PRODUCT, "2", "3", "windows", patched)
    assert done and all(tree(patched)[p] == tree(dirs[2])[p] for p in done)
    again = promote(repo, PublishOptions(PRODUCT, branch=None), "3")
    assert again.unchanged


def test_promote_reads_only_the_builds_it_patches_from(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    builds = small_builds(3)
    for n, (specs, branch) in enumerate(zip(builds, [None, None, "beta"], strict=True), 1):
        folder = write_build(tmp_path / f"b{n}", specs)
        publish(folder, repo, PublishOptions(PRODUCT, branch=branch))
    catalog = Catalog(layout.RepoLayout(repo), PRODUCT)
    oldest = catalog.listing("windows").find("1")
    assert oldest is not None
    (repo / layout.meta_rel(catalog.build_manifest(oldest).depots[0].manifest)).unlink()
    # With --patch-depth 1 only build 2 is patched from, so build 1's manifests go unread.
    report = promote(repo, PublishOptions(PRODUCT, branch=None, patch_depth=1), "3")
    assert [e.from_build for e in report.edges] == ["2"]
    assert listed(repo)[0] == ("3", None)


def test_a_build_on_two_branches_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    for n, (specs, branch) in enumerate(zip(small_builds(2), [None, "beta"], strict=True), 1):
        folder = write_build(tmp_path / f"b{n}", specs)
        publish(folder, repo, PublishOptions(PRODUCT, branch=branch))
    promote(repo, PublishOptions(PRODUCT, branch=None), "2")
    assert set(listed(repo)) == {("1", None), ("2", None), ("2", "beta")}
    reads: list[str] = []
    original = Catalog.depot_manifest

    def counted(self: Catalog, manifest_id: str) -> DepotManifest:
        reads.append(manifest_id)
        return original(self, manifest_id)

    monkeypatch.setattr(Catalog, "depot_manifest", counted)
    report = prune(repo, PRODUCT, keep_builds=3, grace=0)
    assert report.objects_deleted == 0 and not report.builds_removed
    assert len(reads) == len(set(reads)) == 2


def test_a_sweep_that_cannot_write_says_so(published: tuple[Path, list[Path]]) -> None:
    repo, _ = published
    (repo / layout.STATE_DIR / "unreferenced.json").mkdir(parents=True)  # not a file
    with pytest.raises(LocalIOError, match="Could not prune"):
        prune(repo, PRODUCT, keep_builds=1, grace=3600)


def test_refusals(published: tuple[Path, list[Path]]) -> None:
    repo, _ = published
    with pytest.raises(UsageError):
        prune(repo, PRODUCT, keep_builds=0)
    with pytest.raises(UsageError):
        prune(repo, "12x", keep_builds=1)
    with pytest.raises(UsageError):
        prune(repo, PRODUCT, keep=["../1"])
    with RepoLock(repo / layout.STATE_DIR), pytest.raises(RepositoryLockedError):
        prune(repo, PRODUCT, keep_builds=1, grace=0)
