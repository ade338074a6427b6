"""Operations: traffic, latency, errors, serving versions and data quality of a window.

A window is compared with the operational baseline (``manifest["operational"]``
and the ``operational/...`` and ``quality/...`` bands of the archived
:class:`~mlmon_nb.baseline.Baseline`). Window aggregates are computed by
DuckDB over the logs' ``[start, end)`` (counts per hour, per day and per
serving version, latency quantiles, error counts, per-feature quality counts):
only a few small tables ever reach pandas, so a window of billions of rows
costs a handful of column scans.

Decision rules
--------------
Every check alerts only when a change is both *unusual* for the baseline (a
test or band) and *large enough to matter* (a floor in :data:`MIN_CHANGE`,
``(warn, alert)``); the same pair of requirements as data drift, so big
windows do not alert on negligible changes nor small windows on noise.
Unusual means a p-value below :data:`ALPHA` after Bonferroni correction over
the days, hours or features the check covers.

traffic (window, each day, each hour)
    Expected requests are the baseline's hour-of-week profile (mean requests
    per hour-of-week over ``baseline.window``) summed over the hours compared. Counts are compared with the *conditional binomial
    test of two Poisson rates*: given ``O`` requests now and ``B`` in the
    baseline over the same hours-of-week, ``O ~ Binomial(O + B, E / (E + B))``
    when nothing changed (``E`` = expected). Traffic is usually noisier than
    Poisson: both counts are divided by the dispersion ``φ`` (Pearson χ² per
    degree of freedom of the baseline's days around the profile, at least 1)
    — quasi-Poisson. The daily ``φ`` is also used for hours, which is
    conservative (extra-Poisson noise grows with the counted period).
    Floors: ``|O/E − 1|`` ≥ 0.2 (warn), 0.5 (alert).
latency p50 / p95 / p99 (window and each day)
    The baseline band of the per-day percentile (``mean ± 3 sd`` of the
    baseline days; for single days the 3 is raised so that a week of days has
    the same false-alarm rate as one comparison). Only increases are judged.
    Floors: +10 % (warn), +25 % (alert) over the baseline mean.
    ``thresholds.metrics.latency_p95: {warn: 150, alert: 200}`` (ms) in
    mlmon.yaml replaces the band by fixed limits (an SLO).
error_rate
    One-sided binomial test of the window's error count against the
    baseline rate, with the sample sizes divided by the band's over-dispersion
    relative to binomial noise. Floors: +25 % (warn), ×2 (alert).
    ``thresholds.metrics.error_rate`` gives fixed limits instead.
serving_version
    Share of requests served by the analysed version, against its share in
    the baseline window (100 % without one): one-sided binomial test of a
    drop. Floors: a drop of 10 points (warn), 50 points (alert); not serving
    at all is an alert.
<column>:missing_rate
    One-sided binomial test against the reference missing rate (over-dispersion
    from the ``quality/missing_rate`` band). Floors: +1 point (warn), +5 (alert).
<column>:out_of_range
    Finite values below the reference minimum or above its maximum. For
    continuous data a new value falls outside the range of ``N`` reference
    values with probability ``2 / (N + 1)``; one-sided binomial test against
    that. Floors: 0.1 % of values (warn), 1 % (alert).
<column>:unseen_categories
    Rows whose level is not among the reference's levels, checked only when
    the reference profile lists every level. The chance of an unseen level
    when nothing changed is the Good–Turing estimate ``(n1 + 1) / (N + 1)``
    (``n1`` levels seen once among ``N`` reference values); one-sided binomial
    test. Floors: 0.1 % of rows (warn), 1 % (alert).
<column>:type
    DuckDB type of the column in the window's files against the reference's:
    same family (e.g. INTEGER → BIGINT) ok, integer ↔ floating point warn,
    any other change (number ↔ string, string ↔ boolean, column gone) alert.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats as sps

from .rules import BAND_SIGMAS, Band
from .checks import SEVERITY, Recorder, worst
from .config import ModelConfig
from .data import _literal, _quote, _time_filter, connect, describe, resolve_source, window_types

logger = logging.getLogger(__name__)

#: Family-wise false-alarm rate of one check (Bonferroni over the days, hours or features it covers).
ALPHA = 0.001
#: Smallest change that matters, (warn, alert), per check (see the module docstring for units).
MIN_CHANGE = {
    "traffic": (0.2, 0.5),
    "latency": (0.1, 0.25),
    "error_rate": (0.25, 1.0),
    "serving_version": (0.1, 0.5),
    "missing_rate": (0.01, 0.05),
    "out_of_range": (0.001, 0.01),
    "unseen_categories": (0.001, 0.01),
}
#: Machine name → display name of every decision method used here.
METHODS = {
    "poisson_rate_ratio": "conditional binomial test of two Poisson rates (quasi-Poisson)",
    "baseline_band": "baseline band of per-day values (mean ± k sd)",
    "slo": "fixed limits from thresholds.metrics in mlmon.yaml",
    "binomial": "one-sided binomial test against the baseline rate",
    "range_binomial": "share outside the reference range, binomial test against 2/(N+1)",
    "good_turing_binomial": "share of unseen levels, binomial test against the Good-Turing rate",
    "type_family": "DuckDB type of the window's files against the reference's",
}
PERCENTILES = ("p50", "p95", "p99")
_HOUR = pd.Timedelta(hours=1)


# --------------------------------------------------------------------------- pure statistics

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
        raise ValueError(f"The 'per_how' parameter of expected_traffic must hold 168 values. Got {profile.size} instead.")
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    s = s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC")
    e = e.tz_localize("UTC") if e.tzinfo is None else e.tz_convert("UTC")
    hours = pd.date_range(s.floor("h"), e.ceil("h"), freq="h", inclusive="left")
    lo = np.maximum(hours, s)
    hi = np.minimum(hours + _HOUR, e)
    covered = np.clip((hi - lo) / _HOUR, 0.0, 1.0)
    how = hour_of_week(hours)
    return pd.DataFrame({"hour": hours, "how": how, "covered": covered, "expected": profile[how] * covered})


def overdispersion(observed: Sequence[float], expected: Sequence[float], dof: int) -> float:
    """Quasi-Poisson dispersion: Pearson χ² of counts around their expectation per degree of freedom.

    Returns at least 1 (never less noisy than Poisson), and 1 when ``dof`` < 1.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    ok = e > 0
    if dof < 1 or not ok.any():
        return 1.0
    return max(1.0, float(np.sum((o[ok] - e[ok]) ** 2 / e[ok]) / dof))


