"""The statistic registry and pure statistical functions.

Every statistic is a pure function of two samples (reference, current)
returning a frozen :class:`Stat` of numbers. It never decides an alert: the
decision rules live in :mod:`mlmon_nb.drift` and are documented there.

Samples lose their NaN, ``inf`` and ``-inf`` values first (a statistic of a sample is the one of its
finite values); counts, rates or scales that are not finite give a NaN :class:`Stat`, never an error.

Each statistic is registered once in :data:`REGISTRY` with a machine name, a
display name, the kinds of subject it accepts, the direction in which it grows
with drift, default *practical floors* (the smallest effect worth a warning or
an alert, whatever the sample size) and whether it carries its own test.

Most statistics also have a *baseline form*: the same number computed against
a baseline's stored representation of the reference (:class:`NumericReference`
- sorted values, bin edges and shares; :class:`CategoricalReference` - level
shares) instead of the reference rows. :func:`numeric_against` and
:func:`categorical_against` compute several of them from one pass over the
current values; ``BASELINE_FUNCS`` compute them from a baseline profile.
CLI choices, config validation and error messages read the registry.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from .errors import UsageError
from .kolmogorov import KS_EXACT_MAX, KS_SERIES_ABOVE, KS_TAIL_BELOW, ks_pvalue  # noqa: F401  (callers: stats.*)
from .multitest import benjamini_hochberg, holm  # noqa: F401  (callers use stats.benjamini_hochberg)
from .profiles import bin_edges
from .shape import EPS, RareRegion, js_shares, psi_shares, tail_shares  # noqa: F401  (EPS: callers)
from .shape import bin_shares as _shares



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
    where : tuple of float or None
        Where it is attained (KS: the value and both ECDFs at the largest gap).
    """

    value: float
    p_value: float | None = None
    statistic: float | None = None
    #: Where the statistic is attained, when it has a place: for KS ``(x, reference ECDF,
    #: current ECDF)`` at the largest gap (what a plot marks without sorting the data again).
    where: tuple[float, float, float] | None = None
    #: Named parts of the figure, when it has some (tail: the window's and the reference's shares
    #: below, above and inside the rare region, and its edges).
    detail: Mapping[str, float] | None = None


_NAN = Stat(value=float("nan"))


