"""Per-row attributions (SHAP values) in raw feature space: the data every other part reads."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from ..display import format_table


@dataclass(frozen=True)
class Attribution:
    """Per-row attributions (SHAP values) in raw feature space.

    Attributes
    ----------
    values : DataFrame
        Rows x raw features, indexed like the explained rows.
    base_value : float
        The explainer's expected output: ``base_value + values.sum(axis=1) = output``.
    method : str
        ``shap_tree``, ``shap_tree_rescaled`` (probability trees rescaled to log-odds),
        ``shap_linear`` or ``shap_permutation``.
    output : ndarray, optional
        The model's output for each row, in ``units``.
    units : str
        ``log-odds`` (classifiers) or ``prediction`` (regressors).
    data : DataFrame, optional
        The raw feature values of the explained rows.

    Examples
    --------
    >>> a = Attribution(pd.DataFrame({"x": [1.0, -3.0], "y": [1.0, 1.0]}), base_value=0.0, method="shap_tree")
    >>> a.shares().round(2).tolist()
    [0.67, 0.33]
    """

    values: pd.DataFrame
    base_value: float
    method: str
    output: np.ndarray | None = None
    units: str = "log-odds"
    data: pd.DataFrame | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.values)

    def importance(self) -> pd.Series:
        """Mean |attribution| per feature, largest first."""
        return self.values.abs().mean().sort_values(ascending=False)

    def shares(self) -> pd.Series:
        """Each feature's share of the total mean |attribution| (sums to 1), in column order."""
        imp = self.values.abs().mean()
        total = float(imp.sum())
        return imp / total if total > 0 else imp

    def additivity_error(self) -> float:
        """Largest |base + sum of attributions - model output| over the rows (NaN without output)."""
        if self.output is None or len(self.values) == 0:
            return float("nan")
        return float(np.max(np.abs(self.base_value + self.values.to_numpy().sum(axis=1) - self.output)))

    def take(self, positions: Sequence[int] | np.ndarray) -> "Attribution":
        """The attributions of some rows (by position)."""
        pos = np.asarray(positions, dtype=int)
        return replace(self, values=self.values.iloc[pos],
                       output=None if self.output is None else self.output[pos],
                       data=None if self.data is None else self.data.iloc[pos])

    def to_df(self) -> pd.DataFrame:
        """Global importance: mean |SHAP|, share and mean signed SHAP per feature, largest first."""
        imp = self.values.abs().mean()
        df = pd.DataFrame({"feature": imp.index, "mean |SHAP|": imp.to_numpy(),
                           "share": self.shares().to_numpy(), "mean SHAP": self.values.mean().to_numpy()})
        return df.sort_values("mean |SHAP|", ascending=False, kind="stable").reset_index(drop=True)

    def _repr_html_(self) -> str:
        return (f"<p>{len(self):,} rows explained ({self.method}, {self.units}); base value "
                f"{self.base_value:.4g}.</p>" + format_table(self.to_df(), percent=["share"]))
