"""Temporal folds with a purge gap, and stratified folds for tabular mode.

Leakage rule. A row of snapshot t has a label that looks at [t, t + span) (span = horizon,
plus the grace period for churn). A model evaluated from cutoff c (its test rows have
snapshot_date >= c) may train only on rows whose label window has closed by c:

    t + span <= c

so no training label overlaps the evaluation period. Inside the training rows, the latest
``valid_size`` snapshot dates form the out-of-time validation fold (early stopping and
calibration) and the earlier ones the fit fold; validation rows come strictly after fit rows.

Rolling origin. The labeled snapshot dates are cut, from the latest back, into evaluation
windows of ``window_size`` dates: window 0 is the last ``window_size`` labeled dates, window 1
the ``window_size`` before them, and so on. Each window has its own cutoff and training rows.
The final model (the one registered) trains on every labeled date, with the latest
``valid_size`` as its validation fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from training.errors import TrainingError


@dataclass(frozen=True)
class TemporalFold:
    """One fit / validation / test split by snapshot date."""

    name: str
    fit_dates: tuple[date, ...]
    valid_dates: tuple[date, ...]
    test_dates: tuple[date, ...] = ()
    cutoff: date | None = None
    """First day of the evaluation period (None for the final model)."""
    span_days: int = 0

    @property
    def train_dates(self) -> tuple[date, ...]:
        return self.fit_dates + self.valid_dates

    def masks(
        self, snapshot_date: np.ndarray, holdout: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean masks (fit, valid, test) over rows with these snapshot dates.

        With ``holdout`` (a boolean per row: the row's account is a validation account), the
        validation fold keeps only holdout accounts, and the fit fold drops their rows whose
        label window reaches into the validation period (t + span > first validation date):
        no label of a validation account is known, even in part, to the fit."""
        fit = _isin(snapshot_date, self.fit_dates)
        valid = _isin(snapshot_date, self.valid_dates)
        if holdout is not None and self.valid_dates:
            open_at_valid = snapshot_date + np.timedelta64(self.span_days, "D") > np.datetime64(
                self.valid_dates[0], "D"
            )
            fit &= ~(holdout & open_at_valid)
            valid &= holdout
        return fit, valid, _isin(snapshot_date, self.test_dates)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "fit": _range(self.fit_dates),
            "valid": _range(self.valid_dates),
            "test": _range(self.test_dates),
            "purge_days": self.span_days,
        }


def trainable_dates(dates: Sequence[date], cutoff: date, span_days: int) -> list[date]:
    """Dates whose label window [t, t + span) has closed by ``cutoff``: t + span <= cutoff."""
    gap = timedelta(days=span_days)
    return [d for d in sorted(dates) if d + gap <= cutoff]