def _finite(a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a[np.isfinite(a)]


# --------------------------------------------------------------------------- numeric

def _tie_bounds(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a sorted array, each element's count of values below it and at or below it (linear time)."""
    n = len(s)
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    sizes = np.diff(np.r_[starts, n])
    return np.repeat(starts, sizes), np.repeat(starts + sizes, sizes)


def _ks_sorted_at(r: np.ndarray, c: np.ndarray) -> tuple[float, tuple[float, float, float]]:
    """KS D of two *sorted* samples: the largest gap of their ECDFs.

    Both ECDFs are right-continuous step functions. Between two consecutive
    values of the smaller sample its ECDF is constant and the other's is
    monotone, so the gap is largest at one of the smaller sample's values or
    just before it (the left limit). Evaluating both sides there is exact,
    ties and discrete data included - the same maximum scipy finds over the
    values of both samples - at the cost of binary searches of the smaller
    sample only.
    """
    s, b = (c, r) if len(c) <= len(r) else (r, c)
    below, at_or_below = _tie_bounds(s)
    at_or_below_b = np.searchsorted(b, s, side="right")
    below_b = at_or_below_b.copy()  # differs only where b holds the value itself: searched there alone
    tied = at_or_below_b > 0
    tied[tied] = b[at_or_below_b[tied] - 1] == s[tied]
    if tied.any():
        below_b[tied] = np.searchsorted(b, s[tied], side="left")
    b_right, b_left = at_or_below_b / len(b), below_b / len(b)
    right = np.abs(b_right - at_or_below / len(s))
    left = np.abs(b_left - below / len(s))
    i, j = int(np.argmax(right)), int(np.argmax(left))
    if right[i] >= left[j]:  # at s[i] (both ECDFs right-continuous)
        x, fb, fs, d = s[i], b_right[i], at_or_below[i] / len(s), right[i]
    else:  # just before s[j] (left limits)
        x, fb, fs, d = s[j], b_left[j], below[j] / len(s), left[j]
    fr, fc = (fb, fs) if s is c else (fs, fb)
    return float(d), (float(x), float(fr), float(fc))


def ks(reference, current, *, assume_sorted: bool = False) -> Stat:
    """Two-sample Kolmogorov-Smirnov D and its two-sided p-value (scipy's method).

    Missing values are dropped. D is exact, ties included. For samples up to
    10,000 values scipy's ``ks_2samp`` computes the exact p-value; above,
    Smirnov's asymptotic distribution, as ``ks_2samp(method="auto")`` does.
    With discrete values the test is conservative (p-values too large).

    Examples
    --------
    >>> ks([1, 2, 3, 4], [1, 2, 3, 4]).value
    0.0
    >>> round(ks([1, 1, 2], [2, 2, 3]).value, 6)
    0.666667
    """
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return _NAN
    if max(len(r), len(c)) <= KS_EXACT_MAX:
        res = sps.ks_2samp(r, c)
        return Stat(value=float(res.statistic), p_value=float(res.pvalue))
    r, c = r if assume_sorted else np.sort(r), np.sort(c)
    d = _ks_sorted_at(r, c)[0]
    return Stat(value=d, p_value=ks_pvalue(d, len(r), len(c)))


def _wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """Wasserstein-1 distance of two *sorted* samples: the area between their ECDFs.

    The same computation as scipy's ``wasserstein_distance`` without its two
    argsorts (a merge of two sorted runs is linear).
    """
    both = np.concatenate([u, v])
    order = np.argsort(both, kind="stable")  # two sorted runs: a linear merge
    from_u = order < len(u)
    deltas = np.diff(both[order])
    # ECDFs after each merged value (within a run of ties they are partial, but there deltas are 0).
    u_cdf = np.cumsum(from_u)[:-1] / len(u)
    v_cdf = np.cumsum(~from_u)[:-1] / len(v)
    return float(np.sum(np.abs(u_cdf - v_cdf) * deltas))


def wasserstein(reference, current, *, scale: float | None = None) -> Stat:
    """Wasserstein-1 distance (as scipy's) divided by the reference's standard deviation.

    The normalised distance reads as "the distributions are this many reference
    standard deviations apart" (a pure mean shift of 0.5 sd gives 0.5). It has
    no test of its own. ``statistic`` holds the distance in the feature's unit.

    Examples
    --------
    >>> wasserstein([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]).value
    1.0
    """
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return _NAN
    sd = scale if scale is not None else (float(np.std(r, ddof=1)) if len(r) > 1 else 0.0)
    raw = _wasserstein_sorted(np.sort(r), np.sort(c))
    return Stat(value=(raw / sd if sd > 0 else raw) if math.isfinite(sd) else float("nan"), statistic=raw)


def psi(reference, current, *, edges=None) -> Stat:
    """Population stability index on the reference's decile bins (or given ``edges``)."""
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return _NAN
    e = bin_edges(r) if edges is None else np.asarray(edges, dtype=float)
    return Stat(value=psi_shares(_shares(r, e), _shares(c, e)))


def jensen_shannon(reference, current, *, edges=None) -> Stat:
    """Jensen-Shannon distance on the reference's decile bins (or given ``edges``)."""
    r, c = _finite(reference), _finite(current)
    if len(r) == 0 or len(c) == 0:
        return _NAN
    e = bin_edges(r) if edges is None else np.asarray(edges, dtype=float)
    return Stat(value=js_shares(_shares(r, e), _shares(c, e)))


def anderson(reference, current) -> Stat:
    """Anderson-Darling k-sample test (scipy, midrank variant); value is the normalised statistic.

    The statistic grows with the sample size (it is a test statistic, not an
    effect size) and scipy caps the p-value to [0.001, 0.25]: use it as a
    second opinion sensitive to the tails, not as the default decision.
    """
    r, c = _finite(reference), _finite(current)
    if len(r) < 2 or len(c) < 2 or np.unique(np.concatenate([r, c])).size < 2:
        return _NAN
    with warnings.catch_warnings():
        # scipy warns whenever it caps the p-value to [0.001, 0.25]: documented above, not news.
        warnings.filterwarnings("ignore", message="p-value (floored|capped)", category=UserWarning)
        res = sps.anderson_ksamp([r, c], variant="midrank")
    return Stat(value=float(res.statistic), p_value=float(res.pvalue), statistic=float(res.statistic))


# --------------------------------------------------------------------------- categorical

def level_counts(values) -> pd.Series:
    """Counts of each level as strings (missing values dropped), most frequent first.

    Categorical columns are counted on their codes, so a million rows cost
    milliseconds; levels whose string forms coincide are merged.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    counts = s.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    counts.index = counts.index.map(str)
    if counts.index.has_duplicates:
        counts = counts.groupby(level=0).sum()
    return counts.astype(float).sort_values(ascending=False, kind="stable")


def category_counts(reference, current) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of each level (union of both samples, sorted), missing values dropped."""
    rc, cc = level_counts(reference), level_counts(current)
    levels = sorted(set(rc.index) | set(cc.index))
    return (rc.reindex(levels, fill_value=0).to_numpy(dtype=float),
            cc.reindex(levels, fill_value=0).to_numpy(dtype=float), levels)


def chi2_counts(rc, cc) -> Stat:
    """Chi-square homogeneity test of a 2 x k table of counts; value is Cramér's V.

    Levels absent from both rows are dropped; no continuity correction.
    """
    rc, cc = np.asarray(rc, dtype=float), np.asarray(cc, dtype=float)
    if not (np.isfinite(rc).all() and np.isfinite(cc).all()):
        return _NAN
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
    """Total variation distance of category shares (0 = same, 1 = disjoint).

    Examples
    --------
    >>> tvd(["a", "a", "b", "b"], ["a", "b", "b", "b"]).value
    0.25
    """
    rc, cc, _ = category_counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return _NAN
    return Stat(value=float(0.5 * np.abs(rc / rc.sum() - cc / cc.sum()).sum()))


def psi_categorical(reference, current) -> Stat:
    """PSI over categories."""
    rc, cc, _ = category_counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return _NAN
    return Stat(value=psi_shares(rc / rc.sum(), cc / cc.sum()))


def js_categorical(reference, current) -> Stat:
    """Jensen-Shannon distance over categories (base 2)."""
    rc, cc, _ = category_counts(reference, current)
    if rc.sum() == 0 or cc.sum() == 0:
        return _NAN
    return Stat(value=js_shares(rc / rc.sum(), cc / cc.sum()))


def unseen(reference, current) -> Stat:
    """Share of current rows whose category never occurs in the reference.

    Examples
    --------
    >>> unseen(["a", "b"], ["a", "c", "c", "b"]).value
    0.5
    """
    known = set(level_counts(reference).index)
    cc = level_counts(current)
    if cc.sum() == 0:
        return _NAN
    return Stat(value=float(cc[~cc.index.isin(known)].sum() / cc.sum()))


# --------------------------------------------------------------------------- rates

def rate_change(ref_events: float, ref_n: float, cur_events: float, cur_n: float) -> Stat:
    """Change of a rate between two samples: Fisher's exact test of the 2 x 2 table.

    ``value`` is the current rate minus the reference rate; ``statistic`` the
    current rate. Fisher's test is exact for any counts, including a
    reference rate of zero (where a normal approximation has no variance).

    Examples
    --------
    >>> round(rate_change(0, 1000, 0, 500).value, 6)
    0.0
    """
    ref_n, cur_n = float(ref_n), float(cur_n)
    if not all(math.isfinite(float(v)) for v in (ref_events, ref_n, cur_events, cur_n)) or ref_n <= 0 or cur_n <= 0:
        return _NAN
    table = np.array([[ref_events, ref_n - ref_events], [cur_events, cur_n - cur_events]])
    table = np.round(table).astype(np.int64)
    p = 1.0 if table[:, 0].sum() == 0 or table[:, 1].sum() == 0 else float(sps.fisher_exact(table).pvalue)
    rate = cur_events / cur_n
    return Stat(value=float(rate - ref_events / ref_n), p_value=p, statistic=float(rate))


def binomial_rate(events: int, n: int, p0: float) -> Stat:
    """A rate against a known reference rate ``p0``: two-sided exact binomial test (scipy).

    ``value`` is the observed rate.
    """
    if not all(math.isfinite(float(v)) for v in (events, n, p0)) or n <= 0:
        return _NAN
    p0 = float(min(max(p0, 0.0), 1.0))
    res = sps.binomtest(int(events), int(n), p0)
    return Stat(value=float(events / n), p_value=float(res.pvalue))


def shares_goodness_of_fit(counts, ref_shares) -> Stat:
    """Class counts against reference shares: chi-square goodness of fit; value is the TVD."""
    counts = np.asarray(counts, dtype=float)
    ref = np.asarray(ref_shares, dtype=float)
    n = counts.sum()
    if not np.isfinite(np.r_[counts, ref]).all() or n == 0 or ref.sum() == 0:
        return _NAN
    ref = ref / ref.sum()
    keep = ref > 0
    extra = counts[~keep].sum()
    if extra > 0:  # a class the reference never had: certain change
        p = 0.0
    else:
        p = float(sps.chisquare(counts[keep], ref[keep] * n).pvalue)
    return Stat(value=float(0.5 * np.abs(counts / n - ref).sum()), p_value=p)


# --------------------------------------------------------------------------- baseline representations

@dataclass(frozen=True)
class NumericReference:
    """What a baseline keeps of one numeric feature, enough for every numeric statistic.

    Attributes
    ----------
    sorted : ndarray
        Sorted finite reference values (all of them, or an even quantile
        subsample whose ECDF is within 1/len of the full one).
    n : int
        Number of finite reference values (for tests' sample sizes).
    std : float
        Standard deviation of the reference values (divides Wasserstein).
    edges, shares : ndarray
        Bin edges (open outer bins) and reference share per bin.
    rare : RareRegion or None
        Where the reference almost never was (:mod:`mlmon_nb.shape`).
    """

    sorted: np.ndarray
    n: int
    std: float
    edges: np.ndarray
    shares: np.ndarray
    rare: RareRegion | None = None

    @property
    def exact(self) -> bool:
        """True when ``sorted`` holds every reference value."""
        return len(self.sorted) == self.n

    @classmethod
    def from_values(cls, values, bins: int = 10) -> "NumericReference":
        """Build it from reference values (the in-memory path)."""
        s = np.sort(_finite(values))
        e = bin_edges(s, bins)
        std = float(np.std(s, ddof=1)) if len(s) > 1 else 0.0
        return cls(sorted=s, n=len(s), std=std, edges=e, shares=_shares(s, e), rare=RareRegion.of(s))

    @classmethod
    def from_profile(cls, sorted_values, profile: Mapping[str, Any], n_rows: int | None = None) -> "NumericReference":
        """Build it from a baseline profile (``bin_edges``, ``bin_shares``, ``std``) and sorted values."""
        s = np.asarray(sorted_values, dtype=float)
        rows = profile.get("rows") if n_rows is None else n_rows
        n = int(round(float(rows) * (1 - float(profile.get("missing_rate") or 0.0)))) if rows else len(s)
        return cls(sorted=s, n=max(n, len(s)), std=float(profile.get("std") or 0.0),
                   edges=np.array([float(e) for e in profile["bin_edges"]]),
                   shares=np.asarray(profile["bin_shares"], dtype=float),
                   rare=RareRegion.from_dict(profile.get("rare")) or RareRegion.of(s))


@dataclass(frozen=True)
class CategoricalReference:
    """What a baseline keeps of one categorical feature: level shares, plus a pooled 'other'.

    Attributes
    ----------
    levels : tuple of str
        The reference's kept levels (the most frequent ones).
    shares : ndarray
        Share of each level, then of the pooled other levels (last entry).
    n : int
        Number of non-missing reference values.
    """

    levels: tuple[str, ...]
    shares: np.ndarray
    n: int

    @property
    def pooled(self) -> bool:
        """True when some reference levels were pooled into 'other' (unseen levels cannot be told apart)."""
        return bool(self.shares[-1] > 0)

    @classmethod
    def from_values(cls, values, top_k: int = 50) -> "CategoricalReference":
        counts = level_counts(values)
        n = float(counts.sum())
        top = counts.iloc[:top_k]
        shares = np.append(top.to_numpy() / n, counts.iloc[top_k:].sum() / n) if n else np.zeros(len(top) + 1)
        return cls(levels=tuple(top.index), shares=shares, n=int(n))

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], n_rows: int | None = None) -> "CategoricalReference":
        levels = tuple(profile["frequencies"])
        shares = np.array([profile["frequencies"][k] for k in levels] + [profile["other_share"]], dtype=float)
        rows = profile.get("rows") if n_rows is None else n_rows
        n = int(round(float(rows or 0) * (1 - float(profile.get("missing_rate") or 0.0))))
        return cls(levels=levels, shares=shares, n=n)

    def current_counts(self, values) -> np.ndarray:
        """Counts of the current values per reference level, then of every other level."""
        return self.counts_from(level_counts(values))

    def counts_from(self, counts: pd.Series) -> np.ndarray:
        """:meth:`current_counts` from the values' :func:`level_counts` (counted once, used twice)."""
        known = counts.reindex(list(self.levels), fill_value=0.0).to_numpy(dtype=float)
        return np.append(known, counts.sum() - known.sum())

    def codes(self, values) -> np.ndarray:
        """Each value's index in ``levels`` (``len(levels)`` for any other level, -1 when missing).

        With codes computed once, the counts of any subset of rows are one
        ``np.bincount`` (:meth:`counts_of`): how chunks are counted fast.
        """
        s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
        cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
        index = {k: i for i, k in enumerate(self.levels)}
        lut = np.array([index.get(str(c), len(self.levels)) for c in cat.cat.categories], dtype=np.int64)
        raw = cat.cat.codes.to_numpy()
        return np.where(raw >= 0, lut[np.maximum(raw, 0)] if len(lut) else 0, -1)

    def counts_of(self, codes: np.ndarray) -> np.ndarray:
        """Counts per level (then 'other') of values given by :meth:`codes`."""
        c = np.asarray(codes)
        return np.bincount(c[c >= 0], minlength=len(self.levels) + 1).astype(float)


