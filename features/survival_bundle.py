"""The survival bundle: a trained time-to-churn model on disk, shared by training and serving.

``training.survival`` fits a discrete-time hazard booster; serving scores it. The two never
import each other, so the format and the curve arithmetic live here, once. A survival bundle
is a directory:

- ``booster.txt``: the LightGBM hazard model. Its input is the feature columns (encoded like a
  churn model's, ``features.model_bundle.encode``), then ``period`` (0, 1, ...), then each
  countdown column minus the period's first day, then (when the model has them) the period's
  renewal cycle: days to the next renewal, whether one falls in the period, renewals passed
  (``period_matrix``, ``cycle_columns``);
- ``survival.json``: the columns in model order, the countdown and cycle column indices
  (``cycle`` is absent from bundles written before it: no cycle columns), the Platt map
  of the hazard (hazard = sigmoid(a + b * raw score)), the period length and count, and the
  training facts (``metadata``).

Curves (``churn_by``): S(30k) = prod_{j<k} (1 - h_j), the hazard constant inside a period,
P(churn by d) = 1 - S(d): monotone non-decreasing in d by construction.

Anchoring (``anchor_curve``): S'(d) = S(d) ** k with k = log(1 - p) / log S(anchor) puts the
curve's point at the anchor day exactly on p (the calibrated ``churn_180d`` score), keeps it
monotone and in [0, 1]. Serving reports every curve anchored to the account's
``churn_probability`` (docs/training.md, "Time to churn").

Drivers of the 365-day risk (``SurvivalBundle.drivers``): the hazard booster's SHAP
contributions (log-odds of the hazard) in each period the 365 days cross, averaged with
weights equal to each period's share of the probability of churning by day 365; the
countdown column's contribution is added to its feature's, the cycle columns' to
``days_to_renewal``'s; the period's own is left out (it is time, not the account).

Scoring cost (``PeriodSplit``): most of a curve's cost is the hazard booster's prediction on
one row per period (13 per account). A tree only sees the period through the few thresholds
it compares the period's columns with, so the booster's trees are split by the period
columns they read (``PeriodPart``): a tree that reads none gives the same value in every
period and is predicted once per account; the others once per distinct side of their
thresholds (an annual term's ``renewal_in_period`` is 0 in most periods: those periods are
predicted once). The raw score is the same sum of the same leaf values, added in another
order (equal to one prediction over every period to ~1e-15; tested). On the survival bench's
model: 88 of 327 trees read no period column, and the rest see 2-11 thresholds.

Relative imports only: this module is copied with ``model_bundle.py`` into logged MLflow
models (``training.run_logging``)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from .errors import ChurnlightError
from .json_encoding import json_default
from .model_bundle import BOOSTER_FILE, FeatureColumn, encode

if TYPE_CHECKING:
    import lightgbm

SURVIVAL_FORMAT = 2
"""2 added ``cycle`` (the renewal cycle columns): a reader of format 1 would feed such a
booster too few columns, so it refuses it; this one reads both (format 1: no cycle)."""
READS_FORMATS = (1, 2)
SURVIVAL_FILE = "survival.json"
HORIZONS_DAYS = (30, 60, 90, 180, 270, 365)
"""The horizons of P(churn by d) the API, batch scores and metrics report."""
DRIVER_DAYS = 365
PERIOD_DAYS = 30
PERIODS = 13
"""13 x 30 = 390 days: the last period holds day 365."""


class SurvivalBundleError(ChurnlightError):
    """A survival bundle is missing, incomplete or of an unknown format."""


CYCLE_COLUMNS = ("days_to_renewal", "term_length_days")
"""With both features, each period also gets the renewal cycle (``cycle_columns``)."""
CYCLE_FEATURES = ("next_renewal_from_period", "renewal_in_period", "renewals_before_period")


def cycle_columns(
    days_to_renewal: np.ndarray, term_days: np.ndarray, start: np.ndarray, period_days: int
) -> np.ndarray:
    """(rows, 3) the renewal cycle seen from a period starting ``start`` days after the
    snapshot: days from the period's start to the first renewal on or after it (the term
    repeats every ``term_days``), 1 when that renewal falls inside the period, and the
    renewals passed before the period. NaN where the renewal or the term is unknown; a
    renewal already passed with no term to repeat it gives no next renewal (NaN) and 1 past."""
    to_first = np.asarray(days_to_renewal, dtype=np.float64) - start
    term = np.asarray(term_days, dtype=np.float64)
    cycling = np.isfinite(term) & (term > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        after = np.where(to_first >= 0, to_first, np.where(cycling, np.mod(to_first, term), np.nan))
        passed = np.where(
            to_first >= 0,
            0.0,
            np.where(cycling, np.floor((-to_first - 1) / term) + 1, 1.0),
        )
        inside = np.where(np.isnan(after), np.nan, (after < period_days).astype(np.float64))
    passed = np.where(np.isnan(to_first), np.nan, passed)
    return np.column_stack([after, inside, passed])


def period_matrix(
    rows: np.ndarray,
    period: np.ndarray,
    countdown: Sequence[int],
    period_days: int = PERIOD_DAYS,
    cycle: Sequence[int] = (),
) -> np.ndarray:
    """The hazard model's input: the snapshot's features, the period, each countdown
    feature minus the period's first day, and with ``cycle`` (the column indices of
    ``CYCLE_COLUMNS``) the period's renewal cycle (``cycle_columns``)."""
    starts = period[:, None] * period_days
    parts = [rows, period, rows[:, list(countdown)] - starts]
    if len(cycle) == 2:
        renewal, term = cycle
        parts.append(cycle_columns(rows[:, renewal], rows[:, term], starts[:, 0], period_days))
    return np.column_stack(parts)


