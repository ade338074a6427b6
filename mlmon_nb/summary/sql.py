"""The one aggregation of an area pass, as portable SQL over ``window_rows``.

One statement, written in DuckDB's dialect with portable functions only
(``FLOOR``, ``LN``, ``CASE``, ``CAST``, ``COUNT``, ``SUM``, ``MIN``, ``MAX``,
``GREATEST``/``LEAST``, ``EPOCH``, ``DENSE_RANK``, ``UNION ALL``), so that
sqlglot transpiles it to Spark SQL unchanged in meaning. Every feature is one
branch of a ``UNION ALL``, each grouped by chunk and cell; the result has one
row per (feature, chunk, cell, region) or (feature, chunk, level), whatever
the window's rows: its size is features × chunks × cells.

Columns of the result (:data:`COLUMNS`): ``feature`` (name), ``chunk``
(index of the time chunk from the window's start), ``bucket``, ``bin``,
``atom``, ``region`` (numeric cells, see :mod:`mlmon_nb.summary.grid`; NULL
for categorical rows), ``level`` (categorical level as text, NULL when
missing, :data:`OTHER` for unseen levels beyond the :data:`MAX_UNSEEN` most
frequent; NULL for numeric rows), ``n`` (rows), ``s``, ``lo``, ``hi`` (sum,
minimum and maximum of the finite values; NULL for categorical rows).

Floats are written as ``CAST('<repr>' AS DOUBLE)``: a decimal literal would be
a DECIMAL in both engines, and the text round-trips to the same double.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Mapping, Sequence

from ..sources import literal, quote
from .grid import MISSING, NAN, NEG_INF, POS_INF, REGION_ABOVE, REGION_BELOW, REGION_GAP, REGION_NONE, Grid

COLUMNS = ("feature", "chunk", "bucket", "bin", "atom", "region", "level", "n", "s", "lo", "hi")
OTHER = "\x1fother unseen levels"
"""The level standing for every unseen level beyond the most frequent :data:`MAX_UNSEEN` (a control character
keeps it apart from real levels)."""
MAX_UNSEEN = 20
"""Unseen levels kept by name per categorical feature (the most frequent in the window)."""


def number(x: float) -> str:
    """A double as SQL that both engines read to the same double.

    Examples
    --------
    >>> number(0.1), number(float("-inf"))
    ("CAST('0.1' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)")
    """
    x = float(x)
    if math.isnan(x):
        text = "NaN"
    elif math.isinf(x):
        text = "Infinity" if x > 0 else "-Infinity"
    else:
        text = repr(x)
    return f"CAST('{text}' AS DOUBLE)"


def chunk_sql(timestamp: str, start: dt.datetime, seconds: float) -> str:
    """Index of a row's time chunk: whole ``seconds`` since ``start`` (chunks as :mod:`mlmon_nb.drift.over_time`)."""
    t0 = start.astimezone(dt.timezone.utc).timestamp()
    return f"CAST(FLOOR((EPOCH({quote(timestamp)}) - {number(t0)}) / {number(seconds)}) AS BIGINT)"


def _finite_cases(v: str) -> str:
    return (f"WHEN {v} IS NULL THEN {MISSING} WHEN {v} = {number(math.nan)} THEN {NAN} "
            f"WHEN {v} = {number(math.inf)} THEN {POS_INF} WHEN {v} = {number(-math.inf)} THEN {NEG_INF}")


def _finite(v: str) -> str:
    return (f"{v} IS NOT NULL AND {v} <> {number(math.nan)} AND {v} <> {number(math.inf)} "
            f"AND {v} <> {number(-math.inf)}")


def bucket_sql(v: str, grid: Grid) -> str:
    """The bucket of a column's value (negative codes for missing and non-finite values)."""
    t = f"LN({v})" if grid.log else v
    k = (f"CAST(LEAST(GREATEST(FLOOR(({t} - {number(grid.origin)}) / {number(grid.width)}), {grid.first}), "
         f"{grid.last}) AS INTEGER)")
    low = f" WHEN {v} <= {number(0.0)} THEN {grid.first}" if grid.log else ""
    return f"CASE {_finite_cases(v)}{low} ELSE {k} END"


def _steps(v: str, cuts: Sequence[str]) -> str:
    """``CASE WHEN <cut 0> THEN 0 WHEN <cut 1> THEN 1 ... ELSE len(cuts) END`` (0 without cuts)."""
    if not cuts:
        return "0"
    return "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, c in enumerate(cuts)) + f" ELSE {len(cuts)} END"


