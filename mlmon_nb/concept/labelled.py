"""What needs labelled rows: the concept test, change points, residual shift, segments, calibration.

Shared by the in-memory path (:mod:`.analysis`, the window's labelled rows) and the summary path
(:mod:`.summarised`, a bounded sample of them plus what the window summary measured exactly).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import calibration
from ..rules import Band
from . import decisions
from .binning import MIN_SEGMENT_ROWS, SCORE_COLUMN, make_binnings, score_binning, score_values
from .changes import detect_changes
from .estimator import PerformanceEstimator, reference_residual
from .expected import ConceptTest, assess_changes, concept_test
from .inhibition import explain_by_shift
from .residuals import residual_shift
from .result import ConceptDriftResult
from .segments import find_segments
from .spec import ModelSpec
from .stream import loss_stream
from .tables import when

__all__ = ["labelled_parts", "compose"]


def compose(head: Mapping[str, Any], spec: ModelSpec, estimator: PerformanceEstimator, chunks,
            parts: Mapping[str, Any], drifted: Mapping[str, Any] | None, notes: tuple[str, ...] = ()
            ) -> ConceptDriftResult:
    """Decide every check (:mod:`.decisions`), mark those a covariate shift explains, build the result."""
    checks, shift = explain_by_shift(
        decisions.performance_checks(chunks, spec) + decisions.estimated_checks(chunks, spec)
        + decisions.change_checks(parts["changes"], spec)
        + decisions.concept_checks(parts["concept"], parts["after_onset"], parts["residuals"], spec), drifted)
    return ConceptDriftResult(
        **head, chunks=chunks, estimator=estimator, decisions=checks, shift=shift,
        first_chunk_below=decisions.first_chunk_below(chunks, spec.primary,
                                                      estimator.reference_values.get(spec.primary)),
        notes=tuple(notes), **parts)


def labelled_parts(spec: ModelSpec, estimator: PerformanceEstimator, reference: pd.DataFrame,
                    frame: pd.DataFrame, ts: pd.DatetimeIndex, y_all: np.ndarray, rng: np.random.Generator,
                    bands: Mapping[str, Band | None], profiles: Mapping[str, Any] | None,
                    segment_columns: Sequence[str], calibration_reference: Mapping[str, Any] | None, *,
                    concept: ConceptTest | None = None,
                    test_after: Callable[[pd.Timestamp, str], ConceptTest | None] | None = None,
                    window_calibration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What needs labels: the concept test, change points, residual shift, segments, calibration.

    ``frame`` holds the labelled rows read here (the window's, or a sample of them). A window
    summary passes what it measured on every labelled row instead: the window's ``concept`` test,
    ``test_after`` (the test from a change point's onset on, see :func:`~.expected.assess_changes`)
    and the window's calibration curve.
    """
    lab = np.isfinite(y_all)
    fl = frame.loc[lab]
    y = y_all[lab]
    s = spec.scores(fl)
    tsl = ts[lab]
    sub = fl if spec.task == "regression" else None
    if concept is None:
        concept = concept_test(spec, estimator, y, s, rng, sub)
    excess = estimator.excess(y, s, sub)
    stream = loss_stream(tsl, excess, estimator.reference_excess, rng)
    changes, after_onset = assess_changes(detect_changes(stream, rng), spec, estimator, fl, y, s, tsl, rng,
                                          bands.get(spec.primary), test_after=test_after)
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
    if window_calibration is not None:
        curves = {"reference": calibration_reference, "window": window_calibration}
    elif binary and int((y == 1).sum()) >= 10:
        curves = {"reference": calibration_reference, "window": calibration((y == 1).astype(int), s)}
    return {"concept": concept, "after_onset": after_onset, "changes": changes, "residuals": residuals,
            "segments": segments, "calibration": curves}
