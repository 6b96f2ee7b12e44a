"""`churnlight forecast` on the hand-made book with hand-made scores: one JSON line whose
expectations follow the probabilities, a table, and one line for a score table that is not
one."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from forecast.projection import by_horizon
from tests.forecast.helpers import write_book_source

WIDE = {"COLUMNS": "200"}
# The book's customers on 2024-07-01 and their MRR then.
SCORED = {"NEW": 100.0, "EXPAND": 150.0, "CONTRACT": 60.0, "LATE": 130.0, "BACK": 120.0}


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("forecast")
    source = write_book_source(root / "source")
    scores = pd.DataFrame(
        {
            "account_id": list(SCORED),
            "snapshot_date": date(2024, 7, 1),
            "churn_probability": [0.1, 0.2, 0.5, 0.05, 0.3],
            "expansion_probability": [0.2, 0.1, 0.0, 0.3, 0.1],
            "mrr": list(SCORED.values()),
            "segment": "smb",
        }
    )
    path = root / "scores.parquet"
    scores.to_parquet(path)
    return source, path


def test_json_line_with_expectations_and_baselines(paths: tuple[Path, Path]) -> None:
    source, scores = paths
    result = CliRunner().invoke(
        app,
        ["forecast", "--source", str(source), "--scores", str(scores), "--horizon", "6", "--json"],
        env=WIDE,
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    body = json.loads(result.output)
    assert (body["as_of"], body["snapshot_date"]) == ("2024-07-01", "2024-07-01")
    (horizon,) = body["horizons"]
    (book,) = horizon["groups"]
    assert (horizon["months"], book["accounts"], book["start_mrr"]) == (6, 5, 560.0)
    p = by_horizon(pd.Series([0.1, 0.2, 0.5, 0.05, 0.3]).to_numpy(), 6)
    expected = float((pd.Series(list(SCORED.values())).to_numpy() * p).sum())
    # amounts in cents (not 113.86564939023911)
    assert book["baselines"]["sum_of_expectations"]["churned"] == round(expected, 2)
    assert book["churned"]["expected"] == pytest.approx(expected, rel=0.1)
    low, high = book["churned"]["0.9"]
    assert low <= book["churned"]["expected"] <= high
    assert book["nrr"]["0.8"][0] >= book["nrr"]["0.9"][0]
    # the trailing baseline: April-June churned nothing; contraction 40 + 100 over 3 months
    assert book["baselines"]["trailing_3m"]["contraction"] == pytest.approx(6 * 140 / 3)


def test_table_per_segment(paths: tuple[Path, Path]) -> None:
    source, scores = paths
    result = CliRunner().invoke(
        app,
        ["forecast", "--source", str(source), "--scores", str(scores), "--by", "segment"],
        env=WIDE,
    )
    assert result.exit_code == 0, result.output
    assert "next 3 months — mid_market: 2 accounts" in result.output
    assert "next 12 months — smb: 3 accounts" in result.output


def test_a_table_that_is_no_score_table_is_one_line(
    paths: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = paths
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"account_id": ["NEW"]}).to_parquet(bad)
    result = CliRunner().invoke(
        app, ["forecast", "--source", str(source), "--scores", str(bad)], env=WIDE
    )
    assert result.exit_code == 1
    assert "lacks column(s) snapshot_date, churn_probability" in result.output
    assert "Traceback" not in result.output
