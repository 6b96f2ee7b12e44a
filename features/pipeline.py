"""Orchestration of the feature stage: validated tables -> labels and features.

The transforms stay lazy; this module decides what is materialised (the per-segment
activity tables, the snapshot rows, each family's result) so that each family is timed and
shown as progress, and the raw events are scanned once (per user and segment), twice when
the core features do not fit in bits (then also per feature)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from features.contract import label_names
from features.errors import ConfigError
from features.labels import churn_times, label_table
from features.metadata import FeatureSpec
from features.null_features import NullFeature, null_features
from features.snapshots import (
    calendar,
    calendar_table,
    day_segments_table,
    default_as_of,
    monthly_snapshot_dates,
    segment_windows_table,
    snapshot_rows,
    weekly_snapshot_dates,
)
from features.sources import Source, register_table
from features.transforms import FAMILY_MODULES, activity, all_feature_specs, column_needs
from features.transforms.base import KEYS, FeatureInputs

ACTIVITY_STEPS = ("user_segments", "user_windows")
TIME_COLUMNS = ("churn_days", "churn_observed")
"""Time to churn or to censoring of each row (``features.labels.churn_times``), after the
two labels: the survival model's labels, never features."""
FEATURE_SCAN_STEP = "feature_segments"
"""Only when the core features do not fit in bits (see ``activity.CoreFeatures``)."""
Progress = Callable[[str, int, int], None]
"""Called as progress(step_name, steps_done, steps_total)."""


@dataclass(frozen=True)
class FeatureOptions:
    as_of: date | None = None
    horizon_days: int = 180
    grace_days: int = 30
    warmup_days: int = 90
    snapshots: str | list[date] = "monthly"
    """'monthly', 'weekly', or explicit dates."""
    latest_only: bool = False
    """Only the as-of snapshot (for scoring); labels are then all null."""
    with_labels: bool = True
    known_plays: tuple[str, ...] | None = None
    """The playbook library's play ids: activities naming another play are a validation
    warning. None: not checked (the features package does not read the library)."""


