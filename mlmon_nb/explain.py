"""Feature attributions in the raw feature space, and how they drift.

Explainers
    Tree models (scikit-learn trees and ensembles, LightGBM, XGBoost), also inside a
    scikit-learn Pipeline whose preprocessing is a ColumnTransformer, are explained with
    shap's TreeExplainer; the transformed columns (e.g. one-hot levels) are summed back to
    the raw feature they came from. Any other model is explained with shap's
    PermutationExplainer over the raw features, masking with a background sample of the
    baseline. Classifiers are explained in log-odds of the explained class (probability
    trees such as random forests are rescaled to log-odds row by row, which keeps
    ``base + sum(attributions) = output`` exact); regressors in the target's units.

Attribution drift (one ``attribution_drift`` check per feature)
    Three figures compare the window with the baseline sample, each against a band
    learned from :data:`N_CHUNKS` time-ordered chunks of the explained baseline rows:

    ``attribution_share``
        the feature's share of the total mean |SHAP|. Band: mean ± k sd of the chunk
        shares, sd scaled to the window's size (sqrt(chunk rows / window rows)); the
        effect is the absolute change in share. Shares are relative (one feature's
        growth shrinks every other share), so this figure fires only when the feature's
        own mean |SHAP| also left its band (built the same way) in the same direction.
    ``attribution_distance``
        Wasserstein distance between the window's and the baseline's per-row SHAP values
        of the feature, divided by the baseline's total mean |SHAP| (so 0.05 = the
        feature's attributions moved by 5% of the model's typical total attribution).
        Band: mean + k sd of chunk-against-rest distances, each rescaled to the
        window's comparison by sqrt((1/w + 1/n) / (1/m + 1/(n - m))) (how a two-sample
        distance shrinks with sample sizes under no drift).
    ``attribution_reliance`` (needs labels)
        how strongly outcomes follow the model's attribution of the feature: the slope
        rho of ``logit P(y) = f(x) - phi_j(x) + rho * phi_j(x)`` fitted by maximum
        likelihood with the model's own output ``f`` as offset (least squares on
        ``y`` for regressors). rho = 1 when outcomes respond to the feature exactly as
        the model assumes, 0 when the feature no longer matters, < 0 when its effect
        reversed. This is what moves under concept drift: with an unchanged model and
        unchanged inputs the SHAP values do not change, but the outcome's response to
        them does. Band: baseline rho ± k * sqrt(od * (se_w² + se_b²)) with the
        standard errors from the likelihood and ``od`` >= 1 the over-dispersion the
        baseline chunks show (variance of chunk rho over their mean squared standard
        error, median over features).

    A figure *fires* when the window's value is outside its band **and** its effect reaches
    a practical floor. k is 3 sd for a single feature, widened for the number of features
    compared (Šidák: 3.58 sd for 8 features), so that a window without any change trips
    some feature's band about as rarely as one 3-sd band would (0.27%); plus
    ``thresholds.band_margin``. Practical floors (defaults in
    :data:`METHODS`, overridable with ``thresholds.methods.<name>.warn/alert``): alert at
    the alert floor, warn at the warn floor. The feature's status is the worst of its
    figures; the check reports the deciding one.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import MlmonError, UsageError
from .models import LoadedModel, model_input

logger = logging.getLogger(__name__)

_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "lightgbm", "xgboost")

#: Window rows explained by default (the notebook's ``max_rows``).
MAX_ROWS = 2000
#: Baseline rows explained per window row cap: the bands need several chunks of rows
#: (2 for the model-agnostic explainer, which is slow).
BASELINE_FACTOR = 5
AGNOSTIC_BASELINE_FACTOR = 2
#: Time-ordered chunks of the explained baseline rows the bands come from.
N_CHUNKS = 10
#: Background rows of the model-agnostic explainer (masking values).
BACKGROUND_ROWS = 50
#: Window rows the model-agnostic explainer explains at most: it costs about
#: PERMUTATIONS * (2 * features + 1) * BACKGROUND_ROWS model evaluations per row
#: (~50-100 ms per row for a small scikit-learn pipeline on this machine).
AGNOSTIC_MAX_ROWS = 150
PERMUTATIONS = 5
BAND_SIGMAS = 3.0
#: Fewest labelled rows (and events of each class) for an outcome reliance.
MIN_RELIANCE_ROWS = 100
MIN_RELIANCE_EVENTS = 10
#: Fewest rows for a cohort comparison to be called reliable.
MIN_COHORT_ROWS = 30
TOP_SURPRISING = 3
MAX_DEPENDENCE = 4
_EPS = 1e-9


@dataclass(frozen=True)
class AttributionMethod:
    """One figure of the attribution-drift rule (see the module docstring)."""

    name: str
    display: str
    short: str
    warn: float
    alert: float
    needs_labels: bool = False


METHODS: dict[str, AttributionMethod] = {m.name: m for m in (
    AttributionMethod("attribution_reliance", "outcome reliance on the feature's attribution (|change|)",
                      "outcome reliance", warn=0.25, alert=0.5, needs_labels=True),
    AttributionMethod("attribution_distance", "Wasserstein distance of SHAP values (÷ total mean |SHAP|)",
                      "SHAP distance", warn=0.025, alert=0.05),
    AttributionMethod("attribution_share", "importance share (|change| of mean |SHAP| ÷ total)",
                      "importance share", warn=0.05, alert=0.10),
)}
_METHOD_ORDER = tuple(METHODS)  # tie-break: reliance, then distance, then share


class CohortError(MlmonError, ValueError):
    """The cohort parameter cannot be turned into a selection of rows."""


# --------------------------------------------------------------------------- attributions

@dataclass(frozen=True)
class Attribution:
    """Per-row attributions (SHAP values) in raw feature space.

    Attributes
    ----------
    values : DataFrame
        Rows x raw features, indexed like the explained rows.
    base_value : float
        The explainer's expected output: ``base_value + values.sum(axis=1) = output``.
    method : str
        ``shap_tree``, ``shap_tree_rescaled`` (probability trees rescaled to log-odds)
        or ``shap_permutation``.
    output : ndarray, optional
        The model's output for each row, in ``units``.
    units : str
        ``log-odds`` (classifiers) or ``prediction`` (regressors).
    data : DataFrame, optional
        The raw feature values of the explained rows.
    """

    values: pd.DataFrame
    base_value: float
    method: str
    output: np.ndarray | None = None
    units: str = "log-odds"
    data: pd.DataFrame | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.values)

    def importance(self) -> pd.Series:
        """Mean |attribution| per feature, largest first."""
        return self.values.abs().mean().sort_values(ascending=False)

    def shares(self) -> pd.Series:
        """Each feature's share of the total mean |attribution| (sums to 1), in column order."""
        imp = self.values.abs().mean()
        total = float(imp.sum())
        return imp / total if total > 0 else imp

    def additivity_error(self) -> float:
        """Largest |base + sum of attributions - model output| over the rows (NaN without output)."""
        if self.output is None or len(self.values) == 0:
            return float("nan")
        return float(np.max(np.abs(self.base_value + self.values.to_numpy().sum(axis=1) - self.output)))

    def take(self, positions: Sequence[int] | np.ndarray) -> "Attribution":
        """The attributions of some rows (by position)."""
        pos = np.asarray(positions, dtype=int)
        return replace(self, values=self.values.iloc[pos],
                       output=None if self.output is None else self.output[pos],
                       data=None if self.data is None else self.data.iloc[pos])

    def to_df(self) -> pd.DataFrame:
        """Global importance: mean |SHAP|, share and mean signed SHAP per feature, largest first."""
        imp = self.values.abs().mean()
        df = pd.DataFrame({"feature": imp.index, "mean |SHAP|": imp.to_numpy(),
                           "share": self.shares().to_numpy(), "mean SHAP": self.values.mean().to_numpy()})
        return df.sort_values("mean |SHAP|", ascending=False, kind="stable").reset_index(drop=True)

    def _repr_html_(self) -> str:
        from .display import format_table

        return (f"<p>{len(self):,} rows explained ({self.method}, {self.units}); base value "
                f"{self.base_value:.4g}.</p>" + format_table(self.to_df(), percent=["share"]))


def _split_pipeline(estimator: Any):
    """(preprocessor or None, final estimator) of a Pipeline, or (None, estimator)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator[-1]
    return None, estimator


def _is_tree(est: Any) -> bool:
    mod = type(est).__module__
    return mod.startswith(_TREE_MODULES) and hasattr(est, "predict")


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


def _raw_groups(pre: Any, raw: Sequence[str]) -> list[list[int]]:
    """For each raw feature, the indices of the transformed columns built from it.

    The preprocessing must be a ColumnTransformer, optionally followed by steps that keep
    every column where it is (scalers, imputers: ``get_feature_names_out`` unchanged).

    Raises
    ------
    TypeError
        When the transformed columns cannot be mapped back to raw features.
    """
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


def _shap():
    """Import shap (its tqdm import warns about missing ipywidgets inside notebooks: not our concern)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import shap
    return shap


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class _Codec:
    """Raw feature columns <-> a float matrix (categorical levels as codes) for shap and LIME."""

    def __init__(self, frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.levels: dict[str, list[str]] = {}
        for c in self.columns:
            parts = [f[c] for f in frames if c in f.columns]
            s = pd.concat(parts) if parts else pd.Series(dtype=float)
            if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
                self.levels[c] = sorted({str(v) for v in s.dropna().astype(object)})

    @property
    def categorical(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c in self.levels]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.columns)), dtype=float)
        for i, c in enumerate(self.columns):
            if c in self.levels:
                lookup = {v: k for k, v in enumerate(self.levels[c])}
                s = frame[c].astype(object)
                out[:, i] = [np.nan if v is None or (isinstance(v, float) and math.isnan(v))
                             else lookup.get(str(v), np.nan) for v in s]
            else:
                out[:, i] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        return out

    def decode(self, z: np.ndarray) -> pd.DataFrame:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        cols = {}
        for i, c in enumerate(self.columns):
            if c in self.levels:
                lv = np.asarray(self.levels[c] + [None], dtype=object)
                codes = np.where(np.isfinite(z[:, i]), np.rint(np.nan_to_num(z[:, i], nan=-1)), -1).astype(int)
                codes = np.where((codes >= 0) & (codes < len(self.levels[c])), codes, len(self.levels[c]))
                cols[c] = lv[codes]
            else:
                cols[c] = z[:, i]
        return pd.DataFrame(cols)


