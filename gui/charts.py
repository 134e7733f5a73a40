"""Statistics (``statsView``): what each update downloaded against a full download, and how
fast it downloaded, drawn with QPainter from the operations the engine records.

The numbers come from a pure function, :func:`chart_points`, so they can be tested exactly;
the widget only lays them out. Only successful installs, updates and repairs count. Colours
come from the widget's palette, so the charts read in light and dark themes alike.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QHelpEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from core.library.db import OperationRecord
from core.progress import Phase
from core.units import format_bytes, percent_saved
from gui.i18n import QT_TRANSLATE_NOOP, translate

COUNTED_KINDS = frozenset({"install", "update", "repair"})
LOG_SCALE_RATIO = 50.0
"""Above this ratio between the largest and smallest non-zero byte count, bars use a log
scale: on a linear one the small downloads (the point of the chart) would be invisible."""
EMPTY_TEXT = QT_TRANSLATE_NOOP("StatsView", "No updates yet")
"""What the charts say without a counted operation (in English: translate it to show it)."""
TITLES = {
    "update": QT_TRANSLATE_NOOP("StatsView", "Update {source} → {target}, {when}"),
    "install": QT_TRANSLATE_NOOP("StatsView", "Install of {target}, {when}"),
    "repair": QT_TRANSLATE_NOOP("StatsView", "Repair of {target}, {when}"),
}
DOWNLOADED = "downloaded"
FULL = "full"
SPEED = "speed"


@dataclass(frozen=True)
class ChartPoint:
    """One counted operation, as the charts show it."""

    kind: str
    from_build: str | None
    to_build: str | None
    finished_at: float
    bytes_downloaded: int
    bytes_full: int
    download_seconds: float
    """Seconds in the ``downloading`` phase, else the whole operation's duration."""

    @property
    def speed(self) -> float | None:
        """Bytes per second while downloading; None when no time was recorded."""
        if self.download_seconds <= 0:
            return None
        return self.bytes_downloaded / self.download_seconds

    @property
    def saved(self) -> int:
        return self.bytes_full - self.bytes_downloaded

    @property
    def label(self) -> str:
        """Short axis label: the build the operation went to."""
        return self.to_build or "?"

    def title(self) -> str:
        when = datetime.datetime.fromtimestamp(self.finished_at).strftime("%Y-%m-%d %H:%M")
        text = TITLES.get(self.kind)
        if text is None:
            return f"{self.kind}: {self.to_build or '?'}, {when}"
        return _tr(text).format(
            source=self.from_build or "?", target=self.to_build or "?", when=when
        )


def chart_points(records: Sequence[OperationRecord]) -> list[ChartPoint]:
    """The counted operations in ``records`` (newest first, as ``Library.history`` gives
    them), oldest first so that time runs left to right."""
    points = []
    for record in reversed(records):
        if record.kind not in COUNTED_KINDS or record.outcome != "ok":
            continue
        seconds = record.phases.get(Phase.DOWNLOADING)
        if seconds is None or seconds <= 0:
            seconds = record.finished_at - record.started_at
        points.append(
            ChartPoint(
                kind=record.kind,
                from_build=record.from_build,
                to_build=record.to_build,
                finished_at=record.finished_at,
                bytes_downloaded=record.bytes_downloaded,
                bytes_full=record.bytes_full,
                download_seconds=max(0.0, seconds),
            )
        )
    return points


def savings_title(points: Sequence[ChartPoint]) -> str:
    """The bytes chart's title: what all these operations saved against full downloads."""
    downloaded = sum(p.bytes_downloaded for p in points)
    full = sum(p.bytes_full for p in points)
    if full <= 0:
        return translate("StatsView", "Downloaded {size}").format(size=format_bytes(downloaded))
    saved = full - downloaded
    if saved < 0:
        text = translate("StatsView", "Downloaded {size}, {more} more than full downloads ({full})")
        return text.format(
            size=format_bytes(downloaded), more=format_bytes(-saved), full=format_bytes(full)
        )
    return translate("StatsView", "Saved {saved} of {full} ({percent}%)").format(
        saved=format_bytes(saved),
        full=format_bytes(full),
        percent=f"{percent_saved(downloaded, full):.0f}",
    )


