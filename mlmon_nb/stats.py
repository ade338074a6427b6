"""The statistic registry and pure statistical functions.

Every statistic is a pure function of two arrays (reference, current)
returning a frozen :class:`Stat` of numbers. It never decides an alert: the
decision rules live in :mod:`mlmon_nb.drift` and are documented there. Each
statistic is registered once, with a machine name, a display name, the
feature types it accepts, the direction in which it grows with drift, and a
default threshold on its effect size; CLI choices, config validation and
error messages read :data:`REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats as sps

from .errors import UsageError


@dataclass(frozen=True)
class Stat:
    """Result of a two-sample statistic.

    Attributes
    ----------
    value : float
        The effect size (distance); larger means more drift.
    p_value : float or None
        p-value of the matching test, None when the statistic has none.
    statistic : float or None
        The raw test statistic when it differs from ``value`` (e.g. chi-square).
    """

    value: float
    p_value: float | None = None
    statistic: float | None = None


@dataclass(frozen=True)
class StatInfo:
    name: str
    display: str
    kinds: tuple[str, ...]
    func: Callable[..., Stat]
    warn: float
    alert: float
    higher_is_drift: bool = True


def _finite(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a[np.isfinite(a)]


def ks(reference, current) -> Stat:
    """Two-sample Kolmogorov-Smirnov: D (the largest ECDF gap) and its p-value.

    Exact with ties and discrete values: scipy compares the ECDFs at every
    observed value. Missing values are dropped.

    Examples
    --------
    >>> ks([1, 2, 3, 4], [1, 2, 3, 4]).value
    0.0
    """
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return Stat(value=float("nan"), p_value=None)
    res = sps.ks_2samp(r, c, alternative="two-sided", method="auto" if len(r) * len(c) < 10_000 else "asymp")
    return Stat(value=float(res.statistic), p_value=float(res.pvalue))


def _counts(reference, current) -> tuple[np.ndarray, np.ndarray, list]:
    import pandas as pd

    r = pd.Series(np.asarray(reference, dtype=object)).dropna().astype(str)
    c = pd.Series(np.asarray(current, dtype=object)).dropna().astype(str)
    levels = sorted(set(r.unique()) | set(c.unique()))
    rc = r.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float)
    cc = c.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float)
    return rc, cc, levels


def chi2(reference, current) -> Stat:
    """Chi-square test of homogeneity on category counts; value is Cramér's V.

    Uses :func:`scipy.stats.chi2_contingency` on the 2 x k table of counts.

    Examples
    --------
    >>> round(chi2(["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["b"] * 50).value, 6)
    0.0
    """
    rc, cc, _ = _counts(reference, current)
    keep = (rc + cc) > 0
    table = np.vstack([rc[keep], cc[keep]])
    if table.shape[1] < 2 or rc.sum() == 0 or cc.sum() == 0:
        return Stat(value=0.0, p_value=1.0, statistic=0.0)
    res = sps.chi2_contingency(table, correction=False)
    n = table.sum()
    v = float(np.sqrt(res.statistic / n))  # Cramér's V of a 2 x k table (min(r, k) - 1 = 1)
    return Stat(value=v, p_value=float(res.pvalue), statistic=float(res.statistic))


def tvd(reference, current) -> Stat:
    """Total variation distance between category frequencies (0 = same, 1 = disjoint)."""
    rc, cc, _ = _counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return Stat(value=float("nan"))
    return Stat(value=float(0.5 * np.abs(rc / rc.sum() - cc / cc.sum()).sum()))


REGISTRY: dict[str, StatInfo] = {
    info.name: info
    for info in (
        StatInfo("ks", "Kolmogorov-Smirnov D", ("numeric",), ks, warn=0.05, alert=0.1),
        StatInfo("chi2", "Chi-square (Cramér's V)", ("categorical",), chi2, warn=0.05, alert=0.1),
        StatInfo("tvd", "Total variation distance", ("categorical",), tvd, warn=0.05, alert=0.1),
    )
}


def get(name: str, kind: str | None = None) -> StatInfo:
    """Look a statistic up by name, checking it accepts a feature kind.

    Raises
    ------
    UsageError
        For an unknown name (listing the registry) or a kind it does not accept.
    """
    if name not in REGISTRY:
        raise UsageError(f"unknown statistic {name!r}; known: {', '.join(sorted(REGISTRY))}")
    info = REGISTRY[name]
    if kind is not None and kind not in info.kinds:
        ok = [n for n, i in REGISTRY.items() if kind in i.kinds]
        raise UsageError(f"statistic {name!r} does not apply to {kind} features; use one of {', '.join(ok)}")
    return info


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN kept as NaN).

    Uses :func:`scipy.stats.false_discovery_control`.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out
