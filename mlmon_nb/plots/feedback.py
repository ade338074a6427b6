"""Figures of the feedback-loops notebook, from plain data (:meth:`mlmon_nb.feedback.FeedbackResult.plot` calls them).

A *panel* is a ``(measure, assessment)`` pair: the measure names the figure
(``name``, ``display``, ``unit``, ``percent``), the assessment (or None) gives
its band, limits and status.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS, _fig, _grid, plain

__all__ = ["feedback_over_time", "lorenz_curves", "outcome_rates", "prediction_narrowing", "provenance_bars"]

_STRIP = 2.2  # width of the baseline strip, in window-chunk units


def lorenz_curves(curves: Mapping[str, tuple[Any, Any, float]], exposures: int | None = None):
    """Lorenz curves of exposure over the catalogue: baseline period against window.

    ``curves`` maps ``baseline`` and ``window`` to ``(x, y, gini)``; ``exposures``
    is the count each period was subsampled to.
    """
    fig, ax = _fig(5.6, 4.6)
    ax.plot([0, 100], [0, 100], ls="--", color="#999", lw=1, label="perfect equality")
    for period, color, label in (("baseline", REF_COLOR, "baseline period"), ("window", CUR_COLOR, "window")):
        if period in curves:
            x, y, g = curves[period]
            ax.plot(np.asarray(x) * 100, np.asarray(y) * 100, color=color, lw=2, label=f"{label} (Gini {g:.3f})")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("cumulative share of catalogue items, least exposed first (%)")
    ax.set_ylabel("cumulative share of exposures (%)")
    ax.set_title("Lorenz curves of exposure over the catalogue"
                 + (f"\n(each period subsampled to {exposures:,} exposures)" if exposures else ""), fontsize=11)
    ax.legend(frameon=False, loc="upper left")
    return fig


def _positions(chunks: pd.DataFrame, rng_seed: int = 0):
    """x positions: the baseline chunks as a jittered strip left of the window's chunks."""
    base = chunks[chunks["period"] == "baseline"].sort_values("chunk")
    win = chunks[chunks["period"] == "window"].sort_values("chunk")
    jitter = np.random.default_rng(rng_seed).uniform(-0.35, 0.35, len(base)) * _STRIP
    bx = -_STRIP + jitter - 0.5
    # Window chunks keep their spacing (a missing day leaves a hole).
    wx = (win["chunk"] - win["chunk"].min()).to_numpy(dtype=float) + 0.5 if len(win) else np.array([])
    return base, bx, win, wx


def _ticks(ax, base, bx, win, wx, chunk_word):
    ticks, labels = [], []
    if len(bx):
        ticks.append(-_STRIP - 0.5)
        starts = base["start"].dropna()
        span = (f"\n{starts.min():%d %b}–{starts.max():%d %b}" if len(starts) else "")
        labels.append(f"baseline\n{len(bx)} {chunk_word}s{span}")
    step = max(1, math.ceil(len(wx) / 10))
    one_month = len(win) and win["start"].dt.strftime("%Y-%m").nunique() == 1
    for x, start in list(zip(wx, win["start"]))[::step]:
        ticks.append(float(x))
        if chunk_word == "day":
            labels.append(f"{start:%a}\n{start.day}" if one_month else f"{start.day}\n{start:%b}")
        else:
            labels.append(f"{start:%d %b}\n{start:%H:%M}")
    ax.set_xticks(ticks, labels, fontsize=7)
    when = f"{win['start'].iloc[0]:%B %Y}, " if one_month else ""
    ax.set_xlabel(f"{chunk_word} ({when}UTC)", fontsize=8)
    if len(bx) and len(wx):
        ax.axvline(-0.25, color="#999", lw=0.8)
    ax.set_xlim(-2 * _STRIP - 0.6, (wx.max() + 1.0) if len(wx) else 1.0)


