"""Figures of the data-drift notebook. Each takes a result of :mod:`mlmon_nb.drift` (duck-typed) or plain
data and returns a titled Figure."""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from .. import stats
from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS, _fig, plain, value_axis

__all__ = ["drift_summary", "overlay_numeric", "overlay_categorical", "time_heatmap", "domain_features",
           "joint_bands"]

IMPACT_COLOR = "#5b6b7f"


def _label(text: Any, width: int = 28) -> str:
    """A column name or level as plain figure text, long ones cut (:func:`~mlmon_nb.plots.common.plain`)."""
    return plain(text, width)


def _display(method: str) -> str:
    return stats.REGISTRY[method].display if method in stats.REGISTRY else method


def drift_summary(df: pd.DataFrame, top_n: int = 20, has_importance: bool = True):
    """Effect relative to its alert threshold, and impact, for the top features by impact.

    Parameters
    ----------
    df : DataFrame
        ``UnivariateDrift.to_df()`` (sorted by impact, or by effect ratio).
    top_n : int
        Features shown; the rest are counted in the title.
    """
    shown = df.head(top_n).iloc[::-1]
    height = max(2.4, 0.27 * len(shown) + 1.3)
    ncols = 2 if has_importance else 1
    fig, axes = plt.subplots(1, ncols, figsize=(9.5 if ncols == 2 else 7.0, height), dpi=90, sharey=True,
                             layout="constrained", squeeze=False)
    axes = axes[0]
    y = np.arange(len(shown))
    names = [_label(f) for f in shown["feature"]]
    ratio = shown["ratio"].fillna(0).to_numpy()
    colors = [STATUS_COLORS.get(s, "#777") for s in shown["status"]]
    ax = axes[0]
    ax.barh(y, ratio, color=colors, height=0.7)
    ax.axvline(1.0, color=STATUS_COLORS["alert"], ls="--", lw=1)
    ax.set_yticks(y, names)
    ax.set_xlabel("effect ÷ alert threshold (1 = at the threshold)")
    ax.set_ylabel("feature")
    ax.set_title("Effect")
    for yi, (r, m) in enumerate(zip(ratio, shown["method"])):
        ax.text(r, yi, f" {r:.2f}", va="center", fontsize=7, color="#333")
    ax.set_xlim(0, max(1.3, float(np.nanmax(ratio)) * 1.18 if len(ratio) else 1.3))
    handles = [plt.Rectangle((0, 0), 1, 1, color=STATUS_COLORS[s]) for s in ("ok", "warn", "alert")]
    ax.legend(handles, ["ok", "warn", "alert"], frameon=False, loc="lower right", fontsize=7, title="status",
              title_fontsize=7)
    if has_importance:
        ax2 = axes[1]
        impact = shown["impact"].fillna(0).to_numpy()
        ax2.barh(y, impact, color=[c if s != "ok" else IMPACT_COLOR for c, s in zip(colors, shown["status"])],
                 height=0.7, alpha=0.9)
        ax2.set_xlabel("impact = effect ratio × relative importance")
        ax2.set_title("Impact on the model")
        for yi, v in enumerate(impact):
            ax2.text(v, yi, f" {v:.2f}", va="center", fontsize=7, color="#333")
        ax2.set_xlim(0, max(0.5, float(np.nanmax(impact)) * 1.2 if len(impact) else 0.5))
    more = f" (top {len(shown)} of {len(df)} by {'impact' if has_importance else 'effect'})" if len(df) > len(shown) \
        else ""
    fig.suptitle(f"Drift per feature{more}", fontsize=11)
    return fig


#: Window values an overlay draws its curves from at most (an even sample above; the counts in the
#: legend and the histogram use every value).
DISPLAY_ROWS = 200_000


