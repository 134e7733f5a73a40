"""Shared fixtures: ``mini_repo``, a small published repository written by hand, ``home``,
an empty Slipstream home for one test, and ``keyring_env``, a real file keyring in a temp
folder."""

from __future__ import annotations

import hashlib
import json
import os
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import keyring
import pytest
import requests
from keyrings.alt.file import PlaintextKeyring

from core.format import layout
from tests.support.helpers import serving
from tests.support.nginxrun import running_nginx

ONE_WORKER = ("tests/packaging/test_build.py",)
"""Modules whose tests run on one pytest-xdist worker: their module fixture builds something
large (the installer bundle, 80-140 s). Split between two workers, each built it for
itself, on both cores at once. Every other test goes to whichever worker is free."""


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Load scheduling, with the :data:`ONE_WORKER` modules kept together. (xdist's own
    ``--dist loadgroup`` renames the tests' node ids to group them, which pytest 9.2's
    node ids no longer allow: the groups were silently split.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER else nodeid

    return Scheduling(config, log)


@dataclass(frozen=True)
class MiniRepo:
    """A small published repository written by hand, as ``publish`` would lay it out.

    One product with two Windows builds (``old`` → ``new``), chunk and patch objects, the
    products/ documents (builds.json, builds-v2.json, one patch pair, both static
    secure_link answers), publisher state in ``.slipstream/``, a secret file outside the
    repository, and symlinks inside it that a server must refuse to follow.
    """

    root: Path
    product: str
    os: str
    old: str
    new: str
    chunk: str
    """Repository-relative path of a 4 KiB chunk object."""
    big_chunk: str
    """Repository-relative path of a chunk larger than two 1 MiB blocks."""
    objects: dict[str, bytes] = field(default_factory=dict)
    """Repository-relative path → bytes, for every object and document written."""
    secret: bytes = b""
    symlinks: tuple[str, ...] = ()
    """Repository-relative paths of symlinks (to files and folders, inside and outside)."""


def _write(root: Path, rel: str, data: bytes, objects: dict[str, bytes]) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    objects[rel] = data
    return rel


def _json(value: object) -> bytes:
    return json.dumps(value, indent=1).encode()


def _build_item(product: str, build: str, meta: str, date: str) -> dict[str, object]:
    return {
        "build_id": build,
        "product_id": product,
        "os": "windows",
        "branch": None,
        "version_name": f"1.0.{build[-2:]}",
        "tags": [],
        "public": True,
        "date_published": date,
        "generation": 2,
        "link": layout.url_path(layout.meta_rel(meta)),
    }


def gog_endpoint(url: str, url_format: str, parameters: dict[str, str]) -> dict[str, Any]:
    """An unsigned endpoint object as reference §2.2 and §4.5 describe it."""
    return {
        "endpoint_name": "slipstream",
        "url": url,
        "url_format": url_format,
        "parameters": parameters,
        "priority": 10,
        "max_fails": 100,
        "supports_generation": [2],
        "fallback_only": False,
    }


def _documents(repo: Path, p: str, old: str, new: str, objects: dict[str, bytes]) -> None:
    metas = [hashlib.md5(f"meta {b}".encode()).hexdigest() for b in (new, old)]
    for meta in metas:
        _write(repo, layout.meta_rel(meta), zlib.compress(b'{"version": 2}'), objects)
    items = [
        _build_item(p, new, metas[0], "2024-02-01T10:00:00+0000"),
        _build_item(p, old, metas[1], "2024-01-01T10:00:00+0000"),
    ]
    builds = {"total_count": 2, "count": 2, "items": items, "has_private_branches": False}
    _write(repo, layout.builds_rel(p, "windows"), _json(builds), objects)
    v2_items = [
        {
            **{k: v for k, v in i.items() if k != "link"},
            "urls": [gog_endpoint(str(i["link"]), str(i["link"]), {})],
        }
        for i in items
    ]
    _write(repo, layout.builds_v2_rel(p, "windows"), _json({**builds, "items": v2_items}), objects)
    patch_id = hashlib.md5(b"patch root").hexdigest()
    _write(repo, layout.patch_meta_rel(patch_id), zlib.compress(b"{}"), objects)
    pair = {"id": patch_id, "from_build_id": old, "to_build_id": new}
    pair["link"] = layout.url_path(layout.patch_meta_rel(patch_id))
    _write(repo, layout.patch_pair_rel(p, old, new), _json(pair), objects)
    for patches, prefix in (
        (False, layout.store_prefix_rel(p)),
        (True, layout.patch_store_prefix_rel(p)),
    ):
        path = layout.url_path(prefix)
        link = gog_endpoint(path, "{base_url}{path}", {"base_url": "", "path": path})
        _write(
            repo,
            layout.secure_link_rel(p, patches),
            _json({"product_id": p, "urls": [link]}),
            objects,
        )


@pytest.fixture
def mini_repo(tmp_path: Path) -> MiniRepo:
    """A :class:`MiniRepo` in ``tmp_path / "repo"`` (the secret lives beside it)."""
    repo, p, old, new = tmp_path / "repo", "1207658930", "49999910531550131", "56452082907692588"
    objects: dict[str, bytes] = {}
    rng = random.Random(7)
    chunk, _, big = (_object(repo, p, rng.randbytes(size), objects) for size in SIZES)
    delta = rng.randbytes(3000)
    _write(repo, layout.patch_store_rel(p, hashlib.md5(delta).hexdigest()), delta, objects)
    _documents(repo, p, old, new, objects)
    (repo / layout.STATE_DIR).mkdir()
    (repo / layout.STATE_DIR / "lock").write_bytes(b"publisher state\n")
    (repo / "index.html").write_bytes(b"outside the served roots\n")
    secret = b"TOP SECRET outside the repository\n"
    (tmp_path / "secret.txt").write_bytes(secret)
    links = _symlinks(repo, p, tmp_path / "secret.txt", chunk)
    return MiniRepo(repo, p, "windows", old, new, chunk, big, objects, secret, links)


SIZES = (4096, 1000, 2 * 1024 * 1024 + 12345)
"""Chunk object sizes: a small one, a smaller one, one spanning three 1 MiB blocks."""


def _object(repo: Path, product: str, data: bytes, objects: dict[str, bytes]) -> str:
    return _write(repo, layout.store_rel(product, hashlib.md5(data).hexdigest()), data, objects)


def _symlinks(repo: Path, p: str, secret: Path, chunk: str) -> tuple[str, ...]:
    fan_out = chunk.split("/")
    os_dir = Path(layout.builds_rel(p, "windows")).parent.as_posix()
    links = {
        f"{os_dir}/outside.json": secret,  # a file symlink leaving the repository
        f"{os_dir}/inside.json": repo / layout.builds_rel(p, "windows"),  # one staying inside
        # a folder symlink inside the repository: ff/ → the real first fan-out folder
        f"{layout.store_prefix_rel(p)}/ff": repo.joinpath(*fan_out[:-2]),
        f"{layout.store_prefix_rel(p)}/etc": Path("/etc"),  # a folder symlink leaving it
    }
    for rel, target in links.items():
        os.symlink(target, repo / rel)
    return tuple(links)


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test, and every process it starts, gets a Slipstream home of its own: without
    it, installs made by tests landed in the real user's library, and each later window
    test loaded all of them and fetched art from their long-gone servers."""
    monkeypatch.setenv("SLIPSTREAM_HOME", str(tmp_path / "slipstream-home"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Slipstream home (``SLIPSTREAM_HOME``: library, settings) in ``tmp_path``."""
    path = tmp_path / "home"
    monkeypatch.setenv("SLIPSTREAM_HOME", str(path))
    return path


@pytest.fixture
def keyring_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real file keyring in ``tmp_path / "keyring"``, for this process and its
    subprocesses; the previous keyring is put back afterwards."""
    folder = tmp_path / "keyring"
    folder.mkdir()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    yield folder
    keyring.set_keyring(previous)


SERVERS = ["serve", pytest.param("nginx", marks=pytest.mark.nginx)]
"""The two servers of a published repository: ``slipstream serve`` (core/serve/server.py) and
nginx with the shipped packaging/nginx/slipstream.conf (tests/support/nginxrun.py)."""

only_serve = pytest.mark.parametrize("served", ["serve"], indirect=True)
"""Narrows ``served`` to ``slipstream serve``, for a test of a documented difference."""
only_nginx = pytest.mark.parametrize(
    "served", [pytest.param("nginx", marks=pytest.mark.nginx)], indirect=True
)
"""Narrows ``served`` to nginx, for a test of a documented difference."""


@dataclass(frozen=True)
class Served:
    """A server (``name``: "serve" or "nginx") in front of ``mini_repo`` on 127.0.0.1."""

    name: str
    repo: MiniRepo
    port: int
    session: requests.Session

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, **kwargs)


@pytest.fixture(params=SERVERS)
def served(request: pytest.FixtureRequest, mini_repo: MiniRepo, tmp_path: Path) -> Iterator[Served]:
    """``mini_repo`` served by each server in turn, so that one test body checks both (the
    way borg's generate_archiver_tests runs one body over every archiver). A test that only
    one server passes narrows it with ``only_serve`` or ``only_nginx`` and says why."""
    name: str = request.param
    with requests.Session() as session:
        if name == "nginx":
            with running_nginx(mini_repo.root, tmp_path / "nginx") as port:
                yield Served(name, mini_repo, port, session)
        else:
            with serving(mini_repo.root) as base:
                serve_port = urlsplit(base).port
                assert serve_port is not None
                yield Served(name, mini_repo, serve_port, session)
