"""The simulator's plays: is the naive comparison confounded, and what do plays cost?

One simulation of 2,000 accounts x 36 months (seed 1; quick: 300 x 24) with plays, and the
same config without them, in the same run. Reported per play: runs with observable labels
(treated rows), per segment; the naive difference in churn_180d (and expand_180d) between
treated rows and rows no play touched, against the true effect on the treated
(``_truth/play_effects.parquet``), and the bias (naive - true). Bar (issue 18): |bias| on
churn >= 0.03 for most plays. Cost: simulate's wall time with plays / without, generation
and truth apart, also at the demo's size (600 x 30, seed 7). Baseline: the plays-off run,
alternated with the plays-on run twice; per arm the run with the least CPU time is kept.
Last, the headroom of the prescription bar (``headroom``), through the harness
``simulator.play_value``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from simulator.config import SEGMENTS, SimulationConfig
from simulator.dates import to_date
from simulator.play_catalog import PLAY_IDS, PlayPolicy
from simulator.play_truth import NO_PLAY, play_probabilities
from simulator.play_value import arr_by_account, success_draws
from simulator.plays import visible_signals
from simulator.run import generate, simulate

FULL = {"accounts": 2000, "months": 36, "seed": 1}
QUICK = {"accounts": 300, "months": 24, "seed": 1}
DEMO = {"accounts": 600, "months": 30, "seed": 7}
BIAS_BAR = 0.03
HEADROOM_SHARE = 0.06


def _timed(config: SimulationConfig, out: Path) -> dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    summary = simulate(config, out)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "seconds_generate": summary.seconds_generate,
        "seconds_truth": summary.seconds_truth,
        "seconds_play_truth": summary.play_truth.seconds if summary.play_truth else 0.0,
        "events": summary.events,
    }


def _pair(size: dict[str, int], root: Path, repeats: int) -> tuple[dict, dict]:
    """Plays off and on, alternated ``repeats`` times; per arm the run with the least CPU
    time (the machine is shared: wall time moves with other processes' load)."""
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for _ in range(repeats):
        runs["off"].append(_timed(SimulationConfig(**size), root / "off"))
        runs["on"].append(_timed(SimulationConfig(**size, plays=PlayPolicy()), root / "on"))
    off, on = (min(runs[k], key=lambda r: r["cpu_seconds"]) for k in ("off", "on"))
    return off, on


def naive_vs_truth(path: Path) -> pd.DataFrame:
    """Per play: treated rows, naive treated-minus-untouched difference of each label, the
    true effect on the treated and the bias, from a simulated source's truth files."""
    truth = path / "_truth"
    labels = pq.read_table(truth / "labels.parquet").to_pandas()
    labels = labels[labels["churn_180d"].notna()]
    rows = pq.read_table(truth / "play_rows.parquet").to_pandas()
    treated = rows[rows["treated"]][["account_id", "snapshot_date", "play"]]
    effects = pq.read_table(truth / "play_effects.parquet").to_pandas()
    effects = effects[effects["segment"] == "all"].set_index(["play", "label"])
    merged = labels.merge(treated, on=["account_id", "snapshot_date"], how="left")
    untouched = merged[merged["play"].isna()]
    out = []
    for play in PLAY_IDS:
        got = merged[merged["play"] == play]
        row: dict[str, Any] = {"play": play, "treated_rows": len(got)}
        for label in ("churn_180d", "expand_180d"):
            short = label.split("_")[0]
            naive = float(got[label].mean() - untouched[label].mean()) if len(got) else None
            true = float(effects.loc[(play, label), "true_effect"])
            row[f"naive_{short}"] = naive
            row[f"true_{short}"] = true
            row[f"bias_{short}"] = None if naive is None else naive - true
        out.append(row)
    return pd.DataFrame(out)


def treated_by_segment(path: Path) -> dict[str, dict[str, int]]:
    rows = pq.read_table(path / "_truth" / "play_rows.parquet").to_pandas()
    rows = rows[rows["treated"]]
    counts = rows.groupby(["play", "segment"]).size()
    return {play: {seg: int(counts.get((play, seg), 0)) for seg in SEGMENTS} for play in PLAY_IDS}


def headroom(size: dict[str, int], out: Path, rollouts: int) -> dict[str, Any]:
    """The prescription bar's headroom at month ``months - 8``: ARR saved
    (``simulator.play_value``) when 6% of the book gets a play, three ways: the riskiest
    accounts (no-play churn probability) with the play their situation calls for; the
    largest revenue at risk (probability x ARR) likewise; and an oracle that knows every
    account's true ARR saved by every play (best play, ranked by it). The estimator's
    ranking should land between the first two and the oracle."""
    history = generate(SimulationConfig(**size, plays=PlayPolicy()), out)
    m = size["months"] - 8
    book = np.flatnonzero(history.mrr_eve[m] > 0)
    draws = success_draws(history, m)[book]
    k = round(HEADROOM_SHARE * len(book))
    saved = np.zeros((len(PLAY_IDS), len(book)))
    for code in range(len(PLAY_IDS)):
        without, with_play = arr_by_account(
            history, m, book, np.full(len(book), code), draws, rollouts
        )
        saved[code] = with_play - without
    none = np.full((1, len(book)), NO_PLAY)
    churn, _ = play_probabilities(history, book, np.full(len(book), m), none, draws, 77)
    p_churn = churn[0]
    state = history.boundary[m].take(book)
    signals = visible_signals(
        state,
        int(history.month_starts[m]),
        state.latent.champion.astype(bool),
        np.random.default_rng(0),
    )
    fitting = np.argmax(signals.play_weights(state.latent.segment), axis=0)
    best = np.argmax(saved, axis=0)

    def total(order: np.ndarray, plays: np.ndarray) -> float:
        assert order.shape == (len(book),)
        assigned = np.full(len(book), -1)
        assigned[order[:k]] = plays[order[:k]]
        without, with_plays = arr_by_account(history, m, book, assigned, draws, 100)
        return float((with_plays - without).sum())

    arr = 12 * history.mrr_eve[m, book]
    risk = total(np.argsort(-p_churn, kind="stable"), fitting)
    at_risk = total(np.argsort(-(p_churn * arr), kind="stable"), fitting)
    oracle = total(np.argsort(-saved[best, np.arange(len(book))], kind="stable"), best)
    return {
        "month": str(to_date(int(history.month_starts[m]))),
        "book": len(book),
        "played": k,
        "arr_saved_risk": risk,
        "arr_saved_revenue_at_risk": at_risk,
        "arr_saved_oracle": oracle,
    }


def run(quick: bool = False) -> dict[str, Any]:
    size = QUICK if quick else FULL
    results: dict[str, Any] = {"config": size}
    with tempfile.TemporaryDirectory(prefix="churnlight-plays-") as scratch:
        root = Path(scratch)
        results["off"], results["on"] = _pair(size, root, 1 if quick else 2)
        table = naive_vs_truth(root / "on")
        results["plays"] = table.to_dict(orient="records")
        results["treated_by_segment"] = treated_by_segment(root / "on")
        results["headroom"] = headroom(size, root / "headroom", 20 if quick else 30)
        if not quick:
            (root / "demo").mkdir()
            results["demo_off"], results["demo_on"] = _pair(DEMO, root / "demo", 2)
    biased = [
        r["play"]
        for r in results["plays"]
        if r["bias_churn"] is not None and abs(r["bias_churn"]) >= BIAS_BAR
    ]
    results["plays_biased"] = biased
    results["bar_met"] = len(biased) > len(PLAY_IDS) / 2
    for key in ("", "demo_"):
        if f"{key}on" in results:
            on, off = results[f"{key}on"], results[f"{key}off"]
            results[f"{key}time_ratio"] = round(on["seconds"] / off["seconds"], 2)
            results[f"{key}cpu_ratio"] = round(on["cpu_seconds"] / off["cpu_seconds"], 2)
    return results


def _f(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:+.3f}"


def report(results: dict[str, Any]) -> list[str]:
    size = results["config"]
    lines = [
        f"{size['accounts']:,} accounts x {size['months']} months, seed {size['seed']}: naive "
        "(treated - untouched rows) vs true effect on the treated",
        f"{'play':26} {'rows':>5} {'naive churn':>11} {'true':>7} {'bias':>7}   "
        f"{'naive exp':>9} {'true':>7} {'bias':>7}",
    ]
    for r in results["plays"]:
        lines.append(
            f"{r['play']:26} {r['treated_rows']:5d} {_f(r['naive_churn']):>11} "
            f"{_f(r['true_churn']):>7} {_f(r['bias_churn']):>7}   {_f(r['naive_expand']):>9} "
            f"{_f(r['true_expand']):>7} {_f(r['bias_expand']):>7}"
        )
    n = len(results["plays"])
    lines.append(
        f"|bias| on churn >= {BIAS_BAR}: {len(results['plays_biased'])} of {n} plays "
        f"(bar: most) -> {'met' if results['bar_met'] else 'NOT met'}"
    )
    lines.append("treated rows by segment (enterprise / mid_market / smb):")
    for play, counts in results["treated_by_segment"].items():
        lines.append(f"  {play:26} " + " / ".join(str(counts[s]) for s in SEGMENTS))
    for key, label in (("", ""), ("demo_", " (demo size 600 x 30)")):
        if f"{key}on" not in results:
            continue
        on, off = results[f"{key}on"], results[f"{key}off"]
        lines.append(
            f"cost{label}: CPU {on['cpu_seconds']:.1f} s with plays vs {off['cpu_seconds']:.1f} s "
            f"without = {results[f'{key}cpu_ratio']:.2f}x; wall {on['seconds']:.1f} vs "
            f"{off['seconds']:.1f} s = {results[f'{key}time_ratio']:.2f}x (generate "
            f"{on['seconds_generate']:.1f} vs "
            f"{off['seconds_generate']:.1f} s; truth {on['seconds_truth']:.1f} vs "
            f"{off['seconds_truth']:.1f} s, of which play effects {on['seconds_play_truth']:.1f} s)"
        )
    h = results.get("headroom")
    if h:
        lines.append(
            f"prescription headroom at {h['month']} ({h['played']} of {h['book']} accounts "
            f"played): ARR saved by risk order {h['arr_saved_risk']:,.0f}, by revenue at risk "
            f"{h['arr_saved_revenue_at_risk']:,.0f}, by the true uplift (oracle) "
            f"{h['arr_saved_oracle']:,.0f}"
        )
    return lines
