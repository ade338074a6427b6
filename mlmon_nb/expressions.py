"""Row filters written by people (``-P cohort=...``): parsed by us, evaluated as data, never as code.

A filter is a small boolean expression over the window's columns::

    device == "mobile" and price > 40
    region in ("eu", "apac") or not (tenure_days < 30)
    price.between(10, 20) & ~discount.isna()
    `delivery zone` != 'far'

Grammar: column names (identifiers, or any name in backticks), literals
(numbers, quoted strings, True/False/None), comparisons (``== != < <= > >=``,
chained too), ``in`` / ``not in`` a list or tuple of literals, ``and`` / ``or`` /
``not`` (and pandas' ``&`` / ``|`` / ``~``), and the column methods
``isna()``, ``notna()``, ``between(low, high)`` (also as functions
``isna(col)``, ``notna(col)``, ``between(col, low, high)``). The text is parsed
with :mod:`ast` into a tree whose every node is checked against that grammar;
the tree is then evaluated with pandas operations on the named columns.
Attribute access, subscripts, calls of anything else, arithmetic, lambdas and
comprehensions are refused with a one-line :class:`~mlmon_nb.errors.UsageError`.
Unlike ``DataFrame.eval``/``query`` nothing in the text can reach Python objects.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import UsageError

MAX_LENGTH = 2000
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_METHODS = {"isna": 0, "notna": 0, "isnull": 0, "notnull": 0, "between": 2}
_BACKTICK = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Filter:
    """A parsed row filter: its text, the columns it reads, and :meth:`mask`."""

    text: str
    columns: tuple[str, ...]
    _tree: ast.Expression
    _names: dict[str, str]

    def mask(self, frame) -> Any:
        """A boolean Series over ``frame``'s rows (missing values never match a comparison).

        Raises
        ------
        UsageError
            When a column is not in the frame (the message lists the ones that are).
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            shown = ", ".join(map(str, list(frame.columns)[:30]))
            raise UsageError(f"filter {self.text!r}: no column {missing[0]!r}; columns: {shown}")
        try:
            return _as_mask(_evaluate(self._tree.body, frame, self._names), frame)
        except UsageError as exc:
            raise UsageError(str(exc).replace("filter:", f"filter {self.text!r}:", 1)) from None

    def __str__(self) -> str:
        return self.text


