"""Summarise, then analyse: a window's statistics from one aggregation pass instead of its rows.

An area's window computation splits into (a) one aggregation, expressed once
as portable SQL over ``window_rows`` and run by an engine (DuckDB, Spark),
producing a compact summary whose size depends on subjects × chunks × cells,
not on rows; and (b) the analysis of that summary against the baseline.

* :mod:`~mlmon_nb.summary.grid`: the fixed grid a numeric feature is counted on, from the baseline.
* :mod:`~mlmon_nb.summary.sql`: the pass's SQL.
* :mod:`~mlmon_nb.summary.bounds`: KS and Wasserstein from cells, with bounds.
* :mod:`~mlmon_nb.summary.numeric`, :mod:`~mlmon_nb.summary.categorical`: statistics from summaries.
* :mod:`~mlmon_nb.summary.window`: :func:`summarise` (run the pass, split it by subject).

Exactness (tests/test_summary.py checks each against :mod:`mlmon_nb.stats` on
the same values): categorical statistics, PSI and JS on the baseline's bins,
the tail share, missing and non-finite counts are exact; KS is reported as
its value at cell edges (a lower bound) with an upper bound in
``Stat.detail["high"]`` (gap about 0.0012 on normal or log-normal data at the
default 2,000 buckets; none for integer or tied values, which get their own
cells); Wasserstein ÷ sd is the middle of its bounds, ``detail["bound"]`` the
half-width.
"""

from .bounds import Bounded
from .categorical import CategoricalSummary, categorical_stats
from .grid import BUCKETS, Cells, Grid
from .numeric import SUMMARY_STATS, NumericSummary, numeric_stats
from .sql import chunk_sql, summary_sql
from .window import SUMMARISE_ABOVE, SUMMARY_NOTEBOOKS, CategoricalSubject, NumericSubject, WindowSummary, split, summarise

__all__ = ["Bounded", "BUCKETS", "Cells", "Grid", "NumericSummary", "CategoricalSummary", "numeric_stats",
           "categorical_stats", "SUMMARY_STATS", "chunk_sql", "summary_sql", "NumericSubject", "CategoricalSubject",
           "WindowSummary", "summarise", "split", "SUMMARISE_ABOVE", "SUMMARY_NOTEBOOKS"]
