"""Exposure concentration: how evenly exposures spread over the catalogue's items.

Gini coefficient and Lorenz curve (as Fleder & Hosanagar 2009 measure sales
concentration), normalised Shannon entropy, the share of exposures on the top
items, and catalogue coverage. Pure functions of exposure counts per item;
items of the catalogue missing from ``counts`` count as zero exposures.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UsageError

__all__ = ["LORENZ_POINTS", "coverage", "gini", "lorenz_curve", "normalised_entropy", "top_share"]

LORENZ_POINTS = 400
"""Most points of a Lorenz curve (evenly spaced over the catalogue)."""


def _counts(counts: Any, catalogue: int | None, func: str) -> tuple[np.ndarray, int]:
    x = np.asarray(counts, dtype=float).ravel()
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0):
        raise UsageError(f"The 'counts' parameter of {func} must hold finite non-negative numbers. "
                         f"Got min {np.nanmin(x)!r} instead.")
    n = int(catalogue) if catalogue is not None else x.size
    if n < x.size:
        raise UsageError(f"The 'catalogue' parameter of {func} must be >= the number of counts "
                         f"({x.size}). Got {n} instead.")
    return x, n


def gini(counts: Any, catalogue: int | None = None) -> float:
    """Gini coefficient of exposure counts over a catalogue of items.

    Parameters
    ----------
    counts : array-like
        Exposures per item (non-negative). Items of the catalogue not listed
        count as zero exposures.
    catalogue : int, optional
        Catalogue size (``len(counts)`` when omitted).

    Returns
    -------
    float
        0 when every item is exposed equally, ``(n-1)/n`` when one item takes
        every exposure; NaN without exposures.

    Examples
    --------
    >>> gini([5, 5, 5, 5])
    0.0
    >>> gini([10], catalogue=4)
    0.75
    """
    x, n = _counts(counts, catalogue, "gini")
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    x = np.sort(x)
    ranks = np.arange(n - x.size + 1, n + 1, dtype=float)  # the implicit zeros take the lowest ranks
    return float(max(0.0, 2.0 * (ranks @ x) / (n * total) - (n + 1.0) / n))


def normalised_entropy(counts: Any, catalogue: int | None = None) -> float:
    """Shannon entropy of the exposure shares divided by its maximum, log(catalogue).

    Examples
    --------
    >>> round(normalised_entropy([3, 3, 3]), 12)
    1.0
    >>> normalised_entropy([4], catalogue=8)
    0.0
    """
    x, n = _counts(counts, catalogue, "normalised_entropy")
    total = x.sum()
    if n < 2 or total <= 0:
        return float("nan")
    p = x[x > 0] / total
    return float(max(0.0, -(p * np.log(p)).sum() / math.log(n)))


def top_share(counts: Any, fraction: float, catalogue: int | None = None) -> float:
    """Share of exposures on the most exposed ``fraction`` of the catalogue (at least one item).

    Examples
    --------
    >>> top_share([50, 30, 10, 5, 5], 0.2)
    0.5
    >>> round(top_share([50, 30, 10, 5, 5], 0.4), 6)
    0.8
    """
    if not 0 < fraction <= 1:
        raise UsageError(f"The 'fraction' parameter of top_share must be a number in (0, 1]. Got {fraction!r} instead.")
    x, n = _counts(counts, catalogue, "top_share")
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    k = max(1, int(math.ceil(fraction * n - 1e-9)))
    top = np.sort(x)[::-1][:k]
    return float(top.sum() / total)


def coverage(counts: Any, catalogue: int | None = None) -> float:
    """Share of the catalogue's items exposed at least once.

    Examples
    --------
    >>> coverage([3, 0, 1], catalogue=4)
    0.5
    """
    x, n = _counts(counts, catalogue, "coverage")
    return float((x > 0).sum() / n) if n else float("nan")


def lorenz_curve(counts: Any, catalogue: int | None = None, points: int | None = LORENZ_POINTS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of exposures: cumulative share of items (least exposed first) against exposures.

    Returns
    -------
    (x, y) : arrays
        From (0, 0) to (1, 1); at most ``points + 1`` points (evenly spaced in x).
    """
    x, n = _counts(counts, catalogue, "lorenz_curve")
    full = np.concatenate([np.zeros(n - x.size), np.sort(x)])
    total = full.sum()
    cum = np.concatenate([[0.0], np.cumsum(full) / total]) if total > 0 else np.linspace(0, 1, n + 1)
    share = np.linspace(0.0, 1.0, n + 1)
    if points and n > points:
        idx = np.unique(np.round(np.linspace(0, n, points + 1)).astype(int))
        return share[idx], cum[idx]
    return share, cum
