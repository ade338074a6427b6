"""What every engine offers: an :class:`Engine` opens a :class:`Scan` of a window or of the
reference; a scan answers aggregations written once in DuckDB's SQL dialect, and draws a bounded,
seeded, stratified sample of its rows.

The aggregation text reads ``FROM window_rows``: the scan's rows, filtered to the window (and the
serving version), late labels joined, the target mapped: exactly the rows
:func:`mlmon_nb.data.read_window` returns. ``$name`` placeholders are replaced by the literals of
small Python values before the engine sees the text, so that the same text runs on DuckDB as is
and on Spark transpiled (:mod:`mlmon_nb.engines.spark`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ..config import FeaturesConfig, ModelConfig, Project
from ..data import Relation, table_frame
from ..errors import UsageError
from ..models import SCORE_BATCH_ROWS
from ..progress import Reporter
from ..sources import literal, quote

logger = logging.getLogger(__name__)

WINDOW_ROWS = "window_rows"
"""The name aggregation SQL reads the scan's rows from."""
DAY = "__day__"
"""A stratum of :meth:`Scan.sample`: the UTC day of the scan's timestamp column."""
MAX_INLINED_ITEMS = 100_000
"""Most items a list or tuple parameter may inline (parameters are small values, not data)."""


# --------------------------------------------------------------------------- parameters


def sql_literal(value: Any) -> str:
    """A small Python value as a literal of DuckDB's SQL (which sqlglot transpiles to Spark).

    ``None`` is NULL; booleans, integers, floats (``nan``/``inf`` included), strings, dates and
    datetimes (naive ones are UTC) become typed literals; a list becomes a list literal
    (``[1, 2]``: ``list_contains($levels, x)``), a tuple a parenthesised list (``x IN $levels``).

    Examples
    --------
    >>> sql_literal(0.1), sql_literal(3), sql_literal("it's"), sql_literal(None)
    ('0.1e0', '3', "'it''s'", 'NULL')
    >>> sql_literal(float("nan")), sql_literal(["a", 2])
    ("CAST('NaN' AS DOUBLE)", "['a', 2]")
    >>> sql_literal(dt.datetime(2026, 9, 7))
    "TIMESTAMPTZ '2026-09-07T00:00:00+00:00'"
    """
    if value is None:
        return "NULL"
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return "CAST('NaN' AS DOUBLE)"
        if math.isinf(x):
            return "CAST('Infinity' AS DOUBLE)" if x > 0 else "CAST('-Infinity' AS DOUBLE)"
        text = repr(x)
        # An exponent makes the literal a DOUBLE in both dialects (0.1 alone is a DECIMAL).
        return text if "e" in text else text + "e0"
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return f"TIMESTAMPTZ {literal(moment.astimezone(dt.timezone.utc).isoformat())}"
    if isinstance(value, dt.date):
        return f"DATE {literal(value.isoformat())}"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        if len(items) > MAX_INLINED_ITEMS:
            raise UsageError(f"a list parameter of Scan.aggregate holds at most {MAX_INLINED_ITEMS:,} items. "
                             f"Got {len(items):,} instead.")
        inner = ", ".join(sql_literal(v) for v in items)
        if isinstance(value, tuple):
            if not items:
                raise UsageError("a tuple parameter of Scan.aggregate (an IN list) must not be empty. Got () instead.")
            return f"({inner})"
        return f"[{inner}]"
    raise UsageError(f"a parameter of Scan.aggregate must be None, a bool, number, string, date, datetime, list or "
                     f"tuple. Got {type(value).__name__} instead.")


def inline(sql: str, params: Mapping[str, Any]) -> str:
    """Replace each ``$name`` placeholder outside quotes and comments by its value's literal.

    Raises
    ------
    UsageError
        A placeholder without a value (naming it and the values given).

    Examples
    --------
    >>> inline("SELECT count(*) FILTER (WHERE x > $cut) AS n, '$cut' AS s FROM window_rows", {"cut": 2.5})
    "SELECT count(*) FILTER (WHERE x > 2.5e0) AS n, '$cut' AS s FROM window_rows"
    """
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":  # a string or a quoted identifier: copied as is ('' and "" escape)
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j])
            i = j
        elif ch == "$" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            name = sql[i + 1:j]
            if name not in params:
                given = ", ".join(sorted(params)) or "none"
                raise UsageError(f"the SQL of Scan.aggregate uses ${name}, which has no value; given: {given}")
            out.append(sql_literal(params[name]))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- the sample


