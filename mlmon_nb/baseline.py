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
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from . import __version__
from .config import FeaturesConfig, ModelConfig, Project
from .data import (_fingerprint, _quote, _select_list, _time_filter, connect, describe, model_features,
                   read_reference, resolve_source, window_columns)
from .errors import ArchiveError, DataError, MlmonError

logger = logging.getLogger(__name__)

SCHEMA = "mlmon.baseline/1"
SORTED_CAP = 200_000
SAMPLE_ROWS = 20_000
MIN_CHUNKS = 10
MIN_CHUNK_ROWS = 500
TOP_K = 50
HIST_BINS = 10
BAND_SIGMAS = 3.0
BOOTSTRAP = 200
MIN_POSITIVES_PER_CHUNK = 20
CHUNK_REF_POINTS = 20_000
BOOTSTRAP_ROWS = 5_000


# --------------------------------------------------------------------------- bands

@dataclass(frozen=True)
class Band:
    """Natural variability of one figure across the reference chunks.

    The band is ``mean ± k·sd`` of the chunk values (k = :data:`BAND_SIGMAS`,
    plus ``margin`` extra standard deviations). Figures whose noise shrinks
    with sample size (rates, AUC, distances) are rescaled to the size of the
    window they are compared with: sd·sqrt(chunk_rows / rows).
    """

    mean: float
    sd: float
    low_seen: float
    high_seen: float
    chunk_rows: float
    n_chunks: int
    scales_with_size: bool = True

    def limits(self, rows: float | None = None, sigmas: float = BAND_SIGMAS) -> tuple[float, float]:
        """(low, high) for a figure computed on ``rows`` rows (chunk size when None)."""
        sd = self.sd
        if rows and self.scales_with_size and self.chunk_rows > 0:
            sd = sd * math.sqrt(self.chunk_rows / rows)
        return self.mean - sigmas * sd, self.mean + sigmas * sd

    def to_dict(self) -> dict[str, Any]:
        return {k: _num(v) for k, v in self.__dict__.items()}


