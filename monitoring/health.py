"""A snapshot's model health: feature and score drift, the label-free estimate, the realised
series, and the concerns worth an alert. Pure: bundles and a table in, ``ModelHealth`` out.

``assess`` is what ``churnlight monitor``, ``/v1/model/health`` and the ``model_health``
alert all call. Feature drift is measured against the profile of the first model given
that has one (churn, when both are given; a feature only the other model reads against
that model's), and each feature carries its largest share of either model's gain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from features.model_bundle import FeatureColumn, ModelBundle
from monitoring.drift import DriftRow, DriftSettings, column_drift, gain_shares, rank
from monitoring.estimate import Estimate, estimate_performance
from monitoring.profile import Histogram, ReferenceProfile, column_values
from monitoring.realised import ALL, RealisedRow


@dataclass(frozen=True)
class HealthSettings:
    drift: DriftSettings = field(default_factory=DriftSettings)
    draws: int = 500
    """Label draws of the estimate."""
    level: float = 0.95
    """Coverage of the estimate's sampling interval."""
    auc_drop: float = 0.03
    """An estimate whose upper bound is this far below the model's reference (its own
    estimate on the newest training snapshot, else its backtest ROC-AUC) is a concern."""
    min_gain_share: float = 0.01
    """A drifted feature is a concern from this share of a model's gain."""


@dataclass(frozen=True)
class ModelView:
    """A model as monitoring needs it: label, bundle and the version string responses carry."""

    label: str
    bundle: ModelBundle
    version: str

    @property
    def profile(self) -> ReferenceProfile | None:
        return ReferenceProfile.from_dict(self.bundle.metadata.get("profile"))

    @property
    def reference_metrics(self) -> dict[str, float | None]:
        """The model's headline backtest metrics (out of time, at training), and the
        label-free ROC-AUC estimate made at training from the same window's probabilities
        (``estimate_roc_auc``, ``_low``, ``_high``; None for bundles trained before it)."""
        evaluation = self.bundle.metadata.get("evaluation") or {}
        summary = evaluation.get("summary") or {}
        out = {k: summary.get(k) for k in ("roc_auc", "pr_auc", "ece")}
        estimate = (evaluation.get("estimate") or {}).get("roc_auc") or {}
        out["estimate_roc_auc"] = estimate.get("value")
        out["estimate_roc_auc_low"] = estimate.get("low")
        out["estimate_roc_auc_high"] = estimate.get("high")
        latest = (evaluation.get("latest_estimate") or {}).get("roc_auc") or {}
        out["latest_estimate_roc_auc"] = latest.get("value")
        return out


@dataclass(frozen=True)
class Concern:
    """One condition worth a person's attention: ``code`` (``feature_drift``,
    ``score_drift``, ``estimate_drop``, ``estimate_gap``), ``subject``
    (the feature or the label it is about) and the sentence shown."""

    code: str
    subject: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "subject": self.subject, "message": self.message}


@dataclass
class ModelHealth:
    snapshot_date: str | None
    model_versions: dict[str, str]
    rows: int
    drift: list[DriftRow]
    score_drift: list[DriftRow]
    estimated: dict[str, Estimate]
    reference: dict[str, dict[str, float | None]]
    realised: list[RealisedRow] = field(default_factory=list)
    conditions: list[Concern] = field(default_factory=list)
    """The concerns, structured (what the ``model_health`` alert is made of)."""
    notes: list[str] = field(default_factory=list)
    """Facts about the models, not about this snapshot (e.g. an estimate its own backtest
    did not confirm): shown, never a concern nor an alert."""
    missing_profiles: list[str] = field(default_factory=list)
    """Labels whose bundle has no reference profile (trained before profiles existed)."""
    settings: HealthSettings = field(default_factory=HealthSettings)

    def estimated_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for label, estimate in self.estimated.items():
            auc = estimate.metrics.get("roc_auc")
            out[label] = {
                "roc_auc": None if auc is None else round(auc.value, 6),
                "low": None if auc is None else round(auc.low, 6),
                "high": None if auc is None else round(auc.high, 6),
                "reference_roc_auc": self.reference.get(label, {}).get("roc_auc"),
                "training_estimate_roc_auc": self.reference.get(label, {}).get(
                    "latest_estimate_roc_auc"
                ),
                "backtest_estimate": _backtest_estimate(self.reference.get(label, {})),
                "trusted": estimate_trusted(self.reference.get(label, {})),
                **{k: v for k, v in estimate.to_dict().items() if k != "roc_auc"},
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``churnlight monitor --json``, ``/v1/model/health``)."""
        return {
            "snapshot_date": self.snapshot_date,
            "model_versions": self.model_versions,
            "rows": self.rows,
            "drift": [r.to_dict() for r in self.drift],
            "score_drift": [
                {"score": r.feature, **{k: v for k, v in r.to_dict().items() if k != "feature"}}
                for r in self.score_drift
            ],
            "estimated": self.estimated_dict(),
            "realised": [r.to_dict() for r in self.realised],
            "concerns": self.concerns,
            "conditions": [c.to_dict() for c in self.conditions],
            "healthy": not self.conditions,
            "notes": list(self.notes),
            "missing_profiles": list(self.missing_profiles),
            "alpha": self.settings.drift.alpha,
            "interval_level": self.settings.level,
        }

    @property
    def concerns(self) -> list[str]:
        """The concerns' sentences (empty: healthy)."""
        return [c.message for c in self.conditions]

    @property
    def drifted(self) -> list[str]:
        """Features with a drifted statistic, in rank order."""
        return list(dict.fromkeys(r.feature for r in self.drift if r.drifted))