def allocate(counts: Sequence[int], n: int) -> list[int]:
    """Rows to draw from each stratum for a sample of at most ``n`` rows.

    Proportional to the strata's sizes (largest remainders), every stratum at least one row while
    there are no more strata than ``n``, never more than a stratum holds.

    Examples
    --------
    >>> allocate([900, 90, 10], 100)
    [90, 9, 1]
    >>> allocate([990, 5, 5], 100)
    [98, 1, 1]
    >>> allocate([3, 4], 100)
    [3, 4]
    """
    total = sum(counts)
    if total <= n:
        return list(counts)
    quotas = [n * c / total for c in counts]
    alloc = [min(c, int(q)) for c, q in zip(counts, quotas)]
    if len(counts) <= n:
        alloc = [max(a, 1 if c else 0) for a, c in zip(alloc, counts)]
    while sum(alloc) > n:  # the minimum of one row per stratum was paid by the largest
        k = max(range(len(alloc)), key=lambda i: (alloc[i], -i))
        alloc[k] -= 1
    order = sorted(range(len(counts)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    left = n - sum(alloc)
    while left > 0:
        moved = False
        for i in order:
            if left and alloc[i] < counts[i]:
                alloc[i] += 1
                left -= 1
                moved = True
        if not moved:
            break
    return alloc


def _uniform(columns: Sequence[str], seed: int) -> str:
    """A pseudo-random number in [0, 1) from a hash of a row's values and the seed.

    Written so that it means the same in both dialects: DuckDB's ``hash`` is a 64-bit unsigned
    integer and Spark's a 32-bit signed one; the remainder is taken before the cast (no overflow
    in either) and made non-negative after it.
    """
    m = 2147483647
    args = ", ".join([*(quote(c) for c in columns), str(int(seed))])
    return f"(((CAST(hash({args}) % {m} AS BIGINT) + {m}) % {m}) / {float(m)!r})"


class Scan:
    """Rows of a window (or of the reference) that an engine scans where the data lives.

    Attributes
    ----------
    columns : dict
        Column name -> DuckDB-style type name (``DOUBLE``, ``VARCHAR``,
        ``TIMESTAMP WITH TIME ZONE``, ...), whatever the engine.
    timestamp : str or None
        The timestamp column, when the rows have one (the ``__day__`` stratum).
    """

    engine: str = ""
    _closers: tuple = ()  # what close() releases (on_close)

    def __init__(self, *, columns: dict[str, str], timestamp: str | None, features: FeaturesConfig,
                 relation: Relation):
        self.columns = dict(columns)
        self.timestamp = timestamp if timestamp in self.columns else None
        self.features = features
        self.relation = relation
        self._rows: int | None = None
        #: Where named passes report how far they got (:mod:`mlmon_nb.progress`); None: they do not.
        self.progress: Reporter | None = None

    def __repr__(self) -> str:
        rows = "?" if self._rows is None else f"{self._rows:,}"
        return f"<{type(self).__name__} {self.relation.where}: {rows} rows, {len(self.columns)} columns>"

    @property
    def rows(self) -> int:
        """Rows of the scan (``count(*)``, computed once on first use)."""
        if self._rows is None:
            self._rows = int(self.aggregate(f"SELECT count(*) AS n FROM {WINDOW_ROWS}").column("n")[0].as_py())
        return self._rows

    def aggregate(self, sql: str, /, *, pass_name: str | None = None, **params: Any) -> pa.Table:
        """Run an aggregation over the scan's rows and return its (small) result.

        Parameters
        ----------
        sql : str
            One query in DuckDB's SQL dialect reading ``FROM window_rows``. Give every output
            column an alias: engines name unaliased expressions differently.
        pass_name : str, optional
            Names a long pass over the rows: while it runs, the share the engine has scanned goes
            to :attr:`progress` (the ``mlmon`` command prints it). Short queries leave it out.
        **params
            Values of the ``$name`` placeholders in ``sql``, inlined as literals
            (:func:`sql_literal`).

        Returns
        -------
        pyarrow.Table
        """
        text = inline(sql, params)
        if pass_name is None or self.progress is None:
            return self._execute(text)
        with self.progress.scan(pass_name, self.rows, self._scanned_share):
            return self._execute(text)

    def _execute(self, sql: str) -> pa.Table:
        raise NotImplementedError

    def _scanned_share(self) -> float | None:
        """The share of the running query's work done (0..1), None while unknown; called from a thread."""
        return None

    def sample(self, n: int, *, strata: Sequence[str], seed: int) -> pd.DataFrame:
        """A bounded, seeded, stratified sample of at most ``n`` rows.

        Each stratum (a combination of the ``strata`` columns' values; ``"__day__"`` is the UTC day
        of the timestamp column) gets rows in proportion to its size, at least one while there are
        no more strata than ``n``. Within a stratum the rows with the smallest hash of their values
        and ``seed`` are drawn, so the same data and seed give the same sample, in any file order
        and on any number of threads. The engine keeps only the candidate rows (about ``n``) in
        memory, never the scan's rows.

        Parameters
        ----------
        n : int
            Most rows to return (>= 1).
        strata : list of str
            Columns (or ``"__day__"``) to stratify by; ``[]`` for a simple random sample.
        seed : int
            Seed of the hash (>= 0).

        Returns
        -------
        pandas.DataFrame
            The sampled rows, typed as :func:`mlmon_nb.data.read_window` types them, ordered by
            stratum and draw.

        Raises
        ------
        UsageError
            ``n`` or ``seed`` out of range, or a stratum that is not a column of the scan.
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise UsageError(f"The 'n' parameter of Scan.sample must be an int >= 1. Got {n!r} instead.")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise UsageError(f"The 'seed' parameter of Scan.sample must be an int >= 0. Got {seed!r} instead.")
        keys = [self._stratum_sql(s) for s in strata]
        key = "concat_ws('|', " + ", ".join(f"coalesce(CAST({k} AS VARCHAR), '~null')" for k in keys) + ")" \
            if keys else "''"
        counts = self.aggregate(f"SELECT {key} AS s, count(*) AS c FROM {WINDOW_ROWS} GROUP BY 1 ORDER BY 1")
        names = [str(v) for v in counts.column("s").to_pylist()]
        sizes = [int(v) for v in counts.column("c").to_pylist()]
        alloc = allocate(sizes, int(n))
        # Rows whose hash falls below a stratum's cut-off are candidates: about k + 3 sqrt(k) + 10
        # of them for k rows to draw, so the last step sorts a few more than n rows, not the scan.
        plan = [(s, k, min(1.0, (k + 3 * math.sqrt(k) + 10) / c)) for s, k, c in zip(names, alloc, sizes) if k]
        if not plan:
            return table_frame(self.aggregate(f"SELECT * FROM {WINDOW_ROWS} LIMIT 0"), self.relation,
                               self.timestamp, self.features)
        values = ", ".join(f"({literal(s)}, {k}, {sql_literal(p)})" for s, k, p in plan)
        cols = list(self.columns)
        listed = ", ".join(quote(c) for c in cols)
        u1, u2 = _uniform(cols, int(seed)), _uniform(cols, int(seed) + 1)
        sql = (f"SELECT {listed} FROM ("
               f"SELECT c.*, row_number() OVER (PARTITION BY c.__s ORDER BY c.__u1, c.__u2) AS __r FROM ("
               f"SELECT w.*, a.__k AS __k FROM ("
               f"SELECT {listed}, {key} AS __s, {u1} AS __u1, {u2} AS __u2 FROM {WINDOW_ROWS}) AS w "
               f"JOIN (VALUES {values}) AS a(__s, __k, __p) ON w.__s = a.__s WHERE w.__u1 < a.__p) AS c"
               f") AS r WHERE __r <= __k ORDER BY __s, __u1, __u2")
        table = self.aggregate(sql)
        return table_frame(table, self.relation, self.timestamp, self.features)

    def _stratum_sql(self, name: str) -> str:
        if name == DAY:
            if self.timestamp is None:
                return "NULL"  # no timestamp (a reference without one): one day for every row
            ts = quote(self.timestamp)
            if self.columns[self.timestamp].upper().startswith("VARCHAR"):
                ts = f"CAST({ts} AS TIMESTAMPTZ)"
            return f"CAST(date_trunc('day', {ts}) AS DATE)"
        if name not in self.columns:
            raise UsageError(f"The 'strata' parameter of Scan.sample must name columns of the scan or "
                             f"{DAY!r}. Got {name!r} instead; columns are: {', '.join(self.columns)}")
        return quote(name)

    def scored(self, model, *, column: str = "__score__", batch_rows: int | None = None,
               keep: Sequence[str] | None = None, spill_dir=None) -> "Scan":
        """A scan of the same rows with the model's output as one more column (scored in batches).

        DuckDB streams the rows in Arrow batches of at most ``batch_rows`` rows, scores each and
        writes them to a parquet spill in a temporary folder, which the returned scan reads; Spark
        scores them on the executors (``mapInPandas``, the model file's bytes broadcast once).
        Every aggregation can then read ``column`` (:mod:`mlmon_nb.engines.scoring`).

        Parameters
        ----------
        model : LoadedModel
            The version's model (:func:`mlmon_nb.models.load_model`).
        column : str
            The new column: binary, the positive class's probability; regression, the
            prediction; multiclass, the top-class probability.
        batch_rows : int, optional
            Most rows scored at once (:data:`mlmon_nb.models.SCORE_BATCH_ROWS` by default).
        keep : sequence of str, optional
            Columns kept beside the score (all by default).
        spill_dir : str or Path, optional
            Folder of DuckDB's spill (the system's temporary folder by default).

        Returns
        -------
        Scan
            Close it, or use it in a ``with`` block: its spill (DuckDB) or cached rows (Spark)
            are removed, also when the block raises.
        """
        if batch_rows is None:
            batch_rows = SCORE_BATCH_ROWS
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, numbers.Integral) or batch_rows < 1:
            raise UsageError(f"The 'batch_rows' parameter of Scan.scored must be an int >= 1. Got {batch_rows!r} "
                             f"instead.")
        if column in self.columns:
            raise UsageError(f"The 'column' parameter of Scan.scored must name a new column. Got {column!r}, which "
                             f"the scan already has.")
        kept = list(self.columns) if keep is None else list(dict.fromkeys(keep))
        unknown = [c for c in kept if c not in self.columns]
        if unknown:
            raise UsageError(f"The 'keep' parameter of Scan.scored must name columns of the scan. Got "
                             f"{', '.join(map(repr, unknown))}; columns are: {', '.join(self.columns)}")
        feats = list(model.features) if model.features else [*self.features.numeric, *self.features.categorical]
        missing = [c for c in feats if c not in self.columns]
        if missing:
            raise UsageError(f"model version {model.version}: columns missing for scoring: {', '.join(missing)}")
        return self._scored(model, column=column, batch_rows=int(batch_rows), kept=kept, feats=feats,
                            spill_dir=spill_dir)

    def _scored(self, model, *, column: str, batch_rows: int, kept: list[str], feats: list[str], spill_dir) -> "Scan":
        raise UsageError(f"Scan.scored: a {type(self).__name__} cannot score its rows (DuckDB and Spark scans can)")

    def on_close(self, release) -> None:
        """Call ``release()`` when the scan closes (a scored scan's spill, its cached rows)."""
        self._closers = (*self._closers, release)

    def close(self) -> None:
        """Release what the scan holds of its own (a scored scan's spill); idempotent."""
        closers, self._closers = self._closers, ()
        for release in reversed(closers):
            release()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Engine:
    """Opens scans of a model's windows and reference where the data lives.

    Attributes
    ----------
    name : str
        ``"duckdb"`` or ``"spark"``.
    """

    name: str = ""
    project: Project | None = None

    def _model(self, model: ModelConfig | str) -> ModelConfig:
        """The model's configuration, from its name through the engine's project."""
        if isinstance(model, ModelConfig):
            return model
        if self.project is None:
            raise TypeError("a model name needs the engine's project; pass the ModelConfig")
        return self.project.model(model)

    def window(self, model, start: dt.datetime, end: dt.datetime, *, version: str | None = None,
               columns: Sequence[str] | None = None, labels: bool = True) -> Scan:
        """A scan of the logs of ``[start, end)`` (as :func:`mlmon_nb.data.read_window` reads them).

        Columns and types are checked here (``DataError`` naming the key and the file); rows are
        not counted until :attr:`Scan.rows` is asked for (a window may be empty).
        """
        raise NotImplementedError

    def reference(self, model, *, columns: Sequence[str] | None = None) -> Scan:
        """A scan of the model's reference data (as :func:`mlmon_nb.data.read_reference` reads it)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the engine holds (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
