"""mlmon-nb: notebooks and reports for monitoring machine-learning models in production.

The notebook API, all a notebook needs::

    import mlmon_nb as mn
    mn.setup_notebook()
    ctx = mn.open_window(project, model, version, window, notebook="data_drift", output=output)
    r = mn.drift.analyse(ctx)          # or mn.concept, mn.explain, mn.feedback, mn.operations
    r.record(ctx.recorder)
    mn.say("<b>{}</b>", r.verdict())
    mn.show(r.plot("summary"))

Names are imported on first use (PEP 562): the ``mlmon`` command then starts
without loading matplotlib, shap or river, which only the notebooks need.
Everything else (runner, archive, CLI) is imported from its module.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Functions and classes of the notebook API, and the module each comes from.
_NAMES = {
    "open_window": "context", "WindowContext": "context",
    "setup_notebook": "display", "say": "display", "show": "display", "table": "display",
    "load_project": "config", "parse_window": "windows",
    "Recorder": "checks", "Check": "checks", "Result": "checks",
    "MlmonError": "errors",
}
#: Modules of the notebook API: the five areas, their plots, the statistics registry, the baseline.
_MODULES = ("drift", "concept", "explain", "feedback", "operations", "plots", "stats", "rules", "baseline", "fit")

__all__ = ["__version__", *_NAMES, *_MODULES]


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
    return sorted(__all__)
