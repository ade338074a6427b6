"""``analyse(ctx)``: every operational and data-quality figure of a window, judged and gathered in one result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import duckdb
import numpy as np
import pandas as pd

from ..baseline import Baseline
from ..config import ModelConfig, Thresholds
from ..summary.quantiles import RELATIVE
from .aggregate import LogsWindow, finite_float
from .error_rate import error_rate
from .latency import latency, non_finite_decision
from .policy import PERCENTILES
from .quality import quality
from .scanned import ScanLogs
from .result import ErrorResult, LatencyResult, OperationsResult, QualityResult, TrafficResult
from .traffic import profile_rates, traffic
from .versions import serving_versions


def analyse(ctx, con: duckdb.DuckDBPyConnection | None = None) -> OperationsResult:
    """Compute and judge every operational and data-quality figure of a window.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    con : DuckDBPyConnection, optional
        Connection to run the aggregates on (a new one when omitted).

    Returns
    -------
    OperationsResult
        Call ``record(ctx.recorder)`` to record its checks, notes, findings and verdict.
    """
    model, base = ctx.model, ctx.baseline
    ops = base.manifest.get("operational") or {}
    # Summary mode: the same aggregates run by the context's engine (DuckDB or Spark), rows never read.
    logs = ScanLogs.open(ctx, ops) if getattr(ctx, "scan", None) is not None else \
        LogsWindow.open(model, ctx.start, ctx.end, con)
    where = f"models.{model.name}"
    window, daily, per_version = logs.figures()
    rows = int(window["rows"])
    notes: list[str] = []

    traffic_res, more = _traffic(logs, ops, ctx.start, ctx.end, where)
    notes += more
    latency_res, more = _latency(logs, model, ops, base, ctx.thresholds, window, daily, where)
    notes += more
    # Latencies logged as inf, -inf or NaN: left out of the percentiles, a data-quality check of their own.
    bad = int(window["latency_non_finite"])
    non_finite = (non_finite_decision(logs.latency, bad, bad + int(window["latency_rows"]),
                                      (ops.get("latency_ms") or {}).get("non_finite")),) if bad else ()
    errors_res, more = _errors(logs, model, ops, base, ctx.thresholds, window, daily, where)
    notes += more
    versions_res = None
    if logs.version is None:
        notes.append(_missing_column("Serving versions", model.version_column, f"{where}.version_column"))
    else:
        versions_res = serving_versions(per_version, ctx.version.name, ops.get("rows_per_version"))
    version_rows, quality_res, more = _quality(logs, model, base, ctx.version.name, ctx.start, ctx.end, where)
    notes += more
    if non_finite:
        quality_res = replace(quality_res, decisions=(*quality_res.decisions, *non_finite))
    how = _how(logs, rows) if isinstance(logs, ScanLogs) else ""
    return OperationsResult(traffic=traffic_res, latency=latency_res, errors=errors_res, versions=versions_res,
                            quality=quality_res, notes=tuple(notes), rows=rows, version_rows=version_rows, how=how)


def _how(logs: ScanLogs, rows: int) -> str:
    """How a summarised window's figures were computed (said beside the verdict)."""
    lat = ""
    if logs.latency:
        lat = (f" Latency percentiles come from counts on a log-spaced grid of {RELATIVE:.1%} cells anchored at the "
               f"baseline's median latency: each within {RELATIVE:.1%} of the exact value (here within "
               f"{logs.largest_bound:.3g} ms); every other figure is exact.")
    return (f"Summary mode: the window's {rows:,} requests were aggregated by the {logs.scan.engine or 'engine'} "
            f"engine in {logs.passes} passes ({logs.summary_rows:,} summary rows, {logs.seconds:.1f} s), not read "
            f"into memory.{lat}")


