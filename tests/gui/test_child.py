"""Jobs in a child process (gui/child.py): what the body reports, returns and raises
reaches the window's side as if it had run on a thread; cancel crosses over; a child that
dies becomes a clear error. Each test starts real processes from the fork server."""

from __future__ import annotations

import logging
import os
import signal
import threading
from functools import partial
from pathlib import Path

import pytest

from core.errors import BuildNotFoundError, CancelledError, SlipstreamError
from core.progress import CancelToken, Progress, ProgressSink
from gui.child import NICENESS, EngineProcessError, run_in_child


def _report_and_return(count: int, sink: ProgressSink, cancel: CancelToken) -> tuple[int, str]:
    for i in range(count):
        sink(Progress("downloading", i + 1, count, item=f"file-{i}", unit="files"))
    logging.getLogger("slipstream.test_child").warning("reported %d files", count)
    return os.getpid(), os.environ.get("SLIPSTREAM_HOME", "")


def _niceness(sink: ProgressSink, cancel: CancelToken) -> int:
    return os.nice(0)


def _raise_typed(sink: ProgressSink, cancel: CancelToken) -> None:
    raise BuildNotFoundError("build 9 of product 1")


class _Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickling calls __init__ with one arg
        super().__init__(f"{a}+{b}")


def _raise_unpicklable(sink: ProgressSink, cancel: CancelToken) -> None:
    raise _Unpicklable(1, 2)


def _wait_for_cancel(sink: ProgressSink, cancel: CancelToken) -> None:
    sink(Progress("downloading", 0, 1))
    while not cancel.cancelled:
        threading.Event().wait(0.01)
    raise CancelledError()


def _die(sink: ProgressSink, cancel: CancelToken) -> None:
    sink(Progress("downloading", 0, 1))
    os.kill(os.getpid(), signal.SIGKILL)


def _finish_after_the_result(folder: str, sink: ProgressSink, cancel: CancelToken) -> str:
    """Like core/gamedir/folder.py delete_later: work the process does once its main
    thread has ended (after the result is sent), here held until the test says go."""

    def after() -> None:
        threading.main_thread().join()
        while not os.path.exists(os.path.join(folder, "go")):
            threading.Event().wait(0.01)
        with open(os.path.join(folder, "finished"), "w"):
            pass

    threading.Thread(target=after, daemon=False).start()
    return "result"


def test_the_job_ends_with_its_result_while_its_process_finishes_on_its_own(
    tmp_path: Path,
) -> None:
    # The window must not wait for what the process does after its result (deleting an
    # update's discarded downloads), nor kill it for taking its time.
    body = partial(_finish_after_the_result, str(tmp_path))
    assert run_in_child(body, lambda progress: None, CancelToken()) == "result"
    assert not (tmp_path / "finished").exists()  # it was still waiting for "go"
    (tmp_path / "go").touch()
    for _ in range(3000):
        if (tmp_path / "finished").exists():
            break
        threading.Event().wait(0.01)
    assert (tmp_path / "finished").exists()


def test_reports_results_logs_and_environment_cross_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    # Set after the fork server started (the window starts it first): the child still
    # sees the window's environment as it is now.
    monkeypatch.setenv("SLIPSTREAM_HOME", "/somewhere/now")
    got: list[Progress] = []
    with caplog.at_level(logging.INFO, logger="slipstream"):
        pid, home = run_in_child(partial(_report_and_return, 500), got.append, CancelToken())
    assert pid != os.getpid()
    assert home == "/somewhere/now"
    assert [p.item for p in got] == [f"file-{i}" for i in range(500)]  # all, in order
    assert got[-1].done == 500
    assert "reported 500 files" in caplog.text


def test_a_typed_error_arrives_typed_with_the_childs_traceback() -> None:
    with pytest.raises(BuildNotFoundError) as info:
        run_in_child(_raise_typed, lambda p: None, CancelToken())
    assert info.value.detail == "build 9 of product 1"
    assert any("_raise_typed" in note for note in info.value.__notes__)


def test_an_error_that_cannot_cross_arrives_as_its_text() -> None:
    with pytest.raises(SlipstreamError, match=r"1\+2"):
        run_in_child(_raise_unpicklable, lambda p: None, CancelToken())


def test_cancel_reaches_the_child() -> None:
    token = CancelToken()

    def sink(progress: Progress) -> None:
        token.cancel()  # as soon as the body is running

    with pytest.raises(CancelledError):
        run_in_child(_wait_for_cancel, sink, token)


def test_a_child_that_dies_is_a_clear_error() -> None:
    with pytest.raises(EngineProcessError, match="exit code -9") as info:
        run_in_child(_die, lambda p: None, CancelToken())
    assert "run it again to resume" in str(info.value)


def test_the_child_yields_the_cpu_to_the_window() -> None:
    assert run_in_child(_niceness, lambda p: None, CancelToken()) == min(19, os.nice(0) + NICENESS)
