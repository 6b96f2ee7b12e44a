"""``simulate``: write a contract source and its ground truth, chunk of accounts by chunk.

Each chunk of ``chunk_accounts`` accounts has its own random streams, seeded by (seed,
stream, chunk): accounts, chain, observables. The chain is advanced month by month; each
month's movements become subscription rows and its latent state becomes observables. A
chunk's events are sorted by (account, ts) and streamed to Parquet before the next chunk
starts, so memory holds one chunk of events at a time. What the truth stage needs (MRR on
the eve of every month, the chain's state at every month start, churn days and MRR levels)
is kept in memory: it is small (tens of bytes per account and month).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from features.errors import ChurnlightError
from simulator.accounts import INDUSTRIES, REGIONS, AccountBatch, draw_accounts
from simulator.chain import ChainState, advance
from simulator.commercial import Movements
from simulator.config import SEGMENTS, SimulationConfig
from simulator.dates import US_PER_DAY, month_starts, to_date
from simulator.latent import SegmentArrays
from simulator.observables import (
    ACTIVITY_KINDS,
    CONTACT_ROLES,
    DEPARTMENTS,
    FEATURE_NAMES,
    NEVER,
    PRIORITIES,
    TICKET_CATEGORIES,
    USER_ROLES,
    ChunkObserver,
    feature_catalog,
    keyed_ids,
    next_numbers,
)
from simulator.play_catalog import PLAY_IDS, PLAY_KINDS
from simulator.play_truth import PlayTruth, write_play_truth
from simulator.plays import ChunkPlays, PlayRuns
from simulator.truth import Truth, write_truth
from simulator.writer import TRUTH_DIR, SourceWriter, dictionary

Progress = Callable[[str, int, int], None]
"""Called as progress(step_name, done, total)."""
CHAIN_STREAM, ACCOUNT_STREAM, OBSERVABLE_STREAM = 1, 0, 2
PLAY_STREAM = 5
EXTRA_MONTHS = 12
"""Months of calendar beyond the history, for rollouts that start near its end."""
PRODUCTS = pa.array(["core_platform", "automation"])


@dataclass
class History:
    """The realised chain, kept for the truth stage (labels, oracle, rates)."""

    config: SimulationConfig
    month_starts: np.ndarray
    account_ids: list[str]
    segment: np.ndarray
    mrr_eve: np.ndarray
    """(months + 1, accounts): account MRR on the day before each month start."""
    boundary: list[ChainState]
    """The chain state of every account at each month start 0 .. months."""
    churn_acc: np.ndarray
    churn_day: np.ndarray
    level_acc: np.ndarray
    level_day: np.ndarray
    level: np.ndarray
    rng_states: dict[tuple[int, int], dict[str, Any]]
    """Chain generator state per (chunk, month), to replay a chunk's path exactly."""
    first_event_us: int | None
    last_event_us: int | None
    rows: dict[str, int]
    seconds: float
    seconds_by_step: dict[str, float] = field(default_factory=dict)
    plays: PlayRuns | None = None
    """Every play run (``config.plays``); None without plays. ``boundary`` holds the state
    before the month's runs: replaying month m applies ``plays.in_month(m)`` first."""

    @property
    def events(self) -> int:
        return self.rows.get("events", 0)

    @property
    def as_of(self) -> int:
        """The source's as-of date (day number): the day after the latest event."""
        assert self.last_event_us is not None
        return self.last_event_us // US_PER_DAY + 1

    @property
    def first_event_day(self) -> int:
        assert self.first_event_us is not None
        return self.first_event_us // US_PER_DAY


def chain_rng(config: SimulationConfig, chunk: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, CHAIN_STREAM, chunk])


