"""Figures of the concept-drift notebook: performance timeline, label coverage, the
detectors' loss stream, segments, residuals per bin and calibration.

Each function takes a part of :class:`mlmon_nb.concept.ConceptDriftResult`
(duck-typed: the attributes it reads are named in its docstring) or plain data,
and returns a matplotlib Figure.
"""

from __future__ import annotations

import textwrap
import types
from typing import Mapping

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..alertable import HIGHER_IS_BETTER
from .baseline import calibration_curve
from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS, _fig

__all__ = ["performance_timeline", "label_coverage", "loss_stream", "segment_bars", "residual_bins",
           "calibration_compare"]

_EST_COLOR = "#55A868"
_BAND_COLOR = "#4C72B0"
_MUTED = "#9aa4ae"


def _direction(metric: str) -> str:
    return {True: "higher is better", False: "lower is better"}.get(HIGHER_IS_BETTER.get(metric), "")


def _naive(t):
    """Matplotlib dates: UTC timestamps without tz (the axis label says UTC)."""
    idx = pd.DatetimeIndex(pd.to_datetime(t, utc=True))
    return idx.tz_convert("UTC").tz_localize(None)


def _time_axis(ax, span_days: float) -> None:
    if span_days <= 3:
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b %H:%M"))
    else:
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))
    for label in ax.get_xticklabels():
        label.set_rotation(0)
        label.set_fontsize(8)


def performance_timeline(chunks, metric: str, changes=None, label: str | None = None):
    """Realized metric per chunk with 95% intervals, the label-free estimate, the baseline band
    and the change points the detectors agree on.

    ``chunks`` has ``chunks(metric)`` (a DataFrame per chunk) and ``unit`` (``day``);
    ``changes`` has ``detections``, ``clusters`` and ``cluster_status(cluster)``; ``label`` is the
    metric's display name.
    """
    label = label or metric
    t = chunks.chunks(metric)
    fig, ax = _fig(9.0, 4.0)
    if t.empty:
        ax.set_title(f"{label} per {chunks.unit}: no chunks")
        return fig
    starts, ends = _naive(t["start"]), _naive(t["end"])
    mids = starts + (ends - starts) / 2
    # Band at each chunk's labelled rows (at its row count where nothing is labelled yet).
    low = np.where(np.isfinite(t["band_low"]), t["band_low"], t["est_band_low"])
    high = np.where(np.isfinite(t["band_high"]), t["band_high"], t["est_band_high"])
    if np.isfinite(low).any():
        for i, (a, b) in enumerate(zip(starts, ends)):
            if np.isfinite(low[i]):
                ax.fill_between([a, b], [low[i]] * 2, [high[i]] * 2, color=_BAND_COLOR, alpha=0.12, lw=0,
                                label="baseline band (±3 sd at the chunk's rows)" if i == 0 else None)
        if np.isfinite(t["band_mean"]).any():
            ax.axhline(float(np.nanmean(t["band_mean"])), color=_BAND_COLOR, lw=0.8, ls=":",
                       label="baseline mean")
    ax.plot(mids, t["estimated"], "s--", color=_EST_COLOR, ms=5, lw=1.2,
            label="estimated without labels (all rows)")
    ok = t["enough_labels"].to_numpy(dtype=bool) & np.isfinite(t["realized"].to_numpy(dtype=float))
    few = ~t["enough_labels"].to_numpy(dtype=bool) & np.isfinite(t["realized"].to_numpy(dtype=float))
    series = ((ok, dict(fmt="o", color=CUR_COLOR, mfc=CUR_COLOR), "realized (labelled rows, 95% CI)"),
              (few, dict(fmt="o", color=_MUTED, mfc="white"), "realized, too few labels (not judged)"))
    for mask, style, series_label in series:
        if mask.any():
            r = t["realized"].to_numpy(dtype=float)[mask]
            lo = np.clip(r - t["ci_low"].to_numpy(dtype=float)[mask], 0, None)
            hi = np.clip(t["ci_high"].to_numpy(dtype=float)[mask] - r, 0, None)
            ax.errorbar(mids[mask], r, yerr=[np.nan_to_num(lo), np.nan_to_num(hi)], capsize=3, ms=6, lw=1.2,
                        label=series_label, **style)
    if changes is not None and not changes.detections.empty:
        first = True
        for cl in changes.clusters.to_dict("records"):
            if not cl["consensus"]:
                continue
            ax.axvline(_naive([cl["at"]])[0], color=STATUS_COLORS[changes.cluster_status(cl["cluster"])], lw=1.6,
                       ls="-", label="change point (detectors agree)" if first else None)
            first = False
    span = (ends.max() - starts.min()).total_seconds() / 86400
    _time_axis(ax, span)
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(f"{label} ({_direction(metric)})")
    ax.set_title(f"{label} per {chunks.unit}: realized, estimated without labels, baseline band")
    # below the axes: inside, the legend would hide the band or the points it explains
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=8, loc="outside lower center", ncols=3)
    return fig


