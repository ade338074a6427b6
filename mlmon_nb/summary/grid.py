"""The fixed grid a numeric feature is counted on: derived from the baseline, the same for every window and engine.

A window's numeric values are never sorted. Each finite value ``v`` gets a
*cell*, a tuple of keys each non-decreasing in ``v``:

* ``bucket`` = ``FLOOR((t(v) - origin) / width)`` clipped to ``[first, last]``
  with ``t`` the identity or ``LN`` (for a positive, skewed reference; ``v <= 0``
  then falls in bucket ``first``): ``buckets`` equal-width buckets across the
  reference's q0.001..q0.999, as many again on each side (:data:`OUTER`), and
  two open ones beyond;
* ``bin``: the baseline's own bin (``(e_j, e_j+1]``, for PSI and JS);
* ``atom``: ``2 * (heavy atoms < v) + (v is a heavy atom)``, a heavy atom being
  a value holding at least :data:`ATOM_SHARE` ÷ buckets of the reference (so
  integer-valued and tied features get a cell of their own per heavy value).

Because every key grows with ``v``, the cells ordered by their keys are in
value order: cumulative counts over them are the ECDF at cell boundaries.
The ``region`` key (below / above the rare region, inside one of its gaps)
gives the tail statistic's counts exactly. Missing and non-finite values get
their own negative buckets (:data:`MISSING`, :data:`NAN`, :data:`POS_INF`,
:data:`NEG_INF`).

The reference side bins the baseline's sorted values with the same formula in
numpy (:meth:`Grid.cells_of`); IEEE double arithmetic makes it the same cell a
SQL engine gives (``LN`` may differ by an ulp between libraries: a value within
an ulp of an edge may land in the neighbouring bucket, which no bound notices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..shape import RareRegion
from ..stats import NumericReference

BUCKETS = 2000
"""Equal-width buckets across the reference's central range (KS bound about 0.0012 on normal data)."""
CENTRAL = (0.001, 0.999)
"""The reference quantiles the equal-width buckets span."""
ATOM_SHARE = 0.5
"""A value holding at least this many buckets' worth of the reference (share ≥ ATOM_SHARE / buckets) is an atom."""
MAX_ATOMS = 64
"""Heavy atoms at most (the heaviest), each with its own cell."""
OUTER = 1.0
"""Beyond the central range, buckets of the same width continue for this many central ranges on each side
(empty buckets cost nothing: only cells holding values are rows of the summary); what lies further is in the two
open end buckets."""
MISSING, NAN, POS_INF, NEG_INF = -(10**9) - 1, -(10**9) - 2, -(10**9) - 3, -(10**9) - 4
"""Bucket codes of values that are not finite numbers (below any bucket of a finite value)."""
FINITE = -(10**9)
"""Buckets of finite values are above this."""
REGION_NONE, REGION_BELOW, REGION_ABOVE, REGION_GAP = 0, 1, 2, 3
"""Region codes: where the reference almost never was (:class:`mlmon_nb.shape.RareRegion`)."""


@dataclass(frozen=True)
class Grid:
    """How one numeric feature's values are cut into cells (see the module's docstring).

    Attributes
    ----------
    origin, width : float
        Bucket ``k`` holds ``t(v)`` in ``[origin + k * width, origin + (k + 1) * width)``.
    buckets : int
        Equal-width buckets across the central range (:attr:`first` and :attr:`last` are the open end ones).
    log : bool
        ``t`` is ``LN`` (the reference is positive and the log grid holds it more evenly).
    edges : tuple of float
        The baseline's inner bin edges (bins closed on the right).
    atoms : tuple of float
        Heavy atoms, increasing.
    rare : RareRegion or None
        The tail statistic's region.
    """

    origin: float
    width: float
    buckets: int
    log: bool
    edges: tuple[float, ...]
    atoms: tuple[float, ...]
    rare: RareRegion | None

    @property
    def first(self) -> int:
        """The open bucket below every other."""
        return -int(round(OUTER * self.buckets)) - 1

    @property
    def last(self) -> int:
        """The open bucket above every other."""
        return self.buckets + int(round(OUTER * self.buckets))

    @property
    def n_bins(self) -> int:
        return len(self.edges) + 1

    @property
    def n_atom_keys(self) -> int:
        return 2 * len(self.atoms) + 1

    @classmethod
    def of(cls, ref: NumericReference, buckets: int = BUCKETS) -> "Grid":
        """The grid of a baseline's numeric reference (sorted values, bin edges, rare region)."""
        s = np.asarray(ref.sorted, dtype=float)
        edges = tuple(float(e) for e in np.asarray(ref.edges, dtype=float)[1:-1])
        if len(s) == 0:
            return cls(origin=0.0, width=1.0, buckets=buckets, log=False, edges=edges, atoms=(), rare=ref.rare)
        candidates = [_linear(s, buckets)]
        if s[0] > 0:
            candidates.append(_linear(np.log(s), buckets, log=True))
        best = min(candidates, key=lambda c: _heaviest_bucket(s, *c, buckets))
        return cls(origin=best[0], width=best[1], buckets=buckets, log=best[2], edges=edges,
                   atoms=_atoms(s, buckets), rare=ref.rare)

    # ------------------------------------------------------------------ numpy side
    def bucket_of(self, v: np.ndarray) -> np.ndarray:
        """Bucket of finite values (the SQL formula in numpy)."""
        v = np.asarray(v, dtype=float)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), -np.inf)
        else:
            t = v
        with np.errstate(over="ignore", invalid="ignore"):
            k = np.floor((t - self.origin) / self.width)
        k = np.nan_to_num(k, nan=self.first, posinf=self.last, neginf=self.first)
        return np.clip(k, self.first, self.last).astype(np.int64)

    def bin_of(self, v: np.ndarray) -> np.ndarray:
        """The baseline's bin of finite values (bins closed on the right, open outer ones)."""
        return np.searchsorted(np.asarray(self.edges, dtype=float), v, side="left").astype(np.int64)

    def atom_of(self, v: np.ndarray) -> np.ndarray:
        """``2 * (atoms < v) + (v is an atom)``."""
        a = np.asarray(self.atoms, dtype=float)
        below = np.searchsorted(a, v, side="left")
        at = np.searchsorted(a, v, side="right") - below
        return (2 * below + at).astype(np.int64)

    def region_of(self, v: np.ndarray) -> np.ndarray:
        """Region code of finite values."""
        out = np.full(len(v), REGION_NONE, dtype=np.int64)
        r = self.rare
        if r is None:
            return out
        for a, b in r.gaps:
            out[(v > a) & (v <= b)] = REGION_GAP
        out[v < r.low] = REGION_BELOW
        out[v > r.high] = REGION_ABOVE
        return out

    def cell_key(self, bucket, bin_, atom) -> np.ndarray:
        """One int64 per cell whose order is the value order (bucket, then bin, then atom key)."""
        b = np.asarray(bucket, dtype=np.int64) - self.first
        return (b * self.n_bins + np.asarray(bin_, dtype=np.int64)) * self.n_atom_keys + np.asarray(atom, dtype=np.int64)

    def cells_of(self, sorted_values: np.ndarray) -> "Cells":
        """Cells of sorted finite values (the reference side): contiguous runs of one key."""
        v = np.asarray(sorted_values, dtype=float)
        if len(v) == 0:
            return Cells.empty()
        key = self.cell_key(self.bucket_of(v), self.bin_of(v), self.atom_of(v))
        starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
        ends = np.r_[starts[1:], len(v)]
        csum = np.r_[0.0, np.cumsum(v)]
        return Cells(key=key[starts], n=(ends - starts).astype(float), s=csum[ends] - csum[starts],
                     lo=v[starts], hi=v[ends - 1])


