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
from .homogenisation import JACCARD_PAIRS, mean_pairwise_jaccard
from .measures import ITEM_SUBJECTS
from .periods import WindowItems
from .reinforcement import rich_get_richer

__all__ = ["PARTIAL_CHUNK_SHARE", "cell_chunk_figures", "chunk_figures", "chunk_keys", "chunk_starts", "full_chunks"]

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
    """Every item-level figure per chunk, each chunk subsampled to ``per_chunk`` exposures.

    Parameters
    ----------
    keys : array of int
        Chunk number of every exposure (consecutive numbers are adjacent chunks).
    items : array of int
        Item code of every exposure, ``0 <= code``; codes below ``catalogue`` are
        the catalogue's items.
    users : array of int, optional
        User code of every exposure (homogenisation is NaN without it).
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
    order = np.argsort(keys, kind="stable")
    uniq, first, counts = np.unique(keys[order], return_index=True, return_counts=True)
    wanted = set(int(k) for k in (use if use is not None else uniq[counts >= per_chunk]))
    n_codes = max(int(items.max()) + 1 if len(items) else 0, catalogue)
    rows = []
    prev_key, prev_counts = None, None
    for key, start, n in zip(uniq, first, counts):
        key = int(key)
        if key not in wanted or n < per_chunk:
            continue
        take = order[start + rng.choice(n, size=per_chunk, replace=False)]
        sub_items = items[take]
        c = np.bincount(sub_items, minlength=n_codes)
        rows.append(_figures(key, n, c, catalogue, _homogenisation(users, take, sub_items, rng, pairs),
                             prev_counts if prev_key is not None and prev_key == key - 1 else None))
        prev_key, prev_counts = key, c
    return pd.DataFrame(rows, columns=["chunk", "exposures", *ITEM_SUBJECTS])


def cell_chunk_figures(window: WindowItems, *, catalogue: int, n_codes: int, per_chunk: int,
                       rng: np.random.Generator, use: np.ndarray) -> pd.DataFrame:
    """:func:`chunk_figures` of a window held as counts per (chunk, item) (the summary path).

    Each chunk's subsample of ``per_chunk`` exposures is a multivariate hypergeometric draw from its
    item counts (:meth:`Exposures.draw`); homogenisation reads ``window.homogenisation``.
    """
    rows = []
    prev_key, prev_counts = None, None
    for key in sorted(int(k) for k in use):
        part = window.chunk(key)
        n = part.total()
        if n < per_chunk:
            continue
        c = part.draw(per_chunk, rng, n_codes)
        homog = window.homogenisation(key, per_chunk, rng) if window.homogenisation else float("nan")
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


def _homogenisation(users, take, sub_items, rng, pairs) -> float:
    if users is None:
        return float("nan")
    u = users[take]
    known = u >= 0  # exposures without a user id take no part
    return mean_pairwise_jaccard(u[known], sub_items[known], rng, pairs)
