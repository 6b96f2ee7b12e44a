"""Struct-of-arrays records: every field is a numpy array with one entry per account path.

The chain's state is held this way so that one step function advances 250 accounts of the
history or 150,000 Monte-Carlo copies of sampled accounts alike (``take`` repeats rows)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Self

import numpy as np


@dataclass
class Arrays:
    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, index: np.ndarray) -> Self:
        """A new record of the rows at ``index`` (copies, so the result can be mutated)."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def copy(self) -> Self:
        return type(self)(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def put(self, index: np.ndarray, rows: Self) -> None:
        """Overwrite the rows at ``index`` with ``rows`` (one row each, in order), in place."""
        for f in fields(self):
            getattr(self, f.name)[index] = getattr(rows, f.name)

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))
