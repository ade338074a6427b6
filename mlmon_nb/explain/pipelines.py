"""Tree models inside scikit-learn pipelines: which transformed columns come from which raw feature.

shap's TreeExplainer explains the final estimator on the transformed columns; to report
attributions per raw feature, the columns a ColumnTransformer built from one feature (e.g.
its one-hot levels) are summed back to it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "lightgbm", "xgboost")
"""Packages whose estimators shap's TreeExplainer supports."""


def split_pipeline(estimator: Any) -> tuple[Any, Any]:
    """(preprocessor or None, final estimator) of a Pipeline, or (None, estimator)."""
    # here: scikit-learn is slow to import and only needed when a model is explained
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator[-1]
    return None, estimator


def is_tree(est: Any) -> bool:
    """Whether shap's TreeExplainer can explain this (final) estimator."""
    mod = type(est).__module__
    return mod.startswith(TREE_MODULES) and hasattr(est, "predict")


LINEAR_MODULES = ("sklearn.linear_model",)
"""Packages whose estimators shap's LinearExplainer explains exactly (``coef_``, ``intercept_``)."""


def is_linear(est: Any) -> bool:
    """Whether the (final) estimator is a fitted scikit-learn linear model."""
    return type(est).__module__.startswith(LINEAR_MODULES) and hasattr(est, "coef_") and hasattr(est, "intercept_")


def column_groups(pre: Any, raw: Sequence[str]) -> list[list[int]]:
    """:func:`raw_groups`, also for preprocessing that keeps every column in place (a scaler or an
    imputer before the estimator, no ColumnTransformer): then each raw feature is its own column.

    Raises
    ------
    TypeError
        When the transformed columns cannot be mapped back to raw features.
    """
    if pre is None:
        return [[i] for i in range(len(raw))]
    try:
        return raw_groups(pre, raw)
    except TypeError:
        steps = [s for _, s in pre.steps] if hasattr(pre, "steps") else [pre]
        names = [str(r) for r in raw]
        for step in steps:
            if not hasattr(step, "get_feature_names_out") or list(map(str, step.get_feature_names_out(names))) != names:
                raise
        return [[i] for i in range(len(raw))]


def _column_list(cols: Any, raw: Sequence[str]) -> list[str]:
    """Resolve a ColumnTransformer column selection to raw feature names."""
    if isinstance(cols, slice):
        return list(raw[cols])
    arr = np.atleast_1d(np.asarray(cols, dtype=object))
    if arr.size and all(isinstance(c, (bool, np.bool_)) for c in arr):
        return [raw[i] for i, keep in enumerate(arr) if keep]
    return [raw[int(c)] if isinstance(c, (int, np.integer)) else str(c) for c in arr]


def _assign_outputs(names_out: Sequence[str], cols: Sequence[str]) -> list[list[int]]:
    """Map a multi-column transformer's outputs to its inputs (one-hot: ``<input>_<level>``)."""
    outs: list[list[int]] = [[] for _ in cols]
    for j, out_name in enumerate(map(str, names_out)):
        hits = [i for i, c in enumerate(cols) if out_name == str(c) or out_name.startswith(f"{c}_")]
        if not hits:
            raise TypeError(f"cannot tell which input column the transformed column {out_name!r} comes from")
        outs[max(hits, key=lambda i: len(str(cols[i])))].append(j)
    return outs


def raw_groups(pre: Any, raw: Sequence[str]) -> list[list[int]]:
    """For each raw feature, the indices of the transformed columns built from it.

    The preprocessing must be a ColumnTransformer, optionally followed by steps that keep
    every column where it is (scalers, imputers: ``get_feature_names_out`` unchanged).

    Raises
    ------
    TypeError
        When the transformed columns cannot be mapped back to raw features.
    """
    # here: scikit-learn is slow to import and only needed when a model is explained
    from sklearn.compose import ColumnTransformer

    steps = [s for _, s in pre.steps] if hasattr(pre, "steps") else [pre]
    ct = steps[0]
    if not isinstance(ct, ColumnTransformer):
        raise TypeError(f"preprocessing starts with {type(ct).__name__}, not a ColumnTransformer")
    groups: dict[str, list[int]] = {str(r): [] for r in raw}
    offset = 0
    for _name, trans, cols in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        cols = _column_list(cols, raw)
        if not cols:
            continue
        if isinstance(trans, str) and trans == "passthrough":
            outs = [[i] for i in range(len(cols))]
            width = len(cols)
        else:
            names_out = list(trans.get_feature_names_out(cols))
            width = len(names_out)
            outs = [list(range(width))] if len(cols) == 1 else _assign_outputs(names_out, cols)
        for col, idx in zip(cols, outs):
            groups.setdefault(str(col), []).extend(offset + i for i in idx)
        offset += width
    names = list(ct.get_feature_names_out())
    for step in steps[1:]:
        if not hasattr(step, "get_feature_names_out") or list(step.get_feature_names_out(names)) != names:
            raise TypeError(f"{type(step).__name__} after the ColumnTransformer does not keep columns in place")
    extra = set(groups) - {str(r) for r in raw}
    if extra:
        raise TypeError(f"the ColumnTransformer uses columns that are not model features: {sorted(extra)}")
    return [groups[str(r)] for r in raw]


def tree_output(est: Any, Xt: np.ndarray, task: str, k: int) -> tuple[np.ndarray, str]:
    """The output space TreeExplainer explains for this estimator, evaluated on the rows."""
    mod = type(est).__module__
    if task == "regression":
        return np.asarray(est.predict(Xt), dtype=float), "prediction"
    if mod.startswith("lightgbm"):
        raw = np.asarray(est.predict(Xt, raw_score=True), dtype=float)
    elif mod.startswith("xgboost"):
        raw = np.asarray(est.predict(Xt, output_margin=True), dtype=float)
    elif hasattr(est, "decision_function"):
        raw = np.asarray(est.decision_function(Xt), dtype=float)
    else:
        return np.asarray(est.predict_proba(Xt), dtype=float)[:, k], "probability"
    return (raw[:, k] if raw.ndim == 2 else raw), "log-odds"
