"""Figures of the operations notebook: traffic, latency and errors against the baseline."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS, _fig

__all__ = ["traffic_hourly", "latency_daily", "latency_distribution", "error_rate_daily"]

_PCT_COLORS = {"p50": "#4C72B0", "p95": "#DD8452", "p99": "#55A868"}


def _day_axis(ax, days: pd.Series | None = None) -> None:
    """Ticks at midnight UTC; with ``days`` (UTC day starts) the axis spans whole days."""
    ax.xaxis.set_major_locator(mdates.DayLocator(tz="UTC"))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b", tz="UTC"))
    if days is not None and len(days):
        d = pd.DatetimeIndex(days).tz_convert("UTC").tz_localize(None)
        ax.set_xlim(d.min(), d.max() + pd.Timedelta(days=1))


def _legend_below(ax, ncols: int = 4) -> None:
    ax.legend(frameon=False, fontsize=8, ncols=ncols, loc="upper center", bbox_to_anchor=(0.5, -0.2))


def traffic_hourly(hourly: pd.DataFrame):
    """Requests per hour against the expectation from the baseline's hour-of-week profile.

    ``hourly`` is :attr:`TrafficResult.hourly`: ``hour``, ``observed``,
    ``expected``, ``low``/``high`` (alert edges as ratios) and ``status``.
    """
    fig, ax = _fig(9.5, 3.8)
    x = hourly["hour"].dt.tz_convert("UTC").dt.tz_localize(None)
    # Repeat the last hour at its end so the steps cover it.
    xs = pd.concat([x, x.iloc[-1:] + pd.Timedelta(hours=1)], ignore_index=True)

    def closed(v):
        return np.append(v.to_numpy(dtype=float), v.iloc[-1])

    ax.fill_between(xs, closed(hourly["expected"] * hourly["low"]), closed(hourly["expected"] * hourly["high"]),
                    step="post", color=REF_COLOR, alpha=0.12, lw=0, label="normal range (an hour alerts outside)")
    ax.step(xs, closed(hourly["expected"]), where="post", color=REF_COLOR, lw=1.2, label="expected from baseline")
    ax.step(xs, closed(hourly["observed"]), where="post", color=CUR_COLOR, lw=1.2, label="window")
    for status in ("warn", "alert"):
        sel = hourly["status"] == status
        if sel.any():
            ax.scatter(x[sel] + pd.Timedelta(minutes=30), hourly.loc[sel, "observed"], s=22, zorder=3,
                       color=STATUS_COLORS[status], label=f"hour at {status}")
    _day_axis(ax)
    ax.set_xlim(xs.iloc[0], xs.iloc[-1])
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel("requests per hour")
    ax.set_ylim(bottom=0)
    ax.set_title("Requests per hour: window against the baseline's hour-of-week profile")
    _legend_below(ax, 5)
    return fig


def latency_daily(daily: pd.DataFrame, limits: dict, baseline: dict):
    """Latency p50/p95/p99 per day, with each percentile's baseline and alert edge for a day."""
    fig, ax = _fig(9.0, 3.8)
    x = daily["day"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=12)
    for p, color in _PCT_COLORS.items():
        if p not in daily or daily[p].isna().all():
            continue
        ax.plot(x, daily[p], "o-", color=color, ms=4, label=f"{p} per day")
        lim = limits.get(p)
        if lim is not None:
            ax.axhline(lim.alert_at, color=color, ls="--", lw=1, alpha=0.8)
        if baseline.get(p) is not None:
            ax.axhline(baseline[p], color=color, ls=":", lw=1, alpha=0.8)
    flagged = daily[daily.get("status", pd.Series("ok", index=daily.index)) != "ok"]
    for _, row in flagged.iterrows():
        ax.axvspan(row["day"].tz_convert("UTC").tz_localize(None), row["day"].tz_convert("UTC").tz_localize(None)
                   + pd.Timedelta(days=1), color=STATUS_COLORS[row["status"]], alpha=0.08, lw=0)
    ax.plot([], [], color="#555", ls=":", lw=1, label="baseline")
    ax.plot([], [], color="#555", ls="--", lw=1, label="alert above (per day)")
    _day_axis(ax, daily["day"])
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title("Latency percentiles per day against the baseline")
    _legend_below(ax, 5)
    return fig


def latency_distribution(baseline_hist: dict, window_hist: dict, baseline_p: dict, window_p: dict):
    """Share of requests per latency bin: baseline window against this window, p95 of each marked."""
    fig, ax = _fig(8.0, 3.6)
    keys = [k for k in baseline_hist if k != "inf"]
    edges = np.array([0.0] + [float(k) for k in keys])
    for hist, color, label, pct in ((baseline_hist, REF_COLOR, "baseline", baseline_p),
                                    (window_hist, CUR_COLOR, "window", window_p)):
        counts = np.array([hist.get(k, 0) for k in keys], dtype=float)
        total = counts.sum() + hist.get("inf", 0)
        if not total:
            continue
        ax.stairs(counts / total * 100, edges, color=color, lw=1.6, label=f"{label} ({int(total):,} requests)")
        if pct.get("p95") is not None:
            ax.axvline(pct["p95"], color=color, ls="--", lw=1, label=f"{label} p95 = {pct['p95']:.0f} ms")
    ax.set_xlabel(f"latency (ms); beyond {edges[-1]:.0f} ms not drawn")
    ax.set_ylabel("share of requests per bin (%)")
    ax.set_title("Latency distribution: baseline window against this window")
    ax.legend(frameon=False, fontsize=8)
    return fig


def error_rate_daily(daily: pd.DataFrame, baseline_rate: float | None, threshold: float | None = None):
    """Error rate per day with 95 % intervals, against the baseline rate."""
    fig, ax = _fig(8.0, 3.4)
    x = daily["day"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=12)
    rate = daily["error_rate"] * 100
    err = np.vstack([rate - daily["ci_low"] * 100, daily["ci_high"] * 100 - rate]).clip(min=0)
    ax.errorbar(x, rate, yerr=err, fmt="o", color=CUR_COLOR, ms=5, capsize=3, label="window, per day (95% interval)")
    if baseline_rate is not None:
        ax.axhline(baseline_rate * 100, color=REF_COLOR, lw=1.2, label=f"baseline {baseline_rate:.2%}")
    if threshold is not None:
        ax.axhline(threshold * 100, color=STATUS_COLORS["alert"], ls="--", lw=1,
                   label=f"alert above, whole window ({threshold:.2%})")
    _day_axis(ax, daily["day"])
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel("requests with an error (%)")
    ax.set_ylim(bottom=0)
    ax.set_title("Error rate per day against the baseline")
    _legend_below(ax, 3)
    return fig
