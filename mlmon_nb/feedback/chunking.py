"""Per-chunk figures: the windows and the baseline period cut into chunks, compared like with like.

Concentration figures depend on how many exposures they are computed from: a
day of 600 exposures cannot cover a catalogue of 2,000 items, a week of
600,000 can. Every chunk is therefore subsampled to the same number of
exposures before any figure is computed (:func:`chunk_figures`); chunks with
fewer than half their period's median count (a partial first day) are left
out (:func:`full_chunks`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .concentration import coverage, gini, normalised_entropy, top_share
from .homogenisation import JACCARD_PAIRS
from .measures import ITEM_SUBJECTS
from .periods import PeriodItems, count_cells, rows_homogenisation
from .reinforcement import rich_get_richer

__all__ = ["PARTIAL_CHUNK_SHARE", "chunk_figures", "chunk_keys", "chunk_starts", "full_chunks", "period_chunk_figures"]

PARTIAL_CHUNK_SHARE = 0.5
"""Chunks below this share of their period's median count are partial (left out)."""


def chunk_keys(ts: pd.Series, chunk: pd.Timedelta) -> np.ndarray:
    """The chunk number of every timestamp (chunks of length ``chunk`` from the Unix epoch, UTC)."""
    ts = pd.to_datetime(ts, utc=True)
    return ((ts - pd.Timestamp(0, tz="UTC")) // chunk).to_numpy(dtype="int64")


def chunk_starts(keys: np.ndarray, chunk: pd.Timedelta) -> pd.DatetimeIndex:
    """The start (UTC) of the chunks numbered ``keys``."""
    return pd.to_datetime(np.asarray(keys) * chunk.value, utc=True)


def full_chunks(keys: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chunk keys, their exposure counts, and which are full (>= half the median count).

    ``weights``: exposures of each entry of ``keys`` (cells of a summary); one each when omitted (rows).
    """
    if weights is None:
        uniq, counts = np.unique(keys, return_counts=True)
    else:
        uniq, inv = np.unique(keys, return_inverse=True)
        counts = np.rint(np.bincount(inv, weights=weights, minlength=len(uniq))).astype(np.int64)
    full = counts >= PARTIAL_CHUNK_SHARE * np.median(counts) if len(counts) else np.array([], bool)
    return uniq, counts, full


def chunk_figures(keys: np.ndarray, items: np.ndarray, users: np.ndarray | None, *, catalogue: int,
                  per_chunk: int, rng: np.random.Generator, use: np.ndarray | None = None,
                  pairs: int | None = JACCARD_PAIRS) -> pd.DataFrame:
    """Every item-level figure per chunk of exposures held as rows, each chunk subsampled to ``per_chunk``.

    The rows are reduced to counts per (chunk, item) and read by :func:`period_chunk_figures`, as
    the summary path's counts are.

    Parameters
    ----------
    keys : array of int
        Chunk number of every exposure (consecutive numbers are adjacent chunks).
    items : array of int
        Item code of every exposure, ``0 <= code``; codes below ``catalogue`` are
        the catalogue's items.
    users : array-like, optional
        User of every exposure: any values, missing (or a negative code) where unknown
        (homogenisation is NaN without users).
    catalogue : int
        Catalogue size.
    per_chunk : int
        Exposures drawn (without replacement) from every chunk.
    rng : numpy.random.Generator
        Draws the subsamples and the user pairs.
    use : array of int, optional
        Chunk keys to compute (the others are skipped); every chunk with at
        least ``per_chunk`` exposures when omitted.

    Returns
    -------
    DataFrame
        One row per computed chunk: ``chunk``, ``exposures`` (before
        subsampling) and one column per subject of :data:`ITEM_SUBJECTS`.
    """
    keys, items = np.asarray(keys, dtype=np.int64), np.asarray(items, dtype=np.int64)
    cell_keys, cells = count_cells(keys, items)
    homogenisation = None
    if users is not None:
        users = pd.Series(users)
        if pd.api.types.is_integer_dtype(users):
            users = users.where(users >= 0)  # negative codes: unknown users (pd.factorize's -1)
        homogenisation = rows_homogenisation(keys, users, pd.Series(items), pairs)
    period = PeriodItems(keys=cell_keys, exposures=cells, homogenisation=homogenisation)
    if use is None:
        uniq, counts = np.unique(keys, return_counts=True)
        use = uniq[counts >= per_chunk]
    n_codes = max(int(items.max()) + 1 if len(items) else 0, catalogue)
    return period_chunk_figures(period, catalogue=catalogue, n_codes=n_codes, per_chunk=per_chunk, rng=rng, use=use)


def period_chunk_figures(period: PeriodItems, *, catalogue: int, n_codes: int, per_chunk: int,
                         rng: np.random.Generator, use: np.ndarray) -> pd.DataFrame:
    """Every item-level figure per chunk of a period held as counts per (chunk, item), both paths.

    Each chunk's subsample of ``per_chunk`` exposures is drawn from its item counts
    (:meth:`Exposures.draw`), then ``period.homogenisation`` draws its rows, in that order from
    ``rng``: the same counts and rows give the same figures, in memory or in summary mode.
    """
    rows = []
    prev_key, prev_counts = None, None
    for key in sorted(int(k) for k in use):
        part = period.chunk(key)
        n = part.total()
        if n < per_chunk:
            continue
        c = part.draw(per_chunk, rng, n_codes)
        homog = period.homogenisation(key, per_chunk, rng) if period.homogenisation else float("nan")
        rows.append(_figures(key, n, c, catalogue, homog,
                             prev_counts if prev_key is not None and prev_key == key - 1 else None))
        prev_key, prev_counts = key, c
    return pd.DataFrame(rows, columns=["chunk", "exposures", *ITEM_SUBJECTS])


def _figures(key: int, n: int, c: np.ndarray, catalogue: int, homogenisation: float,
             previous: np.ndarray | None) -> dict:
    """One chunk's figures from its subsample's exposures per item ``c`` (``previous``: the chunk before's)."""
    nz = c[c > 0]
    k = max(catalogue, nz.size)
    return {
        "chunk": key, "exposures": int(n),
        "exposure_gini": gini(nz, k), "exposure_entropy": normalised_entropy(nz, k),
        "top1pct_share": top_share(nz, 0.01, k), "top10pct_share": top_share(nz, 0.10, k),
        "coverage": coverage(nz, k),
        "homogenisation": homogenisation,
        "self_reinforcement": rich_get_richer(previous, c)[0] if previous is not None else float("nan"),
    }
