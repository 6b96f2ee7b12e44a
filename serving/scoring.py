"""Score and explain rows: calibrated probabilities, tiers, revenue, drivers and playbooks.

Pure functions of the models and the rows, shared by the API (the cached portfolio and the
live what-if path) and by ``churnlight score``; no I/O.

Definitions (data contract section 4, "Scores"):
- ``churn_probability`` / ``expansion_probability``: the bundle's calibration applied to the
  booster's raw score (contributions plus base value);
- ``risk_tier`` from the churn probability: ``medium`` from the medium threshold on, ``high``
  from the high one, ``critical`` from the critical one, ``low`` below them all. By default
  the thresholds are relative to the book's base rate (the churn model's training label
  rate): the probabilities whose odds are 1.5, 3 and 6 times the base odds
  (``tier_thresholds_for``); ``CHURNLIGHT_TIER_MEDIUM/_HIGH/_CRITICAL`` fix them instead;
- ``revenue_at_risk`` = mrr x 12 x churn_probability (a year of revenue);
- ``expected_expansion_mrr`` = mrr x expansion_probability x ``expansion_uplift`` (default
  0.10, the contract's expansion threshold, so a lower bound; monthly);
- drivers: per score, the ``top_k`` signals with the largest positive contributions (up:
  raising that score) and the largest negative ones (down), each with the value of its
  strongest member as the model saw it, the signal's SHAP contribution in log-odds (the sum
  of its members') and the reason in words; ``main_reason`` is the actionable driver raising
  the score most and ``context`` the context facts raising it (``features.reasons``).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from features.effects_bundle import EffectsBundle
from features.metadata import FeatureSpec
from features.model_bundle import ModelBundle
from features.reasons import PeerReference, ReasonBook, ReasonConfig, Reasons
from serving.explain import BundleExplainer, Explanation, explain_bundle
from serving.playbooks import DriverColumns, PlaybookLibrary
from serving.prescription import prescribe
from serving.survival import SurvivalScores, SurvivalView, score_curves

TIERS = ("low", "medium", "high", "critical")
SIGNAL_FLOOR = 0.001
"""Signals pushing a score by less than this (log-odds) are left out of ``signal_map``."""
CHUNK_ROWS = 50_000
MIN_BOOK_ROWS = 20
"""A table of at least this many rows is a book: a feature null on all of them is
unavailable in the source and never named as a reason (``ReasonBook.mark_unavailable``)."""


TIER_ODDS_MULTIPLES = (1.5, 3.0, 6.0)
"""Default tiers: medium, high and critical start where the odds of churn are this many times
the base odds of the book."""
FALLBACK_TIERS = (0.10, 0.25, 0.50)
"""Tiers of a model that records no base rate (bundles written before it did)."""


@dataclass(frozen=True)
class ScoringConfig:
    tier_thresholds: tuple[float, float, float] | None = None
    """Fixed thresholds; None: relative to the churn model's base rate."""
    top_k: int = 5
    expansion_uplift: float = 0.10
    reasons: ReasonConfig = field(default_factory=ReasonConfig)

    @classmethod
    def from_settings(cls, settings: Any) -> ScoringConfig:
        return cls(
            settings.tier_thresholds,
            settings.top_drivers,
            settings.expansion_uplift,
            ReasonConfig(
                min_contribution=settings.min_driver_contribution,
                missing_main_min=settings.missing_main_reason_min,
            ),
        )

    def tiers_for(self, churn: ModelView) -> tuple[float, float, float]:
        """The thresholds in force with the churn model ``churn``."""
        if self.tier_thresholds is not None:
            return self.tier_thresholds
        return tier_thresholds_for(churn.base_rate)


def tier_thresholds_for(base_rate: float | None) -> tuple[float, float, float]:
    """Churn probabilities whose odds are ``TIER_ODDS_MULTIPLES`` x the odds of
    ``base_rate``; ``FALLBACK_TIERS`` when the rate is unknown or degenerate."""
    if base_rate is None or not 0.0 < base_rate < 1.0:
        return FALLBACK_TIERS
    odds = base_rate / (1.0 - base_rate)
    low, mid, high = (m * odds / (1.0 + m * odds) for m in TIER_ODDS_MULTIPLES)
    return (round(low, 4), round(mid, 4), round(high, 4))


