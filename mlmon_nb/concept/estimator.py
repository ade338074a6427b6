"""The estimator: performance without labels, fitted once on the reference.

Classifiers: confidence-based performance estimation (CBPE, as NannyML's).
An isotonic calibrator (scikit-learn) is fitted on the baseline sample's
scores and labels; assuming the calibrated score is P(y = 1 | x) in the window
too, the expected confusion counts, ROC curve and PR curve follow by putting
each row's calibrated probability in place of its label. Multiclass: one
isotonic calibrator per class (one-vs-rest), renormalised. Regression: direct
loss estimation (DLE): gradient-boosted models fitted on the reference predict
each row's absolute and squared error from its features and prediction.

The uncertainty of "realized - expected" is measured, not assumed: labels are
drawn from the calibrated probabilities of the window's own rows
(:data:`N_DRAWS` draws for each of :data:`N_CALIBRATORS` calibrators, the main
one and refits on bootstrap resamples of the reference), so the spread covers
label noise and the calibrator's own error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, UsageError
from .spec import METRICS, ModelSpec
from .weighted import binary_metrics, multiclass_draws, multiclass_soft, realized

__all__ = ["PerformanceEstimator", "fit_estimator", "reference_residual", "draw_spread", "N_CALIBRATORS", "N_DRAWS",
           "SIM_MAX_ROWS"]

N_CALIBRATORS = 20
N_DRAWS = 10
SIM_MAX_ROWS = 20_000
MIN_REFERENCE_ROWS = 200
EPS = 1e-6


def _isotonic(p: np.ndarray, y: np.ndarray):
    from sklearn.isotonic import IsotonicRegression  # scikit-learn loads with the first fit, not on import

    return IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(p, y)


def _share_below(sorted_ref: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Share of a sorted reference sample below ``x`` (ties count half)."""
    if len(sorted_ref) == 0:
        return np.full(len(x), 0.5)
    lo = np.searchsorted(sorted_ref, x, side="left")
    hi = np.searchsorted(sorted_ref, x, side="right")
    return (lo + hi) / (2.0 * len(sorted_ref))


