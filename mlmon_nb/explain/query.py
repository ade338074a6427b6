"""The one place a user's cohort query is evaluated against the data.

Kept apart on purpose: evaluating a query string is where user text meets the data,
and this function is the only code doing it (today with ``DataFrame.eval``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohorts import CohortError


def evaluate_cohort_query(frame: pd.DataFrame, query: str) -> np.ndarray:
    """Which rows of ``frame`` the query selects (True/False per row, missing counts as False).

    Raises
    ------
    CohortError
        When the query cannot be evaluated or does not give True/False per row (one line).

    Examples
    --------
    >>> evaluate_cohort_query(pd.DataFrame({"x": [1, 5]}), "x > 2").tolist()
    [False, True]
    """
    try:
        result = frame.eval(query, local_dict={}, global_dict={})
    except Exception as exc:  # pandas raises SyntaxError, NameError, TypeError, ... for bad queries
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise CohortError(f"cohort query {query!r} could not be evaluated: {type(exc).__name__}: {msg}") from exc
    arr = np.asarray(result)
    if arr.shape != (len(frame),) or not (arr.dtype == bool or pd.api.types.is_bool_dtype(arr.dtype)):
        raise CohortError(f"cohort query {query!r} does not give True/False for each row "
                          f"(got {getattr(arr, 'dtype', type(result))} values); write a comparison such as "
                          f"device == \"mobile\"")
    return np.asarray(pd.Series(arr).fillna(False), dtype=bool)
