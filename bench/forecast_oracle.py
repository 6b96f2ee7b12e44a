"""The floor of the forecast bench's error bars: what a forecast that knew the simulator's
exact state would miss by, for churned MRR and NRR at 3 and 6 months (issue 16's bars).

For the forecast bench's calm sources (2,000 x 44 months, events at 0.3, seeds 11, 12, 14 and 15;
the chain is generated again, the same seed gives the same world) and its 14 as-of dates T
(2024-07-01 .. 2025-08-01), the book at T is every account paying on T's eve. From each
account's exact chain state at T, ``ROLLOUTS`` rollouts run the chain over the six months
[T, T + 6 months) (as ``simulator.truth.oracle_probabilities`` does for the labels); the
first three months of a rollout are a 3-month rollout. Per horizon and path:

- churned MRR: a churn day in the window loses the MRR the path had at the start of that
  churn's month (its last positive level set before it, else its MRR on T's eve), as the
  monthly movements count it;
- ending MRR: 0 after a churn in the window, else its last positive level before the end
  (inside a lapse it keeps its last covered MRR, as the movements do); NRR = the book's
  ending MRR over its start MRR (reactivations count in neither).

Per window and horizon:

- the oracle's forecast: the rollouts' mean churned MRR and NRR, the best point forecast
  there is; its *realised* error against what happened;
- its *expected* error: the mean absolute deviation of the rollouts' book totals from their
  mean (accounts move independently in a calm world, so rollout r over all accounts is one
  draw of the book's future) — what even the truth misses by on average;
- what happened and the trailing 3-month average, from the source's monthly movements
  exactly as the backtest computes them (``forecast.backtest.realised`` over the accounts
  of the chain's book, the trailing average of the book as of T), so the ratios to the
  trailing average's error are the bench's.

The floor of a bar is the oracle's expected error over the trailing average's realised one;
a model's ratio below the oracle's *realised* ratio is luck on these 14 overlapping windows.

``--quick``: 400 x 30, seed 11, 3 windows, 30 rollouts."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from typing import Any

import numpy as np

SEEDS = (11, 12, 14, 15)
FIRST = date(2024, 7, 1)
WINDOWS = 14
ROLLOUTS = 100
HORIZONS = (3, 6)
TOTALS = ("churned", "nrr")


def _months(first: date, count: int) -> list[date]:
    out = [first]
    while len(out) < count:
        last = out[-1]
        out.append(date(last.year + (last.month == 12), last.month % 12 + 1, 1))
    return out


def _last_level(
    key: np.ndarray, value: np.ndarray, paths: np.ndarray, lo: np.ndarray, before: np.ndarray
) -> np.ndarray:
    """Per path: its last positive level set in [lo, before), NaN when none (``key``: sorted
    path * KEY_SPAN + day of the positive levels, ``value`` their MRR)."""
    j = np.searchsorted(key, paths + before, "left") - 1
    inside = (j >= 0) & (key[np.maximum(j, 0)] >= paths + lo)
    return np.where(inside, value[np.maximum(j, 0)], np.nan)


def path_totals(
    churn_idx: np.ndarray,
    churn_day: np.ndarray,
    level_idx: np.ndarray,
    level_day: np.ndarray,
    level: np.ndarray,
    count: int,
    start: int,
    end: int,
    base: np.ndarray,
    month_starts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per path over [start, end): (ending MRR, churned MRR). Ending: 0 with a churn day in
    the window, else its last positive MRR level set in the window, else ``base`` (its MRR
    on the eve). Churned: 0 without a churn, else its MRR at the start of the first churn's
    month (the last positive level set before that month, else ``base``)."""
    from simulator.truth import KEY_SPAN

    paths = np.arange(count, dtype=np.int64) * KEY_SPAN
    churns = np.sort(churn_idx.astype(np.int64) * KEY_SPAN + churn_day)
    first = np.searchsorted(churns, paths + start, "left")
    churned = first < np.searchsorted(churns, paths + end, "left")
    day = churns[np.minimum(first, len(churns) - 1)] - paths if len(churns) else paths * 0
    month = month_starts[np.clip(np.searchsorted(month_starts, day, "right") - 1, 0, None)]
    key = level_idx.astype(np.int64) * KEY_SPAN + level_day
    order = np.argsort(key, kind="stable")
    key, value = key[order], level[order]
    key, value = key[value > 0], value[value > 0]
    last = _last_level(key, value, paths, np.full(count, start), np.full(count, end))
    ending = np.where(churned, 0.0, np.where(np.isnan(last), base, last))
    at_month = _last_level(key, value, paths, np.full(count, start), month)
    lost = np.where(churned, np.where(np.isnan(at_month), base, at_month), 0.0)
    return ending, lost


