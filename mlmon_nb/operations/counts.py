"""Significance of counts: Poisson rates, binomial excesses and shortfalls, over-dispersion.

Pure functions of numbers. Traffic is judged with :func:`rate_ratio_test`
(quasi-Poisson, dispersion from :func:`overdispersion`); error rates, version
shares and data-quality shares with the one-sided binomial tests, their sample
sizes divided by :func:`dispersion_from_band` where the baseline measured
extra-binomial noise.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as sps

from ..rules import Band
from .policy import ALPHA


def overdispersion(observed: Sequence[float], expected: Sequence[float], dof: int) -> float:
    """Quasi-Poisson dispersion: Pearson χ² of counts around their expectation per degree of freedom.

    Returns at least 1 (never less noisy than Poisson), and 1 when ``dof`` < 1.

    Examples
    --------
    >>> round(overdispersion([10, 20], [15, 15], 1), 3)
    3.333
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    ok = e > 0
    if dof < 1 or not ok.any():
        return 1.0
    return max(1.0, float(np.sum((o[ok] - e[ok]) ** 2 / e[ok]) / dof))


def rate_ratio_test(observed: float, expected: float, baseline: float, dispersion: float = 1.0) -> float:
    """Two-sided p-value that ``observed`` requests come from the baseline's rate.

    ``baseline`` requests were counted over the same hours-of-week in the
    baseline window, and ``expected`` is what the profile predicts for the
    compared period. Given both Poisson, ``observed`` is binomial on
    ``observed + baseline`` trials with probability ``expected / (expected +
    baseline)`` when the rate did not change; this accounts for the noise of
    the profile itself. With ``dispersion`` φ > 1 both counts are divided by φ.
    """
    if expected <= 0 and observed <= 0:
        return 1.0
    if baseline <= 0:
        return 0.0 if observed > 0 else 1.0
    k = int(round(observed / dispersion))
    n = k + int(round(baseline / dispersion))
    if n == 0:
        return 1.0
    return float(sps.binomtest(k, n, expected / (expected + baseline)).pvalue)


def binomial_excess(k: float, n: float, p0: float, dispersion: float = 1.0) -> float:
    """One-sided p-value P(X ≥ k) for X ~ Binomial(n, p0), sizes divided by ``dispersion``."""
    if n <= 0:
        return 1.0
    k_eff, n_eff = k / dispersion, n / dispersion
    if p0 <= 0:
        return 0.0 if k_eff > 0 else 1.0
    if p0 >= 1:
        return 1.0
    # sf(k - 1) = P(X >= k); the effective count may be fractional, so it is rounded.
    return float(sps.binom.sf(math.ceil(k_eff - 1e-9) - 1, max(1, round(n_eff)), p0))


def binomial_shortfall(k: float, n: float, p0: float) -> float:
    """One-sided p-value P(X ≤ k) for X ~ Binomial(n, p0)."""
    if n <= 0 or p0 <= 0:
        return 1.0
    if p0 >= 1:
        return 0.0 if k < n else 1.0
    return float(sps.binom.cdf(k, n, p0))


def binomial_critical_rate(n: float, p0: float, alpha: float = ALPHA, dispersion: float = 1.0) -> float:
    """Smallest rate whose count on ``n`` trials is significant (P(X ≥ k) < alpha)."""
    n_eff = max(1, round(n / dispersion))
    if p0 <= 0:
        return 1.0 / n_eff
    k = sps.binom.isf(alpha, n_eff, p0) + 1
    return float(min(1.0, k / n_eff))


def dispersion_from_band(band: Band | None, p0: float) -> float:
    """How much noisier a per-chunk rate was than binomial noise: sd² / (p0(1−p0)/chunk rows), at least 1."""
    if band is None or not (0 < p0 < 1) or not np.isfinite(band.sd) or band.chunk_rows <= 0:
        return 1.0
    return max(1.0, float(band.sd ** 2 / (p0 * (1 - p0) / band.chunk_rows)))