@dataclass
class FeatureRun:
    """The feature table and the facts of the run that built it."""

    table: pa.Table
    as_of: date
    snapshot_dates: list[date]
    specs: list[FeatureSpec]
    seconds_per_step: dict[str, float] = field(default_factory=dict)
    null_features: list[NullFeature] = field(default_factory=list)
    """Features null on every row, with the reason (see ``features.null_features``)."""

    @property
    def rows_per_snapshot(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value in self.table.column("snapshot_date").to_pylist():
            counts[value.isoformat()] = counts.get(value.isoformat(), 0) + 1
        return dict(sorted(counts.items()))


def resolve_as_of(events: ir.Table, as_of: date | None) -> date:
    """The explicit as-of date, else the day after the latest event."""
    if as_of is not None:
        return as_of
    return default_as_of(events.ts.max().execute())


def resolve_snapshot_dates(events: ir.Table, as_of: date, options: FeatureOptions) -> list[date]:
    if options.latest_only:
        return [as_of]
    if isinstance(options.snapshots, list):
        return sorted(options.snapshots)
    first = events.filter(events.ts < ibis.timestamp(as_of.isoformat())).ts.min().execute()
    if first is None:
        raise ConfigError(f"no events before the as-of date {as_of}; nothing to snapshot")
    first_day = first.date()
    if options.snapshots == "monthly":
        return monthly_snapshot_dates(first_day, as_of, options.warmup_days)
    if options.snapshots == "weekly":
        return weekly_snapshot_dates(first_day, as_of, options.warmup_days)
    raise ConfigError(f"snapshots {options.snapshots!r} unknown; use 'monthly', 'weekly' or dates")


def build_feature_table(
    con: BaseBackend,
    tables: Mapping[str, ir.Table],
    options: FeatureOptions,
    progress: Progress | None = None,
) -> FeatureRun:
    """The feature table of validated ``tables`` (contract types, clean rows, before as-of).

    One row per (account_id, snapshot_date) active on snapshot_date - 1, sorted by both;
    canonical features first, then the others, then the two labels and the time to churn
    (``TIME_COLUMNS``). ``con`` is the backend
    holding ``tables``; the calendar and window map are registered on it."""
    events = tables["events"]
    as_of = resolve_as_of(events, options.as_of)
    dates = resolve_snapshot_dates(events, as_of, options)
    core = activity.core_features(tables.get("feature_catalog"))
    steps = [
        *ACTIVITY_STEPS,
        *([] if core.as_bits else [FEATURE_SCAN_STEP]),
        *FAMILY_MODULES,
        *(["labels", "churn_times"] if options.with_labels else []),
    ]
    seconds: dict[str, float] = {}
    grace = options.grace_days

    cached: list[ir.Table] = []

    def timed(name: str, make: Callable[[], ir.Table]) -> ir.Table:
        if progress:
            progress(name, len(seconds), len(steps))
        start = time.perf_counter()
        result = make().cache()
        cached.append(result)
        result.count().execute()  # force materialisation so the time lands on this step
        seconds[name] = round(time.perf_counter() - start, 3)
        return result

    cal = register_table(
        con,
        "churnlight_calendar",
        calendar_table(dates, as_of, options.horizon_days, options.grace_days),
    )
    day_segments = register_table(con, "churnlight_day_segments", day_segments_table(dates))
    segment_windows = register_table(
        con, "churnlight_segment_windows", segment_windows_table(dates)
    )
    subscriptions = tables["subscriptions"]
    rows = snapshot_rows(subscriptions, cal).cache()
    cached.append(rows)
    last = max(dates)
    segments = timed(
        "user_segments", lambda: activity.user_segments(events, core, day_segments, last)
    )
    # Before the feature scan: the join behind user_windows is the largest intermediate and
    # needs DuckDB's memory more than any cached table.
    windows = timed("user_windows", lambda: activity.user_windows(segments, segment_windows))
    features_used = (
        None
        if core.as_bits
        else timed(
            FEATURE_SCAN_STEP,
            lambda: activity.feature_segments(events, day_segments, last, core),
        )
    )
    inputs = FeatureInputs(
        rows=rows,
        frame=rows.join(cal, "snapshot_date"),
        day_segments=day_segments,
        segment_windows=segment_windows,
        tables=tables,
        user_segments=segments,
        feature_segments=features_used,
        user_windows=windows,
    )

    def family(module: ModuleType) -> Callable[[], ir.Table]:
        return lambda: module.build(inputs)

    results = [timed(name, family(module)) for name, module in FAMILY_MODULES.items()]
    specs = all_feature_specs()
    out = rows
    for result in results:
        out = out.left_join(result, list(KEYS))
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    churn_name, expand_name = label_names(options.horizon_days)
    if options.with_labels and not options.latest_only:
        labels = timed(
            "labels",
            lambda: label_table(rows, cal, subscriptions, options.horizon_days, options.grace_days),
        )
        out = out.left_join(labels, list(KEYS))
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
        times = timed("churn_times", lambda: churn_times(rows, subscriptions, as_of, grace))
        out = out.left_join(times, list(KEYS))
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    else:
        out = out.mutate(
            **{churn_name: ibis.null("int64"), expand_name: ibis.null("int64")},
            **{name: ibis.null("int64") for name in TIME_COLUMNS},
        )
    ordered = out.select(
        *KEYS, *[s.name for s in specs], churn_name, expand_name, *TIME_COLUMNS
    ).order_by(list(KEYS))
    if progress:
        progress("write", len(steps), len(steps))
    table = ordered.to_pyarrow()
    # The events are counted through their per-user reduction, never scanned again.
    nulls = null_features(table, specs, {**tables, "events": segments}, column_needs())
    # Free the intermediates now, not when the connection closes: a long-lived Spark session
    # (a notebook, a test run) otherwise keeps every run's cached tables in its memory.
    for result in cached:
        result.release()
    return FeatureRun(table, as_of, dates, specs, seconds, nulls)


def build_labels(
    source: Source,
    as_of: date | None = None,
    horizon_days: int = 180,
    grace_days: int = 30,
    snapshot_dates: list[date] | None = None,
    warmup_days: int = 90,
) -> ir.Table:
    """Labels of every (account_id, snapshot_date) row: churn_{H}d and expand_{H}d.

    Reads the source's tables as they are (for a simulator's clean output); user data goes
    through ``features.validation`` first."""
    rows, cal, subscriptions, _ = _snapshot_frame(
        source, as_of, horizon_days, grace_days, snapshot_dates, warmup_days
    )
    return label_table(rows, cal, subscriptions, horizon_days, grace_days)


def build_churn_times(
    source: Source,
    as_of: date | None = None,
    grace_days: int = 30,
    snapshot_dates: list[date] | None = None,
    warmup_days: int = 90,
) -> ir.Table:
    """Time to churn of every (account_id, snapshot_date) row: ``churn_days`` and
    ``churn_observed`` (``features.labels.churn_times``), on the same snapshot rows as
    ``build_labels``. Reads the source's tables as they are, like ``build_labels``."""
    horizon_days = FeatureOptions().horizon_days
    rows, _, subscriptions, as_of = _snapshot_frame(
        source, as_of, horizon_days, grace_days, snapshot_dates, warmup_days
    )
    return churn_times(rows, subscriptions, as_of, grace_days)


def _snapshot_frame(
    source: Source,
    as_of: date | None,
    horizon_days: int,
    grace_days: int,
    snapshot_dates: list[date] | None,
    warmup_days: int,
) -> tuple[ir.Table, ir.Table, ir.Table, date]:
    """The snapshot rows, their calendar, the subscriptions and the as-of date the label
    builders share."""
    events = source.typed("events")
    subscriptions = source.typed("subscriptions")
    as_of = resolve_as_of(events, as_of)
    options = FeatureOptions(
        as_of=as_of,
        horizon_days=horizon_days,
        grace_days=grace_days,
        warmup_days=warmup_days,
        snapshots=snapshot_dates if snapshot_dates is not None else "monthly",
    )
    dates = resolve_snapshot_dates(events, as_of, options)
    cal = calendar(dates, as_of, horizon_days, grace_days)
    return snapshot_rows(subscriptions, cal), cal, subscriptions, as_of


@dataclass
class FeatureSummary:
    """What `churnlight features` reports."""

    path: Path
    rows: int
    features: int
    as_of: date
    snapshots: int
    seconds_per_step: dict[str, float]
    rows_quarantined: int
    rows_after_as_of: int
    facts: dict[str, Any]
    null_features: list[NullFeature] = field(default_factory=list)
    """Features null on every row, with the reason."""


def build_features(
    source_location: str | Path,
    out_path: str | Path,
    options: FeatureOptions | None = None,
    backend: str | None = None,
    quarantine: bool = False,
    progress: Progress | None = None,
) -> FeatureSummary:
    """Source -> validated tables -> feature table (Parquet + ``.meta.json`` sidecar).

    With ``quarantine``, rows breaking row-level rules go to ``<out>.quarantine/`` beside
    the output instead of stopping the run."""
    from features.sources import connect, open_source
    from features.validation import validate_source
    from features.writer import write_feature_table

    options = options or FeatureOptions()
    out = Path(out_path)
    con = connect(backend)
    source = open_source(source_location, backend=backend, con=con)
    quarantine_dir = out.with_name(out.stem + ".quarantine") if quarantine else None
    validated = validate_source(
        source,
        as_of=options.as_of,
        quarantine_dir=quarantine_dir,
        known_plays=options.known_plays,
    )
    options = replace(options, as_of=validated.as_of)
    run = build_feature_table(source.con, validated.tables, options, progress=progress)
    report = validated.report
    churn_name, expand_name = label_names(options.horizon_days)
    facts: dict[str, Any] = {
        "source": str(source_location),
        "source_fingerprint": source.fingerprint(),
        "backend": con.name,
        "as_of": run.as_of.isoformat(),
        "horizon_days": options.horizon_days,
        "grace_days": options.grace_days,
        "snapshots": "latest_only"
        if options.latest_only
        else (options.snapshots if isinstance(options.snapshots, str) else "explicit"),
        "snapshot_dates": [d.isoformat() for d in run.snapshot_dates],
        "rows": run.table.num_rows,
        "rows_per_snapshot": run.rows_per_snapshot,
        "seconds_per_step": run.seconds_per_step,
        "absent_tables": list(report.absent_tables),
        "null_features": [null.to_dict() for null in run.null_features],
        "validation": report.to_dict()["tables"],
        "validation_warnings": [p for p in report.to_dict()["problems"] if not p["fatal"]],
        "quarantine_dir": str(quarantine_dir) if quarantine_dir else None,
        "labels": [churn_name, expand_name],
        "times": list(TIME_COLUMNS),
        "keys": list(KEYS),
        "features": [spec.to_dict() for spec in run.specs],
    }
    write_feature_table(run.table, out, facts)
    return FeatureSummary(
        path=out,
        rows=run.table.num_rows,
        features=len(run.specs),
        as_of=run.as_of,
        snapshots=len(run.snapshot_dates),
        seconds_per_step=run.seconds_per_step,
        rows_quarantined=sum(c.rows_quarantined for c in report.tables.values()),
        rows_after_as_of=sum(c.rows_after_as_of for c in report.tables.values()),
        facts=facts,
        null_features=run.null_features,
    )
