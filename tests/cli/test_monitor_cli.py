"""`churnlight monitor` against champions trained by `churnlight train`: one JSON line with
the issue's keys, the realised ROC-AUC of a later snapshot with matured labels, a readable
table, an HTML report, and one red line for a table that is not there."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from serving.history import ROW_SCHEMA, HistoryStore
from serving.history_rows import new_run_id
from serving.settings import get_serving_settings
from tests.monitoring.helpers import snapshot
from tests.training.helpers import synthetic_table, write_synthetic
from training.settings import get_training_settings

WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Champions trained on the synthetic book, in a store of this module's own."""
    root = tmp_path_factory.mktemp("monitor")
    features = write_synthetic(root / "features.parquet")
    env = {**WIDE, "CHURNLIGHT_HOME": str(root / "models"), "CHURNLIGHT_TRAIN_THREADS": "1"}
    get_training_settings.cache_clear()
    trained = CliRunner().invoke(
        app, ["train", "--features", str(features), "--backtests", "2", "--json"], env=env
    )
    assert trained.exit_code == 0, trained.output
    get_training_settings.cache_clear()
    return {**env, "features": str(features)}


def _env(store: dict[str, str]) -> dict[str, str]:
    get_serving_settings.cache_clear()
    return {k: v for k, v in store.items() if k != "features"}


def _later_table(tmp_path: Path, usage_drop: float) -> Path:
    """The training table's rows, then a snapshot after them with churn labels known (as a
    table a warehouse rewrote: no churnlight metadata)."""
    table, _ = synthetic_table()
    later, churn = snapshot(1500, 77, usage_drop=usage_drop, day=date(2024, 3, 1))
    later = later.append_column("churn_180d", pa.array(churn.astype("int64")))
    later = later.append_column("expand_180d", pa.nulls(later.num_rows, pa.int64()))
    path = tmp_path / "later.parquet"
    pq.write_table(
        pa.concat_tables([table, later.select(table.schema.names).cast(table.schema)]), path
    )
    return path


