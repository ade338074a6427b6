"""The project file ``mlmon.yaml``: schema, loading and validation.

See INTERFACE.md section 1. Paths inside the file are relative to the file
itself and are resolved to absolute paths on load. Unknown keys are errors.
Every error message names the file, the key path (``models.ctr-ranker.task``),
what was expected and what was found, on one line::

    mlmon.yaml: models.ctr-ranker.task: expected one of binary_classification,
    multiclass_classification, regression, got string ('binary')

Validation is table-driven: each block of the file is described by a small
schema (``_MODEL``, ``_VERSION``, ...) mapping its keys to a checker that
validates and converts the value. Adding a key is one row in a table (and, for
the blocks that become dataclasses, one field).

A key whose value is null (``key:`` with nothing after it) counts as not given,
as in most YAML-configured tools; a required key that is null is an error.
Data files are not looked at here: ``mlmon_nb.data`` checks them when it reads
them, where it can say more.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from . import yamlschema as ys
from .alertable import STATISTICS, method_names, metric_names
from .errors import ConfigError
from .redact import redact_url
from .windows import MAX_WINDOW_DAYS

logger = logging.getLogger(__name__)

TASKS = ("binary_classification", "multiclass_classification", "regression")
NAME_PATTERN = ys.NAME_PATTERN
DIRECTIONS = ("higher_is_better", "lower_is_better")
MIN_BASELINE_CHUNKS = 10
DEFAULT_FDR = 0.05


@dataclass(frozen=True)
class FeaturesConfig:
    """Monitored feature columns. Empty tuples mean "infer from the reference"."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelsConfig:
    """Ground truth that arrives late, joined to the logs by ``key``."""

    path: Path
    key: str


@dataclass(frozen=True)
class VersionConfig:
    """One model version: where its model file is and whether it is trusted."""

    name: str
    model: Path | None = None
    deployed: dt.date | None = None
    trusted: bool = False


@dataclass(frozen=True)
class OperationalConfig:
    """Optional operational columns of the logs (None when not configured)."""

    latency_ms: str | None = None
    request_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FeedbackConfig:
    """Optional feedback-loop columns (None when not configured)."""

    user: str | None = None
    item: str | None = None
    exposed: str | None = None
    outcome: str | None = None
    training_provenance: str | None = None


@dataclass(frozen=True)
class BaselineConfig:
    """How the baseline is cut from the reference data.

    Attributes
    ----------
    window : tuple of two datetime, optional
        ``[start, end)`` of the reference data to use, tz-aware UTC; None
        means all of it.
    chunks : int
        Number of chunks the reference is split into to learn how much a
        statistic varies between healthy chunks (at least 10).
    """

    window: tuple[dt.datetime, dt.datetime] | None = None
    chunks: int = 20


@dataclass(frozen=True)
class Thresholds:
    """A model's ``thresholds`` block, parsed and validated once (every name checked).

    Attributes
    ----------
    fdr : float
        False discovery rate of the Benjamini-Hochberg correction across subjects.
    band_margin : float
        Standard deviations added to every band's 3.
    methods : mapping
        ``statistic -> {warn, alert}``: practical floors per statistic
        (drift statistics and attribution-drift figures).
    features : mapping
        ``feature -> {method, warn, alert, ignore}`` (feature names are checked
        against the monitored features by :meth:`check_features`, which needs the data).
    metrics : mapping
        ``figure -> {warn, alert, direction, min_change}``: fixed limits replacing a band, or the
        smallest change from the baseline that may alert (performance metrics; warn at half).
    """

    fdr: float = DEFAULT_FDR
    band_margin: float = 0.0
    methods: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def method(self, name: str) -> Mapping[str, float]:
        """The ``{warn, alert}`` override of a statistic (empty when none)."""
        return self.methods.get(name) or {}

    def feature(self, name: str) -> Mapping[str, Any]:
        """The ``{method, warn, alert, ignore}`` override of a feature (empty when none)."""
        return self.features.get(name) or {}

    def metric(self, name: str) -> Mapping[str, Any] | None:
        """The fixed ``{warn, alert, direction}`` limits of a figure (None when none are set)."""
        block = self.metrics.get(name) or {}
        return block if ("warn" in block or "alert" in block) else None

    def min_change(self, name: str) -> float | None:
        """``metrics.<name>.min_change``: the smallest change of a metric that may alert (None: the default)."""
        value = (self.metrics.get(name) or {}).get("min_change")
        return None if value is None else float(value)

    def check_features(self, monitored: "list[str] | tuple[str, ...]", where: str = "thresholds") -> None:
        """Every name under ``features`` is a monitored feature.

        Raises
        ------
        ConfigError
            Naming the key path, the unknown feature and the monitored ones.
        """
        known = list(monitored)
        for name in self.features:
            if name not in known:
                raise ConfigError(f"{where}.features: {name!r} is not a monitored feature; "
                                  f"monitored: {', '.join(known)}")


