"""Fit a baseline: the one place that composes every area's fitter into a :class:`Baseline`.

:func:`fit_frame` is the core, usable without a project: from a DataFrame of
reference rows (in time order) it computes the profiles
(:mod:`mlmon_nb.profiles`), performance with bootstrap intervals and
calibration (:mod:`mlmon_nb.metrics`), importance when given, every figure on
equal chunks of the reference, from which :func:`mlmon_nb.rules.fit_band`
makes the alert bands, and a seeded sample. :func:`fit` reads a model
version's reference once, scores it, and adds what needs the project:
importance (explainability), the operational figures of the baseline window
(operations), the domain classifier's null band (data drift) and the
provenance. The result is written by :meth:`Baseline.save` (format in
:mod:`mlmon_nb.baseline`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from . import __version__, stats
from .baseline import SAMPLE_ROWS, SCHEMA, Baseline
from .config import FeaturesConfig, ModelConfig, Project
from .data import Table, read_reference, read_window, reference_identity, window_stats
from .sources import connect
from .drift import NULL_ROWS, PREDICTION, domain_null
from .engines import DAY, DuckDBEngine
from .errors import DataError, MlmonError
from .explain import importance
from .metrics import MIN_POSITIVES_PER_CHUNK, bootstrap_performance, calibration, performance
from .models import load_model, predictions
from .operations import fit_operational
from .profiles import (CHUNK_REF_POINTS, SORTED_CAP, categorical_profile, even_subsample, finite_or_none as _num,
                       numeric_profile, profile_features, sorted_sample)
from .preflight import chunk_count
from .provenance import package_versions
from .rules import BAND_SIGMAS, fit_band, split_half_sd
from .shape import RareRegion

__all__ = ["fit", "fit_frame", "domain_null", "importance", "NULL_ROWS"]

logger = logging.getLogger(__name__)

PROBA_PREFIX = "__proba_"
"""Columns ``__proba_<j>__`` hold a multiclass model's class probabilities (``__prediction__`` the top one)."""
BAND_RULE = (f"centre ± {BAND_SIGMAS:g} sd of the chunk values (centre: their mean, or the healthiest end of "
             f"their trend line when they trend); for size-dependent figures the sampling part of the sd "
             f"(from chunk halves) is scaled to the compared window by sqrt(chunk rows / window rows), the "
             f"between-chunk part is kept")
CHUNK_COLUMNS = ["chunk", "rows", "family", "metric", "subject", "value", "scales"]
FIT_ROWS = 2_000_000
"""Most rows a baseline is fitted from: a larger reference (or ``--window``) is sampled by its engine."""


