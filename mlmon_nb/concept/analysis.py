"""The whole analysis: from a window context (or frames) to one :class:`~.result.ConceptDriftResult`."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..chunks import parse_chunk
from ..errors import DataError, UsageError
from ..models import score
from ..rules import Band
from . import decisions
from .estimator import fit_estimator
from .inhibition import explain_by_shift
from .labelled import compose, labelled_parts
from .per_chunk import CHUNK_WHERE, MIN_LABELS_PER_CHUNK, chunk_performance, window_bounds
from .result import ConceptDriftResult
from .spec import ModelSpec
from .summarised import analyse_scan

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
    parts = labelled_parts(spec, estimator, reference, frame, ts, y_all, rng, bands or {}, profiles,
                           segment_columns, calibration_reference)
    return compose(head, spec, estimator, chunks, parts, drifted)


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

    A context opened in summary mode (``ctx.scan`` set: a window above
    :data:`mlmon_nb.summary.SUMMARISE_ABOVE` rows, or an engine other than DuckDB) is analysed by
    :func:`mlmon_nb.concept.summarised.analyse_scan`: score cells × labels per chunk from one
    aggregation pass, and a bounded sample for what needs rows.

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
    if getattr(ctx, "scan", None) is not None:  # opened in summary mode: the window is never read into memory
        return analyse_scan(ctx, chunk=chunk, min_labels_per_chunk=int(min_labels_per_chunk), seed=seed, spec=spec,
                            scores_of=window_scores, fallback=analyse_frames)
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