NUMERIC_BASELINE_STATS = ("ks", "wasserstein", "tail", "psi", "jensen_shannon")
CATEGORICAL_BASELINE_STATS = ("chi2", "tvd", "psi", "jensen_shannon", "unseen")


def numeric_against(ref: NumericReference, current, names: Iterable[str] = NUMERIC_BASELINE_STATS, *,
                    assume_sorted: bool = False, p_values: bool = True) -> dict[str, Stat]:
    """Numeric statistics of current values against a baseline's reference, from one sort.

    KS is exact against the stored values: when they are every reference value
    and both samples have at most 10,000 values, scipy's exact p-value; else
    the asymptotic p-value at the true sizes (``p_values=False`` skips them:
    bands need only the distances). Wasserstein is divided by the reference's
    sd; PSI and JS use the baseline's bins.
    """
    names = list(names)
    c = _finite(current)
    if len(c) == 0 or len(ref.sorted) == 0:
        return {n: _NAN for n in names}
    if not assume_sorted and any(n in ("ks", "wasserstein", "tail", "anderson") for n in names):
        c = np.sort(c)  # sorted queries keep the binary searches cache-friendly: faster than binning
        assume_sorted = True
    out: dict[str, Stat] = {}
    cur_shares = None
    for name in names:
        if name == "ks":
            if p_values and ref.exact and max(ref.n, len(c)) <= KS_EXACT_MAX:
                out[name] = replace(ks(ref.sorted, c), where=_ks_sorted_at(ref.sorted, c)[1])
                continue
            d, where = _ks_sorted_at(ref.sorted, c)
            out[name] = Stat(value=d, p_value=ks_pvalue(d, ref.n, len(c)) if p_values else None, where=where)
        elif name == "wasserstein":
            raw = _wasserstein_sorted(ref.sorted, c)
            out[name] = Stat(value=raw / ref.std if ref.std > 0 else raw, statistic=raw)
        elif name in ("psi", "jensen_shannon"):
            if cur_shares is None:
                cur_shares = _shares(c, ref.edges, assume_sorted=assume_sorted)
            value = psi_shares(ref.shares, cur_shares) if name == "psi" else js_shares(ref.shares, cur_shares)
            out[name] = Stat(value=value)
        elif name == "tail":
            out[name] = _tail(ref, c, p_values)
        elif name == "anderson":
            out[name] = anderson(ref.sorted, c)
        else:
            raise UsageError(f"statistic {name!r} has no baseline form for numeric features; "
                             f"use one of {', '.join(NUMERIC_BASELINE_STATS + ('anderson',))}")
    return out


