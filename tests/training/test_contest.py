"""The gate's out-of-time contest: a champion trained three months earlier meets the
challenger on the newest matured labels neither trained on (its registered model against
the challenger's last-window fit); a retrain with no newly matured label says the contest
was not held; a challenger that learned nothing is refused by the contest's numbers. The
numbers are in the JSON summary and in the MLflow run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from features.stats import roc_auc
from features.writer import write_feature_table
from tests.training.helpers import GRACE, HORIZON, synthetic_facts, synthetic_table
from training import dataset
from training.locks import registry_lock
from training.options import TrainOptions
from training.publish import publish
from training.settings import TrainingSettings
from training.store import open_store
from training.summary import summary_payload
from training.train import train_models
from training.versions import load_version_bundle

OPTIONS = TrainOptions(backtests=2, threads=1, seed=11, labels=("churn_180d",), top_accounts=0)


def _as_of(table: pa.Table, as_of: date) -> pa.Table:
    """The book as it looked on ``as_of``: later snapshots gone, unmatured labels null."""
    table = table.filter(pc.less(table.column("snapshot_date"), pa.scalar(as_of, pa.date32())))
    days = np.array(
        [(as_of - d).days for d in table.column("snapshot_date").to_pylist()], dtype=int
    )
    churn = np.asarray(table.column("churn_180d").to_pylist(), dtype=object)
    churn[days < HORIZON + GRACE] = None
    expand = np.asarray(table.column("expand_180d").to_pylist(), dtype=object)
    expand[days < HORIZON] = None
    for name, values in (("churn_180d", churn), ("expand_180d", expand)):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(values.tolist(), pa.int64()))
    return table


def _write(table: pa.Table, as_of: date, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_feature_table(table, path, synthetic_facts(path, as_of, f"synthetic-{as_of}"))


@pytest.mark.slow
def test_a_routine_retrain_is_an_out_of_time_contest(tmp_path: Path) -> None:
    full, as_of = synthetic_table(accounts=400)
    earlier = as_of - timedelta(days=92)  # three monthly snapshots later come three labels
    settings = TrainingSettings(home=tmp_path / "models", train_threads=1)
    old = _write(_as_of(full, earlier), earlier, tmp_path / "old" / "features.parquet")
    with registry_lock(settings):
        first = publish(open_store(settings), settings, train_models(dataset.load(old), OPTIONS))
    assert first.versions["churn_180d"].promoted
    champion = load_version_bundle(
        open_store(settings, create=False),
        settings.model_name("churn"),
        str(first.versions["churn_180d"].version),
    )

    # the same book again: no label matured since, nothing to contest on
    with registry_lock(settings):
        same = publish(open_store(settings), settings, train_models(dataset.load(old), OPTIONS))
    contest = same.decisions["churn_180d"].contest
    assert contest is not None and contest["held"] is False
    assert contest["reason"].startswith("no matured label after the champion's last training")
    assert "out-of-time contest not held" in same.decisions["churn_180d"].reason

    # three months on: the newest matured labels are the contest
    new = _write(full, as_of, tmp_path / "new" / "features.parquet")
    challenger = train_models(dataset.load(new), OPTIONS)
    with registry_lock(settings):
        later = publish(open_store(settings), settings, challenger)
    decision = later.decisions["churn_180d"]
    contest = decision.contest
    assert contest is not None and contest["held"] is True
    last_trained = date.fromisoformat(contest["champion_last_training_snapshot"])
    labeled = full.filter(pc.is_valid(full.column("churn_180d")))
    newest = labeled.filter(
        pc.greater(labeled.column("snapshot_date"), pa.scalar(last_trained, pa.date32()))
    )
    assert contest["snapshots"] == sorted(
        {d.isoformat() for d in newest.column("snapshot_date").to_pylist()}
    )
    assert len(contest["snapshots"]) == 3
    y_newest = np.asarray(newest.column("churn_180d").to_pylist())
    assert contest["rows"] == newest.num_rows
    assert contest["positives"] == int(y_newest.sum())
    registered = champion.predict_proba(newest)
    assert contest["champion_auc"] == pytest.approx(roc_auc(y_newest, registered), abs=1e-9)
    assert decision.champion_auc == contest["champion_auc"]
    assert decision.challenger_auc == contest["challenger_auc"]
    assert decision.champion_scored_as == "registered model, out of time"
    assert contest["difference_low"] <= contest["difference"] <= contest["difference_high"]

    summary = summary_payload(challenger, later.decisions, later.versions, later.run_id)
    assert summary["gate"]["churn_180d"]["contest"]["rows"] == contest["rows"]
    client = open_store(settings, create=False).client
    run = client.get_run(later.run_id)
    assert run.data.metrics["gate.churn_180d.contest_rows"] == contest["rows"]
    assert run.data.metrics["gate.churn_180d.champion_roc_auc"] == pytest.approx(
        contest["champion_auc"]
    )
    assert "out-of-time contest held on" in run.data.tags["churnlight.gate.churn_180d.reason"]
    logged = json.loads(Path(client.download_artifacts(later.run_id, "summary.json")).read_text())
    assert logged["gate"]["churn_180d"]["contest"]["champion_auc"] == pytest.approx(
        contest["champion_auc"]
    )


@pytest.mark.slow
def test_a_challenger_that_learned_nothing_loses_the_contest(tmp_path: Path) -> None:
    full, as_of = synthetic_table(accounts=400)
    earlier = as_of - timedelta(days=92)
    settings = TrainingSettings(home=tmp_path / "models", train_threads=1)
    old = _write(_as_of(full, earlier), earlier, tmp_path / "old" / "features.parquet")
    with registry_lock(settings):
        publish(open_store(settings), settings, train_models(dataset.load(old), OPTIONS))

    # the challenger's training labels are shuffled; the newest (the contest's) are true
    data = dataset.load(_write(full, as_of, tmp_path / "new" / "features.parquet"))
    y = data.labels["churn_180d"]
    old_rows = np.flatnonzero(~np.isnan(y) & (data.snapshot_date < np.datetime64(earlier, "D")))
    cut = np.datetime64(earlier - timedelta(days=HORIZON + GRACE), "D")
    old_rows = old_rows[data.snapshot_date[old_rows] < cut]
    y[old_rows] = np.random.default_rng(3).permutation(y[old_rows])
    with registry_lock(settings):
        later = publish(open_store(settings), settings, train_models(data, OPTIONS))

    decision = later.decisions["churn_180d"]
    assert decision.contest is not None and decision.contest["held"] is True
    assert not decision.promote
    assert decision.contest["difference"] < -0.05
    assert "below the champion's" in decision.reason
    assert "out-of-time contest held on" in decision.reason
    assert not later.versions["churn_180d"].promoted
