"""Data drift of a window against the baseline: per feature, jointly, over time, and whether it matters.

Everything is compared with the *baseline* (:class:`~mlmon_nb.baseline.Baseline`):
sorted reference values, bin edges and level shares, the reference sample,
and the bands learned from the reference's chunks. The reference rows are
never read again.

The decision rule (:func:`decide`, explained in plain words in the data-drift
notebook) asks two questions of every feature and alerts only when both say yes:

1. **Is the change larger than the reference's own variability, and large
   enough to matter?** The feature's effect size (by default the KS distance
   for numbers, the Jensen-Shannon distance for categories) must exceed the
   upper end of its *band* - mean + 3 sd of the same statistic computed on
   the reference's chunks, the sd rescaled to the window's row count
   (:meth:`Band.limits`; ``thresholds.band_margin`` adds standard
   deviations) - and a *practical floor* (the registry's ``alert`` effect,
   overridable per method or feature in mlmon.yaml), so that a huge window
   does not alert on a negligible shift.
2. **Is it more than chance?** The feature's test (KS for numbers,
   chi-square for categories) must be significant after Benjamini-Hochberg
   correction across all monitored features: adjusted p < ``thresholds.fdr``
   (default 0.05).

A feature *warns* when it is significant and beyond its band but only above
the lower ``warn`` floor. Every other case is ``ok``. The same rule, with
its own floors, decides prediction drift, label drift, missing-rate changes
and the two multivariate checks.

Why KS for numbers and Jensen-Shannon for categories by default. The KS
distance is its own test (effect and significance are the same number),
exact with ties, unchanged by any monotone transformation (units, logs),
bounded in [0, 1] so one floor (warn 0.05, alert 0.1: the cumulative shares
differ by 10 points somewhere) suits every numeric feature, and robust to a
few extreme values, which inflate Wasserstein ÷ sd. The Jensen-Shannon
distance is bounded and symmetric, finite when a level is absent on one
side (PSI needs a floor), and for small shifts its square is proportional
to the chi-square divergence, so it pairs with the chi-square test; Cramér's
V depends on the ratio of the two sample sizes, not only on the shares.
Floors: warn 0.03, alert 0.05 (a 10-point move of a 50/50 binary feature is
0.085). With these, the demo's covariate drift is flagged on exactly the
injected features, and the null and power tests of ``tests/test_drift.py``
hold (no alert for two halves of one sample in at least 95 of 100 seeds; a
0.5 sd shift in one of 30 features found in at least 95 of 100).
"""

from __future__ import annotations

import html
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import stats
from .baseline import Baseline
from .profiles import CHUNK_REF_POINTS, categorical_profile, numeric_profile, profile_features, sorted_sample
from .rules import BAND_SIGMAS, Band, fit_band as band_from_values
from .checks import SEVERITY, Recorder
from .config import FeaturesConfig
from .errors import ConfigError, DataError, MlmonError, UsageError

logger = logging.getLogger(__name__)

DEFAULT_FDR = 0.05
#: The decision statistic per feature kind (why: see the module docstring).
DEFAULT_METHODS = {"numeric": "ks", "categorical": "jensen_shannon"}
#: The significance test per feature kind, used for statistics without a test of their own.
TESTS = {"numeric": "ks", "categorical": "chi2"}
PREDICTION = "__prediction__"
MIN_CHUNK_ROWS = 30  # a window chunk with fewer valid values gets no statistic
GRID_ROWS = 20_000  # rows per window chunk the over-time grid measures (a systematic sample above)
MAX_CHUNKS = 62  # more time chunks than this are merged (a heatmap stays readable)
DOMAIN_ROWS = 3000  # rows per side for the domain classifier
NULL_CHUNKS = 4  # reference-sample chunks compared with the rest for the classifier's null band
NULL_ROWS = 1200  # rows per side of each null comparison (its sd is rescaled to the compared size)
PCA_VARIANCE = 0.65  # share of variance the PCA keeps (NannyML's default)
PCA_MAX_ROWS = 50_000  # window rows scored by the PCA (a mean of 50k errors is precise enough)


# --------------------------------------------------------------------------- thresholds

@dataclass(frozen=True)
class Rule:
    """The resolved decision rule of one subject: method and practical floors."""

    subject: str
    kind: str
    method: str
    warn: float
    alert: float
    ignore: bool = False


@dataclass(frozen=True)
class Thresholds:
    """The ``thresholds`` block of a model, validated against the registry.

    Parameters
    ----------
    fdr : float
        False discovery rate of the Benjamini-Hochberg correction.
    band_margin : float
        Standard deviations added to the bands' 3.
    methods : mapping
        ``statistic -> {warn, alert}``: floors per statistic.
    features : mapping
        ``subject -> {method, warn, alert, ignore}``: per feature (or the
        prediction column).
    """

    fdr: float = DEFAULT_FDR
    band_margin: float = 0.0
    methods: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, monitored: Iterable[str] | None = None,
                    where: str = "thresholds") -> "Thresholds":
        """Validate a ``thresholds`` mapping.

        Raises
        ------
        ConfigError
            For an unknown statistic (the message lists the registry) or a
            feature that is not monitored (the message lists the monitored ones).
        """
        config = dict(config or {})
        methods = dict(config.get("methods") or {})
        features = dict(config.get("features") or {})
        from .explain import METHODS as ATTRIBUTION_METHODS  # the block is shared with explainability

        for name in methods:
            if name not in stats.REGISTRY and name not in ATTRIBUTION_METHODS:
                known = [*stats.names(), *ATTRIBUTION_METHODS]
                raise ConfigError(f"{where}.methods: unknown statistic {name!r}; known: {', '.join(known)}")
        known = None if monitored is None else list(monitored)
        for name, body in features.items():
            if known is not None and name not in known:
                raise ConfigError(f"{where}.features: {name!r} is not a monitored feature; "
                                  f"monitored: {', '.join(known)}")
            method = (body or {}).get("method")
            if method is not None and method not in stats.REGISTRY:
                raise ConfigError(f"{where}.features.{name}.method: unknown statistic {method!r}; "
                                  f"known: {', '.join(stats.names())}")
        return cls(fdr=float(config.get("fdr", DEFAULT_FDR)), band_margin=float(config.get("band_margin", 0.0)),
                   methods=methods, features=features)

    @property
    def sigmas(self) -> float:
        """Width of the bands in standard deviations."""
        return BAND_SIGMAS + self.band_margin

    def floors(self, method: str, subject: str | None = None) -> tuple[float, float]:
        """(warn, alert) practical floors of a statistic, with per-method and per-subject overrides."""
        info = stats.get(method)
        per_method = self.methods.get(method) or {}
        per_subject = (self.features.get(subject) or {}) if subject is not None else {}
        warn = float(per_subject.get("warn", per_method.get("warn", info.warn)))
        alert = float(per_subject.get("alert", per_method.get("alert", info.alert)))
        return min(warn, alert), alert

    def rule(self, subject: str, kind: str, default: str | None = None) -> Rule:
        """The decision rule of a feature (or the prediction) of a kind."""
        per = self.features.get(subject) or {}
        method = per.get("method") or default or DEFAULT_METHODS[kind]
        try:
            stats.get(method, kind)
        except UsageError as exc:
            raise ConfigError(f"thresholds.features.{subject}.method: {exc}") from exc
        warn, alert = self.floors(method, subject)
        return Rule(subject=subject, kind=kind, method=method, warn=warn, alert=alert,
                    ignore=bool(per.get("ignore", False)))


def decide(value: float, p_adjusted: float | None, band_high: float | None, warn_floor: float,
           alert_floor: float, fdr: float) -> tuple[str, float, float]:
    """Status of one subject under the drift rule.

    Alert when the effect exceeds both its band's upper limit and the alert
    floor *and* the (adjusted) p-value is below ``fdr``; warn when the same
    holds with the warn floor; ok otherwise (a missing value or p-value is ok).

    Returns
    -------
    (status, warn_threshold, alert_threshold)
        The thresholds are the effective ones: ``max(band_high, floor)``.

    Examples
    --------
    >>> decide(0.15, 1e-6, 0.04, 0.05, 0.1, 0.05)
    ('alert', 0.05, 0.1)
    >>> decide(0.15, 0.2, 0.04, 0.05, 0.1, 0.05)[0]
    'ok'
    """
    high = band_high if band_high is not None and np.isfinite(band_high) else -np.inf
    warn_thr, alert_thr = max(high, warn_floor), max(high, alert_floor)
    significant = p_adjusted is not None and np.isfinite(p_adjusted) and p_adjusted < fdr
    if value is None or not np.isfinite(value) or not significant or value <= high:
        return "ok", float(warn_thr), float(alert_thr)
    if value >= alert_floor:
        return "alert", float(warn_thr), float(alert_thr)
    if value >= warn_floor:
        return "warn", float(warn_thr), float(alert_thr)
    return "ok", float(warn_thr), float(alert_thr)


def _band_limits(band: Band | None, rows: float, sigmas: float) -> tuple[float | None, float | None]:
    if band is None or not np.isfinite(band.mean):
        return None, None
    sd = band.sd if np.isfinite(band.sd) else 0.0
    lo, hi = Band(band.mean, sd, band.low_seen, band.high_seen, band.chunk_rows, band.n_chunks,
                  band.scales_with_size).limits(rows or None, sigmas)
    return float(lo), float(hi)


# --------------------------------------------------------------------------- the baseline's representation

def numeric_reference(baseline: Baseline, name: str) -> stats.NumericReference:
    """The baseline's representation of a numeric feature (or of ``__prediction__``)."""
    profile = baseline.manifest["prediction"] if name == baseline.prediction_column and \
        name not in baseline.manifest["profiles"] else baseline.profile(name)
    return stats.NumericReference.from_profile(baseline.sorted_values[name], profile)


