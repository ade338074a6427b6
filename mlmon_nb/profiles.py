"""Profiles of a column: the summary a baseline keeps of each feature.

Numeric: rows, missing rate, non-finite count, moments, 101 quantiles,
quantile histogram edges and shares, distinct count. Categorical: the
``TOP_K`` most frequent levels' shares and the share of the rest ("other").
Pure functions of a column, used by the baseline fit and by in-memory
comparisons.

Non-finite numbers
------------------
A number that is not finite (``inf``, ``-inf``) is never part of a
statistic: profiles, drift statistics and latency percentiles leave it out.
It is counted instead, and every area that meets one reports it as a
``data_quality`` check ``<column>:non_finite`` by one rule,
:func:`non_finite_status`: alert from 1 % of the column's values, warn from
0.1 %, and at least warn whenever the baseline had none. (In a pandas frame
NaN means a missing value and is counted as missing, not here; in SQL over
the logs a NaN is a value apart from NULL and counts as non-finite.)
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .config import FeaturesConfig
from .rules import decide

SORTED_CAP = 200_000
TOP_K = 50
HIST_BINS = 10
CHUNK_REF_POINTS = 20_000
"""Steps of the reference quantile function chunks are compared with (ECDF within 1/20,000)."""


def finite_or_none(v: Any) -> Any:
    """A plain Python number for JSON: numpy scalars unwrapped, NaN and infinities None."""
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


_num = finite_or_none

#: (warn, alert) shares of a column's values that are non-finite (see the module's docstring).
NON_FINITE_FLOORS = (0.001, 0.01)


def count_non_finite(values) -> int:
    """How many values are ``inf`` or ``-inf`` (missing values - NaN, None - are not counted).

    Examples
    --------
    >>> count_non_finite([1.0, float("inf"), None, float("-inf"), float("nan")])
    2
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return int(np.isinf(v).sum())


def non_finite_limits(baseline_count: int | None) -> tuple[float, float]:
    """(warn, alert) edges of the non-finite share: any share warns when the baseline had none (or
    did not count them)."""
    return (NON_FINITE_FLOORS[0] if baseline_count else 0.0), NON_FINITE_FLOORS[1]


def non_finite_status(count: int, rows: int, baseline_count: int | None) -> str:
    """Status of ``count`` non-finite values among ``rows`` values of a column (the one rule of every area).

    Parameters
    ----------
    count : int
        Non-finite values in the window.
    rows : int
        Values of the column in the window (missing ones left out).
    baseline_count : int or None
        Non-finite values the baseline counted (None: a baseline that did not count them, taken as none).

    Examples
    --------
    >>> non_finite_status(0, 1000, 0), non_finite_status(1, 1000, 0), non_finite_status(1, 10_000, 3)
    ('ok', 'warn', 'ok')
    >>> non_finite_status(10, 1000, 3)
    'alert'
    """
    if count <= 0 or rows <= 0:
        return "ok"
    return decide(count / rows, *non_finite_limits(baseline_count))


def non_finite_text(column: str, count: int, rows: int, baseline_count: int | None, left_out_of: str) -> str:
    """The finding sentence of a column's non-finite values: the column, the count and the share.

    Examples
    --------
    >>> non_finite_text("latency_ms", 1200, 10_000, 0, "the latency percentiles")
    'latency_ms: 1,200 non-finite values of 10,000 (12.0%), left out of the latency percentiles; the baseline had none'
    >>> non_finite_text("price", 1, 4000, 7, "its drift statistics")
    'price: 1 non-finite value of 4,000 (0.03%), left out of its drift statistics; the baseline had 7'
    """
    share = count / rows if rows else 0.0
    pct = f"{share:.1%}" if share >= 0.01 else f"{share:.2%}"
    values = "value" if count == 1 else "values"
    before = "the baseline had none" if not baseline_count else f"the baseline had {baseline_count:,}"
    return f"{column}: {count:,} non-finite {values} of {rows:,} ({pct}), left out of {left_out_of}; {before}"


def sorted_sample(values: np.ndarray, cap: int = SORTED_CAP) -> np.ndarray:
    """Sorted finite values; above ``cap``, an evenly spaced quantile subsample of them."""
    v = np.sort(values[np.isfinite(values)])
    if len(v) <= cap:
        return v
    idx = np.round(np.linspace(0, len(v) - 1, cap)).astype(int)
    return v[idx]


