"""Concept drift: did the model get worse, since when, where, and why.

A window is compared with the version's baseline in four steps. Each is a
function of frames and arrays returning a result with ``to_df()``,
``plot(kind=...)`` and ``_repr_html_``; :func:`analyse` runs them all for a
window context and :meth:`ConceptDriftResult.record` writes the checks.

1. **Performance per chunk** (:func:`chunk_performance`): realized metrics on
   the labelled rows of each chunk (daily by default) with 95% intervals
   (ROC AUC: DeLong; log loss, accuracy, MAE: normal approximation of a mean;
   RMSE: delta method; PR AUC, F1, macro F1: Poisson bootstrap), the baseline
   band at the chunk's labelled rows, label coverage, and the performance
   *estimated without labels* on every row (:class:`PerformanceEstimator`).
2. **Change points** (:func:`loss_stream`, :func:`detect_changes`): river's
   detectors on the time-ordered *excess loss* of the labelled rows.
3. **Covariate shift or concept drift** (:func:`concept_test`,
   :func:`residual_shift`): realized performance against the performance the
   window's own inputs lead to expect, and P(y | x) tested per feature bin.
4. **Where** (:func:`find_segments`): feature levels, quartile bins (from the
   baseline profile) and pairs of them, ranked by lost performance × share.

Estimation without labels
-------------------------
Classifiers: confidence-based performance estimation (CBPE, as NannyML's).
An isotonic calibrator (scikit-learn) is fitted on the baseline sample's
scores and labels; assuming the calibrated score is P(y = 1 | x) in the window
too, the expected confusion counts, ROC curve and PR curve follow by putting
each row's calibrated probability in place of its label. Multiclass: one
isotonic calibrator per class (one-vs-rest), renormalised. Regression: direct
loss estimation (DLE): gradient-boosted models fitted on the reference predict
each row's absolute and squared error from its features and prediction.

The uncertainty of "realized − expected" is measured, not assumed: labels are
drawn from the calibrated probabilities of the window's own rows (10 draws for
each of 20 calibrators, the main one and refits on bootstrap resamples of the
reference), so the spread covers label noise and the calibrator's own error.

Decision rules
--------------
``performance`` (one per metric, the window's labelled rows): *alert* beyond
the baseline band limit (mean ± 3 sd of the reference chunks, sd scaled to the
labelled rows; ``thresholds.band_margin`` adds sd) in the worse direction, or
beyond ``thresholds.metrics.<metric>.alert`` when set; *warn* beyond 2 sd (or
the ``warn`` value), or when a chunk with enough labels
(``min_labels_per_chunk`` and :data:`MIN_CLASS_ROWS` of each class) is beyond
its own band limit. Chunks with too few labels are drawn but never judged.

``estimated_performance`` (one per metric, every row): the same rule on the
estimate, with the band at the window's row count.

``concept_drift`` (one per metric): z = (realized − expected) / sd, negative
when worse. *alert* at z ≤ −3 and *warn* at z ≤ −2, both Bonferroni-adjusted
for the number of metrics (:func:`z_limits`), and only when the gap is at
least :data:`MIN_RELATIVE_GAP` of the reference value (a huge window must not
alert on a negligible gap). Otherwise the input shift explains whatever moved.
The same test on the rows after a consensus change point is recorded too
(method ``realized_vs_expected_since_change``). One more ``concept_drift``
check (subject ``p(y|x)``, method ``residual_shift``) compares residuals
(label − calibrated score) per feature bin and score decile between reference
and window: *warn* when a feature's chi-square is significant after
Benjamini-Hochberg (q < :data:`RESIDUAL_ALPHA`) and its largest bin shift is at
least :data:`RESIDUAL_MIN_EFFECT` residual sd; it never alerts on its own.

``change_point`` (one per detection, ``at`` = estimated onset): *alert* when
at least :data:`CONSENSUS_MIN` detectors place their onsets within
:data:`CONSENSUS_TOLERANCE` of each other **and** performance on the labelled
rows from that onset on is clearly below expected (the concept rule) or the
primary metric there is beyond its band limit; *warn* for such an agreement
without a drop; *ok* for a detection no other detector confirms.

Change-point stream and false alarms
------------------------------------
Each labelled row's loss minus the loss its calibrated score leads to expect.
Binary: the mean of two such excesses, each divided by its reference sd: the
*rank loss* (share of reference rows of the other class the row is ordered
wrongly against, its part of 1 − ROC AUC) and the 0/1 *error* at the decision
threshold. Multiclass: 0/1 error. Regression: absolute error. Its mean stays
at 0 when only the inputs shift and rises when P(y | x) changes, so the
detectors do not fire on covariate shift. Rows are averaged in time-ordered
blocks (about :data:`BLOCKS_PER_WINDOW` per window, :data:`MIN_BLOCK_ROWS` to
:data:`MAX_BLOCK_ROWS` rows; larger windows use an evenly spread row sample)
and standardised with the reference's cross-fitted mean and sd.

ADWIN, Page-Hinkley (upward) and KSWIN read the block z-scores; DDM, EDDM,
HDDM_A and HDDM_W read one bit per block, 1 when it is worse than the
reference median. Every detector first reads :data:`WARMUP_BLOCKS` reference
blocks, so it knows the reference level when the window starts. Calibration on
the reference: each detector runs at the most sensitive of its settings whose
false-alarm rate on :data:`NULL_STREAMS` streams drawn from reference blocks
(warm-up and window of the real lengths) is at most
:data:`FALSE_ALARM_TARGET`; a detector no setting satisfies is not used.
Requiring agreement of two detectors cuts false alarms further (the rate is
measured on the same streams and reported).

The onset of a detection is the clearest step up (standardised mean
difference ≥ :data:`ONSET_MIN_T`) inside the window between the detector's
last reset and half a day after it fired (the report is written after the
window closed); without one the change is dated to the window's start: it
happened at or before it.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .alertable import HIGHER_IS_BETTER
from .metrics import MIN_POSITIVES_PER_CHUNK
from .rules import Band
from .checks import SEVERITY, Recorder, worst
from .config import CHUNK_PATTERN, FeaturesConfig
from .errors import DataError, UsageError

logger = logging.getLogger(__name__)

__all__ = [
    "METRICS", "PRIMARY", "DETECTORS", "ModelSpec", "PerformanceEstimator", "fit_estimator",
    "chunk_performance", "ChunkPerformance", "loss_stream", "LossStream", "detect_changes", "ChangePoints",
    "concept_test", "ConceptTest", "residual_shift", "ResidualShift", "find_segments", "SegmentResult",
    "analyse", "analyse_frames", "ConceptDriftResult", "auc_delong", "segment_query", "chunk_delta",
]

#: Metrics tracked per task (realized, estimated, concept test), the primary first.
METRICS = {
    "binary_classification": ("roc_auc", "pr_auc", "f1", "log_loss"),
    "multiclass_classification": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("mae", "rmse"),
}
PRIMARY = {task: names[0] for task, names in METRICS.items()}
DISPLAY = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1", "log_loss": "log loss",
           "accuracy": "accuracy", "macro_f1": "macro F1", "mae": "MAE", "rmse": "RMSE"}
CI_METHOD = {"roc_auc": "DeLong", "log_loss": "normal (mean)", "accuracy": "normal (mean)",
             "mae": "normal (mean)", "rmse": "normal (delta method)",
             "pr_auc": "Poisson bootstrap", "f1": "Poisson bootstrap", "macro_f1": "Poisson bootstrap"}
ESTIMATOR_METHOD = {"binary_classification": "cbpe", "multiclass_classification": "cbpe", "regression": "dle"}

MIN_LABELS_PER_CHUNK = 200
MIN_CLASS_ROWS = MIN_POSITIVES_PER_CHUNK
N_CALIBRATORS = 20
N_DRAWS = 10
SIM_MAX_ROWS = 20_000
BOOTSTRAP = 200
BOOTSTRAP_MAX_ROWS = 5_000
ALERT_Z = 3.0
WARN_Z = 2.0
WARN_SIGMAS = 2.0
MIN_RELATIVE_GAP = 0.03
RESIDUAL_ALPHA = 1e-3
RESIDUAL_MIN_EFFECT = 0.1
MIN_BIN_ROWS = 30

BLOCKS_PER_WINDOW = 168
MIN_BLOCK_ROWS = 25
MIN_STREAM_BLOCKS = 30
MAX_BLOCK_ROWS = 100
ONSET_MIN_T = 2.0
WARMUP_BLOCKS = 200
NULL_STREAMS = 20
FALSE_ALARM_TARGET = 0.05
CONSENSUS_MIN = 2
CONSENSUS_TOLERANCE = pd.Timedelta("12h")

MIN_SEGMENT_ROWS = 100
MIN_SEGMENT_SHARE = 0.01
MAX_LEVELS = 12
QUARTILES = (25, 50, 75)
EPS = 1e-6


# =========================================================================== model spec

@dataclass(frozen=True)
class ModelSpec:
    """What the analysis needs to know about a model: task and column names.

    ``prediction`` names the score column (binary: probability of the positive
    class; regression: the prediction). Multiclass models use the columns
    ``__proba_0__``, ``__proba_1__``, ... (as the baseline sample does).
    """

    task: str
    target: str
    prediction: str = "__prediction__"
    timestamp: str = "ts"
    threshold: float = 0.5
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    thresholds: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in METRICS:
            raise UsageError(f"The 'task' parameter of ModelSpec must be one of {', '.join(METRICS)}. "
                             f"Got {self.task!r} instead.")

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS[self.task]

    @property
    def primary(self) -> str:
        return PRIMARY[self.task]

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """The model output of each row: (n,) scores, or (n, k) class probabilities."""
        if self.task == "multiclass_classification":
            cols = sorted((c for c in frame.columns if re.fullmatch(r"__proba_\d+__", str(c))),
                          key=lambda c: int(c[8:-2]))
            if not cols:
                raise DataError("multiclass rows need class probability columns __proba_0__, __proba_1__, ...")
            return frame[cols].to_numpy(dtype=float)
        return frame[self.prediction].to_numpy(dtype=float)

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """The target as floats, NaN where not (yet) labelled."""
        if self.target not in frame.columns:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[self.target], errors="coerce").to_numpy(dtype=float)


def chunk_delta(chunk: str) -> pd.Timedelta:
    """Length of a chunk written like ``1d``, ``12h`` or ``1w``.

    Raises
    ------
    UsageError
        When ``chunk`` is not such a size.
    """
    if not isinstance(chunk, str) or not re.fullmatch(CHUNK_PATTERN, chunk) or int(chunk[:-1]) <= 0:
        raise UsageError(f"The 'chunk' parameter of concept_drift must be a size like 1d, 12h or 1w. "
                         f"Got {chunk!r} instead.")
    unit = {"h": "h", "d": "D", "w": "W"}[chunk[-1]]
    return pd.Timedelta(int(chunk[:-1]), unit=unit)


# =========================================================================== metrics on weights
#
# Every classification metric below is computed from *weights* of being a
# positive (P) and a negative (N) per row, one row of weights per replicate:
# labels give 0/1 weights (realized), calibrated probabilities give q and 1-q
# (CBPE: the expected curves), label draws give simulated realized values,
# Poisson counts times labels give bootstrap replicates. With 0/1 weights each
# function equals scikit-learn's metric (tested against it).

def _sorted_groups(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by score descending and the index of the last row of each tie group."""
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    last = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])
    return order, last


def _binary_metrics(P: np.ndarray, N: np.ndarray, p: np.ndarray, threshold: float,
                    metrics: Sequence[str]) -> dict[str, np.ndarray]:
    P = np.atleast_2d(P)
    N = np.atleast_2d(N)
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        pos_total = P.sum(axis=1)
        neg_total = N.sum(axis=1)
        if "roc_auc" in metrics or "pr_auc" in metrics:
            order, last = _sorted_groups(p)
            tps = np.cumsum(P[:, order], axis=1)[:, last]
            fps = np.cumsum(N[:, order], axis=1)[:, last]
            if "roc_auc" in metrics:
                tpr = np.concatenate([np.zeros((len(P), 1)), tps / pos_total[:, None]], axis=1)
                fpr = np.concatenate([np.zeros((len(P), 1)), fps / neg_total[:, None]], axis=1)
                out["roc_auc"] = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)
            if "pr_auc" in metrics:
                precision = tps / (tps + fps)
                recall = np.concatenate([np.zeros((len(P), 1)), tps / pos_total[:, None]], axis=1)
                out["pr_auc"] = np.nansum(np.diff(recall, axis=1) * precision, axis=1)
        pred = (p >= threshold).astype(float)
        if "f1" in metrics or "accuracy" in metrics:
            tp = P @ pred
            fp = N @ pred
            fn = pos_total - tp
            if "f1" in metrics:
                den = 2 * tp + fp + fn
                out["f1"] = np.where(den > 0, 2 * tp / den, 0.0)
            if "accuracy" in metrics:
                out["accuracy"] = (tp + N @ (1 - pred)) / (pos_total + neg_total)
        if "log_loss" in metrics:
            pc = np.clip(p, 1e-12, 1 - 1e-12)
            out["log_loss"] = (P @ -np.log(pc) + N @ -np.log1p(-pc)) / (pos_total + neg_total)
    return out


