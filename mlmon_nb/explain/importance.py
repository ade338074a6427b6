"""Global importance of each raw feature, for the baseline: mean |SHAP|, else permutation importance."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import pandas as pd

from ..models import LoadedModel, model_input, score
from .explainers import shap_values

logger = logging.getLogger(__name__)


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


def _permutation(model: LoadedModel, sample: pd.DataFrame, columns: Sequence[str], target: pd.Series | None,
                 rng: np.random.Generator) -> tuple[pd.Series, str]:
    # here: scikit-learn is slow to import and only needed for models shap cannot explain exactly
    from sklearn.inspection import permutation_importance

    X = model_input(sample, columns)
    if target is not None and target.notna().all() and target.nunique() > 1:
        scoring = "roc_auc" if model.task == "binary_classification" else (
            "neg_log_loss" if model.task == "multiclass_classification" else "neg_mean_absolute_error")
        res = permutation_importance(model.estimator, X, target.to_numpy(), scoring=scoring, n_repeats=3,
                                     random_state=int(rng.integers(2**31 - 1)))
        return pd.Series(res.importances_mean, index=list(columns)), f"permutation importance ({scoring})"
    # Without labels: how much the prediction moves when a feature is shuffled.
    base = score(model, X, columns)
    out = {}
    for c in columns:
        Xp = X.copy()
        Xp[c] = Xp[c].to_numpy()[rng.permutation(len(Xp))]
        out[c] = float(np.mean(np.abs(score(model, Xp, columns) - base)))
    return pd.Series(out), "permutation importance (mean prediction change)"
