"""``churnlight score``: batch scores of a feature table, on the API's code path.

Input: every row of a feature table (one per account_id and snapshot_date), as
``churnlight features`` wrote it or as pandas, DuckDB or Spark rewrote it (types cast back,
metadata optional: see ``serving.snapshot``). Every column the models read must be there:
a missing one is an error, not a column of nulls.

Output (by suffix): Parquet with the contract's section 4 columns and the drivers as lists of
structs ``{feature, family, value, category, contribution, reason}`` (``value`` for numbers,
``category`` for categorical features), or CSV with the same drivers as JSON strings; written
atomically, readable as the umask says. Explanations use every core
(``CHURNLIGHT_SCORE_THREADS``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.atomic import write_atomically
from features.errors import ConfigError, FeatureTableError
from features.model_bundle import ModelBundle
from serving.delivery import Dispatcher, load_configured_alerts
from serving.history import HistoryStore
from serving.inputs import scoring_inputs
from serving.loading import Loader, load_models
from serving.recording import HistoryWriter, alert_snapshot, current_points
from serving.scoring import score_table
from serving.settings import ServingSettings
from serving.snapshot import Snapshot, snapshot_from_file

Progress = Callable[[int, int], None]
"""Called as progress(rows_done, rows_total)."""
DRIVER_COLUMNS = (
    "churn_drivers_up",
    "churn_drivers_down",
    "expansion_drivers_up",
    "expansion_drivers_down",
)


@dataclass
class ScoreSummary:
    path: Path
    rows: int
    snapshot_dates: list[str]
    churn_model_version: str
    expansion_model_version: str
    seconds: float
    tiers: dict[str, int] = field(default_factory=dict)
    revenue_at_risk: float = 0.0
    notes: list[str] = field(default_factory=list)
    """What the scores lack and how to get it (e.g. csm_id without a source)."""
    history: dict[str, Any] | None = None
    """The run recorded in the history store (None: --no-history)."""
    alerts: dict[str, Any] | None = None
    """Events of the latest snapshot and their delivery (None: no alerts file)."""
    survival_model_version: str | None = None
    """The survival champion whose curves fill the ``churn_by_*`` columns (None: no
    survival model registered; the columns are then absent)."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


def score_file(
    features: Path,
    out: Path,
    settings: ServingSettings,
    latest_only: bool = False,
    load: Loader | None = None,
    progress: Progress | None = None,
    source: Path | None = None,
    history: bool = True,
    last_snapshots: int | None = None,
) -> ScoreSummary:
    """Score every row of ``features`` (only its latest snapshot with ``latest_only``, its
    ``last_snapshots`` latest dates when given); ``csm_id`` from ``source``'s accounts when
    given (see ``serving.snapshot``). With ``history`` (and ``settings.history``) the scores
    are recorded in the history store as one run, and the alerts of the latest snapshot are
    raised and delivered in the background (the command waits for them at the end, at most
    ``alerts_max_seconds``)."""
    if out.suffix not in (".parquet", ".csv"):
        raise ConfigError(f"--out {str(out)!r}: write a .parquet or a .csv file")
    started = time.perf_counter()
    recording = history and settings.history
    configured = load_configured_alerts(settings)  # a bad file stops the run before scoring
    alerts = configured if recording else None
    models = (load or load_models)(settings)
    bundles = (models.churn, models.expansion)
    snapshot = snapshot_from_file(features, latest_only, bundles, source)
    if last_snapshots is not None:
        snapshot = replace(snapshot, table=latest_dates(snapshot.table, last_snapshots))
    require_model_columns(snapshot.table, bundles, f"feature table {str(features)!r}")
    inputs = scoring_inputs(models, snapshot, settings, curve_drivers=False)
    churn, expansion, survival = inputs.churn, inputs.expansion, inputs.survival
    total = snapshot.table.num_rows
    parts: list[pa.Table] = []
    done = 0
    tiers: dict[str, int] = {}
    at_risk = 0.0
    store = HistoryStore.from_settings(settings) if recording else None
    writer = HistoryWriter(store, origin="score") if store is not None else None
    latest = snapshot.snapshot_date
    current: list[dict[str, Any]] = []
    records: dict[str, dict[str, Any]] = {}
    for batch in score_table(
        snapshot.table,
        churn,
        expansion,
        inputs.playbooks,
        inputs.config,
        settings.threads(),
        effects=models.effects,
        survival=survival,
    ):
        parts.append(batch.to_arrow())
        if writer is not None:
            writer.add(batch)
        if alerts is not None and latest is not None:
            points = current_points(batch, latest)
            current.extend(points)
            wanted = {p["account_id"] for p in points}
            for i in range(batch.n):
                if batch.account_id[i] in wanted and str(batch.snapshot_date[i]) == latest:
                    records[str(batch.account_id[i])] = batch.record(i)
        for tier in batch.risk_tier.tolist():
            tiers[tier] = tiers.get(tier, 0) + 1
        at_risk += float(sum(v for v in batch.revenue_at_risk.tolist() if v == v))
        done += batch.n
        if progress:
            progress(done, total)
    table = pa.concat_tables(parts) if parts else pa.table({})
    _write(table, out)
    recorded = None
    alerted = None
    if writer is not None and store is not None:
        run = writer.finish()
        recorded = {"run_id": run.run_id, "store": store.display, "rows": run.rows}
        if alerts is not None:
            dispatcher = Dispatcher.from_settings(settings)
            try:
                raised = alert_snapshot(alerts, store, dispatcher, current, records)
                finished = dispatcher.wait(settings.alerts_max_seconds)
            finally:
                dispatcher.close(timeout=0)
            alerted = {
                **raised.to_dict(),
                "sent": dispatcher.counts.sent,
                "dead_lettered": dispatcher.counts.dead_lettered,
                "dead_letter": str(dispatcher.dead_letter)
                if dispatcher.counts.dead_lettered
                else None,
                "finished": finished,
            }
    dates = sorted({d for d in table.column("snapshot_date").to_pylist() if d is not None})
    return ScoreSummary(
        path=out,
        rows=table.num_rows,
        snapshot_dates=[d.isoformat() for d in dates],
        churn_model_version=churn.version,
        expansion_model_version=expansion.version,
        seconds=round(time.perf_counter() - started, 3),
        tiers=dict(sorted(tiers.items())),
        revenue_at_risk=round(at_risk, 2),
        notes=_notes(snapshot, table)
        + (
            ["no alerts: they need the history store (its ledger sends each alert once)"]
            if configured is not None and alerts is None
            else []
        ),
        history=recorded,
        alerts=alerted,
        survival_model_version=None if survival is None else survival.version,
    )


