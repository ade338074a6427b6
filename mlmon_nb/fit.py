"""Fit a baseline: the one place that composes every area's fitter into a :class:`Baseline`.

The reference data is read once; profiles (:mod:`mlmon_nb.profiles`),
performance with bootstrap intervals (:mod:`mlmon_nb.metrics`), importance
(explainability), the domain classifier's null band (data drift) and the
operational figures of the baseline window (operations) are computed, and every
figure is measured on equal chunks of the reference, from which
:func:`mlmon_nb.rules.fit_band` makes the alert bands. The result is written by
:meth:`Baseline.save` (format in :mod:`mlmon_nb.baseline`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Mapping

import duckdb
import numpy as np
import pandas as pd

from . import __version__, stats
from .baseline import SAMPLE_ROWS, SCHEMA, Baseline
from .config import ModelConfig, Project
from .data import _quote, _time_filter, connect, describe, read_reference, resolve_source
from .errors import DataError, MlmonError
from .metrics import MIN_POSITIVES_PER_CHUNK, bootstrap_performance, calibration, performance
from .models import load_model, predictions
from .profiles import (CHUNK_REF_POINTS, SORTED_CAP, categorical_profile, even_subsample, finite_or_none as _num, numeric_profile,
                       profile_features, sorted_sample)
from .provenance import package_versions
from .rules import BAND_SIGMAS, fit_band

logger = logging.getLogger(__name__)

MIN_CHUNKS = 10
MIN_CHUNK_ROWS = 500

def _chunks(n: int, wanted: int) -> list[np.ndarray]:
    if n < MIN_CHUNKS * MIN_CHUNK_ROWS:
        raise DataError(f"reference has {n:,} rows: at least {MIN_CHUNKS * MIN_CHUNK_ROWS:,} are needed "
                        f"({MIN_CHUNKS} chunks of {MIN_CHUNK_ROWS} rows) to learn how much each figure "
                        f"naturally varies")
    k = max(MIN_CHUNKS, min(wanted, n // MIN_CHUNK_ROWS))
    return np.array_split(np.arange(n), k)


def fit(project: Project, model: str, version: str, *, seed: int = 0, baseline_id: str | None = None,
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

    Raises
    ------
    MlmonError
        Bad data, model, or a reference too small for meaningful chunks.
    """
    from .explain import importance

    rng = np.random.default_rng(seed)
    con = con or connect()
    mcfg = project.model(model)
    vcfg = project.version(model, version)
    ref = read_reference(mcfg, con=con)
    frame = ref.frame
    features = ref.features
    notes: list[str] = []
    loaded = load_model(mcfg, vcfg) if vcfg.model is not None else None
    pred, pred_source = predictions(frame, mcfg, loaded, features)
    notes.append(f"Predictions: {pred_source}.")
    task = mcfg.task
    pred_col = "__prediction__"
    # ref.frame is ours alone: prediction columns are added in place (no copy of a large reference).
    if task == "multiclass_classification":
        for j in range(pred.shape[1]):
            frame[f"__proba_{j}__"] = pred[:, j]
        frame[pred_col] = pred.max(axis=1)
    else:
        frame[pred_col] = pred

    chunks = _chunks(len(frame), mcfg.baseline.chunks)
    profiles, sorted_values = profile_features(frame, features)
    pred_profile = numeric_profile(frame[pred_col])
    profiles_with_pred = {**profiles, pred_col: pred_profile}
    sorted_values[pred_col] = sorted_sample(frame[pred_col].to_numpy(dtype=float))
    for name, prof in profiles.items():
        if prof.get("note"):
            notes.append(f"{name}: {prof['note']}.")

    has_target = mcfg.target in frame.columns and frame[mcfg.target].notna().any()
    target_profile = None
    perf = None
    calib = None
    if has_target:
        labelled = frame[mcfg.target].notna().to_numpy()
        y = frame.loc[labelled, mcfg.target].to_numpy()
        p_lab = pred[labelled]
        if task == "regression":
            target_profile = numeric_profile(frame[mcfg.target])
        else:
            target_profile = categorical_profile(frame[mcfg.target].astype("Int64").astype(str))
        perf = bootstrap_performance(task, y, p_lab, mcfg.decision_threshold, rng)
        if task == "binary_classification":
            calib = calibration(y.astype(int), np.asarray(p_lab, dtype=float))
    else:
        notes.append(f"No target column {mcfg.target!r} in the reference: performance, calibration, label "
                     f"distribution and outcome rates were skipped; add the target to the reference to get them.")

    cols = [*features.numeric, *features.categorical]
    imp = None
    if loaded is not None:
        try:
            series, method = importance(loaded, frame, list(loaded.features) or cols,
                                        frame[mcfg.target] if has_target else None, rng)
            imp = {"method": method, "values": {k: float(v) for k, v in series.items()}}
        except Exception as exc:  # importance is informative; a failure must not lose the baseline
            notes.append(f"Feature importance could not be computed ({type(exc).__name__}: {exc}).")
    else:
        notes.append("No model file for this version: feature importance skipped.")

    behaviour = _behaviour(frame, mcfg, has_target)
    chunk_rows = _chunk_figures(frame, chunks, features, profiles_with_pred, sorted_values, pred_col, task, mcfg,
                                has_target, notes)
    ops, ops_chunks = _operational(project, mcfg, version, con, notes)
    chunk_df = pd.DataFrame(chunk_rows + ops_chunks,
                            columns=["chunk", "rows", "family", "metric", "subject", "value", "scales"])
    bands = {}
    for (family, metric, subject), g in chunk_df.groupby(["family", "metric", "subject"], sort=True):
        b = fit_band(g["value"], g["rows"], bool(g["scales"].iloc[0]))
        if b is not None:
            bands[f"{family}/{metric}/{subject}"] = b.to_dict()

    sample_cols = [c for c in [mcfg.timestamp, *cols, mcfg.target, pred_col, *(mcfg.segments or ()),
                               *[c for c in frame.columns if c.startswith("__proba_")]]
                   if c in frame.columns]
    sample_cols = list(dict.fromkeys(sample_cols))
    take = np.sort(rng.choice(len(frame), size=min(SAMPLE_ROWS, len(frame)), replace=False))
    sample = frame.iloc[take][sample_cols].reset_index(drop=True)

    # The domain classifier's null band depends on the reference sample only: fitted once here,
    # reused by every window's data-drift check (its own seed, so it does not move other figures).
    from .drift import NULL_ROWS, domain_null

    try:
        multivariate = {"domain_classifier": domain_null(sample, features, rows=NULL_ROWS,
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
        "reference": {"path": str(ref.source.path), "rows": int(len(frame)), "fingerprint": ref.fingerprint,
                      "labelled_rows": int(ref.labelled_rows)},
        "model_file": {"path": str(loaded.path), "sha256": loaded.sha256} if loaded else None,
        "features": {"numeric": list(features.numeric), "categorical": list(features.categorical)},
        "prediction_column": pred_col, "target": mcfg.target, "decision_threshold": mcfg.decision_threshold,
        "chunks": {"n": len(chunks), "rows": int(np.median([len(c) for c in chunks])), "by": (
            f"time order of {mcfg.timestamp!r}" if mcfg.timestamp in frame.columns else "row order")},
        "profiles": profiles, "prediction": pred_profile, "target_profile": target_profile,
        "performance": perf, "calibration": calib, "importance": imp, "behaviour": behaviour,
        "operational": ops, "bands": bands, "band_rule": (
            f"mean ± {BAND_SIGMAS:g} sd of the chunk values; for size-dependent figures the sd is scaled "
            f"to the compared window by sqrt(chunk rows / window rows)"),
        "sorted_cap": SORTED_CAP, "sample_rows": int(len(sample)), "multivariate": multivariate, "notes": notes,
    }
    return Baseline(manifest=manifest, sorted_values=sorted_values, sample=sample, chunks=chunk_df)


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


def _chunk_figures(frame, chunks, features, profiles, sorted_values, pred_col, task, mcfg, has_target, notes):
    rows: list[tuple] = []
    n = len(frame)
    small_perf = 0
    num_stats = [name for (name, kind) in stats.BASELINE_FUNCS if kind == "numeric"]
    cat_stats = [name for (name, kind) in stats.BASELINE_FUNCS if kind == "categorical"]
    pooled = {name: _pool_rare_levels(frame[name], profiles[name]) for name in features.categorical}
    # Chunks are compared with the reference's quantile function at CHUNK_REF_POINTS steps: its
    # ECDF is within 1/CHUNK_REF_POINTS of the full one, far below a chunk's own sampling noise
    # (about 1/sqrt(chunk rows)), and each comparison costs a fraction of the full search.
    ref_points = {name: even_subsample(values, CHUNK_REF_POINTS) for name, values in sorted_values.items()}
    # All statistics of a feature come from one call per chunk (levels counted, values sorted once).
    num_refs = {name: stats.NumericReference.from_profile(ref_points[name], profiles[name], n)
                for name in [*features.numeric, pred_col]}
    cat_refs = {name: stats.CategoricalReference.from_profile(profiles[name], n) for name in features.categorical}
    for i, ix in enumerate(chunks):
        part = frame.iloc[ix]
        m = len(part)
        # A chunk is part of the reference it is compared with; for distances that are linear in
        # the share difference (KS, TVD) D(chunk, rest) = D(chunk, all) * n / (n - m), and the
        # same factor is applied to the others as a close approximation.
        own = n / (n - m) if n > m else 1.0
        for name in list(features.numeric) + [pred_col]:
            prof = profiles[name] if name in profiles else None
            # Sorted once here: every statistic below sorts its input, and sorting sorted data is cheap.
            cur = np.sort(part[name].to_numpy(dtype=float))
            family = "prediction_drift" if name == pred_col else "drift"
            for sname, st in stats.numeric_against(num_refs[name], cur, num_stats).items():
                rows.append((i, m, family, sname, name, st.value * own, True))
            rows.append((i, m, "quality", "missing_rate", name, float(np.mean(~np.isfinite(cur))), True))
        for name in features.categorical:
            for sname, st in stats.categorical_against(cat_refs[name], pooled[name].iloc[ix], cat_stats).items():
                rows.append((i, m, "drift", sname, name, st.value * (own if sname != "unseen" else 1.0), True))
            rows.append((i, m, "quality", "missing_rate", name, float(part[name].isna().mean()), True))
        if has_target:
            lab = part[mcfg.target].notna().to_numpy()
            y = part.loc[lab, mcfg.target].to_numpy()
            p = part.loc[lab, pred_col].to_numpy(dtype=float) if task != "multiclass_classification" else \
                part.loc[lab, [c for c in part.columns if c.startswith("__proba_")]].to_numpy()
            if task == "binary_classification" and min(int(y.sum()), int(len(y) - y.sum())) < MIN_POSITIVES_PER_CHUNK:
                small_perf += 1
                continue
            if len(y) >= 2:
                for k, v in performance(task, y, p, mcfg.decision_threshold).items():
                    rows.append((i, int(len(y)), "performance", k, "all", v, True))
    if small_perf:
        notes.append(f"{small_perf} of {len(chunks)} reference chunks have fewer than {MIN_POSITIVES_PER_CHUNK} "
                     f"positives or negatives: performance bands come from the others only"
                     + (" and are missing" if small_perf > len(chunks) - 3 else "") + ".")
    return rows


def _pool_rare_levels(s: pd.Series, profile: Mapping[str, Any]) -> pd.Series:
    """The column with every level the profile pooled into 'other' replaced by one level.

    Statistics against a profile only see its kept levels and 'other', so the chunk figures are
    unchanged; a categorical with 100k levels is then counted over 51 levels, not 100k, per chunk.
    """
    if not profile.get("other_share"):
        return s
    kept = list(profile["frequencies"])
    other = "(other)"
    while other in kept:
        other = f"({other})"
    values = s.astype(object)
    keep = values.isna() | values.astype(str).isin(kept)
    return pd.Series(pd.Categorical(values.where(keep, other), categories=[*kept, other]), index=s.index)


def _operational(project: Project, mcfg: ModelConfig, version: str, con, notes: list[str]):
    """Operational figures and their per-day chunks from the baseline window of the logs."""
    window = mcfg.baseline.window
    if window is None:
        notes.append("No 'baseline.window' of production logs configured: latency, traffic, error-rate "
                     "and per-version baselines were skipped; the operations notebook compares against "
                     "fixed defaults until one is configured.")
        return None, []
    source = resolve_source(mcfg.logs, f"models.{mcfg.name}.logs")
    types = describe(source, con)
    ts = mcfg.timestamp
    where = _time_filter(ts, types[ts], *window)
    op = mcfg.operational
    lat = op.latency_ms if op and op.latency_ms in types else None
    err = op.error if op and op.error in types else None
    rel = f"(SELECT * FROM {source.relation} WHERE {where})"
    q = _quote
    ts_utc = f"CAST({q(ts)} AS TIMESTAMPTZ)"
    total = con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0]
    if total == 0:
        notes.append(f"The baseline window {window[0].isoformat()}/{window[1].isoformat()} holds no rows "
                     f"of the logs: operational baselines skipped.")
        return None, []
    weeks = (window[1] - window[0]).total_seconds() / (7 * 86400)
    how = con.execute(
        f"SELECT (isodow({ts_utc}) - 1) * 24 + hour({ts_utc}) AS how, count(*) FROM {rel} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    per_how = np.zeros(168)
    for h, c in how:
        per_how[int(h)] = c / weeks
    day_sql = (f"SELECT date_trunc('day', {ts_utc}) AS day, count(*) AS rows"
               + (f", quantile_cont({q(lat)}, 0.5) AS p50, quantile_cont({q(lat)}, 0.95) AS p95, "
                  f"quantile_cont({q(lat)}, 0.99) AS p99" if lat else "")
               + (f", avg(CASE WHEN {q(err)} IS NOT NULL AND CAST({q(err)} AS VARCHAR) NOT IN ('', '0') "
                  f"THEN 1.0 ELSE 0.0 END) AS error_rate" if err else "")
               + f" FROM {rel} GROUP BY 1 ORDER BY 1")
    days = con.execute(day_sql).df()
    ops: dict[str, Any] = {"window": [window[0].isoformat(), window[1].isoformat()], "rows": int(total),
                           "rows_per_hour_of_week": per_how.tolist(),
                           "rows_per_day": {str(pd.Timestamp(d).date()): int(r) for d, r in zip(days["day"], days["rows"])}}
    if lat:
        p = con.execute(f"SELECT quantile_cont({q(lat)}, [0.5, 0.95, 0.99]), min({q(lat)}), max({q(lat)}) "
                        f"FROM {rel}").fetchall()[0]
        ops["latency_ms"] = {"p50": p[0][0], "p95": p[0][1], "p99": p[0][2], "min": p[1], "max": p[2]}
        hist = con.execute(f"SELECT histogram({q(lat)}, [{', '.join(str(x) for x in _latency_edges(p[0][2]))}]) FROM {rel}").fetchall()[0][0]
        ops["latency_histogram"] = {str(k): int(v) for k, v in hist.items()} if hist else {}
    else:
        notes.append("No latency column configured or present: latency baseline skipped.")
    if err:
        ops["error_rate"] = float(days["error_rate"].mul(days["rows"]).sum() / days["rows"].sum())
    else:
        notes.append("No error column configured or present: error-rate baseline skipped.")
    if mcfg.version_column and mcfg.version_column in types:
        vers = con.execute(f"SELECT CAST({q(mcfg.version_column)} AS VARCHAR), count(*) FROM {rel} GROUP BY 1").fetchall()
        ops["rows_per_version"] = {str(k): int(v) for k, v in vers}
    chunk_rows = []
    full_days = days.iloc[1:-1] if len(days) > 2 else days  # partial first/last days would skew the band
    for i, row in enumerate(full_days.itertuples(index=False)):
        chunk_rows.append((i, int(row.rows), "operational", "rows_per_day", "all", float(row.rows), False))
        if lat:
            for k in ("p50", "p95", "p99"):
                chunk_rows.append((i, int(row.rows), "operational", f"latency_{k}", "all", float(getattr(row, k)), False))
        if err:
            chunk_rows.append((i, int(row.rows), "operational", "error_rate", "all", float(row.error_rate), True))
    if len(full_days) < MIN_CHUNKS:
        notes.append(f"The baseline window has {len(full_days)} full days; bands from fewer than {MIN_CHUNKS} "
                     f"days are rough: configure a longer 'baseline.window'.")
    return ops, chunk_rows


def _latency_edges(p99: float) -> list[float]:
    top = max(float(p99) * 3, 1.0)
    return [round(x, 3) for x in np.linspace(0, top, 41)[1:]]
