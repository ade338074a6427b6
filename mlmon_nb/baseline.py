"""Baselines: the healthy state of a model version, archived once, read by every run.

A baseline is fitted from the reference data (and, when ``baseline.window`` is
configured, from that window of production logs for the operational figures).
It holds profiles, performance with bootstrap intervals, importance, and the
*natural variability* of every figure: each statistic computed on equal-size
chunks of the reference, from which the default alert bands come.

On-disk format ``mlmon.baseline/1``, in ``<archive>/<model>/<version>/baseline/<ID>/``:

``baseline.json``
    Manifest and every aggregate: profiles, histogram bin edges and reference
    bin shares, performance, calibration, operational figures, importance,
    bands, notes. Read with :func:`load_baseline`.
``reference_sorted.parquet``
    Per numeric feature (and the prediction), the reference values sorted
    ascending, NaN last; at most :data:`SORTED_CAP` values each (an exact copy
    below the cap; above it an even quantile subsample, whose ECDF is within
    1/SORTED_CAP of the full reference's everywhere).
``sample.parquet``
    A seeded sample of at most :data:`SAMPLE_ROWS` reference rows (features,
    target, prediction) for classifiers, explainers and segment baselines.
``chunks.parquet``
    One row per (chunk, family, metric, subject): the figures the bands come from.
``baseline.html``, ``baseline.ipynb``
    The baseline report.

A baseline is never modified: fitting again writes a new id.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .alertable import HIGHER_IS_BETTER
from .config import FeaturesConfig, Project
from .errors import ArchiveError
from .files import sha256_file
from .profiles import finite_or_none as _num
from .rules import Band

logger = logging.getLogger(__name__)

SCHEMA = "mlmon.baseline/1"
SAMPLE_ROWS = 20_000
ARTEFACTS = ("baseline.json", "reference_sorted.parquet", "sample.parquet", "chunks.parquet")
CHECKSUMS = "checksums.json"
NUMERIC_COLUMNS = ["feature", "missing", "mean", "std", "min", "p5", "median", "p95", "max", "distinct", "note"]
CATEGORICAL_COLUMNS = ["feature", "missing", "levels", "top levels", "other", "note"]


# --------------------------------------------------------------------------- the Baseline object

@dataclass
class Baseline:
    """A fitted (or loaded) baseline. ``manifest`` is baseline.json as a dict."""

    manifest: dict[str, Any]
    sorted_values: dict[str, np.ndarray] = field(repr=False)
    sample: pd.DataFrame = field(repr=False)
    chunks: pd.DataFrame = field(repr=False)
    path: Path | None = None

    @property
    def baseline_id(self) -> str:
        return self.manifest["baseline_id"]

    @property
    def features(self) -> FeaturesConfig:
        f = self.manifest["features"]
        return FeaturesConfig(numeric=tuple(f["numeric"]), categorical=tuple(f["categorical"]))

    @property
    def prediction_column(self) -> str:
        return self.manifest["prediction_column"]

    def profile(self, feature: str) -> dict[str, Any]:
        return self.manifest["profiles"][feature]

    def band(self, family: str, metric: str, subject: str) -> Band | None:
        """The band of one figure, or None when the chunks could not give one."""
        d = self.manifest["bands"].get(f"{family}/{metric}/{subject}")
        if not d:
            return None
        return Band.from_dict(d)

    def bands_df(self) -> pd.DataFrame:
        rows = []
        for key, d in self.manifest["bands"].items():
            family, metric, subject = key.split("/", 2)
            b = Band.from_dict(d)
            lo, hi = b.limits()
            rows.append({"family": family, "metric": metric, "subject": subject, "mean": b.mean,
                         "low": lo, "high": hi, "chunks": b.n_chunks, "chunk_rows": b.chunk_rows})
        return pd.DataFrame(rows)

    def numeric_df(self) -> pd.DataFrame:
        """Numeric profiles: one row per feature, the most missing first."""
        rows = []
        for name in self.features.numeric:
            p = self.profile(name)
            q = p["quantiles"]
            rows.append({"feature": name, "missing": p["missing_rate"], "mean": p["mean"], "std": p["std"],
                         "min": p["min"], "p5": q[5] if q else None, "median": q[50] if q else None,
                         "p95": q[95] if q else None, "max": p["max"], "distinct": p["distinct"],
                         "note": p.get("note", "")})
        # Columns named even without rows: a model may have no numeric feature at all.
        return pd.DataFrame(rows, columns=NUMERIC_COLUMNS).sort_values("missing", ascending=False, kind="stable")

    def categorical_df(self) -> pd.DataFrame:
        """Categorical profiles: one row per feature, the most levels first."""
        rows = []
        for name in self.features.categorical:
            p = self.profile(name)
            top = list(p["frequencies"].items())[:3]
            rows.append({"feature": name, "missing": p["missing_rate"], "levels": p["cardinality"],
                         "top levels": ", ".join(f"{k} {v:.0%}" for k, v in top),
                         "other": p["other_share"], "note": p.get("note", "")})
        return pd.DataFrame(rows, columns=CATEGORICAL_COLUMNS).sort_values("levels", ascending=False, kind="stable")

    def performance_df(self) -> pd.DataFrame:
        """Performance with 95% bootstrap intervals and the band learned from the chunks."""
        perf = self.manifest.get("performance") or {}
        rows = []
        for metric, d in perf.items():
            band = self.band("performance", metric, "all")
            lo, hi = band.limits() if band else (None, None)
            rows.append({"metric": metric, "value": d["value"], "95% CI low": d["ci_low"],
                         "95% CI high": d["ci_high"], "chunk band low": lo, "chunk band high": hi,
                         "better": {True: "higher", False: "lower"}.get(HIGHER_IS_BETTER.get(metric), "")})
        return pd.DataFrame(rows)

    def save(self, folder: Path) -> Path:
        """Write the artefact files into ``folder`` (which must be new or empty)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        width = max((len(v) for v in self.sorted_values.values()), default=0)
        cols = {}
        for name, values in self.sorted_values.items():
            padded = np.full(width, np.nan)
            padded[: len(values)] = values
            cols[name] = padded
        pd.DataFrame(cols).to_parquet(folder / "reference_sorted.parquet", index=False)
        self.sample.to_parquet(folder / "sample.parquet", index=False)
        self.chunks.to_parquet(folder / "chunks.parquet", index=False)
        (folder / "baseline.json").write_text(json.dumps(self.manifest, indent=1, default=_json_default))
        sums = {name: sha256_file(folder / name) for name in ARTEFACTS}
        (folder / CHECKSUMS).write_text(json.dumps(sums, indent=1, sort_keys=True))
        self.path = folder
        return folder

    def _repr_html_(self) -> str:

        m = self.manifest
        return (f"<p>Baseline <b>{html.escape(m['baseline_id'])}</b> of "
                f"{html.escape(m['model'])} / {html.escape(m['version'])}: "
                f"{m['reference']['rows']:,} reference rows, {len(m['profiles'])} features, "
                f"{len(m['bands'])} bands from {m['chunks']['n']} chunks.</p>")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return _num(o)
    if isinstance(o, np.ndarray):
        return [_num(x) for x in o.tolist()]
    if isinstance(o, (dt.datetime, dt.date, pd.Timestamp)):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def load_baseline(project: Project, model: str, version: str, baseline_id: str | None = None) -> Baseline:
    """Load an archived baseline (the newest when ``baseline_id`` is None).

    Raises
    ------
    ArchiveError
        When there is none, or it was written by an unknown format version.
    """
    root = baseline_root(project, model, version)
    bid = baseline_id or latest_baseline_id(project, model, version)
    if bid is None:
        raise ArchiveError(f"{root}: no baseline for model {model!r} version {version!r}; "
                           f"run 'mlmon baseline -p {project.path.name} -m {model} -v {version}' first")
    folder = root / bid
    manifest = verify_baseline(folder)
    sorted_df = pd.read_parquet(folder / "reference_sorted.parquet")
    sorted_values = {c: (lambda a: a[~np.isnan(a)])(sorted_df[c].to_numpy(dtype=float)) for c in sorted_df.columns}
    sample = pd.read_parquet(folder / "sample.parquet")
    for c in manifest["features"]["categorical"]:
        if c in sample.columns:
            sample[c] = sample[c].astype("category")
    return Baseline(manifest=manifest, sorted_values=sorted_values, sample=sample,
                    chunks=pd.read_parquet(folder / "chunks.parquet"), path=folder)


