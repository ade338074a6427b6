"""The operational part of a baseline: figures of the baseline window of the logs and their per-day chunks.

Called by :func:`mlmon_nb.fit.fit`; the figures land in the baseline's
``operational`` block and the per-day values become the ``operational/...``
bands. The same aggregates (:class:`~mlmon_nb.operations.aggregate.LogsWindow`)
compute the figures of every window later compared with them.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ..config import MIN_BASELINE_CHUNKS, ModelConfig
from .aggregate import LogsWindow, finite_float
from .policy import PERCENTILES
from .traffic import hour_of_week

#: Bins of the baseline's latency histogram (from 0 to three times its p99).
HISTOGRAM_BINS = 40


def latency_edges(p99: float) -> list[float]:
    """Upper edges of the latency histogram's bins: :data:`HISTOGRAM_BINS` equal bins up to 3 × p99.

    Examples
    --------
    >>> edges = latency_edges(100.0)
    >>> len(edges), edges[0], edges[-1]
    (40, 7.5, 300.0)
    """
    top = float(p99) * 3 if p99 is not None and math.isfinite(float(p99)) else 1.0
    top = max(top, 1.0)  # no finite latency, or all of it below a third of a millisecond
    return [round(float(x), 3) for x in np.linspace(0, top, HISTOGRAM_BINS + 1)[1:]]


def fit_operational(mcfg: ModelConfig, con: duckdb.DuckDBPyConnection,
                    notes: list[str]) -> tuple[dict[str, Any] | None, list[tuple]]:
    """Operational figures of the baseline window and their per-day chunk values.

    Parameters
    ----------
    mcfg : ModelConfig
        The model (``baseline.window``, ``logs``, ``operational`` columns, ``version_column``).
    con : DuckDBPyConnection
        The fit's connection.
    notes : list of str
        What could not be fitted is appended here (the baseline's notes).

    Returns
    -------
    (dict or None, list of tuple)
        The baseline's ``operational`` block (None without a baseline window
        or rows in it) and chunk rows ``(chunk, rows, "operational", metric,
        "all", value, scales_with_size)``, one chunk per full day.
    """
    window = mcfg.baseline.window
    if window is None:
        notes.append("No 'baseline.window' of production logs configured: latency, traffic, error-rate "
                     "and per-version baselines were skipped; the operations notebook compares against "
                     "fixed defaults until one is configured.")
        return None, []
    logs = LogsWindow.open(mcfg, *window, con)
    whole, days, per_version = logs.figures()
    total = int(whole["rows"])
    if total == 0:
        notes.append(f"The baseline window {window[0].isoformat()}/{window[1].isoformat()} holds no rows "
                     f"of the logs: operational baselines skipped.")
        return None, []
    weeks = (window[1] - window[0]).total_seconds() / (7 * 86400)
    hourly = logs.hourly_counts()
    per_how = np.zeros(168)
    for h, c in hourly.groupby(hour_of_week(hourly.index)).sum().items():
        per_how[int(h)] = c / weeks
    ops: dict[str, Any] = {"window": [window[0].isoformat(), window[1].isoformat()], "rows": total,
                           "rows_per_hour_of_week": per_how.tolist(),
                           "rows_per_day": {str(d.date()): int(r) for d, r in zip(days["day"], days["rows"])}}
    if logs.latency:
        low, high = logs.latency_range()
        ops["latency_ms"] = {**{p: finite_float(whole[p]) for p in PERCENTILES}, "min": low, "max": high,
                             "non_finite": int(whole["latency_non_finite"])}
        hist = logs.latency_histogram(latency_edges(whole["p99"]))
        ops["latency_histogram"] = {k: v for k, v in hist.items() if k != "inf" or v}  # no empty overflow bin
    else:
        notes.append("No latency column configured or present: latency baseline skipped.")
    if logs.error:
        ops["error_rate"] = float(days["error_rate"].mul(days["rows"]).sum() / days["rows"].sum())
    else:
        notes.append("No error column configured or present: error-rate baseline skipped.")
    if logs.version:
        # Requests without a version count under 'None'.
        named = {str(None if pd.isna(v) else v): int(r) for v, r in zip(per_version["version"], per_version["rows"])}
        ops["rows_per_version"] = dict(sorted(named.items()))
    chunk_rows = []
    full_days = days.iloc[1:-1] if len(days) > 2 else days  # partial first/last days would skew the band
    for i, row in enumerate(full_days.itertuples(index=False)):
        chunk_rows.append((i, int(row.rows), "operational", "rows_per_day", "all", float(row.rows), False))
        if logs.latency:
            for p in PERCENTILES:
                chunk_rows.append((i, int(row.rows), "operational", f"latency_{p}", "all", float(getattr(row, p)), False))
        if logs.error:
            chunk_rows.append((i, int(row.rows), "operational", "error_rate", "all", float(row.error_rate), True))
    if len(full_days) < MIN_BASELINE_CHUNKS:
        notes.append(f"The baseline window has {len(full_days)} full days; bands from fewer than {MIN_BASELINE_CHUNKS} "
                     f"days are rough: configure a longer 'baseline.window'.")
    return ops, chunk_rows
