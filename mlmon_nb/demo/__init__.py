"""The bundled demo: a click-through-rate model ranking a product feed, with planted events.

Modules, one job each:

- :mod:`.scenario`: the timeline, the planted events and every parameter;
- :mod:`.generate`: traffic, features, clicks, users, exposures, serving, labels;
- :mod:`.train`: the two model versions and the frame they see;
- :mod:`.write`: the parquet files, the model files and ``mlmon.yaml``;
- :mod:`.truth`: ``ground_truth.json``, the planted events and measured figures;
- :mod:`.build`: :func:`build_demo`, which runs all of the above;
- :mod:`.run`: :func:`run_demo`, behind ``mlmon demo``.
"""

from __future__ import annotations

from .build import DemoProject, build_demo
from .run import DEMO_MARKER, run_demo
from .scenario import EXPOSURE_MODES, MODEL_NAME, MONITORED_VERSION
from .truth import GROUND_TRUTH_SCHEMA

__all__ = [
    "DEMO_MARKER",
    "EXPOSURE_MODES",
    "GROUND_TRUTH_SCHEMA",
    "MODEL_NAME",
    "MONITORED_VERSION",
    "DemoProject",
    "build_demo",
    "run_demo",
]
