"""The documents that tell a reader where code lives name only files that exist.

docs/architecture.md and README.md name modules and tests by path; a module moved or
renamed without them would send the next reader to nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("docs/architecture.md", "README.md")
# A path of ours, not the tail of a longer one (``/work/main/core/x.py``, ``src/core/x.py``);
# placeholders such as ``tests/<package>/test_<module>.py`` do not match.
PATH = re.compile(r"(?<![\w/.-])(?:core|gui|tests)/[\w./-]*\.py\b")


def named_paths(text: str) -> list[str]:
    return sorted(set(PATH.findall(text)))


def missing_paths(text: str, root: Path) -> list[str]:
    return [path for path in named_paths(text) if not (root / path).is_file()]


def test_the_checker_finds_paths_and_misses_none(tmp_path: Path) -> None:
    (tmp_path / "core" / "net").mkdir(parents=True)
    (tmp_path / "core" / "net" / "fetcher.py").write_text("")
    text = (
        "how a file is fetched: `core/net/fetcher.py`; the journal: core/gamedir/journal.py,"
        " (gui/window.py) and tests/serve/test_server.py. Not ours: /opt/core/x.py,"
        " src/core/y.py, tests/<package>/test_<module>.py, core/update/"
    )
    assert named_paths(text) == [
        "core/gamedir/journal.py",
        "core/net/fetcher.py",
        "gui/window.py",
        "tests/serve/test_server.py",
    ]
    assert missing_paths(text, tmp_path) == [
        "core/gamedir/journal.py",
        "gui/window.py",
        "tests/serve/test_server.py",
    ]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_named_path_exists(document: str) -> None:
    text = (ROOT / document).read_text()
    assert named_paths(text), f"{document} names no path: is the pattern still right?"
    assert missing_paths(text, ROOT) == [], f"{document} names files that do not exist"
