"""A categorical feature's window summary: level counts per chunk, and its statistics against the baseline.

Every categorical statistic of the baseline form (:func:`mlmon_nb.stats.categorical_against`)
needs only the counts per reference level and of every other level together,
so all of them are exact from the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from ..stats import CATEGORICAL_BASELINE_STATS, CategoricalReference, Stat, categorical_against
from .sql import OTHER


@dataclass(frozen=True)
class CategoricalSummary:
    """One categorical feature's rows of a window summary: (chunk, level, rows); level None when missing."""

    chunk: np.ndarray
    level: np.ndarray
    n: np.ndarray

    @classmethod
    def from_columns(cls, cols: dict[str, np.ndarray]) -> "CategoricalSummary":
        return cls(chunk=np.asarray(cols["chunk"]), level=np.asarray(cols["level"], dtype=object),
                   n=np.asarray(cols["n"], dtype=float))

    def _rows(self, chunk: int | None) -> np.ndarray:
        return np.ones(len(self.n), dtype=bool) if chunk is None else self.chunk == chunk

    def rows(self, chunk: int | None = None) -> int:
        return int(self.n[self._rows(chunk)].sum())

    def missing(self, chunk: int | None = None) -> int:
        k = self._rows(chunk) & pd.isna(self.level)
        return int(self.n[k].sum())

    def level_counts(self, chunk: int | None = None) -> pd.Series:
        """Rows per level (missing left out; unseen levels beyond the most frequent under one name), largest first."""
        k = self._rows(chunk) & ~pd.isna(self.level)
        s = pd.Series(self.n[k], index=self.level[k].astype(str)).groupby(level=0).sum()
        return s[s > 0].sort_values(ascending=False, kind="stable")

    def counts(self, ref: CategoricalReference, chunk: int | None = None) -> np.ndarray:
        """Counts per reference level, then of every other level (:meth:`CategoricalReference.current_counts`)."""
        lc = self.level_counts(chunk)
        known = lc.reindex(list(ref.levels), fill_value=0.0).to_numpy(dtype=float)
        return np.append(known, lc.sum() - known.sum())

    @property
    def unseen_pooled(self) -> bool:
        """Whether some unseen levels were counted together (beyond the most frequent kept by name)."""
        return bool((self.level == OTHER).any())


def categorical_stats(ref: CategoricalReference, summary: CategoricalSummary,
                      names: Iterable[str] = CATEGORICAL_BASELINE_STATS, *, chunk: int | None = None) -> dict[str, Stat]:
    """Categorical statistics of a window summary (or one chunk) against the baseline's level shares: exact."""
    return categorical_against(ref, None, list(names), counts=summary.counts(ref, chunk))
