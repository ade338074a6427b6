"""Dependence: how the model responds to one feature, at baseline and in the window.

Shown for the features whose inputs drifted: where the window's values left the region
the baseline covered, the model extrapolates from little training evidence.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..display import format_table
from ..errors import UsageError
from ..plots import explain as explain_plots
from .attributions import Attribution

MAX_DEPENDENCE = 4
"""Drifted features shown at most."""


@dataclass(frozen=True)
class Dependence:
    """How the model responds to one feature, at baseline and in the window."""

    feature: str
    kind: str                       # "numeric" or "categorical"
    baseline_values: pd.Series = field(repr=False)
    baseline_shap: np.ndarray = field(repr=False)
    window_values: pd.Series = field(repr=False)
    window_shap: np.ndarray = field(repr=False)
    units: str = "log-odds"

    def region(self) -> tuple[float, float]:
        """The baseline's central 98% of the feature (numeric)."""
        v = pd.to_numeric(self.baseline_values, errors="coerce").dropna().to_numpy()
        if len(v) == 0:
            return float("nan"), float("nan")
        lo, hi = np.quantile(v, [0.01, 0.99])
        return float(lo), float(hi)

    def to_df(self) -> pd.DataFrame:
        """Numeric: rows and mean SHAP inside / below / above the baseline's central 98% (first column
        ``<feature> range``). Categorical: share of rows and mean SHAP per level (``<feature> level``)."""
        rows = []
        if self.kind == "numeric":
            lo, hi = self.region()
            for side, vals, phi in (("baseline", self.baseline_values, self.baseline_shap),
                                    ("window", self.window_values, self.window_shap)):
                v = pd.to_numeric(vals, errors="coerce").to_numpy(dtype=float)
                for name, sel in ((f"below {lo:.4g}", v < lo), (f"{lo:.4g} … {hi:.4g}", (v >= lo) & (v <= hi)),
                                  (f"above {hi:.4g}", v > hi)):
                    rows.append({"side": side, "region": name, "share of rows": float(sel.mean()) if len(v) else np.nan,
                                 f"mean SHAP ({self.units})": float(phi[sel].mean()) if sel.any() else np.nan})
        else:
            for side, vals, phi in (("baseline", self.baseline_values, self.baseline_shap),
                                    ("window", self.window_values, self.window_shap)):
                s = vals.astype(object).where(vals.notna(), "(missing)").astype(str).to_numpy()
                for level in sorted(set(s)):
                    sel = s == level
                    rows.append({"side": side, "region": level, "share of rows": float(sel.mean()),
                                 f"mean SHAP ({self.units})": float(phi[sel].mean())})
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        wide = df.pivot(index="region", columns="side")
        wide.columns = [f"{value} {side}" for value, side in wide.columns]
        order = list(dict.fromkeys(df["region"]))  # below, inside, above (or levels) as built
        # the first column names what its rows are: the feature's levels, or ranges of its values
        what = f"{self.feature} {'range' if self.kind == 'numeric' else 'level'}"
        return wide.reindex(order).reset_index().rename(columns={"region": what})

    def sentence(self) -> str:
        """Where the window moved and how the model responds there (plain text)."""
        u = self.units
        if self.kind == "numeric":
            lo, hi = self.region()
            v = pd.to_numeric(self.window_values, errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(self.baseline_values, errors="coerce").to_numpy(dtype=float)
            parts = []
            for name, sel_w, sel_b in (("above", v > hi, b > hi), ("below", v < lo, b < lo)):
                if sel_w.mean() >= 0.02 and sel_w.mean() >= 2 * max(sel_b.mean(), 1e-9):
                    parts.append(f"{sel_w.mean():.0%} of the window's rows are {name} the baseline's central 98% "
                                 f"({lo:.4g} … {hi:.4g}; {sel_b.mean():.0%} at baseline); there the model's "
                                 f"contribution of {self.feature} averages {self.window_shap[sel_w].mean():+.3f} {u}")
            med_b, med_w = np.nanmedian(b) if len(b) else np.nan, np.nanmedian(v) if len(v) else np.nan
            head = (f"The median of {self.feature} moved from {med_b:.4g} to {med_w:.4g}; its mean contribution from "
                    f"{self.baseline_shap.mean():+.3f} to {self.window_shap.mean():+.3f} {u}.")
            return head + ("" if not parts else " " + "; ".join(parts) + ".")
        s_w = self.window_values.astype(object).astype(str)
        s_b = self.baseline_values.astype(object).astype(str)
        shares_w, shares_b = s_w.value_counts(normalize=True), s_b.value_counts(normalize=True)
        diff = shares_w.sub(shares_b, fill_value=0)
        level = diff.abs().idxmax() if len(diff) else None
        if level is None:
            return f"{self.feature}: no rows to compare."
        phi = self.window_shap[(s_w == level).to_numpy()]
        mean = f"{phi.mean():+.3f} {u}" if len(phi) else "n/a"
        return (f"The share of {self.feature} = {level} moved from {shares_b.get(level, 0):.0%} to "
                f"{shares_w.get(level, 0):.0%}; the model's contribution for those rows averages {mean}; the mean "
                f"contribution of {self.feature} moved from {self.baseline_shap.mean():+.3f} to "
                f"{self.window_shap.mean():+.3f} {u}.")

    def plot(self):
        """SHAP value against feature value, baseline points against window points."""
        return explain_plots.attribution_dependence(self)

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.sentence())}</p>" + format_table(self.to_df())


def dependence(baseline: Attribution, window: Attribution, feature: str, kind: str) -> Dependence:
    """The dependence data of one feature (raw values and SHAP values on both sides)."""
    if baseline.data is None or window.data is None:
        raise UsageError("dependence needs attributions that carry their rows' raw values")
    return Dependence(feature=feature, kind=kind, baseline_values=baseline.data[feature],
                      baseline_shap=baseline.values[feature].to_numpy(), window_values=window.data[feature],
                      window_shap=window.values[feature].to_numpy(), units=window.units)
