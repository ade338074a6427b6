"""The optional LIME cross-check of one row's SHAP values."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .codec import Codec
from .explainers import Explainer
from .local import LocalExplanation


def lime_available() -> bool:
    """Whether the optional ``lime`` package is installed (``pip install 'mlmon-nb[lime]'``)."""
    return importlib.util.find_spec("lime") is not None


def lime_check(explainer: Explainer, local: LocalExplanation, background: pd.DataFrame, seed: int = 0,
               num_samples: int = 1000) -> pd.DataFrame:
    """Explain one row with LIME (on the same model output) and set it beside its SHAP values.

    Parameters
    ----------
    explainer : Explainer
        The window's explainer (gives the model output in its units).
    local : LocalExplanation
        The row, with its SHAP values.
    background : DataFrame
        Baseline rows LIME samples perturbations from.
    seed : int
        LIME's random state.
    num_samples : int
        Perturbed samples LIME fits its local model on.

    Returns
    -------
    DataFrame
        feature, LIME weight, SHAP value, whether the signs agree; largest |LIME weight| first.

    Raises
    ------
    ImportError
        When the lime package is missing (``pip install 'mlmon-nb[lime]'``).
    """
    try:
        # here: lime is an optional extra
        from lime.lime_tabular import LimeTabularExplainer
    except ImportError as exc:
        raise ImportError("the LIME cross-check needs the lime package: pip install 'mlmon-nb[lime]'") from exc
    cols = list(explainer.columns)
    row = pd.DataFrame([local.values.reindex(cols).to_numpy()], columns=cols)
    codec = Codec([background.loc[:, cols], row], cols)
    train = codec.encode(background.loc[:, cols])
    train = np.where(np.isfinite(train), train, np.nanmedian(train, axis=0))
    x = codec.encode(row)[0]
    x = np.where(np.isfinite(x), x, np.nanmedian(train, axis=0))
    lime = LimeTabularExplainer(train, mode="regression", feature_names=cols,
                                categorical_features=codec.categorical,
                                categorical_names={i: codec.levels[cols[i]] for i in codec.categorical},
                                discretize_continuous=True, random_state=seed)
    with threadpool_limits(limits=1):
        exp = lime.explain_instance(x, lambda z: explainer.model_output(codec.decode(z)), num_features=len(cols),
                                    num_samples=num_samples)
    found = exp.as_map()
    weights = dict(found[1] if 1 in found else next(iter(found.values())))  # regression: 1 = as fitted, 0 = negated
    df = pd.DataFrame({"feature": cols, "LIME weight": [float(weights.get(i, 0.0)) for i in range(len(cols))],
                       f"SHAP ({local.units})": local.contributions.reindex(cols).to_numpy()})
    df["same sign"] = np.sign(df["LIME weight"]) == np.sign(df[f"SHAP ({local.units})"])
    return df.reindex(df["LIME weight"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def lime_agreement(df: pd.DataFrame, top: int = 3) -> str:
    """One sentence on how far LIME agrees with SHAP on a row (plain text).

    Examples
    --------
    >>> df = pd.DataFrame({"feature": ["a", "b"], "LIME weight": [0.5, -0.1], "SHAP (log-odds)": [0.4, 0.2],
    ...                    "same sign": [True, False]})
    >>> lime_agreement(df, top=1)
    'LIME and SHAP share 1 of their top 1 features (a), with the same direction for 1 of them.'
    """
    shap_col = next(c for c in df.columns if c.startswith("SHAP"))
    top_lime = list(df["feature"].head(top))
    top_shap = list(df.reindex(df[shap_col].abs().sort_values(ascending=False).index)["feature"].head(top))
    shared = [f for f in top_lime if f in top_shap]
    signs = int(df[df["feature"].isin(shared)]["same sign"].sum())
    return (f"LIME and SHAP share {len(shared)} of their top {top} features "
            f"({', '.join(shared) if shared else 'none'}), with the same direction for {signs} of them.")
