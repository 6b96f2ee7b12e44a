"""Load the champion models from the MLflow registry: the one place serving touches MLflow.

Format (written by ``training``): a registered model ``<name>`` (``churnlight-churn``,
``churnlight-expansion``) whose alias ``champion`` points at a version; the version is an
MLflow pyfunc model whose artifact ``bundle`` is a ``features.model_bundle`` directory. Serving
never unpickles the pyfunc model (that would import ``training``): it downloads the model
directory, finds the ``bundle`` artifact through the ``MLmodel`` file and reads it with
``load_bundle``.

The version is pinned once (alias -> version number) and everything else is read for that
number, so a promotion between two calls cannot mix versions. The reader never creates a
store: a SQLite file that does not exist means "models not loaded" (503), and MLflow is never
pointed at it (MLflow would create and migrate it, racing with ``churnlight train``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.effects_bundle import EffectsBundle, load_effects_bundle
from features.errors import ChurnlightError
from features.model_bundle import ARTIFACT_NAME, ModelBundle, bundle_path, load_bundle
from features.survival_bundle import SurvivalBundle, find_survival_bundle, load_survival_bundle
from serving.errors import ModelLoadError
from serving.settings import ServingSettings

log = logging.getLogger("churnlight.serving")
KINDS = ("churn", "expansion")


@dataclass(frozen=True)
class ModelInfo:
    """Where a loaded model came from and what its training run recorded."""

    kind: str
    name: str
    version: str
    alias: str | None
    run_id: str | None = None
    source: str | None = None
    registered_at: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The version string every response carries: ``<name>/<version>``."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class LoadedModels:
    churn: ModelBundle
    expansion: ModelBundle
    churn_info: ModelInfo
    expansion_info: ModelInfo
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    effects: EffectsBundle | None = None
    """The play-effects champion (``churnlight plays``); None when none is registered."""
    effects_info: ModelInfo | None = None
    survival: SurvivalBundle | None = None
    """The ``churnlight-survival`` champion; None when none is registered (or it could not
    be read: logged), and the churn curves are then null."""
    survival_info: ModelInfo | None = None

    def bundle(self, kind: str) -> ModelBundle:
        return self.churn if kind == "churn" else self.expansion

    def info(self, kind: str) -> ModelInfo:
        return self.churn_info if kind == "churn" else self.expansion_info


Loader = Callable[[ServingSettings], LoadedModels]


def load_models(settings: ServingSettings) -> LoadedModels:
    """The ``champion`` churn and expansion models of the registry ``settings`` name."""
    started = time.perf_counter()
    uri = settings.resolved_tracking_uri()
    db = settings.sqlite_path()
    if db is not None and not db.exists():
        raise ModelLoadError(
            f"no MLflow store at {str(db)!r}; train and promote models first "
            "(`churnlight train`), or set CHURNLIGHT_TRACKING_URI"
        )
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as err:  # pragma: no cover - mlflow is a dependency
        raise ModelLoadError(f"cannot import mlflow: {err}") from err
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    loaded: dict[str, tuple[ModelBundle, ModelInfo]] = {}
    for kind, name in (
        ("churn", settings.churn_model_name),
        ("expansion", settings.expansion_model_name),
    ):
        try:
            loaded[kind] = _load_one(client, uri, kind, name, settings.champion_alias)
        except MlflowException as err:
            raise ModelLoadError(
                f"cannot load model {name!r}@{settings.champion_alias} from {uri}: "
                f"{err.message}; train and promote one (`churnlight train`)"
            ) from err
        except ChurnlightError as err:
            raise ModelLoadError(f"model {name!r}@{settings.champion_alias}: {err}") from err
    effects, effects_info = load_effects(client, uri, settings)
    survival, survival_info = _load_survival(client, uri, settings)
    return LoadedModels(
        churn=loaded["churn"][0],
        expansion=loaded["expansion"][0],
        churn_info=loaded["churn"][1],
        expansion_info=loaded["expansion"][1],
        seconds=round(time.perf_counter() - started, 3),
        effects=effects,
        effects_info=effects_info,
        survival=survival,
        survival_info=survival_info,
    )


def load_effects(
    client: Any, uri: str, settings: ServingSettings
) -> tuple[EffectsBundle | None, ModelInfo | None]:
    """The play-effects champion, or (None, None) when none is registered. Effects are an
    addition to the scores: a version that cannot be read is logged and left out (the
    records are then as without effects), never a reason to refuse the scores."""
    return _load_optional(
        client, uri, "effects", settings.effects_model_name, settings.champion_alias,
        load_effects_bundle, (KeyError, ValueError), "play effects %s@%s not loaded: %s",
    )  # fmt: skip


def _load_survival(
    client: Any, uri: str, settings: ServingSettings
) -> tuple[SurvivalBundle | None, ModelInfo | None]:
    """The survival champion, or (None, None) when there is none. A champion that cannot be
    read is logged and left out: the scores serve without curves rather than not at all."""
    return _load_optional(
        client, uri, "survival", settings.survival_model_name, settings.champion_alias,
        _read_survival, (), "survival model %s@%s not loaded, curves are null: %s",
    )  # fmt: skip


def _load_optional(
    client: Any,
    uri: str,
    kind: str,
    name: str,
    alias: str,
    reader: Callable[[Path], Any],
    unreadable: tuple[type[Exception], ...],
    message: str,
) -> tuple[Any, ModelInfo | None]:
    """An optional champion: (None, None) when ``name`` has no ``alias`` (never registered,
    or no champion yet); one that cannot be read (an MLflow, churnlight or OS error, or one
    of ``unreadable``) is logged with ``message`` (name, alias, error) and left out."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    caught: tuple[type[Exception], ...] = (MlflowException, ChurnlightError, OSError, *unreadable)
    try:
        return _load_one(client, uri, kind, name, alias, reader=reader, version=version)
    except caught as err:
        log.error(message, name, alias, err)
        return None, None


