"""Summarise a window in one aggregation pass, then read each subject's summary from the result.

:func:`summarise` builds the pass's SQL (:mod:`mlmon_nb.summary.sql`), runs
it once through an engine's scan (``scan.aggregate(sql)`` → a pyarrow Table)
and splits the compact result by subject. Its size is subjects × chunks ×
cells, never the window's rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import numpy as np
import pyarrow as pa

from ..stats import CategoricalReference, NumericReference
from .categorical import CategoricalSummary
from .grid import BUCKETS, Cells, Grid
from .numeric import NumericSummary, reference_cells
from .sql import summary_sql

logger = logging.getLogger(__name__)


class Aggregating(Protocol):
    """What a summary needs of an engine's scan of a window: one aggregation in DuckDB's SQL dialect."""

    def aggregate(self, sql: str, /, *, pass_name: str | None = None, **params) -> pa.Table: ...


@dataclass(frozen=True)
class NumericSubject:
    """A numeric subject to summarise: its column, the baseline's reference and the grid derived from it."""

    column: str
    reference: NumericReference
    grid: Grid
    cells: Cells = field(repr=False)

    @classmethod
    def of(cls, column: str, reference: NumericReference, buckets: int = BUCKETS) -> "NumericSubject":
        grid = Grid.of(reference, buckets)
        return cls(column=column, reference=reference, grid=grid, cells=reference_cells(reference, grid))


@dataclass(frozen=True)
class CategoricalSubject:
    """A categorical subject to summarise: its column and the baseline's level shares."""

    column: str
    reference: CategoricalReference | None = None

    @property
    def known(self) -> tuple[str, ...]:
        return tuple(self.reference.levels) if self.reference is not None else ()


@dataclass(frozen=True, eq=False)
class WindowSummary:
    """Every subject's summary of one window pass."""

    numeric: Mapping[str, NumericSummary]
    categorical: Mapping[str, CategoricalSummary]
    subjects: Mapping[str, NumericSubject | CategoricalSubject] = field(repr=False)
    rows_out: int = 0
    seconds: float = 0.0

    def rows(self) -> int:
        """The window's rows (every subject counts each row once)."""
        for s in (*self.numeric.values(), *self.categorical.values()):
            return s.rows()
        return 0

    def chunks(self) -> np.ndarray:
        """Chunk indices present."""
        parts = [s.chunk for s in (*self.numeric.values(), *self.categorical.values())]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def chunk_rows(self, n_chunks: int) -> np.ndarray:
        """Rows per chunk ``0 .. n_chunks - 1``."""
        for s in (*self.numeric.values(), *self.categorical.values()):
            idx = np.asarray(s.chunk, dtype=np.int64)
            ok = (idx >= 0) & (idx < n_chunks)
            return np.bincount(idx[ok], weights=np.asarray(s.n, dtype=float)[ok], minlength=n_chunks).astype(np.int64)
        return np.zeros(n_chunks, dtype=np.int64)


def summarise(scan: Aggregating, numeric: Mapping[str, NumericSubject],
              categorical: Mapping[str, CategoricalSubject], chunk: str) -> WindowSummary:
    """Run one aggregation pass over a window and split its result by subject.

    Parameters
    ----------
    scan : object with ``aggregate(sql) -> pyarrow.Table``
        An engine's scan of the window (the rows are a view named ``window_rows``).
    numeric, categorical : mapping
        Subjects by name (a feature, the prediction, the target).
    chunk : str
        SQL giving a row's chunk index (:func:`mlmon_nb.summary.sql.chunk_sql`).
    """
    sql = summary_sql({k: (v.column, v.grid) for k, v in numeric.items()},
                      {k: (v.column, v.known) for k, v in categorical.items()}, chunk)
    t0 = time.perf_counter()
    table = scan.aggregate(sql, pass_name="summary of the window")
    seconds = time.perf_counter() - t0
    logger.info("window summary: %d rows of summary for %d subjects in %.1f s", table.num_rows,
                len(numeric) + len(categorical), seconds)
    return split(table, numeric, categorical, seconds=seconds)


def split(table: pa.Table, numeric: Mapping[str, NumericSubject], categorical: Mapping[str, CategoricalSubject],
          seconds: float = 0.0) -> WindowSummary:
    """A summary table split by subject (subjects without rows get empty summaries)."""
    df = table.to_pandas()
    groups = {k: g for k, g in df.groupby("feature", sort=False)} if len(df) else {}

    def columns(name: str, cols: Sequence[str]) -> dict[str, np.ndarray]:
        g = groups.get(name)
        if g is None:
            return {c: np.zeros(0) for c in cols}
        out = {}
        for c in cols:
            values = g[c].to_numpy()
            if c in ("chunk", "bucket", "bin", "atom", "region"):
                values = values.astype(np.int64)
            elif c in ("n", "s", "lo", "hi"):
                values = values.astype(float)
            out[c] = values
        return out

    num = {k: NumericSummary.from_columns(v.grid, columns(k, ("chunk", "bucket", "bin", "atom", "region", "n", "s",
                                                               "lo", "hi")))
           for k, v in numeric.items()}
    cat = {k: CategoricalSummary.from_columns(columns(k, ("chunk", "level", "n"))) for k in categorical}
    return WindowSummary(numeric=num, categorical=cat, subjects={**numeric, **categorical}, rows_out=len(df),
                         seconds=seconds)
