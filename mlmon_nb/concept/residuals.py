"""P(y | x) directly: do residuals (label − calibrated score) per feature bin differ from the reference?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..checks import worst
from ..errors import UsageError
from ..plots import concept as plots
from ..stats import benjamini_hochberg
from .binning import Binning
from .decisions import residual_status
from .tables import table_html

__all__ = ["ResidualShift", "residual_shift", "MIN_BIN_ROWS"]

MIN_BIN_ROWS = 30


@dataclass(frozen=True)
class ResidualShift:
    """Residuals (label − calibrated score) per feature bin: reference against window.

    ``to_df()``: one row per feature: ``chi2``, ``bins``, ``p_value``,
    ``p_adjusted`` (Benjamini-Hochberg), ``effect`` (largest bin shift in
    residual sd), ``worst_bin``, ``shift`` (window − reference residual in it),
    ``status``. ``bins_df()`` has every bin.
    """

    table: pd.DataFrame
    bins: pd.DataFrame
    residual_sd: float

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def bins_df(self, feature: str | None = None) -> pd.DataFrame:
        """Every compared bin (of one feature): rows and mean residual on each side, shift, z."""
        b = self.bins
        return b[b["feature"] == feature].reset_index(drop=True) if feature else b.copy()

    def status(self) -> str:
        """The worst status of the features."""
        return worst(self.table["status"]) if len(self.table) else "ok"

    def flagged(self) -> list[str]:
        """The features whose residuals shifted (status not ok), most significant first."""
        if self.table.empty:
            return []
        return self.table.loc[self.table["status"] != "ok", "feature"].tolist()

    def plot(self, kind: str = "bins", feature: str | None = None):
        """``bins``: mean residual per bin of one feature (the most shifted by default)."""
        if kind == "bins":
            top = feature or (self.table["feature"].iloc[0] if len(self.table) else None)
            return plots.residual_bins(self, top)
        raise UsageError(f"The 'kind' parameter of ResidualShift.plot must be 'bins'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return table_html(self.table)


def residual_shift(binnings: Sequence[Binning], frame: pd.DataFrame, residual: np.ndarray,
                   reference: pd.DataFrame, reference_residual: np.ndarray,
                   score_binning: Binning | None = None) -> ResidualShift:
    """Test P(y | x) directly: do residuals per feature bin differ between reference and window?

    Per bin (at least :data:`MIN_BIN_ROWS` rows on each side), z = difference
    of mean residuals over its standard error; a feature's statistic is the sum
    of z² (chi-square with one degree of freedom per bin). p-values are
    adjusted with Benjamini-Hochberg across features.
    """
    from scipy.stats import chi2  # scipy loads with the first test, not on import

    sd = float(np.std(reference_residual, ddof=1)) if len(reference_residual) > 1 else 1.0
    rows, bins_rows = [], []
    items = list(binnings) + ([score_binning] if score_binning is not None else [])
    for b in items:
        cw = b.codes(frame[b.feature])
        cr = b.codes(reference[b.feature])
        stat, df, best = 0.0, 0, None
        for i, label in enumerate(b.labels):
            rw, rr = residual[cw == i], reference_residual[cr == i]
            if len(rw) < MIN_BIN_ROWS or len(rr) < MIN_BIN_ROWS:
                continue
            d = rw.mean() - rr.mean()
            se = math.sqrt(rw.var(ddof=1) / len(rw) + rr.var(ddof=1) / len(rr))
            z = d / se if se > 0 else 0.0
            stat += z * z
            df += 1
            bins_rows.append({"feature": b.feature, "bin": label, "window_rows": len(rw), "reference_rows": len(rr),
                              "window_residual": rw.mean(), "reference_residual": rr.mean(), "shift": d, "z": z})
            if best is None or abs(d) > abs(best[1]):
                best = (label, d)
        if df == 0:
            continue
        rows.append({"feature": b.feature, "chi2": stat, "bins": df, "p_value": float(chi2.sf(stat, df)),
                     "effect": abs(best[1]) / sd if sd > 0 else 0.0, "worst_bin": best[0], "shift": best[1]})
    table = pd.DataFrame(rows, columns=["feature", "chi2", "bins", "p_value", "effect", "worst_bin", "shift"])
    if len(table):
        table["p_adjusted"] = benjamini_hochberg(table["p_value"].to_numpy())
        table["status"] = [residual_status(p, e) for p, e in zip(table["p_adjusted"], table["effect"])]
        table = table.sort_values(["p_adjusted", "effect"], ascending=[True, False], kind="stable")
        table = table.reset_index(drop=True)
    else:
        table["p_adjusted"] = []
        table["status"] = []
    return ResidualShift(table, pd.DataFrame(bins_rows), sd)
