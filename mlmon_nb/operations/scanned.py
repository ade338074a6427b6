"""The operational aggregates of a window from an engine's scan: the same figures as
:class:`~mlmon_nb.operations.aggregate.LogsWindow`, in portable SQL that DuckDB runs as written and
Spark transpiled (:mod:`mlmon_nb.engines`), never the window's rows.

Three passes over every serving version's rows of the window (late labels are not joined: a
request is a row of the logs):

* requests per clock hour (traffic);
* per UTC day, serving version, latency cell and latency-histogram bin: requests, finite and
  non-finite latencies, the cell's smallest and largest latency, errors (latency percentiles,
  error rates, version shares, the histogram);
* per column of the analysed version's rows: missing, out-of-range and unseen-level counts.

Counts, error rates, version shares, the histogram and every data-quality count are exact.
Latency percentiles come from counts on the log-spaced grid of
:mod:`mlmon_nb.summary.quantiles` anchored at the baseline window's median: each is within
0.1 % of the exact ``quantile_cont`` (exact where a cell holds one distinct value, e.g. latencies
logged to 0.1 ms below 100 ms); :attr:`ScanLogs.largest_bound` is the largest distance this window
allows. Column types are read from the files' metadata (DuckDB), or from Spark's schema for a
catalog table or a URI.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import ModelConfig
from ..data import window_types as file_window_types
from ..sources import connect, describe, literal, quote, resolve_source
from ..sparkenv import duckdb_type
from ..summary.performance import finite_sql
from ..summary.quantiles import LogGrid, merge_cells, quantiles_from_cells
from ..summary.sql import number
from .aggregate import error_sql
from .policy import PERCENTILES

logger = logging.getLogger(__name__)

_Q = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_COLUMNS = ["rows", "latency_rows", *PERCENTILES, "latency_non_finite", "errors", "error_rate"]


def epoch_index(ts: str, dtype: str, seconds: int) -> str:
    """SQL: whole ``seconds`` since the Unix epoch of a timestamp column (text timestamps parsed)."""
    q = quote(ts)
    if dtype.upper().startswith("VARCHAR"):
        q = f"CAST({q} AS TIMESTAMPTZ)"
    return f"CAST(FLOOR(EPOCH({q}) / {number(float(seconds))}) AS BIGINT)"


def _steps(v: str, edges: Sequence[float]) -> str:
    """SQL: how many of the increasing ``edges`` are below ``v`` (bins closed on the right)."""
    if not edges:
        return "0"
    return "CASE " + " ".join(f"WHEN {v} <= {number(e)} THEN {i}" for i, e in enumerate(edges)) + \
        f" ELSE {len(edges)} END"


class ScanLogs:
    """A window's logs (every serving version) as an engine scan: :class:`LogsWindow`'s interface.

    Parameters
    ----------
    scan : Scan
        The engine's scan of ``[start, end)``, every version, labels not joined.
    model : ModelConfig
    engine : Engine
        The scan's engine (column types of a catalog table or a URI).
    grid : LogGrid
        Cells of the latency percentiles.
    histogram_edges : sequence of float
        Upper edges of the baseline's latency histogram (empty: none).
    """

    def __init__(self, scan, model: ModelConfig, engine, grid: LogGrid, histogram_edges: Sequence[float] = ()):
        self.scan = scan
        self.model = model
        self.engine = engine
        self.grid = grid
        self.histogram_edges = [float(e) for e in histogram_edges]
        self.types: Mapping[str, str] = dict(scan.columns)
        op = model.operational
        self.latency = op.latency_ms if op and op.latency_ms in self.types else None
        self.error = op.error if op and op.error in self.types else None
        self.version = model.version_column if model.version_column in self.types else None
        self.seconds = 0.0
        self.summary_rows = 0
        self.passes = 0
        #: The largest distance (ms) of a latency percentile of :meth:`figures` from its exact value.
        self.largest_bound = 0.0
        self._figures: tuple | None = None

    @classmethod
    def open(cls, ctx, operational: Mapping[str, Any]) -> "ScanLogs":
        """The logs of a context opened in summary mode (its engine), every serving version."""
        scan = ctx.engine.window(ctx.model, ctx.start, ctx.end, version=None, labels=False)
        scan.progress = getattr(ctx.scan, "progress", None)
        lat = operational.get("latency_ms") or {}
        edges = [float(k) for k in (operational.get("latency_histogram") or {}) if k != "inf"]
        return cls(scan, ctx.model, ctx.engine, LogGrid.anchored(lat.get("p50")), edges)

    def _aggregate(self, sql: str, pass_name: str | None = None) -> pd.DataFrame:
        t0 = time.perf_counter()
        table = self.scan.aggregate(sql, pass_name=pass_name)
        self.seconds += time.perf_counter() - t0
        self.summary_rows += table.num_rows
        self.passes += 1
        return table.to_pandas()

    # ------------------------------------------------------------------ traffic
    def hourly_counts(self) -> pd.Series:
        """Requests per clock hour (all serving versions)."""
        ts = self.model.timestamp
        df = self._aggregate(f"SELECT {epoch_index(ts, self.types[ts], 3600)} AS hour, count(*) AS n "
                             f"FROM window_rows GROUP BY 1")
        df = df.sort_values("hour")
        idx = pd.to_datetime(df["hour"].to_numpy(dtype=np.int64) * 3600, unit="s", utc=True)
        return pd.Series(df["n"].to_numpy(dtype=float), index=pd.DatetimeIndex(idx))

    # ------------------------------------------------------------------ per day, version, latency cell
    @cached_property
    def _cells(self) -> pd.DataFrame:
        """The pass: one row per (day, version, latency cell, histogram bin)."""
        ts = self.model.timestamp
        ver = f"CAST({quote(self.version)} AS VARCHAR)" if self.version else "CAST(NULL AS VARCHAR)"
        err = error_sql(self.error) if self.error else "0"
        x = f"TRY_CAST({quote(self.latency)} AS DOUBLE)" if self.latency else "CAST(NULL AS DOUBLE)"
        lat = quote("lat")
        inner = (f"SELECT {epoch_index(ts, self.types[ts], 86400)} AS day, {ver} AS version, "
                 f"CASE WHEN {finite_sql('x')} THEN x END AS lat, "
                 f"CASE WHEN x IS NOT NULL AND NOT {finite_sql('x')} THEN 1 ELSE 0 END AS bad, {err} AS err "
                 f"FROM (SELECT *, {x} AS x FROM window_rows) AS r")
        keyed = (f"SELECT day, version, lat, bad, err, "
                 f"CASE WHEN {lat} IS NULL THEN NULL ELSE {self.grid.cell_sql(lat)} END AS cell, "
                 f"CASE WHEN {lat} IS NULL THEN NULL ELSE {_steps(lat, self.histogram_edges)} END AS hbin "
                 f"FROM ({inner}) AS s")
        return self._aggregate(
            f"SELECT day, version, cell, hbin, count(*) AS rows, count(lat) AS n, min(lat) AS lo, max(lat) AS hi, "
            f"sum(bad) AS bad, sum(err) AS errors FROM ({keyed}) AS t GROUP BY day, version, cell, hbin",
            pass_name="operational aggregates of the window")

    def _group(self, part: pd.DataFrame) -> dict[str, float]:
        rows = int(part["rows"].sum())
        errors = int(part["errors"].fillna(0).sum())
        cells = part.loc[part["n"] > 0, ["cell", "n", "lo", "hi"]]
        qs = quantiles_from_cells(merge_cells(cells), [_Q[p] for p in PERCENTILES])
        self.largest_bound = max([self.largest_bound, *(q.bound for q in qs if math.isfinite(q.bound))])
        out = {"rows": rows, "latency_rows": int(part["n"].sum())}
        out.update({p: (q.value if math.isfinite(q.value) else math.nan) for p, q in zip(PERCENTILES, qs)})
        out.update(latency_non_finite=int(part["bad"].fillna(0).sum()), errors=errors,
                   error_rate=errors / rows if rows else math.nan)
        return out

    def figures(self) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
        """(whole period, per day, per version), as :meth:`LogsWindow.figures` returns them."""
        if self._figures is not None:
            return self._figures
        df = self._cells
        whole = pd.Series(self._group(df))[_COLUMNS]
        days = [{"day": pd.Timestamp(int(d) * 86400, unit="s", tz="UTC"), **self._group(g)}
                for d, g in df.groupby("day", sort=True)]
        daily = pd.DataFrame(days, columns=["day", *_COLUMNS])
        daily["day"] = pd.DatetimeIndex(daily["day"]).tz_convert("UTC") if len(daily) else daily["day"]
        if self.version:
            key = df["version"].astype(object).where(df["version"].notna(), None)
            groups = [{"version": v, **self._group(df[key.eq(v) if v is not None else key.isna()])}
                      for v in pd.unique(key)]
            per_version = pd.DataFrame(groups, columns=["version", *_COLUMNS])
        else:
            per_version = pd.DataFrame(columns=["version", *_COLUMNS])
        per_version = per_version.sort_values("rows", ascending=False).reset_index(drop=True)
        for frame in (daily, per_version):
            for c in ("rows", "latency_rows", "latency_non_finite", "errors"):
                frame[c] = frame[c].astype(int)
        self._figures = (whole, daily, per_version)
        return self._figures

    def latency_histogram(self, edges: Sequence[float]) -> dict[str, int]:
        """Finite latency counts per bin (keys: upper edges as text, then 'inf'); the edges of the pass."""
        if [float(e) for e in edges] != self.histogram_edges:
            raise ValueError("ScanLogs.latency_histogram: the edges must be those the scan was opened with")
        keys = [str(e) for e in edges]
        out = {k: 0 for k in keys + ["inf"]}
        df = self._cells
        for b, n in df.loc[df["n"] > 0].groupby("hbin")["n"].sum().items():
            out[keys[int(b)] if int(b) < len(keys) else "inf"] += int(n)
        return out

    # ------------------------------------------------------------------ data quality
    def quality_counts(self, numeric: Sequence[str], categorical: Sequence[str], profiles: Mapping[str, Any],
                       version_filter: str | None, extra: Sequence[str] = ()) -> tuple[int, dict[str, dict[str, int]]]:
        """Rows and, per column, missing / out-of-range / unseen counts (:meth:`LogsWindow.quality_counts`)."""
        def count(cond: str) -> str:
            return f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END)"

        parts, keys = ["count(*) AS c0"], []
        for col in numeric:
            x = f"TRY_CAST({quote(col)} AS DOUBLE)"
            parts.append(count(f"NOT {finite_sql(x)}"))
            keys.append((col, "missing"))
            prof = profiles[col]
            if prof.get("min") is not None:
                parts.append(count(f"{finite_sql(x)} AND ({x} < {number(prof['min'])} OR {x} > {number(prof['max'])})"))
            else:
                parts.append("0")
            keys.append((col, "out_of_range"))
        for col in categorical:
            v = f"CAST({quote(col)} AS VARCHAR)"
            parts.append(count(f"{v} IS NULL"))
            keys.append((col, "missing"))
            levels = list(profiles[col].get("frequencies", {}))
            known = f" AND {v} NOT IN ({', '.join(literal(str(lv)) for lv in levels)})" if levels else ""
            parts.append(count(f"{v} IS NOT NULL{known}"))
            keys.append((col, "unseen"))
        for col in extra:
            parts.append(count(f"NOT {finite_sql(f'TRY_CAST({quote(col)} AS DOUBLE)')}"))
            keys.append((col, "missing"))
        named = [parts[0], *(f"{p} AS c{i + 1}" for i, p in enumerate(parts[1:]))]
        where = f" WHERE {version_filter}" if version_filter else ""
        row = self._aggregate(f"SELECT {', '.join(named)} FROM window_rows{where}").iloc[0]
        out: dict[str, dict[str, int]] = {}
        for i, (col, what) in enumerate(keys):
            v = row[f"c{i + 1}"]
            out.setdefault(col, {})[what] = 0 if pd.isna(v) else int(v)
        return int(row["c0"]), out

    def version_filter(self, version: str) -> str | None:
        """SQL keeping the rows served by ``version`` (None without a version column: every row)."""
        return f"CAST({quote(self.version)} AS VARCHAR) = {literal(version)}" if self.version else None

    # ------------------------------------------------------------------ column types
    def reference_types(self, model: ModelConfig) -> dict[str, str]:
        """Column types of the reference data (its files' metadata, or Spark's schema)."""
        return _types(self.engine, model.reference, f"models.{model.name}.reference")

    def window_types(self, model: ModelConfig, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
        """Column types of the log files holding rows of the window (Spark: the source's schema)."""
        return _types(self.engine, model.logs, f"models.{model.name}.logs", (model.timestamp, start, end))


def _types(engine, location, where: str, window: tuple | None = None) -> dict[str, str]:
    """Types of a source as DuckDB names them: from its files when they are local, else Spark's schema."""
    if isinstance(location, Path) or engine is None or not hasattr(engine, "read"):
        source = resolve_source(location, where)
        if window is None:
            return describe(source, connect())
        return file_window_types(source, *window, connect())
    frame = engine.read(location, where)
    return {f.name: duckdb_type(f.dataType.simpleString()) for f in frame.schema.fields}
