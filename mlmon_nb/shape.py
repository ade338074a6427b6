"""Where the reference almost never was: its extreme tails and empty stretches, for the tail statistic.

A distance such as KS weighs every part of a distribution alike: a new mode
in 15 % of rows at a value the reference rarely reaches moves KS by at most
0.15, which a volatile feature's band may well allow. The *rare region* of a
numeric reference is where it almost never was:

* below its 0.5 % quantile and above its 99.5 % quantile (:data:`TAIL_Q`);
* inside, any of :data:`GAP_BINS` equal-width bins between those quantiles
  holding less than :data:`GAP_SHARE` of the reference (a gap between modes).

The tail statistic (``tail`` in :mod:`mlmon_nb.stats`) is the share of a
sample's values in that region minus the reference's share there: about 0 for
a sample like the reference, the share of "never seen" values otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

EPS = 1e-4
"""Floor of bin shares in PSI (empty bins would make it infinite)."""
TAIL_Q = 0.005
"""Each tail of the rare region holds this share of the reference."""
GAP_BINS = 50
"""Equal-width bins between the tail quantiles searched for gaps."""
GAP_SHARE = 0.0005
"""A bin holding less than this share of the reference is a gap (a fortieth of an even bin's 2 %)."""
MIN_GAP_VALUES = 2000
"""Fewest reference values gaps are looked for in (fewer cannot tell a gap from chance)."""


@dataclass(frozen=True)
class RareRegion:
    """Where a numeric reference almost never was, and the reference's share there.

    Attributes
    ----------
    low, high : float
        The reference's 0.5 % and 99.5 % quantiles: values strictly beyond are rare.
    gaps : tuple of (float, float)
        Intervals ``(a, b]`` between them where the reference is nearly absent.
    below, above, inside : float
        The reference's share below ``low``, above ``high`` and in the gaps.
    """

    low: float
    high: float
    gaps: tuple[tuple[float, float], ...] = ()
    below: float = 0.0
    above: float = 0.0
    inside: float = 0.0

    @property
    def share(self) -> float:
        """The reference's share in the whole region."""
        return self.below + self.above + self.inside

    @classmethod
    def of(cls, sorted_values: np.ndarray) -> "RareRegion | None":
        """The region of sorted finite reference values (None for fewer than 20 or a constant)."""
        s = np.asarray(sorted_values, dtype=float)
        if len(s) < 20 or s[0] == s[-1]:
            return None
        low, high = (float(q) for q in np.quantile(s, [TAIL_Q, 1 - TAIL_Q]))
        n = len(s)
        below = np.searchsorted(s, low, side="left") / n
        above = (n - np.searchsorted(s, high, side="right")) / n
        gaps: list[tuple[float, float]] = []
        inside = 0.0
        if high > low and n >= MIN_GAP_VALUES:
            edges = np.linspace(low, high, GAP_BINS + 1)
            counts = np.diff(np.searchsorted(s, edges, side="right"))
            for i in np.flatnonzero(counts / n < GAP_SHARE):
                a, b = float(edges[i]), float(edges[i + 1])
                inside += counts[i] / n
                if gaps and gaps[-1][1] == a:
                    gaps[-1] = (gaps[-1][0], b)
                else:
                    gaps.append((a, b))
        return cls(low=low, high=high, gaps=tuple(gaps), below=float(below), above=float(above), inside=float(inside))

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "gaps": [list(g) for g in self.gaps], "below": self.below,
                "above": self.above, "inside": self.inside}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "RareRegion | None":
        if not d or d.get("low") is None or d.get("high") is None:
            return None
        return cls(low=float(d["low"]), high=float(d["high"]), gaps=tuple((float(a), float(b)) for a, b in d["gaps"]),
                   below=float(d.get("below") or 0.0), above=float(d.get("above") or 0.0),
                   inside=float(d.get("inside") or 0.0))


def tail_shares(region: RareRegion, sorted_values: np.ndarray) -> tuple[float, float, float]:
    """(below, above, inside the gaps): shares of sorted finite values in each part of the region.

    Examples
    --------
    >>> r = RareRegion(low=0.0, high=10.0, gaps=((4.0, 6.0),))
    >>> tail_shares(r, np.array([-1.0, 1.0, 3.0, 5.0, 5.5, 9.0, 11.0, 12.0]))
    (0.125, 0.25, 0.25)
    """
    c = np.asarray(sorted_values, dtype=float)
    n = len(c)
    if n == 0:
        return (math.nan,) * 3
    below = np.searchsorted(c, region.low, side="left") / n
    above = (n - np.searchsorted(c, region.high, side="right")) / n
    inside = sum(int(np.searchsorted(c, b, side="right") - np.searchsorted(c, a, side="right"))
                 for a, b in region.gaps) / n
    return float(below), float(above), float(inside)


# --------------------------------------------------------------------------- binned shares

def bin_shares(values: np.ndarray, edges: np.ndarray, *, assume_sorted: bool = False) -> np.ndarray:
    """Share of values per bin, bins closed on the right: (e[i], e[i+1]] (the baseline's rule; the
    first bin takes everything up to e[1], the last everything above e[-2]).

    ``assume_sorted``: the values are sorted, so each bin's count is a difference of two binary
    searches of the edges (a search per edge, not per value).

    Examples
    --------
    >>> v, e = np.array([0.0, 1.0, 1.5, 2.0, 9.0]), np.array([0.0, 1.0, 2.0, 3.0])
    >>> bin_shares(v, e).tolist() == bin_shares(v, e, assume_sorted=True).tolist() == [0.4, 0.4, 0.2]
    True
    """
    n = len(values)
    if assume_sorted:
        upto = np.searchsorted(values, edges[1:-1], side="right")
        return np.diff(np.concatenate(([0], upto, [n]))) / max(n, 1)
    idx = np.clip(np.searchsorted(edges, values, side="left") - 1, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1) / max(n, 1)


def psi_shares(ref_shares, cur_shares) -> float:
    """Population stability index of two share vectors (shares floored at 1e-4).

    Examples
    --------
    >>> round(psi_shares([0.5, 0.5], [0.25, 0.75]), 6)
    0.274653
    """
    r = np.maximum(np.asarray(ref_shares, dtype=float), EPS)
    c = np.maximum(np.asarray(cur_shares, dtype=float), EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def js_shares(ref_shares, cur_shares) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two share vectors (scipy)."""
    r = np.asarray(ref_shares, dtype=float)
    c = np.asarray(cur_shares, dtype=float)
    if r.sum() == 0 or c.sum() == 0:
        return float("nan")
    from scipy.spatial import distance  # scipy.spatial only when a distance is computed (0.2 s to import)

    return float(distance.jensenshannon(r, c, base=2))
