"""`churnlight forecast` on the hand-made book with hand-made scores: one JSON line whose
expectations follow the probabilities, a table, and one line for a score table that is not
one."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from forecast.timing import (
    CONSTANT,
    CURVE_COLUMNS,
    RENEWALS,
    SURVIVAL,
    constant_hazard,
    from_curve,
    horizon_days,
)
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
    # no renewal dates, no curve: the 180-day score at a constant hazard over the 184 days
    # from 2024-07-01 to 2025-01-01
    assert body["churn_timing"] == CONSTANT and CONSTANT in body["method"]
    p = constant_hazard(np.array([0.1, 0.2, 0.5, 0.05, 0.3]), horizon_days(date(2024, 7, 1), 6))
    expected = float((pd.Series(list(SCORED.values())).to_numpy() * p).sum())
    # amounts in cents (not 113.86564939023911)
    assert book["baselines"]["sum_of_expectations"]["churned"] == round(expected, 2)
    assert book["churned"]["expected"] == pytest.approx(expected, rel=0.1)
    low, high = book["churned"]["0.9"]
    assert low <= book["churned"]["expected"] <= high
    assert book["nrr"]["0.8"][0] >= book["nrr"]["0.9"][0]
    # the trailing baseline: April-June churned nothing; contraction 40 + 100 over 3 months
    assert book["baselines"]["trailing_3m"]["contraction"] == pytest.approx(6 * 140 / 3)


def test_the_churn_timing_follows_what_the_score_table_carries(
    paths: tuple[Path, Path], tmp_path: Path
) -> None:
    """Days to renewal: the 180-day score sits on the term ends (annual terms; all renew
    within the 92 days of a 3-month horizon but CONTRACT, 200 days away, beyond the score's
    180: its own p spreads at a constant hazard); a survival curve as well: the curve, read at
    the horizon's 92 days."""
    source, scores = paths
    table = pd.read_parquet(scores)
    table["days_to_renewal"] = [30.0, 60.0, 200.0, 10.0, 80.0]
    table["term_length_days"] = 365.0
    args = ["forecast", "--source", str(source), "--horizon", "3", "--json"]

    def run(frame: pd.DataFrame) -> dict[str, object]:
        frame.to_parquet(tmp_path / "scores.parquet")
        result = CliRunner().invoke(app, [*args, "--scores", str(tmp_path / "scores.parquet")])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))

    def churned(body: dict[str, object]) -> float:
        (book,) = body["horizons"][0]["groups"]  # type: ignore[index]
        return float(book["baselines"]["sum_of_expectations"]["churned"])

    body = run(table)
    assert body["churn_timing"] == RENEWALS
    mrr = np.array(list(SCORED.values()))
    contract = 1 - 0.5 ** (92 / 180)
    assert churned(body) == pytest.approx(float(mrr @ [0.1, 0.2, contract, 0.05, 0.3]), abs=0.01)
    curve = np.outer([1.0, 0.5, 2.0, 0.2, 1.0], [0.02, 0.04, 0.06, 0.12, 0.15, 0.18])
    for j, column in enumerate(CURVE_COLUMNS):
        table[column] = curve[:, j]
    body = run(table)
    assert body["churn_timing"] == SURVIVAL
    expected = float(mrr @ from_curve(curve, horizon_days(date(2024, 7, 1), 3)))
    assert churned(body) == pytest.approx(expected, abs=0.01)


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


def test_survival_without_a_backtest_is_one_line(paths: tuple[Path, Path]) -> None:
    source, scores = paths
    args = ["forecast", "--source", str(source), "--scores", str(scores), "--survival"]
    result = CliRunner().invoke(app, args, env=WIDE)
    assert result.exit_code == 1
    assert "--survival is an option of --backtest N" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
