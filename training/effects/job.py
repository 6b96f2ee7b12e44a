"""`churnlight plays`: source -> feature table -> play runs -> effects (and what an expansion
is worth, ``sizes``) -> MLflow and registry.

Orchestration only: the feature table is built from the source (``features.pipeline``, the
same monthly snapshots and labels as training) unless one is given, the runs are read from
the source's ``activities.play``, and the fit and the publication are the other modules'."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.effects_bundle import EXPANSION_SHARE
from features.writer import read_feature_table
from training.dataset import from_feature_file
from training.effects.fit import EffectsOptions, EffectsResult, fit_effects
from training.effects.followup import FollowUp, follow_up
from training.effects.publish import EffectsPublication, publish_effects
from training.effects.runs import read_play_runs
from training.effects.sizes import source_expansion_shares
from training.settings import TrainingSettings

if TYPE_CHECKING:
    import pyarrow as pa

Progress = Callable[[str, int, int], None]
JSON_KEYS = ("play", "label", "segment", "effect", "ci_low", "ci_high", "n_treated", "evidence")


@dataclass
class EffectsJob:
    result: EffectsResult
    publication: EffectsPublication

    def payload(self) -> dict[str, Any]:
        """``--json``: ``{"plays": [{play, label, segment, effect, ci_low, ci_high, n_treated,
        evidence}, ...]}``; evidence is "ok", "not enough evidence" or "confounded"."""
        return {"plays": [{k: row[k] for k in JSON_KEYS} for row in self.result.rows]}


def estimate_play_effects(
    source: Path,
    plays: Sequence[str],
    settings: TrainingSettings,
    features: Path | None = None,
    register: bool = True,
    plot_path: Path | None = None,
    options: EffectsOptions | None = None,
    progress: Progress | None = None,
) -> EffectsJob:
    """Estimate every play's effects on the source's feature table, log and register them."""
    with tempfile.TemporaryDirectory(prefix="churnlight-plays-") as tmp:
        table_path = features or feature_table_of(source, Path(tmp), progress)
        data = from_feature_file(read_feature_table(table_path))
    runs = read_play_runs(source)
    result = fit_effects(data, runs, plays, options, progress=progress)
    result.facts[EXPANSION_SHARE] = source_expansion_shares(source)
    if progress:
        progress("logging to MLflow", 0, 1)
    publication = publish_effects(result, settings, register=register, plot_path=plot_path)
    return EffectsJob(result, publication)


def feature_table_of(source: Path, directory: Path, progress: Progress | None = None) -> Path:
    """Build the source's feature table (monthly snapshots, labels) into ``directory``."""
    from features.pipeline import FeatureOptions, build_features

    path = directory / "features.parquet"
    build_features(source, path, FeatureOptions(), progress=progress)
    return path


def follow_up_plays(
    source: Path,
    features: Path,
    recommended: pa.Table,
    basis: str,
    plays: Sequence[str],
    options: EffectsOptions | None = None,
) -> FollowUp:
    """The follow-up report of the source's play runs against the recommendations."""
    data = from_feature_file(read_feature_table(features))
    return follow_up(data, read_play_runs(source), recommended, basis, plays, options)