def _class_position(estimator: Any, class_index: int) -> int:
    classes = getattr(estimator, "classes_", None)
    n = len(classes) if classes is not None else 2
    return class_index % n


@dataclass
class Explainer:
    """Explains rows of one model in raw feature space; built once with :func:`make_explainer`.

    Attributes
    ----------
    kind : str
        ``tree`` (shap TreeExplainer) or ``permutation`` (shap PermutationExplainer).
    units : str
        Units of the attributions (``log-odds`` or ``prediction``).
    reason : str
        Why this explainer was chosen.
    """

    model: LoadedModel
    columns: tuple[str, ...]
    kind: str
    units: str
    reason: str
    background: pd.DataFrame | None = field(default=None, repr=False)
    seed: int = 0
    class_index: int = -1
    _shap: Any = field(default=None, repr=False)
    _groups: list[list[int]] | None = field(default=None, repr=False)
    _codec: _Codec | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """Display name of the explainer."""
        if self.kind == "tree":
            return "shap TreeExplainer (path-dependent, exact)"
        return (f"shap PermutationExplainer ({PERMUTATIONS} antithetic permutations, "
                f"{0 if self.background is None else len(self.background)} background rows from the baseline)")

    def row_cap(self, max_rows: int) -> int:
        """Window rows to explain for a requested ``max_rows``."""
        return max_rows if self.kind == "tree" else min(max_rows, AGNOSTIC_MAX_ROWS)

    @property
    def baseline_factor(self) -> int:
        """Baseline rows explained per window row."""
        return BASELINE_FACTOR if self.kind == "tree" else AGNOSTIC_BASELINE_FACTOR

    def output(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's output for rows, in the explainer's units."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self._output(frame)

    def _output(self, frame: pd.DataFrame) -> np.ndarray:
        X = model_input(frame, self.columns)
        est = self.model.estimator
        if self.model.task == "regression":
            return np.asarray(est.predict(X), dtype=float)
        proba = np.asarray(est.predict_proba(X), dtype=float)
        return _logit(proba[:, _class_position(est, self.class_index)])

    def explain(self, frame: pd.DataFrame) -> Attribution:
        """Attributions of the given rows.

        Parameters
        ----------
        frame : DataFrame
            Rows holding the model's feature columns.
        """
        from threadpoolctl import threadpool_limits

        # Scoring a few thousand rows is fastest on one thread; OpenMP workers spinning on a
        # shared machine made HistGradientBoosting's predict several times slower.
        with threadpool_limits(limits=1):
            return self._explain(frame)

    def _explain(self, frame: pd.DataFrame) -> Attribution:
        if len(frame) == 0:
            empty = pd.DataFrame(columns=list(self.columns), dtype=float)
            return Attribution(values=empty, base_value=float("nan"), method=f"shap_{self.kind}",
                               output=np.array([]), units=self.units, data=frame.loc[:, list(self.columns)])
        if self.kind == "tree":
            return self._explain_tree(frame)
        return self._explain_permutation(frame)

    def _explain_tree(self, frame: pd.DataFrame) -> Attribution:
        pre, est = _split_pipeline(self.model.estimator)
        X = model_input(frame, self.columns)
        Xt = pre.transform(X) if pre is not None else X.to_numpy(dtype=float)
        if hasattr(Xt, "toarray"):
            Xt = Xt.toarray()
        Xt = np.asarray(Xt, dtype=float)
        vals = np.asarray(self._shap.shap_values(Xt, check_additivity=False), dtype=float)
        base = np.atleast_1d(np.asarray(self._shap.expected_value, dtype=float))
        k = _class_position(est, self.class_index) if self.model.task != "regression" else 0
        if vals.ndim == 3:  # (rows, columns, outputs)
            vals = vals[:, :, k if vals.shape[2] > 1 else 0]
        base_value = float(base[k] if len(base) > 1 else base[0])
        raw_out, space = _tree_output(est, X if pre is None else Xt, self.model.task, k)
        summed = np.column_stack([vals[:, g].sum(axis=1) if g else np.zeros(len(vals)) for g in self._groups])
        err = float(np.max(np.abs(base_value + vals.sum(axis=1) - raw_out))) if len(vals) else 0.0
        tol = 1e-4 * max(1.0, float(np.max(np.abs(raw_out))))
        if err > tol:
            logger.warning("TreeExplainer additivity off by %.3g (model output space %s)", err, space)
        method = "shap_tree"
        output = raw_out
        if space == "probability":  # rescale to log-odds row by row: keeps additivity exact
            p, p0 = np.clip(raw_out, _EPS, 1 - _EPS), min(max(base_value, _EPS), 1 - _EPS)
            diff = p - p0
            safe = np.where(np.abs(diff) > 1e-12, diff, 1.0)
            scale = np.where(np.abs(diff) > 1e-12, (_logit(p) - _logit(np.array([p0]))[0]) / safe,
                             1.0 / (p0 * (1 - p0)))
            summed = summed * scale[:, None]
            base_value = float(_logit(np.array([p0]))[0])
            output = _logit(p)
            method = "shap_tree_rescaled"
        return Attribution(values=pd.DataFrame(summed, columns=list(self.columns), index=frame.index),
                           base_value=base_value, method=method, output=np.asarray(output, dtype=float),
                           units=self.units, data=frame.loc[:, list(self.columns)])

    def _explain_permutation(self, frame: pd.DataFrame) -> Attribution:
        shap = _shap()

        codec = self._codec
        z = codec.encode(frame)
        bg = codec.encode(self.background)

        def f(rows: np.ndarray) -> np.ndarray:
            return self._output(codec.decode(rows))

        masker = shap.maskers.Independent(bg, max_samples=len(bg))
        explainer = shap.PermutationExplainer(f, masker, seed=self.seed)
        m = len(self.columns)
        res = explainer(z, max_evals=PERMUTATIONS * (2 * m + 1), silent=True)
        vals = np.asarray(res.values, dtype=float)
        base = float(np.mean(np.atleast_1d(res.base_values)))
        return Attribution(values=pd.DataFrame(vals, columns=list(self.columns), index=frame.index),
                           base_value=base, method="shap_permutation", output=f(z), units=self.units,
                           data=frame.loc[:, list(self.columns)])


def _tree_output(est: Any, Xt: np.ndarray, task: str, k: int) -> tuple[np.ndarray, str]:
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


def make_explainer(model: LoadedModel, columns: Sequence[str], background: pd.DataFrame | None = None,
                   seed: int = 0, class_index: int = -1) -> Explainer:
    """Choose and build the explainer of a model.

    Parameters
    ----------
    model : LoadedModel
        The model version.
    columns : sequence of str
        The raw feature columns the model takes, in its order.
    background : DataFrame, optional
        Baseline rows for the model-agnostic explainer's masker (needed when the model
        is not a supported tree model).
    seed : int
        Seed of the permutation explainer.
    class_index : int
        The class explained for classifiers (the positive class by default).

    Raises
    ------
    UsageError
        When the model needs the model-agnostic explainer and no background is given.
    """
    columns = tuple(str(c) for c in columns)
    units = "prediction" if model.task == "regression" else "log-odds"
    pre, est = _split_pipeline(model.estimator)
    reason = ""
    if _is_tree(est):
        try:
            shap = _shap()
            groups = _raw_groups(pre, columns) if pre is not None else [[i] for i in range(len(columns))]
            tree = shap.TreeExplainer(est)
            return Explainer(model=model, columns=columns, kind="tree", units=units, seed=seed,
                             class_index=class_index, _shap=tree, _groups=groups,
                             reason=f"{type(est).__name__} is a tree model"
                                    + (" behind a ColumnTransformer (transformed columns summed back to raw "
                                       "features)" if pre is not None else ""))
        except Exception as exc:  # shap raises its own error types for unsupported trees
            reason = f"TreeExplainer not applicable ({type(exc).__name__}: {exc}); "
            logger.info("%s", reason)
    else:
        reason = f"{type(est).__name__} is not a tree model; "
    if background is None or len(background) == 0:
        raise UsageError(f"model version {model.version}: {reason}the model-agnostic explainer needs "
                         f"background rows from the baseline sample")
    bg = background.loc[:, list(columns)]
    return Explainer(model=model, columns=columns, kind="permutation", units=units, seed=seed,
                     class_index=class_index, background=bg, _codec=_Codec([bg], columns),
                     reason=reason + "explained model-agnostically")


def shap_values(model: LoadedModel, frame: pd.DataFrame, columns: Sequence[str]) -> Attribution:
    """SHAP values of a tree model (raw feature space) for the given rows.

    Raises
    ------
    TypeError
        When the model is not a tree model behind an optional ColumnTransformer.
    """
    explainer = make_explainer(model, columns, background=frame.iloc[:1])
    if explainer.kind != "tree":
        raise TypeError(explainer.reason)
    return explainer.explain(frame)


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


# --------------------------------------------------------------------------- outcome reliance

@dataclass(frozen=True)
class Reliance:
    """Fitted slope of the outcome on one feature's attribution (1 = as the model assumes)."""

    value: float
    se: float
    rows: int


def _target_array(target: Any, n: int) -> np.ndarray:
    if target is None:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(np.asarray(target, dtype=object)), errors="coerce").to_numpy(dtype=float)