ENGINES = ("duckdb", "spark")
SPARK_CONNECT_PORT = 15002


@dataclass(frozen=True)
class EngineConfig:
    """Where a model's aggregations run: ``engine`` at the top level or under ``models.<m>``.

    Attributes
    ----------
    name : {"duckdb", "spark"}
    master : str, optional
        Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://...``); with neither
        ``master`` nor ``remote`` Spark takes what ``spark-submit`` (or ``SPARK_REMOTE``) set.
    remote : str, optional
        Spark Connect URL (``sc://host:15002``).
    conf : mapping
        Spark settings (``spark.executor.memory: 4g``), values as text.
    key : str
        The key path it was configured at, for messages (``engine``, ``models.m.engine``).
    """

    name: str = "duckdb"
    master: str | None = None
    remote: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)
    key: str = "engine"

    @property
    def shown(self) -> str:
        """How messages name it: ``duckdb``, ``spark (master local[2])``, ``spark (remote sc://h:15002)``."""
        if self.name != "spark":
            return self.name
        if self.remote:
            return f"spark (remote {redact_url(self.remote)})"
        return f"spark (master {self.master})" if self.master else "spark"


@dataclass(frozen=True)
class CatalogTable:
    """Logs that are a table of the Spark catalog (``logs: {table: db.events}``)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ModelConfig:
    """One monitored model as declared under ``models.<name>``."""

    name: str
    task: str
    timestamp: str
    prediction: str
    target: str
    reference: Path
    logs: Path | str | CatalogTable  # a path; a URI (s3a://...) or CatalogTable with engine spark only
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    labels: LabelsConfig | None = None
    version_column: str | None = None
    versions: Mapping[str, VersionConfig] = field(default_factory=dict)
    operational: OperationalConfig | None = None
    feedback: FeedbackConfig | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    segments: tuple[str, ...] = ()
    chunk: str = "1d"
    decision_threshold: float = 0.5
    positive_class: str | None = None
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    engine: EngineConfig | None = None  # None: the project's


@dataclass(frozen=True)
class WebhookConfig:
    """A Slack-compatible webhook notified after each run at or above ``min_status``.

    The URL is a secret: it is never part of the repr (which lands in notebooks);
    ``url_env`` names an environment variable holding it instead of the file.
    """

    url: str | None = field(default=None, repr=False)
    url_env: str | None = None
    min_status: str = "alert"
    timeout_seconds: float = 5.0
    retries: int = 3

    @property
    def shown(self) -> str:
        """How the webhook is named in messages and logs (no credentials)."""
        if self.url_env:
            return f"${self.url_env}"
        return redact_url(self.url or "")

    def resolve(self) -> str:
        """The URL to post to.

        Raises
        ------
        ConfigError
            When ``url_env`` names a variable that is not set or not an http(s) URL.
        """
        if not self.url_env:
            return self.url or ""
        value = os.environ.get(self.url_env, "")
        problem = url_problem(value) if value else "is not set"
        if problem:
            raise ConfigError(f"alerts.webhooks: environment variable {self.url_env} (url_env) {problem}")
        return value


MAX_WEBHOOK_TIMEOUT = 60.0
MAX_WEBHOOK_RETRIES = 10


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a webhook URL (None when it is one)."""
    from urllib.parse import urlsplit  # noqa: here, like the other checks of rare keys

    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL with a host, e.g. https://hooks.slack.com/services/..."
    if port == 0:
        return "has port 0"
    return None


@dataclass(frozen=True)
class AlertsConfig:
    """What pages and where pages go besides the archive's append-only alert log.

    ``repeat``: remind of an open incident every ``daily``/``weekly`` window (or
    ``every_run``; default ``never``); ``recovery``: also notify when one recovers.
    """

    webhooks: tuple[WebhookConfig, ...] = ()
    repeat: str = "never"
    recovery: bool = False
    worsening: tuple[str, ...] = ("status", "subjects")


