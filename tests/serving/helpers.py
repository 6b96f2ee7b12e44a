"""A tiny synthetic feature snapshot and two small LightGBM models wrapped as bundles, built
without ``training`` (serving never imports it): the encoding, calibration and metadata
follow ``features.model_bundle``, the way training writes them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from features.metadata import FeatureSpec
from features.model_bundle import Calibration, FeatureColumn, ModelBundle, encode
from features.reasons import peer_reference
from features.survival_bundle import SurvivalBundle
from features.transforms import all_feature_specs
from features.writer import write_feature_table

SNAPSHOT_DATE = date(2024, 7, 1)
FEATURES = (
    "mrr",
    "seats",
    "tenure_days",
    "days_to_renewal",
    "lifecycle_stage",
    "seat_utilization_30d",
    "core_breadth_30d",
    "events_trend_30_90",
    "champion_departures_90d",
    "quota_burn_ratio",
    "open_high_tickets",
    "nps_last",
    "onboarding_milestones_first_90d",
    "segment",
)
CATEGORICAL = {
    "lifecycle_stage": ("adoption", "renewal", "onboarding"),
    "segment": ("smb", "mid_market", "enterprise"),
}
SEGMENTS = CATEGORICAL["segment"]
DERIVED = FeatureSpec(
    name="mrr_per_seat",
    family="commercial",
    description="MRR per licensed seat",
    unit="currency",
    template="{value} of MRR per licensed seat",
)
"""A derived model column (ratio of mrr and seats), as training adds them."""
CSMS = ("csm1", "csm2", "csm3")


def specs() -> list[FeatureSpec]:
    by_name = {s.name: s for s in all_feature_specs()}
    return [by_name[name] for name in FEATURES]


def make_table(n: int, seed: int, snapshot_date: date = SNAPSHOT_DATE) -> pa.Table:
    """n accounts A000.. at one snapshot date, with labels drawn from known risk factors."""
    rng = np.random.default_rng(seed)
    seats = rng.integers(5, 200, n).astype(float)
    seats[rng.random(n) < 0.05] = 0.0  # a zero denominator for the derived ratio
    util = np.clip(rng.beta(4, 2, n), 0, 1)
    tenure = rng.integers(10, 1500, n).astype(float)
    renewal = rng.integers(1, 365, n).astype(float)
    stage = np.where(tenure < 90, "onboarding", np.where(renewal < 90, "renewal", "adoption"))
    departures = rng.poisson(0.3, n).astype(float)
    burn = rng.gamma(4, 0.25, n)
    tickets = rng.poisson(0.5, n).astype(float)
    nps = rng.integers(0, 11, n).astype(float)
    nps[rng.random(n) < 0.2] = np.nan  # no survey answered
    burn[rng.random(n) < 0.15] = np.nan  # no quota
    churn_logit = (
        -2.0 + 1.6 * departures + 3.0 * (0.6 - util) + 0.6 * tickets + 0.8 * (stage == "renewal")
    )
    expand_logit = -1.5 + 1.8 * np.nan_to_num(burn - 1.0) + 1.5 * (util - 0.6)
    churn = (rng.random(n) < 1 / (1 + np.exp(-churn_logit))).astype(np.int64)
    expand = (rng.random(n) < 1 / (1 + np.exp(-expand_logit))).astype(np.int64)
    columns: dict[str, Any] = {
        "account_id": [f"A{i:03d}" for i in range(n)],
        "snapshot_date": pa.array([snapshot_date] * n, pa.date32()),
        "mrr": np.round(seats * rng.uniform(20, 60, n), 2),
        "seats": seats,
        "tenure_days": tenure,
        "days_to_renewal": renewal,
        "lifecycle_stage": stage.tolist(),
        "seat_utilization_30d": util,
        "core_breadth_30d": np.clip(util + rng.normal(0, 0.1, n), 0, 1),
        "events_trend_30_90": rng.gamma(5, 0.2, n),
        "champion_departures_90d": departures,
        "quota_burn_ratio": burn,
        "open_high_tickets": tickets,
        "nps_last": nps,
        "onboarding_milestones_first_90d": rng.integers(0, 5, n).astype(float),
        "segment": [SEGMENTS[i % 3] for i in range(n)],
        "csm_id": [CSMS[i % 3] for i in range(n)],
        "churn_180d": churn,
        "expand_180d": expand,
    }
    return pa.table(columns)


def columns() -> list[FeatureColumn]:
    return [
        *(
            FeatureColumn(name, "categorical", CATEGORICAL[name])
            if name in CATEGORICAL
            else FeatureColumn(name)
            for name in FEATURES
        ),
        FeatureColumn(DERIVED.name, "derived", op="ratio", inputs=("mrr", "seats")),
    ]


def fit_bundle(table: pa.Table, label: str, seed: int = 7, rounds: int = 40) -> ModelBundle:
    """A small LightGBM model of ``label`` as a bundle (platt calibration for churn,
    isotonic for expansion, so both calibration maps are exercised)."""
    import lightgbm as lgb

    cols = columns()
    matrix = encode(table, cols)
    y = np.asarray(table.column(label).to_numpy(), dtype=float)
    categorical = [j for j, c in enumerate(cols) if c.kind == "categorical"]
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "max_depth": 4,
        "learning_rate": 0.1,
        "min_data_in_leaf": 10,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbose": -1,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
    }
    data = lgb.Dataset(
        matrix, label=y, feature_name=[c.name for c in cols], categorical_feature=categorical
    )
    booster = lgb.train(params, data, num_boost_round=rounds)
    raw = booster.predict(matrix, raw_score=True)
    if label.startswith("churn"):
        calibration = Calibration("platt", a=0.9, b=-0.1)
    else:
        grid = np.quantile(raw, [0.0, 0.25, 0.5, 0.75, 1.0])
        calibration = Calibration("isotonic", x=tuple(grid), y=(0.02, 0.1, 0.2, 0.45, 0.8))
    metadata = {
        "features": [
            *(s.to_dict() for s in specs()),
            {**DERIVED.to_dict(), "derived": True},
        ],
        "base_rate": float(np.mean(y)),
        "reference": peer_reference(
            matrix,
            [c.name for c in cols],
            [c.kind != "categorical" for c in cols],
            np.asarray(table.column("segment").to_pylist(), dtype=object),
        ).to_dict(),
        "horizon_days": 180,
        "as_of": SNAPSHOT_DATE.isoformat(),
        "train_window": {"first_snapshot": "2023-01-01", "last_snapshot": "2023-12-01"},
        "params": params,
    }
    return ModelBundle(label, cols, calibration, booster, metadata)


def fit_survival_bundle(table: pa.Table, seed: int = 7) -> SurvivalBundle:
    """A small time-to-churn model of ``table`` (``training.survival``): churners of
    ``churn_180d`` churn on a day in [0, 180), the others on a day in [180, 420) or are
    censored at 400 days."""
    from training.survival import fit_survival

    rng = np.random.default_rng(seed)
    cols = columns()
    matrix = encode(table, cols)
    churned = np.asarray(table.column("churn_180d").to_numpy(), dtype=float) == 1
    n = len(matrix)
    days = np.where(churned, rng.integers(0, 180, n), rng.integers(180, 420, n)).astype(float)
    observed = (churned | (days < 400)).astype(float)
    days = np.where(observed == 1, days, 400.0)
    rows = np.arange(n)
    categorical = [j for j, c in enumerate(cols) if c.kind == "categorical"]
    fit = fit_survival(
        matrix, [c.name for c in cols], categorical, days, observed, np.full(n, 400.0),
        rows[rows % 4 != 0], rows[rows % 4 == 0], seed=seed, threads=1,
        params={"num_leaves": 7, "max_depth": 4},
    )  # fmt: skip
    return fit.bundle(cols, {"features": [s.to_dict() for s in specs()]})


def write_snapshot(table: pa.Table, path: Path) -> Path:
    """``table`` as a feature table with its metadata sidecar (as `churnlight features`)."""
    facts = {
        "as_of": SNAPSHOT_DATE.isoformat(),
        "horizon_days": 180,
        "labels": ["churn_180d", "expand_180d"],
        "keys": ["account_id", "snapshot_date"],
        "features": [s.to_dict() for s in specs()],
    }
    return write_feature_table(table, path, facts)


# The columns of a score file (`churnlight score`, ScoredBatch.to_arrow), written out by
# hand: in order, with their types.
_DRIVERS = pa.list_(
    pa.struct(
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
)
SCORE_FILE_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("snapshot_date", pa.date32()),
        ("churn_probability", pa.float64()),
        ("expansion_probability", pa.float64()),
        ("risk_tier", pa.string()),
        ("mrr", pa.float64()),
        ("revenue_at_risk", pa.float64()),
        ("expected_expansion_mrr", pa.float64()),
        ("lifecycle_stage", pa.string()),
        ("days_to_renewal", pa.int64()),
        ("segment", pa.string()),
        ("csm_id", pa.string()),
        ("churn_model_version", pa.string()),
        ("expansion_model_version", pa.string()),
        ("churn_base_value", pa.float64()),
        ("churn_drivers_up", _DRIVERS),
        ("churn_drivers_down", _DRIVERS),
        ("expansion_base_value", pa.float64()),
        ("expansion_drivers_up", _DRIVERS),
        ("expansion_drivers_down", _DRIVERS),
        ("playbooks", pa.list_(pa.string())),
        ("main_reason_feature", pa.string()),
        ("main_reason_family", pa.string()),
        ("main_reason", pa.string()),
        ("context", pa.list_(pa.string())),
        ("expansion_main_reason", pa.string()),
    ]
)
"""The documented columns of a score file, in order (docs/api.md)."""


# ---- the web pages' data: markup in a CSM id, and an earlier snapshot date --------------

SCRIPT = "<script>alert('x')</script>"
JUNE = date(2024, 6, 1)


def ui_table(n: int = 60, seed: int = 2, snapshot_date: date | None = None) -> pa.Table:
    """The serving tests' table with one CSM id that is markup (escaping must hold)."""
    table = make_table(n, seed) if snapshot_date is None else make_table(n, seed, snapshot_date)
    csm = table.column("csm_id").to_pylist()
    csm[0] = SCRIPT
    return table.set_column(table.schema.get_field_index("csm_id"), "csm_id", pa.array(csm))
