"""The book's forecast from scored accounts: ``forecast.projection`` fed with the latest
scores and the sizes and shock the book's history shows, its intervals corrected by the
backtests' conformal factors when there are some (``forecast.conformal``), beside two
baselines measured in the same run (the trailing 3-month average of each movement, and the
plain sum of per-account expectations). Pure: the book and the scores come in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from forecast.book import GROUP_COLUMNS, Book, BookError
from forecast.conformal import IntervalCalibration, widen
from forecast.expansion import leveled_expansion, recent_expansion_rate
from forecast.projection import (
    BOOK,
    LEVELS,
    SizeModel,
    by_horizon,
    learn_sizes,
    overdispersion,
    retention_totals,
    simulate,
)
from forecast.timing import CONSTANT, churn_within, horizon_days

HORIZONS = (3, 6, 12)
SCORE_COLUMNS = ("account_id", "snapshot_date", "churn_probability", "expansion_probability", "mrr")
TRAILING_MONTHS = 3
TOTALS = ("churned", "contraction", "expansion", "end_mrr", "grr", "nrr")
RATIOS = ("grr", "nrr")
METHOD = (
    "churn within each horizon: {timing}; expansion: monthly hazard implied by the 180-day "
    "score, its level halfway to the book's last 12 months; joint Monte Carlo with one churn "
    "shock per simulated future"
)


def latest_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows of the newest snapshot date of a score table (`churnlight score`)."""
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise BookError(
            f"the score table lacks column(s) {', '.join(missing)}; give a table written by "
            "`churnlight score`",
            "scores",
        )
    latest = scores[scores["snapshot_date"] == scores["snapshot_date"].max()]
    if latest["account_id"].duplicated().any():
        repeated = latest.loc[latest["account_id"].duplicated(), "account_id"].iloc[0]
        raise BookError(
            f"the score table holds account {repeated!r} twice on its newest snapshot date",
            "scores",
        )
    return latest.reset_index(drop=True)


@dataclass(frozen=True)
class OutlookRequest:
    """What a forecast is asked for: horizons (months), grouping (``by`` segment or CSM),
    filters, the simulation's size and seed, and the backtested interval calibration."""

    horizons: Sequence[int] = HORIZONS
    by: str | None = None
    segment: str | None = None
    csm: str | None = None
    simulations: int = 2000
    seed: int = 0
    calibration: IntervalCalibration | None = None


def forecast_outlook(
    book: Book,
    latest: pd.DataFrame,
    request: OutlookRequest = OutlookRequest(),
    with_book: bool = False,
) -> dict[str, Any]:
    """Expected churned, contracted and expanded MRR, ending MRR, GRR and NRR of the accounts
    of ``latest`` (one snapshot's scores) over each horizon, with 80% and 90% intervals,
    overall (or per group, and the book too with ``with_book``). Sizes, the shock and the
    trailing baseline come from ``book`` (its history up to its as-of date only); with
    ``calibration`` the intervals of every horizon it holds are widened by its factors.
    Amounts are rounded to cents, ratios to 4 places."""
    horizons, by, segment, csm = request.horizons, request.by, request.segment, request.csm
    simulations, seed, calibration = request.simulations, request.seed, request.calibration
    if by is not None and by not in GROUP_COLUMNS:
        raise BookError(f"cannot group by {by!r}; choose {' or '.join(GROUP_COLUMNS)}", "by")
    accounts = book.accounts.set_index("account_id")
    latest = latest[latest["account_id"].isin(book.accounts_of(segment, csm)["account_id"])]
    group_of = (
        accounts[GROUP_COLUMNS[by]].reindex(latest["account_id"]).fillna("(none)").to_numpy()
        if by is not None
        else np.full(len(latest), BOOK)
    )
    history_groups = accounts[GROUP_COLUMNS[by]] if by is not None else None
    sizes = learn_sizes(book.per_account, history_groups)
    shock_sd = overdispersion(book.per_account)
    mrr = latest["mrr"].fillna(0.0).to_numpy(dtype=float)
    churn = latest["churn_probability"].to_numpy(dtype=float)
    expand = leveled_expansion(
        mrr,
        latest["expansion_probability"].to_numpy(dtype=float),
        group_of,
        recent_expansion_rate(book.per_account, book.as_of, history_groups),
    )
    trailing = _trailing(book, by, segment, csm)
    start = _snapshot_day(latest, book.as_of)
    out_horizons = []
    timings = set()
    for h in horizons:
        days = horizon_days(start, h)
        p_churn, timing = churn_within(latest, days)
        timings.add(timing)
        p_expand = by_horizon(expand, h)
        outlooks = simulate(
            mrr, churn, expand, group_of, sizes, h, shock_sd, simulations, seed, p_churn
        )
        groups = []
        for name, outlook in outlooks.items():
            if by is not None and name == BOOK and not with_book:
                continue
            members = group_of == name if name != BOOK else np.ones(len(mrr), bool)
            summary = outlook.summary(LEVELS)
            summary["group"] = None if name == BOOK else name
            summary["accounts"] = int(members.sum())
            if calibration is not None:
                key = "*" if name == BOOK else f"{by}:{name}"
                _correct(summary, calibration, h, key)
            summary["baselines"] = {
                "sum_of_expectations": _expectations(
                    mrr[members], p_churn[members], p_expand[members], sizes, name, h
                ),
                "trailing_3m": _trailing_forecast(trailing.get(name), outlook.start_mrr, h),
            }
            groups.append(rounded(summary))
        out_horizons.append({"months": h, "groups": groups})
    backtested = calibration is not None and all(
        calibration.factor(h, str(level)) is not None for h in horizons for level in LEVELS
    )
    timing = " / ".join(sorted(timings)) if timings else CONSTANT
    return {
        "as_of": book.as_of.isoformat(),
        "snapshot_date": str(latest["snapshot_date"].iloc[0]) if len(latest) else None,
        "by": by,
        "method": METHOD.format(timing=timing),
        "churn_timing": timing,
        "simulations": simulations,
        "intervals_backtested": backtested,
        "backtest_windows": calibration.windows if backtested and calibration else None,
        "shock_sd": round(shock_sd, 4),
        "horizons": out_horizons,
    }


