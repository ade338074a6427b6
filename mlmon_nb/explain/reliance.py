"""Outcome reliance: how strongly observed outcomes follow the model's attribution of one feature.

With an unchanged model and unchanged inputs the SHAP values do not change, but the
outcome's response to them does: this is the figure that moves under concept drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MIN_RELIANCE_ROWS = 100
"""Fewest labelled rows for an outcome reliance."""
MIN_RELIANCE_EVENTS = 10
"""Fewest events of each class (classifiers) for an outcome reliance."""


@dataclass(frozen=True)
class Reliance:
    """Fitted slope of the outcome on one feature's attribution (1 = as the model assumes)."""

    value: float
    se: float
    rows: int


NO_RELIANCE = Reliance(float("nan"), float("nan"), 0)


def target_array(target: Any, n: int) -> np.ndarray:
    """Outcomes as floats (NaN where unknown or not a number); all NaN without a target.

    Examples
    --------
    >>> target_array(np.array([1, None, "0"], dtype=object), 3).tolist()
    [1.0, nan, 0.0]
    """
    if target is None:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(np.asarray(target, dtype=object)), errors="coerce").to_numpy(dtype=float)


def reliance(output: np.ndarray, phi: np.ndarray, y: np.ndarray, task: str = "binary_classification") -> Reliance:
    """How strongly outcomes follow one feature's attribution.

    Fits ``rho`` in ``logit P(y = 1) = output - phi + rho * phi`` by maximum likelihood
    (Newton's method; binary classification) or ``y = output - phi + rho * phi + noise``
    by least squares (regression). Rows with a missing ``y`` are ignored.

    Parameters
    ----------
    output : ndarray
        The model's output per row (log-odds for classifiers).
    phi : ndarray
        The feature's attribution per row, in the same units.
    y : ndarray
        Observed outcomes (0/1 for classifiers).
    task : str
        ``binary_classification`` or ``regression``.

    Returns
    -------
    Reliance
        NaN figures when there are too few labelled rows or events, or no attribution.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> phi = rng.normal(size=20000)
    >>> y = (rng.random(20000) < 1 / (1 + np.exp(-(-1 - 0.5 * phi)))).astype(float)
    >>> round(reliance(-1 + phi, phi, y).value, 1)
    -0.5
    """
    f = np.asarray(output, dtype=float)
    x = np.asarray(phi, dtype=float)
    yy = np.asarray(y, dtype=float)
    ok = np.isfinite(yy) & np.isfinite(f) & np.isfinite(x)
    f, x, yy = f[ok], x[ok], yy[ok]
    n = int(len(yy))
    nan = Reliance(float("nan"), float("nan"), n)
    if n < MIN_RELIANCE_ROWS or not np.any(x != 0):
        return nan
    offset = f - x
    if task == "regression":
        sxx = float(np.sum(x * x))
        if sxx <= 0:
            return nan
        rho = float(np.sum(x * (yy - offset)) / sxx)
        resid = yy - offset - rho * x
        sigma2 = float(np.sum(resid * resid) / max(n - 1, 1))
        return Reliance(rho, math.sqrt(sigma2 / sxx), n)
    if task != "binary_classification":
        return nan
    positives = float(yy.sum())
    if min(positives, n - positives) < MIN_RELIANCE_EVENTS:
        return nan
    rho, info = 1.0, 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(offset + rho * x, -35, 35)))
        grad = float(np.sum(x * (yy - p)))
        info = float(np.sum(x * x * p * (1 - p)))
        if info <= 1e-12:
            return nan
        step = float(np.clip(grad / info, -2.0, 2.0))
        rho = float(np.clip(rho + step, -25.0, 25.0))
        if abs(step) < 1e-9:
            break
    p = 1.0 / (1.0 + np.exp(-np.clip(offset + rho * x, -35, 35)))
    info = float(np.sum(x * x * p * (1 - p)))
    return Reliance(rho, 1.0 / math.sqrt(info) if info > 0 else float("nan"), n)
