"""Trend charts of the archive index: a model version's figures across weekly windows."""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from .common import CUR_COLOR, REF_COLOR, plain

__all__ = ["TREND_SERIES", "trend_points", "trends"]

#: (panel title, y label, series labels): the labels are the run entries' ``figures`` keys
#: (:data:`mlmon_nb.catalog.TREND_FIGURES`).
TREND_SERIES = (
    ("Features alerting for drift", "features (count)", ("alerting features",)),
    ("Performance", "ROC AUC", ("realized", "estimated (no labels)")),
    ("Latency p95", "milliseconds", ("p95",)),
    ("Exposure concentration", "Gini over items", ("Gini",)),
)


def trend_points(runs: Sequence[Mapping]) -> dict[str, list[tuple[dt.datetime, float]]]:
    """Per series label, (window start, value) from the latest run of each window that measured it.

    A later run that did not measure a figure (a re-run of one notebook) never hides the
    value an earlier, fuller run of the same window measured.
    """
    best: dict[tuple[str, str], tuple[str, float]] = {}
    for run in runs:
        start, made = run["window"]["start"], str(run.get("generated_at", ""))
        for label, value in (run.get("figures") or {}).items():
            key = (label, start)
            if key not in best or made > best[key][0]:
                best[key] = (made, float(value))
    out: dict[str, list[tuple[dt.datetime, float]]] = {}
    for (label, start), (_, value) in sorted(best.items(), key=lambda kv: kv[0][1]):
        out.setdefault(label, []).append((dt.datetime.fromisoformat(start), value))
    return out


def trends(runs: Sequence[Mapping], title: str):
    """A 2 x 2 figure of the trend panels for one model version (``runs``: catalogue entries)."""
    points = trend_points(runs)
    fig, axes = plt.subplots(2, 2, figsize=(10, 5.2), dpi=80, layout="constrained")
    colors = (REF_COLOR, CUR_COLOR)
    starts = sorted({dt.datetime.fromisoformat(r["window"]["start"]) for r in runs})
    pad = dt.timedelta(days=3)
    for ax, (panel, ylabel, series) in zip(axes.flat, TREND_SERIES):
        drawn = False
        for label, color in zip(series, colors):
            pts = points.get(label, [])
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color, label=label, ms=3)
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color="#888")
        elif len(series) > 1:
            ax.legend(frameon=False, fontsize=8)
        ax.set_title(panel, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlabel("window start (UTC)", fontsize=8)
        ax.tick_params(labelsize=7)
        if starts:
            ax.set_xlim(starts[0] - pad, starts[-1] + pad)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        for label in ax.get_xticklabels():
            label.set_rotation(30)
    fig.suptitle(plain(title))  # names a model and version: data
    return fig
