"""A model's realized and expected performance from one aggregation: score cells × label per chunk.

The pass (:func:`performance_sql`, portable SQL over ``window_rows``) groups the
window's rows by time chunk, *score cell* and label, and keeps per cell the
row count and the sums every metric needs. A score cell is a fine bin of the
model's output (binary: :data:`BINS` equal-width bins on [0, 1]; regression:
:data:`BINS` equal-width bins across the baseline's score range, the ends open),
split in two at the decision threshold (column ``above``), so that every
threshold metric is exact. Its size is chunks × cells × 3 labels, never rows.

What the cells give (``tests/test_concept_summary.py`` checks each against the
row-level value):

* exact (up to float summation): the confusion matrix at the decision threshold
  (accuracy, precision, recall, F1), log loss (per-cell sums of −ln p and
  −ln(1 − p), clipped as :func:`mlmon_nb.concept.weighted.binary_metrics` clips),
  Brier (sums of p and p² by label), label counts, positive rate, mean score;
  regression MAE, RMSE, R² (sums of e, |e|, e², e⁴, y, y²) and their normal intervals;
* ROC AUC of the *binned* scores (pairs inside one cell count one half), within
  :func:`auc_bound` of the exact one: half the share of (positive, negative)
  pairs that share a cell, Σ P_c N_c / (2 P N) (each such pair is counted 1/2
  instead of 0 or 1, every other pair is ordered exactly);
* PR AUC (average precision) of the binned scores, within :func:`pr_auc_bound`:
  inside a cell the exact precision-recall steps stay in the box between the
  cell's first and last points, so each cell moves the sum by at most its recall
  share times the box's precision range;
* the calibration curve and ECE (equal-count groups) to within the cells that straddle a group edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ..sources import quote
from .sql import number

__all__ = ["BINS", "CLIP", "finite_sql", "performance_sql", "ScoreCells", "Cells", "binary_binned", "auc_bound",
           "pr_auc_bound", "auc_se", "binned_calibration", "binned_ece", "binary_realized", "regression_binned"]

BINS = 10_000
"""Score bins of the pass (width 1e-4 on [0, 1] for probabilities)."""
CLIP = 1e-12
"""Probabilities are clipped to [CLIP, 1 − CLIP] before logarithms (as the row-level metrics do)."""
UNLABELLED = -1
_SUMS = ("n", "sp", "sp2", "lo", "hi", "l1", "l0", "l1sq", "l0sq", "se", "sae", "sse", "se4", "sy", "sy2")


def finite_sql(v: str) -> str:
    """SQL: ``v`` is a finite number (not NULL, NaN or ±inf; NaN equals NaN in both engines)."""
    return (f"({v} IS NOT NULL AND {v} <> {number(math.nan)} AND {v} <> {number(math.inf)} "
            f"AND {v} <> {number(-math.inf)})")


def performance_sql(*, task: str, prediction: str, target: str | None, chunk: str, threshold: float = 0.5,
                    low: float = 0.0, high: float = 1.0, bins: int = BINS, where: str | None = None,
                    target_type: str = "DOUBLE", prediction_sql: str | None = None) -> str:
    """The aggregation: one row per (chunk, score bin, above the threshold, label) with the cells' sums.

    Parameters
    ----------
    task : str
        ``binary_classification`` or ``regression``.
    prediction, target : str
        Columns of ``window_rows`` (``target`` None: every row unlabelled).
    chunk : str
        SQL of a row's chunk index (:func:`mlmon_nb.summary.chunk_sql`; ``"0"`` for one chunk).
    threshold : float
        Decision threshold (binary): ``above`` is 1 where the score is at least it.
    low, high, bins : float, float, int
        The bins: ``bins`` equal-width bins on [low, high]; scores outside go to the end bins.
    where : str, optional
        A condition on the rows (e.g. ``ts >= TIMESTAMPTZ '...'``).
    target_type : str
        The target's type in the scan: text targets are read with ``TRY_CAST``.
    prediction_sql : str, optional
        An expression read instead of the ``prediction`` column (e.g. logged scores, completed by
        the model's where they are missing).

    Columns: ``chunk``, ``bin`` (−1: non-finite score), ``above``, ``lab`` (binary 0/1, regression 1;
    −1 unlabelled), ``n``, ``sp``, ``sp2``, ``lo``, ``hi`` (sum, sum of squares, min, max of the score),
    ``l1``, ``l0``, ``l1sq``, ``l0sq`` (sums of −ln p, −ln(1 − p) and their squares; binary),
    ``se``, ``sae``, ``sse``, ``se4``, ``sy``, ``sy2`` (sums of e = y − p, |e|, e², e⁴, y, y²; regression).
    """
    if task not in ("binary_classification", "regression"):
        raise ValueError(f"The 'task' parameter of performance_sql must be binary_classification or regression. "
                         f"Got {task!r} instead.")
    if not bins >= 1 or not high > low:
        raise ValueError(f"performance_sql needs bins >= 1 and high > low. Got bins={bins}, [{low}, {high}] instead.")
    p, y = "__p", "__y"
    cast = "TRY_CAST" if target_type.upper().startswith(("VARCHAR", "STRING", "TEXT")) else "CAST"
    ycol = f"{cast}({quote(target)} AS DOUBLE)" if target else "CAST(NULL AS DOUBLE)"
    inner = (f"SELECT {chunk} AS chunk, CAST({prediction_sql or quote(prediction)} AS DOUBLE) AS {p}, {ycol} AS {y} "
             f"FROM window_rows" + (f" WHERE {where}" if where else ""))
    fp, fy = finite_sql(p), finite_sql(y)
    scale = number(bins / (high - low))
    bin_ = (f"CASE WHEN {fp} THEN CAST(LEAST(GREATEST(FLOOR(({p} - {number(low)}) * {scale}), 0), {bins - 1}) "
            f"AS INTEGER) ELSE -1 END")
    x = f"CASE WHEN {fp} THEN {p} END"
    if task == "binary_classification":
        lab = f"CASE WHEN {fy} THEN (CASE WHEN {y} = {number(1.0)} THEN 1 ELSE 0 END) ELSE {UNLABELLED} END"
        above = f"CASE WHEN {fp} AND {p} >= {number(threshold)} THEN 1 ELSE 0 END"
        pc = f"LEAST(GREATEST({x}, {number(CLIP)}), {number(1 - CLIP)})"
        e = "CAST(NULL AS DOUBLE)"
        mid = (f"SELECT chunk, {bin_} AS bin, {above} AS above, {lab} AS lab, {x} AS x, "
               f"-LN({pc}) AS m1, -LN(1 - {pc}) AS m0, {e} AS e, {e} AS yv FROM ({inner}) AS t")
    else:
        lab = f"CASE WHEN {fy} THEN 1 ELSE {UNLABELLED} END"
        e = f"CASE WHEN {fy} AND {fp} THEN {y} - {p} END"
        nul = "CAST(NULL AS DOUBLE)"
        mid = (f"SELECT chunk, {bin_} AS bin, 0 AS above, {lab} AS lab, {x} AS x, {nul} AS m1, {nul} AS m0, "
               f"{e} AS e, CASE WHEN {fy} AND {fp} THEN {y} END AS yv FROM ({inner}) AS t")
    return (f"SELECT chunk, bin, above, lab, COUNT(*) AS n, SUM(x) AS sp, SUM(x * x) AS sp2, MIN(x) AS lo, "
            f"MAX(x) AS hi, SUM(m1) AS l1, SUM(m0) AS l0, SUM(m1 * m1) AS l1sq, SUM(m0 * m0) AS l0sq, "
            f"SUM(e) AS se, SUM(ABS(e)) AS sae, SUM(e * e) AS sse, SUM(e * e * e * e) AS se4, SUM(yv) AS sy, "
            f"SUM(yv * yv) AS sy2 FROM ({mid}) AS u GROUP BY chunk, bin, above, lab")


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cells:
    """Score cells of some rows in ascending score order, with their sums per label.

    ``by[lab]`` (``lab`` 1, 0 for binary labels, 1 for labelled regression rows, −1 unlabelled)
    is a DataFrame aligned with :attr:`keys` (columns :data:`_SUMS`, zeros where a cell has no such rows).
    """

    keys: pd.DataFrame
    by: dict

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, lab: int, column: str) -> np.ndarray:
        return self.by[lab][column].to_numpy(dtype=float)

    @property
    def above(self) -> np.ndarray:
        return self.keys["above"].to_numpy(dtype=bool)

    def total(self, column: str, labs: Sequence[int] = (1, 0, UNLABELLED)) -> np.ndarray:
        return sum(self.get(k, column) for k in labs)

    def mean_score(self, labs: Sequence[int] = (1, 0, UNLABELLED)) -> np.ndarray:
        n = self.total("n", labs)
        return np.where(n > 0, self.total("sp", labs) / np.maximum(n, 1), np.nan)

    def score_range(self, labs: Sequence[int] = (1, 0, UNLABELLED)) -> tuple[np.ndarray, np.ndarray]:
        """Smallest and largest score of each cell's rows (NaN where it has none)."""
        lo = np.fmin.reduce([np.where(self.get(k, "n") > 0, self.get(k, "lo"), np.nan) for k in labs])
        hi = np.fmax.reduce([np.where(self.get(k, "n") > 0, self.get(k, "hi"), np.nan) for k in labs])
        return lo, hi


@dataclass(frozen=True)
class ScoreCells:
    """The pass's result: one row per (chunk, bin, above, lab)."""

    table: pd.DataFrame

    @classmethod
    def from_arrow(cls, table: pa.Table) -> "ScoreCells":
        df = table.to_pandas()
        for c in ("chunk", "bin", "above", "lab"):
            df[c] = df[c].astype(np.int64)
        for c in _SUMS:
            df[c] = df[c].astype(float)
        return cls(df)

    def non_finite(self) -> int:
        """Rows whose score is missing or not finite (left out of every cell)."""
        return int(self.table.loc[self.table["bin"] < 0, "n"].sum())

    def chunk_rows(self, n_chunks: int, labs: Sequence[int] = (1, 0, UNLABELLED)) -> np.ndarray:
        t = self.table[self.table["lab"].isin(list(labs))]
        idx = t["chunk"].to_numpy()
        ok = (idx >= 0) & (idx < n_chunks)
        return np.bincount(idx[ok], weights=t["n"].to_numpy()[ok], minlength=n_chunks).astype(np.int64)

    def cells(self, chunk: int | None = None) -> Cells:
        """The finite-score cells of one chunk (all chunks when None), ascending by score."""
        t = self.table[self.table["bin"] >= 0]
        if chunk is not None:
            t = t[t["chunk"] == chunk]
        agg = {c: "sum" for c in _SUMS}
        agg.update(lo="min", hi="max")
        g = t.groupby(["bin", "above", "lab"], sort=False).agg(agg).reset_index()
        keys = g[["bin", "above"]].drop_duplicates().sort_values(["bin", "above"]).reset_index(drop=True)
        by = {}
        for lab in (1, 0, UNLABELLED):
            part = g[g["lab"] == lab].set_index(["bin", "above"])[list(_SUMS)]
            by[lab] = part.reindex(pd.MultiIndex.from_frame(keys)).fillna(0.0).reset_index(drop=True)
        return Cells(keys=keys, by=by)


# --------------------------------------------------------------------------- binary metrics from cells


def binary_binned(P: np.ndarray, N: np.ndarray, above: np.ndarray, L1: np.ndarray, L0: np.ndarray,
                  metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Binary metrics from cell weights, one row of weights per replicate.

    Parameters
    ----------
    P, N : arrays (replicates × cells) or (cells,)
        Weight of positives and negatives per cell (counts for realized values; calibrated
        expectations for CBPE; draws for the null spread), cells in ascending score order.
    above : bool array (cells,)
        Whether a cell's scores are at or above the decision threshold.
    L1, L0 : arrays (cells,)
        Mean −ln p and −ln(1 − p) (clipped) of a positive / negative of the cell.
    metrics : sequence of str
        Any of ``roc_auc``, ``pr_auc``, ``f1``, ``accuracy``, ``precision``, ``recall``, ``log_loss``.

    Returns
    -------
    dict of metric -> array (replicates,)
        The same definitions as :func:`mlmon_nb.concept.weighted.binary_metrics` with each cell one
        tie group.
    """
    P, N = np.atleast_2d(np.asarray(P, dtype=float)), np.atleast_2d(np.asarray(N, dtype=float))
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        pos, neg = P.sum(axis=1), N.sum(axis=1)
        Pd, Nd = P[:, ::-1], N[:, ::-1]  # descending score
        tps, fps = np.cumsum(Pd, axis=1), np.cumsum(Nd, axis=1)
        if "roc_auc" in metrics:
            below = neg[:, None] - fps  # negatives scored below each cell
            out["roc_auc"] = np.sum(Pd * (below + Nd / 2), axis=1) / (pos * neg)
        if "pr_auc" in metrics:
            precision = tps / (tps + fps)
            out["pr_auc"] = np.nansum(Pd / pos[:, None] * precision, axis=1)
        a = above.astype(float)
        tp, fp = P @ a, N @ a
        fn = pos - tp
        tn = neg - fp
        if "f1" in metrics:
            den = 2 * tp + fp + fn
            out["f1"] = np.where(den > 0, 2 * tp / den, 0.0)
        if "accuracy" in metrics:
            out["accuracy"] = (tp + tn) / (pos + neg)
        if "precision" in metrics:
            out["precision"] = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        if "recall" in metrics:
            out["recall"] = np.where(pos > 0, tp / pos, 0.0)
        if "log_loss" in metrics:
            out["log_loss"] = (P @ L1 + N @ L0) / (pos + neg)
    return out


def auc_bound(P: np.ndarray, N: np.ndarray) -> float:
    """Largest difference between the binned and the exact ROC AUC: Σ P_c N_c / (2 P N).

    Pairs of a positive and a negative in different cells are ordered the same by both; a pair in
    one cell counts 1/2 in the binned AUC and 0, 1/2 or 1 in the exact one.
    """
    P, N = np.asarray(P, dtype=float), np.asarray(N, dtype=float)
    pos, neg = P.sum(), N.sum()
    return float(np.sum(P * N) / (2 * pos * neg)) if pos > 0 and neg > 0 else float("nan")


def pr_auc_bound(P: np.ndarray, N: np.ndarray) -> float:
    """Largest difference between the binned and the exact average precision.

    Inside a cell with ``P_c`` positives and ``N_c`` negatives, entered after ``T`` true and ``F``
    false positives, every exact step's precision lies between T / (T + F + N_c) and
    (T + P_c) / (T + F + P_c); the binned sum gives the cell's recall share P_c / P one precision
    in that range, the exact sum splits the same share over precisions in it.
    """
    P, N = np.asarray(P, dtype=float)[::-1], np.asarray(N, dtype=float)[::-1]
    pos = P.sum()
    if pos <= 0:
        return float("nan")
    T = np.concatenate([[0.0], np.cumsum(P)[:-1]])
    F = np.concatenate([[0.0], np.cumsum(N)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        hi = (T + P) / (T + F + P)
        lo = np.where(T + F + N > 0, T / (T + F + N), 0.0)
    return float(np.nansum(P / pos * (hi - lo)))


def auc_se(P: np.ndarray, N: np.ndarray) -> float:
    """DeLong's standard error of the binned ROC AUC (midranks within a cell), from cell counts."""
    P, N = np.asarray(P, dtype=float), np.asarray(N, dtype=float)
    m, n = P.sum(), N.sum()
    if m < 1 or n < 1:
        return float("nan")
    n_below = np.cumsum(N) - N
    p_above = P.sum() - np.cumsum(P)
    v10 = (n_below + N / 2) / n  # per positive of the cell: share of negatives ranked below
    v01 = (p_above + P / 2) / m  # per negative: share of positives ranked above
    auc = float(np.sum(P * v10) / m)
    var10 = np.sum(P * (v10 - auc) ** 2) / (m - 1) if m > 1 else 0.0
    var01 = np.sum(N * (v01 - auc) ** 2) / (n - 1) if n > 1 else 0.0
    return float(math.sqrt(max(var10 / m + var01 / n, 0.0)))


def _equal_count_groups(n: np.ndarray, groups: int) -> np.ndarray:
    """Share of each cell's rows in each of ``groups`` equal-count groups (cells × groups); a cell straddling
    a group edge is split in proportion."""
    total = n.sum()
    hi = np.cumsum(n)
    lo = hi - n
    edges = np.linspace(0, total, groups + 1)
    share = np.zeros((len(n), groups))
    for g in range(groups):
        overlap = np.clip(np.minimum(hi, edges[g + 1]) - np.maximum(lo, edges[g]), 0, None)
        share[:, g] = np.where(n > 0, overlap / np.maximum(n, 1e-300), 0.0)
    return share


def binned_ece(cells: Cells, groups: int = 10) -> float:
    """ECE with equal-count groups (as :func:`mlmon_nb.metrics.expected_calibration_error`) on labelled cells."""
    n = cells.total("n", (1, 0))
    if n.sum() == 0:
        return float("nan")
    w = _equal_count_groups(n, groups)
    rows = n @ w
    pos = cells.get(1, "n") @ w
    sp = cells.total("sp", (1, 0)) @ w
    ok = rows > 0
    return float(np.sum(np.abs(pos[ok] - sp[ok])) / n.sum())


def binned_calibration(cells: Cells, groups: int = 10) -> dict[str, list[float]]:
    """Calibration curve (mean score against observed rate) in equal-count groups of the labelled cells."""
    n = cells.total("n", (1, 0))
    if n.sum() == 0:
        return {"mean_predicted": [], "observed_rate": []}
    w = _equal_count_groups(n, groups)
    rows = n @ w
    pos = cells.get(1, "n") @ w
    sp = cells.total("sp", (1, 0)) @ w
    ok = rows > 0
    return {"mean_predicted": [float(x) for x in sp[ok] / rows[ok]],
            "observed_rate": [float(x) for x in pos[ok] / rows[ok]]}


def binary_realized(cells: Cells, metrics: Sequence[str]) -> dict[str, float]:
    """Realized binary metrics of the labelled rows of some cells (NaN where undefined)."""
    P, N = cells.get(1, "n"), cells.get(0, "n")
    if P.sum() + N.sum() == 0:
        return {m: float("nan") for m in metrics}
    L1 = np.where(P > 0, cells.get(1, "l1") / np.maximum(P, 1), 0.0)
    L0 = np.where(N > 0, cells.get(0, "l0") / np.maximum(N, 1), 0.0)
    out = {k: float(v[0]) for k, v in binary_binned(P, N, cells.above, L1, L0, metrics).items()}
    if P.sum() == 0 or N.sum() == 0:
        out.update({m: float("nan") for m in ("roc_auc", "pr_auc") if m in out})
    labelled = P.sum() + N.sum()
    sp_lab = cells.total("sp", (1, 0))
    if "brier" in metrics:
        out["brier"] = float((cells.total("sp2", (1, 0)).sum() - 2 * cells.get(1, "sp").sum() + P.sum()) / labelled)
    if "ece" in metrics:
        out["ece"] = binned_ece(cells)
    if "positive_rate" in metrics:
        out["positive_rate"] = float(P.sum() / labelled)
    if "mean_prediction" in metrics:
        out["mean_prediction"] = float(sp_lab.sum() / labelled)
    return out


def regression_binned(cells: Cells, metrics: Sequence[str] = ("mae", "rmse", "r2")) -> dict[str, float]:
    """Realized regression metrics of the labelled rows (exact from the sums)."""
    n = cells.get(1, "n").sum()
    if n == 0:
        return {m: float("nan") for m in metrics}
    sae, sse = cells.get(1, "sae").sum(), cells.get(1, "sse").sum()
    out = {}
    if "mae" in metrics:
        out["mae"] = float(sae / n)
    if "rmse" in metrics:
        out["rmse"] = float(math.sqrt(sse / n))
    if "r2" in metrics:
        sy, sy2 = cells.get(1, "sy").sum(), cells.get(1, "sy2").sum()
        sst = sy2 - sy * sy / n
        out["r2"] = float(1 - sse / sst) if n > 1 and sst > 0 else float("nan")
    return out