@dataclass(frozen=True)
class Project:
    """A loaded, validated project file."""

    path: Path
    archive: Path
    models: Mapping[str, ModelConfig]
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    max_window_days: int = MAX_WINDOW_DAYS
    engine: EngineConfig = field(default_factory=EngineConfig)

    def engine_of(self, model: str) -> EngineConfig:
        """The engine of a model: its own ``engine``, else the project's (DuckDB by default)."""
        return self.model(model).engine or self.engine

    @property
    def root(self) -> Path:
        """The folder holding the project file; relative paths start here."""
        return self.path.parent

    def model(self, name: str) -> ModelConfig:
        """Return the model called ``name``.

        Parameters
        ----------
        name : str
            A model name as declared under ``models``.

        Returns
        -------
        ModelConfig

        Raises
        ------
        ConfigError
            When the project has no such model; the message lists the known ones.
        """
        try:
            return self.models[str(name)]
        except KeyError:
            raise ConfigError(
                f"{ys.display(self.path)}: models: no model {str(name)!r}; "
                f"known: {', '.join(self.models)}"
            ) from None

    def version(self, model: str, version: str) -> VersionConfig:
        """Return a version of a model.

        Parameters
        ----------
        model : str
            A model name as declared under ``models``.
        version : str
            A version name as declared under ``models.<model>.versions``.

        Returns
        -------
        VersionConfig

        Raises
        ------
        ConfigError
            When the project has no such model or the model no such version;
            the message lists the known ones.
        """
        versions = self.model(model).versions
        try:
            return versions[str(version)]
        except KeyError:
            raise ConfigError(
                f"{ys.display(self.path)}: models.{model}.versions: no version "
                f"{str(version)!r}; known: {', '.join(versions)}"
            ) from None


