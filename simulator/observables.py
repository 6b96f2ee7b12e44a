"""What a CS team sees, generated month by month from the latent state, always with noise.

- adoption: the share of provisioned users active (primary department first), their
  event volume, core-feature breadth;
- business growth (seat need): users provisioned up to the seats, consumption against quota;
- champion presence: contacts (a departure reaches the CRM 85% of the time, days late),
  the champion's login deactivated;
- health: NPS and CSAT answers, CSM meetings;
- support pain: ticket volume, priority mix, time to close, CSAT on closed tickets,
  escalations;
- payment stress: invoices paid late or not at all.

Nothing here feeds back into the chain. Rows dated on or after the as-of date are never
written, and closing dates (closed_at, paid_date, end_date, deactivated_at) that fall on or
after it are null: the source knows only its past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.accounts import REGION_UTC_OFFSET_HOURS, AccountBatch
from simulator.arrays import sigmoid
from simulator.chain import ChainState
from simulator.commercial import CUSTOMER, Movements
from simulator.config import SimulationConfig
from simulator.dates import US_PER_DAY, add_months, weekday

# (feature, is_core, category); api_call is written by integrations only (user_id null).
FEATURES: tuple[tuple[str, bool, str], ...] = (
    ("dashboards", True, "analytics"),
    ("reports", True, "analytics"),
    ("workflows", True, "automation"),
    ("data_import", True, "data"),
    ("alerts", True, "automation"),
    ("integrations", True, "integrations"),
    ("search", False, "navigation"),
    ("export_csv", False, "data"),
    ("comments", False, "collaboration"),
    ("share_link", False, "collaboration"),
    ("templates", False, "automation"),
    ("mobile_app", False, "navigation"),
    ("settings", False, "admin"),
    ("user_invite", False, "admin"),
    ("notifications", False, "collaboration"),
    ("api_call", False, "api"),
)
FEATURE_NAMES = pa.array([f[0] for f in FEATURES], type=pa.string())
CORE = np.array([i for i, f in enumerate(FEATURES) if f[1]])
NON_CORE_USER = np.array([i for i, f in enumerate(FEATURES) if not f[1] and f[0] != "api_call"])
USER_FEATURES = len(FEATURES) - 1  # every feature but api_call
BULK_FEATURES = np.array([3, 7])  # data_import, export_csv carry a row count as quantity
API_FEATURES = np.array([5, 15])  # integrations, api_call
DEPARTMENTS = pa.array(
    ["operations", "sales", "marketing", "finance", "engineering", "support", "product", "hr"]
)
DEPARTMENTS_BY_SEGMENT = np.array([8, 5, 3])
USER_ROLES = pa.array(["admin", "member", "viewer"])
TICKET_CATEGORIES = pa.array(
    ["bug", "how_to", "billing", "feature_request", "integration", "performance"]
)
PRIORITIES = pa.array(["urgent", "high", "normal", "low"])
PRIORITY_HOURS = np.array([6.0, 18.0, 40.0, 90.0])
CSAT_PAIN = 0.3
"""CSAT points lost per unit of the month's support pain (beyond what slower fixes and
lower health cost): a customer firefighting the same problems rates each ticket lower. A
pain spike (1.2) costs ~0.4 of a 5-point scale before noise; without it CSAT hardly
answered to pain (the true support cause and CSAT were uncorrelated in top-risk rows)."""
WAIT_SHARE = 0.03
WAIT_PAIN_SHARE = 0.3
WAIT_DAYS = 21.0
"""A ticket that waits on a fix (a bug, an integration, performance) stays open for
``WAIT_DAYS`` days on average beyond its usual time to close. Its chance is
``WAIT_SHARE`` + ``WAIT_PAIN_SHARE`` x sigmoid(2 pain - 2): 7% at no pain, 21% in a pain
spike (1.2), so support pain shows as a backlog of old open tickets. (2% of tickets used to
stay open for ever, whatever the pain, so the backlog counted an account's lifetime tickets,
not its current pain.)"""
ESCALATION_PAIN = 0.5
ESCALATION_RATE = 0.6
"""Escalations a month: ``ESCALATION_RATE`` x (the month's support pain above
``ESCALATION_PAIN``). An escalation is a support case taken over the support team's head
(urgent tickets, slow fixes), so support pain alone drives it; a customer unhappy for other
reasons shows it in NPS, CSAT and the CSM's meetings. (Escalations also followed low health
(health < -1: 0.15 a month), which made the feature, a support signal, stand for low
perceived value: on ``bench reasons`` seed 11 every main reason of the support family was
``escalations_90d``, and 59 of the 343 top-risk rows whose true cause was value were named
support.)"""
CONTACT_ROLES = pa.array(["champion", "executive_sponsor", "admin", "billing", "other"])
CHAMPION, SPONSOR, ADMIN, BILLING, OTHER = range(5)
ACTIVITY_KINDS = pa.array(
    ["qbr", "meeting", "training", "onboarding_milestone", "escalation", "other"]
)
NEVER = np.iinfo(np.int64).max // 4
MEETINGS_PER_MONTH = np.array([0.6, 0.3, 0.08])
USER_TURNOVER = 0.012
CHAMPION_DEPARTURE_RECORDED = 0.85
CHAMPION_ARRIVAL_RECORDED = 0.9


def feature_catalog() -> dict[str, Any]:
    return {
        "feature": FEATURE_NAMES,
        "is_core": pa.array([f[1] for f in FEATURES]),
        "category": pa.array([f[2] for f in FEATURES]),
    }


class Growable:
    """Columns that grow by appending rows and allow updates by row number."""

    def __init__(self, **dtypes: Any) -> None:
        self.cols = {name: np.zeros(64, dtype=dt) for name, dt in dtypes.items()}
        self.size = 0

    def append(self, **values: np.ndarray) -> np.ndarray:
        n = len(next(iter(values.values())))
        if self.size + n > len(next(iter(self.cols.values()))):
            capacity = max(2 * (self.size + n), 64)
            for name, col in self.cols.items():
                grown = np.zeros(capacity, dtype=col.dtype)
                grown[: self.size] = col[: self.size]
                self.cols[name] = grown
        for name, value in values.items():
            self.cols[name][self.size : self.size + n] = value
        rows = np.arange(self.size, self.size + n)
        self.size += n
        return rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name][: self.size]


def next_numbers(counter: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per-account running numbers (1, 2, ...) for new rows of accounts ``idx``; advances
    ``counter`` in place."""
    if len(idx) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    first = np.r_[True, sorted_idx[1:] != sorted_idx[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(idx)), 0))
    rank = np.empty(len(idx), dtype=np.int64)
    rank[order] = np.arange(len(idx)) - group_start
    numbers = counter[idx] + rank + 1
    np.add.at(counter, idx, 1)
    return numbers


