"""The book's forecast from scored accounts: ``forecast.projection`` fed with the latest
scores and the sizes and shock the book's history shows, beside two baselines measured in
the same run (the trailing 3-month average of each movement, and the plain sum of
per-account expectations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecast.projection import (
    BOOK,
    LEVELS,
    SizeModel,
    by_horizon,
    learn_sizes,
    overdispersion,
    simulate,
)
from serving.book import GROUP_COLUMNS, Book, BookError
from serving.errors import MovementsUnavailable

HORIZONS = (3, 6, 12)
SCORE_COLUMNS = ("account_id", "snapshot_date", "churn_probability", "expansion_probability", "mrr")
TRAILING_MONTHS = 3


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


def forecast_book(
    book: Book,
    scores: pd.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    by: str | None = None,
    segment: str | None = None,
    csm: str | None = None,
    simulations: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Expected churned, contracted and expanded MRR, ending MRR, GRR and NRR of the scored
    accounts over each horizon, with 80% and 90% intervals, overall (or per group)."""
    if by is not None and by not in GROUP_COLUMNS:
        raise BookError(f"cannot group by {by!r}; choose {' or '.join(GROUP_COLUMNS)}", "by")
    latest = latest_scores(scores)
    accounts = book.accounts.set_index("account_id")
    known = latest["account_id"].isin(book.accounts["account_id"])
    if not known.any():
        raise MovementsUnavailable(
            f"none of the {len(latest):,} scored accounts is in the source's accounts table; "
            "score the source the book is read from"
        )
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
    expand = latest["expansion_probability"].to_numpy(dtype=float)
    trailing = _trailing(book, by, segment, csm)
    out_horizons = []
    for h in horizons:
        outlooks = simulate(mrr, churn, expand, group_of, sizes, h, shock_sd, simulations, seed)
        groups = []
        for name, outlook in outlooks.items():
            if by is not None and name == BOOK:
                continue
            members = group_of == name if name != BOOK else np.ones(len(mrr), bool)
            summary = outlook.summary(LEVELS)
            summary["group"] = None if name == BOOK else name
            summary["accounts"] = int(members.sum())
            summary["baselines"] = {
                "sum_of_expectations": _expectations(
                    mrr[members], churn[members], expand[members], sizes, name, h
                ),
                "trailing_3m": _trailing_forecast(trailing.get(name), outlook.start_mrr, h),
            }
            groups.append(summary)
        out_horizons.append({"months": h, "groups": groups})
    return {
        "as_of": book.as_of.isoformat(),
        "snapshot_date": str(latest["snapshot_date"].iloc[0]) if len(latest) else None,
        "by": by,
        "method": "monthly hazard implied by the 180-day scores; joint Monte Carlo with one "
        "churn shock per simulated future",
        "simulations": simulations,
        "intervals_backtested": False,
        "shock_sd": round(shock_sd, 4),
        "horizons": out_horizons,
    }


def _expectations(
    mrr: np.ndarray, churn: np.ndarray, expand: np.ndarray, sizes: SizeModel, group: str, h: int
) -> dict[str, float | None]:
    """The plain sum of per-account expectations (no interval)."""
    p_churn = by_horizon(churn, h)
    ratios = sizes.expansion_for(group)
    rate, contraction_ratios = sizes.contraction_for(group)
    expansion_ratio = float(np.mean(ratios)) if len(ratios) else 0.0
    contraction_ratio = (
        float(np.mean(np.minimum(contraction_ratios, 1.0))) if len(contraction_ratios) else 0.0
    )
    survive = 1.0 - p_churn
    churned = float((mrr * p_churn).sum())
    expansion = float((mrr * survive * by_horizon(expand, h) * expansion_ratio).sum())
    contraction = float((mrr * survive * (1 - (1 - rate) ** h) * contraction_ratio).sum())
    return _totals(float(mrr.sum()), churned, contraction, expansion)


def _trailing(
    book: Book, by: str | None, segment: str | None, csm: str | None
) -> dict[str, pd.Series]:
    """Monthly churned, contraction and expansion MRR averaged over the newest 3 months."""
    table = book.movements(by=by, segment=segment, csm=csm, months=TRAILING_MONTHS)
    columns = ["churned", "contraction", "expansion"]
    if by is None:
        return {"*": table[columns].mean()}
    return {name: rows[columns].mean() for name, rows in table.groupby("group")}


def _trailing_forecast(monthly: pd.Series | None, start: float, h: int) -> dict[str, float | None]:
    if monthly is None:
        return _totals(start, 0.0, 0.0, 0.0)
    return _totals(
        start,
        min(h * float(monthly["churned"]), start),
        h * float(monthly["contraction"]),
        h * float(monthly["expansion"]),
    )


def _totals(
    start: float, churned: float, contraction: float, expansion: float
) -> dict[str, float | None]:
    end = start - churned - contraction + expansion
    return {
        "churned": churned,
        "contraction": contraction,
        "expansion": expansion,
        "end_mrr": end,
        "grr": (start - churned - contraction) / start if start > 0 else None,
        "nrr": end / start if start > 0 else None,
    }
