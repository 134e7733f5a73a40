"""The planner: one test per rule over hand-made manifests, then invariants over many
random ones, then the route through the version chain."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import pytest

from core.format.depot import Chunk, DepotFile, SfcRef, SmallFilesContainer
from core.format.graph import GraphEdge, PatchGraph
from core.format.pack import PackEntry, PackObject, object_link
from core.format.patch import DepotDiff
from core.format.paths import collision_key
from core.update.packs import spans_for
from core.update.plan import (
    KINDS,
    FileAction,
    Hop,
    Plan,
    PlanKind,
    choose_route,
    plan_update,
)
from core.update.route import PackStep

# --- helpers ---------------------------------------------------------------------------


def h(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def chunk(name: str, size: int = 100, packed: int | None = None) -> Chunk:
    """A chunk whose content is called ``name``: same name, same bytes."""
    return Chunk(
        h("data:" + name), size, h("zlib:" + name), size // 2 if packed is None else packed
    )


def file(path: str, *chunks: Chunk, sfc: SfcRef | None = None) -> DepotFile:
    """A file made of ``chunks``; its md5 follows from them, as real content's would."""
    md5 = h("file:" + ",".join(c.md5 for c in chunks)) if len(chunks) > 1 else None
    return DepotFile(path, tuple(chunks), md5=md5, sfc_ref=sfc)


def files(*items: DepotFile) -> dict[str, DepotFile]:
    return {f.path: f for f in items}


def diff(
    source: DepotFile | str, target: DepotFile | str, packed: int, name: str = "", size: int = 0
) -> DepotDiff:
    """A delta from ``source`` to ``target`` (files or md5s) with ``packed`` compressed bytes."""
    md5_source = source.file_md5 if isinstance(source, DepotFile) else source
    md5_target = target.file_md5 if isinstance(target, DepotFile) else target
    path_source = source.path if isinstance(source, DepotFile) else "x"
    path_target = target.path if isinstance(target, DepotFile) else "x"
    body = name or f"{md5_source}>{md5_target}"
    delta = Chunk(h("delta:" + body), size or packed * 2, h("dz:" + body), packed)
    return DepotDiff(path_source, path_target, md5_source, md5_target, h(body), (delta,))


def entry(
    source: str,
    target: str,
    length: int,
    codec: str = "hdiffpatch",
    size_source: int = 0,
    size_target: int = 0,
    path: str = "x",
) -> PackEntry:
    """A pack entry from md5 ``source`` to ``target``; placed by :func:`pack_steps`."""
    return PackEntry(
        path, path, codec, 0, 0, length, h(f"entry:{source}>{target}"), source, target,
        None, None, size_source, size_target,
    )  # fmt: skip


def pack_steps(entries: Sequence[PackEntry], objects: int = 1) -> tuple[PackStep, ...]:
    """``entries`` laid out one after another over ``objects`` pack objects."""
    if not entries:
        return ()
    groups = [list(entries[i::objects]) for i in range(objects)]
    steps = []
    for n, group in enumerate(g for g in groups if g):
        size = sum(e.length for e in group)
        md5 = h(f"object {n} " + ",".join(e.md5 for e in group))
        obj = PackObject(md5, object_link("1", md5), size)
        offset = 0
        for e in group:
            steps.append(PackStep(replace(e, object=n, offset=offset), obj))
            offset += e.length
    return tuple(steps)


def hops(*diffs_per_hop: Sequence[DepotDiff]) -> tuple[Hop, ...]:
    """Hops 1→2→3… carrying the given deltas."""
    return tuple(Hop(str(i + 1), str(i + 2), tuple(d)) for i, d in enumerate(diffs_per_hop))


def plan(old: Mapping[str, DepotFile] | None, new: Mapping[str, DepotFile], **kwargs: Any) -> Plan:
    route: Sequence[Hop] = kwargs.pop("hops", ())
    from_build = route[0].from_build if route else (None if old is None else "1")
    to_build = route[-1].to_build if route else "2"
    return plan_update(old, new, from_build=from_build, to_build=to_build, hops=route, **kwargs)


def only(p: Plan, path: str) -> FileAction:
    [action] = [a for a in p.actions if a.path == path]
    return action


A, B, C, D, E = (chunk(n) for n in "ABCDE")
BIG = [chunk(f"big{i}", 1000, 600) for i in range(4)]


# --- one rule at a time ----------------------------------------------------------------


def test_fresh_install_is_all_new_and_costs_a_full_download() -> None:
    new = files(file("a", A), file("b", B, C), file("empty"))
    p = plan(None, new)
    assert p.counts() == {**dict.fromkeys(KINDS, 0), "new": 3}
    assert only(p, "b").fetch == (0, 1)
    assert p.download_bytes == p.full_bytes == 150
    assert p.from_build is None and p.route == ()


def test_unchanged_deleted_and_new() -> None:
    old = files(file("keep", A), file("gone", B))
    new = files(file("keep", A), file("added", C))
    p = plan(old, new)
    assert [(a.kind, a.path) for a in p.actions] == [
        ("new", "added"),
        ("deleted", "gone"),
        ("unchanged", "keep"),
    ]
    assert only(p, "gone").target is None
    assert p.download_bytes == 50 and p.peak_disk_bytes == 100


