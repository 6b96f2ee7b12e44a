"""What an expansion is worth, per segment: the size the prescription multiplies a play's
effect on ``expand_180d`` by to count the new ARR it brings (``serving.prescription``).

Learned from the book's own history with the forecast's size model
(``forecast.projection.learn_sizes`` over ``forecast.movements.account_movements``): the past
monthly expansions of +10% or more (the expansion label's threshold), each as a share of the
account's MRR at the month's start. The **mean** share is kept (the expected size: an
expected ARR is a sum over accounts, and a median would undercount the large add-ons); a
segment with fewer than ``forecast.projection.MIN_EVENTS`` past expansions takes the whole
book's. Stored in the effects bundle's metadata (``features.effects_bundle.EXPANSION_SHARE``)
so that serving reads it from the registry with the effects."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.effects_bundle import ALL_SEGMENTS
from forecast.projection import learn_sizes


def expansion_shares(per_account: pd.DataFrame, segments: pd.Series) -> dict[str, float]:
    """Mean past expansion (of +10% or more) as a share of start MRR, for ``all`` and per
    segment (``segments``: account_id -> segment; accounts without one are in ``(none)``).
    A group without any past expansion is left out (the prescription then counts no
    expansion ARR for it); empty when the book never expanded."""
    sizes = learn_sizes(per_account, segments)
    out: dict[str, float] = {}
    book = sizes.expansion_for("*")
    if len(book):
        out[ALL_SEGMENTS] = float(np.mean(book))
    for name in sorted(sizes.expansion_ratios):
        if name == "*":
            continue
        ratios = sizes.expansion_for(name)
        if len(ratios):
            out[str(name)] = float(np.mean(ratios))
    return out


def source_expansion_shares(
    source: str | Path, as_of: date | None = None, backend: str | None = None
) -> dict[str, float]:
    """``expansion_shares`` of a source's subscriptions up to ``as_of`` (default: the
    source's as-of date): validated as `churnlight features` validates it, with rows that
    break row-level rules set aside (not stopping the run)."""
    from features.sources import connect, open_source
    from features.validation import validate_source
    from forecast.book import DEFAULT_GRACE_DAYS, book_from_tables

    opened = open_source(source, backend=backend, con=connect(backend))
    with tempfile.TemporaryDirectory(prefix="churnlight-sizes-") as tmp:
        validated = validate_source(opened, as_of=as_of, quarantine_dir=Path(tmp))
        tables = validated.tables
        book = book_from_tables(
            tables["subscriptions"], tables["accounts"], validated.as_of, DEFAULT_GRACE_DAYS
        )
    segments = book.accounts.set_index("account_id")["segment"]
    return expansion_shares(book.per_account, segments)
