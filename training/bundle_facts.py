"""What a trained model's bundle records about its data and its fit: the feature table's
facts and file hash, the base rate, the peer quantiles reasons compare against, the label's
horizon, parameters, constraints, calibration and, for temporal models, the recipe."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from features.model_bundle import Calibration, ModelBundle
from features.reasons import peer_reference
from training.dataset import LabelSpec, ModelData
from training.evaluate import WindowResult, summary_row
from training.model import Fit
from training.profile import training_profile
from training.recipe import Recipe


def fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes (the feature table's fingerprint)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def table_facts(data: ModelData) -> dict[str, Any]:
    """The feature table's facts a run and its bundles record: path, as-of, source and its
    fingerprint, horizon and grace, the file's sha256, rows, features and snapshots."""
    facts = data.facts
    keep = ("path", "as_of", "source", "source_fingerprint", "horizon_days", "grace_days", "mode")
    out = {k: facts[k] for k in keep if k in facts}
    path = facts.get("path")
    if "fingerprint" not in facts and path and Path(path).exists():
        facts["fingerprint"] = fingerprint(path)  # once per table: hashing reads the file
    if "fingerprint" in facts:
        out["fingerprint"] = facts["fingerprint"]
    out["rows"] = len(data.matrix)
    out["features"] = len(data.columns)
    if data.snapshot_date is not None:
        out["snapshots"] = len(np.unique(data.snapshot_date))
        out["latest_snapshot"] = str(data.snapshot_date.max())
    return out


def new_bundle(
    data: ModelData,
    spec: LabelSpec,
    fitted: Fit,
    cal: Calibration,
    facts: dict[str, Any],
    recipe: Recipe | None = None,
    parts: dict[str, Any] | None = None,
) -> ModelBundle:
    """The bundle of a label's final model, with its metadata (``bundle_metadata``), its
    reference profile (``training.profile``) and, when given, the recipe that refits it;
    ``parts``: the booster, additive model and blend of the chosen candidate
    (``training.candidates``; default: ``fitted``'s booster)."""
    parts = parts or {"booster": fitted.booster}
    bundle = ModelBundle(
        spec.name,
        list(data.columns),
        cal,
        parts.get("booster"),
        metadata=bundle_metadata(data, spec, fitted, facts),
        additive=parts.get("additive"),
        blend=parts.get("blend"),
    )
    bundle.metadata["model_kind"] = bundle.kind
    if recipe is not None:
        bundle.metadata["recipe"] = recipe.to_dict()
    bundle.metadata["profile"] = training_profile(data, bundle)
    return bundle


def bundle_metadata(
    data: ModelData, spec: LabelSpec, fitted: Fit, facts: dict[str, Any]
) -> dict[str, Any]:
    """A bundle's metadata: base rate over labeled rows, peer quantiles of every numeric
    feature (per segment), label and horizon, the feature table's facts and specs, and the
    fit's parameters, constraints (``facts["monotone"]``), calibration and labels_through."""
    try:
        churnlight_version = version("churnlight")
    except PackageNotFoundError:
        churnlight_version = "unknown"
    table = table_facts(data)
    labeled = data.labeled(spec.name)
    return {
        "base_rate": float(np.mean(data.labels[spec.name][labeled])) if labeled.any() else None,
        "reference": peer_reference(
            data.matrix,
            data.feature_names,
            [c.kind != "categorical" for c in data.columns],
            data.groups.get("segment"),
            seed=0,
        ).to_dict(),
        "label": spec.name,
        "kind": spec.kind,
        "horizon_days": data.facts.get("horizon_days"),
        "grace_days": data.facts.get("grace_days"),
        "span_days": spec.span_days,
        "as_of": data.facts.get("as_of"),
        "feature_table": table,
        "features": data.specs,
        "params": fitted.params,
        "monotone": facts.get("monotone"),
        "calibration": facts.get("calibration"),
        "best_iteration": fitted.best_iteration,
        "labels_through": facts.get("labels_through"),
        "churnlight_version": churnlight_version,
    }


def record_evaluation(
    bundle: ModelBundle, windows: Sequence[WindowResult], summary: WindowResult
) -> None:
    """Store every evaluated window and the headline window's metrics in the bundle."""
    bundle.metadata["evaluation"] = {
        "windows": [w.to_dict() for w in windows],
        "summary": summary_row(summary),
    }
