"""The one ``default`` handler for ``json.dumps`` of churnlight's files and summaries."""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Any

import numpy as np


def json_default(value: Any) -> Any:
    """What ``json`` cannot write itself: dates and times as ISO 8601 text, numpy booleans,
    integers and floats as such (a NaN as null), numpy arrays as lists, paths as text. Anything
    else is a ``TypeError``, so a value of an unexpected type is found, not written as its
    ``repr``."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON: {value!r}")
