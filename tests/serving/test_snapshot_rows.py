"""What-if rows start from the account's snapshot row: ``Snapshot.row`` must give exactly
what Arrow's ``to_pylist`` gives, nulls, integers, text and dates included."""

from __future__ import annotations

import math
from datetime import date

import pyarrow as pa

from serving.snapshot import Snapshot


def test_a_row_is_the_arrow_row() -> None:
    table = pa.table(
        {
            "account_id": ["a", "b", None],
            "snapshot_date": [date(2024, 7, 1)] * 3,
            "mrr": [100.5, None, 0.0],
            "seats": pa.array([3, None, 7], type=pa.int64()),
            "segment": ["smb", None, "enterprise"],
            "flag": [True, None, False],
        }
    )
    snapshot = Snapshot(table, "2024-07-01", [], {}, "test")

    for i in range(table.num_rows):
        expected = table.slice(i, 1).to_pylist()[0]
        got = snapshot.row(i)
        assert got == expected
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert not any(isinstance(v, float) and math.isnan(v) for v in snapshot.row(1).values())
