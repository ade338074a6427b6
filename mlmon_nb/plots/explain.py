"""Figures of the explainability notebook.

Each function takes a result of :mod:`mlmon_nb.explain` (read through its attributes only:
this module never imports the area) and returns a matplotlib Figure. Feature names and
values are data: they go through :func:`_text` before matplotlib sees them, so a ``$`` in a
value is shown as a dollar sign, not read as mathtext.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS, _fig, value_axis

__all__ = [
    "attribution_importance", "attribution_reliance", "attribution_outcome", "attribution_cohort",
    "attribution_waterfall", "attribution_dependence",
]

_UP = "#c62828"    # a contribution that raises the output
_DOWN = "#1565c0"  # one that lowers it
_RELIANCE_LIMITS = (-3.0, 4.0)


def _text(value, limit: int = 40) -> str:
    """Data as plain text for matplotlib: mathtext disabled, long strings shortened."""
    s = str(value)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("\\", "\\\\").replace("$", r"\$")


def _units_label(units: str) -> str:
    return "log-odds" if units == "log-odds" else "prediction units"


def attribution_importance(result):
    """Mean |SHAP| per feature at baseline against the window, with rank changes."""
    feats = sorted(result.features, key=lambda f: f.importance_baseline)
    fig, ax = _fig(7.5, max(2.6, 0.42 * len(feats) + 1.2))
    y = np.arange(len(feats))
    ax.barh(y + 0.2, [f.importance_baseline for f in feats], 0.4, color=REF_COLOR, label="baseline sample")
    ax.barh(y - 0.2, [f.importance_window for f in feats], 0.4, color=CUR_COLOR, label="window")
    labels = []
    for f in feats:
        move = f.rank_baseline - f.rank_window
        tag = "" if move == 0 else (f"  (rank ↑{move})" if move > 0 else f"  (rank ↓{-move})")
        labels.append(_text(f.feature) + tag)
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"mean |SHAP value| per row ({_units_label(result.units)})")
    ax.set_ylabel("feature")
    ax.set_title("Global importance: mean |SHAP| at baseline and in the window")
    fig.legend(frameon=False, loc="outside lower center", ncols=2, fontsize=8)
    return fig


def attribution_reliance(result):
    """Outcome reliance per feature: the baseline's band, the baseline value and the window's."""
    feats = sorted(result.features, key=lambda f: f.share_baseline)
    fig, ax = _fig(7.5, max(2.6, 0.42 * len(feats) + 1.2))
    lo_lim, hi_lim = _RELIANCE_LIMITS
    y = np.arange(len(feats))
    for i, f in enumerate(feats):
        if np.isfinite(f.reliance_low):
            ax.plot([max(f.reliance_low, lo_lim), min(f.reliance_high, hi_lim)], [i, i], color="#bbbbbb", lw=7,
                    solid_capstyle="butt", label="baseline band" if i == 0 else None, zorder=1)
        for val, color, marker, lab in ((f.reliance_baseline, REF_COLOR, "o", "baseline"),
                                        (f.reliance_window, STATUS_COLORS.get(f.reliance_status, CUR_COLOR), "D",
                                         "window (colour = status)")):
            if not np.isfinite(val):
                continue
            shown = min(max(val, lo_lim), hi_lim)
            ax.scatter([shown], [i], color=color, marker=marker if shown == val else ">" if val > hi_lim else "<",
                       s=45, zorder=3, label=lab if i == len(feats) - 1 else None)
    ax.axvline(1.0, color="#555", ls="--", lw=1)
    ax.axvline(0.0, color="#999", ls=":", lw=1)
    ax.text(1.0, len(feats) - 0.4, " as the model assumes", fontsize=8, color="#555", va="bottom")
    ax.text(0.0, len(feats) - 0.4, " no effect", fontsize=8, color="#777", va="bottom")
    ax.set_xlim(lo_lim - 0.2, hi_lim + 0.2)
    ax.set_ylim(-0.7, len(feats) + 0.2)
    ax.set_yticks(y, [_text(f.feature) for f in feats])
    ax.set_xlabel("outcome reliance ρ (dimensionless: 1 = as the model assumes, 0 = no effect, < 0 = reversed)")
    ax.set_ylabel("feature")
    ax.set_title("Do outcomes still follow the model's attributions? (outcome reliance per feature)")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, frameon=False, loc="outside lower center", ncols=3, fontsize=8)
    return fig


def attribution_outcome(result, feature: str):
    """Observed minus predicted outcome per bin of one feature's attribution, baseline and window."""
    df = result.outcome_bins(feature)
    fig, ax = _fig(7.0, 3.8)
    for side, color in (("baseline", REF_COLOR), ("window", CUR_COLOR)):
        part = df[df["side"] == side] if not df.empty else df
        if part.empty:
            continue
        ax.errorbar(part["attribution"], part["observed_minus_predicted"], yerr=1.96 * part["se"], color=color,
                    marker="o", capsize=3, label=f"{'baseline sample' if side == 'baseline' else 'window'} "
                                                 f"({int(part['rows'].sum()):,} labelled rows)")
    ax.axhline(0, color="#555", lw=1, ls="--")
    unit = "percentage points" if result.task != "regression" else "target units"
    ax.set_xlabel(f"SHAP value of {_text(feature)} (median per bin, {_units_label(result.units)})")
    ax.set_ylabel(f"observed − predicted ({unit})")
    ax.set_title(f"{_text(feature)}: outcome against the model's attribution")
    if ax.get_legend_handles_labels()[0]:  # below the axes, clear of the points and their intervals
        fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=8, loc="outside lower center", ncols=2)
    return fig


