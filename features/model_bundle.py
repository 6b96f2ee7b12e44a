"""The model bundle: what a trained churnlight model is on disk, shared by training and serving.

``training`` writes bundles and ``serving`` reads them; the two never import each other, so the
format and the encoding of feature values into the model matrix live here, once. A bundle is
a directory:

- ``booster.txt``: the LightGBM model (text format; ``predict(..., pred_contrib=True)`` gives
  SHAP contributions in log-odds), absent for an additive model;
- ``bundle.json``: the label, the feature columns in model order (numeric, or categorical with
  the category list fixed at training time), the calibration map, the feature metadata
  (``FeatureSpec`` dicts) and the training facts (horizon, as-of date, feature-table
  fingerprint, parameters, evaluation summary); for an additive model or a blend (format 2)
  also ``model``: its kind and the additive terms and blend weights
  (``features.additive``).

A bundle's raw score (log-odds) and its SHAP values come from its kind: ``lightgbm`` (the
booster's TreeSHAP), ``additive`` (exact: each term minus its training mean) or ``blend``
(the weighted sum of both; additivity kept).

Encoding rules (``encode``): a numeric column becomes float64 (null -> NaN); a categorical
column becomes the index of its value in the stored category list as float64, and a value that
is null or was not seen in training becomes NaN (LightGBM's missing); a derived column is
computed from two numeric input columns of the frame (``ratio``: a / b, ``difference``: a - b;
a null input, a zero denominator or an infinite result gives NaN). Columns the frame lacks
are NaN. The calibration maps the booster's raw score (log-odds) to a probability.

Heavy libraries (lightgbm, pandas) are imported inside the functions that need them, so the
module stays cheap to import. In an MLflow model registered by training, the bundle directory
is the pyfunc artifact ``bundle``: ``bundle_path(mlflow.artifacts.download_artifacts(uri))``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.special import expit

# Relative, and nothing else of churnlight: this module, additive.py, errors.py and
# json_encoding.py are also copied, as the package ``churnlight_bundle``, into every logged
# MLflow model (training.run_logging), which then loads where churnlight is not installed.
from .additive import AdditiveModel, Blend
from .errors import ChurnlightError
from .json_encoding import json_default

if TYPE_CHECKING:
    import lightgbm

BUNDLE_FORMAT = 1
"""The format of a LightGBM-only bundle (unchanged since the first release)."""
BUNDLE_FORMAT_MODELS = 2
"""The format of a bundle with an additive model or a blend (``bundle.json``'s ``model``)."""
READABLE_FORMATS = (BUNDLE_FORMAT, BUNDLE_FORMAT_MODELS)
ModelKind = Literal["lightgbm", "additive", "blend"]
BOOSTER_FILE = "booster.txt"
BUNDLE_FILE = "bundle.json"
ARTIFACT_NAME = "bundle"
"""Name of the bundle directory among an MLflow pyfunc model's artifacts."""

ColumnKind = Literal["numeric", "categorical", "derived"]
DerivedOp = Literal["ratio", "difference"]
CalibrationMethod = Literal["identity", "platt", "isotonic"]


class BundleError(ChurnlightError):
    """A model bundle is missing, incomplete or of an unknown format."""


@dataclass(frozen=True)
class FeatureColumn:
    """One column of the model matrix, in model order."""

    name: str
    kind: ColumnKind = "numeric"
    categories: tuple[str, ...] = ()
    """Categorical only: the value of code i is categories[i]."""
    op: DerivedOp | None = None
    """Derived only: how the two ``inputs`` combine."""
    inputs: tuple[str, ...] = ()
    """Derived only: the two numeric input columns (a, b)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        if self.kind == "derived":
            out["op"] = self.op
            out["inputs"] = list(self.inputs)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureColumn:
        return cls(
            data["name"],
            data.get("kind", "numeric"),
            tuple(data.get("categories", ())),
            data.get("op"),
            tuple(data.get("inputs", ())),
        )

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The frame columns this column reads."""
        return self.inputs if self.kind == "derived" else (self.name,)


@dataclass(frozen=True)
class Calibration:
    """A monotone map from the booster's raw score z (log-odds) to a probability.

    - ``platt``: p = sigmoid(a * z + b);
    - ``isotonic``: piecewise-linear interpolation through the points (x, y), flat beyond
      the ends (x are raw scores in increasing order, y probabilities, non-decreasing);
    - ``identity``: p = sigmoid(z)."""

    method: CalibrationMethod = "identity"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, raw_score: np.ndarray) -> np.ndarray:
        z = np.asarray(raw_score, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(z, np.asarray(self.x), np.asarray(self.y))
        if self.method == "platt":
            return _sigmoid(self.a * z + self.b)
        return _sigmoid(z)

    def to_dict(self) -> dict[str, Any]:
        if self.method == "isotonic":
            return {"method": self.method, "x": list(self.x), "y": list(self.y)}
        return {"method": self.method, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(
            method=data.get("method", "identity"),
            a=float(data.get("a", 1.0)),
            b=float(data.get("b", 0.0)),
            x=tuple(float(v) for v in data.get("x", ())),
            y=tuple(float(v) for v in data.get("y", ())),
        )


@dataclass
class ModelBundle:
    """A trained model with everything needed to score and explain it."""

    label: str
    columns: list[FeatureColumn]
    calibration: Calibration
    booster: lightgbm.Booster | None
    """The LightGBM model; None for an additive model."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Feature specs (``features``: FeatureSpec dicts), horizon_days, as_of, fingerprint,
    params, evaluation summary, ... (JSON-serialisable)."""
    additive: AdditiveModel | None = None
    blend: Blend | None = None
    """With a booster and an additive model: how their raw scores combine."""

    def __post_init__(self) -> None:
        if self.booster is None and self.additive is None:
            raise BundleError("a model bundle needs a booster, an additive model or both")
        if (self.booster is not None and self.additive is not None) != (self.blend is not None):
            raise BundleError("a bundle with a booster and an additive model needs a blend")

    @property
    def kind(self) -> ModelKind:
        if self.blend is not None:
            return "blend"
        return "additive" if self.booster is None else "lightgbm"

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def input_columns(self) -> list[str]:
        """The frame columns ``encode`` reads, in model order, each once."""
        return list(dict.fromkeys(n for c in self.columns for n in c.source_columns))

    @property
    def feature_specs(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("features", []))

    def encode(self, frame: Any) -> np.ndarray:
        """The model matrix of ``frame`` (a pandas DataFrame, a pyarrow Table or a mapping of
        column name to values), shape (rows, features), float64."""
        return encode(frame, self.columns)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        """The model's raw score (log-odds) of an encoded matrix."""
        tree = None
        if self.booster is not None:
            tree = np.asarray(self.booster.predict(matrix, raw_score=True), dtype=np.float64)
        if self.additive is None:
            assert tree is not None
            return tree
        additive = self.additive.raw_score(matrix)
        if self.blend is None:
            return additive
        assert tree is not None
        return self.blend.combine(tree, additive)

    def predict_proba(self, frame: Any) -> np.ndarray:
        """Calibrated probabilities of the rows of ``frame`` (or of an encoded matrix)."""
        matrix = frame if isinstance(frame, np.ndarray) else self.encode(frame)
        return self.calibration.apply(self.raw_score(matrix))

    def contributions(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SHAP contributions in log-odds, ``(rows, features)``, and the base value per row.

        Contributions plus base value equal ``raw_score`` (additivity)."""
        tree = None
        if self.booster is not None:
            out = np.asarray(self.booster.predict(matrix, pred_contrib=True), dtype=np.float64)
            tree = (out[:, :-1], out[:, -1])
        if self.additive is None:
            assert tree is not None
            return tree
        additive = self.additive.contributions(matrix)
        if self.blend is None:
            return additive
        assert tree is not None
        return self.blend.combine_contributions(tree, additive)

    def importance(self) -> list[float]:
        """Per feature: the booster's split gain, or for an additive model or a blend the mean
        absolute contribution training measured (``metadata["importance"]``)."""
        if self.kind == "lightgbm" and self.booster is not None:
            return [float(g) for g in self.booster.feature_importance(importance_type="gain")]
        measured = self.metadata.get("importance") or {}
        return [float(measured.get(name, 0.0)) for name in self.feature_names]

    def model_dict(self) -> dict[str, Any] | None:
        """``bundle.json``'s ``model`` entry (None for a LightGBM-only bundle)."""
        if self.additive is None:
            return None
        out: dict[str, Any] = {"kind": self.kind, "additive": self.additive.to_dict()}
        if self.blend is not None:
            out["blend"] = self.blend.to_dict()
        return out


def encode(frame: Any, columns: Sequence[FeatureColumn]) -> np.ndarray:
    """Encode ``frame`` into the model matrix described by ``columns`` (see module docs)."""
    n_rows = _row_count(frame)
    matrix = np.full((n_rows, len(columns)), np.nan, dtype=np.float64)
    for j, column in enumerate(columns):
        if column.kind == "derived":
            matrix[:, j] = _derived(frame, column, n_rows)
            continue
        values = _column_values(frame, column.name)
        if values is None:
            continue
        if column.kind == "categorical":
            matrix[:, j] = _category_codes(values, column.categories)
        else:
            matrix[:, j] = _numeric(values)
    return matrix


def save_bundle(bundle: ModelBundle, directory: str | Path) -> Path:
    """Write ``bundle`` into ``directory`` (created if needed); return the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if bundle.booster is not None:
        bundle.booster.save_model(str(out / BOOSTER_FILE))
    models = bundle.model_dict()
    payload: dict[str, Any] = {
        "format": BUNDLE_FORMAT if models is None else BUNDLE_FORMAT_MODELS,
        "label": bundle.label,
        "columns": [c.to_dict() for c in bundle.columns],
        "calibration": bundle.calibration.to_dict(),
        "metadata": bundle.metadata,
    }
    if models is not None:
        payload["model"] = models
    (out / BUNDLE_FILE).write_text(json.dumps(payload, indent=1, default=json_default) + "\n")
    return out


def load_bundle(directory: str | Path) -> ModelBundle:
    """Read a bundle written by ``save_bundle``."""
    import lightgbm

    path = Path(directory)
    spec_path, booster_path = path / BUNDLE_FILE, path / BOOSTER_FILE
    if not spec_path.exists():
        raise BundleError(
            f"{str(path)!r} is not a churnlight model bundle (needs {BUNDLE_FILE}); load a "
            "model registered by `churnlight train`"
        )
    data = json.loads(spec_path.read_text())
    if data.get("format") not in READABLE_FORMATS:
        raise BundleError(
            f"model bundle {str(path)!r} has format {data.get('format')!r}; this churnlight "
            f"reads formats {', '.join(map(str, READABLE_FORMATS))}: retrain the model or "
            "upgrade churnlight"
        )
    models = data.get("model") or {}
    needs_booster = models.get("kind", "lightgbm") != "additive"
    if needs_booster and not booster_path.exists():
        raise BundleError(
            f"model bundle {str(path)!r} lacks {BOOSTER_FILE}; load a model registered by "
            "`churnlight train`"
        )
    return ModelBundle(
        label=data["label"],
        columns=[FeatureColumn.from_dict(c) for c in data["columns"]],
        calibration=Calibration.from_dict(data["calibration"]),
        booster=lightgbm.Booster(model_file=str(booster_path)) if needs_booster else None,
        metadata=data.get("metadata", {}),
        additive=AdditiveModel.from_dict(models["additive"]) if "additive" in models else None,
        blend=Blend.from_dict(models["blend"]) if "blend" in models else None,
    )


def bundle_path(model_dir: str | Path) -> Path:
    """The bundle directory inside a downloaded MLflow model directory (or the directory
    itself when it is a bundle)."""
    root = Path(model_dir)
    if (root / BUNDLE_FILE).exists():
        return root
    candidate = root / "artifacts" / ARTIFACT_NAME
    if (candidate / BUNDLE_FILE).exists():
        return candidate
    raise BundleError(
        f"no churnlight model bundle in {str(root)!r} (looked for {BUNDLE_FILE} and "
        f"artifacts/{ARTIFACT_NAME}/{BUNDLE_FILE})"
    )


# ---- helpers ------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(expit(z))


def _row_count(frame: Any) -> int:
    if hasattr(frame, "num_rows"):
        return int(frame.num_rows)
    if hasattr(frame, "shape"):
        return int(frame.shape[0])
    if isinstance(frame, Mapping):
        for values in frame.values():
            return len(values)
        return 0
    raise BundleError(f"cannot encode a {type(frame).__name__}; give a DataFrame or Table")


def _column_values(frame: Any, name: str) -> Any:
    if hasattr(frame, "schema") and hasattr(frame, "column") and hasattr(frame, "num_rows"):
        return frame.column(name) if name in frame.schema.names else None
    if hasattr(frame, "columns") and hasattr(frame, "iloc"):
        return frame[name] if name in frame.columns else None
    if isinstance(frame, Mapping):
        return frame.get(name)
    raise BundleError(f"cannot encode a {type(frame).__name__}; give a DataFrame or Table")


def _to_pandas_like(values: Any) -> Any:
    if hasattr(values, "to_pandas"):
        return values.to_pandas()
    return values


def _numeric(values: Any) -> np.ndarray:
    import pandas as pd

    series = pd.Series(_to_pandas_like(values))
    if series.dtype == bool or str(series.dtype) == "boolean":
        series = series.astype("Float64")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _derived(frame: Any, column: FeatureColumn, n_rows: int) -> np.ndarray:
    a_values = _column_values(frame, column.inputs[0])
    b_values = _column_values(frame, column.inputs[1])
    if a_values is None or b_values is None:
        return np.full(n_rows, np.nan)
    a, b = _numeric(a_values), _numeric(b_values)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b if column.op == "ratio" else a - b
    out[~np.isfinite(out)] = np.nan
    return out


def _category_codes(values: Any, categories: Sequence[str]) -> np.ndarray:
    import pandas as pd

    series = pd.Series(_to_pandas_like(values), dtype=object)
    as_text = series.where(series.isna(), series.astype(str))
    codes = pd.Index(list(categories), dtype=object).get_indexer(as_text).astype(np.float64)
    codes[codes < 0] = np.nan
    return codes
