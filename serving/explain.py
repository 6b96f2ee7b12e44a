"""The one module that computes SHAP explanations.

Fast path: LightGBM's native TreeSHAP, ``Booster.predict(matrix, pred_contrib=True)``, which
returns one column per feature plus the expected value (the base value) in log-odds. The
result always comes back as an ``(n_rows, n_features)`` matrix and an ``(n_rows,)`` base value,
whatever the number of rows, and the contributions plus the base value equal the booster's raw
score (TreeSHAP additivity; tested against ``predict(raw_score=True)``).

``treeshap_reference`` runs ``shap.TreeExplainer`` on the same booster; the tests use it to
prove the fast path agrees to 1e-6. Serving never imports shap at run time.

A bundle may also be an additive model or a blend of a booster with one
(``features.additive``): ``explain_bundle`` and ``BundleExplainer`` give their exact SHAP
values (additive terms minus their training means; a blend's weighted sum), with the same
shapes and the same additivity.

Cost: TreeSHAP grows with trees x leaves x depth^2 (1-3 ms per row for 300 trees of 31
leaves). Batches use every core; a single what-if row goes through ``SingleRowExplainer``
(LightGBM's single-row fast path, one thread per model; ``serving.scoring`` runs the two
models side by side).
"""

from __future__ import annotations

import ctypes
import logging
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm

    from features.model_bundle import ModelBundle


@dataclass(frozen=True)
class Explanation:
    """SHAP values of a matrix in log-odds."""

    contributions: np.ndarray
    """(n_rows, n_features): each feature's contribution to the raw score."""
    base_value: np.ndarray
    """(n_rows,): the expected raw score over the training data (the same for every row)."""

    @property
    def raw_score(self) -> np.ndarray:
        """The booster's raw score (log-odds): contributions plus base value."""
        return self.contributions.sum(axis=1) + self.base_value


def explain(booster: lightgbm.Booster, matrix: np.ndarray, num_threads: int = 1) -> Explanation:
    """Native TreeSHAP of the rows of ``matrix`` (float64, features in model order)."""
    n_features = booster.num_feature()
    matrix = np.ascontiguousarray(matrix, dtype=np.float64).reshape(-1, n_features)
    if matrix.shape[0] == 0:
        return Explanation(np.zeros((0, n_features)), np.zeros(0))
    out = np.asarray(
        booster.predict(matrix, pred_contrib=True, num_threads=num_threads), dtype=np.float64
    ).reshape(matrix.shape[0], n_features + 1)
    return Explanation(out[:, :-1], out[:, -1].copy())


def explain_bundle(bundle: ModelBundle, matrix: np.ndarray, num_threads: int = 1) -> Explanation:
    """SHAP values of the rows of ``matrix`` under ``bundle``'s model, whatever its kind."""
    tree = None if bundle.booster is None else explain(bundle.booster, matrix, num_threads)
    return _combine(bundle, tree, matrix)


def _combine(bundle: ModelBundle, tree: Explanation | None, matrix: np.ndarray) -> Explanation:
    """The bundle's explanation from its booster's (``tree``) and its additive model's."""
    if bundle.additive is None:
        assert tree is not None
        return tree
    matrix = np.asarray(matrix, dtype=np.float64).reshape(-1, len(bundle.columns))
    contributions, base = bundle.additive.contributions(matrix)
    if bundle.blend is None:
        return Explanation(contributions, base)
    assert tree is not None
    both = bundle.blend.combine_contributions(
        (tree.contributions, tree.base_value), (contributions, base)
    )
    return Explanation(*both)


class BundleExplainer:
    """One row of ``bundle``: the booster through ``SingleRowExplainer`` (when there is one),
    the additive part in NumPy."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self.tree = None if bundle.booster is None else SingleRowExplainer(bundle.booster)

    def __call__(self, row: np.ndarray) -> Explanation:
        tree = None if self.tree is None else self.tree(row)
        return _combine(self.bundle, tree, row)


# LightGBM C API constants (c_api.h).
_PREDICT_CONTRIB = 3
_DTYPE_FLOAT64 = 1
log = logging.getLogger(__name__)


class SingleRowExplainer:
    """``explain`` of one row through LightGBM's single-row fast path
    (``LGBM_BoosterPredictForMatSingleRowFast``): the prediction set-up that
    ``Booster.predict`` redoes on every call (parameters, a predictor, Python wrappers; ~0.2 ms
    of the ~2 ms a row of 300 trees costs) is done once per model. LightGBM's fast config is
    not safe across threads, so calls are serialised; without the C entry points it falls
    back to ``explain``."""

    def __init__(self, booster: lightgbm.Booster) -> None:
        self.booster = booster  # the fast config points into it: keep it alive
        self.n_features = booster.num_feature()
        self._out = np.empty(self.n_features + 1, dtype=np.float64)
        self._out_len = ctypes.c_int64()
        self._lock = threading.Lock()
        self._handle: ctypes.c_void_p | None = None
        try:
            from lightgbm.basic import _LIB, _safe_call

            handle = ctypes.c_void_p()
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                    booster._handle,
                    ctypes.c_int(_PREDICT_CONTRIB),
                    ctypes.c_int(0),
                    ctypes.c_int(booster.best_iteration),  # as Booster.predict: 0 is all
                    ctypes.c_int(_DTYPE_FLOAT64),
                    ctypes.c_int32(self.n_features),
                    ctypes.c_char_p(b"num_threads=1"),
                    ctypes.byref(handle),
                )
            )
        except Exception as err:  # an older or stripped LightGBM: the general path will do
            log.warning("LightGBM single-row fast path unavailable (%s); using predict", err)
            return
        self._handle = handle
        self._predict = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        self._check = _safe_call
        weakref.finalize(self, _LIB.LGBM_FastConfigFree, handle)

    @property
    def fast(self) -> bool:
        return self._handle is not None

    def __call__(self, row: np.ndarray) -> Explanation:
        """SHAP values of the single row ``row`` (float64, features in model order)."""
        if self._handle is None:
            return explain(self.booster, row, num_threads=1)
        data = np.ascontiguousarray(row, dtype=np.float64).reshape(-1)
        if data.shape[0] != self.n_features:
            raise ValueError(f"expected one row of {self.n_features} features, got {row.shape}")
        pointer = ctypes.POINTER(ctypes.c_double)
        with self._lock:
            self._check(
                self._predict(
                    self._handle,
                    data.ctypes.data_as(pointer),
                    ctypes.byref(self._out_len),
                    self._out.ctypes.data_as(pointer),
                )
            )
            out = self._out.copy()
        return Explanation(out[None, :-1], out[-1:])


def treeshap_reference(booster: lightgbm.Booster, matrix: np.ndarray) -> Explanation:
    """``shap.TreeExplainer`` on the same booster (path-dependent, raw output). Tests only."""
    import warnings

    with warnings.catch_warnings():
        # shap warns that binary LightGBM output "changed to a list"; it returns one array
        warnings.filterwarnings("ignore", message=".*changed to a list of ndarray")
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        import shap

        explainer = shap.TreeExplainer(booster)
        values: Any = explainer.shap_values(np.asarray(matrix, dtype=np.float64))
    if isinstance(values, list):  # older shap: one array per class of a binary model
        values = values[-1]
    values = np.asarray(values, dtype=np.float64).reshape(len(matrix), booster.num_feature())
    expected = np.ravel(np.asarray(explainer.expected_value, dtype=np.float64))[-1]
    return Explanation(values, np.full(len(matrix), expected))
