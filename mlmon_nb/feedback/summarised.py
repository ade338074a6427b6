"""Feedback loops of a window too large to hold: aggregate it with the engine, then analyse.

The same checks as the in-memory path (:func:`mlmon_nb.feedback.analyse_frames`), the window never
materialised (the reference period stays in memory, as the baseline bands need its rows):

* **exposures per (chunk, item)** from one aggregation pass (with the model-driven exposures and
  positive outcomes per cell): concentration, coverage, rich-get-richer, the whole periods'
  table and Lorenz curves, the favoured items' share. The in-memory path reduces its rows to the
  same counts and both draw each chunk's subsample from them with the same seeded function
  (:mod:`.periods`), so these figures, and the checks on them, are identical on both paths;
* **homogenisation** (which users saw which items) from a bounded, seeded sample of rows
  stratified by day (``scan.sample``, at most :data:`SAMPLE_ROWS` rows, drawn only when there is
  a user column), read in the canonical order of :func:`~.periods.rows_homogenisation`: when the
  sample holds the whole window the figure is the in-memory one; otherwise a uniform subsample
  of a chunk's sampled rows is a uniform subsample of the chunk, as long as the sample holds the
  chunk's subsample size (else it is measured on fewer exposures, and the result says so);
* **outcome rates** by exposure kind from one aggregation (exact);
* **prediction spread and extremity** per chunk (a model without items) from sums, exact up to
  floating-point summation.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..chunks import DEFAULT_CHUNK, parse_chunk
from ..sources import literal, quote
from ..summary.performance import finite_sql
from ..summary.sql import chunk_sql, number
from .chunking import chunk_keys, full_chunks
from .columns import Columns, resolve_columns
from .exposure import exposure_figures, item_codes, no_reference_items
from .homogenisation import JACCARD_PAIRS
from .outcomes import analyse_outcomes
from .periods import Exposures, PeriodItems, rows_homogenisation
from .predictions import analyse_predictions
from .provenance import analyse_provenance
from .result import FeedbackResult

__all__ = ["SAMPLE_ROWS", "analyse_scan"]

SAMPLE_ROWS = 200_000
"""Most rows of the window's sample (homogenisation only)."""
DAY_STRATUM = "__day__"  # the engines' name of the UTC-day stratum of Scan.sample
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


def flag_sql(column: str, dtype: str, value: bool) -> str:
    """SQL: the exposure flag reads ``value`` (as :func:`~mlmon_nb.feedback.columns.as_bool` reads it)."""
    q, kind = quote(column), dtype.upper().split("(")[0]
    if kind == "BOOLEAN":
        return q if value else f"NOT {q}"
    if kind in ("VARCHAR", "STRING", "TEXT"):
        words = _TRUE if value else _FALSE
        return f"LOWER(TRIM({q})) IN ({', '.join(literal(w) for w in words)})"
    x = f"CAST({q} AS DOUBLE)"
    return f"{x} <> {number(0.0)}" if value else f"{x} = {number(0.0)}"


