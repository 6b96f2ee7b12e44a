"""MRR movements per calendar month: new, expansion, contraction, churned and reactivated MRR,
with gross and net revenue retention (definitions in docs/forecast.md).

An account's state is read at the end of each month's last day. It is a customer while an
island of coverage holds it (``features.labels.coverage_islands``: lapses shorter than the
grace period do not break an island), so a renewal signed a few days late moves nothing and
a downgrade to zero seats is a contraction, not a churn. Inside such a short lapse the
account keeps the MRR of its last covered day. Per account and month:

- churned: it was a customer at the start and its island ended in the month (start MRR);
- new / reactivated: a customer at the end on an island that began in the month (end MRR),
  new on the account's first island, reactivated on a later one;
- expansion / contraction: a customer at both ends of one island, MRR up / down.

So start MRR + new + expansion - contraction - churned + reactivated = end MRR, for every
account and month. A month whose end lies within the grace period of the as-of date is
``provisional``: a lapse that began in it may still be closed by a renewal booked later.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from features.labels import coverage_islands

MOVEMENTS = ("new", "expansion", "contraction", "churned", "reactivated")


def whole_months(first_day: date, as_of: date) -> list[date]:
    """First days of the months from ``first_day``'s month whose last day is before ``as_of``
    (the as-of date is the first day the source does not cover)."""
    months: list[date] = []
    month = first_day.replace(day=1)
    while next_month(month) <= as_of:
        months.append(month)
        month = next_month(month)
    return months


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def account_states(subscriptions: ir.Table, days: list[date], grace_days: int) -> ir.Table:
    """(account_id, day, island, mrr) at the end of each of ``days`` for every account with a
    subscription: ``island`` is null when the account is not a customer that day; ``mrr`` is
    0 then, and inside a lapse shorter than the grace it is the MRR of the last covered day."""
    subs = subscriptions.select(
        sub_account=subscriptions.account_id,
        sub_start=subscriptions.start_date,
        sub_end=subscriptions.end_date,
        sub_mrr=subscriptions.mrr,
    )
    day_table = ibis.memtable({"day": days}, schema={"day": "date"})
    grid = subscriptions.select("account_id").distinct().cross_join(day_table)
    started = grid.left_join(
        subs, [grid.account_id == subs.sub_account, subs.sub_start <= grid.day]
    )
    covering = started.sub_end > started.day
    levels = started.group_by("account_id", "day").agg(
        mrr=ibis.ifelse(covering, started.sub_mrr, 0.0).sum().fill_null(0.0),
        lines=covering.cast("int64").sum().fill_null(0),
        last_end=ibis.ifelse(covering, ibis.null("date"), started.sub_end).max(),
    )
    islands = coverage_islands(subscriptions, grace_days)
    placed = levels.left_join(
        islands,
        [
            levels.account_id == islands.account_id,
            islands.island_start <= levels.day,
            islands.churn_date > levels.day,
        ],
    ).select("account_id", "day", "mrr", "lines", "last_end", "island")
    # In a short lapse the level is that of the day before the lapse began.
    in_lapse = placed.filter(placed.island.notnull() & (placed.lines == 0))
    in_lapse = in_lapse.mutate(last_day=in_lapse.last_end - ibis.interval(days=1))
    carried = (
        in_lapse.left_join(
            subs,
            [
                in_lapse.account_id == subs.sub_account,
                subs.sub_start <= in_lapse.last_day,
                subs.sub_end > in_lapse.last_day,
            ],
        )
        .group_by("account_id", "day")
        .agg(carried_mrr=ibis._.sub_mrr.sum().fill_null(0.0))
    )
    out = placed.left_join(carried, ["account_id", "day"])
    mrr = ibis.ifelse(
        out.island.isnull(), 0.0, ibis.ifelse(out.lines == 0, out.carried_mrr, out.mrr)
    )
    return out.select("account_id", "day", "island", mrr=mrr.cast("float64"))


def account_movements(subscriptions: ir.Table, as_of: date, grace_days: int) -> pd.DataFrame:
    """One row per (account_id, month) in which the account was a customer at either end,
    sorted by month and account: ``start_mrr``, the five movements, ``end_mrr`` and
    ``churned_logo`` (0/1)."""
    first = subscriptions.start_date.min().execute()
    if first is None or pd.isna(first):
        return _empty_account_movements()
    months = whole_months(pd.Timestamp(first).date(), as_of)
    if not months:
        return _empty_account_movements()
    # The state at a month's start is the state at the end of the previous month's last day.
    ends = [next_month(m) - timedelta(days=1) for m in months]
    boundaries = [months[0] - timedelta(days=1), *ends]
    states = account_states(subscriptions, boundaries, grace_days).to_pandas()
    states["day"] = pd.to_datetime(states["day"]).dt.date
    by_day = {day: frame.set_index("account_id") for day, frame in states.groupby("day")}
    pieces = []
    for i, (month, start_day) in enumerate(zip(months, boundaries[:-1], strict=True)):
        start = by_day[start_day][["island", "mrr"]]
        end = by_day[boundaries[i + 1]][["island", "mrr"]]
        pair = start.join(end, suffixes=("_start", "_end"))
        pair = pair[pair["island_start"].notna() | pair["island_end"].notna()]
        pieces.append(_movements_of(pair).assign(month=month))
    if not pieces:
        return _empty_account_movements()
    out = pd.concat(pieces).reset_index().rename(columns={"index": "account_id"})
    # Sorted: the engine returns the states in any order, and what is learned from the rows
    # (the forecast's size draws) must not depend on it.
    return out.sort_values(["month", "account_id"], kind="stable").reset_index(drop=True)


def _movements_of(pair: pd.DataFrame) -> pd.DataFrame:
    was = pair["island_start"].notna()
    now = pair["island_end"].notna()
    same = was & now & (pair["island_start"] == pair["island_end"])
    churned = was & ~same
    began = now & ~same
    first_island = pair["island_end"] == 1
    delta = (pair["mrr_end"] - pair["mrr_start"]).where(same, 0.0)
    start_mrr = pair["mrr_start"].where(was, 0.0)
    end_mrr = pair["mrr_end"].where(now, 0.0)
    return pd.DataFrame(
        {
            "start_mrr": start_mrr,
            "new": end_mrr.where(began & first_island, 0.0),
            "expansion": delta.clip(lower=0.0),
            "contraction": (-delta).clip(lower=0.0),
            "churned": start_mrr.where(churned, 0.0),
            "reactivated": end_mrr.where(began & ~first_island, 0.0),
            "end_mrr": end_mrr,
            "customer_start": was.astype("int64"),
            "churned_logo": churned.astype("int64"),
        },
        index=pair.index,
    )


def _empty_account_movements() -> pd.DataFrame:
    columns = ["account_id", "month", "start_mrr", *MOVEMENTS, "end_mrr"]
    return pd.DataFrame(columns=[*columns, "customer_start", "churned_logo"])


def monthly_movements(
    per_account: pd.DataFrame,
    as_of: date,
    grace_days: int,
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Sum ``account_movements`` per month (and per group when ``groups`` maps account_id
    to a group label; accounts without one are in ``"(none)"``; every group gets every
    month, with zeros where it held no customer). Adds net new MRR, GRR, NRR
    (null when the month starts with no MRR), accounts at the start, logos churned, the logo
    churn rate and ``provisional``."""
    frame = per_account.copy()
    keys = ["month"]
    if groups is not None:
        frame["group"] = frame["account_id"].map(groups).fillna("(none)").astype(str)
        keys = ["group", "month"]
    summed = frame.groupby(keys, sort=True)[
        ["start_mrr", *MOVEMENTS, "end_mrr", "customer_start", "churned_logo"]
    ].sum()
    if groups is not None:
        # Every group has every month, with zeros where it held no customer.
        grid = pd.MultiIndex.from_product(
            [sorted(frame["group"].unique()), sorted(frame["month"].unique())], names=keys
        )
        summed = summed.reindex(grid, fill_value=0)
    sums = summed.reset_index().rename(
        columns={"customer_start": "accounts_start", "churned_logo": "logos_churned"}
    )
    start = sums["start_mrr"].where(sums["start_mrr"] > 0)
    gained = sums["new"] + sums["expansion"] + sums["reactivated"]
    sums["net_new"] = gained - sums["contraction"] - sums["churned"]
    sums["grr"] = (sums["start_mrr"] - sums["contraction"] - sums["churned"]) / start
    sums["nrr"] = (
        sums["start_mrr"] + sums["expansion"] - sums["contraction"] - sums["churned"]
    ) / start
    accounts = sums["accounts_start"].where(sums["accounts_start"] > 0)
    sums["logo_churn_rate"] = sums["logos_churned"] / accounts
    sums["provisional"] = [
        next_month(m) + timedelta(days=grace_days) > as_of for m in sums["month"]
    ]
    return sums
