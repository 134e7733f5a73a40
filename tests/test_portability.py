"""The client must start where POSIX-only modules do not exist (Windows has no ``fcntl``),
and the file lock keeps working where they do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import GameLockedError
from core.lock import FileLock

ROOT = Path(__file__).resolve().parents[1]

_IMPORT_ALL = """
import sys
sys.modules["fcntl"] = None  # what Windows looks like to an import of fcntl
import importlib, pkgutil
import core
found = pkgutil.walk_packages(core.__path__, "core.")
# __main__ modules run a command when imported; their imports are the cli's anyway.
names = ["core"] + [m.name for m in found if not m.name.endswith(".__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_core_module_imports_without_fcntl() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 50  # the walk really reached the packages


def test_a_second_holder_is_refused_and_named(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with (
        FileLock(path, GameLockedError),
        pytest.raises(GameLockedError, match=r"Process \d+ holds"),
        FileLock(path, GameLockedError),
    ):
        pass
    with FileLock(path, GameLockedError):  # released: the next holder gets it
        pass
