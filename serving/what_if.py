"""Live what-if scoring: each row's checks and values, and batches scored in worker processes.

A what-if row is scored from its account's snapshot values (when it names an account) with
the features it gives on top; ``check_features`` refuses names and values the models cannot
use (HTTP 422). A single row is scored in the serving process (a few ms). A batch of more
rows goes to a worker process (``WhatIfWorkers``): its scoring is mostly Python (drivers,
reasons, playbooks and the JSON of every row, about 3-5 ms a row), and a Python thread of the
serving process shares the GIL with the event loop. Measured with two 1,000-row batches in the
server's threads: every GIL hand-over to the loop waited out the 5 ms switch interval, and the
``json.dumps`` of a 7 MB answer held the GIL for 0.2-1 s in one C call, so another key's
lookups slowed 20-200x. In a worker the batch competes for cores only.

A worker learns a served state's models, playbooks and settings once (``WhatIfKit``, sent
with the first batch that needs it and then named by its token); each batch carries its rows
and the snapshot rows of the accounts they name.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from features.metadata import FeatureSpec
from features.model_bundle import ModelBundle
from serving.errors import InvalidFeatures, UnknownAccount
from serving.playbooks import Playbook, PlaybookLibrary
from serving.scoring import ModelView, RowFrame, ScoringConfig, score_frame
from serving.snapshot import Snapshot

SINGLE_THREAD_ROWS = 16
"""What-if batches up to this size explain on one thread (better tails); larger use all. A
single row uses every core too: its two models are explained side by side."""
KITS_KEPT = 2
"""Kits a worker keeps: the served state's and, during a reload, the previous one's."""
PARENT_CHECK_SECONDS = 1.0
"""How often a worker checks that the server that started it still runs."""
WORKER_NICE = 10
"""Added to a worker's niceness: where the cores are short, the event loop (and the other
tenants of the machine) go first, batches take the rest."""

Item = tuple[str | None, dict[str, Any]]
"""A what-if row as a worker gets it: (account id or None, the features it gives)."""


# ---- one row ---------------------------------------------------------------------------------


def check_features(
    kinds: Mapping[str, str], views: Sequence[ModelView], features: Mapping[str, Any]
) -> None:
    """``InvalidFeatures`` for a name no model or snapshot column knows, a derived feature
    (computed from its inputs), text for a number, a number for a category, or a non-finite
    number. ``kinds``: each known name's 'numeric', 'categorical', 'derived' or 'other'."""
    unknown = sorted(name for name in features if name not in kinds)
    if unknown:
        raise InvalidFeatures(
            f"unknown feature(s) {', '.join(map(repr, unknown[:10]))}; "
            "GET /v1/model lists the features"
        )
    for name, value in features.items():
        if value is None:
            continue
        kind = kinds[name]
        if kind == "derived":
            inputs = _inputs(views, name)
            raise InvalidFeatures(f"feature {name!r} is computed from {inputs}; give those instead")
        if kind == "categorical" and not isinstance(value, str):
            raise InvalidFeatures(f"feature {name!r} takes a category (text); got {value!r}")
        if kind == "numeric":
            if isinstance(value, str):
                raise InvalidFeatures(f"feature {name!r} takes a number; got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidFeatures(f"feature {name!r} takes a finite number; got {value!r}")


def _inputs(views: Sequence[ModelView], name: str) -> str:
    for view in views:
        if view.is_derived(name):
            column = view.bundle.columns[view.index[name]]
            return " and ".join(repr(i) for i in column.inputs)
    return "other features"


def row_values(
    base: dict[str, Any] | None, account_id: str | None, features: Mapping[str, Any]
) -> dict[str, Any]:
    """The values to score: the account's snapshot values ``base`` (a fresh dict, or None)
    with ``features`` on top."""
    values = base if base is not None else {}
    values.update(features)
    values["account_id"] = account_id
    return values


def score_rows(
    rows: list[dict[str, Any]],
    churn: ModelView,
    expansion: ModelView,
    playbooks: PlaybookLibrary,
    config: ScoringConfig,
    all_threads: int,
    head: Mapping[str, Any],
) -> bytes:
    """The JSON body of ``POST /v1/score`` for what-if ``rows``."""
    threads = 1 if 1 < len(rows) <= SINGLE_THREAD_ROWS else all_threads
    batch = score_frame(
        RowFrame(rows), churn, expansion, playbooks, config, threads=threads, what_if=True
    )
    out = {"results": [batch.record(i) for i in range(batch.n)], "not_found": [], **head}
    return json.dumps(out, allow_nan=False, separators=(",", ":")).encode()


# ---- batches in a worker process --------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfKit:
    """What a worker needs to score one served state's what-if rows (picklable)."""

    token: str
    """Unique per kit: workers keep kits by it."""
    churn: ModelBundle
    churn_version: str
    expansion: ModelBundle
    expansion_version: str
    specs: dict[str, FeatureSpec]
    """The snapshot's feature metadata (models' fallback specs)."""
    playbooks: tuple[Playbook, ...]
    playbooks_path: str
    config: ScoringConfig
    feature_kinds: dict[str, str]
    head: dict[str, Any]
    """Snapshot date and model versions, as every score answer carries them."""


@dataclass(frozen=True)
class _Prepared:
    churn: ModelView
    expansion: ModelView
    playbooks: PlaybookLibrary
    config: ScoringConfig
    feature_kinds: dict[str, str]
    head: dict[str, Any]


class _KitMissing(Exception):
    """The worker does not hold the kit named by this token: send the kit itself."""


_KITS: OrderedDict[str, _Prepared] = OrderedDict()
"""A worker's kits by token, newest last."""


def _prepared(kit: WhatIfKit | str) -> _Prepared:
    if isinstance(kit, str):
        known = _KITS.get(kit)
        if known is None:
            raise _KitMissing(kit)
        return known
    known = _KITS.get(kit.token)
    if known is None:
        known = _KITS[kit.token] = _Prepared(
            ModelView(kit.churn, kit.churn_version, kit.specs),
            ModelView(kit.expansion, kit.expansion_version, kit.specs),
            PlaybookLibrary(kit.playbooks, kit.playbooks_path),
            kit.config,
            kit.feature_kinds,
            kit.head,
        )
        while len(_KITS) > KITS_KEPT:
            _KITS.popitem(last=False)
    return known


def score_items(
    kit: WhatIfKit | str,
    items: Sequence[Item],
    accounts: pa.Table,
    positions: Sequence[int | None],
    all_threads: int,
) -> bytes:
    """In a worker: the JSON body for what-if ``items``. ``accounts`` holds the snapshot rows
    of the accounts the items name; ``positions[i]``: item i's row in it, -1 for an account
    not in the snapshot, None for an item without an account."""
    state = _prepared(kit)
    views = (state.churn, state.expansion)
    snapshot = Snapshot(accounts, state.head.get("snapshot_date"), [], {}, "what-if")
    rows = []
    for (account_id, features), position in zip(items, positions, strict=True):
        check_features(state.feature_kinds, views, features)
        base = None
        if account_id is not None:
            if position is None or position < 0:
                raise UnknownAccount(account_id, state.head.get("snapshot_date"))
            base = snapshot.row(position)
        rows.append(row_values(base, account_id, features))
    return score_rows(
        rows, state.churn, state.expansion, state.playbooks, state.config, all_threads, state.head
    )


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Batches yield the CPU to the server's event loop (lookups) and its reloads.
    os.nice(WORKER_NICE)
    # A server that exits without stopping its pool (killed; a shutdown that does not wait
    # for the pool's thread) left its workers waiting for batches forever.
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class WhatIfWorkers:
    """``processes`` worker processes (spawned on first use) scoring what-if batches, each
    explaining with ``threads`` threads, at a lower CPU priority (``WORKER_NICE``).

    Called from the event loop only. A worker that dies fails the batches it held; the next
    batch starts a fresh pool, and a batch that met the broken pool is tried once more there."""

    def __init__(self, processes: int, threads: int = 1) -> None:
        self.processes = processes
        self.threads = threads
        self._pool: ProcessPoolExecutor | None = None
        self._known: set[str] = set()
        """Tokens a worker of the current pool has loaded."""

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
            )
            self._known = set()
        return self._pool

    async def score(
        self,
        kit: WhatIfKit,
        items: Sequence[Item],
        snapshot: pa.Table,
        index: Mapping[str, int],
    ) -> bytes:
        """The JSON body for what-if ``items`` scored in a worker; ``index``: the row of each
        account id in ``snapshot``. Raises what ``score_items`` raises."""
        picks: list[int] = []
        positions: list[int | None] = []
        for account_id, _ in items:
            i = None if account_id is None else index.get(account_id, -1)
            if i is None or i < 0:
                positions.append(i)
            else:
                positions.append(len(picks))
                picks.append(i)
        accounts = snapshot.take(pa.array(picks, pa.int64()))
        args = (items, accounts, positions, self.threads)
        carry: WhatIfKit | str = kit.token if kit.token in self._known else kit
        try:
            body = await self._submit(carry, *args)
        except (_KitMissing, BrokenProcessPool):  # a kit not (or no longer) held; a dead worker
            body = await self._submit(kit, *args)
        self._known.add(kit.token)
        return body

    async def _submit(self, kit: WhatIfKit | str, *args: Any) -> bytes:
        pool = self.pool
        try:
            return await asyncio.wrap_future(pool.submit(score_items, kit, *args))
        except BrokenProcessPool:
            self._discard(pool)
            raise

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (queued batches are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
