"""`churnlight score` takes real tables: every row of a multi-snapshot table, tables whose types
another tool changed or whose churnlight metadata is gone; a malformed table gets one clear
error naming the column and the rows.

The round trips build a feature table with the pipeline on a small simulated source and
rewrite it with pandas, DuckDB and Spark: each scores exactly like the original."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.errors import FeatureTableError
from features.writer import sidecar_path
from forecast.timing import RENEWALS, churn_within
from serving.batch import ScoreSummary, score_file
from serving.errors import SnapshotError
from serving.settings import ServingSettings
from serving.snapshot import snapshot_from_file
from tests.serving.conftest import Models, fixed_loader
from tests.serving.helpers import make_table, write_snapshot

JUNE, JULY = date(2024, 6, 1), date(2024, 7, 1)
_outputs = itertools.count()


def score(features: Path, models: Models, **kwargs: Any) -> tuple[pa.Table, ScoreSummary]:
    """Score ``features`` into a new file beside it; the scores read back and the summary."""
    out = features.parent / f"scores-{next(_outputs)}.parquet"
    settings = ServingSettings(score_threads=1, home=features.parent / "no-store")
    summary = score_file(features, out, settings, load=fixed_loader(models), **kwargs)
    return pq.read_table(out), summary


def by_keys(table: pa.Table) -> pa.Table:
    return table.sort_by([("account_id", "ascending"), ("snapshot_date", "ascending")])


def assert_same_scores(got: pa.Table, expected: pa.Table) -> None:
    """Same columns, types and values row by row (in key order); NaN equals NaN."""
    got, expected = by_keys(got), by_keys(expected)
    assert got.schema == expected.schema
    assert got.num_rows == expected.num_rows
    for name in expected.schema.names:
        a, b = got.column(name), expected.column(name)
        if pa.types.is_floating(b.type):
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy(), err_msg=name)
        else:
            assert a.to_pylist() == b.to_pylist(), name


def two_dates(tmp_path: Path, n: int = 30) -> Path:
    """A feature table of n accounts at two snapshot dates, with its metadata."""
    table = pa.concat_tables([make_table(n, seed=2, snapshot_date=JUNE), make_table(n, seed=3)])
    return write_snapshot(table, tmp_path / "features.parquet")


def without_metadata(table: pa.Table, path: Path) -> Path:
    pq.write_table(table.replace_schema_metadata(None), path)
    assert not sidecar_path(path).exists()
    return path


# ---- every row, the latest date for the server ------------------------------------------


def test_every_row_of_a_multi_snapshot_table_is_scored(tmp_path: Path, models: Models) -> None:
    path = two_dates(tmp_path)

    scores, summary = score(path, models)
    june, _ = score(
        write_snapshot(make_table(30, seed=2, snapshot_date=JUNE), tmp_path / "j.parquet"), models
    )

    assert (summary.rows, summary.snapshot_dates) == (60, ["2024-06-01", "2024-07-01"])
    assert scores.column("snapshot_date").to_pylist() == [JUNE] * 30 + [JULY] * 30
    assert_same_scores(scores.filter(pc.equal(scores.column("snapshot_date"), JUNE)), june)


def test_latest_only_scores_the_latest_date(tmp_path: Path, models: Models) -> None:
    scores, summary = score(two_dates(tmp_path), models, latest_only=True)

    assert (summary.rows, summary.snapshot_dates) == (30, ["2024-07-01"])
    assert set(scores.column("snapshot_date").to_pylist()) == {JULY}


def test_the_server_reads_one_row_per_account_of_the_latest_date(tmp_path: Path) -> None:
    snapshot = snapshot_from_file(two_dates(tmp_path))

    assert snapshot.snapshot_date == "2024-07-01"
    assert snapshot.table.num_rows == 30
    assert pc.count_distinct(snapshot.table.column("account_id")).as_py() == 30


# ---- tables another tool wrote ----------------------------------------------------------


def test_a_table_without_metadata_scores_like_the_original(tmp_path: Path, models: Models) -> None:
    path = two_dates(tmp_path)
    original, _ = score(path, models)

    bare = without_metadata(pq.read_table(path), tmp_path / "bare.parquet")
    scores, summary = score(bare, models)

    assert_same_scores(scores, original)
    assert summary.notes == []  # the table has its own csm_id column


def test_without_csm_id_the_summary_says_how_to_get_it(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path)).drop_columns(["csm_id"])
    bare = without_metadata(table, tmp_path / "bare.parquet")

    scores, summary = score(bare, models)

    assert scores.column("csm_id").null_count == 60
    assert summary.notes == [
        "csm_id is null in every row: the table has no csm_id column and names no source (no "
        "churnlight metadata); give --source SRC to take it from SRC's accounts"
    ]


def accounts_source(table: pa.Table, directory: Path) -> Path:
    """A source folder holding only the accounts of ``table`` (its latest date)."""
    accounts = table.filter(pc.equal(table.column("snapshot_date"), JULY))
    accounts = accounts.select(["account_id", "segment", "csm_id"])
    for column in ("industry", "region"):  # the contract's other accounts columns
        accounts = accounts.append_column(column, pa.nulls(accounts.num_rows, pa.string()))
    directory.mkdir()
    pq.write_table(accounts, directory / "accounts.parquet")
    return directory


def test_source_gives_csm_id_from_its_accounts(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path))
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    bare = without_metadata(shuffled.drop_columns(["csm_id"]), tmp_path / "bare.parquet")
    source = accounts_source(table, tmp_path / "source")

    scores, summary = score(bare, models, source=source)
    expected, _ = score(two_dates(tmp_path / "again"), models)

    assert_same_scores(scores, expected)
    assert scores.column("account_id").to_pylist() == shuffled.column("account_id").to_pylist()
    assert summary.notes == []


def test_a_source_with_an_account_twice_is_an_error(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path))
    bare = without_metadata(table.drop_columns(["csm_id"]), tmp_path / "bare.parquet")
    twice = pa.concat_tables([table, table.slice(35, 1)])
    source = accounts_source(twice, tmp_path / "source")

    with pytest.raises(SnapshotError) as caught:
        score(bare, models, source=source)

    assert str(caught.value) == (
        f"source {str(source)!r}: its accounts table holds account_id 'A005' more than once, so "
        "its csm_id is ambiguous; fix the source (`churnlight validate`)"
    )


def test_a_source_that_cannot_give_csm_id_is_an_error(tmp_path: Path, models: Models) -> None:
    path = two_dates(tmp_path)
    bare = without_metadata(pq.read_table(path).drop_columns(["csm_id"]), tmp_path / "b.parquet")
    empty = tmp_path / "empty-source"
    empty.mkdir()

    with pytest.raises(SnapshotError) as gone:
        score(bare, models, source=tmp_path / "nowhere")
    with pytest.raises(SnapshotError) as lacking:
        score(bare, models, source=empty)

    assert str(gone.value) == (
        f"source {str(tmp_path / 'nowhere')!r} does not exist; give a folder or a DuckDB file"
    )
    assert str(lacking.value) == (
        f"source {str(empty)!r} has no accounts table, which --source reads csm_id from; give "
        "the source the feature table was built from"
    )


# ---- malformed tables ---------------------------------------------------------------------


def refused(path: Path, models: Models) -> str:
    with pytest.raises((SnapshotError, FeatureTableError)) as caught:
        score(path, models)
    return str(caught.value)


def test_a_missing_model_column_is_an_error_naming_it(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path)).drop_columns(["nps_last", "seats"])
    path = write_snapshot(table, tmp_path / "lacking.parquet")

    assert refused(path, models) == (
        f"feature table {str(path)!r} lacks 2 column(s) the models read: seats, nps_last; "
        "score a table written by `churnlight features` (the models were trained on its "
        "columns), or add the columns (null where unknown)"
    )


def test_repeated_account_and_date_rows_are_named(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path))
    path = write_snapshot(pa.concat_tables([table, table.slice(31, 2)]), tmp_path / "d.parquet")

    assert refused(path, models) == (
        f"feature table {str(path)!r} holds 2 (account_id, snapshot_date) pair(s) more than once: "
        "A001 on 2024-07-01 (2 rows), A002 on 2024-07-01 (2 rows); a feature table has one row "
        "per account and snapshot date: drop the repeated rows"
    )


def test_rows_without_account_id_are_named(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path))
    ids = table.column("account_id").to_pylist()
    ids[3] = ids[40] = None
    table = table.set_column(0, "account_id", pa.array(ids))
    path = write_snapshot(table, tmp_path / "n.parquet")

    assert refused(path, models) == (
        f"feature table {str(path)!r} has 2 row(s) without account_id (rows 4, 41, counting "
        "from 1); every row needs its account_id"
    )


def test_a_value_that_cannot_be_cast_is_named(tmp_path: Path, models: Models) -> None:
    table = pq.read_table(two_dates(tmp_path))
    mrr = [str(v) for v in table.column("mrr").to_pylist()]
    mrr[7] = "n/a"
    table = table.set_column(table.schema.get_field_index("mrr"), "mrr", pa.array(mrr))
    path = write_snapshot(table, tmp_path / "text.parquet")

    assert refused(path, models) == (
        f"feature table {str(path)!r}: column 'mrr' cannot be read as a number: row 8 holds "
        "'n/a'; write a number (or null) in every row"
    )


# ---- the score file -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_the_score_file_takes_the_umask(
    tmp_path: Path, models: Models, suffix: str, mask: int, expected: int
) -> None:
    out = tmp_path / f"scores{suffix}"
    settings = ServingSettings(score_threads=1, home=tmp_path / "no-store")
    path = write_snapshot(make_table(5, seed=2), tmp_path / "features.parquet")
    previous = os.umask(mask)
    try:
        score_file(path, out, settings, load=fixed_loader(models))
    finally:
        os.umask(previous)

    assert stat.S_IMODE(out.stat().st_mode) == expected


# ---- round trips of a pipeline-built table through pandas, DuckDB and Spark ----------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small simulated source (40 accounts x 12 months) and its feature table (monthly
    snapshots, ~320 rows), written by the pipeline."""
    from features.pipeline import build_features
    from simulator.config import SimulationConfig
    from simulator.run import generate

    root = tmp_path_factory.mktemp("built")
    config = SimulationConfig(accounts=40, months=12, seed=5, oracle_rows=10, oracle_rollouts=1)
    generate(config, root / "source")
    build_features(root / "source", root / "features.parquet")
    return root / "source", root / "features.parquet"