def _tail(ref: NumericReference, c: np.ndarray, p_value: bool = True) -> Stat:
    """Share of sorted values ``c`` where the reference almost never was, minus the reference's share there.

    The one-sided binomial p-value asks whether that many values could land in
    the region by chance at the reference's share.
    """
    region = ref.rare
    if region is None:
        return _NAN
    below, above, inside = tail_shares(region, c)
    share = below + above + inside
    p = None
    if p_value:
        k = int(round(share * len(c)))
        p = float(sps.binom.sf(k - 1, len(c), max(region.share, 1.0 / max(ref.n, 1)))) if k > 0 else 1.0
    detail = {"below": below, "above": above, "inside": inside, "ref_below": region.below,
              "ref_above": region.above, "ref_inside": region.inside, "low": region.low, "high": region.high}
    return Stat(value=share - region.share, p_value=p, statistic=share, detail=detail)


def tail(reference, current) -> Stat:
    """Share of ``current`` where ``reference`` almost never was (beyond its 0.5 % / 99.5 % quantiles or in
    its empty stretches), minus the reference's own share there.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=20_000)
    >>> round(tail(ref, np.r_[rng.normal(size=8_500), np.full(1_500, 4.0)]).value, 2)
    0.15
    """
    r = np.sort(_finite(reference))
    c = np.sort(_finite(current))
    if len(r) < 20 or len(c) == 0:
        return _NAN
    return _tail(NumericReference.from_values(r), c)


