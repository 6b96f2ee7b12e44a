"""The pages' chart geometry: a waterfall walks from the base value through each driver to
the raw score; a line chart puts each probability at its height."""

from __future__ import annotations

import pytest

from serving.ui.charts import LABEL_WIDTH, ROW_HEIGHT, line_chart, waterfall


def test_a_waterfall_steps_from_the_base_through_each_driver_to_the_score() -> None:
    drivers = [{"feature": "a", "contribution": 1.0}, {"feature": "b", "contribution": -0.5}]
    chart = waterfall(-2.0, -1.2, drivers, "churn score")

    assert [(b.label, b.kind) for b in chart.bars] == [
        ("average account", "base"),
        ("a", "up"),
        ("b", "down"),
        ("other signals", "rest"),
        ("churn score", "total"),
    ]
    base, a, b, rest, total = chart.bars
    assert rest.value == pytest.approx(0.3)  # -1.2 - (-2.0) - (1.0 - 0.5)
    # each step starts where the previous one ended (x is log-odds scaled)
    scale = a.width / 1.0
    assert b.width == pytest.approx(0.5 * scale)
    assert a.x == pytest.approx(base.x + base.width)  # a starts at the base level
    assert b.x + b.width == pytest.approx(a.x + a.width)  # b goes back from a's end
    assert rest.x == pytest.approx(b.x)  # the rest goes up from b's end
    assert total.x + total.width == pytest.approx(rest.x + rest.width)  # ends at the score
    assert [bar.y for bar in chart.bars] == [i * ROW_HEIGHT + 4 for i in range(5)]
    assert min(bar.x for bar in chart.bars) >= LABEL_WIDTH
    assert chart.zero_x is None  # log-odds 0 is not in [-2, -0.5]


def test_a_waterfall_without_a_remainder_has_no_other_step() -> None:
    chart = waterfall(0.5, 1.0, [{"feature": "a", "contribution": 0.5}], "score")
    assert [b.label for b in chart.bars] == ["average account", "a", "score"]


def test_a_line_chart_puts_each_point_at_its_probability() -> None:
    chart = line_chart(["2024-05-01", "2024-06-01", "2024-07-01"], {"churn": [0.1, 0.2, 0.4]})
    (series,) = chart.series
    ys = [y for _, y, _ in series.dots]
    # the axis runs to 0.4: 0.4 is at the top (12), 0 at the bottom (200)
    assert ys == [pytest.approx(200 - 188 * 0.25), pytest.approx(200 - 188 * 0.5), 12]
    assert [x for x, _, _ in series.dots] == [48, (48 + 624) / 2, 624]
    assert series.dots[1][2] == "churn 20.0% on 2024-06-01"
    assert chart.y_ticks[-1] == (12, "40%")
