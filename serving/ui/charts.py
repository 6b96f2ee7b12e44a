"""Geometry of the pages' SVG charts (pure: numbers in, shapes out; templates draw them).

- ``waterfall``: a score's log-odds from the model's base value through each listed driver's
  SHAP contribution (and the rest of the signals as one step) to the account's raw score;
  one horizontal bar per step, so the labels stay readable on a phone.
- ``line_chart``: churn and expansion probability at each snapshot of the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 640
LABEL_WIDTH = 220
ROW_HEIGHT = 28
BAR_HEIGHT = 18


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    y: float
    value: float
    """the step in log-odds (the base and the total: their level)"""
    kind: str
    """'base', 'up' (raises the score), 'down', 'rest' or 'total'"""
    text_x: float


@dataclass(frozen=True)
class Waterfall:
    bars: list[Bar]
    width: int
    height: int
    zero_x: float | None
    """x of log-odds 0 (probability 50%) when it is in range"""
    label_x: int = LABEL_WIDTH - 4
    """right edge of the step labels"""


def waterfall(
    base_value: float, raw_score: float, drivers: Sequence[dict[str, Any]], label: str
) -> Waterfall:
    """Bars from ``base_value`` through each driver's ``contribution`` (in the order given)
    and the remainder (``raw_score`` minus base minus the listed drivers) to ``raw_score``.
    ``label`` names the total bar (e.g. 'churn score')."""
    steps: list[tuple[str, float, str]] = [("average account", base_value, "base")]
    listed = 0.0
    for driver in drivers:
        contribution = float(driver["contribution"])
        listed += contribution
        steps.append((str(driver["feature"]), contribution, "up" if contribution > 0 else "down"))
    rest = raw_score - base_value - listed
    if abs(rest) > 1e-9:
        steps.append(("other signals", rest, "rest"))
    levels = [base_value]
    for _, value, _ in steps[1:]:
        levels.append(levels[-1] + value)
    margin = 0.05 * ((max(*levels, raw_score) - min(*levels, raw_score)) or 1.0)
    low = min(*levels, raw_score) - margin
    high = max(*levels, raw_score) + margin
    span = high - low
    plot = WIDTH - LABEL_WIDTH - 60

    def x_of(v: float) -> float:
        return LABEL_WIDTH + (v - low) / span * plot

    bars: list[Bar] = []
    level = base_value
    for i, (name, value, kind) in enumerate(steps):
        if kind == "base":
            start, end = low, value
        else:
            start, end = level, level + value
            level = end
        left, right = sorted((x_of(start), x_of(end)))
        bars.append(
            Bar(name, left, max(right - left, 1.0), i * ROW_HEIGHT + 4, value, kind, right + 4)
        )
    left, right = x_of(low), x_of(raw_score)
    bars.append(
        Bar(
            label,
            left,
            max(right - left, 1.0),
            len(steps) * ROW_HEIGHT + 4,
            raw_score,
            "total",
            right + 4,
        )
    )
    zero = x_of(0.0) if low <= 0.0 <= high else None
    return Waterfall(bars, WIDTH, (len(steps) + 1) * ROW_HEIGHT + 8, zero)


@dataclass(frozen=True)
class Series:
    name: str
    points: str
    """SVG polyline points"""
    dots: list[tuple[float, float, str]]
    """(x, y, tooltip)"""


@dataclass(frozen=True)
class LineChart:
    series: list[Series]
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: int
    height: int
    left: int
    right: int


def line_chart(dates: Sequence[str], series: dict[str, Sequence[float]]) -> LineChart:
    """Probabilities (0-1) per date, evenly spaced by snapshot; the y axis runs from 0 to the
    next tenth above the highest value."""
    width, height, left, right, top, bottom = WIDTH, 240, 48, WIDTH - 16, 12, 200
    top_value = max((v for values in series.values() for v in values), default=0.1)
    y_max = min(1.0, max(0.1, int(top_value * 10 + 0.999) / 10))
    n = len(dates)

    def x_of(i: int) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    def y_of(v: float) -> float:
        return bottom - (bottom - top) * (v / y_max)

    lines = []
    for name, values in series.items():
        coords = [(round(x_of(i), 1), round(y_of(v), 1)) for i, v in enumerate(values)]
        lines.append(
            Series(
                name,
                " ".join(f"{x},{y}" for x, y in coords),
                [
                    (x, y, f"{name} {v:.1%} on {d}")
                    for (x, y), v, d in zip(coords, values, dates, strict=True)
                ],
            )
        )
    step = max(1, n // 6)
    shown = sorted({*range(0, n, step), n - 1}) if n else []
    ticks = [(round(y_of(y_max * k / 4), 1), f"{y_max * k / 4:.0%}") for k in range(5)]
    return LineChart(
        lines, [(round(x_of(i), 1), dates[i]) for i in shown], ticks, width, height, left, right
    )