def _multiclass_soft(Q: np.ndarray, probs: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    """Metrics from class weights per row (one-hot labels or calibrated probabilities)."""
    n, k = probs.shape
    pred = probs.argmax(axis=1)
    out: dict[str, float] = {}
    hit = Q[np.arange(n), pred]
    if "accuracy" in metrics:
        out["accuracy"] = float(hit.mean())
    if "macro_f1" in metrics:
        tp = np.bincount(pred, weights=hit, minlength=k)
        npred = np.bincount(pred, minlength=k).astype(float)
        actual = Q.sum(axis=0)
        den = npred + actual  # 2tp + fp + fn = (tp + fp) + (tp + fn)
        out["macro_f1"] = float(np.mean(np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), 0.0)))
    if "log_loss" in metrics:
        lp = -np.log(np.clip(probs, 1e-12, 1))
        out["log_loss"] = float(np.sum(Q * lp) / n)
    return out


def _multiclass_draws(Y: np.ndarray, probs: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Metrics of label draws ``Y`` (replicates × rows, class indices)."""
    n, k = probs.shape
    pred = probs.argmax(axis=1)
    hit = Y == pred[None, :]
    out: dict[str, np.ndarray] = {}
    if "accuracy" in metrics:
        out["accuracy"] = hit.mean(axis=1)
    if "macro_f1" in metrics:
        f1s = []
        npred = np.bincount(pred, minlength=k).astype(float)
        for c in range(k):
            tp = (hit & (pred[None, :] == c)).sum(axis=1)
            actual = (Y == c).sum(axis=1)
            den = npred[c] + actual
            f1s.append(np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), 0.0))
        out["macro_f1"] = np.mean(f1s, axis=0)
    if "log_loss" in metrics:
        lp = -np.log(np.clip(probs, 1e-12, 1))
        out["log_loss"] = lp[np.arange(n)[None, :], Y].mean(axis=1)
    return out


def realized(task: str, y: np.ndarray, scores: np.ndarray, threshold: float,
             metrics: Sequence[str] | None = None) -> dict[str, float]:
    """Realized metrics of labelled rows (NaN where undefined, e.g. a single class).

    Same definitions as :func:`mlmon_nb.metrics.performance` (and scikit-learn).
    """
    metrics = tuple(metrics or METRICS[task])
    nan = {m: float("nan") for m in metrics}
    if len(y) == 0:
        return nan
    if task == "binary_classification":
        yb = (y == 1).astype(float)
        out = {k: float(v[0]) for k, v in _binary_metrics(yb, 1 - yb, scores, threshold, metrics).items()}
        if yb.min() == yb.max():
            out.update({m: float("nan") for m in ("roc_auc", "pr_auc") if m in out})
        return out
    if task == "multiclass_classification":
        Q = np.zeros_like(scores)
        Q[np.arange(len(y)), y.astype(int)] = 1.0
        return _multiclass_soft(Q, scores, metrics)
    err = y - scores
    out = {}
    if "mae" in metrics:
        out["mae"] = float(np.mean(np.abs(err)))
    if "rmse" in metrics:
        out["rmse"] = float(math.sqrt(np.mean(err ** 2)))
    return out


def auc_delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """ROC AUC and its DeLong standard error (midranks; Sun & Xu's fast algorithm).

    Parameters
    ----------
    y : array of 0/1
    p : array of scores

    Returns
    -------
    (auc, se) : tuple of float
        NaN for both when only one class is present.
    """
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=float)
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    r_all = rankdata(p)
    r_pos = rankdata(p[y])
    r_neg = rankdata(p[~y])
    auc = (r_all[y].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_all[y] - r_pos) / n           # per positive: share of negatives ranked below
    v01 = 1 - (r_all[~y] - r_neg) / m      # per negative: share of positives ranked above
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    return float(auc), float(math.sqrt(max(var, 0.0)))


def confidence_interval(task: str, metric: str, y: np.ndarray, scores: np.ndarray, threshold: float,
                        value: float, rng: np.random.Generator) -> tuple[float, float]:
    """95% interval of a realized metric (method per :data:`CI_METHOD`)."""
    n = len(y)
    if n < 2 or not np.isfinite(value):
        return float("nan"), float("nan")
    z = 1.959964
    if metric == "roc_auc":
        _, se = auc_delong(y == 1, scores)
        return max(0.0, value - z * se), min(1.0, value + z * se)
    if metric in ("log_loss", "accuracy", "mae", "rmse"):
        if task == "binary_classification":
            pc = np.clip(scores, 1e-12, 1 - 1e-12)
            per_row = -np.where(y == 1, np.log(pc), np.log1p(-pc))
        elif task == "multiclass_classification":
            pred = scores.argmax(axis=1)
            per_row = (pred == y).astype(float) if metric == "accuracy" else \
                -np.log(np.clip(scores[np.arange(n), y.astype(int)], 1e-12, 1))
        else:
            per_row = np.abs(y - scores) if metric == "mae" else (y - scores) ** 2
        se = per_row.std(ddof=1) / math.sqrt(n)
        if metric == "rmse":
            se = se / (2 * value) if value > 0 else float("nan")
        return value - z * se, value + z * se
    # Poisson bootstrap on at most BOOTSTRAP_MAX_ROWS rows, widened to the n rows of the value.
    idx = rng.choice(n, size=BOOTSTRAP_MAX_ROWS, replace=False) if n > BOOTSTRAP_MAX_ROWS else np.arange(n)
    W = rng.poisson(1.0, size=(BOOTSTRAP, len(idx))).astype(float)
    ys, ss = y[idx], scores[idx]
    if task == "binary_classification":
        yb = (ys == 1).astype(float)
        draws = _binary_metrics(W * yb, W * (1 - yb), ss, threshold, (metric,))[metric]
    else:  # multiclass macro F1
        onehot = np.zeros_like(ss)
        onehot[np.arange(len(ys)), ys.astype(int)] = 1.0
        draws = np.array([_weighted_macro_f1(onehot * w[:, None], ss) for w in W])
    draws = draws[np.isfinite(draws)]
    if len(draws) < 20:
        return float("nan"), float("nan")
    lo, mid, hi = np.percentile(draws, [2.5, 50, 97.5])
    widen = math.sqrt(len(idx) / n)
    return float(value - (mid - lo) * widen), float(value + (hi - mid) * widen)


def _weighted_macro_f1(Q: np.ndarray, probs: np.ndarray) -> float:
    k = probs.shape[1]
    pred = probs.argmax(axis=1)
    w = Q.sum(axis=1)
    tp = np.bincount(pred, weights=Q[np.arange(len(pred)), pred], minlength=k)
    npred = np.bincount(pred, weights=w, minlength=k)
    actual = Q.sum(axis=0)
    den = npred + actual
    return float(np.mean(np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), 0.0)))


# =========================================================================== the estimator

def _isotonic(p: np.ndarray, y: np.ndarray):
    from sklearn.isotonic import IsotonicRegression

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
            return {k: float(v[0]) for k, v in _binary_metrics(q, 1 - q, scores, self.threshold, metrics).items()}
        if self.task == "multiclass_classification":
            return _multiclass_soft(self.calibrated(scores), scores, metrics)
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
                vals = _binary_metrics(Y, 1 - Y, s, self.threshold, metrics)
            else:
                cq = np.cumsum(q, axis=1)
                u = rng.random((N_DRAWS, len(s)))
                Y = (u[:, :, None] > cq[None, :, :]).sum(axis=2).clip(0, q.shape[1] - 1)
                vals = _multiclass_draws(Y, s, metrics)
            for m in metrics:
                per_cal[m].append(np.asarray(vals[m], dtype=float))
        out = {}
        for m in metrics:
            d = np.vstack(per_cal[m])  # calibrators × draws
            within = np.nanmean(np.nanvar(d, axis=1, ddof=1))
            between = max(float(np.nanvar(np.nanmean(d, axis=1), ddof=1)) - within / d.shape[1], 0.0)
            out[m] = float(math.sqrt(between + within * len(idx) / n))
        return out

    def _regression_sd(self, frame, scores, metrics):
        n = len(scores)
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
    if n < 200:
        raise DataError(f"reference: {n} labelled rows with a model output; at least 200 are needed to "
                        f"estimate performance without labels (target column {spec.target!r})")
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
            fold_est = _replace(est, calibrators=(_isotonic(scores[folds != k], yb[folds != k]),))
            m = folds == k
            rank[m], err[m] = fold_est.excess_parts(yb[m], scores[m])
        scale = (float(np.std(rank, ddof=1)) or 1.0, float(np.std(err, ddof=1)) or 1.0)
        est = _replace(est, excess_scale=scale)
        return _replace(est, reference_excess=(rank / scale[0] + err / scale[1]) / 2)
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
            fold_est = _replace(est, calibrators=(fit_all(np.flatnonzero(folds != f)),))
            m = folds == f
            excess[m] = fold_est.excess(yi[m], scores[m])
        return _replace(est, reference_excess=excess)
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
        fold_est = _replace(est, calibrators=(fit_pair(np.flatnonzero(folds != f)),))
        m = folds == f
        a, s = fold_est.expected_loss(ref.loc[m], scores[m])
        excess[m] = np.abs(y[m] - scores[m]) - a
        sq_excess[m] = (y[m] - scores[m]) ** 2 - s
    values = {**values, "__sd_sq_excess__": float(np.std(sq_excess, ddof=1))}
    return _replace(est, reference_excess=excess, reference_values=values)


def _one_thread():
    """Small gradient-boosting fits run faster on one thread than on oversubscribed cores."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _loss_model():
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, categorical_features="from_dtype",
                                         random_state=0)


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)


# =========================================================================== decisions

def band_limits(band: Band | None, rows: float, margin: float = 0.0) -> dict[str, float]:
    """The 3-sd (alert) and 2-sd (warn) limits of a band at a row count."""
    if band is None or not np.isfinite(band.mean) or not np.isfinite(band.sd) or not rows:
        return {"low": float("nan"), "high": float("nan"), "warn_low": float("nan"), "warn_high": float("nan"),
                "mean": float("nan")}
    lo, hi = band.limits(rows, sigmas=3.0 + margin)
    wlo, whi = band.limits(rows, sigmas=WARN_SIGMAS + margin)
    return {"low": lo, "high": hi, "warn_low": wlo, "warn_high": whi, "mean": band.mean}


def level_status(metric: str, value: float, limits: Mapping[str, float],
                 fixed: Mapping[str, Any] | None = None) -> tuple[str, float]:
    """Status of a metric value against fixed thresholds or band limits; returns (status, threshold)."""
    if not np.isfinite(value):
        return "ok", float("nan")
    higher = HIGHER_IS_BETTER.get(metric, True)
    if fixed and ("alert" in fixed or "warn" in fixed):
        higher = {"higher_is_better": True, "lower_is_better": False}.get(fixed.get("direction"), higher)
        alert, warn = fixed.get("alert"), fixed.get("warn")
        worse = (lambda v, t: v < t) if higher else (lambda v, t: v > t)
        if alert is not None and worse(value, alert):
            return "alert", float(alert)
        if warn is not None and worse(value, warn):
            return "warn", float(warn) if alert is None else float(alert)
        return "ok", float(alert if alert is not None else warn)
    lim, wlim = (limits["low"], limits["warn_low"]) if higher else (limits["high"], limits["warn_high"])
    if not np.isfinite(lim):
        return "ok", float("nan")
    if (value < lim) if higher else (value > lim):
        return "alert", float(lim)
    if (value < wlim) if higher else (value > wlim):
        return "warn", float(lim)
    return "ok", float(lim)


def z_limits(n_tests: int = 1) -> tuple[float, float]:
    """(alert, warn) z limits of the concept rule, Bonferroni-adjusted for ``n_tests`` metrics.

    One metric: -3 and -2. Several: the one-sided tail probabilities of -3 and
    -2 divided by their number (four metrics: about -3.44 and -2.50).
    """
    from scipy.stats import norm

    m = max(int(n_tests), 1)
    return float(norm.ppf(norm.cdf(-ALERT_Z) / m)), float(norm.ppf(norm.cdf(-WARN_Z) / m))


def gap_status(metric: str, realized_value: float, expected: float, sd: float,
               reference_value: float | None, n_tests: int = 1) -> dict[str, float | str]:
    """The concept-drift rule: how much worse than expected, in sd, and the resulting status."""
    from scipy.stats import norm

    higher = HIGHER_IS_BETTER.get(metric, True)
    gap = realized_value - expected
    worse_by = -gap if higher else gap
    z = -worse_by / sd if sd and np.isfinite(sd) and sd > 0 else float("nan")
    min_gap = MIN_RELATIVE_GAP * abs(reference_value) if reference_value is not None and \
        np.isfinite(reference_value) else 0.0
    z_alert, z_warn = z_limits(n_tests)
    status = "ok"
    if np.isfinite(z) and worse_by >= min_gap:
        status = "alert" if z <= z_alert else "warn" if z <= z_warn else "ok"
    return {"gap": float(gap), "worse_by": float(worse_by), "z": float(z), "sd": float(sd),
            "p_value": float(norm.cdf(z)) if np.isfinite(z) else float("nan"), "min_gap": float(min_gap),
            "z_alert": z_alert, "z_warn": z_warn, "status": status}


