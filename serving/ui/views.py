"""What each page shows, read from the served state with the functions the JSON routes use:
``Portfolio.select`` and its cached summaries and records, the served history and movers,
``model_card``, and the what-if path of ``POST /v1/score`` (``what_if_values`` + ``score_rows``).
No second scoring or filtering path lives here; this module only arranges for the templates."""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import numpy as np
from markupsafe import Markup, escape

from serving.cache import Portfolio, ServingState
from serving.routes.score import what_if_values
from serving.schemas import WhatIfRow
from serving.ui import charts
from serving.what_if import score_rows

SORTS = {
    "revenue_at_risk": "Revenue at risk",
    "churn_probability": "Churn probability",
    "expansion_probability": "Expansion probability",
    "expected_expansion_mrr": "Expected expansion",
    "mrr": "MRR",
    "days_to_renewal": "Renewal date",
}
TIERS = ("low", "medium", "high", "critical")
PAGE_SIZES = (25, 50, 100)
CSV_COLUMNS = (
    "account_id",
    "segment",
    "csm_id",
    "lifecycle_stage",
    "risk_tier",
    "churn_probability",
    "expansion_probability",
    "mrr",
    "revenue_at_risk",
    "expected_expansion_mrr",
    "days_to_renewal",
    "renewal_date",
    "top_churn_reason",
    "playbooks",
    "snapshot_date",
)
WHAT_IF_FIELDS = 6
"""Numeric features the what-if form offers: the churn model's most important actionable ones."""


@dataclass(frozen=True)
class Filters:
    segment: tuple[str, ...] = ()
    csm_id: tuple[str, ...] = ()
    lifecycle_stage: tuple[str, ...] = ()
    risk_tier: tuple[str, ...] = ()
    sort: str = "revenue_at_risk"
    order: str = "desc"

    def rows(self, portfolio: Portfolio) -> np.ndarray:
        """The matching rows in order: the same ``Portfolio.select`` as GET /v1/accounts."""
        return portfolio.select(
            self.sort,
            descending=self.order == "desc",
            segment=self.segment,
            csm_id=self.csm_id,
            lifecycle_stage=self.lifecycle_stage,
            risk_tier=self.risk_tier,
        )

    def query(self, **changes: Any) -> list[tuple[str, str]]:
        """Query parameters of this view (with ``changes``), for links that keep it."""
        values: dict[str, Any] = {
            "segment": self.segment,
            "csm_id": self.csm_id,
            "lifecycle_stage": self.lifecycle_stage,
            "risk_tier": self.risk_tier,
            "sort": self.sort,
            "order": self.order,
            **changes,
        }
        out: list[tuple[str, str]] = []
        for name, value in values.items():
            if isinstance(value, tuple | list):
                out.extend((name, str(v)) for v in value)
            elif value is not None:
                out.append((name, str(value)))
        return out


@dataclass(frozen=True)
class Options:
    segment: tuple[str, ...]
    csm_id: tuple[str, ...]
    lifecycle_stage: tuple[str, ...]


_OPTIONS: dict[int, tuple[Portfolio, Options]] = {}


def options(portfolio: Portfolio) -> Options:
    """The values each filter offers (computed once per served portfolio)."""
    known = _OPTIONS.get(id(portfolio))
    if known is not None and known[0] is portfolio:
        return known[1]
    batch = portfolio.batch

    def distinct(column: np.ndarray) -> tuple[str, ...]:
        return tuple(sorted({str(v) for v in column.tolist() if v is not None}))

    found = Options(
        distinct(batch.segment), distinct(batch.csm_id), distinct(batch.lifecycle_stage)
    )
    if len(_OPTIONS) > 4:
        _OPTIONS.clear()
    _OPTIONS[id(portfolio)] = (portfolio, found)
    return found


