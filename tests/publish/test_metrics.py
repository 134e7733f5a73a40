"""The publish history: what every publish, promote and prune records, what ``stats``
reads back, and that the history is never served."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.format import layout
from core.publish import metrics
from core.publish.promote import promote
from core.publish.prune import prune
from core.publish.publisher import PublishOptions, publish
from core.serve.server import make_server

PRODUCT = "6502"
MiB = 2**20


def opts(**kw: Any) -> PublishOptions:
    return PublishOptions(PRODUCT, jobs=2, **kw)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Three public builds, a republish of the last, a promotion to beta and a prune."""
    base = tmp_path_factory.mktemp("history")
    repo = base / "repo"
    spec = FileSpec("data/levels.pak", 65, MiB)
    folders = []
    for n in range(3):
        folders.append(write_build(base / f"b{n + 1}", [spec, FileSpec("readme.txt", 66, 3000)]))
        spec = scattered_edits(spec, 3, 650 + n)
    for n, folder in enumerate(folders, 1):
        publish(folder, repo, opts(version_name=f"1.{n}"))
    publish(folders[2], repo, opts(version_name="1.3"))  # unchanged
    promote(repo, opts(branch="beta"), "3")
    prune(repo, PRODUCT, keep_builds=2, grace=0)
    lines = metrics.history_path(repo).read_text().splitlines()
    return repo, [json.loads(line) for line in lines]


def test_every_publish_promote_and_prune_appends_one_record(
    history: tuple[Path, list[dict[str, Any]]],
) -> None:
    repo, records = history
    assert metrics.history_path(repo) == repo / layout.STATE_DIR / "history.jsonl"
    assert [r["command"] for r in records] == [
        *["publish"] * 4,
        "promote",
        "prune",
    ]
    assert [r.get("build_id") for r in records[:5]] == ["1", "2", "3", "3", "3"]
    assert [r.get("unchanged") for r in records[:4]] == [False, False, False, True]
    first, second = records[0], records[1]
    assert "chunking" in first["phases"] and "scanning" in first["phases"]
    assert first["cores_busy"] > 0 and first["cpu_seconds"] > 0
    assert first["bytes_written"] > first["full_bytes"] > 0 and first["edges"] == []
    # The readme is the same in build 2: its chunk is reused, not written again.
    assert second["objects_reused"] >= 1 and second["bytes_reused"] > 0
    assert second["patches_encoded"] >= 1 and second["encode_seconds"] > 0
    assert records[4]["branch"] == "beta" and records[4]["objects_written"] >= 0
    assert records[5]["builds_removed"] == ["1"] and records[5]["dry_run"] is False


def test_savings_per_edge_match_the_published_graph(
    history: tuple[Path, list[dict[str, Any]]],
) -> None:
    repo, records = history
    graph = json.loads((repo / layout.graph_rel(PRODUCT, "windows")).read_text())
    published = {(e["from_build_id"], e["to_build_id"]): e["bytes"] for e in graph["edges"]}
    edges = records[2]["edges"]  # build 3, patched from 2 and 1 (1 -> 3 pruned since)
    assert [(e["from_build_id"], e["patched"]) for e in edges] == [("2", True), ("1", True)]
    for e in edges:
        assert e["saved_bytes"] == e["full_bytes"] - e["update_bytes"] > 0
    assert edges[0]["update_bytes"] == published[("2", "3")]


def test_stats_shows_the_trend_per_build(history: tuple[Path, list[dict[str, Any]]]) -> None:
    repo, records = history
    result = metrics.stats(repo, PRODUCT)
    assert [b.build_id for b in result.builds] == ["1", "2", "3"]  # the republish is no build
    assert [b.previous for b in result.builds] == [None, "1", "2"]
    third = result.builds[2]
    assert third.update_bytes == records[2]["edges"][0]["update_bytes"]
    assert third.saved_percent is not None and third.saved_percent > 90
    assert len(result.events) == 6
    text = metrics.render_stats(result)
    assert "first build" in text and "2: " in text and "% saved" in text
    assert "prune removed 1 builds" in text and "promoted build 3 to beta" in text
    assert metrics.stats(repo, "999").events == []


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    metrics.append(tmp_path, {"command": "prune", "product_id": "1"})
    with metrics.history_path(tmp_path).open("a") as out:
        out.write('{"version": 1, "command": "pub')  # a crash mid-write
    assert [r["command"] for r in metrics.read_history(tmp_path)] == ["prune"]


@pytest.fixture
def served(history: tuple[Path, list[dict[str, Any]]]) -> Iterator[str]:
    server = make_server(history[0])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_history_is_never_served(served: str) -> None:
    with urllib.request.urlopen(f"{served}/products/{PRODUCT}/os/windows/builds.json") as ok:
        assert ok.status == 200  # the server does serve the repository
    for path in ("/.slipstream/history.jsonl", "/%2Eslipstream/history.jsonl"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(served + path)
        refused.value.close()
        assert refused.value.code == 404


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="walks /proc (Linux)")
def test_cores_busy_counts_live_descendants(tmp_path: Path) -> None:
    """The patch pool's workers outlive no publish but are the forkserver's children, not
    ours: a live descendant's CPU time must count."""
    burn = (
        "import time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.4: pass\n"
        "print('burnt', flush=True)\ntime.sleep(60)\n"
    )
    clock = metrics.Clock()
    with subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "burnt\n"
            measured = clock.measures()
        finally:
            child.kill()
    assert measured["cpu_seconds"] >= 0.4
