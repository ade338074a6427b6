"""A feature's drift in its own units: reference and window quantiles, or the level shares that moved most.

Distances (KS, Jensen-Shannon) say *that* a feature moved; these figures say
*how*, in what a product team reads first: "price: median 34.7 → 45.1".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import stats

QUANTILES = (0.1, 0.5, 0.9)
"""p10, median and p90."""
TOP_LEVELS = 3
"""Level shares shown per categorical feature: the ones that moved most."""


def numeric_units(ref: stats.NumericReference, current_sorted: np.ndarray) -> dict[str, Any]:
    """A numeric feature in its own units, ``{"p10": (ref, window), "median": (...), "p90": (...)}``,
    from the window's finite values, sorted (as the statistics sorted them: a million values are not
    sorted or partitioned again). Empty when either side has no values.

    Examples
    --------
    >>> ref = stats.NumericReference.from_values(np.arange(101.0))
    >>> numeric_units(ref, np.arange(101.0) + 10)["median"]
    (50.0, 60.0)
    """
    r, c = ref.sorted, current_sorted
    if len(r) == 0 or len(c) == 0:
        return {}
    rq, cq = sorted_quantiles(r, QUANTILES), sorted_quantiles(c, QUANTILES)
    return {name: (float(a), float(b)) for name, a, b in zip(("p10", "median", "p90"), rq, cq)}


def sorted_quantiles(s: np.ndarray, qs) -> np.ndarray:
    """``np.quantile(s, qs)`` (its default, linear method) of an already sorted array, without a partition.

    Examples
    --------
    >>> sorted_quantiles(np.array([1.0, 2.0, 4.0, 8.0]), (0.0, 0.5, 0.9)).tolist() == np.quantile(
    ...     [1.0, 2.0, 4.0, 8.0], (0.0, 0.5, 0.9)).tolist()
    True
    """
    pos = np.asarray(qs, dtype=float) * (len(s) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def categorical_units(ref: stats.CategoricalReference, counts_by_level: pd.Series) -> dict[str, Any]:
    """A categorical feature in its own units, ``{"levels": [(level, ref share, window share), ...]}``
    with the largest share changes first, from the window's :func:`~mlmon_nb.stats.level_counts`.
    Empty when the window has no values."""
    counts = ref.counts_from(counts_by_level)
    total = counts.sum()
    if total == 0:
        return {}
    known = {str(level) for level in ref.levels}
    unseen = counts_by_level[~counts_by_level.index.isin(known)]  # most frequent first, as level_counts sorts
    # New levels by name, unless rare reference levels were pooled (then "other" mixes old and new).
    other = f"new: {', '.join(unseen.index[:2])}" if len(unseen) and not ref.pooled else "(other levels)"
    names = [*ref.levels, other]
    moved = sorted(zip(names, ref.shares, counts / total), key=lambda t: -abs(t[2] - t[1]))
    return {"levels": [(str(k), float(a), float(b)) for k, a, b in moved[:TOP_LEVELS] if a > 0 or b > 0]}


def number(x: float) -> str:
    """A figure in three significant digits (four from 1,000), thousands separated (``34.7``, ``0.0312``).

    Examples
    --------
    >>> number(34.6912), number(1249.6), number(0.031234), number(82989.624)
    ('34.7', '1,250', '0.0312', '82,990')
    """
    if not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    magnitude = int(np.floor(np.log10(abs(x))))
    digits = max(0, 2 - magnitude)
    rounded = round(x, digits) if digits else float(f"{x:.{3 if magnitude < 3 else 4}g}")
    text = f"{rounded:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def sentence(feature: str, kind: str, units: dict[str, Any], tail: dict[str, float] | None = None,
             method: str | None = None) -> str:
    """How a feature moved, in its units: ``price: median 34.7 → 45.1``; for a decision by the tail
    statistic, where the rows went: ``price: 12 % of rows above 28.0, where the reference had 0.4 %``.

    Examples
    --------
    >>> sentence("price", "numeric", {"median": (34.69, 45.09)})
    'price: median 34.7 → 45.1'
    >>> sentence("device", "categorical", {"levels": [("mobile", 0.5, 0.7)]})
    'device: mobile 50.0% → 70.0%'
    """
    if method == "tail" and tail:
        sides = [("above", "above", tail["high"]), ("below", "below", tail["low"])]
        side, word, edge = max(sides, key=lambda s: tail[s[0]] - tail[f"ref_{s[0]}"])
        if tail["inside"] - tail["ref_inside"] > tail[side] - tail[f"ref_{side}"]:
            return (f"{feature}: {tail['inside']:.1%} of rows where the reference was nearly absent "
                    f"(it had {tail['ref_inside']:.1%} there)")
        return (f"{feature}: {tail[side]:.1%} of rows {word} {number(edge)}, where the reference had "
                f"{tail[f'ref_{side}']:.1%}")
    if kind == "numeric" and "median" in units:
        (r50, c50) = units["median"]
        (r10, c10), (r90, c90) = units.get("p10", (r50, c50)), units.get("p90", (r50, c50))
        spread_moved = abs((c90 - c10) - (r90 - r10)) > abs(c50 - r50)
        if method == "wasserstein" and spread_moved:
            return f"{feature}: p10–p90 {number(r10)}–{number(r90)} → {number(c10)}–{number(c90)}"
        return f"{feature}: median {number(r50)} → {number(c50)}"
    if kind == "categorical" and units.get("levels"):
        level, a, b = units["levels"][0]
        return f"{feature}: {level} {a:.1%} → {b:.1%}"
    return feature


def units_text(kind: str, units: dict[str, Any]) -> str:
    """Reference → window in the feature's units, for a table cell.

    Examples
    --------
    >>> units_text("numeric", {"p10": (1.0, 2.0), "median": (5.0, 6.0), "p90": (9.0, 12.0)})
    'median 5 → 6; p10–p90 1–9 → 2–12'
    >>> units_text("categorical", {"levels": [("a", 0.5, 0.7), ("b", 0.5, 0.3)]})
    'a 50.0% → 70.0%; b 50.0% → 30.0%'
    """
    if kind == "numeric" and "median" in units:
        (r10, c10), (r50, c50), (r90, c90) = units["p10"], units["median"], units["p90"]
        return (f"median {number(r50)} → {number(c50)}; p10–p90 {number(r10)}–{number(r90)} → "
                f"{number(c10)}–{number(c90)}")
    if kind == "categorical" and units.get("levels"):
        return "; ".join(f"{k} {a:.1%} → {b:.1%}" for k, a, b in units["levels"][:2])
    return ""
