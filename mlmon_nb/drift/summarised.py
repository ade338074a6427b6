"""Data drift of a window too large to hold: summarise it in one pass, then analyse the summary.

The same checks as the in-memory path (:func:`mlmon_nb.drift.analyse`), with
the window never materialised:

* **one aggregation pass** (:func:`mlmon_nb.summary.summarise`, run by the
  engine where the data lives) gives every feature's, the logged prediction's
  and the label's counts per time chunk, from which come the univariate
  statistics (KS within its stated bound, Wasserstein within its, the tail
  share, PSI, JS and every categorical statistic exact), the over-time grid,
  missing and non-finite counts, prediction drift and (classifiers) label drift;
* **a bounded, seeded sample** (``scan.sample``, at most :data:`SAMPLE_ROWS`
  rows, stratified by day and label) for what needs rows: the domain
  classifier and PCA reconstruction, a regression target's KS, and the
  figures' overlays;
* **scores from the model file** when the logs have none: the engine scores
  every row in bounded batches (:meth:`mlmon_nb.engines.Scan.scored`), and the
  scores are summarised and decided as logged scores are.

:data:`~mlmon_nb.summary.SUMMARISE_ABOVE` is where :func:`mlmon_nb.open_window` switches a data_drift
window to this path (always, on an engine other than DuckDB).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..config import FeaturesConfig, Thresholds
from ..errors import DataError, MlmonError
from ..profiles import count_non_finite
from ..rules import band_limits, sigmas
from ..summary import BUCKETS, SUMMARY_STATS, CategoricalSubject, NumericSubject, categorical_stats, chunk_sql, \
    numeric_stats, summarise
from .labels import label_counts_drift, label_drift
from .multivariate import multivariate
from .over_time import MIN_CHUNK_ROWS, chunking, decide_grid
from .prediction import decide_prediction, prediction_drift, window_scores
from .quality import quality_from_counts
from .reference import categorical_reference, methods_for, numeric_reference
from .result import DataDrift, TimeDrift
from .rule import PREDICTION, Rule, feature_rule
from .univariate import decide_features
from .units import QUANTILES

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 200_000
"""Most rows of the window's sample (the joint checks, plots)."""
TARGET = "__target__"
"""The label's subject in the summary (its level counts)."""
SCORED = "__score__"
"""The model's output on the window's rows, when the logs have none (:meth:`mlmon_nb.engines.Scan.scored`)."""
DAY_STRATUM = "__day__"  # the engines' name of the UTC-day stratum of Scan.sample
_NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
                  "UINTEGER", "INTEGER")


def _numeric_type(dtype: str | None) -> bool:
    return dtype is not None and dtype.upper().split("(")[0] in _NUMERIC_TYPES


def _label_key(level: str) -> str:
    """A label as the baseline spells it (``1.0`` → ``1``, as :func:`mlmon_nb.drift.labels._label_keys`)."""
    try:
        x = float(level)
    except ValueError:
        return level
    return str(int(x)) if np.isfinite(x) and x == int(x) else level