def test_monitor_json_is_one_line_with_drift_estimate_and_realised(
    store: dict[str, str], tmp_path: Path
) -> None:
    features = _later_table(tmp_path, usage_drop=0.25)
    report = tmp_path / "report" / "health.html"

    result = CliRunner().invoke(
        app,
        ["monitor", "--features", str(features), "--report", str(report), "--json"],
        env=_env(store),
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    body = json.loads(result.stdout)
    assert body["snapshot_date"] == "2024-03-01"
    assert body["model_versions"] == {
        "churn_180d": "churnlight-churn/1",
        "expand_180d": "churnlight-expansion/1",
    }
    first = body["drift"][0]
    assert {"feature", "statistic", "value", "threshold", "drifted", "gain_share"} <= set(first)
    assert first["feature"] == "seat_utilization_30d" and first["drifted"]
    assert {r["score"] for r in body["score_drift"]} == {"churn_180d", "expand_180d"}
    estimate = body["estimated"]["churn_180d"]
    assert estimate["low"] <= estimate["roc_auc"] <= estimate["high"]
    realised = [r for r in body["realised"] if r["group"] == "all"]
    assert [(r["snapshot_date"], r["label"]) for r in realised] == [("2024-03-01", "churn_180d")]
    interval = realised[0]["estimated"]["roc_auc"]
    inside = interval["low"] <= realised[0]["roc_auc"] <= interval["high"]
    assert realised[0]["outside"] is not inside
    assert realised[0]["gap"] == pytest.approx(realised[0]["roc_auc"] - interval["value"], abs=1e-5)
    assert {r["value"] for r in body["realised"] if r["group"] == "segment"} == {
        "enterprise",
        "mid_market",
        "smb",
    }
    page = report.read_text()
    assert "seat_utilization_30d" in page and "Realised vs estimated" in page


def test_monitor_prints_a_table_and_says_healthy_on_the_training_table(
    store: dict[str, str],
) -> None:
    result = CliRunner().invoke(app, ["monitor", "--features", store["features"]], env=_env(store))

    assert result.exit_code == 0, result.output
    assert "estimated performance" in result.output and "feature drift" in result.output
    assert "healthy" in result.output
    assert "concern:" not in result.output


def test_monitor_of_a_missing_table_is_one_red_line(store: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["monitor", "--features", str(tmp_path / "nope.parquet")], env=_env(store)
    )

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("error:") and result.output.strip().count("\n") == 0


def test_monitor_logs_the_report_plots_and_metrics_to_an_mlflow_run(
    store: dict[str, str], tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    features = _later_table(tmp_path, usage_drop=0.25)
    env = _env(store)
    get_training_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["monitor", "--features", str(features), "--log-run", "--json"], env=env
    )
    get_training_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    body = json.loads(result.stdout)
    uri = f"sqlite:///{Path(store['CHURNLIGHT_HOME']) / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(body["mlflow_run_id"])
    assert run.data.tags["churnlight.kind"] == "monitor"
    assert run.data.tags["churnlight.healthy"] == "false"
    assert run.data.params["snapshot_date"] == "2024-03-01"
    metrics = run.data.metrics
    assert metrics["estimated_roc_auc.churn_180d"] == pytest.approx(
        body["estimated"]["churn_180d"]["roc_auc"], abs=1e-6
    )
    psi = next(
        r["value"]
        for r in body["drift"]
        if r["feature"] == "seat_utilization_30d" and r["statistic"] == "psi"
    )
    assert metrics["drift_psi.seat_utilization_30d"] == pytest.approx(psi, abs=1e-6)
    assert metrics["drifted_features"] >= 1
    series = client.get_metric_history(run.info.run_id, "realised_roc_auc.churn_180d")
    realised = next(r for r in body["realised"] if r["group"] == "all")
    assert [(m.step, round(m.value, 6)) for m in series] == [(20240301, realised["roc_auc"])]
    names = {a.path for a in client.list_artifacts(run.info.run_id, "monitoring")}
    assert names == {
        "monitoring/health.json",
        "monitoring/report.html",
        "monitoring/drift.png",
        "monitoring/performance.png",
    }
    local = Path(client.download_artifacts(run.info.run_id, "monitoring", str(tmp_path / "dl")))
    logged = json.loads((local / "health.json").read_text())
    assert logged["drift"] == body["drift"]
    assert (local / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = CliRunner().invoke(
        app,
        ["monitor", "--features", str(features), "--run-id", run.info.run_id, "--json"],
        env=_env(store),
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["mlflow_run_id"] == run.info.run_id
    missing = CliRunner().invoke(
        app, ["monitor", "--features", str(features), "--run-id", "nope"], env=_env(store)
    )
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "no MLflow run 'nope'" in missing.output


def _history_run(
    store: HistoryStore,
    day: date,
    ids: list[str],
    churn: np.ndarray,
    scored_at: datetime,
    version: str,
) -> None:
    schema = ROW_SCHEMA.to_pyarrow()
    n = len(ids)
    columns = {f.name: pa.nulls(n, f.type) for f in schema}
    columns |= {
        "run_id": pa.array([new_run_id(scored_at)] * n),
        "snapshot_date": pa.array([day] * n, pa.date32()),
        "account_id": pa.array(ids),
        "churn_probability": pa.array(churn),
        "expansion_probability": pa.array(np.full(n, 0.1)),
        "churn_model_version": pa.array([version] * n),
        "expansion_model_version": pa.array(["churnlight-expansion/0"] * n),
        "scored_at": pa.array([scored_at] * n, pa.timestamp("us", tz="UTC")),
    }
    store.write(pa.table(columns, schema=schema), origin="test")


def test_realised_performance_reads_the_scores_served_before_the_labels_were_known(
    store: dict[str, str], tmp_path: Path
) -> None:
    features = _later_table(tmp_path, usage_drop=0.0)
    later = pq.read_table(features).filter(
        pc.equal(pc.field("snapshot_date"), pa.scalar(date(2024, 3, 1), pa.date32()))
    )
    ids = later.column("account_id").to_pylist()
    churn = np.asarray(later.column("churn_180d").to_pylist(), dtype=float)
    history = HistoryStore(f"duckdb:///{tmp_path / 'history.duckdb'}")
    # served on the day by version 0 (labels unknown for 210 days): a perfect ranking
    served = datetime(2024, 3, 2, tzinfo=UTC)
    _history_run(history, date(2024, 3, 1), ids, 0.05 + 0.9 * churn, served, "churnlight-churn/0")
    # re-scored by a later version after the labels matured (it may have learned them): ignored
    late = datetime(2024, 11, 1, tzinfo=UTC)
    _history_run(history, date(2024, 3, 1), ids, 0.95 - 0.9 * churn, late, "churnlight-churn/9")
    env = _env(store) | {"CHURNLIGHT_HISTORY_URI": f"duckdb:///{tmp_path / 'history.duckdb'}"}

    result = CliRunner().invoke(app, ["monitor", "--features", str(features), "--json"], env=env)

    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(result.stdout)["realised"] if r["group"] == "all"]
    assert [(r["label"], r["scores_from"], r["model_version"]) for r in rows] == [
        ("churn_180d", "history", "churnlight-churn/0")
    ]
    assert rows[0]["roc_auc"] == 1.0
    assert rows[0]["rows"] == later.num_rows
    estimate = rows[0]["estimated"]["roc_auc"]
    assert rows[0]["gap"] == pytest.approx(1.0 - estimate["value"], abs=1e-5)

    empty = tmp_path / "empty.duckdb"
    env = _env(store) | {"CHURNLIGHT_HISTORY_URI": f"duckdb:///{empty}"}
    fallback = CliRunner().invoke(app, ["monitor", "--features", str(features), "--json"], env=env)
    assert fallback.exit_code == 0, fallback.output
    again = [r for r in json.loads(fallback.stdout)["realised"] if r["group"] == "all"]
    assert [(r["scores_from"], r["model_version"]) for r in again] == [
        ("rescored", "churnlight-churn/1")
    ]
    assert not empty.exists()  # a monitor never creates a history store