def test_counts_and_of_kind_cover_every_kind() -> None:
    p = plan(files(file("a", A)), files(file("a", A)))
    assert p.counts() == {
        "new": 0,
        "patched": 0,
        "packed": 0,
        "chunked": 0,
        "full": 0,
        "deleted": 0,
        "unchanged": 1,
    }
    assert p.of_kind("unchanged") == p.actions and p.of_kind("new") == ()
    with pytest.raises(ValueError):
        p.of_kind("moved")


def test_kinds_are_plan_kinds_that_read_as_the_words_reports_use() -> None:
    # Reports, --json output, the library and the window compare these words: the enum
    # must not change them.
    assert [str(k) for k in KINDS] == [
        "new",
        "patched",
        "packed",
        "chunked",
        "full",
        "deleted",
        "unchanged",
    ]
    assert tuple(PlanKind) == KINDS
    old = files(file("same", A), file("changed", B), file("gone", C))
    new = files(file("same", A), file("changed", B, D), file("added", E))
    p = plan(old, new)
    assert all(type(a.kind) is PlanKind for a in p.actions)
    assert {a.kind for a in p.actions} == {"unchanged", "chunked", "deleted", "new"}
    assert json.loads(json.dumps(p.counts())) == {
        "new": 1,
        "patched": 0,
        "packed": 0,
        "chunked": 1,
        "full": 0,
        "deleted": 1,
        "unchanged": 1,
    }
    assert p.of_kind("deleted") == p.of_kind(PlanKind.DELETED) == (only(p, "gone"),)


def test_modified_lists_the_changed_files_on_disk_not_the_missing_ones() -> None:
    old = files(file("edited", A), file("lost", B), file("fine", C))
    p = plan(old, old, local_md5={"edited": h("mine"), "lost": ""})
    assert p.modified == ("edited",)
    assert p.patch_error == ""  # only the caller that fetched the patches can know


def test_paths_match_case_insensitively() -> None:
    p = plan(
        files(file("Data/Map.bin", A)),
        files(file("Data/Map.bin", A)),
        local_md5={"data/map.BIN": ""},
    )
    assert only(p, "Data/Map.bin").kind == "full"


def test_case_only_rename_is_one_action_under_the_new_spelling() -> None:
    """Deleting "Data/Map.bin" beside a new "data/map.bin" would delete the new file on a
    case-insensitive disk: the rename is staged from the old spelling instead."""
    p = plan(files(file("Data/Map.bin", A, B)), files(file("data/map.bin", A, B)))
    assert p.counts()["deleted"] == 0
    action = only(p, "data/map.bin")
    assert action.kind == "chunked" and action.source_path == "Data/Map.bin"
    assert action.fetch == () and [r.source_path for r in action.reuse] == ["Data/Map.bin"] * 2
    assert action.download_bytes == 0


def test_case_only_rename_with_new_content_is_patched_from_the_old_spelling() -> None:
    old_file, new_file = file("Game.EXE", *BIG[:2]), file("game.exe", *BIG[2:])
    delta = diff(old_file, new_file, 50)
    p = plan(files(old_file), files(new_file), hops=hops([delta]))
    action = only(p, "game.exe")
    assert (action.kind, action.source_path, action.diffs) == ("patched", "Game.EXE", (delta,))
    assert p.counts()["deleted"] == 0


def test_case_only_rename_of_a_modified_file_still_names_the_old_spelling() -> None:
    p = plan(files(file("README", A)), files(file("readme", A)), local_md5={"README": h("x")})
    action = only(p, "readme")
    assert (action.kind, action.source_path, action.reuse) == ("full", "README", ())


@pytest.mark.parametrize(
    ("local", "kind"),
    [
        ({}, "unchanged"),
        ({"a": ""}, "full"),  # missing: fetched again
        ({"a": h("mod")}, "full"),  # modified by the player: replaced
        ({"a": A.md5}, "unchanged"),  # "modified" to what the manifest says
    ],
)
def test_unchanged_needs_the_installed_content_on_disk(local: dict[str, str], kind: str) -> None:
    assert only(plan(files(file("a", A)), files(file("a", A)), local_md5=local), "a").kind == kind


def test_a_file_already_holding_the_target_content_is_unchanged() -> None:
    p = plan(files(file("a", A)), files(file("a", B)), local_md5={"a": B.md5})
    assert only(p, "a").kind == "unchanged" and p.download_bytes == 0


def test_a_missing_file_is_rebuilt_from_another_copy_on_disk() -> None:
    old = files(file("a", A, B), file("copy", A, B))
    p = plan(old, files(file("a", A, B), file("copy", A, B)), local_md5={"a": ""})
    action = only(p, "a")
    assert action.kind == "chunked" and {r.source_path for r in action.reuse} == {"copy"}
    assert action.download_bytes == 0


