"""The contract's rules compiled into checks: one row-wise condition per rule and column of
one table, as lazy Ibis expressions (nothing here executes).

``plan_table`` turns a raw table and its ``TableSpec`` into a ``TablePlan``: the table typed
to the contract (with the raw text of every cast-checked column beside it), joined to the
account keys when its rows must belong to an account, and every check on it. The checks are
run by ``features.validation_checks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

from features.contract import (
    SURVEY_RANGES,
    After,
    NonNegative,
    OneOf,
    RowRule,
    SurveyScoreRange,
    TableSpec,
)
from features.sources import cast_column, strip_text

# Rule names of the checks that are not row rules of the contract; the contract's own rules
# are named by their ``name`` ("end_date > start_date", "mrr >= 0", ...).
RULE_TABLE_PRESENT = "table present"
RULE_COLUMN_PRESENT = "column present"
RULE_KEY_NOT_NULL = "key not null"
RULE_KEY_UNIQUE = "key unique"
RULE_NOT_NULL = "not null"
RULE_IN_ACCOUNTS = "in accounts"
RULE_HAS_EVENTS = "valid events to derive the as-of date"
RULE_KNOWN_PLAY = "play in the playbook library (warning)"

REASON_COLUMN = "_reason"
"""The column of a quarantine file that says which rules each row breaks."""
ACCOUNT_KEY = "_acct"
"""The account key column joined to tables whose rows must belong to an account."""
RAW_PREFIX = "_raw_"


def cast_rule(dtype: str) -> str:
    """The rule name of a cast check: ``castable to date`` and so on."""
    return f"castable to {dtype}"


def raw_name(column: str) -> str:
    """The column holding the raw value of a cast-checked ``column``."""
    return f"{RAW_PREFIX}{column}"


@dataclass(frozen=True)
class Check:
    """One row-wise condition (true where a row breaks it; never null)."""

    column: str
    rule: str
    reason: str
    cond: ir.BooleanValue
    quarantinable: bool
    shown: tuple[str, ...] = ()
    """Columns shown in examples of key-less tables beside the row description."""
    null_of: str | None = None
    """Set when the condition is exactly "this column is null" (counted as rows - count)."""


@dataclass(frozen=True)
class ByAccount:
    """A key-less table checked against the accounts, counted per account first: the
    table not joined, the account keys, and the checks on the unjoined table (all but the
    orphan check, which the per-account counts are joined for)."""

    table: ir.Table
    keys: ir.Table
    checks: list[Check]


@dataclass(frozen=True)
class TablePlan:
    """The checks of one table and the expressions that compute them."""

    spec: TableSpec
    raw: ir.Table
    present: list[str]
    """The contract's columns the table has, in the contract's order."""
    missing: list[str]
    key: str | None
    """The table's key when the table has that column."""
    base: ir.Table
    """The typed table, joined to the account keys when its rows must belong to one."""
    checks: list[Check]
    invalid: ir.BooleanValue | None
    """True where a row breaks a row-level rule; None when no such rule applies."""
    by_account: ByAccount | None
    ts_checked: bool
    """The events' timestamps, from which the as-of date is derived, are read."""

    def quarantined(self) -> ir.Table:
        """The invalid rows with their contract columns and the reasons they break."""
        assert self.invalid is not None
        reasons = [
            ibis.ifelse(c.cond, ibis.literal(c.reason), ibis.null("string"))
            for c in self.checks
            if c.quarantinable
        ]
        reason = ibis.literal("; ").join(reasons)
        return self.base.filter(self.invalid).select(*self.present, **{REASON_COLUMN: reason})


def account_keys(spec: TableSpec, raw: ir.Table) -> ir.Table | None:
    """The distinct non-null account ids of the accounts table (``_acct``), else None."""
    if spec.key != "account_id" or "account_id" not in raw.columns:
        return None
    t = _typed(spec, raw)
    return t.filter(t.account_id.notnull()).select(**{ACCOUNT_KEY: t.account_id}).distinct()


def plan_table(spec: TableSpec, raw: ir.Table, keys: ir.Table | None) -> TablePlan:
    """Every check of one table; ``keys`` are the account keys (``account_keys``), None when
    the source has no usable accounts table."""
    present = [c.name for c in spec.columns if c.name in raw.columns]
    typed = _typed(spec, raw)
    orphan_check = spec.references_accounts and "account_id" in present and keys is not None
    base = typed
    if orphan_check:
        assert keys is not None
        base = typed.left_join(keys, typed.account_id == keys[ACCOUNT_KEY])
    key = spec.key if spec.key in present else None
    checks = _make_checks(spec, raw, base, key, orphan_check)
    by_account = None
    if orphan_check and key is None:
        # A key-less table checked against accounts (events, consumption, ...) is counted per
        # account first and only the per-account counts are joined to the accounts: the same
        # counts as the row-wise join, without probing the accounts once per row.
        assert keys is not None
        unjoined = _make_checks(spec, raw, typed, key, orphan_check=False)
        by_account = ByAccount(typed, keys, unjoined)
    return TablePlan(
        spec=spec,
        raw=raw,
        present=present,
        missing=[c.name for c in spec.columns if c.name not in raw.columns and not c.optional],
        key=key,
        base=base,
        checks=checks,
        invalid=any_broken(checks),
        by_account=by_account,
        ts_checked=spec.name == "events" and "ts" in present,
    )


