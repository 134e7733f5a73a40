"""verify_files on real folders, corrupted on purpose (fault catalogue C6)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.errors import CancelledError, UnsafePathError
from core.gamedir import verify
from core.gamedir.verify import Wound, verify_files
from core.progress import CancelToken, Progress

MIB = 1 << 20
# (path, seed, size): one file spans several 1 MiB reads, one is empty.
BUILD = [
    ("game.exe", 1, 2 * MIB + 12345),
    ("data/level1.pak", 2, 70_000),
    ("data/sub/readme.txt", 3, 500),
    ("data/empty.dat", 4, 0),
    ("sounds/a.ogg", 5, 4096),
]


@dataclass(frozen=True)
class InstalledFile:
    """The shape of core.gamedir.folder.InstalledFile, which verify takes through a Protocol."""

    path: str
    md5: str
    size: int
    sha256: str | None = None
    executable: bool = False
    mtime_ns: int = 0


def _bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def game(tmp_path: Path) -> tuple[Path, dict[str, InstalledFile]]:
    """A folder written from BUILD and its records, as an install would leave them.

    Every other file records a sha256 too, so both hash choices are exercised."""
    root = tmp_path / "game"
    records = {}
    for n, (rel, seed, size) in enumerate(BUILD):
        data = _bytes(seed, size)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        records[rel] = InstalledFile(
            path=rel,
            md5=hashlib.md5(data).hexdigest(),
            size=size,
            sha256=hashlib.sha256(data).hexdigest() if n % 2 else None,
            mtime_ns=path.stat().st_mtime_ns,
        )
    return root, records


def _both(root: Path, records: dict[str, InstalledFile]) -> Iterator[verify.VerifyReport]:
    yield verify_files(root, records)
    yield verify_files(root, records, full=True)


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), root)] = (
                st.st_mode,
                st.st_size,
                st.st_mtime_ns,
            )
    return found


TOTAL = sum(size for _, _, size in BUILD)


def test_clean_folder_is_ok_in_both_modes(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    quick = verify_files(root, records)
    assert quick.ok and quick.wounds == () and not quick.full
    assert quick.checked == len(BUILD)
    assert quick.bytes_hashed == 0  # sizes and mtimes all match: nothing is read
    full = verify_files(root, records, full=True, jobs=3)
    assert full.ok and full.full and full.checked == len(BUILD)
    assert full.bytes_hashed == TOTAL


def test_verify_writes_nothing(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    (root / "data" / "level1.pak").write_bytes(b"short")
    (root / "sounds" / "a.ogg").unlink()
    before = _snapshot(root)
    for report in _both(root, records):
        assert not report.ok
    assert _snapshot(root) == before


def test_flipped_bit_with_mtime_restored(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    """Quick mode trusts size + mtime, so it misses this by design; full mode catches it."""
    root, records = game
    path = root / "game.exe"
    data = bytearray(path.read_bytes())
    data[MIB + 7] ^= 0x10
    path.write_bytes(bytes(data))
    recorded = records["game.exe"].mtime_ns
    os.utime(path, ns=(recorded, recorded))
    assert verify_files(root, records).ok
    full = verify_files(root, records, full=True)
    assert full.wounds == (
        Wound(
            "game.exe",
            "hash",
            f"expected md5 {records['game.exe'].md5}, found {hashlib.md5(bytes(data)).hexdigest()}",
        ),
    )


def test_changed_content_with_a_new_mtime_is_caught_in_quick_mode(
    game: tuple[Path, dict[str, InstalledFile]],
) -> None:
    root, records = game
    path = root / "data" / "level1.pak"
    path.write_bytes(_bytes(99, records["data/level1.pak"].size))
    os.utime(path, ns=(1, records["data/level1.pak"].mtime_ns + 5_000_000_000))
    for report in _both(root, records):
        assert [(w.path, w.reason) for w in report.wounds] == [("data/level1.pak", "hash")]
        assert report.wounds[0].detail.startswith("expected sha256 ")


def test_touched_but_identical_file_passes_quick_mode(
    game: tuple[Path, dict[str, InstalledFile]],
) -> None:
    root, records = game
    os.utime(root / "data" / "level1.pak", ns=(1, 1_000_000_000))
    report = verify_files(root, records)
    assert report.ok
    assert report.bytes_hashed == records["data/level1.pak"].size  # hashed to decide


def test_no_recorded_mtime_means_quick_mode_hashes(
    game: tuple[Path, dict[str, InstalledFile]],
) -> None:
    root, records = game
    unknown = {k: InstalledFile(r.path, r.md5, r.size, r.sha256) for k, r in records.items()}
    report = verify_files(root, unknown)
    assert report.ok and report.bytes_hashed == TOTAL


def test_truncated(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    path = root / "game.exe"
    with path.open("r+b") as f:
        f.truncate(MIB)
    for report in _both(root, records):
        assert report.wounds == (
            Wound("game.exe", "size", f"expected {2 * MIB + 12345} bytes, found {MIB}"),
        )


def test_extra_trailing_bytes(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    with (root / "data" / "sub" / "readme.txt").open("ab") as f:
        f.write(b"\0\0\0")
    for report in _both(root, records):
        assert report.wounds == (
            Wound("data/sub/readme.txt", "size", "expected 500 bytes, found 503"),
        )


def test_file_growing_after_lstat_is_a_size_wound_even_if_the_prefix_hash_matches(
    game: tuple[Path, dict[str, InstalledFile]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read itself stops one byte past the recorded size and counts what it read."""
    root, records = game
    data = (root / "data" / "sub" / "readme.txt").read_bytes()
    real_open = verify._open

    def grown(path: str) -> io.RawIOBase:
        if path.endswith("readme.txt"):
            return io.BytesIO(data + b"appended" * MIB)  # type: ignore[return-value]
        return real_open(path)

    monkeypatch.setattr(verify, "_open", grown)
    report = verify_files(root, records, full=True)
    assert report.wounds == (
        Wound("data/sub/readme.txt", "size", "expected 500 bytes, found more than 500"),
    )
    assert report.bytes_hashed < TOTAL + MIB  # it did not read the whole appended tail


