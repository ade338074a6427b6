"""Performance metrics on weights: realized, expected, simulated and bootstrap values alike.

Every classification metric here is computed from *weights* of being a
positive (P) and a negative (N) per row, one row of weights per replicate:
labels give 0/1 weights (realized), calibrated probabilities give q and 1-q
(CBPE: the expected curves), label draws give simulated realized values,
Poisson counts times labels give bootstrap replicates. With 0/1 weights each
function equals scikit-learn's metric and :func:`mlmon_nb.metrics.performance`
(tested against both). Also here: the DeLong error of ROC AUC and the 95%
interval of each realized metric (method per :data:`~.spec.CI_METHOD`).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..metrics import BOOTSTRAP, BOOTSTRAP_ROWS
from .spec import METRICS

__all__ = ["realized", "auc_delong", "confidence_interval", "binary_metrics", "multiclass_soft",
           "multiclass_draws"]


def _sorted_groups(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by score descending and the index of the last row of each tie group."""
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    last = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])
    return order, last


def binary_metrics(P: np.ndarray, N: np.ndarray, p: np.ndarray, threshold: float,
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


def multiclass_soft(Q: np.ndarray, probs: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
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


def multiclass_draws(Y: np.ndarray, probs: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
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
        out = {k: float(v[0]) for k, v in binary_metrics(yb, 1 - yb, scores, threshold, metrics).items()}
        if yb.min() == yb.max():
            out.update({m: float("nan") for m in ("roc_auc", "pr_auc") if m in out})
        return out
    if task == "multiclass_classification":
        Q = np.zeros_like(scores)
        Q[np.arange(len(y)), y.astype(int)] = 1.0
        return multiclass_soft(Q, scores, metrics)
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
    from scipy.stats import rankdata  # scipy loads with the first interval, not on import

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
    # Poisson bootstrap on at most BOOTSTRAP_ROWS rows, widened to the n rows of the value.
    idx = rng.choice(n, size=BOOTSTRAP_ROWS, replace=False) if n > BOOTSTRAP_ROWS else np.arange(n)
    W = rng.poisson(1.0, size=(BOOTSTRAP, len(idx))).astype(float)
    ys, ss = y[idx], scores[idx]
    if task == "binary_classification":
        yb = (ys == 1).astype(float)
        draws = binary_metrics(W * yb, W * (1 - yb), ss, threshold, (metric,))[metric]
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