def categorical_against(ref: CategoricalReference, current, names: Iterable[str] = CATEGORICAL_BASELINE_STATS,
                        *, counts: np.ndarray | None = None) -> dict[str, Stat]:
    """Categorical statistics of current values against a baseline's level shares.

    The table is the reference's kept levels plus 'other'; the chi-square test
    uses the reference shares times its count as the reference row (exact
    counts when no level was pooled).
    """
    names = list(names)
    cur_counts = ref.current_counts(current) if counts is None else np.asarray(counts, dtype=float)
    total = cur_counts.sum()
    if total == 0 or ref.shares.sum() == 0:
        return {n: _NAN for n in names}
    cur = cur_counts / total
    out: dict[str, Stat] = {}
    for name in names:
        if name == "unseen":
            # With pooled levels an unseen one cannot be told from a pooled one.
            out[name] = _NAN if ref.pooled else Stat(value=float(cur[-1]))
        elif name == "chi2":
            out[name] = chi2_counts(ref.shares * ref.n, cur_counts)
        elif name == "tvd":
            out[name] = Stat(value=float(0.5 * np.abs(ref.shares - cur).sum()))
        elif name == "psi":
            out[name] = Stat(value=psi_shares(ref.shares, cur))
        elif name == "jensen_shannon":
            out[name] = Stat(value=js_shares(ref.shares, cur))
        else:
            raise UsageError(f"statistic {name!r} has no baseline form for categorical features; "
                             f"use one of {', '.join(CATEGORICAL_BASELINE_STATS)}")
    return out