def parse_filter(text: str, where: str = "filter") -> Filter:
    """Parse a row filter (see the module docstring for the grammar).

    Raises
    ------
    UsageError
        Naming ``where`` and what is not allowed, for anything outside the grammar.

    Examples
    --------
    >>> f = parse_filter('device == "mobile" and `unit price` > 40')
    >>> f.columns
    ('device', 'unit price')
    >>> parse_filter("price.__init__.__globals__")
    Traceback (most recent call last):
    ...
    mlmon_nb.errors.UsageError: filter: 'price.__init__.__globals__' is not allowed (attribute '__globals__'); ...
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{where}: expected a filter such as device == \"mobile\", got {text!r}")
    if len(text) > MAX_LENGTH:
        raise UsageError(f"{where}: a filter may be at most {MAX_LENGTH} characters long, got {len(text)}")
    names: dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        key = f"__mlmon_col_{len(names)}__"
        names[key] = match.group(1)
        return key

    source = _BACKTICK.sub(placeholder, text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        raise UsageError(f"{where}: {text!r} is not a filter expression ({detail})") from None
    columns: list[str] = []
    _check(tree.body, text, where, names, columns)
    return Filter(text.strip(), tuple(dict.fromkeys(columns)), tree, names)


_HINT = ("use column names, literals, comparisons, in, and/or/not, isna(), notna(), between()")


def _refuse(text: str, where: str, what: str) -> None:
    raise UsageError(f"{where}: {text!r} is not allowed ({what}); {_HINT}")


def _check(node: ast.AST, text: str, where: str, names: dict[str, str], columns: list[str]) -> None:
    """Walk the tree; refuse any node outside the grammar. Collect column names."""
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, text, where, names, columns)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        _check(node.left, text, where, names, columns)
        _check(node.right, text, where, names, columns)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
        _check(node.operand, text, where, names, columns)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
        return
    elif isinstance(node, ast.Compare):
        _operand(node.left, text, where, names, columns)
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (ast.List, ast.Tuple)) or not all(_is_literal(e) for e in right.elts):
                    _refuse(text, where, "'in' needs a list of literals, e.g. region in ('eu', 'apac')")
            elif type(op) in _COMPARE:
                _operand(right, text, where, names, columns)
            else:
                _refuse(text, where, f"operator {type(op).__name__}")
    elif isinstance(node, ast.Call):
        _call(node, text, where, names, columns)
    elif isinstance(node, ast.Name) or _is_literal(node):
        _operand(node, text, where, names, columns)
    elif isinstance(node, ast.Attribute):
        _refuse(text, where, f"attribute {node.attr!r}")
    else:
        _refuse(text, where, type(node).__name__.lower())


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, (bool, int, float, str))
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
        and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool)


def _operand(node, text, where, names, columns) -> None:
    if isinstance(node, ast.Name):
        columns.append(names.get(node.id, node.id))
    elif isinstance(node, ast.Call):
        _call(node, text, where, names, columns)
    elif not _is_literal(node):
        what = f"attribute {node.attr!r}" if isinstance(node, ast.Attribute) else type(node).__name__.lower()
        _refuse(text, where, what)


def _call(node: ast.Call, text, where, names, columns) -> None:
    if node.keywords:
        _refuse(text, where, "keyword arguments")
    if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
        method, args = node.func.attr, node.args
        columns.append(names.get(node.func.value.id, node.func.value.id))
    elif isinstance(node.func, ast.Name) and node.args and isinstance(node.args[0], ast.Name):
        method, args = node.func.id, node.args[1:]
        columns.append(names.get(node.args[0].id, node.args[0].id))
    else:
        what = f"attribute {node.func.attr!r}" if isinstance(node.func, ast.Attribute) else "this call"
        _refuse(text, where, what)
        return
    if method not in _METHODS or len(args) != _METHODS[method] or not all(_is_literal(a) for a in args):
        _refuse(text, where, f"call of {method!r}")


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    return -node.operand.value  # a negative number (checked in _is_literal)


def _evaluate(node: ast.AST, frame, names: dict[str, str]) -> Any:
    if isinstance(node, ast.BoolOp):
        values = [_as_mask(_evaluate(v, frame, names), frame) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out
    if isinstance(node, ast.BinOp):
        left = _as_mask(_evaluate(node.left, frame, names), frame)
        right = _as_mask(_evaluate(node.right, frame, names), frame)
        return (left & right) if isinstance(node.op, ast.BitAnd) else (left | right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
        return ~_as_mask(_evaluate(node.operand, frame, names), frame)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, frame, names)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                values = [_literal(e) for e in right_node.elts]
                part = _column_isin(left, values, frame)
                part = ~part if isinstance(op, ast.NotIn) else part
                right = None
            else:
                right = _evaluate(right_node, frame, names)
                part = _as_mask(_COMPARE[type(op)](*_comparable(left, right)), frame)
            result = part if result is None else (result & part)
            left = right
        return result
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            column, method, args = frame[names.get(node.func.value.id, node.func.value.id)], node.func.attr, node.args
        else:
            column, method, args = frame[names.get(node.args[0].id, node.args[0].id)], node.func.id, node.args[1:]
        if method in ("isna", "isnull"):
            return column.isna()
        if method in ("notna", "notnull"):
            return column.notna()
        low, high = (_literal(a) for a in args)
        return column.between(low, high)
    if isinstance(node, ast.Name):
        return frame[names.get(node.id, node.id)]
    return _literal(node)


def _column_isin(values, wanted: list, frame):
    import pandas as pd  # noqa: see Filter.mask

    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        return values.isin(wanted)
    return pd.Series(values in wanted, index=frame.index)


def _comparable(left, right):
    """Categorical columns compare as their values (pandas refuses < on unordered categories)."""
    import pandas as pd  # noqa: see Filter.mask

    def plain(v):
        return v.astype(object) if isinstance(v, pd.Series) and isinstance(v.dtype, pd.CategoricalDtype) else v

    return plain(left), plain(right)


def _as_mask(value, frame):
    import pandas as pd  # noqa: see Filter.mask

    if isinstance(value, pd.Series):
        if not (pd.api.types.is_bool_dtype(value.dtype) or value.dtype == object and
                value.dropna().map(lambda v: isinstance(v, bool)).all()):
            raise UsageError(f"filter: column {value.name!r} is {value.dtype}, which does not give True/False "
                             f"for each row; write a comparison such as {value.name} == ...")
        return value.fillna(False).astype(bool)
    if not isinstance(value, bool):
        raise UsageError(f"filter: {value!r} does not give True/False for each row; write a comparison")
    return pd.Series(value, index=frame.index)