@dataclass(frozen=True)
class PerformanceEstimator:
    """Performance without labels, fitted once on the reference (see the module notes).

    Built by :func:`fit_estimator`; holds the calibrators (classifiers) or the
    loss models (regression), and the cross-fitted excess loss of the
    reference rows that standardises the change-point stream.
    """

    task: str
    threshold: float
    method: str
    calibrators: tuple = field(repr=False)
    reference_excess: np.ndarray = field(repr=False)
    reference_values: Mapping[str, float] = field(default_factory=dict)
    neg_scores: np.ndarray = field(default=None, repr=False)
    pos_scores: np.ndarray = field(default=None, repr=False)
    loss_columns: tuple[str, ...] = ()
    n_reference: int = 0
    excess_scale: tuple[float, float] | None = None

    # ---------------------------------------------------------------- calibrated outputs
    def calibrated(self, scores: np.ndarray, which: int = 0) -> np.ndarray:
        """Calibrated P(y = 1) (binary, (n,)) or class probabilities (multiclass, (n, k))."""
        cal = self.calibrators[which]
        if self.task == "binary_classification":
            return np.clip(cal.predict(scores), EPS, 1 - EPS)
        if self.task == "multiclass_classification":
            Q = np.column_stack([c.predict(scores[:, j]) for j, c in enumerate(cal)])
            s = Q.sum(axis=1, keepdims=True)
            return np.where(s > 0, Q / np.where(s > 0, s, 1), 1.0 / Q.shape[1])
        raise UsageError("calibrated() is for classifiers; regression uses expected_loss()")

    def expected_loss(self, frame: pd.DataFrame, scores: np.ndarray, which: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Regression (DLE): expected absolute and squared error of each row."""
        abs_model, sq_model = self.calibrators[which]
        X = _loss_input(frame, self.loss_columns, scores)
        with _one_thread():
            return np.maximum(abs_model.predict(X), 0.0), np.maximum(sq_model.predict(X), 0.0)

    # ---------------------------------------------------------------- point estimates
    def estimate(self, scores: np.ndarray, frame: pd.DataFrame | None = None,
                 metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Expected value of each metric on these rows (no labels needed)."""
        metrics = tuple(metrics or METRICS[self.task])
        if len(scores) == 0:
            return {m: float("nan") for m in metrics}
        if self.task == "binary_classification":
            q = self.calibrated(scores)
            return {k: float(v[0]) for k, v in binary_metrics(q, 1 - q, scores, self.threshold, metrics).items()}
        if self.task == "multiclass_classification":
            return multiclass_soft(self.calibrated(scores), scores, metrics)
        a, s = self.expected_loss(frame, scores)
        out = {}
        if "mae" in metrics:
            out["mae"] = float(a.mean())
        if "rmse" in metrics:
            out["rmse"] = float(math.sqrt(s.mean()))
        return out

    def null_sd(self, scores: np.ndarray, rng: np.random.Generator, frame: pd.DataFrame | None = None,
                metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Standard deviation of (realized − expected) on these rows when nothing changed.

        Classifiers: labels are drawn from the calibrated probabilities of the
        rows, :data:`N_DRAWS` times for each of the calibrators (main and
        bootstrap), on at most :data:`SIM_MAX_ROWS` rows; the label-noise part
        is scaled to the full row count, the calibrator part is not.
        Regression: normal approximation from the reference's excess losses.
        """
        metrics = tuple(metrics or METRICS[self.task])
        n = len(scores)
        if n < 2:
            return {m: float("nan") for m in metrics}
        if self.task == "regression":
            return self._regression_sd(frame, scores, metrics)
        idx = np.sort(rng.choice(n, size=SIM_MAX_ROWS, replace=False)) if n > SIM_MAX_ROWS else np.arange(n)
        s = scores[idx]
        per_cal: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
        for c in range(len(self.calibrators)):
            q = self.calibrated(s, c)
            if self.task == "binary_classification":
                Y = (rng.random((N_DRAWS, len(s))) < q[None, :]).astype(float)
                vals = binary_metrics(Y, 1 - Y, s, self.threshold, metrics)
            else:
                cq = np.cumsum(q, axis=1)
                u = rng.random((N_DRAWS, len(s)))
                Y = (u[:, :, None] > cq[None, :, :]).sum(axis=2).clip(0, q.shape[1] - 1)
                vals = multiclass_draws(Y, s, metrics)
            for m in metrics:
                per_cal[m].append(np.asarray(vals[m], dtype=float))
        return draw_spread(per_cal, len(idx) / n)

    def _regression_sd(self, frame, scores, metrics, rows: int | None = None):
        """Regression's null sd at ``rows`` labelled rows (default: the rows given); ``frame`` and
        ``scores`` give the expected squared error (a sample of the rows will do)."""
        n = len(scores) if rows is None else int(rows)
        ex = self.reference_excess
        sd_abs = float(np.std(ex, ddof=1)) if len(ex) > 1 else float("nan")
        out = {}
        if "mae" in metrics:
            out["mae"] = sd_abs * math.sqrt(1 / n + 1 / max(len(ex), 1))
        if "rmse" in metrics:
            _, sq = self.expected_loss(frame, scores)
            rmse = math.sqrt(max(sq.mean(), 1e-12))
            sd_sq = float(self.reference_values.get("__sd_sq_excess__", float("nan")))
            out["rmse"] = sd_sq * math.sqrt(1 / n + 1 / max(len(ex), 1)) / (2 * rmse)
        return out

    # ---------------------------------------------------------------- the stream quantity
    def excess(self, y: np.ndarray, scores: np.ndarray, frame: pd.DataFrame | None = None,
               which: int = 0) -> np.ndarray:
        """Per labelled row: its loss minus the loss expected from its calibrated score.

        Binary: the mean of two such excesses, each divided by its reference
        sd: the *rank loss* (share of reference rows of the other class the
        row is ordered wrongly against: its part of 1 − ROC AUC) and the *error*
        at the decision threshold (0/1). The first sees changes of ranking, the
        second shifts that keep the ranking but move rows across the
        threshold. Multiclass: 0-1 error. Regression: absolute error.
        """
        if self.task == "binary_classification":
            rank, err = self.excess_parts(y, scores, which)
            s_rank, s_err = self.excess_scale or (1.0, 1.0)
            return (rank / s_rank + err / s_err) / 2
        if self.task == "multiclass_classification":
            q = self.calibrated(scores, which)
            pred = scores.argmax(axis=1)
            return (pred != y).astype(float) - (1 - q[np.arange(len(pred)), pred])
        a, _ = self.expected_loss(frame, scores, which)
        return np.abs(y - scores) - a

    def excess_parts(self, y: np.ndarray, scores: np.ndarray, which: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Binary: (rank-loss excess, threshold-error excess) of each labelled row."""
        q = self.calibrated(scores, which)
        above_neg = 1 - _share_below(self.neg_scores, scores)  # a positive's rank loss
        below_pos = _share_below(self.pos_scores, scores)      # a negative's rank loss
        rank = np.where(y == 1, above_neg, below_pos) - (q * above_neg + (1 - q) * below_pos)
        flagged = scores >= self.threshold
        err = (flagged != (y == 1)).astype(float) - np.where(flagged, 1 - q, q)
        return rank, err

    def residual(self, y: np.ndarray, scores: np.ndarray, frame: pd.DataFrame | None = None) -> np.ndarray:
        """Label minus its calibrated expectation (binary: y − q; multiclass: hit − q of the
        predicted class; regression: the signed error y − prediction)."""
        if self.task == "binary_classification":
            return y - self.calibrated(scores)
        if self.task == "multiclass_classification":
            q = self.calibrated(scores)
            pred = scores.argmax(axis=1)
            return (pred == y).astype(float) - q[np.arange(len(pred)), pred]
        return y - scores


def draw_spread(per_cal: Mapping[str, Sequence[np.ndarray]], scale: float = 1.0) -> dict[str, float]:
    """The null sd of each metric from simulated values (per calibrator, one array of draws each).

    Within-calibrator variance is label noise, scaled by ``scale`` (rows simulated / rows judged);
    the variance between calibrators' means, less its share of label noise, is the calibrator's own
    error and is not scaled.
    """
    out = {}
    for m, draws in per_cal.items():
        d = np.vstack(draws)  # calibrators × draws
        within = np.nanmean(np.nanvar(d, axis=1, ddof=1))
        between = max(float(np.nanvar(np.nanmean(d, axis=1), ddof=1)) - within / d.shape[1], 0.0)
        out[m] = float(math.sqrt(between + within * scale))
    return out


def _loss_input(frame: pd.DataFrame, columns: Sequence[str], scores: np.ndarray) -> pd.DataFrame:
    X = frame.loc[:, list(columns)].copy() if columns else pd.DataFrame(index=frame.index)
    X["__score__"] = np.asarray(scores, dtype=float)
    return X


def fit_estimator(spec: ModelSpec, reference: pd.DataFrame, rng: np.random.Generator,
                  n_calibrators: int = N_CALIBRATORS) -> PerformanceEstimator:
    """Fit the label-free performance estimator on labelled reference rows.

    Parameters
    ----------
    spec : ModelSpec
        Task and columns.
    reference : DataFrame
        Reference rows with the target and the model output (the baseline sample).
    rng : numpy.random.Generator
        Randomness of the bootstrap calibrators and the cross-fitting folds.
    n_calibrators : int
        Calibrators in all (the main one plus bootstrap refits).

    Returns
    -------
    PerformanceEstimator

    Raises
    ------
    DataError
        When the reference has too few labelled rows (or a single class).
    """
    y = spec.labels(reference)
    lab = np.isfinite(y)
    ref = reference.loc[lab]
    y = y[lab]
    scores = spec.scores(ref)
    ok = np.all(np.isfinite(scores), axis=1) if scores.ndim == 2 else np.isfinite(scores)
    ref, y, scores = ref.loc[ok], y[ok], scores[ok]
    n = len(y)
    if n < MIN_REFERENCE_ROWS:
        raise DataError(f"reference: {n} labelled rows with a model output; at least {MIN_REFERENCE_ROWS} are "
                        f"needed to estimate performance without labels (target column {spec.target!r})")
    folds = rng.integers(0, 2, n)
    task = spec.task
    values = realized(task, y, scores, spec.threshold)
    if task == "binary_classification":
        yb = (y == 1).astype(float)
        if yb.min() == yb.max():
            raise DataError(f"reference: target {spec.target!r} has a single class; CBPE needs both")
        boots = [_isotonic(scores, yb)]
        for _ in range(n_calibrators - 1):
            ix = rng.integers(0, n, n)
            boots.append(_isotonic(scores[ix], yb[ix]))
        est = PerformanceEstimator(task=task, threshold=spec.threshold, method="cbpe", calibrators=tuple(boots),
                                   reference_excess=np.array([]), reference_values=values,
                                   neg_scores=np.sort(scores[yb == 0]), pos_scores=np.sort(scores[yb == 1]),
                                   n_reference=n)
        rank, err = np.empty(n), np.empty(n)
        for k in (0, 1):
            fold_est = replace(est, calibrators=(_isotonic(scores[folds != k], yb[folds != k]),))
            m = folds == k
            rank[m], err[m] = fold_est.excess_parts(yb[m], scores[m])
        scale = (float(np.std(rank, ddof=1)) or 1.0, float(np.std(err, ddof=1)) or 1.0)
        est = replace(est, excess_scale=scale)
        return replace(est, reference_excess=(rank / scale[0] + err / scale[1]) / 2)
    if task == "multiclass_classification":
        k = scores.shape[1]
        yi = y.astype(int)

        def fit_all(ix):
            return tuple(_isotonic(scores[ix, j], (yi[ix] == j).astype(float)) for j in range(k))

        cals = [fit_all(np.arange(n))] + [fit_all(rng.integers(0, n, n)) for _ in range(n_calibrators - 1)]
        est = PerformanceEstimator(task=task, threshold=spec.threshold, method="cbpe", calibrators=tuple(cals),
                                   reference_excess=np.array([]), reference_values=values, n_reference=n)
        excess = np.empty(n)
        for f in (0, 1):
            fold_est = replace(est, calibrators=(fit_all(np.flatnonzero(folds != f)),))
            m = folds == f
            excess[m] = fold_est.excess(yi[m], scores[m])
        return replace(est, reference_excess=excess)
    # regression: direct loss estimation
    columns = tuple(c for c in (*spec.features.numeric, *spec.features.categorical) if c in ref.columns)

    def fit_pair(ix):
        X = _loss_input(ref.iloc[ix], columns, scores[ix])
        err = y[ix] - scores[ix]
        with _one_thread():
            return (_loss_model().fit(X, np.abs(err)), _loss_model().fit(X, err ** 2))

    main = fit_pair(np.arange(n))
    est = PerformanceEstimator(task=task, threshold=spec.threshold, method="dle", calibrators=(main,),
                               reference_excess=np.array([]), reference_values=values, loss_columns=columns,
                               n_reference=n)
    excess = np.empty(n)
    sq_excess = np.empty(n)
    for f in (0, 1):
        fold_est = replace(est, calibrators=(fit_pair(np.flatnonzero(folds != f)),))
        m = folds == f
        a, s = fold_est.expected_loss(ref.loc[m], scores[m])
        excess[m] = np.abs(y[m] - scores[m]) - a
        sq_excess[m] = (y[m] - scores[m]) ** 2 - s
    values = {**values, "__sd_sq_excess__": float(np.std(sq_excess, ddof=1))}
    return replace(est, reference_excess=excess, reference_values=values)


def _one_thread():
    """Small gradient-boosting fits run faster on one thread than on oversubscribed cores."""
    from threadpoolctl import threadpool_limits  # loaded with scikit-learn's fits, not on import

    return threadpool_limits(1)


def _loss_model():
    from sklearn.ensemble import HistGradientBoostingRegressor  # scikit-learn loads with the first fit

    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, categorical_features="from_dtype",
                                         random_state=0)


def reference_residual(est: PerformanceEstimator, y: np.ndarray, scores: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Cross-fitted residuals of the reference (fold calibrators), comparable to the window's."""
    if est.task == "regression":
        return y - scores
    n = len(y)
    folds = rng.integers(0, 2, n)
    out = np.empty(n)
    for f in (0, 1):
        tr, te = folds != f, folds == f
        if est.task == "binary_classification":
            q = np.clip(_isotonic(scores[tr], (y[tr] == 1).astype(float)).predict(scores[te]), EPS, 1 - EPS)
            out[te] = y[te] - q
        else:
            k = scores.shape[1]
            cal = tuple(_isotonic(scores[tr, j], (y[tr] == j).astype(float)) for j in range(k))
            q = replace(est, calibrators=(cal,)).calibrated(scores[te])
            pred = scores[te].argmax(axis=1)
            out[te] = (pred == y[te]).astype(float) - q[np.arange(te.sum()), pred]
    return out