def _numeric_baseline(name: str) -> Callable[..., Stat]:
    def run(sorted_ref, current, profile: Mapping[str, Any], n_ref: int) -> Stat:
        ref = NumericReference.from_profile(sorted_ref, profile, n_ref)
        return numeric_against(ref, current, [name])[name]

    return run


def _categorical_baseline(name: str) -> Callable[..., Stat]:
    def run(_sorted, current, profile: Mapping[str, Any], n_ref: int) -> Stat:
        ref = CategoricalReference.from_profile(profile, n_ref)
        return categorical_against(ref, current, [name])[name]

    return run


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class StatInfo:
    """A registered statistic.

    Attributes
    ----------
    name, display : str
        Machine name (config, checks) and display name (reports).
    kinds : tuple of str
        What it applies to: ``numeric``/``categorical`` features, ``quality``
        (missing rates), ``label`` (targets), ``multivariate`` (joint drift).
    func : callable
        ``func(reference, current) -> Stat`` on raw samples (frames for
        multivariate ones, see :mod:`mlmon_nb.drift`).
    warn, alert : float
        Practical floors: the smallest effect worth a warning / an alert
        whatever the sample size (overridable in mlmon.yaml ``thresholds``).
    has_test : bool
        Whether its ``Stat`` carries a p-value of its own; otherwise the
        decision pairs it with the kind's test (KS or chi-square).
    higher_is_drift : bool
        Direction: True when larger values mean more drift.
    unit : str
        How to read the value.
    short : str
        A short display name for narrow table columns.
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
    unit: str = ""
    short: str = ""

    def __post_init__(self) -> None:
        if not self.short:
            object.__setattr__(self, "short", self.display)


def _not_pairwise(name: str) -> Callable[..., Stat]:
    def run(*_args, **_kwargs) -> Stat:
        raise UsageError(f"statistic {name!r} is computed by mlmon_nb.drift from a baseline and a window, "
                         f"not from two samples")

    return run


def _entries() -> list[StatInfo]:
    num, cat = ("numeric",), ("categorical",)
    return [
        StatInfo("ks", "Kolmogorov-Smirnov D", num, ks, 0.05, 0.1, True, _numeric_baseline("ks"),
                 unit="largest gap between the two ECDFs (share of rows)", short="KS D"),
        StatInfo("wasserstein", "Wasserstein (÷ ref. sd)", num, wasserstein, 0.1, 0.2, False,
                 _numeric_baseline("wasserstein"), unit="reference standard deviations", short="Wasserstein/sd"),
        StatInfo("tail", "Share where the reference never was", num, tail, 0.02, 0.05, True,
                 _numeric_baseline("tail"), unit="window share beyond the reference's 0.5 %/99.5 % quantiles or in "
                 "its empty stretches, minus the reference's share there", short="rare-region share"),
        StatInfo("psi", "Population stability index", num + cat, psi, 0.1, 0.25, False, None,
                 unit="PSI on the baseline's decile bins or categories", short="PSI"),
        StatInfo("jensen_shannon", "Jensen-Shannon distance", num + cat, jensen_shannon, 0.03, 0.05, False,
                 None, unit="0 = same, 1 = disjoint (base 2)", short="JS distance"),
        StatInfo("anderson", "Anderson-Darling k-sample", num, anderson, 2.0, 4.0, True, None,
                 unit="normalised test statistic (grows with sample size)", short="AD k-sample"),
        StatInfo("chi2", "Chi-square (Cramér's V)", cat, chi2, 0.05, 0.1, True, _categorical_baseline("chi2"),
                 unit="Cramér's V of the reference-vs-window table", short="Cramér's V"),
        StatInfo("tvd", "Total variation distance", cat, tvd, 0.05, 0.1, False, _categorical_baseline("tvd"),
                 unit="share of rows that would have to change category", short="TVD"),
        StatInfo("unseen", "Share of unseen categories", cat, unseen, 0.01, 0.05, False,
                 _categorical_baseline("unseen"), unit="share of window rows", short="unseen share"),
        StatInfo("missing_rate", "Missing-rate change", ("quality",), _rate_change_of_values, 0.01, 0.05, True,
                 unit="window missing rate minus reference missing rate"),
        StatInfo("positive_rate", "Positive rate (relative change)", ("label",), _not_pairwise("positive_rate"),
                 0.1, 0.25, True, unit="|window rate - reference rate| / reference rate"),
        StatInfo("class_shares", "Class shares (TVD)", ("label",), _not_pairwise("class_shares"), 0.05, 0.1, True,
                 unit="total variation distance of class shares"),
        StatInfo("domain_classifier", "Domain classifier ROC AUC", ("multivariate",),
                 _not_pairwise("domain_classifier"), 0.55, 0.6, True,
                 unit="cross-validated ROC AUC of reference vs window (0.5 = indistinguishable)"),
        StatInfo("pca_reconstruction", "PCA reconstruction error", ("multivariate",),
                 _not_pairwise("pca_reconstruction"), 1.05, 1.1, True,
                 unit="mean reconstruction error ÷ the baseline's (1 = as in the reference)"),
    ]


def _rate_change_of_values(reference, current) -> Stat:
    """Missing-rate change of two samples (missing = NaN/None), Fisher's exact test."""
    r, c = pd.Series(reference), pd.Series(current)
    return rate_change(float(r.isna().sum()), len(r), float(c.isna().sum()), len(c))


