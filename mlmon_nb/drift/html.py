"""HTML of the data-drift results in JupyterLab and the report: escaped tables and badges.

Every data value (feature names, levels) is escaped; only markup built here
(badges, non-wrapping spans) is not.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..checks import SEVERITY


class Html(str):
    """Markup we built (every data value inside escaped), displayed as HTML by Jupyter."""

    def _repr_html_(self) -> str:
        return str(self)


def esc(v: Any) -> str:
    return html.escape(str(v))


def badge(status: str) -> str:
    s = status if status in SEVERITY else "ok"
    return f"<span class='mlmon-badge mlmon-s-{s}'>{s}</span>"


def fmt_p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def fmt_num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"


def fmt_band(lo: Any, hi: Any) -> str:
    if hi is None or (isinstance(hi, float) and not np.isfinite(hi)):
        return "–"
    return f"{fmt_num(lo)} – {fmt_num(hi)}"


def nowrap(text: str) -> str:
    """Escaped text that does not wrap inside a table cell."""
    return f"<span style='white-space:nowrap'>{esc(text)}</span>"


def fmt_since(iso: str) -> str:
    """An ISO chunk start as a date, with the time only when it is not midnight.

    Examples
    --------
    >>> fmt_since("2026-10-05T00:00:00+00:00"), fmt_since("2026-10-05T06:00:00+00:00")
    ('2026-10-05', '2026-10-05 06:00')
    """
    t = pd.Timestamp(iso)
    return t.strftime("%Y-%m-%d") if (t.hour, t.minute) == (0, 0) else t.strftime("%Y-%m-%d %H:%M")


def kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """Two-column table; keys are ours, values are escaped unless they are our badges."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v if v.startswith('<span class=') else esc(v)}</td></tr>"
                   for k, v in rows)
    return f"<table class='mlmon-table'>{body}</table>"


def shares_html(df: pd.DataFrame) -> str:
    if df is None or df.empty:
        return ""
    shown = df.copy()
    for c in shown.columns:
        if c in ("baseline", "window") and shown[c].max() <= 1 and shown.columns[0] == "label":
            shown[c] = shown[c].map(lambda v: f"{v:.2%}")
    return shown.to_html(index=False, escape=True, classes="mlmon-table", float_format=lambda v: f"{v:.4g}")


def feature_table(df: pd.DataFrame, top_n: int = 25, statistics: Sequence[str] = ()) -> str:
    """The feature summary table (escaped): feature, method, value, band, threshold, p, status, impact, since."""
    if df.empty:
        return "<p>No features to compare.</p>"
    shown_df = df.head(top_n)
    has_imp = df["impact"].notna().any()
    out = pd.DataFrame({
        "feature": shown_df["feature"].map(esc),
        "reference → window": shown_df["in_units"].map(esc) if "in_units" in shown_df else "",
        "decided by": shown_df["method"].map(lambda m: nowrap(stats.REGISTRY[m].short)),
        "value": shown_df["value"].map(fmt_num),
        "alert at": shown_df["threshold"].map(fmt_num),
        "p (BH)": shown_df["p_adjusted"].map(fmt_p),
        "status": [badge(s) + (" <i>(ignored)</i>" if ig else "")
                   for s, ig in zip(shown_df["status"], shown_df["ignored"])],
    })
    if has_imp:
        out["importance"] = shown_df["importance"].map(lambda v: "–" if v is None or not np.isfinite(v) else f"{v:.2f}")
        out["impact"] = shown_df["impact"].map(lambda v: "–" if v is None or not np.isfinite(v) else f"{v:.2f}")
    out["since"] = shown_df["since"].map(lambda s: nowrap(fmt_since(s)) if isinstance(s, str) else "")
    for name in statistics:
        col = f"stat_{name}"
        values = shown_df[col] if col in shown_df else pd.Series([np.nan] * len(shown_df))
        out[esc(stats.REGISTRY[name].short)] = [fmt_num(v) for v in values]
    text = out.to_html(index=False, escape=False, classes="mlmon-table")
    if len(df) > top_n:
        rest = df.iloc[top_n:]
        fired = int((rest["status"] != "ok").sum())
        text += (f"<p class='mlmon-omitted'>{len(rest)} more features not shown "
                 f"({fired} of them fired); every feature is in summary.json.</p>")
    return text