def verify_baseline(folder: Path) -> dict[str, Any]:
    """Check an archived baseline is whole and unchanged; return its manifest.

    Every artefact must exist and match the checksum written with it (a baseline is
    immutable: changed bands would silently change every later verdict). Baselines
    written before checksums existed are accepted with a logged warning.

    Raises
    ------
    ArchiveError
        For a missing or changed file, a manifest that is not JSON or of an unknown format.
    """
    folder = Path(folder)
    where = f"baseline {folder.name} ({folder})"
    path = folder / "baseline.json"
    if not path.is_file():
        raise ArchiveError(f"{folder}: not a baseline folder (no baseline.json)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{path}: not valid JSON ({exc}); fit a new baseline with 'mlmon baseline'") from exc
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        found = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise ArchiveError(f"{path}: baseline format {found!r} is not supported; "
                           f"this mlmon_nb reads {SCHEMA}; recompute it with 'mlmon baseline'")
    missing = [name for name in ARTEFACTS if not (folder / name).is_file()]
    if missing:
        raise ArchiveError(f"{where}: {', '.join(missing)} missing; fit a new baseline with 'mlmon baseline'")
    try:
        sums = json.loads((folder / CHECKSUMS).read_text())
    except FileNotFoundError:
        sums = None
        logger.warning("%s has no %s (written before checksums): not verified", where, CHECKSUMS)
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{where}: {CHECKSUMS} unreadable ({exc}); fit a new baseline") from exc
    if sums is not None:
        for name in ARTEFACTS:
            if sums.get(name) != sha256_file(folder / name):
                raise ArchiveError(f"{where}: {name} was changed after the baseline was written (checksum "
                                   f"mismatch); a baseline is immutable: fit a new one with 'mlmon baseline'")
    return manifest


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


