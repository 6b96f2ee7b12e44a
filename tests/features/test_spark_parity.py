"""The same transforms on PySpark (local mode) give the same feature table as on DuckDB.

Agreement is to 1e-9 (relative, and absolute near 0) on every number: sums may differ in
their last bits by the order of addition, nothing else. The sub-second source puts a random
microsecond part on every timestamp (tickets opened and closed, users created and
deactivated, events), so a backend that truncates to whole seconds fails here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.pipeline import build_features
from features.writer import read_feature_table
from tests.features.helpers import subsecond_tables, write_csv_tables, write_tables
from tests.features.test_examples import EXAMPLES

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

TOLERANCE = 1e-9


def assert_tables_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if a.dtype.kind in "fiu" or b.dtype.kind in "fiu":
            a, b = a.astype("float64"), b.astype("float64")
            assert (a.isna() == b.isna()).all(), f"{column}: nulls differ"
            ok = a.notna()
            worst = float((a[ok] - b[ok]).abs().max()) if ok.any() else 0.0
            assert np.allclose(a[ok], b[ok], rtol=TOLERANCE, atol=TOLERANCE), (
                f"{column} differs by up to {worst:.3g}"
            )
        else:
            assert (
                a.astype(object).where(a.notna(), None).tolist()
                == b.astype(object).where(b.notna(), None).tolist()
            ), column


def _build(source: Path, out: Path, backend: str) -> pd.DataFrame:
    build_features(source, out, backend=backend)
    return read_feature_table(out).table.to_pandas()


@pytest.fixture(scope="module", autouse=True)
def _spark_env() -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="module")
def subsecond(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The sub-second source as Parquet, and its feature table on DuckDB."""
    directory = tmp_path_factory.mktemp("subsecond")
    source = write_tables(directory / "source", subsecond_tables())
    return source, _build(source, directory / "duck.parquet", "duckdb")


def test_contract_example_is_identical_on_spark_and_duckdb(tmp_path: Path) -> None:
    duck = _build(EXAMPLES / "full", tmp_path / "duck.parquet", "duckdb")
    spark = _build(EXAMPLES / "full", tmp_path / "spark.parquet", "spark")
    assert_tables_equal(duck, spark)
    spark_facts = read_feature_table(tmp_path / "spark.parquet").facts
    assert spark_facts["backend"] == "pyspark"
    # Null features (absent tables; no executive sponsor, counted on the backend) agree.
    nulls = read_feature_table(tmp_path / "duck.parquet").facts["null_features"]
    assert {n["reason"] for n in nulls} == {"absent_table", "no_rows_in_window"}
    assert spark_facts["null_features"] == nulls


def test_subsecond_timestamps_give_the_same_table_on_spark_and_duckdb(
    subsecond: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    source, duck = subsecond
    # The data does exercise fractions of a second: durations are not whole seconds.
    seconds = (duck.resolution_hours_90d.dropna() * 3600).to_numpy()
    assert len(seconds) > 20 and (np.abs(seconds - np.round(seconds)) > 1e-3).mean() > 0.9
    assert duck.open_ticket_age_days_max.notna().sum() > 20
    spark = _build(source, tmp_path / "spark.parquet", "spark")
    assert_tables_equal(duck, spark)


def test_subsecond_csv_text_on_spark_equals_parquet_on_duckdb(
    subsecond: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    _, duck = subsecond
    source = write_csv_tables(tmp_path / "csv", subsecond_tables())
    spark = _build(source, tmp_path / "spark.parquet", "spark")
    assert_tables_equal(duck, spark)