def bin_edges(values: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """Quantile bin edges of the reference (unique), with open outer bins (-inf, +inf)."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return np.array([-np.inf, np.inf])
    inner = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.concatenate([[-np.inf], inner, [np.inf]])


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of finite values per bin, bins closed on the right: (e[i], e[i+1]]."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return np.zeros(len(edges) - 1)
    idx = np.searchsorted(edges, v, side="left") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1) / len(v)


def numeric_profile(s: pd.Series) -> dict[str, Any]:
    v = s.to_numpy(dtype=float)
    fin = np.sort(v[np.isfinite(v)])  # sorted once: quantiles, edges and distinct values reuse it
    edges = bin_edges(fin)
    prof = {
        "kind": "numeric", "rows": int(len(v)), "missing_rate": float(np.mean(~np.isfinite(v))) if len(v) else 0.0,
        "non_finite": int(np.isinf(v).sum()),
        "mean": _num(fin.mean()) if len(fin) else None, "std": _num(fin.std(ddof=1)) if len(fin) > 1 else None,
        "min": _num(fin.min()) if len(fin) else None, "max": _num(fin.max()) if len(fin) else None,
        "quantiles": [_num(q) for q in np.quantile(fin, np.linspace(0, 1, 101))] if len(fin) else [],
        "bin_edges": [_num(e) if np.isfinite(e) else ("-inf" if e < 0 else "inf") for e in edges],
        "bin_shares": [float(x) for x in bin_shares(fin, edges)],
        "distinct": _distinct(fin),
        "constant": bool(len(fin) > 0 and fin.min() == fin.max()),
    }
    if len(fin) == 0:
        prof["note"] = "all values missing"
    elif prof["constant"]:
        prof["note"] = "constant in the reference"
    return prof


def _distinct(sorted_values: np.ndarray) -> int:
    """Number of distinct values of a sorted array (no hash table: cheap for millions of rows)."""
    if len(sorted_values) == 0:
        return 0
    v = sorted_values
    return int(1 + np.count_nonzero(v[1:] != v[:-1]))


def even_subsample(sorted_values: np.ndarray, points: int) -> np.ndarray:
    """Evenly spaced order statistics of a sorted array (its quantile function at ``points`` steps)."""
    if len(sorted_values) <= points:
        return sorted_values
    return sorted_values[np.round(np.linspace(0, len(sorted_values) - 1, points)).astype(int)]


def profile_features(frame: pd.DataFrame, features: FeaturesConfig
                     ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Profiles of every feature and the sorted values of the numeric ones."""
    profiles: dict[str, Any] = {}
    sorted_values: dict[str, np.ndarray] = {}
    for name in features.numeric:
        profiles[name] = numeric_profile(frame[name])
        sorted_values[name] = sorted_sample(frame[name].to_numpy(dtype=float))
    for name in features.categorical:
        profiles[name] = categorical_profile(frame[name])
    return profiles, sorted_values


def edges_of(profile: Mapping[str, Any]) -> np.ndarray:
    """Bin edges of a numeric profile as floats."""
    return np.array([float(e) for e in profile["bin_edges"]])


def categorical_profile(s: pd.Series, top_k: int = TOP_K) -> dict[str, Any]:
    counts = s.astype(object).dropna().astype(str).value_counts()
    n = int(len(s))
    n_valid = int(counts.sum())
    top = counts.iloc[:top_k]
    other = int(counts.iloc[top_k:].sum())
    prof = {
        "kind": "categorical", "rows": n, "missing_rate": float(1 - n_valid / n) if n else 0.0,
        "cardinality": int(len(counts)),
        "frequencies": {str(k): float(v / n_valid) for k, v in top.items()} if n_valid else {},
        "other_share": float(other / n_valid) if n_valid else 0.0,
        "top_k": top_k,
    }
    if len(counts) > top_k:
        prof["note"] = f"{len(counts):,} levels: top {top_k} kept, the rest pooled as 'other'"
    if n_valid == 0:
        prof["note"] = "all values missing"
    return prof


def category_shares(s: pd.Series, profile: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(reference shares, current shares, levels) over the profile's levels plus 'other'."""
    levels = list(profile["frequencies"])
    ref = np.array([profile["frequencies"][k] for k in levels] + [profile["other_share"]])
    counts = s.astype(object).dropna().astype(str).value_counts()
    total = counts.sum()
    cur_known = np.array([counts.get(k, 0) for k in levels], dtype=float)
    cur = np.append(cur_known, total - cur_known.sum()) / total if total else np.zeros(len(levels) + 1)
    return ref, cur, levels + ["(other)"]
