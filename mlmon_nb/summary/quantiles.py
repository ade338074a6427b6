"""Quantiles of a non-negative measure (latencies) from counts on a fixed log-spaced grid, with bounds.

An aggregation pass cannot hold a window's values to sort them (an exact
quantile costs memory in proportion to the rows, in both engines); it keeps,
per cell of a fixed grid, the count, the smallest and the largest value.

The grid (:class:`LogGrid`) is anchored at a value of the baseline (the
median latency of the baseline window): cell ``k`` holds the values ``v > 0``
with ``floor(ln(v / origin) / ln(1 + relative)) = k``, so every cell spans
at most :data:`RELATIVE` (0.1 %) of its values; ``k`` is clamped to
``±span`` (the two end cells are open, about ``origin · e^±20``); values ``≤ 0``
have one cell of their own. Empty cells cost nothing: a pass returns only
the cells holding values (a few thousand for latencies spread over a
thousandfold range).

A quantile is computed as DuckDB's ``quantile_cont`` and numpy's default do:
``h = (n − 1) q``, ``x[⌊h⌋] + (h − ⌊h⌋)(x[⌈h⌉] − x[⌊h⌋])``. Each of the two
order statistics lies in a known cell, between that cell's smallest and
largest value; the estimate spreads a cell's values evenly between them.
**Bound**: the exact quantile lies in ``[low, high]`` (the same interpolation
of the cells' minima and maxima), returned as a
:class:`~mlmon_nb.summary.bounds.Bounded`; inside the grid's span that is at
most ``RELATIVE × value`` (0.1 %), and it is 0 where the cell holds a single
distinct value (latencies logged to 0.1 ms have a cell per value below 100 ms).
``tests/test_summary_ops_feedback.py`` checks the bound against the exact value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .bounds import Bounded
from .sql import number

__all__ = ["RELATIVE", "SPAN", "LogGrid", "quantiles_from_cells", "merge_cells"]

RELATIVE = 1e-3
"""Most relative width of a cell: an estimated quantile is within 0.1 % of the exact one."""
SPAN = 20_000
"""Cells on each side of the origin (``(1 + RELATIVE) ** SPAN ≈ e^20``); beyond, the two open end cells."""


@dataclass(frozen=True)
class LogGrid:
    """Log-spaced cells anchored at ``origin`` (see the module's docstring)."""

    origin: float
    relative: float = RELATIVE
    span: int = SPAN

    @classmethod
    def anchored(cls, value: float | None) -> "LogGrid":
        """The grid anchored at a baseline's value (1 when there is no usable one)."""
        v = float(value) if value is not None and math.isfinite(float(value)) and float(value) > 0 else 1.0
        return cls(origin=v)

    @property
    def zero(self) -> int:
        """The cell of the values ``≤ 0`` (below every other)."""
        return -self.span - 1

    @property
    def width(self) -> float:
        return math.log1p(self.relative)

    def cell_sql(self, v: str) -> str:
        """SQL: the cell of a finite value ``v`` (portable: ``LN``, ``FLOOR``, ``LEAST``, ``GREATEST``)."""
        k = (f"CAST(LEAST(GREATEST(FLOOR(LN({v} / {number(self.origin)}) / {number(self.width)}), {-self.span}), "
             f"{self.span}) AS INTEGER)")
        return f"CASE WHEN {v} <= {number(0.0)} THEN {self.zero} ELSE {k} END"

    def cell_of(self, v: np.ndarray) -> np.ndarray:
        """The SQL formula in numpy (for tests and in-memory use)."""
        v = np.asarray(v, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.floor(np.log(np.where(v > 0, v, 1.0) / self.origin) / self.width)
        k = np.clip(k, -self.span, self.span).astype(np.int64)
        return np.where(v > 0, k, self.zero)


def merge_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells of several groups merged: ``cell``, ``n`` (summed), ``lo`` (min), ``hi`` (max), by cell."""
    if frame.empty:
        return pd.DataFrame({"cell": np.zeros(0, np.int64), "n": np.zeros(0), "lo": np.zeros(0), "hi": np.zeros(0)})
    out = frame.groupby("cell", sort=True).agg(n=("n", "sum"), lo=("lo", "min"), hi=("hi", "max")).reset_index()
    return out[out["n"] > 0].reset_index(drop=True)


def quantiles_from_cells(cells: pd.DataFrame, qs: Sequence[float]) -> list[Bounded]:
    """Quantiles (``quantile_cont``) of the values counted in ``cells``, each with where the exact one lies.

    Parameters
    ----------
    cells : DataFrame
        ``cell``, ``n``, ``lo``, ``hi`` (:func:`merge_cells`), one row per cell, in cell order.
    qs : sequence of float
        Probabilities in [0, 1].

    Returns
    -------
    list of Bounded
        NaN without values.
    """
    n = np.asarray(cells["n"], dtype=float) if len(cells) else np.zeros(0)
    total = int(n.sum())
    if total == 0:
        return [Bounded(math.nan, math.nan, math.nan) for _ in qs]
    lo, hi = np.asarray(cells["lo"], dtype=float), np.asarray(cells["hi"], dtype=float)
    before = np.cumsum(n) - n

    def order_stat(j: int) -> tuple[float, float, float]:
        """(estimate, low, high) of the j-th smallest value (0-based)."""
        i = int(np.searchsorted(before + n, j, side="right"))
        c, r = n[i], j - before[i]
        est = lo[i] if c <= 1 else lo[i] + (hi[i] - lo[i]) * r / (c - 1)
        return float(est), float(lo[i]), float(hi[i])

    out = []
    for q in qs:
        h = (total - 1) * float(q)
        a, b = int(math.floor(h)), int(math.ceil(h))
        t = h - a
        ea, la, ha = order_stat(a)
        eb, lb, hb = order_stat(b)
        out.append(Bounded(value=ea + t * (eb - ea), low=la + t * (lb - la), high=ha + t * (hb - ha)))
    return out
