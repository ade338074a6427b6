"""Data windows and reference data, read through embedded DuckDB.

A *source* is a parquet or CSV file, a glob, or a folder of them (hive-style
``key=value`` partition folders included). A *window* is the half-open
interval ``[start, end)`` of the logs' timestamp column. The time filter and
the column projection are part of the SQL handed to DuckDB, so they are pushed
into the scan: reading one week out of a year of parquet logs touches only
that week's row groups and the needed columns (see :func:`scan_profile`).

Naive timestamps are taken to be UTC; tz-aware ones are converted to UTC.
Categorical features come back as pandas ``category``; numeric features as
``float64``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import numpy as np
import pandas as pd

from .config import FeaturesConfig, ModelConfig, Project
from .errors import DataError
from .sources import Source, connect, describe, friendly_error, literal, quote, resolve_source

logger = logging.getLogger(__name__)

_NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "BOOLEAN",
)
_CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN", "ENUM", "TINYINT", "SMALLINT", "INTEGER", "BIGINT")
def _is_numeric(dtype: str) -> bool:
    return dtype.upper().split("(")[0] in _NUMERIC_TYPES


def _is_timestamp(dtype: str) -> bool:
    return dtype.upper().startswith(("TIMESTAMP", "DATE"))


def infer_features(columns: dict[str, str], exclude: Iterable[str]) -> FeaturesConfig:
    """Infer monitored features from a source's columns.

    Numbers become numeric features, strings and booleans categorical ones.
    Configured non-feature columns (timestamp, target, prediction, keys,
    operational and feedback columns) and timestamps are excluded.
    """
    skip = {c for c in exclude if c}
    numeric, categorical = [], []
    for name, dtype in columns.items():
        if name in skip or _is_timestamp(dtype):
            continue
        upper = dtype.upper()
        if upper.startswith(("VARCHAR", "ENUM")) or upper == "BOOLEAN":
            categorical.append(name)
        elif _is_numeric(dtype):
            numeric.append(name)
    return FeaturesConfig(numeric=tuple(numeric), categorical=tuple(categorical))


def non_feature_columns(model: ModelConfig) -> list[str]:
    """Columns the configuration names that are not model inputs."""
    cols = [model.timestamp, model.prediction, model.target, model.version_column]
    if model.labels:
        cols.append(model.labels.key)
    if model.operational:
        cols += [model.operational.latency_ms, model.operational.request_id, model.operational.error]
    if model.feedback:
        fb = model.feedback
        cols += [fb.user, fb.item, fb.exposed, fb.outcome, fb.training_provenance]
    return [c for c in cols if c]


def model_features(model: ModelConfig, con: duckdb.DuckDBPyConnection | None = None, *,
                   reference_types: dict[str, str] | None = None) -> FeaturesConfig:
    """The model's monitored features: configured, or inferred from the reference.

    ``reference_types`` (column -> DuckDB type) replaces DuckDB's look at the reference file
    when an engine has already read the reference's schema (Spark).
    """
    if model.features.numeric or model.features.categorical:
        return model.features
    if reference_types is None:
        ref = resolve_source(model.reference, f"models.{model.name}.reference")
        reference_types = describe(ref, con)
    return infer_features(reference_types, non_feature_columns(model))


@dataclass(frozen=True)
class Relation:
    """What a window or reference query reads: a table expression, its columns' DuckDB types and
    where it was configured (for messages).

    DuckDB reads a :class:`Source`'s files (:func:`source_relation`); another engine passes a view
    it registered, with its columns' types spelled as DuckDB names (Spark), and gets the same SQL.
    """

    sql: str
    types: dict[str, str]
    where: str
    path: str


def source_relation(source: Source, con: duckdb.DuckDBPyConnection | None = None) -> Relation:
    """The DuckDB scan of a source's files, with its columns' types."""
    return Relation(sql=source.relation, types=describe(source, con), where=source.where, path=str(source.path))


@dataclass
class Table:
    """Rows read from a source, with what is needed to trust and reproduce them."""

    frame: pd.DataFrame
    fingerprint_of: Callable[[], str] = field(repr=False)
    source: Source
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    labelled_rows: int = 0
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    _fingerprint: str | None = field(default=None, init=False, repr=False)

    @property
    def fingerprint(self) -> str:
        """Content fingerprint of the rows, computed on first use (a full scan most callers skip)."""
        if self._fingerprint is None:
            try:
                self._fingerprint = self.fingerprint_of()
            except duckdb.Error as exc:
                raise friendly_error(exc, self.source) from exc
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.frame)


def _check_features(types: dict[str, str], features: FeaturesConfig, source: Source | Relation,
                    model: ModelConfig) -> None:
    known = ", ".join(list(types)[:30])
    for group, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        for name in names:
            if name not in types:
                raise DataError(
                    f"{source.where}: column {name!r} (models.{model.name}.features.{group}) "
                    f"not found in {source.path}; columns are: {known}"
                )
            dtype = types[name]
            if dtype.strip('"').upper() == "NULL":
                # Every value missing (e.g. pandas wrote an all-None column): no type to check;
                # the profiles and quality checks report it as all missing.
                continue
            if group == "numeric" and not _is_numeric(dtype):
                raise DataError(
                    f"{source.where}: column {name!r} (models.{model.name}.features.numeric) "
                    f"is {dtype} in {source.path}; expected a number"
                )
            if group == "categorical" and not dtype.upper().split("(")[0] in _CATEGORICAL_TYPES:
                raise DataError(
                    f"{source.where}: column {name!r} (models.{model.name}.features.categorical) "
                    f"is {dtype} in {source.path}; expected a string, boolean or integer"
                )


def _select_list(types: dict[str, str], wanted: Sequence[str], features: FeaturesConfig) -> list[str]:
    out = []
    for col in wanted:
        if col not in types:
            continue
        q = quote(col)
        if col in features.numeric:
            out.append(f"CAST({q} AS DOUBLE) AS {q}")
        elif col in features.categorical:
            out.append(f"CAST({q} AS VARCHAR) AS {q}")
        else:
            out.append(q)
    return out


def time_filter(ts: str, dtype: str, start: dt.datetime, end: dt.datetime) -> str:
    """A filter on the raw column (no cast on it) so DuckDB can prune row groups."""
    q = quote(ts)
    upper = dtype.upper()
    s_utc = start.astimezone(dt.timezone.utc)
    e_utc = end.astimezone(dt.timezone.utc)
    if "WITH TIME ZONE" in upper:
        return (f"{q} >= TIMESTAMPTZ {literal(s_utc.isoformat())} "
                f"AND {q} < TIMESTAMPTZ {literal(e_utc.isoformat())}")
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        return (f"{q} >= TIMESTAMP {literal(s_utc.strftime(fmt))} "
                f"AND {q} < TIMESTAMP {literal(e_utc.strftime(fmt))}")
    # Strings (CSV without detected types): parse, accepting offsets.
    return (f"CAST({q} AS TIMESTAMPTZ) >= TIMESTAMPTZ {literal(s_utc.isoformat())} "
            f"AND CAST({q} AS TIMESTAMPTZ) < TIMESTAMPTZ {literal(e_utc.isoformat())}")


def _to_frame(rel: duckdb.DuckDBPyRelation, source: Source, timestamp: str | None,
              features: FeaturesConfig) -> pd.DataFrame:
    try:
        fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
        table = fetch()
    except duckdb.Error as exc:
        raise friendly_error(exc, source) from exc
    return table_frame(table, source, timestamp, features)


def table_frame(table: pa.Table, source: Source | Relation, timestamp: str | None,
                features: FeaturesConfig) -> pd.DataFrame:
    """Rows fetched as Arrow as the DataFrame :func:`read_window` gives: timestamps in UTC,
    categorical features as ``category`` (levels sorted), numeric features as ``float64``."""
    df = _arrow_to_frame(table, set(features.categorical), timestamp)
    del table
    if timestamp and timestamp in df.columns:
        col = df[timestamp]
        if not pd.api.types.is_datetime64_any_dtype(col):
            try:
                col = pd.to_datetime(col, utc=True, format="ISO8601")
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"{source.where}: column {timestamp!r} of {source.path} holds values "
                    f"that are not timestamps ({exc})"
                ) from exc
        elif getattr(col.dt, "tz", None) is None:
            col = col.dt.tz_localize("UTC")
        else:
            col = col.dt.tz_convert("UTC")
        df[timestamp] = col
    for name in features.categorical:
        if name in df.columns:
            col = df[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                # Levels in sorted order, as astype("category") gives them: stable across windows.
                df[name] = col.cat.reorder_categories(sorted(col.cat.categories))
            else:
                df[name] = col.astype("category")
    for name in features.numeric:
        if name in df.columns:
            df[name] = df[name].astype("float64")
    return df


def _arrow_to_frame(table: pa.Table, categorical: set[str], timestamp: str | None = None) -> pd.DataFrame:
    """An Arrow result as a DataFrame, with the dtypes DuckDB's own ``df()`` would give.

    Going through Arrow rather than ``rel.df()`` lets Arrow's C++ code dictionary-encode the
    categorical columns, so a million rows of text never become Python strings (about 5x faster
    for a 1M-row window, and a fraction of the memory). Integer and boolean columns with missing
    values become pandas' nullable dtypes, as with ``df()``. The ``timestamp`` column, which the
    caller converts to UTC anyway, is relabelled UTC here (Arrow stores instants in UTC; the zone
    is a label): DuckDB labels it ``Etc/UTC``, which pandas converted value by value (0.24 s of a
    1M-row window) where ``UTC`` is a copy.
    """
    arrays = []
    nullable = {}
    for name, col in zip(table.column_names, table.columns):
        if name == timestamp and pa.types.is_timestamp(col.type) and col.type.tz not in (None, "UTC"):
            col = col.cast(pa.timestamp(col.type.unit, tz="UTC"))
        elif name in categorical and not pa.types.is_dictionary(col.type):
            col = pc.dictionary_encode(col)
        elif col.null_count and (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
            nullable[name] = col
        arrays.append(col)
    df = pa.table(arrays, names=table.column_names).to_pandas(split_blocks=True)
    for name, col in nullable.items():
        df[name] = col.to_pandas(types_mapper=_NULLABLE.get)
    return df


_NULLABLE = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
             pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
             pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _fingerprint(con: duckdb.DuckDBPyConnection, sql: str, columns: Sequence[str], extra: str) -> str:
    """Content fingerprint of a query result: row count and an order-free hash sum."""
    cols = ", ".join(quote(c) for c in columns)
    n, total = con.execute(f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM ({sql})").fetchall()[0]
    return _digest(n, total, columns, extra)


def _digest(n: int, total: int, columns: Sequence[str], extra: str) -> str:
    digest = hashlib.sha256(f"{n}|{total}|{','.join(columns)}|{extra}".encode()).hexdigest()
    return f"sha256:{digest}"


def window_columns(model: ModelConfig, features: FeaturesConfig) -> list[str]:
    """Every column of the logs a window notebook may need, in a stable order."""
    cols = [model.timestamp, *features.numeric, *features.categorical, *non_feature_columns(model)]
    cols += list(getattr(model, "segments", ()) or ())
    seen: dict[str, None] = {}
    for c in cols:
        if c:
            seen.setdefault(c, None)
    return list(seen)


@dataclass(frozen=True)
class _WindowQuery:
    sql: str
    raw_sql: str
    source: Source
    features: FeaturesConfig
    columns: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime


def _window_query(model: ModelConfig, start: dt.datetime, end: dt.datetime, version: str | None,
                  columns: Sequence[str] | None, labels: bool, con) -> _WindowQuery:
    source = resolve_source(model.logs, f"models.{model.name}.logs")
    label_rel = None
    if labels and model.labels:
        label_rel = source_relation(resolve_source(model.labels.path, f"models.{model.name}.labels.path"), con)
    return window_query(model, start, end, version, columns, logs=source_relation(source, con), labels=label_rel,
                        features=model_features(model, con), source=source)


def window_query(model: ModelConfig, start: dt.datetime, end: dt.datetime, version: str | None,
                 columns: Sequence[str] | None, *, logs: Relation, labels: Relation | None,
                 features: FeaturesConfig, source: Source | None = None) -> _WindowQuery:
    """The SQL (DuckDB's dialect) of a window's rows: columns checked and cast, the time window and
    serving version filtered, late labels left-joined by key, the target mapped.

    One definition for every engine: DuckDB runs it over a source's files, Spark (transpiled) over
    the views it registered for the logs and labels.

    Raises
    ------
    DataError
        Missing columns or unusable column types, naming the key and the source.
    """
    start, end = _utc(start), _utc(end)
    types = logs.types
    if model.timestamp not in types:
        raise DataError(f"{logs.where}: timestamp column {model.timestamp!r} "
                        f"(models.{model.name}.timestamp) not found in {logs.path}")
    ts_type = types[model.timestamp]
    if not (_is_timestamp(ts_type) or ts_type.upper().startswith("VARCHAR")):
        raise DataError(f"{logs.where}: timestamp column {model.timestamp!r} is {ts_type} in "
                        f"{logs.path}; expected a timestamp")
    _check_features(types, features, logs, model)
    if model.prediction not in types:
        raise DataError(f"{logs.where}: prediction column {model.prediction!r} "
                        f"(models.{model.name}.prediction) not found in {logs.path}")
    wanted = list(columns) if columns is not None else window_columns(model, features)
    conditions = [time_filter(model.timestamp, ts_type, start, end)]
    if version is not None and model.version_column:
        if model.version_column not in types:
            raise DataError(f"{logs.where}: version column {model.version_column!r} "
                            f"(models.{model.name}.version_column) not found in {logs.path}")
        conditions.append(f"CAST({quote(model.version_column)} AS VARCHAR) = {literal(version)}")
    present = [c for c in wanted if c in types]
    sql = (f"SELECT {', '.join(_select_list(types, present, features))} FROM {logs.sql} "
           f"WHERE {' AND '.join(conditions)}")
    order = present
    if labels is not None:
        sql = _join_labels(sql, model, types, present, labels)
        order = [c for c in present if c != model.target] + [model.target]  # the join's output order
        if model.target not in present:
            present.append(model.target)
    mapped = _map_target(sql, model, order) if model.target in present else sql
    return _WindowQuery(sql=mapped, raw_sql=sql, source=source or logs, features=features, columns=tuple(present),
                        start=start, end=end)


BINARY_VALUES = frozenset({"0", "1", "0.0", "1.0", "true", "false"})


def _map_target(sql: str, model: ModelConfig, columns: Sequence[str]) -> str:
    """The query with a binary target mapped to 1/0 by ``positive_class`` (when configured).

    The columns are listed (no ``* REPLACE``) so that the text transpiles to other dialects.
    """
    if model.task != "binary_classification" or model.positive_class is None:
        return sql
    t = quote(model.target)
    cols = [f"CASE WHEN {t} IS NULL THEN NULL WHEN CAST({t} AS VARCHAR) = {literal(model.positive_class)} "
            f"THEN 1 ELSE 0 END AS {t}" if c == model.target else quote(c) for c in columns]
    return f"SELECT {', '.join(cols)} FROM ({sql}) AS __rows"


def check_target(con, model: ModelConfig, sql: str, where: str) -> None:
    """A binary target holds 0/1 (or true/false), or two classes one of which is ``positive_class``.

    Raises
    ------
    DataError
        Naming the values found and the setting that maps them.
    """
    if model.task != "binary_classification":
        return
    t = quote(model.target)
    try:
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT CAST({t} AS VARCHAR) FROM ({sql}) WHERE {t} IS NOT NULL LIMIT 12").fetchall()]
    except duckdb.Error:
        return  # the reads that follow report unreadable data with the file's name
    shown = ", ".join(repr(v) for v in sorted(values)[:10]) + (" ..." if len(values) > 10 else "")
    if model.positive_class is None:
        if {str(v).strip().lower() for v in values} <= BINARY_VALUES:
            return
        raise DataError(f"{where}: the target {model.target!r} holds {shown}; a binary target must be 0/1 or "
                        f"true/false, or set models.{model.name}.positive_class to the value meaning positive")
    if len(values) > 2:
        raise DataError(f"{where}: the target {model.target!r} holds {len(values)}+ values ({shown}); "
                        f"a binary_classification target has two classes")
    if values and model.positive_class not in values and len(values) == 2:
        raise DataError(f"{where}: the target {model.target!r} holds {shown}, not the positive_class "
                        f"{model.positive_class!r} of models.{model.name}")


@dataclass(frozen=True)
class WindowStats:
    """Counts and fingerprint of a window, computed by DuckDB without loading rows."""

    rows: int
    labelled_rows: int
    fingerprint: str


def window_stats(model: ModelConfig, start: dt.datetime, end: dt.datetime, *,
                 version: str | None = None, labels: bool = True,
                 con: duckdb.DuckDBPyConnection | None = None) -> WindowStats:
    """Validate a window's source and columns and count its rows, as one aggregation.

    Raises
    ------
    DataError
        As :func:`read_window`, including for a window without rows.
    """
    con = con or connect()
    q = _window_query(model, start, end, version, None, labels, con)
    target = model.target if model.target in q.columns else None
    if target:
        where = f"models.{model.name}.labels" if labels and model.labels else q.source.where
        check_target(con, model, q.raw_sql, where)
    labelled = f"count({quote(target)})" if target else "0"
    cols = ", ".join(quote(c) for c in q.columns)
    try:
        n, total, n_lab = con.execute(
            f"SELECT count(*), coalesce(sum(hash({cols})), 0), {labelled} FROM ({q.sql})").fetchall()[0]
    except duckdb.Error as exc:
        raise friendly_error(exc, q.source) from exc
    if n == 0:
        _no_rows(model, q, version)
    return WindowStats(rows=int(n), labelled_rows=int(n_lab),
                       fingerprint=_digest(n, total, q.columns, f"{q.start.isoformat()}/{q.end.isoformat()}"))


def _no_rows(model: ModelConfig, q: _WindowQuery, version: str | None):
    scope = f" served by version {version!r}" if version is not None and model.version_column else ""
    raise DataError(f"{q.source.where}: no rows{scope} in window "
                    f"[{q.start.isoformat()}, {q.end.isoformat()}) of {q.source.path}")


def read_window(
    model: ModelConfig,
    start: dt.datetime,
    end: dt.datetime,
    *,
    version: str | None = None,
    columns: Sequence[str] | None = None,
    labels: bool = True,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Table:
    """Read the logs of ``[start, end)`` for a model (and serving version).

    Parameters
    ----------
    model : ModelConfig
        The model's configuration.
    start, end : datetime
        Window bounds; naive values are UTC.
    version : str, optional
        Keep only rows served by this version (needs ``version_column``).
    columns : sequence of str, optional
        Columns to read; defaults to every configured column present.
    labels : bool
        Join late labels by key when ``labels`` is configured.

    Returns
    -------
    Table
        The rows as a DataFrame, sorted by timestamp, and their fingerprint.

    Raises
    ------
    DataError
        Missing or unreadable files, missing columns, unusable column types,
        or a window without rows.
    """
    con = con or connect()
    q = _window_query(model, start, end, version, columns, labels, con)
    def fingerprint() -> str:
        return _fingerprint(con, q.sql, q.columns, f"{q.start.isoformat()}/{q.end.isoformat()}")

    try:
        # No ORDER BY: DuckDB keeps the files' row order, and logs are usually written in time
        # order; sorting here only when they are not is cheaper than a sort in every query.
        rel = con.sql(q.sql)
    except duckdb.Error as exc:
        raise friendly_error(exc, q.source) from exc
    frame = _to_frame(rel, q.source, model.timestamp, q.features)
    if frame.empty:
        _no_rows(model, q, version)
    if not frame[model.timestamp].is_monotonic_increasing:
        frame = frame.sort_values(model.timestamp, kind="stable").reset_index(drop=True)
    labelled = int(frame[model.target].notna().sum()) if model.target in frame.columns else 0
    return Table(frame=frame, fingerprint_of=fingerprint, source=q.source, start=q.start, end=q.end,
                 labelled_rows=labelled, features=q.features)


def _join_labels(sql: str, model: ModelConfig, types: dict[str, str], present: list[str], lab: Relation) -> str:
    """Left-join late labels by key; labels win over a target already in the logs."""
    ltypes = lab.types
    key, target = model.labels.key, model.target
    for col, what in ((key, "labels.key"), (target, "target")):
        if col not in ltypes:
            raise DataError(f"{lab.where}: column {col!r} (models.{model.name}.{what}) not found in "
                            f"{lab.path}; columns are: {', '.join(ltypes)}")
    if key not in types:
        raise DataError(f"models.{model.name}.logs: label key {key!r} (models.{model.name}.labels.key) "
                        f"not found in the logs")
    qk, qt = quote(key), quote(target)
    labels_sql = f"SELECT {qk} AS __k, last({qt}) AS __y FROM {lab.sql} GROUP BY {qk}"
    cols = [f"w.{quote(c)}" for c in present if c != target]
    if target in types:
        cols.append(f"coalesce(l.__y, w.{qt}) AS {qt}")
    else:
        cols.append(f"l.__y AS {qt}")
    return (f"SELECT {', '.join(cols)} FROM ({sql}) w "
            f"LEFT JOIN ({labels_sql}) l ON CAST(w.{qk} AS VARCHAR) = CAST(l.__k AS VARCHAR)")


def reference_query(model: ModelConfig, ref: Relation, features: FeaturesConfig,
                    columns: Sequence[str] | None = None) -> tuple[str, list[str]]:
    """The SQL (DuckDB's dialect) of the reference's rows and the columns it returns: features
    checked and cast, the target mapped. One definition for every engine, as :func:`window_query`.

    Raises
    ------
    DataError
        Missing feature columns or unusable column types.
    """
    _check_features(ref.types, features, ref, model)
    wanted = list(columns) if columns is not None else window_columns(model, features)
    present = [c for c in wanted if c in ref.types]
    sql = f"SELECT {', '.join(_select_list(ref.types, present, features))} FROM {ref.sql}"
    if model.target in present:
        sql = _map_target(sql, model, present)
    return sql, present


def read_reference(model: ModelConfig, *, columns: Sequence[str] | None = None,
                   con: duckdb.DuckDBPyConnection | None = None) -> Table:
    """Read the reference (baseline) data of a model.

    The reference holds the features and the target, and the prediction when
    it was logged. Timestamps, when present, are converted to UTC.

    Raises
    ------
    DataError
        Missing or unreadable file, missing feature columns, or no rows.
    """
    con = con or connect()
    source, types, features, sql, fingerprint = reference_identity(model, columns=columns, con=con)
    try:
        rel = con.sql(sql)
    except duckdb.Error as exc:
        raise friendly_error(exc, source) from exc
    ts = model.timestamp if model.timestamp in types else None
    frame = _to_frame(rel, source, ts, features)
    if ts:
        frame = frame.sort_values(ts, kind="stable").reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source.where}: {source.path} has no rows")
    labelled = int(frame[model.target].notna().sum()) if model.target in frame.columns else 0
    return Table(frame=frame, fingerprint_of=fingerprint, source=source, labelled_rows=labelled,
                 features=features)


def reference_identity(model: ModelConfig, *, columns: Sequence[str] | None = None,
                       con: duckdb.DuckDBPyConnection | None = None):
    """(source, column types, features, SQL, fingerprint function) of a model's reference, without
    reading its rows (the fingerprint is one streaming pass when called)."""
    con = con or connect()
    source = resolve_source(model.reference, f"models.{model.name}.reference")
    ref = source_relation(source, con)
    features = model_features(model, con, reference_types=ref.types)
    sql, present = reference_query(model, ref, features, columns)

    def fingerprint() -> str:
        return _fingerprint(con, sql, present, "reference")

    return source, ref.types, features, sql, fingerprint


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def scan_profile(model: ModelConfig, start: dt.datetime, end: dt.datetime,
                 columns: Sequence[str] | None = None) -> dict:
    """Run a window read under DuckDB's profiler and report what the scan touched.

    Returns
    -------
    dict
        ``rows_scanned``, ``row_groups_scanned``, ``row_groups_total``,
        ``bytes_scanned``, ``rows`` of the result. Used by tests and benchmarks
        to show that the time filter and projection reach the parquet scan.
    """
    con = connect()
    source = resolve_source(model.logs, f"models.{model.name}.logs")
    types = describe(source, con)
    cols = list(columns) if columns else [model.timestamp]
    sql = (f"SELECT {', '.join(quote(c) for c in cols)} FROM {source.relation} "
           f"WHERE {time_filter(model.timestamp, types[model.timestamp], _utc(start), _utc(end))}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "profile.json")
        con.execute("PRAGMA enable_profiling='json'")
        con.execute(f"PRAGMA profiling_output={literal(out)}")
        rows = len(con.execute(sql).fetchall())
        con.execute("PRAGMA disable_profiling")
        with open(out) as fh:
            prof = json.load(fh)
    q = prof.get("query", prof)
    return {
        "rows": rows,
        "rows_scanned": int(q.get("total_rows_scanned", 0)),
        "row_groups_scanned": int(q.get("total_row_groups_scanned", 0)),
        "row_groups_total": int(q.get("total_row_groups_to_scan", 0)),
        "bytes_scanned": int(q.get("total_bytes_scanned", 0)),
    }


def combine_fingerprints(*parts: str) -> str:
    """One fingerprint for several (data, model, ...) fingerprints."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"sha256:{digest}"


def sample_rows(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn without replacement, order kept."""
    if len(frame) <= n:
        return frame
    idx = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[idx]


def window_types(source: Source, timestamp: str, start: dt.datetime, end: dt.datetime,
                 con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """Column types of only those files of a source that hold rows of ``[start, end)``.

    :func:`describe` unifies the types of every file of a source; a change in
    recent files (numbers written as strings, codes instead of labels) is hidden
    there or fails every window at once. Here the files are found from the
    timestamp column alone (a pushed-down scan) and described on their own.

    Returns
    -------
    dict
        Column name → DuckDB type; empty when no file holds rows of the window.

    Raises
    ------
    DataError
        When a file of the source cannot be read.
    """
    con = con or connect()
    types = describe(source, con)
    if timestamp not in types:
        return {}
    file_col = "__mlmon_file__"
    # The relation is one table-function call: add the option naming each row's file.
    relation = source.relation[:-1] + f", filename={literal(file_col)})"
    where = time_filter(timestamp, types[timestamp], _utc(start), _utc(end))
    try:
        files = [r[0] for r in con.execute(
            f"SELECT DISTINCT {quote(file_col)} FROM {relation} WHERE {where} ORDER BY 1").fetchall()]
    except duckdb.Error as exc:
        raise friendly_error(exc, source) from exc
    if not files:
        return {}
    return describe(Source(path=source.path, kind=source.kind, files=tuple(files), where=source.where), con)


def reference_stats(project: Project, model: ModelConfig,
                    con: duckdb.DuckDBPyConnection | None = None) -> tuple[int, str]:
    """Row count and fingerprint of the reference data, computed by DuckDB."""
    con = con or connect()
    source = resolve_source(model.reference, f"models.{model.name}.reference")
    types = describe(source, con)
    features = model_features(model, con)
    _check_features(types, features, source, model)
    present = [c for c in window_columns(model, features) if c in types]
    sql = f"SELECT {', '.join(_select_list(types, present, features))} FROM {source.relation}"
    try:
        n = con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
    except duckdb.Error as exc:
        raise friendly_error(exc, source) from exc
    if n == 0:
        raise DataError(f"{source.where}: {source.path} has no rows")
    if model.target in present:
        check_target(con, model, sql, source.where)
    try:
        return int(n), _fingerprint(con, _map_target(sql, model, present) if model.target in present else sql,
                                    present, "reference")
    except duckdb.Error as exc:
        raise friendly_error(exc, source) from exc
