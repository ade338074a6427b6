"""The demo's second model: ``delivery-eta``, a regressor of food-delivery minutes, with its own events.

Modules: :mod:`.scenario` (timeline, planted events, every parameter),
:mod:`.simulate` (orders, inputs, minutes, the model, serving, labels),
:mod:`.files` (parquet, the skops file, its ``mlmon.yaml`` block) and
:mod:`.truth` (its part of ``ground_truth.json``). :func:`build` runs them
from the demo's seed on a stream of its own, so the CTR model's data do not
depend on it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np

from ..generate import subset
from ..scenario import LOGS_START, REFERENCE_START, TRAINING_START, us
from . import files, simulate, truth
from .scenario import MODEL_NAME, MONITORED_VERSION, STREAM

logger = logging.getLogger(__name__)

__all__ = ["MODEL_NAME", "MONITORED_VERSION", "build"]


def build(root: Path, *, scale: float, seed: int,
          windows: tuple[tuple[dt.datetime, dt.datetime], ...]) -> tuple[dict, dict]:
    """Write the delivery model's data and model file under ``root``.

    Parameters
    ----------
    root : Path
        The demo project's folder.
    scale : float
        The demo's scale (orders a week: :func:`.scenario.orders_per_week`).
    seed : int
        The demo's seed; this model draws from child ``STREAM`` of its seed sequence.
    windows : tuple of (datetime, datetime)
        The demo's weekly log windows.

    Returns
    -------
    (dict, dict)
        The model's ``mlmon.yaml`` block and its ``ground_truth.json`` block.
    """
    stream = np.random.SeedSequence(seed, spawn_key=(STREAM,))
    order_rng, input_rng, minute_rng, model_rng, serving_rng, label_rng = (
        np.random.default_rng(s) for s in stream.spawn(6))
    end = windows[-1][1]
    ts = simulate.orders(order_rng, TRAINING_START, end, scale)
    rows = simulate.inputs(input_rng, ts)
    rows["ts"] = ts
    rows["order"] = np.arange(ts.size)
    rows["actual_minutes"] = simulate.actual_minutes(minute_rng, rows)

    model = simulate.train(subset(rows, ts < us(REFERENCE_START)), model_rng)
    served = ts >= us(REFERENCE_START)
    rows.update({name: np.full(ts.size, np.nan) for name in ("eta_minutes", "latency_ms")})
    for name, values in simulate.serving(serving_rng, subset(rows, served), model).items():
        rows[name][served] = values
    reference = subset(rows, served & (ts < us(LOGS_START)))
    logs = subset(rows, ts >= us(LOGS_START))
    labels = simulate.labels(label_rng, logs, end)

    files.write_reference(root, reference)
    files.write_logs(root, logs, end)
    files.write_labels(root, logs, labels)
    files.write_model(root, model)
    logger.info("delivery model: %d orders, %d in the reference", ts.size, reference["ts"].size)
    return (files.model_entry(len(windows)),
            truth.ground_truth(scale=scale, windows=windows, reference=reference, logs=logs, labels=labels))
