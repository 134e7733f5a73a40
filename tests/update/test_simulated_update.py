"""Install and update through the in-memory repository (tests/support/simulator.py): what
the engine fetches, object by object, and how it meets damaged documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.demo.sample import FileSpec, next_build, scattered_edits
from core.errors import BuildNotFoundError, CancelledError
from core.format import layout
from core.library.db import Library
from core.net.fetcher import Fetcher
from core.net.source import RepoSource
from core.progress import CancelToken, Phase, Progress
from core.update.engine import install, plan_preview, update
from core.update.options import EngineOptions
from tests.support.helpers import tree
from tests.support.simulator import BASE_URL, RepositorySimulator, publish_builds, truncate

PRODUCT = "1207664643"
MB = 1 << 20
pytestmark = pytest.mark.usefixtures("home")


def builds() -> list[list[FileSpec]]:
    first = [
        FileSpec("Game.exe", 1, 2 * MB + 12_345, executable=True),
        FileSpec("data/levels.pak", 2, 3 * MB + 777),
        FileSpec("data/config.ini", 5, 2_000),
        FileSpec("readme.txt", 7, 4_321),
    ]
    second = next_build(first, 101, changed=0.0)
    second = [scattered_edits(s, 3, 7 + i) if s.size > MB else s for i, s in enumerate(second)]
    return [first, second]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[set[str]]]:
    repo, folders, stores, _ = publish_builds(tmp_path_factory.mktemp("sim"), PRODUCT, builds())
    return repo, folders, stores


def objects_of(repo: Path, build_id: str, every: bool = False) -> set[str]:
    """The objects an install of ``build_id`` needs, read from its manifests: each file's
    chunks, or the small files container for the files packed in it (``every``: both)."""
    source = RepoSource(BASE_URL, RepositorySimulator(repo))
    item = source.listing(PRODUCT, "windows").find(build_id)
    assert item is not None
    manifest = source.build_manifest(item)
    chunks = []
    for entry in manifest.depots_for("en-US"):
        depot = source.depot_manifest(entry.manifest)
        for f in depot.files:
            chunks += f.chunks if f.sfc_ref is None or every else ()
        if depot.small_files and any(f.sfc_ref for f in depot.files):
            chunks += depot.small_files.chunks
    return {layout.store_rel(PRODUCT, c.compressed_md5) for c in chunks}


def test_install_then_update_fetches_each_object_once_and_no_chunk_of_a_patched_file(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, folders, stores = published
    sim = RepositorySimulator(repo)
    # xdelta3 patches only: this is about GOG's patch depots (packs: test_packs.py).
    options = EngineOptions(transport=sim, patch_jobs=1, use_packs=False)
    game = tmp_path / "game"
    builds_list = sim.get_json(
        f"{sim.base_url}/products/{PRODUCT}/os/windows/builds?generation=2",
        max_bytes=MB,
        what="builds",
    )
    first, second = sorted(i["build_id"] for i in builds_list["items"])

    install(sim.base_url, PRODUCT, game, build=first, options=options)
    assert tree(game) == tree(folders[0])
    installed = sim.objects()
    assert sorted(installed) == sorted(objects_of(repo, first))  # exactly b1's, each once

    plan, _ = plan_preview(game, second, options)
    patched = {a.path for a in plan.of_kind("patched")}
    assert patched  # the scenario has patches to apply
    patched_chunks = {
        layout.store_rel(PRODUCT, c.compressed_md5)
        for a in plan.of_kind("patched")
        if a.target is not None
        for c in a.target.chunks
    }
    sim.clear()

    report = update(game, second, options)
    assert tree(game) == tree(folders[1])
    assert report.patches_applied == len(patched) and not report.fallbacks
    fetched = sim.objects()
    assert sim.twice() == []
    assert not set(fetched) & patched_chunks  # a patched file's chunks are never fetched
    assert not set(fetched) & set(installed)  # what the folder has is never fetched again
    patch_prefix = layout.patch_store_prefix_rel(PRODUCT) + "/"
    assert any(o.startswith(patch_prefix) for o in fetched)
    assert set(fetched) <= stores[1] - stores[0]  # only objects the second publish added


def test_damaged_manifests_are_fetched_again(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, folders, _ = published
    sim = RepositorySimulator(repo)
    meta = sorted((repo / "content-system/v2/meta").rglob("*"))
    manifests = ["/" + p.relative_to(repo).as_posix() for p in meta if p.is_file()]
    for path in manifests:
        sim.damage(path, truncate, times=1)
    builds_path = f"/products/{PRODUCT}/os/windows/builds"
    sim.damage(builds_path, truncate, times=1)
    install(sim.base_url, PRODUCT, tmp_path / "game", options=EngineOptions(transport=sim))
    assert tree(tmp_path / "game") == tree(folders[1])
    assert sim.count(builds_path) == 2
    assert any(sim.count(p) == 2 for p in manifests)
    assert all(sim.count(p) in (0, 2) for p in manifests)  # each one fetched was damaged once


def garble_host(body: bytes) -> bytes:
    return body.replace(b"repo.example", b"rep'.example")


def test_a_garbled_host_in_the_builds_list_is_never_contacted(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, folders, _ = published
    sim = RepositorySimulator(repo)
    builds_path = f"/products/{PRODUCT}/os/windows/builds"
    sim.damage(builds_path, garble_host, times=1)
    install(sim.base_url, PRODUCT, tmp_path / "game", options=EngineOptions(transport=sim))
    assert tree(tmp_path / "game") == tree(folders[1])
    assert sim.count(builds_path) == 2 and sim.foreign == []

    sim.damage(builds_path, garble_host, times=None)  # garbled on every copy: skipped
    with pytest.raises(BuildNotFoundError, match=r"Skipped build 2: .*rep'\.example"):
        install(sim.base_url, PRODUCT, tmp_path / "other", options=EngineOptions(transport=sim))
    assert sim.foreign == []


def test_a_link_to_a_host_the_source_does_not_name_is_refused(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, _, _ = published
    sim = RepositorySimulator(repo)
    builds_path = f"/products/{PRODUCT}/os/windows/builds"
    sim.damage(builds_path, lambda b: b.replace(b"repo.example", b"evil.example"), times=None)
    with pytest.raises(BuildNotFoundError, match=r"evil\.example, a host https://repo\.example"):
        install(sim.base_url, PRODUCT, tmp_path / "game", options=EngineOptions(transport=sim))
    assert sim.foreign == [] and sim.count(builds_path) == 2


def test_engine_options_hand_out_the_transport_they_were_given(tmp_path: Path) -> None:
    sim = RepositorySimulator(tmp_path)
    assert EngineOptions(transport=sim).fetcher() is sim
    with EngineOptions().fetcher() as fetcher:
        assert isinstance(fetcher, Fetcher)


def test_garbled_hosts_in_the_secure_link_and_the_patch_index_are_fetched_again(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, folders, _ = published
    sim = RepositorySimulator(repo)
    # xdelta3 patches only: their chunks are what needs the second secure link.
    options = EngineOptions(transport=sim, patch_jobs=1, use_packs=False)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, build="1", options=options)
    link, patches = f"/products/{PRODUCT}/secure_link", f"/products/{PRODUCT}/patches"
    sim.damage(link, garble_host, times=1)
    sim.damage(patches, garble_host, times=1)
    sim.clear()
    report = update(game, "2", options)
    assert tree(game) == tree(folders[1])
    assert report.patches_applied > 0 and not report.fallbacks
    assert sim.foreign == []
    # Two secure links (chunks and patch chunks), the first one damaged; one patch index.
    assert sim.count(link) == 3 and sim.count(patches) == 2


def test_an_update_without_patches_fetches_only_chunks_the_folder_lacks(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, folders, _ = published
    sim = RepositorySimulator(repo)
    options = EngineOptions(transport=sim, patch_jobs=1, use_patches=False)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, build="1", options=options)
    sim.clear()
    report = update(game, "2", options)
    assert tree(game) == tree(folders[1]) and report.patches_applied == 0
    fetched = set(sim.objects())
    assert sim.twice() == [] and fetched
    # A new small file comes as its own chunk, not in the whole container: either may be.
    needed = objects_of(repo, "2", every=True) - objects_of(repo, "1", every=True)
    assert fetched <= needed  # never a chunk the installed build already has
    assert not any("/patches/" in p for p in sim.paths())  # no patch document, no delta


def test_a_cancelled_update_records_the_bytes_it_really_downloaded(
    published: tuple[Path, list[Path], list[set[str]]], tmp_path: Path
) -> None:
    repo, _, _ = published
    sim = RepositorySimulator(repo)
    options = EngineOptions(transport=sim, use_patches=False, jobs=1)
    game = tmp_path / "game"
    install(sim.base_url, PRODUCT, game, build="1", options=options)
    cancel = CancelToken()

    def sink(progress: Progress) -> None:
        if progress.phase == Phase.DOWNLOADING and progress.done > 0:
            cancel.cancel()

    sim.clear()
    with pytest.raises(CancelledError):
        update(game, "2", options, progress=sink, cancel=cancel)
    fetched = sum(f.length for f in sim.fetches if f.kind == "object")
    assert fetched > 0
    with Library.open() as library:
        last = library.history(game)[0]
    assert last.outcome == "cancelled" and last.bytes_downloaded == fetched
