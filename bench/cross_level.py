"""Scores for the calibration's level from models that did not see the account (measured
by ``bench.calibration_level``, not used by training: it did not lower the served ECE).

The level of a calibration (``training.calibration.shift_level``) is set on every account's
labelled rows at the validation dates. The holdout accounts' rows there are scored by the
fold's models as they are (none of their rows was fit). The other accounts had their earlier
rows in the fit, with labels that reach into the validation dates, so the fold's models score
them more confidently than they will score a new row; an offset computed on those scores is
off by that optimism. Cross-fitting removes it: the other accounts are split into ``groups``
groups by account, and each group's rows are scored by the candidates refit without that
group's accounts (the booster with the fold fit's tree count, the additive model at its
strength, starting from its coefficients; the blend's weights as stacked), so every score at
the level rows comes from a model that never saw the account. The cost is ``groups`` refits
of each model on ``(groups - 1) / groups`` of the fit rows.

Measured (docs/training.md, "The cross-fitted level"): over 15 windows per label of five
sources, the mean served ECE moved 0.0237 -> 0.0248 (expansion) and 0.0182 -> 0.0189 (churn)
against the level on the fold's scores, for 36% more fit time: the fold models' optimism on
the accounts they had seen is not what moves the level.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from training.candidates import refit_candidates

if TYPE_CHECKING:
    from training.candidates import Candidates
    from training.recipe import FitData, Recipe

GROUPS = 2
"""Account groups of the cross-fit (each refit sees the other half of the fit accounts)."""


def level_groups(ids: np.ndarray, holdout: np.ndarray, groups: int, seed: int) -> np.ndarray:
    """Per row: -1 for a holdout account's row, else its account's group in [0, groups) (a
    seeded, stable choice per account, independent of the holdout's draw)."""
    unique, inverse = np.unique(ids.astype(str), return_inverse=True)
    draw = np.array([zlib.crc32(f"{seed}:level:{a}".encode()) % groups for a in unique])
    out = draw[inverse].astype(np.int64)
    out[np.asarray(holdout, dtype=bool)] = -1
    return out


def cross_fitted_scores(
    fitted: Candidates,
    recipe: Recipe,
    fits: FitData,
    fit_rows: np.ndarray,
    level_rows: np.ndarray,
    groups: np.ndarray,
) -> dict[str, np.ndarray]:
    """Raw scores of each candidate kind at ``level_rows``: a row of group -1 (a holdout
    account) scored by ``fitted``, a row of group g by the candidates refit on the fit rows
    of every account outside group g (``groups``: one entry per row of the data)."""
    x = fits.matrix[level_rows]
    z_tree = fitted.tree.raw_score(x)
    z_additive = fitted.additive.raw_score(x)
    level_group = groups[level_rows]
    for g in np.unique(level_group[level_group >= 0]):
        rows = fit_rows[groups[fit_rows] != g]
        here = level_group == g
        refit = refit_candidates(fitted, recipe, fits, rows)
        z_tree[here] = refit.tree.raw_score(x[here])
        z_additive[here] = refit.additive.raw_score(x[here])
    return {
        "lightgbm": z_tree,
        "additive": z_additive,
        "blend": fitted.blend.combine(z_tree, z_additive),
    }
