"""A smoke test of bench_packs.py's recompiled-binaries scenario (bench/cproject.py): the
two versions' sources differ as described, and gcc compiles them into different objects.
The full build takes minutes, so only one module is compiled here."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cproject.py"
GCC = shutil.which("gcc")


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cproject", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cproject", module)
    spec.loader.exec_module(module)
    return module


def test_the_second_version_differs_as_a_release_does(tmp_path: Path) -> None:
    cproject = load()
    cproject.write_sources(tmp_path / "v1", cproject.Version(1))
    cproject.write_sources(tmp_path / "v2", cproject.Version(2))
    one = {p.name: p.read_text() for p in (tmp_path / "v1").iterdir()}
    two = {p.name: p.read_text() for p in (tmp_path / "v2").iterdir()}

    assert set(two) - set(one) == {"added.c"}
    assert "shield" in two["common.h"] and "shield" not in one["common.h"]
    changed = [n for n in one if n.startswith("m") and one[n] != two[n]]
    assert len(changed) > cproject.MODULES // 2  # edited functions in most modules
    again = tmp_path / "again"
    cproject.write_sources(again, cproject.Version(1))
    assert all((again / n).read_text() == text for n, text in one.items())  # deterministic


@pytest.mark.skipif(GCC is None, reason="needs gcc")
def test_gcc_compiles_a_module_of_each_version_differently(tmp_path: Path) -> None:
    cproject = load()
    objects = []
    for n in (1, 2):
        folder = tmp_path / f"v{n}"
        cproject.write_sources(folder, cproject.Version(n))
        assert GCC is not None
        subprocess.run(
            [GCC, *cproject.CFLAGS, "-c", "m00.c", "-o", "m00.o"], cwd=folder, check=True
        )
        objects.append((folder / "m00.o").read_bytes())

    assert objects[0] != objects[1] and min(map(len, objects)) > 10_000
