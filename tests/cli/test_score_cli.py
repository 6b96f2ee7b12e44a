"""`churnlight score` on real tables: every row of a multi-snapshot table, `--source` for csm_id,
and one red line (exit 1, no traceback) for each kind of malformed table."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from serving.loading import models_from_bundles
from tests.serving.helpers import fit_bundle, make_table, write_snapshot

WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def bundles():
    train = make_table(300, seed=1)
    return fit_bundle(train, "churn_180d"), fit_bundle(train, "expand_180d")


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch, bundles):
    def load(settings):
        return models_from_bundles(*bundles, "4", "2")

    monkeypatch.setattr("serving.batch.load_models", load)
    return load


@pytest.fixture
def table() -> pa.Table:
    """20 accounts at two snapshot dates."""
    june = make_table(20, seed=2, snapshot_date=datetime(2024, 6, 1).date())
    return pa.concat_tables([june, make_table(20, seed=3)])


def run(*args: str):
    return CliRunner().invoke(app, ["score", *args], env=WIDE)


def assert_one_error_line(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip() == f"error: {message}"


def test_score_takes_every_row_of_a_multi_snapshot_table(tmp_path: Path, table: pa.Table) -> None:
    features = write_snapshot(table, tmp_path / "features.parquet")
    out = tmp_path / "scores.parquet"

    every = run("--features", str(features), "--out", str(out))
    latest = run("--features", str(features), "--out", str(out), "--latest-only", "--json")

    assert every.exit_code == 0, every.output
    assert f"wrote {out}: 40 rows (2024-06-01, 2024-07-01)" in every.output
    assert "note:" not in every.output
    summary = json.loads(latest.output)
    assert (summary["rows"], summary["snapshot_dates"], summary["notes"]) == (
        20,
        ["2024-07-01"],
        [],
    )


def test_source_gives_csm_id_to_a_table_without_metadata(tmp_path: Path, table: pa.Table) -> None:
    features = tmp_path / "exported.parquet"
    pq.write_table(table.drop_columns(["csm_id"]), features)
    source = tmp_path / "source"
    source.mkdir()
    accounts = table.slice(20).select(["account_id", "segment", "csm_id"])
    for column in ("industry", "region"):
        accounts = accounts.append_column(column, pa.nulls(20, pa.string()))
    pq.write_table(accounts, source / "accounts.parquet")
    out = tmp_path / "scores.parquet"

    without = run("--features", str(features), "--out", str(out))
    nulls = pq.read_table(out).column("csm_id").null_count
    with_source = run("--features", str(features), "--out", str(out), "--source", str(source))

    assert without.exit_code == 0, without.output
    assert nulls == 40
    assert (
        "note: csm_id is null in every row: the table has no csm_id column and names no source "
        "(no churnlight metadata); give --source SRC to take it from SRC's accounts"
    ) in without.output
    assert with_source.exit_code == 0, with_source.output
    assert "note:" not in with_source.output
    assert pq.read_table(out).column("csm_id").to_pylist() == table.column("csm_id").to_pylist()


def test_help_names_the_source_option() -> None:
    result = CliRunner().invoke(app, ["score", "--help"], env=WIDE)

    assert "--source" in result.output and "csm_id" in result.output


# ---- malformed tables: one red line ---------------------------------------------------------


def test_a_missing_model_column(tmp_path: Path, table: pa.Table) -> None:
    features = write_snapshot(table.drop_columns(["nps_last"]), tmp_path / "f.parquet")

    assert_one_error_line(
        run("--features", str(features)),
        f"feature table {str(features)!r} lacks 1 column(s) the models read: nps_last; score a "
        "table written by `churnlight features` (the models were trained on its columns), or "
        "add the columns (null where unknown)",
    )


def test_repeated_account_and_date(tmp_path: Path, table: pa.Table) -> None:
    repeated = pa.concat_tables([table, table.slice(0, 1)])
    features = write_snapshot(repeated, tmp_path / "f.parquet")

    assert_one_error_line(
        run("--features", str(features)),
        f"feature table {str(features)!r} holds 1 (account_id, snapshot_date) pair(s) more than "
        "once: A000 on 2024-06-01 (2 rows); a feature table has one row per account and "
        "snapshot date: drop the repeated rows",
    )


def test_a_null_account_id(tmp_path: Path, table: pa.Table) -> None:
    ids = table.column("account_id").to_pylist()
    ids[0] = None
    features = tmp_path / "f.parquet"
    pq.write_table(table.set_column(0, "account_id", pa.array(ids, pa.large_string())), features)

    assert_one_error_line(
        run("--features", str(features)),
        f"feature table {str(features)!r} has 1 row(s) without account_id (row 1, counting from "
        "1); every row needs its account_id",
    )


def test_a_value_that_cannot_be_cast(tmp_path: Path, table: pa.Table) -> None:
    seats = [str(v) for v in table.column("seats").to_pylist()]
    seats[12] = "[unknown]"
    features = tmp_path / "f.parquet"
    index = table.schema.get_field_index("seats")
    pq.write_table(table.set_column(index, "seats", pa.array(seats, pa.large_string())), features)

    assert_one_error_line(
        run("--features", str(features)),
        f"feature table {str(features)!r}: column 'seats' cannot be read as a number: row 13 "
        "holds '[unknown]'; write a number (or null) in every row",
    )


def test_dates_with_a_time_of_day(tmp_path: Path, table: pa.Table) -> None:
    stamps = [datetime(2024, 7, 1, 9, 0)] * table.num_rows
    features = tmp_path / "f.parquet"
    index = table.schema.get_field_index("snapshot_date")
    pq.write_table(
        table.set_column(index, "snapshot_date", pa.array(stamps, pa.timestamp("ms"))), features
    )

    assert_one_error_line(
        run("--features", str(features)),
        f"feature table {str(features)!r}: column 'snapshot_date' holds times of day, not dates: "
        "row 1 holds 2024-07-01 09:00:00; write the date (midnight, in the timestamp's own zone) "
        "of each snapshot",
    )