def rate_ratio_test(observed: float, expected: float, baseline: float, dispersion: float = 1.0) -> float:
    """Two-sided p-value that ``observed`` requests come from the baseline's rate.

    ``baseline`` requests were counted over the same hours-of-week in the
    baseline window, and ``expected`` is what the profile predicts for the
    compared period. Given both Poisson, ``observed`` is binomial on
    ``observed + baseline`` trials with probability ``expected / (expected +
    baseline)`` when the rate did not change; this accounts for the noise of
    the profile itself. With ``dispersion`` φ > 1 both counts are divided by φ.
    """
    if expected <= 0 and observed <= 0:
        return 1.0
    if baseline <= 0:
        return 0.0 if observed > 0 else 1.0
    k = int(round(observed / dispersion))
    n = k + int(round(baseline / dispersion))
    if n == 0:
        return 1.0
    return float(sps.binomtest(k, n, expected / (expected + baseline)).pvalue)


def binomial_excess(k: float, n: float, p0: float, dispersion: float = 1.0) -> float:
    """One-sided p-value P(X ≥ k) for X ~ Binomial(n, p0), sizes divided by ``dispersion``."""
    if n <= 0:
        return 1.0
    k_eff, n_eff = k / dispersion, n / dispersion
    if p0 <= 0:
        return 0.0 if k_eff > 0 else 1.0
    if p0 >= 1:
        return 1.0
    # sf(k - 1) = P(X >= k); the effective count may be fractional, so it is rounded.
    return float(sps.binom.sf(math.ceil(k_eff - 1e-9) - 1, max(1, round(n_eff)), p0))


def binomial_shortfall(k: float, n: float, p0: float) -> float:
    """One-sided p-value P(X ≤ k) for X ~ Binomial(n, p0)."""
    if n <= 0 or p0 <= 0:
        return 1.0
    if p0 >= 1:
        return 0.0 if k < n else 1.0
    return float(sps.binom.cdf(k, n, p0))


def binomial_critical_rate(n: float, p0: float, alpha: float = ALPHA, dispersion: float = 1.0) -> float:
    """Smallest rate whose count on ``n`` trials is significant (P(X ≥ k) < alpha)."""
    n_eff = max(1, round(n / dispersion))
    if p0 <= 0:
        return 1.0 / n_eff
    k = sps.binom.isf(alpha, n_eff, p0) + 1
    return float(min(1.0, k / n_eff))


def dispersion_from_band(band: Band | None, p0: float) -> float:
    """How much noisier a per-chunk rate was than binomial noise: sd² / (p0(1−p0)/chunk rows), at least 1."""
    if band is None or not (0 < p0 < 1) or not np.isfinite(band.sd) or band.chunk_rows <= 0:
        return 1.0
    return max(1.0, float(band.sd ** 2 / (p0 * (1 - p0) / band.chunk_rows)))


def bonferroni_sigmas(sigmas: float, tests: int) -> float:
    """The z giving ``tests`` one-sided comparisons the false-alarm rate of one at ``sigmas``."""
    if tests <= 1:
        return float(sigmas)
    return float(sps.norm.isf(sps.norm.sf(sigmas) / tests))


def decide(significant: bool, change: float, floors: tuple[float, float]) -> str:
    """``alert``/``warn`` when significant and the change reaches the alert/warn floor, else ``ok``."""
    if not significant or not np.isfinite(change):
        return "ok"
    if change >= floors[1]:
        return "alert"
    if change >= floors[0]:
        return "warn"
    return "ok"


def good_turing_unseen(frequencies: Mapping[str, float], n_valid: int) -> float:
    """Chance that a new value has a level never seen among ``n_valid`` reference values.

    Good–Turing: (levels seen exactly once + 1) / (n_valid + 1); the +1 keeps it
    positive when no level was seen once.
    """
    counts = np.round(np.asarray(list(frequencies.values()), dtype=float) * n_valid)
    singles = int(np.sum(counts == 1))
    return (singles + 1) / (n_valid + 1)


