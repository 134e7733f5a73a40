"""The progress panel: the bar, what the job is doing, and the numbers behind it.

The bar's value and its text come from one :class:`~gui.progress_state.ProgressState`,
so they agree; the line under it adds speed, time left and what patches save.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from core.units import format_bytes, format_duration, percent_saved
from gui.progress_state import ProgressState

PHASE_WORDS = {
    "ok": "The {} finished",
    "cancelled": "The {} was stopped",
    "failed": "The {} failed",
}


class ProgressPanel(QWidget):
    """``overallProgress``, ``phaseLabel`` and ``detailLabel``, filled from a job's state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.overallProgress = QProgressBar()
        self.overallProgress.setObjectName("overallProgress")
        self.overallProgress.setRange(0, 1000)
        self.overallProgress.setFormat("No job running")
        self.overallProgress.setToolTip("Progress of the running step of the job")
        self.overallProgress.setAccessibleName("Progress")
        self.phaseLabel = QLabel("")
        self.phaseLabel.setObjectName("phaseLabel")
        self.phaseLabel.setAccessibleName("What the job is doing")
        self.detailLabel = QLabel("")
        self.detailLabel.setObjectName("detailLabel")
        self.detailLabel.setAccessibleName("Progress details")
        self.detailLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.overallProgress, self.phaseLabel, self.detailLabel):
            layout.addWidget(widget)

    def show_state(self, state: ProgressState | None) -> None:
        if state is None:
            self.overallProgress.setValue(0)
            self.overallProgress.setFormat("No job running")
            self.phaseLabel.setText("")
            self.detailLabel.setText("")
            return
        self.overallProgress.setValue(int(state.fraction * 1000))
        self.overallProgress.setFormat(state.bar_text())
        self.phaseLabel.setText(phase_text(state))
        self.detailLabel.setText(progress_details(state))


def phase_text(state: ProgressState) -> str:
    if state.finished:
        return PHASE_WORDS.get(state.outcome, state.outcome).format(state.kind) + "."
    if not state.phase:
        return f"Starting the {state.kind}…"
    item = f": {state.item}" if state.item and state.unit == "files" else ""
    return f"{state.phase.capitalize()}{item}"


def progress_details(state: ProgressState) -> str:
    """Downloaded, speed, time left and what patches save (verify: files checked)."""
    parts = []
    if state.kind == "verify" and state.files_total:
        parts.append(f"checked {state.checked_files()} of {state.files_total} files")
    if state.download_total:
        verb = "repair downloaded" if state.kind == "verify" else "downloaded"
        parts.append(
            f"{verb} {format_bytes(state.download_done)} of {format_bytes(state.download_total)}"
        )
        if state.resumed_bytes:
            parts.append(f"{format_bytes(state.resumed_bytes)} of it kept from before")
    speed = state.speed()
    if speed and not state.finished:
        parts.append(f"{format_bytes(speed)}/s")
    eta = state.eta()
    if eta is not None and not state.finished:
        parts.append(f"{format_duration(eta)} left")
    if state.full_bytes and state.kind != "install":
        parts.append(
            f"patches and reuse save {format_bytes(state.saved_bytes())} "
            f"({percent_saved(state.planned_bytes, state.full_bytes):.1f}%)"
        )
    return " · ".join(parts)
