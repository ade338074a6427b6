"""Prediction drift: the model's scores in the window against its predictions on the reference."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..config import Thresholds
from ..models import LoadedModel, score
from ..rules import band_limits, decide, sigmas
from .reference import methods_for, numeric_reference
from .result import FeatureDrift, PredictionDrift
from .rule import PREDICTION, beyond, effective, feature_rule, significant


def prediction_drift(baseline: Baseline, scores, *, subject: str, thresholds: Thresholds | None = None,
                     source: str = "logged scores") -> PredictionDrift:
    """Compare the window's scores with the baseline's predictions (same rule as a numeric feature).

    ``subject`` names the check (the prediction column); per-subject overrides
    in ``thresholds.features`` may use it.
    """
    thr = thresholds if thresholds is not None else Thresholds()
    rule = feature_rule(thr, subject, "numeric")
    ref = numeric_reference(baseline, baseline.prediction_column)
    s = np.asarray(scores, dtype=float)
    figures = stats.numeric_against(ref, s, methods_for("numeric", rule.method))
    return decide_prediction(baseline, figures, int(np.isfinite(s).sum()), subject=subject, thresholds=thr,
                             source=source, scores=s[np.isfinite(s)])


def decide_prediction(baseline: Baseline, figures: dict[str, stats.Stat], rows: int, *, subject: str,
                      thresholds: Thresholds, source: str, scores: np.ndarray) -> PredictionDrift:
    """The prediction-drift decision from its figures (``scores``: what its plot draws, all or a sample)."""
    thr = thresholds
    rule = feature_rule(thr, subject, "numeric")
    ref = numeric_reference(baseline, baseline.prediction_column)
    lo, hi = band_limits(baseline.band("prediction_drift", rule.method, PREDICTION), rows, sigmas(thr.band_margin),
                         worse="up")
    p = figures[rule.test].p_value
    value = float(figures[rule.method].value)
    status = decide(value, rule.warn, rule.alert, outside=beyond(value, hi), significant=significant(p, thr.fdr))
    d = FeatureDrift(feature=subject, kind="numeric", method=rule.method, value=value, band_low=lo, band_high=hi,
                     warn_threshold=effective(hi, rule.warn), threshold=effective(hi, rule.alert), test=rule.test,
                     p_value=p, p_adjusted=p, status=status, rows=rows,
                     figures={k: float(v.value) for k, v in figures.items()},
                     gap=figures["ks"].where if "ks" in figures else None)
    return PredictionDrift(drift=d, subject=subject, source=source, reference=ref, scores=scores)


def window_scores(frame: pd.DataFrame, task: str, prediction: str, model: LoadedModel | None = None,
                  features: Sequence[str] | None = None) -> tuple[np.ndarray | None, str]:
    """The window's scores comparable with the baseline's predictions, and where they come from.

    Binary and regression: the logged prediction column when it holds
    numbers; multiclass (the baseline keeps the top-class probability) or
    without a usable logged column: the version's model scores the rows.
    """
    if task != "multiclass_classification" and prediction in frame.columns:
        col = pd.to_numeric(frame[prediction], errors="coerce")
        if col.notna().any():
            return col.to_numpy(dtype=float), f"logged column {prediction!r}"
    if model is not None:
        cols = list(model.features) if model.features else list(features or [])
        p = np.asarray(score(model, frame, cols), dtype=float)
        return (p.max(axis=1) if p.ndim == 2 else p), "scored with the version's model file"
    return None, ""
