"""A numeric feature's window summary, and its statistics against the baseline.

:class:`NumericSummary` holds one feature's rows of the summary table (per
chunk and cell); :func:`numeric_stats` gives the same figures as
:func:`mlmon_nb.stats.numeric_against` from it:

======================  =======================================================================
``ks``                  edge value (a lower bound of the exact D), ``detail`` its upper bound;
                        p-value: Smirnov's asymptotic distribution at (n, m), as for large samples
``wasserstein``         middle of its bounds ÷ the reference's sd, ``detail`` the half-width
``tail``                exact (counts below, above and inside the rare region)
``psi``, ``jensen_shannon``  exact (counts on the baseline's own bins)
======================  =======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import stats as sps

from ..shape import js_shares, psi_shares
from ..stats import Stat, NumericReference, ks_pvalue
from . import bounds
from .grid import FINITE, MISSING, NAN, NEG_INF, POS_INF, REGION_ABOVE, REGION_BELOW, REGION_GAP, Cells, Grid

SUMMARY_STATS = ("ks", "wasserstein", "tail", "psi", "jensen_shannon")
"""Numeric statistics a summary gives (others need rows)."""
_NAN = Stat(value=float("nan"))


@dataclass(frozen=True)
class NumericSummary:
    """One numeric feature's rows of a window summary (numpy columns, one entry per chunk × cell × region)."""

    grid: Grid
    chunk: np.ndarray
    bucket: np.ndarray
    bin: np.ndarray
    atom: np.ndarray
    region: np.ndarray
    n: np.ndarray
    s: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def from_columns(cls, grid: Grid, cols: dict[str, np.ndarray]) -> "NumericSummary":
        return cls(grid=grid, **{k: np.asarray(cols[k]) for k in ("chunk", "bucket", "bin", "atom", "region", "n",
                                                                  "s", "lo", "hi")})

    def _rows(self, chunk: int | None) -> np.ndarray:
        return np.ones(len(self.n), dtype=bool) if chunk is None else self.chunk == chunk

    def cells(self, chunk: int | None = None) -> Cells:
        """The finite values' cells (the whole window, or one chunk)."""
        k = self._rows(chunk) & (self.bucket > FINITE)
        g = self.grid
        return Cells.combine(g.cell_key(self.bucket[k], self.bin[k], self.atom[k]), self.n[k], self.s[k], self.lo[k],
                             self.hi[k])

    def count(self, codes: Sequence[int], chunk: int | None = None) -> int:
        """Rows whose bucket code is one of ``codes``."""
        k = self._rows(chunk) & np.isin(self.bucket, list(codes))
        return int(self.n[k].sum())

    def rows(self, chunk: int | None = None) -> int:
        return int(self.n[self._rows(chunk)].sum())

    def finite(self, chunk: int | None = None) -> int:
        return int(self.n[self._rows(chunk) & (self.bucket > FINITE)].sum())

    def missing(self, chunk: int | None = None) -> int:
        """Values without a finite number (NULL, NaN, inf, -inf), as the baseline's missing rate counts them."""
        return self.count((MISSING, NAN, POS_INF, NEG_INF), chunk)

    def non_finite(self, chunk: int | None = None) -> int:
        """``inf`` and ``-inf`` values (what :func:`mlmon_nb.profiles.count_non_finite` counts)."""
        return self.count((POS_INF, NEG_INF), chunk)

    def region_counts(self, chunk: int | None = None) -> np.ndarray:
        k = self._rows(chunk) & (self.bucket > FINITE)
        return np.bincount(self.region[k].astype(np.int64), weights=self.n[k].astype(float), minlength=4)

    def bin_counts(self, chunk: int | None = None) -> np.ndarray:
        k = self._rows(chunk) & (self.bucket > FINITE)
        return np.bincount(self.bin[k].astype(np.int64), weights=self.n[k].astype(float), minlength=self.grid.n_bins)

    def quantiles(self, qs: Sequence[float], chunk: int | None = None) -> np.ndarray:
        """Approximate quantiles: linear inside the cell holding them (display only; within a cell's range)."""
        c = self.cells(chunk)
        if c.total == 0:
            return np.full(len(qs), np.nan)
        cum = np.cumsum(c.n)
        out = []
        for q in qs:
            target = q * (c.total - 1)  # numpy's linear rule on ranks 0..n-1
            i = int(np.searchsorted(cum, target, side="right"))
            i = min(i, len(cum) - 1)
            before = cum[i] - c.n[i]
            frac = 0.0 if c.n[i] <= 1 else (target - before) / (c.n[i] - 1)
            out.append(c.lo[i] + min(max(frac, 0.0), 1.0) * (c.hi[i] - c.lo[i]))
        return np.array(out, dtype=float)


