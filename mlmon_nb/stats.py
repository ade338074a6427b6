"""The statistic registry and pure statistical functions.

Every statistic is a pure function of two samples (reference, current)
returning a frozen :class:`Stat` of numbers. It never decides an alert: the
decision rules live in :mod:`mlmon_nb.drift` and are documented there.

Each statistic is registered once in :data:`REGISTRY` with a machine name, a
display name, the feature kinds it accepts, the direction in which it grows
with drift, default warn/alert effect sizes, and a *baseline form* that
computes the same number against a baseline's stored representation (sorted
reference values and bin edges for numbers, reference shares for categories)
without the reference rows. CLI choices, config validation and error messages
read the registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.spatial import distance as spd

from .errors import UsageError

EPS = 1e-4  # floor of bin shares in PSI (empty bins would make it infinite)


@dataclass(frozen=True)
class Stat:
    """Result of a two-sample statistic.

    Attributes
    ----------
    value : float
        The effect size (a distance: 0 = same distribution, larger = more drift).
    p_value : float or None
        p-value of the matching test; None when the statistic has none.
    statistic : float or None
        The raw test statistic when it differs from ``value`` (e.g. chi-square).
    """

    value: float
    p_value: float | None = None
    statistic: float | None = None


def _finite(a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a[np.isfinite(a)]


# --------------------------------------------------------------------------- numeric

def _ks_sorted(r: np.ndarray, c: np.ndarray) -> float:
    """KS D of two *sorted* samples: the largest gap of their ECDFs over all observed values.

    Both ECDFs are right-continuous step functions, so the supremum is reached
    at an observed value; evaluating at every value of both samples is exact,
    ties and discrete data included (this is how scipy computes it).
    """
    both = np.concatenate([r, c])
    cdf_r = np.searchsorted(r, both, side="right") / len(r)
    cdf_c = np.searchsorted(c, both, side="right") / len(c)
    return float(np.max(np.abs(cdf_r - cdf_c)))


def _ks_pvalue(d: float, n1: int, n2: int) -> float:
    if max(n1, n2) <= 10_000:
        return float("nan")  # caller uses scipy's exact path
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(sps.distributions.kstwo.sf(d, np.round(en)), 0, 1))


def ks(reference, current, *, assume_sorted: bool = False) -> Stat:
    """Two-sample Kolmogorov-Smirnov D and its two-sided p-value (scipy's method).

    Missing values are dropped. For samples up to 10,000 values scipy's
    ``ks_2samp`` computes the exact p-value; above, Smirnov's asymptotic
    distribution, as ``ks_2samp(method="auto")`` does. With a sorted reference
    the cost is one binary search per value.

    Examples
    --------
    >>> ks([1, 2, 3, 4], [1, 2, 3, 4]).value
    0.0
    >>> ks([1, 1, 2], [2, 2, 3]).value
    0.666...
    """
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return Stat(value=float("nan"))
    if max(len(r), len(c)) <= 10_000:
        res = sps.ks_2samp(r, c)
        return Stat(value=float(res.statistic), p_value=float(res.pvalue))
    if not assume_sorted:
        r = np.sort(r)
    c = np.sort(c)
    d = _ks_sorted(r, c)
    return Stat(value=d, p_value=_ks_pvalue(d, len(r), len(c)))


def wasserstein(reference, current, *, scale: float | None = None) -> Stat:
    """Wasserstein-1 distance (scipy) divided by the reference's standard deviation.

    The normalised distance reads as "the distributions are this many reference
    standard deviations apart" (a pure mean shift of 0.5 sd gives 0.5).
    """
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return Stat(value=float("nan"))
    sd = scale if scale is not None else (float(np.std(r, ddof=1)) if len(r) > 1 else 0.0)
    raw = float(sps.wasserstein_distance(r, c))
    return Stat(value=raw / sd if sd > 0 else raw, statistic=raw)


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.clip(np.searchsorted(edges, values, side="left") - 1, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1) / max(len(values), 1)


def default_edges(reference, bins: int = 10) -> np.ndarray:
    """Reference decile edges with open outer bins: the baseline's binning."""
    r = _finite(reference)
    inner = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)[1:-1])) if len(r) else np.array([])
    return np.concatenate([[-np.inf], inner, [np.inf]])


