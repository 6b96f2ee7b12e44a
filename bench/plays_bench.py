"""Play effects on simulated sources against the simulator's truth (issue 18's bars).

Per seed: a simulated source (the simulator records plays in ``activities.play`` and writes
``_truth/play_effects.parquet`` and ``_truth/play_rows.parquet``: the interface of issue 18)
-> its feature table -> ``training.effects.fit_effects`` -> compared with the truth:

- the naive comparison's bias, per (play, label): |naive - true ATT| (bar: >= 0.03 for most
  plays, which proves the confounding is there);
- coverage: the share of (play, label, segment) cells with evidence whose 95% interval holds
  the true ATT (bar >= 0.9 over 5 seeds); cells the estimator refused are counted apart;
- PEHE of the DR-learner on the treated rows against the true individual effects, over the
  T-learner's on the same rows (bar <= 0.5).

- the prescription bar (``bench.plays_value``): ARR saved (the book's ARR at the horizon
  with the plays minus without: churn avoided and expansion added alike) by each CSM's
  capacity spent by ``expected_arr_saved`` over the same capacity spent down the churn-risk
  list (bar >= 1.3), rolled forward by ``simulator.play_value.arr_kept``, with effects
  estimated on an earlier period and judged on later months (held out in time); and the
  held-out PEHE of the served per-account effect over the T-learner's (bar <= 0.5): per
  seed and pooled over ``PRESCRIPTION``'s seeds (a longer, bigger source: models as of month
  26 of 36). The same report holds the ceilings: the rankings by the true ARR each play
  saves (``oracle_*``).

Full: 5 seeds of 1,000 accounts x 30 months (a few minutes a seed on a shared machine) and
the prescription on 3 seeds of 1,500 x 36 (about 2 minutes of CPU a seed); ``--quick``: 2
seeds of 600 accounts x 24 months, the prescription on one seed of 600 x 30."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.training_bench import RESULTS, _digest

BARS = {"coverage": 0.9, "naive_bias": 0.03, "pehe_ratio": 0.5, "arr_saved_ratio": 1.3}
STAGE_PREFIX = "stage:"


def compare_cells(rows: list[dict[str, Any]], truth: pd.DataFrame) -> dict[str, Any]:
    """Coverage of the estimated cells by the true ATT (``truth``: play, label, segment,
    true_effect) and the naive comparison's bias per (play, label) of the ``all`` cells."""
    true = {
        (str(r.play), str(r.label), str(r.segment)): float(r.true_effect)
        for r in truth.itertuples()
    }
    covered = refused = with_evidence = unmatched = 0
    bias: dict[str, float] = {}
    cells: list[dict[str, Any]] = []
    for row in rows:
        key = (row["play"], row["label"], row["segment"])
        if key not in true:
            unmatched += 1  # lifecycle-stage cells: the truth has segments only
            continue
        if row["segment"] == "all" and row["naive"] is not None:
            bias[f"{row['play']}/{row['label']}"] = abs(row["naive"] - true[key])
        if row["evidence"] != "ok":
            refused += 1
            continue
        with_evidence += 1
        hit = bool(row["ci_low"] <= true[key] <= row["ci_high"])
        covered += int(hit)
        cells.append(
            {
                "play": row["play"],
                "label": row["label"],
                "segment": row["segment"],
                "effect": row["effect"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "true": true[key],
                "naive": row["naive"],
                "covered": hit,
            }
        )
    return {
        "cells": cells,
        "cells_with_evidence": with_evidence,
        "cells_covered": covered,
        "cells_refused": refused,
        "cells_without_truth": unmatched,
        "coverage": covered / with_evidence if with_evidence else None,
        "naive_bias": bias,
        "naive_biased_share": (
            float(np.mean([b >= BARS["naive_bias"] for b in bias.values()])) if bias else None
        ),
    }


def plays_source(accounts: int, months: int, seed: int) -> Path:
    """A simulated source with plays on (as ``churnlight simulate`` runs by default), its
    truth and its feature table, cached by the code of the simulator and the feature stage."""
    from features.pipeline import build_features
    from simulator.config import SimulationConfig
    from simulator.play_catalog import PlayPolicy
    from simulator.run import simulate

    key = f"plays-a{accounts}-m{months}-s{seed}-{_digest('simulator', 'features')}"
    root = RESULTS / "sources" / key
    done = root / "_done.json"
    if done.exists():
        return root
    config = SimulationConfig(
        accounts=accounts, months=months, seed=seed, oracle_rows=0, plays=PlayPolicy()
    )
    simulate(config, root / "source")
    summary = build_features(root / "source", root / "features.parquet", quarantine=True)
    done.write_text(json.dumps({"rows": summary.rows, "quarantined": summary.rows_quarantined}))
    return root


def one_seed(accounts: int, months: int, seed: int) -> dict[str, Any]:
    from features.writer import read_feature_table
    from serving.playbooks import load_playbooks
    from serving.settings import DEFAULT_PLAYBOOKS
    from training.dataset import from_feature_file
    from training.effects.fit import fit_effects, other_play
    from training.effects.runs import read_play_runs
    from training.effects.treatment import treated_rows
    from training.effects.uplift import pehe, predict_uplift, t_learner

    root = plays_source(accounts, months, seed)
    truth_dir = root / "source" / "_truth"
    if not (truth_dir / "play_effects.parquet").exists():
        raise RuntimeError(
            f"{truth_dir} has no play_effects.parquet: this simulator records no plays "
            "(issue 18, part 2)"
        )
    data = from_feature_file(read_feature_table(root / "features.parquet"))
    runs = read_play_runs(root / "source")
    started = time.process_time()
    result = fit_effects(data, runs, load_playbooks(DEFAULT_PLAYBOOKS).ids)
    cpu = time.process_time() - started
    out = compare_cells(result.rows, pd.read_parquet(truth_dir / "play_effects.parquet"))
    play_rows = pd.read_parquet(truth_dir / "play_rows.parquet")
    assert data.snapshot_date is not None
    keys = pd.DataFrame(
        {"account_id": data.ids.astype(str), "snapshot_date": data.snapshot_date.astype(str)}
    )
    play_rows = play_rows.assign(
        account_id=play_rows["account_id"].astype(str),
        snapshot_date=pd.to_datetime(play_rows["snapshot_date"]).dt.strftime("%Y-%m-%d"),
    )
    treated = treated_rows(data.ids, data.snapshot_date, runs, sorted(result.facts["plays"]))
    ratios = {}
    for (play, label), booster in result.uplift.items():
        t = treated[play]
        known = data.labeled(label) & ((t == 1) | ~other_play(treated, play))
        rows = keys.merge(play_rows[play_rows["play"] == play], how="left")
        column = "churn_effect" if label.startswith("churn") else "expand_effect"
        tau = rows[column].to_numpy(dtype=float)
        mask = (t == 1) & ~np.isnan(tau)
        if mask.sum() < 30:
            continue
        dr = predict_uplift(booster, data.matrix[mask])
        two = t_learner(data.matrix[known], data.labels[label][known], t[known], data.matrix[mask])
        ratios[f"{play}/{label}"] = pehe(dr, tau[mask]) / pehe(two, tau[mask])
    return {**out, "seed": seed, "fit_cpu_seconds": cpu, "pehe_ratio": ratios}


@dataclass(frozen=True)
class PrescriptionRun:
    accounts: int
    months: int
    seeds: tuple[int, ...]
    rollouts: int


PRESCRIPTION = PrescriptionRun(1500, 36, (101, 102, 103), 50)
QUICK_PRESCRIPTION = PrescriptionRun(600, 30, (101,), 20)
"""The prescription bar's sources: longer and bigger than the coverage bar's, so that the
models as of the cut-off (36 - 10 months) see enough runs of each play."""


def run(quick: bool = False) -> dict[str, Any]:
    from bench.plays_value import pooled, prescription

    seeds, accounts, months = (2, 600, 24) if quick else (5, 1000, 30)
    per_seed = [one_seed(accounts, months, 101 + s) for s in range(seeds)]
    p = QUICK_PRESCRIPTION if quick else PRESCRIPTION
    values = [prescription(p.accounts, p.months, seed, p.rollouts) for seed in p.seeds]
    cells = sum(s["cells_with_evidence"] for s in per_seed)
    covered = sum(s["cells_covered"] for s in per_seed)
    ratios = [r for s in per_seed for r in s["pehe_ratio"].values()]
    shares = [s["naive_biased_share"] for s in per_seed if s["naive_biased_share"] is not None]
    return {
        "seeds": per_seed,
        "source": f"{accounts} accounts x {months} months",
        "coverage": covered / cells if cells else None,
        "cells_with_evidence": cells,
        "naive_biased_share": float(np.mean(shares)) if shares else None,
        "pehe_ratio": float(np.mean(ratios)) if ratios else None,
        "prescription_source": f"{p.accounts} accounts x {p.months} months",
        "prescriptions": values,
        "prescription": pooled(values),
        "load_average_1m": os.getloadavg()[0],
    }


def _f(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def report(results: dict[str, Any]) -> list[str]:
    lines = [
        f"seed {s['seed']}: {s['cells_covered']}/{s['cells_with_evidence']} cells covered, "
        f"{s['cells_refused']} refused; naive biased >= 0.03 in "
        f"{_f(s['naive_biased_share'], '.0%')} of plays; PEHE ratios "
        + ", ".join(f"{k} {v:.2f}" for k, v in s["pehe_ratio"].items())
        + f"; fit {s['fit_cpu_seconds']:.0f} s CPU"
        for s in results["seeds"]
    ]
    lines.append(
        f"{results['source']}: coverage {_f(results['coverage'], '.0%')} of "
        f"{results['cells_with_evidence']} cells (bar >= 90%); naive biased in "
        f"{_f(results['naive_biased_share'], '.0%')} of plays (bar: most); PEHE ratio "
        f"{_f(results['pehe_ratio'])} (bar <= 0.5); load {results['load_average_1m']:.2f}"
    )
    for v in results.get("prescriptions", []):
        lines.append(
            f"prescription seed {v['seed']}, models as of {v['cutoff']} (fit rows until "
            f"{v.get('fit_rows_until', '-')}), judged on {len(v['months'])} later months, "
            f"{v['capacity']} plays: ARR saved by "
            f"expected_arr_saved {v['prescribed_arr_saved']:,.0f} vs by churn risk "
            f"{v['risk_arr_saved']:,.0f}: ratio {_f(v['ratio'])}; other rankings "
            + ", ".join(f"{k} {_f(r)}" for k, r in v["ratios"].items())
        )
        for play, e in v.get("per_account_error", {}).items():
            lines.append(
                f"  held-out PEHE {play} ({e['rows']} treated rows): served {e['served']:.3f}, "
                f"DR-learner {e['dr_learner']:.3f}, T-learner {e['t_learner']:.3f}, "
                f"zero {e['zero']:.3f}"
            )
    pool = results.get("prescription")
    if pool:
        lines.append(
            f"prescription pooled over seeds {pool['seeds']} ({results['prescription_source']}): "
            f"ARR saved ratio {_f(pool['ratio'])} (bar >= {BARS['arr_saved_ratio']}; "
            f"counting churn only {_f(pool['ratios'].get('prescribed_churn_only'))}, "
            f"ceiling {_f(pool['ratios'].get('oracle_fitting'))}); "
            f"PEHE over the T-learner's on {pool['pehe_rows']} held-out treated rows: "
            + ", ".join(f"{k} {_f(r)}" for k, r in pool["pehe_over_t"].items())
            + f" (bar <= {BARS['pehe_ratio']})"
        )
    return lines