def reference_cells(ref: NumericReference, grid: Grid) -> Cells:
    """The baseline's sorted values on the grid (the same formula as the SQL, in numpy)."""
    return grid.cells_of(ref.sorted)


def numeric_stats(ref: NumericReference, grid: Grid, ref_cells: Cells, summary: NumericSummary,
                  names: Iterable[str] = SUMMARY_STATS, *, chunk: int | None = None,
                  p_values: bool = True) -> dict[str, Stat]:
    """Statistics of a window summary (or one of its chunks) against a numeric reference.

    The numbers agree with :func:`mlmon_nb.stats.numeric_against` on the same
    values within the bounds each ``Stat.detail`` states (``bound``; 0 for the
    exact ones).

    Raises
    ------
    ValueError
        For a statistic a summary cannot give (see :data:`SUMMARY_STATS`).
    """
    names = list(names)
    win = summary.cells(chunk)
    m = win.total
    if m == 0 or len(ref.sorted) == 0:
        return {n: _NAN for n in names}
    out: dict[str, Stat] = {}
    for name in names:
        if name == "ks":
            b = bounds.ks(ref_cells, ref.sorted, win)
            p = ks_pvalue(b.value, ref.n, int(m)) if p_values else None
            out[name] = Stat(value=b.value, p_value=p, where=b.where,
                             detail={"low": b.low, "high": b.high, "bound": b.bound})
        elif name == "wasserstein":
            b = bounds.wasserstein(ref_cells, ref.sorted, win)
            sd = ref.std if ref.std > 0 else 1.0
            out[name] = Stat(value=b.value / sd, statistic=b.value,
                             detail={"low": b.low / sd, "high": b.high / sd, "bound": b.bound / sd})
        elif name in ("psi", "jensen_shannon"):
            counts = summary.bin_counts(chunk)
            shares = counts / counts.sum()
            value = psi_shares(ref.shares, shares) if name == "psi" else js_shares(ref.shares, shares)
            out[name] = Stat(value=value, detail={"bound": 0.0})
        elif name == "tail":
            out[name] = _tail(ref, summary.region_counts(chunk), m, p_values)
        else:
            raise ValueError(f"statistic {name!r} cannot be computed from a window summary; "
                             f"use one of {', '.join(SUMMARY_STATS)}")
    return out


def _tail(ref: NumericReference, regions: np.ndarray, m: float, p_value: bool) -> Stat:
    """The tail statistic from exact region counts (as :func:`mlmon_nb.stats._tail`)."""
    region = ref.rare
    if region is None:
        return _NAN
    below, above, inside = (float(regions[i]) / m for i in (REGION_BELOW, REGION_ABOVE, REGION_GAP))
    share = below + above + inside
    p = None
    if p_value:
        k = int(round(share * m))
        p = float(sps.binom.sf(k - 1, int(m), max(region.share, 1.0 / max(ref.n, 1)))) if k > 0 else 1.0
    detail = {"below": below, "above": above, "inside": inside, "ref_below": region.below,
              "ref_above": region.above, "ref_inside": region.inside, "low": region.low, "high": region.high}
    return Stat(value=share - region.share, p_value=p, statistic=share, detail=detail)