def fit(project: Project, model: str, version: str, *, seed: int = 0, baseline_id: str | None = None,
        window: tuple[dt.datetime, dt.datetime] | None = None,
        con: duckdb.DuckDBPyConnection | None = None) -> Baseline:
    """Fit the baseline of a model version.

    Parameters
    ----------
    project : Project
        The loaded project.
    model, version : str
        Which model version.
    seed : int
        Seed of every sample and bootstrap (results are reproducible).
    baseline_id : str, optional
        Id to give it (the runner passes the run id); a UTC timestamp otherwise.
    window : (datetime, datetime), optional
        Fit from this window of the production logs (rows served by ``version``
        when the logs name it, late labels joined) instead of the reference
        data: how a team accepts a new normal (``mlmon baseline --window``).

    Raises
    ------
    MlmonError
        Bad data, model, or a reference too small for meaningful chunks.
    """
    rng = np.random.default_rng(seed)
    con = con or connect()
    mcfg = project.model(model)
    vcfg = project.version(model, version)
    ref, sampled = _fitted_rows(project, mcfg, vcfg.name if mcfg.version_column else None, window, seed, con)
    frame = ref.frame
    features = ref.features
    loaded = load_model(mcfg, vcfg) if vcfg.model is not None else None
    pred, pred_source = predictions(frame, mcfg, loaded, features)
    task = mcfg.task
    # ref.frame is ours alone: prediction columns are added in place (no copy of a large reference).
    if task == "multiclass_classification":
        for j in range(pred.shape[1]):
            frame[f"{PROBA_PREFIX}{j}__"] = pred[:, j]
        frame[PREDICTION] = pred.max(axis=1)
    else:
        frame[PREDICTION] = pred
    # The rule and the smallest reference (preflight.MIN_REFERENCE_ROWS) are those `mlmon check` applies.
    n_chunks, chunk_notes = chunk_count(len(frame), mcfg.baseline.chunks)
    ops_notes: list[str] = []
    ops, ops_chunks = fit_operational(mcfg, con, ops_notes)

    has_target = mcfg.target in frame.columns and frame[mcfg.target].notna().any()
    cols = [*features.numeric, *features.categorical]

    def importance_of(rows: pd.DataFrame, draws: np.random.Generator):
        return importance(loaded, rows, list(loaded.features) or cols, rows[mcfg.target] if has_target else None,
                          draws)

    sample_cols = [mcfg.timestamp, *cols, mcfg.target, PREDICTION, *(mcfg.segments or ()),
                   *[c for c in frame.columns if c.startswith(PROBA_PREFIX)]]
    core = fit_frame(frame, features, prediction=PREDICTION, target=mcfg.target, task=task,
                     decision_threshold=mcfg.decision_threshold, n_chunks=n_chunks,
                     importance=importance_of if loaded is not None else None,
                     sample_columns=sample_cols, extra_chunks=ops_chunks, rng=rng)
    m = core.manifest
    notes = [f"Predictions: {pred_source}.", *([sampled["note"]] if sampled else []), *chunk_notes, *m["notes"],
             *ops_notes]
    # The domain classifier's null band depends on the reference sample only: fitted once here,
    # reused by every window's data-drift check (its own seed, so it does not move other figures).
    try:
        multivariate = {"domain_classifier": domain_null(core.sample, features, rows=NULL_ROWS,
                                                         rng=np.random.default_rng([seed, 1]))}
    except (ValueError, MlmonError) as exc:  # e.g. a feature type the classifier cannot encode
        multivariate = {}
        notes.append(f"Domain classifier null band not precomputed ({exc}); windows compute it.")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    manifest = {
        "schema": SCHEMA,
        "baseline_id": baseline_id or now.strftime("%Y%m%dT%H%M%SZ"),
        "model": mcfg.name, "version": vcfg.name, "task": task,
        "generated_at": now.isoformat(), "mlmon_nb_version": __version__, "packages": package_versions(),
        "seed": seed,
        "reference": {"path": str(ref.source.path), "rows": int(sampled["of"] if sampled else len(frame)),
                      "fingerprint": ref.fingerprint, "labelled_rows": int(ref.labelled_rows),
                      **({"sampled": {k: v for k, v in sampled.items() if k != "note"}} if sampled else {}),
                      **({"window": [window[0].isoformat(), window[1].isoformat()]} if window else {})},
        "model_file": {"path": str(loaded.path), "sha256": loaded.sha256} if loaded else None,
        "features": m["features"], "prediction_column": PREDICTION, "target": mcfg.target,
        "decision_threshold": mcfg.decision_threshold,
        "chunks": {**m["chunks"], "by": (
            f"time order of {mcfg.timestamp!r}" if mcfg.timestamp in frame.columns else "row order")},
        "profiles": m["profiles"], "prediction": m["prediction"], "target_profile": m["target_profile"],
        "performance": m["performance"], "calibration": m["calibration"], "importance": m["importance"],
        "behaviour": _behaviour(frame, mcfg, has_target), "operational": ops, "bands": m["bands"],
        "band_rule": BAND_RULE, "sorted_cap": SORTED_CAP, "sample_rows": m["sample_rows"],
        "multivariate": multivariate, "notes": notes,
    }
    return Baseline(manifest=manifest, sorted_values=core.sorted_values, sample=core.sample, chunks=core.chunks)