def risk_tiers(churn_probability: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """The tier of each probability: a threshold itself belongs to the higher tier."""
    codes = np.searchsorted(np.asarray(thresholds, dtype=np.float64), churn_probability, "right")
    return np.asarray(TIERS, dtype=object)[codes]


# ---- rows ------------------------------------------------------------------------------------


class Frame(Protocol):
    """Rows to score: raw values by column name, and their model matrices."""

    @property
    def n(self) -> int: ...

    def column(self, name: str) -> np.ndarray | None:
        """(n,) float64 (null -> NaN) for numbers, object (null -> None) otherwise; None if the
        rows lack the column."""

    def encode(self, view: ModelView) -> np.ndarray: ...


class TableFrame:
    """Rows of a pyarrow table (a feature table or snapshot); encoded by the bundle's encoder."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._columns: dict[str, np.ndarray | None] = {}

    @property
    def n(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> np.ndarray | None:
        if name not in self._columns:
            self._columns[name] = _arrow_column(self.table, name)
        return self._columns[name]

    def encode(self, view: ModelView) -> np.ndarray:
        return view.bundle.encode(self.table)


class RowFrame:
    """A few rows given as mappings (what-if requests): encoded without pandas."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = rows
        self._columns: dict[str, np.ndarray | None] = {}

    @property
    def n(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray | None:
        """The values of ``name`` (float64 with NaN for null, else object); built once."""
        if name not in self._columns:
            self._columns[name] = self._build_column(name)
        return self._columns[name]

    def _build_column(self, name: str) -> np.ndarray | None:
        if len(self.rows) == 1:  # a what-if row: the common case, without the loops below
            row = self.rows[0]
            value = row.get(name)
            if value is None:
                return np.array([math.nan]) if name in row else None
            kind = type(value)
            if kind is float or kind is int or kind is bool:
                return np.array([float(value)])
            return np.array([value], dtype=object)
        values = [row.get(name) for row in self.rows]
        if all(v is None for v in values) and not any(name in row for row in self.rows):
            return None
        numbers = []
        for v in values:
            kind = type(v)
            if v is None:
                numbers.append(math.nan)
            elif kind is float or kind is int or kind is bool:
                numbers.append(float(v))
            else:
                return np.array(values, dtype=object)
        return np.array(numbers)

    def encode(self, view: ModelView) -> np.ndarray:
        return view.encode_rows(self.rows)


def _arrow_column(table: pa.Table, name: str) -> np.ndarray | None:
    if name not in table.schema.names:
        return None
    column = table.column(name)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(kind):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return np.array([None if v is None else v.isoformat() for v in column.to_pylist()], object)
    return np.array(column.to_pylist(), dtype=object)


# ---- models ----------------------------------------------------------------------------------


class ModelView:
    """A bundle prepared for scoring: each column's spec and family, and a fast row encoder.

    ``encode_rows`` matches ``features.model_bundle.encode`` (tested): numbers and booleans
    become float64, null NaN; a category becomes its index, unseen or null NaN; a derived
    column is computed from its two inputs."""

    def __init__(
        self,
        bundle: ModelBundle,
        version: str,
        fallback_specs: Mapping[str, FeatureSpec] | None = None,
    ) -> None:
        self.bundle = bundle
        self.version = version
        self.names = bundle.feature_names
        own = {s["name"]: FeatureSpec.from_dict(s) for s in bundle.feature_specs if "name" in s}
        fallback = dict(fallback_specs or {})
        self.specs: list[FeatureSpec | None] = [own.get(n) or fallback.get(n) for n in self.names]
        self.family_or_none: list[str | None] = [s.family if s else None for s in self.specs]
        self.signals: list[str] = [
            s.signal if s else n for s, n in zip(self.specs, self.names, strict=True)
        ]
        self.categories: list[tuple[str, ...] | None] = [
            c.categories if c.kind == "categorical" else None for c in bundle.columns
        ]
        self.reasons = ReasonBook(
            self.names,
            self.specs,
            self.categories,
            PeerReference.from_dict(bundle.metadata.get("reference")),
            scale=bundle.metadata.get("signal_scale"),
            family_scale=bundle.metadata.get("family_scale"),
            family_spread=bundle.metadata.get("family_spread"),
        )
        rate = bundle.metadata.get("base_rate")
        self.base_rate: float | None = float(rate) if rate is not None else None
        self._codes: list[dict[str, int] | None] = [
            {v: i for i, v in enumerate(cats)} if cats is not None else None
            for cats in self.categories
        ]
        self.index = {name: j for j, name in enumerate(self.names)}
        self._same: dict[int, tuple[ModelView, bool]] = {}
        # Per column, in model order: (name, category codes, (op, input, input) if derived).
        self._plan: list[tuple[str, dict[str, int] | None, tuple[Any, str, str] | None]] = [
            (
                column.name,
                codes,
                (column.op, column.inputs[0], column.inputs[1])
                if codes is None and column.kind == "derived"
                else None,
            )
            for column, codes in zip(bundle.columns, self._codes, strict=True)
        ]

    def same_columns(self, other: ModelView) -> bool:
        """Whether ``other`` encodes rows into the same matrix (remembered per view; the
        entry keeps ``other`` alive so its id cannot be reused)."""
        known = self._same.get(id(other))
        if known is None:
            known = self._same[id(other)] = (other, self.bundle.columns == other.bundle.columns)
        return known[1]

    @property
    def booster(self) -> Any:
        return self.bundle.booster

    @functools.cached_property
    def single_row(self) -> BundleExplainer:
        """The explainer of one what-if row (LightGBM's single-row fast path)."""
        return BundleExplainer(self.bundle)

    def is_derived(self, name: str) -> bool:
        j = self.index.get(name)
        return j is not None and self.bundle.columns[j].kind == "derived"

    def encode_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        plan = self._plan
        matrix = np.empty((len(rows), len(plan)))
        for i, row in enumerate(rows):
            get = row.get
            values: list[float] = []
            append = values.append
            for name, codes, derived in plan:
                if codes is not None:
                    code = codes.get(str(get(name)))
                    append(math.nan if code is None else code)
                elif derived is not None:
                    append(_derived(derived[0], get(derived[1]), get(derived[2])))
                else:
                    value = get(name)
                    append(value if type(value) is float else _as_float(value))
            matrix[i] = values
        return matrix


def _as_float(value: Any) -> float:
    """A value as the bundle encoder reads a numeric column: float, NaN when null or not a
    number (booleans are 0/1, numeric text is parsed)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _derived(op: str | None, a: Any, b: Any) -> float:
    """A derived column (``ratio``: a / b, ``difference``: a - b); NaN when an input is null,
    the denominator is zero or the result is not finite."""
    x, y = _as_float(a), _as_float(b)
    if op == "ratio":
        if y == 0:
            return math.nan
        out = x / y
    else:
        out = x - y
    return out if math.isfinite(out) else math.nan


# ---- scored rows -----------------------------------------------------------------------------


@dataclass
class Explained:
    """One score of n rows: probability, raw score, base value and the reasons."""

    probability: np.ndarray
    raw_score: np.ndarray
    base_value: np.ndarray
    reasons: Reasons
    book: ReasonBook | None = None
    """The model's signals (decodes ``reasons.values``); None for hand-made rows."""

    def signal_maps(self, floor: float = SIGNAL_FLOOR) -> list[dict[str, list[Any]]]:
        """Per row, every signal whose contribution reaches ``floor`` in size:
        ``{signal: [contribution (log-odds, 4 decimals), feature, value]}``, where feature
        and value are those of the member naming the signal (as in the drivers)."""
        book, reasons = self.book, self.reasons
        n = len(self.probability)
        if book is None or not len(reasons.named):
            return [{} for _ in range(n)]
        summed = np.round(reasons.signal_contributions, 4)
        keep = np.abs(reasons.signal_contributions) >= floor
        values = np.round(reasons.values, 6)
        signals = [s.name for s in book.signals]
        names = book.names
        categories = book.categories
        rows, columns = np.nonzero(keep)  # row-major: each row's signals in book order
        # Python lists once: indexing NumPy scalars per element costs several times more
        contribution = summed[rows, columns].tolist()
        member = reasons.named[rows, columns].tolist()
        value = values[rows, columns].tolist()
        out: list[dict[str, list[Any]]] = [{} for _ in range(n)]
        for i, g, c, j, v in zip(
            rows.tolist(), columns.tolist(), contribution, member, value, strict=True
        ):
            cats = categories[j]
            shown = None if v != v else (cats[int(v)] if cats is not None else v)
            out[i][signals[g]] = [c, names[j], shown]
        return out

    @property
    def up(self) -> list[list[dict[str, Any]]]:
        return self.reasons.up

    @property
    def down(self) -> list[list[dict[str, Any]]]:
        return self.reasons.down


def _columns_only(explained: Explained) -> Explained:
    reasons = explained.reasons
    empty = replace(reasons, up=[], down=[], main=[], context=[], actionable_up=[])
    return replace(explained, reasons=empty)


@dataclass
class ScoredBatch:
    """n scored rows, columnar; ``record(i)`` is the API's AccountScore of row i."""

    account_id: np.ndarray
    snapshot_date: np.ndarray
    churn: Explained
    expansion: Explained
    risk_tier: np.ndarray
    mrr: np.ndarray
    revenue_at_risk: np.ndarray
    expected_expansion_mrr: np.ndarray
    days_to_renewal: np.ndarray
    lifecycle_stage: np.ndarray
    segment: np.ndarray
    csm_id: np.ndarray
    playbooks: list[list[dict[str, Any]]]
    churn_model_version: str
    expansion_model_version: str
    what_if: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    survival: SurvivalScores | None = None
    """Churn curves (``serving.survival``); None when no survival model is served."""
    term_length_days: np.ndarray | None = None
    """The current term's length per row (float, NaN where unknown); None when the scored
    table has no such column. Written to score files so that the forecast counts a short
    term's repeat renewals (``forecast.timing``)."""

    rows_dropped: bool = False
    """True for ``columns_only()``'s copy: ``record`` and ``summary`` are not available."""

    @property
    def n(self) -> int:
        return len(self.account_id)

    def columns_only(self) -> ScoredBatch:
        """This batch without its per-row Python objects (drivers, context, main reasons,
        playbooks: about 150 MB of small objects for 10,000 accounts), keeping every NumPy
        column. What a served portfolio keeps once its records are serialised: the small
        objects of a replaced portfolio left Python's object arenas fragmented, and the
        server's RSS grew at each reload (``python -m bench soak``)."""
        return replace(
            self,
            churn=_columns_only(self.churn),
            expansion=_columns_only(self.expansion),
            playbooks=[],
            rows_dropped=True,
        )

    def record(self, i: int, curve_drivers: bool = True) -> dict[str, Any]:
        """Row i's AccountScore; without ``curve_drivers`` the record has no
        ``churn_curve_drivers`` key (the served portfolio adds it on demand)."""
        self._check_rows()
        return {
            **self.summary_fields(i),
            "main_reason": self.churn.reasons.main[i],
            "context": self.churn.reasons.context[i],
            "churn": _explained_record(self.churn, i),
            "expansion": _explained_record(self.expansion, i),
            "playbooks": self.playbooks[i],
            "what_if": self.what_if,
            "churn_model_version": self.churn_model_version,
            "expansion_model_version": self.expansion_model_version,
            **self.survival_fields(i, curve_drivers),
        }

    def survival_fields(self, i: int, curve_drivers: bool = True) -> dict[str, Any]:
        """The record's churn curve fields: null when no survival model is served."""
        s = self.survival
        out: dict[str, Any] = {
            "churn_curve": None if s is None else s.curve_record(i),
            "churn_by_renewal": None if s is None else s.renewal(i),
        }
        if curve_drivers:
            out["churn_curve_drivers"] = None if s is None else s.driver_record(i)
        out["survival_model_version"] = None if s is None else s.version
        return out

    def summary_fields(self, i: int) -> dict[str, Any]:
        return {
            "account_id": self.account_id[i],
            "snapshot_date": self.snapshot_date[i],
            "churn_probability": float(self.churn.probability[i]),
            "expansion_probability": float(self.expansion.probability[i]),
            "risk_tier": self.risk_tier[i],
            "mrr": _optional(self.mrr[i]),
            "revenue_at_risk": _optional(self.revenue_at_risk[i]),
            "expected_expansion_mrr": _optional(self.expected_expansion_mrr[i]),
            "lifecycle_stage": self.lifecycle_stage[i],
            "days_to_renewal": _integer(self.days_to_renewal[i]),
            "segment": self.segment[i],
            "csm_id": self.csm_id[i],
        }

    def summary(self, i: int) -> dict[str, Any]:
        """The portfolio row: scores without the driver lists, the main reason, play ids."""
        self._check_rows()
        main = self.churn.reasons.main[i]
        return {
            **self.summary_fields(i),
            "top_churn_reason": main["reason"] if main else None,
            "main_reason_family": main["family"] if main else None,
            "playbooks": [p["id"] for p in self.playbooks[i]],
            "churn_by_renewal": None if self.survival is None else self.survival.renewal(i),
        }

    def _check_rows(self) -> None:
        if self.rows_dropped:
            raise RuntimeError("this batch kept its columns only (columns_only): no records")

    def to_arrow(self) -> pa.Table:
        """The contract's section 4 columns; drivers as lists of structs (see docs/api.md)."""
        self._check_rows()
        driver = pa.struct(
            [
                ("feature", pa.string()),
                ("family", pa.string()),
                ("signal", pa.string()),
                ("role", pa.string()),
                ("value", pa.float64()),
                ("category", pa.string()),
                ("contribution", pa.float64()),
                ("reason", pa.string()),
            ]
        )
        drivers = pa.list_(driver)

        def flat(rows: list[list[dict[str, Any]]]) -> pa.Array:
            return pa.array(
                [
                    [
                        {
                            **d,
                            "value": d["value"] if not isinstance(d["value"], str) else None,
                            "category": d["value"] if isinstance(d["value"], str) else None,
                        }
                        for d in row
                    ]
                    for row in rows
                ],
                type=drivers,
            )

        return pa.table(
            {
                "account_id": pa.array(self.account_id.tolist(), pa.string()),
                "snapshot_date": pa.array(
                    [None if d is None else date.fromisoformat(str(d)) for d in self.snapshot_date],
                    pa.date32(),
                ),
                "churn_probability": self.churn.probability,
                "expansion_probability": self.expansion.probability,
                "risk_tier": pa.array(self.risk_tier.tolist(), pa.string()),
                "mrr": self.mrr,
                "revenue_at_risk": self.revenue_at_risk,
                "expected_expansion_mrr": self.expected_expansion_mrr,
                "lifecycle_stage": pa.array(self.lifecycle_stage.tolist(), pa.string()),
                "days_to_renewal": pa.array(
                    [_integer(v) for v in self.days_to_renewal], pa.int64()
                ),
                **(
                    {}
                    if self.term_length_days is None
                    else {
                        "term_length_days": pa.array(
                            [_integer(v) for v in self.term_length_days], pa.int64()
                        )
                    }
                ),
                "segment": pa.array(self.segment.tolist(), pa.string()),
                "csm_id": pa.array(self.csm_id.tolist(), pa.string()),
                "churn_model_version": pa.array([self.churn_model_version] * self.n, pa.string()),
                "expansion_model_version": pa.array(
                    [self.expansion_model_version] * self.n, pa.string()
                ),
                "churn_base_value": self.churn.base_value,
                "churn_drivers_up": flat(self.churn.up),
                "churn_drivers_down": flat(self.churn.down),
                "expansion_base_value": self.expansion.base_value,
                "expansion_drivers_up": flat(self.expansion.up),
                "expansion_drivers_down": flat(self.expansion.down),
                "playbooks": pa.array(
                    [[p["id"] for p in row] for row in self.playbooks], pa.list_(pa.string())
                ),
                **_main_reason_columns("main_reason", self.churn.reasons.main),
                "context": pa.array(
                    [[c["reason"] for c in row] for row in self.churn.reasons.context],
                    pa.list_(pa.string()),
                ),
                "expansion_main_reason": pa.array(
                    [m["reason"] if m else None for m in self.expansion.reasons.main], pa.string()
                ),
                # the curve's columns only with a survival model: a file without is unchanged
                **({} if self.survival is None else self.survival.columns()),
            }
        )


def _main_reason_columns(prefix: str, main: list[dict[str, Any] | None]) -> dict[str, pa.Array]:
    """``<prefix>_feature``, ``<prefix>_family`` and ``<prefix>`` (the sentence)."""
    return {
        f"{prefix}_feature": pa.array([m["feature"] if m else None for m in main], pa.string()),
        f"{prefix}_family": pa.array([m["family"] if m else None for m in main], pa.string()),
        prefix: pa.array([m["reason"] if m else None for m in main], pa.string()),
    }


def _explained_record(explained: Explained, i: int) -> dict[str, Any]:
    return {
        "probability": float(explained.probability[i]),
        "raw_score": float(explained.raw_score[i]),
        "base_value": float(explained.base_value[i]),
        "drivers_up": explained.up[i],
        "drivers_down": explained.down[i],
        "main_reason": explained.reasons.main[i],
        "context": explained.reasons.context[i],
    }


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _integer(value: float) -> int | None:
    return None if math.isnan(value) else round(value)


# ---- scoring ---------------------------------------------------------------------------------


def score_frame(
    frame: Frame,
    churn: ModelView,
    expansion: ModelView,
    playbooks: PlaybookLibrary,
    config: ScoringConfig,
    threads: int = 1,
    what_if: bool = False,
    effects: EffectsBundle | None = None,
    survival: SurvivalView | None = None,
) -> ScoredBatch:
    """Score, explain and match plays for every row of ``frame``; with ``effects`` (the
    registered play-effects model) each fitting play carries its estimated effect on the
    account and the plays are ranked by expected ARR saved (``serving.prescription``); with
    ``survival``, add each row's churn curve anchored to its churn probability
    (``serving.survival``; its drivers only for a table, not for what-if rows).

    ``threads``: cores the explanations may use: a batch gives them to LightGBM; a single row
    explains the two models side by side when there are 2 or more."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    n = frame.n
    explained: dict[str, Explained] = {}
    views = {"churn": churn, "expansion": expansion}
    shared = churn.same_columns(expansion)  # both models usually have the same columns
    matrices: dict[str, np.ndarray] = {}
    for name, view in views.items():
        t0 = time.perf_counter()
        matrices[name] = matrices["churn"] if name != "churn" and shared else frame.encode(view)
        seconds[f"{name}_encode"] = time.perf_counter() - t0
    shap_values = _explanations(views, matrices, n, threads, seconds)
    segment = _object_column(frame, "segment", n)
    if isinstance(frame, TableFrame) and n >= MIN_BOOK_ROWS:
        for name, view in views.items():
            view.reasons.mark_unavailable(matrices[name])
    for name, view in views.items():
        t0 = time.perf_counter()
        explained[name] = _explained(view, matrices[name], shap_values[name], config, segment)
        seconds[f"{name}_drivers"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    churn_p = explained["churn"].probability
    expansion_p = explained["expansion"].probability
    tiers = risk_tiers(churn_p, config.tiers_for(churn))
    mrr = _float_column(frame, "mrr", n)
    score_fields: dict[str, np.ndarray] = {
        "churn_probability": churn_p,
        "expansion_probability": expansion_p,
        "risk_tier": tiers,
    }

    def values(name: str) -> np.ndarray | None:
        if name in score_fields:
            return score_fields[name]
        column = frame.column(name)
        if column is None:  # a derived feature: the value the model computed
            for view, matrix in ((churn, matrices["churn"]), (expansion, matrices["expansion"])):
                if view.is_derived(name):
                    return matrix[:, view.index[name]]
        return column

    drivers = {name: explained[name].reasons.actionable_up for name in views}
    columns = {
        name: DriverColumns(
            explained[name].reasons.actionable_columns,
            view.names,
            view.family_or_none,
            view.signals,
        )
        for name, view in views.items()
    }
    hits = playbooks.match(n, drivers, values, columns)
    if effects is not None:
        costs = {p.id: p.cost for p in playbooks.playbooks}
        discounts = {p.id: p.discount for p in playbooks.playbooks}
        hits = prescribe(
            hits, mrr, churn_p, expansion_p, segment, effects, costs, discounts=discounts
        )
    seconds["playbooks"] = time.perf_counter() - t0
    curves = None
    if survival is not None:
        t0 = time.perf_counter()
        if survival.bundle.columns == churn.bundle.columns:
            survival_matrix: np.ndarray | None = matrices["churn"]
        elif isinstance(frame, TableFrame):
            survival_matrix = survival.bundle.encode(frame.table)
        else:
            survival_matrix = None  # what-if rows encode for the classifiers' columns only
        if survival_matrix is not None:
            curves = score_curves(
                survival,
                survival_matrix,
                churn_p,
                _float_column(frame, "days_to_renewal", n),
                drivers=survival.drivers and isinstance(frame, TableFrame),
                threads=threads,
            )
        seconds["survival"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - started
    return ScoredBatch(
        account_id=_object_column(frame, "account_id", n),
        snapshot_date=_object_column(frame, "snapshot_date", n),
        churn=explained["churn"],
        expansion=explained["expansion"],
        risk_tier=tiers,
        mrr=mrr,
        revenue_at_risk=mrr * 12.0 * churn_p,
        expected_expansion_mrr=mrr * expansion_p * config.expansion_uplift,
        days_to_renewal=_float_column(frame, "days_to_renewal", n),
        lifecycle_stage=_object_column(frame, "lifecycle_stage", n),
        segment=segment,
        csm_id=_object_column(frame, "csm_id", n),
        playbooks=hits,
        churn_model_version=churn.version,
        expansion_model_version=expansion.version,
        what_if=what_if,
        seconds=seconds,
        survival=curves,
        term_length_days=(
            None
            if frame.column("term_length_days") is None
            else _float_column(frame, "term_length_days", n)
        ),
    )


def _explanations(
    views: Mapping[str, ModelView],
    matrices: Mapping[str, np.ndarray],
    n: int,
    threads: int,
    seconds: dict[str, float],
) -> dict[str, Explanation]:
    """SHAP values of each model: one row by LightGBM's single-row path, the two models side
    by side when ``threads`` >= 2 (the C call releases the GIL, so a what-if waits for the
    slower model, not for both); more rows by ``explain`` on ``threads`` threads."""
    out: dict[str, Explanation] = {}
    if n == 1 and threads >= 2:
        t0 = time.perf_counter()
        (first, first_view), (second, second_view) = views.items()
        pending = _SIDE_POOL.submit(second_view.single_row, matrices[second])
        out[first] = first_view.single_row(matrices[first])
        out[second] = pending.result()
        seconds[f"{first}_explain"] = seconds[f"{second}_explain"] = time.perf_counter() - t0
        return out
    for name, view in views.items():
        t0 = time.perf_counter()
        if n == 1:
            out[name] = view.single_row(matrices[name])
        else:
            out[name] = explain_bundle(view.bundle, matrices[name], num_threads=threads)
        seconds[f"{name}_explain"] = time.perf_counter() - t0
    return out


_SIDE_POOL = ThreadPoolExecutor(1, thread_name_prefix="churnlight-explain")
"""Explains the second model of a what-if row; its one thread starts on first use."""


def score_table(
    table: pa.Table,
    churn: ModelView,
    expansion: ModelView,
    playbooks: PlaybookLibrary,
    config: ScoringConfig,
    threads: int,
    chunk_rows: int = CHUNK_ROWS,
    effects: EffectsBundle | None = None,
    survival: SurvivalView | None = None,
) -> Iterator[ScoredBatch]:
    """``score_frame`` over a table in chunks, so memory stays bounded for any size."""
    for start in range(0, max(table.num_rows, 1), chunk_rows):
        frame = TableFrame(table.slice(start, chunk_rows))
        yield score_frame(
            frame, churn, expansion, playbooks, config, threads, effects=effects, survival=survival
        )


def _explained(
    view: ModelView,
    matrix: np.ndarray,
    values: Explanation,
    config: ScoringConfig,
    peers: np.ndarray,
) -> Explained:
    raw = values.raw_score
    return Explained(
        probability=view.bundle.calibration.apply(raw),
        raw_score=raw,
        base_value=values.base_value,
        reasons=view.reasons.explain(
            values.contributions, matrix, config.top_k, peers, config.reasons
        ),
        book=view.reasons,
    )


def _float_column(frame: Frame, name: str, n: int) -> np.ndarray:
    column = frame.column(name)
    if column is None:
        return np.full(n, np.nan)
    if column.dtype.kind == "f":
        return column
    out = np.full(n, np.nan)
    for i, v in enumerate(column):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _object_column(frame: Frame, name: str, n: int) -> np.ndarray:
    column = frame.column(name)
    if column is None:
        return np.full(n, None, dtype=object)
    if column.dtype.kind == "f":
        return np.array([None if math.isnan(v) else v for v in column.tolist()], dtype=object)
    return np.array([None if v is None else str(v) for v in column], dtype=object)
