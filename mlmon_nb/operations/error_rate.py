"""Error rate: the window's share of requests with an error against the baseline's rate.

One-sided binomial test of the window's error count against the baseline
rate, sample sizes divided by the band's over-dispersion relative to
binomial noise, and a floor on the relative increase; or fixed limits from
``thresholds.metrics.error_rate``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..rules import Band, decide
from .counts import binomial_critical_rate, binomial_excess, dispersion_from_band
from .latency import slo_limit
from .policy import ALPHA, MIN_CHANGE
from .result import Decision, ErrorResult


def error_decision(errors: int, rows: int, p0: float | None, band: Band | None, slo: Mapping[str, Any] | None,
                   baseline_rows: int = 0) -> Decision:
    """Judge an error count: fixed limits when configured, else the binomial rule against ``p0``.

    Parameters
    ----------
    errors, rows : int
        Requests with an error, and all requests, in the window.
    p0 : float or None
        The baseline's error rate.
    band : Band or None
        The baseline's per-day error-rate band (its over-dispersion widens the test).
    slo : mapping or None
        Fixed limits, ``Thresholds.metric("error_rate")``.
    baseline_rows : int
        Requests of the baseline window (a rate of 0 there becomes half an error in them).
    """
    rate = errors / rows if rows else float("nan")
    fixed = slo_limit(slo)
    if fixed is not None:
        status = fixed.status(rate)
        text = f"Error rate {rate:.2%} (limit {fixed.alert_at:.2%})" if status != "ok" else ""
        return Decision("operational", "error_rate", status, "slo", rate,
                        fixed.alert_at if status != "warn" else fixed.warn_at, None, None, text,
                        {"errors": errors, "rows": rows, "warn_threshold": fixed.warn_at})
    # No error in the baseline: a rate of exactly 0 would make one error infinitely unlikely.
    p_eff = p0 if p0 and p0 > 0 else 0.5 / (baseline_rows + 1)
    phi = dispersion_from_band(band, p_eff)
    p = binomial_excess(errors, rows, p_eff, phi)
    floors = MIN_CHANGE["error_rate"]
    status = decide(rate / p_eff - 1, floors[0], floors[1], significant=p < ALPHA)
    critical = binomial_critical_rate(rows, p_eff, ALPHA, phi)
    threshold = max(critical, p_eff * (1 + floors[1 if status != "warn" else 0]))
    text = (f"Error rate {rate:.2%} against {p_eff:.2%} in the baseline ({rate / p_eff:.1f}×)"
            if status != "ok" else "")
    return Decision("operational", "error_rate", status, "binomial", rate, threshold, p, None, text,
                    {"errors": errors, "rows": rows, "baseline_rate": p_eff, "dispersion": phi, "alpha": ALPHA,
                     "warn_change": floors[0], "alert_change": floors[1]})


def error_rate(errors: int, rows: int, daily: pd.DataFrame, p0: float | None, band: Band | None,
               slo: Mapping[str, Any] | None, baseline_rows: int = 0) -> ErrorResult:
    """The window's errors, judged when there is a baseline rate or a fixed limit, and per day with intervals.

    ``daily`` holds ``day``, ``rows``, ``errors`` and ``error_rate``; each day
    gets its 95 % Clopper–Pearson interval (``ci_low``, ``ci_high``).
    """
    judged = p0 is not None or slo_limit(slo) is not None
    decisions = (error_decision(errors, rows, p0, band, slo, baseline_rows),) if judged else ()
    ci = [sps.binomtest(int(k), int(n)).proportion_ci() if n else None
          for k, n in zip(daily["errors"], daily["rows"])]
    per_day = daily[["day", "rows", "errors", "error_rate"]].assign(
        ci_low=[c.low if c else np.nan for c in ci], ci_high=[c.high if c else np.nan for c in ci])
    return ErrorResult(errors=errors, rows=rows, baseline_rate=p0, daily=per_day, decisions=decisions)
