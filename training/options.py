"""How to train: the options of one training run (``churnlight train`` and ``retrain``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from training import calibration, model

if TYPE_CHECKING:
    from training.settings import TrainingSettings

MonotoneMode = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class TrainOptions:
    """How to train; defaults come from ``TrainingSettings`` (``from_settings``)."""

    backtests: int = 3
    window_snapshots: int = 3
    valid_snapshots: int = 3
    holdout_share: float = 0.3
    """Share of accounts whose rows form the validation fold (see ``TemporalFold.masks``)."""
    tune_trials: int = 0
    """Optuna trials at most per label (0: the defaults, no search; ``train`` and ``retrain``
    take ``TrainingSettings.tune_trials``)."""
    tune_seconds: float | None = None
    """Time budget of the whole search, shared equally by the labels (None: no limit)."""
    params: dict[str, Any] = field(default_factory=dict)
    monotone: MonotoneMode = "auto"
    monotone_tolerance: float = 0.002
    calibration: calibration.Method = "auto"
    imbalance: model.Imbalance = "sqrt"
    derived: bool = True
    with_baselines: bool = True
    seed: int = 20240601
    threads: int = 0
    """LightGBM threads; 0 = automatic (``training.model.resolve_threads``)."""
    truth_dir: Path | None = None
    """The simulator's ``_truth`` folder; None: ``<source>/_truth`` when it exists."""
    labels: tuple[str, ...] | None = None
    cv_folds: int = 5
    candidates: tuple[str, ...] = ("additive", "lightgbm", "blend")
    """The candidate kinds the choice may register (``training.candidates.KINDS``); every
    kind is still fitted and reported."""
    top_accounts: int = 10
    survival: bool = True
    """Also train the time-to-churn model (``training.survival_train``); temporal mode only."""

    @classmethod
    def from_settings(cls, settings: TrainingSettings, **overrides: Any) -> TrainOptions:
        base = cls(
            backtests=settings.backtest_windows,
            window_snapshots=settings.eval_window_snapshots,
            valid_snapshots=settings.eval_window_snapshots,
            monotone_tolerance=settings.monotone_tolerance,
            seed=settings.train_seed,
            threads=settings.train_threads,
            cv_folds=settings.cv_folds,
            tune_trials=settings.tune_trials,
            tune_seconds=settings.tune_seconds,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def tune_seconds_per_label(self, labels: int) -> float | None:
        """Each label's share of ``tune_seconds``."""
        return None if self.tune_seconds is None else self.tune_seconds / max(labels, 1)
