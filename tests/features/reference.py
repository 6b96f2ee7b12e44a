"""Reference implementation of the data contract's canonical features and labels.

This is a slow, independent oracle used by tests and benchmarks, not a production path. It
is written in plain pandas/numpy straight from ``data-contract.md`` (sections 1-3 and 5) and
deliberately shares no code with ``features/transforms``, ``features/labels.py`` or
``features/pipeline.py``: the point is a second, obviously-correct computation that the real
pipeline can be checked against.

The shape of the computation is "one loop per snapshot date, vectorised pandas filters
inside": for every snapshot ``t`` it selects the rows of each table that fall in the windows
the contract defines (``[t - N days, t)``, only data strictly before ``t``) and aggregates them
per account. That is quick enough for a few hundred accounts, two years of snapshots and about
a million events (seconds), and far too naive for anything bigger.

Conventions (all from the contract):

- timestamps are UTC; a timestamp without zone is UTC, one with an offset is converted;
- dates are calendar dates, intervals are half-open (``start`` inside, ``end`` outside);
- rows whose account_id is not in ``accounts`` take no part in anything;
- rows of dated tables dated on or after the as-of date are left out;
- an optional table that is absent makes its features null; a present table with no rows for
  an account makes its counts and sums 0.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "FEATURE_COLUMNS",
    "read_csv_source",
    "reference_features",
]

FEATURE_COLUMNS: tuple[str, ...] = (
    "mrr",
    "seats",
    "tenure_days",
    "days_to_renewal",
    "lifecycle_stage",
    "active_users_30d",
    "seat_utilization_30d",
    "core_breadth_30d",
    "events_30d",
    "events_trend_30_90",
    "champion_departures_90d",
    "active_champions",
    "consumption_30d",
    "quota_burn_ratio",
    "open_high_tickets",
    "nps_last",
)

# Integer-valued output columns (nullable Int64); the other numeric ones are float64.
_INT_COLUMNS = (
    "seats",
    "tenure_days",
    "days_to_renewal",
    "active_users_30d",
    "events_30d",
    "champion_departures_90d",
    "active_champions",
    "open_high_tickets",
)
_FLOAT_COLUMNS = (
    "mrr",
    "seat_utilization_30d",
    "core_breadth_30d",
    "events_trend_30_90",
    "consumption_30d",
    "quota_burn_ratio",
    "nps_last",
)

# Column types of the contract's tables (section 1).
_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "events": ("ts",),
    "users": ("created_at", "deactivated_at"),
    "tickets": ("opened_at", "closed_at"),
}
_DATES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("start_date", "end_date"),
    "consumption": ("date",),
    "contacts": ("start_date", "end_date"),
    "surveys": ("date",),
    "activities": ("date",),
    "invoices": ("due_date", "paid_date"),
}
_FLOATS: dict[str, tuple[str, ...]] = {
    "subscriptions": ("mrr", "quota"),
    "events": ("quantity",),
    "consumption": ("units",),
    "surveys": ("score",),
    "invoices": ("amount",),
}
_INTS: dict[str, tuple[str, ...]] = {"subscriptions": ("seats",)}
_BOOLS: dict[str, tuple[str, ...]] = {"feature_catalog": ("is_core",)}
_TABLES = (
    "accounts",
    "subscriptions",
    "events",
    "users",
    "feature_catalog",
    "consumption",
    "contacts",
    "tickets",
    "surveys",
    "activities",
    "invoices",
)
# The column that dates a row of a dated table: rows on or after the as-of date are left out.
_ROW_DATE = {
    "events": "ts",
    "consumption": "date",
    "tickets": "opened_at",
    "surveys": "date",
    "activities": "date",
    "invoices": "due_date",
    "users": "created_at",
    "contacts": "start_date",
}

_UNIT = "datetime64[us]"  # microseconds: covers far-future end dates such as 9999-12-31
_REL_TOL = 1e-9


# --------------------------------------------------------------------------------------------
# Type normalisation
# --------------------------------------------------------------------------------------------


def _as_utc_naive(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC datetime64[us]; text with an offset is converted to UTC."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_localize(None)
    return values.astype(_UNIT)


def _as_day(values: pd.Series) -> pd.Series:
    """Calendar dates (datetime64, date objects or ISO text) as midnight datetime64[us]."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values, format="ISO8601")
    return values.astype(_UNIT).dt.normalize()


