"""Concept drift of a window too large to hold: summarise its scores and labels, then analyse.

The same checks as the in-memory path (:func:`mlmon_nb.concept.analyse`), decided by the same
code (:func:`~.per_chunk.assemble`, :func:`~.expected.decide_concept`, :mod:`.decisions`,
:func:`~.labelled.compose`), with the window never materialised:

* **one aggregation pass** (:func:`mlmon_nb.summary.performance.performance_sql`: score cell ×
  label counts and sums per chunk, run by the engine) gives, per chunk and for the window, every
  realized metric (F1, log loss, MAE, RMSE exact; ROC AUC and PR AUC of the binned scores within
  their stated bounds), their intervals (DeLong from the cells, the normal ones exactly, PR AUC and
  F1 by a Poisson bootstrap of the cell counts), label counts and coverage, the CBPE estimate on
  every row and on the labelled rows (the calibrator applied to each cell's mean score), its null
  spread (labels drawn per cell from the calibrated probability, binomially, for every calibrator),
  the window's concept test and the window's calibration curve;
* **one more pass per consensus change point**: the same aggregation over the rows from its onset
  on, for the test that grades it;
* **a bounded, seeded sample** (``scan.sample``, at most :data:`SAMPLE_ROWS` rows, stratified by
  day and label) for what needs rows: the excess-loss stream of the change-point detectors (the
  in-memory path itself streams at most 16,800 evenly drawn labelled rows), the residual shift per
  feature bin, the segments, and regression's direct loss estimation (its model reads features).

Logged scores that are missing or not finite are completed by the model file (as in memory): the
engine scores the rows in batches (``Scan.scored``) and the cells read the completed scores. A
multiclass model (its probabilities are not logged): the whole analysis runs on the sample, and
its notes say so.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..chunks import parse_chunk, to_utc
from ..errors import DataError
from ..metrics import BOOTSTRAP
from ..sources import quote
from ..summary import chunk_sql
from ..summary.performance import (UNLABELLED, Cells, ScoreCells, auc_se, binary_binned, binary_realized,
                                   binned_calibration, finite_sql, performance_sql, regression_binned)
from .estimator import N_DRAWS, PerformanceEstimator, draw_spread, fit_estimator
from .expected import ConceptTest, decide_concept
from .decisions import estimated_checks
from .inhibition import explain_by_shift
from .labelled import compose, labelled_parts
from .per_chunk import CHUNK_WHERE, ChunkMeasures, assemble, chunk_bounds
from .result import ConceptDriftResult
from .spec import ModelSpec

__all__ = ["analyse_scan", "SAMPLE_ROWS", "measure_cells", "sample_frame"]

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 200_000
"""Most rows of the window's sample (change-point stream, residual shift, segments, regression's DLE)."""
DAY_STRATUM = "__day__"  # the engines' name of the UTC-day stratum of Scan.sample
_Z = 1.959964
SCORE = "__score__"  # the scored scan's column when the logs hold no prediction
_NAN = float("nan")


def sample_frame(ctx, spec: ModelSpec, sample: pd.DataFrame, scores_of: Callable) -> pd.DataFrame:
    """The sample as the analysis reads rows: its columns, the model output, sorted by time."""
    mcfg = ctx.model
    cols = [c for c in dict.fromkeys([mcfg.timestamp, *spec.features.numeric, *spec.features.categorical,
                                      *(mcfg.segments or ()), mcfg.target]) if c in sample.columns]
    frame = sample[cols].copy()
    scores = scores_of(ctx, sample)
    if mcfg.task == "multiclass_classification":
        for j in range(scores.shape[1]):
            frame[f"__proba_{j}__"] = scores[:, j]
    else:
        frame["__prediction__"] = scores
    if mcfg.timestamp in frame.columns:
        frame = frame.sort_values(mcfg.timestamp, kind="stable").reset_index(drop=True)
    return frame


# --------------------------------------------------------------------------- figures from cells


def _binary_ci(metric: str, cells: Cells, value: float, rng: np.random.Generator) -> tuple[float, float]:
    """95% interval of a realized binary metric from the cells (method as :data:`~.spec.CI_METHOD`)."""
    P, N = cells.get(1, "n"), cells.get(0, "n")
    n = P.sum() + N.sum()
    if n < 2 or not np.isfinite(value):
        return _NAN, _NAN
    if metric == "roc_auc":
        se = auc_se(P, N)
        return max(0.0, value - _Z * se), min(1.0, value + _Z * se)
    if metric == "log_loss":  # normal approximation of a mean: the sums of the loss and its square are exact
        s1 = cells.get(1, "l1").sum() + cells.get(0, "l0").sum()
        s2 = cells.get(1, "l1sq").sum() + cells.get(0, "l0sq").sum()
        se = math.sqrt(max(s2 - s1 * s1 / n, 0.0) / (n - 1)) / math.sqrt(n)
        return value - _Z * se, value + _Z * se
    # Poisson bootstrap of every row is a Poisson draw of every cell's count (no row sample needed).
    keep = (P + N) > 0
    P, N, above = P[keep], N[keep], cells.above[keep]
    L1, L0 = _mean_losses(cells, (1,), (0,))
    draws = binary_binned(rng.poisson(P, size=(BOOTSTRAP, len(P))), rng.poisson(N, size=(BOOTSTRAP, len(N))),
                          above, L1[keep], L0[keep], (metric,))[metric]
    draws = draws[np.isfinite(draws)]
    if len(draws) < 20:
        return _NAN, _NAN
    lo, mid, hi = np.percentile(draws, [2.5, 50, 97.5])
    return float(value - (mid - lo)), float(value + (hi - mid))


def _mean_losses(cells: Cells, pos_labs, neg_labs) -> tuple[np.ndarray, np.ndarray]:
    """Mean −ln p and −ln(1 − p) per cell over the rows of the given labels (0 where none)."""
    def mean(col, labs):
        n = cells.total("n", labs)
        return np.where(n > 0, cells.total(col, labs) / np.maximum(n, 1), 0.0)
    return mean("l1", pos_labs), mean("l0", neg_labs)


def _cbpe(estimator: PerformanceEstimator, cells: Cells, labs, metrics, which: int = 0):
    """(n per cell, calibrated q per cell, mean losses) of the cells' rows of the given labels."""
    n = cells.total("n", labs)
    keep = n > 0
    q = np.zeros(len(n))
    if keep.any():
        q[keep] = estimator.calibrated(cells.mean_score(labs)[keep], which)
    L1, L0 = _mean_losses(cells, labs, labs)
    return n, q, L1, L0, keep