def analyse_scan(ctx, *, seed: int = 0, statistics: Sequence[str] = (), multivariate_checks: bool = True,
                 buckets: int = BUCKETS) -> DataDrift:
    """Every data-drift analysis of a window from its engine scan (``ctx.scan``), never its rows.

    Parameters
    ----------
    ctx : WindowContext
        Opened in scan mode (:func:`mlmon_nb.open_window`), with ``ctx.scan``.
    seed, statistics, multivariate_checks
        As :func:`mlmon_nb.drift.analyse`.
    buckets : int
        Equal-width buckets of each numeric feature's grid (:mod:`mlmon_nb.summary.grid`).
    """
    rng = np.random.default_rng(seed)
    scan, base, mcfg, thr = ctx.scan, ctx.baseline, ctx.model, ctx.thresholds
    features = FeaturesConfig(numeric=tuple(ctx.features.numeric), categorical=tuple(ctx.features.categorical))
    notes: list[str] = []
    columns = dict(scan.columns)
    num = {name: NumericSubject.of(name, numeric_reference(base, name), buckets) for name in features.numeric}
    cat = {name: CategoricalSubject(name, categorical_reference(base, name)) for name in features.categorical}
    logged = (mcfg.task != "multiclass_classification" and _numeric_type(columns.get(mcfg.prediction))
              and base.prediction_column in base.sorted_values)
    if logged:  # the logged scores, summarised like a feature (empty: the model scores the sample below)
        num[PREDICTION] = NumericSubject.of(mcfg.prediction, numeric_reference(base, base.prediction_column), buckets)
    tp = base.manifest.get("target_profile")
    if mcfg.task != "regression" and mcfg.target in columns and tp:
        cat[TARGET] = CategoricalSubject(mcfg.target, None)
    t0, t1 = pd.Timestamp(ctx.start), pd.Timestamp(ctx.end)
    length, n_chunks, chunk_notes = chunking(mcfg.chunk or "1d", t0, t1)
    ts_ok = mcfg.timestamp in columns
    chunk = chunk_sql(mcfg.timestamp, ctx.start, length.total_seconds()) if ts_ok else "CAST(0 AS BIGINT)"
    summary = summarise(scan, num, cat, chunk)
    rows = summary.rows()
    strata = [DAY_STRATUM] + ([mcfg.target] if mcfg.task != "regression" and mcfg.target in columns else [])
    sample = scan.sample(SAMPLE_ROWS, strata=strata, seed=seed)
    how = (f"Summary mode: the window's {rows:,} rows were summarised in one aggregation pass "
                 f"({summary.rows_out:,} summary rows, {summary.seconds:.1f} s); the joint checks and the figures "
                 f"use a sample of {len(sample):,} rows.",)

    # ---- per feature
    extra = [stats.get(name).name for name in statistics]
    computed = []
    for kind, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        for name in names:
            rule = feature_rule(thr, name, kind)
            wanted = [m for m, _, _ in rule.parts]
            methods = methods_for(kind, wanted[0], [*wanted[1:], *extra])
            if kind == "numeric":
                s, subj = summary.numeric[name], num[name]
                exact = [m for m in methods if m in SUMMARY_STATS]
                figures = numeric_stats(subj.reference, subj.grid, subj.cells, s, exact)
                rest = [m for m in methods if m not in SUMMARY_STATS]
                if rest:  # statistics that need rows: on the sample, said so
                    figures.update(stats.numeric_against(subj.reference, sample[name].to_numpy(dtype=float), rest))
                    notes.append(f"{name}: {', '.join(rest)} computed on the sample of {len(sample):,} rows.")
                units = _numeric_units(subj.reference, s)
                computed.append((name, kind, rule, figures, s.finite(), units))
            else:
                s, ref = summary.categorical[name], cat[name].reference
                figures = categorical_stats(ref, s, methods)
                computed.append((name, kind, rule, figures, s.rows() - s.missing(), _categorical_units(ref, s)))
    missing = {}
    for name in features.numeric:
        s = summary.numeric[name]
        missing[name] = (s.missing() - s.non_finite()) / rows if rows else 0.0  # NaN and NULL, as isna()
    for name in features.categorical:
        missing[name] = summary.categorical[name].missing() / rows if rows else 0.0
    rules = {c[0]: c[2] for c in computed}
    grid = _over_time(base, summary, rules, thr, num, cat, n_chunks, t0, length, chunk_notes) if ts_ok else None
    uni = decide_features(base, computed, thr, current=sample, over_time=grid, missing=missing, statistics=extra)

    # ---- data quality
    counts = {name: (summary.numeric[name].missing(), summary.numeric[name].non_finite(),
                     summary.numeric[name].finite()) for name in features.numeric}
    counts.update({name: (summary.categorical[name].missing(), 0, 0) for name in features.categorical})
    quality = quality_from_counts(base, counts, rows, features=features, thresholds=thr)
    notes.extend(f"Non-finite values: {r.text()}." for r in quality.non_finite)

    # ---- the model's scores
    pred = None
    if logged and summary.numeric[PREDICTION].finite():
        subj, s = num[PREDICTION], summary.numeric[PREDICTION]
        rule = feature_rule(thr, mcfg.prediction, "numeric")
        figures = numeric_stats(subj.reference, subj.grid, subj.cells, s, methods_for("numeric", rule.method))
        scores = sample[mcfg.prediction].to_numpy(dtype=float) if mcfg.prediction in sample else np.zeros(0)
        pred = decide_prediction(base, figures, s.finite(), subject=mcfg.prediction, thresholds=thr,
                                 source=f"logged column {mcfg.prediction!r}", scores=scores[np.isfinite(scores)])
        if s.non_finite():
            notes.append(f"Prediction drift: {s.non_finite():,} non-finite scores ({s.non_finite() / rows:.2%}) "
                         f"were left out.")
    if pred is None and ctx.estimator is not None and base.prediction_column in base.sorted_values:
        try:  # every row of the window scored in batches by the engine, summarised like logged scores
            pred = _scored_prediction(ctx, scan, chunk, buckets, seed, notes)
        except MlmonError as exc:
            notes.append(f"Prediction drift: the window has no usable prediction column {mcfg.prediction!r} and "
                         f"the model could not score it: {exc}; log the scores or check the version's model.")
    elif pred is None:
        try:
            scores, source = window_scores(sample, mcfg.task, mcfg.prediction, ctx.estimator,
                                           [*features.numeric, *features.categorical])
        except MlmonError as exc:
            scores, source = None, str(exc)
        if scores is None:
            notes.append(f"Prediction drift: the window has no usable prediction column {mcfg.prediction!r} and "
                         f"the model could not score it{': ' + source if source else ''}; log the scores or "
                         f"configure the version's model.")
        else:
            pred = prediction_drift(base, scores, subject=mcfg.prediction, thresholds=thr,
                                    source=f"{source}, on a sample of {len(sample):,} rows")
            bad = count_non_finite(scores)
            if bad:
                notes.append(f"Prediction drift: {bad:,} non-finite scores ({bad / len(scores):.2%}) were left out.")

    # ---- labels
    labels = None
    if TARGET in summary.categorical:
        lc = summary.categorical[TARGET].level_counts()
        lc = lc.groupby(lc.index.map(_label_key)).sum().sort_values(ascending=False, kind="stable")
        labels = label_counts_drift(base, lc, rows, task=mcfg.task, subject=mcfg.target, thresholds=thr)
    elif mcfg.task == "regression" and mcfg.target in sample.columns:
        labels = label_drift(base, sample[mcfg.target], task=mcfg.task, subject=mcfg.target, thresholds=thr)
    if labels is None:
        notes.append(f"Label drift: no labelled rows in this window (column {mcfg.target!r}) or no target in the "
                     f"reference; configure models.{mcfg.name}.labels to join late labels.")

    # ---- joint
    mv = multivariate(base, sample, features=features, thresholds=thr, rng=rng) if multivariate_checks else None
    if mv is not None:
        notes.extend(f"Multivariate drift: {n}" for n in mv.notes)
    if grid is not None:
        notes.extend(grid.notes)
    if not uni.has_importance:
        notes.append("Impact ranking: the baseline has no feature importance (no model file when it was fitted); "
                     "features are ranked by effect alone.")
    return DataDrift(univariate=uni, quality=quality, prediction=pred, labels=labels, multivariate=mv,
                     notes=tuple(notes), how=how)