def categorical_reference(baseline: Baseline, name: str) -> stats.CategoricalReference:
    """The baseline's representation of a categorical feature."""
    return stats.CategoricalReference.from_profile(baseline.profile(name))


def _stats_of(kind: str, ref, values, names: Sequence[str], p_values: bool = True) -> dict[str, stats.Stat]:
    if kind == "numeric":
        return stats.numeric_against(ref, pd.Series(values).to_numpy(dtype=float), names, p_values=p_values)
    return stats.categorical_against(ref, None, names, counts=ref.counts_of(ref.codes(values)))


def _methods_for(kind: str, method: str, extra: Sequence[str] = ()) -> list[str]:
    """The decision statistic, the kind's test when it has none, and the extra ones that apply."""
    wanted = [method, method if stats.REGISTRY[method].has_test else TESTS[kind], *extra]
    return [m for m in dict.fromkeys(wanted) if kind in stats.REGISTRY[m].kinds]


def _valid_count(kind: str, values) -> int:
    if kind == "numeric":
        return int(np.isfinite(np.asarray(values, dtype=float)).sum())
    return int(pd.Series(values).notna().sum())


# --------------------------------------------------------------------------- univariate

#: Threads for per-feature statistics: their time goes to sorts and binary searches, which release
#: the GIL, so features run on every core.
WORKERS = max(1, min(4, os.cpu_count() or 1))


