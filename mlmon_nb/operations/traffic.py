"""Traffic: requests per hour, per day and in the window against the baseline's hour-of-week profile.

Expected requests are the baseline's hour-of-week profile (mean requests per
hour of week over ``baseline.window``) summed over the hours compared; counts
are judged with the quasi-Poisson rate-ratio test of
:func:`~mlmon_nb.operations.counts.rate_ratio_test`, the dispersion φ measured
on the baseline's own days (:func:`baseline_traffic_dispersion`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..checks import SEVERITY
from ..errors import UsageError
from ..rules import decide
from .counts import overdispersion, rate_ratio_test
from .policy import ALPHA, MIN_CHANGE
from .result import Decision, TrafficResult

_HOUR = pd.Timedelta(hours=1)


def hour_of_week(ts: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Hour of week of UTC timestamps, Monday 00:00 = 0 (as in the baseline's profile)."""
    idx = pd.DatetimeIndex(ts)
    return np.asarray(idx.day_of_week * 24 + idx.hour, dtype=int)


def expected_traffic(per_how: Sequence[float], start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Expected requests per clock hour of ``[start, end)`` from an hour-of-week profile.

    Parameters
    ----------
    per_how : sequence of 168 floats
        Mean requests per hour of week, Monday 00:00 UTC first.
    start, end : datetime
        The period (tz-aware; naive means UTC).

    Returns
    -------
    DataFrame
        ``hour`` (UTC start of the clock hour), ``how`` (hour of week),
        ``covered`` (share of the hour inside the period) and ``expected``
        (profile × covered). Hours cut by the period's edges are pro-rated.
    """
    profile = np.asarray(per_how, dtype=float)
    if profile.shape != (168,):
        raise UsageError(f"The 'per_how' parameter of expected_traffic must hold 168 values. Got {profile.size} instead.")
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    s = s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC")
    e = e.tz_localize("UTC") if e.tzinfo is None else e.tz_convert("UTC")
    hours = pd.date_range(s.floor("h"), e.ceil("h"), freq="h", inclusive="left")
    lo = np.maximum(hours, s)
    hi = np.minimum(hours + _HOUR, e)
    covered = np.clip((hi - lo) / _HOUR, 0.0, 1.0)
    how = hour_of_week(hours)
    return pd.DataFrame({"hour": hours, "how": how, "covered": covered, "expected": profile[how] * covered})


def profile_rates(ops: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Requests per hour, and requests counted, for each hour of week of the baseline window.

    ``rows_per_hour_of_week`` is each hour-of-week's count divided by the
    window's length in weeks. When the window is not a whole number of weeks
    some hours of the week occur once more than others, so the rate is the
    count divided by that hour's own occurrences. Hours of the week the
    window never covers have a NaN rate.
    """
    start, end = (pd.Timestamp(x) for x in ops["window"])
    weeks = (end - start) / pd.Timedelta(days=7)
    counts = np.asarray(ops["rows_per_hour_of_week"], dtype=float) * weeks
    seen = expected_traffic(np.ones(168), start, end).groupby("how")["covered"].sum()
    occurrences = seen.reindex(range(168), fill_value=0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(occurrences > 0, counts / occurrences, np.nan)
    return rates, counts


def baseline_traffic_dispersion(ops: Mapping[str, Any]) -> tuple[float, int]:
    """Dispersion φ of the baseline's full days around its own hour-of-week profile, and its dof.

    The profile was estimated from those days, so the degrees of freedom are
    the days minus the distinct weekdays among them (one mean per weekday).
    """
    start, end = (pd.Timestamp(x) for x in ops["window"])
    grid = expected_traffic(np.nan_to_num(profile_rates(ops)[0]), start, end)
    grid["day"] = grid["hour"].dt.floor("D")
    days = grid.groupby("day").agg(expected=("expected", "sum"), covered=("covered", "sum"))
    days = days[days["covered"] >= 24 - 1e-9]
    observed = np.array([ops["rows_per_day"].get(str(d.date()), 0) for d in days.index], dtype=float)
    dof = len(days) - days.index.day_of_week.nunique()
    return overdispersion(observed, days["expected"].to_numpy(), dof), int(max(dof, 0))


def compare_counts(cells: pd.DataFrame, dispersion: float, floors: tuple[float, float] = MIN_CHANGE["traffic"],
                   alpha: float = ALPHA) -> pd.DataFrame:
    """Judge observed against expected counts, one row per cell (hour, day or window).

    ``cells`` holds ``observed``, ``expected`` and ``baseline`` (the requests
    the baseline window counted in the same hours of the week). Returns a copy
    with ``ratio``, ``p_value``, ``low``/``high`` (the ratio's alert edges,
    normal approximation) and ``status``. Cells are Bonferroni-corrected
    among themselves.
    """
    out = cells.copy()
    m = max(1, int((out["expected"] > 0).sum()))
    out["ratio"] = np.where(out["expected"] > 0, out["observed"] / out["expected"].where(out["expected"] > 0),
                            np.where(out["observed"] > 0, np.inf, 1.0))
    out["p_value"] = [rate_ratio_test(o, e, b, dispersion)
                      for o, e, b in zip(out["observed"], out["expected"], out["baseline"])]
    z = sps.norm.isf(alpha / (2 * m))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_sd = np.sqrt(dispersion * (1 / out["expected"] + 1 / out["baseline"]))
    out["low"] = np.clip(np.minimum(1 - z * rel_sd, 1 - floors[1]), 0, None)
    out["high"] = np.maximum(1 + z * rel_sd, 1 + floors[1])
    out["status"] = [decide(abs(r - 1), floors[0], floors[1], significant=p < alpha / m) if e > 0 or o > 0 else "ok"
                     for p, r, e, o in zip(out["p_value"], out["ratio"], out["expected"], out["observed"])]
    return out


def _cell_decision(subject: str, cells: pd.DataFrame, what: str | None, dispersion: float) -> Decision:
    """One check for a set of judged cells (hours, days, or the window when ``what`` is None).

    The worst cell decides: the most severe status, then the largest relative change.
    """
    order = cells.assign(_sev=cells["status"].map(SEVERITY), _dev=(cells["ratio"] - 1).abs()
                         ).sort_values(["_sev", "_dev"], ascending=False, kind="stable")
    row = cells.loc[order.index[0]]
    flagged = int((cells["status"] != "ok").sum())
    ratio = float(row["ratio"])
    when = row[what] if what else None
    text = ""
    if row["status"] != "ok":
        where = "in the window" if when is None else f"on {when:%a %Y-%m-%d}" + (f" at {when:%H}:00" if what == "hour" else "")
        text = (f"Traffic {'spike' if ratio > 1 else 'drop'} {where}: {row['observed']:,.0f} requests, "
                f"{ratio:.0%} of the {row['expected']:,.0f} expected" + (f" ({flagged} {what}s flagged)" if flagged > 1 else ""))
    details = {"observed": float(row["observed"]), "expected": float(row["expected"]), "dispersion": dispersion,
               "alpha": ALPHA, "warn_change": MIN_CHANGE["traffic"][0], "alert_change": MIN_CHANGE["traffic"][1]}
    if what:
        details[f"{what}s_flagged"] = flagged
    return Decision("operational", subject, str(row["status"]), "poisson_rate_ratio", ratio,
                    float(row["high"] if ratio >= 1 else row["low"]), float(row["p_value"]),
                    when.isoformat() if when is not None else None, text, details)


def traffic(hourly_counts: pd.Series, ops: Mapping[str, Any], start: dt.datetime, end: dt.datetime) -> TrafficResult:
    """Compare a window's requests per hour, per day and in total with the baseline's profile.

    Parameters
    ----------
    hourly_counts : Series
        Requests per clock hour (index: tz-aware UTC hour starts); hours
        without requests may be absent.
    ops : mapping
        The baseline's ``operational`` figures (``rows_per_hour_of_week``,
        ``rows_per_day``, ``window``).
    start, end : datetime
        The window.

    Raises
    ------
    UsageError
        When the baseline window is shorter than a week (some hours of the
        week have no expectation).
    """
    rates, baseline_counts = profile_rates(ops)
    if np.isnan(rates).any():
        raise UsageError("The 'ops' parameter of traffic must come from a baseline window of at least one week.")
    dispersion, dof = baseline_traffic_dispersion(ops)
    grid = expected_traffic(rates, start, end)
    counts = hourly_counts.copy()
    counts.index = pd.DatetimeIndex(counts.index).tz_convert("UTC")
    grid["observed"] = counts.reindex(grid["hour"]).fillna(0).to_numpy(dtype=float)
    grid["baseline"] = baseline_counts[grid["how"]]
    hourly = compare_counts(grid, dispersion)
    grid["day"] = grid["hour"].dt.floor("D")
    cols = ["observed", "expected", "baseline"]
    daily = compare_counts(grid.groupby("day", as_index=False)[cols].sum(), dispersion)
    total = compare_counts(pd.DataFrame([grid[cols].sum()]), dispersion)
    decisions = (
        _cell_decision("traffic", total, None, dispersion),
        _cell_decision("traffic_daily", daily, "day", dispersion),
        _cell_decision("traffic_hourly", hourly, "hour", dispersion),
    )
    return TrafficResult(hourly=hourly, daily=daily, dispersion=dispersion, dispersion_dof=dof, decisions=decisions)