def latest_dates(table: pa.Table, count: int) -> pa.Table:
    """The rows of the ``count`` latest snapshot dates of ``table``."""
    dates = sorted(set(table.column("snapshot_date").to_pylist()))
    if count < 1:
        raise ConfigError(f"--last-snapshots {count}: give 1 or more")
    if len(dates) <= count:
        return table
    keep = pa.array(dates[-count:], table.schema.field("snapshot_date").type)
    return table.filter(pc.is_in(table.column("snapshot_date"), value_set=keep))


def require_model_columns(table: pa.Table, bundles: Sequence[ModelBundle], name: str) -> None:
    """Refuse ``table`` when it lacks a column a model reads (``encode`` would score it as
    missing in every row, silently)."""
    needed = dict.fromkeys(c for bundle in bundles for c in bundle.input_columns)
    missing = [c for c in needed if c not in table.schema.names]
    if missing:
        raise FeatureTableError(
            f"{name} lacks {len(missing)} column(s) the models read: {', '.join(missing)}; "
            "score a table written by `churnlight features` (the models were trained on its "
            "columns), or add the columns (null where unknown)"
        )


def _notes(snapshot: Snapshot, scores: pa.Table) -> list[str]:
    """What the scores lack and how to get it."""
    if not scores.num_rows or scores.column("csm_id").null_count < scores.num_rows:
        return []
    source = snapshot.facts.get("source")
    if source and Path(source).exists():
        why = f"the accounts table of source {source!r} gives none of these accounts a csm_id"
    elif source:
        why = f"the table has no csm_id column and its source {source!r} is gone"
    else:
        why = "the table has no csm_id column and names no source (no churnlight metadata)"
    return [f"csm_id is null in every row: {why}; give --source SRC to take it from SRC's accounts"]


def _write(table: pa.Table, out: Path) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    if out.suffix == ".csv":
        flat = table
        for name in (*DRIVER_COLUMNS, "playbooks", "context"):
            values = [json.dumps(v) for v in table.column(name).to_pylist()]
            flat = flat.set_column(flat.schema.get_field_index(name), name, pa.array(values))
        write_atomically(out, lambda tmp: pacsv.write_csv(flat, tmp))
    else:
        write_atomically(out, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
