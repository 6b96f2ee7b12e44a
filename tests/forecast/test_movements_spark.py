"""The book's movements are the same on PySpark (local mode) as on DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from serving.book import read_book
from tests.features.test_spark_parity import assert_tables_equal
from tests.forecast.helpers import write_book_source

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]


def test_movements_on_spark_equal_duckdb(tmp_path: Path) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    source = write_book_source(tmp_path / "source")
    duck = read_book(source, backend="duckdb").movements(by="segment", months=None)
    spark = read_book(source, backend="spark").movements(by="segment", months=None)
    assert len(duck) == 3 * 7  # three segments x seven months
    assert_tables_equal(spark, duck)
