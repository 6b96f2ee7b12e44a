"""The book: every account's monthly MRR movements up to an as-of date, and who each account
belongs to (segment, CSM). Built from validated contract tables (``book_from_tables``); the
caller opens and validates the source (serving's ``read_book``, the forecast backtests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from features.errors import ChurnlightError
from forecast.movements import MOVEMENTS, account_movements, monthly_movements

GROUP_COLUMNS: dict[str, str] = {"segment": "segment", "csm": "csm_id"}
DEFAULT_GRACE_DAYS = 30


class BookError(ChurnlightError):
    """A filter or grouping the book cannot answer; ``parameter`` names the option."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class Book:
    """Per-account monthly movements of one source, and who each account belongs to."""

    as_of: date
    grace_days: int
    per_account: pd.DataFrame
    accounts: pd.DataFrame
    """account_id, segment, csm_id (text; null when the source does not say)."""

    def movements(
        self,
        by: str | None = None,
        segment: str | None = None,
        csm: str | None = None,
        months: int | None = None,
    ) -> pd.DataFrame:
        """Monthly movements, optionally for one segment / CSM and per group, newest
        ``months`` months only (``None``: all)."""
        if by is not None and by not in GROUP_COLUMNS:
            raise BookError(f"cannot group by {by!r}; choose {' or '.join(GROUP_COLUMNS)}", "by")
        chosen = self.accounts_of(segment, csm)
        rows = self.per_account[self.per_account["account_id"].isin(chosen["account_id"])]
        groups = None
        if by is not None:
            groups = chosen.set_index("account_id")[GROUP_COLUMNS[by]]
        table = monthly_movements(rows, self.as_of, self.grace_days, groups)
        if months is not None:
            kept = sorted(table["month"].unique())[-months:]
            table = table[table["month"].isin(kept)]
        return table.reset_index(drop=True)

    def accounts_of(self, segment: str | None = None, csm: str | None = None) -> pd.DataFrame:
        """The accounts of one segment and / or CSM; a value no account has is refused with
        the known ones."""
        chosen = self.accounts
        for parameter, column, value in (("segment", "segment", segment), ("csm", "csm_id", csm)):
            if value is not None:
                chosen = chosen[chosen[column] == value]
                if chosen.empty:
                    known = sorted(self.accounts[column].dropna().unique().tolist())
                    raise BookError(
                        f"no account has {column} {value!r}; known: {', '.join(known) or 'none'}",
                        parameter,
                    )
        return chosen

    def to_dict(self, table: pd.DataFrame, by: str | None) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "grace_days": self.grace_days,
            "by": by,
            "months": movement_records(table),
        }


def movement_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready records: amounts rounded to cents, ratios to 4 places, null for NaN."""
    columns = [c for c in ("group", "month") if c in table.columns] + [*RECORD_COLUMNS]
    records = []
    for row in table[columns].itertuples(index=False):
        record = dict(zip(columns, row, strict=True))
        for key, value in record.items():
            if isinstance(value, float):  # + 0.0: a -0.0 (no contraction) prints as 0.0
                record[key] = None if pd.isna(value) else round(value, _PLACES.get(key, 2)) + 0.0
        for key in ("accounts_start", "logos_churned"):
            record[key] = int(record[key])
        record["provisional"] = bool(record["provisional"])
        record["month"] = record["month"].isoformat()
        records.append(record)
    return records


RECORD_COLUMNS = (
    "start_mrr",
    *MOVEMENTS,
    "end_mrr",
    "net_new",
    "grr",
    "nrr",
    "accounts_start",
    "logos_churned",
    "logo_churn_rate",
    "provisional",
)
_PLACES = {"grr": 4, "nrr": 4, "logo_churn_rate": 4}


def book_from_tables(
    subscriptions: ir.Table, accounts: ir.Table, as_of: date, grace_days: int
) -> Book:
    """The book of validated contract tables (rows dated before ``as_of`` only: the caller's
    validation cuts them), every account's monthly movements up to ``as_of``."""
    per_account = account_movements(subscriptions, as_of, grace_days)
    wanted = {"account_id": accounts.account_id.cast("string")}
    for column in ("segment", "csm_id"):
        wanted[column] = (
            accounts[column].cast("string") if column in accounts.columns else ibis.null("string")
        )
    frame = accounts.select(**wanted).to_pandas()
    return Book(as_of, grace_days, per_account, frame)
