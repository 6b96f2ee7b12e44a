"""The floor of the 3-month NRR error: what a forecast that knew the simulator's exact state
would miss by (issue 16's NRR bar).

For the forecast bench's calm sources (2,000 x 44 months, events at 0.3, seeds 11 and 12; the
chain is generated again in memory, the same seed gives the same world) and its 14 as-of
dates T (2024-07-01 .. 2025-08-01), the book at T is every account paying on T's eve. From
each account's exact chain state at T, ``ROLLOUTS`` rollouts run the chain over the three
months [T, T + 3 months) (as ``simulator.truth.oracle_probabilities`` does for the labels):
an account ends at 0 when a churn day falls in the window, else at its last positive MRR
level before the end (inside a lapse it keeps its last covered MRR, as the movements do).

- the oracle's NRR: the rollouts' mean ending MRR over the book's start MRR, the best point
  forecast there is;
- realised NRR: the same rule on the realised chain (it equals the backtest's realised NRR
  to within rounding: reactivations count in neither);
- the noise: the realised NRR's standard deviation given the state, from the rollouts'
  per-account variances (accounts move independently in a calm world), and the mean
  absolute error that noise alone gives a perfect forecast (0.798 sd).

``--quick``: 400 x 30, seed 11, 3 windows, 30 rollouts."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from typing import Any

import numpy as np

SEEDS = (11, 12)
FIRST = date(2024, 7, 1)
WINDOWS = 14
ROLLOUTS = 100
HORIZON = 3


def _months(first: date, count: int) -> list[date]:
    out = [first]
    while len(out) < count:
        last = out[-1]
        out.append(date(last.year + (last.month == 12), last.month % 12 + 1, 1))
    return out


def _ends(
    churn_idx: np.ndarray,
    churn_day: np.ndarray,
    level_idx: np.ndarray,
    level_day: np.ndarray,
    level: np.ndarray,
    count: int,
    start: int,
    end: int,
    base: np.ndarray,
) -> np.ndarray:
    """Per path: 0 with a churn day in [start, end), else its last positive MRR level set in
    the window, else ``base`` (its MRR on the eve)."""
    from simulator.truth import KEY_SPAN

    paths = np.arange(count, dtype=np.int64) * KEY_SPAN
    lo, hi = paths + start, paths + end
    churns = np.sort(churn_idx.astype(np.int64) * KEY_SPAN + churn_day)
    churned = np.searchsorted(churns, hi, "left") > np.searchsorted(churns, lo, "left")
    key = level_idx.astype(np.int64) * KEY_SPAN + level_day
    order = np.argsort(key, kind="stable")
    key, value = key[order], level[order]
    key, value = key[value > 0], value[value > 0]
    j = np.searchsorted(key, hi, "left") - 1
    inside = (j >= 0) & (key[np.maximum(j, 0)] >= lo)
    last = np.where(inside, value[np.maximum(j, 0)], base)
    return np.where(churned, 0.0, last)


def _seed(seed: int, accounts: int, months: int, windows: int, rollouts: int) -> dict[str, Any]:
    from simulator.chain import roll_forward
    from simulator.config import SimulationConfig
    from simulator.dates import day_number
    from simulator.latent import SegmentArrays
    from simulator.run import generate

    config = SimulationConfig(
        accounts=accounts, months=months, seed=seed, oracle_rows=0, event_rate_scale=0.3
    )
    scratch = tempfile.mkdtemp(prefix="forecast-oracle-")
    try:
        history = generate(config, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    starts = history.month_starts
    segments = SegmentArrays.from_config(config)
    first = FIRST if accounts >= 2000 else date(2023, 1, 1)
    rows = []
    for as_of in _months(first, windows):
        m = int(np.flatnonzero(starts == day_number(as_of))[0])
        t, t_end = int(starts[m]), int(starts[m + HORIZON])
        book = np.flatnonzero(history.mrr_eve[m] > 0)
        base = history.mrr_eve[m, book]
        index = np.full(history.mrr_eve.shape[1], -1)
        index[book] = np.arange(len(book))
        c = index[history.churn_acc] >= 0
        lv = index[history.level_acc] >= 0
        actual = _ends(
            index[history.churn_acc[c]], history.churn_day[c], index[history.level_acc[lv]],
            history.level_day[lv], history.level[lv], len(book), t, t_end, base,
        )  # fmt: skip
        paths = history.boundary[m].take(book).take(np.repeat(np.arange(len(book)), rollouts))
        rng = np.random.default_rng([seed, 99, m])
        ci, cd, li, ld, lvl = roll_forward(paths, starts, m, t_end, config, segments, rng)
        ends = _ends(ci, cd, li, ld, lvl, len(paths), t, t_end, np.repeat(base, rollouts))
        ends = ends.reshape(len(book), rollouts)
        start = float(base.sum())
        rows.append(
            {
                "as_of": as_of.isoformat(),
                "start_mrr": start,
                "oracle_nrr": float(ends.mean(axis=1).sum()) / start,
                "realised_nrr": float(actual.sum()) / start,
                "noise_sd": float(np.sqrt(ends.var(axis=1, ddof=1).sum())) / start,
            }
        )
    errors = [abs(r["oracle_nrr"] - r["realised_nrr"]) for r in rows]
    return {
        "seed": seed,
        "windows": rows,
        "oracle_mae_nrr": float(np.mean(errors)),
        "noise_mae_nrr": 0.798 * float(np.mean([r["noise_sd"] for r in rows])),
    }


def run(quick: bool = False) -> dict[str, Any]:
    load = os.getloadavg()[0]
    if quick:
        seeds = [_seed(11, 400, 30, 3, 30)]
    else:
        seeds = [_seed(s, 2000, 44, WINDOWS, ROLLOUTS) for s in SEEDS]
    return {"load_average_1m": load, "horizon_months": HORIZON, "seeds": seeds}


def report(results: dict[str, Any]) -> list[str]:
    lines = [f"load average (1 min) at start: {results['load_average_1m']:.2f}"]
    for seed in results["seeds"]:
        lines.append(
            f"seed {seed['seed']}: {len(seed['windows'])} windows, NRR at "
            f"{results['horizon_months']} months: oracle MAE "
            f"{100 * seed['oracle_mae_nrr']:.3f} points, noise alone "
            f"{100 * seed['noise_mae_nrr']:.3f} points (0.798 sd)"
        )
        for w in seed["windows"]:
            lines.append(
                f"  {w['as_of']}  oracle {100 * w['oracle_nrr']:.2f}  realised "
                f"{100 * w['realised_nrr']:.2f}  sd {100 * w['noise_sd']:.2f}"
            )
    return lines
