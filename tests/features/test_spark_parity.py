"""The same transforms on PySpark (local mode) give the same feature table as on DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.pipeline import build_features
from features.writer import read_feature_table
from tests.features.test_examples import EXAMPLES

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]


def assert_tables_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if a.dtype.kind in "fiu" or b.dtype.kind in "fiu":
            a, b = a.astype("float64"), b.astype("float64")
            assert (a.isna() == b.isna()).all(), f"{column}: nulls differ"
            ok = a.notna()
            assert np.allclose(a[ok], b[ok], rtol=1e-9, atol=1e-12), f"{column} differs"
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


def test_contract_example_is_identical_on_spark_and_duckdb(tmp_path: Path) -> None:
    duck = _build(EXAMPLES / "full", tmp_path / "duck.parquet", "duckdb")
    spark = _build(EXAMPLES / "full", tmp_path / "spark.parquet", "spark")
    assert_tables_equal(duck, spark)
    assert read_feature_table(tmp_path / "spark.parquet").facts["backend"] == "pyspark"
