"""The one JSON default handler: what churnlight's files and summaries write for values
``json`` cannot write itself."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from features.json_encoding import json_default
from features.writer import read_feature_table, sidecar_path, write_feature_table


def test_dates_numpy_values_arrays_and_paths_become_plain_json() -> None:
    value = {
        "day": date(2024, 2, 29),
        "at": datetime(2024, 2, 29, 13, 5, 7),
        "flag": np.bool_(True),
        "count": np.int64(7),
        "share": np.float32(0.5),
        "missing": np.float32("nan"),
        "vector": np.array([1, 2]),
        "where": Path("models") / "bundle",
    }

    assert json.loads(json.dumps(value, default=json_default)) == {
        "day": "2024-02-29",
        "at": "2024-02-29T13:05:07",
        "flag": True,
        "count": 7,
        "share": 0.5,
        "missing": None,
        "vector": [1, 2],
        "where": "models/bundle",
    }


def test_a_value_of_another_type_is_refused_not_written_as_its_repr() -> None:
    with pytest.raises(TypeError, match="cannot write a set as JSON"):
        json.dumps({"tags": {"a"}}, default=json_default)


def test_feature_table_facts_are_written_with_the_one_handler(tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    facts = {"as_of": date(2024, 3, 1), "rows": np.int64(2), "nulls": np.float32("nan")}

    write_feature_table(pa.table({"account_id": ["a", "b"]}), path, facts)

    sidecar = json.loads(sidecar_path(path).read_text())
    assert (sidecar["as_of"], sidecar["rows"], sidecar["nulls"]) == ("2024-03-01", 2, None)
    assert read_feature_table(path, require_metadata=True).facts == sidecar
