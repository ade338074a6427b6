"""The rows of a cohort: by query, by segment level, or the top/bottom scores."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .cohorts import CohortError, CohortSpec
from .query import evaluate_cohort_query


def cohort_mask(frame: pd.DataFrame, spec: CohortSpec, score: np.ndarray | None = None,
                share: float | None = None) -> np.ndarray:
    """Which rows of a frame belong to the cohort.

    Parameters
    ----------
    frame : DataFrame
        Rows to select from.
    spec : CohortSpec
        The cohort.
    score : ndarray, optional
        The score per row (needed for ``top``/``bottom``).
    share : float, optional
        For ``top``/``bottom``: select this share of the rows instead of N (used at
        baseline, so that the baseline cohort is the same share of its sample).

    Raises
    ------
    CohortError
        When the query cannot be evaluated or does not give True/False per row, a segment
        column is missing, or no score is given for ``top``/``bottom``.
    """
    if spec.kind == "query":
        return evaluate_cohort_query(frame, spec.query)
    if spec.kind == "segment":
        if spec.column not in frame.columns:
            raise CohortError(f"cohort segment column {spec.column!r} is not a column of the data")
        return (frame[spec.column].astype(object).astype(str) == str(spec.level)).to_numpy()
    if score is None:
        raise CohortError(f"cohort {spec.text!r} needs a score per row; the model's prediction column is missing")
    s = np.asarray(score, dtype=float)
    k = min(len(s), spec.n) if share is None else min(len(s), int(math.ceil(share * len(s))))
    order = np.argsort(-s if spec.kind == "top" else s, kind="stable")
    mask = np.zeros(len(s), dtype=bool)
    mask[order[:k]] = True
    return mask
