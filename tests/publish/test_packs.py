"""Patch packs as the publisher writes them (core/publish/packs.py): real build folders, a
real repository, every entry decoded with the real codecs.

Documents are read as raw zlib JSON and checked against the strict reader the client uses
(``core.format.pack.parse_pack_index``); entries are cut from the objects by their own
offsets and lengths and applied to the old files, so a pack is right when every file
comes out with its target md5.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest

from core.delta import hdiff
from core.delta.codecs import decode_entry
from core.format.depot import DepotFile
from core.format.pack import CODECS, parse_pack_index
from core.publish import packs
from core.publish.catalog import Catalog
from core.publish.packs import batches
from core.publish.prune import prune
from core.publish.publisher import PublishOptions, PublishReport, publish
from tests.delta.test_hdiff import code_like, shifted

PRODUCT = "5151"
CONTENT = "content-system/v2"
KiB = 1024


def write(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def version_one() -> dict[str, bytes]:
    rng = random.Random(1)
    files = {
        "bin/game": code_like(1, 400 * KiB),
        "lib/libengine.so": code_like(2, 300 * KiB),
        "lib/librender.so": code_like(3, 200 * KiB),
        "data/textures.pak": rng.randbytes(300 * KiB),
    }
    for n in range(12):  # small files: many entries, few objects
        files[f"data/levels/level{n:02}.cfg"] = code_like(100 + n, 20 * KiB + n * 997)
    return files


def version_two(one: dict[str, bytes]) -> dict[str, bytes]:
    two = dict(one)
    for n, rel in enumerate(sorted(one)):
        if rel != "data/textures.pak":  # one file unchanged
            two[rel] = shifted(one[rel], 50 + n)
    return two


def publish_dir(folder: Path, repo: Path, version: str, **options: Any) -> PublishReport:
    return publish(folder, repo, PublishOptions(product=PRODUCT, version_name=version, **options))


def read_doc(repo: Path, link: str) -> Any:
    return json.loads(zlib.decompress((repo / link.lstrip("/")).read_bytes()))


def graph(repo: Path) -> Any:
    return json.loads((repo / f"products/{PRODUCT}/os/windows/graph.json").read_text())


def edge(repo: Path, from_build: str, to_build: str) -> dict[str, Any]:
    return next(
        e
        for e in graph(repo)["edges"]
        if (e["from_build_id"], e["to_build_id"]) == (from_build, to_build)
    )


def pack_files(repo: Path) -> set[str]:
    root = repo / CONTENT / "packs"
    return {p.relative_to(repo).as_posix() for p in root.rglob("*") if p.is_file()}


def decode_all(repo: Path, index: Any, old: Path, new: Path, tmp: Path) -> list[str]:
    """Cut every entry from its object, check its md5, apply it to the old file and
    compare with the new one; return the codecs used."""
    codecs = []
    for n, entry in enumerate(index["files"]):
        obj = index["objects"][entry["object"]]
        body = (repo / obj["link"].lstrip("/")).read_bytes()
        assert hashlib.md5(body).hexdigest() == obj["id"] and len(body) == obj["size"]
        data = body[entry["offset"] : entry["offset"] + entry["length"]]
        assert hashlib.md5(data).hexdigest() == entry["md5"]
        delta, out = tmp / f"entry{n}", tmp / f"out{n}"
        delta.write_bytes(data)
        source = old / entry["path_source"].replace("\\", "/")  # the manifests' form
        decode_entry(entry["codec"], source, delta, out, size_target=entry["size_target"])
        target = (new / entry["path_target"].replace("\\", "/")).read_bytes()
        assert out.read_bytes() == target, entry["path_target"]
        assert entry["md5_target"] == hashlib.md5(target).hexdigest()
        assert entry["sha256_target"] == hashlib.sha256(target).hexdigest()
        assert entry["md5_source"] == hashlib.md5(source.read_bytes()).hexdigest()
        assert entry["size_source"] == source.stat().st_size
        codecs.append(entry["codec"])
    return codecs


@pytest.fixture
def builds(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    one = version_one()
    two = version_two(one)
    return write(tmp_path / "v1", one), write(tmp_path / "v2", two), two


def test_a_publish_writes_a_pack_whose_entries_make_the_new_files(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]
) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    report = publish_dir(v2, repo, "1.1")

    ref = edge(repo, "1", "2")["pack"]
    raw = (repo / ref["link"].lstrip("/")).read_bytes()
    assert hashlib.md5(raw).hexdigest() == ref["id"]  # content-addressed like manifests
    assert ref["link"] == f"/{CONTENT}/packs/meta/{ref['id'][:2]}/{ref['id'][2:4]}/{ref['id']}"
    doc = json.loads(zlib.decompress(raw))
    parsed = parse_pack_index(doc, "the pack index")
    assert (parsed.product_id, parsed.from_build_id, parsed.to_build_id) == (PRODUCT, "1", "2")
    assert ref["files"] == len(doc["files"]) == 15  # every changed file
    assert ref["bytes"] == sum(o["size"] for o in doc["objects"])
    for obj in doc["objects"]:
        md5 = obj["id"]
        assert obj["link"] == f"/{CONTENT}/packs/store/{PRODUCT}/{md5[:2]}/{md5[2:4]}/{md5}"
    codecs = decode_all(repo, doc, v1, v2, tmp_path)
    assert set(codecs) <= set(CODECS) and "hdiffpatch" in codecs
    # Largest first, and in the report and the history beside the xdelta3 bytes.
    lengths = [e["length"] for e in doc["files"]]
    assert lengths == sorted(lengths, reverse=True)
    (reported,) = report.to_json()["edges"]
    assert reported["pack_bytes"] == ref["bytes"] < reported["patch_bytes"]
    history = (repo / ".slipstream" / "history.jsonl").read_text().splitlines()
    assert json.loads(history[-1])["edges"][0]["pack_bytes"] == ref["bytes"]
    assert report.packs_encoded == 15 and report.packs_cached == 0


def test_each_entry_is_the_smaller_delta_and_pays_off(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]
) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    publish_dir(v2, repo, "1.1")
    doc = read_doc(repo, edge(repo, "1", "2")["pack"]["link"])
    patch_root = read_doc(repo, edge(repo, "1", "2")["link"])
    depot = read_doc(repo, f"/{CONTENT}/patches/meta/" + _fan(patch_root["depots"][0]["manifest"]))
    xdelta = {d["path_target"]: d["chunks"] for d in depot["depot"]["items"]}
    cache = repo / ".slipstream" / "patch-cache" / "hdiffpatch"

    for entry in doc["files"]:
        made = cache / entry["md5_source"][:2] / f"{entry['md5_source']}-{entry['md5_target']}"
        sizes = [made.stat().st_size]
        chunks = xdelta.get(entry["path_target"], [])
        if len(chunks) == 1:
            sizes.append(chunks[0]["compressedSize"])
        assert entry["length"] == min(sizes), entry["path_target"]


def _fan(md5: str) -> str:
    return f"{md5[:2]}/{md5[2:4]}/{md5}"


def test_objects_hold_at_most_the_bound_unless_one_entry_is_larger(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    bound = 6 * KiB  # the big binaries' deltas are larger, the small files' smaller
    monkeypatch.setattr(packs, "PACK_OBJECT_BYTES", bound)
    publish_dir(v2, repo, "1.1")

    doc = read_doc(repo, edge(repo, "1", "2")["pack"]["link"])
    per_object: dict[int, list[int]] = {}
    for entry in doc["files"]:
        per_object.setdefault(entry["object"], []).append(entry["length"])
    assert len(doc["objects"]) > 2
    for n, obj in enumerate(doc["objects"]):
        lengths = per_object[n]
        assert obj["size"] == sum(lengths)
        assert obj["size"] <= bound or lengths == [obj["size"]]
    assert max(per_object[0]) == max(e["length"] for e in doc["files"])
    decode_all(repo, doc, v1, v2, tmp_path)


def test_batches_fill_runs_in_order() -> None:
    assert batches([10, 7, 5, 3, 2, 1], 10) == [[0], [1], [2, 3, 4], [5]]
    assert batches([25, 4, 4, 4], 10) == [[0], [1, 2], [3]]
    assert batches([], 10) == []


def test_a_second_publish_reuses_the_cached_deltas(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]
) -> None:
    v1, v2, two = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    publish_dir(v2, repo, "1.1")
    cache = repo / ".slipstream" / "patch-cache" / "hdiffpatch"
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    three = dict(two)
    three["lib/libengine.so"] = shifted(two["lib/libengine.so"], 99)
    v3 = write(tmp_path / "v3", three)

    report = publish_dir(v3, repo, "1.2")

    # 1 → 3 shares 14 pairs with 1 → 2; only the engine library is new, from 1 and from 2.
    assert (report.packs_encoded, report.packs_cached) == (2, 14)
    after = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    assert len(after) == len(before) + 2
    assert all(after[p] == t for p, t in before.items())
    decode_all(repo, read_doc(repo, edge(repo, "1", "3")["pack"]["link"]), v1, v3, tmp_path)
    decode_all(repo, read_doc(repo, edge(repo, "2", "3")["pack"]["link"]), v2, v3, tmp_path)


def test_files_above_the_hdiffpatch_bound_get_no_hdiffpatch_entry(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    monkeypatch.setattr(hdiff, "HDIFF_MAX_BYTES", 100 * KiB)
    publish_dir(v2, repo, "1.1")

    doc = read_doc(repo, edge(repo, "1", "2")["pack"]["link"])
    for entry in doc["files"]:
        if max(entry["size_target"], entry["size_source"]) > 100 * KiB:
            assert entry["codec"] == "xdelta3", entry["path_target"]
    assert {e["codec"] for e in doc["files"]} == {"hdiffpatch", "xdelta3"}
    decode_all(repo, doc, v1, v2, tmp_path)


def test_no_packs_writes_none(tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0", packs=False)
    report = publish_dir(v2, repo, "1.1", packs=False)

    assert "pack" not in edge(repo, "1", "2")
    assert not (repo / CONTENT / "packs").exists()
    assert report.to_json()["edges"][0]["pack_bytes"] == 0


def test_prune_keeps_the_packs_of_kept_edges_only(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]
) -> None:
    v1, v2, two = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    publish_dir(v2, repo, "1.1")
    three = dict(two)
    three["bin/game"] = shifted(two["bin/game"], 98)
    publish_dir(write(tmp_path / "v3", three), repo, "1.2")
    kept = edge(repo, "2", "3")["pack"]
    kept_doc = read_doc(repo, kept["link"])
    kept_files = {kept["link"].lstrip("/")} | {o["link"].lstrip("/") for o in kept_doc["objects"]}
    everything = pack_files(repo)
    assert kept_files < everything

    waiting = prune(repo, PRODUCT, keep_builds=2)  # the grace period keeps them a while
    assert pack_files(repo) == everything and waiting.objects_waiting > 0
    prune(repo, PRODUCT, keep_builds=2, grace=0)

    assert pack_files(repo) == kept_files
    assert [(e["from_build_id"], e["to_build_id"]) for e in graph(repo)["edges"]] == [("2", "3")]
    decode_all(repo, kept_doc, v2, tmp_path / "v3", tmp_path)


def test_a_pack_whose_index_is_gone_does_not_stop_prune(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]
) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    publish_dir(v2, repo, "1.1")
    index = repo / edge(repo, "1", "2")["pack"]["link"].lstrip("/")
    index.unlink()

    prune(repo, PRODUCT, keep_builds=2, grace=0)

    assert pack_files(repo) == set()  # its objects are named by nothing now


def test_the_cli_reports_pack_bytes_beside_xdelta3_bytes(
    tmp_path: Path, builds: tuple[Path, Path, dict[str, bytes]]
) -> None:
    from core.cli.commands import describe_publish

    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0")
    text = describe_publish(publish_dir(v2, repo, "1.1"))

    assert "pack deltas: 15 encoded, 0 reused from cache" in text
    line = next(x for x in text.splitlines() if "xdelta3 patches" in x)
    assert "pack" in line and "15 files" in line
    shutil.rmtree(repo)


def test_no_packs_reaches_the_publish_and_promote_options() -> None:
    from core.cli import commands as cli

    base = ["--repo", "r", "--product", PRODUCT]
    for command in (["publish", "folder", *base], ["promote", *base, "--build", "2"]):
        plain = cli._options(cli.build_parser().parse_args(command))
        without = cli._options(cli.build_parser().parse_args([*command, "--no-packs"]))
        assert (plain.packs, without.packs) == (True, False), command[0]


@pytest.mark.parametrize("with_packs", [True, False])
def test_each_old_file_is_rebuilt_once_for_the_chain_and_the_packs(
    tmp_path: Path,
    builds: tuple[Path, Path, dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    with_packs: bool,
) -> None:
    v1, v2, _ = builds
    repo = tmp_path / "repo"
    publish_dir(v1, repo, "1.0", packs=with_packs)
    rebuilt: list[str] = []
    materialize = Catalog.materialize

    def counted(self: Catalog, item: DepotFile, dest: Path) -> None:
        rebuilt.append(item.file_md5)
        materialize(self, item, dest)

    monkeypatch.setattr(Catalog, "materialize", counted)
    report = publish_dir(v2, repo, "1.1", packs=with_packs)

    assert report.edges[0].files_patched == 15
    assert (report.packs_encoded > 0) == with_packs
    assert len(rebuilt) == len(set(rebuilt)) == 15  # the changed files' old versions
    assert not (repo / ".slipstream" / "work").exists()  # the rebuilt files are gone
