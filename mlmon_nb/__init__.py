"""mlmon-nb: notebooks and reports for monitoring machine-learning models in production.

The public API: open a window (:func:`open_window`), compute with the area
modules (:mod:`~mlmon_nb.drift`, :mod:`~mlmon_nb.concept`,
:mod:`~mlmon_nb.explain`, :mod:`~mlmon_nb.feedback`, :mod:`~mlmon_nb.operations`),
record checks through the window's :class:`Recorder`, and plot with
:mod:`~mlmon_nb.plots`.

Names are imported on first use (PEP 562): the ``mlmon`` command then starts
without loading matplotlib, shap or river, which only the notebooks need.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_NAMES = {
    "Check": "checks", "Recorder": "checks",
    "load_project": "config", "parse_window": "windows",
    "WindowContext": "context", "open_window": "context",
    "read_reference": "data", "read_window": "data",
    "say": "display", "setup_notebook": "display", "show": "display", "table": "display",
    "MlmonError": "errors",
}
_MODULES = ("alertable", "alerts", "archive", "baseline", "bundle", "checks", "chunks", "concept", "config",
            "context", "data", "demo", "display", "drift", "errors", "explain", "feedback", "fit", "metrics",
            "models", "operations", "plots", "profiles", "provenance", "report", "rules", "runner", "stats", "windows", "yamlschema")

__all__ = sorted([*_NAMES, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'mlmon_nb' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
