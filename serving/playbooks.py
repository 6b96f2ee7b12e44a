"""The playbook library: CS plays mapped to the drivers and conditions that call for them.

The library is a YAML file CS ops edit without code (``serving/playbooks.yaml`` by default,
``CHURNLIGHT_PLAYBOOKS_PATH`` to use another). It is validated on load against the schema
below; every error names the file and the key (``playbooks[2].when[0].op``), so a typo never
reaches an account.

A playbook applies to an account when both hold:
- drivers: one of the top actionable drivers *raising* its ``score`` (churn or expansion) is
  of one of its ``families`` or carries the signal of one of its ``features`` (skipped when
  both lists are empty). Drivers are signals (``features.signals``): a play listing
  ``quota_burn_ratio`` also fits when the quota signal is named by ``quota_used_fraction``.
  Context families and features (timing, size: ``FeatureSpec.role``) never name a cause, so
  a play cannot list them here; use a ``when`` condition on them instead;
- conditions: its ``when`` conditions hold on the account's values (``match: all``, the
  default, or ``any``). A condition on a value the account lacks (null, or a feature the
  snapshot does not have) is false.

Condition names are feature names (``churnlight features --describe``) or one of the score
fields ``churn_probability``, ``expansion_probability``, ``risk_tier``.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.metadata import CONTEXT_FAMILIES, Family
from features.signals import default_signal
from serving.errors import PlaybookError

SCHEMA_VERSION = 1
SCORE_FIELDS = ("churn_probability", "expansion_probability", "risk_tier")
Op = Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in"]
Scalar = float | str | bool


class Condition(BaseModel):
    """``feature op value``, e.g. ``{feature: quota_burn_ratio, op: ">=", value: 1.2}``."""

    model_config = ConfigDict(extra="forbid")

    feature: str = Field(min_length=1)
    op: Op
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        is_list = isinstance(self.value, list)
        if self.op in ("in", "not_in") and not is_list:
            raise ValueError(f"op {self.op!r} needs a list value, e.g. [renewal, adoption]")
        if self.op not in ("in", "not_in") and is_list:
            raise ValueError(f"op {self.op!r} needs a single value; use 'in' for a list")
        if self.op in ("<", "<=", ">", ">=") and (isinstance(self.value, str | bool) or is_list):
            raise ValueError(f"op {self.op!r} compares numbers; value {self.value!r} is not one")
        return self


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="stable snake_case id")
    title: str = Field(min_length=1)
    score: Literal["churn", "expansion"] = "churn"
    families: list[Family] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    match: Literal["all", "any"] = "all"
    when: list[Condition] = Field(default_factory=list)
    actions: list[str] = Field(min_length=1)
    owner: str = "csm"
    cost: float | None = Field(
        None,
        ge=0,
        description="cost of running the play once, in the currency of MRR; "
        "subtracted from expected_arr_saved",
    )
    discount: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="share of the price the play gives away at the renewal (0.15: 15% off); "
        "the ARR expected to stay x this share is subtracted from expected_arr_saved",
    )

    @model_validator(mode="after")
    def _has_a_trigger(self) -> Playbook:
        if not (self.families or self.features or self.when):
            raise ValueError("give families, features or when: a play must say when it applies")
        context = [f for f in self.families if f in CONTEXT_FAMILIES]
        if context:
            raise ValueError(
                f"families {context} are context (timing, size), never a cause a play answers; "
                "put a `when` condition on their features instead"
            )
        return self


class PlaybookFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    playbooks: list[Playbook] = Field(min_length=1)


# ---- loading -------------------------------------------------------------------------------


def _key(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_playbooks(
    path: str | Path, known_features: Collection[str] | None = None
) -> PlaybookLibrary:
    """Read and validate the library; ``known_features`` (when given) checks feature names."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as err:
        raise PlaybookError(f"{file}: cannot read the playbook library ({err.strerror})") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise PlaybookError(f"{file}: YAML syntax error{where}: {problem}") from err
    if not isinstance(data, dict):
        raise PlaybookError(
            f"{file}: (top level): expected a mapping with 'version' and 'playbooks', "
            f"got {type(data).__name__}"
        )
    try:
        parsed = PlaybookFile.model_validate(data)
    except ValidationError as err:
        problems = [f"{_key(e['loc'])}: {e['msg']}" for e in err.errors()]
        raise PlaybookError(f"{file}: " + "; ".join(problems)) from err
    problems = []
    seen: dict[str, int] = {}
    for i, play in enumerate(parsed.playbooks):
        if play.id in seen:
            problems.append(
                f"playbooks[{i}].id: duplicate id {play.id!r} (also playbooks[{seen[play.id]}])"
            )
        seen.setdefault(play.id, i)
        if known_features is None:
            continue
        known = set(known_features) | set(SCORE_FIELDS)
        for j, name in enumerate(play.features):
            if name not in known:
                problems.append(f"playbooks[{i}].features[{j}]: {_unknown(name, known)}")
            elif name in _context_features():
                problems.append(
                    f"playbooks[{i}].features[{j}]: {name!r} is context (timing, size), never "
                    "a cause a play answers; put a `when` condition on it instead"
                )
        for j, cond in enumerate(play.when):
            if cond.feature not in known:
                problems.append(
                    f"playbooks[{i}].when[{j}].feature: {_unknown(cond.feature, known)}"
                )
    if problems:
        raise PlaybookError(f"{file}: " + "; ".join(problems))
    return PlaybookLibrary(tuple(parsed.playbooks), str(file))