def test_renamed_file_with_the_same_content_costs_nothing() -> None:
    p = plan(files(file("old/name.pak", *BIG)), files(file("new/name.pak", *BIG)))
    moved = only(p, "new/name.pak")
    assert moved.kind == "chunked" and moved.fetch == () and moved.download_bytes == 0
    assert [r.offset for r in moved.reuse] == [0, 1000, 2000, 3000]
    assert only(p, "old/name.pak").kind == "deleted"
    assert p.download_bytes == 0 and p.peak_disk_bytes == 4000


def test_chunk_reuse_points_at_the_chunk_in_its_source() -> None:
    old = files(file("a", A, B), file("b", C, D, E))
    new = files(file("a", D, A, chunk("fresh"), E))
    action = only(plan(old, new), "a")
    assert action.kind == "chunked" and action.fetch == (2,)
    assert [(r.index, r.source_path, r.offset) for r in action.reuse] == [
        (0, "b", 100),
        (1, "a", 0),
        (3, "b", 200),
    ]
    assert action.download_bytes == 50


def test_chunk_reuse_prefers_the_files_own_old_version() -> None:
    old = files(file("a", B, A), file("0-first", A, C))
    action = only(plan(old, files(file("a", A, D))), "a")
    assert [(r.source_path, r.offset) for r in action.reuse] == [("a", 100)]


def test_a_chunk_matches_by_md5_and_size() -> None:
    short = Chunk(A.md5, 99, A.compressed_md5, 50)
    assert only(plan(files(file("b", short)), files(file("a", A))), "a").kind == "new"


def test_modified_and_missing_files_are_never_sources() -> None:
    old_a, old_b = file("a", *BIG[:2]), file("b", *BIG[:2])
    new_a = file("a", *BIG[:2], BIG[2])
    new = files(new_a, file("c", *BIG[:2]))
    route = hops([diff(old_a, new_a, 10)])
    local = {"a": h("modded"), "b": ""}
    p = plan(files(old_a, old_b), new, hops=route, local_md5=local)
    assert only(p, "a").kind == "full" and only(p, "a").reuse == ()
    assert only(p, "c").kind == "new"


def test_patch_is_taken_when_cheaper_and_carries_the_best_fallback() -> None:
    old_a = file("a", *BIG[:2])
    new_a = file("a", BIG[0], BIG[2])
    delta = diff(old_a, new_a, 40, size=300)
    p = plan(files(old_a), files(new_a), hops=hops([delta]))
    action = only(p, "a")
    assert (action.kind, action.source_path, action.diffs) == ("patched", "a", (delta,))
    assert action.download_bytes == p.download_bytes == 40
    assert action.fallback is not None and action.fallback.kind == "chunked"
    assert action.fallback.fetch == (1,) and action.fallback.download_bytes == 600
    assert p.route == ("1", "2")
    assert p.peak_disk_bytes == 2000 + 300


@pytest.mark.parametrize(
    ("patch_bytes", "kind"),
    [(599, "patched"), (600, "patched"), (601, "chunked")],  # ties go to the patch
)
def test_patch_against_chunks(patch_bytes: int, kind: str) -> None:
    old_a, new_a = file("a", *BIG[:2]), file("a", BIG[0], BIG[2])
    p = plan(files(old_a), files(new_a), hops=hops([diff(old_a, new_a, patch_bytes)]))
    assert only(p, "a").kind == kind


def test_patch_more_expensive_than_a_full_download_is_not_used() -> None:
    old_a, new_a = file("a", A), file("a", B)
    p = plan(files(old_a), files(new_a), hops=hops([diff(old_a, new_a, 51)]))
    assert only(p, "a").kind == "full" and p.route == ()


def test_multi_hop_chain_skips_hops_where_the_file_did_not_change() -> None:
    v1, v2, v4 = file("a", BIG[0]), file("a", BIG[1]), file("a", BIG[2])
    first, last = diff(v1, v2, 10), diff(v2, v4, 20)
    other = diff(file("b", A), file("b", B), 5)
    p = plan(files(v1), files(v4), hops=hops([first], [other], [last]))
    action = only(p, "a")
    assert action.diffs == (first, last) and action.download_bytes == 30
    assert p.route == ("1", "2", "3", "4")


def test_chain_breaks_where_the_file_changed_without_a_patch() -> None:
    v1, v2, v3, v4 = (file("a", c) for c in BIG)
    route = hops([diff(v1, v2, 10)], [], [diff(v3, v4, 10)])  # 2→3 changed it unpatched
    assert only(plan(files(v1), files(v4), hops=route), "a").kind == "full"


def test_chain_follows_md5s_not_paths() -> None:
    """``b`` starts with the content ``a`` had; the delta published for ``a`` at the first
    hop must not drag ``b`` off its own chain (a greedy match would)."""
    old = files(file("a", BIG[0]), file("b", BIG[0]))
    new_a, new_b = file("a", BIG[1]), file("b", BIG[2])
    for_a, for_b = diff(old["a"], new_a, 10), diff(old["b"], new_b, 20)
    p = plan(old, files(new_a, new_b), hops=hops([for_a], [for_b]))
    assert only(p, "a").diffs == (for_a,) and only(p, "b").diffs == (for_b,)


