"""The loss stream the change-point detectors read: excess loss of the labelled rows, in blocks.

Each labelled row's loss minus the loss its calibrated score leads to expect
(:meth:`~.estimator.PerformanceEstimator.excess`). Binary: the mean of two such
excesses, each divided by its reference sd: the *rank loss* (share of
reference rows of the other class the row is ordered wrongly against, its part
of 1 − ROC AUC) and the 0/1 *error* at the decision threshold. Multiclass: 0/1
error. Regression: absolute error. Its mean stays at 0 when only the inputs
shift and rises when P(y | x) changes, so the detectors do not fire on
covariate shift. Rows are averaged in time-ordered blocks (about
:data:`BLOCKS_PER_WINDOW` per window, :data:`MIN_BLOCK_ROWS` to
:data:`MAX_BLOCK_ROWS` rows; larger windows use an evenly spread row sample)
and standardised with the reference's cross-fitted mean and sd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["LossStream", "loss_stream", "BLOCKS_PER_WINDOW", "MIN_BLOCK_ROWS", "MAX_BLOCK_ROWS", "WARMUP_BLOCKS"]

BLOCKS_PER_WINDOW = 168
MIN_BLOCK_ROWS = 25
MAX_BLOCK_ROWS = 100
WARMUP_BLOCKS = 200


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
