"""The play-effects bundle: what a registered effects model is on disk, shared by training
(writes) and serving (reads), like ``model_bundle`` for the classifiers.

A directory with ``effects.json`` (``format``, the feature ``columns`` in model order as in a
model bundle, the ``effects`` table: one row per (play, label, segment) cell with ``effect``
(the effect on the treated, a change in probability), ``ci_low``, ``ci_high``,
``n_treated``, ``evidence`` and ``reason``, the ATE beside it, and ``metadata``, which
holds the fit's facts and ``expansion_share``: what an expansion is worth) and one
LightGBM text file per per-account uplift model, ``uplift-<play>-<label>.txt``: features ->
the change in P(label) if the play is run (negative: less likely).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from features.json_encoding import json_default
from features.model_bundle import BundleError, FeatureColumn, encode

if TYPE_CHECKING:
    import lightgbm

EFFECTS_FORMAT = 1
EFFECTS_FILE = "effects.json"
EFFECTS_ARTIFACT = "effects"
"""The artifact folder of an MLflow run that holds the bundle (the registered version's source)."""
ALL_SEGMENTS = "all"
EXPANSION_SHARE = "expansion_share"
"""The metadata key of the mean past expansion as a share of MRR, ``{"all": ..., segment:
...}`` (``training.effects.sizes``): what one more expansion is worth. Bundles without it
(fitted before it existed) count no expansion ARR."""


@dataclass
class EffectsBundle:
    columns: list[FeatureColumn]
    effects: list[dict[str, Any]]
    uplift: dict[tuple[str, str], lightgbm.Booster] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def has_uplift(self, play: str, label: str) -> bool:
        return (play, label) in self.uplift

    def uplift_of(self, play: str, label: str, frame: Any) -> np.ndarray | None:
        """The per-row change in P(label) if ``play`` is run (in [-1, 1]), or None when the
        play has no uplift model for the label. ``frame`` is a table or an encoded matrix."""
        booster = self.uplift.get((play, label))
        if booster is None:
            return None
        matrix = frame if isinstance(frame, np.ndarray) else encode(frame, self.columns)
        return np.clip(np.asarray(booster.predict(matrix), dtype=np.float64), -1.0, 1.0)

    def expansion_share(self, segment: str | None) -> float | None:
        """The mean past expansion as a share of MRR in ``segment`` (else the whole book's);
        None when the bundle does not hold it."""
        shares = self.metadata.get(EXPANSION_SHARE) or {}
        value = shares.get(str(segment)) if segment is not None else None
        if value is None:
            value = shares.get(ALL_SEGMENTS)
        return None if value is None else float(value)

    def cell(self, play: str, label: str, segment: str = "all") -> dict[str, Any] | None:
        for row in self.effects:
            if row["play"] == play and row["label"] == label and row["segment"] == segment:
                return row
        return None


def _file(play: str, label: str) -> str:
    return f"uplift-{play}-{label}.txt"


def save_effects_bundle(bundle: EffectsBundle, directory: str | Path) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    models = []
    for (play, label), booster in sorted(bundle.uplift.items()):
        booster.save_model(str(out / _file(play, label)))
        models.append({"play": play, "label": label, "file": _file(play, label)})
    payload = {
        "format": EFFECTS_FORMAT,
        "kind": "effects",
        "columns": [c.to_dict() for c in bundle.columns],
        "effects": bundle.effects,
        "uplift": models,
        "metadata": bundle.metadata,
    }
    (out / EFFECTS_FILE).write_text(json.dumps(payload, indent=1, default=json_default) + "\n")
    return out


def find_effects_bundle(directory: str | Path) -> Path:
    """The bundle directory in a downloaded artifact folder (the folder or its ``effects``)."""
    root = Path(directory)
    for candidate in (root, root / EFFECTS_ARTIFACT):
        if (candidate / EFFECTS_FILE).exists():
            return candidate
    raise BundleError(f"no play-effects bundle in {str(root)!r} (looked for {EFFECTS_FILE})")


def load_effects_bundle(directory: str | Path) -> EffectsBundle:
    import lightgbm

    path = find_effects_bundle(directory)
    data = json.loads((path / EFFECTS_FILE).read_text())
    if data.get("format") != EFFECTS_FORMAT:
        raise BundleError(
            f"play-effects bundle {str(path)!r} has format {data.get('format')!r}; this "
            f"churnlight reads {EFFECTS_FORMAT}: run `churnlight plays` again"
        )
    uplift = {
        (m["play"], m["label"]): lightgbm.Booster(model_file=str(path / m["file"]))
        for m in data.get("uplift", [])
    }
    return EffectsBundle(
        columns=[FeatureColumn.from_dict(c) for c in data["columns"]],
        effects=list(data["effects"]),
        uplift=uplift,
        metadata=data.get("metadata", {}),
    )
