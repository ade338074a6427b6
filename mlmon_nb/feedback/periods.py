"""A period's exposures item by item, whether held as rows or as counts per (chunk, item).

The in-memory path holds one item code per exposure (a row); the summary path holds one code per
(chunk, item) cell with its exposure count, from an aggregation the engine runs. Every
item-level figure needs only counts per item of all exposures or of a subsample of them, so both
are read through :class:`Exposures`: :meth:`~Exposures.counts` and :meth:`~Exposures.draw`. A
subsample of ``n`` exposures without replacement is ``rng.choice`` of rows, or, from counts, a
multivariate hypergeometric draw: the same distribution of item counts, so both paths give the
same figures up to the subsampling's own randomness (tests/test_summary_ops_feedback.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Exposures", "WindowItems"]


@dataclass(frozen=True)
class Exposures:
    """Item codes of exposures: one per row (``weights`` None) or one per cell with its count."""

    codes: np.ndarray
    weights: np.ndarray | None = None

    def total(self) -> int:
        return int(len(self.codes) if self.weights is None else round(float(self.weights.sum())))

    def counts(self, n_codes: int) -> np.ndarray:
        """Exposures per item code."""
        c = np.bincount(self.codes, weights=self.weights, minlength=n_codes)
        return c if self.weights is None else np.rint(c).astype(np.int64)

    def draw(self, n: int, rng: np.random.Generator, n_codes: int) -> np.ndarray:
        """Exposures per item of a subsample of ``n`` drawn without replacement (all of them when fewer)."""
        if self.weights is None:
            sub = self.codes[rng.choice(len(self.codes), size=n, replace=False)] if len(self.codes) > n \
                else self.codes
            return np.bincount(sub, minlength=n_codes)
        c = self.counts(n_codes)
        return rng.multivariate_hypergeometric(c, n) if c.sum() > n else c

    def select(self, mask: np.ndarray) -> "Exposures":
        """The rows or cells where ``mask`` holds."""
        return Exposures(self.codes[mask], None if self.weights is None else self.weights[mask])


@dataclass(frozen=True)
class WindowItems:
    """What the item-level figures read of the window.

    Attributes
    ----------
    keys : array of int
        Chunk number of each row or cell of ``exposures``.
    exposures : Exposures
        Every exposure (item not missing).
    driven : Exposures or None
        The model-driven exposures (the ``exposed`` flag true); None without the flag.
    positives, positive_weight : Exposures or None
        Rows with a positive outcome: counted, and weighted by the outcome; None without outcomes.
    homogenisation : callable or None
        ``(chunk key, exposures, rng) -> mean Jaccard`` of that many exposures of the chunk; None
        without users.
    """

    keys: np.ndarray
    exposures: Exposures
    driven: Exposures | None = None
    positives: Exposures | None = None
    positive_weight: Exposures | None = None
    homogenisation: Callable[[int, int, np.random.Generator], float] | None = None

    def chunk(self, key: int) -> Exposures:
        return self.exposures.select(self.keys == key)