def generate(
    config: SimulationConfig, out_dir: str | Path, progress: Progress | None = None
) -> History:
    """Write every contract table of the simulated source into ``out_dir``; return the
    realised chain for the truth stage."""
    started = time.perf_counter()
    out = Path(out_dir)
    seg = SegmentArrays.from_config(config)
    extra = max(EXTRA_MONTHS, config.horizon_days // 28 + 2)
    ms = month_starts(config.start_date, config.months + extra)
    n, months, size = config.accounts, config.months, config.chunk_accounts
    chunks = list(range(0, n, size))
    mrr_eve = np.zeros((months + 1, n))
    boundary_parts: list[list[ChainState]] = [[] for _ in range(months + 1)]
    records: dict[str, list[np.ndarray]] = {k: [] for k in ("ca", "cd", "la", "ld", "lv")}
    rng_states: dict[tuple[int, int], dict[str, Any]] = {}
    ids: list[str] = []
    segments: list[np.ndarray] = []
    first_us: int | None = None
    last_us: int | None = None
    writer = SourceWriter(out, config.events_row_group, ("play",) if config.plays else ())
    play_parts: list[PlayRuns] = []
    try:
        writer.write("feature_catalog", feature_catalog())
        for c, first in enumerate(chunks):
            count = min(size, n - first)
            batch = draw_accounts(
                config,
                first,
                count,
                ms,
                seg,
                np.random.default_rng([config.seed, ACCOUNT_STREAM, c]),
            )
            ids.extend(batch.ids)
            segments.append(batch.segment)
            observer = ChunkObserver(
                config, batch, ms, np.random.default_rng([config.seed, OBSERVABLE_STREAM, c])
            )
            rng = chain_rng(config, c)
            plays = (
                ChunkPlays(
                    config,
                    config.plays,
                    batch.csm,
                    first,
                    np.random.default_rng([config.seed, PLAY_STREAM, c]),
                )
                if config.plays
                else None
            )
            lines: list[dict[str, np.ndarray]] = [batch.prior_lines]
            for m in range(months):
                boundary_parts[m].append(batch.state.copy())
                mrr_eve[m, first : first + count] = batch.state.commercial.mrr_on(ms[m] - 1)
                rng_states[(c, m)] = dict(rng.bit_generator.state)
                if plays is not None:
                    plays.month(m, int(ms[m]), batch.state, observer.champion_contact >= 0)
                mv = advance(batch.state, int(ms[m]), int(ms[m + 1]), config, seg, rng)
                _collect(records, mv, first)
                lines.append(_movement_lines(mv))
                observer.month(m, int(ms[m]), int(ms[m + 1]), batch.state, mv)
            boundary_parts[months].append(batch.state.copy())
            mrr_eve[months, first : first + count] = batch.state.commercial.mrr_on(ms[months] - 1)
            runs = plays.runs() if plays is not None else None
            if runs is not None:
                play_parts.append(runs)
            span = _write_chunk(writer, config, batch, observer, lines, ms, runs)
            if span is not None:
                first_us = span[0] if first_us is None else min(first_us, span[0])
                last_us = span[1] if last_us is None else max(last_us, span[1])
            if progress:
                progress("accounts", c + 1, len(chunks))
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    if first_us is None:
        raise ChurnlightError(
            f"the simulation wrote no events ({n} accounts x {months} months); "
            "use more accounts or months"
        )
    cat = np.concatenate
    return History(
        config=config,
        month_starts=ms,
        account_ids=ids,
        segment=cat(segments),
        mrr_eve=mrr_eve,
        boundary=[ChainState.concat(parts) for parts in boundary_parts],
        churn_acc=cat(records["ca"]),
        churn_day=cat(records["cd"]),
        level_acc=cat(records["la"]),
        level_day=cat(records["ld"]),
        level=cat(records["lv"]),
        rng_states=rng_states,
        first_event_us=first_us,
        last_event_us=last_us,
        rows=writer.rows(),
        seconds=time.perf_counter() - started,
        plays=PlayRuns.concat(play_parts) if config.plays else None,
    )


def _collect(records: dict[str, list[np.ndarray]], mv: Movements, first: int) -> None:
    records["ca"].append(mv.churn_idx + first)
    records["cd"].append(mv.churn_day)
    records["la"].append(mv.level_idx + first)
    records["ld"].append(mv.level_day)
    records["lv"].append(mv.level)


def _movement_lines(mv: Movements) -> dict[str, np.ndarray]:
    """Subscription lines begun this month: each term's base line and module line, and the
    mid-term add-ons (seats on the base product, or the module)."""
    parts: list[dict[str, np.ndarray]] = []
    st = mv.starts
    if st:
        parts.append(
            {
                "idx": st["idx"],
                "start": st["day"],
                "end": st["end"],
                "seats": st["seats"],
                "mrr": st["base_mrr"],
                "quota": st["quota"],
                "module": np.zeros(len(st["idx"]), dtype=bool),
            }
        )
        mod = st["module_mrr"] > 0
        parts.append(
            {
                "idx": st["idx"][mod],
                "start": st["day"][mod],
                "end": st["end"][mod],
                "seats": np.full(mod.sum(), -1),
                "mrr": st["module_mrr"][mod],
                "quota": np.full(mod.sum(), np.nan),
                "module": np.ones(mod.sum(), dtype=bool),
            }
        )
    ad = mv.addons
    if ad:
        parts.append(
            {
                "idx": ad["idx"],
                "start": ad["day"],
                "end": ad["end"],
                "seats": np.where(ad["module"], -1, ad["seats"]),
                "mrr": ad["mrr"],
                "quota": np.full(len(ad["idx"]), np.nan),
                "module": ad["module"],
            }
        )
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _write_chunk(
    writer: SourceWriter,
    config: SimulationConfig,
    batch: AccountBatch,
    obs: ChunkObserver,
    lines: list[dict[str, np.ndarray]],
    ms: np.ndarray,
    runs: PlayRuns | None = None,
) -> tuple[int, int] | None:
    """Write one chunk's rows of every table; return its (first, last) event timestamps."""
    ids = pa.array(batch.ids)
    as_of = int(ms[config.months])
    writer.write(
        "accounts",
        {
            "account_id": ids,
            "segment": pa.array(SEGMENTS).take(batch.segment.astype(np.int64)),
            "industry": pa.array(INDUSTRIES).take(batch.industry.astype(np.int64)),
            "region": pa.array(REGIONS).take(batch.region.astype(np.int64)),
            "csm_id": pa.array(batch.csm, type=pa.string()),
        },
    )
    subs = {k: np.concatenate([p[k] for p in lines if p]) for k in lines[0]}
    order = np.lexsort((subs["module"], subs["start"], subs["idx"]))
    subs = {k: v[order] for k, v in subs.items()}
    counter = np.zeros(len(batch), dtype=np.int64)
    numbers = next_numbers(counter, subs["idx"])
    writer.write(
        "subscriptions",
        {
            "subscription_id": pa.array(
                [f"{batch.ids[a]}-s{k:03d}" for a, k in zip(subs["idx"], numbers, strict=True)]
            ),
            "account_id": ids.take(subs["idx"]),
            "product": PRODUCTS.take(subs["module"].astype(np.int64)),
            "start_date": subs["start"],
            "end_date": subs["end"],
            "mrr": np.round(subs["mrr"], 2),
            "seats": subs["seats"],
            "quota": subs["quota"],
        },
    )

    span = None
    events = obs.take_events()
    if events is not None and len(events[0]):
        acc, user, ts, feature, qty = events
        span = (int(ts.min()), int(ts.max()))
        user_ids = obs.user_ids()
        step = config.events_row_group
        for lo in range(0, len(acc), step):
            sl = slice(lo, lo + step)
            writer.write(
                "events",
                {
                    "account_id": dictionary(acc[sl], ids),
                    "user_id": dictionary(user[sl], user_ids),
                    "ts": ts[sl],
                    "feature": dictionary(feature[sl], FEATURE_NAMES),
                    "quantity": qty[sl],
                },
            )
        del events, acc, user, ts, feature, qty

    users = obs.users
    if users.size:
        created = users["created"]
        deact_day = users["deact"]
        ended = (deact_day != NEVER) & (deact_day < as_of)
        deact = np.maximum(deact_day * US_PER_DAY + 9 * 3600 * 10**6, created)
        writer.write(
            "users",
            {
                "user_id": obs.user_ids(),
                "account_id": ids.take(users["acc"]),
                "created_at": created,
                "deactivated_at": np.where(ended, deact, -1),
                "role": USER_ROLES.take(users["role"].astype(np.int64)),
                "department": DEPARTMENTS.take(users["dept"].astype(np.int64)),
            },
        )

    contacts = obs.contacts
    if contacts.size:
        keep = contacts["start"] < as_of
        end = contacts["end"]
        user = contacts["user"]
        contact_user = obs.user_ids().take(pa.array(user, mask=user < 0))
        writer.write(
            "contacts",
            {
                "contact_id": obs.contact_ids().filter(keep),
                "account_id": ids.take(contacts["acc"][keep]),
                "role": CONTACT_ROLES.take(contacts["role"][keep].astype(np.int64)),
                "start_date": contacts["start"][keep],
                "end_date": np.where((end != NEVER) & (end < as_of), end, -1)[keep],
                "user_id": contact_user.filter(keep),
            },
        )

    rows = obs.rows
    if (cons := rows.get("consumption")) is not None:
        writer.write(
            "consumption",
            {"account_id": ids.take(cons["acc"]), "date": cons["date"], "units": cons["units"]},
        )
    if (tick := rows.get("tickets")) is not None:
        writer.write(
            "tickets",
            {
                "ticket_id": keyed_ids(batch.ids, tick["acc"], "t", tick["num"]),
                "account_id": ids.take(tick["acc"]),
                "opened_at": tick["opened"],
                "closed_at": tick["closed"],
                "priority": PRIORITIES.take(tick["priority"].astype(np.int64)),
                "category": TICKET_CATEGORIES.take(tick["category"]),
            },
        )
    if (surv := rows.get("surveys")) is not None:
        keep = surv["date"] < as_of
        contact = surv["contact"][keep]
        writer.write(
            "surveys",
            {
                "account_id": ids.take(surv["acc"][keep]),
                "date": surv["date"][keep],
                "kind": pa.array(["nps", "csat"]).take(surv["kind"][keep].astype(np.int64)),
                "score": surv["score"][keep],
                "contact_id": obs.contact_ids().take(pa.array(contact, mask=contact < 0)),
            },
        )
    if (act := rows.get("activities")) is not None:
        columns = {
            "account_id": ids.take(act["acc"]),
            "date": act["date"],
            "kind": ACTIVITY_KINDS.take(act["kind"].astype(np.int64)),
        }
        if runs is not None:  # routine work: no play
            columns["play"] = pa.nulls(len(act["acc"]), pa.string())
        writer.write("activities", columns)
    if runs is not None:
        writer.write("activities", _play_activities(runs, ids, int(batch.index[0]), as_of))
    if (inv := rows.get("invoices")) is not None:
        writer.write(
            "invoices",
            {
                "invoice_id": keyed_ids(batch.ids, inv["acc"], "i", inv["num"]),
                "account_id": ids.take(inv["acc"]),
                "due_date": inv["due"],
                "paid_date": inv["paid"],
                "amount": inv["amount"],
            },
        )
    return span


def _play_activities(runs: PlayRuns, ids: pa.Array, first: int, as_of: int) -> dict[str, Any]:
    """The activities rows of a chunk's play runs (those dated before the as-of date)."""
    keep = runs.day < as_of
    kinds = pa.array([PLAY_KINDS[p] for p in PLAY_IDS])
    play = runs.play[keep].astype(np.int64)
    return {
        "account_id": ids.take(runs.acc[keep] - first),
        "date": runs.day[keep],
        "kind": kinds.take(play),
        "play": pa.array(PLAY_IDS).take(play),
    }


@dataclass
class SimulationSummary:
    """What `churnlight simulate` reports (also written to ``_truth/summary.json``)."""

    out_dir: str
    accounts: int
    months: int
    seed: int
    as_of: date
    rows: dict[str, int]
    events: int
    seconds: float
    seconds_generate: float
    seconds_truth: float
    events_per_second: float
    """events / seconds_generate (every table written, truth excluded)"""
    truth: Truth | None
    play_truth: PlayTruth | None = None
    """The plays' true effects (``config.plays`` and truth on), in ``_truth/play_*.parquet``."""

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def simulate(
    config: SimulationConfig,
    out_dir: str | Path,
    progress: Progress | None = None,
    with_truth: bool = True,
) -> SimulationSummary:
    """Simulate a B2B SaaS business into ``out_dir``: every contract table as Parquet, and
    (``with_truth``) its ground truth in ``out_dir/_truth/``. Deterministic per config."""
    started = time.perf_counter()
    history = generate(config, out_dir, progress)
    truth_started = time.perf_counter()
    truth = write_truth(history, out_dir, progress) if with_truth else None
    play_truth = (
        write_play_truth(history, out_dir, progress)
        if with_truth and history.plays is not None
        else None
    )
    seconds_truth = time.perf_counter() - truth_started
    seconds = time.perf_counter() - started
    summary = SimulationSummary(
        out_dir=str(out_dir),
        accounts=config.accounts,
        months=config.months,
        seed=config.seed,
        as_of=to_date(history.as_of),
        rows=history.rows,
        events=history.events,
        seconds=round(seconds, 2),
        seconds_generate=round(history.seconds, 2),
        seconds_truth=round(seconds_truth, 2),
        events_per_second=round(history.events / max(history.seconds, 1e-9)),
        truth=truth,
        play_truth=play_truth,
    )
    if truth is not None:
        payload = {"summary": summary.to_dict(), "config": config.model_dump(mode="json")}
        path = Path(out_dir) / TRUTH_DIR / "summary.json"
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return summary