@pytest.fixture(scope="module")
def original(built: tuple[Path, Path], models: Models) -> pa.Table:
    scores, summary = score(built[1], models)
    assert len(summary.snapshot_dates) > 1 and summary.rows > 40
    assert scores.column("csm_id").null_count < scores.num_rows  # from the recorded source
    return scores


Rewrite = Callable[[Path, Path], None]


def kept_accounts(scores: pa.Table, rewritten: pa.Table) -> pa.Table:
    """The scores of the accounts a rewrite kept."""
    kept = pc.unique(rewritten.column("account_id").cast(pa.string()))
    assert len(kept) > 0
    return scores.filter(pc.is_in(scores.column("account_id"), value_set=kept))


def pandas_filtered(src: Path, out: Path) -> None:
    """Rows filtered (one account dropped) and written back: text becomes large_string."""
    frame = pq.read_table(src).to_pandas()
    frame[frame["account_id"] != frame["account_id"].iloc[0]].to_parquet(out)


def pandas_retyped(src: Path, out: Path) -> None:
    """The types other tools give: categories, zoned timestamps, narrow nullable integers."""
    import pandas as pd

    frame = pq.read_table(src).to_pandas()
    frame["account_id"] = frame["account_id"].astype("category")
    frame["segment"] = frame["segment"].astype("category")
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.tz_localize("Asia/Tokyo")
    frame["seats"] = frame["seats"].round().astype("Int32")
    frame["churn_180d"] = frame["churn_180d"].astype("Int8")
    frame.to_parquet(out)


