"""Homogenisation: how alike the items shown to different users are.

The mean Jaccard similarity of two users' exposed item sets, over all pairs of
users or a seeded sample of them (Chaney, Stewart & Engelhardt 2018).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError

__all__ = ["JACCARD_PAIRS", "jaccard", "mean_pairwise_jaccard"]

JACCARD_PAIRS = 20_000
"""User pairs drawn per chunk (all pairs when there are no more)."""


def jaccard(a: set, b: set) -> float:
    """Jaccard similarity |a ∩ b| / |a ∪ b| of two sets (NaN when both are empty).

    Examples
    --------
    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    union = len(a | b)
    return len(a & b) / union if union else float("nan")


def mean_pairwise_jaccard(users: Any, items: Any, rng: np.random.Generator | None = None,
                          pairs: int | None = JACCARD_PAIRS) -> float:
    """Mean Jaccard similarity of the item sets of two different users.

    Parameters
    ----------
    users, items : array-like
        One entry per exposure: who saw which item (integer codes or any
        hashable values).
    rng : numpy.random.Generator, optional
        Draws the sampled pairs; needed when sampling.
    pairs : int or None
        Number of user pairs to draw (with replacement, two distinct users
        each). All pairs are used exactly when there are no more than this
        many, or when ``pairs`` is None.

    Returns
    -------
    float
        NaN with fewer than two users.

    Examples
    --------
    >>> mean_pairwise_jaccard(["u", "u", "v", "w"], [1, 2, 2, 3], pairs=None)  # pairs: 1/2, 0, 0
    0.16666666666666666
    """
    u_codes, _ = pd.factorize(pd.Series(np.asarray(users)), sort=False)
    i_codes, _ = pd.factorize(pd.Series(np.asarray(items)), sort=False)
    if len(u_codes) != len(i_codes):
        raise UsageError(f"The 'users' and 'items' parameters of mean_pairwise_jaccard must have the same "
                         f"length. Got {len(u_codes)} and {len(i_codes)} instead.")
    n_items = int(i_codes.max()) + 1 if len(i_codes) else 0
    keys = np.unique(u_codes.astype(np.int64) * max(n_items, 1) + i_codes)
    user_of, item_of = keys // max(n_items, 1), keys % max(n_items, 1)
    n_users = int(user_of.max()) + 1 if len(keys) else 0
    if n_users < 2:
        return float("nan")
    sizes = np.bincount(user_of, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    all_pairs = n_users * (n_users - 1) // 2
    if pairs is None or all_pairs <= pairs:
        a, b = np.triu_indices(n_users, k=1)
    else:
        if rng is None:
            raise UsageError("The 'rng' parameter of mean_pairwise_jaccard is required when pairs are sampled.")
        a = rng.integers(0, n_users, int(pairs))
        b = rng.integers(0, n_users - 1, int(pairs))
        b = b + (b >= a)
    # Expand the items of each pair's first user and look them up in the second user's set.
    reps = sizes[a]
    pair_of = np.repeat(np.arange(len(a)), reps)
    offset = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    their_items = item_of[np.repeat(starts[a], reps) + offset]
    wanted = b[pair_of].astype(np.int64) * max(n_items, 1) + their_items
    found = np.searchsorted(keys, wanted)
    hit = (found < len(keys)) & (keys[np.minimum(found, len(keys) - 1)] == wanted)
    inter = np.bincount(pair_of[hit], minlength=len(a))
    union = sizes[a] + sizes[b] - inter
    return float(np.mean(inter / union))