def _scored_prediction(ctx, scan, chunk: str, buckets: int, seed: int, notes: list[str]):
    """Prediction drift from the model's scores on every row of the window: the engine scores the
    scan in batches (:meth:`mlmon_nb.engines.Scan.scored`), the scores are summarised on the
    baseline's grid, and the decision is the logged scores' (:func:`decide_prediction`)."""
    mcfg, base, thr = ctx.model, ctx.baseline, ctx.thresholds
    keep = [mcfg.timestamp] if mcfg.timestamp in scan.columns else []
    subj = NumericSubject.of(SCORED, numeric_reference(base, base.prediction_column), buckets)
    with scan.scored(ctx.estimator, column=SCORED, keep=keep) as scored:
        summary = summarise(scored, {PREDICTION: subj}, {}, chunk)
        drawn = scored.sample(SAMPLE_ROWS, strata=[DAY_STRATUM] if keep else [], seed=seed)[SCORED]
    s = summary.numeric[PREDICTION]
    if not s.finite():
        raise DataError(f"its scores of the window's {s.rows():,} rows are all missing or non-finite")
    rule = feature_rule(thr, mcfg.prediction, "numeric")
    figures = numeric_stats(subj.reference, subj.grid, subj.cells, s, methods_for("numeric", rule.method))
    shown = drawn.to_numpy(dtype=float)
    if s.non_finite():
        notes.append(f"Prediction drift: {s.non_finite():,} non-finite scores ({s.non_finite() / s.rows():.2%}) "
                     f"were left out.")
    return decide_prediction(base, figures, s.finite(), subject=mcfg.prediction, thresholds=thr,
                             source=f"scored with the version's model file, all {s.rows():,} rows in batches",
                             scores=shown[np.isfinite(shown)])