def analyse_scan(ctx, *, seed: int = 0, pairs: int | None = JACCARD_PAIRS,
                 other_versions: Mapping[str, Mapping[str, Any]] | None = None,
                 version_models: Mapping[str, Any] | None = None) -> FeedbackResult:
    """The analysis of :func:`mlmon_nb.feedback.analyse` from the window's engine scan (``ctx.scan``)."""
    scan, model, reference = ctx.scan, ctx.model, ctx.reference.frame
    t0 = time.perf_counter()
    types = dict(scan.columns)
    window = pd.DataFrame(columns=list(types))  # the window's columns, no rows
    configured = model.feedback is not None
    chunk_text = model.chunk or DEFAULT_CHUNK
    chunk = parse_chunk(chunk_text, f"models.{model.name}.chunk")
    columns = resolve_columns(model, window, reference)
    rng_chunks, rng_whole = np.random.default_rng(seed).spawn(2)
    chunk_expr = chunk_sql(model.timestamp, _EPOCH, chunk.total_seconds())
    exposure = outcomes = predictions = provenance = None
    passes, summary_rows, sampled = 0, 0, None
    items = 0
    if columns.item is not None:
        items = int(scan.aggregate(f"SELECT count({quote(columns.item)}) AS n FROM window_rows").column("n")[0].as_py())
    if items:
        exposure, summary_rows, sampled = _exposure(scan, types, reference, columns, model.timestamp, chunk,
                                                    chunk_expr, model.thresholds, seed, rng_chunks, rng_whole, pairs)
        groups = _outcome_groups(scan, types, columns)
        outcomes = analyse_outcomes(window, reference, columns, *groups) if groups else \
            analyse_outcomes(window, reference, columns)
        passes = 2
    else:
        def window_chunks(low: float, high: float) -> pd.DataFrame:
            nonlocal summary_rows
            df = _prediction_chunks(scan, model.prediction, chunk_expr, chunk, low, high)
            summary_rows = len(df)
            return df

        predictions = analyse_predictions(window, model, ctx.baseline, chunk, model.thresholds, version_models or {},
                                          recorded=configured, window_chunks=window_chunks)
        passes = 1
    if configured:
        provenance = analyse_provenance(reference, columns.training_provenance, ctx.version.name,
                                        other_versions or {}, model.thresholds)
    engine = getattr(scan, "engine", "") or "the"
    how = (f"Summary mode: the window's {ctx.rows:,} rows were aggregated by the {engine} engine in {passes} "
           f"pass(es) ({summary_rows:,} summary rows, {time.perf_counter() - t0:.1f} s), not read into memory; "
           + ("exposure counts per item and chunk give every concentration figure, each chunk subsampled to the "
              "baseline's exposure count by a draw from its counts" if items else
              "prediction spread and extremity come from per-chunk sums, exact")
           + (f"; homogenisation uses a sample of {sampled:,} rows stratified by day." if sampled is not None
              else "."))
    return FeedbackResult(model=model.name, version=ctx.version.name, chunk=chunk_text, configured=configured,
                          columns=columns, exposure=exposure, outcomes=outcomes, provenance=provenance,
                          predictions=predictions, how=how)


def _exposure(scan, types, reference, columns: Columns, timestamp, chunk, chunk_expr, thresholds, seed, rng_chunks,
              rng_whole, pairs):
    """(Exposure or None, summary rows, sampled rows or None) of the window's cells."""
    item, user, exposed, outcome = columns.item, columns.user, columns.exposed, columns.outcome
    if item not in reference.columns:
        return None, 0, None
    ref = reference[reference[item].notna()]
    if ref.empty:
        return no_reference_items(item), 0, None
    driven = (f"CASE WHEN {flag_sql(exposed, types[exposed], True)} THEN 1 ELSE 0 END"
              if exposed and exposed in ref.columns and exposed in types else "0")
    y = f"TRY_CAST({quote(outcome)} AS DOUBLE)" if outcome and outcome in types else "CAST(NULL AS DOUBLE)"
    pos = f"{finite_sql('y')} AND y > {number(0.0)}"
    cells = scan.aggregate(
        f"SELECT chunk, item, count(*) AS n, sum(driven) AS driven, sum(CASE WHEN {pos} THEN 1 ELSE 0 END) AS pos_n, "
        f"sum(CASE WHEN {pos} THEN y ELSE {number(0.0)} END) AS pos_w FROM (SELECT {chunk_expr} AS chunk, "
        f"{quote(item)} AS item, {driven} AS driven, {y} AS y FROM window_rows WHERE {quote(item)} IS NOT NULL) AS t "
        f"GROUP BY chunk, item", pass_name="exposures per item and chunk of the window").to_pandas()
    ref_codes, codes, n_codes = item_codes(ref[item], cells["item"])
    keys = cells["chunk"].to_numpy(dtype=np.int64)
    weights = {c: cells[c].fillna(0).to_numpy(dtype=float) for c in ("n", "driven", "pos_n", "pos_w")}
    homogenisation = None
    sampled = None
    if user:
        sample = scan.sample(SAMPLE_ROWS, strata=[DAY_STRATUM], seed=seed)
        sampled = len(sample)
        sample = sample[sample[item].notna()]
        homogenisation = rows_homogenisation(chunk_keys(sample[timestamp], chunk), sample[user], sample[item], pairs)

    use_driven = driven != "0"
    use_outcome = outcome and outcome in types
    window = PeriodItems(keys=keys, exposures=Exposures(codes, weights["n"]),
                         driven=Exposures(codes, weights["driven"]) if use_driven else None,
                         positives=Exposures(codes, weights["pos_n"]) if use_outcome else None,
                         positive_weight=Exposures(codes, weights["pos_w"]) if use_outcome else None,
                         homogenisation=homogenisation)
    result = exposure_figures(ref, ref_codes, n_codes, window, columns, timestamp, chunk, thresholds,
                              rng_chunks=rng_chunks, rng_whole=rng_whole, pairs=pairs)
    return result, len(cells), sampled


