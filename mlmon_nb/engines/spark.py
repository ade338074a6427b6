"""Apache Spark as an engine, for data beyond one machine (``pip install "mlmon-nb[spark]"``).

Spark reads the logs (parquet/CSV files, hive-partitioned folders, a URI such as ``s3a://...``,
or a catalog table) and the labels where they live; the window's rows are the same SQL as
DuckDB's (:func:`mlmon_nb.data.window_query`) over views registered for them, and every
aggregation is the same text too: written once in DuckDB's dialect, transpiled with sqlglot
(``read="duckdb", write="spark"``). Only aggregation results and the bounded sample come back to
the driver, as Arrow.

Two settings make the same text run faster on Spark (10M rows, local[2]: data_drift 798 s → 327 s;
bench/RESULTS.md):

* a query that reads the window's rows at least :data:`PERSIST_READS` times (the data-drift summary:
  one ``UNION ALL`` branch per feature) first persists them (:data:`PERSIST_LEVEL`), so the files
  are read and filtered once per scan rather than once per branch; later queries of the scan (the
  sample) read the persisted rows too, and they are released when the scan or the engine closes;
* ``spark.sql.codegen.hugeMethodLimit`` is 8000 unless the session sets it: a whole-stage method
  larger than that (a feature's long ``CASE`` chain of heavy atoms) is never compiled by HotSpot's
  JIT and runs interpreted, so Spark is told to split such a stage instead (the value Spark's own
  documentation suggests on HotSpot).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import re
from typing import Sequence

import pyarrow as pa

from .. import sparkenv
from ..sparkenv import duckdb_type
from ..config import CatalogTable, EngineConfig, FeaturesConfig, ModelConfig, Project
from ..data import Relation, model_features, reference_query, window_query
from ..errors import DataError
from ..sources import kind_of, quote, resolve_source
from .base import WINDOW_ROWS, Engine, Scan, inline
from . import scoring

logger = logging.getLogger(__name__)

_VIEWS = itertools.count(1)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_READS = re.compile(r"\bFROM\s+window_rows\b", re.IGNORECASE)

PERSIST_READS = 8
"""A query reading the window's rows this many times or more persists them first (at 10M rows one
read costs about as much as a seventh of persisting them, measured on local[2])."""
PERSIST_LEVEL = "DISK_ONLY"
"""Where persisted rows are kept (a ``pyspark.StorageLevel`` name): on the executors' local disks.
``MEMORY_AND_DISK`` ran out of local mode's default 1 GiB heap at 10M rows × 28 columns."""
HUGE_METHOD = ("spark.sql.codegen.hugeMethodLimit", "8000")
"""Set on the session unless already set there (see the module's docstring)."""

@functools.lru_cache(maxsize=512)
def transpile(sql: str, view: str | None = None) -> str:
    """DuckDB SQL as Spark SQL (sqlglot), ``window_rows`` renamed to ``view`` when given.

    Raises
    ------
    sqlglot.errors.ParseError, sqlglot.errors.UnsupportedError
        Text sqlglot cannot read, or a construct it cannot write for Spark.

    Examples
    --------
    >>> transpile("SELECT CAST(x AS VARCHAR) AS s, count(*) FILTER (WHERE y > 1) AS n FROM window_rows", "v1")
    'SELECT CAST(x AS STRING) AS s, COUNT(*) FILTER(WHERE y > 1) AS n FROM v1'
    """
    import sqlglot  # noqa: the spark extra, imported only when engine is spark
    from sqlglot import exp  # noqa: as above

    tree = sqlglot.parse_one(sql, read="duckdb")
    if view is not None:
        for table in tree.find_all(exp.Table):
            if table.name == WINDOW_ROWS and not table.db:
                table.set("this", exp.to_identifier(view))
    return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


