"""Tests of the independent GOG v2 reader (tests/support/gogreader.py).

Part one runs it on real GOG documents (tests/fixtures/gog, kept in the project). Part two
writes a tiny GOG v2 repository by hand, in the publisher's layout, and checks that the reader
rebuilds both builds and applies the xdelta3 patch byte for byte, and that it refuses damaged data.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import random
import shutil
import subprocess
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import gogreader as gr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gog"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _gp(h: str) -> str:
    return f"{h[:2]}/{h[2:4]}/{h}"


# ======================================================================================
# Part one: real GOG documents


def test_builds_mixed_lists_generation_2_only(tmp_path: Path) -> None:
    doc = _fixture("builds-mixed.json")
    product = doc["items"][0]["product_id"]
    target = tmp_path / "products" / product / "os" / "windows" / "builds.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(doc))

    builds = gr.list_builds(gr.DirSource(tmp_path), product, "windows")

    assert [b["build_id"] for b in builds] == [
        "58076094395251196",
        "50001904414408462",
        "49834317046827101",
    ]
    assert [b["version_name"] for b in builds] == ["1.5 (CS) GOG 0.2", "1.5 (A)", "1.5"]
    assert "3091" not in {b["build_id"] for b in builds}  # the generation-1 item


def test_builds_mixed_links_prefer_priority_and_put_fallback_last() -> None:
    item = _fixture("builds-mixed.json")["items"][0]
    assert gr.build_links(item) == [
        "https://gog-cdn-fastly.gog.com/content-system/v2/meta/d8/1a/d81afdd5959201c063e52321cef2fbb6",
        "https://gog-cdn.gcdn.co/content-system/v2/meta/d8/1a/d81afdd5959201c063e52321cef2fbb6",
    ]
    # DirSource keeps only the path of such a URL.
    local = gr.DirSource(Path("/repo")).local_path(gr.build_links(item)[1])
    assert local == Path("/repo/content-system/v2/meta/d8/1a/d81afdd5959201c063e52321cef2fbb6")


def test_meta_v2_select_depots_and_products() -> None:
    meta = _fixture("meta-v2.json")

    selected = gr.select_depots(meta, "en-US")
    assert len(selected) == 25
    assert [d["manifest"] for d in selected] == [d["manifest"] for d in meta["depots"]]
    assert selected[0]["manifest"] == "b1b516678797013ca63b16803818cfc0"
    assert meta["offlineDepot"]["manifest"] not in {d["manifest"] for d in selected}
    assert gr.select_depots(meta, "de-DE") == []  # every depot of this build is en-US only
    starred = {**meta, "depots": [{**meta["depots"][0], "languages": ["*"]}]}
    assert gr.select_depots(starred, "de-DE") == starred["depots"]

    names = gr.product_names(meta)
    assert len(names) == 12
    assert names["1441974651"] == "Prison Architect"
    assert names["1619024184"] == "Prison Architect - Psych Ward: Warden's Edition"
    assert {d["productId"] for d in selected} == set(names)


def test_meta_v2_reads_as_zlib_or_plain_json() -> None:
    raw = (FIXTURES / "meta-v2.json").read_bytes()
    meta = _fixture("meta-v2.json")
    assert gr.read_zlib_json(zlib.compress(raw)) == meta
    assert gr.read_zlib_json(raw) == meta
    with pytest.raises(gr.ReaderError):
        gr.read_zlib_json(b"\x78\x9c not json")


def test_depot_v2_single_chunk_file_md5_is_its_chunk_md5() -> None:
    item = _fixture("depot-v2.json")["depot"]["items"][0]
    assert "md5" not in item
    assert gr.file_md5(item) == item["chunks"][0]["md5"] == "f25e9815eee7819a0208e7a22cfcbbc5"
    assert gr.normalize_path(item["path"]) == "goggame-1619024184.hashdb"


def test_secure_link_urls_as_in_the_reference() -> None:
    """Ref §4.4/§4.5: the gog-warp fastly sample and the gcore form (path without '/')."""
    fastly = {
        "endpoint_name": "fastly",
        "url": "",
        "url_format": "{base_url}/token=nva={expires_at}~dirs={dirs}~token={token}{path}",
        "parameters": {
            "base_url": "https://gog-cdn-fastly.gog.com",
            "path": "/content-system/v2/store/2034949552",
            "dirs": "4",
            "token": "0f76ef3e8f6b5d6baddc4",
            "expires_at": "1717011195",
        },
        "priority": 998,
        "max_fails": 100,
        "supports_generation": [1, 2],
        "fallback_only": False,
    }
    gcore = {
        "endpoint_name": "gcore",
        "url_format": "{base_url}/{path}?wsSecret={token}&wsTime={time}&prefix={prefix}",
        "parameters": {
            "base_url": "https://gcore.example",
            "path": "content-system/v2/store/2034949552",
            "token": "t",
            "time": 5,
            "prefix": "p",
        },
        "priority": 1,
        "supports_generation": [2],
        "fallback_only": True,
    }
    suffix = "/" + gr.galaxy_path("f1d41c76eb9639d2f8c1d3fd2057d7f1")
    assert suffix == "/f1/d4/f1d41c76eb9639d2f8c1d3fd2057d7f1"
    assert gr.endpoint_url(fastly, suffix) == (
        "https://gog-cdn-fastly.gog.com/token=nva=1717011195~dirs=4~token=0f76ef3e8f6b5d6baddc4"
        "/content-system/v2/store/2034949552/f1/d4/f1d41c76eb9639d2f8c1d3fd2057d7f1"
    )
    assert gr.endpoint_url(gcore, suffix) == (
        "https://gcore.example/content-system/v2/store/2034949552/f1/d4/"
        "f1d41c76eb9639d2f8c1d3fd2057d7f1?wsSecret=t&wsTime=5&prefix=p"
    )
    assert gr.order_endpoints([gcore, fastly]) == [fastly, gcore]
    gen1_only = {**fastly, "supports_generation": [1]}
    assert gr.order_endpoints([gen1_only, gcore]) == [gcore]


# ======================================================================================
# Part two: a tiny repository written by hand

PRODUCT = "1207000001"
DLC = "1207000002"
OLD = "50000000000000001"
NEW = "50000000000000002"
OS = "windows"
CHUNK = 100  # bytes per file chunk: the reader takes sizes from the manifest
PATCH_CHUNK = 40  # bytes per delta chunk

ItemHook = Callable[[str, dict[str, Any]], None]
DeltaHook = Callable[[str, bytes], bytes]


def _content(build: str) -> dict[str, bytes]:
    """Logical files of each build (depot path → bytes)."""
    rnd = random.Random(7)
    game_old = rnd.randbytes(730)
    game_new = game_old[:250] + b"PATCHED-CODE" + game_old[262:600] + rnd.randbytes(150)
    files = {
        "bin\\game.exe": game_old if build == OLD else game_new,
        "data\\readme.txt": b"Tiny Game, version %d\n" % (1 if build == OLD else 2) * 3,
        "data\\empty.dat": b"",
        "lang\\en.txt": b"Hello\n",
        "support\\notes.txt": b"support notes\n",
        "lang\\de.txt": b"Hallo v1\n" if build == OLD else b"Hallo v2\n",
        "dlc\\extra.pak": rnd.randbytes(260),
        "offline\\project.json": b"{}",
    }
    return files


@dataclass
class TinyRepo:
    root: Path
    expected: dict[str, dict[str, bytes]] = field(default_factory=dict)  # build → files
    chunks: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, rel: str, data: bytes) -> None:
        path = self.root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def put_doc(self, doc: Any, *, patch: bool = False) -> str:
        body = zlib.compress(json.dumps(doc, separators=(",", ":")).encode())
        ident = _md5(body)
        where = "patches/meta" if patch else "meta"
        self.put(f"content-system/v2/{where}/{_gp(ident)}", body)
        return ident

    def put_chunks(
        self, product: str, data: bytes, *, patch: bool = False, size: int = CHUNK
    ) -> list[dict[str, Any]]:
        chunks = []
        for start in range(0, len(data), size):
            piece = data[start : start + size]
            body = zlib.compress(piece, 9)
            where = "patches/store" if patch else "store"
            self.put(f"content-system/v2/{where}/{product}/{_gp(_md5(body))}", body)
            chunks.append(
                {
                    "md5": _md5(piece),
                    "size": len(piece),
                    "compressedMd5": _md5(body),
                    "compressedSize": len(body),
                }
            )
        return chunks


def _write_build(
    w: _Writer, repo: TinyRepo, build: str, item_hook: ItemHook | None
) -> dict[str, Any]:
    files = _content(build)

    def item(product: str, path: str, flags: tuple[str, ...] = ()) -> dict[str, Any]:
        data = files[path]
        it: dict[str, Any] = {
            "type": "DepotFile",
            "path": path,
            "chunks": w.put_chunks(product, data),
        }
        repo.chunks[(build, path)] = it["chunks"]
        if len(it["chunks"]) > 1:
            it["md5"] = _md5(data)
        if path.endswith(".txt"):
            it["sha256"] = hashlib.sha256(data).hexdigest()
        if flags:
            it["flags"] = list(flags)
        if item_hook:
            item_hook(build, it)
        return it

    def depot(product: str, languages: list[str], depot_doc: dict[str, Any]) -> dict[str, Any]:
        ident = w.put_doc({"version": 2, "depot": depot_doc})
        return {"productId": product, "languages": languages, "manifest": ident, "size": 1}

    main = [
        item(PRODUCT, "bin\\game.exe", ("executable",)),
        item(PRODUCT, "data\\readme.txt"),
        item(PRODUCT, "data\\empty.dat"),
        {"type": "DepotDirectory", "path": "saves\\slot1"},
    ]
    english = [item(PRODUCT, "lang\\en.txt"), item(PRODUCT, "support\\notes.txt", ("support",))]
    container = b""
    for it in english:  # both also go into a small-files container (ref §4.6)
        data = files[it["path"]]
        it["sfcRef"] = {"offset": len(container), "size": len(data)}
        container += data
    sfc = {"chunks": w.put_chunks(PRODUCT, container, size=10_000), "md5": _md5(container)}
    depots = [
        depot(PRODUCT, ["*"], {"items": main}),
        depot(PRODUCT, ["en-US"], {"items": english, "smallFilesContainer": sfc}),
        depot(PRODUCT, ["de-DE"], {"items": [item(PRODUCT, "lang\\de.txt")]}),
        depot(DLC, ["*"], {"items": [item(DLC, "dlc\\extra.pak")]}),
    ]
    offline = depot(PRODUCT, ["*"], {"items": [item(PRODUCT, "offline\\project.json")]})
    meta = {
        "version": 2,
        "baseProductId": PRODUCT,
        "buildId": build,
        "platform": OS,
        "installDirectory": "Tiny Game",
        "depots": depots,
        "offlineDepot": offline,
        "dependencies": [],
        "products": [
            {
                "productId": PRODUCT,
                "name": "Tiny Game",
                "temp_executable": "",
                "temp_arguments": "",
            },
            {"productId": DLC, "name": "Tiny DLC", "temp_executable": "", "temp_arguments": ""},
        ],
        "tags": [],
    }
    repo.expected[build] = {
        "bin/game.exe": files["bin\\game.exe"],
        "data/readme.txt": files["data\\readme.txt"],
        "data/empty.dat": b"",
        "lang/en.txt": files["lang\\en.txt"],
        f"gog-support/{PRODUCT}/support/notes.txt": files["support\\notes.txt"],
        "dlc/extra.pak": files["dlc\\extra.pak"],
    }
    return meta


def _xdelta3_encode(tmp: Path, old: bytes, new: bytes) -> bytes:
    (tmp / "old").write_bytes(old)
    (tmp / "new").write_bytes(new)
    old_file, new_file, delta = str(tmp / "old"), str(tmp / "new"), str(tmp / "d")
    command = ["xdelta3", "-e", "-f", "-S", "none", "-s", old_file, new_file, delta]
    subprocess.run(command, check=True, capture_output=True)
    return (tmp / "d").read_bytes()


def _write_patch(w: _Writer, tmp: Path, delta_hook: DeltaHook | None) -> str:
    old, new = _content(OLD), _content(NEW)
    patch_depots = []
    pairs = [(["*"], "bin\\game.exe"), (["en-US"], "data\\readme.txt"), (["de-DE"], "lang\\de.txt")]
    for languages, path in pairs:
        delta = _xdelta3_encode(tmp, old[path], new[path])
        if delta_hook:
            delta = delta_hook(path, delta)
        diff = {
            "type": "DepotDiff",
            "path_source": path,
            "path_target": path,
            "md5_source": _md5(old[path]),
            "md5_target": _md5(new[path]),
            "md5": _md5(delta),
            "chunks": w.put_chunks(PRODUCT, delta, patch=True, size=PATCH_CHUNK),
        }
        ident = w.put_doc({"depot": {"items": [diff]}}, patch=True)
        patch_depots.append(
            {"productId": PRODUCT, "languages": languages, "manifest": ident, "size": 1}
        )
    root = {
        "algorithm": "xdelta3",
        "baseProductId": PRODUCT,
        "buildId_source": OLD,
        "buildId_target": NEW,
        "clientId": "",
        "clientSecret": "",
        "products": [{"name": "Tiny Game", "productId": PRODUCT}],
        "depots": patch_depots,
    }
    return w.put_doc(root, patch=True)


def write_tiny_repo(
    root: Path, *, item_hook: ItemHook | None = None, delta_hook: DeltaHook | None = None
) -> TinyRepo:
    """The whole repository: two builds, builds.json, one patch pair (OLD → NEW)."""
    w = _Writer(root)
    repo = TinyRepo(root)
    new_id = w.put_doc(_write_build(w, repo, NEW, item_hook))
    old_id = w.put_doc(_write_build(w, repo, OLD, item_hook))
    common: dict[str, Any] = {
        "product_id": PRODUCT,
        "os": OS,
        "branch": None,
        "tags": [],
        "public": True,
    }
    builds = {
        "total_count": 3,
        "count": 3,
        "items": [
            {
                **common,
                "build_id": NEW,
                "version_name": "2.0",
                "generation": 2,
                "date_published": "2025-02-01T10:00:00+0000",
                "link": f"/content-system/v2/meta/{_gp(new_id)}",  # root-relative
            },
            {
                **common,
                "build_id": OLD,
                "version_name": "1.0",
                "generation": 2,
                "date_published": "2025-01-01T10:00:00+0000",
                "urls": [  # the _version=2 form; the fallback comes first in the document
                    {
                        "endpoint_name": "spare",
                        "url": f"https://spare.invalid/content-system/v2/meta/{_gp(old_id)}",
                        "url_format": f"https://spare.invalid/content-system/v2/meta/{_gp(old_id)}",
                        "parameters": {},
                        "priority": 50,
                        "fallback_only": True,
                    },
                    {
                        "endpoint_name": "main",
                        "url": f"https://cdn.invalid/content-system/v2/meta/{_gp(old_id)}",
                        "url_format": f"https://cdn.invalid/content-system/v2/meta/{_gp(old_id)}",
                        "parameters": {},
                        "priority": 10,
                        "fallback_only": False,
                    },
                ],
            },
            {
                **common,
                "build_id": "3001",
                "version_name": "",
                "generation": 1,
                "legacy_build_id": 12345,
                "date_published": "2015-01-01T10:00:00+0000",
                "link": "/content-system/v1/manifests/1207000001/windows/12345/repository.json",
            },
        ],
        "has_private_branches": False,
    }
    w.put(f"products/{PRODUCT}/os/{OS}/builds.json", json.dumps(builds).encode())
    tmp = root.parent / f"{root.name}-xdelta"
    tmp.mkdir()
    patch_id = _write_patch(w, tmp, delta_hook)
    shutil.rmtree(tmp)
    pair = {
        "id": patch_id,
        "from_build_id": OLD,
        "to_build_id": NEW,
        "link": f"/content-system/v2/patches/meta/{_gp(patch_id)}",
    }
    w.put(f"products/{PRODUCT}/patches/{OLD}/{NEW}.json", json.dumps(pair).encode())
    return repo


@pytest.fixture
def tiny(tmp_path: Path) -> TinyRepo:
    return write_tiny_repo(tmp_path / "repo")


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------------------
# Rebuilding


def test_tiny_builds_listing(tiny: TinyRepo) -> None:
    builds = gr.list_builds(gr.DirSource(tiny.root), PRODUCT, OS)
    assert [(b["build_id"], b["version_name"]) for b in builds] == [(NEW, "2.0"), (OLD, "1.0")]
    assert gr.build_links(builds[1])[0].startswith("https://cdn.invalid/")  # priority order
    assert gr.load_build(gr.DirSource(tiny.root), PRODUCT, OLD, OS)["buildId"] == OLD
    with pytest.raises(gr.ReaderError, match="not listed"):
        gr.load_build(gr.DirSource(tiny.root), PRODUCT, "3001", OS)  # generation 1


@pytest.mark.parametrize("build", [NEW, OLD])
def test_rebuild_reproduces_every_file(tiny: TinyRepo, tmp_path: Path, build: str) -> None:
    dest = tmp_path / "install"
    written = gr.rebuild(gr.DirSource(tiny.root), PRODUCT, build, OS, dest)

    expected = tiny.expected[build]
    assert _tree(dest) == expected  # no de-DE file, no offlineDepot file
    assert written == {path: _md5(data) for path, data in expected.items()}
    assert len(tiny.chunks[(build, "bin\\game.exe")]) > 1  # multi-chunk file
    assert (dest / "bin/game.exe").stat().st_mode & 0o111 == 0o111
    assert (dest / "data/readme.txt").stat().st_mode & 0o100 == 0
    assert (dest / "data/empty.dat").stat().st_size == 0
    assert (dest / "saves/slot1").is_dir()


def test_rebuild_from_small_files_container(tiny: TinyRepo, tmp_path: Path) -> None:
    src = gr.DirSource(tiny.root)
    plain = gr.rebuild(src, PRODUCT, NEW, OS, tmp_path / "plain")
    # Remove the members' own chunks: only the container can still provide them.
    for path in ("lang\\en.txt", "support\\notes.txt"):
        for chunk in tiny.chunks[(NEW, path)]:
            (
                tiny.root / f"content-system/v2/store/{PRODUCT}/{_gp(chunk['compressedMd5'])}"
            ).unlink()

    assert gr.rebuild(src, PRODUCT, NEW, OS, tmp_path / "sfc", use_sfc=True) == plain
    assert _tree(tmp_path / "sfc") == _tree(tmp_path / "plain")
    with pytest.raises(gr.NotFoundError):
        gr.rebuild(src, PRODUCT, NEW, OS, tmp_path / "no-sfc")


def test_rebuild_other_language(tiny: TinyRepo, tmp_path: Path) -> None:
    written = gr.rebuild(gr.DirSource(tiny.root), PRODUCT, NEW, OS, tmp_path / "de", lang="de-DE")
    assert "lang/de.txt" in written
    assert "lang/en.txt" not in written
    assert "bin/game.exe" in written


def test_flipped_byte_in_a_chunk_is_refused(tiny: TinyRepo, tmp_path: Path) -> None:
    chunk = tiny.chunks[(NEW, "bin\\game.exe")][3]
    _flip(tiny.root / f"content-system/v2/store/{PRODUCT}/{_gp(chunk['compressedMd5'])}", 5)
    with pytest.raises(gr.ReaderError, match=f"compressedMd5 expected {chunk['compressedMd5']}"):
        gr.rebuild(gr.DirSource(tiny.root), PRODUCT, NEW, OS, tmp_path / "out")


def test_wrong_compressed_md5_is_refused(tmp_path: Path) -> None:
    fake = "0123456789abcdef0123456789abcdef"
    moved: list[str] = []

    def hook(build: str, item: dict[str, Any]) -> None:
        if build == NEW and item["path"] == "data\\readme.txt":
            moved.append(item["chunks"][0]["compressedMd5"])
            item["chunks"][0]["compressedMd5"] = fake

    repo = write_tiny_repo(tmp_path / "repo", item_hook=hook)
    store = repo.root / f"content-system/v2/store/{PRODUCT}"
    (store / _gp(fake)).parent.mkdir(parents=True)
    shutil.copy(store / _gp(moved[0]), store / _gp(fake))  # served, but not what it claims
    with pytest.raises(gr.ReaderError, match=f"compressedMd5 expected {fake}, got {moved[0]}"):
        gr.rebuild(gr.DirSource(repo.root), PRODUCT, NEW, OS, tmp_path / "out")


@pytest.mark.parametrize(
    ("field_name", "message"),
    [("chunk-md5", "md5 expected 0{32}"), ("md5", "file md5"), ("sha256", "file sha256")],
)
def test_wrong_hashes_in_the_manifest_are_refused(
    tmp_path: Path, field_name: str, message: str
) -> None:
    def hook(build: str, item: dict[str, Any]) -> None:
        if build != NEW:
            return
        if field_name == "chunk-md5" and item["path"] == "dlc\\extra.pak":
            item["chunks"][1]["md5"] = "0" * 32
        elif field_name == "md5" and item["path"] == "bin\\game.exe":
            item["md5"] = "0" * 32
        elif field_name == "sha256" and item["path"] == "data\\readme.txt":
            item["sha256"] = "0" * 64

    repo = write_tiny_repo(tmp_path / "repo", item_hook=hook)
    with pytest.raises(gr.ReaderError, match=message):
        gr.rebuild(gr.DirSource(repo.root), PRODUCT, NEW, OS, tmp_path / "out")


# --------------------------------------------------------------------------------------
# Patching


def test_apply_patch_reproduces_the_patched_files(tiny: TinyRepo, tmp_path: Path) -> None:
    src = gr.DirSource(tiny.root)
    install = tmp_path / "install"
    gr.rebuild(src, PRODUCT, OLD, OS, install)

    patched = gr.apply_patch(src, PRODUCT, OLD, NEW, OS, install)

    assert patched == ["bin/game.exe", "data/readme.txt"]  # not the de-DE depot's lang/de.txt
    after = _tree(install)
    for path in patched:
        assert after[path] == tiny.expected[NEW][path]
    assert after["lang/en.txt"] == tiny.expected[OLD]["lang/en.txt"]
    assert not [p for p in install.iterdir() if p.name.startswith(".gogreader")]
    assert (install / "bin/game.exe").stat().st_mode & 0o111 == 0o111


def test_no_patch_pair_means_no_patch(tiny: TinyRepo, tmp_path: Path) -> None:
    install = tmp_path / "install"
    gr.rebuild(gr.DirSource(tiny.root), PRODUCT, NEW, OS, install)
    assert gr.apply_patch(gr.DirSource(tiny.root), PRODUCT, NEW, OLD, OS, install) == []


def test_delta_decodes_with_the_xdelta3_cli(tmp_path: Path) -> None:
    old, new = _content(OLD)["bin\\game.exe"], _content(NEW)["bin\\game.exe"]
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "delta").write_bytes(_xdelta3_encode(tmp_path, old, new))
    assert gr.xdelta3_decodes(tmp_path / "old", tmp_path / "delta") == new


@pytest.mark.parametrize(
    ("offset", "message"), [(0, "not a VCDIFF"), (-20, "xdelta3 failed|md5_target")]
)
def test_bad_delta_is_refused_and_nothing_is_replaced(
    tmp_path: Path, offset: int, message: str
) -> None:
    def hook(path: str, delta: bytes) -> bytes:
        if path != "data\\readme.txt":
            return delta
        broken = bytearray(delta)
        broken[offset] ^= 0xFF
        return bytes(broken)

    repo = write_tiny_repo(tmp_path / "repo", delta_hook=hook)
    src = gr.DirSource(repo.root)
    install = tmp_path / "install"
    gr.rebuild(src, PRODUCT, OLD, OS, install)
    before = _tree(install)
    with pytest.raises(gr.ReaderError, match=message):
        gr.apply_patch(src, PRODUCT, OLD, NEW, OS, install)
    assert _tree(install) == before


def test_patch_sources_are_found_by_content(tiny: TinyRepo, tmp_path: Path) -> None:
    src = gr.DirSource(tiny.root)
    install = tmp_path / "install"
    gr.rebuild(src, PRODUCT, OLD, OS, install)
    (install / "bin/game.exe").rename(install / "bin/renamed.exe")

    assert gr.apply_patch(src, PRODUCT, OLD, NEW, OS, install) == [
        "bin/game.exe",
        "data/readme.txt",
    ]
    assert (install / "bin/game.exe").read_bytes() == tiny.expected[NEW]["bin/game.exe"]
    assert (install / "bin/renamed.exe").read_bytes() == tiny.expected[OLD]["bin/game.exe"]


def test_missing_patch_source_is_refused(tiny: TinyRepo, tmp_path: Path) -> None:
    install = tmp_path / "install"
    gr.rebuild(gr.DirSource(tiny.root), PRODUCT, OLD, OS, install)
    (install / "bin/game.exe").write_bytes(b"modded")
    with pytest.raises(gr.ReaderError, match="md5_source"):
        gr.apply_patch(gr.DirSource(tiny.root), PRODUCT, OLD, NEW, OS, install)


# --------------------------------------------------------------------------------------
# Sources


def test_dir_source_paths(tiny: TinyRepo) -> None:
    src = gr.DirSource(tiny.root)
    builds_path = f"/products/{PRODUCT}/os/{OS}/builds.json"
    assert src.get(builds_path) == src.get("https://any.host.invalid" + builds_path)
    with pytest.raises(gr.ReaderError, match="leaves the repository"):
        src.get("/../outside")
    with pytest.raises(gr.NotFoundError):
        src.get("/content-system/v2/meta/00/00/00000000000000000000000000000000")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tiny: TinyRepo) -> Iterator[str]:
    """The folder holding the tiny repository, served as static files on 127.0.0.1."""
    handler = functools.partial(_QuietHandler, directory=str(tiny.root.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_source_static_paths(tiny: TinyRepo, served: str) -> None:
    base = f"{served}/{tiny.root.name}"  # a base URL with a path prefix is the repository root
    http_src, dir_src = gr.HttpSource(base + "/"), gr.DirSource(tiny.root)
    new_item = gr.list_builds(dir_src, PRODUCT, OS)[0]
    link = gr.build_links(new_item)[0]
    assert link.startswith("/content-system/v2/meta/")  # root-relative

    assert http_src.url(link) == base + link
    assert http_src.get(link) == dir_src.get(link)
    assert http_src.get(base + link) == dir_src.get(link)  # absolute URL kept as is
    meta = gr.read_zlib_json(http_src.get(link))
    assert meta["buildId"] == NEW
    depot = gr.load_depot(http_src, gr.select_depots(meta, "en-US")[0]["manifest"])
    assert [i["path"] for i in depot["items"]][:2] == ["bin\\game.exe", "data\\readme.txt"]
    with pytest.raises(gr.NotFoundError, match="404"):
        http_src.get("/content-system/v2/meta/00/00/00000000000000000000000000000000")