def overlay_numeric(reference, current, feature: str, drift=None, title: str | None = None):
    """Reference (baseline's sorted values) against window: density histogram and ECDFs side by side.

    Parameters
    ----------
    reference : stats.NumericReference
        The baseline's representation of the feature (``sorted``, ``n``).
    current : array-like
        The window's values.
    drift : FeatureDrift, optional
        Used for the subtitle (``method``, ``value``, ``threshold``, ``status``) and its KS ``gap``.
    """
    r = np.asarray(reference.sorted, dtype=float)
    values = pd.to_numeric(pd.Series(current), errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    n_current = len(values)
    gap = getattr(drift, "gap", None)
    if gap is not None and n_current > DISPLAY_ROWS:
        # The curves are drawn from an even sample of the window (what a 700-pixel plot can show); the
        # largest gap comes exact from the statistics, which sorted every value once already.
        c = np.sort(values[:: -(-n_current // DISPLAY_ROWS)])
    else:
        c, gap = np.sort(values), None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.3), dpi=90, layout="constrained")
    if not len(r) and not len(c):
        r = c = np.array([0.0, 1.0])

    def q(sorted_values: np.ndarray, share: float) -> float:
        return float(sorted_values[int(share * (len(sorted_values) - 1))]) if len(sorted_values) else np.nan

    lo = np.nanmin([q(r, 0.005), q(c, 0.005)])
    hi = np.nanmax([q(r, 0.995), q(c, 0.995)])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    distinct = r[np.r_[True, np.diff(r) > 0]] if len(r) else np.unique(c)
    distinct = distinct[(distinct >= lo) & (distinct <= hi)]
    if 0 < len(distinct) <= 40:  # discrete values: one bar per value
        step = np.min(np.diff(distinct)) if len(distinct) > 1 else 1.0
        bins = np.concatenate([distinct - step / 2, [distinct[-1] + step / 2]])
        spec = {"bins": bins}
    else:
        bins = np.linspace(lo, hi, 41)
        spec = {"bins": 40, "range": (lo, hi)}  # the same edges; numpy's fast path for equal widths
    for drawn, color, label in ((r, REF_COLOR, f"baseline (n={reference.n:,})"),
                                (values, CUR_COLOR, f"window (n={n_current:,})")):
        dens, _ = np.histogram(drawn, **spec, density=True) if len(drawn) else (np.zeros(len(bins) - 1), None)
        ax1.stairs(dens, bins, fill=True, alpha=0.55, color=color, label=label)
    name = _label(feature, 40)
    ax1.set_xlabel(f"{name} (feature units; 0.5–99.5 percentile range)")
    ax1.set_ylabel("density (share of rows per unit)")
    ax1.set_title("Distribution")
    ax1.legend(frameon=False, fontsize=8)
    if len(r) and len(c):
        # ECDFs drawn on at most ~2,000 points (plus the largest gap): a million-point step line
        # costs seconds and looks the same.
        take = np.linspace(0, 1, 2001)
        grid = np.unique(np.concatenate([r[(take * (len(r) - 1)).astype(int)], c[(take * (len(c) - 1)).astype(int)],
                                         [lo, hi]]))
        fr = np.searchsorted(r, grid, side="right") / len(r)
        fc = np.searchsorted(c, grid, side="right") / len(c)
        ax2.step(grid, fr * 100, where="post", color=REF_COLOR, label="baseline")
        ax2.step(grid, fc * 100, where="post", color=CUR_COLOR, label="window")
        if gap is None:
            _, gap = stats.ks_gap(r, c)
        x, f_ref, f_cur = gap
        ax2.vlines(x, min(f_ref, f_cur) * 100, max(f_ref, f_cur) * 100, color="#222",
                   lw=1.5, label=f"largest gap ({abs(f_ref - f_cur):.3f})")
    ax2.set_xlim(lo, hi)
    for ax in (ax1, ax2):  # half a figure's width each: a few round ticks, never '100000125000150000'
        value_axis(ax.xaxis)
    ax2.set_xlabel(f"{name} (feature units)")
    ax2.set_ylabel("rows at or below (%)")
    ax2.set_title("Cumulative share (ECDF)")
    ax2.legend(frameon=False, fontsize=8, loc="lower right")
    sub = ""
    if drift is not None:
        sub = f" — {_display(drift.method)} {drift.value:.3g} (alert at {drift.threshold:.3g}), {drift.status}"
    fig.suptitle(plain(title) if title else f"{name}: baseline vs window{sub}", fontsize=11)
    return fig


def overlay_categorical(reference, current_counts, feature: str, drift=None, max_levels: int = 15):
    """Baseline shares against window shares per level (the most frequent levels, then the rest)."""
    levels = list(reference.levels) + ["(other levels)"]
    ref = np.asarray(reference.shares, dtype=float) * 100
    cur_counts = np.asarray(current_counts, dtype=float)
    cur = cur_counts / cur_counts.sum() * 100 if cur_counts.sum() else np.zeros_like(ref)
    order = np.argsort(-(np.maximum(ref[:-1], cur[:-1])), kind="stable")
    keep = list(order[:max_levels])
    rest = [i for i in range(len(levels) - 1) if i not in keep]
    names = [_label(levels[i], 18) for i in keep]
    r_vals = [ref[i] for i in keep]
    c_vals = [cur[i] for i in keep]
    other_r, other_c = ref[-1] + sum(ref[i] for i in rest), cur[-1] + sum(cur[i] for i in rest)
    if other_r > 0 or other_c > 0:
        names.append("(other levels)" if not rest else f"({len(rest)} more + other)")
        r_vals.append(other_r)
        c_vals.append(other_c)
    fig, ax = _fig(max(5.5, min(9.5, 0.55 * len(names) + 3)), 3.4)
    x = np.arange(len(names))
    ax.bar(x - 0.2, r_vals, 0.4, color=REF_COLOR, label=f"baseline (n={reference.n:,})")
    ax.bar(x + 0.2, c_vals, 0.4, color=CUR_COLOR, label=f"window (n={int(cur_counts.sum()):,})")
    rot = 30 if len(names) > 5 else 0
    ax.set_xticks(x, names, rotation=rot, ha="right" if rot else "center")
    ax.set_xlabel(f"{_label(feature, 40)} (level)")
    ax.set_ylabel("share of rows (%)")
    ax.legend(frameon=False, fontsize=8)
    sub = ""
    if drift is not None:
        sub = f" — {_display(drift.method)} {drift.value:.3g} (alert at {drift.threshold:.3g}), {drift.status}"
    ax.set_title(f"{_label(feature, 40)}: baseline vs window{sub}", fontsize=10)
    return fig


def _chunk_label(start: pd.Timestamp, length: pd.Timedelta) -> str:
    if length >= pd.Timedelta(days=1):
        return start.strftime("%a %m-%d")
    return start.strftime("%m-%d %Hh")


def time_heatmap(time_drift, df: pd.DataFrame | None = None, top_n: int = 25):
    """Features x time chunks: each chunk's effect divided by its alert threshold at the chunk's size.

    Rows are the top ``top_n`` features (in ``df``'s order, i.e. by impact);
    cells outlined in black are chunks where the rule fired (warn or alert).
    """
    names = list(df["feature"]) if df is not None else list(time_drift.features)
    names = [n for n in names if n in time_drift.features][:top_n]
    idx = [time_drift.features.index(n) for n in names]
    ratio = time_drift.ratio[idx] if idx else np.zeros((0, len(time_drift.starts)))
    status = time_drift.status[idx] if idx else np.zeros((0, len(time_drift.starts)), dtype=object)
    C = len(time_drift.starts)
    fig, ax = _fig(min(11.0, max(5.5, 0.62 * C + 3.2)), max(2.3, 0.3 * len(names) + 1.5))
    vmax = float(np.nanmax(ratio)) if np.isfinite(ratio).any() else 2.0
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=max(2.0, min(vmax, 6.0)))
    im = ax.imshow(np.ma.masked_invalid(ratio), aspect="auto", cmap="RdYlGn_r", norm=norm, interpolation="nearest")
    ax.set_yticks(range(len(names)), [_label(n) for n in names])
    labels = [_chunk_label(s, time_drift.length) for s in time_drift.starts]
    step = max(1, int(np.ceil(C / 16)))
    ax.set_xticks(range(0, C, step), labels[::step], rotation=30 if C > 6 else 0, ha="right" if C > 6 else "center")
    ax.set_xlabel(f"window chunk (start, UTC; {_fmt_td(time_drift.length)} each)")
    ax.set_ylabel("feature")
    ax.grid(False)
    annotate = C <= 16 and len(names) <= 30
    for i in range(len(names)):
        for j in range(C):
            if status[i, j] in ("warn", "alert"):
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="#111",
                                           lw=2.0 if status[i, j] == "alert" else 1.0))
            if annotate and np.isfinite(ratio[i, j]):
                ax.text(j, i, f"{ratio[i, j]:.1f}", ha="center", va="center", fontsize=7,
                        color="#111" if ratio[i, j] < 3 else "white")
    cb = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.01)
    cb.set_label("effect ÷ alert threshold\n(at the chunk's rows)", fontsize=8)
    ax.set_title("Since when: drift per feature and time chunk (outlined = rule fired)", fontsize=10)
    return fig


