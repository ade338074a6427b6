"""The baseline side of the attributions, explained once per baseline and reused by every window.

Each window's explainability run explains a seeded sample of the baseline's rows (up to
``BASELINE_FACTOR`` times the window's rows: 10,000 rows by default, five sixths of the run's
TreeSHAP time) to compare the window with. Those rows, the model and the explainer are the same
every week, so are their attributions: they are kept beside the archived baseline, in
``<baseline folder>/.cache/attributions-<key>.npz``, and read back when every input matches.

The key is a SHA-256 of everything the attributions depend on: the baseline's id, the model
file's checksum, the explainer (kind, class, seed, columns, its background rows), the explained
rows' positions in the baseline sample, and the shap version. A file that does not match its rows
(or cannot be read) is ignored and replaced; a folder that cannot be written to only costs the
time. The cache is derived data: the baseline's checksums do not cover it, and deleting it is
always safe. A baseline fitted in memory (no folder) is explained every time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import write_atomic_bytes
from .attributions import Attribution
from .explainers import Explainer

logger = logging.getLogger(__name__)

FORMAT = 1
"""Bumped whenever what an explainer computes changes (old files then no longer match)."""
CACHE_DIR = ".cache"


def _key(explainer: Explainer, baseline, positions: np.ndarray, background_positions: np.ndarray) -> str:
    try:
        shap_version = metadata.version("shap")
    except metadata.PackageNotFoundError:  # shap not installed as a distribution: nothing is reused
        return ""
    parts = {
        "format": FORMAT, "baseline": baseline.baseline_id, "model": explainer.model.sha256,
        "kind": explainer.kind, "class": explainer.class_index, "seed": explainer.seed,
        "columns": list(explainer.columns), "shap": shap_version,
        "rows": hashlib.sha256(np.ascontiguousarray(positions, dtype=np.int64).tobytes()).hexdigest(),
        "background": hashlib.sha256(np.ascontiguousarray(background_positions, dtype=np.int64).tobytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def baseline_attributions(explainer: Explainer, rows: pd.DataFrame, baseline, positions: np.ndarray,
                          background_positions: np.ndarray) -> Attribution:
    """``explainer.explain(rows)`` for rows of the baseline sample at ``positions``, from the
    archived baseline's cache when it holds them (see the module's description)."""
    folder = getattr(baseline, "path", None)
    key = _key(explainer, baseline, positions, background_positions) if folder is not None else ""
    if not key or len(rows) == 0:
        return explainer.explain(rows)
    path = Path(folder) / CACHE_DIR / f"attributions-{key}.npz"
    cached = _read(path, explainer, rows)
    if cached is not None:
        return cached
    attr = explainer.explain(rows)
    _write(path, attr)
    return attr


def _read(path: Path, explainer: Explainer, rows: pd.DataFrame) -> Attribution | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            values, output = z["values"], z["output"]
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        logger.info("ignoring unreadable attribution cache %s: %s", path, exc)
        return None
    columns = list(explainer.columns)
    if values.shape != (len(rows), len(columns)) or output.shape != (len(rows),) or meta.get("columns") != columns:
        logger.info("ignoring attribution cache %s: it does not match the rows explained", path)
        return None
    return Attribution(values=pd.DataFrame(values, columns=columns, index=rows.index),
                       base_value=float(meta["base_value"]), method=str(meta["method"]), output=output,
                       units=str(meta["units"]), data=rows.loc[:, columns])


def _write(path: Path, attr: Attribution) -> None:
    if attr.output is None:
        return
    meta = {"columns": list(attr.values.columns), "base_value": attr.base_value, "method": attr.method,
            "units": attr.units}
    buf = io.BytesIO()
    np.savez(buf, values=attr.values.to_numpy(dtype=float), output=np.asarray(attr.output, dtype=float),
             meta=np.array(json.dumps(meta)))
    try:
        write_atomic_bytes(path, buf.getvalue())
    except OSError as exc:  # a read-only archive: the next window explains them again
        logger.info("could not keep the baseline attributions in %s: %s", path, exc)
