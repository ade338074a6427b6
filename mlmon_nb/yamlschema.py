"""A small table-driven checker for YAML documents (used by :mod:`mlmon_nb.config`).

Each block of a document is described by a schema mapping its keys to a
:class:`Check` (what is expected, and a function that validates and converts
the value at a :class:`Where`: the file and the key path). Every failure is one
:class:`~mlmon_nb.errors.ConfigError` line naming the file, the key path, what
was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

import yaml

from .chunks import CHUNK_PATTERN, chunk_error
from .errors import ConfigError
from .windows import window_bounds

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
"""Model and version names: they become folder names in the archive."""

# --------------------------------------------------------------------------
# Where we are in the file, and how a problem there is reported.

MISSING = object()
REPR_LIMIT = 60


@dataclass(frozen=True)
class Where:
    """A position in the project file: the file, its folder and the key path."""

    file: str
    root: Path
    keys: tuple[str, ...] = ()

    def child(self, key: Any) -> Where:
        segment = key if isinstance(key, str) and key.isprintable() else repr(key)
        return Where(self.file, self.root, (*self.keys, segment))

    @property
    def path(self) -> str:
        return ".".join(self.keys) or "top level"

    def fail(
        self, expected: str, value: Any = MISSING, *, got: str | None = None, note: str = ""
    ) -> NoReturn:
        """Raise the ConfigError for this position: expected ..., got ...."""
        if got is None:
            got = describe(value)
        message = f"{self.file}: {self.path}: expected {expected}, got {got}"
        if note:
            message += f"; {note}"
        # Keys and YAML problems are user text: keep the message on one line.
        raise ConfigError(" ".join(message.splitlines()))


def display(path: Path) -> str:
    """Show ``path`` relative to the working folder when inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


TYPE_NAMES = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "string",
    list: "list",
    dict: "mapping",
    dt.date: "date",
    dt.datetime: "datetime",
}


def describe(value: Any) -> str:
    if value is None:
        return "null"
    kind = TYPE_NAMES.get(type(value), type(value).__name__)
    return f"{kind} ({truncated(value)})"


def truncated(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."


# --------------------------------------------------------------------------
# YAML loading.


MAX_VALUES = 100_000
"""Most values a document may expand to through aliases (a project file has a few hundred)."""


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys, reports bad dates and alias bombs.

    Plain ``safe_load`` keeps the last of two equal keys silently, which hides
    exactly the kind of slip the project file must not ignore. A few nested
    aliases (``b: [*a, *a, ...]``) can expand a small file into billions of
    values: the composed document's expanded size is counted (linear in the
    file) and refused above :data:`MAX_VALUES` before anything is built.
    """

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        sizes: dict[int, int] = {}
        if _expanded(node, sizes) > MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"the document expands to more than {MAX_VALUES:,} values through aliases "
                            f"(an alias bomb?); write the values out", node.start_mark)
        return node

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


def _expanded(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values ``node`` stands for once every alias is expanded (memoised: linear in the file)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    sizes[key] = MAX_VALUES + 1  # a node reached again while being counted: a recursive alias
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded(k, sizes) + _expanded(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded(v, sizes) for v in node.value)
    else:
        total = 1
    sizes[key] = min(total, MAX_VALUES + 1)
    return sizes[key]


Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_mapping)
Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_timestamp)


def yaml_problem(exc: yaml.YAMLError) -> str:
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
class Check:
    """A checker: ``convert(value, where)`` returns the value or calls ``where.fail``."""

    what: str
    convert: Callable[[Any, Where], Any]


@dataclass(frozen=True)
class Key:
    """One row of a block's schema."""

    check: Check
    required: bool = False


def string_check(what: str) -> Check:
    def convert(value: Any, where: Where) -> str:
        if not isinstance(value, str) or not value.strip():
            where.fail(what, value)
        return value

    return Check(what, convert)


COLUMN = string_check("a column name (string)")


def path_check(value: Any, where: Where) -> Path:
    if not isinstance(value, str) or not value.strip():
        where.fail(PATH.what, value)
    return Path(os.path.abspath(where.root / Path(value).expanduser()))


PATH = Check("a path (string, relative to the project file)", path_check)


def bool_check(value: Any, where: Where) -> bool:
    if not isinstance(value, bool):
        where.fail(BOOL.what, value)
    return value


BOOL = Check("true or false", bool_check)

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def date_check(value: Any, where: Where) -> dt.date:
    if isinstance(value, dt.datetime):
        where.fail(DATE.what, value, note="give the day only")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            where.fail(DATE.what, value, note=str(exc))
    where.fail(DATE.what, value)


DATE = Check("a date YYYY-MM-DD", date_check)


def choice_check(choices: tuple[str, ...]) -> Check:
    what = "one of " + ", ".join(choices)

    def convert(value: Any, where: Where) -> str:
        if value not in choices or not isinstance(value, str):
            where.fail(what, value)
        return value

    return Check(what, convert)


def number_check(what: str, accept: Callable[[float], bool]) -> Check:
    def convert(value: Any, where: Where) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not accept(value)
        ):
            where.fail(what, value)
        return float(value)

    return Check(what, convert)


