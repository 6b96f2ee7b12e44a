"""The report of a validation: the problems found and the row counts of each table, and its
renderings (the one-line verdict, the error message, the plain-text report, JSON).

See ``features.validation`` for how a source is checked and docs/validation.md for the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

VALIDATION_DOC = "docs/validation.md"


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


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    return lines
