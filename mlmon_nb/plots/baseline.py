"""Figures of the baseline and operations notebooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

from .common import CUR_COLOR, REF_COLOR, _fig, _grid, plain

__all__ = ["DAYS", "baseline_categorical", "baseline_numeric", "calibration_curve", "chunk_series",
           "importance_bars", "latency_histogram", "prediction_distribution", "traffic_profile"]

def baseline_numeric(baseline):
    """Reference distribution of every numeric feature (from the baseline's sorted values)."""
    names = list(baseline.features.numeric)
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        v = baseline.sorted_values.get(name, np.array([]))
        if len(v):
            lo, hi = np.percentile(v, [0.5, 99.5])
            ax.hist(v, bins=np.linspace(lo, hi if hi > lo else lo + 1, 31), color=REF_COLOR, density=True)
        ax.set_title(plain(name, 40), fontsize=10)
        ax.set_xlabel(f"{plain(name, 40)} (value)", fontsize=8)
        ax.set_ylabel("density", fontsize=8)
    fig.suptitle("Numeric features in the reference data")
    return fig


def baseline_categorical(baseline):
    """Reference shares of the most frequent levels of every categorical feature."""
    names = list(baseline.features.categorical)
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        prof = baseline.profile(name)
        items = list(prof["frequencies"].items())[:10]
        if prof["other_share"] > 0:
            items.append(("(other)", prof["other_share"]))
        # Levels as tick labels of their own (a categorical axis would draw them as given).
        y = np.arange(len(items))[::-1]
        ax.barh(y, [v * 100 for _, v in items], color=REF_COLOR)
        ax.set_yticks(y, [plain(k, 24) for k, _ in items])
        ax.set_title(f"{plain(name, 40)} ({prof['cardinality']:,} levels)", fontsize=10)
        ax.set_xlabel("share of rows (%)", fontsize=8)
    fig.suptitle("Categorical features in the reference data (top levels)")
    return fig


def prediction_distribution(baseline):
    """Distribution of the version's predictions on the reference, by true label when known."""
    fig, ax = _fig()
    sample = baseline.sample
    col = baseline.prediction_column
    target = baseline.manifest["target"]
    task = baseline.manifest["task"]
    if task == "binary_classification" and target in sample.columns and sample[target].notna().any():
        bins = np.linspace(0, max(0.01, float(np.quantile(sample[col], 0.995))), 41)
        for label, color in ((0, REF_COLOR), (1, CUR_COLOR)):
            vals = sample.loc[sample[target] == label, col]
            ax.hist(vals, bins=bins, density=True, alpha=0.6, color=color,
                    label=f"{plain(target, 40)} = {label} (n={len(vals):,})")
        ax.legend(frameon=False)
        ax.set_xlabel("predicted probability of the positive class")
    else:
        ax.hist(sample[col], bins=40, color=REF_COLOR, density=True)
        ax.set_xlabel("prediction")
    ax.set_ylabel("density")
    ax.set_title("Predictions on the reference data")
    return fig


def calibration_curve(baseline, window_curve: dict | None = None):
    """Calibration: mean predicted probability against the observed rate, per quantile bin."""
    fig, ax = _fig(5.0, 4.2)
    cal = baseline.manifest.get("calibration") or {}
    top = 0.0
    if cal:
        ax.plot(cal["mean_predicted"], cal["observed_rate"], "o-", color=REF_COLOR, label="reference")
        top = max(max(cal["mean_predicted"]), max(cal["observed_rate"]))
    if window_curve:
        ax.plot(window_curve["mean_predicted"], window_curve["observed_rate"], "s-", color=CUR_COLOR, label="window")
        top = max(top, max(window_curve["mean_predicted"]), max(window_curve["observed_rate"]))
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], "--", color="#999", lw=1, label="perfect calibration")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted probability (per decile of predictions)")
    ax.set_ylabel("observed positive rate")
    ax.set_title("Calibration")
    ax.legend(frameon=False)
    return fig


def importance_bars(importance: dict[str, float], method: str, title: str = "Feature importance"):
    """Horizontal bars of normalised importance, largest on top."""
    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig, ax = _fig(6.5, max(2.0, 0.3 * len(items) + 1.0))
    ax.barh(np.arange(len(items)), [v * 100 for _, v in items], color=REF_COLOR)
    ax.set_yticks(np.arange(len(items)), [plain(k, 40) for k, _ in items])
    ax.set_xlabel(f"share of total importance (%), {plain(method)}")
    ax.set_ylabel("feature")
    ax.set_title(plain(title))
    return fig


def latency_histogram(hist: dict[str, int], p: dict[str, float], title: str = "Latency in the baseline window"):
    """Latency histogram (DuckDB bins) with p50/p95/p99 marked.

    ``hist`` maps each bin's upper edge in ms to its count; the open last bin ("inf") is not
    drawn (it has no width) but its share is named in the legend.
    """
    fig, ax = _fig()
    finite = [(float(k), v) for k, v in hist.items() if k != "inf"]
    edges = np.array([k for k, _ in finite])
    counts = np.array([v for _, v in finite], dtype=float)
    total = counts.sum() + float(hist.get("inf", 0))
    widths = np.diff(np.concatenate([[0.0], edges]))
    if total > 0 and len(edges):
        ax.bar(edges - widths, counts / total * 100, width=widths, align="edge", color=REF_COLOR,
               label="requests per bin")
    over = float(hist.get("inf", 0))
    if over and len(edges):
        ax.plot([], [], " ", label=f"{over / total:.2%} of requests above {edges[-1]:,.0f} ms (not drawn)")
    for k, ls in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        if p.get(k) is not None:
            ax.axvline(p[k], color="#c62828", ls=ls, lw=1, label=f"{k} = {p[k]:.0f} ms")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of requests (%)")
    ax.set_title(plain(title))
    ax.legend(frameon=False)
    return fig


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def traffic_profile(per_how: list[float], observed: list[float] | None = None,
                    title: str = "Traffic by hour of week"):
    """Expected requests per hour over the week (Monday 00:00 UTC first), optionally with observed."""
    fig, ax = _fig(9.0, 3.2)
    x = np.arange(168)
    ax.plot(x, per_how, color=REF_COLOR, label="baseline (mean per week)")
    if observed is not None:
        ax.plot(x, observed, color=CUR_COLOR, label="window", alpha=0.9)
    ax.set_xticks(np.arange(0, 168, 24), DAYS)
    ax.set_xlabel("hour of week (UTC)")
    ax.set_ylabel("requests per hour")
    ax.set_title(plain(title))
    ax.legend(frameon=False)
    return fig


def chunk_series(chunks: pd.DataFrame, family: str, metrics: list[str], bands: dict, title: str, ylabel: str):
    """A figure per reference chunk for some metrics, with the learned band shaded."""
    fig, ax = _fig(8.0, 3.4)
    for i, metric in enumerate(metrics):
        g = chunks[(chunks["family"] == family) & (chunks["metric"] == metric)].sort_values("chunk")
        if g.empty:
            continue
        color = plt.cm.tab10(i)
        ax.plot(g["chunk"], g["value"], "o-", color=color, label=metric, ms=3)
        band = bands.get(metric)
        if band is not None:
            lo, hi = band.limits()
            ax.axhspan(lo, hi, color=color, alpha=0.08)
    ax.set_xlabel("reference chunk (time order)")
    ax.set_ylabel(plain(ylabel))
    ax.set_title(plain(title))
    ax.legend(frameon=False, fontsize=8, ncols=3)
    return fig