@functools.lru_cache(maxsize=512)
def option_tags(values: tuple[str, ...], selected: tuple[str, ...], blank: str | None) -> Markup:
    """``<option>`` tags of ``values`` (escaped) with ``selected`` marked, after a blank
    option labelled ``blank`` when given; cached: a page repeats the same lists."""
    tags = [f'<option value="">{escape(blank)}</option>'] if blank is not None else []
    for value in values:
        mark = " selected" if value in selected else ""
        tags.append(f'<option value="{escape(value)}"{mark}>{escape(value)}</option>')
    return Markup("".join(tags))


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def account_row(a: dict[str, Any]) -> str:
    """The portfolio table's row of one account summary, every value escaped.

    Built here rather than in a template: a Jinja macro per row cost ~0.2 ms, which made a
    page of rows never rendered before ~7x the JSON endpoint (``python -m bench ui``);
    ``html.escape`` escapes like Jinja's autoescape (``& < > " '``)."""
    e = html.escape
    tier = e(a["risk_tier"])
    return (
        f'<tr><th scope="row"><a href="/ui/accounts/{e(quote(a["account_id"], safe=""))}">'
        f"{e(a['account_id'])}</a></th>"
        f'<td><span class="tier tier-{tier}">{tier}</span></td>'
        f'<td class="num">{pct(a["churn_probability"])}</td>'
        f'<td class="num">{pct(a["expansion_probability"])}</td>'
        f'<td class="num">{money(a["mrr"])}</td>'
        f'<td class="num">{money(a["revenue_at_risk"])}</td>'
        f"<td>{renewal_date(a) or '—'}</td>"
        f"<td>{e(a['segment'] or '—')}</td>"
        f"<td>{e(a['csm_id'] or '—')}</td>"
        f"<td>{e(a['lifecycle_stage'] or '—')}</td>"
        f'<td class="reason">{e(a["top_churn_reason"] or "—")}</td></tr>'
    )


_ROWS: dict[int, tuple[Portfolio, dict[int, str]]] = {}


def row_markup(portfolio: Portfolio, rows: Sequence[int]) -> Markup:
    """The table rows of these accounts; each rendered once per served portfolio (as the
    API serialises each record once), so a page joins cached rows."""
    known = _ROWS.get(id(portfolio))
    if known is None or known[0] is not portfolio:
        if len(_ROWS) > 4:
            _ROWS.clear()
        known = _ROWS[id(portfolio)] = (portfolio, {})
    cache = known[1]
    out = []
    for i in rows:
        markup = cache.get(i)
        if markup is None:
            markup = cache[i] = account_row(portfolio.summaries[i])
        out.append(markup)
    return Markup("\n".join(out))


@dataclass
class PortfolioView:
    rows: list[int]
    """row indices of the page (``row_markup`` renders them)"""
    total: int
    totals: dict[str, float]
    limit: int
    offset: int
    filters: Filters
    options: Options
    snapshot_date: str | None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None


def portfolio_view(state: ServingState, filters: Filters, limit: int, offset: int) -> PortfolioView:
    portfolio = state.portfolio
    rows = filters.rows(portfolio)
    batch = portfolio.batch
    totals = {
        "accounts": float(len(rows)),
        "mrr": _sum(batch.mrr, rows),
        "revenue_at_risk": _sum(batch.revenue_at_risk, rows),
        "expected_expansion_mrr": _sum(batch.expected_expansion_mrr, rows),
    }
    return PortfolioView(
        rows[offset : offset + limit].tolist(),
        len(rows),
        totals,
        limit,
        offset,
        filters,
        options(portfolio),
        state.snapshot_date,
        state.versions,
    )


def _sum(column: np.ndarray, rows: np.ndarray) -> float:
    return float(np.nansum(np.asarray(column, dtype=np.float64)[rows])) if len(rows) else 0.0


def _with_renewal(summary: dict[str, Any]) -> dict[str, Any]:
    return {**summary, "renewal_date": renewal_date(summary)}


def renewal_date(record: dict[str, Any]) -> str | None:
    """Snapshot date + days to renewal (YYYY-MM-DD), or None when either is unknown."""
    days, snapshot = record.get("days_to_renewal"), record.get("snapshot_date")
    if days is None or snapshot is None:
        return None
    return (_day(snapshot) + timedelta(days=int(days))).isoformat()


