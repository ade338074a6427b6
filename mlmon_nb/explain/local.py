"""Local explanations: why single rows got their prediction, for the most surprising ones."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..display import format_table
from ..plots import explain as explain_plots
from .attributions import Attribution
from .reliance import target_array

TOP_SURPRISING = 3
"""Surprising predictions explained one by one."""


def _fmt_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "(missing)"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


@dataclass(frozen=True)
class LocalExplanation:
    """Why one row got its prediction: base value + contributions = model output."""

    row_id: str
    values: pd.Series            # raw feature values
    contributions: pd.Series     # attribution per feature, in units
    base_value: float
    output: float
    units: str
    task: str
    label: float | None
    loss: float | None
    reason: str

    @property
    def prediction(self) -> float:
        """The prediction in the model's terms (probability for classifiers)."""
        if self.units == "log-odds":
            return float(1 / (1 + math.exp(-self.output)))
        return float(self.output)

    def headline(self) -> str:
        """One line: which row, why it was picked, what the model said and what happened (plain text)."""
        pred = (f"predicted probability {self.prediction:.3f}" if self.units == "log-odds"
                else f"predicted {self.output:.4g}")
        seen = "" if self.label is None else f", observed {self.label:g}"
        loss = "" if self.loss is None else f" (loss {self.loss:.2f})"
        return f"{self.row_id}: {self.reason}{loss}: {pred}{seen}."

    def to_df(self) -> pd.DataFrame:
        """Feature, its raw value and its contribution, largest |contribution| first."""
        order = self.contributions.abs().sort_values(ascending=False).index
        return pd.DataFrame({"feature": list(order),
                             "value": [_fmt_value(self.values[c]) for c in order],
                             f"contribution ({self.units})": self.contributions[order].to_numpy()})

    def plot(self, max_features: int = 8):
        """A waterfall: from the base value, each feature's contribution, to the output."""
        return explain_plots.attribution_waterfall(self, max_features=max_features)

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.headline())}</p>" + format_table(self.to_df())


def surprising(attr: Attribution, target: Any = None, k: int = TOP_SURPRISING, task: str = "binary_classification",
               ids: Sequence[Any] | None = None) -> list[LocalExplanation]:
    """The most surprising predictions among explained rows.

    With labels: the largest loss (log loss for classifiers, squared error for
    regressors) among labelled rows. Without: the scores furthest from the base value.

    Parameters
    ----------
    attr : Attribution
        Attributions of the rows, with their output and raw values.
    target : array-like, optional
        Outcomes of the rows (NaN where unknown).
    k : int
        How many rows.
    task : str
        The model's task.
    ids : sequence, optional
        A display id per row (request ids); positions in the window otherwise.
    """
    n = len(attr)
    if n == 0 or attr.output is None:
        return []
    y = target_array(target, n) if target is not None else np.full(n, np.nan)
    out = attr.output
    lab = np.isfinite(y)
    if lab.any() and task in ("binary_classification", "regression"):
        if task == "regression":
            loss = (y - out) ** 2
            reason = "largest squared error"
        else:
            p = np.clip(1 / (1 + np.exp(-out)), 1e-15, 1 - 1e-15)
            loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
            reason = "largest log loss"
        score = np.where(lab, loss, -np.inf)
    else:
        loss = np.full(n, np.nan)
        score = np.abs(out - attr.base_value)
        reason = "most extreme score (no labels yet)"
    order = np.argsort(-score, kind="stable")[:k]
    rows = []
    for pos in order:
        if not np.isfinite(score[pos]):
            continue
        rid = str(ids[pos]) if ids is not None else f"row {attr.values.index[pos]}"
        rows.append(LocalExplanation(
            row_id=rid, values=attr.data.iloc[pos] if attr.data is not None else pd.Series(dtype=object),
            contributions=attr.values.iloc[pos], base_value=attr.base_value, output=float(out[pos]),
            units=attr.units, task=task, label=None if not lab[pos] else float(y[pos]),
            loss=None if not np.isfinite(loss[pos]) else float(loss[pos]), reason=reason))
    return rows
