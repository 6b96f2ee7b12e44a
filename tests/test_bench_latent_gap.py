"""The latent-gap screen's inputs (bench/latent_gap.py): the hidden state as feature columns
keyed like a feature table, and the variants it scores."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.latent_gap import latent_columns, variants


def test_hidden_state_becomes_numeric_columns_keyed_by_snapshot(tmp_path: Path) -> None:
    truth = tmp_path / "_truth"
    truth.mkdir()
    pd.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "month_start": [date(2024, 1, 1), date(2024, 2, 1)],
            "health": [0.5, -1.0],
            "health_level": [0.2, -0.3],
            "adoption": [0.7, 0.4],
            "growth": [0.01, -0.002],
            "support_pain": [0.0, 1.2],
            "need_ratio": [2.0, 0.5],
            "champion": [True, False],
            "payment_stress": [False, True],
        }
    ).to_parquet(truth / "latent.parquet")
    out = latent_columns(tmp_path)
    assert list(out.columns[:2]) == ["account_id", "snapshot_date"]
    assert out.snapshot_date.tolist() == [date(2024, 1, 1), date(2024, 2, 1)]
    assert out.log_need_per_seat.tolist() == pytest.approx([np.log(2.0), np.log(0.5)])
    assert out.champion.tolist() == [1.0, 0.0]
    assert out.payment_stress.tolist() == [0.0, 1.0]
    assert out.health.tolist() == [0.5, -1.0]


def test_variants_add_each_variable_alone_and_leave_the_two_that_matter_out() -> None:
    columns = ["health", "health_level", "log_need_per_seat", "growth"]
    got = variants(columns)
    assert got["nothing"] == [] and got["every hidden variable"] == columns
    assert all(got[name] == [name] for name in columns)
    assert got["all but need"] == ["health", "health_level", "growth"]
    assert got["all but health"] == ["log_need_per_seat", "growth"]
