"""The whole analysis: from a window context (or frames) to one :class:`~.result.ConceptDriftResult`."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..chunks import parse_chunk
from ..errors import DataError, UsageError
from ..metrics import calibration
from ..models import score
from ..rules import Band
from . import decisions
from .binning import MIN_SEGMENT_ROWS, SCORE_COLUMN, make_binnings, score_binning, score_values
from .changes import detect_changes
from .estimator import PerformanceEstimator, fit_estimator, reference_residual
from .expected import assess_changes, concept_test
from .inhibition import explain_by_shift
from .per_chunk import CHUNK_WHERE, MIN_LABELS_PER_CHUNK, chunk_performance, window_bounds
from .residuals import residual_shift
from .result import ConceptDriftResult
from .segments import find_segments
from .spec import ModelSpec
from .stream import loss_stream
from .tables import when

__all__ = ["analyse", "analyse_frames", "window_scores"]


def analyse_frames(spec: ModelSpec, reference: pd.DataFrame, frame: pd.DataFrame, *, seed: int = 0,
                   bands: Mapping[str, Band | None] | None = None, profiles: Mapping[str, Any] | None = None,
                   start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, chunk: str = "1d",
                   min_labels_per_chunk: int = MIN_LABELS_PER_CHUNK, segment_columns: Sequence[str] = (),
                   calibration_reference: Mapping[str, Any] | None = None,
                   drifted: Mapping[str, Any] | None = None) -> ConceptDriftResult:
    """The whole analysis on frames: reference (labelled, with model output) and window rows.

    Parameters
    ----------
    spec : ModelSpec
    reference : DataFrame
        Labelled reference rows with the model output (the baseline sample).
    frame : DataFrame
        Window rows sorted by time, with the model output and the target (NaN where unlabelled).
    seed : int
        Seed of every random draw.
    bands, profiles : mappings, optional
        Baseline bands per metric and feature profiles (numeric quartiles for segments).
    start, end : Timestamp, optional
        Window bounds.
    chunk : str
        Chunk size (``1d``, ``12h``, ``1w``).
    min_labels_per_chunk : int
        Labelled rows a chunk needs before its realized figures are trusted.
    segment_columns : sequence of str
        Extra categorical columns to segment by (configured ``segments``).
    calibration_reference : mapping, optional
        The baseline's calibration curve (binary), drawn against the window's.
    drifted : mapping, optional
        The ``data_drift`` artefact of the same run (drifted features); the checks a
        covariate shift explains are marked as its consequences (:mod:`.inhibition`).

    Returns
    -------
    ConceptDriftResult

    Raises
    ------
    UsageError
        When ``chunk`` is not a chunk size.
    """
    parse_chunk(chunk, CHUNK_WHERE)
    rng = np.random.default_rng(seed)
    ts = pd.DatetimeIndex(pd.to_datetime(frame[spec.timestamp], utc=True))
    start, end = window_bounds(ts, start, end)
    y_all = spec.labels(frame)
    labelled = int(np.isfinite(y_all).sum())
    head = dict(spec=spec, start=start, end=end, rows=len(frame), labelled=labelled)
    try:
        estimator = fit_estimator(spec, reference, rng)
    except DataError as exc:
        return ConceptDriftResult(**head, notes=(
            f"Performance estimation without labels needs labelled reference rows with the model's "
            f"output ({exc}).",))
    chunks = chunk_performance(spec, frame, estimator, rng, bands=bands, start=start, end=end, chunk=chunk,
                               min_labels=min_labels_per_chunk)
    if labelled == 0:
        checks, shift = explain_by_shift(decisions.estimated_checks(chunks, spec), drifted)
        return ConceptDriftResult(
            **head, chunks=chunks, estimator=estimator, decisions=checks, shift=shift,
            notes=(f"Realized performance, change points, the concept-drift test and segments need labels: "
                   f"none of the window's rows has a value in the target column {spec.target!r} yet. "
                   f"Configure 'labels' (path and key of late-arriving ground truth) or log the target "
                   f"column; until then only the estimated performance is shown.",))
    parts = _labelled_parts(spec, estimator, reference, frame, ts, y_all, rng, bands or {}, profiles,
                            segment_columns, calibration_reference)
    checks, shift = explain_by_shift(
        decisions.performance_checks(chunks, spec) + decisions.estimated_checks(chunks, spec)
        + decisions.change_checks(parts["changes"], spec)
        + decisions.concept_checks(parts["concept"], parts["after_onset"], parts["residuals"], spec), drifted)
    return ConceptDriftResult(
        **head, chunks=chunks, estimator=estimator, decisions=checks, shift=shift,
        first_chunk_below=decisions.first_chunk_below(chunks, spec.primary,
                                                      estimator.reference_values.get(spec.primary)),
        **parts)


def _labelled_parts(spec: ModelSpec, estimator: PerformanceEstimator, reference: pd.DataFrame,
                    frame: pd.DataFrame, ts: pd.DatetimeIndex, y_all: np.ndarray, rng: np.random.Generator,
                    bands: Mapping[str, Band | None], profiles: Mapping[str, Any] | None,
                    segment_columns: Sequence[str], calibration_reference: Mapping[str, Any] | None
                    ) -> dict[str, Any]:
    """What needs labels: the concept test, change points, residual shift, segments, calibration."""
    lab = np.isfinite(y_all)
    fl = frame.loc[lab]
    y = y_all[lab]
    s = spec.scores(fl)
    tsl = ts[lab]
    sub = fl if spec.task == "regression" else None
    concept = concept_test(spec, estimator, y, s, rng, sub)
    excess = estimator.excess(y, s, sub)
    stream = loss_stream(tsl, excess, estimator.reference_excess, rng)
    changes, after_onset = assess_changes(detect_changes(stream, rng), spec, estimator, fl, y, s, tsl, rng,
                                          bands.get(spec.primary))
    # P(y | x) directly, and where: both against the reference rows.
    ref_y = spec.labels(reference)
    rl = reference.loc[np.isfinite(ref_y)]
    ry = ref_y[np.isfinite(ref_y)]
    rs = spec.scores(rl)
    binnings = make_binnings(fl, spec.features, profiles=profiles, reference=rl, extra_categorical=segment_columns)
    window_residual = estimator.residual(y, s, sub)
    ref_residual = reference_residual(estimator, ry, rs, rng)
    residuals = residual_shift(binnings, fl.assign(**{SCORE_COLUMN: score_values(s)}), window_residual,
                               rl.assign(**{SCORE_COLUMN: score_values(rs)}), ref_residual, score_binning(rs))
    alerts = changes.detections[changes.detections["status"] == "alert"]
    onset = pd.Timestamp(alerts["at"].min()) if len(alerts) else None
    scope_mask = np.asarray(tsl >= onset) if onset is not None else np.ones(len(y), dtype=bool)
    if scope_mask.sum() < MIN_SEGMENT_ROWS:
        scope_mask = np.ones(len(y), dtype=bool)
        onset = None
    ys, ss = y[scope_mask], s[scope_mask]
    binary = spec.task == "binary_classification"
    if spec.task == "regression":
        seg_values, ref_values = excess[scope_mask], estimator.reference_excess
        direction, unit = "higher", "MAE"
    else:
        seg_values, ref_values = window_residual[scope_mask], ref_residual
        direction, unit = ("abs", "outcome rate, 0.01 = 1 point") if binary else \
            ("lower", "accuracy, 0.01 = 1 point")
    segments = find_segments(
        binnings, fl.loc[scope_mask], seg_values, rl, ref_values, direction=direction, unit=unit,
        scope=f"since {when(onset)}" if onset is not None else "window",
        classes=ys if binary else None, observed=(ys == 1).astype(float) if binary else None,
        expected=estimator.calibrated(ss) if binary else None)
    curves = None
    if binary and int((y == 1).sum()) >= 10:
        curves = {"reference": calibration_reference, "window": calibration((y == 1).astype(int), s)}
    return {"concept": concept, "after_onset": after_onset, "changes": changes, "residuals": residuals,
            "segments": segments, "calibration": curves}


def window_scores(ctx, frame: pd.DataFrame) -> np.ndarray:
    """The version's output on the window rows: the logged prediction column where present
    (binary, regression), the model file otherwise (and always for multiclass probabilities)."""
    mcfg = ctx.model
    logged = frame[mcfg.prediction].to_numpy(dtype=float) if mcfg.task != "multiclass_classification" and \
        mcfg.prediction in frame.columns else None
    if logged is not None and np.isfinite(logged).all():
        return logged
    if ctx.estimator is None:
        if logged is not None:
            return logged
        raise DataError(f"models.{mcfg.name}: no prediction column {mcfg.prediction!r} in the logs and no model "
                        f"file for version {ctx.version.name!r}: the window's predictions are unknown")
    cols = list(ctx.estimator.features) or [*ctx.features.numeric, *ctx.features.categorical]
    scored = score(ctx.estimator, frame, cols)
    if logged is not None:
        return np.where(np.isfinite(logged), logged, scored)
    return scored


def analyse(ctx, *, chunk: str | None = None, min_labels_per_chunk: int = MIN_LABELS_PER_CHUNK,
            seed: int = 0) -> ConceptDriftResult:
    """Run the whole concept-drift analysis on a window context.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`. When the data-drift notebook ran earlier in
        the same run, the drifted features it recorded explain the performance drops no
        concept test attributes to concept drift (:mod:`.inhibition`).
    chunk : str, optional
        Chunk size (``1d``, ``12h``); the model's ``chunk`` setting when empty.
    min_labels_per_chunk : int
        Labelled rows a chunk needs before its realized figures are trusted.
    seed : int
        Seed of every random draw (results are reproducible).

    Returns
    -------
    ConceptDriftResult

    Raises
    ------
    UsageError
        When ``chunk`` or ``min_labels_per_chunk`` is not valid.
    """
    mcfg = ctx.model
    base = ctx.baseline
    if isinstance(min_labels_per_chunk, bool) or not isinstance(min_labels_per_chunk, (int, np.integer)) \
            or min_labels_per_chunk < 1:
        raise UsageError(f"The 'min_labels_per_chunk' parameter of concept_drift must be an int >= 1. "
                         f"Got {min_labels_per_chunk!r} instead.")
    chunk = chunk or mcfg.chunk or "1d"
    parse_chunk(chunk, CHUNK_WHERE)
    spec = ModelSpec(task=mcfg.task, target=mcfg.target, prediction="__prediction__", timestamp=mcfg.timestamp,
                     threshold=mcfg.decision_threshold, features=base.features, thresholds=ctx.thresholds)
    window = ctx.frame
    cols = [c for c in dict.fromkeys([mcfg.timestamp, *spec.features.numeric, *spec.features.categorical,
                                      *(mcfg.segments or ()), mcfg.target]) if c in window.columns]
    frame = window[cols].copy()
    scores = window_scores(ctx, window)
    if mcfg.task == "multiclass_classification":
        for j in range(scores.shape[1]):
            frame[f"__proba_{j}__"] = scores[:, j]
    else:
        frame["__prediction__"] = scores
    return analyse_frames(spec, base.sample, frame, seed=seed,
                          bands={m: base.band("performance", m, "all") for m in spec.metrics},
                          profiles=base.manifest.get("profiles") or {},
                          start=pd.Timestamp(ctx.start), end=pd.Timestamp(ctx.end), chunk=chunk,
                          min_labels_per_chunk=int(min_labels_per_chunk),
                          segment_columns=[c for c in (mcfg.segments or ()) if c in frame.columns],
                          calibration_reference=base.manifest.get("calibration"),
                          drifted=ctx.artefact("data_drift").get("data_drift"))
