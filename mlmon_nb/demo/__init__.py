"""The bundled demo: two models in production, each with planted events.

- ``ctr-ranker`` (binary classification, versions 1 and 2): a click-through-rate
  model ranking a product feed, with a rollout, a latency regression, covariate
  drift, a preference flip and a feedback loop;
- ``delivery-eta`` (regression, version 1): minutes from order to handover of a
  food-delivery service, with road works that slow every kilometre from
  2026-10-14 (concept drift) and a new far zone from 2026-11-02 (covariate drift);
  labels (the actual minutes) arrive when an order is delivered; no feedback block.

Modules, one job each:

- :mod:`.scenario`: the CTR model's timeline, planted events and every parameter;
- :mod:`.generate`: traffic, features, clicks, users, exposures, serving, labels;
- :mod:`.train`: the two model versions and the frame they see;
- :mod:`.write`: the parquet files, the model files and ``mlmon.yaml``;
- :mod:`.truth`: ``ground_truth.json``, the planted events and measured figures;
- :mod:`.delivery`: the regression model, the same jobs in its own modules, on a
  seed stream of its own (the CTR model's data do not depend on it);
- :mod:`.build`: :func:`build_demo`, which runs all of the above;
- :mod:`.run`: :func:`run_demo`, behind ``mlmon demo``: both baselines, every window.
"""

from __future__ import annotations

from .build import DemoProject, build_demo
from .delivery import MODEL_NAME as DELIVERY_MODEL_NAME
from .run import DEMO_MARKER, run_demo
from .scenario import EXPOSURE_MODES, MODEL_NAME, MONITORED_VERSION
from .truth import GROUND_TRUTH_SCHEMA

__all__ = [
    "DELIVERY_MODEL_NAME",
    "DEMO_MARKER",
    "EXPOSURE_MODES",
    "GROUND_TRUTH_SCHEMA",
    "MODEL_NAME",
    "MONITORED_VERSION",
    "DemoProject",
    "build_demo",
    "run_demo",
]
