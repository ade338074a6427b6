"""Checks of a project's inputs that need no notebook, no kernel and no pandas: what
``mlmon run`` and ``mlmon baseline`` verify before they start a kernel, and the core of
``mlmon check`` (which adds the model files, :func:`mlmon_nb.onboard.check`).

One implementation for the three commands: the project file, the files it names, every
configured column of the reference and the logs (present, of a usable type), the labels file,
the logs' rows and time span, the reference minimum (:data:`MIN_REFERENCE_ROWS`, and how many
chunks a reference gives: :func:`chunk_count`, which the baseline fit uses too) and what a model
file shows without loading it. Column names and types come from DuckDB's ``DESCRIBE`` (a parquet
file's footer, a CSV file's first rows), counts from parquet metadata: a typo answers in a few
tenths of a second. Each problem is an :class:`~mlmon_nb.errors.MlmonError` whose one-line
message names the file, key or column; ``run`` and ``baseline`` raise the first (exit 2, nothing
written), ``check`` prints them all.

The DuckDB type rules repeat :mod:`mlmon_nb.data`'s (which imports pandas); tests/test_preflight.py
checks that both classify every type alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import duckdb

from . import sparkenv
from .config import CatalogTable, FeaturesConfig, ModelConfig, Project, VersionConfig, load_project
from .errors import ConfigError, DataError, MlmonError, ModelError
from .sources import Source, connect, describe, friendly_error, literal, quote, resolve_source
from .yamlschema import display

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- the reference minimum

PREFERRED_CHUNK_ROWS = 500
"""Rows of a chunk when the reference is large enough (5,000 rows: 10 chunks of 500; 10,000: 20)."""
FULL_CHUNKS = 10
"""Chunks a reference of at least ``FULL_CHUNKS * MIN_CHUNK_ROWS`` (3,000) rows always gets."""
MIN_CHUNK_ROWS = 300
"""Fewest rows of a chunk: 30 values in each of the 10 decile bins of PSI and Jensen-Shannon (the
30 a window chunk needs for a statistic), and 20 positives and 20 negatives for a binary model's
performance figures at a positive rate of 7 % (``metrics.MIN_POSITIVES_PER_CHUNK``)."""
MIN_CHUNKS = 8
"""Fewest chunks. A band needs 3 finite chunk values, and its sd is estimated from the chunks: from
k values, a healthy chunk-sized window falls outside mean ± 3 sd about 2.6 % of the time at k = 8
(Student's t with k - 1 degrees of freedom), 1.9 % at 10 and 0.9 % at 20, but 5.2 % at 5. Eight
is also the fewest chunks a trend is looked for in."""
MIN_REFERENCE_ROWS = MIN_CHUNKS * MIN_CHUNK_ROWS
"""Smallest reference a baseline is fitted from: 2,400 rows (8 chunks of 300)."""


def chunk_count(rows: int, wanted: int = 20) -> tuple[int, list[str]]:
    """How many chunks a reference of ``rows`` rows is cut into, and what the baseline notes about it.

    Chunks of :data:`PREFERRED_CHUNK_ROWS` rows (at most ``wanted``, at least
    :data:`FULL_CHUNKS`); a smaller reference gets as many chunks of at least
    :data:`MIN_CHUNK_ROWS` rows as it holds, down to :data:`MIN_CHUNKS`.

    Parameters
    ----------
    rows : int
        Rows of the reference (or of the logs' window a baseline is fitted from).
    wanted : int
        Chunks asked for (``baseline.chunks`` in mlmon.yaml, 20 by default).

    Returns
    -------
    (int, list of str)
        The number of chunks, and a note when a reference smaller than 5,000 rows
        (``FULL_CHUNKS * PREFERRED_CHUNK_ROWS``, the minimum before) gives fewer than ``wanted``.

    Raises
    ------
    DataError
        Below :data:`MIN_REFERENCE_ROWS` rows, naming the rows found and needed.

    Examples
    --------
    >>> chunk_count(10_000)
    (20, [])
    >>> chunk_count(7_000)
    (14, [])
    >>> chunk_count(2_400)[0]
    8
    >>> print(chunk_count(2_400)[1][0])
    Reference has 2,400 rows: 8 chunks of 300 rows instead of 20; each band rests on 8 chunk values, so its width is less certain (expect more false alarms; 10,000 rows give 20 chunks of 500).
    """
    if rows < MIN_REFERENCE_ROWS:
        raise DataError(f"reference has {rows:,} rows: at least {MIN_REFERENCE_ROWS:,} are needed ({MIN_CHUNKS} "
                        f"chunks of {MIN_CHUNK_ROWS} rows) to learn how much each figure naturally varies")
    n = min(wanted, max(min(FULL_CHUNKS, rows // MIN_CHUNK_ROWS), rows // PREFERRED_CHUNK_ROWS))
    notes = []
    if n < wanted and rows < FULL_CHUNKS * PREFERRED_CHUNK_ROWS:
        notes.append(f"Reference has {rows:,} rows: {n} chunks of {rows // n:,} rows instead of {wanted}; each band "
                     f"rests on {n} chunk values, so its width is less certain (expect more false alarms; "
                     f"{wanted * PREFERRED_CHUNK_ROWS:,} rows give {wanted} chunks of {PREFERRED_CHUNK_ROWS}).")
    return n, notes


# --------------------------------------------------------------------------- DuckDB types (as mlmon_nb.data)

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "BOOLEAN")
CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN", "ENUM", "TINYINT", "SMALLINT", "INTEGER", "BIGINT")


def is_numeric(dtype: str) -> bool:
    """Whether a DuckDB type is read as a number."""
    return dtype.upper().split("(")[0] in NUMERIC_TYPES


def is_timestamp(dtype: str) -> bool:
    """Whether a DuckDB type is a date or time."""
    return dtype.upper().startswith(("TIMESTAMP", "DATE"))


def is_text(dtype: str) -> bool:
    return dtype.upper().startswith(("VARCHAR", "ENUM"))


def infer_features(columns: dict[str, str], exclude: Iterable[str]) -> FeaturesConfig:
    """Features of a source as :func:`mlmon_nb.data.infer_features` infers them (numbers numeric,
    text and booleans categorical; the configured non-feature columns and timestamps left out)."""
    skip = {c for c in exclude if c}
    numeric, categorical = [], []
    for name, dtype in columns.items():
        if name in skip or is_timestamp(dtype):
            continue
        if is_text(dtype) or dtype.upper() == "BOOLEAN":
            categorical.append(name)
        elif is_numeric(dtype):
            numeric.append(name)
    return FeaturesConfig(numeric=tuple(numeric), categorical=tuple(categorical))


def non_feature_columns(model: ModelConfig) -> list[str]:
    """Columns the configuration names that are not model inputs (as :mod:`mlmon_nb.data`)."""
    cols = [model.timestamp, model.prediction, model.target, model.version_column]
    if model.labels:
        cols.append(model.labels.key)
    if model.operational:
        cols += [model.operational.latency_ms, model.operational.request_id, model.operational.error]
    if model.feedback:
        fb = model.feedback
        cols += [fb.user, fb.item, fb.exposed, fb.outcome, fb.training_provenance]
    return [c for c in cols if c]


# --------------------------------------------------------------------------- the checks


@dataclass
class Report:
    """What the checks found: problems (each an error that stops a command), warnings, facts."""

    problems: list[MlmonError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, error: MlmonError) -> None:
        if str(error) not in {str(p) for p in self.problems}:
            self.problems.append(error)

    def raise_first(self) -> None:
        """Raise the first problem (``mlmon run``/``baseline``: one line, exit 2)."""
        if self.problems:
            raise self.problems[0]


@dataclass(frozen=True)
class Table:
    """A source and its columns' DuckDB types."""

    source: Source
    types: dict[str, str]

    def has(self, column: str | None) -> bool:
        return bool(column) and column in self.types

    def rows(self, con: duckdb.DuckDBPyConnection, where_sql: str = "") -> int:
        try:
            return int(con.execute(f"SELECT count(*) FROM {self.source.relation} {where_sql}").fetchall()[0][0])
        except duckdb.Error as exc:
            raise friendly_error(exc, self.source) from exc


def open_table(path, where: str, con: duckdb.DuckDBPyConnection) -> Table:
    """Resolve a source and read its column types.

    Raises
    ------
    DataError
        Nothing readable there, or a file DuckDB cannot read.
    """
    source = resolve_source(path, where)
    return Table(source, describe(source, con))


@dataclass
class Inputs:
    """A model's sources as checked: ``None`` where a source could not be opened or was not needed."""

    model: ModelConfig
    features: FeaturesConfig
    reference: Table | None = None
    logs: Table | None = None


PURPOSES = ("check", "run", "baseline")


def check_project(path, model: str | None = None, version: str | None = None, *, purpose: str = "check",
                  window: tuple[dt.datetime, dt.datetime] | None = None,
                  con: duckdb.DuckDBPyConnection | None = None) -> tuple[Report, Project | None, list[Inputs]]:
    """Check a project file and the inputs of its models (every one, or ``model``/``version``).

    Parameters
    ----------
    path : str or Path
        The project file.
    model, version : str, optional
        Only this model (and version); every model and version when omitted.
    purpose : {"check", "run", "baseline"}
        What the inputs are about to be used for: ``run`` checks the columns a window run reads;
        ``baseline`` the reference's and its minimum (or, with ``window``, the rows of that
        window of the logs); ``check`` all of it plus the logs' time span and optional columns.
    window : (datetime, datetime), optional
        ``mlmon baseline -w``: the baseline is fitted from this window of the logs.

    Returns
    -------
    (Report, Project or None, list of Inputs)
        The findings, the loaded project (None when the file is invalid: that is then the only
        problem) and the opened sources of each model checked.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    report = Report()
    try:
        project = load_project(path)
        names = [project.model(model).name] if model is not None else list(project.models)
        if version is not None:
            project.version(names[0], version)
    except ConfigError as exc:
        report.problem(exc)
        return report, None, []
    con = con or connect()
    checked = []
    for name in names:
        mcfg = project.model(name)
        versions = [version] if version is not None else list(mcfg.versions)
        engine = sparkenv.problem(project.engine_of(name), display(project.path))
        if engine is not None:  # nothing else can be checked the way the runs will read the data
            report.problem(engine)
            continue
        try:
            checked.append(_check_model(project, mcfg, versions, report, con, purpose, window))
        except MlmonError as exc:  # a file DuckDB cannot read stops this model's checks
            report.problem(exc)
    return report, project, checked


def require(project_path, model: str, version: str, purpose: str,
            window: tuple[dt.datetime, dt.datetime] | None = None) -> Report:
    """The checks ``mlmon run``/``mlmon baseline`` make before they start a kernel.

    Raises
    ------
    MlmonError
        The first problem found (exit 2, nothing written).
    """
    report = check_project(project_path, model, version, purpose=purpose, window=window)[0]
    report.raise_first()
    return report


def _open(path, where: str, con, report: Report) -> Table | None:
    try:
        return open_table(path, where, con)
    except DataError as exc:
        report.problem(exc)
        return None


def _check_model(project: Project, mcfg: ModelConfig, versions: Sequence[str], report: Report, con,
                 purpose: str, window) -> Inputs:
    key = f"models.{mcfg.name}"
    ref = _open(mcfg.reference, f"{key}.reference", con, report)
    needs_logs = purpose != "baseline" or window is not None or mcfg.baseline.window is not None
    if not isinstance(mcfg.logs, Path):  # a catalog table or a URI: only Spark reads it
        logs = _spark_table(project, mcfg, report) if needs_logs and isinstance(mcfg.logs, CatalogTable) else None
        if needs_logs and logs is None and not isinstance(mcfg.logs, CatalogTable) and purpose == "check":
            report.facts.append(f"{mcfg.name}: logs {mcfg.logs}: read by Spark, not checked here")
    else:
        logs = _open(mcfg.logs, f"{key}.logs", con, report) if needs_logs else None
    features = mcfg.features
    inferred = not (features.numeric or features.categorical)
    if inferred and ref is not None:
        features = infer_features(ref.types, non_feature_columns(mcfg))
        if not (features.numeric or features.categorical):
            report.problem(DataError(f"{key}.reference: {ref.source.path} has no column usable as a feature (numbers, "
                                     f"text or booleans besides the timestamp, prediction and target)"))
    for table in (ref, logs):
        if table is not None:
            for group in ("numeric", "categorical"):
                for name in getattr(features, group):
                    bad = feature_problem(table, name, group, mcfg)
                    if bad is not None:
                        report.problem(bad)
    if logs is not None:
        # A catalog table's rows are Spark's to count: its columns are checked, not its time span.
        _check_logs(logs, mcfg, report, con, purpose if logs.source.kind != "table" else "run", versions)
    if ref is not None and purpose != "run":  # a window run reads the reference's features only
        _check_reference(ref, mcfg, versions, report, con, from_window=window is not None)
    if window is not None and logs is not None and logs.has(mcfg.timestamp) and logs.source.kind != "table":
        cond = [_time_filter(mcfg.timestamp, *window)]
        if mcfg.version_column and logs.has(mcfg.version_column):
            cond.append(f"CAST({quote(mcfg.version_column)} AS VARCHAR) = {literal(versions[0])}")
        _check_minimum(logs.rows(con, "WHERE " + " AND ".join(cond)), f"{key}.logs",
                       f"the window {window[0].isoformat()}/{window[1].isoformat()} of {logs.source.path}",
                       mcfg, report)
    if mcfg.thresholds.features:
        monitored = [*features.numeric, *features.categorical, mcfg.prediction, mcfg.target]
        try:
            mcfg.thresholds.check_features(monitored, where=f"{project.path.name}: {key}.thresholds")
        except ConfigError as exc:
            report.problem(exc)
    if purpose == "check":
        for name in versions:
            bad = model_file_problem(mcfg, mcfg.versions[name])
            if bad is not None:
                report.problem(bad)
        report.facts.append(f"{mcfg.name}: features: {len(features.numeric)} numeric, {len(features.categorical)} "
                            f"categorical" + (" (inferred from the reference)" if inferred else ""))
    return Inputs(model=mcfg, features=features, reference=ref, logs=logs)


def _spark_table(project: Project, mcfg: ModelConfig, report: Report) -> Table | None:
    """The columns of a catalog table, asked of the model's Spark engine (which starts its session:
    a JVM start for a local master, one round trip for Spark Connect).

    A missing table, or a session that cannot start, is a problem naming ``models.<m>.logs``.
    """
    cfg, name, where = project.engine_of(mcfg.name), mcfg.logs.name, f"models.{mcfg.name}.logs"
    try:
        spark = sparkenv.session(cfg)
        if not spark.catalog.tableExists(name):
            report.problem(DataError(f"{where}: catalog table {name} not found (engine {cfg.shown})"))
            return None
        fields = spark.table(name).schema.fields
    except MlmonError as exc:
        report.problem(exc)
        return None
    except Exception as exc:  # noqa: BLE001 (Py4J, gRPC and Spark's own errors alike)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        report.problem(DataError(f"{where}: engine {cfg.shown} could not look up catalog table {name} ({first})"))
        return None
    types = {f.name: sparkenv.duckdb_type(f.dataType.simpleString()) for f in fields}
    return Table(Source(path=Path(name), kind="table", files=(), where=where), types)


def feature_problem(table: Table, name: str, group: str, mcfg: ModelConfig) -> DataError | None:
    """A feature column missing from a source, or of a type its group cannot read (the messages of
    :mod:`mlmon_nb.data`, which raises the same when it reads the rows)."""
    where, path = table.source.where, table.source.path
    if name not in table.types:
        known = ", ".join(list(table.types)[:30])
        return DataError(f"{where}: column {name!r} (models.{mcfg.name}.features.{group}) not found in {path}; "
                         f"columns are: {known}")
    dtype = table.types[name]
    if dtype.strip('"').upper() == "NULL":
        return None  # every value missing: reported as all missing, not as a type
    if group == "numeric" and not is_numeric(dtype):
        return DataError(f"{where}: column {name!r} (models.{mcfg.name}.features.numeric) is {dtype} in {path}; "
                         f"expected a number")
    if group == "categorical" and dtype.upper().split("(")[0] not in CATEGORICAL_TYPES:
        return DataError(f"{where}: column {name!r} (models.{mcfg.name}.features.categorical) is {dtype} in "
                         f"{path}; expected a string, boolean or integer")
    return None


def _timestamp_problem(table: Table, mcfg: ModelConfig) -> DataError | None:
    dtype = table.types[mcfg.timestamp]
    if is_timestamp(dtype) or dtype.upper().startswith("VARCHAR"):
        return None
    return DataError(f"{table.source.where}: timestamp column {mcfg.timestamp!r} (models.{mcfg.name}.timestamp) "
                     f"is {dtype} in {table.source.path}; expected a timestamp")


def _time_filter(ts: str, start: dt.datetime, end: dt.datetime) -> str:
    col = f"CAST({quote(ts)} AS TIMESTAMPTZ)"  # naive times are UTC (the connection's time zone)
    return f"{col} >= TIMESTAMPTZ {literal(start.isoformat())} AND {col} < TIMESTAMPTZ {literal(end.isoformat())}"


def _check_logs(logs: Table, mcfg: ModelConfig, report: Report, con, purpose: str, versions: Sequence[str]) -> None:
    where, key, path = logs.source.where, f"models.{mcfg.name}", logs.source.path
    if not logs.has(mcfg.timestamp):
        report.problem(DataError(f"{where}: timestamp column {mcfg.timestamp!r} ({key}.timestamp) not found in "
                                 f"{path}"))
    elif (bad := _timestamp_problem(logs, mcfg)) is not None:
        report.problem(bad)
    if not logs.has(mcfg.prediction):
        report.problem(DataError(f"{where}: prediction column {mcfg.prediction!r} ({key}.prediction) not found in "
                                 f"{path}"))
    elif mcfg.task != "multiclass_classification" and not is_numeric(logs.types[mcfg.prediction]):
        report.problem(DataError(f"{where}: prediction column {mcfg.prediction!r} ({key}.prediction) is "
                                 f"{logs.types[mcfg.prediction]} in {path}; expected a number"))
    if mcfg.version_column and not logs.has(mcfg.version_column):
        report.problem(DataError(f"{where}: version column {mcfg.version_column!r} ({key}.version_column) not "
                                 f"found in {path}"))
    if mcfg.labels is not None:
        _check_labels(logs, mcfg, report, con)
    elif not logs.has(mcfg.target) and purpose == "check":
        report.warnings.append(f"{where}: no target column {mcfg.target!r} in {path} and no 'labels' block: "
                               f"concept_drift can estimate performance but not measure it")
    if purpose != "check":
        return
    optional = [(f"operational.{k}", getattr(mcfg.operational, k)) for k in ("latency_ms", "request_id", "error")
                if mcfg.operational] + \
               [(f"feedback.{k}", getattr(mcfg.feedback, k)) for k in ("user", "item", "exposed", "outcome")
                if mcfg.feedback] + [("segments", s) for s in mcfg.segments]
    for what, column in optional:
        if column and not logs.has(column) and column != mcfg.target:
            report.warnings.append(f"{where}: column {column!r} ({key}.{what}) not found in {path}; "
                                   f"the notebooks that use it say what they skipped")
    if logs.has(mcfg.timestamp) and _timestamp_problem(logs, mcfg) is None:
        _logs_span(logs, mcfg, report, con, versions)


def _logs_span(logs: Table, mcfg: ModelConfig, report: Report, con, versions: Sequence[str]) -> None:
    ts = quote(mcfg.timestamp)
    col = ts if is_timestamp(logs.types[mcfg.timestamp]) else f"CAST({ts} AS TIMESTAMPTZ)"
    try:
        n, first, last = con.execute(f"SELECT count(*), min({col}), max({col}) FROM {logs.source.relation}"
                                     ).fetchall()[0]
    except duckdb.Error as exc:
        report.problem(friendly_error(exc, logs.source))
        return
    if not n:
        report.problem(DataError(f"{logs.source.where}: {logs.source.path} has no rows: there is no window to run"))
        return
    report.facts.append(f"{mcfg.name}: logs {logs.source.path}: {n:,} rows from {_when(first)} to {_when(last)}")
    if mcfg.version_column and logs.has(mcfg.version_column):
        for name in versions:
            if not logs.rows(con, f"WHERE CAST({quote(mcfg.version_column)} AS VARCHAR) = {literal(name)}"):
                report.warnings.append(f"{logs.source.where}: no rows served by version {name!r} "
                                       f"({mcfg.version_column} = {name!r}): its windows will be empty")


def _when(value) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _check_labels(logs: Table, mcfg: ModelConfig, report: Report, con) -> None:
    key = f"models.{mcfg.name}"
    labels = _open(mcfg.labels.path, f"{key}.labels.path", con, report)
    if labels is not None:
        for column, what in ((mcfg.labels.key, "labels.key"), (mcfg.target, "target")):
            if not labels.has(column):
                report.problem(DataError(f"{labels.source.where}: column {column!r} ({key}.{what}) not found in "
                                         f"{labels.source.path}; columns are: {', '.join(labels.types)}"))
    if not logs.has(mcfg.labels.key):
        report.problem(DataError(f"{key}.logs: label key {mcfg.labels.key!r} ({key}.labels.key) not found in the "
                                 f"logs"))


def _check_reference(ref: Table, mcfg: ModelConfig, versions: Sequence[str], report: Report, con,
                     from_window: bool) -> None:
    key, where, path = f"models.{mcfg.name}", ref.source.where, ref.source.path
    if not ref.has(mcfg.timestamp):
        report.facts.append(f"{mcfg.name}: the reference has no {mcfg.timestamp!r} column: its chunks follow "
                            f"the rows' order")
    elif (bad := _timestamp_problem(ref, mcfg)) is not None:
        report.problem(bad)
    if mcfg.task == "multiclass_classification":
        for name in versions:
            if mcfg.versions[name].model is None:
                report.problem(ModelError(
                    f"{key}.versions.{name}.model: a multiclass_classification version needs its model file: the "
                    f"baseline and the windows use every class probability, which a prediction column does not hold"))
    elif not ref.has(mcfg.prediction):
        for name in versions:
            if mcfg.versions[name].model is None:
                report.problem(DataError(
                    f"{where}: version {name!r} has no model file ({key}.versions.{name}.model) and {path} has no "
                    f"prediction column {mcfg.prediction!r}: the version's predictions on the reference are "
                    f"unknown; add the column or a model file"))
    if not ref.has(mcfg.target):
        report.warnings.append(f"{where}: no target column {mcfg.target!r} ({key}.target) in {path}: the baseline "
                               f"skips performance, calibration and the label distribution")
    elif mcfg.task == "regression" and not is_numeric(ref.types[mcfg.target]):
        report.problem(DataError(f"{where}: target column {mcfg.target!r} ({key}.target) is "
                                 f"{ref.types[mcfg.target]} in {path}; a regression target is a number"))
    if not from_window:  # a baseline fitted from a window of the logs is counted there
        _check_minimum(ref.rows(con), where, str(path), mcfg, report)


def _check_minimum(rows: int, where: str, what: str, mcfg: ModelConfig, report: Report) -> None:
    """The reference minimum, and the chunks it gives (the rule of :func:`chunk_count`)."""
    if rows == 0:
        report.problem(DataError(f"{where}: {what} has no rows"))
        return
    try:
        n, notes = chunk_count(rows, mcfg.baseline.chunks)
    except DataError as exc:
        report.problem(DataError(f"{where}: {what}: {exc}; add rows (a small data set can be resampled)"))
        return
    report.warnings.extend(f"{where}: {note}" for note in notes)
    report.facts.append(f"{mcfg.name}: reference {what}: {rows:,} rows, {n} chunks of {rows // n:,} "
                        f"(at least {MIN_REFERENCE_ROWS:,} rows needed)")


PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def model_file_problem(mcfg: ModelConfig, vcfg: VersionConfig) -> ModelError | None:
    """What is wrong with a version's model file that shows without loading it (nothing imported).

    A missing file, a ``.skops`` file that is not a skops archive, a pickle without
    ``trusted: true`` or an unknown suffix (the messages of :func:`mlmon_nb.models.load_model`).
    """
    if vcfg.model is None:
        return None
    where = f"models.{mcfg.name}.versions.{vcfg.name}.model"
    path = Path(vcfg.model)
    if not path.is_file():
        return ModelError(f"{where}: model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        try:
            with zipfile.ZipFile(path) as archive:
                if "schema.json" in archive.namelist():
                    return None
        except (zipfile.BadZipFile, OSError):
            pass
        return ModelError(f"{where}: {path} is not a readable skops file (not a skops archive)")
    if suffix in PICKLE_SUFFIXES:
        if vcfg.trusted:
            return None
        return ModelError(f"{where}: {path.name} is a pickle, which can run arbitrary code when loaded; refusing it "
                          f"without 'trusted: true' in the version entry (or save it with skops)")
    return ModelError(f"{where}: {path.name}: expected a .skops, .joblib or .pkl file")
