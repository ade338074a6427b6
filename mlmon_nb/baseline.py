"""Baselines: the healthy state of a model version, archived once and read by every run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb

from .config import ModelConfig, Project
from .data import _fingerprint, _select_list, connect, describe, model_features, resolve_source, window_columns

logger = logging.getLogger(__name__)


def baseline_root(project: Project, model: str, version: str) -> Path:
    """``<archive>/<model>/<version>/baseline``."""
    return project.archive / model / version / "baseline"


def latest_baseline_id(project: Project, model: str, version: str) -> str | None:
    """Id of the newest archived baseline of a version, None when there is none."""
    root = baseline_root(project, model, version)
    if not root.is_dir():
        return None
    found = []
    for manifest in root.glob("*/baseline.json"):
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        found.append((meta.get("generated_at", ""), manifest.parent.name))
    return max(found)[1] if found else None


def reference_stats(project: Project, model: ModelConfig,
                    con: duckdb.DuckDBPyConnection | None = None) -> tuple[int, str]:
    """Row count and fingerprint of the reference data, computed by DuckDB."""
    con = con or connect()
    source = resolve_source(model.reference, f"models.{model.name}.reference")
    types = describe(source, con)
    features = model_features(model, con)
    present = [c for c in window_columns(model, features) if c in types]
    sql = f"SELECT {', '.join(_select_list(types, present, features))} FROM {source.relation}"
    n = con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]
    return int(n), _fingerprint(con, sql, present, "reference")
