"""Result objects of the operations area: built once by :func:`~mlmon_nb.operations.analyse`, never mutated.

:class:`OperationsResult` is the area's result (``record``, ``verdict``,
``notes``, ``table``, ``plot``); it holds one part per topic (traffic,
latency, errors, serving versions, data quality), each a frozen dataclass
with its :class:`Decision` records, a ``table(...)`` and, where it has
figures, a ``plot(...)`` drawn by :mod:`mlmon_nb.plots.operations`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import pandas as pd

from ..checks import SEVERITY, Recorder, recording, worst
from ..display import format_table
from ..errors import UsageError
from ..plots import operations as plots
from ..rules import decide
from .policy import PERCENTILES


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


@dataclass(frozen=True)
class Limit:
    """How one figure is judged: against a band (mean, sd) or fixed SLO limits; only increases are worse."""

    method: str
    mean: float | None
    sd: float | None
    warn_at: float
    alert_at: float

    def status(self, value: float | None) -> str:
        return decide(value, self.warn_at, self.alert_at, worse="up")


def _severity_sorted(df: pd.DataFrame, then: Sequence[str] = ()) -> pd.DataFrame:
    if df.empty:
        return df
    out = df.assign(_sev=df["status"].map(SEVERITY))
    return out.sort_values(["_sev", *then], ascending=[False] + [True] * len(then), kind="stable"
                           ).drop(columns="_sev").reset_index(drop=True)


def _kind_error(owner: str, kinds: Sequence[str], kind: str) -> UsageError:
    shown = " or ".join(repr(k) for k in kinds) if len(kinds) <= 2 else "one of " + ", ".join(repr(k) for k in kinds)
    return UsageError(f"The 'kind' parameter of {owner} must be {shown}. Got {kind!r} instead.")


class _Part:
    """What every part of the result shares: its decisions, their worst status, recording, HTML."""

    decisions: tuple[Decision, ...]

    @property
    def status(self) -> str:
        return worst(d.status for d in self.decisions)

    def record(self, recorder: Recorder) -> None:
        """Record every decision as a check."""
        for d in self.decisions:
            d.record(recorder)

    def _repr_html_(self) -> str:
        return format_table(self.table())


@dataclass(frozen=True, eq=False)
class TrafficResult(_Part):
    """Requests of a window against the baseline's hour-of-week profile.

    ``hourly`` and ``daily`` hold ``observed``, ``expected``, ``baseline``,
    ``ratio``, ``p_value``, ``low``/``high`` (alert edges of the ratio) and
    ``status`` per clock hour and per day; ``dispersion`` is the baseline's
    quasi-Poisson φ on ``dispersion_dof`` degrees of freedom.
    """

    hourly: pd.DataFrame
    daily: pd.DataFrame
    dispersion: float
    dispersion_dof: int
    decisions: tuple[Decision, ...] = ()

    def table(self, kind: str = "daily") -> pd.DataFrame:
        """``daily``: one row per day, flagged days first, then in time order.
        ``hours``: hours at warn or alert, the most severe and least likely first."""
        if kind == "daily":
            df = self.daily.assign(day=self.daily["day"].dt.strftime("%a %Y-%m-%d"))
            df = df[["day", "observed", "expected", "ratio", "low", "high", "p_value", "status"]]
            return _severity_sorted(df.rename(columns={"observed": "requests", "ratio": "requests / expected",
                                                       "low": "alert below", "high": "alert above"}))
        if kind == "hours":
            df = self.hourly[self.hourly["status"] != "ok"]
            df = df.assign(hour=df["hour"].dt.strftime("%a %Y-%m-%d %H:00"))
            cols = ["hour", "observed", "expected", "ratio", "p_value", "status"]
            return _severity_sorted(df[cols].rename(columns={"observed": "requests", "ratio": "requests / expected"}),
                                    then=["p_value"])
        raise _kind_error("TrafficResult.table", ("daily", "hours"), kind)

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

    def plot(self, kind: str = "hourly"):
        """``hourly``: requests per hour against the expectation and its alert range."""
        if kind == "hourly":
            return plots.traffic_hourly(self.hourly)
        raise _kind_error("TrafficResult.plot", ("hourly",), kind)


@dataclass(frozen=True, eq=False)
class LatencyResult(_Part):
    """Latency percentiles of the window and of each day against the baseline.

    ``limits`` judge the window, ``daily_limits`` a single day (wider, so
    that a week of days has one comparison's false-alarm rate); histograms
    are counts per bin of the baseline's latency histogram.
    """

    window: Mapping[str, float | None]
    daily: pd.DataFrame
    limits: Mapping[str, Limit]
    daily_limits: Mapping[str, Limit]
    baseline: Mapping[str, float | None]
    decisions: tuple[Decision, ...] = ()
    histogram: Mapping[str, int] | None = None
    baseline_histogram: Mapping[str, int] | None = None

    def table(self, kind: str = "percentiles") -> pd.DataFrame:
        """``percentiles``: baseline, window, edges and status per percentile, worst first.
        ``daily``: one row per day, in time order (days flagged are marked)."""
        if kind == "daily":
            df = self.daily.assign(day=self.daily["day"].dt.strftime("%a %Y-%m-%d"))
            return df[["day", "rows", *PERCENTILES, "status"]].rename(columns={p: f"{p} (ms)" for p in PERCENTILES})
        if kind != "percentiles":
            raise _kind_error("LatencyResult.table", ("percentiles", "daily"), kind)
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

    def plot(self, kind: str = "daily"):
        """``daily``: percentiles per day with their edges; ``distribution``: the latency histograms."""
        if kind == "daily":
            return plots.latency_daily(self.daily, self.daily_limits, self.baseline)
        if kind == "distribution":
            return plots.latency_distribution(self.baseline_histogram or {}, self.histogram or {},
                                              self.baseline, self.window)
        raise _kind_error("LatencyResult.plot", ("daily", "distribution"), kind)


@dataclass(frozen=True, eq=False)
class ErrorResult(_Part):
    """The window's error rate against the baseline's; ``daily`` has 95 % Clopper–Pearson intervals."""

    errors: int
    rows: int
    baseline_rate: float | None
    daily: pd.DataFrame
    decisions: tuple[Decision, ...] = ()

    @property
    def rate(self) -> float:
        return self.errors / self.rows if self.rows else float("nan")

    def table(self) -> pd.DataFrame:
        """One row per day, in time order, with 95 % Clopper–Pearson intervals."""
        df = self.daily.assign(day=self.daily["day"].dt.strftime("%a %Y-%m-%d"))
        return df[["day", "rows", "errors", "error_rate", "ci_low", "ci_high"]]

    def plot(self, kind: str = "daily"):
        """``daily``: the error rate per day with its interval, against the baseline rate."""
        if kind != "daily":
            raise _kind_error("ErrorResult.plot", ("daily",), kind)
        return plots.error_rate_daily(self.daily, self.baseline_rate,
                                      self.decisions[0].threshold if self.decisions else None)


@dataclass(frozen=True, eq=False)
class VersionResult(_Part):
    """Requests per serving version in the window (``per_version``) against the baseline window."""

    version: str
    per_version: pd.DataFrame
    decisions: tuple[Decision, ...] = ()

    def table(self) -> pd.DataFrame:
        """One row per version, most requests first."""
        cols = {"version": "version", "rows": "requests", "share": "share", "baseline share": "baseline share",
                "p50": "p50 (ms)", "p95": "p95 (ms)", "error_rate": "error rate", "analysed": "analysed",
                "in baseline": "in baseline"}
        return self.per_version[[c for c in cols if c in self.per_version.columns]].rename(columns=cols)

    def new_versions(self) -> pd.DataFrame:
        """The versions that served in the window but not in the baseline window (``version``, ``share``)."""
        return self.per_version.loc[~self.per_version["in baseline"], ["version", "share"]]


@dataclass(frozen=True, eq=False)
class QualityResult(_Part):
    """Missing values, out-of-range values, unseen categories and type changes, one row per column."""

    columns: pd.DataFrame
    decisions: tuple[Decision, ...] = ()

    def table(self) -> pd.DataFrame:
        """One row per column, the worst first (shares as fractions, types as ``reference → window``)."""
        t = self.columns
        types = [rt if rt == wt else f"{rt} → {wt}" if rt else f"{wt} (not in the reference)"
                 for rt, wt in zip(t["type (reference)"], t["type (window)"])]
        df = pd.DataFrame({"column": t["column"], "kind": t["kind"], "missing (reference)": t["missing (reference)"],
                           "missing (window)": t["missing (window)"], "out of range": t["out of range"],
                           "unseen levels": t["unseen levels"], "type": types, "status": t["status"]})
        return _severity_sorted(df, then=["column"])


_PRIORITY = ("serving_version", "error_rate", "latency_p95", "latency_p99", "latency_p50", "traffic",
             "traffic_daily", "latency_p95_daily", "latency_p99_daily", "latency_p50_daily", "traffic_hourly")


def _rank(d: Decision) -> tuple:
    order = _PRIORITY.index(d.subject) if d.subject in _PRIORITY else len(_PRIORITY)
    return -SEVERITY[d.status], d.kind != "operational", order, d.subject


@dataclass(frozen=True, eq=False)
class OperationsResult:
    """Everything the operations notebook shows and records.

    Parts are None when their columns or baseline are missing; ``notes`` say
    what could not be checked and which configuration or columns it needs.
    ``rows`` counts the window's requests (every version), ``version_rows``
    those of the analysed version (the rows data quality is judged on).
    ``how`` says how a summarised window's figures were computed (empty when
    the aggregates ran on the logs in memory mode).
    """

    traffic: TrafficResult | None
    latency: LatencyResult | None
    errors: ErrorResult | None
    versions: VersionResult | None
    quality: QualityResult
    notes: tuple[str, ...]
    rows: int
    version_rows: int
    how: str = ""

    @property
    def parts(self) -> list[_Part]:
        return [r for r in (self.traffic, self.latency, self.errors, self.versions, self.quality) if r is not None]

    @property
    def decisions(self) -> list[Decision]:
        return [d for r in self.parts for d in r.decisions]

    @property
    def status(self) -> str:
        return worst(d.status for d in self.decisions)

    @recording
    def record(self, recorder: Recorder, findings: int = 6) -> None:
        """Record every check, what could not be checked, the worst findings and the verdict."""
        for r in self.parts:
            r.record(recorder)
        for what in self.notes:
            recorder.cannot(what)
        for d in self.top(findings):
            recorder.finding(d.text, d.status)
        recorder.verdict(self.verdict())

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

    def verdict(self) -> str:
        """One plain sentence on the window's operations and data quality."""
        top = self.top(50)
        areas = (("latency", self.latency), ("traffic", self.traffic), ("errors", self.errors),
                 ("serving version", self.versions), ("data quality", self.quality))
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

    _TABLES = ("checks", "traffic", "traffic_hours", "latency", "latency_daily", "errors", "versions", "quality")
    _PLOTS = ("traffic", "latency_daily", "latency_distribution", "errors")

    def table(self, part: str = "checks") -> pd.DataFrame:
        """A table of the notebook.

        Parameters
        ----------
        part : str
            ``checks`` (every check, worst and most telling first), ``traffic``
            (per day), ``traffic_hours`` (flagged hours), ``latency`` (per
            percentile), ``latency_daily``, ``errors`` (per day), ``versions``
            or ``quality`` (per column).
        """
        if part == "checks":
            rows = [{"kind": d.kind, "subject": d.subject, "status": d.status, "value": d.value,
                     "threshold": d.threshold, "p_value": d.p_value, "method": d.method}
                    for d in sorted(self.decisions, key=_rank)]
            return pd.DataFrame(rows)
        if part not in self._TABLES:
            raise _kind_error("OperationsResult.table", self._TABLES, part)
        topic, _, kind = part.partition("_")
        res = self._part(topic)
        if topic == "traffic":
            return res.table("hours" if kind else "daily")
        if topic == "latency":
            return res.table(kind or "percentiles")
        return res.table()

    def plot(self, kind: str = "traffic"):
        """A figure of the notebook: ``traffic`` (per hour), ``latency_daily``, ``latency_distribution``
        or ``errors`` (per day); a matplotlib Figure."""
        if kind not in self._PLOTS:
            raise _kind_error("OperationsResult.plot", self._PLOTS, kind)
        topic, _, sub = kind.partition("_")
        res = self._part(topic)
        if topic == "latency":
            return res.plot(sub)
        return res.plot()

    def _part(self, topic: str) -> Any:
        res = getattr(self, topic)
        if res is None:
            raise UsageError(f"{topic} was not checked in this window; its notes say why: {'; '.join(self.notes)}")
        return res

    def _repr_html_(self) -> str:
        return format_table(self.table())