def parallel_map(fn, items: Sequence) -> list:
    """``[fn(x) for x in items]``, on :data:`WORKERS` threads (same order; the first error is raised)."""
    if WORKERS == 1 or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlmon-features") as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one feature in a window: the figures that decided it.

    ``threshold`` is the effective alert threshold (band upper limit or
    practical floor, whichever is higher); ``ratio`` = value / threshold;
    ``impact`` = ratio x the feature's importance relative to the most
    important feature (None without importance).
    """

    feature: str
    kind: str
    method: str
    value: float
    band_low: float | None
    band_high: float | None
    warn_threshold: float
    threshold: float
    test: str
    p_value: float | None
    p_adjusted: float | None
    status: str
    rows: int
    importance: float | None = None
    impact: float | None = None
    since: str | None = None
    ignored: bool = False
    reference_missing: float = 0.0
    current_missing: float = 0.0
    figures: Mapping[str, float] = field(default_factory=dict)
    #: KS's largest gap ``(x, reference ECDF, window ECDF)`` when KS was computed (drawn by the overlay).
    gap: tuple[float, float, float] | None = None

    @property
    def ratio(self) -> float:
        return float(self.value / self.threshold) if self.threshold and np.isfinite(self.value) else float("nan")


def _importances(baseline: Baseline) -> dict[str, float]:
    imp = (baseline.manifest.get("importance") or {}).get("values") or {}
    top = max((float(v) for v in imp.values() if v is not None and np.isfinite(v)), default=0.0)
    return {k: float(v) / top for k, v in imp.items() if top > 0 and v is not None and np.isfinite(v)}


@dataclass
class UnivariateDrift:
    """Per-feature drift of a window against the baseline (a Result: to_df, plot, HTML)."""

    features: list[FeatureDrift]
    fdr: float
    baseline: Baseline = field(repr=False)
    current: pd.DataFrame = field(repr=False)
    over_time: "TimeDrift | None" = field(default=None, repr=False)
    has_importance: bool = False
    statistics: tuple[str, ...] = ()

    def to_df(self) -> pd.DataFrame:
        """One row per feature, by impact (by effect ratio without importance), then severity."""
        rows = []
        for f in self.features:
            d = {k: getattr(f, k) for k in ("feature", "kind", "method", "value", "band_low", "band_high",
                                             "warn_threshold", "threshold", "test", "p_value", "p_adjusted",
                                             "status", "importance", "impact", "since", "rows", "ignored",
                                             "reference_missing", "current_missing")}
            d["ratio"] = f.ratio
            d.update({f"stat_{k}": v for k, v in f.figures.items()})
            rows.append(d)
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        key = "impact" if self.has_importance else "ratio"
        df = df.sort_values([key, "_sev", "ratio"], ascending=False, kind="stable", na_position="last")
        return df.drop(columns="_sev").reset_index(drop=True)

    def drifted(self, status: str = "alert") -> list[str]:
        """Features at or above a status, by impact."""
        df = self.to_df()
        if df.empty:
            return []
        return df.loc[df["status"].map(SEVERITY) >= SEVERITY[status], "feature"].tolist()

    def get(self, feature: str) -> FeatureDrift:
        for f in self.features:
            if f.feature == feature:
                return f
        raise UsageError(f"no monitored feature {feature!r}; monitored: {', '.join(f.feature for f in self.features)}")

    def record(self, recorder: Recorder) -> None:
        """Record one ``feature_drift`` check per monitored feature, drifted or not."""
        for f in self.features:
            recorder.check(
                "feature_drift", f.feature, f.status, method=f.method, value=f.value, threshold=f.threshold,
                p_value=f.p_adjusted, p_value_raw=f.p_value, test=f.test, warn_threshold=f.warn_threshold,
                band_low=f.band_low, band_high=f.band_high, effect_ratio=f.ratio, impact=f.impact,
                importance=f.importance, since=f.since, rows=f.rows, fdr=self.fdr, ignored=f.ignored or None)
            if f.status != "ok":
                since = f", since {_fmt_since(f.since)}" if f.since else ""
                recorder.finding(f"{f.feature} shifted: {stats.REGISTRY[f.method].display} {f.value:.3g} "
                                 f"(threshold {f.threshold:.3g}){since}", f.status)

    def plot(self, kind: str = "summary", feature: str | None = None, top_n: int = 20):
        """Plot: ``summary`` (effect and impact, top features), ``heatmap`` (features x time chunks),
        ``overlay`` (reference vs window of one ``feature``)."""
        from .plots import drift as plots

        if kind == "summary":
            return plots.drift_summary(self.to_df(), top_n=top_n, has_importance=self.has_importance)
        if kind == "heatmap":
            if self.over_time is None:
                raise UsageError("The 'kind' parameter of UnivariateDrift.plot is 'heatmap' but no time "
                                 "chunks were computed; pass timestamp= and chunk= to univariate().")
            return plots.time_heatmap(self.over_time, self.to_df(), top_n=top_n)
        if kind == "overlay":
            if feature is None:
                raise UsageError("The 'feature' parameter of UnivariateDrift.plot is required for kind='overlay'.")
            f = self.get(feature)
            if f.kind == "numeric":
                return plots.overlay_numeric(numeric_reference(self.baseline, feature), self.current[feature],
                                             feature, f)
            ref = categorical_reference(self.baseline, feature)
            return plots.overlay_categorical(ref, ref.current_counts(self.current[feature]), feature, f)
        raise UsageError(f"The 'kind' parameter of UnivariateDrift.plot must be one of summary, heatmap, "
                         f"overlay. Got {kind!r} instead.")

    def table(self, top_n: int = 25) -> "Html":
        """The summary table (escaped HTML, shown by Jupyter): the ``top_n`` features by impact."""
        return Html(feature_table_html(self.to_df(), top_n=top_n, statistics=self.statistics))

    def _repr_html_(self) -> str:
        return str(self.table())


def univariate(baseline: Baseline, current: pd.DataFrame, *, features: FeaturesConfig | None = None,
               thresholds: Mapping[str, Any] | Thresholds | None = None, timestamp: str | None = None,
               chunk: str | None = None, start=None, end=None, statistics: Sequence[str] = ()) -> UnivariateDrift:
    """Compare every monitored feature of a window with the baseline.

    Parameters
    ----------
    baseline : Baseline
        The archived (or in-memory, :func:`fit_reference`) baseline.
    current : DataFrame
        The window's rows.
    features : FeaturesConfig, optional
        Features to compare; the baseline's by default.
    thresholds : mapping or Thresholds, optional
        The model's ``thresholds`` block from mlmon.yaml.
    timestamp, chunk : str, optional
        Timestamp column and chunk size ("1d", "12h", "1w") for the over-time
        view and the *since* of each drifted feature.
    start, end : datetime, optional
        The window's bounds (chunks start at ``start``); from the data otherwise.
    statistics : sequence of str
        Registered statistics to compute besides the decision one and its
        test, where they apply (e.g. ``("wasserstein", "psi", "anderson")``);
        shown in the table and in ``to_df()``.

    Returns
    -------
    UnivariateDrift
    """
    features = features or baseline.features
    monitored = [*features.numeric, *features.categorical]
    thr = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_config(
        thresholds, [*monitored, baseline.prediction_column])
    extra = [stats.get(name).name for name in statistics]
    rules: dict[str, Rule] = {}
    tasks = []
    for kind, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        for name in names:
            if name not in baseline.manifest["profiles"]:
                raise DataError(f"feature {name!r} is monitored but not in baseline {baseline.baseline_id}; "
                                f"refit the baseline ('mlmon baseline') after changing the features")
            if name not in current.columns:
                raise DataError(f"feature {name!r} is not a column of the window; columns: "
                                f"{', '.join(map(str, current.columns[:30]))}")
            rules[name] = thr.rule(name, kind)
            tasks.append((name, kind, rules[name], current[name]))

    def measure(task):
        name, kind, rule, values = task
        ref = numeric_reference(baseline, name) if kind == "numeric" else categorical_reference(baseline, name)
        figures = _stats_of(kind, ref, values, _methods_for(kind, rule.method, extra))
        test = rule.method if stats.REGISTRY[rule.method].has_test else TESTS[kind]
        return name, kind, rule, figures, test, _valid_count(kind, values)

    computed = parallel_map(measure, tasks)
    adjusted = stats.benjamini_hochberg([
        np.nan if rule.ignore or figures[test].p_value is None else figures[test].p_value
        for _, _, rule, figures, test, _ in computed])
    imp = _importances(baseline)
    out = []
    for (name, kind, rule, figures, test, rows), p_adj in zip(computed, adjusted):
        stat = figures[rule.method]
        lo, hi = _band_limits(baseline.band("drift", rule.method, name), rows, thr.sigmas)
        p_adj_f = float(p_adj) if np.isfinite(p_adj) else None
        status, warn_thr, alert_thr = decide(stat.value, p_adj_f, hi, rule.warn, rule.alert, thr.fdr)
        if rule.ignore:
            status = "ok"
        importance = imp.get(name) if imp else None
        ratio = stat.value / alert_thr if alert_thr and np.isfinite(stat.value) else float("nan")
        out.append(FeatureDrift(
            feature=name, kind=kind, method=rule.method, value=float(stat.value), band_low=lo, band_high=hi,
            warn_threshold=warn_thr, threshold=alert_thr, test=test, p_value=figures[test].p_value,
            p_adjusted=p_adj_f, status=status, rows=rows, importance=importance,
            impact=float(ratio * importance) if importance is not None and np.isfinite(ratio) else None,
            ignored=rule.ignore, reference_missing=float(baseline.profile(name).get("missing_rate") or 0.0),
            current_missing=float(pd.Series(current[name]).isna().mean()) if len(current) else 0.0,
            figures={k: float(v.value) for k, v in figures.items()},
            gap=figures["ks"].where if "ks" in figures else None))
    result = UnivariateDrift(features=out, fdr=thr.fdr, baseline=baseline, current=current,
                             has_importance=bool(imp), statistics=tuple(extra))
    if timestamp is not None and chunk is not None and timestamp in current.columns and len(current):
        result.over_time = over_time(baseline, current, rules, thr, timestamp=timestamp, chunk=chunk,
                                     start=start, end=end)
        result.features = [_with_since(f, result.over_time) for f in out]
    return result


def _with_since(f: FeatureDrift, time_drift: "TimeDrift") -> FeatureDrift:
    """The feature with the start of the first chunk where it reached its status (drifted ones only)."""
    return f if f.status == "ok" else replace(f, since=time_drift.since(f.feature, f.status))


# --------------------------------------------------------------------------- over time

def chunk_length(chunk: str) -> pd.Timedelta:
    """The length of a chunk size like ``1d``, ``12h`` or ``1w``.

    Examples
    --------
    >>> chunk_length("12h")
    Timedelta('0 days 12:00:00')
    """
    text = str(chunk).strip()
    unit = {"h": "hours", "d": "days", "w": "weeks"}.get(text[-1:])
    if unit is None or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise UsageError(f"The 'chunk' parameter must be a size like 1d, 12h or 1w. Got {chunk!r} instead.")
    return pd.Timedelta(**{unit: int(text[:-1])})


@dataclass
class TimeDrift:
    """Each feature's decision statistic on chunks of the window (a feature x chunk grid).

    ``ratio`` is the value divided by the alert threshold at the chunk's own
    size (band scaled to the chunk's rows, or the floor); ``status`` applies
    the drift rule to each cell, its p-values corrected by Holm over the whole
    grid (family-wise error at ``fdr``), so that an outlined cell - and the
    *since* it dates - is rarely noise even among hundreds of cells.
    """

    features: list[str]
    starts: list[pd.Timestamp]
    length: pd.Timedelta
    rows: np.ndarray
    values: np.ndarray
    ratio: np.ndarray
    status: np.ndarray
    notes: list[str] = field(default_factory=list)

    def since(self, feature: str, status: str = "alert") -> str | None:
        """Start of the first chunk where a feature reached ``status`` (ISO), or None when no
        single chunk did (the shift only shows over the whole window)."""
        i = self.features.index(feature)
        sev = np.array([SEVERITY[s] for s in self.status[i]])
        hit = np.flatnonzero(sev >= SEVERITY[status])
        return self.starts[int(hit[0])].isoformat() if len(hit) else None

    def to_df(self) -> pd.DataFrame:
        """Long format: one row per feature and chunk."""
        rows = []
        for i, f in enumerate(self.features):
            for j, s in enumerate(self.starts):
                rows.append({"feature": f, "chunk_start": s, "rows": int(self.rows[j]), "value": self.values[i, j],
                             "ratio": self.ratio[i, j], "status": self.status[i, j]})
        return pd.DataFrame(rows)

    def plot(self, kind: str = "heatmap", top_n: int = 25):
        from .plots import drift as plots

        if kind != "heatmap":
            raise UsageError(f"The 'kind' parameter of TimeDrift.plot must be 'heatmap'. Got {kind!r} instead.")
        return plots.time_heatmap(self, None, top_n=top_n)

    def _repr_html_(self) -> str:
        return self.to_df().pivot(index="feature", columns="chunk_start", values="ratio").to_html(
            escape=True, float_format=lambda v: f"{v:.2f}", classes="mlmon-table")


def _utc(moment) -> pd.Timestamp:
    t = pd.Timestamp(moment)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def over_time(baseline: Baseline, current: pd.DataFrame, rules: Mapping[str, Rule], thr: Thresholds, *,
              timestamp: str, chunk: str, start=None, end=None) -> TimeDrift:
    """Each feature's decision statistic on consecutive chunks of the window.

    Chunks start at ``start`` (the window's start; the first timestamp when
    None) and last ``chunk``; more than :data:`MAX_CHUNKS` chunks are merged.
    A chunk with more than :data:`GRID_ROWS` rows is measured on a
    systematic sample of that many (every k-th row in time order), its band
    scaled to the sample: at that size the practical floor already dominates
    the band, so more rows would change the cost, not the decisions. Only
    cells beyond their band and floor get a p-value; the others count as
    p = 1 in the grid's Holm correction, which can only make it more
    conservative.
    """
    ts = pd.to_datetime(current[timestamp], utc=True)
    length = chunk_length(chunk)
    t0 = _utc(start) if start is not None else ts.min().floor("D")
    t1 = _utc(end) if end is not None else ts.max() + pd.Timedelta(microseconds=1)
    n_chunks = max(1, math.ceil((t1 - t0) / length))
    notes = []
    if n_chunks > MAX_CHUNKS:
        factor = math.ceil(n_chunks / MAX_CHUNKS)
        notes.append(f"{n_chunks} chunks of {chunk} would not be readable: merged {factor} at a time.")
        length, n_chunks = length * factor, math.ceil(n_chunks / factor)
    idx = ((ts - t0) // length).to_numpy()
    order = np.argsort(idx, kind="stable")  # the window is read in time order: usually the identity
    bounds = np.searchsorted(idx[order], np.arange(n_chunks + 1))
    names = list(rules)
    F, C = len(names), n_chunks
    values = np.full((F, C), np.nan)
    band_hi = np.full((F, C), np.nan)
    pvals = np.full((F, C), 1.0)
    rows = np.diff(bounds)

    def measure(item):
        i, name, series = item
        rule = rules[name]
        if rule.ignore:
            return
        test = rule.method if stats.REGISTRY[rule.method].has_test else TESTS[rule.kind]
        floor = min(rule.warn, rule.alert)
        band = baseline.band("drift", rule.method, name)
        if rule.kind == "numeric":
            ref = numeric_reference(baseline, name)
            column = series.to_numpy(dtype=float)[order]
        else:
            ref = categorical_reference(baseline, name)
            column = ref.codes(series)[order]
        for j in range(C):
            part = column[bounds[j]:bounds[j + 1]]
            if len(part) > GRID_ROWS:
                part = part[:: math.ceil(len(part) / GRID_ROWS)]
            if rule.kind == "numeric":
                part = part[np.isfinite(part)]
                fig = stats.numeric_against(ref, part, [rule.method], p_values=False)[rule.method]
            else:
                counts = ref.counts_of(part)
                figs = stats.categorical_against(ref, None, list(dict.fromkeys([rule.method, test])), counts=counts)
                fig = figs[rule.method]
            n_valid = len(part) if rule.kind == "numeric" else int((part >= 0).sum())
            if n_valid < MIN_CHUNK_ROWS or not np.isfinite(fig.value):
                continue
            _, hi = _band_limits(band, n_valid, thr.sigmas)
            values[i, j] = fig.value
            band_hi[i, j] = hi if hi is not None else np.nan
            # Only a cell beyond its band and floor can fire: the others keep p = 1, which
            # keeps Holm conservative and spares most (slow, large-sample) p-values.
            if fig.value > max(hi if hi is not None else -np.inf, floor):
                if rule.kind == "categorical":
                    p = figs[test].p_value
                else:
                    p = stats.numeric_against(ref, part, [test])[test].p_value
                pvals[i, j] = p if p is not None else 1.0

    # Each feature fills its own row of the grid: features run on every core.
    parallel_map(measure, [(i, name, current[name]) for i, name in enumerate(names)])
    pvals[~np.isfinite(values)] = np.nan
    status = np.full((F, C), "ok", dtype=object)
    ratio = np.full((F, C), np.nan)
    # Holm over the whole grid (family-wise error at fdr): among hundreds of cells an outline,
    # and the "since" it dates, is then rarely noise (BH would let 5% of them be).
    adjusted = stats.holm(pvals.ravel()).reshape(pvals.shape)
    for j in range(C):
        for i, name in enumerate(names):
            if not np.isfinite(values[i, j]):
                continue
            r = rules[name]
            p = float(adjusted[i, j]) if np.isfinite(adjusted[i, j]) else None
            hi = float(band_hi[i, j]) if np.isfinite(band_hi[i, j]) else None
            status[i, j], _, alert_thr = decide(values[i, j], p, hi, r.warn, r.alert, thr.fdr)
            ratio[i, j] = values[i, j] / alert_thr if alert_thr > 0 else np.nan
    starts = [t0 + k * length for k in range(C)]
    return TimeDrift(features=names, starts=starts, length=length, rows=rows, values=values, ratio=ratio,
                     status=status, notes=notes)


# --------------------------------------------------------------------------- data quality

@dataclass(frozen=True)
class MissingRate:
    """The missing-rate change of one feature in a window."""

    feature: str
    reference_rate: float
    current_rate: float
    rows: int
    low: float
    high: float
    p_value: float | None
    p_adjusted: float | None
    status: str

    @property
    def change(self) -> float:
        return self.current_rate - self.reference_rate


@dataclass
class QualityDrift:
    """Missing-rate changes of every monitored feature."""

    features: list[MissingRate]
    fdr: float

    def to_df(self) -> pd.DataFrame:
        df = pd.DataFrame([{**f.__dict__, "change": f.change} for f in self.features])
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        df["_abs"] = df["change"].abs()
        return df.sort_values(["_sev", "_abs"], ascending=False, kind="stable").drop(columns=["_sev", "_abs"]
                                                                                     ).reset_index(drop=True)

    def changed(self) -> pd.DataFrame:
        """Features whose missing rate is not zero in the reference or in the window, or that fired."""
        df = self.to_df()
        if df.empty:
            return df
        return df[(df["reference_rate"] > 0) | (df["current_rate"] > 0) | (df["status"] != "ok")]

    def record(self, recorder: Recorder) -> None:
        """One ``data_quality`` check per feature, subject ``<feature>:missing_rate``."""
        for f in self.features:
            recorder.check("data_quality", f"{f.feature}:missing_rate", f.status, method="missing_rate",
                           value=f.current_rate, threshold=f.high, p_value=f.p_adjusted, p_value_raw=f.p_value,
                           reference_rate=f.reference_rate, threshold_low=f.low, change=f.change, rows=f.rows)
            if f.status != "ok":
                recorder.finding(f"{f.feature}: missing values {f.reference_rate:.1%} in the reference, "
                                 f"{f.current_rate:.1%} now", f.status)

    def _repr_html_(self) -> str:
        df = self.changed()
        n = len(self.features)
        if df.empty:
            return f"<p>None of the {n} monitored features has missing values, in the reference or in this window.</p>"
        shown = pd.DataFrame({
            "feature": df["feature"].map(_esc),
            "reference": df["reference_rate"].map(lambda v: f"{v:.2%}"),
            "window": df["current_rate"].map(lambda v: f"{v:.2%}"),
            "expected range": [f"{lo:.2%} – {hi:.2%}" for lo, hi in zip(df["low"], df["high"])],
            "p (BH)": df["p_adjusted"].map(_fmt_p),
            "status": df["status"].map(_badge),
        })
        note = (f"<p class='mlmon-omitted'>{n - len(df)} more features have no missing values in either.</p>"
                if len(df) < n else "")
        return shown.to_html(index=False, escape=False, classes="mlmon-table") + note


def missing_rates(baseline: Baseline, current: pd.DataFrame, *, features: FeaturesConfig | None = None,
                  thresholds: Mapping[str, Any] | Thresholds | None = None) -> QualityDrift:
    """Missing-rate change of every monitored feature against the baseline.

    The expected range is the band of the reference chunks' missing rates
    scaled to the window's rows, widened to at least the binomial noise of
    two samples at the reference rate (so a reference without missing values
    does not make one missing value an alert). A feature fires when its rate
    leaves that range, the change reaches the floor (``missing_rate`` warn 1
    point, alert 5 points) and Fisher's exact test is significant after BH
    across features.
    """
    features = features or baseline.features
    monitored = [*features.numeric, *features.categorical]
    thr = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_config(
        thresholds, [*monitored, baseline.prediction_column])
    warn_floor, alert_floor = thr.floors("missing_rate")
    n = len(current)
    raw = []
    for name in monitored:
        prof = baseline.profile(name)
        p0 = float(prof.get("missing_rate") or 0.0)
        n_ref = int(prof.get("rows") or baseline.manifest["reference"]["rows"])
        col = current[name]
        k = int(col.isna().sum()) if prof.get("kind") == "categorical" else \
            int((~np.isfinite(col.to_numpy(dtype=float))).sum())
        stat = stats.rate_change(p0 * n_ref, n_ref, k, n)
        lo, hi = _band_limits(baseline.band("quality", "missing_rate", name), n, thr.sigmas)
        pooled = (k + p0 * n_ref + 1) / (n + n_ref + 2)  # Laplace-smoothed: never zero
        se = math.sqrt(pooled * (1 - pooled) * (1 / max(n, 1) + 1 / max(n_ref, 1)))
        lo = min(lo if lo is not None else p0, p0 - thr.sigmas * se)
        hi = max(hi if hi is not None else p0, p0 + thr.sigmas * se)
        raw.append((name, p0, k / n if n else float("nan"), lo, hi, stat))
    adjusted = stats.benjamini_hochberg([r[5].p_value if r[5].p_value is not None else np.nan for r in raw])
    out = []
    for (name, p0, rate, lo, hi, stat), p_adj in zip(raw, adjusted):
        change = abs(rate - p0)
        outside = rate > hi or rate < lo
        significant = np.isfinite(p_adj) and p_adj < thr.fdr
        status = "ok"
        if outside and significant:
            status = "alert" if change >= alert_floor else "warn" if change >= warn_floor else "ok"
        out.append(MissingRate(feature=name, reference_rate=p0, current_rate=float(rate), rows=n,
                               low=float(max(lo, 0.0)), high=float(min(hi, 1.0)), p_value=stat.p_value,
                               p_adjusted=float(p_adj) if np.isfinite(p_adj) else None, status=status))
    return QualityDrift(features=out, fdr=thr.fdr)


# --------------------------------------------------------------------------- prediction drift

@dataclass
class PredictionDrift:
    """Drift of the model's scores in the window against the baseline's predictions."""

    drift: FeatureDrift
    subject: str
    source: str
    reference: stats.NumericReference = field(repr=False)
    scores: np.ndarray = field(repr=False)

    def to_df(self) -> pd.DataFrame:
        return pd.DataFrame([{**{k: getattr(self.drift, k) for k in (
            "method", "value", "band_low", "band_high", "threshold", "p_value", "status", "rows")},
            "subject": self.subject, "source": self.source, **{f"stat_{k}": v for k, v in self.drift.figures.items()}}])

    def record(self, recorder: Recorder) -> None:
        d = self.drift
        recorder.check("prediction_drift", self.subject, d.status, method=d.method, value=d.value,
                       threshold=d.threshold, p_value=d.p_value, test=d.test, warn_threshold=d.warn_threshold,
                       band_low=d.band_low, band_high=d.band_high, rows=d.rows, since=d.since, source=self.source)
        if d.status != "ok":
            recorder.finding(f"the model's scores shifted: {stats.REGISTRY[d.method].display} {d.value:.3g} "
                             f"(threshold {d.threshold:.3g})", d.status)

    def plot(self, kind: str = "overlay"):
        from .plots import drift as plots

        if kind != "overlay":
            raise UsageError(f"The 'kind' parameter of PredictionDrift.plot must be 'overlay'. Got {kind!r} instead.")
        return plots.overlay_numeric(self.reference, self.scores, self.subject, self.drift,
                                     title=f"Model scores ({self.subject}): baseline vs window")

    def _repr_html_(self) -> str:
        d = self.drift
        return _kv_table([
            ("scores", self.source), ("method", stats.REGISTRY[d.method].display), ("value", f"{d.value:.4g}"),
            ("band (scaled to the window)", _fmt_band(d.band_low, d.band_high)),
            ("alert threshold", f"{d.threshold:.4g}"), ("p", _fmt_p(d.p_value)), ("status", _badge(d.status))])


def prediction_drift(baseline: Baseline, scores, *, subject: str,
                     thresholds: Mapping[str, Any] | Thresholds | None = None,
                     source: str = "logged scores") -> PredictionDrift:
    """Compare the window's scores with the baseline's predictions (same rule as a numeric feature).

    ``subject`` names the check (the prediction column); per-subject overrides
    in ``thresholds.features`` may use it.
    """
    thr = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_config(thresholds)
    pred = baseline.prediction_column
    rule = thr.rule(subject, "numeric")
    ref = numeric_reference(baseline, pred)
    s = np.asarray(scores, dtype=float)
    test = rule.method if stats.REGISTRY[rule.method].has_test else "ks"
    figures = stats.numeric_against(ref, s, _methods_for("numeric", rule.method))
    rows = int(np.isfinite(s).sum())
    lo, hi = _band_limits(baseline.band("prediction_drift", rule.method, PREDICTION), rows, thr.sigmas)
    p = figures[test].p_value
    status, warn_thr, alert_thr = decide(figures[rule.method].value, p, hi, rule.warn, rule.alert, thr.fdr)
    d = FeatureDrift(feature=subject, kind="numeric", method=rule.method, value=float(figures[rule.method].value),
                     band_low=lo, band_high=hi, warn_threshold=warn_thr, threshold=alert_thr, test=test,
                     p_value=p, p_adjusted=p, status=status, rows=rows,
                     figures={k: float(v.value) for k, v in figures.items()},
                     gap=figures["ks"].where if "ks" in figures else None)
    return PredictionDrift(drift=d, subject=subject, source=source, reference=ref, scores=s[np.isfinite(s)])


def window_scores(frame: pd.DataFrame, task: str, prediction: str, estimator=None,
                  features: Sequence[str] | None = None) -> tuple[np.ndarray | None, str]:
    """The window's scores comparable with the baseline's predictions, and where they come from.

    Binary and regression: the logged prediction column when it holds
    numbers; multiclass (the baseline keeps the top-class probability) or
    without a usable logged column: the version's model scores the rows.
    """
    if task != "multiclass_classification" and prediction in frame.columns:
        col = pd.to_numeric(frame[prediction], errors="coerce")
        if col.notna().any():
            return col.to_numpy(dtype=float), f"logged column {prediction!r}"
    if estimator is not None:
        from .models import score

        cols = list(estimator.features) if getattr(estimator, "features", None) else list(features or [])
        p = score(estimator, frame, cols)
        p = np.asarray(p, dtype=float)
        return (p.max(axis=1) if p.ndim == 2 else p), "scored with the version's model file"
    return None, ""


# --------------------------------------------------------------------------- label drift

@dataclass
class LabelDrift:
    """Prior shift: the label distribution among the window's labelled rows against the baseline's."""

    subject: str
    method: str
    value: float
    reference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    status: str
    labelled: int
    rows: int
    shares: pd.DataFrame = field(repr=False)

    def to_df(self) -> pd.DataFrame:
        return self.shares.copy()

    def record(self, recorder: Recorder) -> None:
        recorder.check("label_drift", self.subject, self.status, method=self.method, value=self.value,
                       threshold=self.high, p_value=self.p_value, threshold_low=self.low,
                       reference_value=self.reference, labelled_rows=self.labelled, rows=self.rows)
        if self.status != "ok":
            what = "positive rate" if self.method == "positive_rate" else "label distribution"
            ref = f" (baseline {self.reference:.3g})" if self.reference is not None else ""
            recorder.finding(f"the {what} moved to {self.value:.3g}{ref}", self.status)

    def _repr_html_(self) -> str:
        info = stats.REGISTRY.get(self.method)
        rows = [("labelled rows", f"{self.labelled:,} of {self.rows:,}"),
                ("method", info.display if info else self.method), ("window", f"{self.value:.4g}"),
                ("baseline", "" if self.reference is None else f"{self.reference:.4g}"),
                ("expected range", _fmt_band(self.low, self.high)), ("p", _fmt_p(self.p_value)),
                ("status", _badge(self.status))]
        return _kv_table(rows) + _shares_html(self.shares)


def label_drift(baseline: Baseline, labels, *, task: str, subject: str,
                thresholds: Mapping[str, Any] | Thresholds | None = None) -> LabelDrift | None:
    """Compare the labelled rows' label distribution with the baseline's target profile.

    Binary: the positive rate against the reference's, exact binomial test;
    the expected range is the band of the reference chunks' positive rates
    scaled to the labelled rows, widened to at least the relative floor
    (``positive_rate`` warn 10 %, alert 25 % relative change). Multiclass: class
    shares, chi-square goodness of fit, TVD floors. Regression: KS of the
    targets against the baseline sample's. None when nothing is labelled or the
    baseline has no target profile.
    """
    thr = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_config(thresholds)
    y = pd.Series(labels).dropna()
    n_rows = len(labels)
    tp = baseline.manifest.get("target_profile")
    if len(y) == 0 or not tp:
        return None
    if task == "regression":
        target = baseline.manifest.get("target")
        ref = stats.NumericReference.from_values(baseline.sample[target]) if target in baseline.sample else None
        if ref is None or ref.n == 0:
            return None
        st = stats.numeric_against(ref, y.to_numpy(dtype=float), ["ks"])["ks"]
        warn, alert = thr.floors("ks")
        status, _, alert_thr = decide(st.value, st.p_value, None, warn, alert, thr.fdr)
        shares = pd.DataFrame({"quantile": [0.1, 0.5, 0.9],
                               "baseline": np.quantile(ref.sorted, [0.1, 0.5, 0.9]),
                               "window": np.quantile(y.to_numpy(dtype=float), [0.1, 0.5, 0.9])})
        return LabelDrift(subject=subject, method="ks", value=st.value, reference=None, low=None, high=alert_thr,
                          p_value=st.p_value, status=status, labelled=len(y), rows=n_rows, shares=shares)
    keys = _label_keys(y)
    ref_shares = pd.Series(tp["frequencies"], dtype=float)
    counts = keys.value_counts().astype(float)
    levels = list(dict.fromkeys([*ref_shares.index, *counts.index]))
    table = pd.DataFrame({"label": levels, "baseline": ref_shares.reindex(levels, fill_value=0.0).to_numpy(),
                          "window": (counts.reindex(levels, fill_value=0.0) / counts.sum()).to_numpy()})
    if task == "binary_classification" and set(ref_shares.index) <= {"0", "1"}:
        p0 = float(ref_shares.get("1", 0.0))
        k = int(counts.get("1", 0))
        st = stats.binomial_rate(k, len(y), p0)
        warn, alert = thr.floors("positive_rate")
        lo_b, hi_b = _band_limits(baseline.band("performance", "positive_rate", "all"), len(y), thr.sigmas)
        hi = max(hi_b if hi_b is not None else p0, p0 * (1 + alert))
        lo = min(lo_b if lo_b is not None else p0, p0 * (1 - alert))
        rel = abs(st.value - p0) / p0 if p0 > 0 else (np.inf if st.value > 0 else 0.0)
        significant = st.p_value is not None and st.p_value < thr.fdr
        outside_band = (hi_b is None or st.value > hi_b or st.value < lo_b)
        status = "ok"
        if significant and outside_band:
            status = "alert" if rel >= alert else "warn" if rel >= warn else "ok"
        return LabelDrift(subject=subject, method="positive_rate", value=st.value, reference=p0, low=lo, high=hi,
                          p_value=st.p_value, status=status, labelled=len(y), rows=n_rows, shares=table)
    st = stats.shares_goodness_of_fit(table["window"].to_numpy() * len(y), table["baseline"].to_numpy())
    warn, alert = thr.floors("class_shares")
    status, _, alert_thr = decide(st.value, st.p_value, None, warn, alert, thr.fdr)
    return LabelDrift(subject=subject, method="class_shares", value=st.value, reference=0.0, low=None,
                      high=alert_thr, p_value=st.p_value, status=status, labelled=len(y), rows=n_rows, shares=table)


def _label_keys(y: pd.Series) -> pd.Series:
    """Labels as the baseline's target profile spells them (integers as '0', '1', ...)."""
    try:
        num = pd.to_numeric(y)
        if np.all(np.mod(num, 1) == 0):
            return num.astype("int64").astype(str)
    except (ValueError, TypeError):
        pass
    return y.astype(str)


# --------------------------------------------------------------------------- multivariate

@dataclass(frozen=True)
class JointCheck:
    """One multivariate check: value against its null band, test, status."""

    subject: str
    method: str
    value: float
    band_low: float | None
    band_high: float | None
    warn_threshold: float
    threshold: float
    p_value: float | None
    status: str
    rows: int
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class MultivariateDrift:
    """Joint drift: a domain classifier and PCA reconstruction error against the baseline."""

    checks: list[JointCheck]
    top_features: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    notes: list[str] = field(default_factory=list)

    def to_df(self) -> pd.DataFrame:
        return pd.DataFrame([{k: v for k, v in c.__dict__.items() if k != "details"} for c in self.checks])

    def get(self, subject: str) -> JointCheck | None:
        return next((c for c in self.checks if c.subject == subject), None)

    def record(self, recorder: Recorder) -> None:
        for c in self.checks:
            recorder.check("multivariate_drift", c.subject, c.status, method=c.method, value=c.value,
                           threshold=c.threshold, p_value=c.p_value, warn_threshold=c.warn_threshold,
                           band_low=c.band_low, band_high=c.band_high, rows=c.rows, **dict(c.details))
            if c.status != "ok":
                extra = ""
                if c.subject == "domain_classifier" and len(self.top_features):
                    extra = "; it separates them mostly by " + ", ".join(map(str, self.top_features.index[:3]))
                recorder.finding(f"jointly: {stats.REGISTRY[c.method].display} {c.value:.3f} "
                                 f"(threshold {c.threshold:.3f}){extra}", c.status)

    def plot(self, kind: str = "features", top_n: int = 15):
        from .plots import drift as plots

        if kind == "features":
            return plots.domain_features(self.top_features, self.get("domain_classifier"), top_n=top_n)
        if kind == "bands":
            return plots.joint_bands(self.checks)
        raise UsageError(f"The 'kind' parameter of MultivariateDrift.plot must be 'features' or 'bands'. "
                         f"Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        if not self.checks:
            return "<p>No multivariate check could be computed.</p>"
        shown = pd.DataFrame({
            "check": [stats.REGISTRY[c.method].display for c in self.checks],
            "value": [f"{c.value:.4f}" for c in self.checks],
            "null band (scaled)": [_fmt_band(c.band_low, c.band_high) for c in self.checks],
            "alert threshold": [f"{c.threshold:.4f}" for c in self.checks],
            "p": [_fmt_p(c.p_value) for c in self.checks],
            "status": [_badge(c.status) for c in self.checks],
        })
        return shown.to_html(index=False, escape=False, classes="mlmon-table")


def _level_lookup(values: pd.Series, lookup: Mapping[str, float], unknown: float) -> np.ndarray:
    """Map each value (by its string form) through ``lookup``; ``unknown`` for others, NaN when missing.

    Vectorised through the column's categories: one dictionary look-up per level, not per row.
    """
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    lut = np.array([lookup.get(str(c), unknown) for c in cat.cat.categories], dtype=float)
    raw = cat.cat.codes.to_numpy()
    out = np.full(len(values), np.nan)
    ok = raw >= 0
    out[ok] = lut[raw[ok]]
    return out


def _encode(frames: Sequence[pd.DataFrame], numeric: Sequence[str], categorical: Sequence[str],
            reference: pd.DataFrame) -> list[np.ndarray]:
    """Numeric columns as floats and categories as codes of the reference's levels (unknown -> own code)."""
    codes = {c: {k: float(i) for i, k in enumerate(stats.level_counts(reference[c]).index[:250])}
             for c in categorical}
    out = []
    for f in frames:
        cols = [pd.to_numeric(f[c], errors="coerce").to_numpy(dtype=float) for c in numeric]
        cols += [_level_lookup(f[c], codes[c], 251.0) for c in categorical]  # HGB: categories < 255
        out.append(np.column_stack(cols) if cols else np.empty((len(f), 0)))
    return out


def _cv_auc(X: np.ndarray, y: np.ndarray, categorical: np.ndarray, rng: np.random.Generator, folds: int = 3,
            importance: bool = False) -> tuple[float, np.ndarray | None]:
    """Out-of-fold ROC AUC of a gradient-boosted classifier; permutation AUC drop per column on the first
    held-out fold."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    oof = np.zeros(len(y))
    drops = np.zeros(X.shape[1]) if importance else None
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    # One thread: on a few thousand rows OpenMP's start-up and contention cost more than they
    # save (ten times slower on a loaded 2-core machine).
    with threadpool_limits(limits=1):
        for k, (train, test) in enumerate(skf.split(X, y)):
            # A column with fewer than two values (all missing, constant) separates nothing, and
            # scikit-learn's binning fails on it: leave it out.
            cols = np.array([j for j in range(X.shape[1]) if _distinct_at_least(X[train, j], 2)], dtype=int)
            seed = int(rng.integers(2**31 - 1))
            if len(cols) == 0:
                oof[test] = 0.5
                continue
            clf = HistGradientBoostingClassifier(
                max_iter=30, learning_rate=0.15, max_leaf_nodes=15, min_samples_leaf=40, early_stopping=False,
                categorical_features=categorical[cols] if categorical[cols].any() else None, random_state=seed)
            clf.fit(X[train][:, cols], y[train])
            p = clf.predict_proba(X[test][:, cols])[:, 1]
            oof[test] = p
            if importance and k == 0:  # one held-out fold ranks the features well enough
                base = roc_auc_score(y[test], p)
                for j in cols:
                    Xp = X[test][:, cols]
                    pos = int(np.flatnonzero(cols == j)[0])
                    Xp[:, pos] = Xp[rng.permutation(len(test)), pos]
                    drops[j] = base - roc_auc_score(y[test], clf.predict_proba(Xp)[:, 1])
    return float(roc_auc_score(y, oof)), drops


def _distinct_at_least(values: np.ndarray, k: int) -> bool:
    return len(np.unique(values[~np.isnan(values)])) >= k


def _null_rows(n_ref: int, rows: int, null_chunks: int) -> int:
    """Rows a side of each null comparison: at most ``rows`` and NULL_ROWS, and what the chunks allow."""
    sizes = [len(b) for b in np.array_split(np.arange(n_ref), null_chunks)]
    return int(min(rows, NULL_ROWS, min(sizes), n_ref - max(sizes)))


def domain_null(sample: pd.DataFrame, features: FeaturesConfig, *, rows: int, rng: np.random.Generator,
                null_chunks: int = NULL_CHUNKS) -> dict[str, Any] | None:
    """The domain classifier's null: how well it tells the reference sample's own time chunks apart.

    The sample, in time order, is cut into ``null_chunks`` chunks and each
    chunk's rows are classified against the rest of the sample, ``m`` rows a
    side (``m`` = ``rows`` at most, and what the chunks allow). Depends on the
    baseline only, so :func:`mlmon_nb.fit.fit` stores it for ``rows`` =
    :data:`NULL_ROWS` (``manifest["multivariate"]["domain_classifier"]``) and
    a window then reuses it. None when the sample is too small.
    """
    numeric, categorical = list(features.numeric), list(features.categorical)
    ref = sample[numeric + categorical].reset_index(drop=True)
    if len(ref) < 2 * null_chunks:
        return None
    is_cat = np.array([False] * len(numeric) + [True] * len(categorical))
    (Xall,) = _encode([ref], numeric, categorical, ref)
    bounds = np.array_split(np.arange(len(ref)), null_chunks)
    m = _null_rows(len(ref), rows, null_chunks)
    if m < 25:
        return None
    aucs = []
    for b in bounds:
        rest = np.setdiff1d(np.arange(len(ref)), b, assume_unique=True)
        a = rng.choice(b, size=m, replace=False)
        r = rng.choice(rest, size=m, replace=False)
        aucs.append(_cv_auc(np.vstack([Xall[r], Xall[a]]), np.r_[np.zeros(m), np.ones(m)], is_cat, rng)[0])
    return {"features": numeric + categorical, "rows_per_side": m, "null_aucs": [float(v) for v in aucs],
            "chunks": null_chunks, "sample_rows": int(len(ref))}


def domain_classifier(sample: pd.DataFrame, current: pd.DataFrame, features: FeaturesConfig, *,
                      rng: np.random.Generator, thresholds: Thresholds | None = None,
                      max_rows: int = DOMAIN_ROWS, null_chunks: int = NULL_CHUNKS,
                      null: Mapping[str, Any] | None = None) -> tuple[JointCheck, pd.Series]:
    """Can a classifier tell the window's rows from the reference's? Cross-validated ROC AUC.

    A gradient-boosted classifier learns reference-sample rows (label 0)
    against window rows (label 1), equal numbers of each (at most
    ``max_rows``); its out-of-fold ROC AUC is 0.5 when they are
    indistinguishable. The null band comes from the baseline itself
    (:func:`domain_null`: each time chunk of the reference sample against the
    rest); ``null`` is the one the baseline stored, used when it was computed
    for the same features and size, else it is computed here. The band is the
    null AUCs' mean ± 3 sd scaled to the compared size, with the sd at least
    the Mann-Whitney sd of an AUC under no difference. The p-value is that of
    the AUC's excess over the null mean in those sd. Permutation importance
    (AUC drop on a held-out fold) says which features separate them.
    """
    thr = thresholds or Thresholds()
    numeric, categorical = list(features.numeric), list(features.categorical)
    cols = numeric + categorical
    is_cat = np.array([False] * len(numeric) + [True] * len(categorical))
    ref = sample[cols].reset_index(drop=True)
    n = int(min(max_rows, len(ref) // 2, len(current)))
    if n < 50:
        raise DataError(f"domain classifier: {min(len(ref) // 2, len(current))} rows per side; at least 50 needed")
    ref_idx = np.sort(rng.choice(len(ref), size=n, replace=False))
    cur_idx = np.sort(rng.choice(len(current), size=n, replace=False))
    Xr, Xc = _encode([ref.iloc[ref_idx], current.iloc[cur_idx]], numeric, categorical, ref)
    X = np.vstack([Xr, Xc])
    y = np.r_[np.zeros(n), np.ones(n)]
    auc, drops = _cv_auc(X, y, is_cat, rng, importance=True)
    m_wanted = _null_rows(len(ref), n, null_chunks)
    reuse = (null is not None and list(null.get("features", [])) == cols and null.get("rows_per_side") == m_wanted
             and null.get("chunks") == null_chunks and null.get("sample_rows") == len(ref))
    if not reuse:
        null = domain_null(sample, features, rows=n, rng=rng, null_chunks=null_chunks)
    nulls = list(null["null_aucs"]) if null else []
    m = int(null["rows_per_side"]) if null else n
    band = band_from_values(nulls, [m] * len(nulls))
    sd_mw = math.sqrt((2 * n + 1) / (12.0 * n * n))
    mean = band.mean if band else 0.5
    sd_band = band.sd * math.sqrt(m / n) if band else 0.0
    sd = max(sd_band, sd_mw)
    lo, hi = mean - thr.sigmas * sd, mean + thr.sigmas * sd
    p = float(sps.norm.sf((auc - mean) / sd))
    warn, alert = thr.floors("domain_classifier")
    status, warn_thr, alert_thr = decide(auc, p, hi, warn, alert, thr.fdr)
    top = pd.Series(drops, index=cols).sort_values(ascending=False)
    check = JointCheck(subject="domain_classifier", method="domain_classifier", value=auc, band_low=lo, band_high=hi,
                       warn_threshold=warn_thr, threshold=alert_thr, p_value=p, status=status, rows=2 * n,
                       details={"null_aucs": [round(v, 4) for v in nulls], "null_rows_per_side": m,
                                "null_from": "baseline" if reuse else "computed for this window",
                                "top_features": {str(k): round(float(v), 4) for k, v in top.head(5).items()}})
    return check, top


def pca_reconstruction(sample: pd.DataFrame, current: pd.DataFrame, features: FeaturesConfig, *,
                       rng: np.random.Generator, thresholds: Thresholds | None = None, chunks: int = 10,
                       variance: float = PCA_VARIANCE) -> JointCheck:
    """PCA reconstruction error of the window relative to the reference's (NannyML's data reconstruction).

    The reference sample is split at random in halves. On the first, numbers
    are median-imputed and standardised, categories replaced by their
    reference share (standardised), and a PCA keeps ``variance`` of the
    variance. The second half, cut in time order into ``chunks`` chunks, gives
    the band of the mean reconstruction error (scaled to the window's rows);
    values are divided by the second half's mean error, so 1 means "as in the
    reference". When the relationships between features change, rows no
    longer lie near the reference's principal subspace and the error grows.
    The p-value is Welch's one-sided t-test of the window's row errors
    against the held-out half's.
    """
    from sklearn.decomposition import PCA

    thr = thresholds or Thresholds()
    numeric, categorical = list(features.numeric), list(features.categorical)
    ref = sample[numeric + categorical].reset_index(drop=True)
    if len(ref) < 2 * chunks * 20 or len(numeric) + len(categorical) < 2:
        raise DataError("PCA reconstruction needs at least 2 features and 400 reference sample rows")
    perm = rng.permutation(len(ref))
    fit_idx, hold_idx = np.sort(perm[: len(ref) // 2]), np.sort(perm[len(ref) // 2:])
    fit = ref.iloc[fit_idx]
    med = {c: float(np.nanmedian(pd.to_numeric(fit[c], errors="coerce"))) if fit[c].notna().any() else 0.0
           for c in numeric}
    freq = {c: (stats.level_counts(fit[c]) / max(stats.level_counts(fit[c]).sum(), 1)).to_dict() for c in categorical}

    def encode(f: pd.DataFrame) -> np.ndarray:
        cols = [pd.to_numeric(f[c], errors="coerce").fillna(med[c]).to_numpy(dtype=float) for c in numeric]
        for c in categorical:
            shares = _level_lookup(f[c], freq[c], 0.0)  # a level never seen in the reference: share 0
            cols.append(np.where(np.isnan(shares), -1.0, shares))  # missing: its own value
        return np.column_stack(cols)

    A = encode(fit)
    mu, sd = A.mean(axis=0), A.std(axis=0)
    sd[sd == 0] = 1.0
    pca = PCA(n_components=variance, svd_solver="full", random_state=0).fit((A - mu) / sd)

    def errors(f: pd.DataFrame) -> np.ndarray:
        Z = (encode(f) - mu) / sd
        return np.linalg.norm(Z - pca.inverse_transform(pca.transform(Z)), axis=1)

    hold_err = errors(ref.iloc[hold_idx])
    scale = float(hold_err.mean())
    parts = np.array_split(np.arange(len(hold_idx)), chunks)
    band = band_from_values([hold_err[p].mean() / scale for p in parts], [len(p) for p in parts])
    cur = current if len(current) <= PCA_MAX_ROWS else current.iloc[np.sort(rng.choice(len(current), PCA_MAX_ROWS,
                                                                                        replace=False))]
    cur_err = errors(cur)
    value = float(cur_err.mean() / scale)
    lo, hi = _band_limits(band, len(cur_err), thr.sigmas)
    p = float(sps.ttest_ind(cur_err, hold_err, equal_var=False, alternative="greater").pvalue)
    warn, alert = thr.floors("pca_reconstruction")
    status, warn_thr, alert_thr = decide(value, p, hi, warn, alert, thr.fdr)
    return JointCheck(subject="pca_reconstruction", method="pca_reconstruction", value=value, band_low=lo,
                      band_high=hi, warn_threshold=warn_thr, threshold=alert_thr, p_value=p, status=status,
                      rows=len(cur_err), details={"components": int(pca.n_components_), "variance_kept": variance,
                                                  "reference_error": scale})


def multivariate(baseline: Baseline, current: pd.DataFrame, *, features: FeaturesConfig | None = None,
                 thresholds: Mapping[str, Any] | Thresholds | None = None,
                 rng: np.random.Generator | None = None) -> MultivariateDrift:
    """Both multivariate checks on the monitored (not ignored) features, from the baseline's sample."""
    features = features or baseline.features
    thr = thresholds if isinstance(thresholds, Thresholds) else Thresholds.from_config(thresholds)
    rng = rng if rng is not None else np.random.default_rng(0)
    keep = FeaturesConfig(
        numeric=tuple(f for f in features.numeric if not (thr.features.get(f) or {}).get("ignore")),
        categorical=tuple(f for f in features.categorical if not (thr.features.get(f) or {}).get("ignore")))
    checks, notes, top = [], [], pd.Series(dtype=float)
    sample = baseline.sample
    missing = [c for c in (*keep.numeric, *keep.categorical) if c not in sample.columns]
    if missing:
        return MultivariateDrift(checks=[], notes=[f"the baseline sample lacks {', '.join(missing)}: "
                                                   f"refit the baseline"])
    try:
        stored = (baseline.manifest.get("multivariate") or {}).get("domain_classifier")
        check, top = domain_classifier(sample, current, keep, rng=rng, thresholds=thr, null=stored)
        checks.append(check)
    except DataError as exc:
        notes.append(str(exc))
    try:
        checks.append(pca_reconstruction(sample, current, keep, rng=rng, thresholds=thr))
    except DataError as exc:
        notes.append(str(exc))
    return MultivariateDrift(checks=checks, top_features=top, notes=notes)


# --------------------------------------------------------------------------- the whole notebook

@dataclass
class DataDrift:
    """Everything the data-drift notebook reports for one window."""

    univariate: UnivariateDrift
    quality: QualityDrift
    prediction: PredictionDrift | None = None
    labels: LabelDrift | None = None
    multivariate: MultivariateDrift | None = None
    missing: list[str] = field(default_factory=list)

    def record(self, recorder: Recorder) -> None:
        """Record every check, the findings, what could not be done and the verdict."""
        self.univariate.record(recorder)
        self.quality.record(recorder)
        for part in (self.prediction, self.labels, self.multivariate):
            if part is not None:
                part.record(recorder)
        for text in self.missing:
            recorder.cannot(text)
        alerting = self.univariate.drifted("alert")
        recorder.artefact("data_drift", {
            "alerting_features": alerting,
            "warning_features": [f for f in self.univariate.drifted("warn") if f not in alerting],
            "since": {f.feature: f.since for f in self.univariate.features if f.since},
        })
        recorder.verdict(self.verdict())

    def verdict(self) -> str:
        """One sentence on the window's data drift."""
        return verdict(self)


def verdict(result: "DataDrift | UnivariateDrift") -> str:
    """One sentence on the window's data drift (inputs first, then scores, labels, joint)."""
    uni = result.univariate if isinstance(result, DataDrift) else result
    alerts = uni.drifted("alert")
    warns = [f for f in uni.drifted("warn") if f not in alerts]
    n = len(uni.features)
    if not alerts and not warns:
        parts = [f"No input drift: all {n} monitored features are within their bands"]
    else:
        parts = []
        if alerts:
            named = ", ".join(alerts[:5]) + ("…" if len(alerts) > 5 else "")
            since = sorted(f.since for f in uni.features if f.feature in alerts and f.since)
            when = f", since {since[0][:10]}" if since else ""
            parts.append(f"{len(alerts)} of {n} features drifted ({named}){when}")
        if warns:
            parts.append(f"{len(warns)} more shifted slightly ({', '.join(warns[:4])}{'…' if len(warns) > 4 else ''})")
    if isinstance(result, DataDrift):
        if result.prediction is not None and result.prediction.drift.status != "ok":
            parts.append("the model's scores moved")
        if result.labels is not None and result.labels.status != "ok":
            parts.append("the label distribution moved")
        mv = result.multivariate
        if mv is not None and any(c.status != "ok" for c in mv.checks) and not alerts:
            parts.append("the features moved jointly")
    return "; ".join(parts) + "."


def analyse(ctx, *, seed: int = 0, statistics: Sequence[str] | str = (), multivariate_checks: bool = True) -> DataDrift:
    """Run every data-drift analysis of a window context (what the notebook calls).

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    seed : int
        Seed of the samples and classifiers.
    statistics : sequence of str, or a comma-separated str
        Extra registered statistics per feature (see :func:`univariate`).
    multivariate_checks : bool
        Run the domain classifier and PCA reconstruction.
    """
    rng = np.random.default_rng(seed)
    if isinstance(statistics, str):
        statistics = [s.strip() for s in statistics.split(",") if s.strip()]
    base = ctx.baseline
    frame = ctx.frame
    mcfg = ctx.model
    features = FeaturesConfig(numeric=tuple(f for f in ctx.features.numeric),
                              categorical=tuple(f for f in ctx.features.categorical))
    thr = Thresholds.from_config(ctx.thresholds, [*features.numeric, *features.categorical, mcfg.prediction,
                                                  base.prediction_column],
                                 where=f"models.{mcfg.name}.thresholds")
    # The joint checks (gradient boosting, PCA) run on the second core while the univariate statistics
    # (sorts and binary searches) run here: both spend their time in code that releases the GIL.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlmon-multivariate") as pool:
        joint = pool.submit(multivariate, base, frame, features=features, thresholds=thr,
                            rng=rng) if multivariate_checks else None
        uni = univariate(base, frame, features=features, thresholds=thr, timestamp=mcfg.timestamp,
                         chunk=mcfg.chunk, start=ctx.start, end=ctx.end, statistics=statistics)
        mv = joint.result() if joint is not None else None
    quality = missing_rates(base, frame, features=features, thresholds=thr)
    missing: list[str] = []
    try:
        scores, source = window_scores(frame, mcfg.task, mcfg.prediction)
        if scores is None:  # only now load the model file (logged scores make it unnecessary)
            scores, source = window_scores(frame, mcfg.task, mcfg.prediction, ctx.estimator,
                                           [*features.numeric, *features.categorical])
    except MlmonError as exc:  # the model cannot score these rows: say so, the rest still runs
        scores, source = None, str(exc)
    pred = None
    if scores is None:
        missing.append(f"Prediction drift: the window has no usable prediction column {mcfg.prediction!r} and the "
                       f"model could not score it{': ' + source if source else ''}; log the scores or configure "
                       f"the version's model.")
    else:
        pred = prediction_drift(base, scores, subject=mcfg.prediction, thresholds=thr, source=source)
    labels = None
    if mcfg.target in frame.columns:
        labels = label_drift(base, frame[mcfg.target], task=mcfg.task, subject=mcfg.target, thresholds=thr)
    if labels is None:
        missing.append(f"Label drift: no labelled rows in this window (column {mcfg.target!r}) or no target in the "
                       f"reference; configure models.{mcfg.name}.labels to join late labels.")
    if mv is not None:
        missing.extend(f"Multivariate drift: {n}" for n in mv.notes)
    if uni.over_time is not None:
        missing.extend(uni.over_time.notes)
    if not uni.has_importance:
        missing.append("Impact ranking: the baseline has no feature importance (no model file when it was fitted); "
                       "features are ranked by effect alone.")
    return DataDrift(univariate=uni, quality=quality, prediction=pred, labels=labels, multivariate=mv,
                     missing=missing)


# --------------------------------------------------------------------------- in-memory baseline (fast path)

def fit_reference(frame: pd.DataFrame, features: FeaturesConfig | None = None, *, prediction: str | None = None,
                  target: str | None = None, n_chunks: int = 20, methods: Sequence[str] | None = None,
                  importance: Mapping[str, float] | None = None, sample_rows: int = 20_000,
                  rng: np.random.Generator | None = None) -> Baseline:
    """Fit the drift part of a baseline from a DataFrame in memory (no files, no model).

    What the archived baseline holds for drift, computed the same way:
    profiles, sorted values, bands from ``n_chunks`` row-order chunks (each
    compared with the whole reference, with the baseline's own-chunk
    correction), a sample, and optionally an importance per feature. Used by
    the tests' fast path and for quick interactive comparisons.

    Parameters
    ----------
    frame : DataFrame
        Reference rows, in time order.
    features : FeaturesConfig, optional
        Inferred when omitted: numeric dtypes are numeric, the rest categorical.
    prediction, target : str, optional
        Columns of the model's predictions and of the labels.
    methods : sequence of str, optional
        Statistics to learn bands for (all baseline-form ones by default).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    if features is None:
        skip = {prediction, target}
        num = tuple(c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
                    and not pd.api.types.is_bool_dtype(frame[c]))
        cat = tuple(c for c in frame.columns if c not in skip and c not in num)
        features = FeaturesConfig(numeric=num, categorical=cat)
    n = len(frame)
    if n < 20:
        raise DataError(f"reference has {n} rows: at least 20 are needed to learn bands")
    k = max(2, min(n_chunks, n // 10))
    chunks = np.array_split(np.arange(n), k)
    profiles, sorted_values = profile_features(frame, features)
    pred_profile = None
    if prediction is not None:
        pred_profile = numeric_profile(frame[prediction])
        sorted_values[PREDICTION] = sorted_sample(frame[prediction].to_numpy(dtype=float))
    num_methods = [m for m in (methods or stats.NUMERIC_BASELINE_STATS) if m in stats.NUMERIC_BASELINE_STATS]
    cat_methods = [m for m in (methods or stats.CATEGORICAL_BASELINE_STATS) if m in stats.CATEGORICAL_BASELINE_STATS]
    subjects = [(f, "numeric", f, "drift") for f in features.numeric] + \
               [(f, "categorical", f, "drift") for f in features.categorical]
    if prediction is not None:
        subjects.append((prediction, "numeric", PREDICTION, "prediction_drift"))
    # Columns extracted once (floats, or level codes): a chunk is then a slice.
    columns = {}
    for col, kind, key, _ in subjects:
        prof = pred_profile if key == PREDICTION else profiles[col]
        if kind == "numeric":
            # As the baseline: chunks are compared with the reference's quantile function at
            # CHUNK_REF_POINTS steps (within 1/CHUNK_REF_POINTS of the full ECDF).
            points = sorted_values[key]
            if len(points) > CHUNK_REF_POINTS:
                points = points[np.round(np.linspace(0, len(points) - 1, CHUNK_REF_POINTS)).astype(int)]
            ref = stats.NumericReference.from_profile(points, prof)
            columns[key] = (ref, frame[col].to_numpy(dtype=float))
        else:
            ref = stats.CategoricalReference.from_profile(prof)
            columns[key] = (ref, ref.codes(frame[col]))
    labels = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float) \
        if target is not None and target in frame.columns else None
    rows: list[tuple] = []
    for i, ix in enumerate(chunks):
        part = slice(int(ix[0]), int(ix[-1]) + 1)
        m = len(ix)
        own = n / (n - m) if n > m else 1.0  # as the baseline: a chunk is part of what it is compared with
        for col, kind, key, family in subjects:
            ref, values = columns[key]
            if kind == "numeric":
                chunk_values = values[part]
                figs = stats.numeric_against(ref, chunk_values, num_methods, p_values=False)
                miss = float(np.mean(~np.isfinite(chunk_values)))
            else:
                codes = values[part]
                figs = stats.categorical_against(ref, None, cat_methods, counts=ref.counts_of(codes))
                miss = float(np.mean(codes < 0))
            for sname, st in figs.items():
                rows.append((i, m, family, sname, key, st.value * (own if sname != "unseen" else 1.0)))
            rows.append((i, m, "quality", "missing_rate", key, miss))
        if labels is not None:
            y = labels[part]
            y = y[np.isfinite(y)]
            if len(y):
                rows.append((i, len(y), "performance", "positive_rate", "all", float((y == 1).mean())))
    chunk_df = pd.DataFrame(rows, columns=["chunk", "rows", "family", "metric", "subject", "value"])
    chunk_df["scales"] = True
    bands = {}
    for (family, metric, subject), g in chunk_df.groupby(["family", "metric", "subject"], sort=False):
        b = band_from_values(g["value"], g["rows"], True)
        if b is not None:
            bands[f"{family}/{metric}/{subject}"] = b.to_dict()
    target_profile = None
    if target is not None and target in frame.columns and frame[target].notna().any():
        target_profile = categorical_profile(_label_keys(frame[target].dropna()).reindex(frame.index))
    take = np.sort(rng.choice(n, size=min(sample_rows, n), replace=False))
    sample_cols = [c for c in [*features.numeric, *features.categorical, target, prediction] if c is not None]
    manifest = {
        "schema": "mlmon.baseline/1", "baseline_id": "in-memory", "model": "(in memory)", "version": "",
        "task": "binary_classification", "features": {"numeric": list(features.numeric),
                                                      "categorical": list(features.categorical)},
        "prediction_column": PREDICTION, "target": target, "profiles": profiles, "prediction": pred_profile,
        "target_profile": target_profile, "reference": {"rows": n},
        "importance": {"method": "given", "values": dict(importance)} if importance else None,
        "chunks": {"n": k, "rows": int(np.median([len(c) for c in chunks])), "by": "row order"},
        "bands": bands, "notes": [],
    }
    return Baseline(manifest=manifest, sorted_values=sorted_values,
                    sample=frame.iloc[take][list(dict.fromkeys(sample_cols))].reset_index(drop=True),
                    chunks=chunk_df)


# --------------------------------------------------------------------------- HTML helpers

class Html(str):
    """Markup we built (every data value inside escaped), displayed as HTML by Jupyter."""

    def _repr_html_(self) -> str:
        return str(self)


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _badge(status: str) -> str:
    s = status if status in SEVERITY else "ok"
    return f"<span class='mlmon-badge mlmon-s-{s}'>{s}</span>"


def _fmt_p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _fmt_num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"


def _fmt_band(lo: Any, hi: Any) -> str:
    if hi is None or (isinstance(hi, float) and not np.isfinite(hi)):
        return "–"
    return f"{_fmt_num(lo)} – {_fmt_num(hi)}"


def _nowrap(text: str) -> str:
    """Escaped text that does not wrap inside a table cell."""
    return f"<span style='white-space:nowrap'>{_esc(text)}</span>"


def _fmt_since(iso: str) -> str:
    """An ISO chunk start as a date, with the time only when it is not midnight."""
    t = pd.Timestamp(iso)
    return t.strftime("%Y-%m-%d") if (t.hour, t.minute) == (0, 0) else t.strftime("%Y-%m-%d %H:%M")


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """Two-column table; keys are ours, values are escaped unless they are our badges."""
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{v if v.startswith('<span class=') else _esc(v)}</td></tr>"
                   for k, v in rows)
    return f"<table class='mlmon-table'>{body}</table>"


def _shares_html(df: pd.DataFrame) -> str:
    if df is None or df.empty:
        return ""
    shown = df.copy()
    for c in shown.columns:
        if c in ("baseline", "window") and shown[c].max() <= 1 and shown.columns[0] == "label":
            shown[c] = shown[c].map(lambda v: f"{v:.2%}")
    return shown.to_html(index=False, escape=True, classes="mlmon-table", float_format=lambda v: f"{v:.4g}")


def feature_table_html(df: pd.DataFrame, top_n: int = 25, statistics: Sequence[str] = ()) -> str:
    """The feature summary table (escaped): feature, method, value, band, threshold, p, status, impact, since."""
    if df.empty:
        return "<p>No features to compare.</p>"
    shown_df = df.head(top_n)
    has_imp = df["impact"].notna().any()
    out = pd.DataFrame({
        "feature": shown_df["feature"].map(_esc),
        "type": shown_df["kind"].map(lambda k: "num" if k == "numeric" else "cat"),
        "method": shown_df["method"].map(lambda m: _nowrap(stats.REGISTRY[m].short)),
        "value": shown_df["value"].map(_fmt_num),
        "band": [_nowrap(_fmt_band(lo, hi)) for lo, hi in zip(shown_df["band_low"], shown_df["band_high"])],
        "alert at": shown_df["threshold"].map(_fmt_num),
        "p (BH)": shown_df["p_adjusted"].map(_fmt_p),
        "status": [_badge(s) + (" <i>(ignored)</i>" if ig else "")
                   for s, ig in zip(shown_df["status"], shown_df["ignored"])],
    })
    if has_imp:
        out["importance"] = shown_df["importance"].map(lambda v: "–" if v is None or not np.isfinite(v) else f"{v:.2f}")
        out["impact"] = shown_df["impact"].map(lambda v: "–" if v is None or not np.isfinite(v) else f"{v:.2f}")
    out["since"] = shown_df["since"].map(lambda s: _nowrap(_fmt_since(s)) if isinstance(s, str) else "")
    for name in statistics:
        col = f"stat_{name}"
        values = shown_df[col] if col in shown_df else pd.Series([np.nan] * len(shown_df))
        out[_esc(stats.REGISTRY[name].short)] = [_fmt_num(v) for v in values]
    text = out.to_html(index=False, escape=False, classes="mlmon-table")
    if len(df) > top_n:
        rest = df.iloc[top_n:]
        fired = int((rest["status"] != "ok").sum())
        text += (f"<p class='mlmon-omitted'>{len(rest)} more features not shown "
                 f"({fired} of them fired); every feature is in summary.json.</p>")
    return text
