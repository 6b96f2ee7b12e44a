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

Every check of a table is one conditional sum in a single aggregate over that table (keyed
tables group by their key first, which finds duplicates in the same pass); examples are
fetched with small limited queries only for the rules that failed. Everything is portable
Ibis, so it runs on DuckDB and on Spark alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from features.contract import (
    SURVEY_RANGES,
    TABLES,
    After,
    NonNegative,
    OneOf,
    RowRule,
    SurveyScoreRange,
    TableSpec,
)
from features.errors import SourceError, ValidationError
from features.sources import Source, cast_column, conform, strip_text

# Rule names of the checks that are not row rules of the contract; the contract's own rules
# are named by their ``name`` ("end_date > start_date", "mrr >= 0", ...).
RULE_TABLE_PRESENT = "table present"
RULE_COLUMN_PRESENT = "column present"
RULE_KEY_NOT_NULL = "key not null"
RULE_KEY_UNIQUE = "key unique"
RULE_NOT_NULL = "not null"
RULE_IN_ACCOUNTS = "in accounts"
RULE_HAS_EVENTS = "valid events to derive the as-of date"

MAX_EXAMPLES = 5
REASON_COLUMN = "_reason"
VALIDATION_DOC = "docs/validation.md"


def cast_rule(dtype: str) -> str:
    """The rule name of a cast check: ``castable to date`` and so on."""
    return f"castable to {dtype}"


@dataclass
class Problem:
    """One broken rule of one column of one table, with how many rows break it."""

    table: str
    column: str | None
    """None for a problem of the whole table (it is missing)."""
    rule: str
    rows: int
    examples: list[str] = field(default_factory=list)
    """Up to five example keys, or ``col=value`` descriptions for tables without a key."""
    fatal: bool = True
    quarantinable: bool = False
    """A row-level problem: with a quarantine directory its rows are set aside instead."""


@dataclass
class TableCounts:
    """Row counts of one present table."""

    rows_read: int = 0
    rows_invalid: int = 0
    """Rows breaking at least one row-level rule (quarantined when quarantine is on)."""
    rows_quarantined: int = 0
    """Invalid rows written to the quarantine directory (0 when the run stops)."""
    rows_after_as_of: int = 0
    """Valid rows dated on or after the as-of date, left out of the run."""

    @property
    def rows_kept(self) -> int:
        return self.rows_read - self.rows_invalid - self.rows_after_as_of


