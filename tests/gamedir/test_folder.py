"""Reading a game folder as the tests and the self-test compare it with a build."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.gamedir.folder import files_md5


def test_files_md5_lists_the_game_and_leaves_out_only_slipstreams_own_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / ".slipstream" / "downloads").mkdir(parents=True)
    (tmp_path / ".slipstream" / "downloads" / "c-1").write_bytes(b"resume data")
    (tmp_path / "data" / ".slipstream").mkdir(parents=True)  # a game's own folder of that name
    (tmp_path / "data" / ".slipstream" / "x").write_bytes(b"x")
    (tmp_path / "b.txt").write_bytes(b"b")
    (tmp_path / "a.txt").write_bytes(b"a")
    assert files_md5(tmp_path) == {
        "a.txt": hashlib.md5(b"a").hexdigest(),
        "b.txt": hashlib.md5(b"b").hexdigest(),
        "data/.slipstream/x": hashlib.md5(b"x").hexdigest(),
    }
    assert list(files_md5(tmp_path)) == ["a.txt", "b.txt", "data/.slipstream/x"]
