"""Outputs are written atomically and as readable as the umask says: a CRM loader running as
another user reads them when the operator's umask allows it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from features.atomic import write_atomically, write_text_atomically
from features.writer import read_feature_table, sidecar_path, write_feature_table


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_feature_table_and_its_sidecar_take_the_umask(
    tmp_path: Path, mask: int, expected: int
) -> None:
    path = tmp_path / "out" / "features.parquet"
    table = pa.table({"account_id": ["A1"], "seats": [3.0]})

    with umask(mask):
        write_feature_table(table, path, {"features": []})

    assert mode(path) == expected
    assert mode(sidecar_path(path)) == expected
    assert read_feature_table(path).table.column("account_id").to_pylist() == ["A1"]


def test_rewriting_takes_the_current_umask_not_the_old_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "scores.txt"
    with umask(0o077):
        write_text_atomically(path, "old")
    with umask(0o022):
        write_text_atomically(path, "new")

    assert path.read_text() == "new"
    assert mode(path) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    path.write_text("old")

    def fail(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail)

    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]
