"""What the churn curves cost the served portfolio (``python -m bench.survival_state [N]``).

Building the serving state scores and explains every account of the snapshot and serialises
each record (``score_frame`` then ``serving.cache.Portfolio.build``). Measured here in CPU
time on one thread (CPU time moves little with a shared machine's load), best of three, for
N accounts (default 442, the demo book's latest snapshot):

- ``none``: no survival model (the baseline of the same run);
- ``eager``: the curves and their drivers found up front (13 SHAP rows per account: what
  the state build did before);
- ``lazy``: the curves up front, the drivers when a record is first asked for (what it does
  now, ``SurvivalView.lazy``);

and, with lazy drivers, the CPU time of the first request of one record and of the records
of 100 accounts at once (``Portfolio.responses_at``).

Data: the serving bench's synthetic table (every catalog feature) with its churn and
expansion models (``bench.serving_bench``; 300 trees), and a survival model fitted with
``training.survival.fit_survival`` on synthetic times drawn from the table's churn label (a
churn in [0, 180) days for a positive, else 180 days plus an exponential tail; censored at
400 days)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

HISTORY_ROWS = 6_000
TREES = 300
HUNDRED = list(range(1, 101))


def _survival(table: Any, columns: list[Any], specs: list[Any]) -> Any:
    from features.model_bundle import encode
    from training.survival import fit_survival

    rng = np.random.default_rng(3)
    matrix = encode(table, columns)
    churned = np.asarray(table.column("churn_180d").to_numpy(), dtype=float) == 1
    n = len(matrix)
    days = np.where(churned, rng.integers(0, 180, n), 180 + rng.exponential(500, n))
    observed = days < 400
    days = np.where(observed, np.floor(days), 400.0)
    rows = np.arange(n)
    fit = fit_survival(
        matrix, [c.name for c in columns],
        [j for j, c in enumerate(columns) if c.kind == "categorical"],
        days, observed.astype(float), np.full(n, 400.0), rows[rows % 5 != 0],
        rows[rows % 5 == 0], threads=1,
    )  # fmt: skip
    return fit.bundle(columns, {"features": [s.to_dict() for s in specs]})


def _cpu(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        tick = time.process_time()
        out = fn()
        best = min(best, time.process_time() - tick)
    return best, out


def measure(accounts: int = 442) -> dict[str, Any]:
    import lightgbm  # noqa: F401  (imported before the clocks start)

    from bench.serving_bench import SNAPSHOT, fit, synthetic_table
    from serving.cache import Portfolio
    from serving.playbooks import load_playbooks
    from serving.scoring import ModelView, ScoringConfig, TableFrame, score_frame
    from serving.settings import DEFAULT_PLAYBOOKS
    from serving.survival import SurvivalView

    load = [round(os.getloadavg()[0], 2)]
    history, specs = synthetic_table(HISTORY_ROWS, 1, SNAPSHOT)
    book, _ = synthetic_table(accounts, 2, SNAPSHOT)
    churn_bundle = fit(history, specs, "churn_180d", TREES)
    expansion_bundle = fit(history, specs, "expand_180d", TREES)
    survival = _survival(history, churn_bundle.columns, specs)
    churn, expansion = ModelView(churn_bundle, "c"), ModelView(expansion_bundle, "e")
    playbooks, config = load_playbooks(DEFAULT_PLAYBOOKS), ScoringConfig()
    views = {
        "none": None,
        "eager": SurvivalView.of(survival, "s"),
        "lazy": SurvivalView.of(survival, "s", lazy=True),
    }

    def build(view: SurvivalView | None) -> Portfolio:
        batch = score_frame(TableFrame(book), churn, expansion, playbooks, config, 1, survival=view)
        return Portfolio.build(batch)

    seconds: dict[str, float] = {}
    for name, view in views.items():
        seconds[name], _ = _cpu(lambda view=view: build(view))
    load.append(round(os.getloadavg()[0], 2))
    one, hundred = [], []
    for _ in range(3):  # fresh portfolios: nothing found yet
        portfolio = build(views["lazy"])
        one.append(_cpu(lambda portfolio=portfolio: portfolio.response_at(0), repeats=1)[0])
        hundred.append(
            _cpu(lambda portfolio=portfolio: portfolio.responses_at(HUNDRED), repeats=1)[0]
        )
    return {
        "accounts": accounts,
        "trees": {"classifiers": TREES, "survival": survival.booster.num_trees()},
        "cpu_seconds": {k: round(v, 4) for k, v in seconds.items()},
        "added": {
            "eager": seconds["eager"] / seconds["none"] - 1,
            "lazy": seconds["lazy"] / seconds["none"] - 1,
        },
        "lazy_over_eager": seconds["lazy"] / seconds["eager"],
        "first_record_ms": round(1000 * min(one), 2),
        "hundred_records_ms": round(1000 * min(hundred), 2),
        "load_average_1m": load,
    }


def report(result: dict[str, Any]) -> list[str]:
    s, a = result["cpu_seconds"], result["added"]
    return [
        f"serving state build, {result['accounts']} accounts (score + serialise, CPU s, one "
        f"thread, best of 3; classifiers {result['trees']['classifiers']} trees, survival "
        f"{result['trees']['survival']} trees; load {result['load_average_1m']}):",
        f"  no survival {s['none']:.3f} s; curves + drivers up front {s['eager']:.3f} s "
        f"(+{100 * a['eager']:.0f}%); curves, drivers on demand {s['lazy']:.3f} s "
        f"(+{100 * a['lazy']:.0f}%; {result['lazy_over_eager']:.2f}x up front)",
        f"  drivers on demand: first request of a record {result['first_record_ms']:.1f} ms "
        f"CPU, 100 records at once {result['hundred_records_ms']:.1f} ms",
    ]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 442
    print("\n".join(report(measure(n))))
