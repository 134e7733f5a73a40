"""core.delta.xdelta against real files, the real pyxdelta and the real xdelta3 command."""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.delta.xdelta import (
    CLI_MAX_WINDOW,
    CLI_MIN_WINDOW,
    EncodeJob,
    PatchPool,
    decode,
    encode,
    partial_path,
)
from core.errors import CancelledError, PatchDecodeError, PatchEncodeError
from core.progress import CancelToken, Progress

XDELTA3 = shutil.which("xdelta3")
needs_cli = pytest.mark.skipif(XDELTA3 is None, reason="needs the xdelta3 command")

MiB = 2**20


def edited(data: bytes, seed: int, edits: int) -> bytes:
    """``data`` with ``edits`` scattered 16-byte overwrites."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(edits):
        at = rng.randrange(len(out) - 16)
        out[at : at + 16] = rng.randbytes(16)
    return bytes(out)


def write_pair(folder: Path, seed: int, size: int, edits: int = 50) -> tuple[Path, Path]:
    """A source file and a target made from it by scattered edits."""
    folder.mkdir(parents=True, exist_ok=True)
    data = random.Random(seed).randbytes(size)
    source, target = folder / f"old{seed}.bin", folder / f"new{seed}.bin"
    source.write_bytes(data)
    target.write_bytes(edited(data, seed + 1, edits))
    return source, target


def write_unrelated(folder: Path, seed: int, size: int) -> tuple[Path, Path]:
    """Two files with nothing in common: xdelta3 searches hard and slowly for matches."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    source, target = folder / f"old{seed}.bin", folder / f"new{seed}.bin"
    source.write_bytes(rng.randbytes(size))
    target.write_bytes(rng.randbytes(size))
    return source, target


def cli(*args: str | Path | int) -> subprocess.CompletedProcess[bytes]:
    assert XDELTA3 is not None
    return subprocess.run([XDELTA3, *map(str, args)], capture_output=True, check=False)