def _panel(ax, measure, assessment, base, bx, win, wx, band_rows):
    scale = 100.0 if measure.percent else 1.0
    name = measure.name
    if assessment is not None and assessment.band_low is not None:
        ax.axhspan(assessment.band_low * scale, assessment.band_high * scale, color=REF_COLOR, alpha=0.12,
                   label="baseline band (mean ± 3 sd)")
        ax.axhline(assessment.baseline_mean * scale, color=REF_COLOR, lw=1, ls="--", label="baseline mean")
        if assessment.alert_limit is not None and assessment.alert_limit != assessment.warn_limit:
            ax.axhline(assessment.alert_limit * scale, color=STATUS_COLORS["alert"], lw=1, ls=":",
                       label="alert limit")
    ax.plot(bx, base[name] * scale, "o", color=REF_COLOR, ms=3, alpha=0.7, label=f"baseline {band_rows}s")
    ax.plot(wx, win[name] * scale, "o-", color=CUR_COLOR, ms=4, lw=1.5, label=f"window {band_rows}s")
    status = assessment.status if assessment is not None else "n/a"
    ax.set_title(f"{measure.display} — {status}", fontsize=9,
                 color=STATUS_COLORS.get(status, "#333") if status != "ok" else "#333")
    unit = "%" if measure.percent else measure.unit
    ax.set_ylabel(unit, fontsize=8)
    ax.grid(axis="x", visible=False)


def feedback_over_time(chunks: pd.DataFrame, panels: Sequence[tuple[Any, Any]], *, word: str,
                       per_chunk: int | None = None):
    """Per-chunk figures over time: baseline chunks, then window chunks, with the baseline band.

    ``chunks`` has ``period``, ``chunk``, ``start`` and a column per panel's
    measure name; ``word`` names a chunk (``day``); ``per_chunk`` is the
    exposures every chunk was subsampled to.
    """
    fig, axes = _grid(len(panels), cols=min(2, len(panels)), cell=(5.0, 2.7) if len(panels) > 1 else (7.5, 3.0))
    base, bx, win, wx = _positions(chunks)
    for ax, (measure, assessment) in zip(axes, panels):
        _panel(ax, measure, assessment, base, bx, win, wx, word)
        _ticks(ax, base, bx, win, wx, word)
    if axes:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=5, frameon=False, fontsize=8)
    per = f"each {word} subsampled to {per_chunk:,} exposures" if per_chunk else ""
    if len(panels) == 1 and axes:
        measure, a = panels[0]
        axes[0].set_title("")
        status = f" — {a.status}" if a is not None else ""
        fig.suptitle(f"{measure.display} per {word}{status}\n({per})", fontsize=11)
    else:
        fig.suptitle(f"Per-{word} figures: baseline period against the window ({per})", fontsize=11)
    return fig


def outcome_rates(df: pd.DataFrame, outcome: str | None = None):
    """Outcome rate of model-driven against organic exposures, per period, with 95% Wilson intervals.

    ``df`` has one row per ``period`` and ``exposures`` kind with ``rate``,
    ``ci low``, ``ci high`` and ``labelled``; ``outcome`` names the outcome column.
    """
    fig, ax = _fig(6.4, 3.6)
    periods = [p for p in ("baseline", "window") if p in set(df["period"])]
    groups = ("model-driven", "organic")
    colors = {"model-driven": CUR_COLOR, "organic": REF_COLOR}
    width = 0.36
    for j, group in enumerate(groups):
        sub = df[df["exposures"] == group].set_index("period").reindex(periods)
        x = np.arange(len(periods)) + (j - 0.5) * width
        rate = sub["rate"].to_numpy(dtype=float) * 100
        lo = np.clip(rate - sub["ci low"].to_numpy(dtype=float) * 100, 0, None)
        hi = np.clip(sub["ci high"].to_numpy(dtype=float) * 100 - rate, 0, None)
        ax.bar(x, np.nan_to_num(rate), width, color=colors[group], alpha=0.85,
               label=f"{group} exposures", yerr=[np.nan_to_num(lo), np.nan_to_num(hi)], capsize=4)
        for xi, n, r in zip(x, sub["labelled"], rate):
            if np.isfinite(r):
                ax.text(xi, 0, f"n={int(n):,}", ha="center", va="bottom", fontsize=7, color="white")
    ax.set_xticks(np.arange(len(periods)), ["baseline period" if p == "baseline" else "window" for p in periods])
    ax.set_ylabel(f"outcome rate: mean of {plain(outcome or 'outcome', 40)} (%)")
    ax.set_xlabel("period (bars: 95% Wilson interval; n = labelled rows)")
    ax.set_title("Outcome rate of model-driven against organic exposures")
    top = np.nanmax(df["ci high"].to_numpy(dtype=float)) * 100 if len(df) else 1.0
    ax.set_ylim(0, (top if np.isfinite(top) else 1.0) * 1.3)
    ax.legend(frameon=False, loc="upper center", ncols=2, fontsize=8)
    return fig