def label_coverage(chunks):
    """Share of each chunk's rows that have a label, with the labelled count on each bar.

    ``chunks`` has ``coverage_df()``, ``unit`` and ``min_labels``.
    """
    t = chunks.coverage_df()
    fig, ax = _fig(9.0, 2.8)
    if t.empty:
        ax.set_title("Label coverage: no chunks")
        return fig
    x = np.arange(len(t))
    cov = (t["coverage"].fillna(0) * 100).to_numpy()
    colors = [CUR_COLOR if e else _MUTED for e in t["enough_labels"]]
    ax.bar(x, cov, color=colors, width=0.7)
    for xi, c, n in zip(x, cov, t["labelled"]):
        ax.text(xi, c + 2, f"{int(n):,}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [pd.Timestamp(s).strftime("%a %d %b") for s in t["start"]], fontsize=8)
    ax.set_ylim(0, 115)
    ax.set_xlabel(f"{chunks.unit} (UTC); number on each bar = labelled rows")
    ax.set_ylabel("labelled rows (% of rows)")
    ax.set_title(f"Label coverage per {chunks.unit} (grey: fewer than {chunks.min_labels} labels or "
                 f"too few of a class)")
    return fig


def loss_stream(changes, detectors: Mapping[str, str]):
    """The detectors' input (excess loss per block, standardised) and where each detector fired.

    ``changes`` has ``stream`` (``first_ts``, ``z``, ``block_size``), ``detections``,
    ``clusters``, ``cluster_status(cluster)`` and ``calibration`` (name -> an object with ``used``); ``detectors``
    maps every detector's machine name to its display name, in lane order.
    """
    s = changes.stream
    used = [n for n, c in changes.calibration.items() if c.used]
    fig, (ax, lanes) = plt.subplots(2, 1, figsize=(9.0, 4.6), dpi=90, sharex=True, layout="constrained",
                                    gridspec_kw={"height_ratios": [2.2, 1.0]})
    x = _naive(s.first_ts)
    ax.plot(x, s.z, color=_MUTED, lw=0.7, label="block z-score")
    if len(s.z) >= 6:
        ax.plot(x, pd.Series(s.z).rolling(6, min_periods=3, center=True).mean(), color=REF_COLOR, lw=1.8,
                label="rolling mean (6 blocks)")
    ax.axhline(0, color="#555", lw=0.8, ls=":")
    det = changes.detections
    for cl in changes.clusters.to_dict("records") if len(changes.clusters) else []:
        if cl["consensus"]:
            color = STATUS_COLORS["alert" if changes.cluster_status(cl["cluster"]) == "alert" else "warn"]
            for a in (ax, lanes):
                a.axvline(_naive([cl["at"]])[0], color=color, lw=1.4)
    ax.set_ylabel("excess loss (z, reference sd)")
    ax.set_title(f"Excess loss per block of {s.block_size:,} labelled rows, and where river's detectors fired")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    names = list(detectors)
    for i, name in enumerate(names):
        hits = det[det["detector"] == name] if len(det) else det
        for r in hits.to_dict("records"):
            color = STATUS_COLORS.get(r["status"], _MUTED) if r["consensus"] else _MUTED
            a, b = _naive([r["at"]])[0], _naive([r["detected_at"]])[0]
            lanes.plot([a, b], [i, i], color=color, lw=2)
            lanes.plot([a], [i], "o", color=color, ms=5)
            lanes.plot([b], [i], "|", color=color, ms=10, mew=2)
    lanes.set_yticks(range(len(names)),
                     [detectors[n] + ("" if n in used else " (off)") for n in names], fontsize=8)
    lanes.set_ylim(-0.7, len(names) - 0.3)
    lanes.invert_yaxis()
    lanes.set_xlabel("time (UTC); ● estimated onset, | detection")
    span = (x.max() - x.min()).total_seconds() / 86400 if len(x) else 1
    _time_axis(lanes, span)
    return fig


def segment_bars(segments, top: int = 10):
    """The segments that lost the most, weighted by their share, with 95% intervals.

    ``segments`` has ``table`` (ranked), ``unit`` and ``scope``.
    """
    t = segments.table.head(top).iloc[::-1]
    fig, ax = _fig(9.0, max(2.4, 0.42 * len(t) + 1.2))
    if t.empty:
        ax.set_title("Segments: none large enough to judge")
        return fig
    y = np.arange(len(t))
    sig = t["contribution_low"] > 0
    colors = [STATUS_COLORS["alert"] if s else _MUTED for s in sig]
    ax.barh(y, t["contribution"], color=colors, height=0.6)
    ax.errorbar(t["contribution"], y, xerr=[t["contribution"] - t["contribution_low"],
                                            t["contribution_high"] - t["contribution"]],
                fmt="none", ecolor="#333", capsize=3, lw=1)
    labels = [textwrap.shorten(f"{s}  ({sh:.0%})", 70) for s, sh in zip(t["segment"], t["share"])]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="#555", lw=0.8)
    ax.set_xlabel(f"lost performance × share ({segments.unit}; red: 95% interval above 0)")
    ax.set_ylabel("segment (share of labelled rows)")
    ax.set_title(f"Where performance was lost ({segments.scope})")
    return fig