def test_missing_file_and_missing_folder(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    (root / "sounds" / "a.ogg").unlink()
    (root / "sounds").rmdir()
    (root / "data" / "empty.dat").unlink()
    for report in _both(root, records):
        assert [(w.path, w.reason) for w in report.wounds] == [
            ("data/empty.dat", "missing"),
            ("sounds/a.ogg", "missing"),
        ]
        assert report.wounds[1].detail == "its folder sounds is missing"


def test_folder_in_place_of_a_file(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    (root / "data" / "level1.pak").unlink()
    (root / "data" / "level1.pak").mkdir()
    for report in _both(root, records):
        assert report.wounds == (Wound("data/level1.pak", "not a file", "a folder"),)


def test_file_in_place_of_a_folder(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    (root / "sounds" / "a.ogg").unlink()
    (root / "sounds").rmdir()
    (root / "sounds").write_bytes(b"x")
    for report in _both(root, records):
        assert report.wounds == (
            Wound("sounds/a.ogg", "not a file", "its folder sounds is a file"),
        )


def test_symlink_in_place_of_a_file_is_not_followed(
    game: tuple[Path, dict[str, InstalledFile]], tmp_path: Path
) -> None:
    """Even a link to a byte-identical copy is a wound: verify never follows links."""
    root, records = game
    target = tmp_path / "outside.ogg"
    target.write_bytes((root / "sounds" / "a.ogg").read_bytes())
    (root / "sounds" / "a.ogg").unlink()
    (root / "sounds" / "a.ogg").symlink_to(target)
    for report in _both(root, records):
        assert report.wounds == (Wound("sounds/a.ogg", "not a file", "a symbolic link"),)


def test_symlinked_folder_is_not_followed(
    game: tuple[Path, dict[str, InstalledFile]], tmp_path: Path
) -> None:
    root, records = game
    (root / "data").rename(tmp_path / "data-elsewhere")
    (root / "data").symlink_to(tmp_path / "data-elsewhere")
    for report in _both(root, records):
        assert {w.path for w in report.wounds} == {
            "data/level1.pak",
            "data/sub/readme.txt",
            "data/empty.dat",
        }
        assert {(w.reason, w.detail) for w in report.wounds} == {
            ("not a file", "its folder data is a symbolic link")
        }
        assert report.bytes_hashed <= records["game.exe"].size + records["sounds/a.ogg"].size


def test_symlink_swapped_in_after_lstat_is_refused_by_o_nofollow(
    game: tuple[Path, dict[str, InstalledFile]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, records = game
    path = root / "sounds" / "a.ogg"
    real_open = verify._open

    def swap_then_open(name: str) -> io.RawIOBase:
        if name == str(path):
            copy = tmp_path / "copy.ogg"
            copy.write_bytes(path.read_bytes())
            path.unlink()
            path.symlink_to(copy)
        return real_open(name)

    monkeypatch.setattr(verify, "_open", swap_then_open)
    report = verify_files(root, records, full=True)
    assert report.wounds == (Wound("sounds/a.ogg", "not a file", "a symbolic link"),)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX only")
def test_fifo_in_place_of_a_file_does_not_hang(
    game: tuple[Path, dict[str, InstalledFile]],
) -> None:
    root, records = game
    (root / "sounds" / "a.ogg").unlink()
    os.mkfifo(root / "sounds" / "a.ogg")
    for report in _both(root, records):
        assert report.wounds == (Wound("sounds/a.ogg", "not a file", "a special file"),)


class _FailingRead(io.RawIOBase):
    """Reads one good block, then fails the way a bad disk sector does."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.calls += 1
        if self.calls > 1:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        buffer[:10] = b"\0" * 10
        return 10


def test_eio_on_read_marks_the_file_unreadable(
    game: tuple[Path, dict[str, InstalledFile]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI runs as root, where chmod 000 reads fine, so the fault comes through the seam."""
    root, records = game
    real_open = verify._open

    def faulty(path: str) -> io.RawIOBase:
        return _FailingRead() if path.endswith("game.exe") else real_open(path)

    monkeypatch.setattr(verify, "_open", faulty)
    report = verify_files(root, records, full=True, jobs=2)
    assert report.wounds == (Wound("game.exe", "unreadable", os.strerror(errno.EIO)),)


def test_eacces_on_open_marks_the_file_unreadable(
    game: tuple[Path, dict[str, InstalledFile]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, records = game
    real_open = verify._open

    def denied(path: str) -> io.RawIOBase:
        if path.endswith("level1.pak"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path)

    monkeypatch.setattr(verify, "_open", denied)
    os.utime(root / "data" / "level1.pak", ns=(1, 1))  # so quick mode reads it too
    for report in _both(root, records):
        assert report.wounds == (Wound("data/level1.pak", "unreadable", os.strerror(errno.EACCES)),)


def test_sha256_is_preferred_when_recorded(
    game: tuple[Path, dict[str, InstalledFile]],
) -> None:
    root, records = game
    good = records["data/level1.pak"]
    assert good.sha256
    records["data/level1.pak"] = InstalledFile(good.path, "0" * 32, good.size, good.sha256)
    assert verify_files(root, records, full=True).ok
    records["data/level1.pak"] = InstalledFile(good.path, good.md5, good.size, "f" * 64)
    report = verify_files(root, records, full=True)
    assert report.wounds == (
        Wound("data/level1.pak", "hash", f"expected sha256 {'f' * 64}, found {good.sha256}"),
    )


def test_uppercase_recorded_hash_matches(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    upper = {
        k: InstalledFile(r.path, r.md5.upper(), r.size, r.sha256 and r.sha256.upper())
        for k, r in records.items()
    }
    assert verify_files(root, upper, full=True).ok


def test_unsafe_recorded_path_is_refused(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    records["../outside"] = InstalledFile("../outside", "0" * 32, 1)
    with pytest.raises(UnsafePathError):
        verify_files(root, records)


def test_progress_reaches_the_total(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    seen: list[Progress] = []
    verify_files(root, records, full=True, jobs=3, progress=seen.append)
    hashing = [p for p in seen if p.phase == verify.HASH_PHASE]
    assert all(p.total == TOTAL and p.unit == "bytes" for p in hashing)
    assert [p.done for p in hashing] == sorted(p.done for p in hashing)
    assert hashing[-1].done == TOTAL
    assert {p.item for p in hashing if p.item} == {rel for rel, _, size in BUILD if size}
    scanning = [p for p in seen if p.phase == verify.SCAN_PHASE]
    assert scanning[-1].done == scanning[-1].total == len(BUILD)
    assert seen.index(scanning[-1]) < seen.index(hashing[0])


def test_progress_reaches_the_total_when_a_file_shrank_while_read(
    game: tuple[Path, dict[str, InstalledFile]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, records = game
    real_open = verify._open

    def shrunk(path: str) -> io.RawIOBase:
        if path.endswith("game.exe"):
            return io.BytesIO(b"tiny")  # type: ignore[return-value]
        return real_open(path)

    monkeypatch.setattr(verify, "_open", shrunk)
    seen: list[Progress] = []
    report = verify_files(root, records, full=True, progress=seen.append)
    assert [w.reason for w in report.wounds] == ["size"]
    assert seen[-1].done == seen[-1].total == TOTAL


def test_cancel_between_reads(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    token = CancelToken()
    reads: list[Progress] = []

    def cancel_after_first_read(progress: Progress) -> None:
        if progress.phase == verify.HASH_PHASE and progress.done:
            reads.append(progress)
            token.cancel()

    with pytest.raises(CancelledError):
        verify_files(
            root, records, full=True, jobs=1, progress=cancel_after_first_read, cancel=token
        )
    # jobs=1, largest file first: it stopped inside game.exe, after its first 1 MiB read.
    assert [p.done for p in reads] == [MIB]


def test_cancel_before_start(game: tuple[Path, dict[str, InstalledFile]]) -> None:
    root, records = game
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        verify_files(root, records, cancel=token)
