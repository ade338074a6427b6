"""A period's exposures as counts per (chunk, item), read the same way on both paths.

The in-memory path reduces the rows of a period to counts per (chunk, item) (:func:`count_cells`);
the summary path gets the same counts from an aggregation the engine runs. Every item-level figure
needs only counts per item of all exposures or of a subsample of them, and the subsample is drawn
from the counts by one seeded function (:meth:`Exposures.draw`, a multivariate hypergeometric draw:
the distribution of ``rng.choice`` of the rows). Equal counts, equal item codes
(:func:`~mlmon_nb.feedback.exposure.item_codes`) and the same generator therefore give equal
figures on both paths. Homogenisation needs rows (who saw what): :func:`rows_homogenisation` reads
them in a canonical order, so the same rows in any order give the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .homogenisation import JACCARD_PAIRS, mean_pairwise_jaccard

__all__ = ["Exposures", "PeriodItems", "count_cells", "rows_homogenisation"]


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
        """Exposures per item of a subsample of ``n`` drawn without replacement (all of them when fewer).

        Drawn from the counts per item, never from rows, so rows and cells holding the same counts
        give the same subsample for the same ``rng`` state.
        """
        c = self.counts(n_codes).astype(np.int64, copy=False)
        return rng.multivariate_hypergeometric(c, n) if c.sum() > n else c

    def select(self, mask: np.ndarray) -> "Exposures":
        """The rows or cells where ``mask`` holds."""
        return Exposures(self.codes[mask], None if self.weights is None else self.weights[mask])


def count_cells(keys: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, Exposures]:
    """Rows (chunk key and item code of each exposure) reduced to counts per (chunk, item).

    Returns the chunk key of each cell and the cells as :class:`Exposures` (weights: the counts).
    """
    cells = pd.DataFrame({"chunk": np.asarray(keys, dtype=np.int64), "item": np.asarray(codes, dtype=np.int64)})
    n = cells.groupby(["chunk", "item"], sort=True).size()
    return (n.index.get_level_values("chunk").to_numpy(dtype=np.int64),
            Exposures(n.index.get_level_values("item").to_numpy(dtype=np.int64), n.to_numpy(dtype=float)))


def rows_homogenisation(keys: np.ndarray, users: pd.Series, items: pd.Series,
                        pairs: int | None = JACCARD_PAIRS) -> Callable[[int, int, np.random.Generator], float]:
    """``(chunk key, n, rng) -> mean Jaccard`` of ``n`` exposures of a chunk drawn from these rows.

    The rows of each chunk are put in a canonical order (by user, then item) before ``n`` of them
    are drawn, so that the same rows read in any order (a frame, or an engine's sample covering
    the whole window) give the same figure. Exposures without a user take no part.
    """
    frame = pd.DataFrame({"chunk": np.asarray(keys, dtype=np.int64),
                          "user": _plain(users).to_numpy(), "item": _plain(items).to_numpy()})
    frame = _canonical(frame)
    chunk_of = frame["chunk"].to_numpy()
    user_of, item_of = frame["user"], frame["item"].to_numpy()

    def homogenisation(key: int, n: int, rng: np.random.Generator) -> float:
        lo, hi = np.searchsorted(chunk_of, [key, key + 1])
        take = lo + rng.choice(hi - lo, size=min(n, hi - lo), replace=False)
        u, _ = pd.factorize(user_of.iloc[take], sort=False)
        known = u >= 0
        return mean_pairwise_jaccard(u[known], item_of[take][known], rng, pairs)

    return homogenisation


def _plain(values: pd.Series) -> pd.Series:
    """A categorical column as its values (categories' order differs between readers of the same rows)."""
    return values.astype(values.cat.categories.dtype) if isinstance(values.dtype, pd.CategoricalDtype) else values


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by chunk, user and item (values that do not sort together are sorted as text)."""
    try:
        return frame.sort_values(["chunk", "user", "item"], kind="stable", na_position="last", ignore_index=True)
    except TypeError:  # e.g. an object column mixing numbers and strings
        order = pd.DataFrame({"chunk": frame["chunk"], "user": frame["user"].astype(str).where(frame["user"].notna()),
                              "item": frame["item"].astype(str)})
        index = order.sort_values(["chunk", "user", "item"], kind="stable", na_position="last").index
        return frame.loc[index].reset_index(drop=True)


@dataclass(frozen=True)
class PeriodItems:
    """What the item-level figures read of a period (the window or the baseline period).

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
