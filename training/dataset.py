"""Feature table -> model data: the encoded matrix, labels, and the facts of each row.

Two inputs:
- a churnlight feature table (``features.writer.read_feature_table``): one row per
  (account_id, snapshot_date), labels ``churn_{H}d`` / ``expand_{H}d`` (null when censored),
  feature kinds and metadata from its sidecar;
- a plain table of the user's (tabular mode): an id column, one 0/1 label column, every other
  column a feature (strings become categories, booleans 0/1; date and time columns are left out
  and reported).

Encoding follows ``features.model_bundle.encode`` so that serving encodes identically;
categories are the values seen in the table (all rows: category names carry no label), the most
frequent ``MAX_CATEGORIES`` kept, others read as missing.

Derived columns. Trees split one column at a time and approximate a ratio of two columns
poorly, while "per seat" ratios are what CS teams read (provisioned seats, consumption per
seat). ``DERIVED`` lists such ratios of feature-table columns; each is added to a feature
table's model when its inputs are present and the table has no column of that name (so a
feature stage that computes one itself wins). On the simulated source they add about 0.05
expansion ROC-AUC. Serving computes them through the same ``encode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import label_names
from features.metadata import FeatureSpec
from features.model_bundle import FeatureColumn, encode
from features.writer import FeatureFile, read_feature_table
from training.errors import TrainingError

MAX_CATEGORIES = 256
GROUP_COLUMNS = ("segment", "lifecycle_stage")
LabelKind = Literal["churn", "expansion", "tabular"]


@dataclass(frozen=True)
class Derived:
    spec: FeatureSpec
    op: Literal["ratio", "difference"]
    inputs: tuple[str, str]

    def column(self) -> FeatureColumn:
        return FeatureColumn(self.spec.name, "derived", op=self.op, inputs=self.inputs)


def _derived(name, family, unit, description, template, op, a, b) -> Derived:  # type: ignore[no-untyped-def]
    return Derived(FeatureSpec(name, family, description, unit, template), op, (a, b))


DERIVED: tuple[Derived, ...] = (
    _derived(
        "provisioned_users_per_seat",
        "usage_depth",
        "fraction",
        "Provisioned users per licensed seat",
        "Users are provisioned on {value} of the licensed seats",
        "ratio",
        "provisioned_users",
        "seats",
    ),
    _derived(
        "active_share_of_provisioned_30d",
        "usage_depth",
        "fraction",
        "Share of provisioned users active in the last 30 days",
        "{value} of provisioned users were active in the last 30 days",
        "ratio",
        "active_users_30d",
        "provisioned_users",
    ),
    _derived(
        "active_users_90d_per_seat",
        "usage_depth",
        "fraction",
        "Users active in the last 90 days per licensed seat",
        "{value} of licensed seats had an active user in the last 90 days",
        "ratio",
        "active_users_90d",
        "seats",
    ),
    _derived(
        "seat_headroom",
        "commercial",
        "count",
        "Licensed seats without a provisioned user",
        "{value} licensed seats have no user",
        "difference",
        "seats",
        "provisioned_users",
    ),
    _derived(
        "consumption_per_seat_30d",
        "usage_depth",
        "units",
        "Metered units consumed per licensed seat in the last 30 days",
        "{value} units consumed per seat in the last 30 days",
        "ratio",
        "consumption_30d",
        "seats",
    ),
    _derived(
        "consumption_per_seat_90d",
        "usage_depth",
        "units",
        "Metered units consumed per licensed seat in the last 90 days",
        "{value} units consumed per seat in the last 90 days",
        "ratio",
        "consumption_90d",
        "seats",
    ),
    _derived(
        "consumption_per_active_user_30d",
        "usage_depth",
        "units",
        "Metered units consumed per active user in the last 30 days",
        "{value} units consumed per active user in the last 30 days",
        "ratio",
        "consumption_30d",
        "active_users_30d",
    ),
    _derived(
        "mrr_per_seat",
        "commercial",
        "currency",
        "Monthly recurring revenue per licensed seat",
        "The account pays {value} per seat each month",
        "ratio",
        "mrr",
        "seats",
    ),
)


@dataclass(frozen=True)
class LabelSpec:
    """A label to model: its column, its kind, and the days its window spans after t.

    A row's label at snapshot t is known once t + span_days has passed (churn: horizon plus
    grace, since a churn needs the grace period to be confirmed; expansion: the horizon)."""

    name: str
    kind: LabelKind
    span_days: int = 0


@dataclass
class ModelData:
    """Everything training needs of a table, row-aligned."""

    matrix: np.ndarray
    """(rows, features) float64, encoded by ``features.model_bundle.encode``."""
    columns: list[FeatureColumn]
    labels: dict[str, np.ndarray]
    """label name -> float array, NaN where the label is null."""
    label_specs: list[LabelSpec]
    raw: pa.Table
    """The feature columns as read (for input examples and for scoring other models)."""
    ids: np.ndarray
    snapshot_date: np.ndarray | None = None
    """datetime64[D] per row; None in tabular mode."""
    mrr: np.ndarray | None = None
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    """segment / lifecycle_stage per row (object arrays, None when null)."""
    specs: list[dict[str, Any]] = field(default_factory=list)
    """FeatureSpec dicts of the features (empty in tabular mode)."""
    facts: dict[str, Any] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)
    times: dict[str, np.ndarray] = field(default_factory=dict)
    """``churn_days`` / ``churn_observed`` per row (float, NaN where null) when the feature
    table carries them (``features.pipeline.TIME_COLUMNS``): the survival model's labels."""
    derived_cache: dict[Any, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """What is computed once from these rows and reused by every label (the features'
    reference histograms, ``training.profile``); not carried by ``dataclasses.replace``."""

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def temporal(self) -> bool:
        return self.snapshot_date is not None

    def label_spec(self, name: str) -> LabelSpec:
        for spec in self.label_specs:
            if spec.name == name:
                return spec
        raise TrainingError(f"label {name!r} unknown; labels: {[s.name for s in self.label_specs]}")

    def labeled(self, name: str) -> np.ndarray:
        """Boolean mask of the rows whose label ``name`` is not null."""
        return ~np.isnan(self.labels[name])


def fit_columns(
    table: pa.Table, names: Sequence[str], categorical: set[str], max_categories: int
) -> list[FeatureColumn]:
    """The model columns of ``names``: categorical ones get their category list fixed here."""
    columns = []
    for name in names:
        if name in categorical:
            counts = pc.value_counts(pc.cast(table.column(name), pa.string())).to_pylist()
            pairs = [(c["values"], c["counts"]) for c in counts if c["values"] is not None]
            pairs.sort(key=lambda p: (-p[1], p[0]))
            cats = tuple(str(v) for v, _ in pairs[:max_categories])
            columns.append(FeatureColumn(name, "categorical", cats))
        else:
            columns.append(FeatureColumn(name, "numeric"))
    return columns


def from_feature_file(
    feature_file: FeatureFile, max_categories: int = MAX_CATEGORIES, derived: bool = True
) -> ModelData:
    """Model data of a churnlight feature table (both labels, temporal), with the ``DERIVED``
    columns whose inputs it has (unless ``derived`` is False)."""
    table = feature_file.table
    names = set(table.schema.names)
    for key in ("account_id", "snapshot_date"):
        if key not in names:
            raise TrainingError(
                f"feature table lacks column {key!r}; build it with `churnlight features`, "
                "or train on your own table with --id and --label (tabular mode)"
            )
    facts = feature_file.facts
    horizon = int(facts.get("horizon_days", 180))
    grace = int(facts.get("grace_days", 30))
    churn_name, expand_name = feature_file.label_columns or list(label_names(horizon))
    specs = [s for s in feature_file.specs if s.name in names]
    if not specs:
        raise TrainingError("feature table metadata lists no feature present in the table")
    categorical = {s.name for s in specs if s.kind == "categorical"}
    columns = fit_columns(table, [s.name for s in specs], categorical, max_categories)
    raw = table.select([c.name for c in columns])
    spec_dicts = [s.to_dict() for s in specs]
    if derived:
        by_name = {s.name: s for s in specs}
        for item in DERIVED:
            usable = all(n in by_name and by_name[n].kind == "numeric" for n in item.inputs)
            if usable and item.spec.name not in names:
                columns.append(item.column())
                needs = sorted({r for n in item.inputs for r in by_name[n].requires})
                spec_dicts.append({**item.spec.to_dict(), "requires": needs, "derived": True})
    label_specs = []
    labels = {}
    for name, kind, span in (
        (churn_name, "churn", horizon + grace),
        (expand_name, "expansion", horizon),
    ):
        if name not in names:
            raise TrainingError(f"feature table lacks label column {name!r}")
        label_specs.append(LabelSpec(name, kind, span))  # type: ignore[arg-type]
        labels[name] = _label_array(table.column(name), name)
    return ModelData(
        matrix=encode(raw, columns),
        columns=columns,
        labels=labels,
        label_specs=label_specs,
        raw=raw,
        ids=np.asarray(table.column("account_id").to_pylist(), dtype=object),
        snapshot_date=table.column("snapshot_date")
        .cast(pa.date32())
        .to_numpy(zero_copy_only=False)
        .astype("datetime64[D]"),
        mrr=_float(table.column("mrr")) if "mrr" in names else None,
        groups={g: _objects(table.column(g)) for g in GROUP_COLUMNS if g in names},
        specs=spec_dicts,
        facts=dict(facts),
        times={
            name: _float(table.column(name)) for name in facts.get("times", []) if name in names
        },
    )


def from_table(
    table: pa.Table, id_column: str, label_column: str, max_categories: int = MAX_CATEGORIES
) -> ModelData:
    """Model data of a plain table (tabular mode): every column but the id and the label is a
    feature; strings are categories; date/time and nested columns are left out."""
    names = table.schema.names
    for name, what in ((id_column, "--id"), (label_column, "--label")):
        if name not in names:
            raise TrainingError(
                f"column {name!r} given as {what} is not in the table; columns: {names}"
            )
    features, categorical, dropped = [], set(), []
    for name in names:
        if name in (id_column, label_column):
            continue
        kind = table.schema.field(name).type
        if (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_dictionary(kind)
        ):
            categorical.add(name)
        elif not (
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        ):
            dropped.append(name)
            continue
        features.append(name)
    if not features:
        raise TrainingError(f"table has no feature columns besides {id_column!r}, {label_column!r}")
    columns = fit_columns(table, features, categorical, max_categories)
    raw = table.select(features)
    labels = {label_column: _label_array(table.column(label_column), label_column)}
    return ModelData(
        matrix=encode(raw, columns),
        columns=columns,
        labels=labels,
        label_specs=[LabelSpec(label_column, "tabular")],
        raw=raw,
        ids=np.asarray(table.column(id_column).to_pylist(), dtype=object),
        mrr=_float(table.column("mrr")) if "mrr" in names else None,
        groups={g: _objects(table.column(g)) for g in GROUP_COLUMNS if g in features},
        facts={"mode": "tabular", "id_column": id_column, "label_column": label_column},
        dropped_columns=dropped,
    )


def load(
    path: str | Path,
    id_column: str | None = None,
    label_column: str | None = None,
    derived: bool = True,
) -> ModelData:
    """Model data of ``path``: a feature table, or (with ``--label``, or without
    snapshot_date) a plain Parquet/CSV table in tabular mode."""
    path = Path(path)
    if not path.exists():
        raise TrainingError(
            f"table {str(path)!r} does not exist; build it with `churnlight features`"
        )
    tabular = label_column is not None
    if not tabular:
        if path.suffix == ".csv":
            tabular = True
        else:
            import pyarrow.parquet as pq

            try:
                tabular = "snapshot_date" not in pq.read_schema(path).names
            except (pa.ArrowInvalid, OSError) as err:
                raise TrainingError(f"cannot read {str(path)!r}: {err}") from err
    if not tabular:
        data = from_feature_file(read_feature_table(path), derived=derived)
        data.facts.setdefault("path", str(path))
        return data
    if id_column is None or label_column is None:
        raise TrainingError(
            f"{str(path)!r} has no snapshot_date column: train it in tabular mode with "
            "--id COLUMN --label COLUMN (every other column is a feature)"
        )
    table = _read_plain(path)
    data = from_table(table, id_column, label_column)
    data.facts["path"] = str(path)
    return data


def _read_plain(path: Path) -> pa.Table:
    try:
        if path.suffix == ".csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise TrainingError(f"cannot read table {str(path)!r}: {err}") from err


def _label_array(column: pa.ChunkedArray, name: str) -> np.ndarray:
    kind = column.type
    if pa.types.is_boolean(kind):
        column = pc.cast(column, pa.int8())
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        raise TrainingError(f"label {name!r} has type {kind}; it must be 0/1 (or boolean)")
    values = _float(column)
    present = values[~np.isnan(values)]
    bad = present[(present != 0) & (present != 1)]
    if len(bad):
        raise TrainingError(
            f"label {name!r} must be 0, 1 or null; found {len(bad)} other value(s), e.g. {bad[0]:g}"
        )
    return values


def _float(column: pa.ChunkedArray) -> np.ndarray:
    return (
        pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
    )


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.string()).to_pylist(), dtype=object)


def as_date(value: np.datetime64 | date) -> date:
    """A numpy day as a ``datetime.date``."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value.astype("datetime64[D]")))
