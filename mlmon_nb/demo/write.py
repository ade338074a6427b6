"""The demo project's files: reference and log parquet, labels, model files and ``mlmon.yaml``.

Every function takes the project's root folder; the layout below is the one
``mlmon.yaml`` points at::

    data/reference.parquet           the reference period, with outcomes
    data/logs/day=YYYY-MM-DD/*.parquet   the production logs, one folder per day
    data/labels/part-0.parquet       late-arriving labels, keyed by request_id
    models/ctr/{1,2}.skops           the two model versions
    mlmon.yaml                       the project file (both models)

The delivery model's files are written by :mod:`.delivery.files`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import skops.io
import yaml

from .scenario import (
    CATEGORICAL, CATEGORICAL_LABELS, DAY_US, ERROR_CODES, LOGS_START, MODEL_NAME, NUMERIC, SEGMENTS,
    V1_DEPLOYED, V2_DEPLOYED, WEEK, us,
)
from .generate import Rows

LOG_ROW_GROUP = 1024
REFERENCE_ROW_GROUP = 16_384


# --------------------------------------------------------------------------
# Columns.


def _timestamps(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.timestamp("us", tz="UTC"))


def _labels_of(codes: np.ndarray, labels: tuple[str, ...],
               mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(labels, type=pa.string()).take(pa.array(codes, mask=mask))


def _ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``values``; wider than ``width`` only if a value needs it."""
    digits = max(width, len(str(int(values.max())))) if values.size else width
    return pa.array(np.strings.add(prefix, np.strings.zfill(values.astype(str), digits)),
                    type=pa.string())


def _request_ids(rows: Rows) -> pa.Array:
    # Numbered over the whole timeline, so unique across reference and logs.
    return _ids("r", rows["request"] + 1, 9)


def _common_columns(rows: Rows) -> dict[str, pa.Array]:
    return {
        "ts": _timestamps(rows["ts"]),
        "request_id": _request_ids(rows),
        "user_id": _ids("u", rows["user"], 6),
        "item_id": _ids("i", rows["item"], 4),
    }


def _feature_columns(rows: Rows) -> dict[str, pa.Array]:
    columns = {name: pa.array(rows[name]) for name in NUMERIC}
    for name, labels in zip(CATEGORICAL, CATEGORICAL_LABELS):
        columns[name] = _labels_of(rows[name], labels)
    return columns


# --------------------------------------------------------------------------
# Tables.


def _reference_table(rows: Rows) -> pa.Table:
    return pa.table({
        **_common_columns(rows),
        **_feature_columns(rows),
        "clicked": pa.array(rows["clicked"].astype(np.int64)),
        "from_model": pa.array(rows["shown"]),
        "shown": pa.array(rows["shown"]),
    })


def _logs_table(rows: Rows) -> pa.Table:
    common = _common_columns(rows)
    return pa.table({
        "ts": common["ts"],
        "request_id": common["request_id"],
        "user_id": common["user_id"],
        "item_id": common["item_id"],
        "model_version": pa.array(np.where(rows["by_v1"], "1", "2"), type=pa.string()),
        **_feature_columns(rows),
        "score": pa.array(rows["score"]),
        "shown": pa.array(rows["shown"]),
        "latency_ms": pa.array(rows["latency_ms"]),
        "error_code": _labels_of(np.maximum(rows["error"], 0), ERROR_CODES,
                                 mask=rows["error"] < 0),
    })


def _labels_table(rows: Rows, labels: Rows) -> pa.Table:
    keep = labels["labelled"]
    order = np.argsort(labels["labelled_at"][keep], kind="stable")  # in order of arrival
    return pa.table({
        "request_id": _request_ids(rows).filter(pa.array(keep)).take(pa.array(order)),
        "clicked": pa.array(rows["clicked"][keep][order].astype(np.int64)),
        "labelled_at": _timestamps(labels["labelled_at"][keep][order]),
    })


def _write_parquet(table: pa.Table, path: Path, row_group: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group)


# --------------------------------------------------------------------------
# Files.


def write_reference(root: Path, rows: Rows) -> None:
    """``data/reference.parquet``: the reference rows with their outcomes."""
    _write_parquet(_reference_table(rows), root / "data" / "reference.parquet", REFERENCE_ROW_GROUP)


def write_logs(root: Path, rows: Rows, end: dt.datetime) -> None:
    """One hive-style partition per day: ``data/logs/day=YYYY-MM-DD/part-0.parquet``."""
    table = _logs_table(rows)
    n_days = (end - LOGS_START).days
    bounds = np.searchsorted(rows["ts"], us(LOGS_START) + np.arange(n_days + 1) * DAY_US)
    for d in range(n_days):
        day = (LOGS_START + dt.timedelta(days=d)).date().isoformat()
        part = table.slice(bounds[d], bounds[d + 1] - bounds[d])
        _write_parquet(part, root / "data" / "logs" / f"day={day}" / "part-0.parquet", LOG_ROW_GROUP)


def write_labels(root: Path, rows: Rows, labels: Rows) -> None:
    """``data/labels/part-0.parquet``: the labelled log requests, in order of arrival."""
    _write_parquet(_labels_table(rows, labels), root / "data" / "labels" / "part-0.parquet",
                   REFERENCE_ROW_GROUP)


def write_models(root: Path, v1, v2) -> None:
    """``models/ctr/1.skops`` and ``2.skops``: both versions, loadable with skops' allowlist."""
    folder = root / "models" / "ctr"
    folder.mkdir(parents=True, exist_ok=True)
    skops.io.dump(v1, folder / "1.skops")
    skops.io.dump(v2, folder / "2.skops")


def write_project(root: Path, weeks: int, others: dict | None = None) -> Path:
    """``mlmon.yaml``: the project file tying data, labels and models together; return its path.

    ``others`` maps further model names to their blocks (the delivery model's), after the CTR model.
    """
    content = project_file(weeks)
    content["models"].update(others or {})
    path = root / "mlmon.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def project_file(weeks: int) -> dict:
    """The content of ``mlmon.yaml`` for a demo of ``weeks`` log weeks."""
    # The first log weeks (before any injected event) are the healthy operational baseline.
    baseline_end = LOGS_START + WEEK * min(2, weeks)
    return {
        "archive": "reports",
        "models": {
            MODEL_NAME: {
                "task": "binary_classification",
                "timestamp": "ts",
                "prediction": "score",
                "target": "clicked",
                "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
                "reference": "data/reference.parquet",
                "logs": "data/logs/",
                "labels": {"path": "data/labels/", "key": "request_id"},
                "version_column": "model_version",
                "versions": {
                    "1": {"model": "models/ctr/1.skops", "deployed": V1_DEPLOYED},
                    "2": {"model": "models/ctr/2.skops", "deployed": V2_DEPLOYED},
                },
                "operational": {
                    "latency_ms": "latency_ms",
                    "request_id": "request_id",
                    "error": "error_code",
                },
                "feedback": {
                    "user": "user_id",
                    "item": "item_id",
                    "exposed": "shown",
                    "outcome": "clicked",
                    "training_provenance": "from_model",
                },
                "segments": list(SEGMENTS),
                # A CTR model: at 0.5 it would never predict a click; 0.1 is the serving cut-off.
                "decision_threshold": 0.1,
                "baseline": {"window": f"{LOGS_START.date().isoformat()}/{baseline_end.date().isoformat()}"},
            }
        },
    }
