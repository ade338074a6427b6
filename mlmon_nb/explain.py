"""Feature attributions in the raw feature space.

Tree models (also inside a scikit-learn Pipeline whose preprocessing is a
ColumnTransformer) are explained with shap's TreeExplainer; the transformed
columns (e.g. one-hot levels) are summed back to the raw feature they came
from. Other models fall back to permutation importance (scikit-learn), which
needs no access to the model's internals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .models import LoadedModel, model_input

logger = logging.getLogger(__name__)

_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "lightgbm", "xgboost")


@dataclass(frozen=True)
class Attribution:
    """Per-row attributions (SHAP values) in raw feature space."""

    values: pd.DataFrame      # rows x raw features
    base_value: float
    method: str               # "shap_tree" or "permutation"

    def importance(self) -> pd.Series:
        """Mean |attribution| per feature, largest first."""
        return self.values.abs().mean().sort_values(ascending=False)


def _split_pipeline(estimator: Any):
    """(preprocessor or None, final estimator) of a Pipeline, or (None, estimator)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator[-1]
    return None, estimator


def _is_tree(est: Any) -> bool:
    mod = type(est).__module__
    return mod.startswith(_TREE_MODULES) and hasattr(est, "predict")


def _raw_groups(pre: Any, raw: Sequence[str]) -> list[list[int]]:
    """For each raw feature, the indices of the transformed columns built from it."""
    from sklearn.compose import ColumnTransformer

    ct = pre[-1] if hasattr(pre, "steps") else pre
    if not isinstance(ct, ColumnTransformer):
        raise TypeError("preprocessing is not a ColumnTransformer")
    groups: dict[str, list[int]] = {r: [] for r in raw}
    offset = 0
    for name, trans, cols in ct.transformers_:
        if trans == "drop" or name == "remainder" and trans == "drop":
            continue
        cols = [raw[c] if isinstance(c, (int, np.integer)) else c for c in np.atleast_1d(cols)]
        if trans == "passthrough":
            width = len(cols)
            outs = [[i] for i in range(width)]
        else:
            names_out = trans.get_feature_names_out(cols)
            width = len(names_out)
            if len(cols) == 1:
                outs = [list(range(width))]
            else:  # assign each output to the input whose name prefixes it (OneHotEncoder: col_level)
                outs = [[] for _ in cols]
                for j, out_name in enumerate(names_out):
                    k = max(range(len(cols)), key=lambda i: (str(out_name).startswith(str(cols[i])), len(str(cols[i]))))
                    outs[k].append(j)
        for col, idx in zip(cols, outs):
            groups.setdefault(str(col), []).extend(offset + i for i in idx)
        offset += width
    return [groups.get(r, []) for r in raw]


def shap_values(model: LoadedModel, frame: pd.DataFrame, columns: Sequence[str]) -> Attribution:
    """SHAP values of a tree model (raw feature space) for the given rows.

    Raises
    ------
    TypeError
        When the model is not a tree model behind an optional ColumnTransformer.
    """
    import shap

    pre, est = _split_pipeline(model.estimator)
    if not _is_tree(est):
        raise TypeError(f"{type(est).__name__} is not a tree model")
    X = model_input(frame, columns)
    Xt = pre.transform(X) if pre is not None else X.to_numpy(dtype=float)
    if hasattr(Xt, "toarray"):
        Xt = Xt.toarray()
    Xt = np.asarray(Xt, dtype=float)
    explainer = shap.TreeExplainer(est)
    raw_vals = explainer.shap_values(Xt, check_additivity=False)
    vals = np.asarray(raw_vals)
    base = np.atleast_1d(explainer.expected_value)
    if vals.ndim == 3:  # (n, features, classes) or list per class: explain the positive class
        vals = vals[:, :, -1] if vals.shape[0] == len(Xt) else vals[-1]
        base = base[-1:]
    groups = _raw_groups(pre, list(columns)) if pre is not None else [[i] for i in range(len(columns))]
    summed = np.column_stack([vals[:, g].sum(axis=1) if g else np.zeros(len(vals)) for g in groups])
    return Attribution(values=pd.DataFrame(summed, columns=list(columns), index=frame.index),
                       base_value=float(base[-1]), method="shap_tree")


def importance(model: LoadedModel, frame: pd.DataFrame, columns: Sequence[str], target: pd.Series | None,
               rng: np.random.Generator, max_rows: int = 2000) -> tuple[pd.Series, str]:
    """Global importance of each raw feature: mean |SHAP| for trees, else permutation importance.

    Returns
    -------
    (Series, str)
        Importance per feature normalised to sum to 1 (largest first), and the method.
    """
    n = min(len(frame), max_rows)
    idx = np.sort(rng.choice(len(frame), size=n, replace=False)) if len(frame) > n else np.arange(len(frame))
    sample = frame.iloc[idx]
    try:
        imp = shap_values(model, sample, columns).importance()
        method = "mean |SHAP| (TreeExplainer)"
    except (TypeError, ValueError, ImportError) as exc:
        logger.info("TreeExplainer not applicable (%s); using permutation importance", exc)
        imp, method = _permutation(model, sample, columns, None if target is None else target.iloc[idx], rng)
    imp = imp.clip(lower=0)
    total = float(imp.sum())
    return (imp / total if total > 0 else imp).sort_values(ascending=False), method


def _permutation(model: LoadedModel, sample: pd.DataFrame, columns: Sequence[str], target, rng):
    from sklearn.inspection import permutation_importance

    X = model_input(sample, columns)
    if target is not None and target.notna().all() and target.nunique() > 1:
        scoring = "roc_auc" if model.task == "binary_classification" else (
            "neg_log_loss" if model.task == "multiclass_classification" else "neg_mean_absolute_error")
        res = permutation_importance(model.estimator, X, target.to_numpy(), scoring=scoring, n_repeats=3,
                                     random_state=int(rng.integers(2**31 - 1)))
        return pd.Series(res.importances_mean, index=list(columns)), f"permutation importance ({scoring})"
    # Without labels: how much the prediction moves when a feature is shuffled.
    base = _predict(model, X)
    out = {}
    for c in columns:
        Xp = X.copy()
        Xp[c] = Xp[c].to_numpy()[rng.permutation(len(Xp))]
        out[c] = float(np.mean(np.abs(_predict(model, Xp) - base)))
    return pd.Series(out), "permutation importance (mean prediction change)"


def _predict(model: LoadedModel, X: pd.DataFrame) -> np.ndarray:
    if model.task == "regression":
        return np.asarray(model.estimator.predict(X), dtype=float)
    proba = np.asarray(model.estimator.predict_proba(X), dtype=float)
    return proba[:, 1] if model.task == "binary_classification" else proba
