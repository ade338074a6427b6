"""The delivery model's files and its entry in ``mlmon.yaml``.

Layout, beside the CTR model's files::

    data/delivery/reference.parquet                 the reference period, with actual minutes
    data/delivery/logs/day=YYYY-MM-DD/part-0.parquet   orders with the logged ETA and latency
    data/delivery/labels/part-0.parquet             actual minutes keyed by order_id, in order of delivery
    models/delivery/1.skops                         the regressor
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import skops.io

from ..generate import Rows
from ..scenario import DAY_US, LOGS_START, WEEK, us
from ..write import LOG_ROW_GROUP, REFERENCE_ROW_GROUP, _ids, _labels_of, _timestamps, _write_parquet
from .scenario import CATEGORICAL, CATEGORICAL_LABELS, DEPLOYED, MONITORED_VERSION, NUMERIC, SEGMENTS

FOLDER = Path("data") / "delivery"
MODEL_FILE = Path("models") / "delivery" / f"{MONITORED_VERSION}.skops"


def _order_ids(rows: Rows) -> pa.Array:
    return _ids("o", rows["order"] + 1, 8)


def _inputs(rows: Rows) -> dict[str, pa.Array]:
    columns = {name: pa.array(rows[name]) for name in NUMERIC}
    for name, labels in zip(CATEGORICAL, CATEGORICAL_LABELS):
        columns[name] = _labels_of(rows[name], labels)
    return columns


def write_reference(root: Path, rows: Rows) -> None:
    """``data/delivery/reference.parquet``: inputs, the ETA the model gave and the actual minutes."""
    table = pa.table({"ts": _timestamps(rows["ts"]), "order_id": _order_ids(rows), **_inputs(rows),
                      "eta_minutes": pa.array(rows["eta_minutes"]),
                      "actual_minutes": pa.array(rows["actual_minutes"])})
    _write_parquet(table, root / FOLDER / "reference.parquet", REFERENCE_ROW_GROUP)


def write_logs(root: Path, rows: Rows, end: dt.datetime) -> None:
    """One partition per day; the logs hold no actual minutes (they arrive as labels)."""
    table = pa.table({"ts": _timestamps(rows["ts"]), "order_id": _order_ids(rows), **_inputs(rows),
                      "eta_minutes": pa.array(rows["eta_minutes"]), "latency_ms": pa.array(rows["latency_ms"])})
    n_days = (end - LOGS_START).days
    bounds = np.searchsorted(rows["ts"], us(LOGS_START) + np.arange(n_days + 1) * DAY_US)
    for d in range(n_days):
        day = (LOGS_START + dt.timedelta(days=d)).date().isoformat()
        _write_parquet(table.slice(bounds[d], bounds[d + 1] - bounds[d]),
                       root / FOLDER / "logs" / f"day={day}" / "part-0.parquet", LOG_ROW_GROUP)


def write_labels(root: Path, rows: Rows, labels: Rows) -> None:
    """``data/delivery/labels/part-0.parquet``: the delivered orders' actual minutes."""
    keep = labels["labelled"]
    order = np.argsort(labels["delivered_at"][keep], kind="stable")
    table = pa.table({
        "order_id": _order_ids(rows).filter(pa.array(keep)).take(pa.array(order)),
        "actual_minutes": pa.array(rows["actual_minutes"][keep][order]),
        "delivered_at": _timestamps(labels["delivered_at"][keep][order]),
    })
    _write_parquet(table, root / FOLDER / "labels" / "part-0.parquet", REFERENCE_ROW_GROUP)


def write_model(root: Path, model) -> None:
    """``models/delivery/1.skops``: loadable through mlmon_nb's skops allowlist."""
    path = root / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(model, path)


def model_entry(weeks: int) -> dict:
    """The model's block under ``models`` in ``mlmon.yaml``; no ``feedback`` block (ETAs feed nothing back)."""
    baseline_end = LOGS_START + WEEK * min(2, weeks)  # before any planted event, as for the CTR model
    return {
        "task": "regression",
        "timestamp": "ts",
        "prediction": "eta_minutes",
        "target": "actual_minutes",
        "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
        "reference": (FOLDER / "reference.parquet").as_posix(),
        "logs": (FOLDER / "logs").as_posix() + "/",
        "labels": {"path": (FOLDER / "labels").as_posix() + "/", "key": "order_id"},
        "versions": {MONITORED_VERSION: {"model": MODEL_FILE.as_posix(), "deployed": DEPLOYED}},
        "operational": {"latency_ms": "latency_ms", "request_id": "order_id"},
        "segments": list(SEGMENTS),
        "baseline": {"window": f"{LOGS_START.date().isoformat()}/{baseline_end.date().isoformat()}"},
    }