def load_project(path: str | Path) -> Project:
    """Load and validate a project file.

    Parameters
    ----------
    path : str or Path
        The project file, usually ``mlmon.yaml``. Paths inside it are
        resolved relative to its folder.

    Returns
    -------
    Project
        The validated project, with every path absolute.

    Raises
    ------
    ConfigError
        When the file is missing, unparsable or invalid. The message is one
        line naming the file, the key path, what was expected and what was got.
    """
    file = Path(os.path.abspath(Path(path).expanduser()))
    shown = ys.display(file)
    if file.is_dir():
        raise ConfigError(f"{shown}: expected a YAML file, got a folder: {file}")
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found: {file}") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read {file}: {exc.strerror or exc}") from exc

    try:
        # A SafeLoader that also refuses duplicate keys (see ys.Loader).
        document = yaml.load(raw, Loader=ys.Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: {ys.yaml_problem(exc)}") from exc

    where = ys.Where(file=shown, root=file.parent)
    if document is None:
        where.fail("a mapping with the keys " + ", ".join(_PROJECT), got="an empty file")
    values = ys.check_block(document, _PROJECT, where)
    project = Project(path=file, archive=values["archive"], models=values["models"],
                      alerts=values.get("alerts") or AlertsConfig(),
                      max_window_days=values.get("max_window_days", MAX_WINDOW_DAYS),
                      engine=values.get("engine") or EngineConfig())
    for name, mcfg in project.models.items():
        if not isinstance(mcfg.logs, Path) and project.engine_of(name).name != "spark":
            what = f"the catalog table {mcfg.logs}" if isinstance(mcfg.logs, CatalogTable) else f"the URI {mcfg.logs}"
            where.child("models").child(name).child("logs").fail(
                "a path of parquet/CSV files", got=what,
                note="a catalog table or a URI is read by the Spark engine only (engine: {spark: {...}})")
    logger.debug("loaded %s: models %s", file, ", ".join(project.models))
    return project


def _make_features(values: dict[str, Any], where: ys.Where) -> FeaturesConfig:
    both = set(values.get("numeric", ())) & set(values.get("categorical", ()))
    if both:
        where.child("categorical").fail(
            "columns not already listed in features.numeric",
            got=", ".join(repr(column) for column in sorted(both)),
            note="a feature is either numeric or categorical",
        )
    return FeaturesConfig(**values)


def _warn_not_above_alert(values: dict[str, Any], where: ys.Where) -> dict[str, Any]:
    if "warn" in values and "alert" in values and values["warn"] > values["alert"]:
        where.child("warn").fail(
            f"a number <= alert ({values['alert']:g})", values["warn"]
        )
    return values


# --------------------------------------------------------------------------
# The schema. One row per key; the order is the order shown in messages.

_METHOD_THRESHOLDS = {
    "warn": ys.Key(ys.ANY_NUMBER),
    "alert": ys.Key(ys.ANY_NUMBER),
}

_FEATURE_THRESHOLDS = {
    "method": ys.Key(ys.string_check("a statistic name (string)")),
    "warn": ys.Key(ys.ANY_NUMBER),
    "alert": ys.Key(ys.ANY_NUMBER),
    "ignore": ys.Key(ys.BOOL),
}

_METRIC_THRESHOLDS = {
    "warn": ys.Key(ys.ANY_NUMBER),
    "alert": ys.Key(ys.ANY_NUMBER),
    "direction": ys.Key(ys.choice_check(DIRECTIONS)),
    "min_change": ys.Key(ys.number_check("a number >= 0", lambda x: x >= 0)),
}


def _named_blocks(
    what: str,
    schema: Mapping[str, ys.Key],
    make: Callable[[dict[str, Any], ys.Where], Any] = ys.as_dict,
) -> ys.Check:
    """A mapping of free names (statistics, features, metrics) to fixed-key blocks."""
    block = ys.block_check(schema, make)
    return ys.entries_check(what, ys.KEY_NAME, lambda name, body, where: block.convert(body, where))


def _known_names(kind: str, known: tuple[str, ...]) -> Callable[[dict[str, Any], ys.Where], dict[str, Any]]:
    def check(values: dict[str, Any], where: ys.Where) -> dict[str, Any]:
        for name in values:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where.child(name).fail(f"a known {kind} name{hint}; known: {', '.join(known)}",
                                       got=f"unknown name {name!r}")
        return values
    return check


def _make_thresholds(values: dict[str, Any], where: ys.Where) -> Thresholds:
    _known_names("statistic", method_names())(values.get("methods") or {}, where.child("methods"))
    _known_names("metric", metric_names())(values.get("metrics") or {}, where.child("metrics"))
    for name, body in (values.get("features") or {}).items():
        method = (body or {}).get("method")
        if method is not None and method not in STATISTICS:
            where.child("features").child(name).child("method").fail(
                f"a statistic name; known: {', '.join(STATISTICS)}", got=f"unknown statistic {method!r}")
    return Thresholds(fdr=float(values.get("fdr", DEFAULT_FDR)), band_margin=float(values.get("band_margin", 0.0)),
                      methods=dict(values.get("methods") or {}), features=dict(values.get("features") or {}),
                      metrics=dict(values.get("metrics") or {}))


_THRESHOLDS = {
    "fdr": ys.Key(ys.number_check("a number between 0 and 1 (exclusive)", lambda x: 0 < x < 1)),
    "band_margin": ys.Key(ys.number_check("a number >= 0", lambda x: x >= 0)),
    "methods": ys.Key(
        _named_blocks(
            "a mapping of statistic name -> {warn, alert}",
            _METHOD_THRESHOLDS,
            _warn_not_above_alert,
        )
    ),
    "features": ys.Key(
        _named_blocks(
            "a mapping of feature name -> {method, warn, alert, ignore}",
            _FEATURE_THRESHOLDS,
            _warn_not_above_alert,
        )
    ),
    "metrics": ys.Key(
        _named_blocks("a mapping of metric name -> {warn, alert, direction, min_change}", _METRIC_THRESHOLDS)
    ),
}

_FEATURES = {
    "numeric": ys.Key(ys.COLUMNS),
    "categorical": ys.Key(ys.COLUMNS),
}

_LABELS = {
    "path": ys.Key(ys.PATH, required=True),
    "key": ys.Key(ys.COLUMN, required=True),
}

_VERSION = {
    "model": ys.Key(ys.PATH),
    "deployed": ys.Key(ys.DATE),
    "trusted": ys.Key(ys.BOOL),
}

_OPERATIONAL = {
    "latency_ms": ys.Key(ys.COLUMN),
    "request_id": ys.Key(ys.COLUMN),
    "error": ys.Key(ys.COLUMN),
}

_FEEDBACK = {
    "user": ys.Key(ys.COLUMN),
    "item": ys.Key(ys.COLUMN),
    "exposed": ys.Key(ys.COLUMN),
    "outcome": ys.Key(ys.COLUMN),
    "training_provenance": ys.Key(ys.COLUMN),
}

_BASELINE = {
    "window": ys.Key(ys.WINDOW),
    "chunks": ys.Key(ys.integer_check(f"an integer >= {MIN_BASELINE_CHUNKS}", MIN_BASELINE_CHUNKS)),
}

def _scalar_text(value: Any, where: ys.Where) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value) == "":
        where.fail("a string or number (the target value meaning positive, e.g. yes)", value)
    return str(value)