def churn_by(
    hazards: np.ndarray, days: Sequence[float] | np.ndarray, period_days: int = PERIOD_DAYS
) -> np.ndarray:
    """P(churn by d) = 1 - S(d) from per-period hazards (rows, periods), the hazard constant
    inside a period; ``days`` is one list for every row, or (rows,) one day per row (then the
    result is (rows,)). Days beyond the last period keep the last period's hazard."""
    hazards = np.clip(np.asarray(hazards, dtype=np.float64), 0.0, 1.0 - 1e-12)
    log_keep = np.log1p(-hazards)  # log(1 - h_k) <= 0
    cumulative = np.concatenate([np.zeros((len(hazards), 1)), np.cumsum(log_keep, axis=1)], axis=1)
    last = hazards.shape[1] - 1
    per_row = isinstance(days, np.ndarray) and days.ndim == 1 and len(days) == len(hazards)
    if per_row:
        d = np.clip(np.asarray(days, dtype=np.float64), 0.0, None)
        k = np.minimum((d // period_days).astype(np.int64), last)
        rows = np.arange(len(hazards))
        fraction = (d - k * period_days) / period_days
        return np.asarray(1.0 - np.exp(cumulative[rows, k] + fraction * log_keep[rows, k]))
    out = np.empty((len(hazards), len(days)))
    for j, day in enumerate(days):
        k = min(int(day // period_days), last)
        fraction = (day - k * period_days) / period_days
        out[:, j] = 1.0 - np.exp(cumulative[:, k] + fraction * log_keep[:, k])
    return out


def anchor_curve(
    churn_by_days: np.ndarray, days: Sequence[float], p_anchor: np.ndarray, anchor: float = 180
) -> np.ndarray:
    """Curves whose point at ``anchor`` days equals ``p_anchor`` (the calibrated classifier):
    S'(d) = S(d) ** k per row, k = log(1 - p_anchor) / log S(anchor). Monotone stays monotone.
    ``churn_by_days`` may hold extra columns past ``days`` (e.g. the renewal day): they are
    transformed with the same k."""
    days = list(days)
    if anchor not in days:
        raise SurvivalBundleError(f"anchor day {anchor} is not among the curve's days {days}")
    eps = 1e-9
    survival = np.clip(1.0 - np.asarray(churn_by_days, dtype=np.float64), eps, 1.0 - eps)
    target = np.clip(1.0 - np.asarray(p_anchor, dtype=np.float64), eps, 1.0 - eps)
    k = np.log(target) / np.log(survival[:, days.index(anchor)])
    anchored = 1.0 - survival ** k[:, None]
    anchored[:, days.index(anchor)] = 1.0 - target
    return np.asarray(anchored)


ZERO = float(np.float32(1e-35))
"""LightGBM's kZeroThreshold: |x| <= this counts as zero for a split whose missing type is
zero."""
OWN_PART_SHARE = 0.1
"""Trees reading one set of period columns are a part of their own when they are at least
this share of the booster's trees; the rest share one part."""


@dataclass(frozen=True)
class TreeSplits:
    """One tree of a LightGBM model text: its text and its splits."""

    text: str
    features: tuple[int, ...]
    thresholds: tuple[float, ...]
    categorical: tuple[bool, ...]
    linear: bool


def model_trees(model: str) -> tuple[str, list[TreeSplits], str]:
    """A LightGBM model text as (head, trees, tail); the head without ``tree_sizes``, which
    indexes the original trees (without it LightGBM reads the trees in order)."""
    if "\nTree=" not in model:
        return model, [], ""
    start = model.index("\nTree=") + 1
    end = model.index("end of trees")
    head = re.sub(r"(?m)^tree_sizes=.*\n", "", model[:start])
    trees = []
    for block in re.split(r"(?m)^(?=Tree=\d+$)", model[start:end]):
        if not block.strip():
            continue

        def line(key: str, text: str = block) -> list[str]:
            found = re.search(rf"(?m)^{key}=(.*)$", text)
            return found.group(1).split() if found else []

        trees.append(
            TreeSplits(
                block,
                tuple(int(j) for j in line("split_feature")),
                tuple(float(t) for t in line("threshold")),
                tuple(int(d) & 1 == 1 for d in line("decision_type")),
                line("is_linear") == ["1"],
            )
        )
    return head, trees, model[end:]


def model_text(head: str, trees: Sequence[TreeSplits], tail: str) -> str:
    body = "".join(re.sub(r"^Tree=\d+", f"Tree={i}", t.text, count=1) for i, t in enumerate(trees))
    return head + body + tail


@dataclass(frozen=True)
class PeriodPart:
    """Trees of a hazard booster that read the same period columns (``columns``, indices in
    the input layout; none: the tree gives one value per account), with the thresholds
    they compare each column with. ``exact``: a column is read otherwise than by numeric
    thresholds (a categorical split, a linear leaf), so every period is predicted."""

    booster: lightgbm.Booster
    columns: tuple[int, ...]
    thresholds: tuple[np.ndarray, ...]
    exact: bool = False

    def keys(self, block: np.ndarray, first: int, periods: int) -> np.ndarray:
        """(rows * periods,) a key per (account, period) row of ``block`` (the period
        columns, the first of which is column ``first`` of the input): equal keys (same
        account, and every period column on the same side of every threshold, zero and
        missing apart) give the same prediction from every tree of the part."""
        if self.exact:
            return np.arange(len(block), dtype=np.int64)
        codes = [np.repeat(np.arange(len(block) // periods, dtype=np.int64), periods)]
        radix = [len(block) // periods + 1]
        for j, cuts in zip(self.columns, self.thresholds, strict=True):
            v = block[:, j - first]
            side = np.searchsorted(cuts, v, side="left")  # how many thresholds lie below v
            zero = (v >= -ZERO) & (v <= ZERO)
            codes.append(np.where(np.isnan(v), len(cuts) + 1, side) * 2 + zero)
            radix.append(2 * len(cuts) + 4)
        if math.prod(radix) >= 2**62:  # too many sides for one integer: number them
            return np.unique(np.column_stack(codes), axis=0, return_inverse=True)[1].ravel()
        key = codes[0]
        for code, base in zip(codes[1:], radix[1:], strict=True):
            key = key * base + code
        return key

    def raw_score(
        self, matrix: np.ndarray, block: np.ndarray, first: int, num_threads: int = 0
    ) -> np.ndarray:
        """(rows * periods,) this part's raw score of every (account, period): ``matrix``
        holds the accounts' features, ``block`` their period columns, account-major; each
        distinct key is predicted once (``num_threads``: LightGBM's, 0 its default)."""
        periods = len(block) // max(len(matrix), 1)
        if not self.columns:  # the same in every period: predicted with the first one's
            rows = np.column_stack([matrix, block[::periods]])
            raw = self.booster.predict(rows, raw_score=True, num_threads=num_threads)
            return np.repeat(np.asarray(raw), periods)
        _, where, back = np.unique(
            self.keys(block, first, periods), return_index=True, return_inverse=True
        )
        rows = np.column_stack([matrix[where // periods], block[where]])
        once = np.asarray(self.booster.predict(rows, raw_score=True, num_threads=num_threads))
        return once[back.ravel()]


@dataclass(frozen=True)
class PeriodSplit:
    """A hazard booster as parts by the period columns their trees read (``PeriodPart``);
    see the module docs. ``first``: the input's first period column."""

    parts: tuple[PeriodPart, ...]
    first: int

    @classmethod
    def of(
        cls,
        booster: lightgbm.Booster,
        first_period_column: int,
        own_share: float = OWN_PART_SHARE,
    ) -> PeriodSplit:
        import lightgbm

        head, trees, tail = model_trees(booster.model_to_string())
        every = tuple(range(first_period_column, booster.num_feature()))
        if re.search(r"(?m)^average_output", head):  # a forest averages its trees: keep them
            return cls((PeriodPart(booster, every, (), exact=True),), first_period_column)
        groups: dict[tuple[int, ...], list[TreeSplits]] = {}
        for tree in trees:
            # a linear tree's leaves read only columns its splits read (LightGBM's rule)
            read = tuple(sorted({j for j in tree.features if j >= first_period_column}))
            groups.setdefault(read, []).append(tree)
        own = {k: g for k, g in groups.items() if not k or len(g) >= own_share * len(trees)}
        rest = [t for k, g in groups.items() if k not in own for t in g]
        if rest:
            union = tuple(sorted({j for t in rest for j in t.features if j >= first_period_column}))
            own.setdefault(union, []).extend(rest)
        parts = []
        for columns, group in own.items():
            cuts = []
            for c in columns:
                values = {
                    t.thresholds[i] for t in group for i, j in enumerate(t.features) if j == c
                }
                cuts.append(np.array(sorted(values), dtype=np.float64))
            exact = any(t.linear for t in group) or any(
                t.categorical[i] for t in group for i, j in enumerate(t.features) if j in columns
            )
            parts.append(
                PeriodPart(
                    lightgbm.Booster(model_str=model_text(head, group, tail)),
                    columns,
                    tuple(cuts),
                    exact,
                )
            )
        return cls(tuple(parts), first_period_column)

    def raw_score(self, matrix: np.ndarray, block: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """(rows, periods) raw hazard scores: ``matrix`` (rows, features) the accounts,
        ``block`` (rows * periods, period columns) each account's period columns at every
        period, account-major (``SurvivalBundle.period_block``)."""
        total = np.zeros(len(block))
        for part in self.parts:
            total += part.raw_score(matrix, block, self.first, num_threads)
        return total.reshape(len(matrix), -1)


def hazard_probability(raw: np.ndarray, platt: tuple[float, float]) -> np.ndarray:
    a, b = platt
    return np.asarray(expit(a + b * np.asarray(raw, dtype=np.float64)))


@dataclass
class SurvivalBundle:
    """A hazard booster with everything needed to draw and explain curves."""

    columns: list[FeatureColumn]
    booster: lightgbm.Booster
    countdown: list[int] = field(default_factory=list)
    platt: tuple[float, float] = (0.0, 1.0)
    periods: int = PERIODS
    period_days: int = PERIOD_DAYS
    metadata: dict[str, Any] = field(default_factory=dict)
    label: str = "churn_time"
    cycle: list[int] = field(default_factory=list)
    """Column indices of ``CYCLE_COLUMNS`` when the model sees the renewal cycle, else []."""

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def input_columns(self) -> list[str]:
        return list(dict.fromkeys(n for c in self.columns for n in c.source_columns))

    def encode(self, frame: Any) -> np.ndarray:
        return encode(frame, self.columns)

    def stacked(self, matrix: np.ndarray, periods: int | None = None) -> np.ndarray:
        """Each row repeated once per period, in the hazard model's input layout."""
        count = periods or self.periods
        period = np.tile(np.arange(count, dtype=np.float64), len(matrix))
        return period_matrix(
            np.repeat(matrix, count, axis=0), period, self.countdown, self.period_days, self.cycle
        )

    @cached_property
    def split(self) -> PeriodSplit:
        """The booster split by whether a tree reads the period (``PeriodSplit``), built on
        first use."""
        extra = 1 + len(self.countdown) + (len(CYCLE_FEATURES) if self.cycle else 0)
        return PeriodSplit.of(self.booster, self.booster.num_feature() - extra)

    def period_block(self, matrix: np.ndarray) -> np.ndarray:
        """(rows * periods, period columns) the columns ``stacked`` appends to each row,
        without repeating the features."""
        reads = sorted({*self.countdown, *self.cycle})
        at = {j: i for i, j in enumerate(reads)}
        count = self.periods
        period = np.tile(np.arange(count, dtype=np.float64), len(matrix))
        narrow = period_matrix(
            np.repeat(matrix[:, reads], count, axis=0),
            period,
            [at[j] for j in self.countdown],
            self.period_days,
            [at[j] for j in self.cycle],
        )
        return narrow[:, len(reads) :]

    def raw_hazards(self, matrix: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """(rows, periods) the hazard booster's raw scores (log-odds before the Platt map);
        ``num_threads``: LightGBM's (0: its default)."""
        return self.split.raw_score(matrix, self.period_block(matrix), num_threads)

    def hazards(self, matrix: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """(rows, periods) P(churn in period k | no churn before it)."""
        return hazard_probability(self.raw_hazards(matrix, num_threads), self.platt)

    def churn_by(
        self,
        matrix: np.ndarray,
        days: Sequence[float] | np.ndarray = HORIZONS_DAYS,
        num_threads: int = 0,
    ) -> np.ndarray:
        """(rows, len(days)) P(churn by d), non-decreasing along ``days``."""
        return churn_by(self.hazards(matrix, num_threads), days, self.period_days)

    def drivers(self, matrix: np.ndarray, days: int = DRIVER_DAYS) -> tuple[np.ndarray, np.ndarray]:
        """(rows, features) contributions to the hazard's log-odds over the first ``days``,
        each period weighted by its share of P(churn by ``days``), and the weighted base
        value (rows,). Costs one SHAP row per period per account."""
        count = min(int(np.ceil(days / self.period_days)), self.periods)
        n, f = matrix.shape
        stacked = self.stacked(matrix, count)
        contrib = np.asarray(self.booster.predict(stacked, pred_contrib=True), dtype=np.float64)
        contrib = contrib.reshape(n, count, -1)
        hazards = self.hazards(matrix)[:, :count]
        before = np.concatenate(
            [np.ones((n, 1)), np.cumprod(1.0 - hazards, axis=1)[:, :-1]], axis=1
        )
        share = before * hazards
        # the last period counts only its days up to ``days``
        share[:, -1] *= (days - (count - 1) * self.period_days) / self.period_days
        weights = share / np.maximum(share.sum(axis=1, keepdims=True), 1e-300)
        mean = np.einsum("nk,nkc->nc", weights, contrib)
        out = mean[:, :f].copy()
        for i, j in enumerate(self.countdown):
            out[:, j] += mean[:, f + 1 + i]
        if self.cycle:  # the cycle is the renewal's: its columns count for days_to_renewal
            first = f + 1 + len(self.countdown)
            out[:, self.cycle[0]] += mean[:, first : first + len(CYCLE_FEATURES)].sum(axis=1)
        return out, mean[:, -1]


def save_survival_bundle(bundle: SurvivalBundle, directory: str | Path) -> Path:
    """Write ``bundle`` into ``directory`` (created if needed); return the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    bundle.booster.save_model(str(out / BOOSTER_FILE))
    payload = {
        "format": SURVIVAL_FORMAT,
        "label": bundle.label,
        "columns": [c.to_dict() for c in bundle.columns],
        "countdown": list(bundle.countdown),
        "cycle": list(bundle.cycle),
        "platt": list(bundle.platt),
        "periods": bundle.periods,
        "period_days": bundle.period_days,
        "metadata": bundle.metadata,
    }
    (out / SURVIVAL_FILE).write_text(json.dumps(payload, indent=1, default=json_default) + "\n")
    return out


def load_survival_bundle(directory: str | Path) -> SurvivalBundle:
    """Read a bundle written by ``save_survival_bundle``."""
    import lightgbm

    path = Path(directory)
    spec, booster = path / SURVIVAL_FILE, path / BOOSTER_FILE
    if not spec.exists() or not booster.exists():
        raise SurvivalBundleError(
            f"{str(path)!r} is not a churnlight survival bundle (needs {SURVIVAL_FILE} and "
            f"{BOOSTER_FILE}); load a model registered by `churnlight train`"
        )
    data: Mapping[str, Any] = json.loads(spec.read_text())
    if data.get("format") not in READS_FORMATS:
        raise SurvivalBundleError(
            f"survival bundle {str(path)!r} has format {data.get('format')!r}; this churnlight "
            f"reads formats {', '.join(map(str, READS_FORMATS))}: retrain the model or upgrade "
            "churnlight"
        )
    a, b = data.get("platt", (0.0, 1.0))
    return SurvivalBundle(
        columns=[FeatureColumn.from_dict(c) for c in data["columns"]],
        booster=lightgbm.Booster(model_file=str(booster)),
        countdown=[int(j) for j in data.get("countdown", [])],
        cycle=[int(j) for j in data.get("cycle", [])],
        platt=(float(a), float(b)),
        periods=int(data.get("periods", PERIODS)),
        period_days=int(data.get("period_days", PERIOD_DAYS)),
        metadata=dict(data.get("metadata", {})),
        label=str(data.get("label", "churn_time")),
    )


def find_survival_bundle(model_dir: str | Path) -> Path:
    """The survival bundle inside a downloaded MLflow model directory (or the directory
    itself)."""
    root = Path(model_dir)
    for candidate in (root, root / "artifacts" / "bundle"):
        if (candidate / SURVIVAL_FILE).exists():
            return candidate
    raise SurvivalBundleError(
        f"no churnlight survival bundle in {str(root)!r} (looked for {SURVIVAL_FILE} and "
        f"artifacts/bundle/{SURVIVAL_FILE})"
    )