ANY_NUMBER = number_check("a number", lambda x: True)


def integer_check(what: str, minimum: int, maximum: int | None = None) -> Check:
    def convert(value: Any, where: Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or (maximum is not None and value > maximum):
            where.fail(what, value)
        return value

    return Check(what, convert)


def columns_check(value: Any, where: Where) -> tuple[str, ...]:
    if not isinstance(value, list):
        where.fail(COLUMNS.what, value)
    seen: set[str] = set()
    for index, item in enumerate(value):
        COLUMN.convert(item, where.child(index))
        if item in seen:
            where.child(index).fail("each column listed once", got=f"{item!r} again")
        seen.add(item)
    return tuple(value)


COLUMNS = Check("a list of column names", columns_check)


def chunk_check(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not re.fullmatch(CHUNK_PATTERN, value):
        where.fail(CHUNK.what, value)
    if chunk_error(value):
        where.fail(CHUNK.what, value, note="the size must be positive")
    return value


CHUNK = Check("a chunk size like 1d, 12h or 1w (hours, days, weeks)", chunk_check)


def window_check(value: Any, where: Where) -> tuple[dt.datetime, dt.datetime]:
    if not isinstance(value, str):
        where.fail(WINDOW.what, value)
    try:
        return window_bounds(value)
    except ValueError as exc:
        where.fail(WINDOW.what, value, note=str(exc))


WINDOW = Check("a window START/END of ISO dates or datetimes", window_check)


# --------------------------------------------------------------------------
# Engines (mlmon_nb.config's engine block) and where logs live.

URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
LOCAL_MASTER = re.compile(r"local(\[(\*|[1-9][0-9]*)(,[0-9]+)?\])?|local-cluster\[[0-9]+,\s*[0-9]+,\s*[0-9]+\]")
CLUSTER_MASTER = re.compile(r"spark://[^\s/:,]+(:[0-9]+)?(,[^\s/:,]+(:[0-9]+)?)*|yarn|(k8s|mesos)://\S+")
SPARK_REMOTE_URL = re.compile(r"sc://[^\s/:]+(:[0-9]+)?(/;\S*)?")


def spark_master_check(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not (LOCAL_MASTER.fullmatch(value) or CLUSTER_MASTER.fullmatch(value)):
        where.fail("a Spark master URL: local[2], local[*], spark://host:7077, yarn or k8s://https://host:port", value)
    return value


def spark_remote_check(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not SPARK_REMOTE_URL.fullmatch(value):
        where.fail("a Spark Connect URL sc://host[:port] (port 15002 by default)", value)
    return value


def spark_conf_check(value: Any, where: Where) -> dict[str, str]:
    if not isinstance(value, dict):
        where.fail("a mapping of Spark setting -> value, e.g. {spark.executor.memory: 4g}", value)
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            where.fail("Spark setting names (strings)", key)
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif not isinstance(item, (str, int, float)) or item == "":
            where.child(key).fail("a string, number or true/false", item)
        out[key] = str(item)
    return out


SPARK_MASTER = Check("a Spark master URL", spark_master_check)
SPARK_REMOTE = Check("a Spark Connect URL sc://host:port", spark_remote_check)
SPARK_CONF = Check("a mapping of Spark settings", spark_conf_check)


def name_check(kind: str) -> Check:
    """Model and version names: they become folder names inside the archive."""
    what = f"a {kind} name matching {NAME_PATTERN}"

    def convert(value: Any, where: Where) -> str:
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

    return Check(what, convert)


KEY_NAME = string_check("a name (string)")


# --------------------------------------------------------------------------
# Blocks: mappings with fixed keys, and mappings of named entries.


def check_block(value: Any, schema: Mapping[str, Key], where: Where) -> dict[str, Any]:
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


def as_dict(values: dict[str, Any], where: Where) -> dict[str, Any]:
    return values


def block_check(
    schema: Mapping[str, Key],
    make: Callable[[dict[str, Any], Where], Any] = as_dict,
) -> Check:
    """A checker for a fixed-key mapping; ``make`` builds the result and cross-checks."""
    return Check(
        "a mapping with the keys " + ", ".join(schema),
        lambda value, where: make(check_block(value, schema, where), where),
    )


def entries_check(
    what: str,
    name: Check,
    entry: Callable[[str, Any, Where], Any],
    min_items: int = 0,
) -> Check:
    """A checker for a mapping of ``name -> entry``; a null entry counts as ``{}``."""

    def convert(value: Any, where: Where) -> dict[str, Any]:
        if not isinstance(value, dict) or len(value) < min_items:
            where.fail(what, value)
        result: dict[str, Any] = {}
        for key, body in value.items():
            checked = name.convert(key, where.child(key))
            if checked in result:
                where.child(key).fail(f"{name.what}, each once", got=f"{checked!r} twice")
            result[checked] = entry(checked, {} if body is None else body, where.child(key))
        return result

    return Check(what, convert)


def dataclass_of(cls: type) -> Callable[[dict[str, Any], Where], Any]:
    return lambda values, where: cls(**values)