def _snapshot_day(latest: pd.DataFrame, fallback: date) -> date:
    """The scores' snapshot date (their days to renewal count from it), else ``fallback``."""
    if not len(latest):
        return fallback
    return pd.Timestamp(latest["snapshot_date"].iloc[0]).date()


def _correct(summary: dict[str, Any], calibration: IntervalCalibration, h: int, group: str) -> None:
    """Widen every interval of ``summary`` by the calibration's factor of its horizon, level,
    group and total (``IntervalCalibration.factor``), within what the total can be (amounts
    >= 0; churn and contraction at most the start; GRR at most 1)."""
    start = summary["start_mrr"]
    for name in TOTALS:
        value = summary[name]
        if value["expected"] is None:
            continue
        for level in LEVELS:
            factor = calibration.factor(h, str(level), group, name)
            if factor is None:
                continue
            low, high = value[str(level)]
            low, high = widen(value["expected"], low, high, factor)
            value[str(level)] = list(_bounded(name, low, high, start))


def _bounded(name: str, low: float, high: float, start: float) -> tuple[float, float]:
    floor = 0.0
    ceiling = {"churned": start, "contraction": start, "grr": 1.0}.get(name, np.inf)
    return float(np.clip(low, floor, ceiling)), float(np.clip(high, floor, ceiling))


def rounded(summary: dict[str, Any]) -> dict[str, Any]:
    """Amounts to cents, ratios to 4 places (``+ 0.0`` turns a -0.0 into 0.0)."""

    def fix(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fix(key if key in TOTALS else k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(key, v) for v in value]
        if isinstance(value, float):
            return round(value, 4 if key in RATIOS else 2) + 0.0
        return value

    return {k: fix(k, v) for k, v in summary.items()}


def _expectations(
    mrr: np.ndarray, p_churn: np.ndarray, p_expand: np.ndarray, sizes: SizeModel, group: str, h: int
) -> dict[str, float | None]:
    """The plain sum of per-account expectations (no interval); ``p_churn`` and ``p_expand``:
    P(churn / expansion within the horizon)."""
    ratios = sizes.expansion_for(group)
    rate, contraction_ratios = sizes.contraction_for(group)
    small_rate, small_ratios = sizes.small_expansion_for(group)
    expansion_ratio = float(np.mean(ratios)) if len(ratios) else 0.0
    contraction_ratio = (
        float(np.mean(np.minimum(contraction_ratios, 1.0))) if len(contraction_ratios) else 0.0
    )
    small_ratio = float(np.mean(small_ratios)) if len(small_ratios) else 0.0
    survive = 1.0 - p_churn
    churned = float((mrr * p_churn).sum())
    grown = p_expand * expansion_ratio + h * small_rate * small_ratio
    expansion = float((mrr * survive * grown).sum())
    contraction = float((mrr * survive * min(h * rate * contraction_ratio, 1.0)).sum())
    return retention_totals(float(mrr.sum()), churned, contraction, expansion)


def _trailing(
    book: Book, by: str | None, segment: str | None, csm: str | None
) -> dict[str, pd.Series]:
    """Monthly churned, contraction and expansion MRR averaged over the newest 3 months."""
    table = book.movements(by=by, segment=segment, csm=csm, months=TRAILING_MONTHS)
    columns = ["churned", "contraction", "expansion"]
    out = {BOOK: book.movements(segment=segment, csm=csm, months=TRAILING_MONTHS)[columns].mean()}
    if by is not None:
        out.update({name: rows[columns].mean() for name, rows in table.groupby("group")})
    return out


def _trailing_forecast(monthly: pd.Series | None, start: float, h: int) -> dict[str, float | None]:
    if monthly is None:
        return retention_totals(start, 0.0, 0.0, 0.0)
    return retention_totals(
        start,
        min(h * float(monthly["churned"]), start),
        h * float(monthly["contraction"]),
        h * float(monthly["expansion"]),
    )
