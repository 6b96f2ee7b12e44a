"""What is serving: model versions, training facts, metrics, features and their metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.auth import ReadAccess
from serving.cache import ServingState
from serving.deps import StateDep
from serving.schemas import ERRORS, ModelResponse
from serving.scoring import ModelView

router = APIRouter(prefix="/v1/model", tags=["model"])


@router.get(
    "",
    response_model=ModelResponse,
    summary="Champion versions, training window, metrics, features with metadata",
    responses=ERRORS,
)
async def get_model(state: StateDep, _: ReadAccess) -> dict[str, Any]:
    return {
        "churn": _card(state, "churn", state.churn),
        "expansion": _card(state, "expansion", state.expansion),
        "snapshot_date": state.snapshot_date,
        "accounts": state.portfolio.batch.n,
        "snapshot_origin": state.snapshot.origin,
        "loaded_at": state.built_at,
        "playbooks": state.playbooks.ids,
        "scoring": {
            "tier_thresholds": dict(
                zip(
                    ("medium", "high", "critical"),
                    state.config.tiers_for(state.churn),
                    strict=True,
                )
            ),
            "tier_basis": ("fixed" if state.config.tier_thresholds is not None else "base_rate"),
            "base_rate": state.churn.base_rate,
            "top_drivers": state.config.top_k,
            "min_driver_contribution": state.config.reasons.min_contribution,
            "expansion_uplift": state.config.expansion_uplift,
        },
        **state.versions,
    }


@router.get(
    "/health",
    summary="Model health of the served snapshot: feature and score drift against the "
    "champions' training profiles, the label-free ROC-AUC / PR-AUC / ECE estimate, concerns",
    responses=ERRORS,
    response_class=JSONResponse,
)
async def get_health(state: StateDep, _: ReadAccess) -> JSONResponse:
    if state.health is None:
        return JSONResponse(
            {"detail": state.health_error or "model health is not available"}, status_code=503
        )
    return JSONResponse(state.health.to_dict())


def _card(state: ServingState, kind: str, view: ModelView) -> dict[str, Any]:
    info = state.models.info(kind)
    bundle = view.bundle
    gains = bundle.booster.feature_importance(importance_type="gain")
    total = float(sum(gains)) or 1.0
    features = []
    for j, column in enumerate(bundle.columns):
        spec = view.specs[j]
        features.append(
            {
                "name": column.name,
                "kind": column.kind,
                "family": spec.family if spec else None,
                "description": spec.description if spec else None,
                "unit": spec.unit if spec else None,
                "template": spec.template if spec else None,
                "role": spec.role if spec else None,
                "signal": spec.signal if spec else None,
                "categories": list(column.categories) if column.kind == "categorical" else None,
                "op": column.op if column.kind == "derived" else None,
                "inputs": list(column.inputs) if column.kind == "derived" else None,
                "importance_gain": round(float(gains[j]) / total, 6),
            }
        )
    return {
        "kind": kind,
        "name": info.name,
        "version": info.version,
        "alias": info.alias,
        "run_id": info.run_id,
        "registered_at": info.registered_at,
        "label": bundle.label,
        "calibration": bundle.calibration.method,
        "trees": bundle.booster.num_trees(),
        "training": {
            k: v
            for k, v in bundle.metadata.items()
            if k not in ("features", "reference", "signal_scale", "profile")
        },
        "metrics": label_metrics(info.metrics, bundle.label),
        "explain_ms_per_row": state.explain_ms_per_row.get(kind, 0.0),
        "features": features,
    }


def label_metrics(metrics: dict[str, float], label: str) -> dict[str, float]:
    """The run's metrics of this model: one training run logs both labels' metrics as
    ``<label>.<name>``; keep this label's, without the prefix (all of them if none has it)."""
    prefix = f"{label}."
    own = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
    return own or dict(metrics)
