"""The logged pyfunc model: typed ``predict`` that MLflow accepts without a warning, that
scores a pandas DataFrame (and MLflow's other input forms) like the bundle in memory, and
that carries the code it runs, so it loads and scores in a virtualenv holding only its own
requirements (no churnlight)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from training.locks import registry_lock
from training.publish import publish
from training.run_logging import (
    BUNDLE_PACKAGE,
    bundle_code,
    input_example,
    log_pyfunc_model,
)
from training.store import open_store


def _frame(bundle, rows: pa.Table) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The model's input columns of ``rows`` as a loader would pass them."""
    frame = rows.select(bundle.input_columns).to_pandas()
    for column in bundle.columns:
        if column.kind == "categorical":
            frame[column.name] = frame[column.name].astype(object)
    return frame


@pytest.mark.slow
def test_a_logged_model_scores_a_dataframe_like_its_bundle(trained, tmp_path) -> None:
    import mlflow
    import mlflow.pyfunc

    outcome = trained.labels["churn_180d"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("pyfunc", artifact_location=tmp_path.as_uri())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with mlflow.start_run(experiment_id=experiment):
                uri = log_pyfunc_model(
                    outcome.bundle,
                    tmp_path / "scratch",
                    name="churn",
                    example=input_example(trained, outcome.bundle),
                )
            model = mlflow.pyfunc.load_model(uri)
    finally:
        mlflow.set_tracking_uri(previous)

    hints = [str(w.message) for w in caught if "type hint" in str(w.message).lower()]
    assert hints == []
    rows = trained.data.raw.slice(0, 200)
    frame = _frame(outcome.bundle, rows)
    expected = outcome.bundle.predict_proba(rows)
    np.testing.assert_array_equal(np.asarray(model.predict(frame)), expected)
    np.testing.assert_array_equal(np.asarray(model.predict(frame.to_dict("list"))), expected)
    np.testing.assert_array_equal(
        np.asarray(model.predict(frame.iloc[:, :3])),
        outcome.bundle.predict_proba(rows.select(list(frame.columns[:3]))),
    )


def test_the_bundle_code_imports_without_churnlight(tmp_path) -> None:
    # What a logged model runs must need nothing of churnlight beyond the copied package.
    package = bundle_code(tmp_path / "code")
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in ("features", "training"))
    script = (
        f"import sys; {blocked}\n"
        f"from {BUNDLE_PACKAGE}.model_bundle import BundleError, load_bundle\n"
        f"from {BUNDLE_PACKAGE}.errors import ChurnlightError\n"
        f"from {BUNDLE_PACKAGE}.survival_bundle import load_survival_bundle  # noqa: F401\n"
        "assert issubclass(BundleError, ChurnlightError)\n"
        "print('imported')\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(package.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "additive.py",
        "errors.py",
        "json_encoding.py",
        "model_bundle.py",
        "survival_bundle.py",
    ]
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported\n"


CLEAN_SCRIPT = """
import importlib.util, json, sys
import mlflow, mlflow.pyfunc, pandas as pd

for name in ("churnlight", "features", "training", "serving"):
    assert importlib.util.find_spec(name) is None, name  # nothing of churnlight here
uri, frame_path = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
model = mlflow.pyfunc.load_model("models:/churnlight-churn@champion")
print(json.dumps([float(p) for p in model.predict(pd.read_parquet(frame_path))]))
"""


def _installer(venv_python: Path) -> list[str]:
    """uv beside this interpreter (make setup installs it) when there, else pip: either
    installs from the package registry, reusing its cache of downloaded wheels."""
    uv = Path(sys.executable).with_name("uv")
    if uv.exists():
        return [str(uv), "pip", "install", "--python", str(venv_python)]
    return [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


@pytest.mark.slow
def test_the_registered_model_scores_in_a_clean_virtualenv(settings, trained, tmp_path) -> None:
    import mlflow.artifacts

    with registry_lock(settings):
        store = open_store(settings)
        publish(store, settings, trained)
    outcome = trained.labels["churn_180d"]
    rows = trained.data.raw.slice(0, 50)
    frame_path = tmp_path / "frame.parquet"
    _frame(outcome.bundle, rows).to_parquet(frame_path)
    model_dir = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=store.client.get_model_version_download_uri(
                settings.model_name("churn"), "1"
            ),
            tracking_uri=store.tracking_uri,
        )
    )
    requirements = model_dir / "requirements.txt"
    assert sorted(p.name for p in (model_dir / "code").iterdir()) == [BUNDLE_PACKAGE]

    started = time.perf_counter()
    venv = tmp_path / "clean-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    install = subprocess.run(
        [*_installer(python), "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed_seconds = time.perf_counter() - started
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and k != "VIRTUAL_ENV"}
    scored = subprocess.run(
        [str(python), "-I", "-c", CLEAN_SCRIPT, store.tracking_uri, str(frame_path)],
        cwd=tmp_path,  # not the repository: nothing of churnlight importable
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert scored.returncode == 0, scored.stderr
    probabilities = np.array(json.loads(scored.stdout.strip().splitlines()[-1]))
    np.testing.assert_array_equal(probabilities, outcome.bundle.predict_proba(rows))
    print(  # the time is reported (-rP / -s), never asserted
        f"clean virtualenv: created and installed in {installed_seconds:.1f} s, "
        f"scored in {time.perf_counter() - started - installed_seconds:.1f} s"
    )
    shutil.rmtree(venv)