def band_from_values(values: Sequence[float], rows: Sequence[float], scales_with_size: bool = True) -> Band | None:
    v = np.asarray(values, dtype=float)
    r = np.asarray(rows, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return None
    v, r = v[ok], r[ok]
    return Band(mean=float(v.mean()), sd=float(v.std(ddof=1)), low_seen=float(v.min()), high_seen=float(v.max()),
                chunk_rows=float(np.median(r)), n_chunks=int(len(v)), scales_with_size=scales_with_size)


def _num(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


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
        return Band(**{k: (float("nan") if v is None else v) for k, v in d.items()})

    def bands_df(self) -> pd.DataFrame:
        rows = []
        for key, d in self.manifest["bands"].items():
            family, metric, subject = key.split("/", 2)
            b = Band(**{k: (float("nan") if v is None else v) for k, v in d.items()})
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
        return pd.DataFrame(rows).sort_values("missing", ascending=False, kind="stable")

    def categorical_df(self) -> pd.DataFrame:
        """Categorical profiles: one row per feature, the most levels first."""
        rows = []
        for name in self.features.categorical:
            p = self.profile(name)
            top = list(p["frequencies"].items())[:3]
            rows.append({"feature": name, "missing": p["missing_rate"], "levels": p["cardinality"],
                         "top levels": ", ".join(f"{k} {v:.0%}" for k, v in top),
                         "other": p["other_share"], "note": p.get("note", "")})
        return pd.DataFrame(rows).sort_values("levels", ascending=False, kind="stable")

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
        self.path = folder
        return folder

    def _repr_html_(self) -> str:
        import html

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
    path = folder / "baseline.json"
    if not path.is_file():
        raise ArchiveError(f"{folder}: not a baseline folder (no baseline.json)")
    manifest = json.loads(path.read_text())
    if manifest.get("schema") != SCHEMA:
        raise ArchiveError(f"{path}: baseline format {manifest.get('schema')!r} is not supported; "
                           f"this mlmon_nb reads {SCHEMA}; recompute it with 'mlmon baseline'")
    sorted_df = pd.read_parquet(folder / "reference_sorted.parquet")
    sorted_values = {c: (lambda a: a[~np.isnan(a)])(sorted_df[c].to_numpy(dtype=float)) for c in sorted_df.columns}
    sample = pd.read_parquet(folder / "sample.parquet")
    for c in manifest["features"]["categorical"]:
        if c in sample.columns:
            sample[c] = sample[c].astype("category")
    return Baseline(manifest=manifest, sorted_values=sorted_values, sample=sample,
                    chunks=pd.read_parquet(folder / "chunks.parquet"), path=folder)


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


# --------------------------------------------------------------------------- profiles

def sorted_sample(values: np.ndarray, cap: int = SORTED_CAP) -> np.ndarray:
    """Sorted finite values; above ``cap``, an evenly spaced quantile subsample of them."""
    v = np.sort(values[np.isfinite(values)])
    if len(v) <= cap:
        return v
    idx = np.round(np.linspace(0, len(v) - 1, cap)).astype(int)
    return v[idx]


def bin_edges(values: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """Quantile bin edges of the reference (unique), with open outer bins (-inf, +inf)."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return np.array([-np.inf, np.inf])
    inner = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.concatenate([[-np.inf], inner, [np.inf]])


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of finite values per bin, bins closed on the right: (e[i], e[i+1]]."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return np.zeros(len(edges) - 1)
    idx = np.searchsorted(edges, v, side="left") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1) / len(v)


def numeric_profile(s: pd.Series) -> dict[str, Any]:
    v = s.to_numpy(dtype=float)
    fin = np.sort(v[np.isfinite(v)])  # sorted once: quantiles, edges and distinct values reuse it
    edges = bin_edges(fin)
    prof = {
        "kind": "numeric", "rows": int(len(v)), "missing_rate": float(np.mean(~np.isfinite(v))) if len(v) else 0.0,
        "mean": _num(fin.mean()) if len(fin) else None, "std": _num(fin.std(ddof=1)) if len(fin) > 1 else None,
        "min": _num(fin.min()) if len(fin) else None, "max": _num(fin.max()) if len(fin) else None,
        "quantiles": [_num(q) for q in np.quantile(fin, np.linspace(0, 1, 101))] if len(fin) else [],
        "bin_edges": [_num(e) if np.isfinite(e) else ("-inf" if e < 0 else "inf") for e in edges],
        "bin_shares": [float(x) for x in bin_shares(fin, edges)],
        "distinct": _distinct(fin),
        "constant": bool(len(fin) > 0 and fin.min() == fin.max()),
    }
    if len(fin) == 0:
        prof["note"] = "all values missing"
    elif prof["constant"]:
        prof["note"] = "constant in the reference"
    return prof


def _distinct(sorted_values: np.ndarray) -> int:
    """Number of distinct values of a sorted array (no hash table: cheap for millions of rows)."""
    if len(sorted_values) == 0:
        return 0
    v = sorted_values
    return int(1 + np.count_nonzero(v[1:] != v[:-1]))


def _even_subsample(sorted_values: np.ndarray, points: int) -> np.ndarray:
    """Evenly spaced order statistics of a sorted array (its quantile function at ``points`` steps)."""
    if len(sorted_values) <= points:
        return sorted_values
    return sorted_values[np.round(np.linspace(0, len(sorted_values) - 1, points)).astype(int)]


def profile_features(frame: pd.DataFrame, features: FeaturesConfig
                     ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Profiles of every feature and the sorted values of the numeric ones."""
    profiles: dict[str, Any] = {}
    sorted_values: dict[str, np.ndarray] = {}
    for name in features.numeric:
        profiles[name] = numeric_profile(frame[name])
        sorted_values[name] = sorted_sample(frame[name].to_numpy(dtype=float))
    for name in features.categorical:
        profiles[name] = categorical_profile(frame[name])
    return profiles, sorted_values


def edges_of(profile: Mapping[str, Any]) -> np.ndarray:
    """Bin edges of a numeric profile as floats."""
    return np.array([float(e) for e in profile["bin_edges"]])


def categorical_profile(s: pd.Series, top_k: int = TOP_K) -> dict[str, Any]:
    counts = s.astype(object).dropna().astype(str).value_counts()
    n = int(len(s))
    n_valid = int(counts.sum())
    top = counts.iloc[:top_k]
    other = int(counts.iloc[top_k:].sum())
    prof = {
        "kind": "categorical", "rows": n, "missing_rate": float(1 - n_valid / n) if n else 0.0,
        "cardinality": int(len(counts)),
        "frequencies": {str(k): float(v / n_valid) for k, v in top.items()} if n_valid else {},
        "other_share": float(other / n_valid) if n_valid else 0.0,
        "top_k": top_k,
    }
    if len(counts) > top_k:
        prof["note"] = f"{len(counts):,} levels: top {top_k} kept, the rest pooled as 'other'"
    if n_valid == 0:
        prof["note"] = "all values missing"
    return prof


def category_shares(s: pd.Series, profile: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(reference shares, current shares, levels) over the profile's levels plus 'other'."""
    levels = list(profile["frequencies"])
    ref = np.array([profile["frequencies"][k] for k in levels] + [profile["other_share"]])
    counts = s.astype(object).dropna().astype(str).value_counts()
    total = counts.sum()
    cur_known = np.array([counts.get(k, 0) for k in levels], dtype=float)
    cur = np.append(cur_known, total - cur_known.sum()) / total if total else np.zeros(len(levels) + 1)
    return ref, cur, levels + ["(other)"]


# --------------------------------------------------------------------------- performance

def performance(task: str, y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Performance metrics of a task (scikit-learn), NaN where undefined."""
    from sklearn import metrics as skm

    out: dict[str, float] = {}
    y = np.asarray(y)
    if task == "binary_classification":
        y = y.astype(int)
        p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
        both = len(np.unique(y)) == 2
        out["roc_auc"] = float(skm.roc_auc_score(y, p)) if both else float("nan")
        out["pr_auc"] = float(skm.average_precision_score(y, p)) if both else float("nan")
        out["log_loss"] = float(skm.log_loss(y, p, labels=[0, 1]))
        out["brier"] = float(skm.brier_score_loss(y, p))
        pred = (p >= threshold).astype(int)
        # One confusion matrix gives the four threshold metrics (same definitions as
        # sklearn's accuracy/precision/recall/f1 with zero_division=0).
        tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel().astype(float)
        out["accuracy"] = (tp + tn) / len(y)
        out["precision"] = tp / (tp + fp) if tp + fp else 0.0
        out["recall"] = tp / (tp + fn) if tp + fn else 0.0
        out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        out["ece"] = expected_calibration_error(y, p)
        out["positive_rate"] = float(y.mean())
        out["mean_prediction"] = float(p.mean())
    elif task == "multiclass_classification":
        P = np.asarray(p, dtype=float)
        labels = np.arange(P.shape[1])
        pred = P.argmax(axis=1)
        out["accuracy"] = float(skm.accuracy_score(y, pred))
        out["macro_f1"] = float(skm.f1_score(y, pred, average="macro", labels=labels, zero_division=0))
        out["log_loss"] = float(skm.log_loss(y, np.clip(P, 1e-12, 1), labels=labels))
    else:
        p = np.asarray(p, dtype=float)
        out["mae"] = float(skm.mean_absolute_error(y, p))
        out["rmse"] = float(math.sqrt(skm.mean_squared_error(y, p)))
        out["r2"] = float(skm.r2_score(y, p)) if len(y) > 1 else float("nan")
    return out


#: Whether a metric is better when higher (True) or lower (False).
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False, "accuracy": True,
                    "precision": True, "recall": True, "f1": True, "ece": False, "macro_f1": True,
                    "mae": False, "rmse": False, "r2": True}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-count bins: sum over bins of share × |mean(y) − mean(p)|."""
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, bins)
    n = len(p)
    return float(sum(len(ix) / n * abs(y[ix].mean() - p[ix].mean()) for ix in parts if len(ix)))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Calibration curve (scikit-learn, quantile bins): mean predicted vs observed rate."""
    from sklearn.calibration import calibration_curve

    frac, mean_pred = calibration_curve(y.astype(int), p, n_bins=bins, strategy="quantile")
    return {"mean_predicted": [float(x) for x in mean_pred], "observed_rate": [float(x) for x in frac]}


def bootstrap_performance(task: str, y: np.ndarray, p: np.ndarray, threshold: float,
                          rng: np.random.Generator, n_boot: int = BOOTSTRAP,
                          max_rows: int = BOOTSTRAP_ROWS) -> dict[str, dict[str, float]]:
    """Point estimates on all rows, 95% percentile-bootstrap intervals on a row sample.

    The intervals are computed on at most ``max_rows`` rows and narrowed to the
    full row count by sqrt(sample / rows), the usual 1/sqrt(n) scaling.
    """
    import sklearn

    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        return _bootstrap(task, y, p, threshold, rng, n_boot, max_rows)


def _bootstrap(task, y, p, threshold, rng, n_boot, max_rows):
    point = performance(task, y, p, threshold)
    n = len(y)
    idx_all = rng.choice(n, size=min(n, max_rows), replace=False) if n > max_rows else np.arange(n)
    ys, ps = y[idx_all], p[idx_all]
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        ix = rng.integers(0, len(ys), len(ys))
        for k, v in performance(task, ys[ix], ps[ix], threshold).items():
            draws[k].append(v)
    # Intervals from a sample of m rows are widened to the n rows of the estimate.
    widen = math.sqrt(len(ys) / n)
    out = {}
    for k, v in point.items():
        d = np.asarray(draws[k], dtype=float)
        d = d[np.isfinite(d)]
        if len(d) < 10 or not np.isfinite(v):
            out[k] = {"value": _num(v), "ci_low": None, "ci_high": None}
            continue
        lo, hi = np.percentile(d, [2.5, 97.5])
        out[k] = {"value": float(v), "ci_low": float(v - (np.median(d) - lo) * widen),
                  "ci_high": float(v + (hi - np.median(d)) * widen)}
    return out


# --------------------------------------------------------------------------- fitting

def _chunks(n: int, wanted: int) -> list[np.ndarray]:
    if n < MIN_CHUNKS * MIN_CHUNK_ROWS:
        raise DataError(f"reference has {n:,} rows: at least {MIN_CHUNKS * MIN_CHUNK_ROWS:,} are needed "
                        f"({MIN_CHUNKS} chunks of {MIN_CHUNK_ROWS} rows) to learn how much each figure "
                        f"naturally varies")
    k = max(MIN_CHUNKS, min(wanted, n // MIN_CHUNK_ROWS))
    return np.array_split(np.arange(n), k)


def predictions(frame: pd.DataFrame, model_cfg: ModelConfig, loaded, features: FeaturesConfig) -> tuple[np.ndarray, str]:
    """The version's predictions on reference rows: scored with its model file when there is one."""
    from .models import score

    cols = list(loaded.features) if loaded is not None and loaded.features else [*features.numeric, *features.categorical]
    if loaded is not None:
        return score(loaded, frame, cols), "scored with the version's model file"
    if model_cfg.prediction in frame.columns:
        return frame[model_cfg.prediction].to_numpy(dtype=float), f"logged column {model_cfg.prediction!r}"
    raise DataError(f"models.{model_cfg.name}.reference: no model file and no prediction column "
                    f"{model_cfg.prediction!r}: cannot know the version's predictions")


def fit(project: Project, model: str, version: str, *, seed: int = 0, baseline_id: str | None = None,
        con: duckdb.DuckDBPyConnection | None = None) -> Baseline:
    """Fit the baseline of a model version.

    Parameters
    ----------
    project : Project
        The loaded project.
    model, version : str
        Which model version.
    seed : int
        Seed of every sample and bootstrap (results are reproducible).
    baseline_id : str, optional
        Id to give it (the runner passes the run id); a UTC timestamp otherwise.

    Raises
    ------
    MlmonError
        Bad data, model, or a reference too small for meaningful chunks.
    """
    from .explain import importance
    from .models import load_model

    rng = np.random.default_rng(seed)
    con = con or connect()
    mcfg = project.model(model)
    vcfg = project.version(model, version)
    ref = read_reference(mcfg, con=con)
    frame = ref.frame
    features = ref.features
    notes: list[str] = []
    loaded = load_model(mcfg, vcfg) if vcfg.model is not None else None
    pred, pred_source = predictions(frame, mcfg, loaded, features)
    notes.append(f"Predictions: {pred_source}.")
    task = mcfg.task
    pred_col = "__prediction__"
    # ref.frame is ours alone: prediction columns are added in place (no copy of a large reference).
    if task == "multiclass_classification":
        for j in range(pred.shape[1]):
            frame[f"__proba_{j}__"] = pred[:, j]
        frame[pred_col] = pred.max(axis=1)
    else:
        frame[pred_col] = pred

    chunks = _chunks(len(frame), mcfg.baseline.chunks)
    profiles, sorted_values = profile_features(frame, features)
    pred_profile = numeric_profile(frame[pred_col])
    profiles_with_pred = {**profiles, pred_col: pred_profile}
    sorted_values[pred_col] = sorted_sample(frame[pred_col].to_numpy(dtype=float))
    for name, prof in profiles.items():
        if prof.get("note"):
            notes.append(f"{name}: {prof['note']}.")

    has_target = mcfg.target in frame.columns and frame[mcfg.target].notna().any()
    target_profile = None
    perf = None
    calib = None
    if has_target:
        labelled = frame[mcfg.target].notna().to_numpy()
        y = frame.loc[labelled, mcfg.target].to_numpy()
        p_lab = pred[labelled]
        if task == "regression":
            target_profile = numeric_profile(frame[mcfg.target])
        else:
            target_profile = categorical_profile(frame[mcfg.target].astype("Int64").astype(str))
        perf = bootstrap_performance(task, y, p_lab, mcfg.decision_threshold, rng)
        if task == "binary_classification":
            calib = calibration(y.astype(int), np.asarray(p_lab, dtype=float))
    else:
        notes.append(f"No target column {mcfg.target!r} in the reference: performance, calibration, label "
                     f"distribution and outcome rates were skipped; add the target to the reference to get them.")

    cols = [*features.numeric, *features.categorical]
    imp = None
    if loaded is not None:
        try:
            series, method = importance(loaded, frame, list(loaded.features) or cols,
                                        frame[mcfg.target] if has_target else None, rng)
            imp = {"method": method, "values": {k: float(v) for k, v in series.items()}}
        except Exception as exc:  # importance is informative; a failure must not lose the baseline
            notes.append(f"Feature importance could not be computed ({type(exc).__name__}: {exc}).")
    else:
        notes.append("No model file for this version: feature importance skipped.")

    behaviour = _behaviour(frame, mcfg, has_target)
    chunk_rows = _chunk_figures(frame, chunks, features, profiles_with_pred, sorted_values, pred_col, task, mcfg,
                                has_target, notes)
    ops, ops_chunks = _operational(project, mcfg, version, con, notes)
    chunk_df = pd.DataFrame(chunk_rows + ops_chunks,
                            columns=["chunk", "rows", "family", "metric", "subject", "value", "scales"])
    bands = {}
    for (family, metric, subject), g in chunk_df.groupby(["family", "metric", "subject"], sort=True):
        b = band_from_values(g["value"], g["rows"], bool(g["scales"].iloc[0]))
        if b is not None:
            bands[f"{family}/{metric}/{subject}"] = b.to_dict()

    sample_cols = [c for c in [mcfg.timestamp, *cols, mcfg.target, pred_col, *(mcfg.segments or ()),
                               *[c for c in frame.columns if c.startswith("__proba_")]]
                   if c in frame.columns]
    sample_cols = list(dict.fromkeys(sample_cols))
    take = np.sort(rng.choice(len(frame), size=min(SAMPLE_ROWS, len(frame)), replace=False))
    sample = frame.iloc[take][sample_cols].reset_index(drop=True)

    # The domain classifier's null band depends on the reference sample only: fitted once here,
    # reused by every window's data-drift check (its own seed, so it does not move other figures).
    from .drift import NULL_ROWS, domain_null

    try:
        multivariate = {"domain_classifier": domain_null(sample, features, rows=NULL_ROWS,
                                                         rng=np.random.default_rng([seed, 1]))}
    except (ValueError, MlmonError) as exc:  # e.g. a feature type the classifier cannot encode
        multivariate = {}
        notes.append(f"Domain classifier null band not precomputed ({exc}); windows compute it.")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    from .runner import package_versions

    manifest = {
        "schema": SCHEMA,
        "baseline_id": baseline_id or now.strftime("%Y%m%dT%H%M%SZ"),
        "model": mcfg.name, "version": vcfg.name, "task": task,
        "generated_at": now.isoformat(), "mlmon_nb_version": __version__, "packages": package_versions(),
        "seed": seed,
        "reference": {"path": str(ref.source.path), "rows": int(len(frame)), "fingerprint": ref.fingerprint,
                      "labelled_rows": int(ref.labelled_rows)},
        "model_file": {"path": str(loaded.path), "sha256": loaded.sha256} if loaded else None,
        "features": {"numeric": list(features.numeric), "categorical": list(features.categorical)},
        "prediction_column": pred_col, "target": mcfg.target, "decision_threshold": mcfg.decision_threshold,
        "chunks": {"n": len(chunks), "rows": int(np.median([len(c) for c in chunks])), "by": (
            f"time order of {mcfg.timestamp!r}" if mcfg.timestamp in frame.columns else "row order")},
        "profiles": profiles, "prediction": pred_profile, "target_profile": target_profile,
        "performance": perf, "calibration": calib, "importance": imp, "behaviour": behaviour,
        "operational": ops, "bands": bands, "band_rule": (
            f"mean ± {BAND_SIGMAS:g} sd of the chunk values; for size-dependent figures the sd is scaled "
            f"to the compared window by sqrt(chunk rows / window rows)"),
        "sorted_cap": SORTED_CAP, "sample_rows": int(len(sample)), "multivariate": multivariate, "notes": notes,
    }
    return Baseline(manifest=manifest, sorted_values=sorted_values, sample=sample, chunks=chunk_df)


def _behaviour(frame: pd.DataFrame, mcfg: ModelConfig, has_target: bool) -> dict[str, Any] | None:
    outcome = mcfg.feedback.outcome if mcfg.feedback and mcfg.feedback.outcome else mcfg.target
    if outcome not in frame.columns or not has_target or mcfg.task == "regression":
        return None
    y = pd.to_numeric(frame[outcome], errors="coerce")
    out = {"outcome": outcome, "rate": _num(y.mean()), "segments": {}}
    for seg in mcfg.segments or ():
        if seg in frame.columns:
            g = y.groupby(frame[seg].astype(object).astype(str), observed=True)
            out["segments"][seg] = {str(k): {"rate": _num(v), "rows": int(c)}
                                    for (k, v), c in zip(g.mean().items(), g.size().to_numpy())}
    return out


def _chunk_figures(frame, chunks, features, profiles, sorted_values, pred_col, task, mcfg, has_target, notes):
    from . import stats

    rows: list[tuple] = []
    n = len(frame)
    small_perf = 0
    num_stats = [name for (name, kind) in stats.BASELINE_FUNCS if kind == "numeric"]
    cat_stats = [name for (name, kind) in stats.BASELINE_FUNCS if kind == "categorical"]
    pooled = {name: _pool_rare_levels(frame[name], profiles[name]) for name in features.categorical}
    # Chunks are compared with the reference's quantile function at CHUNK_REF_POINTS steps: its
    # ECDF is within 1/CHUNK_REF_POINTS of the full one, far below a chunk's own sampling noise
    # (about 1/sqrt(chunk rows)), and each comparison costs a fraction of the full search.
    ref_points = {name: _even_subsample(values, CHUNK_REF_POINTS) for name, values in sorted_values.items()}
    # All statistics of a feature come from one call per chunk (levels counted, values sorted once).
    num_refs = {name: stats.NumericReference.from_profile(ref_points[name], profiles[name], n)
                for name in [*features.numeric, pred_col]}
    cat_refs = {name: stats.CategoricalReference.from_profile(profiles[name], n) for name in features.categorical}
    for i, ix in enumerate(chunks):
        part = frame.iloc[ix]
        m = len(part)
        # A chunk is part of the reference it is compared with; for distances that are linear in
        # the share difference (KS, TVD) D(chunk, rest) = D(chunk, all) * n / (n - m), and the
        # same factor is applied to the others as a close approximation.
        own = n / (n - m) if n > m else 1.0
        for name in list(features.numeric) + [pred_col]:
            prof = profiles[name] if name in profiles else None
            # Sorted once here: every statistic below sorts its input, and sorting sorted data is cheap.
            cur = np.sort(part[name].to_numpy(dtype=float))
            family = "prediction_drift" if name == pred_col else "drift"
            for sname, st in stats.numeric_against(num_refs[name], cur, num_stats).items():
                rows.append((i, m, family, sname, name, st.value * own, True))
            rows.append((i, m, "quality", "missing_rate", name, float(np.mean(~np.isfinite(cur))), True))
        for name in features.categorical:
            for sname, st in stats.categorical_against(cat_refs[name], pooled[name].iloc[ix], cat_stats).items():
                rows.append((i, m, "drift", sname, name, st.value * (own if sname != "unseen" else 1.0), True))
            rows.append((i, m, "quality", "missing_rate", name, float(part[name].isna().mean()), True))
        if has_target:
            lab = part[mcfg.target].notna().to_numpy()
            y = part.loc[lab, mcfg.target].to_numpy()
            p = part.loc[lab, pred_col].to_numpy(dtype=float) if task != "multiclass_classification" else \
                part.loc[lab, [c for c in part.columns if c.startswith("__proba_")]].to_numpy()
            if task == "binary_classification" and min(int(y.sum()), int(len(y) - y.sum())) < MIN_POSITIVES_PER_CHUNK:
                small_perf += 1
                continue
            if len(y) >= 2:
                for k, v in performance(task, y, p, mcfg.decision_threshold).items():
                    rows.append((i, int(len(y)), "performance", k, "all", v, True))
    if small_perf:
        notes.append(f"{small_perf} of {len(chunks)} reference chunks have fewer than {MIN_POSITIVES_PER_CHUNK} "
                     f"positives or negatives: performance bands come from the others only"
                     + (" and are missing" if small_perf > len(chunks) - 3 else "") + ".")
    return rows


def _pool_rare_levels(s: pd.Series, profile: Mapping[str, Any]) -> pd.Series:
    """The column with every level the profile pooled into 'other' replaced by one level.

    Statistics against a profile only see its kept levels and 'other', so the chunk figures are
    unchanged; a categorical with 100k levels is then counted over 51 levels, not 100k, per chunk.
    """
    if not profile.get("other_share"):
        return s
    kept = list(profile["frequencies"])
    other = "(other)"
    while other in kept:
        other = f"({other})"
    values = s.astype(object)
    keep = values.isna() | values.astype(str).isin(kept)
    return pd.Series(pd.Categorical(values.where(keep, other), categories=[*kept, other]), index=s.index)


def _operational(project: Project, mcfg: ModelConfig, version: str, con, notes: list[str]):
    """Operational figures and their per-day chunks from the baseline window of the logs."""
    window = mcfg.baseline.window
    if window is None:
        notes.append("No 'baseline.window' of production logs configured: latency, traffic, error-rate "
                     "and per-version baselines were skipped; the operations notebook compares against "
                     "fixed defaults until one is configured.")
        return None, []
    source = resolve_source(mcfg.logs, f"models.{mcfg.name}.logs")
    types = describe(source, con)
    ts = mcfg.timestamp
    where = _time_filter(ts, types[ts], *window)
    op = mcfg.operational
    lat = op.latency_ms if op and op.latency_ms in types else None
    err = op.error if op and op.error in types else None
    rel = f"(SELECT * FROM {source.relation} WHERE {where})"
    q = _quote
    ts_utc = f"CAST({q(ts)} AS TIMESTAMPTZ)"
    total = con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0]
    if total == 0:
        notes.append(f"The baseline window {window[0].isoformat()}/{window[1].isoformat()} holds no rows "
                     f"of the logs: operational baselines skipped.")
        return None, []
    weeks = (window[1] - window[0]).total_seconds() / (7 * 86400)
    how = con.execute(
        f"SELECT (isodow({ts_utc}) - 1) * 24 + hour({ts_utc}) AS how, count(*) FROM {rel} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    per_how = np.zeros(168)
    for h, c in how:
        per_how[int(h)] = c / weeks
    day_sql = (f"SELECT date_trunc('day', {ts_utc}) AS day, count(*) AS rows"
               + (f", quantile_cont({q(lat)}, 0.5) AS p50, quantile_cont({q(lat)}, 0.95) AS p95, "
                  f"quantile_cont({q(lat)}, 0.99) AS p99" if lat else "")
               + (f", avg(CASE WHEN {q(err)} IS NOT NULL AND CAST({q(err)} AS VARCHAR) NOT IN ('', '0') "
                  f"THEN 1.0 ELSE 0.0 END) AS error_rate" if err else "")
               + f" FROM {rel} GROUP BY 1 ORDER BY 1")
    days = con.execute(day_sql).df()
    ops: dict[str, Any] = {"window": [window[0].isoformat(), window[1].isoformat()], "rows": int(total),
                           "rows_per_hour_of_week": per_how.tolist(),
                           "rows_per_day": {str(pd.Timestamp(d).date()): int(r) for d, r in zip(days["day"], days["rows"])}}
    if lat:
        p = con.execute(f"SELECT quantile_cont({q(lat)}, [0.5, 0.95, 0.99]), min({q(lat)}), max({q(lat)}) "
                        f"FROM {rel}").fetchall()[0]
        ops["latency_ms"] = {"p50": p[0][0], "p95": p[0][1], "p99": p[0][2], "min": p[1], "max": p[2]}
        hist = con.execute(f"SELECT histogram({q(lat)}, [{', '.join(str(x) for x in _latency_edges(p[0][2]))}]) FROM {rel}").fetchall()[0][0]
        ops["latency_histogram"] = {str(k): int(v) for k, v in hist.items()} if hist else {}
    else:
        notes.append("No latency column configured or present: latency baseline skipped.")
    if err:
        ops["error_rate"] = float(days["error_rate"].mul(days["rows"]).sum() / days["rows"].sum())
    else:
        notes.append("No error column configured or present: error-rate baseline skipped.")
    if mcfg.version_column and mcfg.version_column in types:
        vers = con.execute(f"SELECT CAST({q(mcfg.version_column)} AS VARCHAR), count(*) FROM {rel} GROUP BY 1").fetchall()
        ops["rows_per_version"] = {str(k): int(v) for k, v in vers}
    chunk_rows = []
    full_days = days.iloc[1:-1] if len(days) > 2 else days  # partial first/last days would skew the band
    for i, row in enumerate(full_days.itertuples(index=False)):
        chunk_rows.append((i, int(row.rows), "operational", "rows_per_day", "all", float(row.rows), False))
        if lat:
            for k in ("p50", "p95", "p99"):
                chunk_rows.append((i, int(row.rows), "operational", f"latency_{k}", "all", float(getattr(row, k)), False))
        if err:
            chunk_rows.append((i, int(row.rows), "operational", "error_rate", "all", float(row.error_rate), True))
    if len(full_days) < MIN_CHUNKS:
        notes.append(f"The baseline window has {len(full_days)} full days; bands from fewer than {MIN_CHUNKS} "
                     f"days are rough: configure a longer 'baseline.window'.")
    return ops, chunk_rows


def _latency_edges(p99: float) -> list[float]:
    top = max(float(p99) * 3, 1.0)
    return [round(x, 3) for x in np.linspace(0, top, 41)[1:]]


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
