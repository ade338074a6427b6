"""Notebook parameters given with ``mlmon run -P KEY=VALUE``: declared, typed, checked before a kernel starts.

The shipped notebooks declare each parameter's type and range in :data:`SPECS`;
a team notebook's parameters are checked against the type of their default
value (an ``int`` default takes integers, a ``str`` default any text). A value
that does not fit is an exit-2 error naming the notebook, the parameter, what
was expected and what was given, before any kernel runs: a scheduler's
parameters are data, never code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .alertable import STATISTICS
from .chunks import chunk_error
from .errors import UsageError
from .expressions import parse_filter

_TOP_N = re.compile(r"(top|bottom):\s*([0-9]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Spec:
    """What a parameter accepts: ``check(value)`` returns the value to pass, or raises ValueError."""

    expected: str
    check: Callable[[Any], Any]


def integer(minimum: int | None = None, maximum: int | None = None) -> Spec:
    bounds = " ".join(x for x in (f">= {minimum}" if minimum is not None else "",
                                  f"<= {maximum}" if maximum is not None else "") if x)
    expected = f"an integer {bounds}".strip()

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(expected)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ValueError(expected)
        return value

    return Spec(expected, check)


def text(expected: str = "a text", validate: Callable[[str], None] | None = None) -> Spec:
    def check(value: Any) -> str:
        value = "" if value is None else value
        if not isinstance(value, str):
            value = str(value)
        if validate is not None:
            validate(value)
        return value

    return Spec(expected, check)


def _statistics(value: str) -> None:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in STATISTICS]
    if unknown:
        raise ValueError(f"statistic names separated by commas (known: {', '.join(STATISTICS)}); "
                         f"{unknown[0]!r} is not one")


def _chunk(value: str) -> None:
    if value.strip() and chunk_error(value.strip()):
        raise ValueError("a chunk size like 1d, 12h or 1w, or empty for the model's setting")


def _cohort(value: str) -> None:
    v = value.strip()
    if not v or v.lower() == "worst_segment":
        return
    m = _TOP_N.fullmatch(v)
    if m:
        if int(m.group(2)) < 1:
            raise ValueError("top:N or bottom:N with N >= 1")
        return
    if v.lower().startswith(("top:", "bottom:")):
        raise ValueError("top:N or bottom:N with N a whole number >= 1")
    try:
        parse_filter(v, "cohort")
    except UsageError as exc:
        raise ValueError(str(exc).removeprefix("cohort: ")) from None


#: The shipped notebooks' own parameters (beyond those ``mlmon run`` sets).
SPECS: dict[str, dict[str, Spec]] = {
    "data_drift": {
        "top_n": integer(1, 10_000), "max_overlays": integer(0, 1_000), "seed": integer(0),
        "statistics": text("statistic names separated by commas", _statistics),
    },
    "concept_drift": {
        "chunk": text("a chunk size like 1d, 12h or 1w", _chunk), "min_labels_per_chunk": integer(1),
    },
    "explainability": {
        "cohort": text("a filter (device == \"mobile\" and price > 40), top:N, bottom:N or worst_segment", _cohort),
        "max_rows": integer(1, 1_000_000), "seed": integer(0),
    },
}


def spec_from_default(default: str) -> Spec:
    """The spec of a team notebook's parameter, from its default (papermill's source text)."""
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text()
    if isinstance(value, bool):
        return Spec("true or false", lambda v: v if isinstance(v, bool) else _raise("true or false"))
    if isinstance(value, int):
        return integer()
    if isinstance(value, float):
        return Spec("a number", lambda v: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                    else _raise("a number"))
    return text()


def _raise(expected: str) -> Any:
    raise ValueError(expected)


def check(notebook: str, values: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Values checked against a notebook's specs; the converted values.

    Parameters
    ----------
    notebook : str
        The notebook's name.
    values : mapping
        The parameters given for it.
    declared : mapping
        papermill's ``inspect_notebook`` of it (name -> {default, ...}).

    Raises
    ------
    UsageError
        ``-P top_n=abc: data_drift's top_n expects an integer >= 1``.
    """
    own = SPECS.get(notebook, {})
    out = {}
    for key, value in values.items():
        spec = own.get(key) or spec_from_default(str((declared.get(key) or {}).get("default", '""')))
        try:
            out[key] = spec.check(value)
        except ValueError as exc:
            raise UsageError(f"-P {key}={value!r}: {notebook}'s {key} expects {exc}") from None
    return out