def _binary_estimate(estimator, cells, labs, metrics) -> dict[str, float]:
    n, q, L1, L0, keep = _cbpe(estimator, cells, labs, metrics)
    if not keep.any():
        return {m: _NAN for m in metrics}
    res = binary_binned((n * q)[keep], (n * (1 - q))[keep], cells.above[keep], L1[keep], L0[keep], metrics)
    return {k: float(v[0]) for k, v in res.items()}


def _binary_null_sd(estimator, cells, metrics, rng) -> dict[str, float]:
    """Null sd of (realized − expected) on the labelled rows: labels drawn per cell from each calibrator."""
    labs = (1, 0)
    n = cells.total("n", labs)
    keep = n > 0
    nk, above = n[keep].astype(np.int64), cells.above[keep]
    mean = cells.mean_score(labs)[keep]
    L1, L0 = _mean_losses(cells, labs, labs)
    per_cal: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for c in range(len(estimator.calibrators)):
        q = estimator.calibrated(mean, c)
        K = rng.binomial(nk, q, size=(N_DRAWS, len(nk))).astype(float)
        vals = binary_binned(K, nk - K, above, L1[keep], L0[keep], metrics)
        for m in metrics:
            per_cal[m].append(np.asarray(vals[m], dtype=float))
    return draw_spread(per_cal, 1.0)  # the draws are at the full row count: nothing to rescale


def _regression_ci(metric: str, cells: Cells, value: float) -> tuple[float, float]:
    n = cells.get(1, "n").sum()
    if n < 2 or not np.isfinite(value):
        return _NAN, _NAN
    if metric == "mae":
        s1, s2 = cells.get(1, "sae").sum(), cells.get(1, "sse").sum()
    else:
        s1, s2 = cells.get(1, "sse").sum(), cells.get(1, "se4").sum()
    se = math.sqrt(max(s2 - s1 * s1 / n, 0.0) / (n - 1)) / math.sqrt(n)
    if metric == "rmse":
        se = se / (2 * value) if value > 0 else _NAN
    return value - _Z * se, value + _Z * se


