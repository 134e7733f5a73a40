"""docs/hosting.md's CloudFront function, run under Node.js against a real repository:
for every GOG endpoint request, the file it rewrites to (served as a static file) or the
answer it makes itself must be what ``slipstream serve`` answers for the request."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.demo.sample import FileSpec, scattered_edits, write_build
from core.publish.publisher import PublishOptions, publish
from core.serve.server import make_server

PROJECT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node") or shutil.which("nodejs")
P = "4004"
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js to run the function")

CASES = [
    f"/products/{P}/os/windows/builds?generation=2",
    f"/products/{P}/os/windows/builds?generation=2&_version=2",
    f"/products/{P}/os/windows/builds",
    f"/products/{P}/os/windows/builds?generation=1",
    f"/products/{P}/os/windows/builds?generation=3",
    f"/products/{P}/os/linux/builds?generation=2",
    f"/products/{P}/patches?_version=4&from_build_id=1&to_build_id=2",
    f"/products/{P}/patches?_version=4&from_build_id=2&to_build_id=1",
    f"/products/{P}/patches?_version=4&from_build_id=x&to_build_id=2",
    f"/products/{P}/patches?_version=4&from_build_id=1",
    f"/products/{P}/patches?_version=3&from_build_id=1&to_build_id=2",
    f"/products/{P}/secure_link?_version=2&generation=2&path=/",
    f"/products/{P}/secure_link?_version=2&generation=2&path=%2F&root=/patches/store",
    f"/products/{P}/secure_link?_version=2&generation=2&path=/&root=%2Fpatches%2Fstore",
    f"/products/{P}/secure_link?_version=2&generation=2&path=/&root=/elsewhere",
    f"/products/{P}/secure_link?_version=2&generation=2&path=/x",
    "/.slipstream/history.jsonl",
    f"/products/{P}/.hidden.json",
]


def handler_source() -> str:
    doc = (PROJECT / "docs" / "hosting.md").read_text()
    (block,) = re.findall(r"```js\n(.*?)```", doc, re.S)
    return str(block)


def run_function(requests: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    script = tmp_path / "run.js"
    script.write_text(
        handler_source()
        + "\nconst events = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        + "console.log(JSON.stringify(events.map((e) => handler({request: e}))));\n"
    )
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(script)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def cloudfront_request(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    # CloudFront hands the function each value as it was sent, still percent-encoded.
    pairs = [p.split("=", 1) for p in parts.query.split("&") if p]
    return {"uri": parts.path, "querystring": {k: {"value": v} for k, v in pairs}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("hosting")
    repo = base / "repo"
    spec = FileSpec("data/levels.pak", 40, 600_000)
    for n in (1, 2):
        folder = write_build(base / f"b{n}", [spec, FileSpec("readme.txt", 41, 2000)])
        publish(folder, repo, PublishOptions(P, version_name=f"1.{n}", jobs=2))
        spec = scattered_edits(spec, 3, 42)
    assert (repo / "products" / P / "patches" / "1" / "2.json").is_file()
    server = make_server(repo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, _body(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, _body(exc.read())


def _body(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def _relative(doc: Any, base: str) -> Any:
    """``serve`` writes absolute links for third parties; the static files are root-relative."""
    if isinstance(doc, str):
        return doc.replace(base, "")
    if isinstance(doc, list):
        return [_relative(d, base) for d in doc]
    if isinstance(doc, dict):
        return {k: _relative(v, base) for k, v in doc.items()}
    return doc


def test_the_cloudfront_function_answers_as_serve_does(served: str, tmp_path: Path) -> None:
    results = run_function([cloudfront_request(c) for c in CASES], tmp_path)
    for case, result in zip(CASES, results, strict=True):
        status, body = get(served + case)
        if "statusCode" in result:  # answered by the function itself
            made = (result["statusCode"], json.loads(result["body"]["data"]))
            assert result["headers"]["content-type"]["value"] == "application/json"
        else:  # a request for one static file, without a query string
            assert result["querystring"] == {}, case
            made = get(served + result["uri"])
        assert made[0] == status, case
        if status == 200:
            assert _relative(made[1], served) == _relative(body, served), case
        elif isinstance(body, dict):
            assert isinstance(made[1], dict) and made[1]["error"] == body["error"], case


def test_other_paths_pass_through_unchanged(tmp_path: Path) -> None:
    request = cloudfront_request("/content-system/v2/meta/ab/cd/abcd?x=1")
    (result,) = run_function([request], tmp_path)
    assert result == request
