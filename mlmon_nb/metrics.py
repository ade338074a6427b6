"""Performance metrics of a model's outputs against its labels (scikit-learn underneath).

One definition of every metric the baseline and concept drift report, the
expected calibration error, the calibration curve and the percentile bootstrap
of all of them.
"""

from __future__ import annotations

import math

import numpy as np

from .alertable import HIGHER_IS_BETTER
from .profiles import finite_or_none as _num

BOOTSTRAP = 200
BOOTSTRAP_ROWS = 5_000
MIN_POSITIVES_PER_CHUNK = 20
"""Fewest positives (and negatives) a chunk needs for its performance figures to count."""

__all__ = ["HIGHER_IS_BETTER", "BOOTSTRAP", "BOOTSTRAP_ROWS", "MIN_POSITIVES_PER_CHUNK", "performance", "expected_calibration_error",
           "calibration", "bootstrap_performance"]

def performance(task: str, y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Performance metrics of a task (scikit-learn), NaN where undefined."""
    from sklearn import metrics as skm  # scikit-learn only when it is used (a second to import)

    out: dict[str, float] = {}
    y = np.asarray(y)
    if task == "binary_classification":
        y = y.astype(int)
        p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
        both = len(np.unique(y)) == 2
        out["roc_auc"] = float(skm.roc_auc_score(y, p)) if both else float("nan")
        out["pr_auc"] = float(skm.average_precision_score(y, p)) if both else float("nan")
        out["log_loss"] = float(skm.log_loss(y, p, labels=[0, 1]))
        out["brier"] = float(skm.brier_score_loss(y, p))
        pred = (p >= threshold).astype(int)
        # One confusion matrix gives the four threshold metrics (same definitions as
        # sklearn's accuracy/precision/recall/f1 with zero_division=0).
        tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel().astype(float)
        out["accuracy"] = (tp + tn) / len(y)
        out["precision"] = tp / (tp + fp) if tp + fp else 0.0
        out["recall"] = tp / (tp + fn) if tp + fn else 0.0
        out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        out["ece"] = expected_calibration_error(y, p)
        out["positive_rate"] = float(y.mean())
        out["mean_prediction"] = float(p.mean())
    elif task == "multiclass_classification":
        P = np.asarray(p, dtype=float)
        labels = np.arange(P.shape[1])
        pred = P.argmax(axis=1)
        out["accuracy"] = float(skm.accuracy_score(y, pred))
        out["macro_f1"] = float(skm.f1_score(y, pred, average="macro", labels=labels, zero_division=0))
        out["log_loss"] = float(skm.log_loss(y, np.clip(P, 1e-12, 1), labels=labels))
    else:
        p = np.asarray(p, dtype=float)
        out["mae"] = float(skm.mean_absolute_error(y, p))
        out["rmse"] = float(math.sqrt(skm.mean_squared_error(y, p)))
        out["r2"] = float(skm.r2_score(y, p)) if len(y) > 1 else float("nan")
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-count bins: sum over bins of share × |mean(y) − mean(p)|."""
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, bins)
    n = len(p)
    return float(sum(len(ix) / n * abs(y[ix].mean() - p[ix].mean()) for ix in parts if len(ix)))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Calibration curve (scikit-learn, quantile bins): mean predicted vs observed rate."""
    from sklearn.calibration import calibration_curve  # scikit-learn only when it is used (a second to import)

    frac, mean_pred = calibration_curve(y.astype(int), p, n_bins=bins, strategy="quantile")
    return {"mean_predicted": [float(x) for x in mean_pred], "observed_rate": [float(x) for x in frac]}


def bootstrap_performance(task: str, y: np.ndarray, p: np.ndarray, threshold: float,
                          rng: np.random.Generator, n_boot: int = BOOTSTRAP,
                          max_rows: int = BOOTSTRAP_ROWS) -> dict[str, dict[str, float]]:
    """Point estimates on all rows, 95% percentile-bootstrap intervals on a row sample.

    The intervals are computed on at most ``max_rows`` rows and narrowed to the
    full row count by sqrt(sample / rows), the usual 1/sqrt(n) scaling.
    """
    import sklearn  # scikit-learn only when it is used (a second to import)

    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        return _bootstrap(task, y, p, threshold, rng, n_boot, max_rows)


def _bootstrap(task, y, p, threshold, rng, n_boot, max_rows):
    point = performance(task, y, p, threshold)
    n = len(y)
    idx_all = rng.choice(n, size=min(n, max_rows), replace=False) if n > max_rows else np.arange(n)
    ys, ps = y[idx_all], p[idx_all]
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        ix = rng.integers(0, len(ys), len(ys))
        for k, v in performance(task, ys[ix], ps[ix], threshold).items():
            draws[k].append(v)
    # Intervals from a sample of m rows are widened to the n rows of the estimate.
    widen = math.sqrt(len(ys) / n)
    out = {}
    for k, v in point.items():
        d = np.asarray(draws[k], dtype=float)
        d = d[np.isfinite(d)]
        if len(d) < 10 or not np.isfinite(v):
            out[k] = {"value": _num(v), "ci_low": None, "ci_high": None}
            continue
        lo, hi = np.percentile(d, [2.5, 97.5])
        out[k] = {"value": float(v), "ci_low": float(v - (np.median(d) - lo) * widen),
                  "ci_high": float(v + (hi - np.median(d)) * widen)}
    return out
