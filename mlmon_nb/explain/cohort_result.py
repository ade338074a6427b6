"""A cohort's attributions now against the same cohort at baseline (a result object)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..display import format_table
from ..plots import explain as explain_plots
from ..rules import family_sigmas
from .attributions import Attribution
from .cohorts import CohortSpec
from .methods import METHODS
from .reliance import reliance

MIN_COHORT_ROWS = 30
"""Fewest rows for a cohort comparison to be called reliable."""


def _signed(v: float) -> str:
    return "0.000" if abs(v) < 5e-4 else f"{v:+.3f}"


@dataclass(frozen=True)
class CohortComparison:
    """A cohort's attributions now against the same cohort at baseline."""

    spec: CohortSpec
    baseline: Attribution = field(repr=False)
    window: Attribution = field(repr=False)
    baseline_rows: int
    window_rows: int
    baseline_total: int
    window_total: int
    baseline_target: np.ndarray | None = field(default=None, repr=False)
    window_target: np.ndarray | None = field(default=None, repr=False)
    task: str = "binary_classification"
    window_size: int = 0
    #: Summary mode: ``window_total`` and ``window_size`` count rows of the window's sample.
    of_sample: bool = False

    @property
    def units(self) -> str:
        return self.window.units

    def to_df(self) -> pd.DataFrame:
        """Per feature: mean |SHAP|, share and mean SHAP in the cohort at baseline and now."""
        cols = list(self.window.values.columns)
        nan = pd.Series(np.nan, index=cols)

        def side(attr: Attribution) -> tuple[pd.Series, pd.Series, pd.Series]:
            if not len(attr):
                return nan, nan, nan
            return attr.values.abs().mean(), attr.shares(), attr.values.mean()

        (imp_b, share_b, mean_b), (imp_w, share_w, mean_w) = side(self.baseline), side(self.window)
        df = pd.DataFrame({
            "feature": cols,
            "mean |SHAP| baseline": imp_b.reindex(cols).to_numpy(), "mean |SHAP| now": imp_w.reindex(cols).to_numpy(),
            "share baseline": share_b.reindex(cols).to_numpy(), "share now": share_w.reindex(cols).to_numpy(),
            "mean SHAP baseline": mean_b.reindex(cols).to_numpy(), "mean SHAP now": mean_w.reindex(cols).to_numpy(),
        })
        df["change of mean |SHAP|"] = df["mean |SHAP| now"] - df["mean |SHAP| baseline"]
        return df.sort_values("mean |SHAP| now", ascending=False, kind="stable").reset_index(drop=True)

    def table_df(self) -> pd.DataFrame:
        """:meth:`to_df` formatted for reading (SHAP figures in :attr:`units`, 3 decimals)."""
        df = self.to_df()

        def num(v, signed=False):
            return "" if not np.isfinite(v) else (f"{v:+.3f}" if signed else f"{v:.3f}")

        return pd.DataFrame({
            "feature": df["feature"],
            "mean |SHAP| base": df["mean |SHAP| baseline"].map(num), "mean |SHAP| now": df["mean |SHAP| now"].map(num),
            "share base": df["share baseline"].map(lambda v: "" if not np.isfinite(v) else f"{v:.1%}"),
            "share now": df["share now"].map(lambda v: "" if not np.isfinite(v) else f"{v:.1%}"),
            "mean SHAP base": df["mean SHAP baseline"].map(lambda v: num(v, True)),
            "mean SHAP now": df["mean SHAP now"].map(lambda v: num(v, True)),
        })

    def sentences(self) -> list[str]:
        """The comparison in words (plain text: escape before display)."""
        label, u = self.spec.label, self.units
        src = (" (the worst segment recorded by the concept-drift notebook)"
               if self.spec.source == "concept_drift" else "")
        share = (f" ({self.window_total / self.window_size:.1%} of {'it' if self.of_sample else 'the window'})"
                 if self.window_size else "")
        rows = f"rows of the window's sample{share}" if self.of_sample else f"window rows{share}"
        out = [f"Cohort {label}{src}: {self.window_total:,} {rows} and {self.baseline_total:,} rows of "
               f"the baseline sample; {self.window_rows:,} and {self.baseline_rows:,} of them explained."]
        if self.window_total == 0:
            out.append("The cohort is empty in this window: there is nothing to explain.")
            return out
        if self.baseline_total == 0:
            out.append("The cohort is empty in the baseline sample, so there is no baseline to compare with; "
                       "its attributions now are shown on their own.")
            return out
        if min(self.window_rows, self.baseline_rows) < MIN_COHORT_ROWS:
            out.append(f"With fewer than {MIN_COHORT_ROWS} rows on one side the figures below are anecdotal.")
        df = self.to_df().set_index("feature")
        total_b = float(df["mean |SHAP| baseline"].sum()) or 1.0
        ratio = (df["mean |SHAP| now"] + 1e-12) / (df["mean |SHAP| baseline"] + 1e-12)
        dshare = df["share now"] - df["share baseline"]
        moved = []
        up = dshare.idxmax()
        if ratio[up] >= 1.25 and dshare[up] >= 0.03:
            how = "far more" if ratio[up] >= 2 and dshare[up] >= 0.10 else "more"
            moved.append(f"In this cohort the model now leans on {up} {how} than at baseline (mean |SHAP| "
                         f"{df.loc[up, 'mean |SHAP| baseline']:.3f} → {df.loc[up, 'mean |SHAP| now']:.3f} {u}, "
                         f"{df.loc[up, 'share baseline']:.0%} → {df.loc[up, 'share now']:.0%} of its attribution).")
        down = dshare.idxmin()
        if ratio[down] <= 0.8 and dshare[down] <= -0.03:
            how = "far less" if ratio[down] <= 0.5 and dshare[down] <= -0.10 else "less"
            moved.append(f"It leans on {down} {how} than at baseline ({df.loc[down, 'share baseline']:.0%} → "
                         f"{df.loc[down, 'share now']:.0%} of its attribution).")
        dmean = df["mean SHAP now"] - df["mean SHAP baseline"]
        big = dmean.abs().idxmax()
        if abs(dmean[big]) >= 0.05 * total_b:
            now, then = df.loc[big, "mean SHAP now"], df.loc[big, "mean SHAP baseline"]
            verb = "up" if now >= 0 else "down"
            moved.append(f"{big} now pushes this cohort's predictions {verb} by {abs(now):.3f} {u} on average "
                         f"(at baseline: {_signed(then)}).")
        if not moved:
            moved.append("The model weighs the features in this cohort much as it did at baseline: no feature's "
                         "share of the attribution moved by 3 points or more.")
        out.extend(moved)
        out.extend(self._outcome_sentences())
        return out

    def _outcome_sentences(self) -> list[str]:
        if self.task not in ("binary_classification", "regression") or self.window_target is None \
                or self.baseline_target is None or self.window.output is None or self.baseline.output is None:
            return []
        out = []
        best = None
        sigmas = family_sigmas(len(self.window.values.columns))
        for c in self.window.values.columns:
            rb = reliance(self.baseline.output, self.baseline.values[c].to_numpy(), self.baseline_target, self.task)
            rw = reliance(self.window.output, self.window.values[c].to_numpy(), self.window_target, self.task)
            if not (np.isfinite(rb.value) and np.isfinite(rw.value)):
                continue
            z = abs(rw.value - rb.value) / math.sqrt(rb.se ** 2 + rw.se ** 2)
            big = abs(rw.value - rb.value) >= METHODS["attribution_reliance"].alert
            if z >= sigmas and big:
                if best is None or z > best[0]:
                    best = (z, c, rb.value, rw.value)
        if best:
            out.append(f"Outcomes in this cohort no longer follow the model's use of {best[1]} (outcome reliance "
                       f"{best[2]:.2f} at baseline, {best[3]:.2f} now).")
        return out

    def plot(self):
        """Mean SHAP per feature in the cohort, baseline against now."""
        return explain_plots.attribution_cohort(self)

    def _repr_html_(self) -> str:
        return format_table(self.to_df(), percent=["share baseline", "share now"])
