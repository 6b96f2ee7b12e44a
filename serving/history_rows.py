"""The history rows of a scored batch (pure): one row per account and snapshot, in the
columns of ``serving.history.ROW_SCHEMA``, and the run ids that order runs by time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from serving.scoring import ScoredBatch


def history_rows(batch: ScoredBatch, run_id: str, scored_at: datetime) -> pa.Table:
    """The history rows of ``batch`` (``ROW_SCHEMA``)."""
    n = batch.n

    def text(values: Any) -> pa.Array:
        return pa.array([None if v is None else str(v) for v in values], pa.string())

    def drivers(up: list[list[dict]], down: list[list[dict]]) -> pa.Array:
        def compact(d: dict) -> dict:
            value = d["value"]
            return {
                "feature": d["feature"],
                "signal": d["signal"],
                "value": round(value, 6) if isinstance(value, float) else value,
                "contribution": round(d["contribution"], 4),
                "reason": d["reason"],
            }

        return pa.array(
            [
                _dumps({"up": [compact(d) for d in up[i]], "down": [compact(d) for d in down[i]]})
                for i in range(n)
            ],
            pa.string(),
        )

    main = batch.churn.reasons.main
    days = batch.days_to_renewal
    return pa.table(
        {
            "run_id": pa.array([run_id] * n, pa.string()),
            "snapshot_date": pa.array(
                [date.fromisoformat(str(d)) for d in batch.snapshot_date], pa.date32()
            ),
            "account_id": text(batch.account_id),
            "churn_probability": pa.array(batch.churn.probability, pa.float64()),
            "expansion_probability": pa.array(batch.expansion.probability, pa.float64()),
            "risk_tier": text(batch.risk_tier),
            "mrr": pa.array(batch.mrr, pa.float64(), from_pandas=True),
            "revenue_at_risk": pa.array(batch.revenue_at_risk, pa.float64(), from_pandas=True),
            "expected_expansion_mrr": pa.array(
                batch.expected_expansion_mrr, pa.float64(), from_pandas=True
            ),
            "lifecycle_stage": text(batch.lifecycle_stage),
            "days_to_renewal": pa.array(
                [None if v != v else round(v) for v in days.tolist()], pa.int64()
            ),
            "segment": text(batch.segment),
            "csm_id": text(batch.csm_id),
            "churn_model_version": pa.array([batch.churn_model_version] * n, pa.string()),
            "expansion_model_version": pa.array([batch.expansion_model_version] * n, pa.string()),
            "main_reason": pa.array([m["reason"] if m else None for m in main], pa.string()),
            "churn_drivers": drivers(batch.churn.up, batch.churn.down),
            "expansion_drivers": drivers(batch.expansion.up, batch.expansion.down),
            "churn_signals": pa.array([_dumps(m) for m in batch.churn.signal_maps()], pa.string()),
            "scored_at": pa.array([scored_at] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def run_keys(rows: pa.Table) -> pa.Table:
    """(snapshot_date, churn_model_version, expansion_model_version, rows) of history rows."""
    keys = ["snapshot_date", "churn_model_version", "expansion_model_version"]
    counted = rows.group_by(keys).aggregate([([], "count_all")]).sort_by("snapshot_date")
    return pa.table({**{k: counted.column(k) for k in keys}, "rows": counted.column("count_all")})


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by time: ``20240701T101500123456Z-<8 hex>``."""
    at = now or datetime.now(UTC)
    return f"{at:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"
