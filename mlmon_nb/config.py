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
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

import yaml

from mlmon_nb.alertable import STATISTICS, method_names, metric_names
from mlmon_nb.chunks import CHUNK_PATTERN, chunk_error
from mlmon_nb.errors import ConfigError, UsageError

logger = logging.getLogger(__name__)

TASKS = ("binary_classification", "multiclass_classification", "regression")
NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
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
        ``figure -> {warn, alert, direction}``: fixed limits replacing a band.
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


@dataclass(frozen=True)
class ModelConfig:
    """One monitored model as declared under ``models.<name>``."""

    name: str
    task: str
    timestamp: str
    prediction: str
    target: str
    reference: Path
    logs: Path
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
    baseline: BaselineConfig = field(default_factory=BaselineConfig)


@dataclass(frozen=True)
class WebhookConfig:
    """A Slack-compatible webhook notified after each run at or above ``min_status``."""

    url: str
    min_status: str = "alert"
    timeout_seconds: float = 5.0
    retries: int = 3


@dataclass(frozen=True)
class AlertsConfig:
    """Where alerts go besides the archive's append-only alert log."""

    webhooks: tuple[WebhookConfig, ...] = ()


@dataclass(frozen=True)
class Project:
    """A loaded, validated project file."""

    path: Path
    archive: Path
    models: Mapping[str, ModelConfig]
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

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
                f"{_display(self.path)}: models: no model {str(name)!r}; "
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
                f"{_display(self.path)}: models.{model}.versions: no version "
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
    shown = _display(file)
    if file.is_dir():
        raise ConfigError(f"{shown}: expected a YAML file, got a folder: {file}")
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found: {file}") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read {file}: {exc.strerror or exc}") from exc

    try:
        # A SafeLoader that also refuses duplicate keys (see _Loader).
        document = yaml.load(raw, Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: {_yaml_problem(exc)}") from exc

    where = _Where(file=shown, root=file.parent)
    if document is None:
        where.fail("a mapping with the keys " + ", ".join(_PROJECT), got="an empty file")
    values = _check_block(document, _PROJECT, where)
    project = Project(path=file, archive=values["archive"], models=values["models"],
                      alerts=values.get("alerts") or AlertsConfig())
    logger.debug("loaded %s: models %s", file, ", ".join(project.models))
    return project


def parse_window(text: str) -> tuple[dt.datetime, dt.datetime]:
    """Parse a time window ``START/END`` into two tz-aware UTC datetimes.

    Each side is an ISO date (``2026-11-16``, midnight UTC) or an ISO datetime
    (``2026-11-16T06:00``, naive means UTC; ``+02:00`` or ``Z`` offsets are
    converted to UTC). The window is ``[START, END)``.

    Parameters
    ----------
    text : str
        The window, e.g. ``"2026-11-16/2026-11-23"``.

    Returns
    -------
    tuple of two datetime
        ``(start, end)``, both with ``tzinfo=datetime.timezone.utc``.

    Raises
    ------
    UsageError
        When ``text`` is not of that form or END is not after START.

    Examples
    --------
    >>> parse_window("2026-11-16/2026-11-23T06:00:00+02:00")[1].isoformat()
    '2026-11-23T04:00:00+00:00'
    """
    try:
        return _parse_window(text)
    except ValueError as exc:
        raise UsageError(f"window {_truncated(text)}: {exc}") from None


# --------------------------------------------------------------------------
# Where we are in the file, and how a problem there is reported.

_MISSING = object()
_REPR_LIMIT = 60


@dataclass(frozen=True)
class _Where:
    """A position in the project file: the file, its folder and the key path."""

    file: str
    root: Path
    keys: tuple[str, ...] = ()

    def child(self, key: Any) -> _Where:
        segment = key if isinstance(key, str) and key.isprintable() else repr(key)
        return _Where(self.file, self.root, (*self.keys, segment))

    @property
    def path(self) -> str:
        return ".".join(self.keys) or "top level"

    def fail(
        self, expected: str, value: Any = _MISSING, *, got: str | None = None, note: str = ""
    ) -> NoReturn:
        """Raise the ConfigError for this position: expected ..., got ...."""
        if got is None:
            got = _describe(value)
        message = f"{self.file}: {self.path}: expected {expected}, got {got}"
        if note:
            message += f"; {note}"
        # Keys and YAML problems are user text: keep the message on one line.
        raise ConfigError(" ".join(message.splitlines()))


def _display(path: Path) -> str:
    """Show ``path`` relative to the working folder when inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_TYPE_NAMES = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "string",
    list: "list",
    dict: "mapping",
    dt.date: "date",
    dt.datetime: "datetime",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    return f"{kind} ({_truncated(value)})"


def _truncated(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


# --------------------------------------------------------------------------
# YAML loading.


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and reports bad dates.

    Plain ``safe_load`` keeps the last of two equal keys silently, which hides
    exactly the kind of slip the project file must not ignore.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> dt.date:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:  # e.g. 2026-02-30
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid date {node.value!r} ({exc})", node.start_mark
            ) from exc


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for a YAML error: line and column, then what went wrong."""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    text = f"expected valid YAML, got {problem}"
    if context:
        text += f" ({context})"
    if mark is not None:
        text = f"line {mark.line + 1}, column {mark.column + 1}: {text}"
    return " ".join(text.split())


# --------------------------------------------------------------------------
# Checkers: each validates one value at a position and returns it converted.


@dataclass(frozen=True)
class _Check:
    """A checker: ``convert(value, where)`` returns the value or calls ``where.fail``."""

    what: str
    convert: Callable[[Any, _Where], Any]


@dataclass(frozen=True)
class _Key:
    """One row of a block's schema."""

    check: _Check
    required: bool = False


def _string(what: str) -> _Check:
    def convert(value: Any, where: _Where) -> str:
        if not isinstance(value, str) or not value.strip():
            where.fail(what, value)
        return value

    return _Check(what, convert)


_COLUMN = _string("a column name (string)")


def _path_check(value: Any, where: _Where) -> Path:
    if not isinstance(value, str) or not value.strip():
        where.fail(_PATH.what, value)
    return Path(os.path.abspath(where.root / Path(value).expanduser()))


_PATH = _Check("a path (string, relative to the project file)", _path_check)


def _bool_check(value: Any, where: _Where) -> bool:
    if not isinstance(value, bool):
        where.fail(_BOOL.what, value)
    return value


_BOOL = _Check("true or false", _bool_check)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_check(value: Any, where: _Where) -> dt.date:
    if isinstance(value, dt.datetime):
        where.fail(_DATE.what, value, note="give the day only")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            where.fail(_DATE.what, value, note=str(exc))
    where.fail(_DATE.what, value)


_DATE = _Check("a date YYYY-MM-DD", _date_check)


def _choice(choices: tuple[str, ...]) -> _Check:
    what = "one of " + ", ".join(choices)

    def convert(value: Any, where: _Where) -> str:
        if value not in choices or not isinstance(value, str):
            where.fail(what, value)
        return value

    return _Check(what, convert)


def _number(what: str, accept: Callable[[float], bool]) -> _Check:
    def convert(value: Any, where: _Where) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not accept(value)
        ):
            where.fail(what, value)
        return float(value)

    return _Check(what, convert)


