"""Running the checks of a ``TablePlan``: one aggregate per table, then the problems.

Every check of a table is one conditional sum in a single aggregate over that table (keyed
tables group by their key first, which finds duplicates in the same pass; key-less tables
checked against the accounts are counted per account first). Examples are fetched with
small limited queries only for the checks that failed. Everything is portable Ibis, so it
runs on DuckDB and on Spark alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

import ibis
import ibis.expr.types as ir

from features.validation_report import Problem
from features.validation_rules import (
    ACCOUNT_KEY,
    RAW_PREFIX,
    RULE_COLUMN_PRESENT,
    RULE_IN_ACCOUNTS,
    RULE_KEY_NOT_NULL,
    RULE_KEY_UNIQUE,
    ByAccount,
    Check,
    TablePlan,
    any_broken,
    as_of_limit,
)

MAX_EXAMPLES = 5


@dataclass
class Stats:
    """What one pass over a table counted."""

    rows: int
    counts: list[int]
    """Rows breaking each check of ``TablePlan.checks``, in their order."""
    invalid: int
    after: int
    """Valid rows dated on or after the as-of date."""
    dup_rows: int = 0
    max_ts: Any = None
    """The latest timestamp of a valid event (events only)."""


def run_checks(plan: TablePlan, as_of: date | None) -> Stats:
    """One pass over the table: every check's count, invalid rows, rows after as-of."""
    if plan.by_account is not None:
        return _run_by_account(plan, as_of, plan.by_account)
    t = plan.base
    metrics: dict[str, ir.IntegerValue] = {
        f"_c{i}": _flag(check.cond) for i, check in enumerate(plan.checks)
    }
    valid: ir.BooleanValue = ibis.literal(True)
    if plan.invalid is not None:
        metrics["_invalid"] = _flag(plan.invalid)
        valid = ~plan.invalid
    after = _dated_after(plan, t, as_of)
    if after is not None:
        metrics["_after"] = _flag(after & valid)
    maxes: dict[str, ir.Value] = {}
    if plan.ts_checked:
        maxes["_max_ts"] = t.ts.max(where=_countable_ts(t, plan.checks, valid))

    if plan.key is not None:
        key = plan.key
        groups = t.group_by(key).aggregate(
            _n=t.count(),
            **{name: m.sum() for name, m in metrics.items()},
            **maxes,
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
    return Stats(
        rows=_count(row, "_rows"),
        counts=[_count(row, f"_c{i}") for i in range(len(plan.checks))],
        invalid=_count(row, "_invalid"),
        after=_count(row, "_after"),
        dup_rows=_count(row, "_dup_rows"),
        max_ts=row.get("_max_ts"),
    )


def _run_by_account(plan: TablePlan, as_of: date | None, by_account: ByAccount) -> Stats:
    """``run_checks`` for a key-less table checked against accounts, grouped by account_id:
    every check but the orphan one is counted per account, then the few per-account rows
    are joined to the account keys. An orphan account's rows all break "in accounts" (so
    are all invalid, never counted after as-of nor in the latest timestamp).

    The first pass counts each check on every row (a not-null check as rows minus
    non-null values) with the plain latest timestamp and after-as-of count. When no
    row of a known account breaks any check, those are exact: no such row is invalid.
    Otherwise a second pass counts invalid rows and filters the other two exactly."""
    stats, clean = _by_account_pass(plan, as_of, by_account, exact=False)
    if clean:
        return stats
    return _by_account_pass(plan, as_of, by_account, exact=True)[0]


def _by_account_pass(
    plan: TablePlan, as_of: date | None, by_account: ByAccount, exact: bool
) -> tuple[Stats, bool]:
    t, keys, checks = by_account.table, by_account.keys, by_account.checks
    rows = t.count()
    metrics: dict[str, ir.IntegerValue] = {
        f"_c{i}": (
            rows - t[check.null_of].count()
            if check.null_of is not None
            else _flag(check.cond).sum()
        )
        for i, check in enumerate(checks)
    }
    valid: ir.BooleanValue = ibis.literal(True)
    if exact:
        other_invalid = any_broken(checks)
        if other_invalid is None:
            other_invalid = ibis.literal(False)
        valid = ~other_invalid
        metrics["_invalid"] = _flag(other_invalid).sum()
    after = _dated_after(plan, t, as_of)
    if after is not None:
        metrics["_after"] = _flag(after & valid).sum() if exact else _flag(after).sum()
    if plan.ts_checked:
        where = _countable_ts(t, checks, valid) if exact else None
        metrics["_max_ts"] = t.ts.max(where=where)
    groups = t.group_by("account_id").aggregate(_n=rows, **metrics)
    g = groups.left_join(keys, groups.account_id == keys[ACCOUNT_KEY])
    orphan = (g.account_id.notnull() & g[ACCOUNT_KEY].isnull()).fill_null(False)
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
    if plan.ts_checked:
        totals["_max_ts"] = g._max_ts.max(where=~orphan)
    row = g.aggregate(**totals).to_pyarrow().to_pylist()[0]

    other = iter(range(len(checks)))
    counts = [
        _count(row, "_orphans" if check.rule == RULE_IN_ACCOUNTS else f"_c{next(other)}")
        for check in plan.checks
    ]
    stats = Stats(
        rows=_count(row, "_rows"),
        counts=counts,
        invalid=_count(row, "_invalid"),
        after=_count(row, "_after"),
        max_ts=row.get("_max_ts"),
    )
    return stats, _count(row, "_broken") == 0


def _flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``cond`` holds, else 0 (null counts as false)."""
    return ibis.ifelse(cond.fill_null(False), 1, 0)


def _count(row: dict[str, Any], name: str) -> int:
    """A count of an aggregate's result row; a missing or null count is 0."""
    value = row.get(name)
    return int(value) if value is not None else 0


def _dated_after(plan: TablePlan, t: ir.Table, as_of: date | None) -> ir.BooleanValue | None:
    """True where a row is dated on or after ``as_of``; None when that cannot be said yet
    (no as-of date) or at all (the table has no date column)."""
    column = plan.spec.date_column
    if as_of is None or column is None or column not in plan.present:
        return None
    return t[column] >= as_of_limit(plan.spec, as_of)


def _countable_ts(t: ir.Table, checks: Sequence[Check], valid: ir.BooleanValue) -> ir.BooleanValue:
    """Events whose timestamp may set the as-of date: valid, with a timestamp, and breaking
    no fatal check."""
    ok = t.ts.notnull() & valid
    for check in checks:
        if not check.quarantinable:
            ok = ok & ~check.cond
    return ok


# --- problems ---------------------------------------------------------------------------------


def table_problems(plan: TablePlan, stats: Stats, quarantine: bool) -> list[Problem]:
    """The problems of one table from its counts, with examples of each failed check; the
    row-level ones are fatal unless ``quarantine``."""
    name = plan.spec.name
    out = [Problem(name, c, RULE_COLUMN_PRESENT, stats.rows) for c in plan.missing]
    failed = [
        (check, count) for check, count in zip(plan.checks, stats.counts, strict=True) if count
    ]
    examples = _examples(plan, [check for check, _ in failed])
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
    out += _duplicates(plan, stats)
    # Keep the contract's column order: table-level first, then column by column.
    order = {c: i for i, c in enumerate(plan.spec.column_names)}
    return sorted(out, key=lambda p: -1 if p.column is None else order.get(p.column, 99))


def _duplicates(plan: TablePlan, stats: Stats) -> list[Problem]:
    if not stats.dup_rows or plan.key is None:
        return []
    key = plan.key
    t = plan.base
    keyed = t.filter(t[key].notnull())
    groups = keyed.group_by(key).aggregate(_n=keyed.count())
    top = groups.filter(groups._n > 1).order_by(key).limit(MAX_EXAMPLES)
    examples = [_fmt(r[key]) for r in top.to_pyarrow().to_pylist()]
    return [Problem(plan.spec.name, key, RULE_KEY_UNIQUE, stats.dup_rows, examples)]


def _shown(plan: TablePlan, check: Check) -> list[str]:
    """The columns an example of ``check`` shows: the key, or a row description."""
    if plan.key is not None and check.rule != RULE_KEY_NOT_NULL:
        return [plan.key]
    described = [
        c
        for c in ("account_id", plan.spec.date_column)
        if c is not None and c in plan.present and c != plan.key
    ]
    if not described:
        described = [c for c in plan.present if c != plan.key][:2]
    # A cast failure shows the raw text in place of the (null) typed value.
    raw_of = {c.removeprefix(RAW_PREFIX): c for c in check.shown if c.startswith(RAW_PREFIX)}
    described = [raw_of.get(c, c) for c in described]
    return described + [c for c in check.shown if c not in described]


def _examples(plan: TablePlan, checks: list[Check]) -> list[list[str]]:
    """Up to five examples of each check, in one query: a union of small top-N queries.

    Each part is ordered on the columns it shows (nulls last on every backend), so the
    examples are the same on DuckDB and Spark."""
    if not checks:
        return []
    t = plan.base
    columns = [c for c in t.columns if c != ACCOUNT_KEY]
    parts = []
    shown_of = [_shown(plan, check) for check in checks]
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
            if shown == [plan.key]:
                text = _fmt(r[shown[0]])
            else:
                text = " ".join(f"{c.removeprefix(RAW_PREFIX)}={_fmt(r[c])}" for c in shown)
            if text not in texts:
                texts.append(text)
        out.append(texts)
    return out


def _nulls_last(row: dict[str, Any], columns: Sequence[str]) -> list[tuple[bool, Any]]:
    """Sort key of a fetched row: ascending on ``columns``, nulls last (as the query did)."""
    return [(row[c] is None, row[c]) for c in columns]


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
