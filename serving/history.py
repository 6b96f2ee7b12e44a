"""The score history store: every scored snapshot's per-account results, through Ibis.

Default store: a DuckDB file in churnlight's home (``<home>/history/history.duckdb``, see
``churnlight info``); any Ibis backend by ``CHURNLIGHT_HISTORY_URI`` (tested on DuckDB and
PostgreSQL). Three tables:

- ``churnlight_score_history``: one row per account, snapshot and run (``ROW_SCHEMA``);
- ``churnlight_history_runs``: one row per committed (run, snapshot_date): the commit record;
- ``churnlight_alert_ledger``: one row per claimed (subscription, alert event);
- ``churnlight_scores``: a view of what readers see (each snapshot date's latest committed
  run): the table a warehouse job, BI tool or CRM sync reads (write-back).

**Writes without a transaction.** Ibis offers no portable multi-statement transaction, so a
run writes its rows under a new ``run_id`` (invisible: readers only read committed runs),
then commits with one INSERT of its rows into the runs table (a single statement is atomic
on every backend). Readers see, per (snapshot_date, churn_model_version,
expansion_model_version), only the committed run with the greatest ``run_id`` (run ids sort
by time). A run killed before its commit leaves invisible rows; one killed after it is
complete. So re-scoring a snapshot with the same model versions replaces its rows, and a
reader sees either the previous rows or the new ones, never a mix. After the commit the
writer deletes superseded and stale uncommitted rows: Ibis 12 has ``insert`` but no
``delete``, so that one statement is a sqlglot expression rendered in the backend's dialect
(never a hand-built string).

**History points.** An account's point at a snapshot date comes from the latest committed
run of that date (a snapshot re-scored after a promotion shows the new models' scores; the
older models' run stays readable for movers, see ``serving.movers``).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from serving.errors import HistoryError
from serving.history_rows import run_keys
from serving.settings import ServingSettings

log = logging.getLogger("churnlight.serving")

ROWS = "churnlight_score_history"
RUNS = "churnlight_history_runs"
LEDGER = "churnlight_alert_ledger"
SCORES_VIEW = "churnlight_scores"
"""A view of the rows readers see: per snapshot date, its latest committed run (what a
warehouse, BI tool or CRM sync should read)."""
STALE_AFTER = timedelta(hours=24)
"""Uncommitted rows older than this belong to a killed run and are deleted (a run that still
writes after a day would lose them; explanations cost 1-3 ms a row per model, so a million
accounts take an hour or two)."""
INSERT_ROWS = 50_000
"""Rows per INSERT statement (bounded memory; visibility does not depend on it)."""

ROW_SCHEMA = ibis.schema(
    {
        "run_id": "string",
        "snapshot_date": "date",
        "account_id": "string",
        "churn_probability": "float64",
        "expansion_probability": "float64",
        "risk_tier": "string",
        "mrr": "float64",
        "revenue_at_risk": "float64",
        "expected_expansion_mrr": "float64",
        "lifecycle_stage": "string",
        "days_to_renewal": "int64",
        "segment": "string",
        "csm_id": "string",
        "churn_model_version": "string",
        "expansion_model_version": "string",
        "main_reason": "string",
        "churn_drivers": "string",
        "expansion_drivers": "string",
        "churn_signals": "string",
        "scored_at": "timestamp('UTC')",
    }
)
"""``churn_drivers`` / ``expansion_drivers``: JSON ``{"up": [...], "down": [...]}`` of the
listed drivers (feature, signal, value, contribution, reason); ``churn_signals``: JSON
``{signal: [contribution, feature, value]}`` of every signal pushing churn by 0.001 log-odds
or more, which is what movers compare."""
RUN_SCHEMA = ibis.schema(
    {
        "run_id": "string",
        "snapshot_date": "date",
        "churn_model_version": "string",
        "expansion_model_version": "string",
        "rows": "int64",
        "origin": "string",
        "committed_at": "timestamp('UTC')",
    }
)
LEDGER_SCHEMA = ibis.schema(
    {
        "subscription_id": "string",
        "event_id": "string",
        "token": "string",
        "claimed_at": "timestamp('UTC')",
    }
)
TABLES = {ROWS: ROW_SCHEMA, RUNS: RUN_SCHEMA, LEDGER: LEDGER_SCHEMA}
POINT_COLUMNS = (
    "snapshot_date",
    "churn_probability",
    "expansion_probability",
    "risk_tier",
    "mrr",
    "revenue_at_risk",
    "churn_model_version",
    "expansion_model_version",
)
"""A history point, as ``GET /v1/accounts/{id}/history`` answers it."""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    snapshot_dates: list[str]
    rows: int
    seconds: float
    deleted_runs: int


# ---- the store -----------------------------------------------------------------------------


class HistoryStore:
    """The history tables behind one Ibis URL. Each operation opens a connection and closes
    it, so a DuckDB file is held only while it is used (a scheduled ``churnlight score`` and a
    running server share it)."""

    def __init__(self, uri: str, lock_seconds: float = 30.0) -> None:
        self.uri = normalise_uri(uri)
        self.lock_seconds = lock_seconds

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> HistoryStore:
        return cls(settings.resolved_history_uri(), settings.history_lock_seconds)

    @property
    def display(self) -> str:
        """The URL without its password."""
        head, sep, tail = self.uri.rpartition("@")
        if not sep or "://" not in head:
            return self.uri
        scheme, _, credentials = head.partition("://")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{tail}"

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """An open connection with the tables created; closed on exit."""
        con = self._open()
        try:
            existing = set(con.list_tables())
            for name, schema in TABLES.items():
                if name not in existing:
                    try:
                        con.create_table(name, schema=schema)
                    except Exception as err:  # another writer created it meanwhile
                        if name not in set(con.list_tables()):
                            raise HistoryError(
                                f"history store {self.display}: cannot create table {name}: {err}"
                            ) from err
            if SCORES_VIEW not in existing:
                try:
                    con.create_view(SCORES_VIEW, _scores(con))
                except Exception as err:  # another writer created it meanwhile
                    if SCORES_VIEW not in set(con.list_tables()):
                        raise HistoryError(
                            f"history store {self.display}: cannot create view {SCORES_VIEW}: {err}"
                        ) from err
            yield con
        finally:
            with contextlib.suppress(Exception):
                con.disconnect()

    def _open(self) -> Any:
        if self.uri.startswith("duckdb://"):
            path = self.uri.removeprefix("duckdb://")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_seconds
        delay = 0.05
        while True:
            try:
                return ibis.connect(self.uri)
            except Exception as err:
                if "lock" in str(err).lower() and time.monotonic() < deadline:
                    time.sleep(delay)  # another process holds the DuckDB file: wait for it
                    delay = min(delay * 2, 1.0)
                    continue
                raise HistoryError(
                    f"cannot open the history store {self.display}: {err}; check "
                    "CHURNLIGHT_HISTORY_URI, or give --no-history"
                ) from err

    # -- writing ---------------------------------------------------------------------------

    def write(self, rows: pa.Table, origin: str) -> RunSummary:
        """Record ``rows`` (``history_rows``, one run id) as one run: insert, commit, clean."""
        started = time.perf_counter()
        if rows.num_rows == 0:
            return RunSummary("", [], 0, 0.0, 0)
        self.insert(rows)
        run_id = rows.column("run_id")[0].as_py()
        dates, deleted = self.commit(run_id, run_keys(rows), origin)
        return RunSummary(run_id, dates, rows.num_rows, time.perf_counter() - started, deleted)

    def insert(self, rows: pa.Table) -> None:
        """Insert rows of a run that is not committed yet (invisible until ``commit``)."""
        with self.connect() as con:
            for start in range(0, rows.num_rows, INSERT_ROWS):
                con.insert(ROWS, ibis.memtable(rows.slice(start, INSERT_ROWS)))

    def commit(self, run_id: str, keys: pa.Table, origin: str) -> tuple[list[str], int]:
        """Make run ``run_id`` visible: one INSERT of its (snapshot_date, versions, rows)
        ``keys`` into the runs table; then delete what it superseded. Returns the committed
        dates and the number of (run, date) pairs deleted."""
        now = datetime.now(UTC)
        n = keys.num_rows
        commit = pa.table(
            {
                "run_id": pa.array([run_id] * n, pa.string()),
                "snapshot_date": keys.column("snapshot_date").cast(pa.date32()),
                "churn_model_version": keys.column("churn_model_version"),
                "expansion_model_version": keys.column("expansion_model_version"),
                "rows": keys.column("rows").cast(pa.int64()),
                "origin": pa.array([origin] * n, pa.string()),
                "committed_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            }
        )
        with self.connect() as con:
            if n:
                con.insert(RUNS, ibis.memtable(commit))  # the commit: one statement
            deleted = self._clean(con, now)
        return [d.isoformat() for d in commit.column("snapshot_date").to_pylist()], deleted

    def _clean(self, con: Any, now: datetime) -> int:
        """Delete the rows and commit records of superseded runs, and rows of runs that never
        committed within ``STALE_AFTER``. Returns the number of (run, date) pairs deleted."""
        runs = con.table(RUNS)
        ranked = runs.mutate(
            rank=ibis.row_number().over(
                group_by=["snapshot_date", "churn_model_version", "expansion_model_version"],
                order_by=ibis.desc("run_id"),
            )
        )
        old = ranked.filter(ranked["rank"] > 0).select("run_id", "snapshot_date").to_pyarrow()
        stale_rows = con.table(ROWS)
        committed = runs.select("run_id").distinct()
        stale = (
            stale_rows.filter(stale_rows.scored_at < now - STALE_AFTER)
            .anti_join(committed, "run_id")
            .select("run_id")
            .distinct()
            .to_pyarrow()
        )
        pairs = list(
            zip(
                old.column("run_id").to_pylist(),
                old.column("snapshot_date").to_pylist(),
                strict=True,
            )
        )
        if pairs:
            where = sge.or_(
                *(
                    sge.and_(
                        _col("run_id").eq(sge.Literal.string(r)),
                        _col("snapshot_date").eq(
                            sge.cast(sge.Literal.string(d.isoformat()), "date")
                        ),
                    )
                    for r, d in pairs
                )
            )
            _execute(con, sge.delete(_table(ROWS), where=where))
            _execute(con, sge.delete(_table(RUNS), where=where))
        stale_ids = stale.column("run_id").to_pylist()
        if stale_ids:
            where = _col("run_id").isin(*(sge.Literal.string(r) for r in stale_ids))
            _execute(con, sge.delete(_table(ROWS), where=where))
        return len(pairs) + len(stale_ids)

    # -- reading ---------------------------------------------------------------------------

    def snapshots(self) -> pa.Table:
        """Per snapshot date, oldest first: the run its points come from (the latest
        committed) and that run's model versions."""
        with self.connect() as con:
            return _latest_runs(con).order_by("snapshot_date").to_pyarrow()

    def points(
        self, account_ids: Sequence[str] | None = None, columns: Sequence[str] = POINT_COLUMNS
    ) -> pa.Table:
        """``account_id`` plus ``columns`` at every snapshot date (from its latest run), by
        account then date; only ``account_ids`` when given."""
        with self.connect() as con:
            joined = _scores(con)
            if account_ids is not None:
                joined = joined.filter(joined.account_id.isin(list(account_ids)))
            wanted = ["account_id", *[c for c in columns if c != "account_id"]]
            return joined.select(*wanted).order_by(["account_id", "snapshot_date"]).to_pyarrow()

    def run_rows(
        self, snapshot_date: date, versions: tuple[str, str] | None = None
    ) -> pa.Table | None:
        """Every column of ``snapshot_date``'s rows from its latest run, or from the visible
        run of that date scored with ``versions`` (churn, expansion); None if there is none."""
        with self.connect() as con:
            return _run_rows(con, snapshot_date, versions)

    def scored(self, snapshot_dates: Sequence[date]) -> pa.Table:
        """The scores of ``snapshot_dates`` in every visible run (each (date, model
        versions)' latest committed run, not only the date's latest): ``run_id``,
        ``snapshot_date``, ``account_id``, both probabilities and model versions,
        ``scored_at`` (what realised performance reads, ``serving.model_health``)."""
        columns = [
            "run_id",
            "snapshot_date",
            "account_id",
            "churn_probability",
            "expansion_probability",
            "churn_model_version",
            "expansion_model_version",
            "scored_at",
        ]
        with self.connect() as con:
            runs = _visible_runs(con).select("run_id", "snapshot_date")
            rows = con.table(ROWS)
            if snapshot_dates:
                rows = rows.filter(rows.snapshot_date.isin(list(snapshot_dates)))
            else:
                rows = rows.filter(ibis.literal(False))
            return rows.join(runs, ["run_id", "snapshot_date"]).select(*columns).to_pyarrow()

    def served(self) -> tuple[pa.Table, pa.Table, pa.Table | None, pa.Table | None]:
        """What a server keeps, read on one connection: every account's points, the
        snapshots, and the rows movers compare: the latest snapshot's and the one before it
        (scored by the same models when the history holds them, else its latest run)."""
        with self.connect() as con:
            latest = _latest_runs(con)
            snapshots = latest.order_by("snapshot_date").to_pyarrow()
            points = (
                _scores(con)
                .select("account_id", *POINT_COLUMNS)
                .order_by(["account_id", "snapshot_date"])
                .to_pyarrow()
            )
            if snapshots.num_rows < 2:
                return points, snapshots, None, None
            last = snapshots.slice(snapshots.num_rows - 1).to_pylist()[0]
            previous = snapshots.column("snapshot_date")[snapshots.num_rows - 2].as_py()
            after = _run_rows(con, last["snapshot_date"], None)
            versions = (last["churn_model_version"], last["expansion_model_version"])
            before = _run_rows(con, previous, versions)
            if before is None:
                before = _run_rows(con, previous, None)
            return points, snapshots, before, after

    def stamp(self) -> str | None:
        """The latest commit's run id (None: empty): changes whenever a run commits."""
        with self.connect() as con:
            value = con.table(RUNS).run_id.max().to_pyarrow().as_py()
            return None if value is None else str(value)

    # -- the alert ledger ------------------------------------------------------------------

    def claim(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Claim (subscription_id, event_id) pairs for delivery; returns those this call won.

        Each caller inserts its claims with a fresh token, then reads back every claim of
        those pairs: the earliest (``claimed_at``, then token) wins, so of two writers racing
        for one event exactly one sends it, and an event claimed by an earlier run is never
        sent again (at most once per subscription)."""
        if not pairs:
            return []
        token = uuid.uuid4().hex
        unique = sorted(set(pairs))
        claims = pa.table(
            {
                "subscription_id": pa.array([s for s, _ in unique], pa.string()),
                "event_id": pa.array([e for _, e in unique], pa.string()),
                "token": pa.array([token] * len(unique), pa.string()),
                "claimed_at": pa.array(
                    [datetime.now(UTC)] * len(unique), pa.timestamp("us", tz="UTC")
                ),
            }
        )
        with self.connect() as con:
            con.insert(LEDGER, ibis.memtable(claims))
            ledger = con.table(LEDGER)
            ranked = ledger.filter(ledger.event_id.isin(sorted({e for _, e in unique}))).mutate(
                rank=ibis.row_number().over(
                    group_by=["subscription_id", "event_id"],
                    order_by=["claimed_at", "token"],
                )
            )
            won = (
                ranked.filter((ranked["rank"] == 0) & (ranked.token == token))
                .select("subscription_id", "event_id")
                .to_pyarrow()
            )
        winners = set(
            zip(
                won.column("subscription_id").to_pylist(),
                won.column("event_id").to_pylist(),
                strict=True,
            )
        )
        return [p for p in pairs if p in winners]


def _run_rows(con: Any, snapshot_date: date, versions: tuple[str, str] | None) -> pa.Table | None:
    if versions is None:
        runs = _latest_runs(con)
    else:
        runs = _visible_runs(con)
        runs = runs.filter(
            (runs.churn_model_version == versions[0])
            & (runs.expansion_model_version == versions[1])
        )
    run = runs.filter(runs.snapshot_date == snapshot_date).select("run_id").to_pyarrow()
    if run.num_rows == 0:
        return None
    rows = con.table(ROWS)
    picked = rows.filter(
        (rows.run_id == run.column("run_id")[0].as_py()) & (rows.snapshot_date == snapshot_date)
    )
    return picked.order_by("account_id").to_pyarrow()


def _visible_runs(con: Any) -> ir.Table:
    """Committed runs, one per (snapshot_date, churn and expansion versions): the latest."""
    runs = con.table(RUNS)
    ranked = runs.mutate(
        rank=ibis.row_number().over(
            group_by=["snapshot_date", "churn_model_version", "expansion_model_version"],
            order_by=ibis.desc("run_id"),
        )
    )
    return ranked.filter(ranked["rank"] == 0).drop("rank")


def _scores(con: Any) -> ir.Table:
    """The visible rows: each snapshot date's latest committed run."""
    latest = _latest_runs(con).select("run_id", "snapshot_date")
    return con.table(ROWS).join(latest, ["run_id", "snapshot_date"])


def _latest_runs(con: Any) -> ir.Table:
    """One committed run per snapshot_date: the latest."""
    runs = _visible_runs(con)
    ranked = runs.mutate(
        rank=ibis.row_number().over(group_by="snapshot_date", order_by=ibis.desc("run_id"))
    )
    return ranked.filter(ranked["rank"] == 0).drop("rank")


def _table(name: str) -> sge.Table:
    return sg.table(name, quoted=True)


def _col(name: str) -> sge.Column:
    return sg.column(name, quoted=True)


def _execute(con: Any, statement: sge.Expression) -> None:
    """Run one statement built with sqlglot, rendered in the backend's dialect."""
    result = con.raw_sql(statement.sql(dialect=con.dialect))
    if con.name == "duckdb":
        result.fetchall()  # consume it: DuckDB's result is the connection itself
    else:
        result.close()


def normalise_uri(uri: str) -> str:
    """An Ibis URL: ``postgresql://`` as ``postgres://``; a bare path as a DuckDB file."""
    if uri.startswith("postgresql://"):
        return "postgres://" + uri.removeprefix("postgresql://")
    if "://" not in uri:
        return f"duckdb:///{Path(uri).expanduser().resolve()}"
    return uri


def points_as_dicts(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of a points table as JSON-ready dicts (dates as YYYY-MM-DD)."""
    out = []
    for row in table.to_pylist():
        if isinstance(row.get("snapshot_date"), date):
            row["snapshot_date"] = row["snapshot_date"].isoformat()
        out.append(row)
    return out