_ANY_NUMBER = _number("a number", lambda x: True)


def _integer(what: str, minimum: int) -> _Check:
    def convert(value: Any, where: _Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            where.fail(what, value)
        return value

    return _Check(what, convert)


def _columns_check(value: Any, where: _Where) -> tuple[str, ...]:
    if not isinstance(value, list):
        where.fail(_COLUMNS.what, value)
    seen: set[str] = set()
    for index, item in enumerate(value):
        _COLUMN.convert(item, where.child(index))
        if item in seen:
            where.child(index).fail("each column listed once", got=f"{item!r} again")
        seen.add(item)
    return tuple(value)


_COLUMNS = _Check("a list of column names", _columns_check)


def _chunk_check(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not re.fullmatch(CHUNK_PATTERN, value):
        where.fail(_CHUNK.what, value)
    if chunk_error(value):
        where.fail(_CHUNK.what, value, note="the size must be positive")
    return value


_CHUNK = _Check("a chunk size like 1d, 12h or 1w (hours, days, weeks)", _chunk_check)


def _window_check(value: Any, where: _Where) -> tuple[dt.datetime, dt.datetime]:
    if not isinstance(value, str):
        where.fail(_WINDOW.what, value)
    try:
        return _parse_window(value)
    except ValueError as exc:
        where.fail(_WINDOW.what, value, note=str(exc))


_WINDOW = _Check("a window START/END of ISO dates or datetimes", _window_check)


def _name(kind: str) -> _Check:
    """Model and version names: they become folder names inside the archive."""
    what = f"a {kind} name matching {NAME_PATTERN}"

    def convert(value: Any, where: _Where) -> str:
        # YAML reads `3:` as an int; names like "3.10" must be quoted.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            where.fail(what, value, note='quote names that YAML reads as numbers, e.g. "3.10"')
        if value in (".", "..") or "/" in value or "\\" in value:
            where.fail(what, value, note="it would escape the archive folder")
        if ".." in value:
            where.fail(
                what, value, note="'..' is not allowed in a name (it reads as a parent folder)"
            )
        if not re.fullmatch(NAME_PATTERN, value):
            where.fail(what, value)
        return value

    return _Check(what, convert)


_KEY_NAME = _string("a name (string)")


# --------------------------------------------------------------------------
# Blocks: mappings with fixed keys, and mappings of named entries.


def _check_block(value: Any, schema: Mapping[str, _Key], where: _Where) -> dict[str, Any]:
    """Check a mapping against ``schema``; return the converted values given.

    Keys that are absent or null are left out, so dataclass defaults apply.
    """
    if not isinstance(value, dict):
        where.fail("a mapping with the keys " + ", ".join(schema), value)
    for key in value:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            note = f"did you mean {close[0]!r}?" if close else ""
            where.child(key).fail(
                "one of the keys " + ", ".join(schema), got=f"unknown key {key!r}", note=note
            )
    values = {}
    for key, row in schema.items():
        if value.get(key) is None:
            if row.required:
                got = "null" if key in value else "nothing (the key is required)"
                where.child(key).fail(row.check.what, got=got)
            continue
        values[key] = row.check.convert(value[key], where.child(key))
    return values


def _as_dict(values: dict[str, Any], where: _Where) -> dict[str, Any]:
    return values


def _block(
    schema: Mapping[str, _Key],
    make: Callable[[dict[str, Any], _Where], Any] = _as_dict,
) -> _Check:
    """A checker for a fixed-key mapping; ``make`` builds the result and cross-checks."""
    return _Check(
        "a mapping with the keys " + ", ".join(schema),
        lambda value, where: make(_check_block(value, schema, where), where),
    )


def _entries(
    what: str,
    name: _Check,
    entry: Callable[[str, Any, _Where], Any],
    min_items: int = 0,
) -> _Check:
    """A checker for a mapping of ``name -> entry``; a null entry counts as ``{}``."""

    def convert(value: Any, where: _Where) -> dict[str, Any]:
        if not isinstance(value, dict) or len(value) < min_items:
            where.fail(what, value)
        result: dict[str, Any] = {}
        for key, body in value.items():
            checked = name.convert(key, where.child(key))
            if checked in result:
                where.child(key).fail(f"{name.what}, each once", got=f"{checked!r} twice")
            result[checked] = entry(checked, {} if body is None else body, where.child(key))
        return result

    return _Check(what, convert)


def _dataclass(cls: type) -> Callable[[dict[str, Any], _Where], Any]:
    return lambda values, where: cls(**values)


def _make_features(values: dict[str, Any], where: _Where) -> FeaturesConfig:
    both = set(values.get("numeric", ())) & set(values.get("categorical", ()))
    if both:
        where.child("categorical").fail(
            "columns not already listed in features.numeric",
            got=", ".join(repr(column) for column in sorted(both)),
            note="a feature is either numeric or categorical",
        )
    return FeaturesConfig(**values)


def _warn_not_above_alert(values: dict[str, Any], where: _Where) -> dict[str, Any]:
    if "warn" in values and "alert" in values and values["warn"] > values["alert"]:
        where.child("warn").fail(
            f"a number <= alert ({values['alert']:g})", values["warn"]
        )
    return values


# --------------------------------------------------------------------------
# The schema. One row per key; the order is the order shown in messages.

_METHOD_THRESHOLDS = {
    "warn": _Key(_ANY_NUMBER),
    "alert": _Key(_ANY_NUMBER),
}

_FEATURE_THRESHOLDS = {
    "method": _Key(_string("a statistic name (string)")),
    "warn": _Key(_ANY_NUMBER),
    "alert": _Key(_ANY_NUMBER),
    "ignore": _Key(_BOOL),
}

_METRIC_THRESHOLDS = {
    "warn": _Key(_ANY_NUMBER),
    "alert": _Key(_ANY_NUMBER),
    "direction": _Key(_choice(DIRECTIONS)),
}


def _named_blocks(
    what: str,
    schema: Mapping[str, _Key],
    make: Callable[[dict[str, Any], _Where], Any] = _as_dict,
) -> _Check:
    """A mapping of free names (statistics, features, metrics) to fixed-key blocks."""
    block = _block(schema, make)
    return _entries(what, _KEY_NAME, lambda name, body, where: block.convert(body, where))


def _known_names(kind: str, known: tuple[str, ...]) -> Callable[[dict[str, Any], _Where], dict[str, Any]]:
    def check(values: dict[str, Any], where: _Where) -> dict[str, Any]:
        for name in values:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where.child(name).fail(f"a known {kind} name{hint}; known: {', '.join(known)}",
                                       got=f"unknown name {name!r}")
        return values
    return check


def _make_thresholds(values: dict[str, Any], where: _Where) -> Thresholds:
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
    "fdr": _Key(_number("a number between 0 and 1 (exclusive)", lambda x: 0 < x < 1)),
    "band_margin": _Key(_number("a number >= 0", lambda x: x >= 0)),
    "methods": _Key(
        _named_blocks(
            "a mapping of statistic name -> {warn, alert}",
            _METHOD_THRESHOLDS,
            _warn_not_above_alert,
        )
    ),
    "features": _Key(
        _named_blocks(
            "a mapping of feature name -> {method, warn, alert, ignore}",
            _FEATURE_THRESHOLDS,
            _warn_not_above_alert,
        )
    ),
    "metrics": _Key(
        _named_blocks("a mapping of metric name -> {warn, alert, direction}", _METRIC_THRESHOLDS)
    ),
}

_FEATURES = {
    "numeric": _Key(_COLUMNS),
    "categorical": _Key(_COLUMNS),
}

_LABELS = {
    "path": _Key(_PATH, required=True),
    "key": _Key(_COLUMN, required=True),
}

_VERSION = {
    "model": _Key(_PATH),
    "deployed": _Key(_DATE),
    "trusted": _Key(_BOOL),
}

_OPERATIONAL = {
    "latency_ms": _Key(_COLUMN),
    "request_id": _Key(_COLUMN),
    "error": _Key(_COLUMN),
}

_FEEDBACK = {
    "user": _Key(_COLUMN),
    "item": _Key(_COLUMN),
    "exposed": _Key(_COLUMN),
    "outcome": _Key(_COLUMN),
    "training_provenance": _Key(_COLUMN),
}

_BASELINE = {
    "window": _Key(_WINDOW),
    "chunks": _Key(_integer(f"an integer >= {MIN_BASELINE_CHUNKS}", MIN_BASELINE_CHUNKS)),
}

_MODEL = {
    "task": _Key(_choice(TASKS), required=True),
    "timestamp": _Key(_COLUMN, required=True),
    "prediction": _Key(_COLUMN, required=True),
    "target": _Key(_COLUMN, required=True),
    "features": _Key(_block(_FEATURES, _make_features)),
    "reference": _Key(_PATH, required=True),
    "logs": _Key(_PATH, required=True),
    "labels": _Key(_block(_LABELS, _dataclass(LabelsConfig))),
    "version_column": _Key(_COLUMN),
    "versions": _Key(
        _entries(
            "a non-empty mapping of version name -> {model, deployed, trusted}",
            _name("version"),
            lambda name, body, where: VersionConfig(
                name=name, **_check_block(body, _VERSION, where)
            ),
            min_items=1,
        ),
        required=True,
    ),
    "operational": _Key(_block(_OPERATIONAL, _dataclass(OperationalConfig))),
    "feedback": _Key(_block(_FEEDBACK, _dataclass(FeedbackConfig))),
    "thresholds": _Key(_block(_THRESHOLDS, _make_thresholds)),
    "segments": _Key(_COLUMNS),
    "chunk": _Key(_CHUNK),
    "baseline": _Key(_block(_BASELINE, _dataclass(BaselineConfig))),
    "decision_threshold": _Key(_number("a number between 0 and 1 (exclusive)", lambda x: 0 < x < 1)),
}

def _url_check(value: Any, where: _Where) -> str:
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        where.fail("an http(s) URL", value)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        where.fail("an http(s) URL with a host, e.g. https://hooks.slack.com/services/...", value)
    return value.strip()


_WEBHOOK = {
    "url": _Key(_Check("an http(s) URL", _url_check), required=True),
    "min_status": _Key(_choice(("warn", "alert", "error"))),
    "timeout_seconds": _Key(_number("a number of seconds > 0", lambda x: x > 0)),
    "retries": _Key(_integer("an integer >= 0", 0)),
}


def _webhooks_check(value: Any, where: _Where) -> tuple[WebhookConfig, ...]:
    if not isinstance(value, list):
        where.fail("a list of webhooks ({url, min_status, timeout_seconds, retries})", value)
    return tuple(WebhookConfig(**_check_block(item, _WEBHOOK, where.child(i))) for i, item in enumerate(value))


_ALERTS = {
    "webhooks": _Key(_Check("a list of webhooks", _webhooks_check)),
}

_PROJECT = {
    "archive": _Key(_PATH, required=True),
    "alerts": _Key(_block(_ALERTS, _dataclass(AlertsConfig))),
    "models": _Key(
        _entries(
            "a non-empty mapping of model name -> model",
            _name("model"),
            lambda name, body, where: ModelConfig(
                name=name, **_check_block(body, _MODEL, where)
            ),
            min_items=1,
        ),
        required=True,
    ),
}


# --------------------------------------------------------------------------
# Windows.

_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _parse_instant(text: str, side: str) -> dt.datetime:
    text = text.strip()
    if _ISO_DATE.fullmatch(text) or _ISO_DATETIME.fullmatch(text):
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{side} {text!r} is not a valid date or datetime ({exc})") from None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc)
    raise ValueError(
        f"{side} {text!r} is not an ISO date or datetime "
        "(e.g. 2026-11-16 or 2026-11-16T06:00:00+00:00)"
    )


def _parse_window(text: Any) -> tuple[dt.datetime, dt.datetime]:
    """Parse ``START/END``; raise ValueError with a short reason when it is not that."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string START/END, got {type(text).__name__}")
    sides = text.split("/")
    if len(sides) != 2:
        raise ValueError(
            "expected START/END with one '/' (e.g. 2026-11-16/2026-11-23), "
            f"got {len(sides) - 1} '/'"
        )
    start = _parse_instant(sides[0], "START")
    end = _parse_instant(sides[1], "END")
    if end <= start:
        raise ValueError("END must be after START")
    return start, end
