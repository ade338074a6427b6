"""The model spec: task and column names, and the metrics tracked per task."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import FeaturesConfig, Thresholds
from ..errors import DataError, UsageError

__all__ = ["METRICS", "PRIMARY", "DISPLAY", "CI_METHOD", "ESTIMATOR_METHOD", "ModelSpec"]

#: Metrics tracked per task (realized, estimated, concept test), the primary first.
METRICS = {
    "binary_classification": ("roc_auc", "pr_auc", "f1", "log_loss"),
    "multiclass_classification": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("mae", "rmse"),
}
PRIMARY = {task: names[0] for task, names in METRICS.items()}
DISPLAY = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1", "log_loss": "log loss",
           "accuracy": "accuracy", "macro_f1": "macro F1", "mae": "MAE", "rmse": "RMSE"}
CI_METHOD = {"roc_auc": "DeLong", "log_loss": "normal (mean)", "accuracy": "normal (mean)",
             "mae": "normal (mean)", "rmse": "normal (delta method)",
             "pr_auc": "Poisson bootstrap", "f1": "Poisson bootstrap", "macro_f1": "Poisson bootstrap"}
ESTIMATOR_METHOD = {"binary_classification": "cbpe", "multiclass_classification": "cbpe", "regression": "dle"}

_PROBA_COLUMN = re.compile(r"__proba_\d+__")


@dataclass(frozen=True)
class ModelSpec:
    """What the analysis needs to know about a model: task, column names and thresholds.

    ``prediction`` names the score column (binary: probability of the positive
    class; regression: the prediction). Multiclass models use the columns
    ``__proba_0__``, ``__proba_1__``, ... (as the baseline sample does).
    ``thresholds`` is the model's parsed ``thresholds`` block (``band_margin``
    and fixed limits under ``metrics``).

    Examples
    --------
    >>> ModelSpec(task="regression", target="y").primary
    'mae'
    """

    task: str
    target: str
    prediction: str = "__prediction__"
    timestamp: str = "ts"
    threshold: float = 0.5
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        if self.task not in METRICS:
            raise UsageError(f"The 'task' parameter of ModelSpec must be one of {', '.join(METRICS)}. "
                             f"Got {self.task!r} instead.")

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS[self.task]

    @property
    def primary(self) -> str:
        return PRIMARY[self.task]

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """The model output of each row: (n,) scores, or (n, k) class probabilities."""
        if self.task == "multiclass_classification":
            cols = sorted((c for c in frame.columns if _PROBA_COLUMN.fullmatch(str(c))),
                          key=lambda c: int(c[8:-2]))
            if not cols:
                raise DataError("multiclass rows need class probability columns __proba_0__, __proba_1__, ...")
            return frame[cols].to_numpy(dtype=float)
        return frame[self.prediction].to_numpy(dtype=float)

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """The target as floats, NaN where not (yet) labelled."""
        if self.target not in frame.columns:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[self.target], errors="coerce").to_numpy(dtype=float)