def any_broken(checks: list[Check]) -> ir.BooleanValue | None:
    """True where a row breaks a quarantinable (row-level) check; None without such checks."""
    out: ir.BooleanValue | None = None
    for check in checks:
        if check.quarantinable:
            out = check.cond if out is None else out | check.cond
    return out


def as_of_limit(spec: TableSpec, as_of: date) -> ir.Scalar:
    """The as-of date as a literal of the type of the table's date column: rows dated before
    it are in the run, rows dated on or after it are not."""
    assert spec.date_column is not None
    if spec.column(spec.date_column).dtype == "timestamp":
        return ibis.timestamp(datetime(as_of.year, as_of.month, as_of.day))
    return ibis.date(as_of)


def _typed(spec: TableSpec, raw: ir.Table) -> ir.Table:
    """The present contract columns, typed, plus the raw text of cast-checked columns."""
    cols: dict[str, ir.Value] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            continue
        value = raw[col.name]
        # The same conversion as sources.conform: '' is null in text columns.
        cols[col.name] = cast_column(value.nullif("") if value.type().is_string() else value, col)
        if _cast_checked(spec, raw, col.name):
            cols[raw_name(col.name)] = value
    # A table with none of the contract's columns is only counted (every column missing).
    return raw.select(**cols) if cols else raw


def _cast_checked(spec: TableSpec, raw: ir.Table, name: str) -> bool:
    """Whether the values of ``name`` are cast (and so checked): not already of the type."""
    target = spec.column(name).dtype
    raw_type = raw[name].type()
    if target == "string":
        return False
    return not (
        (target == "float64" and raw_type.is_float64())
        or (target == "int64" and raw_type.is_int64())
        or (target == "boolean" and raw_type.is_boolean())
        or (target == "date" and raw_type.is_date())
        or (target == "timestamp" and raw_type.is_timestamp())
    )


def _make_checks(
    spec: TableSpec, raw: ir.Table, t: ir.Table, key: str | None, orphan_check: bool
) -> list[Check]:
    """Every check of the table as conditions on ``t``; the orphan check (which needs
    ``t`` joined to the account keys) only with ``orphan_check``."""
    present = [c for c in spec.columns if c.name in raw.columns]
    names = {c.name for c in present}
    checks: list[Check] = []

    def add(
        column: str,
        rule: str,
        reason: str,
        cond: ir.BooleanValue,
        quarantinable: bool,
        shown: tuple[str, ...] = (),
        null_of: str | None = None,
    ) -> None:
        checks.append(
            Check(column, rule, reason, cond.fill_null(False), quarantinable, shown, null_of)
        )

    cast_failed: dict[str, ir.BooleanValue] = {}
    if key is not None:
        add(key, RULE_KEY_NOT_NULL, f"{key} is null", t[key].isnull(), False)
    for col in present:
        if not _cast_checked(spec, raw, col.name):
            continue
        given_raw = t[raw_name(col.name)]
        given = (
            strip_text(given_raw).nullif("").notnull()
            if given_raw.type().is_string()
            else given_raw.notnull()
        )
        failed = given & t[col.name].isnull()
        if col.dtype == "int64" and given_raw.type().is_floating():
            failed = failed | (given & (given_raw != given_raw.round(0)))  # 10.5 seats: no count
        cast_failed[col.name] = failed.fill_null(False)
        add(
            col.name,
            cast_rule(col.dtype),
            f"{col.name} not a {col.dtype}",
            failed,
            False,
            (raw_name(col.name),),
        )
    if orphan_check:
        add(
            "account_id",
            RULE_IN_ACCOUNTS,
            "account_id not in accounts",
            t.account_id.notnull() & t[ACCOUNT_KEY].isnull(),
            True,
        )
    for col in present:
        if col.nullable or col.name == key:
            continue
        cond = t[col.name].isnull()
        null_of: str | None = col.name
        if col.name in cast_failed:
            cond = cond & ~cast_failed[col.name]  # reported as a cast failure instead
            null_of = None
        add(col.name, RULE_NOT_NULL, f"{col.name} is null", cond, True, null_of=null_of)
    for rule in spec.rules:
        columns = _rule_columns(rule)
        if all(c in names for c in columns):
            add(rule.column, rule.name, _violation(rule), _rule_broken(rule, t), True, columns)
    return checks


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