def _fmt_td(td: pd.Timedelta) -> str:
    hours = td / pd.Timedelta(hours=1)
    if hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{hours:g} hours"


def domain_features(top: pd.Series, check=None, top_n: int = 15):
    """Which features let the domain classifier tell window rows from reference rows."""
    shown = top.head(top_n).iloc[::-1]
    fig, ax = _fig(7.0, max(2.2, 0.27 * len(shown) + 1.2))
    vals = shown.clip(lower=0).to_numpy() * 100
    ax.barh(np.arange(len(shown)), vals, color=CUR_COLOR if check is None or check.status != "ok" else IMPACT_COLOR)
    ax.set_yticks(np.arange(len(shown)), [_label(n) for n in shown.index])
    ax.set_xlabel("drop in ROC AUC when the feature is shuffled (AUC points × 100)")
    ax.set_ylabel("feature")
    auc = f" (ROC AUC {check.value:.3f}, {check.status})" if check is not None else ""
    ax.set_title(f"Domain classifier: what separates window from reference{auc}", fontsize=10)
    return fig


def joint_bands(checks: Sequence[Any]):
    """Each multivariate check's value against its null band and alert threshold."""
    n = max(1, len(checks))
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 2.5), dpi=90, layout="constrained", squeeze=False)
    for ax, c in zip(axes[0], checks):
        lo = c.band_low if c.band_low is not None else c.value
        hi = c.band_high if c.band_high is not None else c.value
        ax.axvspan(lo, hi, color="#cfd8e3", label="null band (scaled to the window)")
        ax.axvline(c.threshold, color=STATUS_COLORS["alert"], ls="--", lw=1, label="alert threshold")
        ax.plot([c.value], [0.5], "o", color=STATUS_COLORS.get(c.status, "#777"), ms=10, label="this window")
        left, right = min(lo, c.value), max(c.threshold, c.value, hi)
        pad = 0.25 * (right - left) or 0.05
        ax.set_xlim(left - pad, right + pad)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_xlabel("ROC AUC (0.5 = indistinguishable)" if c.method == "domain_classifier"
                      else "mean error ÷ reference's (1 = as in the reference)")
        ax.set_title(f"{_display(c.method)}: {c.value:.3f} ({c.status})", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False, fontsize=8)
    fig.suptitle("Multivariate checks against their null bands", fontsize=10)
    return fig
