"""Every figure of mlmon_nb, one module per area. Functions take results and return a
matplotlib Figure (titled, axes labelled with units); none calls ``show()``.

Areas register here with one name each in :data:`AREAS`; their public functions (each module's
``__all__``) are attributes of this package, imported on first use (PEP 562): a kernel opening a
window imports only :mod:`~mlmon_nb.plots.common`, and each area's figures (scipy among their
imports) when its notebook draws them.
"""

import importlib
from typing import Any

from .common import CUR_COLOR, REF_COLOR, STATUS_COLORS  # noqa: F401
# The one area whose function is named like its module: imported now, so ``plots.trends`` is the
# function (as a lazy name it would become the module once anything imported ``plots.trends``).
from .trends import TREND_SERIES, trend_points, trends  # noqa: F401

AREAS = ("drift", "baseline", "operations", "trends", "explain", "feedback", "concept")


def __getattr__(name: str) -> Any:
    if name in AREAS:
        return importlib.import_module(f".{name}", __name__)
    for area in AREAS:
        module = importlib.import_module(f".{area}", __name__)
        if name in module.__all__:
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    names = {"CUR_COLOR", "REF_COLOR", "STATUS_COLORS", *AREAS}
    for area in AREAS:
        names.update(importlib.import_module(f".{area}", __name__).__all__)
    return sorted(names)
