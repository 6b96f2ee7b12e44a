"""Reading registered versions: the champion alias, a version's bundle, and the evaluation a
version was trained with (``churnlight evaluate``). Read only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from features.model_bundle import ModelBundle, bundle_path, load_bundle
from training.errors import RegistryError
from training.store import Store, open_store

if TYPE_CHECKING:
    from training.settings import TrainingSettings


def champion_version(store: Store, name: str, alias: str) -> Any | None:
    """The model version the alias points to, or None (no model, or no alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return store.client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_version_bundle(store: Store, name: str, version: str) -> ModelBundle:
    """The model bundle of version ``version`` of registered model ``name``."""
    import mlflow

    # Resolve the storage location through our client: a models:/ URI given to
    # download_artifacts may be resolved against the default registry instead.
    location = store.client.get_model_version_download_uri(name, version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=location, tracking_uri=store.tracking_uri
    )
    return load_bundle(bundle_path(local))


def version_evaluation(
    settings: TrainingSettings, kind: str, version: str | None = None
) -> dict[str, Any]:
    """The evaluation a registered version was trained with (its bundle records it): the
    version given, else the one the champion alias points to."""
    from mlflow.exceptions import MlflowException

    store = open_store(settings, create=False)
    name = settings.model_name(kind)
    try:
        if version is None:
            found = store.client.get_model_version_by_alias(name, settings.champion_alias)
        else:
            found = store.client.get_model_version(name, version)
    except MlflowException as err:
        which = f"version {version}" if version else f"alias '{settings.champion_alias}'"
        raise RegistryError(
            f"model {name!r} has no {which} in {store.tracking_uri}; "
            "train one with `churnlight train`"
        ) from err
    bundle = load_version_bundle(store, name, str(found.version))
    meta = bundle.metadata
    return {
        "name": name,
        "version": str(found.version),
        "aliases": list(found.aliases or []),
        "run_id": found.run_id,
        "label": bundle.label,
        "as_of": meta.get("as_of"),
        "feature_table": meta.get("feature_table"),
        "gate": (found.tags or {}).get("churnlight.gate_reason"),
        "evaluation": meta.get("evaluation", {}),
    }
