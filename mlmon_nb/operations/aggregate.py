"""DuckDB aggregates of the logs over ``[start, end)``: the one copy of the operational SQL.

Used for the window a notebook analyses and, by
:func:`~mlmon_nb.operations.fitting.fit_operational`, for the baseline window
of the logs. Only a few small tables ever reach pandas (counts per hour, per
day and per serving version, latency quantiles, error counts, per-column
quality counts), so a window of billions of rows costs a handful of column scans.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from ..config import ModelConfig
from ..data import time_filter, window_types
from ..sources import connect, describe, literal, quote, resolve_source
from .policy import PERCENTILES


def finite_float(v: Any) -> float | None:
    """``v`` as a float, None when it is missing, not a number or not finite."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def error_sql(col: str) -> str:
    """SQL: 1 for an error row (not null, not '' and not '0'), else 0; portable (the scan path uses it too)."""
    q = quote(col)
    return f"(CASE WHEN {q} IS NOT NULL AND CAST({q} AS VARCHAR) NOT IN ('', '0') THEN 1 ELSE 0 END)"


@dataclass(frozen=True)
class LogsWindow:
    """The rows of the logs in ``[start, end)`` as DuckDB SQL, and which operational columns exist."""

    con: duckdb.DuckDBPyConnection
    relation: str
    ts_utc: str
    types: Mapping[str, str]
    latency: str | None
    error: str | None
    version: str | None

    @classmethod
    def open(cls, model: ModelConfig, start: dt.datetime, end: dt.datetime,
             con: duckdb.DuckDBPyConnection | None = None) -> "LogsWindow":
        con = con or connect()
        source = resolve_source(model.logs, f"models.{model.name}.logs")
        types = describe(source, con)
        ts = model.timestamp
        where = time_filter(ts, types[ts], start, end)
        op = model.operational
        return cls(con=con, relation=f"(SELECT * FROM {source.relation} WHERE {where})",
                   ts_utc=f"CAST({quote(ts)} AS TIMESTAMPTZ)", types=types,
                   latency=op.latency_ms if op and op.latency_ms in types else None,
                   error=op.error if op and op.error in types else None,
                   version=model.version_column if model.version_column in types else None)

    def hourly_counts(self) -> pd.Series:
        """Requests per clock hour (all serving versions)."""
        df = self.con.execute(f"SELECT date_trunc('hour', {self.ts_utc}) AS hour, count(*) AS rows "
                              f"FROM {self.relation} GROUP BY 1 ORDER BY 1").df()
        return pd.Series(df["rows"].to_numpy(dtype=float), index=pd.DatetimeIndex(df["hour"]).tz_convert("UTC"))

    def _finite_latency(self) -> str:
        """The latency as DOUBLE, NULL where it is missing or not finite (inf, -inf, NaN)."""
        x = f"TRY_CAST({quote(self.latency)} AS DOUBLE)"
        return f"(CASE WHEN isfinite({x}) THEN {x} END)"

    def figures(self) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
        """(whole period, per day, per version): rows, latency rows and p50/p95/p99, non-finite
        latencies, errors and error rate — one scan.

        Percentiles and ``latency_rows`` count finite latencies only;
        ``latency_non_finite`` counts the logged ones that are not finite (inf,
        -inf, NaN). Days are UTC days in time order; versions have the most
        requests first (an empty table without a version column).
        """
        lat, bad = "CAST(NULL AS DOUBLE)", "0"
        if self.latency:
            x = f"TRY_CAST({quote(self.latency)} AS DOUBLE)"
            lat, bad = self._finite_latency(), f"(CASE WHEN NOT isfinite({x}) THEN 1 ELSE 0 END)"
        err = error_sql(self.error) if self.error else "0"
        ver = f"CAST({quote(self.version)} AS VARCHAR)" if self.version else "CAST(NULL AS VARCHAR)"
        # Without a version column, a constant version forms one group equal to the whole window.
        df = self.con.execute(
            f"SELECT GROUPING(day) AS g_day, GROUPING(version) AS g_version, day, version, count(*) AS rows, "
            f"count(lat) AS latency_rows, quantile_cont(lat, [0.5, 0.95, 0.99]) AS q, "
            f"sum(bad) AS latency_non_finite, sum(err) AS errors "
            f"FROM (SELECT date_trunc('day', {self.ts_utc}) AS day, {ver} AS version, {lat} AS lat, "
            f"{bad} AS bad, {err} AS err FROM {self.relation}) GROUP BY GROUPING SETS ((day), (version), ())").df()
        for i, p in enumerate(PERCENTILES):
            df[p] = [finite_float(q[i]) if isinstance(q, (list, tuple, np.ndarray)) else None for q in df["q"]]
            df[p] = df[p].astype(float)
        df = df.drop(columns="q")
        df["errors"] = df["errors"].fillna(0).astype(int)
        df["latency_non_finite"] = df["latency_non_finite"].fillna(0).astype(int)
        df["error_rate"] = df["errors"] / df["rows"]
        whole = df[(df["g_day"] == 1) & (df["g_version"] == 1)].iloc[0]
        daily = df[df["g_day"] == 0].sort_values("day").reset_index(drop=True)
        daily["day"] = pd.DatetimeIndex(daily["day"]).tz_convert("UTC")
        per_version = df[df["g_version"] == 0] if self.version else df.iloc[0:0]
        cols = ["rows", "latency_rows", *PERCENTILES, "latency_non_finite", "errors", "error_rate"]
        return (whole[cols], daily[["day", *cols]],
                per_version[["version", *cols]].sort_values("rows", ascending=False).reset_index(drop=True))

    def latency_range(self) -> tuple[Any, Any]:
        """Smallest and largest finite latency, in the column's own type."""
        lat = quote(self.latency)
        finite = f"FILTER (WHERE {self._finite_latency()} IS NOT NULL)"
        return tuple(self.con.execute(f"SELECT min({lat}) {finite}, max({lat}) {finite} FROM {self.relation}"
                                      ).fetchall()[0])

    def latency_histogram(self, edges: Sequence[float]) -> dict[str, int]:
        """Finite latency counts per bin (keys: the upper edges as text, then 'inf' for the values above the last)."""
        hist = self.con.execute(f"SELECT histogram({self._finite_latency()}, "
                                f"[{', '.join(repr(float(e)) for e in edges)}]) FROM {self.relation}").fetchall()[0][0] or {}
        keys = [str(e) for e in edges]
        out = {k: 0 for k in keys + ["inf"]}
        for k, v in hist.items():
            out["inf" if not np.isfinite(k) else keys[int(np.argmin(np.abs(np.asarray(edges) - k)))]] += int(v)
        return out

    def quality_counts(self, numeric: Sequence[str], categorical: Sequence[str], profiles: Mapping[str, Any],
                       version_filter: str | None, extra: Sequence[str] = ()) -> tuple[int, dict[str, dict[str, int]]]:
        """Rows and, per column, missing / out-of-range / unseen counts (one scan).

        ``extra`` columns (e.g. the prediction) get a missing count only.
        """
        parts, keys = ["count(*)"], []
        for col in numeric:
            x = f"TRY_CAST({quote(col)} AS DOUBLE)"
            parts.append(f"count(*) FILTER (WHERE {x} IS NULL OR isnan({x}) OR isinf({x}))")
            keys.append((col, "missing"))
            prof = profiles[col]
            if prof.get("min") is not None:
                parts.append(f"count(*) FILTER (WHERE isfinite({x}) AND ({x} < {float(prof['min'])!r} "
                             f"OR {x} > {float(prof['max'])!r}))")
            else:
                parts.append("0")
            keys.append((col, "out_of_range"))
        for col in categorical:
            v = f"CAST({quote(col)} AS VARCHAR)"
            parts.append(f"count(*) FILTER (WHERE {v} IS NULL)")
            keys.append((col, "missing"))
            levels = list(profiles[col].get("frequencies", {}))
            if levels:
                parts.append(f"count(*) FILTER (WHERE {v} IS NOT NULL AND {v} NOT IN "
                             f"({', '.join(literal(str(lv)) for lv in levels)}))")
            else:
                parts.append("count(*) FILTER (WHERE " + v + " IS NOT NULL)")
            keys.append((col, "unseen"))
        for col in extra:
            x = f"TRY_CAST({quote(col)} AS DOUBLE)"
            parts.append(f"count(*) FILTER (WHERE {x} IS NULL OR isnan({x}) OR isinf({x}))")
            keys.append((col, "missing"))
        where = f" WHERE {version_filter}" if version_filter else ""
        values = self.con.execute(f"SELECT {', '.join(parts)} FROM {self.relation}{where}").fetchall()[0]
        out: dict[str, dict[str, int]] = {}
        for (col, what), v in zip(keys, values[1:]):
            out.setdefault(col, {})[what] = int(v)
        return int(values[0]), out

    def version_filter(self, version: str) -> str | None:
        """SQL keeping the rows served by ``version`` (None without a version column: every row)."""
        return f"CAST({quote(self.version)} AS VARCHAR) = {literal(version)}" if self.version else None

    def reference_types(self, model: ModelConfig) -> dict[str, str]:
        """Column types of the model's reference data."""
        return describe(resolve_source(model.reference, f"models.{model.name}.reference"), self.con)

    def window_types(self, model: ModelConfig, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
        """Column types of the log files holding rows of ``[start, end)``."""
        return window_types(resolve_source(model.logs, f"models.{model.name}.logs"), model.timestamp, start, end,
                            self.con)
