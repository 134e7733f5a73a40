"""The art cache under SLIPSTREAM_HOME and the library's change of source."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.errors import UnknownInstallError
from core.library.art import art_folder, cached_art, store_art
from core.library.db import Library

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels"


def test_cached_art_is_checked_by_hash_or_origin(home: Path) -> None:
    sha = hashlib.sha256(PNG).hexdigest()
    assert cached_art("http://a", "7", "cover") is None
    path = store_art("http://a", "7", "cover", ".png", PNG)
    assert home in path.parents and path == art_folder("http://a", "7") / "cover.png"
    assert cached_art("http://a", "7", "cover", sha) == path
    assert cached_art("http://a", "7", "cover", "0" * 64) is None  # another image now
    assert cached_art("http://b", "7", "cover") is None  # another source, another folder
    jpeg = store_art("http://a", "7", "cover", ".jpg", b"\xff\xd8\xff" + b"x", origin="u1")
    assert not path.exists() and cached_art("http://a", "7", "cover") == jpeg
    assert cached_art("http://a", "7", "cover", origin="u1") == jpeg
    assert cached_art("http://a", "7", "cover", origin="u2") is None
    with pytest.raises(ValueError):
        store_art("http://a", "7", "cover", ".svg", b"<svg/>")


def test_set_source(home: Path, tmp_path: Path) -> None:
    with Library.open() as library:
        library.upsert_install(tmp_path, "7", "windows", "G", "1", "1.0", None, "en-US", "http://a")
        library.set_source(tmp_path, "http://b")
        record = library.install(tmp_path)
        assert record is not None and record.source == "http://b"
        with pytest.raises(UnknownInstallError):
            library.set_source(tmp_path / "elsewhere", "http://b")