def use_log_scale(points: Sequence[ChartPoint]) -> bool:
    """True when the byte counts span more than :data:`LOG_SCALE_RATIO`."""
    values = [v for p in points for v in (p.bytes_downloaded, p.bytes_full) if v > 0]
    return bool(values) and max(values) / min(values) > LOG_SCALE_RATIO


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (steps of 1, 2 or 5 × 10ⁿ)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten from below ``low`` to above ``high`` (both positive)."""
    first = math.floor(math.log10(max(low, 1.0)))
    last = max(first + 1, math.ceil(math.log10(max(high, 1.0))))
    return [10.0**e for e in range(first, last + 1)]


def bytes_tooltip(point: ChartPoint) -> str:
    downloaded = translate("StatsView", "Downloaded: {size} ({count} bytes)")
    full = translate("StatsView", "Full download: {size} ({count} bytes)")
    lines = [
        point.title(),
        downloaded.format(
            size=format_bytes(point.bytes_downloaded), count=f"{point.bytes_downloaded:,}"
        ),
        full.format(size=format_bytes(point.bytes_full), count=f"{point.bytes_full:,}"),
    ]
    if point.bytes_full > 0:
        percent = percent_saved(point.bytes_downloaded, point.bytes_full)
        lines.append(translate("StatsView", "Saved: {percent}%").format(percent=f"{percent:.1f}"))
    return "\n".join(lines)


def speed_tooltip(point: ChartPoint) -> str:
    speed = point.speed
    if speed is None:
        rate = translate("StatsView", "no time recorded")
    else:
        rate = f"{format_bytes(speed)}/s"
    text = translate("StatsView", "Speed: {rate} ({count} bytes in {seconds} s)")
    return f"{point.title()}\n" + text.format(
        rate=rate, count=f"{point.bytes_downloaded:,}", seconds=f"{point.download_seconds:.1f}"
    )


@dataclass(frozen=True)
class ChartHit:
    """Where one bar or speed point is drawn: ``shape`` is the bar (or the dot), ``area``
    the column under the mouse that shows ``tooltip``."""

    series: str
    """:data:`DOWNLOADED`, :data:`FULL` or :data:`SPEED`."""
    index: int
    """Index into :meth:`StatsView.points`."""
    shape: QRectF
    area: QRectF
    tooltip: str


class _Axis:
    """Maps values to y pixels in ``plot``, linearly or on a log scale."""

    def __init__(self, plot: QRectF, top: float, log: bool, low: float = 1.0) -> None:
        self.plot = plot
        self.log = log
        if log:
            # A decade below the smallest value, so the smallest bar is at least a decade tall.
            self.ticks = log_ticks(low / 10, top)
            self.lo, self.hi = math.log10(self.ticks[0]), math.log10(self.ticks[-1])
        else:
            self.ticks = nice_ticks(top)
            self.lo, self.hi = 0.0, self.ticks[-1]

    def y(self, value: float) -> float:
        if self.log:
            value = math.log10(max(value, 10**self.lo))
        fraction = (value - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return self.plot.bottom() - fraction * self.plot.height()


class StatsView(QWidget):
    """Two charts over a game's history: bytes per operation and download speed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self._points: list[ChartPoint] = []
        self.setAccessibleName(self.tr("Update statistics"))

    def set_operations(self, records: Sequence[OperationRecord]) -> None:
        """Show ``records`` (newest first, as ``Library.history`` returns them)."""
        self._points = chart_points(records)
        self.setAccessibleDescription(
            savings_title(self._points) if self._points else _tr(EMPTY_TEXT)
        )
        self.update()

    def points(self) -> list[ChartPoint]:
        """What the charts show, oldest first."""
        return list(self._points)

    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, 120)

    # --- geometry ----------------------------------------------------------------------

    def _halves(self) -> tuple[QRectF, QRectF]:
        whole = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        half = whole.height() / 2
        return (
            QRectF(whole.left(), whole.top(), whole.width(), half),
            QRectF(whole.left(), whole.top() + half, whole.width(), whole.height() - half),
        )

    def _plot_rect(self, area: QRectF, labels: Sequence[str]) -> QRectF:
        """The plotting area inside ``area``: room above for the title and legend, left
        for the ``labels`` of the y axis, below for the x labels."""
        fm = QFontMetrics(self.font())
        left = max((fm.horizontalAdvance(t) for t in labels), default=0) + 8
        return area.adjusted(left, 2.5 * fm.height() + 6, -4, -(fm.height() + 4))

    def _bytes_axis(self) -> _Axis:
        values = [v for p in self._points for v in (p.bytes_downloaded, p.bytes_full)]
        log = use_log_scale(self._points)
        positive = [v for v in values if v > 0]
        top = max(values, default=0)
        probe = _Axis(QRectF(0, 0, 1, 1), top, log, min(positive, default=1))
        area, _ = self._halves()
        plot = self._plot_rect(area, [format_bytes(t) for t in probe.ticks])
        return _Axis(plot, top, log, min(positive, default=1))

    def _speed_axis(self) -> _Axis:
        top = max((p.speed or 0.0 for p in self._points), default=0.0)
        probe = _Axis(QRectF(0, 0, 1, 1), top, False)
        _, area = self._halves()
        plot = self._plot_rect(area, [f"{format_bytes(t)}/s" for t in probe.ticks])
        return _Axis(plot, top, False)

    def hits(self) -> list[ChartHit]:
        """Where every bar and speed point is drawn at the widget's current size."""
        if not self._points:
            return []
        hits: list[ChartHit] = []
        axis = self._bytes_axis()
        plot = axis.plot
        if plot.width() >= 2 and plot.height() >= 2:
            slot = plot.width() / len(self._points)
            for i, point in enumerate(self._points):
                group = QRectF(plot.left() + i * slot + slot * 0.1, plot.top(), slot * 0.8, 0)
                bar_w = group.width() / 2
                for j, (series, value) in enumerate(
                    ((DOWNLOADED, point.bytes_downloaded), (FULL, point.bytes_full))
                ):
                    x = group.left() + j * bar_w
                    y = axis.y(value) if value > 0 else plot.bottom()
                    shape = QRectF(x, y, bar_w, plot.bottom() - y)
                    column = QRectF(x, plot.top(), bar_w, plot.height())
                    hits.append(ChartHit(series, i, shape, column, bytes_tooltip(point)))
        axis = self._speed_axis()
        plot = axis.plot
        if plot.width() >= 2 and plot.height() >= 2:
            slot = plot.width() / len(self._points)
            for i, point in enumerate(self._points):
                if point.speed is None:
                    continue
                centre = QPointF(plot.left() + (i + 0.5) * slot, axis.y(point.speed))
                dot = QRectF(centre.x() - 3, centre.y() - 3, 6, 6)
                column = QRectF(plot.left() + i * slot, plot.top(), slot, plot.height())
                hits.append(ChartHit(SPEED, i, dot, column, speed_tooltip(point)))
        return hits

    def tooltip_at(self, pos: QPoint | QPointF) -> str | None:
        """The tooltip for the bar or point under ``pos`` (widget coordinates), if any."""
        where = QPointF(pos)
        for hit in self.hits():
            if hit.area.contains(where):
                return hit.tooltip
        return None

    # --- events ------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
            painter.setPen(self.palette().color(QPalette.ColorRole.Text))
            if not self._points:
                painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, _tr(EMPTY_TEXT))
                return
            hits = self.hits()
            self._paint_bytes(painter, [h for h in hits if h.series != SPEED])
            self._paint_speed(painter, [h for h in hits if h.series == SPEED])
        finally:
            painter.end()

    # --- painting ----------------------------------------------------------------------

    def _colours(self) -> dict[str, QColor]:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        # Opaque (grid lines must not show through the bars): 45% of the way to the text.
        faint = QColor(
            round(base.red() + (text.red() - base.red()) * 0.45),
            round(base.green() + (text.green() - base.green()) * 0.45),
            round(base.blue() + (text.blue() - base.blue()) * 0.45),
        )
        grid = QColor(text)
        grid.setAlpha(40)
        return {
            DOWNLOADED: palette.color(QPalette.ColorRole.Highlight),
            FULL: faint,
            SPEED: palette.color(QPalette.ColorRole.Highlight),
            "grid": grid,
            "text": text,
        }

    def _paint_axis(
        self, painter: QPainter, axis: _Axis, area: QRectF, title: str, unit: str
    ) -> None:
        colours = self._colours()
        fm = QFontMetrics(self.font())
        plot = axis.plot
        painter.setPen(colours["text"])
        title_rect = QRectF(area.left(), area.top(), area.width(), fm.height())
        painter.drawText(
            title_rect,
            Qt.AlignmentFlag.AlignLeft,
            fm.elidedText(title, Qt.TextElideMode.ElideRight, max(0, int(area.width()))),
        )
        if plot.width() < 2 or plot.height() < 2:
            return
        gap = plot.height() / max(1, len(axis.ticks) - 1)
        label_every = max(1, math.ceil(fm.height() / gap)) if gap > 0 else len(axis.ticks)
        for n, tick in enumerate(axis.ticks):
            y = axis.y(tick)
            painter.setPen(colours["grid"])
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            if n % label_every:
                continue  # too close to the label below it
            painter.setPen(colours["text"])
            label = format_bytes(tick) + unit
            box = QRectF(
                area.left(), y - fm.height() / 2, plot.left() - area.left() - 4, fm.height()
            )
            painter.drawText(
                box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label
            )
        self._paint_x_labels(painter, plot)

    def _paint_x_labels(self, painter: QPainter, plot: QRectF) -> None:
        fm = QFontMetrics(self.font())
        slot = plot.width() / len(self._points)
        widest = max(fm.horizontalAdvance(p.label) for p in self._points) + 6
        every = max(1, math.ceil(widest / slot))
        painter.setPen(self._colours()["text"])
        for i in range(0, len(self._points), every):
            # Centred under its own bar group, with the room of the skipped ones beside it.
            centre = plot.left() + (i + 0.5) * slot
            box = QRectF(centre - slot * every / 2, plot.bottom() + 2, slot * every, fm.height())
            text = fm.elidedText(
                self._points[i].label, Qt.TextElideMode.ElideMiddle, int(box.width())
            )
            painter.drawText(box, Qt.AlignmentFlag.AlignHCenter, text)

    def _paint_legend(self, painter: QPainter, area: QRectF) -> None:
        fm = QFontMetrics(self.font())
        colours = self._colours()
        x = area.left()
        y = area.top() + fm.height() + 2
        for series, text in ((DOWNLOADED, self.tr("Downloaded")), (FULL, self.tr("Full download"))):
            swatch = QRectF(x, y + 2, fm.height() - 4, fm.height() - 4)
            painter.fillRect(swatch, colours[series])
            painter.setPen(colours["text"])
            painter.drawText(QPointF(swatch.right() + 4, y + fm.ascent()), text)
            x = swatch.right() + 4 + fm.horizontalAdvance(text) + 12

    def _paint_bytes(self, painter: QPainter, hits: Sequence[ChartHit]) -> None:
        area, _ = self._halves()
        axis = self._bytes_axis()
        title = savings_title(self._points)
        if axis.log:
            title += self.tr(" · bytes per update, log scale")
        self._paint_axis(painter, axis, area, title, "")
        self._paint_legend(painter, area)
        colours = self._colours()
        for hit in hits:
            if hit.shape.height() > 0:
                painter.fillRect(hit.shape, colours[hit.series])

    def _paint_speed(self, painter: QPainter, hits: Sequence[ChartHit]) -> None:
        _, area = self._halves()
        axis = self._speed_axis()
        self._paint_axis(painter, axis, area, self.tr("Download speed per update"), "/s")
        colour = self._colours()[SPEED]
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(colour, 2))
        centres = [hit.shape.center() for hit in hits]
        for first, second in itertools.pairwise(centres):
            painter.drawLine(first, second)
        painter.setBrush(colour)
        for hit in hits:
            painter.drawEllipse(hit.shape)


def _tr(text: str) -> str:
    """A string marked with ``QT_TRANSLATE_NOOP("StatsView", ...)``, translated."""
    return translate("StatsView", text)
