"""The ``/progress`` chart: twelve weeks as one PNG, drawn with Pillow.

Three stacked panels share the weeks along the bottom: the weekly reflection score (a
line, 1 to 10), follow-through (bars: the share of answered promises kept, and the share
of days with a daily step done), and the balance of good and hard moments (bars, with the
aim of about five good for each hard one in the panel's title). Colours come from the
Okabe-Ito palette, which stays distinct for the common kinds of colour blindness; every
series is also named in a legend, so nothing depends on colour alone.

Rendering is pure and deterministic: the same points and labels give the same bytes.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from core.program.tracking import WeekPoint

__all__ = ["HEIGHT", "WIDTH", "ChartLabels", "render_progress"]

WIDTH = 800
HEIGHT = 600
"""The image size: wide enough for twelve weeks, readable on a phone held upright."""

_LEFT, _RIGHT = 64, 24
_TOP = 52
_PANEL = 128
"""Height of one panel's plot area."""
_PANEL_GAP = 44
"""Space above each plot area, for the panel's title and legend."""

_BACKGROUND = (255, 255, 255)
_INK = (34, 34, 34)
_MUTED = (110, 110, 110)
_GRID = (222, 222, 222)
_SCORE = (0, 114, 178)  # Okabe-Ito blue
_PROMISES = (86, 180, 233)  # sky blue
_STEPS = (230, 159, 0)  # orange
_GOOD = (0, 158, 115)  # bluish green
_HARD = (213, 94, 0)  # vermillion

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The words on the chart, from content (the chart itself holds no text).

    Attributes:
        title: the heading.
        score: the first panel's title.
        follow_through: the second panel's title.
        promises: legend of kept promises.
        steps: legend of daily steps done.
        balance: the third panel's title.
        good: legend of good moments.
        hard: legend of hard moments.
        no_data: shown in a panel with nothing to draw.
    """

    title: str
    score: str
    follow_through: str
    promises: str
    steps: str
    balance: str
    good: str
    hard: str
    no_data: str


@functools.lru_cache(maxsize=4)
def _font(size: int) -> Font:
    """Pillow's own font at ``size`` (its bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=size)


def _week_label(week: str) -> str:
    """``2026-W09`` shown as ``W09``."""
    return week[-3:] if len(week) >= 3 else week


class _Canvas:
    def __init__(self, count: int) -> None:
        self.image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.count = max(count, 1)
        self.slot = (WIDTH - _LEFT - _RIGHT) / self.count

    def centre(self, index: int) -> float:
        return _LEFT + self.slot * (index + 0.5)

    def text(self, xy: tuple[float, float], words: str, size: int, fill: tuple[int, ...]) -> None:
        self.draw.text(xy, words, font=_font(size), fill=fill)

    def text_width(self, words: str, size: int) -> float:
        return self.draw.textlength(words, font=_font(size))

    def legend(self, top: int, title: str, items: Sequence[tuple[str, tuple[int, ...]]]) -> None:
        """A panel's title on the left, its series' swatches and names on the right."""
        self.text((_LEFT, top), title, 15, _INK)
        x: float = WIDTH - _RIGHT
        for name, colour in reversed(items):
            x -= self.text_width(name, 13)
            self.text((x, top + 2), name, 13, _INK)
            x -= 18
            self.draw.rectangle((x, top + 4, x + 12, top + 16), fill=colour)
            x -= 14

    def axis(self, top: int, ticks: Sequence[tuple[float, str]]) -> None:
        """Grid lines at ``ticks`` (fractions of the panel height from the bottom)."""
        bottom = top + _PANEL
        for fraction, label in ticks:
            y = bottom - fraction * _PANEL
            self.draw.line((_LEFT, y, WIDTH - _RIGHT, y), fill=_GRID, width=1)
            width = self.text_width(label, 12)
            self.text((_LEFT - 8 - width, y - 7), label, 12, _MUTED)
        self.draw.line((_LEFT, bottom, WIDTH - _RIGHT, bottom), fill=_MUTED, width=1)

    def bars(
        self,
        top: int,
        series: Sequence[Sequence[float | None]],
        colours: Sequence[tuple[int, ...]],
    ) -> None:
        """Grouped bars: one group per week, one bar per series (a fraction of the height).

        None draws nothing; zero draws a thin line, so "none" and "0" look different.
        """
        bottom = top + _PANEL
        group = self.slot * 0.7
        width = group / len(series)
        for index in range(self.count):
            left = self.centre(index) - group / 2
            for number, values in enumerate(series):
                value = values[index]
                if value is None:
                    continue
                x0 = left + number * width + 1
                height = max(value * _PANEL, 2.0)
                self.draw.rectangle(
                    (x0, bottom - height, x0 + width - 2, bottom), fill=colours[number]
                )

    def weeks(self, labels: Sequence[str]) -> None:
        y = _panel_top(2) + _PANEL + 6
        for index, label in enumerate(labels):
            shown = _week_label(label)
            x = self.centre(index) - self.text_width(shown, 12) / 2
            self.text((x, y), shown, 12, _MUTED)

    def empty(self, top: int, words: str) -> None:
        width = self.text_width(words, 13)
        self.text(((WIDTH - width) / 2, top + _PANEL / 2 - 8), words, 13, _MUTED)