def measure_cells(spec: ModelSpec, estimator: PerformanceEstimator, cells: Cells, rows: int, labelled: int,
                  rng: np.random.Generator, sample: pd.DataFrame | None = None) -> ChunkMeasures:
    """One chunk's (or the window's) measures from its score cells.

    ``rows`` and ``labelled`` count every row (a row whose score is not finite is in no cell).
    ``sample`` holds the chunk's sampled rows (regression: the loss models read features).
    """
    metrics = spec.metrics
    nan = {m: _NAN for m in metrics}
    pos = int(cells.get(1, "n").sum()) if spec.task == "binary_classification" else None
    if spec.task == "binary_classification":
        real = binary_realized(cells, metrics) if labelled else nan
        ci = {m: _binary_ci(m, cells, real.get(m, _NAN), rng) if labelled >= 2 else (_NAN, _NAN) for m in metrics}
        est_all = _binary_estimate(estimator, cells, (1, 0, UNLABELLED), metrics) if rows else nan
        exp_lab = _binary_estimate(estimator, cells, (1, 0), metrics) if labelled else nan
        sd_lab = _binary_null_sd(estimator, cells, metrics, rng) if labelled >= 2 else nan
    else:
        real = regression_binned(cells, metrics) if labelled else nan
        ci = {m: _regression_ci(m, cells, real.get(m, _NAN)) for m in metrics}
        s = spec.scores(sample) if sample is not None and len(sample) else np.zeros(0)
        y = spec.labels(sample) if sample is not None and len(sample) else np.zeros(0)
        lab = np.isfinite(y)
        est_all = estimator.estimate(s, sample) if len(s) else nan
        exp_lab = estimator.estimate(s[lab], sample.loc[lab]) if lab.any() else nan
        sd_lab = estimator._regression_sd(sample.loc[lab], s[lab], metrics, rows=labelled) \
            if labelled >= 2 and lab.sum() >= 1 else nan
    return ChunkMeasures(rows=int(rows), labelled=int(labelled), positives=pos, realized=real, ci=ci,
                         estimated=est_all, expected=exp_lab, null_sd=sd_lab)


# --------------------------------------------------------------------------- the analysis


def _score_range(spec: ModelSpec, reference: pd.DataFrame) -> tuple[float, float]:
    """The bins' span: [0, 1] for probabilities; the baseline's q0.001..q0.999 for a regression's output."""
    if spec.task != "regression":
        return 0.0, 1.0
    s = spec.scores(reference)
    s = s[np.isfinite(s)]
    if not len(s):
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.quantile(s, [0.001, 0.999]))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def analyse_scan(ctx, *, chunk: str, min_labels_per_chunk: int, seed: int, spec: ModelSpec,
                 scores_of: Callable, fallback: Callable):
    """The concept-drift analysis of a window from its engine scan (``ctx.scan``), never its rows.

    Parameters
    ----------
    ctx : WindowContext
        Opened in summary mode (:func:`mlmon_nb.open_window`).
    chunk, min_labels_per_chunk, seed
        As :func:`mlmon_nb.concept.analyse`.
    spec : ModelSpec
    scores_of : callable
        ``scores_of(ctx, frame)``: the version's output on rows (:func:`~.analysis.window_scores`).
    fallback : callable
        :func:`~.analysis.analyse_frames`, for the sample when the scores are not logged.
    """
    mcfg, base, scan = ctx.model, ctx.baseline, ctx.scan
    rng = np.random.default_rng(seed)
    columns = dict(scan.columns)
    target = mcfg.target if mcfg.target in columns else None
    strata = [DAY_STRATUM] + ([target] if target and spec.task != "regression" else [])
    t0 = time.perf_counter()
    sample = scan.sample(SAMPLE_ROWS, strata=strata, seed=seed)
    frame = sample_frame(ctx, spec, sample, scores_of)
    start, end = to_utc(ctx.start), to_utc(ctx.end)
    kw = dict(bands={m: base.band("performance", m, "all") for m in spec.metrics},
              profiles=base.manifest.get("profiles") or {},
              segment_columns=[c for c in (mcfg.segments or ()) if c in frame.columns],
              calibration_reference=base.manifest.get("calibration"),
              drifted=ctx.artefact("data_drift").get("data_drift"))
    logged = spec.task != "multiclass_classification" and mcfg.prediction in columns
    if not logged:
        result = fallback(spec, base.sample, frame, seed=seed, start=pd.Timestamp(start), end=pd.Timestamp(end),
                          chunk=chunk, min_labels_per_chunk=min_labels_per_chunk, **kw)
        note = (f"Summary mode: the window's {ctx.rows:,} rows were not read into memory, and the model's output "
                f"is not logged ({'a multiclass model' if spec.task == 'multiclass_classification' else 'no column ' + repr(mcfg.prediction)}): "
                f"every figure comes from a sample of {len(frame):,} rows (stratified by day and label), not "
                f"from all rows. Log the model's output to have realized and estimated performance on every row.")
        return _with_note(result, note)

    closers: list[Callable[[], None]] = []
    try:
        return _analyse_cells(ctx, spec, scan, mcfg.prediction, frame, rng, chunk, min_labels_per_chunk, kw, t0,
                              closers)
    finally:  # a scored scan's spill is removed, also when the analysis raises
        for close in closers:
            close()


