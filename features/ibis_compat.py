"""Gaps of Ibis's compilers filled for the backends churnlight supports.

Ibis 12 compiles the ``bit_or`` aggregate for DuckDB and Databricks but not for PySpark,
although Spark SQL has had ``bit_or`` since 3.0. Importing this module adds the rule."""

from __future__ import annotations

from typing import Any

from ibis.backends.sql.compilers.base import SQLGlotCompiler
from ibis.backends.sql.compilers.pyspark import PySparkCompiler


def _visit_bit_or(self: PySparkCompiler, op: Any, *, arg: Any, where: Any) -> Any:
    return self.agg.bit_or(arg, where=where)


if getattr(PySparkCompiler, "visit_BitOr", None) in (None, SQLGlotCompiler.visit_Undefined):
    PySparkCompiler.visit_BitOr = _visit_bit_or  # type: ignore[attr-defined]