def _panel_top(index: int) -> int:
    return _TOP + _PANEL_GAP + index * (_PANEL + _PANEL_GAP)


def _score_panel(canvas: _Canvas, points: Sequence[WeekPoint], labels: ChartLabels) -> None:
    top = _panel_top(0)
    canvas.legend(top - 26, labels.score, [])
    canvas.axis(top, [(0.0, "0"), (0.5, "5"), (1.0, "10")])
    if all(p.score is None for p in points):
        canvas.empty(top, labels.no_data)
        return
    bottom = top + _PANEL
    spots = [
        (canvas.centre(i), bottom - (p.score / 10) * _PANEL) if p.score is not None else None
        for i, p in enumerate(points)
    ]
    for here, there in itertools.pairwise(spots):
        if here is not None and there is not None:
            canvas.draw.line((*here, *there), fill=_SCORE, width=3)
    for index, spot in enumerate(spots):
        if spot is None:
            continue
        x, y = spot
        canvas.draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=_SCORE)
        number = str(points[index].score)
        canvas.text((x - canvas.text_width(number, 12) / 2, y - 20), number, 12, _INK)


def _follow_panel(canvas: _Canvas, points: Sequence[WeekPoint], labels: ChartLabels) -> None:
    top = _panel_top(1)
    canvas.legend(
        top - 26, labels.follow_through, [(labels.promises, _PROMISES), (labels.steps, _STEPS)]
    )
    canvas.axis(top, [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")])
    if not any(p.promises_answered or p.steps_done for p in points):
        canvas.empty(top, labels.no_data)
        return
    promises = [p.kept_share for p in points]
    steps = [p.steps_share for p in points]
    canvas.bars(top, [promises, steps], [_PROMISES, _STEPS])


def _balance_panel(canvas: _Canvas, points: Sequence[WeekPoint], labels: ChartLabels) -> None:
    top = _panel_top(2)
    canvas.legend(top - 26, labels.balance, [(labels.good, _GOOD), (labels.hard, _HARD)])
    highest = max((max(p.good, p.hard) for p in points), default=0)
    if highest == 0:
        canvas.axis(top, [(0.0, "0")])
        canvas.empty(top, labels.no_data)
        return
    step = 2 if highest <= 10 else 4 if highest <= 20 else 10
    ceiling = -(-highest // step) * step
    canvas.axis(top, [(0.0, "0"), (0.5, str(ceiling // 2)), (1.0, str(ceiling))])
    good: list[float | None] = [p.good / ceiling if p.good or p.hard else None for p in points]
    hard: list[float | None] = [p.hard / ceiling if p.good or p.hard else None for p in points]
    canvas.bars(top, [good, hard], [_GOOD, _HARD])


def render_progress(points: Sequence[WeekPoint], labels: ChartLabels) -> bytes:
    """The chart of ``points`` (oldest week first) as PNG bytes, ``WIDTH`` × ``HEIGHT``."""
    canvas = _Canvas(len(points))
    canvas.text((_LEFT, 14), labels.title, 20, _INK)
    _score_panel(canvas, points, labels)
    _follow_panel(canvas, points, labels)
    _balance_panel(canvas, points, labels)
    canvas.weeks([p.week for p in points])
    out = io.BytesIO()
    canvas.image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()
