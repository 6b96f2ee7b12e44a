"""What scoring a snapshot needs besides its rows, built the same way by the served state
(``serving.cache``) and by ``churnlight score`` (``serving.batch``): the two classifiers'
views, the playbook library (checked against every feature it may name), the scoring
settings and, when a survival champion is loaded, its view."""

from __future__ import annotations

from dataclasses import dataclass

from features.transforms import all_feature_specs
from serving.loading import LoadedModels
from serving.playbooks import PlaybookLibrary, load_playbooks
from serving.scoring import ModelView, ScoringConfig
from serving.settings import ServingSettings
from serving.snapshot import Snapshot
from serving.survival import SurvivalView


@dataclass(frozen=True)
class ScoringInputs:
    churn: ModelView
    expansion: ModelView
    playbooks: PlaybookLibrary
    config: ScoringConfig
    survival: SurvivalView | None


def scoring_inputs(
    models: LoadedModels,
    snapshot: Snapshot,
    settings: ServingSettings,
    *,
    curve_drivers: bool,
    lazy: bool = False,
) -> ScoringInputs:
    """The inputs of scoring ``snapshot`` with ``models``; the survival view finds the curve
    drivers (``curve_drivers``), on demand with ``lazy``."""
    fallback = snapshot.spec_by_name
    churn = ModelView(models.churn, models.churn_info.label, fallback)
    expansion = ModelView(models.expansion, models.expansion_info.label, fallback)
    known = (
        {s.name for s in all_feature_specs()}
        | set(snapshot.table.schema.names)
        | set(churn.names)
        | set(expansion.names)
    )
    survival = None
    if models.survival is not None and models.survival_info is not None:
        survival = SurvivalView.of(
            models.survival, models.survival_info.label, fallback, curve_drivers, lazy
        )
    return ScoringInputs(
        churn,
        expansion,
        load_playbooks(settings.playbooks_path, known),
        ScoringConfig.from_settings(settings),
        survival,
    )
