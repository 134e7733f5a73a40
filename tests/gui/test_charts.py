"""gui/charts.py: the statistics numbers (exactly) and the two charts drawn from them."""

from __future__ import annotations

import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QColor, QHelpEvent, QImage, QPalette
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from core.library.db import Library, OperationRecord
from gui.charts import (
    DOWNLOADED,
    EMPTY_TEXT,
    FULL,
    SPEED,
    ChartPoint,
    StatsView,
    chart_points,
    log_ticks,
    nice_ticks,
    savings_title,
    use_log_scale,
)


def op(
    kind: str,
    to_build: str,
    started: float,
    finished: float,
    downloaded: int,
    full: int,
    phases: dict[str, float] | None = None,
    outcome: str = "ok",
    from_build: str | None = None,
) -> OperationRecord:
    return OperationRecord(
        kind=kind,
        from_build=from_build,
        to_build=to_build,
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        bytes_downloaded=downloaded,
        bytes_full=full,
        phases=phases or {},
    )


# Newest first, as Library.history returns them.
HISTORY = [
    op("update", "1004", 6000, 6001, 1, 1, outcome="cancelled", from_build="1002"),
    op("verify", "1002", 5000, 5005, 0, 0),
    op("rollback", "1002", 4500, 4501, 0, 0, from_build="1003"),
    op("update", "1003", 4000, 4100, 9, 9, outcome="failed", from_build="1002"),
    op("repair", "1002", 3000, 3004, 2_000_000, 10_000_000, {"downloading": 0.0}),
    op("update", "1002", 2000, 2030, 500_000, 10_000_000, {"patching": 3.0}, from_build="1001"),
    op("install", "1001", 1000, 1010, 10_000_000, 10_000_000, {"downloading": 8.0}),
]


def test_chart_points_keep_successful_installs_updates_and_repairs_oldest_first() -> None:
    points = chart_points(HISTORY)
    assert [(p.kind, p.to_build) for p in points] == [
        ("install", "1001"),
        ("update", "1002"),
        ("repair", "1002"),
    ]
    assert [(p.bytes_downloaded, p.bytes_full) for p in points] == [
        (10_000_000, 10_000_000),
        (500_000, 10_000_000),
        (2_000_000, 10_000_000),
    ]
    # Seconds in "downloading" when recorded (and above 0), else the whole duration.
    assert [p.download_seconds for p in points] == [8.0, 30.0, 4.0]
    assert [p.speed for p in points] == [1_250_000.0, 500_000 / 30, 500_000.0]
    assert [p.saved for p in points] == [0, 9_500_000, 8_000_000]
    assert points[1].from_build == "1001" and points[1].label == "1002"


def test_chart_points_of_nothing_and_of_a_zero_length_operation() -> None:
    assert chart_points([]) == []
    only = chart_points([op("update", "7", 50.0, 50.0, 10, 100)])
    assert only[0].download_seconds == 0.0 and only[0].speed is None


def test_savings_title() -> None:
    assert savings_title(chart_points(HISTORY)) == "Saved 17.5 MB of 30.0 MB (58%)"
    assert savings_title([]) == "Downloaded 0 B"
    worse = chart_points([op("update", "2", 0, 1, 1_500_000, 1_000_000)])
    assert savings_title(worse) == "Downloaded 1.5 MB, 500.0 kB more than full downloads (1.0 MB)"


def test_log_scale_only_when_the_ratio_is_extreme() -> None:
    assert not use_log_scale(chart_points(HISTORY))  # 10 MB / 500 kB = 20
    extreme = chart_points([op("update", "2", 0, 1, 100_000, 10_000_000)])  # 100
    assert use_log_scale(extreme)
    assert not use_log_scale([])
    assert not use_log_scale(chart_points([op("update", "2", 0, 1, 0, 0)]))


