"""Figures of the data-drift notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS, _fig

def overlay(reference: pd.Series, current: pd.Series, feature: str, kind: str, unit: str = ""):
    """Reference against window for one feature: densities (numeric) or shares (categorical)."""
    fig, ax = _fig()
    label = f"{feature} ({unit})" if unit else feature
    if kind == "numeric":
        r = pd.to_numeric(reference, errors="coerce").dropna().to_numpy()
        c = pd.to_numeric(current, errors="coerce").dropna().to_numpy()
        both = np.concatenate([r, c]) if len(r) + len(c) else np.array([0.0])
        lo, hi = np.nanpercentile(both, [0.5, 99.5])
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 41)
        ax.hist(r, bins=bins, density=True, alpha=0.55, color=REF_COLOR, label=f"reference (n={len(r):,})")
        ax.hist(c, bins=bins, density=True, alpha=0.55, color=CUR_COLOR, label=f"window (n={len(c):,})")
        ax.set_xlabel(label)
        ax.set_ylabel("density (share of rows per unit)")
    else:
        rs = reference.astype(object).fillna("(missing)").astype(str).value_counts(normalize=True)
        cs = current.astype(object).fillna("(missing)").astype(str).value_counts(normalize=True)
        levels = list((rs.add(cs, fill_value=0)).sort_values(ascending=False).index[:20])
        x = np.arange(len(levels))
        ax.bar(x - 0.2, [rs.get(k, 0) * 100 for k in levels], 0.4, color=REF_COLOR, label="reference")
        ax.bar(x + 0.2, [cs.get(k, 0) * 100 for k in levels], 0.4, color=CUR_COLOR, label="window")
        ax.set_xticks(x, levels, rotation=30 if len(levels) > 5 else 0, ha="right" if len(levels) > 5 else "center")
        ax.set_xlabel(label)
        ax.set_ylabel("share of rows (%)")
    ax.set_title(f"{feature}: reference vs window")
    ax.legend(frameon=False)
    return fig


def drift_summary(df: pd.DataFrame):
    """Horizontal bars of each feature's effect relative to its alert threshold."""
    df = df.sort_values("effect_ratio", ascending=True)
    fig, ax = _fig(7.0, max(2.2, 0.28 * len(df) + 1.0))
    colors = [STATUS_COLORS.get(s, "#777") for s in df["status"]]
    ax.barh(df["feature"].astype(str), df["effect_ratio"], color=colors)
    ax.axvline(1.0, color="#c62828", ls="--", lw=1, label="alert threshold")
    ax.set_xlabel("effect size ÷ alert threshold (1 = at threshold)")
    ax.set_ylabel("feature")
    ax.set_title("Drift effect per feature, relative to its alert threshold")
    ax.legend(frameon=False, loc="lower right")
    return fig