def assess(
    models: Sequence[ModelView],
    frame: Any,
    snapshot_date: str | None = None,
    scores: Mapping[str, np.ndarray] | None = None,
    realised: Sequence[RealisedRow] = (),
    settings: HealthSettings | None = None,
) -> ModelHealth:
    """Health of the models on ``frame`` (the rows of one snapshot: a pyarrow Table or a
    pandas DataFrame). ``scores``: the calibrated probability per label when the caller has
    them (else the models score ``frame``); ``realised``: rows of earlier snapshots."""
    settings = settings or HealthSettings()
    shares = gain_shares({m.label: m.bundle for m in models})
    references, columns = _feature_references(models)
    values = column_values(frame, columns)
    best_share = {
        name: max(shares[label].get(name, 0.0) for label in shares) for name in references
    }
    rng = np.random.default_rng(settings.drift.seed)
    lag = _lag(models, snapshot_date)
    drift: list[DriftRow] = []
    for name, reference in references.items():
        drift += column_drift(
            name, reference, values[name], settings.drift, best_share[name], rng, lag
        )
    drift = rank(drift)
    score_drift: list[DriftRow] = []
    estimated: dict[str, Estimate] = {}
    for model in models:
        p = (
            np.asarray(scores[model.label], dtype=np.float64)
            if scores is not None and model.label in scores
            else model.bundle.predict_proba(frame)
        )
        estimated[model.label] = estimate_performance(
            p, settings.draws, settings.level, settings.drift.seed
        )
        profile = model.profile
        if profile is not None and model.label in profile.scores:
            score_drift += column_drift(
                model.label, profile.scores[model.label], p, settings.drift, None, rng, lag
            )
    health = ModelHealth(
        snapshot_date=snapshot_date,
        model_versions={m.label: m.version for m in models},
        rows=_rows(frame),
        drift=drift,
        score_drift=score_drift,
        estimated=estimated,
        reference={m.label: m.reference_metrics for m in models},
        realised=list(realised),
        missing_profiles=[m.label for m in models if m.profile is None],
        settings=settings,
    )
    health.conditions = concerns(health, shares)
    health.notes = estimate_notes(health)
    return health