def keyed_ids(ids: list[str], idx: np.ndarray, letter: str, numbers: np.ndarray) -> pa.Array:
    return pa.array([f"{ids[a]}-{letter}{k:04d}" for a, k in zip(idx, numbers, strict=True)])


@dataclass
class Rows:
    """Rows of the small tables for one chunk, collected month by month."""

    parts: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    def add(self, table: str, **columns: np.ndarray) -> None:
        if len(next(iter(columns.values()))):
            self.parts.setdefault(table, []).append(columns)

    def get(self, table: str) -> dict[str, np.ndarray] | None:
        parts = self.parts.get(table)
        if not parts:
            return None
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class ChunkObserver:
    """The observable tables of one chunk of accounts, built month by month."""

    def __init__(
        self,
        config: SimulationConfig,
        batch: AccountBatch,
        month_starts: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.batch = batch
        self.rng = rng
        self.as_of = int(month_starts[config.months])
        n = len(batch)
        self.n = n
        seg = batch.segment
        self.utc_offset_us = (REGION_UTC_OFFSET_HOURS[batch.region] * 3600e6).astype(np.int64)
        self.intensity = np.exp(0.35 * rng.standard_normal(n))
        self.fill = 0.85 + 0.15 * rng.random(n)
        self.departments = DEPARTMENTS_BY_SEGMENT[seg]
        self.core_order = np.argsort(rng.random((n, len(CORE))), axis=1)
        self.non_core_weights = rng.dirichlet(np.ones(len(NON_CORE_USER)), size=n) * 4.0
        self.integrates = rng.random(n) < 0.6
        self.qbr_phase = rng.integers(0, 12, size=n)
        self.users = Growable(
            acc=np.int32, num=np.int32, created=np.int64, deact=np.int64, prop=np.float64,
            dept=np.int8, role=np.int8,
        )  # fmt: skip
        self.user_count = np.zeros(n, dtype=np.int64)
        self.contacts = Growable(
            acc=np.int32, num=np.int32, role=np.int8, start=np.int64, end=np.int64,
            user=np.int64,
        )  # fmt: skip
        self.contact_count = np.zeros(n, dtype=np.int64)
        self.champion_contact = np.full(n, -1, dtype=np.int64)
        self.sponsor_contact = np.full(n, -1, dtype=np.int64)
        self.ticket_count = np.zeros(n, dtype=np.int64)
        self.invoice_count = np.zeros(n, dtype=np.int64)
        self.next_bill = np.full(n, -1, dtype=np.int64)
        self.rows = Rows()
        self.event_parts: list[tuple[np.ndarray, ...]] = []
        self.events = 0
        self._start_existing(month_starts)

    # ---- helpers -----------------------------------------------------------------------

    def _days_in(self, lo: np.ndarray, hi: np.ndarray, weekend: float) -> np.ndarray:
        """A day in [lo, hi) per row (lo itself when hi <= lo), weekdays weighted 1 and
        weekend days ``weekend``: inverse CDF over the cumulative day weights."""
        if len(lo) == 0:
            return np.zeros(0, dtype=np.int64)
        hi = np.maximum(hi, lo + 1)
        base = int(lo.min())
        days = np.arange(base, int(hi.max()))
        cum = np.r_[0.0, np.cumsum(np.where(weekday(days) >= 5, weekend, 1.0))]
        w_lo, w_hi = cum[lo - base], cum[hi - base]
        x = w_lo + self.rng.random(len(lo)) * (w_hi - w_lo)
        day = base + np.searchsorted(cum, x, side="right") - 1
        return np.clip(day, lo, hi - 1)

    def _business_time_us(self, acc: np.ndarray) -> np.ndarray:
        """Microseconds into a UTC day: local office hours (peak early afternoon), 10% any
        time, shifted by the account's region and wrapped into the same day."""
        n = len(acc)
        local_h = np.where(
            self.rng.random(n) < 0.1,
            self.rng.random(n) * 24.0,
            np.clip(13.5 + 2.6 * self.rng.standard_normal(n), 6.0, 23.5),
        )
        us = (local_h * 3600e6).astype(np.int64) - self.utc_offset_us[acc]
        return np.mod(us, US_PER_DAY)

    def _ts(self, acc: np.ndarray, day: np.ndarray) -> np.ndarray:
        return day * US_PER_DAY + self._business_time_us(acc)

    def _known(self, day_or_ts: np.ndarray, is_ts: bool = False) -> np.ndarray:
        """The value where it is before the as-of date, else -1 (written as null)."""
        limit = self.as_of * US_PER_DAY if is_ts else self.as_of
        return np.where(day_or_ts < limit, day_or_ts, -1)

    # ---- users and contacts ------------------------------------------------------------

    def _create_users(self, acc: np.ndarray, day: np.ndarray) -> np.ndarray:
        nums = next_numbers(self.user_count, acc)
        first = nums == 1
        dept = np.floor(self.rng.random(len(acc)) ** 1.6 * self.departments[acc]).astype(np.int8)
        role = np.where(first, 0, np.where(self.rng.random(len(acc)) < 0.15, 2, 1))
        return self.users.append(
            acc=acc,
            num=nums,
            created=self._ts(acc, day),
            deact=np.full(len(acc), NEVER),
            prop=self.rng.gamma(2.0, 0.5, len(acc)),
            dept=np.where(first, 0, dept),
            role=role,
        )

    def _add_contacts(self, acc: np.ndarray, role: int, day: np.ndarray, user: np.ndarray):
        nums = next_numbers(self.contact_count, acc)
        return self.contacts.append(
            acc=acc,
            num=nums,
            role=np.full(len(acc), role),
            start=day,
            end=np.full(len(acc), NEVER),
            user=user,
        )

    def _end_contacts(self, rows: np.ndarray, day: np.ndarray) -> None:
        """Contacts ``rows`` leave their role on ``day`` (never before they took it: a
        successor whose start was booked ahead can be replaced before starting)."""
        self.contacts.cols["end"][rows] = np.maximum(day, self.contacts.cols["start"][rows])

    def _pick_user(self, acc: np.ndarray, day: np.ndarray) -> np.ndarray:
        """A user of each account alive on ``day`` (-1 when none), drawn at random."""
        out = np.full(len(acc), -1, dtype=np.int64)
        if len(acc) == 0 or self.users.size == 0:
            return out
        u_acc, created, deact = self.users["acc"], self.users["created"], self.users["deact"]
        for i, (a, d) in enumerate(zip(acc, day, strict=True)):
            alive = np.flatnonzero((u_acc == a) & (created < d * US_PER_DAY) & (deact > d))
            if len(alive):
                out[i] = alive[int(self.rng.integers(len(alive)))]
        return out

    def _open_account(self, acc: np.ndarray, day: np.ndarray, champion: np.ndarray) -> None:
        """Users and contacts of accounts whose first term starts on ``day``."""
        state = self.batch.state
        target = self._user_target(acc, state, age=np.zeros(len(acc)))
        rep = np.repeat(acc, target)
        spread = np.repeat(day, target) + np.floor(self.rng.random(len(rep)) * 5).astype(np.int64)
        self._create_users(rep, np.minimum(spread, self.as_of - 1))
        self._staff_contacts(acc, day, champion)

    def _staff_contacts(self, acc: np.ndarray, day: np.ndarray, champion: np.ndarray) -> None:
        seg = self.batch.segment[acc]
        users = self._pick_user(acc, day + 1)
        has = champion.astype(bool)
        rows = self._add_contacts(acc[has], CHAMPION, day[has], users[has])
        self.champion_contact[acc[has]] = rows
        sponsor = (seg < 2) | (self.rng.random(len(acc)) < 0.5)
        linked = np.where(self.rng.random(len(acc)) < 0.5, self._pick_user(acc, day + 1), -1)
        rows = self._add_contacts(acc[sponsor], SPONSOR, day[sponsor], linked[sponsor])
        self.sponsor_contact[acc[sponsor]] = rows
        self._add_contacts(acc, ADMIN, day, users)
        billing = self.rng.random(len(acc)) < 0.7
        self._add_contacts(acc[billing], BILLING, day[billing], np.full(billing.sum(), -1))

    def _start_existing(self, month_starts: np.ndarray) -> None:
        """Users, contacts and the billing date of accounts that are customers on day one."""
        batch, day_one = self.batch, int(month_starts[0])
        acc = np.flatnonzero(batch.existing)
        if len(acc) == 0:
            return
        target = self._user_target(acc, batch.state, age=batch.state.latent.age[acc])
        rep = np.repeat(acc, target)
        begin = np.maximum(np.repeat(batch.tenure_start[acc], target), day_one - 3 * 365)
        created = begin + np.floor(self.rng.random(len(rep)) * (day_one - begin)).astype(np.int64)
        self._create_users(rep, created)
        begin = np.maximum(batch.tenure_start[acc], day_one - 2 * 365)
        start = begin + np.floor(self.rng.random(len(acc)) * (day_one - begin)).astype(np.int64)
        self._staff_contacts(acc, start, batch.state.latent.champion[acc])
        com = batch.state.commercial
        period = np.where(com.term_months[acc] == 1, 1, 12)
        bill = com.term_start[acc].copy()
        for _ in range(4):
            bill = np.where(bill < day_one, add_months(bill, period), bill)
        self.next_bill[acc] = np.where(bill < com.term_end[acc], bill, -1)

    def _user_target(self, acc: np.ndarray, state: ChainState, age: np.ndarray) -> np.ndarray:
        """Users provisioned: the business's need filled up to the licensed seats; new
        customers roll out over their first months."""
        com, lat = state.commercial, state.latent
        seats = com.seats[acc] + com.addon_seats[acc]
        need = lat.need[acc] * self.fill[acc]
        ramp = np.clip(0.5 + 0.25 * age, 0.5, 1.0)
        return np.maximum(np.round(np.minimum(seats, need) * ramp), 1).astype(np.int64)

    # ---- one month ---------------------------------------------------------------------

    def month(self, m: int, d0: int, d1: int, state: ChainState, mv: Movements) -> None:
        lat, com = state.latent, state.commercial
        lo, hi = mv.cover_lo, mv.cover_hi
        covered = hi > lo
        starts = mv.starts
        if starts:
            new = starts["kind"] != 1
            acc = starts["idx"][new]
            self._open_account(acc, starts["day"][new], lat.champion[acc])
        self._maintain_users(d0, lo, hi, covered, state, mv)
        self._contacts(lo, hi, covered, lat)
        self._events(d0, d1, lo, hi, covered, lat)
        self._consumption(lo, hi, covered, lat, com)
        closed = self._tickets(lo, hi, covered, lat, com)
        self._surveys(lo, hi, covered, lat, closed)
        self._activities(m, lo, hi, covered, lat)
        self._invoices(d0, d1, state, mv)

    def _maintain_users(self, d0, lo, hi, covered, state: ChainState, mv: Movements) -> None:
        users = self.users
        if users.size:
            u_acc = users["acc"]
            deact = users.cols["deact"]
            alive = (deact[: users.size] == NEVER) & covered[u_acc]
            # Staff turnover, and everyone leaves with the account when it churns.
            leave = alive & (self.rng.random(users.size) < USER_TURNOVER)
            when = self._days_in(lo[u_acc], hi[u_acc], 0.1)
            deact[: users.size] = np.where(leave, when, deact[: users.size])
            if len(mv.churn_idx):
                gone = np.zeros(self.n, dtype=bool)
                gone[mv.churn_idx] = True
                out = (deact[: users.size] == NEVER) & gone[u_acc]
                lag = np.floor(self.rng.random(users.size) * 15).astype(np.int64)
                deact[: users.size] = np.where(out, hi[u_acc] + lag, deact[: users.size])
        acc = np.flatnonzero(covered & (state.commercial.status == CUSTOMER))
        if len(acc) == 0:
            return
        target = self._user_target(acc, state, state.latent.age[acc])
        alive_count = np.zeros(self.n, dtype=np.int64)
        if users.size:
            alive_now = users["deact"] >= hi[users["acc"]]
            np.add.at(alive_count, users["acc"][alive_now], 1)
        gap = target - alive_count[acc]
        grow = gap > 0
        rep = np.repeat(acc[grow], gap[grow])
        if len(rep):
            self._create_users(rep, self._days_in(lo[rep], hi[rep], 0.1))
        shrink = acc[gap < 0]
        if len(shrink):
            # Contraction: the surplus users are switched off on a day of the month.
            u_acc = users["acc"]
            cand = np.flatnonzero((users["deact"] >= hi[u_acc]) & np.isin(u_acc, shrink))
            order = cand[np.lexsort((self.rng.random(len(cand)), u_acc[cand]))]
            o_acc = u_acc[order]
            first = np.r_[True, o_acc[1:] != o_acc[:-1]]
            rank = np.arange(len(order)) - np.maximum.accumulate(
                np.where(first, np.arange(len(order)), 0)
            )
            surplus = np.zeros(self.n, dtype=np.int64)
            surplus[acc] = np.maximum(-gap, 0)
            off = order[rank < surplus[o_acc]]
            users.cols["deact"][off] = self._days_in(lo[u_acc[off]], hi[u_acc[off]], 0.1)

    def _contacts(self, lo, hi, covered, lat) -> None:
        lost = np.flatnonzero(lat.champion_lost & covered)
        if len(lost):
            contact = self.champion_contact[lost]
            known = contact >= 0
            day = self._days_in(lo[lost], hi[lost], 0.1)
            recorded = known & (self.rng.random(len(lost)) < CHAMPION_DEPARTURE_RECORDED)
            lag = np.floor(self.rng.exponential(6.0, len(lost))).astype(np.int64)
            self._end_contacts(contact[recorded], day[recorded] + lag[recorded])
            user = np.where(known, self.contacts.cols["user"][np.maximum(contact, 0)], -1)
            leaves = (user >= 0) & (self.rng.random(len(lost)) < 0.7)
            self.users.cols["deact"][user[leaves]] = np.minimum(
                self.users.cols["deact"][user[leaves]], day[leaves]
            )
            self.champion_contact[lost] = -1
        gained = np.flatnonzero(lat.champion_gained & covered)
        if len(gained):
            day = self._days_in(lo[gained], hi[gained], 0.1)
            recorded = self.rng.random(len(gained)) < CHAMPION_ARRIVAL_RECORDED
            acc, day = gained[recorded], day[recorded]
            rows = self._add_contacts(acc, CHAMPION, day, self._pick_user(acc, day))
            self.champion_contact[acc] = rows
        # Executive sponsors change now and then.
        moves = np.flatnonzero(covered & (self.sponsor_contact >= 0))
        moves = moves[self.rng.random(len(moves)) < 0.01]
        if len(moves):
            day = self._days_in(lo[moves], hi[moves], 0.1)
            self._end_contacts(self.sponsor_contact[moves], day)
            self.sponsor_contact[moves] = self._add_contacts(
                moves,
                SPONSOR,
                day + 1 + self.rng.integers(0, 30, len(moves)),
                np.full(len(moves), -1),
            )

    def _events(self, d0, d1, lo, hi, covered, lat) -> None:
        users = self.users
        if users.size == 0:
            return
        n_users = users.size
        u_acc = users["acc"]
        created_day = users["created"] // US_PER_DAY
        u_lo = np.maximum(lo[u_acc], created_day + 1)
        u_hi = np.minimum(hi[u_acc], users["deact"])
        present = covered[u_acc] & (u_hi > u_lo)
        # Adoption decides who is active this month; the primary department adopts first.
        noise = 0.25 * self.rng.standard_normal(self.n)
        logit_active = lat.adoption_logit[u_acc] + 0.8 * (users["dept"] == 0) + noise[u_acc]
        active = present & (self.rng.random(n_users) < sigmoid(logit_active))
        scale = self.config.events_per_user_month * self.config.event_rate_scale
        frac = (u_hi - u_lo) / (d1 - d0)
        depth = 0.6 + 0.8 * lat.adoption[u_acc]
        mean = scale * users["prop"] * self.intensity[u_acc] * depth * frac
        counts = np.where(active, self.rng.poisson(np.where(active, mean, 0.0)), 0)
        ev_user = np.repeat(np.arange(n_users), counts)
        ev_acc = u_acc[ev_user]
        day = self._days_in(u_lo[ev_user], u_hi[ev_user], self.config.weekend_weight)
        ts = self._ts(ev_acc, day)
        feature = self._user_features(ev_acc, lat)
        qty = np.where(self.rng.random(len(ev_user)) < 0.06, np.nan, 1.0)
        bulk = np.isin(feature, BULK_FEATURES) & ~np.isnan(qty)
        qty[bulk] = np.floor(1 + self.rng.lognormal(3.0, 1.0, bulk.sum()))
        # Integrations call the API without a user.
        share = self.config.api_events_share
        expected = np.bincount(u_acc, weights=np.where(active, mean, 0.0), minlength=self.n)
        api_n = self.rng.poisson(expected * share / (1 - share) * 1.6 * self.integrates)
        api_n = np.where(covered, api_n, 0)
        api_acc = np.repeat(np.arange(self.n), api_n)
        api_day = self._days_in(lo[api_acc], hi[api_acc], 0.8)
        api_ts = api_day * US_PER_DAY + np.floor(self.rng.random(len(api_acc)) * US_PER_DAY).astype(
            np.int64
        )
        api_feature = API_FEATURES[(self.rng.random(len(api_acc)) < 0.6).astype(int)]
        api_qty = 1.0 + self.rng.poisson(15.0, len(api_acc))
        acc = np.concatenate([ev_acc, api_acc]).astype(np.int64)
        ts = np.concatenate([ts, api_ts])
        order = np.argsort((acc << 42) + (ts - d0 * US_PER_DAY))  # (account, ts); 2^42 us > 50 days
        self.event_parts.append(
            (
                acc[order].astype(np.int32),
                np.concatenate([ev_user, np.full(len(api_acc), -1)])[order],
                ts[order],
                np.concatenate([feature, api_feature]).astype(np.int8)[order],
                np.concatenate([qty, api_qty])[order],
            )
        )
        self.events += len(acc)

    def _user_features(self, ev_acc: np.ndarray, lat) -> np.ndarray:
        """Each event's feature from its account's mix this month: core features are taken
        up in an account-specific order, as far as adoption reaches (breadth 1-6)."""
        n, k = self.n, len(CORE)
        breadth = 1 + (k - 1) * sigmoid(lat.adoption_logit + 0.3 * self.rng.standard_normal(n))
        rank = np.argsort(self.core_order, axis=1)  # rank of each core feature per account
        weights = np.zeros((n, USER_FEATURES))
        weights[:, CORE] = 3.0 * np.exp(-2.5 * np.maximum(0.0, rank + 1 - breadth[:, None]))
        weights[:, NON_CORE_USER] = self.non_core_weights
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        flat = (cdf + np.arange(n)[:, None]).ravel()
        pos = np.searchsorted(flat, ev_acc + self.rng.random(len(ev_acc)), side="right")
        return np.minimum(pos - ev_acc * USER_FEATURES, USER_FEATURES - 1)

    def _consumption(self, lo, hi, covered, lat, com) -> None:
        acc = np.flatnonzero(covered)
        days = hi[acc] - lo[acc]
        rep = np.repeat(acc, days)
        day = np.repeat(lo[acc], days) + (
            np.arange(len(rep)) - np.repeat(np.cumsum(days) - days, days)
        )
        weekend = weekday(day) >= 5
        per_day = self.config.units_per_seat_month * 12 / 365.25
        level = per_day * lat.need * (0.4 + 0.8 * lat.adoption)
        units = (
            level[rep] * np.where(weekend, 0.35, 1.17) * self.rng.lognormal(-0.045, 0.3, len(rep))
        )
        self.rows.add("consumption", acc=rep, date=day, units=np.round(units, 2))

    def _tickets(self, lo, hi, covered, lat, com) -> dict[str, np.ndarray]:
        specs = list(self.config.segments.values())
        base = np.array([s.tickets_per_month for s in specs])[lat.segment]
        seats = com.seats + com.addon_seats
        frac = (hi - lo) / 30.4
        mean = base * (np.maximum(seats, 1) / 20.0) ** 0.4 * np.exp(0.8 * lat.pain) * frac
        count = np.where(covered, self.rng.poisson(np.where(covered, mean, 0.0)), 0)
        acc = np.repeat(np.arange(self.n), count)
        k = len(acc)
        pain = lat.pain[acc]
        p_urgent = 0.03 + 0.1 * sigmoid(2 * pain - 2)
        p_high = 0.15 + 0.15 * sigmoid(2 * pain - 1)
        u = self.rng.random(k)
        priority = np.select([u < p_urgent, u < p_urgent + p_high, u < 0.8], [0, 1, 2], default=3)
        opened = self._ts(acc, self._days_in(lo[acc], hi[acc], 0.15))
        hours = PRIORITY_HOURS[priority] * np.exp(0.4 * pain) * self.rng.lognormal(0, 0.8, k)
        waits = self.rng.random(k) < WAIT_SHARE + WAIT_PAIN_SHARE * sigmoid(2 * pain - 2)
        hours = np.where(waits, hours + 24.0 * self.rng.exponential(WAIT_DAYS, k), hours)
        closed = opened + (hours * 3600e6).astype(np.int64)
        nums = next_numbers(self.ticket_count, acc)
        category = np.floor(self.rng.random(k) * len(TICKET_CATEGORIES)).astype(np.int64)
        self.rows.add(
            "tickets",
            acc=acc,
            num=nums,
            opened=opened,
            closed=np.where(closed >= 0, self._known(closed, is_ts=True), -1),
            priority=priority,
            category=category,
        )
        return {"acc": acc, "closed": closed, "hours": hours}

    def _surveys(self, lo, hi, covered, lat, closed: dict[str, np.ndarray]) -> None:
        specs = list(self.config.segments.values())
        rate = np.array([s.nps_per_month for s in specs])[lat.segment] * (hi - lo) / 30.4
        count = np.where(covered, self.rng.poisson(np.where(covered, rate, 0.0)), 0)
        acc = np.repeat(np.arange(self.n), count)
        k = len(acc)
        score = 7.0 + 1.5 * lat.health[acc] + 1.0 * (lat.adoption[acc] - 0.6)
        score = np.clip(np.round(score + 1.7 * self.rng.standard_normal(k)), 0, 10)
        u = self.rng.random(k)
        contact = np.where(
            u < 0.5,
            self.champion_contact[acc],
            np.where(u < 0.7, self.sponsor_contact[acc], -1),
        )
        day = self._days_in(lo[acc], hi[acc], 0.1)
        # A contact who takes the role later in the month cannot have answered yet.
        started = self.contacts.cols["start"][np.maximum(contact, 0)]
        contact = np.where((contact >= 0) & (started <= day), contact, -1)
        # CSAT follows some closed tickets, on the day they close.
        t_acc, t_closed = closed["acc"], closed["closed"]
        asked = (t_closed >= 0) & (self.rng.random(len(t_acc)) < 0.35)
        c_acc = t_acc[asked]
        c_day = t_closed[asked] // US_PER_DAY
        csat = 4.1 + 0.35 * lat.health[c_acc] - 0.25 * np.log1p(closed["hours"][asked] / 24)
        csat = csat - CSAT_PAIN * np.maximum(lat.pain[c_acc], 0.0)
        csat = np.clip(np.round(csat + 0.8 * self.rng.standard_normal(len(c_acc))), 1, 5)
        self.rows.add(
            "surveys",
            acc=np.concatenate([acc, c_acc]),
            date=np.concatenate([day, c_day]),
            kind=np.r_[np.zeros(k, dtype=np.int8), np.ones(len(c_acc), dtype=np.int8)],
            score=np.concatenate([score, csat]),
            contact=np.concatenate([contact, np.full(len(c_acc), -1)]),
        )

    def _activities(self, m, lo, hi, covered, lat) -> None:
        seg = lat.segment
        specs = list(self.config.segments.values())
        cadence = np.array([s.qbr_every_months for s in specs])[seg]
        rng = self.rng
        n = self.n
        qbr = (cadence > 0) & ((m + self.qbr_phase) % np.maximum(cadence, 1) == 0)
        qbr = qbr & (rng.random(n) < 0.85)
        meetings = rng.poisson(MEETINGS_PER_MONTH[seg] + 0.4 * (lat.health < -0.6))
        training = rng.poisson(np.where(seg < 2, 0.08, 0.03) + 0.25 * (lat.adoption < 0.45))
        onboarding = np.where(lat.age <= 3, rng.binomial(2, sigmoid(lat.adoption_logit + 1.0)), 0)
        escalation = rng.poisson(ESCALATION_RATE * np.maximum(lat.pain - ESCALATION_PAIN, 0.0))
        other = rng.poisson(0.05, n)
        counts = np.stack([qbr.astype(np.int64), meetings, training, onboarding, escalation, other])
        counts = np.where(covered[None, :], counts, 0)
        kind = np.repeat(np.repeat(np.arange(6)[:, None], n, axis=1).ravel(), counts.ravel())
        acc = np.repeat(np.tile(np.arange(n), 6), counts.ravel())
        day = self._days_in(lo[acc], hi[acc], 0.05)
        self.rows.add("activities", acc=acc, date=day, kind=kind)

    def _invoices(self, d0: int, d1: int, state: ChainState, mv: Movements) -> None:
        com, lat = state.commercial, state.latent
        acc_parts, day_parts, amount_parts = [], [], []
        if mv.starts:
            st = mv.starts
            period = np.where(com.term_months[st["idx"]] == 1, 1, 12)
            acc_parts.append(st["idx"])
            day_parts.append(st["day"])
            amount_parts.append((st["base_mrr"] + st["module_mrr"]) * period)
            nxt = add_months(st["day"], period)
            self.next_bill[st["idx"]] = np.where(nxt < st["end"], nxt, -1)
        due = np.flatnonzero((self.next_bill >= d0) & (self.next_bill < d1))
        due = due[(com.status[due] == CUSTOMER) & (com.term_end[due] > self.next_bill[due])]
        if len(due):
            acc_parts.append(due)
            day_parts.append(self.next_bill[due])
            amount_parts.append(com.total_mrr[due] * 12)
            nxt = add_months(self.next_bill[due], 12)
            self.next_bill[due] = np.where(nxt < com.term_end[due], nxt, -1)
        if mv.addons:
            ad = mv.addons
            until = np.where(
                self.next_bill[ad["idx"]] > ad["day"], self.next_bill[ad["idx"]], ad["end"]
            )
            months = np.clip(np.ceil((until - ad["day"]) / 30.44), 1, 12)
            acc_parts.append(ad["idx"])
            day_parts.append(ad["day"])
            amount_parts.append(ad["mrr"] * months)
        if not acc_parts:
            return
        acc = np.concatenate(acc_parts)
        issued = np.concatenate(day_parts)
        amount = np.round(np.concatenate(amount_parts), 2)
        keep = issued < self.as_of
        acc, issued, amount = acc[keep], issued[keep], amount[keep]
        k = len(acc)
        stressed = lat.stress[acc]
        on_time = issued + 3 + np.floor(self.rng.gamma(3.0, 6.0, k)).astype(np.int64)
        late = issued + 25 + np.floor(self.rng.exponential(35.0, k)).astype(np.int64)
        paid = np.where(stressed, late, on_time)
        unpaid = stressed & (self.rng.random(k) < 0.15)
        paid = np.where(unpaid, -1, self._known(paid))
        self.rows.add(
            "invoices",
            acc=acc,
            num=next_numbers(self.invoice_count, acc),
            due=issued + 30,
            paid=paid,
            amount=amount,
        )

    # ---- output ------------------------------------------------------------------------

    def take_events(self) -> tuple[np.ndarray, ...] | None:
        """The chunk's events sorted by (account, ts), handed over once.

        Each month's part is sorted by (account, ts) and months follow each other in time,
        so every row's place is known from per-account counts: a scatter, not a sort."""
        parts, self.event_parts = self.event_parts, []
        if not parts:
            return None
        counts = np.stack([np.bincount(p[0], minlength=self.n) for p in parts])
        acc_start = np.cumsum(counts.sum(axis=0)) - counts.sum(axis=0)
        earlier = np.cumsum(counts, axis=0) - counts
        total = int(counts.sum())
        out = [np.empty(total, dtype=col.dtype) for col in parts[0]]
        for k in range(len(parts)):
            part = parts[k]
            acc = part[0]
            first_in_part = np.cumsum(counts[k]) - counts[k]
            dest = acc_start[acc] + earlier[k, acc] + (np.arange(len(acc)) - first_in_part[acc])
            for target, col in zip(out, part, strict=True):
                target[dest] = col
            parts[k] = ()
        return tuple(out)

    def user_ids(self) -> pa.Array:
        ids = self.batch.ids
        return pa.array(
            [
                f"{ids[a]}-u{k:03d}"
                for a, k in zip(self.users["acc"], self.users["num"], strict=True)
            ]
        )

    def contact_ids(self) -> pa.Array:
        ids = self.batch.ids
        return pa.array(
            [
                f"{ids[a]}-c{k:02d}"
                for a, k in zip(self.contacts["acc"], self.contacts["num"], strict=True)
            ]
        )