def provenance_bars(df: pd.DataFrame, version: str, *, warn_at: float, alert_at: float):
    """Share of each version's reference/training data produced under the model's influence.

    ``df`` has one row per version (``version``, ``share``, ``ci low``, ``ci high``,
    ``deployed``, ``source``); ``version`` is this run's; ``warn_at`` and
    ``alert_at`` are the check's limits.
    """
    fig, ax = _fig(6.0, 3.4)
    x = np.arange(len(df))
    share = df["share"].astype(float).to_numpy() * 100
    lo = df.get("ci low", pd.Series([np.nan] * len(df))).astype(float).to_numpy() * 100
    hi = df.get("ci high", pd.Series([np.nan] * len(df))).astype(float).to_numpy() * 100
    err = [np.nan_to_num(np.clip(share - lo, 0, None)), np.nan_to_num(np.clip(hi - share, 0, None))]
    colors = [CUR_COLOR if v == version else REF_COLOR for v in df["version"]]
    ax.bar(x, np.nan_to_num(share), 0.55, color=colors, yerr=err, capsize=4)
    for xi, v, src in zip(x, share, df["source"]):
        ax.text(xi, (v if np.isfinite(v) else 0) + 2, f"{v:.1f}%" if np.isfinite(v) else "no data",
                ha="center", va="bottom", fontsize=8, color="#333" if np.isfinite(v) else "#888")
    ax.axhline(warn_at * 100, color=STATUS_COLORS["warn"], ls="--", lw=1, label=f"warn at {warn_at:.0%}")
    ax.axhline(alert_at * 100, color=STATUS_COLORS["alert"], ls=":", lw=1, label=f"alert at {alert_at:.0%}")
    labels = [f"version {plain(v, 20)}" + (f"\n{plain(d, 20)}" if isinstance(d, str) and d else "")
              for v, d in zip(df["version"], df["deployed"])]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_xlabel("model version (deployment order; orange = this run's version)")
    ax.set_ylabel("training rows produced under\nthe model's influence (%)")
    ax.set_title("Training provenance per model version")
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    return fig


def prediction_narrowing(chunks: pd.DataFrame, panels: Sequence[tuple[Any, Any]], versions: pd.DataFrame, *,
                         word: str):
    """Prediction spread and extremity per chunk against the baseline band, and per version.

    ``chunks`` has ``period``, ``chunk``, ``start`` and a column per panel's
    measure name; ``versions`` one row per version (``version``,
    ``prediction_spread``, ``prediction_extremity``), possibly none.
    """
    n = len(panels) + (1 if not versions.empty else 0)
    fig, axes = _grid(n, cols=n, cell=(4.2, 3.0))
    base, bx, win, wx = _positions(chunks)
    for ax, (measure, assessment) in zip(axes, panels):
        _panel(ax, measure, assessment, base, bx, win, wx, word)
        _ticks(ax, base, bx, win, wx, word)
        ax.legend(frameon=False, fontsize=6)
    if not versions.empty:
        ax = axes[-1]
        x = np.arange(len(versions))
        ax.bar(x - 0.2, versions["prediction_spread"], 0.4, color=REF_COLOR, label="sd")
        ax2 = ax.twinx()
        ax2.bar(x + 0.2, versions["prediction_extremity"] * 100, 0.4, color=CUR_COLOR, label="outside central 90%")
        ax.set_xticks(x, [f"version {plain(v, 20)}" for v in versions["version"]], fontsize=8)
        ax.set_xlabel("model version (scored on the baseline sample)", fontsize=8)
        ax.set_ylabel("sd of the prediction", fontsize=8)
        ax2.set_ylabel("outside reference central 90% (%)", fontsize=8)
        ax.set_title("Per version, same reference rows", fontsize=9)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, frameon=False, fontsize=7, loc="upper right")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.25)
        ax2.set_ylim(0, ax2.get_ylim()[1] * 1.25)
    fig.suptitle("Prediction narrowing and extremity", fontsize=11)
    return fig