class SparkScan(Scan):
    """A window or the reference as a Spark DataFrame registered as a temporary view."""

    engine = "spark"

    def __init__(self, engine: "SparkEngine", frame, *, timestamp: str | None, features: FeaturesConfig,
                 where: str, path: str):
        self._engine = engine
        self._frame = frame
        self._persisted = bool(getattr(frame, "is_cached", False))  # a scored scan's rows already are
        self.view = engine._register(frame)
        columns = {f.name: duckdb_type(f.dataType.simpleString()) for f in frame.schema.fields}
        super().__init__(columns=columns, timestamp=timestamp, features=features,
                         relation=Relation(sql=quote(self.view), types=columns, where=where, path=path))

    def transpiled(self, sql: str, **params) -> str:
        """The Spark SQL an :meth:`aggregate` call runs (for logs and tests)."""
        return transpile(inline(sql, params), self.view)

    def _execute(self, sql: str) -> pa.Table:
        if not self._persisted and len(_READS.findall(sql)) >= PERSIST_READS:
            self._persist()
        context = _context(self._engine.spark)
        if context is None:
            return self._engine.spark.sql(transpile(sql, self.view)).toArrow()
        # The query's jobs carry this scan's group, so that its progress can be told from others'.
        context.setJobGroup(self._group, f"mlmon {self.view}", interruptOnCancel=True)
        try:
            return self._engine.spark.sql(transpile(sql, self.view)).toArrow()
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)

    def _persist(self) -> None:
        """Persist the scan's rows (:data:`PERSIST_LEVEL`; materialised by the query that asked), released
        on :meth:`close` and by the engine's close."""
        from pyspark import StorageLevel  # noqa: the spark extra, present when the scan is a Spark one

        frame = self._frame
        frame.persist(getattr(StorageLevel, PERSIST_LEVEL))
        self._persisted = True
        logger.info("persisting the rows of %s (%s): the next query reads them several times",
                    self.view, PERSIST_LEVEL)

        def release() -> None:
            try:
                frame.unpersist()
            except Exception:  # noqa: BLE001 (a stopped session holds nothing any more)
                logger.debug("could not unpersist %s", self.view)

        self.on_close(release)
        self._engine._persisted.append(self)

    @property
    def _group(self) -> str:
        return f"mlmon-{self.view}"

    def _scanned_share(self) -> float | None:
        """Finished tasks over the tasks of the stages started so far (Spark Connect: unknown)."""
        context = _context(self._engine.spark)
        if context is None:
            return None
        tracker = context.statusTracker()
        done = total = 0
        for job in tracker.getJobIdsForGroup(self._group):
            info = tracker.getJobInfo(job)
            for stage in (info.stageIds if info else ()):
                st = tracker.getStageInfo(stage)
                if st is not None:
                    done, total = done + st.numCompletedTasks, total + st.numTasks
        return done / total if total else None

    def _scored(self, model, **how) -> "SparkScan":
        """Rows scored on the executors with ``mapInPandas`` (:func:`scoring.spark_scored`)."""
        return scoring.spark_scored(self, model, **how)


def _context(spark):
    """The session's SparkContext, or None through Spark Connect (which has none)."""
    try:
        return spark.sparkContext
    except Exception:  # noqa: BLE001 (Spark Connect raises its own not-implemented error)
        return None