def _outcome_groups(scan, types, columns: Columns):
    """(``{group: (rows, labelled, sum, sum of squares)}``, binary) of the window, None without both columns."""
    exposed, outcome = columns.exposed, columns.outcome
    if not exposed or not outcome or exposed not in types or outcome not in types:
        return None
    group = (f"CASE WHEN {flag_sql(exposed, types[exposed], True)} THEN 'model-driven' "
             f"WHEN {flag_sql(exposed, types[exposed], False)} THEN 'organic' END")
    x = f"TRY_CAST({quote(outcome)} AS DOUBLE)"
    df = scan.aggregate(
        f"SELECT g, count(*) AS rows, count(y) AS n, sum(y) AS s, sum(y * y) AS s2, "
        f"sum(CASE WHEN y IS NOT NULL AND y <> {number(0.0)} AND y <> {number(1.0)} THEN 1 ELSE 0 END) AS other "
        f"FROM (SELECT {group} AS g, CASE WHEN {finite_sql(x)} THEN {x} END AS y FROM window_rows) AS t "
        f"GROUP BY g").to_pandas()
    groups = {str(r.g): (int(r.rows), int(r.n), float(r.s or 0.0), float(r.s2 or 0.0))
              for r in df.itertuples() if r.g is not None and not pd.isna(r.g)}
    return groups, int(df["other"].fillna(0).sum()) == 0


def _prediction_chunks(scan, prediction: str, chunk_expr: str, chunk: pd.Timedelta, low: float,
                       high: float) -> pd.DataFrame:
    """The window's full chunks' prediction spread (sd) and extremity, from per-chunk sums."""
    x = f"TRY_CAST({quote(prediction)} AS DOUBLE)"
    centre = (low + high) / 2  # sums around the centre keep the variance's cancellation small
    df = scan.aggregate(
        f"SELECT chunk, count(*) AS rows, count(v) AS n, sum(v - {number(centre)}) AS s, "
        f"sum((v - {number(centre)}) * (v - {number(centre)})) AS s2, "
        f"sum(CASE WHEN v < {number(low)} OR v > {number(high)} THEN 1 ELSE 0 END) AS tail "
        f"FROM (SELECT {chunk_expr} AS chunk, CASE WHEN {finite_sql(x)} THEN {x} END AS v FROM window_rows) AS t "
        f"GROUP BY chunk", pass_name="prediction sums per chunk of the window").to_pandas().sort_values("chunk")
    keys = df["chunk"].to_numpy(dtype=np.int64)
    _, counts, full = full_chunks(keys, df["rows"].to_numpy(dtype=float))
    rows = []
    for j, r in enumerate(df.itertuples()):
        if not full[j]:
            continue
        n = int(r.n)
        if n < 2:
            sd = tail = float("nan")
        else:
            s, s2 = float(r.s), float(r.s2)
            sd = float(np.sqrt(max(s2 - s * s / n, 0.0) / (n - 1)))
            tail = float(r.tail) / n
        rows.append({"period": "window", "chunk": int(r.chunk), "start": pd.Timestamp(int(r.chunk) * chunk.value,
                                                                                     tz="UTC"),
                     "exposures": int(r.rows), "prediction_spread": sd, "prediction_extremity": tail})
    return pd.DataFrame(rows)