@functools.lru_cache(maxsize=64)
def _day(text: str) -> date:
    return date.fromisoformat(text)


def portfolio_csv(state: ServingState, filters: Filters) -> str:
    """Every account of the view (all pages), in its order, one CSV row each."""
    portfolio = state.portfolio
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i in filters.rows(portfolio).tolist():
        summary = _with_renewal(portfolio.summaries[i])
        summary["playbooks"] = " ".join(summary.get("playbooks") or [])
        writer.writerow([_cell(summary.get(name)) for name in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# ---- one account ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfField:
    name: str
    label: str
    unit: str | None
    current: float | None
    given: str
    """what the form shows: the value sent, or the current one"""


def account_record(state: ServingState, account_id: str) -> dict[str, Any]:
    """The cached record GET /v1/accounts/{id} answers (``UnknownAccount`` if absent)."""
    return json.loads(state.portfolio.response(account_id, state.snapshot_date))


def score_charts(record: dict[str, Any]) -> dict[str, charts.Waterfall]:
    """A waterfall per score: drivers up then down, as the record lists them."""
    out = {}
    for kind in ("churn", "expansion"):
        score = record[kind]
        drivers = [*score["drivers_up"], *score["drivers_down"]]
        out[kind] = charts.waterfall(
            score["base_value"], score["raw_score"], drivers, f"{kind} score"
        )
    return out


def history_chart(state: ServingState, account_id: str) -> charts.LineChart | None:
    """The account's scores over the history's snapshots (None: no history, or one point)."""
    history = state.history
    if history is None or account_id not in history.index:
        return None
    points = history.account(account_id)["points"]
    if len(points) < 2:
        return None
    return charts.line_chart(
        [p["snapshot_date"] for p in points],
        {
            "churn": [p["churn_probability"] for p in points],
            "expansion": [p["expansion_probability"] for p in points],
        },
    )


def what_if_fields(
    state: ServingState, account_id: str, given: dict[str, str] | None = None
) -> list[WhatIfField]:
    """The churn model's most important actionable numeric features, with the account's values."""
    view = state.churn
    gains = view.bundle.importance()
    kinds = state.feature_kinds
    ranked = sorted(range(len(view.names)), key=lambda j: -float(gains[j]))
    row = state.snapshot.row(state.portfolio.position(account_id, state.snapshot_date))
    found: list[WhatIfField] = []
    for j in ranked:
        name, spec = view.names[j], view.specs[j]
        if kinds.get(name) != "numeric" or spec is None or spec.role != "actionable":
            continue
        current = row.get(name)
        shown = (given or {}).get(name)
        found.append(
            WhatIfField(
                name,
                spec.description or name,
                spec.unit,
                current,
                shown if shown is not None else _plain(current),
            )
        )
        if len(found) == WHAT_IF_FIELDS:
            break
    return found


def _plain(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}"


class WhatIfInputError(ValueError):
    """A what-if form value that is not a number."""


def parse_what_if(form: dict[str, str], names: Sequence[str]) -> dict[str, float]:
    """The changed values of a what-if form: numbers for the offered names (blank: unchanged)."""
    changes: dict[str, float] = {}
    for name in names:
        text = (form.get(name) or "").strip()
        if not text:
            continue
        try:
            value = float(text.replace(",", ""))
        except ValueError as err:
            raise WhatIfInputError(f"{name}: {text!r} is not a number") from err
        if not math.isfinite(value):
            raise WhatIfInputError(f"{name}: {text!r} is not a finite number")
        changes[name] = value
    return changes


def what_if(state: ServingState, account_id: str, changes: dict[str, float]) -> dict[str, Any]:
    """The account rescored with ``changes``: what ``POST /v1/score`` answers for one row."""
    values = what_if_values(state, WhatIfRow(account_id=account_id, features=dict(changes)))
    head = {"snapshot_date": state.snapshot_date, **state.versions}
    body = score_rows(
        [values], state.churn, state.expansion, state.playbooks, state.config, 1, head
    )
    return json.loads(body)["results"][0]