def _as_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.fillna(False).astype(bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes", "y"]).astype(bool)


def _normalise(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for col in _TIMESTAMPS.get(name, ()):
        if col in frame:
            frame[col] = _as_utc_naive(frame[col])
    for col in _DATES.get(name, ()):
        if col in frame:
            frame[col] = _as_day(frame[col])
    for col in _FLOATS.get(name, ()):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col]).astype("float64")
    for col in _INTS.get(name, ()):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col]).astype("Int64")
    for col in _BOOLS.get(name, ()):
        if col in frame:
            frame[col] = _as_bool(frame[col])
    return frame


def read_csv_source(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read a CSV contract source (``<table>.csv`` per table) with the contract's types.

    Only the contract's tables are read; a table without a file is simply not in the result.
    Empty cells are null (and only empty cells: "NA" is a region, not a null). Timestamps with
    an offset are converted to UTC, timestamps without zone are UTC; both come back as naive
    UTC datetime64. Dates come back as midnight datetime64, seats as nullable Int64, is_core as
    bool, and everything else not numeric as text.
    """
    folder = Path(folder)
    tables: dict[str, pd.DataFrame] = {}
    for name in _TABLES:
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        tables[name] = _normalise(name, raw)
    return tables


# --------------------------------------------------------------------------------------------
# Preparation: types, orphans, as-of
# --------------------------------------------------------------------------------------------


def _day(value: dt.date | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _prepare(
    tables: dict[str, pd.DataFrame], as_of: dt.date | None
) -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    for required in ("accounts", "subscriptions", "events"):
        if tables.get(required) is None:
            raise ValueError(f"required table {required!r} is missing")
    out = {name: _normalise(name, frame) for name, frame in tables.items() if frame is not None}
    known = pd.Index(out["accounts"]["account_id"].dropna().unique())
    for name, frame in out.items():
        if name != "accounts" and "account_id" in frame:
            out[name] = frame[frame["account_id"].isin(known)].reset_index(drop=True)

    if as_of is None:
        latest = out["events"]["ts"].max()
        if pd.isna(latest):
            raise ValueError("no events: the default as-of date is undefined; pass as_of")
        as_of_ts = latest.normalize() + pd.Timedelta(days=1)
    else:
        as_of_ts = _day(as_of)

    for name, col in _ROW_DATE.items():
        if name in out and col in out[name]:
            frame = out[name]
            out[name] = frame[~(frame[col] >= as_of_ts)].reset_index(drop=True)
    return out, as_of_ts


def _snapshot_dates(events: pd.DataFrame, as_of: pd.Timestamp, warmup: int) -> list[pd.Timestamp]:
    if events.empty:
        return []
    first = events["ts"].min().normalize() + pd.Timedelta(days=warmup)
    t = first if first.day == 1 else (first + pd.offsets.MonthBegin(1)).normalize()
    dates = []
    while t <= as_of:
        dates.append(t)
        t = (t + pd.offsets.MonthBegin(1)).normalize()
    return dates


# --------------------------------------------------------------------------------------------
# Subscription timeline: MRR segments and churn dates (labels)
# --------------------------------------------------------------------------------------------


def _segments(subs: pd.DataFrame) -> pd.DataFrame:
    """Per account, the piecewise-constant MRR/coverage timeline.

    One row per breakpoint ``b`` (every start_date and end_date of the account): on every day
    of ``[b, next_b)`` the account's MRR is ``mrr`` and ``n_covering`` subscriptions cover it.
    The sums are taken afresh over the covering subscriptions (no running sums, so no
    floating-point drift). The last segment has ``next_b`` NaT (open-ended, uncovered).
    """
    starts = subs[["account_id", "start_date"]].rename(columns={"start_date": "b"})
    ends = subs[["account_id", "end_date"]].rename(columns={"end_date": "b"})
    bps = (
        pd.concat([starts, ends], ignore_index=True)
        .drop_duplicates()
        .sort_values(["account_id", "b"])
        .reset_index(drop=True)
    )
    bps["next_b"] = bps.groupby("account_id")["b"].shift(-1)
    pairs = bps[["account_id", "b"]].merge(
        subs[["account_id", "start_date", "end_date", "mrr"]], on="account_id"
    )
    covering = pairs[(pairs["start_date"] <= pairs["b"]) & (pairs["end_date"] > pairs["b"])]
    agg = covering.groupby(["account_id", "b"], as_index=False).agg(
        mrr=("mrr", "sum"), n_covering=("mrr", "size")
    )
    seg = bps.merge(agg, on=["account_id", "b"], how="left")
    seg["mrr"] = seg["mrr"].fillna(0.0).astype("float64")
    seg["n_covering"] = seg["n_covering"].fillna(0).astype("int64")
    return seg


def _churn_dates(seg: pd.DataFrame, grace_days: int) -> pd.DataFrame:
    """Days e not covered, covered on e - 1, with no coverage anywhere in [e, e + grace)."""
    seg = seg.copy()
    covered = seg["n_covering"] > 0
    seg["prev_covered"] = (
        covered.groupby(seg["account_id"]).shift(1).astype("boolean").fillna(False).astype(bool)
    )
    # Start of the next covered segment at or after each row (NaT: never covered again).
    seg["covered_start"] = seg["b"].where(covered)
    seg["next_covered"] = seg.groupby("account_id")["covered_start"].bfill()
    gap_ok = seg["next_covered"].isna() | (
        seg["next_covered"] >= seg["b"] + pd.Timedelta(days=grace_days)
    )
    churn = seg[~covered & seg["prev_covered"] & gap_ok]
    return churn[["account_id", "b"]].rename(columns={"b": "churn_date"}).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Features and labels for one snapshot date
# --------------------------------------------------------------------------------------------


class _Events:
    """Events sorted by ts, so that each half-open window is one slice (searchsorted)."""

    def __init__(self, events: pd.DataFrame, catalog: pd.DataFrame | None) -> None:
        ev = events[["account_id", "user_id", "ts", "feature"]].sort_values("ts", kind="stable")
        self.ev = ev.reset_index(drop=True)
        self.ts = self.ev["ts"].to_numpy(dtype=_UNIT)
        if catalog is None:
            # No catalog: every feature is core; the denominator is the number of distinct
            # features seen in the events of all accounts before t.
            self.is_core = np.ones(len(self.ev), dtype=bool)
            first_seen = self.ev.groupby("feature")["ts"].min()
            self.first_seen = np.sort(first_seen.to_numpy(dtype=_UNIT))
            self.n_core_catalog: int | None = None
        else:
            core = set(catalog.loc[catalog["is_core"], "feature"].dropna())
            self.is_core = self.ev["feature"].isin(core).to_numpy()
            self.first_seen = np.array([], dtype=_UNIT)
            self.n_core_catalog = len(core)

    def _pos(self, when: pd.Timestamp) -> int:
        return int(np.searchsorted(self.ts, np.datetime64(when.to_datetime64(), "us"), "left"))

    def window(self, start: pd.Timestamp, end: pd.Timestamp) -> slice:
        """Rows with start <= ts < end."""
        return slice(self._pos(start), self._pos(end))

    def n_core(self, t: pd.Timestamp) -> int:
        if self.n_core_catalog is not None:
            return self.n_core_catalog
        return int(np.searchsorted(self.first_seen, np.datetime64(t.to_datetime64(), "us")))


def _count(frame: pd.DataFrame, index: pd.Index) -> pd.Series:
    return frame.groupby("account_id").size().reindex(index, fill_value=0).astype("int64")


def _distinct(frame: pd.DataFrame, col: str, index: pd.Index) -> pd.Series:
    pairs = frame.loc[frame[col].notna(), ["account_id", col]].drop_duplicates()
    return _count(pairs, index)


def _snapshot(
    t: pd.Timestamp,
    tables: dict[str, pd.DataFrame],
    events: _Events,
    first_start: pd.Series,
) -> pd.DataFrame | None:
    day = pd.Timedelta(days=1)
    d = t - day  # t - 1
    subs = tables["subscriptions"]

    cover = subs[(subs["start_date"] <= d) & (subs["end_date"] > d)]
    if cover.empty:
        return None
    idx = pd.Index(sorted(cover["account_id"].unique()), name="account_id")
    g = cover.groupby("account_id")
    out = pd.DataFrame(index=idx)

    # --- commercial / lifecycle ---------------------------------------------------------
    out["mrr"] = g["mrr"].sum().reindex(idx).astype("float64")
    out["seats"] = g["seats"].sum(min_count=1).reindex(idx).astype("Int64")
    out["tenure_days"] = (t - first_start.reindex(idx)).dt.days.astype("Int64")
    out["days_to_renewal"] = (g["end_date"].min().reindex(idx) - t).dt.days.astype("Int64")
    stage = np.where(
        out["tenure_days"] < 90,
        "onboarding",
        np.where(out["days_to_renewal"] < 90, "renewal", "adoption"),
    )
    out["lifecycle_stage"] = pd.Series(stage, index=idx, dtype=object)

    # --- usage -----------------------------------------------------------------------------
    w30 = events.ev.iloc[events.window(t - 30 * day, t)]
    w30_core = w30[events.is_core[events.window(t - 30 * day, t)]]
    w90_30 = events.ev.iloc[events.window(t - 90 * day, t - 30 * day)]

    active_users = _distinct(w30, "user_id", idx)
    out["active_users_30d"] = active_users.astype("Int64")
    seats = out["seats"].astype("float64")
    out["seat_utilization_30d"] = (active_users / seats).where(seats > 0)

    n_core = events.n_core(t)
    breadth = _distinct(w30_core, "feature", idx)
    out["core_breadth_30d"] = breadth / n_core if n_core > 0 else np.nan

    events_30d = _count(w30, idx)
    out["events_30d"] = events_30d.astype("Int64")
    half_prev = _count(w90_30, idx) / 2.0
    out["events_trend_30_90"] = (events_30d / half_prev).where(half_prev > 0)

    # --- champions --------------------------------------------------------------------------
    contacts = tables.get("contacts")
    if contacts is None:
        out["champion_departures_90d"] = pd.array([pd.NA] * len(idx), dtype="Int64")
        out["active_champions"] = pd.array([pd.NA] * len(idx), dtype="Int64")
    else:
        champs = contacts[contacts["role"] == "champion"]
        left = champs[(champs["end_date"] >= t - 90 * day) & (champs["end_date"] < t)]
        active = champs[
            (champs["start_date"] < t) & (champs["end_date"].isna() | (champs["end_date"] >= t))
        ]
        out["champion_departures_90d"] = _count(left, idx).astype("Int64")
        out["active_champions"] = _count(active, idx).astype("Int64")

    # --- consumption ------------------------------------------------------------------------
    consumption = tables.get("consumption")
    if consumption is None:
        out["consumption_30d"] = np.nan
        out["quota_burn_ratio"] = np.nan
    else:
        recent = consumption[(consumption["date"] >= t - 30 * day) & (consumption["date"] < t)]
        out["consumption_30d"] = (
            recent.groupby("account_id")["units"].sum().reindex(idx, fill_value=0.0)
        ).astype("float64")

        # Current term: covering t - 1, with a quota, latest start_date, then smallest id.
        term = (
            cover[cover["quota"].notna()]
            .sort_values(
                ["account_id", "start_date", "subscription_id"], ascending=[True, False, True]
            )
            .drop_duplicates("account_id")
        )
        term = term[["account_id", "start_date", "end_date", "quota"]]
        used = consumption.merge(term[["account_id", "start_date"]], on="account_id")
        used = used[(used["date"] >= used["start_date"]) & (used["date"] < t)]
        units = used.groupby("account_id")["units"].sum()
        term = term.set_index("account_id")
        term["units"] = units.reindex(term.index, fill_value=0.0)
        elapsed = (t - term["start_date"]).dt.days / (
            (term["end_date"] - term["start_date"]).dt.days
        )
        expected = term["quota"] * elapsed
        ratio = (term["units"] / expected).where(term["quota"] > 0)
        out["quota_burn_ratio"] = ratio.reindex(idx).astype("float64")

    # --- support ------------------------------------------------------------------------------
    tickets = tables.get("tickets")
    if tickets is None:
        out["open_high_tickets"] = pd.array([pd.NA] * len(idx), dtype="Int64")
    else:
        open_high = tickets[
            tickets["priority"].isin(["urgent", "high"])
            & (tickets["opened_at"] < t)
            & (tickets["closed_at"].isna() | (tickets["closed_at"] >= t))
        ]
        out["open_high_tickets"] = _count(open_high, idx).astype("Int64")

    # --- voice of customer ---------------------------------------------------------------------
    surveys = tables.get("surveys")
    if surveys is None:
        out["nps_last"] = np.nan
    else:
        nps = surveys[(surveys["kind"] == "nps") & (surveys["date"] < t)]
        nps = nps[nps["score"].notna()]
        latest = nps.groupby("account_id")["date"].transform("max")
        last = nps[nps["date"] == latest].groupby("account_id")["score"].mean()
        out["nps_last"] = last.reindex(idx).astype("float64")

    return out


def _labels(
    frame: pd.DataFrame,
    seg: pd.DataFrame,
    churn: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon: int,
    grace: int,
) -> tuple[pd.Series, pd.Series]:
    """churn_{H}d and expand_{H}d for every (account_id, snapshot_date) row of ``frame``."""
    h = pd.Timedelta(days=horizon)
    g = pd.Timedelta(days=grace)
    churn_lab = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    expand_lab = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    for t, rows in frame.groupby("_t").groups.items():
        t = pd.Timestamp(t)
        accounts = frame.loc[rows, "account_id"]
        if t + h + g <= as_of:
            inside = churn[(churn["churn_date"] >= t) & (churn["churn_date"] < t + h)]
            churn_lab.loc[rows] = accounts.isin(set(inside["account_id"])).astype("int64").values
        if t + h <= as_of:
            # Segments overlapping [t, t + H): the open-ended last segment has MRR 0.
            overlap = seg[(seg["b"] < t + h) & (seg["next_b"].notna()) & (seg["next_b"] > t)]
            peak = overlap.groupby("account_id")["mrr"].max()
            peak_rows = accounts.map(peak).astype("float64").fillna(0.0).to_numpy()
            base = frame.loc[rows, "mrr"].astype("float64").to_numpy()
            expand_lab.loc[rows] = [
                int(_expands(p, b)) for p, b in zip(peak_rows, base, strict=True)
            ]
    return churn_lab, expand_lab


def _expands(peak: float, base: float) -> bool:
    """MRR(d) > 0 and MRR(d) >= 1.10 * base, with a relative tolerance of 1e-9.

    Evaluating on the peak MRR of the window is enough: if any day qualifies, the peak does.
    """
    if not peak > 0:
        return False
    threshold = 1.10 * base
    return peak >= threshold or math.isclose(peak, threshold, rel_tol=_REL_TOL)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def reference_features(
    tables: dict[str, pd.DataFrame],
    as_of: dt.date | None = None,
    horizon_days: int = 180,
    grace_days: int = 30,
    warmup_days: int = 90,
) -> pd.DataFrame:
    """The contract's feature table: canonical features and labels, one row per snapshot.

    ``tables`` maps table names to frames with the contract's column names (timestamps as
    naive UTC datetime64 or text; dates as datetime64, ``datetime.date`` objects or text).
    Optional tables absent from the dict (or ``None``) give null features.

    Returns columns ``account_id``, ``snapshot_date`` (``datetime.date``), the 16 canonical
    features, ``churn_{H}d`` and ``expand_{H}d``, sorted by account_id and snapshot_date.
    Counts and seats are nullable Int64, the labels Int64 (null when censored), the ratios
    and money float64, lifecycle_stage text.
    """
    prepared, as_of_ts = _prepare(tables, as_of)
    subs = prepared["subscriptions"]
    churn_col, expand_col = f"churn_{horizon_days}d", f"expand_{horizon_days}d"
    columns = ["account_id", "snapshot_date", *FEATURE_COLUMNS, churn_col, expand_col]

    events = _Events(prepared["events"], prepared.get("feature_catalog"))
    first_start = subs.groupby("account_id")["start_date"].min()

    parts = []
    for t in _snapshot_dates(prepared["events"], as_of_ts, warmup_days):
        part = _snapshot(t, prepared, events, first_start)
        if part is not None:
            part = part.reset_index()
            part.insert(1, "_t", t)
            parts.append(part)
    if not parts:
        return _empty(columns)

    frame = pd.concat(parts, ignore_index=True)
    seg = _segments(subs)
    churn = _churn_dates(seg, grace_days)
    frame[churn_col], frame[expand_col] = _labels(
        frame, seg, churn, as_of_ts, horizon_days, grace_days
    )
    frame["snapshot_date"] = [ts.date() for ts in frame["_t"]]
    frame = frame.sort_values(["account_id", "_t"], kind="stable").reset_index(drop=True)
    for col in _INT_COLUMNS:
        frame[col] = frame[col].astype("Int64")
    for col in _FLOAT_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame[columns]


def _empty(columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({col: pd.Series(dtype=object) for col in columns})
    for col in _INT_COLUMNS:
        frame[col] = frame[col].astype("Int64")
    for col in _FLOAT_COLUMNS:
        frame[col] = frame[col].astype("float64")
    for col in columns[-2:]:
        frame[col] = frame[col].astype("Int64")
    return frame