def _logs_check(value: Any, where: ys.Where) -> Path | str | CatalogTable:
    what = "a path (relative to the project file), a URI (s3a://..., with engine spark) or {table: db.events}"
    if isinstance(value, dict):
        values = ys.check_block(value, {"table": ys.Key(ys.string_check("a catalog table name, e.g. db.events"),
                                                        required=True)}, where)
        name = values["table"].strip()
        if not ys.TABLE_NAME.fullmatch(name):
            where.child("table").fail("a catalog table name: [catalog.][database.]table of letters, digits and _",
                                      values["table"])
        return CatalogTable(name)
    if isinstance(value, str) and ys.URI.fullmatch(value.strip()) and not value.strip().startswith("file://"):
        return value.strip()
    if not isinstance(value, str) or not value.strip():
        where.fail(what, value)
    return ys.PATH.convert(value, where)


_SPARK = {
    "master": ys.Key(ys.SPARK_MASTER),
    "remote": ys.Key(ys.SPARK_REMOTE),
    "conf": ys.Key(ys.SPARK_CONF),
}
_ENGINE_WHAT = "duckdb, spark, or a mapping {spark: {master or remote, conf}}"


def _engine_check(value: Any, where: ys.Where) -> EngineConfig:
    if isinstance(value, str):
        if value not in ENGINES:
            close = difflib.get_close_matches(value, ENGINES, n=1)
            where.fail(_ENGINE_WHAT, value, note=f"did you mean {close[0]!r}?" if close else "")
        return EngineConfig(name=value, key=where.path)
    if not isinstance(value, dict) or len(value) != 1:
        where.fail(_ENGINE_WHAT, value)
    (name, body), = value.items()
    if name not in ENGINES:
        close = difflib.get_close_matches(str(name), ENGINES, n=1)
        where.child(name).fail(f"one engine: {', '.join(ENGINES)}", got=f"unknown engine {name!r}",
                               note=f"did you mean {close[0]!r}?" if close else "")
    inner = where.child(name)
    if name == "duckdb":
        ys.check_block(body or {}, {}, inner)
        return EngineConfig(name="duckdb", key=where.path)
    values = ys.check_block(body or {}, _SPARK, inner)
    if "master" in values and "remote" in values:
        inner.fail("one of master (a Spark cluster) or remote (Spark Connect)", got="both")
    return EngineConfig(name="spark", master=values.get("master"), remote=values.get("remote"),
                        conf=values.get("conf", {}), key=inner.path)


ENGINE = ys.Check(_ENGINE_WHAT, _engine_check)

_MODEL = {
    "task": ys.Key(ys.choice_check(TASKS), required=True),
    "timestamp": ys.Key(ys.COLUMN, required=True),
    "prediction": ys.Key(ys.COLUMN, required=True),
    "target": ys.Key(ys.COLUMN, required=True),
    "features": ys.Key(ys.block_check(_FEATURES, _make_features)),
    "reference": ys.Key(ys.PATH, required=True),
    "logs": ys.Key(ys.Check("a path, a URI (engine spark) or {table: db.events} (engine spark)", _logs_check),
                   required=True),
    "labels": ys.Key(ys.block_check(_LABELS, ys.dataclass_of(LabelsConfig))),
    "version_column": ys.Key(ys.COLUMN),
    "versions": ys.Key(
        ys.entries_check(
            "a non-empty mapping of version name -> {model, deployed, trusted}",
            ys.name_check("version"),
            lambda name, body, where: VersionConfig(
                name=name, **ys.check_block(body, _VERSION, where)
            ),
            min_items=1,
        ),
        required=True,
    ),
    "operational": ys.Key(ys.block_check(_OPERATIONAL, ys.dataclass_of(OperationalConfig))),
    "feedback": ys.Key(ys.block_check(_FEEDBACK, ys.dataclass_of(FeedbackConfig))),
    "thresholds": ys.Key(ys.block_check(_THRESHOLDS, _make_thresholds)),
    "segments": ys.Key(ys.COLUMNS),
    "chunk": ys.Key(ys.CHUNK),
    "baseline": ys.Key(ys.block_check(_BASELINE, ys.dataclass_of(BaselineConfig))),
    "decision_threshold": ys.Key(ys.number_check("a number between 0 and 1 (exclusive)", lambda x: 0 < x < 1)),
    "positive_class": ys.Key(ys.Check("the target value meaning positive (a string or number)", _scalar_text)),
    "engine": ys.Key(ENGINE),
}