def psi_shares(ref_shares, cur_shares) -> float:
    """Population stability index of two share vectors (shares floored at 1e-4)."""
    r = np.maximum(np.asarray(ref_shares, dtype=float), EPS)
    c = np.maximum(np.asarray(cur_shares, dtype=float), EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def js_shares(ref_shares, cur_shares) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two share vectors (scipy)."""
    r = np.asarray(ref_shares, dtype=float)
    c = np.asarray(cur_shares, dtype=float)
    if r.sum() == 0 or c.sum() == 0:
        return float("nan")
    return float(spd.jensenshannon(r, c, base=2))


def psi(reference, current, *, edges=None) -> Stat:
    """Population stability index on the reference's decile bins (or given ``edges``)."""
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return Stat(value=float("nan"))
    e = default_edges(r) if edges is None else np.asarray(edges, dtype=float)
    return Stat(value=psi_shares(_shares(r, e), _shares(c, e)))


def jensen_shannon(reference, current, *, edges=None) -> Stat:
    """Jensen-Shannon distance on the reference's decile bins (or given ``edges``)."""
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return Stat(value=float("nan"))
    e = default_edges(r) if edges is None else np.asarray(edges, dtype=float)
    return Stat(value=js_shares(_shares(r, e), _shares(c, e)))


def anderson(reference, current) -> Stat:
    """Anderson-Darling k-sample test (scipy); value is the normalised statistic.

    scipy caps the p-value to [0.001, 0.25]; use it as a second opinion, not
    for the decision.
    """
    r, c = _finite(reference), _finite(current)
    if len(r) < 2 or len(c) < 2:
        return Stat(value=float("nan"))
    res = sps.anderson_ksamp([r, c])
    return Stat(value=float(res.statistic), p_value=float(res.pvalue), statistic=float(res.statistic))


# --------------------------------------------------------------------------- categorical

def category_counts(reference, current) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of each level (union of both samples, sorted), missing values dropped."""
    r = pd.Series(np.asarray(reference, dtype=object)).dropna().astype(str)
    c = pd.Series(np.asarray(current, dtype=object)).dropna().astype(str)
    levels = sorted(set(r.unique()) | set(c.unique()))
    rc = r.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float)
    cc = c.value_counts().reindex(levels, fill_value=0).to_numpy(dtype=float)
    return rc, cc, levels


def chi2_counts(rc, cc) -> Stat:
    """Chi-square homogeneity test of a 2 x k table of counts; value is Cramér's V."""
    rc, cc = np.asarray(rc, dtype=float), np.asarray(cc, dtype=float)
    keep = (rc + cc) > 0
    table = np.vstack([rc[keep], cc[keep]])
    if table.shape[1] < 2 or rc.sum() == 0 or cc.sum() == 0:
        return Stat(value=0.0, p_value=1.0, statistic=0.0)
    res = sps.chi2_contingency(table, correction=False)
    v = math.sqrt(res.statistic / table.sum())  # Cramér's V of a 2 x k table: min(2, k) - 1 = 1
    return Stat(value=float(v), p_value=float(res.pvalue), statistic=float(res.statistic))


def chi2(reference, current) -> Stat:
    """Chi-square test of homogeneity of category counts (scipy); value is Cramér's V.

    Examples
    --------
    >>> round(chi2(["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["b"] * 50).value, 6)
    0.0
    """
    rc, cc, _ = category_counts(reference, current)
    return chi2_counts(rc, cc)


def tvd(reference, current) -> Stat:
    """Total variation distance of category shares (0 = same, 1 = disjoint)."""
    rc, cc, _ = category_counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return Stat(value=float("nan"))
    return Stat(value=float(0.5 * np.abs(rc / rc.sum() - cc / cc.sum()).sum()))


def psi_categorical(reference, current) -> Stat:
    """PSI over categories."""
    rc, cc, _ = category_counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return Stat(value=float("nan"))
    return Stat(value=psi_shares(rc / rc.sum(), cc / cc.sum()))


def js_categorical(reference, current) -> Stat:
    """Jensen-Shannon distance over categories (base 2)."""
    rc, cc, _ = category_counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return Stat(value=float("nan"))
    return Stat(value=js_shares(rc / rc.sum(), cc / cc.sum()))


def unseen(reference, current) -> Stat:
    """Share of current rows whose category never occurs in the reference."""
    r = set(pd.Series(np.asarray(reference, dtype=object)).dropna().astype(str).unique())
    c = pd.Series(np.asarray(current, dtype=object)).dropna().astype(str)
    if len(c) == 0:
        return Stat(value=float("nan"))
    return Stat(value=float((~c.isin(r)).mean()))


# --------------------------------------------------------------------------- baseline forms

def _numeric_baseline(name: str) -> Callable[..., Stat]:
    """Compute a numeric statistic against a baseline's sorted values and bin edges."""

    def run(sorted_ref: np.ndarray, current, profile: Mapping[str, Any], n_ref: int) -> Stat:
        c = _finite(current)
        if len(c) == 0 or len(sorted_ref) == 0:
            return Stat(value=float("nan"))
        if name == "ks":
            d = _ks_sorted(sorted_ref, np.sort(c))
            if max(n_ref, len(c)) <= 10_000 and len(sorted_ref) == n_ref:
                return ks(sorted_ref, c)
            return Stat(value=d, p_value=_ks_pvalue(d, max(n_ref, 10_001), len(c)))
        if name == "wasserstein":
            return wasserstein(sorted_ref, c, scale=profile.get("std") or None)
        edges = np.array([float(e) for e in profile["bin_edges"]])
        ref_shares = np.asarray(profile["bin_shares"], dtype=float)
        cur_shares = _shares(c, edges)
        if name == "psi":
            return Stat(value=psi_shares(ref_shares, cur_shares))
        if name == "jensen_shannon":
            return Stat(value=js_shares(ref_shares, cur_shares))
        raise UsageError(f"statistic {name!r} has no baseline form")

    return run


def _categorical_baseline(name: str) -> Callable[..., Stat]:
    """Compute a categorical statistic against a baseline's top-k shares plus 'other'."""

    def run(_sorted, current, profile: Mapping[str, Any], n_ref: int) -> Stat:
        levels = list(profile["frequencies"])
        ref = np.array([profile["frequencies"][k] for k in levels] + [profile["other_share"]])
        s = pd.Series(np.asarray(current, dtype=object)).dropna().astype(str)
        if len(s) == 0:
            return Stat(value=float("nan"))
        counts = s.value_counts()
        known = np.array([counts.get(k, 0) for k in levels], dtype=float)
        cur_counts = np.append(known, len(s) - known.sum())
        if name == "unseen":
            if profile["other_share"] > 0:  # pooled levels: 'unseen' cannot be told from 'other'
                return Stat(value=float("nan"))
            return Stat(value=float((len(s) - known.sum()) / len(s)))
        n_valid = n_ref * (1 - profile["missing_rate"])
        ref_counts = ref * n_valid
        cur = cur_counts / cur_counts.sum()
        if name == "chi2":
            return chi2_counts(ref_counts, cur_counts)
        if name == "tvd":
            return Stat(value=float(0.5 * np.abs(ref - cur).sum()))
        if name == "psi":
            return Stat(value=psi_shares(ref, cur))
        if name == "jensen_shannon":
            return Stat(value=js_shares(ref, cur))
        raise UsageError(f"statistic {name!r} has no baseline form")

    return run


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class StatInfo:
    """A registered statistic.

    ``warn``/``alert`` are default effect sizes used when the baseline gives
    no band; ``baseline_func`` is None for statistics not computed per chunk.
    """

    name: str
    display: str
    kinds: tuple[str, ...]
    func: Callable[..., Stat]
    warn: float
    alert: float
    has_test: bool
    baseline_func: Callable[..., Stat] | None = None
    higher_is_drift: bool = True


def _entries() -> list[StatInfo]:
    return [
        StatInfo("ks", "Kolmogorov-Smirnov D", ("numeric",), ks, 0.05, 0.1, True, _numeric_baseline("ks")),
        StatInfo("wasserstein", "Wasserstein (÷ ref. sd)", ("numeric",), wasserstein, 0.1, 0.2, False,
                 _numeric_baseline("wasserstein")),
        StatInfo("psi", "Population stability index", ("numeric", "categorical"), psi, 0.1, 0.25, False,
                 None),
        StatInfo("jensen_shannon", "Jensen-Shannon distance", ("numeric", "categorical"), jensen_shannon,
                 0.05, 0.1, False, None),
        StatInfo("anderson", "Anderson-Darling k-sample", ("numeric",), anderson, 2.0, 4.0, True, None),
        StatInfo("chi2", "Chi-square (Cramér's V)", ("categorical",), chi2, 0.05, 0.1, True,
                 _categorical_baseline("chi2")),
        StatInfo("tvd", "Total variation distance", ("categorical",), tvd, 0.05, 0.1, False,
                 _categorical_baseline("tvd")),
        StatInfo("unseen", "Share of unseen categories", ("categorical",), unseen, 0.01, 0.05, False, None),
    ]


REGISTRY: dict[str, StatInfo] = {s.name: s for s in _entries()}

#: Same-named statistics computed differently per kind (PSI / JS on bins or on categories).
KIND_FUNCS: dict[tuple[str, str], Callable[..., Stat]] = {
    ("psi", "categorical"): psi_categorical,
    ("jensen_shannon", "categorical"): js_categorical,
}
BASELINE_FUNCS: dict[tuple[str, str], Callable[..., Stat]] = {
    ("ks", "numeric"): _numeric_baseline("ks"),
    ("wasserstein", "numeric"): _numeric_baseline("wasserstein"),
    ("psi", "numeric"): _numeric_baseline("psi"),
    ("jensen_shannon", "numeric"): _numeric_baseline("jensen_shannon"),
    ("chi2", "categorical"): _categorical_baseline("chi2"),
    ("tvd", "categorical"): _categorical_baseline("tvd"),
    ("psi", "categorical"): _categorical_baseline("psi"),
    ("jensen_shannon", "categorical"): _categorical_baseline("jensen_shannon"),
    ("unseen", "categorical"): _categorical_baseline("unseen"),
}


def compute(name: str, kind: str, reference, current) -> Stat:
    """Compute a registered statistic on raw samples."""
    get(name, kind)
    return KIND_FUNCS.get((name, kind), REGISTRY[name].func)(reference, current)


def compute_against_baseline(name: str, kind: str, sorted_ref, current, profile, n_ref: int) -> Stat:
    """Compute a registered statistic against a baseline's stored representation."""
    get(name, kind)
    func = BASELINE_FUNCS.get((name, kind))
    if func is None:
        raise UsageError(f"statistic {name!r} cannot be computed from a baseline for {kind} features; "
                         f"use one of {', '.join(sorted(n for n, k in BASELINE_FUNCS if k == kind))}")
    return func(sorted_ref, current, profile, n_ref)


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
    """Benjamini-Hochberg adjusted p-values (NaN kept as NaN), by scipy."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out