def _traffic(logs: LogsWindow | ScanLogs, ops: Mapping[str, Any], start, end, where: str) -> tuple[TrafficResult | None, list[str]]:
    if not ops.get("rows_per_hour_of_week"):
        return None, [f"Traffic: the baseline has no hour-of-week profile; set {where}.baseline.window to a "
                      f"healthy period of the logs and recompute the baseline."]
    if np.isnan(profile_rates(ops)[0]).any():
        return None, [f"Traffic: the baseline window {ops['window'][0]} → {ops['window'][1]} is shorter than a "
                      f"week, so some hours of the week have no expectation; set {where}.baseline.window to at "
                      f"least one week (better two or more) and recompute the baseline."]
    return traffic(logs.hourly_counts(), ops, start, end), []


def _latency(logs: LogsWindow | ScanLogs, model: ModelConfig, ops: Mapping[str, Any], base: Baseline, thresholds: Thresholds,
             window: pd.Series, daily: pd.DataFrame, where: str) -> tuple[LatencyResult | None, list[str]]:
    if logs.latency is None:
        op = model.operational
        return None, [_missing_column("Latency", op.latency_ms if op else None, f"{where}.operational.latency_ms")]
    notes = []
    bands = {p: base.band("operational", f"latency_{p}", "all") for p in PERCENTILES}
    has_slo = any(thresholds.metric(f"latency_{p}") is not None for p in PERCENTILES)
    if not any(bands.values()) and not has_slo:
        notes.append(f"Latency: no baseline band and no fixed limit; set {where}.baseline.window (or "
                     f"{where}.thresholds.metrics.latency_p95) to judge it.")
    base_lat = ops.get("latency_ms") or {}
    day_band = next((b for b in bands.values() if b is not None), None)
    baseline_hist = ops.get("latency_histogram") or None
    hist = logs.latency_histogram([float(k) for k in baseline_hist if k != "inf"]) if baseline_hist else None
    res = latency({p: finite_float(window[p]) for p in PERCENTILES}, daily, bands, thresholds,
                  {p: base_lat.get(p) for p in PERCENTILES},
                  min_day_rows=0.5 * day_band.chunk_rows if day_band else 0.0,
                  histogram=hist, baseline_histogram=baseline_hist)
    return res, notes


def _errors(logs: LogsWindow | ScanLogs, model: ModelConfig, ops: Mapping[str, Any], base: Baseline, thresholds: Thresholds,
            window: pd.Series, daily: pd.DataFrame, where: str) -> tuple[ErrorResult | None, list[str]]:
    if logs.error is None:
        op = model.operational
        return None, [_missing_column("Error rate", op.error if op else None, f"{where}.operational.error")]
    p0 = ops.get("error_rate")
    slo = thresholds.metric("error_rate")
    notes = []
    if p0 is None and slo is None:
        notes.append(f"Error rate: no baseline rate and no fixed limit; set {where}.baseline.window (or "
                     f"{where}.thresholds.metrics.error_rate) to judge it.")
    res = error_rate(int(window["errors"]), int(window["rows"]), daily, p0,
                     base.band("operational", "error_rate", "all"), slo, int(ops.get("rows", 0)))
    return res, notes


def _quality(logs: LogsWindow | ScanLogs, model: ModelConfig, base: Baseline, version: str, start, end,
             where: str) -> tuple[int, QualityResult, list[str]]:
    """Data quality of the analysed version's rows: (rows judged, result, notes)."""
    features = base.features
    profiles = base.manifest["profiles"]
    pred = model.prediction if model.prediction in logs.types else None
    n_rows, counts = logs.quality_counts(features.numeric, features.categorical, profiles,
                                         logs.version_filter(version), extra=[pred] if pred else [])
    all_profiles = dict(profiles)
    bands = {c: base.band("quality", "missing_rate", c) for c in [*features.numeric, *features.categorical]}
    if pred:
        all_profiles[pred] = {**base.manifest["prediction"], "kind": "prediction"}
        bands[pred] = base.band("quality", "missing_rate", base.prediction_column)
    ref_types = logs.reference_types(model)
    wtypes = logs.window_types(model, start, end)
    res, notes = quality(counts, n_rows, all_profiles, bands, ref_types, wtypes)
    return n_rows, res, notes


def _missing_column(what: str, column: str | None, key: str) -> str:
    if column is None:
        return f"{what}: not checked, no column configured; set {key} in mlmon.yaml."
    return f"{what}: not checked, column {column!r} ({key}) is not in the logs."