def _movements(scratch: str, dates: list[date]) -> tuple[Any, list[Any], dict[str, str]]:
    """The source's full monthly movements, its books as of each date (subscriptions that
    started before it, as the backtest cuts them) and each account's segment."""
    import ibis

    from features.sources import connect, open_source
    from features.validation import validate_source
    from forecast.book import DEFAULT_GRACE_DAYS, book_from_tables

    validated = validate_source(open_source(scratch, con=connect(None)))
    tables = validated.tables
    subs = tables["subscriptions"]
    history = book_from_tables(subs, tables["accounts"], validated.as_of, DEFAULT_GRACE_DAYS)
    books = [
        book_from_tables(
            subs.filter(subs.start_date < ibis.date(t)), tables["accounts"], t, DEFAULT_GRACE_DAYS
        )
        for t in dates
    ]
    groups = history.accounts.set_index("account_id")["segment"].fillna("(none)").to_dict()
    return history, books, groups


def _trailing(book: Any, start: float, h: int) -> dict[str, float]:
    """The trailing 3-month average's churned MRR and NRR over ``h`` months (the backtest's
    baseline: ``forecast.outlook``)."""
    monthly = book.movements(months=3)[["churned", "contraction", "expansion"]].mean()
    churned = min(h * float(monthly["churned"]), start)
    grown = h * (float(monthly["expansion"]) - float(monthly["contraction"]))
    return {"churned": churned, "nrr": (start - churned + grown) / start}


def _seed(seed: int, accounts: int, months: int, windows: int, rollouts: int) -> dict[str, Any]:
    from forecast.backtest import realised
    from simulator.chain import roll_forward
    from simulator.config import SimulationConfig
    from simulator.dates import day_number
    from simulator.latent import SegmentArrays
    from simulator.run import generate

    config = SimulationConfig(
        accounts=accounts, months=months, seed=seed, oracle_rows=0, event_rate_scale=0.3
    )
    first = FIRST if accounts >= 2000 else date(2023, 1, 1)
    dates = _months(first, windows)
    scratch = tempfile.mkdtemp(prefix="forecast-oracle-")
    try:
        history = generate(config, scratch)
        movements, books, groups = _movements(scratch, dates)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    starts = history.month_starts
    segments = SegmentArrays.from_config(config)
    ids = np.asarray(history.account_ids, dtype=object)
    horizon = max(HORIZONS)
    rows = []
    for as_of, known in zip(dates, books, strict=True):
        m = int(np.flatnonzero(starts == day_number(as_of))[0])
        book = np.flatnonzero(history.mrr_eve[m] > 0)
        base = history.mrr_eve[m, book]
        start = float(base.sum())
        index = np.full(history.mrr_eve.shape[1], -1)
        index[book] = np.arange(len(book))
        c = index[history.churn_acc] >= 0
        lv = index[history.level_acc] >= 0
        paths = history.boundary[m].take(book).take(np.repeat(np.arange(len(book)), rollouts))
        rng = np.random.default_rng([seed, 99, m])
        rolled = roll_forward(paths, starts, m, int(starts[m + horizon]), config, segments, rng)
        row: dict[str, Any] = {"as_of": as_of.isoformat(), "start_mrr": start}
        for h in HORIZONS:
            t, t_end = int(starts[m]), int(starts[m + h])
            chain_end, chain_lost = path_totals(
                index[history.churn_acc[c]], history.churn_day[c], index[history.level_acc[lv]],
                history.level_day[lv], history.level[lv], len(book), t, t_end, base, starts,
            )  # fmt: skip
            end, lost = path_totals(
                *rolled, len(paths), t, t_end, np.repeat(base, rollouts), starts
            )
            draws = {
                "churned": lost.reshape(len(book), rollouts).sum(axis=0),
                "nrr": end.reshape(len(book), rollouts).sum(axis=0) / start,
            }
            happened = realised(movements.per_account, list(ids[book]), groups, as_of, h)["*"]
            trailing = _trailing(known, start, h)
            for total in TOTALS:
                value = happened[total]
                row[f"{total}_{h}m"] = {
                    "oracle": float(draws[total].mean()),
                    "expected_error": float(np.abs(draws[total] - draws[total].mean()).mean()),
                    "realised": float(value) if value is not None else float("nan"),
                    "chain_realised": float(
                        chain_lost.sum() if total == "churned" else chain_end.sum() / start
                    ),
                    "trailing": trailing[total],
                }
        rows.append(row)
    return {"seed": seed, "windows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per total and horizon, over the windows: the oracle's expected and realised mean
    absolute error, the trailing average's, and the two ratios (the floor of the bar's
    ratio, and what the oracle realised)."""
    out = {}
    for key in (f"{t}_{h}m" for t in TOTALS for h in HORIZONS):
        cells = [r[key] for r in rows]
        expected = float(np.mean([c["expected_error"] for c in cells]))
        oracle = float(np.mean([abs(c["oracle"] - c["realised"]) for c in cells]))
        trailing = float(np.mean([abs(c["trailing"] - c["realised"]) for c in cells]))
        out[key] = {
            "oracle_expected_mae": expected,
            "oracle_realised_mae": oracle,
            "trailing_mae": trailing,
            "expected_ratio": expected / trailing if trailing > 0 else float("nan"),
            "realised_ratio": oracle / trailing if trailing > 0 else float("nan"),
        }
    return out


def pooled(seeds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Over seeds, per total and horizon: the mean of the per-seed ratios and the ratio of
    the summed errors."""
    out = {}
    for key in seeds[0]["summary"]:
        cells = [s["summary"][key] for s in seeds]
        trailing = sum(c["trailing_mae"] for c in cells)
        out[key] = {
            "expected_ratio_mean": float(np.mean([c["expected_ratio"] for c in cells])),
            "realised_ratio_mean": float(np.mean([c["realised_ratio"] for c in cells])),
            "expected_ratio_of_sums": sum(c["oracle_expected_mae"] for c in cells) / trailing,
            "realised_ratio_of_sums": sum(c["oracle_realised_mae"] for c in cells) / trailing,
        }
    return out


