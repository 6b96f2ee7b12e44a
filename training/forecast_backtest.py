"""Forecast backtests, the orchestration: replay N monthly as-of dates of a source, each with
what was known before it only, and compare the forecasts with what happened
(``forecast.backtest`` owns the comparison, ``forecast.outlook`` the forecast).

For an as-of date T (a first of a month):

- features: the source's feature table is built once (cached by the source's fingerprint
  and as-of date) and cut to the snapshots before or at T. A feature at snapshot t reads only
  data before t (the feature pipeline's rule), so the cut equals a build as of T;
- labels: a label at snapshot t is used only when its window has closed by T
  (t + horizon + grace <= T for churn, t + horizon for expansion:
  ``training.splits.trainable_dates``); the value a full build gives it then equals the value
  a build as of T would give (its churn or growth is confirmed before T);
- models: one cheap, fixed LightGBM fit per label (no tuning, no candidates),
  early-stopped and Platt-calibrated on its latest two closed snapshot dates; the churn
  probabilities then put on the revenue scale (``forecast.level``; ``rescale``) by the
  realised over expected churns of paying rows out of the fit, counted in accounts, per
  segment, pooled: the two validation
  dates (their 180-day labels) and the snapshot dates after them up to the last month the
  book at T confirms (``recent_experiences``: labels still open, churns up to that month
  known at T), per segment with credibility;
- churn timing (``timing``): the 180-day score at the renewal dates (the feature table's
  ``days_to_renewal`` and ``term_length_days`` at T, as the API's forecast reads them from
  the served snapshot), or
  with ``SURVIVAL`` a survival model fit on the snapshots before T with the churn times as
  known at T (``survival_curves``), its curve anchored to the churn score as serving does;
- book: the MRR movements recomputed from the subscriptions that started before T (the
  contract's cut of a source at T), so sizes, the shock and the trailing baseline see
  nothing later;
- scores: the accounts of snapshot T; realised: their movements over the next months in the
  full history.

Windows run in threads (``jobs``): the simulations (NumPy) release the GIL, and threads
share the feature table instead of copying it. The LightGBM fits run one at a time (a lock):
a bench run with two windows fitting at once died of a segmentation fault. No maths here.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.writer import FeatureFile
from forecast.backtest import Window, evaluate, months_after, realised
from forecast.book import DEFAULT_GRACE_DAYS, Book, book_from_tables
from forecast.conformal import IntervalCalibration
from forecast.level import (
    Experience,
    churned_between,
    credible_ratios,
    experience,
    paying_counts,
    pooled,
    rescaled,
)
from forecast.movements import next_month
from forecast.outlook import HORIZONS, OutlookRequest, forecast_outlook
from forecast.timing import (
    CONSTANT,
    CURVE_COLUMNS,
    CURVE_DAYS,
    RENEWALS,
    SURVIVAL,
    churn_within,
)
from training import calibration, dataset, model, splits
from training.errors import TrainingError

BACKTEST_PARAMS: dict[str, Any] = {"learning_rate": 0.1, "num_leaves": 15, "max_depth": 4}
SURVIVAL_PARAMS: dict[str, Any] = {"learning_rate": 0.1}
"""The survival fit of a window (``--survival``): the served model's settings with a learning
rate of 0.1 (five times the served 0.02), so that one fit per window stays affordable."""
RENEWAL_COLUMNS = ("days_to_renewal", "term_length_days")
BACKTEST_ROUNDS = 300
BACKTEST_PATIENCE = 20
VALID_DATES = 2
RECENT_MONTHS = 6
"""How many monthly snapshot dates before the last confirmed month may measure the churn level
(those after the validation dates do)."""
_FITS = threading.Lock()
Progress = Callable[[int, int], None]
"""Called as progress(windows_done, windows_total)."""


@dataclass(frozen=True)
class BacktestResult:
    report: dict[str, Any]
    calibration: IntervalCalibration
    windows: list[Window]


def run_backtest(
    source: str | Path,
    windows: int,
    cache_dir: Path,
    horizons: Sequence[int] = HORIZONS,
    as_of: date | None = None,
    backend: str | None = None,
    simulations: int = 1000,
    seed: int = 0,
    jobs: int = 2,
    progress: Progress | None = None,
    timing: str = RENEWALS,
    rescale: bool = True,
) -> BacktestResult:
    """Replay the ``windows`` latest monthly as-of dates whose longest horizon has happened
    (whole months, outside the grace period of the source's as-of date)."""
    from features.pipeline import FeatureOptions, build_features
    from features.sources import connect, open_source
    from features.validation import validate_source
    from features.writer import read_feature_table

    if windows < 1:
        raise TrainingError(f"--backtest {windows}: give at least 1 window")
    opened = open_source(source, backend=backend, con=connect(backend))
    validated = validate_source(opened, as_of=as_of)
    final = validated.as_of
    tables = validated.tables
    dates = window_dates(final, windows, max(horizons), DEFAULT_GRACE_DAYS)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{opened.fingerprint()}|{final}".encode()).hexdigest()[:16]
    features_path = cache_dir / f"features-{key}.parquet"
    if not features_path.exists():
        build_features(source, features_path, FeatureOptions(as_of=final), backend=backend)
    features = read_feature_table(features_path)
    first_snapshot = min(features.table.column("snapshot_date").to_pylist())
    if dates[0] < first_snapshot:
        raise TrainingError(
            f"the first backtest as-of date {dates[0]} is before the first snapshot "
            f"{first_snapshot}; give fewer windows or a longer history"
        )
    subscriptions = tables["subscriptions"]
    history = book_from_tables(subscriptions, tables["accounts"], final, DEFAULT_GRACE_DAYS)
    groups = history.accounts.set_index("account_id")["segment"].fillna("(none)").to_dict()
    # The books as of each date are computed here, on this thread's connection; the windows
    # (fits and simulations) then run in threads.
    books = [
        book_from_tables(
            subscriptions.filter(subscriptions.start_date < ibis.date(t)),
            tables["accounts"],
            t,
            DEFAULT_GRACE_DAYS,
        )
        for t in dates
    ]
    done = 0

    def one(i: int) -> Window:
        nonlocal done
        window = replay_window(
            features, books[i], history.per_account, groups, horizons, simulations, seed,
            timing, rescale,
        )  # fmt: skip
        done += 1
        if progress:
            progress(done, len(dates))
        return window

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        replayed = list(pool.map(one, range(len(dates))))
    report, fitted = evaluate(replayed, horizons)
    timings = sorted({str(w.forecast["churn_timing"]) for w in replayed})
    report["churn_timing"] = " / ".join(timings)
    facts = {**dict(fitted.facts), "source": str(source), "source_as_of": final.isoformat()}
    facts["seed"] = seed
    facts["churn_timing"] = report["churn_timing"]
    calibrated = replace(fitted, facts=facts)
    return BacktestResult(report, calibrated, replayed)


def window_dates(as_of: date, windows: int, horizon: int, grace_days: int) -> list[date]:
    """The ``windows`` latest firsts of a month T whose ``horizon`` months [T, T + horizon)
    ended at least ``grace_days`` before ``as_of`` (their churns are confirmed), oldest first."""
    last = as_of.replace(day=1)
    while True:
        end = next_month(months_after(last, horizon)[-1])
        if end + timedelta(days=grace_days) <= as_of:
            break
        last = _previous_month(last)
    out = [last]
    while len(out) < windows:
        out.append(_previous_month(out[-1]))
    return sorted(out)


def _previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def replay_window(
    features: FeatureFile,
    book: Book,
    history: pd.DataFrame,
    groups: dict[str, str],
    horizons: Sequence[int],
    simulations: int,
    seed: int,
    timing: str = RENEWALS,
    rescale: bool = True,
) -> Window:
    """One as-of date (``book.as_of``): models fit on what was known before it, the forecast
    of its accounts, and what they did (from ``history``, the full movements)."""
    t = book.as_of
    table = features.table
    cut = table.filter(pc.less_equal(table.column("snapshot_date"), pa.scalar(t, pa.date32())))
    data = dataset.from_feature_file(FeatureFile(cut, features.facts))
    assert data.snapshot_date is not None
    now = data.snapshot_date == np.datetime64(t, "D")
    if not now.any():
        raise TrainingError(f"no feature rows at the backtest as-of date {t}")
    probabilities = {}
    ratios: dict[str, float] | None = None
    recent = recent_dates(t, book.grace_days, RECENT_MONTHS)
    past = np.isin(data.snapshot_date, np.array(recent, dtype="datetime64[D]"))
    with _FITS:
        for spec in data.label_specs:
            # only the rescaled churn level reads the past rows' scores
            wanted = past if spec.kind == "churn" and rescale else np.zeros_like(past)
            fit = _fit_and_score(data, spec, t, now, wanted)
            probabilities[spec.kind] = fit.now
            if spec.kind == "churn" and rescale:
                segment = data.groups.get("segment", np.full(len(data.ids), None))
                ratios = level_ratios(data, data.labels[spec.name], fit, past, book, recent)
                probabilities["churn"] = rescaled(probabilities["churn"], segment[now], ratios)
    scores = pd.DataFrame(
        {
            "account_id": data.ids[now].astype(str),
            "snapshot_date": t,
            "churn_probability": probabilities["churn"],
            "expansion_probability": probabilities["expansion"],
            "mrr": _mrr(data)[now],
            **(_renewal_columns(data, now) if timing != CONSTANT else {}),
        }
    )
    if timing == SURVIVAL:
        with _FITS:
            curve = survival_curves(data, t, now, probabilities["churn"], seed)
        if curve is not None:
            for j, column in enumerate(CURVE_COLUMNS):
                scores[column] = curve[:, j]
    # The book as `churnlight forecast` shows it by default (its own simulation, the whole
    # book's sizes), and the segments as `--by segment` shows them.
    request = OutlookRequest(horizons, simulations=simulations, seed=seed)
    whole = forecast_outlook(book, scores, request)
    forecast = forecast_outlook(book, scores, replace(request, by="segment"))
    for mine, overall in zip(forecast["horizons"], whole["horizons"], strict=True):
        mine["groups"] = [*overall["groups"], *mine["groups"]]
    forecast["churn_revenue_ratios"] = ratios
    accounts = scores["account_id"].tolist()
    actual = {h: realised(history, accounts, groups, t, h) for h in horizons}
    return Window(t, forecast, actual)


def recent_dates(t: date, grace_days: int, months: int) -> list[date]:
    """The ``months`` firsts of a month before the first month the book at ``t`` has not
    confirmed (a month is confirmed when it ended at least ``grace_days`` before ``t``: a
    lapse in it can no longer be closed by a renewal booked later), oldest first."""
    end = (t - timedelta(days=grace_days)).replace(day=1)
    out = [_previous_month(end)]
    while len(out) < months:
        out.append(_previous_month(out[-1]))
    return sorted(out)


def level_ratios(
    data: dataset.ModelData,
    label: np.ndarray,
    fit: ScoredFit,
    past: np.ndarray,
    book: Book,
    recent: Sequence[date],
) -> dict[str, float]:
    """The churn probabilities' revenue ratios per segment (``forecast.level``): realised over
    expected churns (of paying accounts, ``paying_counts``) of the validation rows (their
    closed 180-day ``label``) pooled with the ``past`` rows of the ``recent`` dates after the
    validation dates (``recent_experiences``), with credibility."""
    assert data.snapshot_date is not None
    segment = data.groups.get("segment", np.full(len(data.ids), None))
    valid = fit.valid_rows
    mrr = np.nan_to_num(_mrr(data)[valid])
    weight, churned = paying_counts(mrr, np.nan_to_num(label[valid]))
    closed = experience(weight, fit.valid, churned, segment[valid])
    later = data.snapshot_date > fit.valid_until
    after = [d for d in recent if np.datetime64(d, "D") > fit.valid_until]
    opened = recent_experiences(data, past & later, fit.past[later[past]], book, after)
    return credible_ratios(pooled([closed, *opened]))


def recent_experiences(
    data: dataset.ModelData,
    rows: np.ndarray,
    probability: np.ndarray,
    book: Book,
    dates: Sequence[date],
) -> list[dict[str, Experience]]:
    """Per snapshot date of ``dates`` (``forecast.level.experience``): expected and realised
    churns of the paying ``rows`` (counted in accounts: ``paying_counts``; ``rows`` is a
    mask: the snapshots of ``dates``, scored ``probability``) from their snapshot to the end
    of the last confirmed month (the month of ``dates``' last + 1), expected as the forecast
    computes it (the renewal dates when the table has them), realised from ``book`` (the
    subscriptions known at its as-of date)."""
    assert data.snapshot_date is not None
    if not dates:
        return []
    end = next_month(max(dates))
    segment = data.groups.get("segment", np.full(len(data.ids), None))
    renewal = _renewal_columns(data, rows)
    ids = data.ids[rows].astype(str)
    at = data.snapshot_date[rows]
    out = []
    for s in dates:
        mine = at == np.datetime64(s, "D")
        if not mine.any():
            continue
        frame = pd.DataFrame(
            {"churn_probability": probability[mine], **{k: v[mine] for k, v in renewal.items()}}
        )
        p_within, _ = churn_within(frame, (end - s).days)
        lost = churned_between(book.per_account, ids[mine], s, end)
        weight, churned = paying_counts(_mrr(data)[rows][mine], lost)
        out.append(experience(weight, p_within, churned, segment[rows][mine]))
    return out


def _renewal_columns(data: dataset.ModelData, now: np.ndarray) -> dict[str, np.ndarray]:
    """``days_to_renewal`` and ``term_length_days`` of the rows of snapshot ``t`` (what the
    score table of that date would carry), when the feature table has them."""
    out = {}
    for name in RENEWAL_COLUMNS:
        if name in data.raw.column_names:
            values = data.raw.column(name).to_numpy(zero_copy_only=False)
            out[name] = np.asarray(values, dtype=float)[now]
    return out


def survival_curves(
    data: dataset.ModelData, t: date, now: np.ndarray, churn_probability: np.ndarray, seed: int
) -> np.ndarray | None:
    """The survival model's curves of the rows of snapshot ``t`` (P(churn by d) at
    ``CURVE_DAYS``), anchored to ``churn_probability`` as serving anchors them: one fit on the
    snapshots before ``t`` with their churn times as known at ``t`` (``known_at``: a churn
    counts when confirmed by ``t`` - grace, else the row is censored there). None without
    churn times or churns."""
    from features.survival_bundle import anchor_curve
    from training.survival import fit_survival, followup_days
    from training.survival_train import _split_accounts, known_at

    if data.snapshot_date is None or "churn_days" not in data.times:
        return None
    grace = int(data.facts.get("grace_days", DEFAULT_GRACE_DAYS))
    days, observed = known_at(
        data.times["churn_days"], data.times["churn_observed"], data.snapshot_date, t, grace
    )
    rows = np.flatnonzero(~np.isnan(days) & ~now)
    if not len(rows) or np.nansum(observed[rows]) == 0:
        return None
    fit_rows, valid_rows = _split_accounts(data.ids, rows, seed)
    categorical = [j for j, c in enumerate(data.columns) if c.kind == "categorical"]
    try:
        fitted = fit_survival(
            data.matrix, data.feature_names, categorical, days, observed,
            followup_days(data.snapshot_date, t, grace), fit_rows, valid_rows,
            seed=seed, threads=1, params=SURVIVAL_PARAMS,
        )  # fmt: skip
    except TrainingError:  # e.g. no churn among the fit rows
        return None
    raw = fitted.churn_by(data.matrix[now], CURVE_DAYS)
    return anchor_curve(raw, CURVE_DAYS, churn_probability, 180)


def _mrr(data: dataset.ModelData) -> np.ndarray:
    return data.mrr if data.mrr is not None else np.zeros(len(data.ids))


@dataclass(frozen=True)
class ScoredFit:
    """One cheap fit's calibrated probabilities: of the rows of snapshot T (``now``), of the
    ``past`` rows asked for, and of its validation rows (``valid_rows``, the two latest
    closed snapshot dates, the newest of which is ``valid_until``)."""

    now: np.ndarray
    past: np.ndarray
    valid_rows: np.ndarray
    valid: np.ndarray
    valid_until: np.datetime64


def _fit_and_score(
    data: dataset.ModelData, spec: dataset.LabelSpec, t: date, now: np.ndarray, past: np.ndarray
) -> ScoredFit:
    """A cheap fixed fit of one label on the snapshots whose label closed by ``t``, and its
    calibrated probabilities (``ScoredFit``)."""
    assert data.snapshot_date is not None
    y = data.labels[spec.name]
    all_dates = sorted({d.astype("datetime64[D]").item() for d in np.unique(data.snapshot_date)})
    closed = splits.trainable_dates(all_dates, t, spec.span_days)
    if len(closed) < VALID_DATES + 1:
        raise TrainingError(
            f"{spec.name} as of {t}: {len(closed)} snapshot date(s) with a closed label; the "
            f"backtest needs {VALID_DATES + 1}: give fewer windows or a longer history"
        )
    valid_dates = np.array(closed[-VALID_DATES:], dtype="datetime64[D]")
    fit_dates = np.array(closed[:-VALID_DATES], dtype="datetime64[D]")
    labeled = ~np.isnan(y)
    fit_rows = np.flatnonzero(np.isin(data.snapshot_date, fit_dates) & labeled)
    valid_rows = np.flatnonzero(np.isin(data.snapshot_date, valid_dates) & labeled)
    base = model.base_dataset(data.matrix, data.columns, threads=1)
    fitted = model.fit_booster(
        base,
        np.nan_to_num(y, nan=0.0),
        fit_rows,
        valid_rows,
        data.columns,
        params=BACKTEST_PARAMS,
        threads=1,
        max_rounds=BACKTEST_ROUNDS,
        early_stopping_rounds=BACKTEST_PATIENCE,
    )
    raw_valid = fitted.raw_score(data.matrix[valid_rows])
    mapping = calibration.fit_platt(raw_valid, y[valid_rows])

    def scored(rows: np.ndarray) -> np.ndarray:
        if not rows.any():
            return np.zeros(0)
        return np.asarray(mapping.apply(fitted.raw_score(data.matrix[rows])), dtype=float)

    valid = np.asarray(mapping.apply(raw_valid), dtype=float)
    return ScoredFit(scored(now), scored(past), valid_rows, valid, valid_dates.max())
