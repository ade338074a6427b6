"""Prediction narrowing: the feedback loop of a model without an item column.

A loop shows in the predictions themselves: their spread (standard deviation)
narrowing, or more of them outside the reference's central 90%. Both are
computed per chunk of the window and of the baseline's sample of reference
predictions (and judged by :mod:`.decision`), and per model version on the
same reference rows.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..chunks import chunk_word
from ..config import ModelConfig, Thresholds
from ..errors import MlmonError
from ..models import predictions as version_predictions
from ..rules import fit_band
from .chunking import chunk_keys, full_chunks
from .decision import assess
from .measures import MEASURES, PREDICTION_SUBJECTS
from .result import Predictions

logger = logging.getLogger(__name__)

__all__ = ["EXTREME_QUANTILES", "analyse_predictions", "prediction_figures"]

EXTREME_QUANTILES = (0.05, 0.95)
"""The reference's central 90%: predictions outside it are extreme."""


def prediction_figures(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """(sd, share outside [low, high]) of some predictions; NaN with fewer than two values.

    Examples
    --------
    >>> prediction_figures([0.1, 0.2, 0.3, 0.9], 0.15, 0.8)
    (0.35939764421413045, 0.5)
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan"), float("nan")
    return float(v.std(ddof=1)), float(np.mean((v < low) | (v > high)))


def analyse_predictions(window: pd.DataFrame, model: ModelConfig, baseline, chunk: pd.Timedelta,
                        thresholds: Thresholds, version_models: Mapping[str, Any], *,
                        recorded: bool, window_chunks=None) -> Predictions:
    """Spread and extremity of the predictions per chunk, against the baseline sample's chunks.

    Parameters
    ----------
    window : DataFrame
        The window's rows (the logged prediction column and timestamps).
    model : ModelConfig
        Column names.
    baseline : Baseline or None
        Its sample and sorted reference predictions are the baseline period.
    chunk : Timedelta
        Chunk length.
    thresholds : Thresholds
        ``band_margin`` and fixed limits.
    version_models : mapping
        ``{version: LoadedModel}`` scored on the baseline sample, for the per-version table.
    recorded : bool
        Whether the figures are recorded as checks (only with a ``feedback`` block).
    window_chunks : callable, optional
        ``window_chunks(low, high)``: the window's rows of :func:`_per_chunk` computed elsewhere (the
        summary path's aggregation); ``window`` then needs only its columns.
    """
    pred = model.prediction
    if baseline is None or pred not in window.columns:
        return Predictions(recorded=recorded, notes=(
            f"Prediction narrowing needs the prediction column {pred!r} in the logs and an archived baseline.",))
    sample = baseline.sample
    bcol = baseline.prediction_column
    sorted_ref = baseline.sorted_values.get(bcol)
    if sorted_ref is None or len(sorted_ref) < 20 or bcol not in sample.columns:
        return Predictions(recorded=recorded, notes=(
            "Prediction narrowing needs the reference predictions in the baseline.",))
    low, high = np.quantile(sorted_ref, EXTREME_QUANTILES)
    if window_chunks is None:
        df = _per_chunk((("baseline", sample, bcol), ("window", window, pred)), model.timestamp, chunk, low, high)
    else:
        df = pd.concat([_per_chunk((("baseline", sample, bcol),), model.timestamp, chunk, low, high),
                        window_chunks(low, high)], ignore_index=True)
    if df.empty or not (df["period"] == "baseline").any() or not (df["period"] == "window").any():
        return Predictions(chunks=df, recorded=recorded, notes=(
            "Prediction narrowing needs timestamps in the baseline sample and the window.",))
    ref_df, win_df = df[df["period"] == "baseline"], df[df["period"] == "window"]
    assessments = []
    for subject in PREDICTION_SUBJECTS:
        band = fit_band(ref_df[subject], ref_df["exposures"], scales_with_size=False)
        a = assess(MEASURES[subject], float(win_df[subject].mean()), band, thresholds, chunks=len(win_df))
        if np.isfinite(a.value):  # a figure that could not be computed is not a check
            assessments.append(a)
    word = chunk_word(chunk)
    remarks = [f"Prediction spread and extremity: per {word}, against the {word}s of the baseline's "
               f"sample of reference predictions; extremity is the share outside the reference's "
               f"central 90% ({low:.3g} to {high:.3g})."]
    versions = pd.DataFrame()
    if version_models:
        rows = []
        for name, loaded in version_models.items():
            try:
                p, _ = version_predictions(sample, model, loaded, baseline.features)
            except MlmonError as exc:  # a version that cannot score the sample is reported, not fatal
                logger.warning("version %s could not score the baseline sample: %s", name, exc)
                remarks.append(f"Version {name} could not score the baseline sample ({type(exc).__name__}).")
                continue
            p = p if p.ndim == 1 else p.max(axis=1)
            sd, tail = prediction_figures(p, low, high)
            rows.append({"version": name, "rows": int(len(p)), "prediction_spread": sd,
                         "prediction_extremity": tail})
        versions = pd.DataFrame(rows)
    return Predictions(chunks=df, assessments=tuple(assessments), versions=versions, recorded=recorded,
                       remarks=tuple(remarks))


def _per_chunk(periods, timestamp: str, chunk: pd.Timedelta, low: float, high: float) -> pd.DataFrame:
    """Spread and extremity of every full chunk of each ``(period, frame, column)``."""
    rows = []
    for period, frame, col in periods:
        if timestamp not in frame.columns:
            continue
        keys = chunk_keys(frame[timestamp], chunk)
        uniq, counts, full = full_chunks(keys)
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        order = np.argsort(keys, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for j, key in enumerate(uniq):
            if not full[j]:
                continue
            sd, tail = prediction_figures(values[order[bounds[j]:bounds[j + 1]]], low, high)
            rows.append({"period": period, "chunk": int(key),
                         "start": pd.Timestamp(int(key) * chunk.value, tz="UTC"),
                         "exposures": int(counts[j]), "prediction_spread": sd, "prediction_extremity": tail})
    return pd.DataFrame(rows)