def test_ticks() -> None:
    assert nice_ticks(10_000_000) == [0.0, 5_000_000.0, 10_000_000.0]
    assert nice_ticks(7) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert nice_ticks(0) == [0.0, 1.0]
    assert log_ticks(1_500, 2_000_000) == [1e3, 1e4, 1e5, 1e6, 1e7]
    assert log_ticks(1, 1) == [1.0, 10.0]


def many(count: int) -> list[OperationRecord]:
    records = [op("install", "1000", 0, 10, 50_000_000, 50_000_000, {"downloading": 9.0})]
    for i in range(1, count):
        records.append(
            op(
                "update",
                str(1000 + i),
                i * 100.0,
                i * 100.0 + 20,
                (i % 7 + 1) * 3_000_000,
                50_000_000,
                {"downloading": float(i % 5 + 2)},
                from_build=str(999 + i),
            )
        )
    return records[::-1]


def render(view: StatsView, width: int, height: int) -> QImage:
    view.resize(width, height)
    return view.grab().toImage()


def make(qtbot: QtBot, records: list[OperationRecord]) -> StatsView:
    view = StatsView()
    qtbot.addWidget(view)
    view.set_operations(records)
    return view


def assert_bars_drawn(view: StatsView, image: QImage) -> None:
    palette = view.palette()
    base = palette.color(QPalette.ColorRole.Base)
    highlight = palette.color(QPalette.ColorRole.Highlight)
    checked = 0
    for hit in view.hits():
        if hit.shape.width() < 2 or hit.shape.height() < 2:
            continue
        colour = image.pixelColor(hit.shape.center().toPoint())
        if hit.series in (DOWNLOADED, SPEED):
            assert colour == highlight, (hit.series, hit.index)
        else:
            assert colour != base, (hit.series, hit.index)
        checked += 1
    assert checked >= len(view.points())


def test_empty_state(qtbot: QtBot) -> None:
    view = make(qtbot, [op("verify", "1", 0, 1, 0, 0)])
    assert view.points() == [] and view.hits() == []
    assert view.accessibleDescription() == EMPTY_TEXT == "No updates yet"
    image = render(view, 300, 200)
    base = view.palette().color(QPalette.ColorRole.Base)
    middle = [
        image.pixelColor(x, y) for x in range(60, 240) for y in range(80, 120)
    ]  # the centred text
    assert any(colour != base for colour in middle)
    assert image.pixelColor(5, 5) == base


@pytest.mark.parametrize("count", [1, 3, 50])
def test_bars_and_speed_points_are_drawn(qtbot: QtBot, count: int) -> None:
    records = many(count) if count != 3 else HISTORY
    view = make(qtbot, records)
    assert len(view.points()) == count
    image = render(view, 900, 500)
    assert_bars_drawn(view, image)
    kinds = {(hit.series, hit.index) for hit in view.hits()}
    assert kinds == {(s, i) for s in (DOWNLOADED, FULL, SPEED) for i in range(count)}


def test_bars_are_proportional_on_a_linear_scale(qtbot: QtBot) -> None:
    view = make(qtbot, HISTORY)
    render(view, 600, 400)
    bars = {(h.series, h.index): h.shape.height() for h in view.hits() if h.series != SPEED}
    full = bars[(FULL, 1)]
    assert full > 50
    assert bars[(DOWNLOADED, 0)] == pytest.approx(full)
    assert bars[(DOWNLOADED, 1)] == pytest.approx(full * 0.05)
    assert bars[(DOWNLOADED, 2)] == pytest.approx(full * 0.2)