def has_app_header(patch: Path) -> bool:
    """pyxdelta writes xdelta3's application header (the file names); our CLI call does not."""
    header = cli("printhdr", patch).stdout.decode()
    line = next(x for x in header.splitlines() if x.startswith("VCDIFF header indicator"))
    return "VCD_APPHEADER" in line


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "xdelta-partial" in p.name)


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (Linux only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wait_for(path: Path) -> None:
    """Wait until ``path`` exists: a worker has started writing it."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


# --- encode and decode in this process -----------------------------------------------------


def test_roundtrip_with_scattered_edits(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=1, size=3 * MiB, edits=200)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"

    size = encode(source, target, patch)
    decode(source, patch, out)

    assert size == patch.stat().st_size
    assert size < 3 * MiB // 20  # edits only, not the file
    assert has_app_header(patch)  # it was pyxdelta that encoded it
    assert out.read_bytes() == target.read_bytes()
    assert leftovers(tmp_path) == []


def test_decode_replaces_existing_output_and_stale_partial(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=2, size=200_000)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"
    encode(source, target, patch)
    out.write_bytes(b"old contents")
    partial_path(out).write_bytes(b"left by a killed worker")

    decode(source, patch, out)

    assert out.read_bytes() == target.read_bytes()
    assert leftovers(tmp_path) == []


@needs_cli
def test_xdelta3_command_decodes_pyxdelta_patch(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=3, size=1 * MiB)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"
    encode(source, target, patch)

    done = cli("-d", "-f", "-s", source, patch, out)

    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == target.read_bytes()


@needs_cli
def test_pyxdelta_decodes_xdelta3_command_patch(tmp_path: Path) -> None:
    # The source is under the command's 512 KiB minimum window, so -B is clamped up too.
    source, target = write_pair(tmp_path, seed=4, size=300_000)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"

    encode(source, target, patch, cli_above=0)
    decode(source, patch, out)

    assert not has_app_header(patch)  # made by the command, without file names
    assert out.read_bytes() == target.read_bytes()


@needs_cli
def test_window_limits_match_the_installed_command(tmp_path: Path) -> None:
    # Encoding with the 2 GiB maximum itself would allocate about 1 GB even for tiny files,
    # so the limits are pinned through the command's refusals, which name them.
    source, target = write_pair(tmp_path, seed=5, size=1000)
    patch = tmp_path / "p"
    accepted = cli("-e", "-f", "-S", "none", "-B", CLI_MIN_WINDOW, "-s", source, target, patch)
    below = cli("-e", "-f", "-S", "none", "-B", CLI_MIN_WINDOW - 1, "-s", source, target, patch)
    above = cli("-e", "-f", "-S", "none", "-B", CLI_MAX_WINDOW + 1, "-s", source, target, patch)

    assert accepted.returncode == 0, accepted.stderr
    assert below.returncode != 0 and f"minimum value: {CLI_MIN_WINDOW}" in below.stderr.decode()
    assert above.returncode != 0 and f"maximum value: {CLI_MAX_WINDOW}" in above.stderr.decode()


@needs_cli
@pytest.mark.slow
def test_large_file_with_swapped_halves_gives_tiny_patch(tmp_path: Path) -> None:
    # Larger than pyxdelta's 64 MiB window and not a round size, so the window must cover
    # the source exactly for the far half to be found.
    size = 80 * MiB + 12_345
    data = random.Random(6).randbytes(size)
    source, target = tmp_path / "old.bin", tmp_path / "new.bin"
    source.write_bytes(data)
    target.write_bytes(data[size // 2 :] + data[: size // 2])
    del data
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"

    size_of_patch = encode(source, target, patch)
    decode(source, patch, out)

    assert size_of_patch < 64 * 1024
    assert out.read_bytes() == target.read_bytes()


def test_missing_command_falls_back_to_pyxdelta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    source, target = write_pair(tmp_path / "files", seed=7, size=200_000)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    with caplog.at_level(logging.INFO, logger="core.delta.xdelta"):
        encode(source, target, patch, cli_above=0)
    decode(source, patch, out)

    assert "not found" in caplog.text
    assert out.read_bytes() == target.read_bytes()


def test_encode_missing_source_names_it(tmp_path: Path) -> None:
    _, target = write_pair(tmp_path, seed=8, size=10_000)
    missing, patch = tmp_path / "no-such-source.bin", tmp_path / "p.vcdiff"

    with pytest.raises(PatchEncodeError) as caught:
        encode(missing, target, patch)

    assert str(missing) in caught.value.detail
    assert not patch.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "cli_above",
    [pytest.param(2**62, id="pyxdelta"), pytest.param(0, id="command", marks=needs_cli)],
)
def test_encode_failure_carries_xdelta3_message(tmp_path: Path, cli_above: int) -> None:
    source, target = write_pair(tmp_path, seed=9, size=10_000)
    patch = tmp_path / "no-such-folder" / "p.vcdiff"

    with pytest.raises(PatchEncodeError) as caught:
        encode(source, target, patch, cli_above=cli_above)

    detail = caught.value.detail
    assert str(source) in detail and str(target) in detail
    assert "xdelta3:" in detail  # its own words, captured from its stderr
    assert "no-such-folder" in detail


def _garbage(patch: bytes) -> bytes:
    return random.Random(10).randbytes(len(patch))


def _truncated(patch: bytes) -> bytes:
    return patch[: len(patch) // 2]


@pytest.mark.parametrize(
    "spoil", [_garbage, _truncated, None], ids=["garbage", "truncated", "wrong-source"]
)
def test_decode_failure_carries_message_and_leaves_nothing(tmp_path: Path, spoil: object) -> None:
    # Half the target is new data and it spans several 8 MiB windows, so a truncated patch
    # fails after xdelta3 has written part of the output.
    base = random.Random(11).randbytes(12 * MiB)
    fresh = random.Random(12).randbytes(12 * MiB)
    source, target = tmp_path / "old.bin", tmp_path / "new.bin"
    source.write_bytes(base)
    target.write_bytes(
        b"".join(base[i : i + MiB] + fresh[i : i + MiB] for i in range(0, 12 * MiB, 2 * MiB))
    )
    patch = tmp_path / "p.vcdiff"
    encode(source, target, patch)
    if callable(spoil):
        patch.write_bytes(spoil(patch.read_bytes()))
    else:
        source = tmp_path / "other.bin"
        source.write_bytes(random.Random(13).randbytes(12 * MiB))
    staging = tmp_path / "staging"
    staging.mkdir()
    out = staging / "out.bin"

    with pytest.raises(PatchDecodeError) as caught:
        decode(source, patch, out)

    assert caught.value.detail.split(": ", 1)[1].startswith("xdelta3:")
    assert str(patch) in caught.value.detail
    assert not out.exists()
    assert list(staging.iterdir()) == []


def test_failed_decode_keeps_existing_output(tmp_path: Path) -> None:
    source, _ = write_pair(tmp_path, seed=14, size=10_000)
    patch, out = tmp_path / "p.vcdiff", tmp_path / "out.bin"
    patch.write_bytes(b"not a patch at all")
    out.write_bytes(b"keep me")

    with pytest.raises(PatchDecodeError):
        decode(source, patch, out)

    assert out.read_bytes() == b"keep me"
    assert leftovers(tmp_path) == []


# --- the process pool ------------------------------------------------------------------


def test_pool_encodes_all_jobs_and_reports_the_failing_one(tmp_path: Path) -> None:
    jobs = []
    for seed in range(20, 25):
        source, target = write_pair(tmp_path / "files", seed=seed, size=300_000 + seed)
        jobs.append(EncodeJob(source, target, tmp_path / f"{seed}.vcdiff"))
    broken = EncodeJob(tmp_path / "missing.bin", jobs[0].target, tmp_path / "broken.vcdiff")
    jobs.insert(2, broken)
    reports: list[Progress] = []

    with PatchPool(jobs=2) as pool:
        results = list(pool.encode_all(jobs, progress=reports.append))

    assert sorted(map(str, (r.job.patch for r in results))) == sorted(str(j.patch) for j in jobs)
    by_job = {r.job: r for r in results}
    failed = by_job[broken]
    assert failed.size is None and failed.error is not None
    assert "missing.bin" in failed.error.detail
    assert not broken.patch.exists()
    for job in jobs:
        if job is broken:
            continue
        result = by_job[job]
        assert result.error is None and result.size == job.patch.stat().st_size
        out = tmp_path / "out.bin"
        decode(job.source, job.patch, out)
        assert out.read_bytes() == job.target.read_bytes()
    total = sum(j.target.stat().st_size for j in jobs)  # the failed job is done too
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].done == reports[-1].total == total
    assert {r.item for r in reports[1:]} == {j.target.name for j in jobs}
    assert {r.phase for r in reports} == {"patching"}
    assert multiprocessing.active_children() == []


def test_pool_cancelled_before_start(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=30, size=10_000)
    token = CancelToken()
    token.cancel()

    with PatchPool(jobs=2) as pool, pytest.raises(CancelledError):
        list(pool.encode_all([EncodeJob(source, target, tmp_path / "p")], cancel=token))

    assert not (tmp_path / "p").exists()
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    "cli_above",
    [pytest.param(2**62, id="pyxdelta"), pytest.param(0, id="command", marks=needs_cli)],
)
def test_pool_cancelled_while_running_stops_everything(tmp_path: Path, cli_above: int) -> None:
    quick = write_pair(tmp_path / "files", seed=31, size=1000)
    jobs = [EncodeJob(*quick, tmp_path / "patches" / "quick.vcdiff")]
    for seed in (32, 33, 34):  # each takes seconds: unrelated data has no matches to find
        jobs.append(
            EncodeJob(
                *write_unrelated(tmp_path / "files", seed, 24 * MiB),
                tmp_path / "patches" / f"{seed}.vcdiff",
            )
        )
    (tmp_path / "patches").mkdir()
    token = CancelToken()

    def cancel_after_first(report: Progress) -> None:
        if report.done > 0:
            token.cancel()

    with PatchPool(jobs=2, cli_above=cli_above) as pool:
        results = pool.encode_all(jobs, progress=cancel_after_first, cancel=token)
        with pytest.raises(CancelledError):
            for _ in results:
                pass
        assert multiprocessing.active_children() == []
        # The pool starts fresh workers after a cancel.
        again = list(pool.encode_all(jobs[:1]))
        assert again[0].error is None

    assert leftovers(tmp_path / "patches") == []
    assert [j.patch.exists() for j in jobs[1:]] == [False] * 3  # stopped, not finished
    assert multiprocessing.active_children() == []
    if sys.platform == "linux":  # a cancelled worker takes its xdelta3 command with it
        assert processes_mentioning(str(tmp_path / "files")) == []


def test_pool_survives_a_worker_that_dies(tmp_path: Path) -> None:
    slow = EncodeJob(*write_unrelated(tmp_path, 40, 16 * MiB), tmp_path / "slow.vcdiff")
    quick = EncodeJob(*write_pair(tmp_path, 41, 10_000), tmp_path / "quick.vcdiff")
    partial = partial_path(slow.patch)

    def kill_workers_mid_job() -> None:
        wait_for(partial)
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)

    with PatchPool(jobs=1) as pool:
        killer = threading.Thread(target=kill_workers_mid_job)
        killer.start()
        (died,) = pool.encode_all([slow])
        killer.join()
        (fine,) = pool.encode_all([quick])

    assert died.error is not None and "stopped unexpectedly" in died.error.detail
    assert not slow.patch.exists() and not partial.exists()
    assert fine.error is None and quick.patch.exists()


def test_pool_decode(tmp_path: Path) -> None:
    source, target = write_pair(tmp_path, seed=50, size=500_000)
    patch, out, bad_out = tmp_path / "p.vcdiff", tmp_path / "out.bin", tmp_path / "bad.bin"
    encode(source, target, patch)
    garbage = tmp_path / "garbage.vcdiff"
    garbage.write_bytes(random.Random(51).randbytes(5000))

    with PatchPool(jobs=2) as pool:
        good = pool.decode(source, patch, out)
        bad = pool.decode(source, garbage, bad_out)
        assert good.result(timeout=60) is None
        with pytest.raises(PatchDecodeError) as caught:
            bad.result(timeout=60)

    assert out.read_bytes() == target.read_bytes()
    assert "xdelta3:" in caught.value.detail
    assert not bad_out.exists()
    assert leftovers(tmp_path) == []
    assert multiprocessing.active_children() == []


def test_pool_stops_running_jobs_when_an_exception_leaves_it(tmp_path: Path) -> None:
    quick = EncodeJob(*write_pair(tmp_path, 60, 10_000), tmp_path / "quick.vcdiff")
    slow = EncodeJob(*write_unrelated(tmp_path, 61, 24 * MiB), tmp_path / "slow.vcdiff")

    with pytest.raises(RuntimeError, match="caller failed"), PatchPool(jobs=1) as pool:
        results = pool.encode_all([quick, slow])
        assert next(results).error is None
        wait_for(partial_path(slow.patch))  # the slow job is under way
        raise RuntimeError("caller failed")

    assert multiprocessing.active_children() == []
    assert not slow.patch.exists()  # stopped, where closing normally would have waited
    assert leftovers(tmp_path) == []
