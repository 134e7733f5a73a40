"""Publishing into object storage (core/publish/sync.py, core/publish/storage.py) against
a real S3-compatible server on loopback (moto's server mode in its own process), with
players installing and updating from the bucket's plain HTTP endpoint."""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core.cli.commands import main
from core.crashpoint import ENV as CRASHPOINT
from core.demo.sample import write_build
from core.progress import Phase, Progress
from core.publish.publisher import PublishOptions, publish
from core.publish.sync import RemoteRepo, UploadLedger
from tests.publish.test_prune import small_builds
from tests.support.gogreader import galaxy_path, read_zlib_json
from tests.support.helpers import tree
from tests.support.s3server import S3Server, running_s3

PRODUCT = "4242"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def store_env(s3: S3Server, home: Path, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Credentials and endpoint in s3fs's usual environment, for this process and the
    publisher processes it starts."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return s3


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """``slipstream ARGV --json`` in this process; its JSON report (exit status 0)."""
    capsys.readouterr()
    status = main([*argv, "--json", "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def publish_argv(folder: Path, url: str, name: str) -> list[str]:
    return ["publish", str(folder), "--repo", url, "--product", PRODUCT, "--version-name", name]


def subprocess_publish(
    argv: list[str], crash: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASHPOINT}
    if crash:
        env[CRASHPOINT] = crash
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *argv, "--json", "--no-progress", "--jobs", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def named_keys(base: str, s3: S3Server, prefix: str) -> set[str]:
    """Every key the store's documents lead a player to, read over the public HTTP
    endpoint as a player would: builds lists → build and depot manifests → chunks, and
    every patch pair → patch manifests → delta chunks."""

    def get(rel: str) -> Any:
        response = requests.get(f"{base}/{rel}", timeout=30)
        assert response.status_code == 200, f"{rel}: {response.status_code}"
        return read_zlib_json(response.content)

    named: set[str] = set()
    listing = get(f"products/{PRODUCT}/os/windows/builds.json")
    for item in listing["items"]:
        meta = item["link"].lstrip("/")
        named.add(meta)
        for depot in get(meta)["depots"]:
            rel = f"content-system/v2/meta/{galaxy_path(depot['manifest'])}"
            named.add(rel)
            depot_doc = get(rel)["depot"]
            chunks = [c for f in depot_doc["items"] for c in f.get("chunks", [])]
            chunks += (depot_doc.get("smallFilesContainer") or {}).get("chunks", [])
            named |= {
                f"content-system/v2/store/{PRODUCT}/{galaxy_path(c['compressedMd5'])}"
                for c in chunks
            }
    for key in s3.keys(f"{prefix}/products/{PRODUCT}/patches/"):
        index = get(key.removeprefix(prefix + "/"))
        named.add(index["link"].lstrip("/"))
        for depot in get(index["link"].lstrip("/"))["depots"]:
            rel = f"content-system/v2/patches/meta/{galaxy_path(depot['manifest'])}"
            named.add(rel)
            for diff in get(rel)["depot"]["items"]:
                named |= {
                    f"content-system/v2/patches/store/{PRODUCT}/{galaxy_path(c['compressedMd5'])}"
                    for c in diff["chunks"]
                }
    # Patch packs: graph.json's edges name their index, the index its objects.
    for edge in get(f"products/{PRODUCT}/os/windows/graph.json")["edges"]:
        if edge.get("pack"):
            index_rel = edge["pack"]["link"].lstrip("/")
            named.add(index_rel)
            named |= {o["link"].lstrip("/") for o in get(index_rel)["objects"]}
    return named


def assert_consistent(s3: S3Server, prefix: str) -> set[str]:
    """Every object a document of the store names is in the store; returns them."""
    base = f"{s3.endpoint}/{s3.bucket}/{prefix}"
    named = named_keys(base, s3, prefix)
    stored = {k.removeprefix(prefix + "/") for k in s3.keys(prefix + "/")}
    assert named <= stored, sorted(named - stored)[:5]
    assert not any(".slipstream" in k or "history" in k for k in stored)
    return named


def test_a_bucket_is_published_resumed_pruned_and_players_update_from_it(
    store_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, prefix = store_env, "studio/repo"
    url = f"s3://{s3.bucket}/{prefix}"
    base = f"{s3.endpoint}/{s3.bucket}/{prefix}"
    folders = [write_build(tmp_path / f"b{n}", specs) for n, specs in enumerate(small_builds(3))]
    uploaded = 0
    for n in (0, 1):
        report = run(capsys, *publish_argv(folders[n], url, f"1.{n}"), "--jobs", "2")
        assert report["storage"]["objects_uploaded"] > 0
        uploaded += report["storage"]["objects_uploaded"]
    assert_consistent(s3, prefix)
    games = {build: tmp_path / f"game-{build}" for build in ("1", "2")}
    for build, game in games.items():
        run(
            capsys,
            "install",
            "--source",
            base,
            "--product",
            PRODUCT,
            "--dir",
            str(game),
            "--build",
            build,
        )
    assert tree(games["2"]) == tree(folders[1])

    # Killed (SIGKILL) after its third upload: the store still shows build 2 only, and
    # nothing it names is missing.
    crashed = subprocess_publish(publish_argv(folders[2], url, "1.2"), crash="upload:3")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    before = s3.keys(prefix + "/")
    assert_consistent(s3, prefix)
    assert run(capsys, "update", str(games["2"]))["up_to_date"] is True

    storage = run(capsys, *publish_argv(folders[2], url, "1.2"), "--jobs", "2")["storage"]
    # The uploads before the kill are known to the ledger and were not sent again.
    assert storage["objects_known"] >= uploaded + 3
    after = s3.keys(prefix + "/")
    assert storage["objects_uploaded"] <= len(set(after) - set(before))
    assert all(after[k] == before[k] for k in before if k.startswith(f"{prefix}/content-system"))
    assert_consistent(s3, prefix)
    updated = run(capsys, "update", str(games["2"]))
    assert updated["to_build"] == "3" and updated["patches_applied"] > 0
    assert tree(games["2"]) == tree(folders[2])

    # Prune keeps build 3: first within the grace period (nothing deleted), then after it.
    prune = ["prune", "--repo", url, "--product", PRODUCT, "--keep-builds", "1"]
    waiting = run(capsys, *prune)
    assert waiting["objects_deleted"] == 0 and waiting["objects_waiting"] > 0
    kept = assert_consistent(s3, prefix)
    objects_before = set(s3.keys(f"{prefix}/content-system/"))
    pruned = run(capsys, *prune, "--grace", "0")
    assert pruned["objects_deleted"] == waiting["objects_waiting"]
    objects_after = set(s3.keys(f"{prefix}/content-system/"))
    assert len(objects_before) - len(objects_after) == pruned["objects_deleted"]
    assert {k.removeprefix(prefix + "/") for k in objects_after} == {
        k for k in kept if k.startswith("content-system/")
    }
    assert assert_consistent(s3, prefix) == kept

    # After the prune: an update from a pruned build, and a new install.
    updated = run(capsys, "update", str(games["1"]))
    assert (updated["from_build"], updated["to_build"]) == ("1", "3")
    assert tree(games["1"]) == tree(folders[2])
    fresh = tmp_path / "fresh"
    run(capsys, "install", "--source", base, "--product", PRODUCT, "--dir", str(fresh))
    assert tree(fresh) == tree(folders[2])


def test_a_publish_killed_among_its_document_uploads_shows_the_old_build_until_rerun(
    store_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, prefix = store_env, "killed-in-documents"
    url = f"s3://{s3.bucket}/{prefix}"
    base = f"{s3.endpoint}/{s3.bucket}/{prefix}"
    folders = [write_build(tmp_path / f"b{n}", specs) for n, specs in enumerate(small_builds(2))]
    run(capsys, *publish_argv(folders[0], url, "1.0"), "--jobs", "2")
    crashed = subprocess_publish(publish_argv(folders[1], url, "1.1"), crash="upload-document:2")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert assert_consistent(s3, prefix)
    game = tmp_path / "game"
    run(capsys, "install", "--source", base, "--product", PRODUCT, "--dir", str(game))
    assert tree(game) == tree(folders[0])
    report = run(capsys, *publish_argv(folders[1], url, "1.1"), "--jobs", "2")
    assert report["build_id"] == "2" and report["storage"]["objects_uploaded"] == 0
    assert_consistent(s3, prefix)
    updated = run(capsys, "update", str(game))
    assert updated["to_build"] == "2" and updated["patches_applied"] > 0
    assert tree(game) == tree(folders[1])


def test_a_second_machine_fetches_the_old_build_it_patches_from(
    store_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, prefix = store_env, "second-machine"
    url = f"s3://{s3.bucket}/{prefix}"
    folders = [write_build(tmp_path / f"b{n}", specs) for n, specs in enumerate(small_builds(2))]
    first = ["--cache", str(tmp_path / "machine-a"), "--jobs", "2"]
    run(capsys, *publish_argv(folders[0], url, "1.0"), *first)
    second = ["--cache", str(tmp_path / "machine-b"), "--jobs", "2"]
    base = f"{s3.endpoint}/{s3.bucket}/{prefix}"
    report = run(capsys, *publish_argv(folders[1], url, "1.1"), *second)
    assert report["build_id"] == "2" and report["patches_encoded"] > 0
    assert report["storage"]["documents_pulled"] > 0 and report["storage"]["objects_pulled"] > 0
    # Chunks both builds share were already in the store: checked, not sent again.
    assert report["storage"]["objects_present"] > 0
    view = run(capsys, "graph", "--repo", url, "--product", PRODUCT, *second[:2])
    edges = [e for system in view["systems"] for e in system["edges"]]
    assert [(e["from_build_id"], e["to_build_id"]) for e in edges] == [("1", "2")]
    promote = ["promote", "--repo", url, "--product", PRODUCT, "--build", "2", *second]
    promoted = run(capsys, *promote, "--branch", "beta")
    assert promoted["storage"]["objects_uploaded"] == 0  # a promote copies no chunk
    listing = requests.get(f"{base}/products/{PRODUCT}/os/windows/builds.json", timeout=30)
    assert [(i["build_id"], i["branch"]) for i in listing.json()["items"]] == [
        ("2", "beta"),
        ("2", None),
        ("1", None),
    ]
    named = assert_consistent(s3, prefix)
    assert any("/packs/store/" in key for key in named)
    # A third machine, with nothing cached, prunes keeping both builds: the pack its
    # mirror only knows through graph.json must stay whole in the store.
    third = ["--cache", str(tmp_path / "machine-c")]
    prune = ["prune", "--repo", url, "--product", PRODUCT, "--keep-builds", "2", "--grace", "0"]
    assert run(capsys, *prune, *third)["objects_deleted"] == 0
    assert assert_consistent(s3, prefix) == named


def test_timestamp_on_a_bucket_uploads_only_the_signed_metadata(
    store_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, prefix = store_env, "signed"
    url = f"s3://{s3.bucket}/{prefix}"
    keys = ["--keys", str(tmp_path / "keys")]
    folder = write_build(tmp_path / "b1", small_builds(1)[0])
    run(capsys, *publish_argv(folder, url, "1.0"), "--jobs", "2")
    signed = run(capsys, "keys", "init", "--repo", url, *keys)
    assert {d.split("/")[0] for d in signed["storage"]["documents_uploaded"]} == {"metadata"}
    before = s3.keys(prefix + "/", "ETag")
    stamped = run(capsys, "timestamp", "--repo", url, *keys)
    assert stamped["changed"] == ["timestamp"]
    assert stamped["storage"]["documents_uploaded"] == ["metadata/timestamp.json"]
    after = s3.keys(prefix + "/", "ETag")
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {f"{prefix}/metadata/timestamp.json"}
    game = tmp_path / "game"
    base = f"{s3.endpoint}/{s3.bucket}/{prefix}"
    run(capsys, "install", "--source", base, "--product", PRODUCT, "--dir", str(game))
    assert tree(game) == tree(folder)

    # A signed publish: documents after objects, builds lists last among them, then the
    # signed metadata with the timestamp last of all.
    second = write_build(tmp_path / "b2", small_builds(2)[1])
    report = run(capsys, *publish_argv(second, url, "1.1"), "--jobs", "2", *keys)
    documents = report["storage"]["documents_uploaded"]
    kinds = [d.split("/")[0] for d in documents]
    assert kinds == sorted(kinds, key=["products", "metadata"].index)
    products = [d.rsplit("/", 1)[-1] for d in documents if d.startswith("products/")]
    assert products[-2:] == ["builds-v2.json", "builds.json"]
    assert documents[-1] == "metadata/timestamp.json"
    updated = run(capsys, "update", str(game))
    assert updated["to_build"] == "2" and updated["patches_applied"] > 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("repo", "endpoint", "says", "exit_status"),
    [
        ("s3://no-such-bucket/x", None, "There is no bucket 'no-such-bucket'", 1),
        ("s3://games/x", "closed", "could not be reached", 1),
        ("nosuchscheme://bucket/x", None, "needs a package that is not installed", 2),
    ],
)
def test_a_store_that_cannot_be_used_is_one_line_naming_what_to_check(
    store_env: S3Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    repo: str,
    endpoint: str | None,
    says: str,
    exit_status: int,
) -> None:
    if endpoint == "closed":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    folder = write_build(tmp_path / "b1", small_builds(1)[0])
    capsys.readouterr()
    status = main([*publish_argv(folder, repo, "1.0"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == exit_status
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


class BucketLikeHandler(http.server.SimpleHTTPRequestHandler):
    """A plain static host that answers every path it lacks (query strings ignored) with
    403, as an S3 bucket does when anyone may read its objects but not list them."""

    def send_head(self) -> Any:
        if Path(self.translate_path(self.path)).is_dir():  # a bucket has no folders
            self.send_error(403)
            return None
        return super().send_head()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        super().send_error(403 if code == 404 else code, message, explain)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_player_reads_a_static_host_that_answers_403_for_what_it_lacks(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], signed: bool
) -> None:
    repo = tmp_path / "repo"
    keys = ["--keys", str(tmp_path / "keys")] if signed else []
    if signed:
        run(capsys, "keys", "init", "--repo", str(repo), *keys)
    folders = [write_build(tmp_path / f"b{n}", specs) for n, specs in enumerate(small_builds(2))]
    for n, folder in enumerate(folders):
        run(capsys, *publish_argv(folder, str(repo), f"1.{n}"), "--jobs", "2", *keys)
    handler = functools.partial(BucketLikeHandler, directory=str(repo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert (
            requests.get(f"{base}/products/{PRODUCT}/os/windows/builds", timeout=10).status_code
            == 403
        )
        game = tmp_path / "game"
        argv = ["install", "--source", base, "--product", PRODUCT, "--dir", str(game)]
        run(capsys, *argv, "--build", "1")
        updated = run(capsys, "update", str(game))
        assert updated["to_build"] == "2" and updated["patches_applied"] > 0
        assert tree(game) == tree(folders[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_uploads_report_their_bytes_and_a_ledger_line_torn_by_a_crash_is_ignored(
    store_env: S3Server, tmp_path: Path
) -> None:
    url = f"s3://{store_env.bucket}/progress"
    folder = write_build(tmp_path / "b1", small_builds(1)[0])
    seen: list[Progress] = []
    with RemoteRepo(url, cache=tmp_path / "cache", progress=seen.append, jobs=2) as remote:
        publish(folder, remote.mirror, PublishOptions(PRODUCT, jobs=2))
        report = remote.push()
    uploads = [p for p in seen if p.phase == Phase.UPLOADING and p.unit == "bytes"]
    assert uploads and all(0 < p.done <= p.total for p in uploads)
    # Each step (objects, then manifests) ends at its total: together, every byte sent.
    finished = sum(p.done for p in uploads if p.done == p.total)
    assert finished == report.bytes_uploaded > 0 and report.objects_present == 0

    ledger = tmp_path / "cache" / ".slipstream" / "uploaded"
    known = UploadLedger(ledger).keys
    assert len(known) == report.objects_uploaded
    with open(ledger, "a") as out:
        out.write("content-system/v2/store/4242/ab/cd/abcd")  # no newline: torn
    assert UploadLedger(ledger).keys == known


BLOCK_S3FS = """
import importlib.abc, sys

class NoS3fs(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "s3fs" or name.startswith("s3fs."):
            raise ImportError("No module named 's3fs'")
        return None

sys.meta_path.insert(0, NoS3fs())
from core.cli.commands import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_s3fs_an_s3_url_says_to_install_the_s3_extra(home: Path, tmp_path: Path) -> None:
    folder = write_build(tmp_path / "b1", small_builds(1)[0])
    argv = publish_argv(folder, "s3://games/x", "1.0")
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_S3FS, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Install slipstream[s3]" in done.stderr and "Traceback" not in done.stderr