def test_chain_prefers_the_delta_published_for_this_path() -> None:
    old = files(file("a", BIG[0]), file("b", BIG[0]))
    new = files(file("a", BIG[1]), file("b", BIG[1]))
    for_a, for_b = diff(old["a"], new["a"], 10), diff(old["b"], new["b"], 10)
    p = plan(old, new, hops=hops([for_a, for_b]))
    assert only(p, "a").diffs == (for_a,) and only(p, "b").diffs == (for_b,)
    assert p.download_bytes == 10  # one object, fetched once


def test_cheapest_chain_wins_over_the_first_one() -> None:
    v1, v2, v3 = file("a", BIG[0]), file("a", BIG[1]), file("a", BIG[2])
    route = hops([diff(v1, v2, 100)], [diff(v2, v3, 100), diff(v1, v3, 150, name="skip")])
    assert only(plan(files(v1), files(v3), hops=route), "a").download_bytes == 150


def test_renamed_and_changed_file_is_patched_from_its_old_path() -> None:
    old_file = file("bin/game.exe", *BIG[:2])
    new_file = file("bin64/game.exe", BIG[0], BIG[3])
    delta = diff(old_file, new_file, 30)
    p = plan(files(old_file), files(new_file), hops=hops([delta]))
    action = only(p, "bin64/game.exe")
    assert (action.kind, action.source_path) == ("patched", "bin/game.exe")
    assert action.fallback is not None and action.fallback.kind == "chunked"
    assert only(p, "bin/game.exe").kind == "deleted"


def test_avoided_pairs_are_never_used() -> None:
    v1, v2, v3 = file("a", BIG[0]), file("a", BIG[1]), file("a", BIG[2])
    cheap, dear = diff(v1, v3, 10), diff(v1, v2, 30)
    route = hops([cheap, dear], [diff(v2, v3, 30)])
    p = plan(files(v1), files(v3), hops=route, avoid={(v1.file_md5, v3.file_md5)})
    assert only(p, "a").download_bytes == 60
    blocked = {(v1.file_md5, v3.file_md5), (v2.file_md5, v3.file_md5)}
    assert only(plan(files(v1), files(v3), hops=route, avoid=blocked), "a").kind == "full"


def test_no_patches_when_told_not_to() -> None:
    old_a, new_a = file("a", A), file("a", B)
    p = plan(files(old_a), files(new_a), hops=hops([diff(old_a, new_a, 1)]), use_patches=False)
    assert only(p, "a").kind == "full" and p.route == ()


def test_kept_files_are_left_alone() -> None:
    old = files(file("mod.cfg", A), file("gone.cfg", B), file("other", C))
    new = files(file("MOD.cfg", D), file("other", E))
    p = plan(old, new, keep={"mod.cfg", "GONE.CFG"}, local_md5={"mod.cfg": h("player")})
    assert [(a.kind, a.path) for a in p.actions] == [("unchanged", "MOD.cfg"), ("full", "other")]


def test_small_files_container_replaces_the_small_files_chunks_when_cheaper() -> None:
    smalls = [file(f"s{i}", chunk(f"s{i}", 40, 30), sfc=SfcRef(i * 40, 40)) for i in range(4)]
    sfc = SmallFilesContainer((chunk("sfc", 160, 70),))
    p = plan(
        files(file("s0", smalls[0].chunks[0])), files(*smalls, file("big", BIG[0])), small_files=sfc
    )
    assert p.sfc_chunks == sfc.chunks
    assert [(a.kind, a.from_sfc, a.fetch, a.download_bytes) for a in p.actions] == [
        ("new", False, (0,), 600),
        ("unchanged", False, (), 0),
        *[("new", True, (), 0)] * 3,
    ]
    assert p.download_bytes == 600 + 70
    assert p.peak_disk_bytes == 1000 + 120 + 160


@pytest.mark.parametrize("sfc_packed", [90, 100])  # the three small files cost 90
def test_small_files_container_is_not_fetched_when_dearer(sfc_packed: int) -> None:
    smalls = [file(f"s{i}", chunk(f"s{i}", 40, 30), sfc=SfcRef(i * 40, 40)) for i in range(3)]
    sfc = SmallFilesContainer((chunk("sfc", 120, sfc_packed),))
    p = plan(None, files(*smalls), small_files=sfc)
    assert p.sfc_chunks == () and not any(a.from_sfc for a in p.actions)
    assert p.download_bytes == 90


def test_small_file_chunked_from_disk_becomes_full_from_the_container() -> None:
    two = file("two", chunk("s0", 40, 30), chunk("s1", 40, 30), sfc=SfcRef(0, 80))
    sfc = SmallFilesContainer((chunk("sfc", 80, 20),))
    p = plan(files(file("two", chunk("s0", 40, 30))), files(two), small_files=sfc)
    action = only(p, "two")
    assert (action.kind, action.from_sfc, action.reuse) == ("full", True, ())