def duckdb_copy(src: Path, out: Path) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{src}')) TO '{out}' (FORMAT parquet)")
    con.close()


def duckdb_retyped(src: Path, out: Path) -> None:
    import duckdb

    segments = ", ".join(
        f"'{s}'" for s in pq.read_table(src).column("segment").unique().to_pylist()
    )
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * REPLACE (snapshot_date::TIMESTAMP AS snapshot_date, "
        f"seats::INTEGER AS seats, segment::ENUM({segments}) AS segment) "
        f"FROM read_parquet('{src}')) TO '{out}' (FORMAT parquet)"
    )
    con.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "rewrite",
    [pandas_filtered, pandas_retyped, duckdb_copy, duckdb_retyped],
    ids=lambda f: f.__name__,
)
def test_a_rewritten_table_scores_like_the_original(
    built: tuple[Path, Path], original: pa.Table, models: Models, tmp_path: Path, rewrite: Rewrite
) -> None:
    source, features = built
    out = tmp_path / "rewritten.parquet"
    rewrite(features, out)
    assert not pq.read_schema(out).metadata or b"churnlight" not in pq.read_schema(out).metadata

    scores, summary = score(out, models, source=source)

    assert_same_scores(scores, kept_accounts(original, pq.read_table(out)))
    assert summary.notes == []


