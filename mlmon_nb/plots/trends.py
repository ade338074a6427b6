"""Trend charts of the archive index: a model version's figures across weekly windows."""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from .common import CUR_COLOR, REF_COLOR

__all__ = ["TREND_SERIES", "trend_points", "trends"]

#: (panel title, y label, series: (label, kind, subjects, statuses-count?))
TREND_SERIES = (
    ("Features alerting for drift", "features (count)", (("alerting features", "feature_drift", None, True),)),
    ("Performance", "ROC AUC", (("realized", "performance", ("roc_auc",), False),
                                ("estimated (no labels)", "estimated_performance", ("roc_auc",), False))),
    ("Latency p95", "milliseconds", (("p95", "operational", ("latency_p95",), False),)),
    ("Exposure concentration", "Gini over items", (("Gini", "feedback_loop", ("exposure_gini",), False),)),
)


def trend_points(summaries: Sequence[Mapping]) -> dict[str, list[tuple[dt.datetime, float]]]:
    """Per series label, (window start, value) using the latest run of each window."""
    latest: dict[str, Mapping] = {}
    for s in summaries:
        key = s["window"]["start"]
        if key not in latest or s.get("generated_at", "") > latest[key].get("generated_at", ""):
            latest[key] = s
    out: dict[str, list[tuple[dt.datetime, float]]] = {}
    for start, s in sorted(latest.items()):
        x = dt.datetime.fromisoformat(start)
        for _, _, series in TREND_SERIES:
            for label, kind, subjects, count in series:
                checks = [c for c in s.get("checks", []) if c["kind"] == kind]
                if count:
                    if checks:
                        out.setdefault(label, []).append((x, float(sum(c["status"] == "alert" for c in checks))))
                    continue
                values = [c.get("value") for c in checks if c["subject"] in subjects
                          and isinstance(c.get("value"), (int, float))]
                if values:
                    out.setdefault(label, []).append((x, float(values[0])))
    return out


def trends(summaries: Sequence[Mapping], title: str):
    """A 2 x 2 figure of the trend panels for one model version."""
    points = trend_points(summaries)
    fig, axes = plt.subplots(2, 2, figsize=(10, 5.2), dpi=80, layout="constrained")
    colors = (REF_COLOR, CUR_COLOR)
    starts = sorted({dt.datetime.fromisoformat(s["window"]["start"]) for s in summaries})
    pad = dt.timedelta(days=3)
    for ax, (panel, ylabel, series) in zip(axes.flat, TREND_SERIES):
        drawn = False
        for (label, _, _, _), color in zip(series, colors):
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
    fig.suptitle(title)
    return fig