def run(quick: bool = False) -> dict[str, Any]:
    load = os.getloadavg()[0]
    if quick:
        seeds = [_seed(11, 400, 30, 3, 30)]
    else:
        seeds = [_seed(s, 2000, 44, WINDOWS, ROLLOUTS) for s in SEEDS]
    return {
        "load_average_1m": load,
        "load_average_1m_end": os.getloadavg()[0],
        "horizons": list(HORIZONS),
        "seeds": seeds,
        "pooled": pooled(seeds),
    }


def _amount(total: str, value: float) -> str:
    return f"{100 * value:.3f} pt" if total == "nrr" else f"{value:,.0f}"


def report(results: dict[str, Any]) -> list[str]:
    lines = [
        f"load average (1 min) at start {results['load_average_1m']:.2f}, at end "
        f"{results.get('load_average_1m_end', float('nan')):.2f}",
        "oracle MAE expected / realised vs the trailing 3-month average's (ratio: the floor, "
        "what the oracle realised)",
    ]
    for seed in results["seeds"]:
        lines.append(f"seed {seed['seed']}: {len(seed['windows'])} windows")
        for key, s in seed["summary"].items():
            total = key.split("_")[0]
            lines.append(
                f"  {key:<11} oracle {_amount(total, s['oracle_expected_mae'])} / "
                f"{_amount(total, s['oracle_realised_mae'])}, trailing "
                f"{_amount(total, s['trailing_mae'])}: floor {s['expected_ratio']:.2f} x, "
                f"realised {s['realised_ratio']:.2f} x"
            )
    lines.append(f"pooled over {len(results['seeds'])} seed(s) (mean of ratios; ratio of sums)")
    for key, p in results["pooled"].items():
        lines.append(
            f"  {key:<11} floor {p['expected_ratio_mean']:.2f} ; {p['expected_ratio_of_sums']:.2f}"
            f"  realised {p['realised_ratio_mean']:.2f} ; {p['realised_ratio_of_sums']:.2f}"
        )
    for seed in results["seeds"]:
        lines.append(f"seed {seed['seed']} per window (3 months): oracle / realised / trailing")
        for w in seed["windows"]:
            c, n = w["churned_3m"], w["nrr_3m"]
            lines.append(
                f"  {w['as_of']}  churned {c['oracle']:,.0f} / {c['realised']:,.0f} / "
                f"{c['trailing']:,.0f}  NRR {100 * n['oracle']:.2f} / {100 * n['realised']:.2f}"
                f" / {100 * n['trailing']:.2f}"
            )
    return lines
