"""The champion scored on a challenger's last backtest window, for the promotion gate.

The two must be compared on the same rows without the champion having seen their labels:
its registered model is used when every label it trained on had closed by the window's
cutoff; otherwise its recipe (``training.recipe``) is refit on the window's own training rows
as the challenger's window was (fit, validated, then refit on every labeled row before the
cutoff: ``training.temporal``).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from features.model_bundle import ModelBundle, encode
from training import model, splits
from training.candidates import fit_candidates, refit_candidates, refit_tree
from training.errors import TrainingError
from training.recipe import FitData, Recipe
from training.results import TrainingResult


def score_champion_on_fold(
    result: TrainingResult, label: str, champion: ModelBundle
) -> tuple[np.ndarray, np.ndarray, str]:
    """Probabilities of the champion on the challenger's last backtest window: (p, rows,
    how). The champion's registered model is used when every label it trained on had closed
    by the window's cutoff; otherwise its recipe (parameters, constraints, calibration) is
    refit on the window's own training rows (fit, validated, then refit on every labeled
    row before the cutoff), since its model has seen the window's labels.
    A recipe key the champion's bundle lacks takes the ``Recipe`` default, except the seed
    and holdout share, which take the challenger's run's."""
    outcome = result.labels[label]
    fold = outcome.last_fold
    if fold is None or fold.cutoff is None:
        raise TrainingError(f"{label} has no backtest window to score a champion on")
    data = result.data
    y = data.labels[label]
    labeled = data.labeled(label)
    options = result.options
    recipe = Recipe.from_dict(
        champion.metadata.get("recipe"),
        Recipe(seed=options.seed, holdout_share=options.holdout_share),
    )
    holdout = splits.holdout_accounts(data.ids, recipe.holdout_share, recipe.seed)
    fit, valid, test = fold.masks(data.snapshot_date, holdout)  # type: ignore[arg-type]
    test_rows = np.flatnonzero(test & labeled)
    through = champion.metadata.get("labels_through")
    if through and date.fromisoformat(through) <= fold.cutoff:
        return champion.predict_proba(data.raw.take(test_rows)), test_rows, "registered model"
    same = champion.columns == data.columns
    matrix = data.matrix if same else encode(data.raw, champion.columns)
    base = (
        result.base
        if same and result.base is not None
        else model.base_dataset(matrix, champion.columns, options.threads)
    )
    fits = FitData(base, y, champion.columns, matrix, options.threads)
    valid_rows = np.flatnonzero(valid & labeled)
    every_fit, every_valid, _ = fold.masks(data.snapshot_date)  # type: ignore[arg-type]
    refit_rows = np.flatnonzero((every_fit | every_valid) & labeled)
    level_rows = np.flatnonzero(every_valid & labeled)
    if recipe.kind != "lightgbm":
        candidates = fit_candidates(
            recipe,
            fits,
            np.flatnonzero(fit & labeled),
            valid_rows,
            additive_c=recipe.additive_c,
            level_rows=level_rows,
        )
        refit = refit_candidates(candidates, recipe, fits, refit_rows)
        return refit.predict(recipe.kind, matrix[test_rows]), test_rows, "recipe refit"
    fitted = recipe.fit(fits, np.flatnonzero(fit & labeled), valid_rows)
    cal, _ = recipe.calibrate(fitted, fits, valid_rows, level_rows=level_rows)
    tree = refit_tree(fitted, recipe, fits, refit_rows)
    return cal.apply(tree.raw_score(matrix[test_rows])), test_rows, "recipe refit"
