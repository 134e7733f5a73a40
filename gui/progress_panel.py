"""The progress panel: the bar, what the job is doing, and the numbers behind it.

The bar's value and its text come from one :class:`~gui.progress_state.ProgressState`,
so they agree; the line under it adds speed, time left and what patches save. The state
is Qt-free and speaks English (its :meth:`~gui.progress_state.ProgressState.bar_text`);
the panel says the same in the window's language (:func:`bar_text`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from core.progress import Phase
from core.units import format_bytes, format_duration, percent_saved
from gui.i18n import QT_TRANSLATE_NOOP, translate
from gui.progress_state import ProgressState
from gui.views import OPERATION_WORDS, phase_name, word

CONTEXT = "ProgressPanel"
PHASE_WORDS = {
    "ok": QT_TRANSLATE_NOOP("ProgressPanel", "The {job} finished."),
    "cancelled": QT_TRANSLATE_NOOP("ProgressPanel", "The {job} was stopped."),
    "failed": QT_TRANSLATE_NOOP("ProgressPanel", "The {job} failed."),
}
BAR_WORDS = {
    "ok": QT_TRANSLATE_NOOP("ProgressPanel", "Done"),
    "cancelled": QT_TRANSLATE_NOOP("ProgressPanel", "Stopped"),
    "failed": QT_TRANSLATE_NOOP("ProgressPanel", "Failed"),
}


class ProgressPanel(QWidget):
    """``overallProgress``, ``phaseLabel`` and ``detailLabel``, filled from a job's state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.overallProgress = QProgressBar()
        self.overallProgress.setObjectName("overallProgress")
        self.overallProgress.setRange(0, 1000)
        self.overallProgress.setFormat(self.tr("No job running"))
        self.overallProgress.setToolTip(self.tr("Progress of the running step of the job"))
        self.overallProgress.setAccessibleName(self.tr("Progress"))
        self.phaseLabel = QLabel("")
        self.phaseLabel.setObjectName("phaseLabel")
        self.phaseLabel.setAccessibleName(self.tr("What the job is doing"))
        self.detailLabel = QLabel("")
        self.detailLabel.setObjectName("detailLabel")
        self.detailLabel.setAccessibleName(self.tr("Progress details"))
        self.detailLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detailLabel.setWordWrap(True)  # a long line (or language) must not widen the pane
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.overallProgress, self.phaseLabel, self.detailLabel):
            layout.addWidget(widget)

    def show_state(self, state: ProgressState | None) -> None:
        if state is None:
            self.overallProgress.setValue(0)
            self.overallProgress.setFormat(self.tr("No job running"))
            self.phaseLabel.setText("")
            self.detailLabel.setText("")
            return
        self.overallProgress.setValue(int(state.fraction * 1000))
        self.overallProgress.setFormat(bar_text(state))
        self.phaseLabel.setText(phase_text(state))
        self.detailLabel.setText(progress_details(state))


def _tr(text: str) -> str:
    """A string marked with ``QT_TRANSLATE_NOOP("ProgressPanel", ...)``, translated."""
    return translate(CONTEXT, text)


def bar_text(state: ProgressState) -> str:
    """:meth:`ProgressState.bar_text`, translated: from the same numbers as the bar."""
    if state.finished:
        return _tr(BAR_WORDS[state.outcome]) if state.outcome in BAR_WORDS else state.outcome
    percent = f"{state.fraction:.0%}"
    if state.phase == Phase.DOWNLOADING and state.download_total:
        done, total = format_bytes(state.download_done), format_bytes(state.download_total)
        return translate("ProgressPanel", "{done} of {total} ({percent})").format(
            done=done, total=total, percent=percent
        )
    if state.unit == "files" and state.total:
        text = translate("ProgressPanel", "{done} of {total} files ({percent})")
        return text.format(done=state.done, total=state.total, percent=percent)
    if state.unit == "bytes" and state.total:
        return translate("ProgressPanel", "{done} of {total} ({percent})").format(
            done=format_bytes(state.done), total=format_bytes(state.total), percent=percent
        )
    return percent if state.phase else translate("ProgressPanel", "Starting…")


def phase_text(state: ProgressState) -> str:
    job = word(OPERATION_WORDS, state.kind)
    if state.finished:
        sentence = PHASE_WORDS.get(state.outcome)
        return _tr(sentence).format(job=job) if sentence else state.outcome
    if not state.phase:
        return translate("ProgressPanel", "Starting the {job}…").format(job=job)
    phase = phase_name(state.phase)
    phase = phase[:1].upper() + phase[1:]
    if state.item and state.unit == "files":
        return f"{phase}: {state.item}"
    return phase


def progress_details(state: ProgressState) -> str:
    """Downloaded, speed, time left and what patches save (verify: files checked)."""
    parts = []
    if state.kind == "verify" and state.files_total:
        text = translate("ProgressPanel", "checked {done} of {total} files")
        parts.append(text.format(done=state.checked_files(), total=state.files_total))
    if state.download_total:
        text = translate("ProgressPanel", "downloaded {done} of {total}")
        if state.kind == "verify":
            text = translate("ProgressPanel", "repair downloaded {done} of {total}")
        done, total = format_bytes(state.download_done), format_bytes(state.download_total)
        parts.append(text.format(done=done, total=total))
        if state.resumed_bytes:
            text = translate("ProgressPanel", "{size} of it kept from before")
            parts.append(text.format(size=format_bytes(state.resumed_bytes)))
    speed = state.speed()
    if speed and not state.finished:
        parts.append(f"{format_bytes(speed)}/s")
    eta = state.eta()
    if eta is not None and not state.finished:
        parts.append(translate("ProgressPanel", "{time} left").format(time=format_duration(eta)))
    if state.full_bytes and state.kind != "install":
        text = translate("ProgressPanel", "patches and reuse save {size} ({percent}%)")
        percent = f"{percent_saved(state.planned_bytes, state.full_bytes):.1f}"
        parts.append(text.format(size=format_bytes(state.saved_bytes()), percent=percent))
    return " · ".join(parts)
