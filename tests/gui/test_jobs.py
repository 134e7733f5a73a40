"""The job manager's part in keeping the window smooth: the full garbage collection it
runs once the jobs have been idle, in place of CPython's automatic one (gui/app.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from core.progress import CancelToken, ProgressSink
from gui import jobs as jobs_module
from gui.app import NO_AUTOMATIC_FULL_GC, application
from gui.jobs import JobManager


class Node:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def no_automatic_full_gc() -> Iterator[None]:
    before = gc.get_threshold()
    application()  # what the window's process sets up
    assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL_GC
    yield
    gc.set_threshold(*before)


def test_old_garbage_is_collected_once_the_jobs_are_idle(
    qtbot: QtBot, no_automatic_full_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "IDLE_COLLECT_MS", 50)
    node = Node()
    gc.collect(1)  # a survivor of the young collections: only a full one can free it
    dead = weakref.ref(node)
    del node
    gc.collect(1)
    assert dead() is not None
    manager = JobManager()

    def work(sink: ProgressSink, cancel: CancelToken) -> int:
        return 1

    job = manager.start("game", "verify", work)
    assert job is not None
    qtbot.waitUntil(lambda: not manager.jobs, timeout=10_000)
    qtbot.waitUntil(lambda: dead() is None, timeout=5_000)


ORPHANED_JOB = """
import gc, sys, threading
from PySide6.QtWidgets import QApplication
from gui.jobs import JobManager

app = QApplication([])
started = threading.Event()

def work(sink, cancel):
    started.set()
    while not cancel.cancelled:
        threading.Event().wait(0.01)
    return "cancelled"

manager = JobManager()
manager.start("history:game", "history", work)
started.wait(10)
del manager  # the window goes, and its jobs' last references with it
gc.collect()
print("dropped", flush=True)
"""


def test_a_job_that_loses_its_window_while_running_never_aborts_the_process() -> None:
    # Qt aborts a process whose QThread is destroyed while it runs (exit code 134, the
    # window gone before a history read it had just started had ended): the job is kept
    # until it ends, and the process's exit cancels it and waits for it.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", ORPHANED_JOB],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "dropped" in done.stdout, done.stderr
    assert done.returncode == 0, done.stderr
    assert "Destroyed while thread" not in done.stderr
