"""mlmon-nb: notebooks and reports for monitoring machine-learning models in production.

The public API: open a window (:func:`open_window`), compute with the modules
(:mod:`~mlmon_nb.drift`, :mod:`~mlmon_nb.stats`), record checks through the
window's :class:`Recorder`, and plot with :mod:`~mlmon_nb.plots`.
"""

__version__ = "0.1.0"

from .checks import Check, Recorder  # noqa: E402
from .config import load_project, parse_window  # noqa: E402
from .context import WindowContext, open_window  # noqa: E402
from .data import read_reference, read_window  # noqa: E402
from .display import say, setup_notebook, show, table  # noqa: E402
from .errors import MlmonError  # noqa: E402
from . import baseline, drift, plots, stats  # noqa: E402

__all__ = [
    "Check", "MlmonError", "baseline", "table", "Recorder", "WindowContext", "drift", "load_project", "open_window",
    "parse_window", "plots", "read_reference", "read_window", "say", "setup_notebook", "show", "stats",
]