def attribution_cohort(comparison):
    """Mean SHAP per feature in the cohort: same cohort at baseline against now."""
    df = comparison.to_df().iloc[::-1]
    fig, ax = _fig(7.5, max(2.6, 0.42 * len(df) + 1.2))
    y = np.arange(len(df))
    ax.barh(y + 0.2, df["mean SHAP baseline"].fillna(0), 0.4, color=REF_COLOR,
            label=f"cohort at baseline ({comparison.baseline_rows:,} rows)")
    ax.barh(y - 0.2, df["mean SHAP now"].fillna(0), 0.4, color=CUR_COLOR,
            label=f"cohort now ({comparison.window_rows:,} rows)")
    ax.axvline(0, color="#555", lw=1)
    ax.set_yticks(y, [_text(f) for f in df["feature"]])
    ax.set_xlabel(f"mean SHAP value in the cohort ({_units_label(comparison.units)}; > 0 raises the prediction)")
    ax.set_ylabel("feature")
    ax.set_title(f"Cohort {_text(comparison.spec.label, 60)}: mean contribution per feature")
    fig.legend(frameon=False, loc="outside lower center", ncols=2, fontsize=8)
    return fig


def attribution_waterfall(local, max_features: int = 8):
    """Waterfall of one prediction: base value, each feature's contribution, the output."""
    contrib = local.contributions.astype(float)
    order = list(contrib.abs().sort_values(ascending=False).index)
    shown, rest = order[:max_features], order[max_features:]
    steps = [(f"{_text(f, 24)} = {_text(_fmt(local.values.get(f)), 18)}", float(contrib[f])) for f in shown]
    if rest:
        steps.append((f"{len(rest)} other features", float(contrib[rest].sum())))
    steps = steps[::-1]  # largest at the top
    fig, ax = _fig(7.5, max(2.8, 0.4 * len(steps) + 1.6))
    start = local.output - sum(v for _, v in steps)  # = base value
    pos = start
    lefts = []
    for _, v in steps[::-1]:
        lefts.append(pos)
        pos += v
    lefts = lefts[::-1]
    for i, ((label, v), left) in enumerate(zip(steps, lefts)):
        ax.barh(i, v, left=left, color=_UP if v >= 0 else _DOWN, height=0.6)
        ax.text(left + v, i, f" {v:+.3f}" if v >= 0 else f"{v:+.3f} ", va="center",
                ha="left" if v >= 0 else "right", fontsize=8)
    ax.axvline(local.base_value, color="#777", ls=":", lw=1)
    ax.axvline(local.output, color="#333", ls="--", lw=1)
    ax.set_yticks(np.arange(len(steps)), [s for s, _ in steps])
    ax.set_ylim(-0.8, len(steps) - 0.2)
    span = [*lefts, *(lf + v for (_, v), lf in zip(steps, lefts)), local.base_value, local.output]
    lo, hi = min(span), max(span)
    pad = 0.12 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(f"model output ({_units_label(local.units)}): base value {local.base_value:.3f} (dotted) → "
                  f"this row {local.output:.3f} (dashed)")
    ax.set_ylabel("feature = value in this row")
    pred = f"predicted {local.prediction:.3f}" if local.units == "log-odds" else f"predicted {local.output:.4g}"
    label = "" if local.label is None else f", observed {local.label:g}"
    ax.set_title(f"{_text(local.row_id, 40)}: {pred}{label}")
    return fig


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "(missing)"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def attribution_dependence(dep):
    """SHAP value against feature value: baseline points against window points."""
    fig, ax = _fig(7.0, 3.8)
    unit = _units_label(dep.units)
    if dep.kind == "numeric":
        xb = pd.to_numeric(dep.baseline_values, errors="coerce").to_numpy(dtype=float)
        xw = pd.to_numeric(dep.window_values, errors="coerce").to_numpy(dtype=float)
        ax.scatter(xb, dep.baseline_shap, s=6, alpha=0.25, color=REF_COLOR, label=f"baseline sample ({len(xb):,} rows)")
        ax.scatter(xw, dep.window_shap, s=6, alpha=0.35, color=CUR_COLOR, label=f"window ({len(xw):,} rows)")
        both = np.concatenate([xb[np.isfinite(xb)], xw[np.isfinite(xw)]])
        if len(both):
            x0, x1 = np.quantile(both, [0.002, 0.998])
            lo, hi = dep.region()
            if np.isfinite(hi) and x1 > hi:
                ax.axvspan(hi, x1, color=CUR_COLOR, alpha=0.08, label="beyond the baseline's central 98%")
            if np.isfinite(lo) and x0 < lo:
                ax.axvspan(x0, lo, color=CUR_COLOR, alpha=0.08)
            if x1 > x0:
                ax.set_xlim(x0, x1)
        value_axis(ax.xaxis, nbins=7)
        ax.set_xlabel(f"{_text(dep.feature)} (feature value, data units)")
    else:
        levels = sorted(set(dep.baseline_values.astype(object).astype(str)) |
                        set(dep.window_values.astype(object).astype(str)))[:20]
        x = np.arange(len(levels))
        for side, vals, phi, color, off in (("baseline", dep.baseline_values, dep.baseline_shap, REF_COLOR, -0.2),
                                            ("window", dep.window_values, dep.window_shap, CUR_COLOR, 0.2)):
            s = vals.astype(object).astype(str).to_numpy()
            means = [phi[s == lv].mean() if (s == lv).any() else np.nan for lv in levels]
            shares = [(s == lv).mean() for lv in levels]
            ax.bar(x + off, means, 0.4, color=color, label=f"{side} (mean per level)")
            for xi, m, sh in zip(x + off, means, shares):
                if np.isfinite(m):
                    ax.text(xi, m, f"{sh:.0%}", ha="center", va="bottom" if m >= 0 else "top", fontsize=7)
        ax.axhline(0, color="#555", lw=1)
        ax.set_xticks(x, [_text(lv, 16) for lv in levels], rotation=30 if len(levels) > 5 else 0,
                      ha="right" if len(levels) > 5 else "center")
        ax.set_xlabel(f"{_text(dep.feature)} (level; labels on bars = share of rows)")
    ax.set_ylabel(f"SHAP value of {_text(dep.feature, 24)} ({unit})")
    ax.set_title(f"{_text(dep.feature)}: how the model responds, baseline against window")
    # below the axes: inside, it would sit on points or bars
    fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=8, markerscale=2,
               loc="outside lower center", ncols=3)
    return fig