@dataclass
class ValidationReport:
    """Everything validation found in one source."""

    source: str
    as_of: date | None = None
    quarantine_dir: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    tables: dict[str, TableCounts] = field(default_factory=dict)
    absent_tables: list[str] = field(default_factory=list)
    """Optional tables the source does not have (not a problem)."""

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)

    @property
    def fatal_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    def find(self, table: str, column: str | None = None, rule: str | None = None) -> list[Problem]:
        """The problems of ``table``, narrowed to ``column`` and ``rule`` when given."""
        return [
            p
            for p in self.problems
            if p.table == table
            and (column is None or p.column == column)
            and (rule is None or p.rule == rule)
        ]

    def summary(self) -> str:
        """The verdict, with every problem that stops the run listed (the error message)."""
        lines = [self._headline() + (":" if self.fatal_problems else "")]
        for p in self.fatal_problems:
            where = p.table if p.column is None else f"{p.table}.{p.column}"
            rows = f", {p.rows} row(s)" if p.column is not None else ""
            examples = f" (e.g. {', '.join(p.examples)})" if p.examples else ""
            lines.append(f"  - {where}: {p.rule}{rows}{examples}")
        hint = self._hint()
        return "\n".join([*lines, hint] if hint else lines)

    def verdict(self) -> str:
        """One or two lines: whether the source meets the contract, and what to do next."""
        hint = self._hint()
        return f"{self._headline()}\n{hint}" if hint else self._headline()

    def _headline(self) -> str:
        head = f"source {self.source!r}"
        if self.as_of is not None:
            head += f" (as of {self.as_of.isoformat()})"
        fatal = self.fatal_problems
        if fatal:
            return f"{head} breaks the data contract; {len(fatal)} problem(s) stop the run"
        quarantined = sum(c.rows_quarantined for c in self.tables.values())
        tail = f"; {quarantined} row(s) quarantined" if quarantined else ""
        return f"{head} meets the data contract{tail}"

    def _hint(self) -> str:
        fatal = self.fatal_problems
        if not fatal:
            return ""
        if any(p.quarantinable for p in fatal):
            return (
                "row-level problems can be set aside with a quarantine directory "
                f"(--quarantine-dir); see {VALIDATION_DOC}"
            )
        return f"fix the source; see {VALIDATION_DOC} and docs/data-contract.md"

    def format(self) -> str:
        """The report as plain text: the problems, then the row counts of each table."""
        out = [self.summary(), ""]
        if self.problems:
            rows = [
                [
                    p.table,
                    p.column or "-",
                    p.rule,
                    str(p.rows),
                    "yes" if p.fatal else "no",
                    ", ".join(p.examples),
                ]
                for p in self.problems
            ]
            out += _text_table(["table", "column", "rule", "rows", "fatal", "examples"], rows)
            out.append("")
        rows = [
            [
                name,
                str(c.rows_read),
                str(c.rows_invalid),
                str(c.rows_after_as_of),
                str(c.rows_quarantined),
                str(c.rows_kept) if self.ok else "-",
            ]
            for name, c in self.tables.items()
        ]
        header = ["table", "rows read", "invalid", "after as-of", "quarantined", "kept"]
        out += _text_table(header, rows)
        if self.absent_tables:
            out.append(f"optional tables absent: {', '.join(self.absent_tables)}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole report."""
        return {
            "source": self.source,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "ok": self.ok,
            "quarantine_dir": str(self.quarantine_dir) if self.quarantine_dir else None,
            "problems": [asdict(p) for p in self.problems],
            "tables": {
                name: {**asdict(c), "rows_kept": c.rows_kept} for name, c in self.tables.items()
            },
            "absent_tables": list(self.absent_tables),
        }


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
) -> ValidatedSource:
    """Check every table of ``source`` against the contract and return its clean tables.

    ``as_of`` is the first day outside the run (default: the day after the latest valid
    event timestamp). With ``quarantine_dir``, rows breaking row-level rules are written to
    ``<quarantine_dir>/<table>.parquet`` with a ``_reason`` column and left out; without it
    they stop the run. Raises ``ValidationError`` (with ``.report``) when anything fatal is
    found; the report lists every problem of every table, not just the first."""
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    quarantine = quarantine_dir is not None
    report = ValidationReport(source=source.location, as_of=as_of, quarantine_dir=quarantine_dir)

    plans: dict[str, _TablePlan] = {}
    for name, spec in TABLES.items():
        if name not in source.raw:
            if spec.required:
                report.problems.append(Problem(name, None, RULE_TABLE_PRESENT, 0))
            else:
                report.absent_tables.append(name)
            continue
        plans[name] = _TablePlan(spec, source.raw[name])

    account_keys = plans["accounts"].account_keys() if "accounts" in plans else None
    for plan in plans.values():
        plan.build(account_keys)

    # Events first: without an explicit as-of date it is derived from them, and the other
    # tables' "after as-of" counts need it.
    order = sorted(plans, key=lambda n: (n != "events", list(TABLES).index(n)))
    for name in order:
        plan = plans[name]
        stats = plan.run(report.as_of)
        report.tables[name] = TableCounts(
            rows_read=stats.rows,
            rows_invalid=stats.invalid,
            rows_after_as_of=stats.after,
        )
        report.problems += plan.problems(stats, quarantine)
        if name == "events" and report.as_of is None and plan.ts_checked:
            if stats.max_ts is None:
                report.problems.append(Problem("events", "ts", RULE_HAS_EVENTS, 0))
            else:
                report.as_of = _to_date(stats.max_ts) + timedelta(days=1)

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
        _write_quarantine(plans, report, quarantine_dir)

    tables = {
        name: plan.clean(source, report.as_of, has_invalid=report.tables[name].rows_invalid > 0)
        for name, plan in plans.items()
    }
    return ValidatedSource(source, report.as_of, tables, report)