def split_fit_valid(
    train_dates: Sequence[date], valid_size: int
) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """The latest ``valid_size`` dates for validation, the earlier ones to fit on."""
    ordered = sorted(train_dates)
    if len(ordered) < 2:
        raise TrainingError(
            f"only {len(ordered)} labeled snapshot date(s) to train on; need at least 2 "
            "(one to fit, one to validate): use a longer history or fewer --backtests"
        )
    size = max(1, min(valid_size, len(ordered) // 3 or 1))
    return tuple(ordered[:-size]), tuple(ordered[-size:])


def backtest_folds(
    labeled_dates: Sequence[date],
    span_days: int,
    windows: int,
    window_size: int,
    valid_size: int,
) -> tuple[list[TemporalFold], list[str]]:
    """Rolling-origin folds, latest first, and notes on the windows that could not be formed.

    Raises when not even the latest window has enough earlier data to train on."""
    dates = sorted(set(labeled_dates))
    folds: list[TemporalFold] = []
    notes: list[str] = []
    for k in range(windows):
        end = len(dates) - k * window_size
        start = end - window_size
        if start < 1:
            notes.append(f"backtest {k}: not enough labeled snapshot dates for this window")
            break
        test = tuple(dates[start:end])
        cutoff = test[0]
        train = trainable_dates(dates[:start], cutoff, span_days)
        if len(train) < 2:
            notes.append(
                f"backtest {k} (cutoff {cutoff}): fewer than 2 snapshot dates end their "
                f"{span_days}-day label window before the cutoff"
            )
            break
        fit, valid = split_fit_valid(train, valid_size)
        folds.append(TemporalFold(f"backtest_{k}", fit, valid, test, cutoff, span_days))
    if not folds:
        raise TrainingError(
            f"cannot form a single backtest window: {len(dates)} labeled snapshot date(s), "
            f"{window_size} per window, label windows of {span_days} days to purge. "
            + " ".join(notes)
            + " Use a longer history (more snapshots) or a smaller evaluation window."
        )
    return folds, notes


@dataclass(frozen=True)
class GroupedFold(TemporalFold):
    """A fold of a short history, where no out-of-time window fits: the test rows are one
    group of accounts (``test_accounts``, every labeled date of theirs); the fit and
    validation folds are the other accounts' rows, split by date and purged like the final
    fold. It measures how the model ranks accounts it never saw, not how it holds up in a
    later period: weaker evidence than an out-of-time backtest."""

    test_accounts: frozenset[str] = frozenset()
    group: int = 0
    groups: int = 0

    def account_masks(
        self, snapshot_date: np.ndarray, ids: np.ndarray, holdout: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean masks (fit, valid, test) over rows with these dates and account ids."""
        fit, valid, _ = self.masks(snapshot_date, holdout)
        test = np.isin(ids.astype(str), np.array(sorted(self.test_accounts), dtype=str))
        return fit & ~test, valid & ~test, test

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "test": f"account group {self.group + 1} of {self.groups} "
            f"({len(self.test_accounts)} accounts, every labeled date)",
        }


def grouped_folds(
    labeled_dates: Sequence[date],
    ids: np.ndarray,
    groups: int,
    valid_size: int,
    span_days: int,
    seed: int,
) -> list[GroupedFold]:
    """``groups`` folds by account (a seeded, stable assignment), each testing one group of
    accounts on every labeled date; the fit and validation dates are the final fold's."""
    import zlib

    final = final_fold(labeled_dates, valid_size, span_days)
    unique = np.unique(ids.astype(str))
    group_of = np.array([zlib.crc32(f"{seed}:group:{a}".encode()) % groups for a in unique])
    return [
        GroupedFold(
            f"grouped_{g}",
            final.fit_dates,
            final.valid_dates,
            final.train_dates,
            None,
            span_days,
            frozenset(unique[group_of == g].tolist()),
            g,
            groups,
        )
        for g in range(groups)
    ]


def final_fold(labeled_dates: Sequence[date], valid_size: int, span_days: int) -> TemporalFold:
    """The registered model's split: every labeled date, the latest ``valid_size`` validate."""
    fit, valid = split_fit_valid(sorted(set(labeled_dates)), valid_size)
    return TemporalFold("final", fit, valid, (), None, span_days)


def holdout_accounts(ids: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A boolean per row: whether its account is among the validation accounts (a seeded,
    stable choice of about ``share`` of the accounts, the same for every row of an account)."""
    import zlib

    unique, inverse = np.unique(ids.astype(str), return_inverse=True)
    draw = np.array([zlib.crc32(f"{seed}:{a}".encode()) / 2**32 for a in unique])
    return (draw < share)[inverse]


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs of stratified k-fold over rows with a label (y not NaN)."""
    from sklearn.model_selection import StratifiedKFold

    rows = np.flatnonzero(~np.isnan(y))
    target = y[rows].astype(int)
    minority = int(min(target.sum(), len(target) - target.sum()))
    if minority < k:
        raise TrainingError(
            f"the rarer class has {minority} row(s); stratified {k}-fold needs at least {k}"
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(rows[a], rows[b]) for a, b in splitter.split(rows, target)]


def _isin(snapshot_date: np.ndarray, dates: Sequence[date]) -> np.ndarray:
    if not dates:
        return np.zeros(len(snapshot_date), dtype=bool)
    return np.isin(snapshot_date, np.array([np.datetime64(d, "D") for d in dates]))


def _range(dates: Sequence[date]) -> str | None:
    if not dates:
        return None
    return f"{dates[0].isoformat()}..{dates[-1].isoformat()} ({len(dates)} dates)"
