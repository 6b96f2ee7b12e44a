"""Training: model data -> one calibrated LightGBM model per label, evaluated, with baselines.

Nothing here touches MLflow (``training.publish`` logs, gates and registers a
``TrainingResult``), so tests fit without a store.

``train_models`` bins the feature matrix once, then trains each label in one of two modes:

- temporal (a feature table with snapshot dates; ``training.temporal``): rolling-origin
  backtest windows with purge gaps, optional Optuna tuning on their validation folds, the
  monotone check, a final model calibrated out of time, and each window scored against the
  baselines (and the simulator's oracle when there is one);
- tabular (a table without snapshot_date; ``training.tabular``): stratified k-fold with the
  pooled out-of-fold predictions as the cross-validated metrics.

Each final model becomes a bundle (``training.bundle_facts``) explained on the rows serving
will explain (``training.explanations``); a temporal bundle stores the recipe that refits it
(``training.recipe``). With a churn label, the run reports the top-risk accounts at the
latest snapshot (``training.top_risk``). Unless ``options.survival`` is off, a temporal
table's time to churn trains the survival model too (``training.survival_train``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from training import model
from training.bundle_facts import table_facts
from training.dataset import ModelData
from training.errors import TrainingError
from training.evaluate import read_oracle
from training.options import TrainOptions
from training.results import LabelResult, TrainingResult
from training.survival_train import train_survival
from training.tabular import train_tabular
from training.temporal import train_temporal
from training.top_risk import top_risk_accounts

Progress = Callable[[str, int, int], None]
"""Called with (step, done, total) as labels are trained."""


def train_models(
    data: ModelData, options: TrainOptions, progress: Progress | None = None
) -> TrainingResult:
    """Fit, calibrate and evaluate one model per label of ``data``."""
    started = time.perf_counter()
    wanted = options.labels or tuple(s.name for s in data.label_specs)
    specs = [data.label_spec(name) for name in wanted]
    for spec in specs:
        if not data.labeled(spec.name).any():
            raise TrainingError(f"label {spec.name!r} is null on every row; nothing to train on")
    seconds: dict[str, float] = {}
    tick = time.perf_counter()
    base = model.base_dataset(data.matrix, data.columns, options.threads)
    seconds["binning"] = round(time.perf_counter() - tick, 3)
    oracle = read_oracle(_truth_dir(data, options)) if data.temporal else None
    results: dict[str, LabelResult] = {}
    per_label = replace(options, tune_seconds=options.tune_seconds_per_label(len(specs)))
    for i, spec in enumerate(specs):
        if progress:
            progress(f"training {spec.name}", i, len(specs))
        tick = time.perf_counter()
        if data.temporal:
            results[spec.name] = train_temporal(data, spec, base, per_label, oracle)
        else:
            results[spec.name] = train_tabular(data, spec, base, per_label)
        seconds[spec.name] = round(time.perf_counter() - tick, 3)
    survival = None
    survival_error = None
    if data.temporal and options.survival:
        if progress:
            progress("training churn_time", len(specs), len(specs))
        tick = time.perf_counter()
        try:
            survival = train_survival(data, options)
        except TrainingError as err:  # an addition: it never stops the two classifiers
            survival_error = str(err)
        seconds["churn_time"] = round(time.perf_counter() - tick, 3)
    if progress:
        progress("done", len(specs), len(specs))
    facts = table_facts(data)
    facts["oracle"] = oracle is not None
    if data.temporal and options.survival and survival is None:
        facts["survival_note"] = (
            f"no survival model: {survival_error}"
            if survival_error
            else "no survival model: the feature table has no churn_days/churn_observed "
            "(rebuild it with `churnlight features`) or no churn to learn from"
        )
    top = []
    churn = next((r for r in results.values() if r.kind == "churn"), None)
    if churn is not None and options.top_accounts:
        top = top_risk_accounts(data, churn.bundle, options.top_accounts)
    seconds["total"] = round(time.perf_counter() - started, 3)
    return TrainingResult(
        "temporal" if data.temporal else "tabular",
        results,
        facts,
        options,
        data,
        top,
        seconds,
        base,
        survival,
    )


def _truth_dir(data: ModelData, options: TrainOptions) -> Path | None:
    """The simulator's truth folder: the option, else ``<source>/_truth`` when it exists."""
    if options.truth_dir is not None:
        return Path(options.truth_dir)
    source = data.facts.get("source")
    if not source:
        return None
    candidate = Path(source) / "_truth"
    return candidate if candidate.is_dir() else None