class SparkEngine(Engine):
    """Scans through the process's SparkSession (:func:`mlmon_nb.sparkenv.session`).

    Parameters
    ----------
    project : Project, optional
        Resolves model names given as strings.
    cfg : EngineConfig, optional
        Master or Spark Connect URL and settings; what ``spark-submit`` set when omitted.
    spark : SparkSession, optional
        A session to use instead of the process's (e.g. a notebook's own).
    """

    name = "spark"

    def __init__(self, project: Project | None = None, cfg: EngineConfig | None = None, *, spark=None):
        self.project = project
        self.cfg = cfg or EngineConfig(name="spark")
        self.spark = spark if spark is not None else sparkenv.session(self.cfg)
        self._views: list[str] = []
        self._persisted: list[SparkScan] = []
        key, value = HUGE_METHOD
        try:
            if self.spark.conf.get(key, None) is None:
                self.spark.conf.set(key, value)
        except Exception:  # noqa: BLE001 (a server that refuses the setting runs the queries as they are)
            logger.debug("could not set %s on the session", key)

    def __repr__(self) -> str:
        return f"<SparkEngine {self.cfg.shown}>"

    def _register(self, frame) -> str:
        view = f"mlmon_{next(_VIEWS)}"
        frame.createOrReplaceTempView(view)
        self._views.append(view)
        return view

    def read(self, location, where: str):
        """A Spark DataFrame of a source: a catalog table, a URI, or local files as DuckDB reads them.

        Raises
        ------
        DataError
            A catalog table that does not exist, files that are missing or unreadable.
        """
        if isinstance(location, CatalogTable):
            if not self.spark.catalog.tableExists(location.name):
                raise DataError(f"{where}: catalog table {location.name} not found (engine {self.cfg.shown})")
            return self.spark.table(location.name)
        text = str(location)
        if _URI.match(text):
            kind, paths, hive = kind_of(text.rstrip("/")) or "parquet", [text], True
        else:
            source = resolve_source(location, where)  # the same checks and messages as DuckDB's
            kind, hive = source.kind, source.hive
            paths = [str(source.path)] if source.path.is_dir() or len(source.files) == 1 else list(source.files)
        reader = self.spark.read
        if not hive:  # a folder named like a column never replaces the files' values
            reader = reader.option("recursiveFileLookup", "true")
        try:
            if kind == "csv":
                return reader.csv(paths, header=True, inferSchema=True)
            return reader.option("mergeSchema", "true").parquet(*paths)
        except Exception as exc:  # noqa: BLE001 (Spark's AnalysisException and Py4J errors alike)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            hint = ("; Spark reads no nanosecond timestamps (pandas' default): write the files with "
                    "to_parquet(..., coerce_timestamps='us', allow_truncated_timestamps=True)"
                    if "TIMESTAMP(NANOS" in str(exc) else "")
            raise DataError(f"{where}: {text} could not be read by Spark ({first}){hint}") from exc

    def _relation(self, location, where: str) -> Relation:
        frame = self.read(location, where)
        view = self._register(frame)
        types = {f.name: duckdb_type(f.dataType.simpleString()) for f in frame.schema.fields}
        return Relation(sql=quote(view), types=types, where=where, path=str(location))

    def _features(self, mcfg: ModelConfig) -> FeaturesConfig:
        if mcfg.features.numeric or mcfg.features.categorical:
            return mcfg.features
        ref = self.read(mcfg.reference, f"models.{mcfg.name}.reference")
        types = {f.name: duckdb_type(f.dataType.simpleString()) for f in ref.schema.fields}
        return model_features(mcfg, reference_types=types)

    def window(self, model, start: dt.datetime, end: dt.datetime, *, version: str | None = None,
               columns: Sequence[str] | None = None, labels: bool = True) -> SparkScan:
        mcfg = self._model(model)
        logs = self._relation(mcfg.logs, f"models.{mcfg.name}.logs")
        label_rel = None
        if labels and mcfg.labels:
            label_rel = self._relation(mcfg.labels.path, f"models.{mcfg.name}.labels.path")
        features = self._features(mcfg)
        q = window_query(mcfg, start, end, version, columns, logs=logs, labels=label_rel, features=features)
        frame = self.spark.sql(transpile(q.sql))
        return SparkScan(self, frame, timestamp=mcfg.timestamp, features=features, where=logs.where, path=logs.path)

    def reference(self, model, *, columns: Sequence[str] | None = None) -> SparkScan:
        mcfg = self._model(model)
        ref = self._relation(mcfg.reference, f"models.{mcfg.name}.reference")
        features = model_features(mcfg, reference_types=ref.types)
        sql, _ = reference_query(mcfg, ref, features, columns)
        frame = self.spark.sql(transpile(sql))
        return SparkScan(self, frame, timestamp=mcfg.timestamp, features=features, where=ref.where, path=ref.path)

    def close(self) -> None:
        """Release persisted rows and drop the engine's views; the session stays for the process (a JVM
        start costs seconds)."""
        for scan in self._persisted:
            scan.close()
        self._persisted = []
        for view in self._views:
            try:
                self.spark.catalog.dropTempView(view)
            except Exception:  # noqa: BLE001 (a stopped session has no views left to drop)
                logger.debug("could not drop view %s", view)
        self._views = []