@lru_cache(maxsize=1)
def _context_features() -> frozenset[str]:
    from features.transforms import all_feature_specs

    return frozenset(s.name for s in all_feature_specs() if not s.actionable)


def _unknown(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown feature {name!r}{hint}; `churnlight features --describe` lists them"


# ---- matching ------------------------------------------------------------------------------

Drivers = Sequence[Sequence[Mapping[str, Any]]]
"""Per account, the actionable drivers raising one score: mappings with ``feature``,
``family`` and ``signal``."""
ValueGetter = Callable[[str], Sequence[Any] | np.ndarray | None]
"""name -> the n values of a feature or score field (numbers, text, None/NaN for null), or None
when the rows do not have it."""


@dataclass(frozen=True)
class PlaybookLibrary:
    playbooks: tuple[Playbook, ...]
    path: str

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.playbooks]

    def describe(self) -> list[dict[str, Any]]:
        return [p.model_dump() for p in self.playbooks]

    @cached_property
    def _compiled(self) -> list[tuple[Playbook, set[str], list[tuple[str, Callable[[Any], bool]]]]]:
        return [
            (
                play,
                {f"family:{f}" for f in play.families}
                | {f"signal:{default_signal(f)}" for f in play.features},
                [(c.feature, _predicate(c)) for c in play.when],
            )
            for play in self.playbooks
        ]

    def match(
        self,
        n: int,
        drivers: Mapping[str, Drivers],
        values: ValueGetter,
        columns: Mapping[str, DriverColumns] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The plays of each of n accounts, in library order: id, title, score, actions, owner,
        and ``because``: the driver features (or the condition names) that matched.

        ``drivers`` are the dicts of the drivers raising each score; ``columns`` (optional)
        the same drivers as model column indices, which lets a large batch be matched with
        array operations (same results; tested) instead of per account in Python."""
        if columns is not None and n > VECTOR_MIN_ROWS:
            found = self._match_arrays(n, columns, values)
        else:
            found = self._match_rows(n, drivers, values)
        shared = [
            {"id": p.id, "title": p.title, "score": p.score, "owner": p.owner}
            for p in self.playbooks
        ]
        return [
            [
                {**shared[p], "actions": list(self.playbooks[p].actions), "because": because}
                for p, because in row
            ]
            for row in found
        ]

    def _match_rows(
        self, n: int, drivers: Mapping[str, Drivers], values: ValueGetter
    ) -> list[list[tuple[int, list[str]]]]:
        """(playbook index, because) per account, in plain Python (small batches)."""
        needed = {name for _, _, conds in self._compiled for name, _ in conds}
        scalars: dict[str, list[Any] | None] = {}
        for name in needed:
            column = values(name)
            scalars[name] = None if column is None else _as_list(column)
        out = []
        for i in range(n):
            row = []
            for p, (play, keys, conditions) in enumerate(self._compiled):
                if conditions:
                    results = (
                        test(column[i]) if (column := scalars[name]) is not None else False
                        for name, test in conditions
                    )
                    if not (all(results) if play.match == "all" else any(results)):
                        continue
                if not keys:
                    row.append((p, [name for name, _ in conditions]))
                    continue
                because = [
                    d["feature"]
                    for d in drivers[play.score][i]
                    if f"family:{d['family']}" in keys or f"signal:{d['signal']}" in keys
                ]
                if because:
                    row.append((p, because))
            out.append(row)
        return out

    def _match_arrays(
        self, n: int, columns: Mapping[str, DriverColumns], values: ValueGetter
    ) -> list[list[tuple[int, list[str]]]]:
        """(playbook index, because) per account, with array operations (large batches)."""
        masks, accepted = self._masks(n, columns, values)
        rows = {score: index.columns.tolist() for score, index in columns.items()}
        out = []
        for i in range(n):
            row = []
            for p, (play, keys, conditions) in enumerate(self._compiled):
                if not masks[p][i]:
                    continue
                if keys:
                    names = columns[play.score].names
                    row.append((p, [names[j] for j in rows[play.score][i] if j in accepted[p]]))
                else:
                    row.append((p, [name for name, _ in conditions]))
            out.append(row)
        return out

    def _masks(
        self, n: int, columns: Mapping[str, DriverColumns], values: ValueGetter
    ) -> tuple[list[list[bool]], list[set[int]]]:
        """Per playbook, which accounts pass its driver test and its conditions, and which
        model columns its driver test accepts."""
        cache: dict[str, np.ndarray | None] = {}
        out = []
        accepted: list[set[int]] = []
        for play, keys, conditions in self._compiled:
            mask = np.ones(n, dtype=bool)
            wanted: set[int] = set()
            if keys:
                index = columns[play.score]
                wanted = {
                    j
                    for j, (family, signal) in enumerate(
                        zip(index.families, index.signals, strict=True)
                    )
                    if f"family:{family}" in keys or f"signal:{signal}" in keys
                }
                mask &= np.isin(index.columns, list(wanted)).any(axis=1)
            accepted.append(wanted)
            if conditions:
                results = []
                for (name, test), cond in zip(conditions, play.when, strict=True):
                    if name not in cache:
                        column = values(name)
                        cache[name] = None if column is None else np.asarray(column)
                    results.append(_vector(cond, test, cache[name], n))
                combine = np.logical_and if play.match == "all" else np.logical_or
                mask &= combine.reduce(results)
            out.append(mask.tolist())
        return out, accepted


VECTOR_MIN_ROWS = 64
"""Batches above this size are matched with array operations."""


@dataclass(frozen=True)
class DriverColumns:
    """The actionable drivers raising one score as (n, k) model column indices (each
    driver's named feature), -1 where fewer; with every model column's name, family and
    signal."""

    columns: np.ndarray
    names: Sequence[str]
    families: Sequence[str | None]
    signals: Sequence[str]


def _as_list(column: Sequence[Any] | np.ndarray) -> list[Any]:
    return column.tolist() if isinstance(column, np.ndarray) else list(column)


def _vector(
    cond: Condition, test: Callable[[Any], bool], column: np.ndarray | None, n: int
) -> np.ndarray:
    """``test`` over a column; float columns with array operations of the same meaning."""
    if column is None:
        return np.zeros(n, dtype=bool)
    if column.dtype.kind != "f":
        return np.fromiter((test(v) for v in column.tolist()), dtype=bool, count=n)
    present = ~np.isnan(column)
    op, target = cond.op, cond.value
    with np.errstate(invalid="ignore"):
        if op in ("<", "<=", ">", ">="):
            compare = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
            return present & compare[op](column, float(target))  # type: ignore[arg-type]
        if op in ("in", "not_in"):
            numbers = [float(t) for t in target if _is_number(t)]  # type: ignore[union-attr]
            inside = np.isin(column, numbers)
            return present & (inside if op == "in" else ~inside)
        if not _is_number(target):
            return np.zeros(n, dtype=bool)  # a number never equals text
        equal = column == float(target)  # type: ignore[arg-type]
        return present & (equal if op == "==" else ~equal)


def _number(value: Any) -> float | None:
    """The value as a float when it is a present number (bools count), else None."""
    kind = type(value)
    if kind is float:
        return value if value == value else None
    if kind is int or kind is bool:
        return float(value)
    if isinstance(value, np.number):
        number = float(value)
        return number if number == number else None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, str)


def _predicate(cond: Condition) -> Callable[[Any], bool]:
    """A test of one value. Null never matches; a number never equals text."""
    op, target = cond.op, cond.value
    if op in ("<", "<=", ">", ">="):
        bound = float(target)  # type: ignore[arg-type]
        compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

        def ordered(v: Any) -> bool:
            number = _number(v)
            return number is not None and compare(number, bound)

        return ordered
    if op in ("in", "not_in"):
        numbers = {float(t) for t in target if _is_number(t)}  # type: ignore[union-attr]
        texts = {t for t in target if isinstance(t, str)}  # type: ignore[union-attr]
        wanted = op == "in"

        def member(v: Any) -> bool:
            if isinstance(v, str):
                return (v in texts) is wanted
            number = _number(v)
            return number is not None and (number in numbers) is wanted

        return member
    equal = op == "=="
    if _is_number(target):
        goal = float(target)  # type: ignore[arg-type]

        def same_number(v: Any) -> bool:
            number = _number(v)
            return number is not None and (number == goal) is equal

        return same_number

    def same_text(v: Any) -> bool:
        return isinstance(v, str) and (v == target) is equal

    return same_text