def verdict(base: Baseline) -> str:
    """One sentence summarising a baseline."""
    m = base.manifest
    parts = [f"Baseline {m['baseline_id']} of {m['model']} version {m['version']} from "
             f"{m['reference']['rows']:,} reference rows"]
    perf = m.get("performance") or {}
    for metric in ("roc_auc", "accuracy", "mae"):
        if metric in perf and perf[metric]["value"] is not None:
            d = perf[metric]
            ci = f" [{d['ci_low']:.3f}, {d['ci_high']:.3f}]" if d["ci_low"] is not None else ""
            parts.append(f"{metric.replace('_', ' ').upper() if metric == 'roc_auc' else metric} "
                         f"{d['value']:.3f}{ci}")
            break
    ops = m.get("operational") or {}
    if "latency_ms" in ops:
        parts.append(f"latency p95 {ops['latency_ms']['p95']:.0f} ms")
    parts.append(f"{len(m['bands'])} alert bands learned from {m['chunks']['n']} chunks")
    return ", ".join(parts) + "."


def versions_df(ops: Mapping[str, Any]) -> pd.DataFrame:
    """Rows per serving version in the baseline window, largest first."""
    rows = ops.get("rows_per_version", {})
    total = sum(rows.values()) or 1
    return pd.DataFrame([{"version": k, "rows": v, "share": v / total} for k, v in rows.items()]
                        ).sort_values("rows", ascending=False)


def behaviour_df(beh: Mapping[str, Any]) -> pd.DataFrame:
    """Outcome rate per segment level, most traffic first."""
    rows = [{"segment": seg, "level": lvl, "rows": d["rows"], "rate": d["rate"]}
            for seg, levels in beh.get("segments", {}).items() for lvl, d in levels.items()]
    if not rows:
        return pd.DataFrame([{"segment": "all", "level": "all", "rows": None, "rate": beh.get("rate")}])
    return pd.DataFrame(rows).sort_values(["segment", "rows"], ascending=[True, False])