def _fitted_rows(project: Project, mcfg: ModelConfig, version: str | None,
                 window: tuple[dt.datetime, dt.datetime] | None, seed: int, con: duckdb.DuckDBPyConnection):
    """The rows a baseline is fitted from: (Table, None), or (Table of a sample, what was sampled).

    A reference (or ``--window``) of at most :data:`FIT_ROWS` rows is read whole, as always. A
    larger one is never read into memory: DuckDB (which reads references and baseline windows)
    draws a seeded sample of :data:`FIT_ROWS` rows stratified by day (and label, for a
    classifier) in one streaming pass, and the baseline is fitted on it. What
    the baseline learns from chunks of rows (profiles, quantiles, every chunk figure and band) is
    then estimated from 2,000,000 rows, whose sampling error (e.g. about 0.001 on a quantile's
    probability) is far below the bands' width; the manifest says so under ``reference.sampled``.
    """
    with DuckDBEngine(project, con=con) as engine, \
            (engine.window(mcfg, *window, version=version, labels=True) if window is not None
             else engine.reference(mcfg)) as scan:
        total = scan.rows
        if total > FIT_ROWS:
            strata = [DAY, *([mcfg.target] if mcfg.task != "regression" and mcfg.target in scan.columns else [])]
            frame = scan.sample(FIT_ROWS, strata=strata, seed=seed)
            relation, features = scan.relation, scan.features
    if total <= FIT_ROWS:
        if window is not None:
            return read_window(mcfg, *window, version=version, con=con), None
        return read_reference(mcfg, con=con), None
    ts = mcfg.timestamp if mcfg.timestamp in frame.columns else None
    if ts:
        frame = frame.sort_values(ts, kind="stable").reset_index(drop=True)
    if window is None:
        source, _, _, _, fingerprint_of = reference_identity(mcfg, con=con)
    else:
        source = relation

        def fingerprint_of() -> str:  # the whole window's, one streaming pass (as read_window's)
            return window_stats(mcfg, *window, version=version, con=con).fingerprint
    labelled = int(frame[mcfg.target].notna().sum()) if mcfg.target in frame.columns else 0
    ref = Table(frame=frame, fingerprint_of=fingerprint_of, source=source, labelled_rows=labelled,
                features=features)
    what = "window" if window is not None else "reference"
    by = " and ".join(["day", *(["label"] if len(strata) > 1 else [])])
    note = (f"The {what} has {total:,} rows: the baseline was fitted on a seeded sample of {len(frame):,} of them, "
            f"stratified by {by} (seed {seed}); its profiles and bands describe the {what} within that "
            f"sample's error.")
    return ref, {"rows": len(frame), "of": total, "strata": by, "seed": seed, "note": note}


