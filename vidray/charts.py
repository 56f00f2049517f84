"""Inline SVG charts for ``vidray report``: bar charts (histograms) and step lines
(cumulative counts over time), each with a title, axis labels and tick labels.

Each function returns one ``<svg>`` element, well-formed XML, to be embedded in the
page as it is; every text is escaped. Tick labels are placed exactly at their tick
(``text-anchor: middle`` on the x axis, ``dominant-baseline: middle`` on the y axis),
so a value can be read back from the drawing through them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

WIDTH, HEIGHT = 480, 270
#: Plot area inside the chart: left, top, right, bottom (pixels).
PLOT = (60.0, 30.0, WIDTH - 16.0, HEIGHT - 46.0)
BAR_COLOR = "#3b6ea5"
LINE_COLORS = ("#3b6ea5", "#d9822b")
#: At most this many tick labels on an axis.
MAX_TICKS = 16


@dataclass(frozen=True)
class Bar:
    """A bar from x0 to x1 of height ``value``; ``label`` is its tooltip."""

    x0: float
    x1: float
    value: float
    label: str


@dataclass(frozen=True)
class Series:
    """A named line through ``points`` (x, y), drawn as steps: y holds until the next x."""

    name: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Axes:
    """Data ranges mapped linearly onto the plot area."""

    x: tuple[float, float]
    y: tuple[float, float]

    def px(self, x: float) -> float:
        left, _, right, _ = PLOT
        return left + (x - self.x[0]) / (self.x[1] - self.x[0]) * (right - left)

    def py(self, y: float) -> float:
        _, top, _, bottom = PLOT
        return bottom - (y - self.y[0]) / (self.y[1] - self.y[0]) * (bottom - top)


def _e(text: object) -> str:
    return html.escape(str(text))


def number(v: float) -> str:
    """A coordinate or tick value: at most 4 decimals, no trailing zeros."""
    return f"{round(v, 4):.12g}"


def nice_ticks(lo: float, hi: float, *, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) from at or below ``lo`` to
    at or above ``hi``: the first and last are the axis' range. ``integer``: steps of at
    least 1."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    if integer:
        step = max(step, 1)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def thinned(values: Sequence[float]) -> list[float]:
    """Every k-th value, so that at most ``MAX_TICKS`` remain."""
    return list(values[:: math.ceil(len(values) / MAX_TICKS)])


def _frame(
    axes: Axes,
    xticks: Sequence[float],
    yticks: Sequence[float],
    title: str,
    xlabel: str,
    ylabel: str,
) -> list[str]:
    """Title, axis lines, ticks with their labels and the axis labels."""
    left, top, right, bottom = PLOT
    mid_x, mid_y = (left + right) / 2, (top + bottom) / 2
    parts = [
        f'<text class="title" x="{number(WIDTH / 2)}" y="18" text-anchor="middle" '
        f'font-size="14" font-weight="bold">{_e(title)}</text>',
        f'<path d="M{number(left)},{number(top)}V{number(bottom)}H{number(right)}" stroke="#444" '
        'fill="none"/>',
    ]
    for x in xticks:
        p = number(axes.px(x))
        parts.append(f'<path d="M{p},{number(bottom)}v5" stroke="#444"/>'
                     f'<text class="xtick" x="{p}" y="{number(bottom + 16)}" text-anchor="middle">'
                     f"{_e(number(x))}</text>")  # fmt: skip
    for y in yticks:
        p = number(axes.py(y))
        parts.append(f'<path d="M{number(left)},{p}h-5" stroke="#444"/>'
                     f'<text class="ytick" x="{number(left - 8)}" y="{p}" text-anchor="end" '
                     f'dominant-baseline="middle">{_e(number(y))}</text>')  # fmt: skip
    parts.append(
        f'<text class="xlabel" x="{number(mid_x)}" y="{number(HEIGHT - 8)}" text-anchor="middle">'
        f"{_e(xlabel)}</text>"
        f'<text class="ylabel" transform="translate(14,{number(mid_y)}) rotate(-90)" '
        f'text-anchor="middle" dominant-baseline="middle">{_e(ylabel)}</text>'
    )
    return parts


def _svg(title: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{_e(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="system-ui, sans-serif" font-size="11" fill="#222">'
        f"<title>{_e(title)}</title>{''.join(parts)}</svg>"
    )


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    xticks: Sequence[float] | None = None,
) -> str:
    """Bars on a y axis from 0; x ticks at ``xticks`` (default: round values)."""
    lo, hi = min(b.x0 for b in bars), max(b.x1 for b in bars)
    yticks = nice_ticks(0, max(b.value for b in bars), integer=True)
    if xticks is None:
        xticks = nice_ticks(lo, hi)
        lo, hi = xticks[0], xticks[-1]
    else:
        pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad
    axes = Axes((lo, hi), (yticks[0], yticks[-1]))
    parts = _frame(axes, xticks, yticks, title, xlabel, ylabel)
    base = axes.py(0)
    for b in bars:
        x, top = axes.px(b.x0), axes.py(b.value)
        parts.append(
            f'<rect class="bar" x="{number(x)}" y="{number(top)}" '
            f'width="{number(axes.px(b.x1) - x)}" height="{number(base - top)}" '
            f'fill="{BAR_COLOR}"><title>{_e(b.label)}</title></rect>'
        )
    return _svg(title, parts)


def _steps(axes: Axes, points: Sequence[tuple[float, float]]) -> str:
    """Polyline points of a post-step line: each y holds until the next x."""
    out = [(points[0][0], points[0][1])]
    for (_, y0), (x1, y1) in pairwise(points):
        out += [(x1, y0), (x1, y1)]
    return " ".join(f"{number(axes.px(x))},{number(axes.py(y))}" for x, y in out)


def step_chart(series: Sequence[Series], *, title: str, xlabel: str, ylabel: str) -> str:
    """Step lines of non-negative values, with a legend in the upper left."""
    xs = [x for s in series for x, _ in s.points]
    xticks = nice_ticks(min(xs), max(xs))
    yticks = nice_ticks(0, max(y for s in series for _, y in s.points), integer=True)
    axes = Axes((xticks[0], xticks[-1]), (yticks[0], yticks[-1]))
    parts = _frame(axes, xticks, yticks, title, xlabel, ylabel)
    left, top = PLOT[0], PLOT[1]
    for k, s in enumerate(series):
        color, y = LINE_COLORS[k % len(LINE_COLORS)], top + 10 + 16 * k
        parts.append(
            f'<polyline class="series" data-name="{_e(s.name)}" points="{_steps(axes, s.points)}" '
            f'fill="none" stroke="{color}" stroke-width="2"/>'
            f'<path d="M{number(left + 10)},{number(y)}h20" stroke="{color}" stroke-width="2"/>'
            f'<text class="legend" x="{number(left + 36)}" y="{number(y)}" '
            f'dominant-baseline="middle">{_e(s.name)}</text>'
        )
    return _svg(title, parts)