_FAMILIES = (
    ("integer", ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT")),
    ("floating", ("FLOAT", "DOUBLE", "REAL", "DECIMAL")),
    ("boolean", ("BOOLEAN",)),
    ("string", ("VARCHAR", "ENUM")),
    ("timestamp", ("TIMESTAMP", "DATE", "TIME")),
)


def type_family(dtype: str | None) -> str | None:
    """Family of a DuckDB type: integer, floating, boolean, string, timestamp or other (None if absent)."""
    if dtype is None:
        return None
    head = dtype.upper().split("(")[0].strip()
    for family, names in _FAMILIES:
        if any(head == n or head.startswith(n + " ") for n in names):
            return family
    return "other"


def type_status(reference: str | None, window: str | None) -> str:
    """ok for the same family, warn for integer ↔ floating point, alert for anything else."""
    if reference is None:
        return "ok"
    fr, fw = type_family(reference), type_family(window)
    if fw is None:
        return "alert"
    if fr == fw:
        return "ok"
    if {fr, fw} == {"integer", "floating"}:
        return "warn"
    return "alert"


# --------------------------------------------------------------------------- decisions and results

@dataclass(frozen=True)
class Decision:
    """One check to record: figures, status, and a plain sentence for findings."""

    kind: str
    subject: str
    status: str
    method: str
    value: float | None
    threshold: float | None = None
    p_value: float | None = None
    at: str | None = None
    text: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def record(self, recorder: Recorder) -> None:
        recorder.check(self.kind, self.subject, self.status, method=self.method, value=self.value,
                       threshold=self.threshold, p_value=self.p_value, at=self.at, **self.details)


def _severity_sorted(df: pd.DataFrame, then: Sequence[str] = ()) -> pd.DataFrame:
    if df.empty:
        return df
    out = df.assign(_sev=df["status"].map(SEVERITY))
    return out.sort_values(["_sev", *then], ascending=[False] + [True] * len(then), kind="stable"
                           ).drop(columns="_sev").reset_index(drop=True)


class _Result:
    decisions: list[Decision]

    @property
    def status(self) -> str:
        return worst(d.status for d in self.decisions)

    def record(self, recorder: Recorder) -> None:
        """Record every decision as a check."""
        for d in self.decisions:
            d.record(recorder)

    def _repr_html_(self) -> str:
        from .display import format_table

        return format_table(self.to_df())  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- traffic

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


def compare_counts(cells: pd.DataFrame, dispersion: float, floors=MIN_CHANGE["traffic"],
                   alpha: float = ALPHA) -> pd.DataFrame:
    """Judge observed against expected counts, one row per cell (hour, day or window).

    ``cells`` holds ``observed``, ``expected`` and ``baseline`` (the requests
    the baseline window counted in the same hours of the week). Adds
    ``ratio``, ``p_value``, ``low``/``high`` (the ratio's alert edges, normal
    approximation) and ``status``. Cells are Bonferroni-corrected among
    themselves.
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
    out["status"] = [decide(p < alpha / m, abs(r - 1), floors) if e > 0 or o > 0 else "ok"
                     for p, r, e, o in zip(out["p_value"], out["ratio"], out["expected"], out["observed"])]
    return out


@dataclass
class TrafficResult(_Result):
    """Requests of a window against the baseline's hour-of-week profile."""

    hourly: pd.DataFrame
    daily: pd.DataFrame
    total: pd.Series
    dispersion: float
    dispersion_dof: int
    weeks: float
    decisions: list[Decision] = field(default_factory=list)

    def to_df(self) -> pd.DataFrame:
        """One row per day of the window, flagged days first, then in time order."""
        df = self.daily.assign(day=self.daily["day"].dt.strftime("%a %Y-%m-%d"))
        df = df[["day", "observed", "expected", "ratio", "low", "high", "p_value", "status"]]
        return _severity_sorted(df.rename(columns={"observed": "requests", "ratio": "requests / expected",
                                                   "low": "alert below", "high": "alert above"}))

    def noise(self) -> str:
        """How noisy the baseline's daily traffic was, in words."""
        if self.dispersion_dof < 1:
            return ("The baseline window is too short to measure how much traffic varies from day to day "
                    "beyond chance: tests assume Poisson noise.")
        if self.dispersion <= 1.0:
            return (f"The baseline's day-to-day traffic varied no more than pure chance (Poisson) would make it "
                    f"({self.dispersion_dof} degrees of freedom).")
        return (f"The baseline's day-to-day traffic varied {self.dispersion:.2f} times as much as pure chance "
                f"(Poisson) would make it ({self.dispersion_dof} degrees of freedom); the tests allow for that.")

    def flagged_hours(self) -> pd.DataFrame:
        """Hours at warn or alert, the most severe and least likely first."""
        df = self.hourly[self.hourly["status"] != "ok"]
        df = df.assign(hour=df["hour"].dt.strftime("%a %Y-%m-%d %H:00"))
        cols = ["hour", "observed", "expected", "ratio", "p_value", "status"]
        return _severity_sorted(df[cols].rename(columns={"observed": "requests", "ratio": "requests / expected"}),
                                then=["p_value"])

    def plot(self, kind: str = "hourly"):
        from . import plots

        if kind == "hourly":
            return plots.traffic_hourly(self.hourly)
        raise ValueError(f"The 'kind' parameter of TrafficResult.plot must be 'hourly'. Got {kind!r} instead.")


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
    """
    rates, baseline_counts = profile_rates(ops)
    if np.isnan(rates).any():
        raise ValueError("The 'ops' parameter of traffic must come from a baseline window of at least one week.")
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
    weeks = (pd.Timestamp(ops["window"][1]) - pd.Timestamp(ops["window"][0])) / pd.Timedelta(days=7)
    res = TrafficResult(hourly=hourly, daily=daily, total=total.iloc[0], dispersion=dispersion, dispersion_dof=dof,
                        weeks=float(weeks))
    res.decisions = [
        _cell_decision("traffic", total, None, dispersion),
        _cell_decision("traffic_daily", daily, "day", dispersion),
        _cell_decision("traffic_hourly", hourly, "hour", dispersion),
    ]
    return res


# --------------------------------------------------------------------------- latency

@dataclass(frozen=True)
class Limit:
    """How one figure is judged: against a band (mean, sd) or fixed SLO limits."""

    method: str
    mean: float | None
    sd: float | None
    warn_at: float
    alert_at: float

    def status(self, value: float | None) -> str:
        if value is None or not np.isfinite(value):
            return "ok"
        if value >= self.alert_at:
            return "alert"
        if value >= self.warn_at:
            return "warn"
        return "ok"


def band_limit(band: Band, floors: tuple[float, float], sigmas: float = BAND_SIGMAS) -> Limit:
    """Warn/alert edges of an increase: beyond ``mean + sigmas·sd`` *and* beyond ``mean·(1 + floor)``."""
    edge = band.limits(sigmas=sigmas)[1]
    return Limit("baseline_band", band.mean, band.sd, max(edge, band.mean * (1 + floors[0])),
                 max(edge, band.mean * (1 + floors[1])))


def slo_limit(spec: Mapping[str, Any] | None) -> Limit | None:
    """Fixed limits from ``thresholds.metrics.<name>`` (None when not configured)."""
    if not spec or ("warn" not in spec and "alert" not in spec):
        return None
    alert = float(spec.get("alert", spec.get("warn")))
    return Limit("slo", None, None, float(spec.get("warn", alert)), alert)


@dataclass
class LatencyResult(_Result):
    """Latency percentiles of the window and of each day against the baseline."""

    window: dict[str, float]
    daily: pd.DataFrame
    limits: dict[str, Limit]
    daily_limits: dict[str, Limit]
    baseline: dict[str, float]
    histogram: dict[str, int] | None = None
    baseline_histogram: dict[str, int] | None = None
    decisions: list[Decision] = field(default_factory=list)

    def to_df(self) -> pd.DataFrame:
        """One row per percentile: baseline, window, edges and status, worst first."""
        rows = []
        for p in PERCENTILES:
            lim = self.limits.get(p)
            d = next((d for d in self.decisions if d.subject == f"latency_{p}"), None)
            rows.append({"percentile": p, "baseline (ms)": self.baseline.get(p), "window (ms)": self.window.get(p),
                         "change": (self.window[p] / self.baseline[p] - 1) if self.baseline.get(p) and
                         self.window.get(p) is not None else None,
                         "warn at (ms)": lim.warn_at if lim else None, "alert at (ms)": lim.alert_at if lim else None,
                         "judged by": {"baseline_band": "baseline band", "slo": "fixed limit (SLO)"}[lim.method]
                         if lim else "not judged",
                         "status": d.status if d else "ok"})
        return _severity_sorted(pd.DataFrame(rows))

    def daily_df(self) -> pd.DataFrame:
        """One row per day, in time order (days flagged are marked)."""
        df = self.daily.assign(day=self.daily["day"].dt.strftime("%a %Y-%m-%d"))
        return df[["day", "rows", *PERCENTILES, "status"]].rename(columns={p: f"{p} (ms)" for p in PERCENTILES})

    def plot(self, kind: str = "daily"):
        from . import plots

        if kind == "daily":
            return plots.latency_daily(self.daily, self.daily_limits, self.baseline)
        if kind == "distribution":
            return plots.latency_distribution(self.baseline_histogram or {}, self.histogram or {},
                                              self.baseline, self.window)
        raise ValueError(f"The 'kind' parameter of LatencyResult.plot must be 'daily' or 'distribution'. Got {kind!r} instead.")


def latency(window: Mapping[str, float], daily: pd.DataFrame, bands: Mapping[str, Band | None],
            slos: Mapping[str, Any], baseline: Mapping[str, float], min_day_rows: float = 0.0) -> LatencyResult:
    """Judge the window's and each day's latency percentiles.

    Parameters
    ----------
    window : mapping
        ``p50``, ``p95``, ``p99`` of the window (ms).
    daily : DataFrame
        ``day``, ``rows`` and the three percentiles per day.
    bands : mapping
        Percentile → the baseline's per-day band (None when absent).
    slos : mapping
        ``thresholds.metrics`` of the model (fixed limits override bands).
    baseline : mapping
        The baseline window's percentiles, for display.
    min_day_rows : float
        Days with fewer rows are shown but not judged (their percentiles are
        noisier than the baseline days the band came from).
    """
    daily = daily.copy()
    judged = daily["rows"] >= min_day_rows
    n_days = max(1, int(judged.sum()))
    floors = MIN_CHANGE["latency"]
    limits, daily_limits, decisions = {}, {}, []
    daily["status"] = "ok"
    for p in PERCENTILES:
        slo = slo_limit(slos.get(f"latency_{p}"))
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
                                  {"warn_threshold": lim.warn_at, "baseline_mean": lim.mean, "baseline_sd": lim.sd}))
        dlim = daily_limits[p]
        st = [dlim.status(v) if j else "ok" for v, j in zip(daily[p], judged)]
        daily["status"] = [worst([a, b]) for a, b in zip(daily["status"], st)]
        sev = np.array([SEVERITY[s] for s in st])
        i = int(np.lexsort((daily[p].fillna(-np.inf).to_numpy(), sev))[-1]) if len(daily) else None
        if i is None:
            continue
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
                         baseline=dict(baseline), decisions=decisions)


# --------------------------------------------------------------------------- errors

@dataclass
class ErrorResult(_Result):
    """The window's error rate against the baseline's."""

    errors: int
    rows: int
    baseline_rate: float | None
    dispersion: float
    daily: pd.DataFrame
    decisions: list[Decision] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.errors / self.rows if self.rows else float("nan")

    def to_df(self) -> pd.DataFrame:
        """One row per day, in time order, with 95 % Clopper–Pearson intervals."""
        df = self.daily.assign(day=self.daily["day"].dt.strftime("%a %Y-%m-%d"))
        return df[["day", "rows", "errors", "error_rate", "ci_low", "ci_high"]]

    def plot(self):
        from . import plots

        return plots.error_rate_daily(self.daily, self.baseline_rate,
                                      self.decisions[0].threshold if self.decisions else None)


def error_decision(errors: int, rows: int, p0: float | None, band: Band | None, slo: Mapping[str, Any] | None,
                   baseline_rows: int = 0) -> Decision:
    """Judge an error count: fixed limits when configured, else the binomial rule against ``p0``."""
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
    status = decide(p < ALPHA, rate / p_eff - 1, floors)
    critical = binomial_critical_rate(rows, p_eff, ALPHA, phi)
    threshold = max(critical, p_eff * (1 + floors[1 if status != "warn" else 0]))
    text = (f"Error rate {rate:.2%} against {p_eff:.2%} in the baseline ({rate / p_eff:.1f}×)"
            if status != "ok" else "")
    return Decision("operational", "error_rate", status, "binomial", rate, threshold, p, None, text,
                    {"errors": errors, "rows": rows, "baseline_rate": p_eff, "dispersion": phi, "alpha": ALPHA,
                     "warn_change": floors[0], "alert_change": floors[1]})


# --------------------------------------------------------------------------- serving versions

@dataclass
class VersionResult(_Result):
    """Requests per serving version in the window against the baseline window."""

    version: str
    table: pd.DataFrame
    decisions: list[Decision] = field(default_factory=list)

    def to_df(self) -> pd.DataFrame:
        """One row per version, most requests first."""
        cols = {"version": "version", "rows": "requests", "share": "share", "baseline share": "baseline share",
                "p50": "p50 (ms)", "p95": "p95 (ms)", "error_rate": "error rate", "analysed": "analysed",
                "in baseline": "in baseline"}
        return self.table[[c for c in cols if c in self.table.columns]].rename(columns=cols)


def serving_versions(per_version: pd.DataFrame, version: str, baseline_rows: Mapping[str, int] | None) -> VersionResult:
    """Is the analysed version actually serving, and which other versions are?

    Parameters
    ----------
    per_version : DataFrame
        ``version``, ``rows`` (and optionally ``p95``, ``error_rate``) in the window.
    version : str
        The version under analysis.
    baseline_rows : mapping, optional
        Rows per version in the baseline window; without it the version is
        expected to serve everything.
    """
    total = int(per_version["rows"].sum())
    base_total = sum((baseline_rows or {}).values())
    s0 = (baseline_rows or {}).get(version, 0) / base_total if base_total else 1.0
    table = per_version.copy()
    table["share"] = table["rows"] / total if total else 0.0
    table["baseline share"] = [(baseline_rows or {}).get(v, 0) / base_total if base_total else
                               (1.0 if v == version else 0.0) for v in table["version"]]
    table["analysed"] = table["version"] == version
    table["in baseline"] = [v in (baseline_rows or {}) for v in table["version"]] if baseline_rows else table["analysed"]
    table = table.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)
    k = int(table.loc[table["analysed"], "rows"].sum())
    share = k / total if total else 0.0
    p = binomial_shortfall(k, total, s0)
    floors = MIN_CHANGE["serving_version"]
    status = "alert" if k == 0 else decide(p < ALPHA, s0 - share, floors)
    others = table.loc[~table["analysed"], ["version", "rows", "share"]]
    text = ""
    if status != "ok":
        text = (f"Version {version} is not serving: 0 of {total:,} requests" if k == 0 else
                f"Version {version} served {share:.0%} of requests against {s0:.0%} in the baseline")
    dec = Decision("operational", "serving_version", status, "binomial", share, max(0.0, s0 - floors[1]), p, None,
                   text, {"version": version, "rows": k, "total_rows": total, "baseline_share": s0,
                          "other_versions": {str(v): int(r) for v, r in zip(others["version"], others["rows"])}})
    return VersionResult(version=version, table=table, decisions=[dec])


# --------------------------------------------------------------------------- data quality

@dataclass
class QualityResult(_Result):
    """Missing values, out-of-range values, unseen categories and type changes per column."""

    table: pd.DataFrame
    decisions: list[Decision] = field(default_factory=list)

    def to_df(self) -> pd.DataFrame:
        """One row per column, the worst first (shares as fractions, types as ``reference → window``)."""
        t = self.table
        types = [rt if rt == wt else f"{rt} → {wt}" if rt else f"{wt} (not in the reference)"
                 for rt, wt in zip(t["type (reference)"], t["type (window)"])]
        df = pd.DataFrame({"column": t["column"], "kind": t["kind"], "missing (reference)": t["missing (reference)"],
                           "missing (window)": t["missing (window)"], "out of range": t["out of range"],
                           "unseen levels": t["unseen levels"], "type": types, "status": t["status"]})
        return _severity_sorted(df, then=["column"])


def _rate_decision(column: str, what: str, k: int, n: int, p0: float, floors, tests: int, method: str,
                   dispersion: float = 1.0, baseline: float | None = None) -> Decision:
    share = k / n if n else 0.0
    p = binomial_excess(k, n, p0, dispersion)
    status = decide(p < ALPHA / max(1, tests), share - (baseline if baseline is not None else 0.0), floors)
    base = baseline if baseline is not None else 0.0
    critical = binomial_critical_rate(n, p0, ALPHA / max(1, tests), dispersion) if n else float("nan")
    threshold = max(critical, base + floors[1 if status != "warn" else 0])
    words = {"missing_rate": "missing", "out_of_range": "outside the reference range",
             "unseen_categories": "with levels not seen in the reference"}[what]
    text = (f"{column}: {share:.1%} of values {words}" + (f" (reference {base:.1%})" if what == "missing_rate" else "")
            if status != "ok" else "")
    return Decision("data_quality", f"{column}:{what}", status, method, share, threshold, p, None, text,
                    {"count": int(k), "rows": int(n), "expected_rate": p0, "dispersion": dispersion,
                     "alpha": ALPHA / max(1, tests), "warn_change": floors[0], "alert_change": floors[1]})


def quality(counts: Mapping[str, Mapping[str, int]], rows: int, profiles: Mapping[str, Mapping[str, Any]],
            bands: Mapping[str, Band | None], reference_types: Mapping[str, str],
            window_types_: Mapping[str, str]) -> tuple[QualityResult, list[str]]:
    """Judge data quality per column from window counts and the baseline profiles.

    Parameters
    ----------
    counts : mapping
        Column → ``{"missing": k, "out_of_range": k (numeric), "unseen": k (categorical)}``
        counted over the window's ``rows``.
    profiles : mapping
        Column → the baseline profile (``kind``, ``rows``, ``missing_rate``,
        ``min``/``max`` or ``frequencies``/``cardinality``).
    bands : mapping
        Column → the ``quality/missing_rate`` band (None when absent).
    reference_types, window_types_ : mapping
        DuckDB types of the reference and of the window's files.

    Returns
    -------
    (QualityResult, list of str)
        The result and what could not be checked (for ``recorder.cannot``).
    """
    n_num = sum(1 for c in counts if "out_of_range" in counts[c])
    n_cat = sum(1 for c in counts if "unseen" in counts[c])
    decisions, rows_out, cannot = [], [], []
    for col, c in counts.items():
        prof = profiles[col]
        p0 = float(prof.get("missing_rate") or 0.0)
        n_ref_valid = int(round(prof.get("rows", 0) * (1 - p0)))
        # A reference without missing values: smallest rate it could not tell from zero.
        p0_eff = p0 if p0 > 0 else 0.5 / (prof.get("rows", 0) + 1)
        miss = _rate_decision(col, "missing_rate", c["missing"], rows, p0_eff, MIN_CHANGE["missing_rate"],
                              len(counts), "binomial", dispersion_from_band(bands.get(col), p0), baseline=p0)
        decisions.append(miss)
        row = {"column": col, "kind": prof["kind"], "missing (reference)": p0, "missing (window)": miss.value,
               "out of range": None, "unseen levels": None,
               "type (reference)": reference_types.get(col, ""), "type (window)": window_types_.get(col, "absent")}
        valid = rows - c["missing"]
        if "out_of_range" in c:
            if prof.get("min") is None:
                cannot.append(f"{col}: out-of-range check skipped, the feature has no values in the reference.")
            else:
                d = _rate_decision(col, "out_of_range", c["out_of_range"], valid, 2 / (n_ref_valid + 1),
                                   MIN_CHANGE["out_of_range"], n_num, "range_binomial")
                decisions.append(d)
                row["out of range"] = d.value
        if "unseen" in c:
            if prof.get("other_share", 0) > 0 or prof.get("cardinality", 0) > len(prof.get("frequencies", {})):
                cannot.append(f"{col}: unseen-category check skipped, the baseline keeps only the top "
                              f"{prof.get('top_k')} of its {prof.get('cardinality'):,} levels.")
            elif not prof.get("frequencies"):
                cannot.append(f"{col}: unseen-category check skipped, the feature has no values in the reference.")
            else:
                d = _rate_decision(col, "unseen_categories", c["unseen"], valid,
                                   good_turing_unseen(prof["frequencies"], n_ref_valid),
                                   MIN_CHANGE["unseen_categories"], n_cat, "good_turing_binomial")
                decisions.append(d)
                row["unseen levels"] = d.value
        if col in reference_types:
            rt, wt = reference_types[col], window_types_.get(col)
            st = type_status(rt, wt)
            text = f"{col}: type changed from {rt} to {wt or 'absent'}" if st != "ok" else ""
            decisions.append(Decision("data_quality", f"{col}:type", st, "type_family", None, None, None, None, text,
                                      {"reference_type": rt, "window_type": wt or "absent"}))
        row["status"] = worst(d.status for d in decisions if d.subject.split(":")[0] == col)
        rows_out.append(row)
    return QualityResult(table=pd.DataFrame(rows_out), decisions=decisions), cannot


# --------------------------------------------------------------------------- DuckDB aggregates

def _error_expr(col: str) -> str:
    """1 for an error row: the same rule as the baseline (not null, not '' and not '0')."""
    q = _quote(col)
    return f"(CASE WHEN {q} IS NOT NULL AND CAST({q} AS VARCHAR) NOT IN ('', '0') THEN 1 ELSE 0 END)"


@dataclass(frozen=True)
class LogsWindow:
    """The window's rows of the logs as DuckDB SQL, and which operational columns exist."""

    con: duckdb.DuckDBPyConnection
    relation: str
    ts_utc: str
    types: Mapping[str, str]
    latency: str | None
    error: str | None
    version: str | None

    @classmethod
    def open(cls, model: ModelConfig, start: dt.datetime, end: dt.datetime,
             con: duckdb.DuckDBPyConnection | None = None) -> "LogsWindow":
        con = con or connect()
        source = resolve_source(model.logs, f"models.{model.name}.logs")
        types = describe(source, con)
        ts = model.timestamp
        where = _time_filter(ts, types[ts], start, end)
        op = model.operational
        return cls(con=con, relation=f"(SELECT * FROM {source.relation} WHERE {where})",
                   ts_utc=f"CAST({_quote(ts)} AS TIMESTAMPTZ)", types=types,
                   latency=op.latency_ms if op and op.latency_ms in types else None,
                   error=op.error if op and op.error in types else None,
                   version=model.version_column if model.version_column in types else None)

    def hourly_counts(self) -> pd.Series:
        """Requests per clock hour (all serving versions)."""
        df = self.con.execute(f"SELECT date_trunc('hour', {self.ts_utc}) AS hour, count(*) AS rows "
                              f"FROM {self.relation} GROUP BY 1 ORDER BY 1").df()
        return pd.Series(df["rows"].to_numpy(dtype=float), index=pd.DatetimeIndex(df["hour"]).tz_convert("UTC"))

    def figures(self) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
        """(window, per day, per version): rows, latency rows and p50/p95/p99, errors — one scan."""
        lat = f"TRY_CAST({_quote(self.latency)} AS DOUBLE)" if self.latency else "CAST(NULL AS DOUBLE)"
        err = _error_expr(self.error) if self.error else "0"
        ver = f"CAST({_quote(self.version)} AS VARCHAR)" if self.version else "CAST(NULL AS VARCHAR)"
        # Without a version column, a constant version forms one group equal to the whole window.
        df = self.con.execute(
            f"SELECT GROUPING(day) AS g_day, GROUPING(version) AS g_version, day, version, count(*) AS rows, "
            f"count(lat) AS latency_rows, quantile_cont(lat, [0.5, 0.95, 0.99]) AS q, sum(err) AS errors "
            f"FROM (SELECT date_trunc('day', {self.ts_utc}) AS day, {ver} AS version, {lat} AS lat, {err} AS err "
            f"FROM {self.relation}) GROUP BY GROUPING SETS ((day), (version), ())").df()
        for i, p in enumerate(PERCENTILES):
            df[p] = [_float(q[i]) if isinstance(q, (list, tuple, np.ndarray)) else None for q in df["q"]]
            df[p] = df[p].astype(float)
        df = df.drop(columns="q")
        df["errors"] = df["errors"].fillna(0).astype(int)
        df["error_rate"] = df["errors"] / df["rows"]
        window = df[(df["g_day"] == 1) & (df["g_version"] == 1)].iloc[0]
        daily = df[df["g_day"] == 0].sort_values("day").reset_index(drop=True)
        daily["day"] = pd.DatetimeIndex(daily["day"]).tz_convert("UTC")
        per_version = df[df["g_version"] == 0] if self.version else df.iloc[0:0]
        cols = ["rows", "latency_rows", *PERCENTILES, "errors", "error_rate"]
        return (window[cols], daily[["day", *cols]],
                per_version[["version", *cols]].sort_values("rows", ascending=False).reset_index(drop=True))

    def latency_histogram(self, edges: Sequence[float]) -> dict[str, int]:
        """Latency counts in the baseline's histogram bins (keys as the baseline's: upper edges, 'inf')."""
        lat = _quote(self.latency)
        hist = self.con.execute(f"SELECT histogram(TRY_CAST({lat} AS DOUBLE), [{', '.join(repr(float(e)) for e in edges)}]) "
                                f"FROM {self.relation}").fetchall()[0][0] or {}
        keys = [str(e) for e in edges]
        out = {k: 0 for k in keys + ["inf"]}
        for k, v in hist.items():
            out["inf" if not np.isfinite(k) else keys[int(np.argmin(np.abs(np.asarray(edges) - k)))]] += int(v)
        return out

    def quality_counts(self, numeric: Sequence[str], categorical: Sequence[str], profiles: Mapping[str, Any],
                       version_filter: str | None, extra: Sequence[str] = ()) -> tuple[int, dict[str, dict[str, int]]]:
        """Rows and, per column, missing / out-of-range / unseen counts (one scan).

        ``extra`` columns (e.g. the prediction) get a missing count only.
        """
        parts, keys = ["count(*)"], []
        for i, col in enumerate(numeric):
            x = f"TRY_CAST({_quote(col)} AS DOUBLE)"
            parts.append(f"count(*) FILTER (WHERE {x} IS NULL OR isnan({x}) OR isinf({x}))")
            keys.append((col, "missing"))
            prof = profiles[col]
            if prof.get("min") is not None:
                parts.append(f"count(*) FILTER (WHERE isfinite({x}) AND ({x} < {float(prof['min'])!r} "
                             f"OR {x} > {float(prof['max'])!r}))")
            else:
                parts.append("0")
            keys.append((col, "out_of_range"))
        for col in categorical:
            v = f"CAST({_quote(col)} AS VARCHAR)"
            parts.append(f"count(*) FILTER (WHERE {v} IS NULL)")
            keys.append((col, "missing"))
            levels = list(profiles[col].get("frequencies", {}))
            if levels:
                parts.append(f"count(*) FILTER (WHERE {v} IS NOT NULL AND {v} NOT IN "
                             f"({', '.join(_literal(str(lv)) for lv in levels)}))")
            else:
                parts.append("count(*) FILTER (WHERE " + v + " IS NOT NULL)")
            keys.append((col, "unseen"))
        for col in extra:
            x = f"TRY_CAST({_quote(col)} AS DOUBLE)"
            parts.append(f"count(*) FILTER (WHERE {x} IS NULL OR isnan({x}) OR isinf({x}))")
            keys.append((col, "missing"))
        where = f" WHERE {version_filter}" if version_filter else ""
        values = self.con.execute(f"SELECT {', '.join(parts)} FROM {self.relation}{where}").fetchall()[0]
        out: dict[str, dict[str, int]] = {}
        for (col, what), v in zip(keys, values[1:]):
            out.setdefault(col, {})[what] = int(v)
        return int(values[0]), out


# --------------------------------------------------------------------------- the whole notebook

@dataclass
class OperationsReport:
    """Everything the operations notebook shows and records."""

    traffic: TrafficResult | None
    latency: LatencyResult | None
    errors: ErrorResult | None
    versions: VersionResult | None
    quality: QualityResult
    cannot: list[str]
    rows: int
    version_rows: int

    @property
    def results(self) -> list[_Result]:
        return [r for r in (self.traffic, self.latency, self.errors, self.versions, self.quality) if r is not None]

    @property
    def decisions(self) -> list[Decision]:
        return [d for r in self.results for d in r.decisions]

    @property
    def status(self) -> str:
        return worst(d.status for d in self.decisions)

    def record(self, recorder: Recorder, findings: int = 6) -> None:
        """Record every check, what could not be checked, and the worst findings."""
        for r in self.results:
            r.record(recorder)
        for what in self.cannot:
            recorder.cannot(what)
        for d in self.top(findings):
            recorder.finding(d.text, d.status)

    def top(self, n: int = 6) -> list[Decision]:
        """The decisions at warn or alert, worst and most telling first, without repeats.

        Latency percentiles flagged together make one finding (led by p95), and
        a day's latency is left out when the whole window is already flagged.
        """
        flagged = sorted((d for d in self.decisions if d.status != "ok" and d.text), key=_rank)
        lat = [d for d in flagged if d.subject in {f"latency_{p}" for p in PERCENTILES}]
        out = []
        for d in flagged:
            if d.subject.endswith("_daily") and d.subject.startswith("latency") and lat:
                continue
            if d in lat[1:]:
                continue
            if lat and d is lat[0] and len(lat) > 1:
                also = " and ".join(x.subject.removeprefix("latency_") for x in lat[1:])
                d = replace(d, text=f"{d.text} ({also} up too)")
            out.append(d)
        return out[:n]

    def to_df(self) -> pd.DataFrame:
        """Every check of the notebook, worst and most telling first."""
        rows = [{"kind": d.kind, "subject": d.subject, "status": d.status, "value": d.value,
                 "threshold": d.threshold, "p_value": d.p_value, "method": d.method}
                for d in sorted(self.decisions, key=_rank)]
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        from .display import format_table

        return format_table(self.to_df())


_PRIORITY = ("serving_version", "error_rate", "latency_p95", "latency_p99", "latency_p50", "traffic",
             "traffic_daily", "latency_p95_daily", "latency_p99_daily", "latency_p50_daily", "traffic_hourly")


def _rank(d: Decision) -> tuple:
    order = _PRIORITY.index(d.subject) if d.subject in _PRIORITY else len(_PRIORITY)
    return -SEVERITY[d.status], d.kind != "operational", order, d.subject


def _thresholds_metrics(model: ModelConfig) -> dict[str, Any]:
    return dict((model.thresholds or {}).get("metrics") or {})


def analyse(ctx, con: duckdb.DuckDBPyConnection | None = None) -> OperationsReport:
    """Compute and judge every operational and data-quality figure of a window.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.

    Returns
    -------
    OperationsReport
        Call ``record(ctx.recorder)`` to record its checks.
    """
    model, base = ctx.model, ctx.baseline
    logs = LogsWindow.open(model, ctx.start, ctx.end, con)
    ops = base.manifest.get("operational") or {}
    slos = _thresholds_metrics(model)
    cannot: list[str] = []
    where = f"models.{model.name}"
    op = model.operational

    window, daily, per_version = logs.figures()
    rows = int(window["rows"])

    traffic_res = None
    if ops.get("rows_per_hour_of_week") and np.isnan(profile_rates(ops)[0]).any():
        cannot.append(f"Traffic: the baseline window {ops['window'][0]} → {ops['window'][1]} is shorter than a "
                      f"week, so some hours of the week have no expectation; set {where}.baseline.window to at "
                      f"least one week (better two or more) and recompute the baseline.")
    elif ops.get("rows_per_hour_of_week"):
        traffic_res = traffic(logs.hourly_counts(), ops, ctx.start, ctx.end)
    else:
        cannot.append(f"Traffic: the baseline has no hour-of-week profile; set {where}.baseline.window to a "
                      f"healthy period of the logs and recompute the baseline.")

    latency_res = None
    if logs.latency is None:
        cannot.append(_missing_column("Latency", op.latency_ms if op else None, f"{where}.operational.latency_ms"))
    else:
        bands = {p: base.band("operational", f"latency_{p}", "all") for p in PERCENTILES}
        has_slo = any(f"latency_{p}" in slos for p in PERCENTILES)
        if not any(bands.values()) and not has_slo:
            cannot.append(f"Latency: no baseline band and no fixed limit; set {where}.baseline.window (or "
                          f"{where}.thresholds.metrics.latency_p95) to judge it.")
        base_lat = ops.get("latency_ms") or {}
        day_band = next((b for b in bands.values() if b is not None), None)
        latency_res = latency({p: _float(window[p]) for p in PERCENTILES}, daily, bands, slos,
                              {p: base_lat.get(p) for p in PERCENTILES},
                              min_day_rows=0.5 * day_band.chunk_rows if day_band else 0.0)
        if ops.get("latency_histogram"):
            edges = [float(k) for k in ops["latency_histogram"] if k != "inf"]
            latency_res.baseline_histogram = ops["latency_histogram"]
            latency_res.histogram = logs.latency_histogram(edges)

    error_res = None
    if logs.error is None:
        cannot.append(_missing_column("Error rate", op.error if op else None, f"{where}.operational.error"))
    else:
        errors = int(window["errors"])
        p0 = ops.get("error_rate")
        if p0 is None and "error_rate" not in slos:
            cannot.append(f"Error rate: no baseline rate and no fixed limit; set {where}.baseline.window (or "
                          f"{where}.thresholds.metrics.error_rate) to judge it.")
            decisions = []
        else:
            decisions = [error_decision(errors, rows, p0, base.band("operational", "error_rate", "all"),
                                        slos.get("error_rate"), int(ops.get("rows", 0)))]
        ci = [sps.binomtest(int(k), int(n)).proportion_ci() if n else None
              for k, n in zip(daily["errors"], daily["rows"])]
        err_daily = daily[["day", "rows", "errors", "error_rate"]].assign(
            ci_low=[c.low if c else np.nan for c in ci], ci_high=[c.high if c else np.nan for c in ci])
        error_res = ErrorResult(errors=errors, rows=rows, baseline_rate=p0,
                                dispersion=decisions[0].details.get("dispersion", 1.0) if decisions else 1.0,
                                daily=err_daily, decisions=decisions)

    version_res = None
    if logs.version is None:
        cannot.append(_missing_column("Serving versions", model.version_column, f"{where}.version_column"))
    else:
        version_res = serving_versions(per_version, ctx.version.name, ops.get("rows_per_version"))

    features = base.features
    profiles = base.manifest["profiles"]
    version_filter = (f"CAST({_quote(logs.version)} AS VARCHAR) = {_literal(ctx.version.name)}"
                      if logs.version else None)
    pred = model.prediction if model.prediction in logs.types else None
    n_rows, counts = logs.quality_counts(features.numeric, features.categorical, profiles, version_filter,
                                         extra=[pred] if pred else [])
    all_profiles = dict(profiles)
    bands = {c: base.band("quality", "missing_rate", c) for c in [*features.numeric, *features.categorical]}
    if pred:
        all_profiles[pred] = {**base.manifest["prediction"], "kind": "prediction"}
        bands[pred] = base.band("quality", "missing_rate", base.prediction_column)
    ref_source = resolve_source(model.reference, f"{where}.reference")
    ref_types = describe(ref_source, logs.con)
    wtypes = window_types(resolve_source(model.logs, f"{where}.logs"), model.timestamp, ctx.start, ctx.end, logs.con)
    quality_res, quality_cannot = quality(counts, n_rows, all_profiles, bands, ref_types, wtypes)
    cannot += quality_cannot
    return OperationsReport(traffic=traffic_res, latency=latency_res, errors=error_res, versions=version_res,
                            quality=quality_res, cannot=cannot, rows=rows, version_rows=n_rows)


def _missing_column(what: str, column: str | None, key: str) -> str:
    if column is None:
        return f"{what}: not checked, no column configured; set {key} in mlmon.yaml."
    return f"{what}: not checked, column {column!r} ({key}) is not in the logs."


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def verdict(report: OperationsReport) -> str:
    """One plain sentence on the window's operations and data quality."""
    top = report.top(50)
    areas = (("latency", report.latency), ("traffic", report.traffic), ("errors", report.errors),
             ("serving version", report.versions), ("data quality", report.quality))
    problems, healthy = [], []
    for name, res in areas:
        if res is None or not res.decisions:
            continue
        subjects = {d.subject for d in res.decisions}
        mine = [d for d in top if d.subject in subjects]
        if not mine:
            healthy.append(name)
        elif name == "data quality" and len(mine) > 1:
            problems.append((mine[0], f"{len(mine)} data-quality issues ({mine[0].text}; …)"))
        else:
            problems.append((mine[0], mine[0].text))
    listed = ", ".join(healthy[:-1]) + (" and " if len(healthy) > 1 else "") + (healthy[-1] if healthy else "")
    if not problems:
        return f"Operations healthy: {listed} are within the baseline's natural variation."
    problems.sort(key=lambda p: _rank(p[0]))
    sentence = "; ".join(text for _, text in problems)
    if healthy:
        sentence += f"; {listed} {'is' if len(healthy) == 1 else 'are'} within the baseline"
    return sentence + "."