def fit_frame(frame: pd.DataFrame, features: FeaturesConfig, *, prediction: str | None = None,
              target: str | None = None, task: str = "binary_classification", decision_threshold: float = 0.5,
              methods: Sequence[str] | None = None, n_chunks: int = 20,
              importance: Mapping[str, float] | Callable[[pd.DataFrame, np.random.Generator], Any] | None = None,
              sample_rows: int = SAMPLE_ROWS, sample_columns: Sequence[str | None] | None = None,
              extra_chunks: Sequence[tuple] = (), rng: np.random.Generator | None = None) -> Baseline:
    """Fit a baseline from reference rows in memory (no project, no files): what :func:`fit` builds on.

    Parameters
    ----------
    frame : DataFrame
        Reference rows, in time order.
    features : FeaturesConfig
        The monitored features.
    prediction : str, optional
        Column of the model's predictions (for multiclass, the top-class
        probability, with the class probabilities in ``__proba_<j>__``
        columns); the baseline keeps them as ``__prediction__``.
    target : str, optional
        Column of the labels: target profile, performance with bootstrap
        intervals, calibration (binary) and per-chunk performance.
    task : str
        ``binary_classification``, ``multiclass_classification`` or ``regression``.
    decision_threshold : float
        Score at or above which a binary prediction is positive.
    methods : sequence of str, optional
        Statistics to learn bands for (every one with a baseline form by default).
    n_chunks : int
        Chunks the rows are cut into, in order (fewer when a chunk would have
        fewer than 10 rows; at least 2).
    importance : mapping, callable or None
        Given importance per feature, or ``importance(frame, rng) -> (Series, method)``
        called after the performance bootstrap (the random draws keep the
        baseline's order; a failure is noted, not raised). None: skipped, noted
        as a version without a model file.
    sample_rows, sample_columns : int, sequence of str
        Size and columns of the seeded sample (features, target and
        prediction by default; columns not in ``frame`` are left out).
    extra_chunks : sequence of tuple
        Chunk rows ``(chunk, rows, family, metric, subject, value, scales)``
        from other sources (the operational figures), banded with the rest.
    rng : Generator, optional
        Draws of the bootstrap, the importance and the sample.

    Returns
    -------
    Baseline
        With ``baseline_id`` "in-memory"; its manifest's notes say what was skipped.

    Raises
    ------
    DataError
        With fewer than 20 rows.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    n = len(frame)
    if n < 20:
        raise DataError(f"reference has {n} rows: at least 20 are needed to learn bands")
    chunks = np.array_split(np.arange(n), max(2, min(n_chunks, n // 10)))
    notes: list[str] = []
    profiles, sorted_values = profile_features(frame, features)
    pred_profile = None
    if prediction is not None:
        pred_profile = numeric_profile(frame[prediction])
        sorted_values[PREDICTION] = sorted_sample(frame[prediction].to_numpy(dtype=float))
    for name, prof in profiles.items():
        if prof.get("note"):
            notes.append(f"{name}: {prof['note']}.")
    for name, prof in [*((n, profiles[n]) for n in features.numeric), (PREDICTION, pred_profile)]:
        region = RareRegion.of(sorted_values[name]) if prof is not None and name in sorted_values else None
        if region is not None:
            prof["rare"] = region.to_dict()

    has_target = target is not None and target in frame.columns and bool(frame[target].notna().any())
    target_profile = perf = calib = None
    if has_target:
        labelled = frame[target].notna().to_numpy()
        y = frame.loc[labelled, target].to_numpy()
        if task == "regression":
            target_profile = numeric_profile(frame[target])
        else:
            target_profile = categorical_profile(frame[target].astype("Int64").astype(str))
        if prediction is not None:
            p_lab = _scores(frame, prediction, task, labelled)
            perf = bootstrap_performance(task, y, p_lab, decision_threshold, rng)
            if task == "binary_classification":
                calib = calibration(y.astype(int), np.asarray(p_lab, dtype=float))
    elif target is not None:
        notes.append(f"No target column {target!r} in the reference: performance, calibration, label "
                     f"distribution and outcome rates were skipped; add the target to the reference to get them.")

    imp = None
    if callable(importance):
        try:
            series, method = importance(frame, rng)
            imp = {"method": method, "values": {k: float(v) for k, v in series.items()}}
        except Exception as exc:  # importance is informative; a failure must not lose the baseline
            notes.append(f"Feature importance could not be computed ({type(exc).__name__}: {exc}).")
    elif importance is not None:
        imp = {"method": "given", "values": {k: float(v) for k, v in importance.items()}}
    else:
        notes.append("No model file for this version: feature importance skipped.")

    profiles_with_pred = profiles if prediction is None else {**profiles, PREDICTION: pred_profile}
    args = (features, profiles_with_pred, sorted_values, prediction, task, target if has_target else None,
            decision_threshold, methods)
    rows = _chunk_figures(frame, chunks, *args, notes)
    chunk_df = pd.DataFrame(rows + list(extra_chunks), columns=CHUNK_COLUMNS)
    # Every figure again on each chunk's two halves (alternate rows): how much of the chunks'
    # spread is sampling noise, the part that shrinks with a window's rows (rules.split_half_sd).
    halves = [h for ix in chunks for h in (ix[::2], ix[1::2])]
    half_df = pd.DataFrame(_chunk_figures(frame, halves, *args, []), columns=CHUNK_COLUMNS)
    sampling = {key: _split_half(g) for key, g in half_df.groupby(["family", "metric", "subject"], sort=True)}
    bands = {}
    for key, g in chunk_df.groupby(["family", "metric", "subject"], sort=True):
        b = fit_band(g["value"], g["rows"], bool(g["scales"].iloc[0]), sampling.get(key))
        if b is not None:
            bands["/".join(key)] = b.to_dict()

    keep = [*features.numeric, *features.categorical, target, prediction] if sample_columns is None else sample_columns
    keep = list(dict.fromkeys(c for c in keep if c is not None and c in frame.columns))
    take = np.sort(rng.choice(n, size=min(sample_rows, n), replace=False))
    sample = frame.iloc[take][keep].reset_index(drop=True)
    manifest = {
        "schema": SCHEMA, "baseline_id": "in-memory", "model": "(in memory)", "version": "", "task": task,
        "reference": {"rows": n},
        "features": {"numeric": list(features.numeric), "categorical": list(features.categorical)},
        "prediction_column": PREDICTION, "target": target, "decision_threshold": decision_threshold,
        "chunks": {"n": len(chunks), "rows": int(np.median([len(c) for c in chunks])), "by": "row order"},
        "profiles": profiles, "prediction": pred_profile, "target_profile": target_profile,
        "performance": perf, "calibration": calib, "importance": imp, "bands": bands, "band_rule": BAND_RULE,
        "sorted_cap": SORTED_CAP, "sample_rows": int(len(sample)), "notes": notes,
    }
    return Baseline(manifest=manifest, sorted_values=sorted_values, sample=sample, chunks=chunk_df)


def _split_half(g: pd.DataFrame) -> float:
    """The sampling sd at the chunk size of one figure, from its values on chunk halves (2i, 2i+1)."""
    chunk = g["chunk"].to_numpy(dtype=np.int64)
    value = g["value"].to_numpy(dtype=float)
    pairs = int(chunk.max()) // 2 + 1
    first, second = np.full(pairs, np.nan), np.full(pairs, np.nan)
    even = chunk % 2 == 0
    first[chunk[even] // 2], second[chunk[~even] // 2] = value[even], value[~even]
    return split_half_sd(first, second)


def _scores(frame: pd.DataFrame, prediction: str, task: str, rows: np.ndarray) -> np.ndarray:
    """The model's output on some rows (a mask): class probabilities for multiclass, else the prediction."""
    if task == "multiclass_classification":
        return frame.loc[rows, [c for c in frame.columns if c.startswith(PROBA_PREFIX)]].to_numpy()
    return frame.loc[rows, prediction].to_numpy(dtype=float)


