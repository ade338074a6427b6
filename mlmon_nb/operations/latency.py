"""Latency: the window's and each day's p50 / p95 / p99 against the baseline band or an SLO.

A percentile is judged against the baseline band of the per-day percentile
(``mean + k sd`` of the baseline days, :data:`mlmon_nb.rules.BAND_SIGMAS`; for
single days k is raised by :func:`mlmon_nb.rules.bonferroni_sigmas` over the
days judged) *and* a floor above the baseline mean; only increases are
judged. ``thresholds.metrics.latency_<p>`` replaces the band by fixed limits.
Percentiles are of the finite latencies; the logged latencies that are not
finite become a ``data_quality`` check of their own (:func:`non_finite_decision`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..checks import SEVERITY, worst
from ..config import Thresholds
from ..profiles import non_finite_limits, non_finite_status, non_finite_text
from ..rules import BAND_SIGMAS, Band, bonferroni_sigmas
from .policy import MIN_CHANGE, PERCENTILES
from .result import Decision, LatencyResult, Limit


def band_limit(band: Band, floors: tuple[float, float], sigmas: float = BAND_SIGMAS) -> Limit:
    """Warn/alert edges of an increase: beyond ``mean + sigmas·sd`` *and* beyond ``mean·(1 + floor)``.

    Examples
    --------
    >>> b = Band(mean=40.0, sd=1.2, low_seen=38, high_seen=42, chunk_rows=700, n_chunks=12, scales_with_size=False)
    >>> lim = band_limit(b, (0.1, 0.25))
    >>> round(lim.warn_at, 2), round(lim.alert_at, 2)
    (44.0, 50.0)
    """
    # A baseline whose days trend (traffic growing) is judged from its healthiest (lowest) end.
    centre = band.centre("up")
    edge = band.limits(sigmas=sigmas, worse="up")[1]
    return Limit("baseline_band", centre, band.spread, max(edge, centre * (1 + floors[0])),
                 max(edge, centre * (1 + floors[1])))


def _trend(band: Band | None, what: str) -> dict[str, str]:
    """The baseline days' trend, for a check's details (empty without one)."""
    text = band.trend_sentence(what, " ms") if band is not None else None
    return {"baseline_trend": text, "compared_with": band.compared_with("up")} if text else {}


def slo_limit(spec: Mapping[str, Any] | None) -> Limit | None:
    """Fixed limits from ``Thresholds.metric(name)`` (None when not configured).

    Examples
    --------
    >>> slo_limit({"alert": 200}).warn_at
    200.0
    >>> slo_limit(None) is None
    True
    """
    if not spec or ("warn" not in spec and "alert" not in spec):
        return None
    alert = float(spec.get("alert", spec.get("warn")))
    return Limit("slo", None, None, float(spec.get("warn", alert)), alert)


def latency(window: Mapping[str, float | None], daily: pd.DataFrame, bands: Mapping[str, Band | None],
            thresholds: Thresholds, baseline: Mapping[str, float | None],
            min_day_rows: float = 0.0, histogram: Mapping[str, int] | None = None,
            baseline_histogram: Mapping[str, int] | None = None) -> LatencyResult:
    """Judge the window's and each day's latency percentiles.

    Parameters
    ----------
    window : mapping
        ``p50``, ``p95``, ``p99`` of the window (ms).
    daily : DataFrame
        ``day``, ``rows`` and the three percentiles per day.
    bands : mapping
        Percentile → the baseline's per-day band (None when absent).
    thresholds : Thresholds
        The model's thresholds: fixed limits ``metric("latency_<p>")``
        override the bands.
    baseline : mapping
        The baseline window's percentiles, for display.
    min_day_rows : float
        Days with fewer rows are shown but not judged (their percentiles are
        noisier than the baseline days the band came from).
    histogram, baseline_histogram : mapping, optional
        Latency counts per bin of the window and of the baseline window, for display.
    """
    daily = daily.copy()
    judged = daily["rows"] >= min_day_rows
    n_days = max(1, int(judged.sum()))
    floors = MIN_CHANGE["latency"]
    limits, daily_limits, decisions = {}, {}, []
    daily["status"] = "ok"
    for p in PERCENTILES:
        slo = slo_limit(thresholds.metric(f"latency_{p}"))
        band = bands.get(p)
        if slo is not None:
            limits[p] = daily_limits[p] = slo
        elif band is not None:
            limits[p] = band_limit(band, floors)
            daily_limits[p] = band_limit(band, floors, bonferroni_sigmas(BAND_SIGMAS, n_days))
        else:
            continue
        value = window.get(p)
        lim = limits[p]
        status = lim.status(value)
        base = baseline.get(p) or lim.mean
        text = ""
        if status != "ok":
            text = (f"Latency {p} is {value:.0f} ms, {value / base:.1f}× the baseline's {base:.0f} ms"
                    if base else f"Latency {p} is {value:.0f} ms (limit {lim.alert_at:.0f} ms)")
        decisions.append(Decision("operational", f"latency_{p}", status, lim.method, value,
                                  lim.alert_at if status != "warn" else lim.warn_at, None, None, text,
                                  {"warn_threshold": lim.warn_at, "baseline_mean": lim.mean, "baseline_sd": lim.sd,
                                   **_trend(band if slo is None else None, f"daily latency {p}")}))
        dlim = daily_limits[p]
        st = [dlim.status(v) if j else "ok" for v, j in zip(daily[p], judged)]
        daily["status"] = [worst([a, b]) for a, b in zip(daily["status"], st)]
        sev = np.array([SEVERITY[s] for s in st])
        if not len(daily):
            continue
        i = int(np.lexsort((daily[p].fillna(-np.inf).to_numpy(), sev))[-1])
        row = daily.iloc[i]
        flagged = int((sev > 0).sum())
        dtext = ""
        if st[i] != "ok":
            dtext = f"Latency {p} reached {row[p]:.0f} ms on {row['day']:%a %Y-%m-%d} ({flagged} day(s) flagged)"
        decisions.append(Decision("operational", f"latency_{p}_daily", st[i], dlim.method, float(row[p]),
                                  dlim.alert_at if st[i] != "warn" else dlim.warn_at, None,
                                  row["day"].isoformat(), dtext,
                                  {"days_flagged": flagged, "days_judged": n_days, "warn_threshold": dlim.warn_at}))
    return LatencyResult(window=dict(window), daily=daily, limits=limits, daily_limits=daily_limits,
                         baseline=dict(baseline), decisions=tuple(decisions), histogram=histogram,
                         baseline_histogram=baseline_histogram)


def non_finite_decision(column: str, count: int, rows: int, baseline_count: int | None) -> Decision:
    """The ``data_quality`` check ``<column>:non_finite`` of the latencies logged as inf, -inf or NaN.

    Judged by :func:`mlmon_nb.profiles.non_finite_status` (alert from 1 % of
    the logged latencies, warn from 0.1 %, at least warn when the baseline
    window had none); they are left out of the percentiles.

    Parameters
    ----------
    column : str
        The latency column.
    count : int
        Non-finite latencies in the window.
    rows : int
        Latencies logged in the window (finite or not; missing ones left out).
    baseline_count : int or None
        Non-finite latencies of the baseline window (None: not counted by that baseline).

    Examples
    --------
    >>> d = non_finite_decision("latency_ms", 120, 1000, 0)
    >>> d.subject, d.status, d.value, d.details["count"]
    ('latency_ms:non_finite', 'alert', 0.12, 120)
    """
    status = non_finite_status(count, rows, baseline_count)
    warn_at, alert_at = non_finite_limits(baseline_count)
    text = non_finite_text(column, count, rows, baseline_count, "the latency percentiles") if status != "ok" else ""
    return Decision("data_quality", f"{column}:non_finite", status, "non_finite", count / rows if rows else 0.0,
                    warn_at if status == "warn" else alert_at, None, None, text,
                    {"count": int(count), "rows": int(rows), "baseline_count": baseline_count,
                     "warn_threshold": warn_at})
