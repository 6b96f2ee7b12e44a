"""Play effects on a data-generating process with known confounding and effect (bench.effects_dgp):
interval coverage of the doubly-robust ATT, the naive comparison's bias, per-account PEHE of the
DR-learner against the two-model T-learner, and the fit's cost against the T-learner's, all in
the same run over 5 seeds (``--quick``: 2 seeds, 600 accounts).

Bars (issue 18, here on the DGP; the simulator's bars need its plays): 95% intervals contain
the true ATT in >= 90% of the seeds; PEHE <= 0.5 x the T-learner's."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from bench.effects_dgp import make_dgp
from training.effects.estimate import EvidenceRules, estimate_cell
from training.effects.nuisance import (
    CrossFitOptions,
    account_folds,
    cross_fit_outcomes,
    cross_fit_propensity,
)
from training.effects.uplift import fit_dr_learner, pehe, predict_uplift, t_learner

BARS = {"coverage": 0.9, "pehe_ratio": 0.5}


def one_seed(seed: int, accounts: int) -> dict[str, Any]:
    d = make_dgp(seed, accounts=accounts)
    rules = EvidenceRules()
    started = time.process_time()
    options = CrossFitOptions(seed=seed)
    folds = account_folds(d.groups, options.folds, seed)
    e = cross_fit_propensity(d.x, d.t, folds, options)
    m0, m1 = cross_fit_outcomes(d.x, d.t, d.y, folds, options)
    est = estimate_cell(d.y, d.t, e, m0, m1, d.groups, rules)
    dr = predict_uplift(fit_dr_learner(d.x, d.y, d.t, e, m0, m1, rules.trim, seed), d.x)
    dr_cpu = time.process_time() - started
    started = time.process_time()
    two = t_learner(d.x, d.y, d.t, d.x, seed)
    t_cpu = time.process_time() - started
    treated = d.t == 1
    assert est.ci_low is not None and est.ci_high is not None and est.naive is not None
    return {
        "seed": seed,
        "rows": len(d.y),
        "treated": int(treated.sum()),
        "true_att": d.true_att,
        "att": est.effect,
        "ci": [est.ci_low, est.ci_high],
        "covered": bool(est.ci_low <= d.true_att <= est.ci_high),
        "naive_bias": est.naive - d.true_att,
        "pehe_dr": pehe(dr, d.tau),
        "pehe_t": pehe(two, d.tau),
        "pehe_ratio": pehe(dr, d.tau) / pehe(two, d.tau),
        "pehe_ratio_treated": pehe(dr[treated], d.tau[treated])
        / pehe(two[treated], d.tau[treated]),
        "dr_cpu_seconds": dr_cpu,
        "t_cpu_seconds": t_cpu,
    }


def run(quick: bool = False) -> dict[str, Any]:
    seeds, accounts = (2, 600) if quick else (5, 1500)
    rows = [one_seed(seed, accounts) for seed in range(seeds)]
    return {
        "seeds": rows,
        "coverage": float(np.mean([r["covered"] for r in rows])),
        "pehe_ratio": float(np.mean([r["pehe_ratio"] for r in rows])),
        "pehe_ratio_treated": float(np.mean([r["pehe_ratio_treated"] for r in rows])),
        "cost_ratio": float(
            np.sum([r["dr_cpu_seconds"] for r in rows]) / np.sum([r["t_cpu_seconds"] for r in rows])
        ),
        "load_average_1m": os.getloadavg()[0],
        "bars": BARS,
    }


def report(results: dict[str, Any]) -> list[str]:
    lines = [
        f"seed {r['seed']}: {r['rows']:,} rows, {r['treated']:,} treated; true ATT "
        f"{r['true_att']:+.4f}, DR {r['att']:+.4f} [{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}] "
        f"{'covers' if r['covered'] else 'MISSES'}; naive bias {r['naive_bias']:+.3f}; PEHE "
        f"DR {r['pehe_dr']:.4f} vs T {r['pehe_t']:.4f} (ratio {r['pehe_ratio']:.2f}, treated "
        f"{r['pehe_ratio_treated']:.2f}); CPU {r['dr_cpu_seconds']:.1f} s vs T "
        f"{r['t_cpu_seconds']:.1f} s"
        for r in results["seeds"]
    ]
    cov, ratio = results["coverage"], results["pehe_ratio"]
    lines.append(
        f"coverage {cov:.0%} (bar >= {BARS['coverage']:.0%}: "
        f"{'met' if cov >= BARS['coverage'] else 'MISSED'}); PEHE ratio {ratio:.2f} (bar <= "
        f"{BARS['pehe_ratio']}: {'met' if ratio <= BARS['pehe_ratio'] else 'MISSED'}; treated "
        f"rows {results['pehe_ratio_treated']:.2f}); fit cost {results['cost_ratio']:.1f}x the "
        f"T-learner's (CPU); load {results['load_average_1m']:.2f}"
    )
    return lines
