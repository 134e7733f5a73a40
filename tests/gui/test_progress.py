"""The progress numbers the window shows, and the relay that carries them across threads."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from core.progress import Progress
from core.update.plan import FileAction, Plan
from gui.jobs import JobManager, ProgressRelay
from gui.progress_state import FileEvent, ProgressState


def plan() -> Plan:
    def action(kind: str, path: str) -> FileAction:
        return FileAction(kind, path, None)

    actions = (
        action("patched", "a.bin"),
        action("patched", "b.bin"),
        action("new", "c.txt"),
        action("deleted", "old.txt"),
        action("unchanged", "same.txt"),
    )
    return Plan(None, "3", actions, (), 100, 1000, 0)


def test_file_states_follow_the_reports_and_fallbacks() -> None:
    state = ProgressState("update")
    state.set_plan(plan())
    assert list(state.files) == ["a.bin", "b.bin", "c.txt", "old.txt"]
    assert state.saved_bytes() == 900
    state.update(Progress("patching", 1, 2, "a.bin", "files"), [FileEvent("patching", "a.bin")])
    state.update(
        Progress("patching", 2, 2, "b.bin", "files"),
        [FileEvent("patching", "b.bin")],
    )
    # b.bin's patch failed: it is assembled from chunks afterwards.
    state.update(
        Progress("assembling", 2, 2, "b.bin", "files"),
        [FileEvent("assembling", "c.txt"), FileEvent("assembling", "b.bin")],
    )
    assert {p: r.state for p, r in state.files.items()} == {
        "a.bin": "patched",
        "b.bin": "fell back",
        "c.txt": "fetched",
        "old.txt": "waiting",
    }
    state.update(Progress("verifying", 1, 2, "c.txt", "files"), [FileEvent("verifying", "c.txt")])
    state.finish("ok", ["b.bin"])
    assert {p: r.state for p, r in state.files.items()} == {
        "a.bin": "verified",
        "b.bin": "fell back, verified",
        "c.txt": "verified",
        "old.txt": "removed",
    }
    assert state.overall == 1.0


def test_overall_never_goes_back_and_speed_and_eta_come_from_recent_bytes() -> None:
    state = ProgressState("update")
    state.update(Progress("downloading", 0, 1000), now=10.0)
    state.update(Progress("downloading", 500, 1000), now=11.0)
    assert state.speed() == 500.0 and state.eta() == 1.0
    halfway = state.overall
    assert 0.02 < halfway < 0.62
    state.update(Progress("patching", 1, 2, "a", "files"), now=12.0)
    assert state.overall > halfway
    before = state.overall
    # Fallbacks download again: the bar holds, the byte counts go on from the first round.
    state.update(Progress("downloading", 0, 200), now=13.0)
    assert state.overall == before
    assert (state.download_done, state.download_total) == (500, 1200)
    assert state.eta() is None  # one sample of the new round: no speed yet


def test_relay_rate_limits_but_never_drops_a_file_event(qtbot: QtBot) -> None:
    relay = ProgressRelay(rate=10.0)
    received: list[tuple[Progress, list[FileEvent]]] = []
    relay.progressed.connect(lambda p, e: received.append((p, e)))

    def produce() -> None:
        relay(Progress("downloading", 0, 10_000))
        for n in range(10_000):
            relay(Progress("downloading", n + 1, 10_000))
        for n in range(500):
            relay(Progress("verifying", n + 1, 500, f"f{n}", "files"))
        relay.flush()

    worker = threading.Thread(target=produce)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(received) and received[-1][0].phase == "verifying")
    QCoreApplication.processEvents()
    assert len(received) < 100  # 10,500 reports in well under a second
    events = [e.path for _, batch in received for e in batch]
    assert events == [f"f{n}" for n in range(500)]
    assert received[0][0].phase == "downloading"


def test_job_manager_runs_one_job_per_key_and_reports_failures(qtbot: QtBot) -> None:
    manager = JobManager()
    gate = threading.Event()

    def slow(sink, cancel):  # type: ignore[no-untyped-def]
        gate.wait(10)
        cancel.raise_if_cancelled()
        return 42

    job = manager.start("game", "update", slow)
    assert job is not None and manager.busy("game")
    assert manager.start("game", "verify", slow) is None  # one job per game
    other = manager.start("other", "check", lambda s, c: "fine")
    assert other is not None
    with qtbot.waitSignal(job.failed, timeout=10_000) as failed:
        job.cancel()
        gate.set()
    assert type(failed.args[0]).__name__ == "CancelledError"
    qtbot.waitUntil(lambda: not manager.jobs)

    def broken(sink, cancel):  # type: ignore[no-untyped-def]
        raise ValueError("a bug")

    job = manager.start("game", "update", broken)
    assert job is not None
    with qtbot.waitSignal(job.failed, timeout=10_000) as failed:
        pass
    assert isinstance(failed.args[0], ValueError) and "Traceback" in failed.args[1]


def test_signal_emission_keeps_the_reference_count_of_true() -> None:
    """PySide6 6.12.0 dropped a reference to True on every emission, so a long session
    (or this suite) aborted in bool_dealloc; pyproject.toml excludes that release."""
    import sys

    relay = ProgressRelay(rate=1e9)
    relay.progressed.connect(lambda p, e: None)
    before = sys.getrefcount(True)
    for n in range(200):
        relay(Progress(f"phase {n}", n, 200))
    assert sys.getrefcount(True) - before > -50


def test_each_file_moves_with_the_work_and_a_stopped_run_says_so() -> None:
    state = ProgressState("update")
    state.set_plan(plan())
    state.update(Progress("downloading", 0, 100))
    assert {p: r.state for p, r in state.files.items()} == {
        "a.bin": "downloading",
        "b.bin": "downloading",
        "c.txt": "downloading",
        "old.txt": "waiting",
    }
    state.update(Progress("patching", 0, 2, "", "files"))
    assert [state.files[p].state for p in ("a.bin", "c.txt")] == ["patching", "downloaded"]
    state.update(Progress("patching", 1, 2, "a.bin", "files"), [FileEvent("patching", "a.bin")])
    state.finish("cancelled")
    assert {p: r.state for p, r in state.files.items()} == {
        "a.bin": "patched",
        "b.bin": "stopped",
        "c.txt": "stopped",
        "old.txt": "waiting",
    }
    assert state.bar_text() == "Stopped"


def test_a_resumed_update_counts_on_from_the_bytes_already_downloaded() -> None:
    state = ProgressState("update")
    state.set_plan(plan())  # 100 bytes to download
    state.resume_from(40)
    assert (state.download_done, state.download_total) == (40, 100)
    state.update(Progress("downloading", 0, 60), now=1.0)
    assert (state.download_done, state.download_total) == (40, 100)
    state.update(Progress("downloading", 30, 60), now=2.0)
    assert (state.download_done, state.fraction) == (70, 0.7)
    assert state.bar_text() == "70 B of 100 B (70%)"


def test_the_bar_and_its_text_come_from_the_same_numbers() -> None:
    state = ProgressState("update")
    state.set_plan(plan())
    reports = [
        Progress("downloading", 13, 100),
        Progress("downloading", 57, 100),
        Progress("patching", 1, 3, "a.bin", "files"),
        Progress("verifying", 2, 3, "c.txt", "files"),
    ]
    for report in reports:
        state.update(report)
        percent = int(state.bar_text().rsplit("(", 1)[1].rstrip("%)"))
        assert percent == round(state.fraction * 100), state.bar_text()
    assert state.bar_text() == "2 of 3 files (67%)"


def test_only_the_changed_rows_come_out_and_then_none() -> None:
    state = ProgressState("update")
    state.set_plan(plan())
    assert state.take_changes() == []  # a new plan is shown whole, not as changes
    state.file_event("assembling", "c.txt")
    state.file_event("patching", "a.bin")
    state.file_event("patching", "a.bin")  # no change the second time
    assert state.take_changes() == [0, 2]
    assert state.take_changes() == []


def test_an_install_lists_each_file_as_it_is_assembled() -> None:
    state = ProgressState("install")
    state.update(Progress("assembling", 1, 2, "x.bin", "files"), [FileEvent("assembling", "x.bin")])
    state.update(Progress("verifying", 1, 2, "x.bin", "files"), [FileEvent("verifying", "x.bin")])
    assert state.row_count() == 1 and state.row_at(0).state == "verified"


def test_verify_counts_files_checked_not_bytes_downloaded() -> None:
    state = ProgressState("verify")
    state.update(Progress("checking files", 3, 3, "", "files"))
    state.update(Progress("hashing", 10, 100, "a"))
    state.update(Progress("hashing", 50, 100, "b"))
    assert (state.checked_files(), state.files_total) == (2, 3)
    assert state.download_total == 0
    state.finish("ok")
    assert state.checked_files() == 3


def test_relay_sends_the_last_count_of_a_download_round_before_the_next(
    qtbot: QtBot,
) -> None:
    relay = ProgressRelay(rate=0.001)  # nothing is due by time: only rounds and phases
    received: list[Progress] = []
    relay.progressed.connect(lambda p, e: received.append(p))
    relay(Progress("downloading", 0, 500))
    relay(Progress("downloading", 200, 500))
    relay(Progress("downloading", 500, 500))
    relay(Progress("downloading", 0, 80))
    state = ProgressState("update")
    for report in received:
        state.update(report)
    assert [(p.done, p.total) for p in received] == [(0, 500), (500, 500), (0, 80)]
    assert (state.download_done, state.download_total) == (500, 580)
