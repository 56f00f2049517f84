"""The report's SVG charts (``vidray.charts``): histograms of counted values and the
throughput over the run's time."""

from __future__ import annotations

from collections import Counter
from itertools import accumulate
from typing import Any

from vidray import charts


def _bins(counts: Counter, n: int) -> list[tuple[float, float, int]]:
    """``n`` equal bins over the counted values' range (one unit around a single
    value), as (start, end, count); empty bins left out."""
    lo, hi = min(counts), max(counts)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / n
    binned: Counter[int] = Counter()
    for value, c in counts.items():
        binned[min(int((value - lo) / width), n - 1)] += c
    return [(lo + k * width, lo + (k + 1) * width, binned[k]) for k in sorted(binned)]


def histogram(counts: Counter, title: str, xlabel: str, *, integer: bool = False) -> str | None:
    """An SVG histogram of counted values: a bar per value when ``integer`` (and at most
    64 of them), else up to 40 equal bins; None when nothing was counted."""
    if not counts:
        return None
    ylabel = "rows" if "row" in title else "count"
    values = sorted(counts)
    if integer and len(values) <= 64:
        bars = [charts.Bar(v - 0.4, v + 0.4, counts[v], f"{v} {xlabel}: {counts[v]} {ylabel}")
                for v in values]  # fmt: skip
        xticks: list[float] | None = charts.thinned(values)
    else:
        bars = [
            charts.Bar(a, b, c, f"{charts.number(a)} to {charts.number(b)} {xlabel}: {c} {ylabel}")
            for a, b, c in _bins(counts, min(40, max(5, len(values))))
        ]
        xticks = None
    return charts.bar_chart(bars, title=title, xlabel=xlabel, ylabel=ylabel, xticks=xticks)


def throughput(units: list[Any]) -> tuple[str | None, str]:
    """An SVG of the cumulative samples and rows committed over the run's time, and a
    line on the rate; (None, why) when the unit records carry no commit time."""
    timed = sorted((u.committed_at, u.samples, u.rows) for u in units if u.committed_at)
    if not timed:
        return None, (
            "no commit times in the unit records (written by a vidray before commit times were "
            "recorded): no throughput chart"
        )
    t = [at - timed[0][0] for at, _, _ in timed]
    samples = list(accumulate(n for _, n, _ in timed))
    rows = list(accumulate(n for _, _, n in timed))
    svg = charts.step_chart(
        [charts.Series("samples", list(zip(t, samples, strict=True))),
         charts.Series("rows", list(zip(t, rows, strict=True)))],
        title="Throughput over time", xlabel="seconds since the first unit committed",
        ylabel="committed",
    )  # fmt: skip
    span = t[-1]
    rate = f"{samples[-1] / span:.2f} samples/s" if span > 0 else "all units in one instant"
    note = f"{len(timed)} of {len(units)} units timed over {span:.1f} s: {rate}"
    return svg, note