def _numeric_units(ref: stats.NumericReference, s) -> dict[str, Any]:
    """p10, median, p90: the reference's exact, the window's within a cell of the grid."""
    if len(ref.sorted) == 0 or s.finite() == 0:
        return {}
    rq, cq = np.quantile(ref.sorted, QUANTILES), s.quantiles(QUANTILES)
    return {name: (float(a), float(b)) for name, a, b in zip(("p10", "median", "p90"), rq, cq)}


def _categorical_units(ref: stats.CategoricalReference, s) -> dict[str, Any]:
    """The level shares that moved most (as :func:`mlmon_nb.drift.units.in_units`)."""
    counts = s.counts(ref)
    total = counts.sum()
    if total == 0:
        return {}
    names = [*ref.levels, "(other levels)"]
    moved = sorted(zip(names, ref.shares, counts / total), key=lambda t: -abs(t[2] - t[1]))
    return {"levels": [(str(k), float(a), float(b)) for k, a, b in moved[:3] if a > 0 or b > 0]}


def _over_time(base: Baseline, summary, rules: dict[str, Rule], thr: Thresholds, num, cat, n_chunks: int, t0,
               length, notes) -> TimeDrift:
    """Each feature's decision statistic per chunk, from the summary's chunks (every row of each chunk)."""
    names = list(rules)
    F, C = len(names), n_chunks
    values = np.full((F, C), np.nan)
    band_hi = np.full((F, C), np.nan)
    pvals = np.full((F, C), 1.0)
    width = sigmas(thr.band_margin)
    for i, name in enumerate(names):
        rule = rules[name]
        if rule.ignore:
            continue
        test, floor = rule.test, min(rule.warn, rule.alert)
        band = base.band("drift", rule.method, name)
        for j in range(C):
            if rule.kind == "numeric":
                s, subj = summary.numeric[name], num[name]
                if rule.method not in SUMMARY_STATS or test not in SUMMARY_STATS:
                    break
                n_valid = s.finite(j)
                if n_valid < MIN_CHUNK_ROWS:
                    continue
                fig = numeric_stats(subj.reference, subj.grid, subj.cells, s, [rule.method], chunk=j,
                                    p_values=False)[rule.method]
            else:
                s, ref = summary.categorical[name], cat[name].reference
                n_valid = s.rows(j) - s.missing(j)
                if n_valid < MIN_CHUNK_ROWS:
                    continue
                figs = categorical_stats(ref, s, list(dict.fromkeys([rule.method, test])), chunk=j)
                fig = figs[rule.method]
            if not np.isfinite(fig.value):
                continue
            _, hi = band_limits(band, n_valid, width, worse="up")
            values[i, j] = fig.value
            band_hi[i, j] = hi if hi is not None else np.nan
            if fig.value > max(hi if hi is not None else -np.inf, floor):
                if rule.kind == "categorical":
                    p = figs[test].p_value
                else:
                    p = numeric_stats(subj.reference, subj.grid, subj.cells, s, [test], chunk=j)[test].p_value
                pvals[i, j] = p if p is not None else 1.0
    rows = summary.chunk_rows(C)
    return decide_grid(names, rules, values, band_hi, pvals, rows, thr, t0=t0, length=length, notes=notes)
