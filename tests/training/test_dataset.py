"""Feature table and plain tables -> model data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training import dataset
from training.errors import TrainingError


def test_feature_table_gives_columns_labels_and_derived_ratios(synthetic_path: Path) -> None:
    data = dataset.load(synthetic_path)

    assert data.temporal
    kinds = {c.name: c.kind for c in data.columns}
    assert kinds["segment"] == "categorical" and kinds["mrr"] == "numeric"
    assert kinds["mrr_per_seat"] == "derived"  # mrr and seats are present
    assert "provisioned_users_per_seat" not in kinds  # its input is absent
    assert {s.name: s.span_days for s in data.label_specs} == {
        "churn_180d": 210,
        "expand_180d": 180,
    }
    assert np.isnan(data.labels["churn_180d"]).any()
    specs = {s["name"]: s for s in data.specs}
    assert specs["mrr_per_seat"]["derived"] and specs["mrr_per_seat"]["unit"] == "currency"
    j = data.feature_names.index("mrr_per_seat")
    mrr, seats = data.feature_names.index("mrr"), data.feature_names.index("seats")
    np.testing.assert_allclose(data.matrix[:, j], data.matrix[:, mrr] / data.matrix[:, seats])


def test_derived_columns_can_be_switched_off(synthetic_path: Path) -> None:
    data = dataset.load(synthetic_path, derived=False)

    assert all(c.kind != "derived" for c in data.columns)


def test_categories_are_fixed_most_frequent_first(synthetic_path: Path) -> None:
    data = dataset.load(synthetic_path)
    segment = next(c for c in data.columns if c.name == "segment")

    assert set(segment.categories) == {"enterprise", "mid_market", "smb"}


def _plain(tmp_path: Path, label: list) -> Path:
    table = pa.table(
        {
            "customer": [f"c{i}" for i in range(len(label))],
            "plan": ["pro", "basic"] * (len(label) // 2),
            "users": list(range(len(label))),
            "active": [True, False] * (len(label) // 2),
            "signed": pa.array([None] * len(label), pa.date32()),
            "churned": label,
        }
    )
    path = tmp_path / "plain.parquet"
    pq.write_table(table, path)
    return path


def test_tabular_mode_reads_every_other_column_as_a_feature(tmp_path: Path) -> None:
    data = dataset.load(_plain(tmp_path, [0, 1] * 10), "customer", "churned")

    assert not data.temporal
    assert {c.name: c.kind for c in data.columns} == {
        "plan": "categorical",
        "users": "numeric",
        "active": "numeric",
    }
    assert data.dropped_columns == ["signed"]


def test_a_table_without_snapshots_needs_id_and_label(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="--id COLUMN --label COLUMN"):
        dataset.load(_plain(tmp_path, [0, 1] * 10))


def test_a_label_must_be_binary(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="must be 0, 1 or null; found 1 other value"):
        dataset.load(_plain(tmp_path, [0, 1] * 9 + [0, 2]), "customer", "churned")


def test_a_missing_table_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="does not exist"):
        dataset.load(tmp_path / "nope.parquet")


def test_per_seat_consumption_is_usage_depth_and_one_signal() -> None:
    """Units per seat or per active user measure how intensely seats use the product
    (adoption): usage depth, one signal apart from consumption against the quota."""
    specs = {d.spec.name: d.spec for d in dataset.DERIVED}
    per_seat = ["consumption_per_seat_30d", "consumption_per_seat_90d"]
    for name in [*per_seat, "consumption_per_active_user_30d"]:
        assert specs[name].family == "usage_depth", name
        assert specs[name].signal == "usage_intensity", name