def reliance(output: np.ndarray, phi: np.ndarray, y: np.ndarray, task: str = "binary_classification") -> Reliance:
    """How strongly outcomes follow one feature's attribution.

    Fits ``rho`` in ``logit P(y = 1) = output - phi + rho * phi`` by maximum likelihood
    (Newton's method; binary classification) or ``y = output - phi + rho * phi + noise``
    by least squares (regression). Rows with a missing ``y`` are ignored.

    Parameters
    ----------
    output : ndarray
        The model's output per row (log-odds for classifiers).
    phi : ndarray
        The feature's attribution per row, in the same units.
    y : ndarray
        Observed outcomes (0/1 for classifiers).
    task : str
        ``binary_classification`` or ``regression``.

    Returns
    -------
    Reliance
        NaN figures when there are too few labelled rows or events, or no attribution.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> phi = rng.normal(size=20000)
    >>> y = (rng.random(20000) < 1 / (1 + np.exp(-(-1 - 0.5 * phi)))).astype(float)
    >>> round(reliance(-1 + phi, phi, y).value, 1)
    -0.5
    """
    f = np.asarray(output, dtype=float)
    x = np.asarray(phi, dtype=float)
    yy = np.asarray(y, dtype=float)
    ok = np.isfinite(yy) & np.isfinite(f) & np.isfinite(x)
    f, x, yy = f[ok], x[ok], yy[ok]
    n = int(len(yy))
    nan = Reliance(float("nan"), float("nan"), n)
    if n < MIN_RELIANCE_ROWS or not np.any(x != 0):
        return nan
    offset = f - x
    if task == "regression":
        sxx = float(np.sum(x * x))
        if sxx <= 0:
            return nan
        rho = float(np.sum(x * (yy - offset)) / sxx)
        resid = yy - offset - rho * x
        sigma2 = float(np.sum(resid * resid) / max(n - 1, 1))
        return Reliance(rho, math.sqrt(sigma2 / sxx), n)
    if task != "binary_classification":
        return nan
    positives = float(yy.sum())
    if min(positives, n - positives) < MIN_RELIANCE_EVENTS:
        return nan
    rho, info = 1.0, 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(offset + rho * x, -35, 35)))
        grad = float(np.sum(x * (yy - p)))
        info = float(np.sum(x * x * p * (1 - p)))
        if info <= 1e-12:
            return nan
        step = float(np.clip(grad / info, -2.0, 2.0))
        rho = float(np.clip(rho + step, -25.0, 25.0))
        if abs(step) < 1e-9:
            break
    p = 1.0 / (1.0 + np.exp(-np.clip(offset + rho * x, -35, 35)))
    info = float(np.sum(x * x * p * (1 - p)))
    return Reliance(rho, 1.0 / math.sqrt(info) if info > 0 else float("nan"), n)


# --------------------------------------------------------------------------- attribution drift

@dataclass(frozen=True)
class FeatureAttributionDrift:
    """The attribution-drift figures of one feature (see the module docstring for the rule)."""

    feature: str
    status: str
    method: str
    effect: float
    threshold: float
    rank_baseline: int
    rank_window: int
    importance_baseline: float
    importance_window: float
    share_baseline: float
    share_window: float
    share_low: float
    share_high: float
    share_status: str
    distance: float
    distance_high: float
    distance_status: str
    reliance_baseline: float
    reliance_window: float
    reliance_low: float
    reliance_high: float
    reliance_p: float
    reliance_status: str
    mean_baseline: float
    mean_window: float

    def reason(self, units: str = "log-odds") -> str:
        """One plain sentence on what decided the status."""
        if self.method == "attribution_reliance":
            direction = ("reversed" if self.reliance_window < 0 else "weakened" if
                         self.reliance_window < self.reliance_baseline else "strengthened")
            return (f"Outcomes no longer follow the model's use of {self.feature}: its effect has {direction} "
                    f"(outcome reliance {self.reliance_baseline:.2f} at baseline, {self.reliance_window:.2f} now; "
                    f"1 = as the model assumes, 0 = no effect, below 0 = reversed).")
        if self.method == "attribution_distance":
            return (f"The model's attributions of {self.feature} moved (Wasserstein distance {self.distance:.3f} "
                    f"of the total attribution, band up to {self.distance_high:.3f}; mean SHAP "
                    f"{self.mean_baseline:+.3f} → {self.mean_window:+.3f} {units}).")
        return (f"{self.feature}'s share of the model's attribution changed: {self.share_baseline:.1%} → "
                f"{self.share_window:.1%} (rank {self.rank_baseline} → {self.rank_window}).")


