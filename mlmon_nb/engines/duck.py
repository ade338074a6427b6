"""The embedded engine: DuckDB over the project's parquet/CSV files (no server; out of core, it
spills to disk). The window's rows are :func:`mlmon_nb.data.window_query`'s SQL, the one
definition :func:`mlmon_nb.data.read_window` reads too; aggregations run on it as written.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Sequence

import duckdb
import pyarrow as pa

from ..config import Project
from ..data import Relation, _window_query, model_features, reference_query, source_relation
from ..sources import connect, friendly_error, resolve_source
from .base import WINDOW_ROWS, Engine, Scan
from . import scoring

logger = logging.getLogger(__name__)

# Errors in the aggregation text itself (a bug of the caller), as opposed to unreadable files.
_SQL_ERRORS = tuple(getattr(duckdb, name) for name in ("ParserException", "BinderException", "CatalogException")
                    if hasattr(duckdb, name))


class DuckDBScan(Scan):
    """A window or the reference as a lazy DuckDB relation; nothing is read until an aggregate runs."""

    engine = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, *, source, timestamp: str | None, features):
        try:
            self._relation = con.sql(sql)
            columns = {name: str(dtype) for name, dtype in zip(self._relation.columns, self._relation.types)}
        except duckdb.Error as exc:
            raise friendly_error(exc, source) from exc
        self._source = source
        self._con = con
        self.sql = sql
        super().__init__(columns=columns, timestamp=timestamp, features=features,
                         relation=Relation(sql=sql, types=columns, where=source.where, path=str(source.path)))

    def _execute(self, sql: str) -> pa.Table:
        try:
            result = self._relation.query(WINDOW_ROWS, sql)
            fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
            return fetch()
        except _SQL_ERRORS:
            raise
        except duckdb.Error as exc:
            raise friendly_error(exc, self._source) from exc

    def _scanned_share(self) -> float | None:
        percent = self._con.query_progress()  # -1 while no query runs or DuckDB cannot tell
        return percent / 100.0 if percent >= 0 else None

    def _scored(self, model, **how) -> "DuckDBScan":
        """Rows streamed in Arrow batches, scored, spilled to parquet (:func:`scoring.duckdb_scored`)."""
        return scoring.duckdb_scored(self, model, **how)


class DuckDBEngine(Engine):
    """Scans through one in-memory DuckDB connection (its own, or one passed in).

    Parameters
    ----------
    project : Project, optional
        Resolves model names given as strings.
    con : duckdb.DuckDBPyConnection, optional
        A connection to use (not closed by :meth:`close`); a new one set to UTC otherwise.
    threads : int, optional
        DuckDB's worker threads for a new connection (all cores by default).
    """

    name = "duckdb"

    def __init__(self, project: Project | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
                 threads: int | None = None):
        self.project = project
        self._owned = con is None
        self.con = con if con is not None else connect(threads)

    def window(self, model, start: dt.datetime, end: dt.datetime, *, version: str | None = None,
               columns: Sequence[str] | None = None, labels: bool = True) -> DuckDBScan:
        mcfg = self._model(model)
        q = _window_query(mcfg, start, end, version, columns, labels, self.con)
        return DuckDBScan(self.con, q.sql, source=q.source, timestamp=mcfg.timestamp, features=q.features)

    def reference(self, model, *, columns: Sequence[str] | None = None) -> DuckDBScan:
        mcfg = self._model(model)
        source = resolve_source(mcfg.reference, f"models.{mcfg.name}.reference")
        ref = source_relation(source, self.con)
        features = model_features(mcfg, self.con, reference_types=ref.types)
        sql, _ = reference_query(mcfg, ref, features, columns)
        return DuckDBScan(self.con, sql, source=source, timestamp=mcfg.timestamp, features=features)

    def close(self) -> None:
        if self._owned and self.con is not None:
            self.con.close()
        self.con = None
