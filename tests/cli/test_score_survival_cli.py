"""`churnlight score` with a survival model registered: the curve's columns, its 180-day
column equal to churn_probability; without one, no such column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from serving.loading import models_from_bundles
from tests.serving.helpers import fit_bundle, fit_survival_bundle, make_table, write_snapshot

COLUMNS = [f"churn_by_{d}d" for d in (30, 60, 90, 180, 270, 365)] + ["churn_by_renewal"]


@pytest.fixture(scope="module")
def bundles():
    train = make_table(300, seed=1)
    return fit_bundle(train, "churn_180d"), fit_bundle(train, "expand_180d")


@pytest.fixture(scope="module")
def survival():
    return fit_survival_bundle(make_table(400, seed=1))


def _score(tmp_path: Path, monkeypatch, bundles, survival) -> tuple[dict, object]:
    monkeypatch.setattr(
        "serving.batch.load_models",
        lambda settings: models_from_bundles(*bundles, "4", "2", survival, "5"),
    )
    features = write_snapshot(make_table(30, seed=2), tmp_path / "features.parquet")
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        app, ["score", "--features", str(features), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1]), pq.read_table(out)


def test_score_writes_the_curve_columns(tmp_path: Path, monkeypatch, bundles, survival) -> None:
    summary, table = _score(tmp_path, monkeypatch, bundles, survival)
    assert summary["survival_model_version"] == "churnlight-survival/5"
    assert table.schema.names[-len(COLUMNS) :] == COLUMNS
    curve = np.column_stack([table.column(c).to_numpy() for c in COLUMNS[:-1]])
    assert (np.diff(curve, axis=1) >= 0).all()
    np.testing.assert_allclose(
        table.column("churn_by_180d").to_numpy(), table.column("churn_probability").to_numpy()
    )
    assert np.isfinite(table.column("churn_by_renewal").to_numpy()).all()


def test_without_a_survival_model_no_curve_columns(tmp_path: Path, monkeypatch, bundles) -> None:
    summary, table = _score(tmp_path, monkeypatch, bundles, None)
    assert summary["survival_model_version"] is None
    assert not set(COLUMNS) & set(table.schema.names)