@dataclass(frozen=True)
class Cells:
    """Counts, sums, minima and maxima of values per cell, ordered by key (= by value)."""

    key: np.ndarray
    n: np.ndarray
    s: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def empty(cls) -> "Cells":
        z = np.zeros(0)
        return cls(key=np.zeros(0, dtype=np.int64), n=z, s=z, lo=z, hi=z)

    @classmethod
    def combine(cls, key, n, s, lo, hi) -> "Cells":
        """Cells from unordered rows (one per cell and region or chunk): merged by key and ordered."""
        key = np.asarray(key, dtype=np.int64)
        if len(key) == 0:
            return cls.empty()
        u, inv = np.unique(key, return_inverse=True)
        m = len(u)
        cnt = np.bincount(inv, weights=np.asarray(n, dtype=float), minlength=m)
        tot = np.bincount(inv, weights=np.nan_to_num(np.asarray(s, dtype=float)), minlength=m)
        low = np.full(m, np.inf)
        high = np.full(m, -np.inf)
        np.minimum.at(low, inv, np.nan_to_num(np.asarray(lo, dtype=float), nan=np.inf))
        np.maximum.at(high, inv, np.nan_to_num(np.asarray(hi, dtype=float), nan=-np.inf))
        keep = cnt > 0
        return cls(key=u[keep], n=cnt[keep], s=tot[keep], lo=low[keep], hi=high[keep])

    @property
    def total(self) -> float:
        return float(self.n.sum())


def _linear(t: np.ndarray, buckets: int, log: bool = False) -> tuple[float, float, bool]:
    """(origin, width, log) of equal-width buckets across t's central quantiles."""
    a, b = (float(q) for q in np.quantile(t, CENTRAL))
    if not b > a:  # a (nearly) constant reference: unit buckets around its value
        lo, hi = float(t[0]), float(t[-1])
        a, b = (lo, hi) if hi > lo else (a, a + max(abs(a), 1.0))
    return a, (b - a) / buckets, log


def _heaviest_bucket(s: np.ndarray, origin: float, width: float, log: bool, buckets: int) -> float:
    """The largest share of the reference in one inner bucket under a grid (what bounds KS)."""
    t = np.log(s) if log else s
    k = np.floor((t - origin) / width)
    k = k[(k >= 0) & (k < buckets)]
    if len(k) == 0:
        return 1.0
    counts = np.bincount(k.astype(np.int64), minlength=buckets)
    # Heavy atoms get their own cells: a bucket's mass beyond its largest tie does not bound KS.
    return float(counts.max()) / len(s)


def _atoms(s: np.ndarray, buckets: int) -> tuple[float, ...]:
    """Values holding at least ATOM_SHARE / buckets of sorted values ``s`` (the heaviest MAX_ATOMS), increasing."""
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    sizes = np.diff(np.r_[starts, len(s)])
    heavy = np.flatnonzero(sizes >= max(2, ATOM_SHARE * len(s) / buckets))
    if len(heavy) > MAX_ATOMS:
        heavy = heavy[np.argsort(-sizes[heavy], kind="stable")[:MAX_ATOMS]]
    return tuple(sorted(float(s[starts[i]]) for i in heavy))