def _analyse_cells(ctx, spec: ModelSpec, scan, prediction: str, frame: pd.DataFrame, rng: np.random.Generator,
                   chunk: str, min_labels_per_chunk: int, kw: Mapping[str, Any], t0: float,
                   closers: list[Callable[[], None]]):
    """The summary path proper: the cells of ``scan``'s ``prediction`` column, the sample ``frame``.

    Logged scores that are missing or not finite are completed by the model file where there is
    one, as the in-memory path does (:func:`~.analysis.window_scores`): the engine then scores the
    rows in batches (``Scan.scored``, closed through ``closers``) and the pass runs again.
    """
    mcfg, base = ctx.model, ctx.baseline
    columns = dict(scan.columns)
    target = mcfg.target if mcfg.target in columns else None
    start, end = to_utc(ctx.start), to_utc(ctx.end)
    head = dict(spec=spec, start=pd.Timestamp(start), end=pd.Timestamp(end), rows=int(ctx.rows))
    try:
        estimator = fit_estimator(spec, base.sample, rng)
    except DataError as exc:
        return _result_only(head, 0, (f"Performance estimation without labels needs labelled reference rows with "
                                      f"the model's output ({exc}).",))
    delta = parse_chunk(chunk, CHUNK_WHERE)
    bounds = chunk_bounds(start, end, delta)
    low, high = _score_range(spec, base.sample)
    ts = mcfg.timestamp
    sql_kw = dict(task=spec.task, prediction=prediction, target=target, threshold=spec.threshold, low=low,
                  high=high, target_type=columns.get(target, "DOUBLE") if target else "DOUBLE")
    summary = ScoreCells.from_arrow(scan.aggregate(performance_sql(
        chunk=chunk_sql(ts, start.to_pydatetime(), delta.total_seconds()), **sql_kw)))
    source = ""
    if summary.non_finite() and ctx.version.model is not None and ctx.estimator is not None:
        scored = scan.scored(ctx.estimator, column=SCORE, keep=[c for c in (ts, target, prediction) if c])
        closers.append(scored.close)
        scan, p = scored, quote(prediction)
        sql_kw["prediction_sql"] = f"CASE WHEN {finite_sql(p)} THEN {p} ELSE {quote(SCORE)} END"
        summary = ScoreCells.from_arrow(scan.aggregate(performance_sql(
            chunk=chunk_sql(ts, start.to_pydatetime(), delta.total_seconds()), **sql_kw)))
        source = (f"missing or non-finite values of the logged column {prediction!r} were scored with the model "
                  f"file, in batches by the engine")
    n_chunks = len(bounds)
    rows_per = summary.chunk_rows(n_chunks)
    lab_per = summary.chunk_rows(n_chunks, (1, 0))
    labelled = int(summary.table.loc[summary.table["lab"] != UNLABELLED, "n"].sum())
    rows_all = int(summary.table["n"].sum())
    head["labelled"] = labelled
    tsv = pd.to_datetime(frame[ts], utc=True) if ts in frame.columns else None
    measured = []
    for j, (a, b) in enumerate(bounds):
        part = frame.loc[(tsv >= a) & (tsv < b)] if spec.task == "regression" and tsv is not None else None
        measured.append((str(a.isoformat()), a, b, measure_cells(spec, estimator, summary.cells(j), rows_per[j],
                                                                 lab_per[j], rng, part)))
    window_cells = summary.cells()
    window = measure_cells(spec, estimator, window_cells, rows_all, labelled, rng,
                           frame if spec.task == "regression" else None)
    measured.append(("window", start, end, window))
    chunks = assemble(spec, measured, bands=kw["bands"], chunk=chunk, min_labels=min_labels_per_chunk)
    how = (_summary_note(ctx.rows, summary, len(frame), time.perf_counter() - t0, spec)
           + (f" Scores: {source}." if source else ""),)
    notes: list[str] = []
    if summary.non_finite():
        notes.append(f"{summary.non_finite():,} rows have no finite logged prediction in column "
                     f"{mcfg.prediction!r}: they are counted in rows and labels but in no performance figure.")
    if labelled == 0:
        checks, shift = explain_by_shift(estimated_checks(chunks, spec), kw["drifted"])
        return replace(_result_only(head, labelled, (
            f"Realized performance, change points, the concept-drift test and segments need labels: none of the "
            f"window's rows has a value in the target column {spec.target!r} yet. Configure 'labels' (path and key "
            f"of late-arriving ground truth) or log the target column; until then only the estimated performance "
            f"is shown.", *notes), chunks=chunks, estimator=estimator, decisions=checks, shift=shift), how=how)

    concept = decide_concept(estimator, window.realized, window.expected, window.null_sd, labelled, "window",
                             spec.metrics)

    def test_after(at: pd.Timestamp, scope: str) -> ConceptTest | None:
        cells = ScoreCells.from_arrow(scan.aggregate(performance_sql(
            chunk="CAST(0 AS BIGINT)", where=f"{quote(ts)} >= $at", **sql_kw), at=at.to_pydatetime()))
        c = cells.cells()
        n_lab = int(cells.table.loc[cells.table["lab"] != UNLABELLED, "n"].sum())
        if n_lab < 2:
            return None
        part = frame.loc[tsv >= at] if spec.task == "regression" and tsv is not None else None
        ms = measure_cells(spec, estimator, c, int(cells.table["n"].sum()), n_lab, rng, part)
        return decide_concept(estimator, ms.realized, ms.expected, ms.null_sd, n_lab, scope, spec.metrics)

    ts_all = pd.DatetimeIndex(pd.to_datetime(frame[ts], utc=True))
    y_all = spec.labels(frame)
    calib = None
    if spec.task == "binary_classification" and window_cells.get(1, "n").sum() >= 10:
        calib = binned_calibration(window_cells)
    parts = labelled_parts(spec, estimator, base.sample, frame, ts_all, y_all, rng, kw["bands"], kw["profiles"],
                           kw["segment_columns"], kw["calibration_reference"], concept=concept,
                           test_after=test_after, window_calibration=calib)
    if parts["calibration"] is not None and calib is None:
        parts["calibration"] = None  # the window's curve comes from every labelled row or not at all
    return replace(compose(head, spec, estimator, chunks, parts, kw["drifted"], tuple(notes)), how=how)


def _summary_note(rows: int, summary: ScoreCells, sampled: int, seconds: float, spec: ModelSpec) -> str:
    exact = ("F1 and log loss exact, ROC AUC and PR AUC of scores binned to 1e-4 (bounds in "
             "mlmon_nb.summary.performance)" if spec.task == "binary_classification" else "MAE and RMSE exact")
    dle = "; the loss estimates (DLE) read the sample's features" if spec.task == "regression" else ""
    return (f"Summary mode: the window's {rows:,} rows were summarised by score cell and label per chunk "
            f"({len(summary.table):,} summary rows, {seconds:.1f} s with the sample); realized and estimated "
            f"performance use every row ({exact}){dle}. The change-point stream, the residual shift and the "
            f"segments use a sample of {sampled:,} rows stratified by day and label.")


def _result_only(head: Mapping[str, Any], labelled: int, notes, **parts) -> ConceptDriftResult:
    return ConceptDriftResult(**{**head, "labelled": labelled}, notes=tuple(notes), **parts)


def _with_note(result: ConceptDriftResult, note: str) -> ConceptDriftResult:
    return replace(result, notes=(note, *result.notes))