def concerns(health: ModelHealth, shares: Mapping[str, Mapping[str, float]]) -> list[Concern]:
    """What deserves a person's attention, one ``Concern`` each (empty: healthy)."""
    settings = health.settings
    out = []
    for feature in health.drifted:
        rows = [r for r in health.drift if r.feature == feature and r.drifted]
        share = rows[0].gain_share or 0.0
        if share < settings.min_gain_share:
            continue
        owner = max(shares, key=lambda label: shares[label].get(feature, 0.0))
        stats = ", ".join(f"{r.statistic} {r.value:.3f} > {r.threshold:.3f}" for r in rows)
        message = f"feature {feature} drifted ({stats}); it carries {share:.0%} of {owner}'s gain"
        out.append(Concern("feature_drift", feature, message))
    for row in health.score_drift:
        if row.drifted and row.statistic == "psi":
            message = (
                f"the {row.feature} scores drifted (psi {row.value:.3f} > {row.threshold:.3f})"
            )
            out.append(Concern("score_drift", row.feature, message))
    for label, estimate in health.estimated.items():
        auc = estimate.metrics.get("roc_auc")
        reference = health.reference.get(label, {})
        baseline = reference.get("latest_estimate_roc_auc")
        what = "its estimate on the newest training snapshot"
        if baseline is None:
            baseline, what = reference.get("roc_auc"), "its backtest"
        if auc is not None and baseline is not None and auc.high < baseline - settings.auc_drop:
            message = (
                f"estimated ROC-AUC of {label} is {auc.value:.3f} ({auc.low:.3f}-{auc.high:.3f}), "
                f"more than {settings.auc_drop:.2f} below {what} {baseline:.3f}"
            )
            out.append(Concern("estimate_drop", label, message))
    latest: dict[str, RealisedRow] = {}
    for done in health.realised:
        if done.group == ALL and (
            done.label not in latest or done.snapshot_date > latest[done.label].snapshot_date
        ):
            latest[done.label] = done
    for label, matured in sorted(latest.items()):
        auc = matured.estimated.metrics.get("roc_auc")
        if matured.outside and auc is not None and matured.roc_auc is not None:
            message = (
                f"realised ROC-AUC of {label} on {matured.snapshot_date} is {matured.roc_auc:.3f}, "
                f"outside the estimate {auc.value:.3f} ({auc.low:.3f}-{auc.high:.3f}): the "
                "label-free estimate can no longer be trusted"
            )
            out.append(Concern("estimate_gap", label, message))
    return out


def _feature_references(
    models: Sequence[ModelView],
) -> tuple[dict[str, Histogram], list[FeatureColumn]]:
    references: dict[str, Histogram] = {}
    columns: dict[str, FeatureColumn] = {}
    for model in models:
        profile = model.profile
        if profile is None:
            continue
        for column in model.bundle.columns:
            if column.name in profile.features and column.name not in references:
                references[column.name] = profile.features[column.name]
                columns[column.name] = column
    return references, list(columns.values())


def _lag(models: Sequence[ModelView], snapshot_date: str | None) -> int | None:
    """Monthly snapshots from the latest one the reference profile holds to
    ``snapshot_date`` (None: either is unknown)."""
    profile = next((m.profile for m in models if m.profile is not None), None)
    if profile is None or not profile.snapshots or not snapshot_date:
        return None
    try:
        latest = date.fromisoformat(profile.snapshots[-1][:10])
        current = date.fromisoformat(snapshot_date[:10])
    except ValueError:
        return None
    return max(0, round((current - latest).days / 30.44))


def _rows(frame: Any) -> int:
    if hasattr(frame, "num_rows"):
        return int(frame.num_rows)
    return len(frame)


def estimate_trusted(reference: Mapping[str, float | None]) -> bool | None:
    """Whether the model's label-free estimate held on its own backtest window: the realised
    ROC-AUC there inside the interval estimated from the same probabilities (None: the
    bundle predates that record)."""
    low, high = reference.get("estimate_roc_auc_low"), reference.get("estimate_roc_auc_high")
    realised = reference.get("roc_auc")
    if low is None or high is None or realised is None:
        return None
    return bool(low <= realised <= high)


def _backtest_estimate(reference: Mapping[str, float | None]) -> dict[str, float] | None:
    value = reference.get("estimate_roc_auc")
    low, high = reference.get("estimate_roc_auc_low"), reference.get("estimate_roc_auc_high")
    if value is None or low is None or high is None:
        return None
    return {"value": value, "low": low, "high": high}


def estimate_notes(health: ModelHealth) -> list[str]:
    """A note per label whose estimate its own backtest did not confirm: a fact about the
    model (its probabilities are more spread, or less, than its outcomes), true of every
    snapshot, so never a concern or an alert."""
    out = []
    for label in health.estimated:
        reference = health.reference.get(label, {})
        if estimate_trusted(reference) is not False:
            continue
        realised = reference["roc_auc"]
        value, low, high = (
            reference["estimate_roc_auc"],
            reference["estimate_roc_auc_low"],
            reference["estimate_roc_auc_high"],
        )
        direction = "overstated" if (realised or 0.0) < (low or 0.0) else "understated"
        out.append(
            f"the label-free estimate of {label} {direction} its own backtest (estimated "
            f"{value:.3f} ({low:.3f}-{high:.3f}) from the window's probabilities, realised "
            f"{realised:.3f}): read its estimate as a comparison between snapshots, not as the "
            "ROC-AUC to expect; recalibrating on more rows may fix it"
        )
    return out
