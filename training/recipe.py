"""A model's recipe: what refits it on other rows.

The recipe is the parameters (before the per-fit defaults ``training.model.fit_booster``
adds from the fit rows), the monotone constraints, the class weighting, the calibration
method, the validation layout (validation snapshots and the holdout share of accounts) and
the seed. A temporal model's bundle stores it as ``metadata["recipe"]`` (``to_dict``); the
promotion gate reads it back (``from_dict``) to refit a champion on a challenger's window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from features.model_bundle import Calibration, FeatureColumn
from training import calibration, model

if TYPE_CHECKING:
    import lightgbm as lgb

    from training.options import TrainOptions


@dataclass(frozen=True)
class FitData:
    """What every fit of one label reads: the binned dataset of every row, the label of every
    row (NaN where unlabeled), the model columns, the matrix (for the validation AUC and the
    calibration's raw scores) and LightGBM's thread count (0 = automatic)."""

    base: lgb.Dataset
    y: np.ndarray
    columns: Sequence[FeatureColumn]
    matrix: np.ndarray
    threads: int = 0


@dataclass(frozen=True)
class Recipe:
    """Parameters, constraints, weighting, calibration, validation layout and seed of a
    model. The defaults are those a refit assumes for a key an older bundle lacks."""

    params: dict[str, Any] = field(default_factory=dict)
    monotone: dict[str, int] = field(default_factory=dict)
    """Feature -> +1 / -1; empty: unconstrained."""
    imbalance: model.Imbalance = "sqrt"
    calibration: calibration.Method = "auto"
    valid_snapshots: int = 3
    holdout_share: float = 0.3
    seed: int = 20240601
    kind: str = "lightgbm"
    """The chosen candidate (``training.candidates``): lightgbm, additive or blend."""
    additive_c: float | None = None
    """The additive candidate's regularisation strength (None: chosen on validation)."""
    calibration_level: Literal["validation", "every_account"] = "validation"
    """Where the calibration's level comes from: the validation fold's holdout accounts, or
    every account at the validation dates (``training.calibration.shift_level``; runs since
    its introduction; older bundles refit as they were trained)."""

    @classmethod
    def from_options(
        cls, options: TrainOptions, params: Mapping[str, Any], monotone: Mapping[str, int] | None
    ) -> Recipe:
        """The recipe a run with ``options`` fits with ``params`` and ``monotone``."""
        return cls(
            params=dict(params),
            monotone=dict(monotone or {}),
            imbalance=options.imbalance,
            calibration=options.calibration,
            valid_snapshots=options.valid_snapshots,
            holdout_share=options.holdout_share,
            seed=options.seed,
            calibration_level="every_account",
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a bundle's metadata."""
        return {
            "params": dict(self.params),
            "monotone": dict(self.monotone),
            "imbalance": self.imbalance,
            "calibration": self.calibration,
            "valid_snapshots": self.valid_snapshots,
            "holdout_share": self.holdout_share,
            "seed": self.seed,
            "kind": self.kind,
            "additive_c": self.additive_c,
            "calibration_level": self.calibration_level,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, fallback: Recipe | None = None) -> Recipe:
        """The recipe stored by ``to_dict``; a missing (or empty) key takes ``fallback``'s
        value (default: ``Recipe()``), so bundles written before a key existed still load."""
        data = data or {}
        base = fallback or cls()
        return cls(
            params=dict(data.get("params") or base.params),
            monotone={k: int(v) for k, v in (data.get("monotone") or base.monotone).items()},
            imbalance=data.get("imbalance", base.imbalance),
            calibration=data.get("calibration", base.calibration),
            valid_snapshots=int(data.get("valid_snapshots", base.valid_snapshots)),
            holdout_share=float(data.get("holdout_share", base.holdout_share)),
            seed=int(data.get("seed", base.seed)),
            kind=str(data.get("kind", base.kind)),
            additive_c=(
                float(data["additive_c"]) if data.get("additive_c") is not None else base.additive_c
            ),
            calibration_level=data.get("calibration_level", base.calibration_level),
        )

    def with_params(self, params: Mapping[str, Any]) -> Recipe:
        return replace(self, params=dict(params))

    def with_kind(self, kind: str, additive_c: float | None) -> Recipe:
        return replace(self, kind=kind, additive_c=additive_c)

    def with_monotone(self, monotone: Mapping[str, int] | None) -> Recipe:
        return replace(self, monotone=dict(monotone or {}))

    def fit(self, data: FitData, fit_rows: np.ndarray, valid_rows: np.ndarray) -> model.Fit:
        """A booster fit on ``fit_rows``, early-stopped on ``valid_rows`` (row indices of
        ``data``; neither may hold an unlabeled row)."""
        return model.fit_booster(
            data.base,
            data.y,
            fit_rows,
            valid_rows,
            data.columns,
            params=self.params,
            monotone=self.monotone,
            seed=self.seed,
            threads=data.threads,
            imbalance=self.imbalance,
            matrix=data.matrix,
        )

    def calibrate(
        self,
        fitted: model.Fit,
        data: FitData,
        valid_rows: np.ndarray,
        seed: int | None = None,
        level_rows: np.ndarray | None = None,
    ) -> tuple[Calibration, dict[str, float]]:
        """The calibration of ``fitted``'s raw scores on ``valid_rows`` and the facts of the
        method's choice; ``seed`` (default: the recipe's) splits the rows of the "auto"
        choice; ``level_rows`` (every account's rows at the validation dates) set its level
        when the recipe says so."""
        cal, facts = calibration.fit_calibration(
            fitted.raw_score(data.matrix[valid_rows]),
            data.y[valid_rows],
            self.calibration,
            self.seed if seed is None else seed,
        )
        return self.level(cal, facts, fitted.raw_score, data, level_rows), facts

    def level(
        self,
        cal: Calibration,
        facts: dict[str, float],
        raw_score: Any,
        data: FitData,
        level_rows: np.ndarray | None,
    ) -> Calibration:
        """``cal`` with its level set on ``level_rows`` (``raw_score``: matrix -> raw
        scores) when the recipe takes it from every account; the offset goes into ``facts``."""
        if self.calibration_level != "every_account" or level_rows is None or not len(level_rows):
            return cal
        z = raw_score(data.matrix[level_rows])
        moved = calibration.shift_level(cal, z, data.y[level_rows])
        facts["level_rows"] = float(len(level_rows))
        facts["level_rate"] = float(np.mean(data.y[level_rows]))
        facts["level_mean_before"] = float(np.mean(cal.apply(z)))
        return moved
