"""The quality benchmark's reading of a run (bench/quality_bench.py): the oracle ratio of each
backtest window is the model's ROC-AUC over the oracle's on exactly the window's test rows,
and the bar reads their mean."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.quality_bench import _label_entry
from tests.training.test_candidates import OPTIONS, temporal_data
from training.metrics import roc_auc
from training.train import train_models


def test_the_oracle_ratio_is_the_mean_over_the_windows_on_their_own_rows(tmp_path: Path) -> None:
    data = temporal_data("linear", accounts=300, months=24, seed=4)
    x = data.matrix
    truth = 1 / (1 + np.exp(-(-2.0 + 1.2 * x[:, 0] - 1.0 * x[:, 1])))  # the drawing's own p
    oracle = pd.DataFrame(
        {
            "account_id": data.ids.astype(str),
            "snapshot_date": pd.to_datetime(data.snapshot_date),
            "p_churn_180d": truth,
        }
    )
    oracle.to_parquet(tmp_path / "oracle.parquet")

    result = train_models(data, replace(OPTIONS, truth_dir=tmp_path))
    outcome = result.labels["churn_180d"]
    entry = _label_entry(outcome)

    assert len(outcome.windows) == 2
    y, labeled = data.labels["churn_180d"], data.labeled("churn_180d")
    expected = []
    for window in outcome.windows:
        lo, hi = np.array(window.test.split(" ")[0].split(".."), dtype="datetime64[D]")
        test = labeled & (data.snapshot_date >= lo) & (data.snapshot_date <= hi)
        assert window.oracle["rows"] == int(test.sum()) == window.rows["test"]  # every test row
        assert window.oracle["oracle_auc"] == pytest.approx(roc_auc(y[test], truth[test]))
        expected.append(window.metrics["model"]["roc_auc"] / window.oracle["oracle_auc"])
    assert entry["window_ratios"] == pytest.approx(expected)
    assert entry["oracle_ratio"] == pytest.approx(np.mean(expected))
    assert entry["last_window_ratio"] == pytest.approx(expected[0])
    assert 0.8 < entry["oracle_ratio"] < 1.05