def test_an_extreme_ratio_uses_a_log_scale_so_small_downloads_stay_visible(
    qtbot: QtBot,
) -> None:
    view = make(qtbot, [op("update", "2", 0, 10, 2_000, 20_000_000_000, from_build="1")])
    image = render(view, 600, 400)
    small = next(h for h in view.hits() if h.series == DOWNLOADED)
    big = next(h for h in view.hits() if h.series == FULL)
    # Linear, 2 kB would be a ten-millionth of the 20 GB bar: nothing. On the log scale both
    # bars start a decade below the smallest value (100 B).
    ratio = (math.log10(2_000) - 2) / (math.log10(20_000_000_000) - 2)
    assert small.shape.height() / big.shape.height() == pytest.approx(ratio)
    assert small.shape.height() > 10  # linear: 0.00001 px
    assert_bars_drawn(view, image)


@pytest.mark.parametrize("count", [0, 1, 50])
@pytest.mark.parametrize("size", [(1, 1), (10, 10), (40, 30), (120, 120)])
def test_tiny_sizes_paint_without_errors(qtbot: QtBot, count: int, size: tuple[int, int]) -> None:
    view = make(qtbot, many(count) if count else [])
    image = render(view, *size)
    assert (image.width(), image.height()) == size
    for hit in view.hits():
        assert hit.shape.height() >= 0 and hit.area.width() > 0


def test_dark_palette_colours(qtbot: QtBot) -> None:
    view = make(qtbot, HISTORY)
    dark = QPalette(view.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor(20, 20, 24))
    dark.setColor(QPalette.ColorRole.Text, QColor(230, 230, 230))
    dark.setColor(QPalette.ColorRole.Highlight, QColor(90, 160, 255))
    view.setPalette(dark)
    image = render(view, 600, 400)
    assert image.pixelColor(2, 2) == QColor(20, 20, 24)
    assert_bars_drawn(view, image)
    full = next(h for h in view.hits() if h.series == FULL)
    lightness = image.pixelColor(full.shape.center().toPoint()).lightness()
    assert lightness > QColor(20, 20, 24).lightness() + 40  # the full bar stands out


def test_tooltips_give_the_exact_numbers(qtbot: QtBot) -> None:
    view = make(qtbot, HISTORY)
    view.resize(600, 400)
    hits = {(h.series, h.index): h for h in view.hits()}
    text = view.tooltip_at(hits[(DOWNLOADED, 1)].area.center())
    assert text is not None
    lines = text.splitlines()
    assert lines[0].startswith("Update 1001 → 1002, ")
    assert lines[1:] == [
        "Downloaded: 500.0 kB (500,000 bytes)",
        "Full download: 10.0 MB (10,000,000 bytes)",
        "Saved: 95.0%",
    ]
    speed = view.tooltip_at(hits[(SPEED, 1)].area.center())
    assert speed is not None
    assert speed.splitlines()[1] == "Speed: 16.7 kB/s (500,000 bytes in 30.0 s)"
    repair = view.tooltip_at(hits[(FULL, 2)].area.center())
    assert repair is not None and repair.startswith("Repair of 1002, ")
    assert view.tooltip_at(QPoint(1, 1)) is None


def test_a_help_event_shows_the_tooltip(qtbot: QtBot) -> None:
    view = make(qtbot, HISTORY)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    hit = next(h for h in view.hits() if (h.series, h.index) == (DOWNLOADED, 0))
    pos = hit.area.center().toPoint()
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, pos, view.mapToGlobal(pos)))
    assert QToolTip.isVisible()
    assert "Downloaded: 10.0 MB (10,000,000 bytes)" in QToolTip.text()
    QToolTip.hideText()


def test_history_read_back_from_a_real_library(qtbot: QtBot, tmp_path: Path) -> None:
    with Library.open(tmp_path / "library.sqlite3") as library:
        game = tmp_path / "game"
        game.mkdir()
        library.upsert_install(game, "1", "windows", "Game", "1002", "1.2", None, "en-US", "x")
        for record in reversed(HISTORY):
            library.record_operation(game, record)
        history = library.history(game)
    view = make(qtbot, history)
    assert view.points() == chart_points(HISTORY)
    assert all(isinstance(p, ChartPoint) for p in view.points())
