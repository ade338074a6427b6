"""Profiles of a column: the summary a baseline keeps of each feature.

Numeric: rows, missing rate, moments, 101 quantiles, quantile histogram edges
and shares, distinct count. Categorical: the ``TOP_K`` most frequent levels'
shares and the share of the rest ("other"). Pure functions of a column, used by
the baseline fit and by in-memory comparisons.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .config import FeaturesConfig

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
