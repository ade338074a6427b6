"""Data drift: per-feature comparison of a window against the reference.

Decision rule (documented in the data-drift notebook too): a feature drifts
when the *effect size* of its statistic reaches the threshold **and** the
matching test is significant after Benjamini-Hochberg correction across all
features (false discovery rate ``fdr``, default 0.05). Requiring both keeps
big samples from turning every negligible difference into an alert (tiny
p-values alone), and keeps small samples from alerting on noise (a large but
insignificant distance). Thresholds come from the statistic's registry entry
unless ``thresholds.methods`` or ``thresholds.features`` in mlmon.yaml
override them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import stats
from .checks import SEVERITY, Recorder
from .config import FeaturesConfig

DEFAULT_FDR = 0.05
DEFAULT_METHODS = {"numeric": "ks", "categorical": "chi2"}


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    method: str
    value: float
    p_value: float | None
    p_adjusted: float | None
    warn: float
    alert: float
    status: str
    reference_missing: float
    current_missing: float


@dataclass
class DriftResult:
    """Per-feature drift of a window against the reference."""

    features: list[FeatureDrift]
    fdr: float
    reference: pd.DataFrame = field(repr=False)
    current: pd.DataFrame = field(repr=False)

    def to_df(self) -> pd.DataFrame:
        """One row per feature, most severe first, then by effect relative to its threshold."""
        df = pd.DataFrame([f.__dict__ for f in self.features])
        if df.empty:
            return df
        df["effect_ratio"] = df["value"] / df["alert"]
        df["_sev"] = df["status"].map(SEVERITY)
        df = df.sort_values(["_sev", "effect_ratio"], ascending=[False, False], kind="stable")
        return df.drop(columns=["_sev"]).reset_index(drop=True)

    def drifted(self, status: str = "alert") -> list[str]:
        """Features at or above a status, most severe first."""
        df = self.to_df()
        if df.empty:
            return []
        return df.loc[df["status"].map(SEVERITY) >= SEVERITY[status], "feature"].tolist()

    def record(self, recorder: Recorder) -> None:
        """Record one ``feature_drift`` check per monitored feature, drifted or not."""
        for f in self.features:
            recorder.check("feature_drift", f.feature, f.status, method=f.method, value=f.value,
                           threshold=f.alert, p_value=f.p_adjusted, p_value_raw=f.p_value,
                           warn_threshold=f.warn, fdr=self.fdr)
            if f.status != "ok":
                recorder.finding(
                    f"{f.feature} drifted ({stats.REGISTRY[f.method].display} {f.value:.3f}, "
                    f"threshold {f.alert:g})", f.status)

    def plot(self, kind: str = "overlay", feature: str | None = None):
        """Plot the result: ``overlay`` (one feature) or ``summary`` (all features)."""
        from . import plots

        if kind == "overlay":
            if feature is None:
                raise ValueError("The 'feature' parameter of DriftResult.plot is required for kind='overlay'.")
            spec = next(f for f in self.features if f.feature == feature)
            return plots.overlay(self.reference[feature], self.current[feature], feature, spec.kind)
        if kind == "summary":
            return plots.drift_summary(self.to_df())
        raise ValueError(f"The 'kind' parameter of DriftResult.plot must be 'overlay' or 'summary'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return table_html(self.to_df())


def table_html(df: pd.DataFrame) -> str:
    """The drift table as escaped HTML with sensible precision."""
    if df.empty:
        return "<p>No features to compare.</p>"
    shown = pd.DataFrame({
        "feature": df["feature"],
        "type": df["kind"],
        "method": df["method"].map(lambda m: stats.REGISTRY[m].display),
        "effect": df["value"].map(lambda v: f"{v:.3f}"),
        "warn / alert at": [f"{w:g} / {a:g}" for w, a in zip(df["warn"], df["alert"])],
        "p (BH-adjusted)": df["p_adjusted"].map(_fmt_p),
        "missing ref → now": [f"{r:.1%} → {c:.1%}" for r, c in zip(df["reference_missing"], df["current_missing"])],
        "status": df["status"],
    })
    return shown.to_html(index=False, escape=True, classes="mlmon-table")


def _fmt_p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _thresholds(feature: str, kind: str, config: Mapping[str, Any]) -> tuple[str, float, float, bool]:
    per_feature = (config.get("features") or {}).get(feature, {})
    method = per_feature.get("method") or DEFAULT_METHODS[kind]
    info = stats.get(method, kind)
    per_method = (config.get("methods") or {}).get(method, {})
    warn = per_feature.get("warn", per_method.get("warn", info.warn))
    alert = per_feature.get("alert", per_method.get("alert", info.alert))
    return method, float(warn), float(alert), bool(per_feature.get("ignore", False))


def univariate(reference: pd.DataFrame, current: pd.DataFrame, features: FeaturesConfig,
               thresholds: Mapping[str, Any] | None = None) -> DriftResult:
    """Compare every monitored feature of a window with the reference.

    Parameters
    ----------
    reference, current : DataFrame
        Reference rows and window rows holding the feature columns.
    features : FeaturesConfig
        Numeric and categorical features to compare.
    thresholds : mapping, optional
        The model's ``thresholds`` block from mlmon.yaml.

    Returns
    -------
    DriftResult
    """
    config = dict(thresholds or {})
    fdr = float(config.get("fdr", DEFAULT_FDR))
    rows = []
    for kind, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        for name in names:
            method, warn, alert, ignore = _thresholds(name, kind, config)
            if ignore:
                continue
            stat = stats.REGISTRY[method].func(reference[name].to_numpy(), current[name].to_numpy())
            rows.append((name, kind, method, stat, warn, alert,
                         float(reference[name].isna().mean()), float(current[name].isna().mean())))
    adjusted = stats.benjamini_hochberg([r[3].p_value if r[3].p_value is not None else np.nan for r in rows])
    out = []
    for (name, kind, method, stat, warn, alert, rmiss, cmiss), p_adj in zip(rows, adjusted):
        significant = np.isfinite(p_adj) and p_adj < fdr
        value = stat.value
        if not np.isfinite(value):
            status = "ok"
        elif significant and value >= alert:
            status = "alert"
        elif significant and value >= warn:
            status = "warn"
        else:
            status = "ok"
        out.append(FeatureDrift(feature=name, kind=kind, method=method, value=float(value),
                                p_value=stat.p_value, p_adjusted=float(p_adj) if np.isfinite(p_adj) else None,
                                warn=warn, alert=alert, status=status,
                                reference_missing=rmiss, current_missing=cmiss))
    return DriftResult(features=out, fdr=fdr, reference=reference, current=current)


def verdict(result: DriftResult) -> str:
    """One sentence on the window's data drift."""
    alerts, warns = result.drifted("alert"), [f for f in result.drifted("warn") if f not in result.drifted("alert")]
    n = len(result.features)
    if not alerts and not warns:
        return f"No input drift: all {n} monitored features match the reference within their thresholds."
    parts = []
    if alerts:
        parts.append(f"{len(alerts)} of {n} features drifted ({', '.join(alerts[:6])}{'…' if len(alerts) > 6 else ''})")
    if warns:
        parts.append(f"{len(warns)} more show a smaller shift ({', '.join(warns[:4])}{'…' if len(warns) > 4 else ''})")
    return "; ".join(parts) + "."


def escape(text: str) -> str:
    """HTML-escape a column name or value for narrative output."""
    return html.escape(str(text))