def bin_sql(v: str, grid: Grid) -> str:
    """The baseline's bin (closed on the right): the number of inner edges below the value."""
    return _steps(v, [f"{v} <= {number(e)}" for e in grid.edges])


def atom_sql(v: str, grid: Grid) -> str:
    """``2 * (atoms < v) + (v is an atom)``."""
    cuts = []
    for a in grid.atoms:
        cuts += [f"{v} < {number(a)}", f"{v} = {number(a)}"]
    return _steps(v, cuts)


def region_sql(v: str, grid: Grid) -> str:
    """Where the value is in the reference's rare region."""
    r = grid.rare
    if r is None:
        return str(REGION_NONE)
    gaps = " OR ".join(f"({v} > {number(a)} AND {v} <= {number(b)})" for a, b in r.gaps)
    gap = f" WHEN {gaps} THEN {REGION_GAP}" if gaps else ""
    return (f"CASE WHEN {v} < {number(r.low)} THEN {REGION_BELOW} WHEN {v} > {number(r.high)} THEN {REGION_ABOVE}"
            f"{gap} ELSE {REGION_NONE} END")


def numeric_branch(name: str, column: str, grid: Grid, chunk: str) -> str:
    """One numeric feature's rows of the summary."""
    v = quote("v")
    fin = _finite(v)
    keys = (f"{chunk} AS chunk, {bucket_sql(v, grid)} AS bucket, "
            f"CASE WHEN {fin} THEN {bin_sql(v, grid)} ELSE 0 END AS bin, "
            f"CASE WHEN {fin} THEN {atom_sql(v, grid)} ELSE 0 END AS atom, "
            f"CASE WHEN {fin} THEN {region_sql(v, grid)} ELSE 0 END AS region, "
            f"CASE WHEN {fin} THEN {v} END AS x")
    inner = f"SELECT {keys} FROM (SELECT *, CAST({quote(column)} AS DOUBLE) AS {v} FROM window_rows) AS t"
    return (f"SELECT {literal(name)} AS feature, chunk, bucket, bin, atom, region, CAST(NULL AS VARCHAR) AS level, "
            f"COUNT(*) AS n, SUM(x) AS s, MIN(x) AS lo, MAX(x) AS hi FROM ({inner}) AS u "
            f"GROUP BY chunk, bucket, bin, atom, region")


def categorical_branch(name: str, column: str, known: Sequence[str], chunk: str, max_unseen: int = MAX_UNSEEN) -> str:
    """One categorical feature's rows: counts per chunk and level, unseen levels beyond the most frequent pooled."""
    counts = (f"SELECT {chunk} AS chunk, CAST({quote(column)} AS VARCHAR) AS level, COUNT(*) AS n "
              f"FROM window_rows GROUP BY 1, 2")
    is_known = f"level IN ({', '.join(literal(k) for k in known)})" if known else "FALSE"
    totals = f"SELECT chunk, level, n, SUM(n) OVER (PARTITION BY level) AS total FROM ({counts}) AS a"
    ranked = (f"SELECT chunk, level, n, {is_known} AS known, "
              f"DENSE_RANK() OVER (PARTITION BY {is_known} ORDER BY total DESC, level) AS rk FROM ({totals}) AS b")
    kept = (f"SELECT chunk, CASE WHEN level IS NULL OR known OR rk <= {int(max_unseen)} THEN level "
            f"ELSE {literal(OTHER)} END AS level, n FROM ({ranked}) AS c")
    return (f"SELECT {literal(name)} AS feature, chunk, CAST(NULL AS INTEGER) AS bucket, CAST(NULL AS INTEGER) AS bin, "
            f"CAST(NULL AS INTEGER) AS atom, CAST(NULL AS INTEGER) AS region, level, SUM(n) AS n, "
            f"CAST(NULL AS DOUBLE) AS s, CAST(NULL AS DOUBLE) AS lo, CAST(NULL AS DOUBLE) AS hi "
            f"FROM ({kept}) AS d GROUP BY chunk, level")


def summary_sql(numeric: Mapping[str, tuple[str, Grid]], categorical: Mapping[str, tuple[str, Sequence[str]]],
                chunk: str) -> str:
    """The whole pass: ``numeric`` maps a subject to (column, grid), ``categorical`` to (column, known levels)."""
    branches = [numeric_branch(name, col, grid, chunk) for name, (col, grid) in numeric.items()]
    branches += [categorical_branch(name, col, known, chunk) for name, (col, known) in categorical.items()]
    if not branches:
        raise ValueError("a summary needs at least one feature")
    return "\nUNION ALL\n".join(branches)
