"""The demo's preparation: published once, and carried on after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.demo.start import DEMO_PRODUCT, VERSIONS, prepare_demo
from core.format import layout
from core.progress import Progress


class _Interrupted(Exception):
    pass


def listed(repo: Path) -> list[tuple[str, str]]:
    doc = json.loads((repo / layout.builds_rel(DEMO_PRODUCT, "windows")).read_text())
    return sorted((i["build_id"], i["version_name"]) for i in doc["items"])


def test_an_interrupted_preparation_carries_on(tmp_path: Path) -> None:
    scans: list[Progress] = []

    def stop_at_second_build(p: Progress) -> None:
        if p.phase == "scanning":
            scans.append(p)
            if len(scans) == 2:
                raise _Interrupted  # the player closed the window during the second publish

    with pytest.raises(_Interrupted):
        prepare_demo(tmp_path, stop_at_second_build)
    repo = tmp_path / "repo"
    assert listed(repo) == [("1", VERSIONS[0])]
    assert prepare_demo(tmp_path) == repo
    expected = [(str(n), v) for n, v in enumerate(VERSIONS, 1)]
    assert listed(repo) == expected
    before = {p: p.stat().st_mtime_ns for p in repo.rglob("*") if p.is_file()}
    prepare_demo(tmp_path)  # done: nothing is published again
    assert {p: p.stat().st_mtime_ns for p in repo.rglob("*") if p.is_file()} == before


def test_slipstream_demo_serves_an_installed_game_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    from core.gamedir.folder import GameDir

    env = {**os.environ, "SLIPSTREAM_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "demo", "--dir", str(tmp_path / "demo")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("serving "), lines
        url = lines[0].split(" at ")[1].strip()
        with urllib.request.urlopen(
            f"{url}/products/{DEMO_PRODUCT}/os/windows/builds?generation=2", timeout=30
        ) as response:
            items = json.loads(response.read())["items"]
        assert sorted(i["build_id"] for i in items) == ["1", "2", "3"]
        state = GameDir(tmp_path / "demo" / "game").load_state()
        assert state is not None and state.build_id == "1" and state.source == url
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        if proc.stdout:
            proc.stdout.close()


def test_a_demo_folder_that_cannot_be_written_is_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "a file").write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "demo", "--dir", str(tmp_path / "a file" / "demo")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Could not write the demo's sample build" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_a_second_demo_run_points_its_game_at_the_new_port(tmp_path: Path, home: Path) -> None:
    from core.demo.start import start_demo
    from core.gamedir.folder import GameDir
    from core.library.db import Library

    first = start_demo(tmp_path / "demo")
    try:
        second = start_demo(tmp_path / "demo")  # the first still holds its port
        second.stop()
    finally:
        first.stop()
    assert first.url != second.url
    state = GameDir(second.game).read_state()
    with Library.open() as library:
        record = library.install(second.game)
    assert state is not None and state.source == second.url
    assert record is not None and record.source == second.url


def test_the_demo_has_art_even_when_prepared_before_it_had(tmp_path: Path) -> None:
    from core.format.product_info import parse_product_info, product_info_rel

    repo = prepare_demo(tmp_path)
    info = parse_product_info(json.loads((repo / product_info_rel(DEMO_PRODUCT)).read_text()))
    assert info.name == "Slipstream Demo Quest" and info.icon and info.cover
    assert (repo / info.cover.link.lstrip("/")).read_bytes().startswith(b"\x89PNG")
    (repo / product_info_rel(DEMO_PRODUCT)).unlink()  # as an older Slipstream left it
    prepare_demo(tmp_path)
    again = parse_product_info(json.loads((repo / product_info_rel(DEMO_PRODUCT)).read_text()))
    assert again.cover == info.cover