# =========================================================================== per-chunk performance

@dataclass
class ChunkPerformance:
    """Realized and estimated performance per chunk and for the whole window.

    ``to_df()`` has one row per (chunk, metric); the chunk ``window`` holds
    the whole window. Columns: ``start``, ``end``, ``rows``, ``labelled``,
    ``coverage``, ``positives``, ``enough_labels``, ``metric``, ``realized``,
    ``ci_low``, ``ci_high``, ``estimated`` (all rows), ``expected``
    (labelled rows), ``null_sd``, ``z``, ``band_low``/``band_high`` (realized,
    at the labelled rows), ``est_band_low``/``est_band_high`` (at all rows),
    ``below_band`` (realized beyond the band limit in the worse direction).
    """

    table: pd.DataFrame
    task: str
    metrics: tuple[str, ...]
    chunk: str
    min_labels: int

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def window(self, metric: str) -> dict[str, Any]:
        row = self.table[(self.table["chunk"] == "window") & (self.table["metric"] == metric)]
        return row.iloc[0].to_dict() if len(row) else {}

    def chunks(self, metric: str | None = None) -> pd.DataFrame:
        t = self.table[self.table["chunk"] != "window"]
        return t[t["metric"] == (metric or self.metrics[0])].reset_index(drop=True)

    def coverage_df(self) -> pd.DataFrame:
        """One row per chunk: rows, labelled rows, coverage, whether enough labels."""
        t = self.chunks()
        cols = ["start", "rows", "labelled", "coverage", "positives", "enough_labels"]
        return t[[c for c in cols if c in t.columns]]

    def plot(self, kind: str = "timeline", metric: str | None = None, changes: "ChangePoints | None" = None):
        """``timeline`` (realized with CIs, estimated, band, change points) or ``coverage``."""
        from . import plots

        if kind == "timeline":
            return plots.performance_timeline(self, metric or self.metrics[0], changes)
        if kind == "coverage":
            return plots.label_coverage(self)
        raise UsageError(f"The 'kind' parameter of ChunkPerformance.plot must be 'timeline' or 'coverage'. "
                         f"Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return _table_html(self.summary_df())

    def summary_df(self) -> pd.DataFrame:
        """The window row of every metric, for display."""
        t = self.table[self.table["chunk"] == "window"]
        return pd.DataFrame({
            "metric": t["metric"].map(DISPLAY), "realized": t["realized"],
            "95% CI": [_ci_text(a, b) for a, b in zip(t["ci_low"], t["ci_high"])],
            "estimated (all rows)": t["estimated"],
            "expected range of realized": [_ci_text(e - 1.96 * s, e + 1.96 * s)
                                           for e, s in zip(t["expected"], t["null_sd"])],
            "baseline band": [_ci_text(a, b) if np.isfinite(a) else _ci_text(c, d) for a, b, c, d in
                              zip(t["band_low"], t["band_high"], t["est_band_low"], t["est_band_high"])],
            "labelled rows": t["labelled"],
        })


def _utc(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _naive64(values) -> np.ndarray:
    """UTC datetime64 values without a time zone (fast comparisons)."""
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_localize(None).to_numpy()


def _chunk_bounds(start: pd.Timestamp, end: pd.Timestamp,
                  delta: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    out = []
    t = start
    while t < end:
        out.append((t, min(t + delta, end)))
        t = t + delta
    return out


def chunk_performance(spec: ModelSpec, frame: pd.DataFrame, estimator: PerformanceEstimator,
                      rng: np.random.Generator, *, bands: Mapping[str, Band | None] | None = None,
                      start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, chunk: str = "1d",
                      min_labels: int = MIN_LABELS_PER_CHUNK) -> ChunkPerformance:
    """Realized (labelled rows) and estimated (all rows) performance per chunk and for the window.

    Parameters
    ----------
    spec : ModelSpec
    frame : DataFrame
        The window's rows: timestamp, model output, target (NaN where unlabelled).
    estimator : PerformanceEstimator
    rng : numpy.random.Generator
        For the bootstrap intervals and the label draws.
    bands : mapping of metric -> Band, optional
        Baseline bands (``performance/<metric>/all``).
    start, end : Timestamp, optional
        Window bounds; chunks are cut from ``start``. Default: the rows' first day and last time.
    chunk : str
        Chunk size (``1d``, ``12h``, ``1w``).
    min_labels : int
        Labelled rows a chunk needs before its realized figures are trusted.

    Returns
    -------
    ChunkPerformance
    """
    delta = chunk_delta(chunk)
    ts = pd.to_datetime(frame[spec.timestamp], utc=True)
    start = _utc(start) if start is not None else ts.min().floor("D")
    end = _utc(end) if end is not None else ts.max() + pd.Timedelta(microseconds=1)
    bands = dict(bands or {})
    margin = float((spec.thresholds or {}).get("band_margin", 0.0) or 0.0)
    y_all = spec.labels(frame)
    s_all = spec.scores(frame)
    tsv = _naive64(ts)
    parts = [(str(a.isoformat()), a, b, (tsv >= _naive64([a])[0]) & (tsv < _naive64([b])[0]))
             for a, b in _chunk_bounds(start, end, delta)]
    parts.append(("window", start, end, np.ones(len(frame), dtype=bool)))
    rows = []
    for name, a, b, mask in parts:
        s = s_all[mask]
        y = y_all[mask]
        lab = np.isfinite(y)
        yl, sl = y[lab], s[lab]
        n_lab = int(lab.sum())
        pos = int((yl == 1).sum()) if spec.task == "binary_classification" else None
        enough = n_lab >= min_labels and (pos is None or min(pos, n_lab - pos) >= MIN_CLASS_ROWS)
        sub = frame.loc[mask] if spec.task == "regression" else None
        est_all = estimator.estimate(s, sub) if len(s) else {m: float("nan") for m in spec.metrics}
        sub_lab = sub.loc[lab] if sub is not None else None
        exp_lab = estimator.estimate(sl, sub_lab) if n_lab else {m: float("nan") for m in spec.metrics}
        sd_lab = estimator.null_sd(sl, rng, sub_lab) if n_lab >= 2 else {m: float("nan") for m in spec.metrics}
        real = realized(spec.task, yl, sl, spec.threshold) if n_lab else {m: float("nan") for m in spec.metrics}
        for m in spec.metrics:
            v = real.get(m, float("nan"))
            lo, hi = confidence_interval(spec.task, m, yl, sl, spec.threshold, v, rng) if n_lab >= 2 \
                else (float("nan"), float("nan"))
            lim = band_limits(bands.get(m), n_lab, margin)
            elim = band_limits(bands.get(m), int(mask.sum()), margin)
            higher = HIGHER_IS_BETTER.get(m, True)
            beyond = bool(np.isfinite(v) and np.isfinite(lim["low"]) and
                          ((v < lim["low"]) if higher else (v > lim["high"])))
            z = (v - exp_lab[m]) / sd_lab[m] if np.isfinite(v) and sd_lab.get(m) else float("nan")
            rows.append({"chunk": name, "start": a, "end": b, "rows": int(mask.sum()), "labelled": n_lab,
                         "coverage": n_lab / mask.sum() if mask.sum() else float("nan"), "positives": pos,
                         "enough_labels": bool(enough), "metric": m, "realized": v, "ci_low": lo, "ci_high": hi,
                         "estimated": est_all[m], "expected": exp_lab[m], "null_sd": sd_lab[m],
                         "z": z if higher else -z, "band_low": lim["low"], "band_high": lim["high"],
                         "band_mean": lim["mean"], "est_band_low": elim["low"], "est_band_high": elim["high"],
                         "below_band": beyond and bool(enough)})
    return ChunkPerformance(table=pd.DataFrame(rows), task=spec.task, metrics=spec.metrics, chunk=chunk,
                            min_labels=min_labels)


# =========================================================================== the loss stream and detectors

@dataclass(frozen=True)
class DetectorInfo:
    """A river drift detector as used here: display name, input kind, settings to calibrate."""

    name: str
    display: str
    kind: str  # "continuous" (z-scores) or "binary" (block worse than the reference median)
    levels: tuple[float, ...]  # settings, most sensitive first
    make: Callable[..., Any] = field(repr=False)
    prefill: int = 0  # > 0: starts from this many warm-up blocks as its window instead of reading them
    p_value: bool = False  # exposes the p-value it compares with its level: calibrated in one pass


def _adwin(delta, seed):
    from river import drift

    return drift.ADWIN(delta=delta, clock=1, grace_period=10, min_window_length=5)


def _page_hinkley(threshold, seed):
    from river import drift

    return drift.PageHinkley(min_instances=24, delta=0.25, threshold=threshold, mode="up")


KSWIN_WINDOW = 60


def _kswin(alpha, seed, window=None):
    from river import drift

    return drift.KSWIN(alpha=alpha, window_size=KSWIN_WINDOW, stat_size=20, seed=seed, window=window)


def _ddm(threshold, seed):
    from river.drift.binary import DDM

    return DDM(warm_start=24, warning_threshold=min(2.0, threshold - 0.5), drift_threshold=threshold)


def _eddm(beta, seed):
    from river.drift.binary import EDDM

    return EDDM(warm_start=24, alpha=min(0.99, beta + 0.05), beta=beta)


def _hddm_a(confidence, seed):
    from river.drift.binary import HDDMA

    return HDDMA(drift_confidence=confidence, warning_confidence=max(confidence * 5, 0.005))


def _hddm_w(confidence, seed):
    from river.drift.binary import HDDMW

    return HDDMW(drift_confidence=confidence, warning_confidence=max(confidence * 5, 0.005))


#: The detectors, by machine name (river's implementations; only the settings are ours).
DETECTORS: dict[str, DetectorInfo] = {d.name: d for d in (
    DetectorInfo("adwin", "ADWIN", "continuous", (0.002, 2e-4, 2e-5, 2e-6), _adwin),
    DetectorInfo("page_hinkley", "Page-Hinkley", "continuous", (8.0, 12.0, 16.0, 24.0), _page_hinkley),
    DetectorInfo("kswin", "KSWIN", "continuous", (1e-3, 1e-4, 1e-5, 1e-6), _kswin, prefill=KSWIN_WINDOW,
                 p_value=True),
    DetectorInfo("ddm", "DDM", "binary", (3.0, 4.0, 5.0), _ddm),
    DetectorInfo("eddm", "EDDM", "binary", (0.9, 0.8, 0.7, 0.6), _eddm),
    DetectorInfo("hddm_a", "HDDM_A", "binary", (1e-3, 1e-4, 1e-5), _hddm_a),
    DetectorInfo("hddm_w", "HDDM_W", "binary", (1e-3, 1e-4, 1e-5), _hddm_w),
)}


@dataclass(frozen=True)
class LossStream:
    """Excess loss of the labelled rows in time order, averaged in blocks and standardised.

    ``z`` and ``bits`` are the window's blocks; ``warmup`` holds reference
    blocks the detectors read first, so that they know the reference level
    before the window starts.
    """

    z: np.ndarray
    bits: np.ndarray
    block_rows: np.ndarray
    first_ts: pd.DatetimeIndex
    last_ts: pd.DatetimeIndex
    block_size: int
    rows_used: int
    rows_labelled: int
    reference_mean: float
    reference_sd: float
    bit_threshold: float
    warmup: np.ndarray = field(repr=False)
    reference_blocks: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.z)

    def to_df(self) -> pd.DataFrame:
        return pd.DataFrame({"first": self.first_ts, "last": self.last_ts, "rows": self.block_rows,
                             "z": self.z, "worse_than_reference_median": self.bits.astype(bool)})


def loss_stream(ts: np.ndarray | pd.Series, excess: np.ndarray, reference_excess: np.ndarray,
                rng: np.random.Generator, *, blocks: int = BLOCKS_PER_WINDOW, min_rows: int = MIN_BLOCK_ROWS,
                max_rows: int = MAX_BLOCK_ROWS, warmup: int = WARMUP_BLOCKS) -> LossStream:
    """Average the time-ordered excess loss in blocks and standardise it with the reference.

    Parameters
    ----------
    ts : array of timestamps (sorted ascending)
    excess : array
        Per labelled row: loss minus expected loss (:meth:`PerformanceEstimator.excess`).
    reference_excess : array
        The same quantity on the reference rows (cross-fitted).
    rng : numpy.random.Generator
        For the row sample of large windows and the reference blocks.
    blocks : int
        Blocks wanted in the window (about one an hour for a week).
    min_rows, max_rows : int
        Fewest and most rows in a block. Above ``blocks × max_rows`` labelled
        rows, an evenly spread random sample of rows is used: a block z-score
        grows with the square root of its size, and so would a negligible
        reference-to-window offset, which detectors would then flag.
    warmup : int
        Reference blocks read before the window.
    """
    ts = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    excess = np.asarray(excess, dtype=float)
    n_lab = len(excess)
    if n_lab > blocks * max_rows:
        keep = np.sort(rng.choice(n_lab, size=blocks * max_rows, replace=False))
        ts, excess = ts[keep], excess[keep]
    n = len(excess)
    size = max(min_rows, math.ceil(n / blocks)) if n else min_rows
    nb = n // size if n else 0
    edges = np.linspace(0, n, nb + 1).astype(int) if nb else np.array([0])
    mu = float(np.mean(reference_excess)) if len(reference_excess) else 0.0
    sd = float(np.std(reference_excess, ddof=1)) if len(reference_excess) > 1 else 1.0
    sd = sd if sd > 0 else 1.0
    if nb:
        sizes = np.diff(edges)
        means = np.add.reduceat(excess, edges[:-1]) / sizes
        z = (means - mu) / (sd / np.sqrt(sizes))
        first, last = ts[edges[:-1]], ts[edges[1:] - 1]
    else:
        sizes, z, first, last = np.array([], int), np.array([]), ts[:0], ts[:0]
    # Reference blocks (rows drawn with replacement), standardised the same way; smaller blocks when
    # the reference is small: a standardised block mean is close to N(0, 1) whatever its size.
    nref = len(reference_excess)
    ref_size = max(5, min(size, nref // 200)) if nref else 5
    pool = max(1000, 4 * (nb + warmup))
    if nref:
        draw = rng.integers(0, nref, size=(pool, ref_size))
        ref_blocks = (reference_excess[draw].mean(axis=1) - mu) / (sd / math.sqrt(ref_size))
    else:
        ref_blocks = np.zeros(0)
    thr = float(np.median(ref_blocks)) if len(ref_blocks) else 0.0
    warm = rng.choice(ref_blocks, size=warmup, replace=True) if len(ref_blocks) else np.zeros(0)
    return LossStream(z=z, bits=(z > thr).astype(int), block_rows=sizes, first_ts=first, last_ts=last,
                      block_size=size, rows_used=n, rows_labelled=n_lab, reference_mean=mu, reference_sd=sd,
                      bit_threshold=thr, warmup=warm, reference_blocks=ref_blocks)


def _onset(z: np.ndarray, start: int, stop: int, margin: int = 3, min_t: float = 0.0) -> int | None:
    """Where z[start:stop+1] most clearly steps up: first block of the worse part, or None.

    The split maximises the standardised mean difference (after − before) ·
    sqrt(k (n − k) / n), with at least ``margin`` blocks on each side; None
    when no split reaches ``min_t``.
    """
    seg = z[start:stop + 1]
    n = len(seg)
    if n < 2 * margin:
        return None
    c = np.cumsum(seg)
    k = np.arange(margin, n - margin + 1)
    before = c[k - 1] / k
    after = (c[-1] - c[k - 1]) / (n - k)
    t = (after - before) * np.sqrt(k * (n - k) / n)
    best = int(np.argmax(t))
    return start + int(k[best]) if t[best] > min_t else None


def _locate(z: np.ndarray, seg_start: int, detected: int, first: int, lookahead: int) -> int | None:
    """Onset of a detection at ``detected`` (indices into warm-up + window; ``first`` = window start).

    Inside the window the onset is the clearest step up (t ≥ :data:`ONSET_MIN_T`) between the
    detector's last reset and ``lookahead`` blocks after the detection. Without such a step the
    change is dated to the window's start (it happened at or before it) when the window is worse
    than the blocks before it, and the detection is dropped otherwise (not a worsening).
    """
    stop = min(detected + lookahead, len(z) - 1)
    lo = max(seg_start, first)
    inside = _onset(z, lo, stop, min_t=ONSET_MIN_T)
    if inside is not None:
        return inside
    return lo if _onset(z, seg_start, stop) is not None else None


def _run_detector(info: DetectorInfo, level: float, z: np.ndarray, threshold: float, seed: int,
                  first: int = 0, lookahead: int = 0) -> list[tuple[int, int]]:
    """(detection, onset) block indices of every worsening change a detector reports at or after
    block ``first``; onsets are clipped to ``first`` (the change happened at or before it).

    The onset is located on the blocks since the detector's last reset up to
    ``lookahead`` blocks after the detection (the report is written after the
    window closed, so those blocks are known; they sharpen the split of a
    change detected early).
    """
    values = (z > threshold).astype(int).tolist() if info.kind == "binary" else z.tolist()
    begin = 0
    if info.prefill and first >= info.prefill:
        # KSWIN runs a KS test at every update: start it from the last warm-up blocks (river's
        # ``window`` argument) rather than reading the whole warm-up; same state, far fewer tests.
        det = info.make(level, seed, window=values[first - info.prefill:first])
        begin = first
    else:
        det = info.make(level, seed)
    out = []
    seg_start = 0
    for i in range(begin, len(values)):
        det.update(values[i])
        if det.drift_detected:
            onset = _locate(z, seg_start, i, first, lookahead) if i >= first else None
            if onset is not None:
                out.append((i - first, max(onset, first) - first))
            seg_start = i + 1
    return out


def _clusters(found: Mapping[str, list[tuple[int, int]]], tolerance_blocks: int) -> list[list[tuple[str, int, int]]]:
    """Group detections whose onsets lie within ``tolerance_blocks`` of the previous one."""
    items = sorted(((onset, name, det) for name, hits in found.items() for det, onset in hits))
    groups: list[list[tuple[str, int, int]]] = []
    for onset, name, det in items:
        if groups and onset - groups[-1][-1][2] <= tolerance_blocks:
            groups[-1].append((name, det, onset))
        else:
            groups.append([(name, det, onset)])
    return groups


def _is_consensus(group) -> bool:
    return len({name for name, _, _ in group}) >= CONSENSUS_MIN


@dataclass
class DetectorCalibration:
    """The setting chosen for a detector on the reference, and its false-alarm rate there."""

    name: str
    level: float | None
    false_alarm_rate: float
    streams: int
    used: bool


def calibrate_detectors(stream: "LossStream", rng: np.random.Generator, tolerance_blocks: int, *,
                        streams: int = NULL_STREAMS, target: float = FALSE_ALARM_TARGET,
                        detectors: Sequence[str] | None = None) -> tuple[dict[str, DetectorCalibration], float]:
    """Choose each detector's most sensitive setting with few false alarms on reference streams.

    A null stream is a warm-up and a window of the same lengths as the real
    ones, every block drawn from the reference blocks: nothing changes in it,
    so any detection in its window part is a false alarm.

    Returns the calibrations and the consensus false-alarm rate (share of
    null streams where :data:`CONSENSUS_MIN` detectors agree on a change).
    """
    names = list(detectors or DETECTORS)
    w, n = len(stream.warmup), len(stream)
    null = [rng.choice(stream.reference_blocks, size=w + n, replace=True) for _ in range(streams)]
    seeds = rng.integers(0, 2**31 - 1, size=streams)
    out: dict[str, DetectorCalibration] = {}
    hits_by_stream: list[dict[str, list]] = [dict() for _ in range(streams)]
    for name in names:
        info = DETECTORS[name]
        chosen = None
        rate = float("nan")
        if info.p_value:
            chosen, runs = _calibrate_by_p_value(info, null, seeds, stream.bit_threshold, w, tolerance_blocks, target)
            out[name] = chosen
            if chosen.used:
                for h, r in zip(hits_by_stream, runs):
                    h[name] = r
            continue
        for level in info.levels:
            runs = [_run_detector(info, level, z, stream.bit_threshold, int(sd), first=w, lookahead=tolerance_blocks)
                    for z, sd in zip(null, seeds)]
            rate = float(np.mean([bool(r) for r in runs]))
            if rate <= target:
                chosen = DetectorCalibration(name, level, rate, streams, True)
                for h, r in zip(hits_by_stream, runs):
                    h[name] = r
                break
        out[name] = chosen or DetectorCalibration(name, None, rate, streams, False)
    consensus = float(np.mean([any(_is_consensus(g) for g in _clusters(h, tolerance_blocks)) for h in hits_by_stream]))
    return out, consensus


def _calibrate_by_p_value(info: DetectorInfo, null, seeds, threshold: float, first: int, lookahead: int,
                          target: float) -> tuple[DetectorCalibration, list[list[tuple[int, int]]]]:
    """One pass per null stream at level 0 (never fires), recording the detector's p-values: the
    streams it would flag at a level are those whose smallest p-value is at or below it (the first
    alarm decides whether a stream has any)."""
    pvals = []
    for z, sd in zip(null, seeds):
        values = z.tolist()
        det = info.make(0.0, int(sd), window=values[first - info.prefill:first]) if info.prefill \
            else info.make(0.0, int(sd))
        ps = []
        for i in range(first if info.prefill else 0, len(values)):
            det.update(values[i])
            if i >= first:
                ps.append(float(det.p_value))
        pvals.append(np.asarray(ps))
    rate = float("nan")
    for level in info.levels:
        hit = [np.flatnonzero(p <= level) for p in pvals]
        rate = float(np.mean([len(h) > 0 for h in hit]))
        if rate <= target:
            runs = []
            for z, h in zip(null, hit):
                if len(h):
                    d = first + int(h[0])
                    onset = _locate(z, 0, d, first, lookahead)
                    runs.append([(d - first, max(onset, first) - first)] if onset is not None else [])
                else:
                    runs.append([])
            return DetectorCalibration(info.name, level, rate, len(null), True), runs
    return DetectorCalibration(info.name, None, rate, len(null), False), [[] for _ in null]


@dataclass
class ChangePoints:
    """Detections of river's detectors on the excess-loss stream, and where they agree.

    ``to_df()``: one row per detection (``detector``, ``at`` = estimated onset,
    ``detected_at``, ``delay_hours``, ``cluster``, ``consensus``, ``status``).
    """

    stream: LossStream
    detections: pd.DataFrame
    calibration: dict[str, DetectorCalibration]
    consensus_false_alarm_rate: float
    tolerance: pd.Timedelta
    clusters: pd.DataFrame
    note: str = ""

    def to_df(self) -> pd.DataFrame:
        return self.detections.copy()

    def calibration_df(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "detector": DETECTORS[c.name].display, "input": DETECTORS[c.name].kind, "setting": c.level,
            "false alarms on reference streams": c.false_alarm_rate, "used": "yes" if c.used else "no (too noisy)",
        } for c in self.calibration.values()])

    def consensus(self) -> pd.DataFrame:
        """Clusters where at least :data:`CONSENSUS_MIN` detectors agree, earliest first."""
        if self.clusters.empty:
            return self.clusters
        return self.clusters[self.clusters["consensus"]].reset_index(drop=True)

    def plot(self, kind: str = "stream"):
        from . import plots

        if kind == "stream":
            return plots.loss_stream(self)
        raise UsageError(f"The 'kind' parameter of ChangePoints.plot must be 'stream'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        if self.detections.empty:
            return f"<p>No detector found a worsening change. {html.escape(self.note)}</p>"
        return _table_html(self.detections)


def detect_changes(stream: LossStream, rng: np.random.Generator, *,
                   tolerance: pd.Timedelta = CONSENSUS_TOLERANCE,
                   detectors: Sequence[str] | None = None) -> ChangePoints:
    """Run the calibrated river detectors on a loss stream; group detections by onset.

    Parameters
    ----------
    stream : LossStream
        From :func:`loss_stream`.
    rng : numpy.random.Generator
        For the reference null streams and KSWIN's sampling.
    tolerance : Timedelta
        Detectors agree when their onsets are this close.
    detectors : sequence of str, optional
        Names from :data:`DETECTORS` (all by default).

    Returns
    -------
    ChangePoints
        Statuses are set later by :func:`assess_changes` (they need the performance test).
    """
    names = list(detectors or DETECTORS)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise UsageError(f"The 'detectors' parameter of detect_changes must name detectors among "
                         f"{', '.join(DETECTORS)}. Got {', '.join(map(repr, unknown))} instead.")
    empty_cols = ["detector", "method", "block", "onset_block", "at", "detected_at", "at_window_start",
                  "delay_hours", "cluster", "consensus", "status"]
    n = len(stream)
    if n < MIN_STREAM_BLOCKS:
        note = (f"Only {n} blocks of labelled rows ({stream.block_size} rows each): change detection needs at "
                f"least {MIN_STREAM_BLOCKS}.")
        return ChangePoints(stream, pd.DataFrame(columns=empty_cols), {}, float("nan"), tolerance,
                            pd.DataFrame(columns=["cluster", "at", "detectors", "consensus"]), note)
    span = (stream.last_ts[-1] - stream.first_ts[0]) / max(n, 1)
    tol_blocks = max(2, int(round(tolerance / span))) if span > pd.Timedelta(0) else 2
    calib, consensus_fa = calibrate_detectors(stream, rng, tol_blocks, detectors=names)
    seed = int(rng.integers(0, 2**31 - 1))
    full = np.concatenate([stream.warmup, stream.z])
    w = len(stream.warmup)
    found = {name: _run_detector(DETECTORS[name], c.level, full, stream.bit_threshold, seed, first=w,
                                 lookahead=tol_blocks)
             for name, c in calib.items() if c.used}
    groups = _clusters(found, tol_blocks)
    rows, crow = [], []
    for gi, g in enumerate(groups):
        cons = _is_consensus(g)
        onsets = [o for _, _, o in g]
        at = stream.first_ts[int(np.median(onsets))]
        crow.append({"cluster": gi, "at": at, "detectors": ", ".join(sorted({DETECTORS[nm].display for nm, _, _ in g})),
                     "n_detectors": len({nm for nm, _, _ in g}), "consensus": cons,
                     "first_detected_at": min(stream.last_ts[d] for _, d, _ in g)})
        for name, det, onset in g:
            t_on, t_det = stream.first_ts[onset], stream.last_ts[det]
            rows.append({"detector": name, "method": DETECTORS[name].display, "block": det, "onset_block": onset,
                         "at": t_on, "detected_at": t_det, "at_window_start": onset == 0,
                         "delay_hours": (t_det - t_on).total_seconds() / 3600, "cluster": gi,
                         "consensus": cons, "status": "ok"})
    det_df = pd.DataFrame(rows, columns=empty_cols) if rows else pd.DataFrame(columns=empty_cols)
    clusters = pd.DataFrame(crow) if crow else pd.DataFrame(columns=["cluster", "at", "detectors", "n_detectors",
                                                                     "consensus", "first_detected_at"])
    unused = [DETECTORS[c.name].display for c in calib.values() if not c.used]
    note = (f"Not used (too many false alarms on the reference at every setting): {', '.join(unused)}."
            if unused else "")
    return ChangePoints(stream, det_df.sort_values("at", kind="stable").reset_index(drop=True), calib,
                        consensus_fa, tolerance, clusters, note)


# =========================================================================== concept test

@dataclass
class ConceptTest:
    """Realized against expected-under-the-window's-inputs, per metric.

    ``to_df()``: ``metric``, ``realized``, ``expected``, ``gap`` (realized −
    expected), ``worse_by``, ``sd``, ``z`` (negative = worse), ``p_value``,
    ``min_gap``, ``status``, ``rows``, ``scope``.
    """

    table: pd.DataFrame

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def status(self) -> str:
        return worst(self.table["status"]) if len(self.table) else "ok"

    def row(self, metric: str) -> dict[str, Any]:
        r = self.table[self.table["metric"] == metric]
        return r.iloc[0].to_dict() if len(r) else {}

    def _repr_html_(self) -> str:
        return _table_html(self.table)


def concept_test(spec: ModelSpec, estimator: PerformanceEstimator, y: np.ndarray, scores: np.ndarray,
                 rng: np.random.Generator, frame: pd.DataFrame | None = None, scope: str = "window",
                 metrics: Sequence[str] | None = None) -> ConceptTest:
    """Is realized performance clearly below what the window's inputs lead to expect?

    Parameters
    ----------
    spec : ModelSpec
    estimator : PerformanceEstimator
    y, scores : arrays
        Labelled rows only.
    rng : numpy.random.Generator
    frame : DataFrame, optional
        The same rows (regression needs their features).
    scope : str
        A label for the rows tested (``window``, ``after 2026-10-28T12:00``).
    """
    metrics = tuple(metrics or spec.metrics)
    real = realized(spec.task, y, scores, spec.threshold, metrics)
    exp = estimator.estimate(scores, frame, metrics)
    sd = estimator.null_sd(scores, rng, frame, metrics)
    rows = []
    for m in metrics:
        g = gap_status(m, real[m], exp[m], sd[m], estimator.reference_values.get(m), n_tests=len(metrics))
        if not np.isfinite(real[m]):
            g["status"] = "ok"
        rows.append({"metric": m, "realized": real[m], "expected": exp[m], **g, "rows": int(len(y)), "scope": scope})
    return ConceptTest(pd.DataFrame(rows))


# =========================================================================== binning, residual shift

@dataclass(frozen=True)
class Binning:
    """How one column is cut into segments: levels or quartile bins, with query pieces."""

    feature: str
    kind: str
    labels: tuple[str, ...]
    queries: tuple[str, ...]
    edges: tuple[float, ...] = ()
    levels: tuple[Any, ...] = ()

    def codes(self, s: pd.Series) -> np.ndarray:
        """Bin index of each value, -1 for missing or unlisted levels."""
        if self.kind == "numeric":
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), v, side="left")
            return np.where(np.isfinite(v), idx, -1)
        lookup = {lvl: i for i, lvl in enumerate(self.levels)}
        return s.astype(object).map(lookup).fillna(-1).astype(int).to_numpy()


def _ident(name: str) -> str:
    """A column name as pandas ``query`` reads it (backticks unless a plain identifier)."""
    import keyword

    if name.isidentifier() and not keyword.iskeyword(name) and name not in ("and", "or", "not", "in", "True",
                                                                              "False", "None"):
        return name
    if "`" in name:
        raise UsageError(f"column {name!r} contains a backtick: it cannot be written in a pandas query")
    return f"`{name}`"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return json.dumps(str(value))


def _fmt(v: float) -> str:
    return f"{v:,.4g}"


def make_binnings(frame: pd.DataFrame, features: FeaturesConfig, *, profiles: Mapping[str, Any] | None = None,
                  reference: pd.DataFrame | None = None, extra_categorical: Sequence[str] = ()) -> list[Binning]:
    """Quartile bins of numeric features (baseline profile quantiles) and levels of categorical ones.

    Categorical levels with fewer than :data:`MIN_SEGMENT_ROWS` rows in
    ``frame`` are left out (at most :data:`MAX_LEVELS` per feature).
    """
    out = []
    profiles = profiles or {}
    for name in features.numeric:
        if name not in frame.columns:
            continue
        prof = profiles.get(name) or {}
        q = prof.get("quantiles") or []
        if len(q) == 101:
            qs = [q[k] for k in QUARTILES if q[k] is not None]
        else:
            src = reference[name] if reference is not None and name in reference.columns else frame[name]
            v = pd.to_numeric(src, errors="coerce").dropna().to_numpy(dtype=float)
            qs = list(np.percentile(v, QUARTILES)) if len(v) else []
        edges = tuple(sorted({float(e) for e in qs if e is not None and np.isfinite(e)}))
        if not edges:
            continue
        col = _ident(name)
        labels, queries = [], []
        bounds = [-np.inf, *edges, np.inf]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if not np.isfinite(lo):
                labels.append(f"{name} ≤ {_fmt(hi)}")
                queries.append(f"{col} <= {_literal(hi)}")
            elif not np.isfinite(hi):
                labels.append(f"{name} > {_fmt(lo)}")
                queries.append(f"{col} > {_literal(lo)}")
            else:
                labels.append(f"{_fmt(lo)} < {name} ≤ {_fmt(hi)}")
                queries.append(f"{col} > {_literal(lo)} and {col} <= {_literal(hi)}")
        out.append(Binning(name, "numeric", tuple(labels), tuple(queries), edges=edges))
    for name in dict.fromkeys([*features.categorical, *extra_categorical]):
        if name not in frame.columns or any(b.feature == name for b in out):
            continue
        counts = frame[name].astype(object).value_counts(dropna=True)
        levels = [lvl for lvl, c in counts.items() if c >= MIN_SEGMENT_ROWS][:MAX_LEVELS]
        if not levels:
            continue
        col = _ident(name)
        out.append(Binning(name, "categorical", tuple(f"{name} = {lvl}" for lvl in levels),
                           tuple(f"{col} == {_literal(lvl)}" for lvl in levels), levels=tuple(levels)))
    return out


@dataclass
class ResidualShift:
    """Residuals (label − calibrated score) per feature bin: reference against window.

    ``to_df()``: one row per feature: ``chi2``, ``bins``, ``p_value``,
    ``p_adjusted`` (Benjamini-Hochberg), ``effect`` (largest bin shift in
    residual sd), ``worst_bin``, ``shift`` (window − reference residual in it),
    ``status``. ``bins_df()`` has every bin.
    """

    table: pd.DataFrame
    bins: pd.DataFrame
    residual_sd: float

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def bins_df(self, feature: str | None = None) -> pd.DataFrame:
        b = self.bins
        return b[b["feature"] == feature].reset_index(drop=True) if feature else b.copy()

    def status(self) -> str:
        return worst(self.table["status"]) if len(self.table) else "ok"

    def flagged(self) -> list[str]:
        if self.table.empty:
            return []
        return self.table.loc[self.table["status"] != "ok", "feature"].tolist()

    def plot(self, kind: str = "bins", feature: str | None = None):
        from . import plots

        if kind == "bins":
            top = feature or (self.table["feature"].iloc[0] if len(self.table) else None)
            return plots.residual_bins(self, top)
        raise UsageError(f"The 'kind' parameter of ResidualShift.plot must be 'bins'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return _table_html(self.table)


def residual_shift(binnings: Sequence[Binning], frame: pd.DataFrame, residual: np.ndarray,
                   reference: pd.DataFrame, reference_residual: np.ndarray,
                   score_binning: Binning | None = None) -> ResidualShift:
    """Test P(y | x) directly: do residuals per feature bin differ between reference and window?

    Per bin (at least :data:`MIN_BIN_ROWS` rows on each side), z = difference
    of mean residuals over its standard error; a feature's statistic is the sum
    of z² (chi-square with one degree of freedom per bin). p-values are
    adjusted with Benjamini-Hochberg across features.
    """
    from scipy.stats import chi2

    from .stats import benjamini_hochberg

    sd = float(np.std(reference_residual, ddof=1)) if len(reference_residual) > 1 else 1.0
    rows, bins_rows = [], []
    items = list(binnings) + ([score_binning] if score_binning is not None else [])
    for b in items:
        cw = b.codes(frame[b.feature])
        cr = b.codes(reference[b.feature])
        stat, df, best = 0.0, 0, None
        for i, label in enumerate(b.labels):
            rw, rr = residual[cw == i], reference_residual[cr == i]
            if len(rw) < MIN_BIN_ROWS or len(rr) < MIN_BIN_ROWS:
                continue
            d = rw.mean() - rr.mean()
            se = math.sqrt(rw.var(ddof=1) / len(rw) + rr.var(ddof=1) / len(rr))
            z = d / se if se > 0 else 0.0
            stat += z * z
            df += 1
            bins_rows.append({"feature": b.feature, "bin": label, "window_rows": len(rw), "reference_rows": len(rr),
                              "window_residual": rw.mean(), "reference_residual": rr.mean(), "shift": d, "z": z})
            if best is None or abs(d) > abs(best[1]):
                best = (label, d)
        if df == 0:
            continue
        rows.append({"feature": b.feature, "chi2": stat, "bins": df, "p_value": float(chi2.sf(stat, df)),
                     "effect": abs(best[1]) / sd if sd > 0 else 0.0, "worst_bin": best[0], "shift": best[1]})
    table = pd.DataFrame(rows, columns=["feature", "chi2", "bins", "p_value", "effect", "worst_bin", "shift"])
    if len(table):
        table["p_adjusted"] = benjamini_hochberg(table["p_value"].to_numpy())
        table["status"] = np.where((table["p_adjusted"] < RESIDUAL_ALPHA) & (table["effect"] >= RESIDUAL_MIN_EFFECT),
                                   "warn", "ok")
        table = table.sort_values(["p_adjusted", "effect"], ascending=[True, False], kind="stable")
        table = table.reset_index(drop=True)
    else:
        table["p_adjusted"] = []
        table["status"] = []
    return ResidualShift(table, pd.DataFrame(bins_rows), sd)


# =========================================================================== segments

@dataclass
class SegmentResult:
    """Segments ranked by lost performance × share (see :func:`find_segments`)."""

    table: pd.DataFrame
    unit: str
    scope: str
    suppressed: int

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def worst(self) -> dict[str, Any] | None:
        """The top segment whose loss is significant (lower 95% bound above 0), else None.

        ``query`` selects it with ``DataFrame.query`` (column names in
        backticks where needed).
        """
        if self.table.empty:
            return None
        sig = self.table[self.table["contribution_low"] > 0]
        if sig.empty:
            return None
        r = sig.iloc[0]
        if r["part_b"] == "":
            # A pair inside the top level or bin is the sharper answer when the rest of that level
            # holds no significant loss (contributions add up; the normal approximation of the rest
            # comes from the two intervals).
            inside = sig[(sig["part_b"] != "") & ((sig["part_a"] == r["segment"]) | (sig["part_b"] == r["segment"]))]
            se_top = (r["contribution_high"] - r["contribution"]) / 1.96
            for pair in inside.to_dict("records"):
                se_pair = (pair["contribution_high"] - pair["contribution"]) / 1.96
                rest = r["contribution"] - pair["contribution"]
                if rest - 1.96 * math.sqrt(max(se_top ** 2 - se_pair ** 2, 0.0)) <= 0:
                    r = pd.Series(pair)
                    break
        out = {"query": r["query"], "description": r["segment"], "rows": int(r["rows"]),
               "share": float(r["share"]), "loss": float(r["lost"]), "loss_low": float(r["lost_low"]),
               "loss_high": float(r["lost_high"]), "shift": float(r["shift"]), "contribution": float(r["contribution"]),
               "unit": self.unit, "scope": self.scope}
        for c in ("observed", "expected"):
            if c in r.index:
                out[c] = float(r[c])
        return out

    def plot(self, kind: str = "bars", top: int = 10):
        from . import plots

        if kind == "bars":
            return plots.segment_bars(self, top)
        raise UsageError(f"The 'kind' parameter of SegmentResult.plot must be 'bars'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return _table_html(self.table.head(15))


def _segment_stats(codes: np.ndarray, k: int, v: np.ndarray):
    """Per code: row count, mean and variance of ``v`` (codes < 0 ignored)."""
    ok = codes >= 0
    c = codes[ok]
    n = np.bincount(c, minlength=k).astype(float)
    s1 = np.bincount(c, weights=v[ok], minlength=k)
    s2 = np.bincount(c, weights=v[ok] ** 2, minlength=k)
    mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
    var = np.where(n > 1, (s2 - s1 ** 2 / np.maximum(n, 1)) / np.maximum(n - 1, 1), np.nan)
    return n, mean, var


def find_segments(binnings: Sequence[Binning], frame: pd.DataFrame, values: np.ndarray, reference: pd.DataFrame,
                  reference_values: np.ndarray, *, direction: str, unit: str, scope: str = "window",
                  classes: np.ndarray | None = None, observed: np.ndarray | None = None,
                  expected: np.ndarray | None = None, pairs: bool = True,
                  min_rows: int | None = None) -> SegmentResult:
    """Rank segments (levels, quartile bins and pairs of them) by lost performance × share.

    For each segment, *shift* is the mean of ``values`` in the window minus its
    mean in the same segment of the reference (a segment the model always
    served worse is not a change). *lost* is the shift read in the worse
    direction: ``abs`` (binary: the residual label − calibrated score; a click
    rate moving away from the scores either way is lost calibration, in
    outcome-rate points), ``lower`` (multiclass: hits − expected hits, accuracy
    points) or ``higher`` (regression: excess absolute error, MAE units).
    *contribution* = lost × share of rows, with a 95% interval from the normal
    approximation of both means.

    Segments with fewer than ``min_rows`` rows (default max(
    :data:`MIN_SEGMENT_ROWS`, 1% of rows)), fewer than :data:`MIN_CLASS_ROWS`
    rows of either class (when ``classes`` is 0/1) or fewer than
    :data:`MIN_BIN_ROWS` reference rows are suppressed as too noisy.
    """
    if direction not in ("abs", "higher", "lower"):
        raise UsageError(f"The 'direction' parameter of find_segments must be 'abs', 'higher' or 'lower'. "
                         f"Got {direction!r} instead.")
    n = len(frame)
    min_rows = min_rows or max(MIN_SEGMENT_ROWS, int(MIN_SEGMENT_SHARE * n))
    values = np.asarray(values, dtype=float)
    reference_values = np.asarray(reference_values, dtype=float)
    codes_w = {b.feature: b.codes(frame[b.feature]) for b in binnings}
    codes_r = {b.feature: b.codes(reference[b.feature]) for b in binnings}
    by_name = {b.feature: b for b in binnings}
    candidates = [(b.feature, "", codes_w[b.feature], codes_r[b.feature],
                   [(lab, q, lab, "") for lab, q in zip(b.labels, b.queries)]) for b in binnings]
    if pairs:
        names = [b.feature for b in binnings]
        for i, fa in enumerate(names):
            for fb in names[i + 1:]:
                ka, kb = len(by_name[fa].labels), len(by_name[fb].labels)
                cw = np.where((codes_w[fa] >= 0) & (codes_w[fb] >= 0), codes_w[fa] * kb + codes_w[fb], -1)
                cr = np.where((codes_r[fa] >= 0) & (codes_r[fb] >= 0), codes_r[fa] * kb + codes_r[fb], -1)
                labels = [(f"{by_name[fa].labels[x]} and {by_name[fb].labels[yv]}",
                           f"{by_name[fa].queries[x]} and {by_name[fb].queries[yv]}",
                           by_name[fa].labels[x], by_name[fb].labels[yv])
                          for x in range(ka) for yv in range(kb)]
                candidates.append((fa, fb, cw, cr, labels))
    binary = classes is not None and set(np.unique(classes)) <= {0.0, 1.0}
    rows = []
    suppressed = 0
    for fa, fb, cw, cr, labels in candidates:
        k = len(labels)
        cnt, mw, vw = _segment_stats(cw, k, values)
        cntr, mr, vr = _segment_stats(cr, k, reference_values)
        pos = np.bincount(cw[(cw >= 0) & (classes == 1)], minlength=k) if binary else None
        obs = _segment_stats(cw, k, observed)[1] if observed is not None else None
        exp = _segment_stats(cw, k, expected)[1] if expected is not None else None
        for j in range(k):
            if cnt[j] == 0:
                continue
            if (cnt[j] < min_rows or cntr[j] < MIN_BIN_ROWS or
                    (pos is not None and min(pos[j], cnt[j] - pos[j]) < MIN_CLASS_ROWS)):
                suppressed += 1
                continue
            shift = mw[j] - mr[j]
            se = math.sqrt(vw[j] / cnt[j] + vr[j] / cntr[j])
            sign = {"abs": 1.0 if shift >= 0 else -1.0, "higher": 1.0, "lower": -1.0}[direction]
            lost = sign * shift
            share = cnt[j] / n
            row = {"segment": labels[j][0], "query": labels[j][1], "features": fa + (f", {fb}" if fb else ""),
                   "part_a": labels[j][2], "part_b": labels[j][3],
                   "rows": int(cnt[j]), "share": share, "shift": shift, "lost": lost,
                   "lost_low": lost - 1.96 * se, "lost_high": lost + 1.96 * se, "contribution": share * lost,
                   "contribution_low": share * (lost - 1.96 * se), "contribution_high": share * (lost + 1.96 * se)}
            if obs is not None:
                row["observed"] = obs[j]
            if exp is not None:
                row["expected"] = exp[j]
            rows.append(row)
    cols = ["segment", "query", "features", "part_a", "part_b", "rows", "share", "shift", "lost", "lost_low",
            "lost_high",
            "contribution", "contribution_low", "contribution_high"]
    cols += [c for c in ("observed", "expected") if rows and c in rows[0]]
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)
    return SegmentResult(table, unit, scope, suppressed)


def segment_query(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """The rows of a segment (``DataFrame.query`` with the python engine, which reads categoricals)."""
    return frame.query(query, engine="python")


# =========================================================================== the whole analysis

@dataclass
class ConceptDriftResult:
    """Everything the concept-drift notebook shows, and the checks it records."""

    spec: ModelSpec
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    labelled: int
    chunks: ChunkPerformance | None
    concept: ConceptTest | None = None
    after_onset: ConceptTest | None = None
    changes: ChangePoints | None = None
    residuals: ResidualShift | None = None
    segments: SegmentResult | None = None
    calibration: dict[str, Any] | None = None
    cannot: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    estimator: PerformanceEstimator | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- decisions
    def performance_checks(self) -> list[dict[str, Any]]:
        if self.chunks is None or self.labelled == 0:
            return []
        out = []
        fixed = (self.spec.thresholds or {}).get("metrics") or {}
        for m in self.spec.metrics:
            w = self.chunks.window(m)
            lim = {"low": w["band_low"], "high": w["band_high"], "mean": w["band_mean"]}
            higher = HIGHER_IS_BETTER.get(m, True)
            wlim = _warn_limits(w, higher)
            status, thr = level_status(m, w["realized"], {**lim, **wlim}, fixed.get(m))
            ch = self.chunks.chunks(m)
            if status == "ok" and ch["below_band"].any() and m not in fixed:
                status = "warn"
            out.append({"kind": "performance", "subject": m, "status": status, "method": "band" if m not in fixed
                        else "fixed_threshold", "value": w["realized"], "threshold": thr,
                        "ci_low": w["ci_low"], "ci_high": w["ci_high"], "ci_method": CI_METHOD[m],
                        "band_low": w["band_low"], "band_high": w["band_high"], "labelled_rows": w["labelled"],
                        "coverage": w["coverage"], "chunks": _chunk_details(ch, realized_too=True)})
        return out

    def estimated_checks(self) -> list[dict[str, Any]]:
        if self.chunks is None:
            return []
        out = []
        fixed = (self.spec.thresholds or {}).get("metrics") or {}
        method = ESTIMATOR_METHOD[self.spec.task]
        for m in self.spec.metrics:
            w = self.chunks.window(m)
            higher = HIGHER_IS_BETTER.get(m, True)
            lim = {"low": w["est_band_low"], "high": w["est_band_high"]}
            band_sd = _band_sd(w, higher)
            wl = {"warn_low": lim["low"] + band_sd if np.isfinite(band_sd) else float("nan"),
                  "warn_high": lim["high"] - band_sd if np.isfinite(band_sd) else float("nan")}
            status, thr = level_status(m, w["estimated"], {**lim, **wl}, fixed.get(m))
            err = w["realized"] - w["expected"] if np.isfinite(w["realized"]) else None
            out.append({"kind": "estimated_performance", "subject": m, "status": status, "method": method,
                        "value": w["estimated"], "threshold": thr, "rows": w["rows"],
                        "expected_range": [w["expected"] - 1.96 * w["null_sd"], w["expected"] + 1.96 * w["null_sd"]]
                        if np.isfinite(w["null_sd"]) else None,
                        "realized": w["realized"] if np.isfinite(w["realized"]) else None,
                        "realized_minus_expected": err,
                        "chunks": _chunk_details(self.chunks.chunks(m), realized_too=False)})
        return out

    def concept_checks(self) -> list[dict[str, Any]]:
        out = []
        tests = [self.concept] if self.concept is not None else []
        after = self.after_onset
        if after is not None and (self.concept is None
                                  or after.table["rows"].iloc[0] < self.concept.table["rows"].iloc[0]):
            tests.append(after)  # only when it tests fewer rows than the whole window
        for test in tests:
            for r in test.table.to_dict("records"):
                higher = HIGHER_IS_BETTER.get(r["metric"], True)
                thr = r["z_alert"] * r["sd"] if higher else -r["z_alert"] * r["sd"]
                method = "realized_vs_expected" if test is self.concept else "realized_vs_expected_since_change"
                out.append({"kind": "concept_drift", "subject": r["metric"], "status": r["status"],
                            "method": method, "value": r["gap"], "threshold": thr,
                            "p_value": r["p_value"], "realized": r["realized"], "expected": r["expected"],
                            "z": r["z"], "z_alert": r["z_alert"], "z_warn": r["z_warn"], "sd": r["sd"],
                            "min_gap": r["min_gap"], "rows": r["rows"],
                            "scope": r["scope"], "expected_by": ESTIMATOR_METHOD[self.spec.task]})
        if self.residuals is not None and len(self.residuals.table):
            t = self.residuals.table
            top = t.iloc[0]
            out.append({"kind": "concept_drift", "subject": "p(y|x)", "status": self.residuals.status(),
                        "method": "residual_shift", "value": float(top["effect"]), "threshold": RESIDUAL_MIN_EFFECT,
                        "p_value": float(top["p_adjusted"]), "feature": top["feature"], "bin": top["worst_bin"],
                        "shift": float(top["shift"]), "alpha": RESIDUAL_ALPHA,
                        "features_flagged": self.residuals.flagged()})
        return out

    def change_checks(self) -> list[dict[str, Any]]:
        if self.changes is None or self.changes.detections.empty:
            return []
        out = []
        for r in self.changes.detections.to_dict("records"):
            cal = self.changes.calibration.get(r["detector"])
            out.append({"kind": "change_point", "subject": self.spec.primary, "status": r["status"],
                        "method": r["method"], "at": r["at"].isoformat(), "detected_at": r["detected_at"].isoformat(),
                        "delay_hours": r["delay_hours"], "consensus": bool(r["consensus"]),
                        "cluster": int(r["cluster"]),
                        "setting": cal.level if cal else None,
                        "reference_false_alarm_rate": cal.false_alarm_rate if cal else None,
                        "stream": "excess loss per block (z)"})
        return out

    def checks(self) -> list[dict[str, Any]]:
        """Every check this notebook records, as dicts (kind, subject, status, figures)."""
        return self.performance_checks() + self.estimated_checks() + self.change_checks() + self.concept_checks()

    @property
    def status(self) -> str:
        return worst(c["status"] for c in self.checks())

    def worst_segment(self) -> dict[str, Any] | None:
        return self.segments.worst() if self.segments is not None else None

    def consensus_onset(self) -> pd.Timestamp | None:
        if self.changes is None:
            return None
        det = self.changes.detections
        hit = det[det["status"] == "alert"] if len(det) else det
        if len(hit):
            return pd.Timestamp(hit["at"].min())
        return None

    # ---------------------------------------------------------------- recording
    def record(self, recorder: Recorder) -> None:
        """Record checks, findings, what could not be done, the verdict and the worst segment."""
        for c in self.checks():
            c = dict(c)
            recorder.check(c.pop("kind"), c.pop("subject"), c.pop("status"), **c)
        for text in self.cannot:
            recorder.cannot(text)
        for text, status in self.findings():
            recorder.finding(text, status)
        ws = self.worst_segment()
        if ws is not None:
            recorder.artefact("worst_segment", ws)
        recorder.verdict(self.verdict())

    def findings(self) -> list[tuple[str, str]]:
        out = []
        for c in self.checks():
            if c["status"] == "ok":
                continue
            if c["kind"] == "performance":
                out.append((f"realized {DISPLAY[c['subject']]} {c['value']:.3f} beyond its baseline band"
                            if SEVERITY[c["status"]] >= 2 else
                            f"realized {DISPLAY[c['subject']]} {c['value']:.3f} near the edge of its band",
                            c["status"]))
            elif c["kind"] == "estimated_performance":
                out.append((f"estimated {DISPLAY[c['subject']]} {c['value']:.3f} outside its baseline band",
                            c["status"]))
            elif c["kind"] == "concept_drift" and c["subject"] != "p(y|x)":
                scope = "" if c["scope"] == "window" else f" {c['scope']}"
                out.append((f"{DISPLAY[c['subject']]}{scope} {c['realized']:.3f} is below the {c['expected']:.3f} "
                            f"expected from the inputs (z = {c['z']:.1f})", c["status"]))
            elif c["kind"] == "concept_drift":
                out.append((f"residuals shifted along {_feature_name(c['feature'])} (largest in {c['bin']})",
                            c["status"]))
        clusters = self.changes.consensus() if self.changes is not None else pd.DataFrame()
        for r in clusters.to_dict("records") if len(clusters) else []:
            st = worst(self.changes.detections.loc[self.changes.detections["cluster"] == r["cluster"], "status"])
            out.append((f"{r['detectors']} agree on a change at {_when(r['at'])}", st))
        ws = self.worst_segment()
        if ws is not None and self.status != "ok":
            out.append((f"moved most where {_segment_words(ws)}", "warn"))
        return out

    # ---------------------------------------------------------------- words
    def verdict(self) -> str:
        """One sentence: did it get worse, since when, where, covariate shift or concept drift."""
        m = self.spec.primary
        name = DISPLAY[m]
        if self.chunks is None:
            return "Performance could not be assessed: " + (self.cannot[0] if self.cannot else "no usable rows")
        w = self.chunks.window(m)
        band = f"baseline {w['band_mean']:.3f}" if np.isfinite(w.get("band_mean", float("nan"))) else ""
        if self.labelled == 0 or self.concept is None:
            est_c = next((c for c in self.estimated_checks() if c["subject"] == m), {"status": "ok"})
            state = "within" if est_c["status"] == "ok" else "outside"
            return (f"No labels in this window yet: estimated {name} {w['estimated']:.3f} from calibrated scores "
                    f"({state} the baseline band{', ' + band if band else ''}); realized performance and concept "
                    f"drift need labels.")
        tests = [t for t in (self.concept, self.after_onset) if t is not None]
        cstatus = worst(t.status() for t in tests)
        test = next(t for t in tests if t.status() == cstatus)
        t = test.table
        lead = t.iloc[0] if t.iloc[0]["status"] == cstatus else \
            t[t["status"] == cstatus].sort_values("z").iloc[0]
        lm = lead["metric"]
        lw = self.chunks.window(lm)
        if test is self.concept:
            ci = f" [{lw['ci_low']:.3f}, {lw['ci_high']:.3f}]" if np.isfinite(lw["ci_low"]) else ""
            figure = f"{DISPLAY[lm]} {lead['realized']:.3f}{ci}"
        else:
            figure = f"{DISPLAY[lm]} {lead['realized']:.3f} {test.table['scope'].iloc[0]}"
        if cstatus == "alert":
            lband = f"baseline {lw['band_mean']:.3f}" if np.isfinite(lw.get("band_mean", float("nan"))) else ""
            parts = [f"Performance got worse: {figure} against {lead['expected']:.3f} expected from this window's "
                     f"inputs" + (f" ({lband})" if lband else "")]
            onset = self.consensus_onset()
            early = self._first_chunk_below()
            at_start = onset is not None and bool(
                self.changes.detections.loc[self.changes.detections["at"] == onset, "at_window_start"].any())
            if at_start:
                parts.append("since before this window began (detectors date the change to its start)")
            elif onset is not None and not early:
                parts.append(f"detectors agree it started around {_when(onset)}")
            elif onset is not None:
                parts.append(f"already below expectation on the first {_chunk_unit(self.chunks.chunk)} of the "
                             f"window, and worse again from about {_when(onset)}")
            else:
                parts.append("already from the start of the window (no change point inside it)")
            ws = self.worst_segment()
            if ws is not None:
                parts.append(f"it moved most where {_segment_words(ws)}")
            parts.append("the input shift does not explain it: concept drift")
            return "; ".join(parts) + "."
        if cstatus == "warn":
            return (f"{figure} is somewhat below the {lead['expected']:.3f} expected from this window's inputs "
                    f"(z = {lead['z']:.1f}): possible concept drift, not conclusive; watch the next window.")
        bad = [c for c in self.performance_checks() if c["status"] != "ok"]
        r = self.concept.row(m)
        tail = ""
        if self.residuals is not None and self.residuals.status() != "ok":
            tail = (f" Residuals did shift along {_feature_name(self.residuals.flagged()[0])}, without a "
                    f"measurable loss of performance.")
        if bad:
            names = ", ".join(DISPLAY[c["subject"]] for c in bad)
            return (f"{names} moved outside the baseline band, but realized performance matches what this "
                    f"window's inputs lead to expect ({name} {r['realized']:.3f} vs {r['expected']:.3f} expected): "
                    f"the input shift (covariate shift) explains it, not a change in P(y | x).{tail}")
        ci = f" [{w['ci_low']:.3f}, {w['ci_high']:.3f}]" if np.isfinite(w["ci_low"]) else ""
        return (f"No performance drop: {name} {r['realized']:.3f}{ci} is within the baseline band"
                f"{' (' + band + ')' if band else ''} and matches the {r['expected']:.3f} expected from the inputs; "
                f"no concept drift.{tail}")

    def _first_chunk_below(self) -> bool:
        """Whether the first well-labelled chunk is already below expectation (the concept rule)."""
        m = self.spec.primary
        ch = self.chunks.chunks(m)
        ch = ch[ch["enough_labels"]]
        if not len(ch) or not np.isfinite(ch["z"].iloc[0]):
            return False
        r = ch.iloc[0]
        g = gap_status(m, r["realized"], r["expected"], r["null_sd"], self.estimator.reference_values.get(m))
        return g["status"] != "ok"

    # ---------------------------------------------------------------- tables and plots
    def estimation_df(self, metric: str | None = None) -> pd.DataFrame:
        """Per chunk: estimated (all rows) next to realized (labelled rows) and their difference."""
        m = metric or self.spec.primary
        ch = self.chunks.chunks(m)
        return pd.DataFrame({
            "chunk (UTC)": _chunk_labels(ch["start"]), "rows": ch["rows"], "labelled": ch["labelled"],
            f"estimated {DISPLAY[m]}": ch["estimated"], f"realized {DISPLAY[m]}": ch["realized"],
            "realized − estimated": ch["realized"] - ch["expected"],
            "expected range of realized": [_ci_text(e - 1.96 * sd, e + 1.96 * sd) if l else ""
                                           for e, sd, l in zip(ch["expected"], ch["null_sd"], ch["labelled"])],
        })

    def coverage_df(self) -> pd.DataFrame:
        ch = self.chunks.chunks()
        return pd.DataFrame({"chunk (UTC)": _chunk_labels(ch["start"]), "rows": ch["rows"],
                             "labelled": ch["labelled"], "coverage": ch["coverage"],
                             **({"positives": ch["positives"]} if self.spec.task == "binary_classification" else {}),
                             "judged": ch["enough_labels"].map({True: "yes", False: "no: too few labels"})})

    def changes_df(self) -> pd.DataFrame:
        if self.changes is None or self.changes.detections.empty:
            return pd.DataFrame()
        d = self.changes.detections
        return pd.DataFrame({"detector": d["method"], "estimated onset": [_when(t) for t in d["at"]],
                             "detected at": [_when(t) for t in d["detected_at"]],
                             "hours from onset to detection": d["delay_hours"].round(1),
                             "agreed by another detector": d["consensus"].map({True: "yes", False: "no"}),
                             "onset at window start": d["at_window_start"].map({True: "yes", False: ""}),
                             "status": d["status"]})

    def concept_df(self) -> pd.DataFrame:
        rows = []
        for test in (self.concept, self.after_onset):
            if test is None:
                continue
            t = test.table
            rows.append(pd.DataFrame({"metric": t["metric"].map(DISPLAY), "rows tested": t["scope"],
                                      "labelled rows": t["rows"], "realized": t["realized"],
                                      "expected from inputs": t["expected"], "realized − expected": t["gap"],
                                      "sd": t["sd"], "z": t["z"], "status": t["status"]}))
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    def residuals_df(self) -> pd.DataFrame:
        if self.residuals is None or self.residuals.table.empty:
            return pd.DataFrame()
        t = self.residuals.table
        return pd.DataFrame({"feature": t["feature"].replace({"__score_bin__": "(model score deciles)"}),
                             "bins": t["bins"], "chi-square": t["chi2"], "p (BH-adjusted)": t["p_adjusted"],
                             "largest shift in": t["worst_bin"], "shift (window − reference)": t["shift"],
                             "shift (residual sd)": t["effect"], "status": t["status"]})

    def segments_df(self, top: int = 15) -> pd.DataFrame:
        if self.segments is None or self.segments.table.empty:
            return pd.DataFrame()
        t = self.segments.table.head(top)
        out = pd.DataFrame({"segment": t["segment"], "rows": t["rows"], "share": t["share"]})
        if "observed" in t.columns:
            out["observed rate"] = t["observed"]
            out["rate from scores"] = t["expected"]
        out["lost"] = t["lost"]
        out["lost 95% CI"] = [_ci_text(a, b) for a, b in zip(t["lost_low"], t["lost_high"])]
        out["lost × share"] = t["contribution"]
        out["significant"] = (t["contribution_low"] > 0).map({True: "yes", False: "no"})
        return out

    def to_df(self) -> pd.DataFrame:
        """One row per check."""
        rows = []
        for c in self.checks():
            rows.append({k: v for k, v in c.items() if not isinstance(v, (list, dict))})
        return pd.DataFrame(rows)

    def plot(self, kind: str = "timeline", **kwargs):
        """``timeline``, ``coverage``, ``stream``, ``segments``, ``residuals`` or ``calibration``."""
        from . import plots

        if kind == "timeline":
            return plots.performance_timeline(self.chunks, kwargs.get("metric", self.spec.primary), self.changes)
        if kind == "coverage":
            return self.chunks.plot("coverage")
        if kind == "stream" and self.changes is not None:
            return self.changes.plot("stream")
        if kind == "segments" and self.segments is not None:
            return self.segments.plot("bars", kwargs.get("top", 10))
        if kind == "residuals" and self.residuals is not None:
            return self.residuals.plot("bins", kwargs.get("feature"))
        if kind == "calibration" and self.calibration is not None:
            return plots.calibration_compare(self.calibration)
        raise UsageError(f"The 'kind' parameter of ConceptDriftResult.plot must be one of timeline, coverage, "
                         f"stream, segments, residuals, calibration (with the data it needs). Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.verdict())}</p>" + _table_html(self.to_df())


def _warn_limits(w: Mapping[str, Any], higher: bool) -> dict[str, float]:
    sd = _band_sd(w, higher, realized=True)
    return {"warn_low": w["band_low"] + sd, "warn_high": w["band_high"] - sd}


def _band_sd(w: Mapping[str, Any], higher: bool, realized: bool = False) -> float:
    """One (scaled) band sd: the gap between the 3-sd and 2-sd limits."""
    lo, hi = (w["band_low"], w["band_high"]) if realized else (w["est_band_low"], w["est_band_high"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return float("nan")
    return (hi - lo) / 6.0 * (3.0 - WARN_SIGMAS)


def _chunk_details(ch: pd.DataFrame, realized_too: bool) -> list[dict[str, Any]]:
    out = []
    for r in ch.to_dict("records"):
        d = {"start": r["start"].isoformat(), "rows": r["rows"], "labelled": r["labelled"],
             "estimated": r["estimated"]}
        if realized_too:
            d.update({"value": r["realized"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                      "enough_labels": r["enough_labels"], "below_band": r["below_band"],
                      "band_low": r["band_low"], "band_high": r["band_high"]})
        out.append(d)
    return out


def _chunk_labels(starts: pd.Series) -> list[str]:
    ts = [pd.Timestamp(t).tz_convert("UTC") for t in starts]
    fmt = "%a %d %b" if all(t.hour == 0 and t.minute == 0 for t in ts) else "%a %d %b %H:%M"
    return [t.strftime(fmt) for t in ts]


def _feature_name(name: str) -> str:
    return "the model score" if name == "__score_bin__" else name


def _chunk_unit(chunk: str) -> str:
    return {"1d": "day", "1w": "week", "1h": "hour"}.get(chunk, f"{chunk} chunk")


def _segment_words(ws: Mapping[str, Any]) -> str:
    if "observed" in ws and "expected" in ws:
        return (f"{ws['description']} ({ws['share']:.0%} of labelled rows: outcome rate {ws['observed']:.1%} "
                f"against {ws['expected']:.1%} from the scores)")
    return f"{ws['description']} ({ws['share']:.0%} of labelled rows, {ws['loss']:.3f} {ws['unit']} lost)"


def _when(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def _ci_text(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else ""


def _table_html(df: pd.DataFrame) -> str:
    from .display import format_table

    return format_table(df) if len(df) else "<p>(none)</p>"


def assess_changes(changes: ChangePoints, spec: ModelSpec, estimator: PerformanceEstimator, frame: pd.DataFrame,
                   y: np.ndarray, scores: np.ndarray, ts: pd.DatetimeIndex, rng: np.random.Generator,
                   band: Band | None) -> ConceptTest | None:
    """Set each detection's status: consensus plus a performance drop after its onset ⇒ alert.

    The drop test is the concept rule (every tracked metric, Bonferroni-adjusted)
    on the labelled rows from the onset on, or the primary metric there beyond
    its band limit. Returns the test of the first consensus whose drop is
    confirmed (else of the first consensus; None without consensus).
    """
    det = changes.detections
    if det.empty:
        return None
    chosen = None
    margin = float((spec.thresholds or {}).get("band_margin", 0.0) or 0.0)
    m = spec.primary
    for cl in changes.consensus().to_dict("records"):
        after = np.asarray(ts >= cl["at"])
        if after.sum() < 2:
            continue
        test = concept_test(spec, estimator, y[after], scores[after], rng,
                            frame.loc[after] if spec.task == "regression" else None,
                            scope=f"after {_when(cl['at'])}")
        r = test.row(m)
        lim = band_limits(band, int(after.sum()), margin)
        higher = HIGHER_IS_BETTER.get(m, True)
        beyond = np.isfinite(lim["low"]) and np.isfinite(r["realized"]) and \
            ((r["realized"] < lim["low"]) if higher else (r["realized"] > lim["high"]))
        drop = test.status() == "alert" or bool(beyond)
        det.loc[det["cluster"] == cl["cluster"], "status"] = "alert" if drop else "warn"
        if chosen is None or (drop and chosen.status() != "alert"):
            chosen = test
    return chosen


def analyse_frames(spec: ModelSpec, reference: pd.DataFrame, frame: pd.DataFrame, *, seed: int = 0,
                   bands: Mapping[str, Band | None] | None = None, profiles: Mapping[str, Any] | None = None,
                   start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, chunk: str = "1d",
                   min_labels_per_chunk: int = MIN_LABELS_PER_CHUNK, segment_columns: Sequence[str] = (),
                   calibration_reference: Mapping[str, Any] | None = None) -> ConceptDriftResult:
    """The whole analysis on frames: reference (labelled, with model output) and window rows.

    Parameters
    ----------
    spec : ModelSpec
    reference : DataFrame
        Labelled reference rows with the model output (the baseline sample).
    frame : DataFrame
        Window rows sorted by time, with the model output and the target (NaN where unlabelled).
    seed : int
        Seed of every random draw.
    bands, profiles : mappings, optional
        Baseline bands per metric and feature profiles (numeric quartiles for segments).
    start, end : Timestamp, optional
        Window bounds.
    chunk : str
        Chunk size.
    min_labels_per_chunk : int
        Labelled rows a chunk needs before its realized figures are trusted.
    segment_columns : sequence of str
        Extra categorical columns to segment by (configured ``segments``).
    calibration_reference : mapping, optional
        The baseline's calibration curve (binary), drawn against the window's.

    Returns
    -------
    ConceptDriftResult
    """
    rng = np.random.default_rng(seed)
    cannot: list[str] = []
    notes: list[str] = []
    ts = pd.DatetimeIndex(pd.to_datetime(frame[spec.timestamp], utc=True))
    start = _utc(start) if start is not None else ts.min().floor("D")
    end = _utc(end) if end is not None else ts.max() + pd.Timedelta(microseconds=1)
    y_all = spec.labels(frame)
    labelled = int(np.isfinite(y_all).sum())
    try:
        estimator = fit_estimator(spec, reference, rng)
    except DataError as exc:
        cannot.append(f"Performance estimation without labels needs labelled reference rows with the model's "
                      f"output ({exc}).")
        estimator = None
    if estimator is None:
        return ConceptDriftResult(spec, start, end, len(frame), labelled, None, cannot=cannot)
    chunks = chunk_performance(spec, frame, estimator, rng, bands=bands, start=start, end=end, chunk=chunk,
                               min_labels=min_labels_per_chunk)
    result = ConceptDriftResult(spec, start, end, len(frame), labelled, chunks, cannot=cannot, notes=notes,
                                estimator=estimator)
    if labelled == 0:
        cannot.append(f"Realized performance, change points, the concept-drift test and segments need labels: "
                      f"none of the window's rows has a value in the target column {spec.target!r} yet. Configure "
                      f"'labels' (path and key of late-arriving ground truth) or log the target column; until then "
                      f"only the estimated performance is shown.")
        return result
    lab = np.isfinite(y_all)
    fl = frame.loc[lab]
    y = y_all[lab]
    s = spec.scores(fl)
    tsl = ts[lab]
    sub = fl if spec.task == "regression" else None
    result.concept = concept_test(spec, estimator, y, s, rng, sub)
    excess = estimator.excess(y, s, sub)
    stream = loss_stream(tsl, excess, estimator.reference_excess, rng)
    result.changes = detect_changes(stream, rng)
    if result.changes.note:
        notes.append(result.changes.note)
    result.after_onset = assess_changes(result.changes, spec, estimator, fl, y, s, tsl, rng,
                                        (bands or {}).get(spec.primary))
    # P(y | x) directly, and where: both against the reference rows.
    ref_y = spec.labels(reference)
    rl = reference.loc[np.isfinite(ref_y)]
    ry = ref_y[np.isfinite(ref_y)]
    rs = spec.scores(rl)
    binnings = make_binnings(fl, spec.features, profiles=profiles, reference=rl, extra_categorical=segment_columns)
    score_bins = _score_binning(rs, spec)
    fr = fl.assign(__score_bin__=_score_values(s, spec))
    rr = rl.assign(__score_bin__=_score_values(rs, spec))
    result_residual = estimator.residual(y, s, sub)
    ref_residual = _reference_residual(estimator, ry, rs, rl, rng)
    result.residuals = residual_shift(binnings, fr, result_residual, rr, ref_residual, score_bins)
    onset = result.consensus_onset()
    scope_mask = np.asarray(tsl >= onset) if onset is not None else np.ones(len(y), dtype=bool)
    if scope_mask.sum() < MIN_SEGMENT_ROWS:
        scope_mask = np.ones(len(y), dtype=bool)
        onset = None
    fs = fl.loc[scope_mask]
    ys, ss = y[scope_mask], s[scope_mask]
    if spec.task == "regression":
        seg_values = excess[scope_mask]
        ref_values = estimator.reference_excess
        direction, unit = "higher", "MAE"
    else:
        seg_values = result_residual[scope_mask]
        ref_values = ref_residual
        direction, unit = ("abs", "outcome rate, 0.01 = 1 point") if spec.task == "binary_classification" else \
            ("lower", "accuracy, 0.01 = 1 point")
    binary = spec.task == "binary_classification"
    result.segments = find_segments(
        binnings, fs, seg_values, rl, ref_values, direction=direction, unit=unit,
        scope=f"since {_when(onset)}" if onset is not None else "window",
        classes=ys if binary else None, observed=(ys == 1).astype(float) if binary else None,
        expected=estimator.calibrated(ss) if binary else None)
    if spec.task == "binary_classification" and int((y == 1).sum()) >= 10:
        from .metrics import calibration

        result.calibration = {"reference": calibration_reference,
                              "window": calibration((y == 1).astype(int), s)}
    return result


def _score_values(scores: np.ndarray, spec: ModelSpec) -> np.ndarray:
    return scores.max(axis=1) if scores.ndim == 2 else scores


def _score_binning(ref_scores: np.ndarray, spec: ModelSpec) -> Binning:
    v = _score_values(ref_scores, spec)
    edges = tuple(sorted(set(np.round(np.percentile(v, np.arange(10, 100, 10)), 12))))
    bounds = [-np.inf, *edges, np.inf]
    labels = tuple(f"score decile {i + 1}" for i in range(len(bounds) - 1))
    return Binning("__score_bin__", "numeric", labels, labels, edges=edges)


def _reference_residual(est: PerformanceEstimator, y, scores, frame, rng) -> np.ndarray:
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
            q = _replace(est, calibrators=(cal,)).calibrated(scores[te])
            pred = scores[te].argmax(axis=1)
            out[te] = (pred == y[te]).astype(float) - q[np.arange(te.sum()), pred]
    return out


def window_scores(ctx, frame: pd.DataFrame) -> np.ndarray:
    """The version's output on the window rows: the logged prediction column where present
    (binary, regression), the model file otherwise (and always for multiclass probabilities)."""
    from .models import score

    mcfg = ctx.model
    task = mcfg.task
    logged = frame[mcfg.prediction].to_numpy(dtype=float) if task != "multiclass_classification" and \
        mcfg.prediction in frame.columns else None
    if logged is not None and np.isfinite(logged).all():
        return logged
    if ctx.estimator is None:
        if logged is not None:
            return logged
        raise DataError(f"models.{mcfg.name}: no prediction column {mcfg.prediction!r} in the logs and no model "
                        f"file for version {ctx.version.name!r}: the window's predictions are unknown")
    cols = list(ctx.estimator.features) or [*ctx.features.numeric, *ctx.features.categorical]
    scored = score(ctx.estimator, frame, cols)
    if logged is not None:
        return np.where(np.isfinite(logged), logged, scored)
    return scored


def analyse(ctx, *, chunk: str | None = None, min_labels_per_chunk: int = MIN_LABELS_PER_CHUNK,
            seed: int = 0) -> ConceptDriftResult:
    """Run the whole concept-drift analysis on a window context.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    chunk : str, optional
        Chunk size (``1d``, ``12h``); the model's ``chunk`` setting when empty.
    min_labels_per_chunk : int
        Labelled rows a chunk needs before its realized figures are trusted.
    seed : int
        Seed of every random draw (results are reproducible).

    Returns
    -------
    ConceptDriftResult
    """
    mcfg = ctx.model
    base = ctx.baseline
    if isinstance(min_labels_per_chunk, bool) or not isinstance(min_labels_per_chunk, (int, np.integer)) \
            or min_labels_per_chunk < 1:
        raise UsageError(f"The 'min_labels_per_chunk' parameter of concept_drift must be an int >= 1. "
                         f"Got {min_labels_per_chunk!r} instead.")
    chunk = chunk or mcfg.chunk or "1d"
    chunk_delta(chunk)
    spec = ModelSpec(task=mcfg.task, target=mcfg.target, prediction="__prediction__", timestamp=mcfg.timestamp,
                     threshold=mcfg.decision_threshold, features=base.features, thresholds=ctx.thresholds)
    window = ctx.frame
    cols = [c for c in dict.fromkeys([mcfg.timestamp, *spec.features.numeric, *spec.features.categorical,
                                      *(mcfg.segments or ()), mcfg.target]) if c in window.columns]
    frame = window[cols].copy()
    scores = window_scores(ctx, window)
    if mcfg.task == "multiclass_classification":
        for j in range(scores.shape[1]):
            frame[f"__proba_{j}__"] = scores[:, j]
    else:
        frame["__prediction__"] = scores
    bands = {m: base.band("performance", m, "all") for m in spec.metrics}
    profiles = base.manifest.get("profiles") or {}
    result = analyse_frames(spec, base.sample, frame, seed=seed, bands=bands, profiles=profiles,
                            start=pd.Timestamp(ctx.start), end=pd.Timestamp(ctx.end), chunk=chunk,
                            min_labels_per_chunk=int(min_labels_per_chunk),
                            segment_columns=[c for c in (mcfg.segments or ()) if c in frame.columns],
                            calibration_reference=base.manifest.get("calibration"))
    if mcfg.target not in window.columns and not result.cannot:
        result.cannot.append(f"No target column {mcfg.target!r} in the window: configure 'labels' or log the target.")
    return result
