"""The one place a user's cohort query is evaluated against the data.

Kept apart on purpose: evaluating a query string is where user text meets the data. The text
is parsed by :mod:`mlmon_nb.expressions` (a small grammar of column names, literals,
comparisons, ``in``, ``and``/``or``/``not``, ``isna``/``notna``/``between``) and evaluated
with pandas operations: never ``eval``, so a scheduler's ``-P cohort=...`` can never run code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..expressions import parse_filter
from .cohorts import CohortError


def evaluate_cohort_query(frame: pd.DataFrame, query: str) -> np.ndarray:
    """Which rows of ``frame`` the query selects (True/False per row, missing counts as False).

    Raises
    ------
    CohortError
        When the query is outside the grammar or names a column the window lacks (one line).

    Examples
    --------
    >>> evaluate_cohort_query(pd.DataFrame({"x": [1, 5]}), "x > 2").tolist()
    [False, True]
    """
    try:
        mask = parse_filter(query, "cohort").mask(frame)
    except UsageError as exc:
        raise CohortError(str(exc)) from exc
    return np.asarray(mask, dtype=bool)
