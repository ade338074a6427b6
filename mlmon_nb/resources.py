"""Where the shipped notebooks, templates and schemas are.

From a checkout they sit at the repository's top level (``notebooks/``,
``templates/``); an installed package carries them as ``mlmon_nb/notebooks``
and ``mlmon_nb/templates`` (package data mapped at build time).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import UsageError

#: Window notebooks in the order a run executes them (concept_drift writes the
#: worst segment that explainability takes as its cohort).
WINDOW_NOTEBOOKS = ("data_drift", "concept_drift", "explainability", "feedback_loops", "operations")
BASELINE_NOTEBOOK = "baseline"


def _shipped(folder: str, probe: str) -> Path:
    try:
        candidate = Path(str(resources.files("mlmon_nb") / folder))
        if (candidate / probe).exists():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    checkout = Path(__file__).resolve().parent.parent / folder
    return checkout


def notebooks_dir() -> Path:
    """The folder holding the shipped notebooks."""
    return _shipped("notebooks", "data_drift.ipynb")


def templates_dir() -> Path:
    """The folder holding the nbconvert template ``mlmon``."""
    return _shipped("templates", "mlmon/conf.json")


NOTEBOOK_PATH_ENV = "MLMON_NOTEBOOK_PATH"


#: Names a notebook cannot have: its report would overwrite the run's own page.
RESERVED_NAMES = frozenset({"index", "summary", "bundle"})


def available_notebooks() -> dict[str, Path]:
    """Notebooks by machine name: the shipped ones, then any in ``$MLMON_NOTEBOOK_PATH``.

    ``MLMON_NOTEBOOK_PATH`` is a list of folders (separated like ``PATH``) of a
    team's own notebooks; they take the same parameters and run with ``-n NAME``.
    A shipped notebook cannot be replaced this way.
    """

    found = {p.stem: p for p in sorted(notebooks_dir().glob("*.ipynb"))}
    for folder in filter(None, os.environ.get(NOTEBOOK_PATH_ENV, "").split(os.pathsep)):
        for p in sorted(Path(folder).glob("*.ipynb")):
            found.setdefault(p.stem, p)
    return found


def notebook_path(name: str) -> Path:
    """Path of a shipped notebook, or UsageError listing the known ones."""
    if name in RESERVED_NAMES:
        raise UsageError(f"notebook name {name!r} is reserved (the run folder's {name}.html); rename the notebook")
    known = available_notebooks()
    if name not in known:
        raise UsageError(f"unknown notebook {name!r}; available: {', '.join(sorted(known))}")
    return known[name]


def default_window_notebooks() -> tuple[str, ...]:
    """The window notebooks a run executes by default: every shipped one, in run order."""
    known = available_notebooks()
    return tuple(n for n in WINDOW_NOTEBOOKS if n in known)
