"""The partial file of a download is cut only when it is longer than where writing starts.

ext4 (``auto_da_alloc``, its default) writes a file out to the disk when it is closed after
being truncated and written again: cutting every fresh download's empty file to zero
bytes sent every object of an install to the disk as it was closed. A truncate, even to
the length the file already has, updates the file's times on Linux; these tests read that
mark to tell whether the file was cut.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.net.fetcher import HTTP_ENV, _Partial

OLD = 1_000_000_000  # 2001: any truncate moves the times to now


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> str:
    """No request is made here: one run, not one per wire (see conftest.py's)."""
    monkeypatch.setenv(HTTP_ENV, "plain")
    return "plain"


def _aged(path: Path) -> None:
    os.utime(path, ns=(OLD * 10**9, OLD * 10**9))


def test_a_resumed_partial_is_not_cut_at_its_own_length(tmp_path: Path) -> None:
    dest = tmp_path / "c-1.part"
    dest.write_bytes(b"abc")
    with _Partial(dest) as part:
        _aged(dest)
        part.truncate(3)  # as a resumed download starts at the bytes it has
        assert dest.stat().st_mtime_ns == OLD * 10**9
        part.write(b"de")
    assert dest.read_bytes() == b"abcde"


def test_a_longer_partial_is_cut_and_written_from_there(tmp_path: Path) -> None:
    dest = tmp_path / "c-2.part"
    dest.write_bytes(b"0123456789")
    with _Partial(dest) as part:
        _aged(dest)
        part.truncate(4)
        assert dest.stat().st_size == 4
        assert dest.stat().st_mtime_ns != OLD * 10**9
        part.write(b"xy")
    assert dest.read_bytes() == b"0123xy"


def test_a_fresh_partial_keeps_its_times_when_writing_starts_at_zero(tmp_path: Path) -> None:
    dest = tmp_path / "c-3.part"
    with _Partial(dest) as part:
        _aged(dest)
        part.truncate(0)
        assert dest.stat().st_mtime_ns == OLD * 10**9
        assert part.length() == 0
