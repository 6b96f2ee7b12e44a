"""Training on synthetic tables: honest windows, baselines, oracle, tabular mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training import dataset
from training.errors import TrainingError
from training.explanations import reason_book
from training.options import TrainOptions
from training.train import train_models


def test_null_labels_never_train_or_evaluate(trained) -> None:
    data = trained.data
    for label, outcome in trained.labels.items():
        labeled = data.labeled(label)
        for window in outcome.windows:
            dates = {str(d) for d in np.unique(data.snapshot_date[labeled])}
            assert window.rows["test"] > 0
            assert window.test is not None
            first, last = window.test.split(" ")[0].split("..")
            assert first in dates and last in dates
        # the final model validated on labeled dates only
        final = outcome.facts["final"]
        assert final["valid"].split(" ")[0].split("..")[1] in {
            str(d) for d in np.unique(data.snapshot_date[labeled])
        }
        assert outcome.facts["rows"]["fit"] + outcome.facts["rows"]["valid"] <= labeled.sum()


def test_every_window_reports_every_metric_for_model_and_baselines(trained) -> None:
    window = trained.labels["churn_180d"].last

    assert set(window.metrics) == {
        "model",
        "lightgbm",
        "additive",
        "blend",
        "scorecard",
        "logreg",
    }
    chosen = trained.labels["churn_180d"].facts["candidates"]["chosen"]
    assert window.metrics["model"] == window.metrics[chosen]
    for values in window.metrics.values():
        assert set(values) == {
            "roc_auc",
            "pr_auc",
            "top_decile_lift",
            "mrr_capture_top_decile",
            "brier",
            "ece",
        }
    groups = {(g["group"], g["value"]) for g in window.groups}
    assert ("segment", "smb") in groups and ("lifecycle_stage", "renewal") in groups


def test_the_final_model_is_calibrated_and_explained(trained) -> None:
    outcome = trained.labels["expand_180d"]

    assert outcome.facts["calibration"]["method"] in {"platt", "isotonic"}
    assert outcome.facts["explain_ms_per_row"] > 0
    assert outcome.curves["shap"].shape[1] == len(outcome.bundle.columns)
    meta = outcome.bundle.metadata
    assert meta["labels_through"] == "2023-11-28"  # last labeled date 2023-06-01 + 180 days
    assert meta["recipe"]["params"]["learning_rate"] > 0
    # the main reason's yardstick: each family's median push and standard deviation over the
    # explained rows (the SHAP curves' rows)
    book = reason_book(outcome.bundle)
    pushes = book.family_contributions(book.signal_contributions(outcome.curves["shap"]))
    assert set(meta["family_spread"]) == set(book.families)
    for k, family in enumerate(book.families):
        assert meta["family_spread"][family] == pytest.approx(
            [np.median(pushes[:, k]), pushes[:, k].std()], abs=1e-6
        )
    assert "family_scale" not in meta


def test_top_risk_accounts_come_from_the_latest_snapshot(trained) -> None:
    top = trained.top_risk

    assert len(top) == 10
    assert {row["snapshot_date"] for row in top} == {"2023-12-01"}
    probabilities = [row["churn_probability"] for row in top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(row["mrr"] > 0 for row in top)
    mains = [row["main_reason"] for row in top if row["main_reason"]]
    assert mains and all(m["role"] == "actionable" and m["reason"] for m in mains)
    for row in top:
        listed = [d["reason"] for d in row["drivers"] if d["role"] == "context"]
        # the context facts lead with the largest context drivers listed among the top three
        assert len(row["context"]) <= 2 and row["context"][: len(listed)] == listed[:2]


def test_bundles_carry_the_base_rate_and_peer_quantiles(trained) -> None:
    for name, outcome in trained.labels.items():
        meta = outcome.bundle.metadata
        y = trained.data.labels[name]
        assert meta["base_rate"] == pytest.approx(np.nanmean(y))
        quantiles = meta["reference"]["quantiles"]
        column = trained.data.feature_names.index("seat_utilization_30d")
        values = trained.data.matrix[:, column]
        median = np.quantile(values[~np.isnan(values)], 0.5, method="inverted_cdf")
        assert quantiles["seat_utilization_30d"]["all"][10] == median


def test_oracle_ratio_is_reported_when_the_truth_is_there(synthetic_path: Path, tmp_path) -> None:
    data = dataset.load(synthetic_path)
    rows = np.flatnonzero(data.labeled("churn_180d"))
    truth = tmp_path / "_truth"
    truth.mkdir()
    pd.DataFrame(
        {
            "account_id": data.ids[rows],
            "snapshot_date": data.snapshot_date[rows],
            "p_churn_180d": data.labels["churn_180d"][rows] * 0.8 + 0.1,  # a perfect oracle
        }
    ).to_parquet(truth / "oracle.parquet")
    options = TrainOptions(
        backtests=1,
        threads=1,
        truth_dir=truth,
        labels=("churn_180d",),
        with_baselines=False,
        top_accounts=0,
    )

    window = train_models(data, options).labels["churn_180d"].last

    assert window.oracle["oracle_auc"] == 1.0
    assert window.oracle["model_oracle_ratio"] == pytest.approx(window.oracle["model_auc"])


def test_tabular_mode_reports_cross_validated_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1200
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "team"], n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * x + (plan == "basic") - 2)))).astype(int)
    path = tmp_path / "mine.parquet"
    pq.write_table(
        pa.table({"id": [f"c{i}" for i in range(n)], "x": x, "plan": plan, "left": y}), path
    )

    result = train_models(
        dataset.load(path, "id", "left"), TrainOptions(threads=1, cv_folds=4, top_accounts=3)
    )

    outcome = result.labels["left"]
    assert result.mode == "tabular" and not result.top_risk
    assert [w.name for w in outcome.windows] == ["cv", "fold_1", "fold_2", "fold_3", "fold_4"]
    assert outcome.last.rows["test"] == n
    assert outcome.summary()["roc_auc"] > 0.75
    assert outcome.last.facts["fold_mean"]["roc_auc"] > 0.75
    assert "scorecard" not in outcome.last.metrics  # none of its features exist here


def test_too_little_history_is_a_clear_error(tmp_path: Path) -> None:
    from tests.training.helpers import write_synthetic

    path = write_synthetic(tmp_path / "short.parquet", accounts=50, months=9)
    data = dataset.load(path)

    # 50 accounts: too few positives to validate on, named with the label and the fold
    with pytest.raises(TrainingError, match=r"^churn_180d, grouped_\d: the validation fold has"):
        train_models(data, TrainOptions(threads=1, labels=("churn_180d",)))
    # a single labeled date: the label and the months of history it needs
    first = data.snapshot_date[data.labeled("churn_180d")].min()
    one_date = data.labels["churn_180d"].copy()
    one_date[data.snapshot_date != first] = np.nan
    data.labels["churn_180d"] = one_date
    with pytest.raises(
        TrainingError, match=r"^churn_180d: \d labeled snapshot date\(s\).*at least 9 months"
    ):
        train_models(data, TrainOptions(threads=1, labels=("churn_180d",)))


def test_tuning_searches_on_validation_folds_and_refits_with_the_best_trial(
    synthetic_path: Path,
) -> None:
    options = TrainOptions(
        backtests=2,
        threads=1,
        tune_trials=4,
        labels=("expand_180d",),
        with_baselines=False,
        top_accounts=0,
    )

    outcome = train_models(dataset.load(synthetic_path), options).labels["expand_180d"]

    tuning = outcome.facts["tuning"]
    assert tuning["trials"] == 4
    assert 0.5 < tuning["default_valid_auc"] <= 1.0
    # The model is refit with the best trial's parameters (test_tune.py checks the search).
    assert outcome.params.items() >= tuning["best_params"].items()
    recipe = outcome.bundle.metadata["recipe"]["params"]
    assert recipe["learning_rate"] == pytest.approx(tuning["best_params"]["learning_rate"])


def test_tabular_mode_chooses_among_candidates_and_is_calibrated(tmp_path: Path) -> None:
    from training.metrics import ece

    rng = np.random.default_rng(8)
    n = 6000
    x = rng.normal(size=(n, 6))
    z = -1.8 + 1.1 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2]  # additive: the spline model's home
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    path = tmp_path / "linear.parquet"
    table = {f"x{j}": x[:, j] for j in range(6)}
    pq.write_table(pa.table({"id": [f"c{i}" for i in range(n)], **table, "left": y}), path)

    outcome = train_models(
        dataset.load(path, "id", "left"),
        TrainOptions(threads=1, cv_folds=4, top_accounts=0, with_baselines=False),
    ).labels["left"]

    choice = outcome.facts["candidates"]
    assert choice["chosen"] == "additive" == outcome.bundle.kind, choice
    assert outcome.facts["rows"]["refit"] == n
    pooled = outcome.last.metrics["model"]
    assert pooled["ece"] <= 0.02
    bundle = outcome.bundle
    scored = bundle.calibration.apply(bundle.raw_score(dataset.load(path, "id", "left").matrix))
    assert ece(y, scored) <= 0.02  # the refit, registered model too (in sample)


def test_a_random_50_value_category_never_becomes_a_top_driver(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 3000
    x = rng.normal(size=(n, 3))
    region = rng.integers(0, 50, n)  # no signal at all, ~60 rows per value
    z = -1.5 + 1.2 * x[:, 0] - 0.9 * x[:, 1] + 0.6 * np.abs(x[:, 2])
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    path = tmp_path / "regions.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [f"c{i}" for i in range(n)],
                **{f"x{j}": x[:, j] for j in range(3)},
                "region": [f"r{r:02d}" for r in region],
                "left": y,
            }
        ),
        path,
    )
    data = dataset.load(path, "id", "left")

    outcome = train_models(
        data, TrainOptions(threads=1, cv_folds=3, top_accounts=0, with_baselines=False)
    ).labels["left"]

    bundle = outcome.bundle
    importance = bundle.metadata["importance"]
    assert min(importance, key=importance.__getitem__) == "region"  # the last driver
    assert importance["region"] < 0.25 * min(importance[f"x{j}"] for j in range(3))
    contributions, _ = bundle.contributions(data.matrix)
    top = np.abs(contributions).argmax(axis=1) == bundle.feature_names.index("region")
    assert top.mean() < 0.005  # the main driver only where every real signal is near zero
