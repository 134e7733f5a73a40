"""publish --icon/--cover/--launch/--name: product.json and products/index.json beside the
builds, art named by its sha256, launch paths checked against the build folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from core.demo.sample import FileSpec, write_build
from core.errors import FormatError, UsageError
from core.format.product_info import parse_product_info, parse_products_index
from core.publish.publisher import PublishOptions, publish

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
JPEG = b"\xff\xd8\xff\xe0" + bytes(300)


def _build(root: Path, name: str = "b1") -> Path:
    return write_build(root / name, [FileSpec("bin/game.exe", 1, 2000, executable=True)])


def _doc(repo: Path, rel: str) -> object:
    return json.loads((repo / rel).read_text())


def test_product_document_and_index(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    icon, cover = tmp_path / "icon.png", tmp_path / "cover.jpg"
    icon.write_bytes(PNG)
    cover.write_bytes(JPEG)
    options = PublishOptions(
        "77", name="Seventy Seven", icon=icon, cover=cover, launch="bin\\game.exe"
    )
    publish(_build(tmp_path), repo, options)
    info = parse_product_info(_doc(repo, "products/77/product.json"))
    assert info.name == "Seventy Seven"
    assert info.icon is not None and info.cover is not None
    assert info.icon.sha256 == hashlib.sha256(PNG).hexdigest() and info.icon.size == len(PNG)
    assert (repo / info.icon.link.lstrip("/")).read_bytes() == PNG
    assert (repo / info.cover.link.lstrip("/")).read_bytes() == JPEG
    spec = info.launch_for("windows")
    assert spec is not None and spec.path == "bin/game.exe" and info.launch_for("linux") is None
    # A second product joins the index; a later publish without options keeps the art.
    publish(_build(tmp_path, "other"), repo, PublishOptions("5", name="Another"))
    publish(_build(tmp_path, "b2"), repo, PublishOptions("77", version_name="2"))
    again = parse_product_info(_doc(repo, "products/77/product.json"))
    assert again.icon == info.icon and again.launch == info.launch
    index = parse_products_index(_doc(repo, "products/index.json"))
    assert index.products == (("5", "Another"), ("77", "Seventy Seven"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"launch": "../outside.exe"}, "'..'"),
        ({"launch": "bin/missing.exe"}, "not a file of the build"),
        ({"icon": "not-an-image"}, "not a PNG"),
    ],
)
def test_bad_options_are_refused_before_anything_is_published(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    text = tmp_path / "not-an-image"
    text.write_text("hello")
    kwargs: dict[str, object] = dict(extra)
    if "icon" in kwargs:
        kwargs["icon"] = text
    repo = tmp_path / "repo"
    with pytest.raises(UsageError, match=message):
        publish(_build(tmp_path), repo, PublishOptions("77", **kwargs))  # type: ignore[arg-type]
    assert not (repo / "products").exists()


def test_a_hostile_product_document_is_refused() -> None:
    sha = "a" * 64
    good = {
        "version": 1,
        "product_id": "77",
        "name": "x",
        "icon": {"link": f"/products/77/art/{sha}.png", "sha256": sha, "size": 10},
        "launch": {"windows": {"path": "game.exe"}},
    }
    assert parse_product_info(good).icon is not None
    for bad in (
        {**good, "icon": {"link": "/etc/passwd", "sha256": sha, "size": 10}},
        {**good, "icon": {"link": f"/products/78/art/{sha}.png", "sha256": sha, "size": 10}},
        {**good, "icon": {"link": f"/products/77/art/{sha}.png", "sha256": sha, "size": 1 << 40}},
        {**good, "launch": {"windows": {"path": "../../bin/sh"}}},
        {**good, "launch": {"windows": {"path": "/bin/sh"}}},
        {**good, "launch": {"amiga": {"path": "game.exe"}}},
    ):
        with pytest.raises(FormatError):
            parse_product_info(bad)


def test_cli_publish_icon_cover_launch(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    icon = tmp_path / "icon.png"
    icon.write_bytes(PNG)
    repo = tmp_path / "repo"
    args = ["publish", str(_build(tmp_path)), "--repo", str(repo), "--product", "77"]
    args += ["--name", "Cli Art", "--icon", str(icon), "--launch", "bin/game.exe", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "SLIPSTREAM_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = parse_product_info(_doc(repo, "products/77/product.json"))
    assert info.name == "Cli Art" and info.icon is not None and info.cover is None
    assert info.launch_for("windows") is not None
