"""Forecast backtests, the pure part: what the book did after an as-of date (``realised``),
and how the forecasts of many as-of dates compare with it (``evaluate``): empirical coverage
of the 80% and 90% intervals, overall and per segment, and the absolute error of the point
forecasts next to the trailing 3-month average and the plain sum of expectations.

A window is one as-of date T: the forecast made with what was known before T (the
orchestration, ``training.forecast_backtest``, guarantees that) and the realised totals of
the accounts it forecast, over the whole months [T, T + h). Realised totals follow the
monthly movements (``forecast.movements``) of those accounts: churned, contraction and
expansion MRR summed over the months, GRR and NRR against their MRR at the start of T's
month; what returns from a churned account (reactivated) counts in neither, as in the
monthly definitions.

Coverage is measured on the conformally corrected intervals, each window's factor taken
from the *other* windows' scores of the same group (the book, or one segment; leave one
window out), so a window never calibrates its own interval; ``coverage_raw`` is that of
the simulated intervals as they come. Windows a few months apart share part of their
future, so they are not independent: read coverage over 12 windows as a rough figure (one
window is 8 points). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from forecast.conformal import (
    ALL_GROUPS,
    IntervalCalibration,
    calibrate,
    conformal_factor,
    empirical_quantile,
    interval_score,
)
from forecast.movements import next_month
from forecast.projection import LEVELS, retention_totals

SCORED = ("churned", "contraction", "expansion", "grr", "nrr")
"""The totals whose intervals are scored (ending MRR is NRR times a known start)."""
BOOK_KEY = "*"


@dataclass(frozen=True)
class Window:
    """One as-of date's forecast (``forecast.outlook.forecast_outlook`` with the book and
    per-segment groups) and the realised totals per horizon and group."""

    as_of: date
    forecast: Mapping[str, Any]
    realised: Mapping[int, Mapping[str, Mapping[str, float | None]]]
    """horizon -> group (segment, or ``"*"`` for the book) -> total -> value."""


def months_after(as_of: date, count: int) -> list[date]:
    """The first days of the ``count`` months from ``as_of``'s month."""
    months = [as_of.replace(day=1)]
    while len(months) < count:
        months.append(next_month(months[-1]))
    return months


def realised(
    per_account: pd.DataFrame,
    accounts: Sequence[str],
    groups: Mapping[str, str],
    as_of: date,
    horizon: int,
) -> dict[str, dict[str, float | None]]:
    """The realised totals of ``accounts`` over the ``horizon`` whole months from ``as_of``
    (a first of a month), for the book (``"*"``) and per group (``groups``: account ->
    group; ``"(none)"`` without one), from ``forecast.movements.account_movements`` rows of a
    history that covers those months."""
    months = months_after(as_of, horizon)
    known = set(pd.to_datetime(per_account["month"]).dt.date.unique())
    if not set(months) <= known:
        missing = sorted(set(months) - known)[0]
        raise ValueError(f"the history does not cover month {missing}; cannot realise {as_of}")
    month = pd.to_datetime(per_account["month"]).dt.date
    cohort = per_account[per_account["account_id"].isin(set(accounts))]
    start_rows = cohort[month.loc[cohort.index] == months[0]]
    window = cohort[month.loc[cohort.index].isin(months)]
    label = window["account_id"].map(groups).fillna("(none)").astype(str)
    start_label = start_rows["account_id"].map(groups).fillna("(none)").astype(str)
    out = {BOOK_KEY: _totals(window, start_rows)}
    for name in sorted(set(label) | set(start_label)):
        out[name] = _totals(window[label == name], start_rows[start_label == name])
    return out


def _totals(window: pd.DataFrame, start_rows: pd.DataFrame) -> dict[str, float | None]:
    start = float(start_rows["start_mrr"].sum())
    return {
        "start_mrr": start,
        **retention_totals(
            start,
            float(window["churned"].sum()),
            float(window["contraction"].sum()),
            float(window["expansion"].sum()),
        ),
    }


def _groups_of(forecast: Mapping[str, Any], horizon: int) -> dict[str, Mapping[str, Any]]:
    for h in forecast["horizons"]:
        if h["months"] == horizon:
            return {g["group"] or BOOK_KEY: g for g in h["groups"]}
    raise ValueError(f"the forecast has no horizon of {horizon} months")


def window_scores(window: Window, horizon: int, level: str) -> dict[str, dict[str, float]]:
    """Per group: the conformal score of each scored total's ``level`` interval (a total
    without a value is left out)."""
    out: dict[str, dict[str, float]] = {}
    actual = window.realised[horizon]
    for name, group in _groups_of(window.forecast, horizon).items():
        if name not in actual:
            continue
        scores = {}
        for total in SCORED:
            value, truth = group[total], actual[name][total]
            if value["expected"] is None or truth is None:
                continue
            low, high = value[level]
            scores[total] = interval_score(truth, value["expected"], low, high)
        out[name] = scores
    return out


def _key(name: str) -> str:
    return BOOK_KEY if name == BOOK_KEY else f"segment:{name}"


