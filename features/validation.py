"""Check a source against the data contract before any feature is computed.

``validate_source`` reads every table of a source once, collects every problem it finds
(table, column, rule, number of rows, a few example keys) and either stops the run with a
``ValidationError`` carrying the whole report, or hands back the typed, clean tables of the
run, cut at the as-of date. See docs/validation.md and section 1 of the data contract.

- Fatal, always: a missing required table, a missing column of a present table, a key that
  is null or duplicated, a value that cannot be cast to the contract type.
- Row-level: an account_id not in accounts, a null in a not-null column, a broken row rule
  of the contract (``TableSpec.rules``). Fatal unless a quarantine directory is given; then
  the rows are written to ``<quarantine_dir>/<table>.parquet`` with a ``_reason`` column,
  counted, and left out of the run.
- Rows of dated tables dated on or after the as-of date are left out and counted (not a
  problem). The as-of date defaults to the day after the latest valid event timestamp.
- A warning, never fatal: ``activities.play`` ids the playbook library does not know, when
  the caller passes the library's ids (``known_plays``). The features package does not read
  the library (it lives in serving, above it); the CLI reads it and hands the ids down.

The work is in four modules: ``validation_rules`` compiles the contract's rules of a table
into checks (``TablePlan``), ``validation_checks`` runs them (one aggregate per table) and
turns the counts into problems, ``validation_report`` holds the report and its renderings,
and ``quarantine_writer`` writes the rows set aside. This module runs them in order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from features.contract import TABLES, TableSpec
from features.errors import SourceError, ValidationError
from features.quarantine_writer import write_quarantine
from features.sources import IBIS_TYPES, Source, conform
from features.validation_checks import run_checks, table_problems
from features.validation_report import Problem, TableCounts, ValidationReport
from features.validation_rules import (
    RULE_HAS_EVENTS,
    RULE_KNOWN_PLAY,
    RULE_TABLE_PRESENT,
    TablePlan,
    account_keys,
    as_of_limit,
    plan_table,
)


@dataclass
class ValidatedSource:
    """A source that passed validation: typed, clean tables cut at the as-of date.

    ``tables`` holds lazy Ibis expressions with exactly the contract's columns and types;
    rows that were quarantined and rows of dated tables dated on or after ``as_of`` are not
    in them. Optional tables the source lacks are not in ``tables``."""

    source: Source
    as_of: date
    tables: dict[str, ir.Table]
    report: ValidationReport

    def has(self, name: str) -> bool:
        return name in self.tables

    def table(self, name: str) -> ir.Table:
        try:
            return self.tables[name]
        except KeyError as err:
            raise SourceError(
                f"source {self.source.location!r} has no table {name!r}; "
                "check has() first for optional tables"
            ) from err


def validate_source(
    source: Source,
    as_of: date | None = None,
    quarantine_dir: Path | None = None,
    known_plays: Collection[str] | None = None,
) -> ValidatedSource:
    """Check every table of ``source`` against the contract and return its clean tables.

    ``as_of`` is the first day outside the run (default: the day after the latest valid
    event timestamp). With ``quarantine_dir``, rows breaking row-level rules are written to
    ``<quarantine_dir>/<table>.parquet`` with a ``_reason`` column and left out; without it
    they stop the run. With ``known_plays`` (the playbook library's ids), activities whose
    ``play`` is not one of them are reported as a warning (a non-fatal problem). Raises
    ``ValidationError`` (with ``.report``) when anything fatal is found; the report lists
    every problem of every table, not just the first."""
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    quarantine = quarantine_dir is not None
    report = ValidationReport(source=source.location, as_of=as_of, quarantine_dir=quarantine_dir)

    present: dict[str, TableSpec] = {}
    for name, spec in TABLES.items():
        if name in source.raw:
            present[name] = spec
        elif spec.required:
            report.problems.append(Problem(name, None, RULE_TABLE_PRESENT, 0))
        else:
            report.absent_tables.append(name)
    keys = (
        account_keys(TABLES["accounts"], source.raw["accounts"]) if "accounts" in present else None
    )
    plans = {name: plan_table(spec, source.raw[name], keys) for name, spec in present.items()}

    # Events first: without an explicit as-of date it is derived from them, and the other
    # tables' "after as-of" counts need it.
    order = sorted(plans, key=lambda n: (n != "events", list(TABLES).index(n)))
    for name in order:
        plan = plans[name]
        stats = run_checks(plan, report.as_of)
        report.tables[name] = TableCounts(
            rows_read=stats.rows,
            rows_invalid=stats.invalid,
            rows_after_as_of=stats.after,
        )
        report.problems += table_problems(plan, stats, quarantine)
        if name == "events" and report.as_of is None and plan.ts_checked:
            if stats.max_ts is None:
                report.problems.append(Problem("events", "ts", RULE_HAS_EVENTS, 0))
            else:
                report.as_of = _to_date(stats.max_ts) + timedelta(days=1)

    if known_plays is not None and "activities" in plans:
        warning = unknown_plays(plans["activities"].raw, known_plays)
        if warning is not None:
            report.problems.append(warning)

    # Report in the contract's order, whatever order the tables were read in.
    table_order = {name: i for i, name in enumerate(TABLES)}
    report.problems.sort(key=lambda p: table_order[p.table])
    report.tables = {name: report.tables[name] for name in TABLES if name in report.tables}
    if not report.ok:
        raise ValidationError(report.summary(), report)
    if report.as_of is None:  # pragma: no cover - events present with ts, or a fatal problem
        raise ValidationError(f"cannot derive the as-of date of {source.location!r}", report)

    if quarantine_dir is not None:
        for counts in report.tables.values():
            counts.rows_quarantined = counts.rows_invalid
        write_quarantine(
            {
                name: plan.quarantined() if report.tables[name].rows_quarantined else None
                for name, plan in plans.items()
            },
            quarantine_dir,
        )

    tables = {
        name: _clean(plan, source, report.as_of, has_invalid=report.tables[name].rows_invalid > 0)
        for name, plan in plans.items()
    }
    return ValidatedSource(source, report.as_of, tables, report)


def _clean(plan: TablePlan, source: Source, as_of: date, has_invalid: bool) -> ir.Table:
    """The table for the run: typed, without invalid rows, cut at ``as_of``."""
    spec = plan.spec
    # Without invalid rows the plain typed table will do: no join with accounts needed,
    # and no required text column holds an empty string (it would have broken not-null).
    if has_invalid and plan.invalid is not None:
        t = plan.base.filter(~plan.invalid)
    else:
        required = [c.name for c in spec.columns if not c.nullable]
        t = conform(source.raw[spec.name], spec, without_empty=required)
    if spec.date_column is not None:
        t = t.filter(t[spec.date_column] < as_of_limit(spec, as_of))
    return t.select(
        **{
            c.name: t[c.name] if c.name in t.columns else ibis.null(IBIS_TYPES[c.dtype])
            for c in spec.columns
        }
    )


def unknown_plays(activities: ir.Table, known: Collection[str]) -> Problem | None:
    """A warning counting the activities whose ``play`` is set but not in ``known`` (the
    playbook library's ids), with up to five of the unknown ids; None when every play is
    known or the table has no ``play`` column (a version 1 source)."""
    if "play" not in activities.columns:
        return None
    play = activities.play.cast("string").nullif("")
    unknown = activities.filter(play.notnull() & ~play.isin(list(known)))
    counts = unknown.group_by(id=play).agg(n=unknown.count()).order_by("id").to_pyarrow()
    total = sum(counts.column("n").to_pylist())
    if total == 0:
        return None
    ids = counts.column("id").to_pylist()
    return Problem(
        "activities",
        "play",
        RULE_KNOWN_PLAY,
        total,
        examples=[str(i) for i in ids[:5]],
        fatal=False,
    )


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()  # pragma: no cover