@dataclass
class AttributionDriftResult:
    """Attribution drift of a window against the baseline sample, one row per feature."""

    features: list[FeatureAttributionDrift]
    baseline: Attribution = field(repr=False)
    window: Attribution = field(repr=False)
    baseline_target: np.ndarray | None = field(repr=False)
    window_target: np.ndarray | None = field(repr=False)
    task: str
    thresholds: dict[str, tuple[float, float]]
    sigmas: float
    overdispersion: float
    chunks: int
    labelled_window_rows: int
    labelled_baseline_rows: int

    @property
    def units(self) -> str:
        return self.window.units

    def to_df(self) -> pd.DataFrame:
        """One row per feature, the most severe first, then by effect relative to its threshold."""
        from .checks import SEVERITY

        df = pd.DataFrame([f.__dict__ for f in self.features])
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        df["_ratio"] = df["effect"] / df["threshold"]
        df = df.sort_values(["_sev", "_ratio"], ascending=[False, False], kind="stable")
        return df.drop(columns=["_sev", "_ratio"]).reset_index(drop=True)

    def importance_df(self) -> pd.DataFrame:
        """Global importance at baseline and now (mean |SHAP| in :attr:`units`), with rank changes,
        in the window's rank order."""
        rows = []
        for f in sorted(self.features, key=lambda f: f.rank_window):
            move = f.rank_baseline - f.rank_window
            rows.append({"feature": f.feature, "rank now": f.rank_window, "rank base": f.rank_baseline,
                         "change": "=" if move == 0 else (f"↑{move}" if move > 0 else f"↓{-move}"),
                         "mean |SHAP| base": f.importance_baseline, "mean |SHAP| now": f.importance_window,
                         "share base": f.share_baseline, "share now": f.share_window})
        return pd.DataFrame(rows)

    def table_df(self) -> pd.DataFrame:
        """The drift figures, formatted for reading (one row per feature, most severe first)."""
        df = self.to_df()
        if df.empty:
            return df

        def band(lo, hi):
            return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"{lo:.2f}, {hi:.2f}"

        return pd.DataFrame({
            "feature": df["feature"],
            "status": df["status"],
            "decided by": [METHODS[m].short if st != "ok" else "" for m, st in zip(df["method"], df["status"])],
            "share: base → now [band]": [
                f"{a:.1%} → {b:.1%}" + (f" [{lo:.1%}, {hi:.1%}]" if np.isfinite(lo) else "")
                for a, b, lo, hi in zip(df["share_baseline"], df["share_window"], df["share_low"], df["share_high"])],
            "distance [band]": [f"{d:.3f}" + (f" [≤ {h:.3f}]" if np.isfinite(h) else "")
                                     for d, h in zip(df["distance"], df["distance_high"])],
            "reliance: base → now [band]": [
                "n/a" if not np.isfinite(b)
                else f"{a:.2f} → {b:.2f}" + (f" [{band(lo, hi)}]" if np.isfinite(lo) else "")
                for a, b, lo, hi in zip(df["reliance_baseline"], df["reliance_window"], df["reliance_low"],
                                        df["reliance_high"])],
        })

    def flagged(self, status: str = "warn", method: str | None = None) -> list[str]:
        """Features at or above a status (optionally decided by one method), most severe first."""
        from .checks import SEVERITY

        df = self.to_df()
        if df.empty:
            return []
        keep = df["status"].map(SEVERITY) >= SEVERITY[status]
        if method:
            keep &= df[f"{method.removeprefix('attribution_')}_status"].map(SEVERITY) >= SEVERITY[status]
        return df.loc[keep, "feature"].tolist()

    def record(self, recorder) -> None:
        """Record one ``attribution_drift`` check per feature, and a finding per flagged one."""
        order = {name: i for i, name in enumerate(self.to_df()["feature"])} if self.features else {}
        for f in sorted(self.features, key=lambda f: order[f.feature]):
            figures = {
                "share_baseline": f.share_baseline, "share_window": f.share_window,
                "share_band_low": f.share_low, "share_band_high": f.share_high,
                "rank_baseline": f.rank_baseline, "rank_window": f.rank_window,
                "distance": f.distance, "distance_band_high": f.distance_high,
                "reliance_baseline": f.reliance_baseline, "reliance_window": f.reliance_window,
                "reliance_band_low": f.reliance_low, "reliance_band_high": f.reliance_high,
                "share_status": f.share_status, "distance_status": f.distance_status,
                "reliance_status": f.reliance_status, "units": self.units,
                "baseline_rows": len(self.baseline), "window_rows": len(self.window),
                "labelled_window_rows": self.labelled_window_rows, "band_sigmas": self.sigmas,
                "warn_threshold": self.thresholds[f.method][0],
            }
            p = f.reliance_p if f.method == "attribution_reliance" else None
            recorder.check("attribution_drift", f.feature, f.status, method=f.method, value=f.effect,
                           threshold=f.threshold, p_value=p, **figures)
            if f.status != "ok":
                recorder.finding(f.reason(self.units), f.status)

    def plot(self, kind: str = "importance", feature: str | None = None):
        """Plot the result: ``importance``, ``reliance`` (all features) or ``outcome`` (one feature)."""
        from . import plots

        if kind == "importance":
            return plots.attribution_importance(self)
        if kind == "reliance":
            return plots.attribution_reliance(self)
        if kind == "outcome":
            if feature is None:
                raise UsageError("The 'feature' parameter of AttributionDriftResult.plot is required for "
                                 "kind='outcome'.")
            return plots.attribution_outcome(self, feature)
        raise UsageError(f"The 'kind' parameter of AttributionDriftResult.plot must be 'importance', 'reliance' "
                         f"or 'outcome'. Got {kind!r} instead.")

    def outcome_bins(self, feature: str, bins: int = 8) -> pd.DataFrame:
        """Observed minus predicted outcome per bin of the feature's attribution, baseline and window.

        Bins are quantiles of the baseline's attribution values. Classifiers: percentage
        points of the positive rate; regressors: target units.
        """
        phi_b = self.baseline.values[feature].to_numpy()
        edges = np.unique(np.quantile(phi_b, np.linspace(0, 1, bins + 1))) if len(phi_b) else np.array([0.0, 1.0])
        edges[0], edges[-1] = -np.inf, np.inf
        rows = []
        for side, attr, y in (("baseline", self.baseline, self.baseline_target),
                              ("window", self.window, self.window_target)):
            if y is None or attr.output is None:
                continue
            phi = attr.values[feature].to_numpy()
            ok = np.isfinite(y)
            which = np.clip(np.searchsorted(edges, phi, side="right") - 1, 0, len(edges) - 2)
            for b in range(len(edges) - 1):
                sel = ok & (which == b)
                n = int(sel.sum())
                if n < 5:
                    continue
                if self.task == "regression":
                    resid = y[sel] - attr.output[sel]
                    mean, se = float(resid.mean()), float(resid.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
                else:
                    p = 1 / (1 + np.exp(-attr.output[sel]))
                    mean = float((y[sel] - p).mean() * 100)
                    se = float(math.sqrt(np.sum(p * (1 - p))) / n * 100)
                rows.append({"side": side, "bin": b, "attribution": float(np.median(phi[sel])), "rows": n,
                             "observed_minus_predicted": mean, "se": se})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        from .display import format_table

        return format_table(self.table_df())


def method_thresholds(config: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    """(warn, alert) floors per attribution-drift figure, with ``thresholds.methods`` overrides."""
    per_method = dict((config or {}).get("methods") or {})
    out = {}
    for name, m in METHODS.items():
        o = per_method.get(name) or {}
        out[name] = (float(o.get("warn", m.warn)), float(o.get("alert", m.alert)))
    return out


def band_sigmas(features: int) -> float:
    """Band half-width in standard deviations for ``features`` features compared at once.

    3 sd for one feature; for more, widened (Šidák) so that a window without any change
    still trips one of the features' bands with probability ~0.27% (that of one 3-sd band).

    Examples
    --------
    >>> round(band_sigmas(1), 2), round(band_sigmas(8), 2)
    (3.0, 3.58)
    """
    from scipy.stats import norm

    family = 2 * norm.sf(BAND_SIGMAS)
    per_feature = 1 - (1 - family) ** (1 / max(int(features), 1))
    return max(BAND_SIGMAS, float(norm.isf(per_feature / 2)))


def _status(outside: bool, effect: float, warn: float, alert: float) -> str:
    if not outside or not np.isfinite(effect):
        return "ok"
    if effect >= alert:
        return "alert"
    if effect >= warn:
        return "warn"
    return "ok"


def _rescaled_distance(a: np.ndarray, b: np.ndarray, w: int, n: int) -> float:
    from scipy.stats import wasserstein_distance

    m, rest = len(a), len(b)
    if m == 0 or rest == 0:
        return float("nan")
    factor = math.sqrt((1 / w + 1 / n) / (1 / m + 1 / rest))
    return float(wasserstein_distance(a, b)) * factor


def attribution_drift(baseline: Attribution, window: Attribution, *, baseline_target: Any = None,
                      window_target: Any = None, task: str = "binary_classification", n_chunks: int = N_CHUNKS,
                      thresholds: Mapping[str, Any] | None = None) -> AttributionDriftResult:
    """Compare a window's attributions with the baseline's (rule in the module docstring).

    Parameters
    ----------
    baseline, window : Attribution
        Attributions of baseline rows (in time order: chunks are consecutive rows) and of
        window rows, from the same explainer.
    baseline_target, window_target : array-like, optional
        Outcomes of those rows (NaN where unknown); without them no outcome reliance.
    task : str
        The model's task.
    n_chunks : int
        Chunks of the baseline rows the bands come from.
    thresholds : mapping, optional
        The model's ``thresholds`` block (``band_margin``, ``methods.<name>.warn/alert``).

    Returns
    -------
    AttributionDriftResult
    """
    from scipy.stats import norm, wasserstein_distance

    from .rules import fit_band as band_from_values
    from .checks import SEVERITY

    if list(baseline.values.columns) != list(window.values.columns):
        raise UsageError("attribution_drift: baseline and window attributions explain different features")
    if not isinstance(n_chunks, int) or n_chunks < 3:
        raise UsageError(f"The 'n_chunks' parameter of attribution_drift must be an int >= 3. "
                         f"Got {n_chunks!r} instead.")
    config = dict(thresholds or {})
    limits = method_thresholds(config)
    cols = list(baseline.values.columns)
    sigmas = band_sigmas(len(cols)) + float(config.get("band_margin", 0.0) or 0.0)
    n, w = len(baseline), len(window)
    yb = _target_array(baseline_target, n) if baseline_target is not None else None
    yw = _target_array(window_target, w) if window_target is not None else None
    chunks = [c for c in np.array_split(np.arange(n), min(n_chunks, max(n // 30, 1))) if len(c)]

    imp_b, imp_w = baseline.values.abs().mean(), window.values.abs().mean()
    share_b, share_w = baseline.shares(), window.shares()
    rank_b = imp_b.rank(ascending=False, method="first").astype(int)
    rank_w = imp_w.rank(ascending=False, method="first").astype(int)
    total = float(imp_b.sum()) or 1.0
    vb = baseline.values.to_numpy()
    vw = window.values.to_numpy()
    chunk_shares = [baseline.take(c).shares() for c in chunks]
    rows_of = [len(c) for c in chunks]

    can_rely = (task in ("binary_classification", "regression") and yb is not None and yw is not None
                and baseline.output is not None and window.output is not None)
    rel_b, rel_w, od_ratios = {}, {}, []
    if can_rely:
        for j, c in enumerate(cols):
            rel_b[c] = reliance(baseline.output, vb[:, j], yb, task)
            rel_w[c] = reliance(window.output, vw[:, j], yw, task)
            parts = [reliance(baseline.output[ix], vb[ix, j], yb[ix], task) for ix in chunks]
            vals = np.array([r.value for r in parts])
            ses = np.array([r.se for r in parts])
            ok = np.isfinite(vals) & np.isfinite(ses)
            if ok.sum() >= 3:
                od_ratios.append(float(np.var(vals[ok], ddof=1) / np.mean(ses[ok] ** 2)))
    od = max(1.0, float(np.median(od_ratios))) if od_ratios else 1.0

    out = []
    for j, c in enumerate(cols):
        sb = band_from_values([s[c] for s in chunk_shares], rows_of, scales_with_size=True)
        s_lo, s_hi = sb.limits(w, sigmas) if sb else (float("nan"), float("nan"))
        s_eff = abs(float(share_w[c] - share_b[c]))
        ib = band_from_values([np.abs(vb[ix, j]).mean() for ix in chunks], rows_of, scales_with_size=True)
        i_lo, i_hi = ib.limits(w, sigmas) if ib else (float("nan"), float("nan"))
        # A share also moves when *another* feature's attribution grows: it fires only when the
        # feature's own mean |SHAP| left its band in the same direction.
        own = (share_w[c] > s_hi and imp_w[c] > i_hi) or (share_w[c] < s_lo and imp_w[c] < i_lo)
        s_status = _status(sb is not None and ib is not None and bool(own), s_eff, *limits["attribution_share"])

        dist = float(wasserstein_distance(vw[:, j], vb[:, j])) / total if w and n else float("nan")
        d_vals = [_rescaled_distance(vb[ix, j], np.delete(vb[:, j], ix), max(w, 1), n) / total for ix in chunks]
        db = band_from_values(d_vals, rows_of, scales_with_size=False)
        d_hi = db.limits(None, sigmas)[1] if db else float("nan")
        d_status = _status(db is not None and dist > d_hi, dist, *limits["attribution_distance"])

        r_b = rel_b.get(c, Reliance(float("nan"), float("nan"), 0))
        r_w = rel_w.get(c, Reliance(float("nan"), float("nan"), 0))
        if np.isfinite(r_b.value) and np.isfinite(r_w.value):
            sd = math.sqrt(od * (r_b.se ** 2 + r_w.se ** 2))
            r_lo, r_hi = r_b.value - sigmas * sd, r_b.value + sigmas * sd
            r_eff = abs(r_w.value - r_b.value)
            r_p = float(2 * norm.sf(r_eff / sd)) if sd > 0 else float("nan")
            r_status = _status(not (r_lo <= r_w.value <= r_hi), r_eff, *limits["attribution_reliance"])
        else:
            r_lo = r_hi = r_eff = r_p = float("nan")
            r_status = "ok"

        comps = {"attribution_reliance": (r_status, r_eff), "attribution_distance": (d_status, dist),
                 "attribution_share": (s_status, s_eff)}
        worst = max(SEVERITY[s] for s, _ in comps.values())
        if worst > 0:
            method = next(m for m in _METHOD_ORDER if SEVERITY[comps[m][0]] == worst)
        else:  # all ok: report the figure closest to its alert floor
            method = max((m for m in _METHOD_ORDER if np.isfinite(comps[m][1])),
                         key=lambda m: comps[m][1] / limits[m][1], default="attribution_distance")
        status, effect = comps[method]
        out.append(FeatureAttributionDrift(
            feature=c, status=status, method=method, effect=float(effect), threshold=limits[method][1],
            rank_baseline=int(rank_b[c]), rank_window=int(rank_w[c]),
            importance_baseline=float(imp_b[c]), importance_window=float(imp_w[c]),
            share_baseline=float(share_b[c]), share_window=float(share_w[c]), share_low=float(s_lo),
            share_high=float(s_hi), share_status=s_status, distance=dist, distance_high=float(d_hi),
            distance_status=d_status, reliance_baseline=float(r_b.value), reliance_window=float(r_w.value),
            reliance_low=float(r_lo), reliance_high=float(r_hi), reliance_p=float(r_p), reliance_status=r_status,
            mean_baseline=float(baseline.values[c].mean()) if n else float("nan"),
            mean_window=float(window.values[c].mean()) if w else float("nan")))
    return AttributionDriftResult(
        features=out, baseline=baseline, window=window, baseline_target=yb, window_target=yw, task=task,
        thresholds=limits, sigmas=sigmas, overdispersion=od, chunks=len(chunks),
        labelled_window_rows=int(np.isfinite(yw).sum()) if yw is not None else 0,
        labelled_baseline_rows=int(np.isfinite(yb).sum()) if yb is not None else 0)


# --------------------------------------------------------------------------- cohorts

@dataclass(frozen=True)
class CohortSpec:
    """A cohort selection: a pandas query, the top/bottom N scores, or a segment level."""

    kind: str                 # "query", "top", "bottom" or "segment"
    text: str                 # as given, for display
    source: str = "parameter"  # or "concept_drift"
    query: str | None = None
    n: int | None = None
    column: str | None = None
    level: Any = None

    @property
    def label(self) -> str:
        if self.kind in ("top", "bottom"):
            return f"{self.kind} {self.n:,} scores"
        if self.kind == "segment":
            return f"{self.column} == {self.level!r}"
        return str(self.query)


_TOP = re.compile(r"^\s*(top|bottom)\s*:\s*(\S*)\s*$", re.IGNORECASE)


def parse_cohort(spec: str | None, concept_artefacts: Mapping[str, Any] | None = None) -> CohortSpec | None:
    """Turn the notebook's ``cohort`` parameter into a :class:`CohortSpec`.

    Parameters
    ----------
    spec : str
        A pandas query string (``device == "mobile" and price > 40``), ``top:N`` or
        ``bottom:N`` (the N highest / lowest scores), ``worst_segment`` (the worst segment
        the concept-drift notebook recorded in this run), or empty: the worst segment
        when one was recorded, else no cohort.
    concept_artefacts : mapping, optional
        ``ctx.artefact("concept_drift")``; its ``worst_segment`` entry is either a query
        string or a mapping with ``query``, or ``column`` (also ``segment``/``feature``)
        and ``level`` (also ``value``).

    Returns
    -------
    CohortSpec or None
        None when no cohort is asked for and none was recorded.

    Raises
    ------
    CohortError
        For a malformed ``top:``/``bottom:`` count, or ``worst_segment`` when none was recorded.

    Examples
    --------
    >>> parse_cohort("top:50").n
    50
    >>> parse_cohort('device == "mobile"').kind
    'query'
    >>> parse_cohort("", {"worst_segment": {"column": "device", "level": "mobile"}}).label
    "device == 'mobile'"
    """
    text = "" if spec is None else str(spec).strip()
    if not text or text.lower() == "worst_segment":
        found = _worst_segment(concept_artefacts or {})
        if found is None and text:
            raise CohortError("cohort 'worst_segment': the concept_drift notebook recorded no worst segment in this "
                              "run; run it in the same run (-n concept_drift -n explainability) or pass a query")
        return found
    m = _TOP.match(text)
    if m:
        kind, count = m.group(1).lower(), m.group(2)
        if not count.isdigit() or int(count) < 1:
            raise CohortError(f"The 'cohort' parameter {kind}:N needs a whole number N >= 1. Got {text!r} instead.")
        return CohortSpec(kind=kind, text=text, n=int(count))
    return CohortSpec(kind="query", text=text, query=text)


def _worst_segment(artefacts: Mapping[str, Any]) -> CohortSpec | None:
    ws = artefacts.get("worst_segment")
    if not ws:
        return None
    if isinstance(ws, str):
        return CohortSpec(kind="query", text=ws, query=ws, source="concept_drift")
    if isinstance(ws, Mapping):
        if ws.get("query"):
            return CohortSpec(kind="query", text=str(ws["query"]), query=str(ws["query"]), source="concept_drift")
        col = ws.get("column") or ws.get("segment") or ws.get("feature")
        level = ws.get("level", ws.get("value"))
        if col is not None and level is not None:
            return CohortSpec(kind="segment", text=f"{col} == {level}", column=str(col), level=level,
                              source="concept_drift")
    logger.warning("concept_drift artefact 'worst_segment' has an unknown shape: %r", ws)
    return None


def cohort_mask(frame: pd.DataFrame, spec: CohortSpec, score: np.ndarray | None = None,
                share: float | None = None) -> np.ndarray:
    """Which rows of a frame belong to the cohort.

    Parameters
    ----------
    frame : DataFrame
        Rows to select from.
    spec : CohortSpec
        The cohort.
    score : ndarray, optional
        The score per row (needed for ``top``/``bottom``).
    share : float, optional
        For ``top``/``bottom``: select this share of the rows instead of N (used at
        baseline, so that the baseline cohort is the same share of its sample).

    Raises
    ------
    CohortError
        When the query cannot be evaluated or does not give True/False per row, a segment
        column is missing, or no score is given for ``top``/``bottom``.
    """
    if spec.kind == "query":
        try:
            result = frame.eval(spec.query, local_dict={}, global_dict={})
        except Exception as exc:  # pandas raises SyntaxError, NameError, TypeError, ... for bad queries
            msg = " ".join(str(exc).split()) or type(exc).__name__
            raise CohortError(f"cohort query {spec.query!r} could not be evaluated: {type(exc).__name__}: {msg}"
                              ) from exc
        arr = np.asarray(result)
        if arr.shape != (len(frame),) or not (arr.dtype == bool or pd.api.types.is_bool_dtype(arr.dtype)):
            raise CohortError(f"cohort query {spec.query!r} does not give True/False for each row "
                              f"(got {getattr(arr, 'dtype', type(result))} values); write a comparison such as "
                              f"device == \"mobile\"")
        return np.asarray(pd.Series(arr).fillna(False), dtype=bool)
    if spec.kind == "segment":
        if spec.column not in frame.columns:
            raise CohortError(f"cohort segment column {spec.column!r} is not a column of the data")
        return (frame[spec.column].astype(object).astype(str) == str(spec.level)).to_numpy()
    if score is None:
        raise CohortError(f"cohort {spec.text!r} needs a score per row; the model's prediction column is missing")
    s = np.asarray(score, dtype=float)
    k = min(len(s), spec.n) if share is None else min(len(s), int(math.ceil(share * len(s))))
    order = np.argsort(-s if spec.kind == "top" else s, kind="stable")
    mask = np.zeros(len(s), dtype=bool)
    mask[order[:k]] = True
    return mask


@dataclass
class CohortComparison:
    """A cohort's attributions now against the same cohort at baseline."""

    spec: CohortSpec
    baseline: Attribution = field(repr=False)
    window: Attribution = field(repr=False)
    baseline_rows: int
    window_rows: int
    baseline_total: int
    window_total: int
    baseline_target: np.ndarray | None = field(default=None, repr=False)
    window_target: np.ndarray | None = field(default=None, repr=False)
    task: str = "binary_classification"
    window_size: int = 0

    @property
    def units(self) -> str:
        return self.window.units

    def to_df(self) -> pd.DataFrame:
        """Per feature: mean |SHAP|, share and mean SHAP in the cohort at baseline and now."""
        cols = list(self.window.values.columns)
        nan = pd.Series(np.nan, index=cols)

        def figures(attr: Attribution) -> tuple[pd.Series, pd.Series, pd.Series]:
            if not len(attr):
                return nan, nan, nan
            return attr.values.abs().mean(), attr.shares(), attr.values.mean()

        (imp_b, share_b, mean_b), (imp_w, share_w, mean_w) = figures(self.baseline), figures(self.window)
        df = pd.DataFrame({
            "feature": cols,
            "mean |SHAP| baseline": imp_b.reindex(cols).to_numpy(), "mean |SHAP| now": imp_w.reindex(cols).to_numpy(),
            "share baseline": share_b.reindex(cols).to_numpy(), "share now": share_w.reindex(cols).to_numpy(),
            "mean SHAP baseline": mean_b.reindex(cols).to_numpy(), "mean SHAP now": mean_w.reindex(cols).to_numpy(),
        })
        df["change of mean |SHAP|"] = df["mean |SHAP| now"] - df["mean |SHAP| baseline"]
        return df.sort_values("mean |SHAP| now", ascending=False, kind="stable").reset_index(drop=True)

    def table_df(self) -> pd.DataFrame:
        """:meth:`to_df` formatted for reading (SHAP figures in :attr:`units`, 3 decimals)."""
        df = self.to_df()

        def num(v, signed=False):
            return "" if not np.isfinite(v) else (f"{v:+.3f}" if signed else f"{v:.3f}")

        return pd.DataFrame({
            "feature": df["feature"],
            "mean |SHAP| base": df["mean |SHAP| baseline"].map(num), "mean |SHAP| now": df["mean |SHAP| now"].map(num),
            "share base": df["share baseline"].map(lambda v: "" if not np.isfinite(v) else f"{v:.1%}"),
            "share now": df["share now"].map(lambda v: "" if not np.isfinite(v) else f"{v:.1%}"),
            "mean SHAP base": df["mean SHAP baseline"].map(lambda v: num(v, True)),
            "mean SHAP now": df["mean SHAP now"].map(lambda v: num(v, True)),
        })

    def sentences(self) -> list[str]:
        """The comparison in words (plain text: escape before display)."""
        label, u = self.spec.label, self.units
        src = (" (the worst segment recorded by the concept-drift notebook)"
               if self.spec.source == "concept_drift" else "")
        share = f" ({self.window_total / self.window_size:.1%} of the window)" if self.window_size else ""
        out = [f"Cohort {label}{src}: {self.window_total:,} window rows{share} and {self.baseline_total:,} rows of "
               f"the baseline sample; {self.window_rows:,} and {self.baseline_rows:,} of them explained."]
        if self.window_total == 0:
            out.append("The cohort is empty in this window: there is nothing to explain.")
            return out
        if self.baseline_total == 0:
            out.append("The cohort is empty in the baseline sample, so there is no baseline to compare with; "
                       "its attributions now are shown on their own.")
            return out
        if min(self.window_rows, self.baseline_rows) < MIN_COHORT_ROWS:
            out.append(f"With fewer than {MIN_COHORT_ROWS} rows on one side the figures below are anecdotal.")
        df = self.to_df().set_index("feature")
        total_b = float(df["mean |SHAP| baseline"].sum()) or 1.0
        ratio = (df["mean |SHAP| now"] + 1e-12) / (df["mean |SHAP| baseline"] + 1e-12)
        dshare = df["share now"] - df["share baseline"]
        moved = []
        up = dshare.idxmax()
        if ratio[up] >= 1.25 and dshare[up] >= 0.03:
            how = "far more" if ratio[up] >= 2 and dshare[up] >= 0.10 else "more"
            moved.append(f"In this cohort the model now leans on {up} {how} than at baseline (mean |SHAP| "
                         f"{df.loc[up, 'mean |SHAP| baseline']:.3f} → {df.loc[up, 'mean |SHAP| now']:.3f} {u}, "
                         f"{df.loc[up, 'share baseline']:.0%} → {df.loc[up, 'share now']:.0%} of its attribution).")
        down = dshare.idxmin()
        if ratio[down] <= 0.8 and dshare[down] <= -0.03:
            how = "far less" if ratio[down] <= 0.5 and dshare[down] <= -0.10 else "less"
            moved.append(f"It leans on {down} {how} than at baseline ({df.loc[down, 'share baseline']:.0%} → "
                         f"{df.loc[down, 'share now']:.0%} of its attribution).")
        dmean = df["mean SHAP now"] - df["mean SHAP baseline"]
        big = dmean.abs().idxmax()
        if abs(dmean[big]) >= 0.05 * total_b:
            now, then = df.loc[big, "mean SHAP now"], df.loc[big, "mean SHAP baseline"]
            verb = "up" if now >= 0 else "down"
            moved.append(f"{big} now pushes this cohort's predictions {verb} by {abs(now):.3f} {u} on average "
                         f"(at baseline: {_signed(then)}).")
        if not moved:
            moved.append("The model weighs the features in this cohort much as it did at baseline: no feature's "
                         "share of the attribution moved by 3 points or more.")
        out.extend(moved)
        out.extend(self._outcome_sentences())
        return out

    def _outcome_sentences(self) -> list[str]:
        if self.task not in ("binary_classification", "regression") or self.window_target is None \
                or self.baseline_target is None or self.window.output is None or self.baseline.output is None:
            return []
        out = []
        best = None
        for c in self.window.values.columns:
            rb = reliance(self.baseline.output, self.baseline.values[c].to_numpy(), self.baseline_target, self.task)
            rw = reliance(self.window.output, self.window.values[c].to_numpy(), self.window_target, self.task)
            if not (np.isfinite(rb.value) and np.isfinite(rw.value)):
                continue
            z = abs(rw.value - rb.value) / math.sqrt(rb.se ** 2 + rw.se ** 2)
            big = abs(rw.value - rb.value) >= METHODS["attribution_reliance"].alert
            if z >= band_sigmas(len(self.window.values.columns)) and big:
                if best is None or z > best[0]:
                    best = (z, c, rb.value, rw.value)
        if best:
            out.append(f"Outcomes in this cohort no longer follow the model's use of {best[1]} (outcome reliance "
                       f"{best[2]:.2f} at baseline, {best[3]:.2f} now).")
        return out

    def plot(self):
        """Mean SHAP per feature in the cohort, baseline against now."""
        from . import plots

        return plots.attribution_cohort(self)

    def _repr_html_(self) -> str:
        from .display import format_table

        return format_table(self.to_df(), percent=["share baseline", "share now"])


# --------------------------------------------------------------------------- local explanations

@dataclass(frozen=True)
class LocalExplanation:
    """Why one row got its prediction: base value + contributions = model output."""

    row_id: str
    values: pd.Series            # raw feature values
    contributions: pd.Series     # attribution per feature, in units
    base_value: float
    output: float
    units: str
    task: str
    label: float | None
    loss: float | None
    reason: str

    @property
    def prediction(self) -> float:
        """The prediction in the model's terms (probability for classifiers)."""
        if self.units == "log-odds":
            return float(1 / (1 + math.exp(-self.output)))
        return float(self.output)

    def headline(self) -> str:
        """One line: which row, why it was picked, what the model said and what happened (plain text)."""
        pred = (f"predicted probability {self.prediction:.3f}" if self.units == "log-odds"
                else f"predicted {self.output:.4g}")
        seen = "" if self.label is None else f", observed {self.label:g}"
        loss = "" if self.loss is None else f" (loss {self.loss:.2f})"
        return f"{self.row_id}: {self.reason}{loss}: {pred}{seen}."

    def to_df(self) -> pd.DataFrame:
        """Feature, its raw value and its contribution, largest |contribution| first."""
        order = self.contributions.abs().sort_values(ascending=False).index
        return pd.DataFrame({"feature": list(order),
                             "value": [_fmt_value(self.values[c]) for c in order],
                             f"contribution ({self.units})": self.contributions[order].to_numpy()})

    def plot(self, max_features: int = 8):
        """A waterfall: from the base value, each feature's contribution, to the output."""
        from . import plots

        return plots.attribution_waterfall(self, max_features=max_features)

    def _repr_html_(self) -> str:
        import html

        from .display import format_table

        return f"<p>{html.escape(self.headline())}</p>" + format_table(self.to_df())


def _signed(v: float) -> str:
    return "0.000" if abs(v) < 5e-4 else f"{v:+.3f}"


def _fmt_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "(missing)"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def surprising(attr: Attribution, target: Any = None, k: int = TOP_SURPRISING, task: str = "binary_classification",
               ids: Sequence[Any] | None = None) -> list[LocalExplanation]:
    """The most surprising predictions among explained rows.

    With labels: the largest loss (log loss for classifiers, squared error for
    regressors) among labelled rows. Without: the scores furthest from the base value.

    Parameters
    ----------
    attr : Attribution
        Attributions of the rows, with their output and raw values.
    target : array-like, optional
        Outcomes of the rows (NaN where unknown).
    k : int
        How many rows.
    task : str
        The model's task.
    ids : sequence, optional
        A display id per row (request ids); positions in the window otherwise.
    """
    n = len(attr)
    if n == 0 or attr.output is None:
        return []
    y = _target_array(target, n) if target is not None else np.full(n, np.nan)
    out = attr.output
    lab = np.isfinite(y)
    if lab.any() and task in ("binary_classification", "regression"):
        if task == "regression":
            loss = (y - out) ** 2
            reason = "largest squared error"
        else:
            p = np.clip(1 / (1 + np.exp(-out)), 1e-15, 1 - 1e-15)
            loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
            reason = "largest log loss"
        score = np.where(lab, loss, -np.inf)
    else:
        loss = np.full(n, np.nan)
        score = np.abs(out - attr.base_value)
        reason = "most extreme score (no labels yet)"
    order = np.argsort(-score, kind="stable")[:k]
    rows = []
    for pos in order:
        if not np.isfinite(score[pos]):
            continue
        rid = str(ids[pos]) if ids is not None else f"row {attr.values.index[pos]}"
        rows.append(LocalExplanation(
            row_id=rid, values=attr.data.iloc[pos] if attr.data is not None else pd.Series(dtype=object),
            contributions=attr.values.iloc[pos], base_value=attr.base_value, output=float(out[pos]),
            units=attr.units, task=task, label=None if not lab[pos] else float(y[pos]),
            loss=None if not np.isfinite(loss[pos]) else float(loss[pos]), reason=reason))
    return rows


# --------------------------------------------------------------------------- dependence

@dataclass(frozen=True)
class Dependence:
    """How the model responds to one feature, at baseline and in the window."""

    feature: str
    kind: str                       # "numeric" or "categorical"
    baseline_values: pd.Series = field(repr=False)
    baseline_shap: np.ndarray = field(repr=False)
    window_values: pd.Series = field(repr=False)
    window_shap: np.ndarray = field(repr=False)
    units: str = "log-odds"

    def region(self) -> tuple[float, float]:
        """The baseline's central 98% of the feature (numeric)."""
        v = pd.to_numeric(self.baseline_values, errors="coerce").dropna().to_numpy()
        if len(v) == 0:
            return float("nan"), float("nan")
        lo, hi = np.quantile(v, [0.01, 0.99])
        return float(lo), float(hi)

    def to_df(self) -> pd.DataFrame:
        """Numeric: rows and mean SHAP inside / below / above the baseline's central 98%.
        Categorical: share of rows and mean SHAP per level."""
        rows = []
        if self.kind == "numeric":
            lo, hi = self.region()
            for side, vals, phi in (("baseline", self.baseline_values, self.baseline_shap),
                                    ("window", self.window_values, self.window_shap)):
                v = pd.to_numeric(vals, errors="coerce").to_numpy(dtype=float)
                for name, sel in ((f"below {lo:.4g}", v < lo), (f"{lo:.4g} … {hi:.4g}", (v >= lo) & (v <= hi)),
                                  (f"above {hi:.4g}", v > hi)):
                    rows.append({"side": side, "region": name, "share of rows": float(sel.mean()) if len(v) else np.nan,
                                 f"mean SHAP ({self.units})": float(phi[sel].mean()) if sel.any() else np.nan})
        else:
            for side, vals, phi in (("baseline", self.baseline_values, self.baseline_shap),
                                    ("window", self.window_values, self.window_shap)):
                s = vals.astype(object).where(vals.notna(), "(missing)").astype(str).to_numpy()
                for level in sorted(set(s)):
                    sel = s == level
                    rows.append({"side": side, "region": level, "share of rows": float(sel.mean()),
                                 f"mean SHAP ({self.units})": float(phi[sel].mean())})
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        wide = df.pivot(index="region", columns="side")
        wide.columns = [f"{value} {side}" for value, side in wide.columns]
        order = list(dict.fromkeys(df["region"]))  # below, inside, above (or levels) as built
        return wide.reindex(order).reset_index()

    def sentence(self) -> str:
        """Where the window moved and how the model responds there (plain text)."""
        u = self.units
        if self.kind == "numeric":
            lo, hi = self.region()
            v = pd.to_numeric(self.window_values, errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(self.baseline_values, errors="coerce").to_numpy(dtype=float)
            parts = []
            for name, sel_w, sel_b in (("above", v > hi, b > hi), ("below", v < lo, b < lo)):
                if sel_w.mean() >= 0.02 and sel_w.mean() >= 2 * max(sel_b.mean(), 1e-9):
                    parts.append(f"{sel_w.mean():.0%} of the window's rows are {name} the baseline's central 98% "
                                 f"({lo:.4g} … {hi:.4g}; {sel_b.mean():.0%} at baseline); there the model's "
                                 f"contribution of {self.feature} averages {self.window_shap[sel_w].mean():+.3f} {u}")
            med_b, med_w = np.nanmedian(b) if len(b) else np.nan, np.nanmedian(v) if len(v) else np.nan
            head = (f"The median of {self.feature} moved from {med_b:.4g} to {med_w:.4g}; its mean contribution from "
                    f"{self.baseline_shap.mean():+.3f} to {self.window_shap.mean():+.3f} {u}.")
            return head + ("" if not parts else " " + "; ".join(parts) + ".")
        s_w = self.window_values.astype(object).astype(str)
        s_b = self.baseline_values.astype(object).astype(str)
        shares_w, shares_b = s_w.value_counts(normalize=True), s_b.value_counts(normalize=True)
        diff = shares_w.sub(shares_b, fill_value=0)
        level = diff.abs().idxmax() if len(diff) else None
        if level is None:
            return f"{self.feature}: no rows to compare."
        phi = self.window_shap[(s_w == level).to_numpy()]
        mean = f"{phi.mean():+.3f} {u}" if len(phi) else "n/a"
        return (f"The share of {self.feature} = {level} moved from {shares_b.get(level, 0):.0%} to "
                f"{shares_w.get(level, 0):.0%}; the model's contribution for those rows averages {mean}; the mean "
                f"contribution of {self.feature} moved from {self.baseline_shap.mean():+.3f} to "
                f"{self.window_shap.mean():+.3f} {u}.")

    def plot(self):
        """SHAP value against feature value, baseline points against window points."""
        from . import plots

        return plots.attribution_dependence(self)

    def _repr_html_(self) -> str:
        import html

        from .display import format_table

        return f"<p>{html.escape(self.sentence())}</p>" + format_table(self.to_df())


def dependence(baseline: Attribution, window: Attribution, feature: str, kind: str) -> Dependence:
    """The dependence data of one feature (raw values and SHAP values on both sides)."""
    if baseline.data is None or window.data is None:
        raise UsageError("dependence needs attributions that carry their rows' raw values")
    return Dependence(feature=feature, kind=kind, baseline_values=baseline.data[feature],
                      baseline_shap=baseline.values[feature].to_numpy(), window_values=window.data[feature],
                      window_shap=window.values[feature].to_numpy(), units=window.units)


# --------------------------------------------------------------------------- LIME cross-check

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
        from lime.lime_tabular import LimeTabularExplainer
    except ImportError as exc:
        raise ImportError("the LIME cross-check needs the lime package: pip install 'mlmon-nb[lime]'") from exc
    cols = list(explainer.columns)
    row = pd.DataFrame([local.values.reindex(cols).to_numpy()], columns=cols)
    codec = _Codec([background.loc[:, cols], row], cols)
    train = codec.encode(background.loc[:, cols])
    train = np.where(np.isfinite(train), train, np.nanmedian(train, axis=0))
    x = codec.encode(row)[0]
    x = np.where(np.isfinite(x), x, np.nanmedian(train, axis=0))
    lime = LimeTabularExplainer(train, mode="regression", feature_names=cols,
                                categorical_features=codec.categorical,
                                categorical_names={i: codec.levels[cols[i]] for i in codec.categorical},
                                discretize_continuous=True, random_state=seed)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        exp = lime.explain_instance(x, lambda z: explainer._output(codec.decode(z)), num_features=len(cols),
                                    num_samples=num_samples)
    found = exp.as_map()
    weights = dict(found[1] if 1 in found else next(iter(found.values())))  # regression: 1 = as fitted, 0 = negated
    df = pd.DataFrame({"feature": cols, "LIME weight": [float(weights.get(i, 0.0)) for i in range(len(cols))],
                       f"SHAP ({local.units})": local.contributions.reindex(cols).to_numpy()})
    df["same sign"] = np.sign(df["LIME weight"]) == np.sign(df[f"SHAP ({local.units})"])
    return df.reindex(df["LIME weight"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def lime_agreement(df: pd.DataFrame, top: int = 3) -> str:
    """One sentence on how far LIME agrees with SHAP on a row (plain text)."""
    shap_col = next(c for c in df.columns if c.startswith("SHAP"))
    top_lime = list(df["feature"].head(top))
    top_shap = list(df.reindex(df[shap_col].abs().sort_values(ascending=False).index)["feature"].head(top))
    shared = [f for f in top_lime if f in top_shap]
    signs = int(df[df["feature"].isin(shared)]["same sign"].sum())
    return (f"LIME and SHAP share {len(shared)} of their top {top} features "
            f"({', '.join(shared) if shared else 'none'}), with the same direction for {signs} of them.")


# --------------------------------------------------------------------------- the window, end to end

@dataclass
class WindowExplanation:
    """Everything the explainability notebook shows for one window (see :func:`explain_window`)."""

    explainer: Explainer | None
    max_rows: int
    seed: int
    task: str
    units: str = "log-odds"
    baseline: Attribution | None = field(default=None, repr=False)
    window: Attribution | None = field(default=None, repr=False)
    drift: AttributionDriftResult | None = None
    cohort_spec: CohortSpec | None = None
    cohort: CohortComparison | None = None
    cohort_error: str | None = None
    local: list[LocalExplanation] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    drifted_source: str = ""
    dependence: dict[str, Dependence] = field(default_factory=dict)
    window_total: int = 0
    baseline_total: int = 0
    notes: list[str] = field(default_factory=list)
    cannot: list[str] = field(default_factory=list)
    background: pd.DataFrame | None = field(default=None, repr=False)

    def setup_df(self) -> pd.DataFrame:
        """How the attributions were computed: explainer, units, sample sizes, seed, additivity."""
        if self.explainer is None:
            return pd.DataFrame(columns=["what", "value"])
        rows = [("explainer", self.explainer.label), ("why", self.explainer.reason),
                ("attribution units", f"{self.units} (base value + sum of a row's SHAP values = model output)"),
                ("window rows explained", f"{len(self.window):,} of {self.window_total:,} (seeded sample, max_rows "
                                          f"{self.max_rows:,})"),
                ("baseline rows explained", f"{len(self.baseline):,} of the baseline sample's {self.baseline_total:,} "
                                            f"(up to {self.explainer.baseline_factor} × the window cap, in time "
                                            f"order for the bands)"),
                ("seed", str(self.seed))]
        if self.drift is not None:
            rows.append(("labelled rows (outcome reliance)", f"{self.drift.labelled_window_rows:,} window, "
                                                             f"{self.drift.labelled_baseline_rows:,} baseline"))
            rows.append(("bands", f"{self.drift.chunks} time-ordered baseline chunks, ± {self.drift.sigmas:.2f} sd; "
                                  f"reliance over-dispersion {self.drift.overdispersion:.2f}"))
        if self.background is not None and self.explainer.kind == "permutation":
            rows.append(("background rows", f"{len(self.background):,} from the baseline sample"))
        err = max(self.window.additivity_error(), self.baseline.additivity_error())
        rows.append(("additivity check", f"max |base + Σ SHAP − model output| = {err:.2g} {self.units}"))
        return pd.DataFrame(rows, columns=["what", "value"])

    def record(self, recorder) -> None:
        """Record the attribution-drift checks, findings and what could not be done."""
        if self.drift is not None:
            self.drift.record(recorder)
        for what in self.cannot:
            recorder.cannot(what)
        recorder.verdict(self.verdict())

    def verdict(self) -> str:
        """One sentence on the window's attributions."""
        if self.drift is None:
            return ("Explainability could not run: " + (self.cannot[0] if self.cannot else "nothing to explain") +
                    ("" if not self.cannot or self.cannot[0].endswith(".") else "."))
        n = len(self.drift.features)
        rel = self.drift.flagged("warn", "attribution_reliance")
        moved = [f for f in self.drift.flagged("warn") if f not in rel]
        size = f"{len(self.window):,} window and {len(self.baseline):,} baseline rows explained"
        if not rel and not moved:
            return (f"No attribution drift: the model's reasoning on this window matches the baseline for all {n} "
                    f"features ({size}).")
        parts = []
        by = {f.feature: f for f in self.drift.features}
        if rel:
            parts.append("outcomes no longer follow the model's use of " + ", ".join(
                f"{f} (outcome reliance {by[f].reliance_baseline:.2f} → {by[f].reliance_window:.2f}: its effect "
                f"{'reversed' if by[f].reliance_window < 0 else 'changed'})" for f in rel[:3]))
        if moved:
            because = all(f in self.drifted for f in moved)
            names = ", ".join(moved[:4]) + ("…" if len(moved) > 4 else "")
            why = (", whose inputs drifted" if len(moved) > 1 else ", whose input drifted") if because else ""
            parts.append(("its" if rel else "the model's") + f" attributions moved for {names}{why}")
        return f"Attribution drift in {len(rel) + len(moved)} of {n} features: {' and '.join(parts)} ({size})."

    def plot(self, kind: str, feature: str | None = None):
        """Figures: ``importance``, ``reliance``, ``outcome``, ``dependence``, ``cohort``."""
        if kind in ("importance", "reliance", "outcome"):
            return self.drift.plot(kind, feature=feature)
        if kind == "dependence":
            return self.dependence[feature].plot()
        if kind == "cohort":
            return self.cohort.plot()
        raise UsageError(f"The 'kind' parameter of WindowExplanation.plot must be one of importance, reliance, "
                         f"outcome, dependence, cohort. Got {kind!r} instead.")

    def to_df(self) -> pd.DataFrame:
        """The attribution-drift figures, one row per feature (empty when nothing was explained)."""
        return self.drift.to_df() if self.drift is not None else pd.DataFrame()

    def _repr_html_(self) -> str:
        import html

        from .display import format_table

        return f"<p><b>{html.escape(self.verdict())}</b></p>" + format_table(self.setup_df())

    def lime(self, local: LocalExplanation, num_samples: int = 1000) -> pd.DataFrame:
        """LIME beside SHAP for one row (raises ImportError naming the extra when lime is missing)."""
        bg = self.background if self.background is not None else self.baseline.data
        return lime_check(self.explainer, local, bg, seed=self.seed, num_samples=num_samples)


def _sample_positions(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


def drifted_features(ctx, columns: Sequence[str]) -> tuple[list[str], str]:
    """Features that drifted in the window (alerting first), and where that came from.

    From the data-drift notebook of the same run when it ran (its ``data_drift``
    artefact: ``alerting_features`` then ``warning_features``); otherwise recomputed with
    :func:`mlmon_nb.drift.univariate`, the data-drift notebook's own rule, at warn or above.
    """
    from . import drift

    recorded = ctx.artefact("data_drift").get("data_drift")
    if isinstance(recorded, Mapping):
        listed = [*(recorded.get("alerting_features") or []), *(recorded.get("warning_features") or [])]
        return [str(f) for f in listed if str(f) in columns], "the data-drift notebook of this run"
    res = drift.univariate(ctx.baseline, ctx.frame, features=ctx.features, thresholds=ctx.thresholds)
    return [f for f in res.drifted("warn") if f in columns], "the data-drift rule, recomputed here"


def explain_window(ctx, *, max_rows: int = MAX_ROWS, seed: int = 0, cohort: str = "",
                   top: int = TOP_SURPRISING) -> WindowExplanation:
    """Explain a window against its baseline: global, drift, cohort, local and dependence.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    max_rows : int
        Window rows explained at most (a seeded sample); the baseline side explains up to
        ``BASELINE_FACTOR`` times as many rows of the baseline sample, for the bands (the
        model-agnostic explainer: at most ``AGNOSTIC_MAX_ROWS`` and twice as many).
    seed : int
        Seed of every sample and of the permutation explainer.
    cohort : str
        See :func:`parse_cohort`.
    top : int
        Surprising predictions to explain one by one.

    Raises
    ------
    UsageError
        For a bad ``max_rows`` or ``seed``. A bad cohort does not raise: it is reported
        in ``cohort_error`` and recorded as something the notebook could not do.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 50:
        raise UsageError(f"The 'max_rows' parameter of explain_window must be an int >= 50. Got {max_rows!r} instead.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"The 'seed' parameter of explain_window must be an int >= 0. Got {seed!r} instead.")
    max_rows, seed = int(max_rows), int(seed)
    rng = np.random.default_rng(seed)
    mcfg = ctx.model
    task = mcfg.task
    frame = ctx.frame
    base_sample = ctx.baseline.sample
    out = WindowExplanation(explainer=None, max_rows=max_rows, seed=seed, task=task,
                            window_total=len(frame), baseline_total=len(base_sample))
    if ctx.estimator is None:
        out.cannot.append(f"No model file for version {ctx.version.name}: set models.{mcfg.name}.versions."
                          f"{ctx.version.name}.model in mlmon.yaml to explain its predictions.")
        return out
    if len(frame) == 0:
        out.cannot.append("The window holds no rows of this version: nothing to explain.")
        return out
    columns = list(ctx.estimator.features) or [*ctx.features.numeric, *ctx.features.categorical]
    missing = [c for c in columns if c not in base_sample.columns or c not in frame.columns]
    if missing:
        out.cannot.append(f"The model's feature columns {', '.join(missing)} are missing from the window or the "
                          f"baseline sample: attributions need every feature the model takes.")
        return out
    if task == "multiclass_classification":
        out.notes.append("Multiclass model: attributions explain the last class's margin; outcome reliance "
                         "(which needs a single score) is not computed.")
    if mcfg.timestamp in base_sample.columns:
        base_sample = base_sample.sort_values(mcfg.timestamp, kind="stable")
    background = base_sample.iloc[_sample_positions(len(base_sample), BACKGROUND_ROWS, rng)]
    explainer = make_explainer(ctx.estimator, columns, background=background, seed=seed)
    out.explainer, out.units, out.background = explainer, explainer.units, background
    cap = explainer.row_cap(max_rows)
    if explainer.kind == "permutation":
        out.notes.append(f"{explainer.reason}: the model-agnostic explainer is slow, so at most {cap:,} window rows "
                         f"(and {explainer.baseline_factor * cap:,} baseline rows) are explained.")
    b_pos = _sample_positions(len(base_sample), explainer.baseline_factor * cap, rng)
    w_pos = _sample_positions(len(frame), cap, rng)
    base_rows, win_rows = base_sample.iloc[b_pos], frame.iloc[w_pos]
    out.baseline = explainer.explain(base_rows)
    out.window = explainer.explain(win_rows)
    err = max(out.window.additivity_error(), out.baseline.additivity_error())
    if np.isfinite(err) and err > 1e-3 * max(1.0, float(np.max(np.abs(out.window.output)))):
        out.notes.append(f"Additivity is off by up to {err:.3g} {out.units}: the attributions do not add up exactly "
                         f"to the model's output.")

    target = mcfg.target
    has_target = target in frame.columns and task != "multiclass_classification"
    yb = base_rows[target].to_numpy(dtype=object) if has_target and target in base_rows.columns else None
    yw = win_rows[target].to_numpy(dtype=object) if has_target else None
    out.drift = attribution_drift(out.baseline, out.window, baseline_target=yb, window_target=yw, task=task,
                                  thresholds=ctx.thresholds)
    if task != "multiclass_classification" and out.drift.labelled_window_rows < MIN_RELIANCE_ROWS:
        out.cannot.append(
            f"Outcome reliance (the labelled part of attribution drift, which detects concept drift) needs at least "
            f"{MIN_RELIANCE_ROWS} labelled rows in the explained sample; {out.drift.labelled_window_rows} of "
            f"{len(out.window):,} have '{target}'" + (f" (labels join late from models.{mcfg.name}.labels)."
                                                      if mcfg.labels else "."))

    # Cohort
    try:
        out.cohort_spec = parse_cohort(cohort, ctx.artefact("concept_drift"))
        if out.cohort_spec is not None:
            out.cohort = _compare_cohort(out.cohort_spec, explainer, frame, base_sample, ctx, cap, rng, task)
    except CohortError as exc:
        out.cohort_error = str(exc)
        out.cannot.append(f"Cohort not analysed: {exc}")

    # Surprising predictions
    id_col = mcfg.operational.request_id if mcfg.operational and mcfg.operational.request_id else None
    ids = win_rows[id_col].astype(str).to_numpy() if id_col and id_col in win_rows.columns else None
    out.local = surprising(out.window, yw, k=top, task=task, ids=ids)

    # Dependence for drifted features
    out.drifted, out.drifted_source = drifted_features(ctx, columns)
    kinds = {**{c: "numeric" for c in ctx.features.numeric}, **{c: "categorical" for c in ctx.features.categorical}}
    for f in out.drifted[:MAX_DEPENDENCE]:
        kind = kinds.get(f, "numeric" if pd.api.types.is_numeric_dtype(frame[f]) else "categorical")
        out.dependence[f] = dependence(out.baseline, out.window, f, kind)
    return out


def _scores(ctx, frame: pd.DataFrame, column: str | None, explainer: Explainer) -> np.ndarray:
    if column and column in frame.columns:
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return explainer.output(frame)


def _compare_cohort(spec: CohortSpec, explainer: Explainer, frame: pd.DataFrame, base_sample: pd.DataFrame, ctx,
                    cap: int, rng: np.random.Generator, task: str) -> CohortComparison:
    scored = spec.kind in ("top", "bottom")
    if scored and task == "multiclass_classification":
        raise CohortError(f"cohort {spec.text!r}: top/bottom scores need a single score; pass a query instead")
    w_score = _scores(ctx, frame, ctx.model.prediction, explainer) if scored else None
    w_mask = cohort_mask(frame, spec, score=w_score)
    b_score = _scores(ctx, base_sample, ctx.baseline.prediction_column, explainer) if scored else None
    share = (int(w_mask.sum()) / len(frame)) if scored and len(frame) else None
    b_mask = cohort_mask(base_sample, spec, score=b_score, share=share)
    w_rows = frame[w_mask]
    b_rows = base_sample[b_mask]
    w_rows = w_rows.iloc[_sample_positions(len(w_rows), cap, rng)]
    b_rows = b_rows.iloc[_sample_positions(len(b_rows), cap, rng)]
    target = ctx.model.target
    has_target = target in frame.columns and task != "multiclass_classification"
    return CohortComparison(
        spec=spec, baseline=explainer.explain(b_rows), window=explainer.explain(w_rows),
        baseline_rows=len(b_rows), window_rows=len(w_rows), baseline_total=int(b_mask.sum()),
        window_total=int(w_mask.sum()),
        baseline_target=_target_array(b_rows[target].to_numpy(dtype=object), len(b_rows))
        if has_target and target in b_rows.columns else None,
        window_target=_target_array(w_rows[target].to_numpy(dtype=object), len(w_rows)) if has_target else None,
        task=task, window_size=len(frame))