REGISTRY: dict[str, StatInfo] = {s.name: s for s in _entries()}

#: Same-named statistics computed differently per kind (PSI / JS on bins or on categories).
KIND_FUNCS: dict[tuple[str, str], Callable[..., Stat]] = {
    ("psi", "categorical"): psi_categorical,
    ("jensen_shannon", "categorical"): js_categorical,
}
#: Statistics with a baseline form, per feature kind. The baseline computes each of them on
#: every reference chunk, which is where their bands come from.
BASELINE_FUNCS: dict[tuple[str, str], Callable[..., Stat]] = {
    **{(n, "numeric"): _numeric_baseline(n) for n in NUMERIC_BASELINE_STATS},
    **{(n, "categorical"): _categorical_baseline(n) for n in CATEGORICAL_BASELINE_STATS},
}


def compute(name: str, kind: str, reference, current) -> Stat:
    """Compute a registered statistic on raw samples."""
    get(name, kind)
    return KIND_FUNCS.get((name, kind), REGISTRY[name].func)(reference, current)


def names(kind: str | None = None) -> list[str]:
    """Registered statistic names (accepting ``kind`` when given), sorted."""
    return sorted(n for n, i in REGISTRY.items() if kind is None or kind in i.kinds)


def get(name: str, kind: str | None = None) -> StatInfo:
    """Look a statistic up by name, checking it accepts a kind.

    Raises
    ------
    UsageError
        For an unknown name (listing the registry) or a kind it does not accept.

    Examples
    --------
    >>> get("ks").display
    'Kolmogorov-Smirnov D'
    """
    if name not in REGISTRY:
        raise UsageError(f"unknown statistic {name!r}; known: {', '.join(names())}")
    info = REGISTRY[name]
    if kind is not None and kind not in info.kinds:
        raise UsageError(f"statistic {name!r} does not apply to {kind} subjects; use one of {', '.join(names(kind))}")
    return info


def registry_df() -> pd.DataFrame:
    """The registry as a table: name, display name, kinds, direction, floors, test, unit."""
    return pd.DataFrame([{
        "name": i.name, "display": i.display, "kinds": ", ".join(i.kinds),
        "direction": "higher = more drift" if i.higher_is_drift else "lower = more drift",
        "warn floor": i.warn, "alert floor": i.alert, "own test": "yes" if i.has_test else "no", "unit": i.unit,
    } for i in REGISTRY.values()])


def ks_gap(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> tuple[float, tuple[float, float, float]]:
    """KS D of two sorted samples and where it is: ``(D, (x, reference ECDF, current ECDF))``.

    Examples
    --------
    >>> ks_gap(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    (1.0, (3.0, 1.0, 0.0))
    """
    r, c = _finite(reference_sorted), _finite(current_sorted)
    return _ks_sorted_at(r, c) if len(r) and len(c) else (float("nan"), (float("nan"),) * 3)