# --- internals ------------------------------------------------------------------------------


@dataclass
class _Check:
    """One row-wise condition (true where a row breaks it)."""

    column: str
    rule: str
    reason: str
    cond: ir.BooleanValue
    quarantinable: bool
    shown: tuple[str, ...]
    """Columns shown in examples of key-less tables beside the row description."""
    null_of: str | None = None
    """Set when the condition is exactly "this column is null" (counted as rows - count)."""


@dataclass
class _Stats:
    rows: int
    counts: list[int]
    invalid: int
    after: int
    dup_rows: int = 0
    max_ts: Any = None


def _rule_columns(rule: RowRule) -> tuple[str, ...]:
    if isinstance(rule, After):
        return (rule.column, rule.other)
    if isinstance(rule, SurveyScoreRange):
        return (rule.column, "kind")
    return (rule.column,)


def _rule_broken(rule: RowRule, t: ir.Table) -> ir.BooleanValue:
    """True where a row breaks ``rule``; nulls never break a rule (not-null is separate)."""
    if isinstance(rule, NonNegative):
        return t[rule.column] < 0
    if isinstance(rule, OneOf):
        return t[rule.column].notnull() & ~t[rule.column].isin(list(rule.values))
    if isinstance(rule, After):
        col, other = t[rule.column], t[rule.other]
        return col < other if rule.allow_equal else col <= other
    if isinstance(rule, SurveyScoreRange):
        score, kind = t[rule.column], t["kind"]
        broken = [
            (kind == k) & ((score < lo) | (score > hi)) for k, (lo, hi) in SURVEY_RANGES.items()
        ]
        out = broken[0]
        for b in broken[1:]:
            out = out | b
        return out
    raise TypeError(f"unknown row rule {rule!r}")  # pragma: no cover


def _violation(rule: RowRule) -> str:
    """What a row breaking ``rule`` does, for the quarantine file's ``_reason``."""
    if isinstance(rule, NonNegative):
        return f"{rule.column} < 0"
    if isinstance(rule, OneOf):
        return f"{rule.column} not in ({', '.join(rule.values)})"
    if isinstance(rule, After):
        return f"{rule.column} {'<' if rule.allow_equal else '<='} {rule.other}"
    if isinstance(rule, SurveyScoreRange):
        ranges = ", ".join(f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in SURVEY_RANGES.items())
        return f"{rule.column} out of range of kind ({ranges})"
    raise TypeError(f"unknown row rule {rule!r}")  # pragma: no cover


def _raw_name(column: str) -> str:
    return f"_raw_{column}"


