"""The model bundle: encoding rules, save/load, and SHAP additivity."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.model_bundle import (
    BUNDLE_FILE,
    BundleError,
    FeatureColumn,
    bundle_path,
    encode,
    load_bundle,
    save_bundle,
)

COLUMNS = [
    FeatureColumn("seats", "numeric"),
    FeatureColumn("segment", "categorical", ("smb", "enterprise")),
    FeatureColumn("users_per_seat", "derived", op="ratio", inputs=("users", "seats")),
    FeatureColumn("headroom", "derived", op="difference", inputs=("seats", "users")),
    FeatureColumn("absent", "numeric"),
]


def test_encoding_rules() -> None:
    frame = pd.DataFrame(
        {
            "seats": [10.0, None, 0.0],
            "segment": ["enterprise", "unknown", None],
            "users": [5, 3, 2],
        }
    )

    matrix = encode(frame, COLUMNS)

    expected = np.array(
        [
            [10.0, 1.0, 0.5, 5.0, np.nan],
            [np.nan, np.nan, np.nan, np.nan, np.nan],  # unseen category and null seats: missing
            [0.0, np.nan, np.nan, -2.0, np.nan],  # zero denominator: missing
        ]
    )
    np.testing.assert_array_equal(matrix, expected)


def test_pandas_and_arrow_encode_alike() -> None:
    data = {"seats": [3.0, None], "segment": ["smb", None], "users": [1.0, 2.0]}
    arrow = encode(pa.table(data), COLUMNS)
    frame = encode(pd.DataFrame(data), COLUMNS)

    np.testing.assert_array_equal(arrow, frame)


def test_saved_bundle_scores_and_explains_like_the_original(trained, tmp_path: Path) -> None:
    bundle = trained.labels["churn_180d"].bundle
    rows = trained.data.raw.slice(0, 200)

    loaded = load_bundle(save_bundle(bundle, tmp_path / "bundle"))

    np.testing.assert_array_equal(loaded.predict_proba(rows), bundle.predict_proba(rows))
    assert loaded.columns == bundle.columns
    assert loaded.feature_specs == bundle.feature_specs
    assert bundle_path(tmp_path / "bundle") == tmp_path / "bundle"


def test_contributions_add_up_to_the_raw_score(trained) -> None:
    bundle = trained.labels["expand_180d"].bundle
    matrix = bundle.encode(trained.data.raw.slice(0, 100))

    contributions, base = bundle.contributions(matrix)

    assert contributions.shape == (100, len(bundle.columns))
    np.testing.assert_allclose(contributions.sum(axis=1) + base, bundle.raw_score(matrix))


def test_probabilities_are_calibrated_probabilities(trained) -> None:
    p = trained.labels["churn_180d"].bundle.predict_proba(trained.data.raw)

    assert np.all((p >= 0) & (p <= 1))


def test_a_directory_without_a_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a churnlight model bundle"):
        load_bundle(tmp_path)
    with pytest.raises(BundleError, match="no churnlight model bundle"):
        bundle_path(tmp_path)


def test_bundle_metadata_is_written_as_plain_json(trained, tmp_path: Path) -> None:
    """Dates as ISO text, numpy numbers as numbers, a NaN numpy float as null."""
    original = trained.labels["churn_180d"].bundle
    metadata = {
        "as_of": date(2024, 3, 1),
        "rows": np.int64(12),
        "calibrated": np.bool_(True),
        "share": np.float32(0.25),
        "undefined": np.float32("nan"),
    }
    bundle = replace(original, metadata=metadata)

    written = json.loads((save_bundle(bundle, tmp_path / "bundle") / BUNDLE_FILE).read_text())

    assert written["metadata"] == {
        "as_of": "2024-03-01",
        "rows": 12,
        "calibrated": True,
        "share": 0.25,
        "undefined": None,
    }
    assert load_bundle(tmp_path / "bundle").metadata == written["metadata"]


def test_every_label_profiles_the_features_once_and_its_own_scores(trained) -> None:
    from monitoring.profile import build_profile, column_values

    data = trained.data
    bundles = [outcome.bundle for outcome in trained.labels.values()]
    assert len(bundles) == 2
    # the features' histograms (built for the first label) and the rows' account codes
    assert len(data.derived_cache) == 2

    for bundle in bundles:
        # what the profile of every row would be, built from scratch for this bundle
        values = column_values(data.raw, data.columns)
        kinds = {
            c.name: "categorical" if c.kind == "categorical" else "numeric" for c in data.columns
        }
        scores = {bundle.label: bundle.predict_proba(data.matrix)}
        expected = build_profile(
            values,
            kinds,
            scores,
            data.snapshot_date,
            account=data.ids,  # type: ignore[arg-type]
        ).to_dict()
        assert json.dumps(bundle.metadata["profile"], sort_keys=True) == json.dumps(
            expected, sort_keys=True
        )
    first, second = (b.metadata["profile"]["scores"] for b in bundles)
    assert first.keys() != second.keys()