def _read_survival(local: Path) -> SurvivalBundle:
    return load_survival_bundle(find_survival_bundle(_artifact_dir(local)))


def _load_one(
    client: Any,
    uri: str,
    kind: str,
    name: str,
    alias: str,
    reader: Callable[[Path], Any] | None = None,
    version: Any = None,
) -> tuple[Any, ModelInfo]:
    """A registered model's bundle (read by ``reader``, else ``load_bundle``) and its
    facts; ``version``: the alias's version when the caller has already asked for it."""
    import mlflow.artifacts

    if version is None:
        version = client.get_model_version_by_alias(name, alias)
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}
    tags: dict[str, str] = dict(version.tags or {})
    if version.run_id:
        run = client.get_run(version.run_id)
        metrics = {k: float(v) for k, v in run.data.metrics.items()}
        params = dict(run.data.params)
        tags = {**{k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}, **tags}
    # Resolve the version's storage location through this client: download_artifacts with a
    # models:/ URI ignores its registry_uri argument (MLflow 3.17) and opens the default store
    # (./mlflow.db, creating it).
    location = client.get_model_version_download_uri(name, version.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=uri)
    bundle = reader(Path(local)) if reader else load_bundle(find_bundle(Path(local)))
    info = ModelInfo(
        kind=kind,
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=version.run_id,
        source=version.source,
        registered_at=_iso(version.creation_timestamp),
        metrics=metrics,
        params=params,
        tags=tags,
    )
    return bundle, info


def _artifact_dir(model_dir: Path) -> Path:
    """The ``bundle`` artifact's folder of a downloaded pyfunc model (via ``MLmodel``), else
    the model directory itself."""
    mlmodel = model_dir / "MLmodel"
    if mlmodel.exists():
        import yaml

        spec = yaml.safe_load(mlmodel.read_text()) or {}
        artifacts = (spec.get("flavors", {}).get("python_function", {}) or {}).get(
            "artifacts"
        ) or {}
        entry = artifacts.get(ARTIFACT_NAME)
        if isinstance(entry, dict) and entry.get("path") and (model_dir / entry["path"]).exists():
            return model_dir / entry["path"]
    return model_dir


def find_bundle(model_dir: Path) -> Path:
    """The ``bundle`` artifact of a downloaded pyfunc model directory (via ``MLmodel``, which
    records the artifact's path whatever its folder is called), else ``bundle_path``."""
    return bundle_path(_artifact_dir(model_dir))


def models_from_bundles(
    churn: ModelBundle,
    expansion: ModelBundle,
    churn_version: str = "local",
    expansion_version: str = "local",
    survival: SurvivalBundle | None = None,
    survival_version: str = "local",
) -> LoadedModels:
    """Loaded models from bundles in hand (tests, and scoring without a registry)."""
    return LoadedModels(
        churn=churn,
        expansion=expansion,
        churn_info=ModelInfo("churn", "churnlight-churn", churn_version, None),
        expansion_info=ModelInfo("expansion", "churnlight-expansion", expansion_version, None),
        survival=survival,
        survival_info=None
        if survival is None
        else ModelInfo("survival", "churnlight-survival", survival_version, None),
    )


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")