class _TablePlan:
    """The checks of one table and the expressions that compute them."""

    def __init__(self, spec: TableSpec, raw: ir.Table) -> None:
        self.spec = spec
        self.raw = raw
        self.present = [c for c in spec.columns if c.name in raw.columns]
        self.missing = [c.name for c in spec.columns if c.name not in raw.columns]
        present = {c.name for c in self.present}
        self.key = spec.key if spec.key in present else None
        self.checks: list[_Check] = []
        self.base: ir.Table = raw
        self.unjoined: ir.Table = raw
        self.orphan_keys: ir.Table | None = None
        self.by_account: list[_Check] | None = None
        self.invalid: ir.BooleanValue | None = None
        """True where a row breaks a row-level rule; None when no such rule applies."""
        self.ts_checked = spec.name == "events" and "ts" in present

    def typed(self) -> ir.Table:
        """The present contract columns, typed, plus the raw text of cast-checked columns."""
        cols: dict[str, ir.Value] = {}
        for col in self.present:
            value = self.raw[col.name]
            # The same conversion as sources.conform: '' is null in text columns.
            typed = cast_column(value.nullif("") if value.type().is_string() else value, col)
            cols[col.name] = typed
            if self._cast_checked(col.name):
                cols[_raw_name(col.name)] = value
        # A table with none of the contract's columns is only counted (every column missing).
        return self.raw.select(**cols) if cols else self.raw

    def _cast_checked(self, name: str) -> bool:
        col = self.spec.column(name)
        raw_type = self.raw[name].type()
        target = col.dtype
        if target == "string":
            return False
        return not (
            (target == "float64" and raw_type.is_float64())
            or (target == "int64" and raw_type.is_int64())
            or (target == "boolean" and raw_type.is_boolean())
            or (target == "date" and raw_type.is_date())
            or (target == "timestamp" and raw_type.is_timestamp())
        )

    def account_keys(self) -> ir.Table | None:
        if self.key != "account_id":
            return None
        t = self.typed()
        return t.filter(t.account_id.notnull()).select(_acct=t.account_id).distinct()

    def build(self, account_keys: ir.Table | None) -> None:
        spec = self.spec
        typed = self.typed()
        present = {c.name for c in self.present}
        orphan_check = (
            spec.references_accounts and "account_id" in present and account_keys is not None
        )
        t = typed
        if orphan_check:
            assert account_keys is not None
            t = typed.left_join(account_keys, typed.account_id == account_keys._acct)
        self.base = t
        self.checks = self._make_checks(t, orphan_check)
        for check in self.checks:
            if check.quarantinable:
                self.invalid = check.cond if self.invalid is None else self.invalid | check.cond
        # A key-less table checked against accounts (events, consumption, ...) is counted per
        # account first and only the per-account counts are joined to the accounts: the same
        # counts as the row-wise join, without probing the accounts once per row.
        self.orphan_keys = account_keys if orphan_check else None
        self.by_account = None
        if orphan_check and self.key is None:
            self.unjoined = typed
            self.by_account = self._make_checks(typed, orphan_check=False)

    def _make_checks(self, t: ir.Table, orphan_check: bool) -> list[_Check]:
        """Every check of the table as conditions on ``t``; the orphan check (which needs
        ``t`` joined to the account keys) only with ``orphan_check``."""
        spec = self.spec
        present = {c.name for c in self.present}
        checks: list[_Check] = []

        def add(
            column: str,
            rule: str,
            reason: str,
            cond: ir.BooleanValue,
            q: bool,
            shown=(),
            null_of: str | None = None,
        ):
            checks.append(
                _Check(column, rule, reason, cond.fill_null(False), q, tuple(shown), null_of)
            )

        cast_failed: dict[str, ir.BooleanValue] = {}
        if self.key is not None:
            add(self.key, RULE_KEY_NOT_NULL, f"{self.key} is null", t[self.key].isnull(), False)
        for col in self.present:
            if not self._cast_checked(col.name):
                continue
            raw = t[_raw_name(col.name)]
            given = (
                strip_text(raw).nullif("").notnull() if raw.type().is_string() else raw.notnull()
            )
            failed = given & t[col.name].isnull()
            if col.dtype == "int64" and raw.type().is_floating():
                failed = failed | (given & (raw != raw.round(0)))  # 10.5 seats is not a count
            cast_failed[col.name] = failed.fill_null(False)
            add(
                col.name,
                cast_rule(col.dtype),
                f"{col.name} not a {col.dtype}",
                failed,
                False,
                (_raw_name(col.name),),
            )
        if orphan_check:
            add(
                "account_id",
                RULE_IN_ACCOUNTS,
                "account_id not in accounts",
                t.account_id.notnull() & t._acct.isnull(),
                True,
            )
        for col in self.present:
            if col.nullable or col.name == self.key:
                continue
            cond = t[col.name].isnull()
            null_of: str | None = col.name
            if col.name in cast_failed:
                cond = cond & ~cast_failed[col.name]  # reported as a cast failure instead
                null_of = None
            add(col.name, RULE_NOT_NULL, f"{col.name} is null", cond, True, null_of=null_of)
        for rule in spec.rules:
            columns = _rule_columns(rule)
            if all(c in present for c in columns):
                add(rule.column, rule.name, _violation(rule), _rule_broken(rule, t), True, columns)
        return checks

    def _dated_after(self, as_of: date, t: ir.Table | None = None) -> ir.BooleanValue | None:
        col = self.spec.date_column
        if col is None or col not in {c.name for c in self.present}:
            return None
        value = (self.base if t is None else t)[col]
        if self.spec.column(col).dtype == "timestamp":
            limit = ibis.timestamp(datetime(as_of.year, as_of.month, as_of.day))
            return value >= limit
        return value >= ibis.date(as_of)

    def run(self, as_of: date | None) -> _Stats:
        """One pass over the table: every check's count, invalid rows, rows after as-of."""
        if self.by_account is not None:
            return self._run_by_account(as_of, self.by_account)
        t = self.base

        def as_int(cond: ir.BooleanValue) -> ir.IntegerValue:
            return ibis.ifelse(cond.fill_null(False), 1, 0)

        metrics: dict[str, ir.IntegerValue] = {
            f"_c{i}": as_int(check.cond) for i, check in enumerate(self.checks)
        }
        valid = ibis.literal(True)
        if self.invalid is not None:
            metrics["_invalid"] = as_int(self.invalid)
            valid = ~self.invalid
        after = self._dated_after(as_of) if as_of is not None else None
        if after is not None:
            metrics["_after"] = as_int(after & valid)
        maxes: dict[str, ir.Value] = {}
        if self.ts_checked:
            ts_ok = t.ts.notnull() & valid
            for check in self.checks:
                if not check.quarantinable:
                    ts_ok = ts_ok & ~check.cond
            maxes["_max_ts"] = t.ts.max(where=ts_ok)

        if self.key is not None:
            key = self.key
            groups = t.group_by(key).aggregate(
                _n=t.count(),
                **{name: m.sum() for name, m in metrics.items()},
                **{name: m for name, m in maxes.items()},
            )
            dup = groups[key].notnull() & (groups._n > 1)
            agg = groups.aggregate(
                _rows=groups._n.sum(),
                _dup_rows=ibis.ifelse(dup, groups._n, 0).sum(),
                **{name: groups[name].sum() for name in metrics},
                **{name: groups[name].max() for name in maxes},
            )
        else:
            agg = t.aggregate(
                _rows=t.count(),
                **{name: m.sum() for name, m in metrics.items()},
                **maxes,
            )
        row = agg.to_pyarrow().to_pylist()[0]

        def n(name: str) -> int:
            value = row.get(name)
            return int(value) if value is not None else 0

        return _Stats(
            rows=n("_rows"),
            counts=[n(f"_c{i}") for i in range(len(self.checks))],
            invalid=n("_invalid"),
            after=n("_after"),
            dup_rows=n("_dup_rows"),
            max_ts=row.get("_max_ts"),
        )

    def _run_by_account(self, as_of: date | None, checks: list[_Check]) -> _Stats:
        """``run`` for a key-less table checked against accounts, grouped by account_id:
        every check but the orphan one is counted per account, then the few per-account rows
        are joined to the account keys. An orphan account's rows all break "in accounts" (so
        are all invalid, never counted after as-of nor in the latest timestamp).

        The first pass counts each check on every row (a not-null check as rows minus
        non-null values) with the plain latest timestamp and after-as-of count. When no
        row of a known account breaks any check, those are exact: no such row is invalid.
        Otherwise a second pass counts invalid rows and filters the other two exactly."""
        stats, clean = self._by_account_pass(as_of, checks, exact=False)
        if clean:
            return stats
        return self._by_account_pass(as_of, checks, exact=True)[0]

    def _by_account_pass(
        self, as_of: date | None, checks: list[_Check], exact: bool
    ) -> tuple[_Stats, bool]:
        t = self.unjoined
        keys = self.orphan_keys
        assert keys is not None

        def as_int(cond: ir.BooleanValue) -> ir.IntegerValue:
            return ibis.ifelse(cond.fill_null(False), 1, 0)

        rows = t.count()
        metrics: dict[str, ir.IntegerValue] = {
            f"_c{i}": (
                rows - t[check.null_of].count()
                if check.null_of is not None
                else as_int(check.cond).sum()
            )
            for i, check in enumerate(checks)
        }
        valid: ir.BooleanValue = ibis.literal(True)
        if exact:
            other_invalid: ir.BooleanValue = ibis.literal(False)
            for check in checks:
                if check.quarantinable:
                    other_invalid = other_invalid | check.cond
            valid = ~other_invalid
            metrics["_invalid"] = as_int(other_invalid).sum()
        after = self._dated_after(as_of, t) if as_of is not None else None
        if after is not None:
            metrics["_after"] = as_int(after & valid).sum() if exact else as_int(after).sum()
        if self.ts_checked:
            if exact:
                ts_ok = t.ts.notnull() & valid
                for check in checks:
                    if not check.quarantinable:
                        ts_ok = ts_ok & ~check.cond
                metrics["_max_ts"] = t.ts.max(where=ts_ok)
            else:
                metrics["_max_ts"] = t.ts.max()
        groups = t.group_by("account_id").aggregate(_n=rows, **metrics)
        g = groups.left_join(keys, groups.account_id == keys._acct)
        orphan = (g.account_id.notnull() & g._acct.isnull()).fill_null(False)
        broken = ibis.literal(0)
        for i in range(len(checks)):
            broken = broken + g[f"_c{i}"]
        totals: dict[str, ir.Value] = {
            "_rows": g._n.sum(),
            "_orphans": ibis.ifelse(orphan, g._n, 0).sum(),
            "_broken": ibis.ifelse(orphan, 0, broken).sum(),
            "_invalid": ibis.ifelse(orphan, g._n, g._invalid if exact else 0).sum(),
            **{f"_c{i}": g[f"_c{i}"].sum() for i in range(len(checks))},
        }
        if after is not None:
            totals["_after"] = ibis.ifelse(orphan, 0, g._after).sum()
        if self.ts_checked:
            totals["_max_ts"] = g._max_ts.max(where=~orphan)
        row = g.aggregate(**totals).to_pyarrow().to_pylist()[0]

        def n(name: str) -> int:
            value = row.get(name)
            return int(value) if value is not None else 0

        other = iter(range(len(checks)))
        counts = [
            n("_orphans") if check.rule == RULE_IN_ACCOUNTS else n(f"_c{next(other)}")
            for check in self.checks
        ]
        stats = _Stats(
            rows=n("_rows"),
            counts=counts,
            invalid=n("_invalid"),
            after=n("_after"),
            max_ts=row.get("_max_ts"),
        )
        return stats, n("_broken") == 0

    def problems(self, stats: _Stats, quarantine: bool) -> list[Problem]:
        name = self.spec.name
        out = [Problem(name, c, RULE_COLUMN_PRESENT, stats.rows) for c in self.missing]
        failed = [
            (check, count) for check, count in zip(self.checks, stats.counts, strict=True) if count
        ]
        examples = self._examples([check for check, _ in failed])
        for i, (check, count) in enumerate(failed):
            fatal = not (check.quarantinable and quarantine)
            out.append(
                Problem(
                    name,
                    check.column,
                    check.rule,
                    count,
                    examples[i],
                    fatal,
                    check.quarantinable,
                )
            )
        out += self._duplicates(stats)
        # Keep the contract's column order: table-level first, then column by column.
        order = {c: i for i, c in enumerate(self.spec.column_names)}
        return sorted(out, key=lambda p: -1 if p.column is None else order.get(p.column, 99))

    def _duplicates(self, stats: _Stats) -> list[Problem]:
        if not stats.dup_rows or self.key is None:
            return []
        key = self.key
        t = self.base
        keyed = t.filter(t[key].notnull())
        groups = keyed.group_by(key).aggregate(_n=keyed.count())
        top = groups.filter(groups._n > 1).order_by(key).limit(MAX_EXAMPLES)
        examples = [_fmt(r[key]) for r in top.to_pyarrow().to_pylist()]
        return [Problem(self.spec.name, key, RULE_KEY_UNIQUE, stats.dup_rows, examples)]

    def _shown(self, check: _Check) -> list[str]:
        """The columns an example of ``check`` shows: the key, or a row description."""
        if self.key is not None and check.rule != RULE_KEY_NOT_NULL:
            return [self.key]
        present = {c.name for c in self.present}
        described = [
            c
            for c in ("account_id", self.spec.date_column)
            if c is not None and c in present and c != self.key
        ]
        if not described:
            described = [c.name for c in self.present if c.name != self.key][:2]
        # A cast failure shows the raw text in place of the (null) typed value.
        raw_of = {c.removeprefix("_raw_"): c for c in check.shown if c.startswith("_raw_")}
        described = [raw_of.get(c, c) for c in described]
        return described + [c for c in check.shown if c not in described]

    def _examples(self, checks: list[_Check]) -> list[list[str]]:
        """Up to five examples of each check, in one query: a union of small top-N queries.

        Each part is ordered on the columns it shows (nulls last on every backend), so the
        examples are the same on DuckDB and Spark."""
        if not checks:
            return []
        t = self.base
        columns = [c for c in t.columns if c != "_acct"]
        parts = []
        shown_of = [self._shown(check) for check in checks]
        for i, (check, shown) in enumerate(zip(checks, shown_of, strict=True)):
            part = t.filter(check.cond)
            part = part.order_by(*[part[c].asc(nulls_first=False) for c in shown])
            part = part.limit(MAX_EXAMPLES).select(ibis.literal(i).name("_check"), *columns)
            parts.append(part)
        query = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
        rows = query.to_pyarrow().to_pylist()

        out: list[list[str]] = []
        for i, shown in enumerate(shown_of):
            mine = [r for r in rows if r["_check"] == i]
            mine.sort(key=partial(_nulls_last, columns=shown))
            texts: list[str] = []
            for r in mine:
                if shown == [self.key]:
                    text = _fmt(r[shown[0]])
                else:
                    text = " ".join(f"{c.removeprefix('_raw_')}={_fmt(r[c])}" for c in shown)
                if text not in texts:
                    texts.append(text)
            out.append(texts)
        return out

    def clean(self, source: Source, as_of: date, has_invalid: bool) -> ir.Table:
        """The table for the run: typed, without invalid rows, cut at ``as_of``."""
        # Without invalid rows the plain typed table will do: no join with accounts needed,
        # and no required text column holds an empty string (it would have broken not-null).
        if has_invalid and self.invalid is not None:
            t = self.base.filter(~self.invalid)
        else:
            required = [c.name for c in self.spec.columns if not c.nullable]
            t = conform(source.raw[self.spec.name], self.spec, without_empty=required)
        date_col = self.spec.date_column
        if date_col is not None:
            if self.spec.column(date_col).dtype == "timestamp":
                t = t.filter(
                    t[date_col] < ibis.timestamp(datetime(as_of.year, as_of.month, as_of.day))
                )
            else:
                t = t.filter(t[date_col] < ibis.date(as_of))
        return t.select(*self.spec.column_names)

    def quarantined(self) -> ir.Table:
        """The invalid rows with their contract columns and the reasons they break."""
        t = self.base
        reasons = [
            ibis.ifelse(c.cond, ibis.literal(c.reason), ibis.null("string"))
            for c in self.checks
            if c.quarantinable
        ]
        reason = ibis.literal("; ").join(reasons)
        assert self.invalid is not None
        return t.filter(self.invalid).select(
            *[c.name for c in self.present], **{REASON_COLUMN: reason}
        )


def _write_quarantine(
    plans: dict[str, _TablePlan], report: ValidationReport, directory: Path
) -> None:
    """Write each table's invalid rows to ``<directory>/<table>.parquet``.

    A file left by an earlier run for a table that is now clean is removed, so the folder
    always describes the last run."""
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    for name, plan in plans.items():
        path = directory / f"{name}.parquet"
        if report.tables[name].rows_quarantined == 0:
            path.unlink(missing_ok=True)
            continue
        expr = plan.quarantined()
        writer = None
        try:
            for batch in expr.to_pyarrow_batches():
                if writer is None:
                    writer = pq.ParquetWriter(str(path), batch.schema)
                writer.write_batch(batch)
            if writer is None:  # pragma: no cover - counted rows always come back
                pq.write_table(expr.to_pyarrow(), str(path))
        finally:
            if writer is not None:
                writer.close()


def _nulls_last(row: dict[str, Any], columns: Sequence[str]) -> list[tuple[bool, Any]]:
    """Sort key of a fetched row: ascending on ``columns``, nulls last (as the query did)."""
    return [(row[c] is None, row[c]) for c in columns]


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()  # pragma: no cover


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    return lines