def test_objects_are_counted_once() -> None:
    shared = chunk("shared", 1000, 400)
    new = files(file("a", shared, A), file("b", shared), file("c", A, A))
    p = plan(None, new)
    assert p.full_bytes == 450 == p.download_bytes
    assert [a.download_bytes for a in p.actions] == [450, 0, 0]


def test_actions_are_sorted_by_path() -> None:
    old = files(file("m", A), file("z", B))
    p = plan(old, files(file("b", C), file("m", D), file("a", A)))
    assert [a.path for a in p.actions] == ["a", "b", "m", "z"]


def test_hops_must_lead_from_the_installed_build_to_the_target() -> None:
    route = hops([], [])
    with pytest.raises(ValueError, match="do not lead"):
        plan_update({}, {}, from_build="2", to_build="3", hops=route)
    with pytest.raises(ValueError, match="do not lead"):
        plan_update({}, {}, from_build="1", to_build="3", hops=(route[0], route[0]))
    with pytest.raises(ValueError, match="do not lead"):
        plan_update(None, {}, from_build=None, to_build="3", hops=route)


def test_paths_that_collide_are_refused() -> None:
    with pytest.raises(ValueError, match="collide"):
        plan(None, files(file("a", A), file("A", B)))


# --- pack entries ---------------------------------------------------------------------


def packed_hop(old: DepotFile, new: DepotFile, length: int, **changes: Any) -> PackStep:
    e = entry(old.file_md5, new.file_md5, length, "hdiffpatch", old.size, new.size, new.path)
    return pack_steps([replace(e, **changes)])[0]


def with_packs(diffs: Sequence[DepotDiff], steps: Sequence[PackStep]) -> tuple[Hop, ...]:
    return (Hop("1", "2", tuple(diffs), tuple(steps)),)


@pytest.mark.parametrize(
    ("entry_bytes", "patch_bytes", "kind"),
    [(30, 40, "packed"), (40, 40, "packed"), (41, 40, "patched"), (601, 700, "chunked")],
)
def test_a_pack_entry_against_the_patch_and_the_chunks(
    entry_bytes: int, patch_bytes: int, kind: str
) -> None:
    old_a, new_a = file("a", *BIG[:2]), file("a", BIG[0], BIG[2])
    step = packed_hop(old_a, new_a, entry_bytes)
    route = with_packs([diff(old_a, new_a, patch_bytes)], [step])
    action = only(plan(files(old_a), files(new_a), hops=route), "a")
    assert action.kind == kind
    if kind == "packed":
        assert action.packs == (step,) and action.diffs == () and action.source_path == "a"
        assert action.download_bytes == entry_bytes
        assert action.fallback is not None and action.fallback.kind == "chunked"


def test_a_pack_plan_counts_its_range_and_its_disk() -> None:
    old_a, new_a = file("a", *BIG[:2]), file("a", BIG[0], BIG[2])
    step = packed_hop(old_a, new_a, 30)
    p = plan(files(old_a), files(new_a), hops=with_packs([], [step]))
    assert p.download_bytes == 30 and p.route == ("1", "2")
    assert p.peak_disk_bytes == new_a.size + 30 + 30  # the staged file, the span, the entry


def test_an_hdiffpatch_entry_above_the_bound_is_never_used() -> None:
    old_a, new_a = file("a", *BIG[:2]), file("a", BIG[0], BIG[2])
    step = packed_hop(old_a, new_a, 30)
    route = with_packs([], [step])
    assert only(plan(files(old_a), files(new_a), hops=route), "a").kind == "packed"
    bounded = plan(files(old_a), files(new_a), hops=route, hdiff_max_bytes=new_a.size - 1)
    assert only(bounded, "a").kind == "chunked"
    xdelta = with_packs([], [replace(step, entry=replace(step.entry, codec="xdelta3"))])
    bounded = plan(files(old_a), files(new_a), hops=xdelta, hdiff_max_bytes=new_a.size - 1)
    assert only(bounded, "a").kind == "packed"  # xdelta3 entries have no such bound


@pytest.mark.parametrize("field", ["size_source", "size_target"])
def test_an_entry_whose_sizes_are_not_the_manifests_is_never_used(field: str) -> None:
    old_a, new_a = file("a", *BIG[:2]), file("a", BIG[0], BIG[2])
    step = packed_hop(old_a, new_a, 30, **{field: 12345})
    p = plan(files(old_a), files(new_a), hops=with_packs([], [step]))
    assert only(p, "a").kind == "chunked"


