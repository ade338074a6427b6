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

import importlib
from typing import Any

#: Where each public name lives. Imported on first use (PEP 562): ``mlmon_nb.open_window`` needs only
#: the limits, and the statistics modules import scipy (0.5 s a kernel would spend before its first cell).
_NAMES = {
    "Bounded": "bounds", "CategoricalSummary": "categorical", "categorical_stats": "categorical",
    "BUCKETS": "grid", "Cells": "grid", "Grid": "grid",
    "SUMMARY_STATS": "numeric", "NumericSummary": "numeric", "numeric_stats": "numeric",
    "chunk_sql": "sql", "summary_sql": "sql",
    "SUMMARISE_ABOVE": "limits", "SUMMARY_NOTEBOOKS": "limits",
    "CategoricalSubject": "window", "NumericSubject": "window", "WindowSummary": "window", "split": "window",
    "summarise": "window",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