def decisions_table(features: Sequence[Any], top_n: int = 25) -> str:
    """How each feature was decided (escaped): every part of its decision with the band's two kinds of noise.

    One row per part (statistic) of the ``top_n`` features shown first; the
    band is the reference chunks' centre ± 3 sd at this window's rows, its sd
    split into sampling noise (shrinks with rows) and between-chunk variation.
    """
    rows = []
    for f in features[:top_n]:
        for p in (f.parts or (f,)):
            samp, between = getattr(p, "sampling_sd", None), getattr(p, "between_sd", None)
            rows.append({
                "feature": esc(f.feature), "statistic": nowrap(stats.REGISTRY[p.method].short),
                "value": fmt_num(p.value), "band": nowrap(fmt_band(p.band_low, p.band_high)),
                "sampling sd": fmt_num(samp) if samp is not None else "–",
                "between-chunk sd": fmt_num(between) if between is not None else "–",
                "compared with": esc(getattr(p, "compared_with", None) or "–"),
                "alert at": fmt_num(p.threshold) + (f" <i title='{esc(p.note)}'>(floor)</i>"
                                                    if getattr(p, "note", None) else ""),
                "p (BH)": fmt_p(p.p_adjusted), "status": badge(p.status)})
    if not rows:
        return "<p>No features to compare.</p>"
    return pd.DataFrame(rows).to_html(index=False, escape=False, classes="mlmon-table")


def quality_table(df: pd.DataFrame, n_features: int) -> str:
    """Missing rates of the features that have any (``QualityDrift.changed()``), escaped."""
    if df.empty:
        return (f"<p>None of the {n_features} monitored features has missing values, in the reference or "
                f"in this window.</p>")
    shown = pd.DataFrame({
        "feature": df["feature"].map(esc),
        "reference": df["reference_rate"].map(lambda v: f"{v:.2%}"),
        "window": df["current_rate"].map(lambda v: f"{v:.2%}"),
        "expected range": [f"{lo:.2%} – {hi:.2%}" for lo, hi in zip(df["low"], df["high"])],
        "p (BH)": df["p_adjusted"].map(fmt_p),
        "status": df["status"].map(badge),
    })
    note = (f"<p class='mlmon-omitted'>{n_features - len(df)} more features have no missing values in either.</p>"
            if len(df) < n_features else "")
    return shown.to_html(index=False, escape=False, classes="mlmon-table") + note


def non_finite_html(records: Sequence[Any]) -> str:
    """One escaped sentence per feature with non-finite values (``QualityDrift.non_finite``), with its status."""
    if not records:
        return ""
    items = "".join(f"<li>{badge(r.status)} {esc(r.text())}</li>" for r in records)
    return f"<p>Non-finite values (left out of every statistic):</p><ul>{items}</ul>"


def joint_table(checks: Sequence[Any]) -> str:
    """The multivariate checks: value, null band, alert threshold, p, status."""
    if not checks:
        return "<p>No multivariate check could be computed.</p>"
    shown = pd.DataFrame({
        "check": [stats.REGISTRY[c.method].display for c in checks],
        "value": [f"{c.value:.3g}" for c in checks],
        "null band (scaled)": [fmt_band(c.band_low, c.band_high) for c in checks],
        "alert threshold": [f"{c.threshold:.3g}" for c in checks],
        "p": [fmt_p(c.p_value) for c in checks],
        "status": [badge(c.status) for c in checks],
    })
    return shown.to_html(index=False, escape=False, classes="mlmon-table")