def residual_bins(residuals, feature: str | None):
    """Mean residual per bin of one feature, reference against window (``residuals.bins_df(feature)``)."""
    fig, ax = _fig(8.0, 3.4)
    if feature is None:
        ax.set_title("Residuals per bin: nothing to compare")
        return fig
    b = residuals.bins_df(feature)
    name = "model score (deciles)" if feature == "__score_bin__" else feature
    x = np.arange(len(b))
    ax.bar(x - 0.2, b["reference_residual"], 0.4, color=REF_COLOR, label="reference")
    ax.bar(x + 0.2, b["window_residual"], 0.4, color=CUR_COLOR, label="window")
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_xticks(x, [textwrap.shorten(str(v), 28) for v in b["bin"]], fontsize=8,
                  rotation=20 if len(b) > 4 else 0, ha="right" if len(b) > 4 else "center")
    ax.set_xlabel(f"{name} (bin)")
    ax.set_ylabel("mean residual (label − calibrated score)")
    ax.set_title(f"Residuals per bin of {name}: reference vs window")
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=8, loc="outside lower center", ncols=2)
    return fig


def calibration_compare(calibration: Mapping):
    """Calibration of the reference (baseline) and of the window, per decile of predictions.

    ``calibration`` holds the two curves under ``reference`` and ``window``.
    """
    fig = calibration_curve(types.SimpleNamespace(manifest={"calibration": calibration.get("reference")}),
                            calibration.get("window"))
    fig.axes[0].set_title("Calibration: reference vs window")
    return fig
