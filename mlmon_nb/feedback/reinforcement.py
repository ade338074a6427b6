"""Self-reinforcement and the intervals of rates: does exposure beget exposure.

The rich-get-richer correlation (Spearman's rho between items' exposure in one
period and the next; Jiang et al. 2019, Mansoury et al. 2020), and the Wilson
and Newcombe intervals the outcome rates, favoured items and training
provenance are reported with.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from ..errors import UsageError

__all__ = ["FAVOURED_FRACTION", "rate_difference_interval", "rich_get_richer", "wilson_interval"]

FAVOURED_FRACTION = 0.10
"""The items the model favoured: this share of the catalogue, the most exposed in the baseline period."""


def rich_get_richer(past: Any, later: Any) -> tuple[float, float]:
    """Spearman's rho (and its p-value) between items' past and later exposure.

    Both arrays are indexed by item over the same catalogue. A loop in which
    exposure begets exposure shows as a positive rho that grows over time.
    """
    p, q = np.asarray(past, dtype=float), np.asarray(later, dtype=float)
    if p.shape != q.shape:
        raise UsageError(f"The 'past' and 'later' parameters of rich_get_richer must have the same shape. "
                         f"Got {p.shape} and {q.shape} instead.")
    if p.size < 3 or np.all(p == p[0]) or np.all(q == q[0]):
        return float("nan"), float("nan")
    res = stats.spearmanr(p, q)
    return float(res.statistic), float(res.pvalue)


def wilson_interval(positives: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN, NaN when ``n`` is 0).

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    """
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = positives / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = centre - half, centre + half
    return (0.0 if lo < 1e-12 else lo), (1.0 if hi > 1 - 1e-12 else hi)


def rate_difference_interval(k1: float, n1: float, k2: float, n2: float,
                             confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two proportions k1/n1 - k2/n2 with Newcombe's hybrid Wilson interval."""
    if n1 <= 0 or n2 <= 0:
        return float("nan"), float("nan"), float("nan")
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
