"""Outcome rates of model-driven against organic exposures, in both periods.

Organic (or randomised) exposures are the unbiased yardstick: a model whose
choices do no better than them is reinforcing its own picks rather than
finding what users want. Binary outcomes get Wilson intervals and, between the
two kinds, Newcombe's interval of the difference; graded outcomes a normal
interval of the mean.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from .columns import Columns, as_bool
from .reinforcement import rate_difference_interval, wilson_interval
from .result import Outcomes

__all__ = ["analyse_outcomes"]

NORMAL_95 = 1.96
"""Two-sided 95% quantile of the normal distribution (interval of a graded outcome's mean)."""


def analyse_outcomes(window: pd.DataFrame, reference: pd.DataFrame, columns: Columns,
                     window_groups: Mapping[str, tuple[int, int, float, float]] | None = None,
                     window_binary: bool = True) -> Outcomes | None:
    """Outcome rate on model-driven against organic exposures, both periods (None without both columns).

    ``window_groups`` (the summary path): the window's ``{group: (rows, labelled, sum, sum of squares)}``
    and ``window_binary`` whether its outcomes are all 0 or 1, from an aggregation; ``window`` then
    needs only its columns.
    """
    exposed, outcome = columns.exposed, columns.outcome
    if not exposed or not outcome:
        return None
    rows = []
    lift = {}
    for period, frame in (("baseline", reference), ("window", window)):
        if exposed not in frame.columns or outcome not in frame.columns:
            continue
        if period == "window" and window_groups is not None:
            groups, binary = window_groups, window_binary
        else:
            groups, binary = _groups(frame, exposed, outcome)
        counts = {}
        for group in ("model-driven", "organic"):
            n_rows, n, k, k2 = groups.get(group, (0, 0, 0.0, 0.0))
            if binary:
                lo, hi = wilson_interval(k, n)
            elif n > 1:
                mean = k / n
                se = math.sqrt(max(k2 - n * mean * mean, 0.0) / (n - 1)) / math.sqrt(n)
                lo, hi = mean - NORMAL_95 * se, mean + NORMAL_95 * se
            else:
                lo, hi = np.nan, np.nan
            rows.append({"period": period, "exposures": group, "rows": int(n_rows), "labelled": int(n),
                         "positives": k if binary else None, "rate": k / n if n else float("nan"),
                         "ci low": lo, "ci high": hi})
            counts[group] = (k, n)
        if binary and all(counts.get(g, (0, 0))[1] > 0 for g in ("model-driven", "organic")):
            (k1, n1), (k2, n2) = counts["model-driven"], counts["organic"]
            d, lo, hi = rate_difference_interval(k1, n1, k2, n2)
            lift[period] = {"difference": d, "ci_low": lo, "ci_high": hi}
    remarks = ()
    if rows and not any(r["labelled"] for r in rows if r["period"] == "window" and r["exposures"] == "organic"):
        remarks = ("The window has no labelled organic (exposed = false) rows: the model's lift over "
                   "organic exposure cannot be estimated.",)
    return Outcomes(rates=pd.DataFrame(rows), lift=lift, remarks=remarks)


def _groups(frame: pd.DataFrame, exposed: str, outcome: str) -> tuple[dict, bool]:
    """``{group: (rows, labelled, sum, sum of squares)}`` of a frame's outcomes, and whether they are all 0 or 1."""
    flag = as_bool(frame[exposed])
    y = pd.to_numeric(frame[outcome], errors="coerce")
    binary = bool(y.dropna().isin([0, 1]).all())
    out = {}
    for group, mask in (("model-driven", flag.eq(True).fillna(False)), ("organic", flag.eq(False).fillna(False))):
        mask = mask.to_numpy(dtype=bool)
        yy = y[mask].dropna()
        out[group] = (int(mask.sum()), int(len(yy)), float(yy.sum()), float((yy * yy).sum()))
    return out, binary