def _behaviour(frame: pd.DataFrame, mcfg: ModelConfig, has_target: bool) -> dict[str, Any] | None:
    outcome = mcfg.feedback.outcome if mcfg.feedback and mcfg.feedback.outcome else mcfg.target
    if outcome not in frame.columns or not has_target or mcfg.task == "regression":
        return None
    y = pd.to_numeric(frame[outcome], errors="coerce")
    out = {"outcome": outcome, "rate": _num(y.mean()), "segments": {}}
    for seg in mcfg.segments or ():
        if seg in frame.columns:
            g = y.groupby(frame[seg].astype(object).astype(str), observed=True)
            out["segments"][seg] = {str(k): {"rate": _num(v), "rows": int(c)}
                                    for (k, v), c in zip(g.mean().items(), g.size().to_numpy())}
    return out


def _chunk_figures(frame, chunks, features, profiles, sorted_values, prediction, task, target, threshold,
                   methods, notes) -> list[tuple]:
    """Every figure on every chunk: drift statistics, missing rates, performance (with a labelled ``target``)."""
    rows: list[tuple] = []
    n = len(frame)
    small_perf = 0
    num_stats = [m for m in stats.NUMERIC_BASELINE_STATS if methods is None or m in methods]
    cat_stats = [m for m in stats.CATEGORICAL_BASELINE_STATS if methods is None or m in methods]
    # (column, name in the baseline) of each numeric subject: the prediction is kept as __prediction__.
    numeric = [(name, name) for name in features.numeric] + ([(prediction, PREDICTION)] if prediction else [])
    # Chunks are compared with the reference's quantile function at CHUNK_REF_POINTS steps: its
    # ECDF is within 1/CHUNK_REF_POINTS of the full one, far below a chunk's own sampling noise
    # (about 1/sqrt(chunk rows)), and each comparison costs a fraction of the full search.
    ref_points = {name: even_subsample(values, CHUNK_REF_POINTS) for name, values in sorted_values.items()}
    # All statistics of a feature come from one call per chunk (levels counted, values sorted once).
    num_refs = {name: stats.NumericReference.from_profile(ref_points[name], profiles[name], n) for _, name in numeric}
    cat_refs = {name: stats.CategoricalReference.from_profile(profiles[name], n) for name in features.categorical}
    # Each value's level (a kept one, 'other', or missing) is looked up once: a chunk's counts are then
    # one bincount, however many levels the column has (a categorical with 100k levels costs the same).
    cat_codes = {name: cat_refs[name].codes(frame[name]) for name in features.categorical}
    # Columns as arrays once: a chunk takes its positions of each (a copy of the whole frame per
    # chunk, and a pandas lookup per column and chunk, were most of a small baseline's fit).
    num_cols = {column: frame[column].to_numpy(dtype=float) for column, _ in numeric}
    perf = target is not None and prediction is not None
    perf_frame = frame[[c for c in frame.columns if c == target or c == prediction or c.startswith(PROBA_PREFIX)]] \
        if perf else None
    for i, ix in enumerate(chunks):
        m = len(ix)
        # A chunk is part of the reference it is compared with; for distances that are linear in
        # the share difference (KS, TVD) D(chunk, rest) = D(chunk, all) * n / (n - m), and the
        # same factor is applied to the others as a close approximation.
        own = n / (n - m) if n > m else 1.0
        for column, name in numeric:
            # Sorted once here: every statistic below sorts its input, and sorting sorted data is cheap.
            cur = np.sort(num_cols[column][ix])
            family = "prediction_drift" if name == PREDICTION else "drift"
            for sname, st in stats.numeric_against(num_refs[name], cur, num_stats, p_values=False).items():
                rows.append((i, m, family, sname, name, st.value * own, True))
            rows.append((i, m, "quality", "missing_rate", name, float(np.mean(~np.isfinite(cur))), True))
        for name in features.categorical:
            codes = cat_codes[name][ix]
            counts = cat_refs[name].counts_of(codes)
            for sname, st in stats.categorical_against(cat_refs[name], None, cat_stats, counts=counts).items():
                rows.append((i, m, "drift", sname, name, st.value * (own if sname != "unseen" else 1.0), True))
            rows.append((i, m, "quality", "missing_rate", name, float(np.mean(codes < 0)), True))  # -1: missing
        if perf:
            part = perf_frame.iloc[ix]
            lab = part[target].notna().to_numpy()
            y = part.loc[lab, target].to_numpy()
            p = _scores(part, prediction, task, lab)
            if task == "binary_classification" and min(int(y.sum()), int(len(y) - y.sum())) < MIN_POSITIVES_PER_CHUNK:
                small_perf += 1
                continue
            if len(y) >= 2:
                for k, v in performance(task, y, p, threshold).items():
                    rows.append((i, int(len(y)), "performance", k, "all", v, True))
    if small_perf:
        notes.append(f"{small_perf} of {len(chunks)} reference chunks have fewer than {MIN_POSITIVES_PER_CHUNK} "
                     f"positives or negatives: performance bands come from the others only"
                     + (" and are missing" if small_perf > len(chunks) - 3 else "") + ".")
    return rows
