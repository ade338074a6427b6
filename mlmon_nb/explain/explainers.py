"""Explainers: SHAP values of a model's rows in raw feature space.

Tree models (scikit-learn trees and ensembles, LightGBM, XGBoost), also inside a
scikit-learn Pipeline whose preprocessing is a ColumnTransformer, are explained with
shap's TreeExplainer; the transformed columns (e.g. one-hot levels) are summed back to
the raw feature they came from. scikit-learn's linear models (regressors, binary
classifiers) the same way with shap's LinearExplainer (exact for a model linear in its
transformed columns: coefficient times the distance to the background's mean), also behind a
scaler. Any other model is explained with shap's
PermutationExplainer over the raw features, masking with a background sample of the
baseline. Classifiers are explained in log-odds of the explained class (probability
trees such as random forests are rescaled to log-odds row by row, which keeps
``base + sum(attributions) = output`` exact); regressors in the target's units.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..errors import UsageError
from ..models import LoadedModel, model_input
from .attributions import Attribution
from .codec import Codec
from .pipelines import column_groups, is_linear, is_tree, raw_groups, split_pipeline, tree_output

logger = logging.getLogger(__name__)

BASELINE_FACTOR = 5
"""Baseline rows explained per window row (the bands need several chunks of rows)."""
AGNOSTIC_BASELINE_FACTOR = 2
"""The same for the model-agnostic explainer, which is slow."""
AGNOSTIC_MAX_ROWS = 150
"""Window rows the model-agnostic explainer explains at most: it costs about
PERMUTATIONS * (2 * features + 1) * background rows model evaluations per row
(~50-100 ms per row for a small scikit-learn pipeline on this machine)."""
PERMUTATIONS = 5
EPS = 1e-9


#: shap's modules whose Numba functions the model-agnostic explainer compiles on first use.
JIT_MODULES = ("shap.links", "shap.maskers._tabular", "shap.utils._masked_model")


def import_shap():
    """Import shap (its tqdm import warns about missing ipywidgets inside notebooks: not our concern),
    with its Numba functions cached on disk (:func:`cache_jit`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        # here: shap takes seconds to import and only the explainability notebook needs it
        import shap
    cache_jit(JIT_MODULES)
    return shap


_jit_cached: set[str] = set()


def cache_jit(modules: Sequence[str]) -> int:
    """Turn on Numba's on-disk cache for the ``@njit`` functions of ``modules``; return how many.

    shap compiles its maskers' Numba functions without ``cache=True``, so every kernel that runs
    the model-agnostic explainer compiled them again: about 6 s of CPU per explainability notebook
    on this machine, against about 2 s to load them from the cache. ``Dispatcher.enable_caching``
    is what ``@njit(cache=True)`` calls; Numba keys the cache by the source file's timestamp
    (a shap upgrade recompiles) and writes it beside the source, or in the user's cache folder
    when that is read-only. Done before the first call (compilation happens at first call).
    """
    from numba.core.dispatcher import Dispatcher  # here: numba is shap's dependency, loaded by it already

    n = 0
    for name in modules:
        if name in _jit_cached:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:  # another shap version: it compiles as before
            continue
        for value in vars(module).values():
            if isinstance(value, Dispatcher):
                value.enable_caching()
                n += 1
        _jit_cached.add(name)
    return n


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1.

    Examples
    --------
    >>> logit(np.array([0.5])).tolist()
    [0.0]
    """
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _class_position(estimator: Any, class_index: int) -> int:
    classes = getattr(estimator, "classes_", None)
    n = len(classes) if classes is not None else 2
    return class_index % n


@dataclass(frozen=True)
class Explainer:
    """Explains rows of one model in raw feature space; built once with :func:`make_explainer`.

    Attributes
    ----------
    kind : str
        ``tree`` (shap TreeExplainer), ``linear`` (shap LinearExplainer) or ``permutation``
        (shap PermutationExplainer).
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
    tree: Any = field(default=None, repr=False)
    linear: Any = field(default=None, repr=False)
    groups: list[list[int]] | None = field(default=None, repr=False)
    codec: Codec | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """Display name of the explainer."""
        if self.kind == "tree":
            return "shap TreeExplainer (path-dependent, exact)"
        if self.kind == "linear":
            return (f"shap LinearExplainer (interventional, exact for a linear model; the mean of "
                    f"{0 if self.background is None else len(self.background)} background rows from the baseline)")
        return (f"shap PermutationExplainer ({PERMUTATIONS} antithetic permutations, "
                f"{0 if self.background is None else len(self.background)} background rows from the baseline)")

    def row_cap(self, max_rows: int) -> int:
        """Window rows to explain for a requested ``max_rows``."""
        return max_rows if self.kind != "permutation" else min(max_rows, AGNOSTIC_MAX_ROWS)

    @property
    def baseline_factor(self) -> int:
        """Baseline rows explained per window row."""
        return BASELINE_FACTOR if self.kind != "permutation" else AGNOSTIC_BASELINE_FACTOR

    def output(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's output for rows, in the explainer's units."""
        with threadpool_limits(limits=1):
            return self.model_output(frame)

    def model_output(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`output` without limiting threads (for callers that already limit them)."""
        X = model_input(frame, self.columns)
        est = self.model.estimator
        if self.model.task == "regression":
            return np.asarray(est.predict(X), dtype=float)
        proba = np.asarray(est.predict_proba(X), dtype=float)
        return logit(proba[:, _class_position(est, self.class_index)])

    def explain(self, frame: pd.DataFrame) -> Attribution:
        """Attributions of the given rows.

        Parameters
        ----------
        frame : DataFrame
            Rows holding the model's feature columns.
        """
        # Scoring a few thousand rows is fastest on one thread; OpenMP workers spinning on a
        # shared machine made HistGradientBoosting's predict several times slower.
        with threadpool_limits(limits=1):
            if len(frame) == 0:
                empty = pd.DataFrame(columns=list(self.columns), dtype=float)
                return Attribution(values=empty, base_value=float("nan"), method=f"shap_{self.kind}",
                                   output=np.array([]), units=self.units, data=frame.loc[:, list(self.columns)])
            if self.kind == "tree":
                return self._explain_tree(frame)
            if self.kind == "linear":
                return self._explain_linear(frame)
            return self._explain_permutation(frame)

    def _explain_tree(self, frame: pd.DataFrame) -> Attribution:
        pre, est = split_pipeline(self.model.estimator)
        X = model_input(frame, self.columns)
        Xt = _transformed(pre, X)
        vals = np.asarray(self.tree.shap_values(Xt, check_additivity=False), dtype=float)
        base = np.atleast_1d(np.asarray(self.tree.expected_value, dtype=float))
        k = _class_position(est, self.class_index) if self.model.task != "regression" else 0
        if vals.ndim == 3:  # (rows, columns, outputs)
            vals = vals[:, :, k if vals.shape[2] > 1 else 0]
        base_value = float(base[k] if len(base) > 1 else base[0])
        raw_out, space = tree_output(est, X if pre is None else Xt, self.model.task, k)
        summed = np.column_stack([vals[:, g].sum(axis=1) if g else np.zeros(len(vals)) for g in self.groups])
        err = float(np.max(np.abs(base_value + vals.sum(axis=1) - raw_out))) if len(vals) else 0.0
        tol = 1e-4 * max(1.0, float(np.max(np.abs(raw_out))))
        if err > tol:
            logger.warning("TreeExplainer additivity off by %.3g (model output space %s)", err, space)
        method = "shap_tree"
        output = raw_out
        if space == "probability":  # rescale to log-odds row by row: keeps additivity exact
            p, p0 = np.clip(raw_out, EPS, 1 - EPS), min(max(base_value, EPS), 1 - EPS)
            diff = p - p0
            safe = np.where(np.abs(diff) > 1e-12, diff, 1.0)
            scale = np.where(np.abs(diff) > 1e-12, (logit(p) - logit(np.array([p0]))[0]) / safe,
                             1.0 / (p0 * (1 - p0)))
            summed = summed * scale[:, None]
            base_value = float(logit(np.array([p0]))[0])
            output = logit(p)
            method = "shap_tree_rescaled"
        return Attribution(values=pd.DataFrame(summed, columns=list(self.columns), index=frame.index),
                           base_value=base_value, method=method, output=np.asarray(output, dtype=float),
                           units=self.units, data=frame.loc[:, list(self.columns)])

    def _explain_linear(self, frame: pd.DataFrame) -> Attribution:
        pre, est = split_pipeline(self.model.estimator)
        vals = np.asarray(self.linear.shap_values(_transformed(pre, model_input(frame, self.columns))), dtype=float)
        if vals.ndim == 3:  # (rows, columns, outputs): a single-output model reported per output
            vals = vals[:, :, -1]
        base = float(np.atleast_1d(np.asarray(self.linear.expected_value, dtype=float))[-1])
        if self.model.task != "regression" and _class_position(est, self.class_index) == 0:
            vals, base = -vals, -base  # the margin is the log-odds of the second class
        summed = np.column_stack([vals[:, g].sum(axis=1) if g else np.zeros(len(vals)) for g in self.groups])
        return Attribution(values=pd.DataFrame(summed, columns=list(self.columns), index=frame.index),
                           base_value=base, method="shap_linear", output=self.model_output(frame), units=self.units,
                           data=frame.loc[:, list(self.columns)])

    def _explain_permutation(self, frame: pd.DataFrame) -> Attribution:
        shap = import_shap()
        codec = self.codec
        z = codec.encode(frame)
        bg = codec.encode(self.background)

        def f(rows: np.ndarray) -> np.ndarray:
            return self.model_output(codec.decode(rows))

        masker = shap.maskers.Independent(bg, max_samples=len(bg))
        explainer = shap.PermutationExplainer(f, masker, seed=self.seed)
        m = len(self.columns)
        res = explainer(z, max_evals=PERMUTATIONS * (2 * m + 1), silent=True)
        vals = np.asarray(res.values, dtype=float)
        base = float(np.mean(np.atleast_1d(res.base_values)))
        return Attribution(values=pd.DataFrame(vals, columns=list(self.columns), index=frame.index),
                           base_value=base, method="shap_permutation", output=f(z), units=self.units,
                           data=frame.loc[:, list(self.columns)])


def _transformed(pre: Any, X: pd.DataFrame) -> np.ndarray:
    """The rows as the final estimator sees them (dense floats)."""
    Xt = pre.transform(X) if pre is not None else X.to_numpy(dtype=float)
    if hasattr(Xt, "toarray"):
        Xt = Xt.toarray()
    return np.asarray(Xt, dtype=float)


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
    pre, est = split_pipeline(model.estimator)
    reason = ""
    if is_tree(est):
        try:
            shap = import_shap()
            groups = raw_groups(pre, columns) if pre is not None else [[i] for i in range(len(columns))]
            tree = shap.TreeExplainer(est)
            return Explainer(model=model, columns=columns, kind="tree", units=units, seed=seed,
                             class_index=class_index, tree=tree, groups=groups,
                             reason=f"{type(est).__name__} is a tree model"
                                    + (" behind a ColumnTransformer (transformed columns summed back to raw "
                                       "features)" if pre is not None else ""))
        except Exception as exc:  # shap raises its own error types for unsupported trees
            reason = f"TreeExplainer not applicable ({type(exc).__name__}: {exc}); "
            logger.info("%s", reason)
    elif is_linear(est) and (model.task == "regression" or len(getattr(est, "classes_", ())) == 2) \
            and background is not None and len(background):
        try:
            shap = import_shap()
            groups = column_groups(pre, columns)
            bg_t = _transformed(pre, model_input(background.loc[:, list(columns)], columns))
            linear = shap.LinearExplainer(est, shap.maskers.Independent(bg_t, max_samples=len(bg_t)))
            return Explainer(model=model, columns=columns, kind="linear", units=units, seed=seed,
                             class_index=class_index, linear=linear, groups=groups,
                             background=background.loc[:, list(columns)],
                             reason=f"{type(est).__name__} is a linear model"
                                    + (" behind its preprocessing (transformed columns summed back to raw "
                                       "features)" if pre is not None else ""))
        except Exception as exc:  # shap or the preprocessing refuses: the model-agnostic explainer
            reason = f"LinearExplainer not applicable ({type(exc).__name__}: {exc}); "
            logger.info("%s", reason)
    else:
        reason = f"{type(est).__name__} is neither a tree nor a linear model; "
    if background is None or len(background) == 0:
        raise UsageError(f"model version {model.version}: {reason}the model-agnostic explainer needs "
                         f"background rows from the baseline sample")
    bg = background.loc[:, list(columns)]
    return Explainer(model=model, columns=columns, kind="permutation", units=units, seed=seed,
                     class_index=class_index, background=bg, codec=Codec([bg], columns),
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