def evaluate(
    windows: Sequence[Window], horizons: Sequence[int]
) -> tuple[dict[str, Any], IntervalCalibration]:
    """The backtest report (one entry per horizon: coverage, coverage per segment and per
    total, errors of the point forecasts and of the baselines) and the calibration of all
    windows' scores. Coverage is that of the intervals corrected by each total's own factor
    (per group, from the other windows); ``coverage_one_factor`` and
    ``coverage_by_total_one_factor`` show the book with one factor for all its totals."""
    levels = [str(level) for level in LEVELS]
    report: list[dict[str, Any]] = []
    all_scores: dict[int, dict[str, list[float]]] = {}
    group_scores: dict[int, dict[str, dict[str, list[float]]]] = {}
    total_scores: dict[int, dict[str, dict[str, dict[str, list[float]]]]] = {}
    for h in horizons:
        per_level = {lvl: [window_scores(w, h, lvl) for w in windows] for lvl in levels}
        all_scores[h] = {
            lvl: [s for w in per_level[lvl] for g in w.values() for s in g.values()]
            for lvl in levels
        }
        coverage: dict[str, dict[str, float | None]] = {}
        raw: dict[str, dict[str, float | None]] = {}
        by_total: dict[str, dict[str, float | None]] = {}
        one: dict[str, dict[str, float | None]] = {}
        for lvl in levels:
            hits: dict[str, list[bool]] = {}
            raw_hits: dict[str, list[bool]] = {}
            total_hits: dict[str, list[bool]] = {}
            one_hits: dict[str, list[bool]] = {}
            windows_of = per_level[lvl]
            for i, scores in enumerate(windows_of):
                for name, values in scores.items():
                    pooled = _left_out_factor(windows_of, i, name, float(lvl))
                    for total, score in values.items():
                        factor = _left_out_factor(windows_of, i, name, float(lvl), total)
                        hits.setdefault(name, []).append(score <= factor)
                        raw_hits.setdefault(name, []).append(score <= 1.0)
                        if name == BOOK_KEY:
                            total_hits.setdefault(total, []).append(score <= factor)
                            one_hits.setdefault(total, []).append(score <= pooled)
                            one_hits.setdefault("", []).append(score <= pooled)
            for name in hits:
                coverage.setdefault(name, {})[lvl] = _share(hits[name])
                raw.setdefault(name, {})[lvl] = _share(raw_hits[name])
            for total in total_hits:
                by_total.setdefault(total, {})[lvl] = _share(total_hits[total])
            for total in one_hits:
                one.setdefault(total, {})[lvl] = _share(one_hits[total])
        group_scores[h] = {}
        total_scores[h] = {}
        for lvl in levels:
            for per_window in per_level[lvl]:
                for name, values in per_window.items():
                    key = _key(name)
                    group_scores[h].setdefault(key, {}).setdefault(lvl, []).extend(values.values())
                    for total, score in values.items():
                        for k in (key, ALL_GROUPS):
                            cell = total_scores[h].setdefault(k, {}).setdefault(total, {})
                            cell.setdefault(lvl, []).append(score)
        book = coverage.pop(BOOK_KEY, dict.fromkeys(levels))
        book_raw = raw.pop(BOOK_KEY, dict.fromkeys(levels))
        report.append(
            {
                "months": h,
                "coverage": book,
                "coverage_by_segment": dict(sorted(coverage.items())),
                "coverage_raw": book_raw,
                "coverage_raw_by_segment": dict(sorted(raw.items())),
                "coverage_by_total": by_total,
                "coverage_one_factor": one.pop("", dict.fromkeys(levels)),
                "coverage_by_total_one_factor": one,
                **_errors(windows, h),
            }
        )
    calibration = calibrate(
        all_scores,
        len(windows),
        {"as_of": [w.as_of.isoformat() for w in windows]},
        group_scores,
        total_scores,
    )
    return {"windows": len(windows), "horizons": report}, calibration


def _left_out_factor(
    windows: Sequence[Mapping[str, Mapping[str, float]]],
    left_out: int,
    group: str,
    level: float,
    total: str | None = None,
) -> float:
    """The factor of ``group`` (of its ``total`` alone, ``empirical_quantile``; else of all
    its totals, ``conformal_factor``) from every window's scores but ``left_out``'s
    (infinite when there are none: the interval is then not checked)."""
    others = [
        score
        for j, w in enumerate(windows)
        if j != left_out
        for name, score in w.get(group, {}).items()
        if total is None or name == total
    ]
    if not others:
        return float(np.inf)
    return conformal_factor(others, level) if total is None else empirical_quantile(others, level)


def _share(hits: Sequence[bool]) -> float | None:
    return round(float(np.mean(hits)), 4) if hits else None


def _errors(windows: Sequence[Window], h: int) -> dict[str, float | None]:
    """Mean absolute errors over the windows of the book's churned MRR and NRR: the forecast's
    expected value, the trailing 3-month average (``baseline_``) and the plain sum of
    per-account expectations (``expectations_``)."""
    out: dict[str, float | None] = {}
    for total, key in (("churned", "churned_mrr"), ("nrr", "nrr")):
        errors: dict[str, list[float]] = {"mae": [], "baseline_mae": [], "expectations_mae": []}
        for w in windows:
            book = _groups_of(w.forecast, h)[BOOK_KEY]
            truth = w.realised[h][BOOK_KEY][total]
            if truth is None or book[total]["expected"] is None:
                continue
            errors["mae"].append(abs(book[total]["expected"] - truth))
            errors["baseline_mae"].append(abs(book["baselines"]["trailing_3m"][total] - truth))
            errors["expectations_mae"].append(
                abs(book["baselines"]["sum_of_expectations"][total] - truth)
            )
        places = 4 if total == "nrr" else 2
        for prefix, values in errors.items():
            out[f"{prefix}_{key}"] = round(float(np.mean(values)), places) if values else None
    return out