def _url_check(value: Any, where: ys.Where) -> str:
    if not isinstance(value, str):
        where.fail("an http(s) URL", got="a " + type(value).__name__)
    problem = url_problem(value)
    if problem:  # the value is a secret: the message never repeats it
        where.fail("an http(s) URL without spaces or control characters", got=f"a URL that {problem}")
    return value


def _env_name_check(value: Any, where: ys.Where) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        where.fail("an environment variable name, e.g. MLMON_SLACK_URL", value)
    return value


_WEBHOOK = {
    "url": ys.Key(ys.Check("an http(s) URL", _url_check)),
    "url_env": ys.Key(ys.Check("an environment variable name", _env_name_check)),
    "min_status": ys.Key(ys.choice_check(("warn", "alert", "error"))),
    "timeout_seconds": ys.Key(ys.number_check(f"a number of seconds > 0 and <= {MAX_WEBHOOK_TIMEOUT:g}",
                                              lambda x: 0 < x <= MAX_WEBHOOK_TIMEOUT)),
    "retries": ys.Key(ys.integer_check(f"an integer from 0 to {MAX_WEBHOOK_RETRIES}", 0, MAX_WEBHOOK_RETRIES)),
}


def _webhook(item: Any, where: ys.Where) -> WebhookConfig:
    values = ys.check_block(item, _WEBHOOK, where)
    if ("url" in values) == ("url_env" in values):
        where.fail("exactly one of url or url_env", got="both" if "url" in values else "neither")
    return WebhookConfig(**values)


def _webhooks_check(value: Any, where: ys.Where) -> tuple[WebhookConfig, ...]:
    if not isinstance(value, list):
        where.fail("a list of webhooks ({url or url_env, min_status, timeout_seconds, retries})", value)
    return tuple(_webhook(item, where.child(i)) for i, item in enumerate(value))


def _worsening_check(value: Any, where: ys.Where) -> tuple[str, ...]:
    known = ("status", "subjects")
    if not isinstance(value, list) or any(v not in known for v in value):
        where.fail(f"a list of {', '.join(known)} (or [] for never)", value)
    return tuple(dict.fromkeys(value))


_ALERTS = {
    "webhooks": ys.Key(ys.Check("a list of webhooks", _webhooks_check)),
    "repeat": ys.Key(ys.choice_check(("never", "every_run", "daily", "weekly"))),
    "recovery": ys.Key(ys.BOOL),
    "worsening": ys.Key(ys.Check("a list of what makes an incident worse: status, subjects (or [] for never)",
                                 _worsening_check)),
}

#: Folders an archive may never be (``mlmon index`` would write ``/index.html``).
SYSTEM_FOLDERS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/proc", "/root",
                            "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var"})


def _archive_check(value: Any, where: ys.Where) -> Path:
    path = ys.PATH.convert(value, where)
    real = os.path.realpath(path)
    if real in SYSTEM_FOLDERS or os.path.dirname(real) == real:
        where.fail("a folder of its own for the archive, e.g. reports", value, note=f"{real} is a system folder")
    return path


_PROJECT = {
    "archive": ys.Key(ys.Check("a folder for the archive (not a system folder)", _archive_check), required=True),
    "alerts": ys.Key(ys.block_check(_ALERTS, ys.dataclass_of(AlertsConfig))),
    "max_window_days": ys.Key(ys.integer_check("a whole number of days from 1 to 3660", 1, 3660)),
    "engine": ys.Key(ENGINE),
    "models": ys.Key(
        ys.entries_check(
            "a non-empty mapping of model name -> model",
            ys.name_check("model"),
            lambda name, body, where: ModelConfig(
                name=name, **ys.check_block(body, _MODEL, where)
            ),
            min_items=1,
        ),
        required=True,
    ),
}
