"""What a training run produced: per label the registered model and everything measured
about it (``LabelResult``), and the run as a whole (``TrainingResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from features.model_bundle import ModelBundle
from training.dataset import ModelData
from training.evaluate import WindowResult, summary_row
from training.options import TrainOptions
from training.splits import TemporalFold

if TYPE_CHECKING:
    from training.survival_train import SurvivalResult


@dataclass
class LabelResult:
    """One label's registered model and everything measured about it."""

    label: str
    kind: str
    bundle: ModelBundle
    windows: list[WindowResult]
    """Backtest windows, latest first (tabular: the pooled CV result, then each fold)."""
    params: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)
    """Arrays for the plots: y, predictions, mrr (last window); shap, matrix (explained rows)."""
    last_fold: TemporalFold | None = None

    @property
    def last(self) -> WindowResult:
        return self.windows[0]

    def summary(self) -> dict[str, float | None]:
        """The last window's metrics under their public names (roc_auc, pr_auc, ...)."""
        return summary_row(self.last)


@dataclass
class TrainingResult:
    """One run: every label's result, the feature table's facts, the top-risk report."""

    mode: Literal["temporal", "tabular"]
    labels: dict[str, LabelResult]
    facts: dict[str, Any]
    options: TrainOptions
    data: ModelData
    top_risk: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    base: Any = None
    survival: SurvivalResult | None = None
    """The time-to-churn model (``training.survival_train``), when trained."""
    """The binned LightGBM dataset of ``data`` (reused to refit a champion's recipe)."""
