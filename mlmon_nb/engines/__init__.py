"""Engines: where a window's aggregations and its bounded sample are computed.

DuckDB is the embedded default (no server; out of core). Apache Spark
(:mod:`mlmon_nb.engines.spark`, ``pip install "mlmon-nb[spark]"``) scans data beyond one machine.
Both run the same aggregation text, written once in DuckDB's SQL dialect (Spark gets it
transpiled with sqlglot), over the same window rows (:func:`mlmon_nb.data.window_query`)::

    engine = engine_for(project, "ctr-ranker")
    scan = engine.window("ctr-ranker", start, end, version="2")
    daily = scan.aggregate("SELECT CAST(date_trunc('day', ts) AS DATE) AS day, count(*) AS n, "
                           "avg(price) AS mean FROM window_rows WHERE price > $cut GROUP BY 1 ORDER BY 1", cut=0.0)
    rows = scan.sample(200_000, strata=["__day__", "clicked"], seed=0)
    engine.close()

``mlmon.yaml`` chooses the engine: ``engine: duckdb`` (default) or
``engine: {spark: {master: "local[2]"}}`` / ``{spark: {remote: "sc://host:15002"}}`` with an
optional ``conf``, at the top level and per model (``models.<m>.engine``).
"""

from __future__ import annotations

from ..config import ModelConfig, Project
from .base import DAY, WINDOW_ROWS, Engine, Scan, allocate, inline, sql_literal
from .duck import DuckDBEngine, DuckDBScan
from .spark import SparkEngine, SparkScan, transpile

__all__ = ["DAY", "WINDOW_ROWS", "DuckDBEngine", "DuckDBScan", "Engine", "Scan", "SparkEngine", "SparkScan",
           "allocate", "engine_for", "inline", "sql_literal", "transpile"]


def engine_for(project: Project, model: ModelConfig | str) -> Engine:
    """The engine a model's configuration names (``models.<m>.engine``, else the top-level
    ``engine``; DuckDB when neither is set).

    Raises
    ------
    ConfigError
        ``engine: spark`` without PySpark installed (naming the extra to install).
    """
    mcfg = model if isinstance(model, ModelConfig) else project.model(model)
    cfg = project.engine_of(mcfg.name)
    if cfg.name == "spark":
        return SparkEngine(project, cfg)
    return DuckDBEngine(project)