@pytest.mark.slow
def test_pandas_over_the_original_with_its_sidecar_scores_like_it(
    built: tuple[Path, Path], original: pa.Table, models: Models, tmp_path: Path
) -> None:
    """The issue's case: filtered in pandas and written back beside the old sidecar, so the
    metadata is there and account_id is large_string (once a pyarrow join error)."""
    out = tmp_path / "features.parquet"
    pandas_filtered(built[1], out)
    sidecar_path(out).write_text(sidecar_path(built[1]).read_text())
    assert pq.read_schema(out).field("account_id").type == pa.large_string()

    scores, _ = score(out, models)

    assert_same_scores(scores, kept_accounts(original, pq.read_table(out)))


@pytest.mark.slow
def test_without_source_a_rewritten_table_scores_with_a_note(
    built: tuple[Path, Path], original: pa.Table, models: Models, tmp_path: Path
) -> None:
    out = tmp_path / "copy.parquet"
    duckdb_copy(built[1], out)

    scores, summary = score(out, models)

    assert scores.column("csm_id").null_count == scores.num_rows
    assert_same_scores(scores.drop_columns(["csm_id"]), original.drop_columns(["csm_id"]))
    assert len(summary.notes) == 1 and "give --source SRC" in summary.notes[0]


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_a_table_rewritten_by_spark_scores_like_the_original(
    built: tuple[Path, Path], original: pa.Table, models: Models, tmp_path: Path
) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("churnlight-round-trip")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse"))
        .getOrCreate()
    )
    out = tmp_path / "spark.parquet"  # a folder of part files, as Spark writes
    spark.read.parquet(str(built[1])).repartition(3).write.parquet(str(out))
    assert out.is_dir() and len(list(out.glob("part-*.parquet"))) == 3

    scores, _ = score(out, models, source=built[0])

    assert_same_scores(scores, original)


# ---- what the forecast reads from a score file -------------------------------------------


def test_the_score_file_carries_the_term_length_so_the_forecast_counts_repeat_renewals(
    tmp_path: Path, models: Models
) -> None:
    """A feature table with ``term_length_days`` gives a score file with it (null stays
    null), and the forecast's renewal timing then counts a monthly term's repeat renewals
    (a renewal 10 days away: six term ends share the 180-day score, three of them fall in
    90 days, so half of its hazard; an annual term's one term end carries it all); a table
    without the column
    gives a score file without it."""
    table = make_table(30, seed=2)
    terms = pa.array([30.0, 365.0, None] * 10, pa.float64())
    path = write_snapshot(table.append_column("term_length_days", terms), tmp_path / "t.parquet")

    scores, _ = score(path, models)

    assert scores.column("term_length_days").to_pylist() == [30, 365, None] * 10
    frame = scores.to_pandas()
    frame["days_to_renewal"] = 10.0
    p = frame["churn_probability"].to_numpy(dtype=float)
    within, how = churn_within(frame, 90)
    assert how == RENEWALS
    monthly = frame["term_length_days"].to_numpy(dtype=float) == 30
    assert within[monthly] == pytest.approx(1 - (1 - p[monthly]) ** 0.5)
    assert within[~monthly] == pytest.approx(p[~monthly])
    plain, _ = score(write_snapshot(table, tmp_path / "plain.parquet"), models)
    assert "term_length_days" not in plain.column_names
