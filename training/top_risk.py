"""The top-risk report of a training run: the accounts most likely to churn at the latest
snapshot, each with its MRR, revenue at risk and main reason."""

from __future__ import annotations

from typing import Any

import numpy as np

from features.model_bundle import ModelBundle
from training.dataset import ModelData
from training.explanations import reason_book


def top_risk_accounts(data: ModelData, bundle: ModelBundle, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` accounts with the highest churn probability at the latest snapshot, with
    their MRR, the main reason (the actionable driver raising their risk most) and the
    context facts beside it, phrased as serving phrases them (``features.reasons``).
    Revenue at risk is 12 x MRR x the probability (annual revenue, same currency as MRR)."""
    if data.snapshot_date is None:
        return []
    rows = np.flatnonzero(data.snapshot_date == data.snapshot_date.max())
    if len(rows) == 0:
        return []
    matrix = data.matrix[rows]
    p = bundle.predict_proba(matrix)
    order = np.argsort(-p, kind="stable")[:k]
    contributions, _ = bundle.contributions(matrix[order])
    segments = data.groups.get("segment")
    peers = None if segments is None else segments[rows[order]]
    reasons = reason_book(bundle).explain(contributions, matrix[order], 3, peers)
    out = []
    for rank, i in enumerate(order):
        row = rows[i]
        mrr = None if data.mrr is None else _none_if_nan(data.mrr[row])
        main = reasons.main[rank]
        out.append(
            {
                "rank": rank + 1,
                "account_id": str(data.ids[row]),
                "snapshot_date": str(data.snapshot_date[row]),
                "segment": None if segments is None else segments[row],
                "mrr": mrr,
                "churn_probability": float(p[i]),
                "revenue_at_risk": None if mrr is None else mrr * 12 * float(p[i]),
                "main_reason": main,
                "context": [c["reason"] for c in reasons.context[rank]],
                "drivers": reasons.up[rank],
            }
        )
    return out


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
