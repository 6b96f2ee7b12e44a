"""What is serving: model versions, training facts, metrics, features and their metadata.

No local path leaves the server: the training facts lose the feature table's and the
source's paths (their fingerprints stay: they identify the data without saying where it
lives), and any other value that is an absolute path or a file URI; the snapshot's origin is
its kind (``features`` or ``source``)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from serving import problems
from serving.auth import ReadAccess
from serving.cache import ServingState
from serving.deps import StateDep
from serving.handlers import problem_response
from serving.problems import example, read_errors
from serving.schemas import ModelResponse
from serving.scoring import ModelView

router = APIRouter(prefix="/v1/model", tags=["model"])


HIDDEN = ("features", "reference", "signal_scale", "profile")
"""Bundle metadata the card leaves out: served under ``features``, or too large."""
PATH_KEYS = ("path", "source")
"""Keys of the feature table's facts that hold local paths."""
LOCAL_PATH = re.compile(r"^(/|~|[A-Za-z]:[\\/]|\\\\|file:)")
"""An absolute POSIX or Windows path, a home-relative path, a UNC path or a file URI."""


@router.get(
    "",
    operation_id="get_model",
    response_model=ModelResponse,
    summary="Champion versions, training window, metrics, features with metadata",
    responses=problems.responses(*read_errors("/v1/model")),
)
async def get_model(state: StateDep, _: ReadAccess) -> dict[str, Any]:
    return {
        "churn": model_card(state, "churn", state.churn),
        "expansion": model_card(state, "expansion", state.expansion),
        "snapshot_date": state.snapshot_date,
        "accounts": state.portfolio.batch.n,
        "snapshot_origin": state.snapshot.origin.partition(":")[0],
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
    operation_id="get_model_health",
    summary="Model health of the served snapshot: feature and score drift against the "
    "champions' training profiles, the label-free ROC-AUC / PR-AUC / ECE estimate, concerns",
    response_class=JSONResponse,
    responses=problems.responses(
        *read_errors("/v1/model/health"),
        (
            problems.HEALTH_UNAVAILABLE,
            example(
                problems.HEALTH_UNAVAILABLE,
                "model health could not be computed: ...",
                "/v1/model/health",
            ),
        ),
    ),
)
async def get_health(request: Request, state: StateDep, _: ReadAccess) -> Response:
    if state.health is None:
        return problem_response(
            request,
            problems.HEALTH_UNAVAILABLE,
            state.health_error or "model health is not available",
        )
    return JSONResponse(state.health.to_dict())


def model_card(state: ServingState, kind: str, view: ModelView) -> dict[str, Any]:
    """The card of one champion (``GET /v1/model`` and the web pages' Model page)."""
    info = state.models.info(kind)
    bundle = view.bundle
    gains = bundle.importance()
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
        "model_kind": bundle.kind,
        "trees": 0 if bundle.booster is None else bundle.booster.num_trees(),
        "training": public_facts(bundle.metadata),
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


def public_facts(metadata: dict[str, Any]) -> dict[str, Any]:
    """A bundle's training facts without local paths (see the module's docstring)."""
    facts = {k: v for k, v in metadata.items() if k not in HIDDEN}
    table = facts.get("feature_table")
    if isinstance(table, dict):
        facts["feature_table"] = {k: v for k, v in table.items() if k not in PATH_KEYS}
    return _without_paths(facts)


def _without_paths(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items() if not _is_path(v)}
    if isinstance(value, list):
        return [_without_paths(v) for v in value if not _is_path(v)]
    return value


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and LOCAL_PATH.match(value) is not None