def test_a_plan_with_packs_never_costs_more_than_without() -> None:
    # a's and b's entries are cheap, but 1000 bytes nobody needs sit between them in
    # their object: the one range would carry them along, so both take their patches.
    old_a, new_a, old_b, new_b = file("a", A), file("a", B), file("b", C), file("b", D)
    a = entry(old_a.file_md5, new_a.file_md5, 10, "hdiffpatch", old_a.size, new_a.size, "a")
    b = entry(old_b.file_md5, new_b.file_md5, 10, "hdiffpatch", old_b.size, new_b.size, "b")
    steps = pack_steps([a, entry(h("x"), h("y"), 1000), b])
    route = with_packs([diff(old_a, new_a, 20), diff(old_b, new_b, 20)], steps)
    p = plan(files(old_a, old_b), files(new_a, new_b), hops=route)
    assert p.counts()["patched"] == 2 and p.download_bytes == 40
    # Without the patches, the whole files (50 bytes each) beat that range too.
    p = plan(files(old_a, old_b), files(new_a, new_b), hops=with_packs([], steps))
    assert p.counts()["full"] == 2 and p.download_bytes == 100


# --- invariants over random manifests ----------------------------------------------------

NAMES = ["a.dat", "B.dat", "data/c.bin", "Data/d.bin", "e.pak", "f.pak", "g.txt", "h.exe"]


@dataclass
class Scenario:
    old: dict[str, DepotFile] | None
    new: dict[str, DepotFile]
    hops: tuple[Hop, ...]
    local: dict[str, str]
    avoid: set[tuple[str, str]]
    keep: set[str]
    small_files: SmallFilesContainer | None
    use_patches: bool


def random_name(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    return "".join(c.upper() if rng.random() < 0.2 else c for c in name)


def random_file(rng: random.Random, path: str, pool: list[Chunk], sfc_offset: int) -> DepotFile:
    chunks = [rng.choice(pool) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    small = len(chunks) == 1 and chunks[0].size <= 60 and rng.random() < 0.7
    return file(path, *chunks, sfc=SfcRef(sfc_offset, chunks[0].size) if small else None)


def random_build(
    rng: random.Random, pool: list[Chunk], base: dict[str, DepotFile] | None
) -> dict[str, DepotFile]:
    build: dict[str, DepotFile] = {}
    offset = 0
    sources = list(base.values()) if base else []
    for _ in range(rng.randint(0, 7)):
        path = random_name(rng)
        if any(collision_key(p) == collision_key(path) for p in build):
            continue
        twin = next((f for f in sources if collision_key(f.path) == collision_key(path)), None)
        if twin is not None and rng.random() < 0.4:
            made = file(path, *twin.chunks, sfc=twin.sfc_ref)
        elif sources and rng.random() < 0.15:
            made = file(path, *rng.choice(sources).chunks)  # moved or copied
        else:
            made = random_file(rng, path, pool, offset)
        build[path] = made
        offset += made.size if made.sfc_ref else 0
    return build


def random_hops(
    rng: random.Random, old: dict[str, DepotFile], new: dict[str, DepotFile]
) -> tuple[Hop, ...]:
    count = rng.randint(1, 3)
    per_hop: list[list[DepotDiff]] = [[] for _ in range(count)]
    per_pack: list[list[PackEntry]] = [[] for _ in range(count)]
    with_packs = rng.random() < 0.6
    olds = list(old.values())
    for target in new.values():
        if not olds or rng.random() < 0.3:
            continue
        source = rng.choice(olds)
        steps = sorted(rng.sample(range(count), rng.randint(1, count)))
        md5s = [source.file_md5] + [h(f"mid{rng.random()}") for _ in steps[1:]]
        md5s.append(target.file_md5)
        sizes = [source.size] + [rng.randint(0, 99) for _ in steps[1:]] + [target.size]
        if rng.random() < 0.1:  # an index at odds with the manifests
            sizes[-1] += 1
        codec = "hdiffpatch" if rng.random() < 0.7 else "xdelta3"
        for n, step in enumerate(steps):
            packed = rng.randint(1, 700)
            per_hop[step].append(diff(md5s[n], md5s[n + 1], packed, name=f"{rng.random()}"))
            if with_packs and rng.random() < 0.8:
                length = rng.choice([packed, rng.randint(1, 700)])
                e = entry(md5s[n], md5s[n + 1], length, codec, sizes[n], sizes[n + 1], target.path)
                per_pack[step].append(e)
    for hop_diffs in per_hop:  # deltas for content that neither build has
        if rng.random() < 0.5:
            hop_diffs.append(diff(h(f"junk{rng.random()}"), h(f"junk{rng.random()}"), 5))
        rng.shuffle(hop_diffs)
    return tuple(
        Hop(str(i + 1), str(i + 2), tuple(d), pack_steps(e, rng.randint(1, 3)))
        for i, (d, e) in enumerate(zip(per_hop, per_pack, strict=True))
    )


def random_scenario(rng: random.Random) -> Scenario:
    pool = [
        chunk(f"p{i}", rng.choice([20, 40, 60, 300, 1000]), rng.randint(0, 700)) for i in range(10)
    ]
    fresh = rng.random() < 0.1
    old = None if fresh else random_build(rng, pool, None)
    new = random_build(rng, pool, old)
    route = random_hops(rng, old, new) if old else ()
    local: dict[str, str] = {}
    for path in old or {}:
        roll = rng.random()
        if roll < 0.15:
            local[path.upper() if rng.random() < 0.3 else path] = ""
        elif roll < 0.3:
            local[path] = h(f"mod{roll}")
    pairs = [(d.md5_source, d.md5_target) for hop in route for d in hop.diffs]
    avoid = {p for p in pairs if rng.random() < 0.2}
    keep = {p for p in (old or {}) if rng.random() < 0.1}
    sfc_size = sum(f.size for f in new.values() if f.sfc_ref)
    sfc = (
        SmallFilesContainer((chunk(f"sfc{rng.random()}", sfc_size, rng.randint(1, 150)),))
        if sfc_size and rng.random() < 0.7
        else None
    )
    return Scenario(old, new, route, local, avoid, keep, sfc, rng.random() < 0.85)


def run(s: Scenario, use_packs: bool = True) -> Plan:
    return plan_update(
        s.old,
        s.new,
        from_build=None if s.old is None else "1",
        to_build=s.hops[-1].to_build if s.hops else "2",
        hops=s.hops,
        local_md5=s.local,
        avoid=s.avoid,
        use_patches=s.use_patches,
        small_files=s.small_files,
        keep=s.keep,
        use_packs=use_packs,
    )


def distinct(chunks: Sequence[Chunk]) -> int:
    return sum({c.compressed_md5: c.compressed_size for c in chunks}.values())


def standalone_cost(action: FileAction) -> int:
    assert action.target is not None
    if action.kind == "patched":
        return sum(d.compressed_size for d in action.diffs)
    if action.kind == "packed":
        return sum(s.entry.length for s in action.packs)
    return distinct([action.target.chunks[i] for i in action.fetch])


def check(s: Scenario, p: Plan) -> None:
    old = s.old or {}
    old_by_key = {collision_key(path): f for path, f in old.items()}
    local = {collision_key(path): md5 for path, md5 in s.local.items()}
    kept = {collision_key(path) for path in s.keep}

    def sound(path: str) -> bool:
        key = collision_key(path)
        return path in old and local.get(key, old[path].file_md5) == old[path].file_md5

    assert [a.path for a in p.actions] == sorted(a.path for a in p.actions)
    live = [a for a in p.actions if a.kind != "deleted"]
    assert sorted(a.path for a in live) == sorted(s.new)
    assert all(a.target == s.new[a.path] for a in live)
    new_keys = {collision_key(path) for path in s.new}
    assert sorted(a.path for a in p.of_kind("deleted")) == sorted(
        path for path in old if collision_key(path) not in new_keys | kept
    )
    if s.old is None:
        assert {a.kind for a in p.actions} <= {"new"}
    assert p.counts() == {k: len(p.of_kind(k)) for k in KINDS}

    for a in live:
        target = a.target
        assert target is not None
        key = collision_key(a.path)
        if a.kind == "unchanged":
            installed = old_by_key[key]
            assert key in kept or local.get(key, installed.file_md5) == target.file_md5
            continue
        kinds = ("patched", "packed", "chunked")
        assert a.kind in (("full",) if key in old_by_key else ("new",)) + kinds
        if a.kind != "packed":
            assert a.packs == ()
        if a.kind not in ("patched", "packed"):
            assert a.diffs == () and a.fallback is None
            if a.from_sfc:
                assert a.fetch == () and a.reuse == () and target.sfc_ref is not None
            else:
                indexes = sorted([*a.fetch, *(r.index for r in a.reuse)])
                assert indexes == list(range(len(target.chunks)))
                assert (a.kind == "chunked") == bool(a.reuse)
        for r in a.reuse:
            assert sound(r.source_path)
            source = old[r.source_path]
            starts = [sum(c.size for c in source.chunks[:i]) for i in range(len(source.chunks))]
            wanted = target.chunks[r.index]
            assert any(
                start == r.offset and (c.md5, c.size) == (wanted.md5, wanted.size)
                for start, c in zip(starts, source.chunks, strict=True)
            )
        full = distinct(target.chunks)
        if not a.from_sfc:
            assert standalone_cost(a) <= full
        if a.kind == "patched":
            assert s.use_patches and a.source_path is not None and sound(a.source_path)
            assert a.diffs[0].md5_source == old[a.source_path].file_md5
            assert a.diffs[-1].md5_target == target.file_md5
            assert all(x.md5_target == y.md5_source for x, y in pairwise(a.diffs))
            assert not {(d.md5_source, d.md5_target) for d in a.diffs} & s.avoid
            positions = [next(i for i, hop in enumerate(s.hops) if d in hop.diffs) for d in a.diffs]
            assert positions == sorted(set(positions))
            fb = a.fallback
            assert fb is not None and fb.kind in ("chunked", "full", "new")
            assert standalone_cost(a) <= fb.download_bytes == standalone_cost(fb)
            assert p.route == (s.hops[0].from_build, *(hop.to_build for hop in s.hops))
        if a.kind == "packed":
            assert s.use_patches and a.source_path is not None and sound(a.source_path)
            assert a.diffs == ()
            e = [step.entry for step in a.packs]
            assert e[0].md5_source == old[a.source_path].file_md5
            assert e[-1].md5_target == target.file_md5
            assert all(x.md5_target == y.md5_source for x, y in pairwise(e))
            assert e[0].size_source == old[a.source_path].size and e[-1].size_target == target.size
            assert all(x.size_target == y.size_source for x, y in pairwise(e))
            positions = [next(i for i, hop in enumerate(s.hops) if x in hop.packs) for x in a.packs]
            assert positions == sorted(set(positions))
            fb = a.fallback
            assert fb is not None and fb.kind in ("chunked", "full", "new")
            assert standalone_cost(a) <= fb.download_bytes == standalone_cost(fb)
            assert p.route == (s.hops[0].from_build, *(hop.to_build for hop in s.hops))
        if a.source_path is not None and a.kind not in ("patched", "packed"):
            assert collision_key(a.source_path) == key and a.source_path != a.path

    if not p.of_kind("patched") and not p.of_kind("packed"):
        assert p.route == ()
    sfc = distinct(p.sfc_chunks)
    steps = [x for a in p.of_kind("packed") for x in a.packs]
    spans = spans_for(steps)
    assert sorted(x.object.id for x in spans) == sorted({x.object.id for x in steps})
    assert all(any(sp.holds(x.entry) for sp in spans) for x in steps)
    carried = sum(sp.length - sp.needed for sp in spans)
    assert p.download_bytes == sum(a.download_bytes for a in p.actions) + sfc + carried
    assert p.full_bytes == distinct([c for f in s.new.values() for c in f.chunks])
    if s.small_files is None or not p.sfc_chunks:
        assert not any(a.from_sfc for a in p.actions)


def test_invariants_over_random_manifests() -> None:
    kinds_seen: set[str] = set()
    for seed in range(3000):
        rng = random.Random(seed)
        scenario = random_scenario(rng)
        p = run(scenario)
        try:
            check(scenario, p)
        except AssertionError as error:
            raise AssertionError(f"seed {seed}: {scenario}\n{p}") from error
        assert run(scenario) == p  # pure and deterministic
        assert p.download_bytes <= run(scenario, use_packs=False).download_bytes
        shuffled = dict(sorted(scenario.new.items(), key=lambda kv: h(kv[0])))
        assert run(Scenario(**{**vars(scenario), "new": shuffled})) == p
        kinds_seen |= {a.kind for a in p.actions} | {"sfc" for a in p.actions if a.from_sfc}
    assert kinds_seen == {*KINDS, "sfc"}  # the generator reaches every rule


# --- route -------------------------------------------------------------------------------


def edge(a: str, b: str, cost: int, patch: str = "") -> GraphEdge:
    return GraphEdge(a, b, h(patch or f"{a}>{b}"), f"/p/{a}/{b}", cost, cost, 1)


def graph(*edges: GraphEdge) -> PatchGraph:
    return PatchGraph("1", "windows", (), edges)


def ids(route: tuple[GraphEdge, ...] | None) -> list[str] | None:
    return None if route is None else [route[0].from_build, *(e.to_build for e in route)]


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([edge("1", "3", 100), edge("1", "2", 30), edge("2", "3", 30)], ["1", "2", "3"]),
        ([edge("1", "3", 50), edge("1", "2", 30), edge("2", "3", 30)], ["1", "3"]),
        ([edge("1", "3", 60), edge("1", "2", 30), edge("2", "3", 30)], ["1", "3"]),  # tie
        ([edge("1", "2", 10), edge("2", "1", 1), edge("2", "3", 10)], ["1", "2", "3"]),
        ([edge("1", "2", 0), edge("2", "3", 0), edge("1", "3", 0)], ["1", "3"]),
        ([edge("1", "2", 10), edge("3", "4", 10)], None),
        ([edge("3", "1", 10)], None),
        ([], None),
    ],
)
def test_choose_route(edges: list[GraphEdge], expected: list[str] | None) -> None:
    assert ids(choose_route(graph(*edges), "1", "3")) == expected
    assert ids(choose_route(graph(*reversed(edges)), "1", "3")) == expected


def test_route_ties_of_equal_length_do_not_depend_on_edge_order() -> None:
    edges = [edge("1", "a", 5), edge("a", "9", 5), edge("1", "b", 5), edge("b", "9", 5)]
    assert ids(choose_route(graph(*edges), "1", "9")) == ["1", "a", "9"]
    assert ids(choose_route(graph(*reversed(edges)), "1", "9")) == ["1", "a", "9"]


def test_route_picks_the_cheaper_of_two_parallel_edges() -> None:
    dear, cheap = edge("1", "2", 20, "dear"), edge("1", "2", 10, "cheap")
    assert choose_route(graph(dear, cheap), "1", "2") == (cheap,)


def test_no_route_to_the_installed_build() -> None:
    assert choose_route(graph(edge("1", "1", 0), edge("1", "2", 1)), "1", "1") is None


def test_route_refuses_negative_costs() -> None:
    with pytest.raises(ValueError, match="negative"):
        choose_route(graph(edge("1", "2", -1)), "1", "2")
