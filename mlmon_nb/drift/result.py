"""Result objects of the data-drift area: built once by the computations, never changed afterwards.

:class:`DataDrift` is the area's result (``record``, ``verdict``, ``notes``,
``table``, ``plot``); it holds one part per topic, each a frozen dataclass
with ``to_df()``, ``record(recorder)`` and HTML for JupyterLab: per-feature
drift (:class:`UnivariateDrift`, with its feature x chunk grid
:class:`TimeDrift`), missing rates (:class:`QualityDrift`), the model's
scores (:class:`PredictionDrift`), the labels (:class:`LabelDrift`) and the
joint checks (:class:`MultivariateDrift`). Figures are drawn by
:mod:`mlmon_nb.plots.drift`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..checks import SEVERITY, Recorder, recording
from ..errors import UsageError
from ..plots import drift as plots
from ..profiles import non_finite_limits, non_finite_text
from .html import Html, badge, decisions_table, feature_table, fmt_band, fmt_p, fmt_since, joint_table, kv_table, non_finite_html, \
    quality_table, shares_html
from .reference import categorical_reference, numeric_reference
from .units import sentence, units_text


def _kind_error(owner: str, kinds: tuple[str, ...], kind: str) -> UsageError:
    return UsageError(f"The 'kind' parameter of {owner} must be one of {', '.join(kinds)}. Got {kind!r} instead.")


def _worst_first(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    out = df.assign(_sev=df["status"].map(SEVERITY))
    return out.sort_values("_sev", ascending=False, kind="stable").drop(columns="_sev").reset_index(drop=True)


# --------------------------------------------------------------------------- per feature

@dataclass(frozen=True)
class Part:
    """One statistic of a feature's decision against its own band and floors (see :mod:`.rule`).

    ``sampling_sd`` is the band's sampling noise at the window's rows and
    ``between_sd`` its between-chunk variation (which does not shrink with
    rows); ``compared_with`` says which reference state the band is around
    (its latest or earliest chunks when the reference trends); ``note`` says
    when the band reached beyond the statistic's range and the floor decided.
    """

    method: str
    value: float
    band_low: float | None
    band_high: float | None
    warn_threshold: float
    threshold: float
    test: str
    p_adjusted: float | None
    status: str
    sampling_sd: float | None = None
    between_sd: float | None = None
    compared_with: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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
    #: Every statistic of the decision against its band (one for a feature judged by one statistic).
    parts: tuple[Part, ...] = ()
    #: The feature in its own units (:func:`.units.numeric_units`, :func:`.units.categorical_units`).
    units: Mapping[str, Any] = field(default_factory=dict)
    #: The tail statistic's shares (window and reference, below / above / inside the rare region).
    tail: Mapping[str, float] | None = None

    @property
    def moved(self) -> str:
        """How it moved, in its own units (``price: median 34.7 → 45.1``)."""
        return sentence(self.feature, self.kind, dict(self.units), dict(self.tail) if self.tail else None,
                        self.method)

    @property
    def ratio(self) -> float:
        return float(self.value / self.threshold) if self.threshold and np.isfinite(self.value) else float("nan")


@dataclass(frozen=True, eq=False)
class TimeDrift:
    """Each feature's decision statistic on chunks of the window (a feature x chunk grid).

    ``ratio`` is the value divided by the alert threshold at the chunk's own
    size (band scaled to the chunk's rows, or the floor); ``status`` applies
    the drift rule to each cell, its p-values corrected by Holm over the whole
    grid (family-wise error at ``fdr``), so that an outlined cell - and the
    *since* it dates - is rarely noise even among hundreds of cells.
    """

    features: tuple[str, ...]
    starts: tuple[pd.Timestamp, ...]
    length: pd.Timedelta
    rows: np.ndarray
    values: np.ndarray
    ratio: np.ndarray
    status: np.ndarray
    notes: tuple[str, ...] = ()

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
        """``heatmap``: features x chunks, each cell's effect over its alert threshold."""
        if kind != "heatmap":
            raise _kind_error("TimeDrift.plot", ("heatmap",), kind)
        return plots.time_heatmap(self, None, top_n=top_n)

    def _repr_html_(self) -> str:
        return self.to_df().pivot(index="feature", columns="chunk_start", values="ratio").to_html(
            escape=True, float_format=lambda v: f"{v:.2f}", classes="mlmon-table")


@dataclass(frozen=True, eq=False)
class UnivariateDrift:
    """Per-feature drift of a window against the baseline."""

    features: tuple[FeatureDrift, ...]
    fdr: float
    baseline: Baseline = field(repr=False)
    current: pd.DataFrame = field(repr=False)
    over_time: TimeDrift | None = field(default=None, repr=False)
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
            d["moved"] = f.moved
            d["in_units"] = units_text(f.kind, dict(f.units))
            for q, (ref, cur) in ((q, v) for q, v in f.units.items() if q != "levels"):
                d[f"reference_{q}"], d[f"window_{q}"] = ref, cur
            d.update({f"stat_{k}": v for k, v in f.figures.items()})
            rows.append(d)
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        key = "impact" if self.has_importance else "ratio"
        df = df.sort_values([key, "_sev", "ratio"], ascending=False, kind="stable", na_position="last")
        return df.drop(columns="_sev").reset_index(drop=True)

    def table(self, top_n: int | None = None) -> pd.DataFrame:
        """:meth:`to_df`, the ``top_n`` features by impact (all when None)."""
        df = self.to_df()
        return df if top_n is None else df.head(top_n)

    def html(self, top_n: int = 25) -> Html:
        """The summary table (escaped HTML, shown by Jupyter): the ``top_n`` features by impact."""
        return Html(feature_table(self.to_df(), top_n=top_n, statistics=self.statistics))

    def decisions(self, top_n: int = 25) -> Html:
        """How each feature was decided: every part of its decision, its band's sampling and between-chunk
        noise and which reference state it was compared with (the ``top_n`` features of :meth:`html`)."""
        order = {name: i for i, name in enumerate(self.to_df()["feature"])} if self.features else {}
        ranked = sorted(self.features, key=lambda f: order.get(f.feature, 0))
        return Html(decisions_table(ranked, top_n=top_n))

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
            units = {k: list(v) for k, v in f.units.items() if k != "levels"}
            recorder.check(
                "feature_drift", f.feature, f.status, method=f.method, value=f.value, threshold=f.threshold,
                p_value=f.p_adjusted, p_value_raw=f.p_value, test=f.test, warn_threshold=f.warn_threshold,
                band_low=f.band_low, band_high=f.band_high, effect_ratio=f.ratio, impact=f.impact,
                importance=f.importance, since=f.since, rows=f.rows, fdr=self.fdr, ignored=f.ignored or None,
                moved=f.moved, **units, parts={p.method: _part_summary(p) for p in f.parts} or None)
            if f.status != "ok":
                since = f", since {fmt_since(f.since)}" if f.since else ""
                recorder.finding(f"{f.moved} ({stats.REGISTRY[f.method].display} {f.value:.3g}, "
                                 f"threshold {f.threshold:.3g}){since}", f.status)

    def plot(self, kind: str = "summary", feature: str | None = None, top_n: int = 20):
        """Plot: ``summary`` (effect and impact, top features), ``heatmap`` (features x time chunks),
        ``overlay`` (reference vs window of one ``feature``)."""
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
        raise _kind_error("UnivariateDrift.plot", ("summary", "heatmap", "overlay"), kind)

    def _repr_html_(self) -> str:
        return str(self.html())


def _part_summary(p: Part) -> dict[str, Any]:
    """What summary.json keeps of one part of a decision."""
    keep = ("value", "threshold", "p_adjusted", "status", "sampling_sd", "between_sd", "compared_with", "note")
    return {k: getattr(p, k) for k in keep if getattr(p, k) is not None}


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


@dataclass(frozen=True)
class NonFinite:
    """The non-finite values (``inf``, ``-inf``) of one numeric feature in a window, left out of its statistics.

    ``rows`` counts the feature's values in the window (missing ones left
    out); ``reference_count`` the non-finite values of the reference (None for
    a baseline that did not count them).
    """

    feature: str
    count: int
    rows: int
    reference_count: int | None
    status: str

    @property
    def share(self) -> float:
        return self.count / self.rows if self.rows else 0.0

    def text(self) -> str:
        return non_finite_text(self.feature, self.count, self.rows, self.reference_count, "its drift statistics")


@dataclass(frozen=True)
class QualityDrift:
    """Missing-rate changes of every monitored feature, and the numeric features with non-finite values."""

    features: tuple[MissingRate, ...]
    fdr: float
    non_finite: tuple[NonFinite, ...] = ()

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
        """One ``data_quality`` check per feature, subject ``<feature>:missing_rate``, and one
        ``<feature>:non_finite`` per feature with non-finite values."""
        for f in self.features:
            recorder.check("data_quality", f"{f.feature}:missing_rate", f.status, method="missing_rate",
                           value=f.current_rate, threshold=f.high, p_value=f.p_adjusted, p_value_raw=f.p_value,
                           reference_rate=f.reference_rate, threshold_low=f.low, change=f.change, rows=f.rows)
            if f.status != "ok":
                recorder.finding(f"{f.feature}: missing values {f.reference_rate:.1%} in the reference, "
                                 f"{f.current_rate:.1%} now", f.status)
        for f in self.non_finite:
            warn_at, alert_at = non_finite_limits(f.reference_count)
            recorder.check("data_quality", f"{f.feature}:non_finite", f.status, method="non_finite",
                           value=f.share, threshold=warn_at if f.status == "warn" else alert_at,
                           warn_threshold=warn_at, count=f.count, rows=f.rows, baseline_count=f.reference_count)
            if f.status != "ok":
                recorder.finding(f.text(), f.status)

    def _repr_html_(self) -> str:
        return quality_table(self.changed(), len(self.features)) + non_finite_html(self.non_finite)


# --------------------------------------------------------------------------- scores and labels

@dataclass(frozen=True, eq=False)
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
        """``overlay``: the baseline's predictions against the window's scores."""
        if kind != "overlay":
            raise _kind_error("PredictionDrift.plot", ("overlay",), kind)
        return plots.overlay_numeric(self.reference, self.scores, self.subject, self.drift,
                                     title=f"Model scores ({self.subject}): baseline vs window")

    def _repr_html_(self) -> str:
        d = self.drift
        return kv_table([
            ("scores", self.source), ("method", stats.REGISTRY[d.method].display), ("value", f"{d.value:.4g}"),
            ("band (scaled to the window)", fmt_band(d.band_low, d.band_high)),
            ("alert threshold", f"{d.threshold:.4g}"), ("p", fmt_p(d.p_value)), ("status", badge(d.status))])


@dataclass(frozen=True, eq=False)
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
            if self.method == "positive_rate":
                ref = f" (baseline {self.reference:.3g})" if self.reference is not None else ""
                recorder.finding(f"the positive rate moved to {self.value:.3g}{ref}", self.status)
            else:  # a distance (a regression target's KS D), not a value of the label
                info = stats.REGISTRY.get(self.method)
                recorder.finding(f"the label distribution moved ({info.display if info else self.method} "
                                 f"{self.value:.3g})", self.status)

    def _repr_html_(self) -> str:
        info = stats.REGISTRY.get(self.method)
        rows = [("labelled rows", f"{self.labelled:,} of {self.rows:,}"),
                ("method", info.display if info else self.method), ("window", f"{self.value:.4g}"),
                ("baseline", "" if self.reference is None else f"{self.reference:.4g}"),
                ("expected range", fmt_band(self.low, self.high)), ("p", fmt_p(self.p_value)),
                ("status", badge(self.status))]
        return kv_table(rows) + shares_html(self.shares)


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


@dataclass(frozen=True, eq=False)
class MultivariateDrift:
    """Joint drift: a domain classifier and PCA reconstruction error against the baseline."""

    checks: tuple[JointCheck, ...]
    top_features: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    notes: tuple[str, ...] = ()

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
        """``features``: what the domain classifier separates by; ``bands``: each check against its null band."""
        if kind == "features":
            return plots.domain_features(self.top_features, self.get("domain_classifier"), top_n=top_n)
        if kind == "bands":
            return plots.joint_bands(self.checks)
        raise _kind_error("MultivariateDrift.plot", ("features", "bands"), kind)

    def _repr_html_(self) -> str:
        return joint_table(self.checks)


# --------------------------------------------------------------------------- the area's result

@dataclass(frozen=True, eq=False)
class DataDrift:
    """Everything the data-drift notebook reports for one window.

    ``notes`` says what could not be done and which configuration or columns it needs; ``how``
    says how the figures were computed when that is not the usual way (summary mode), which is
    not a limitation and is shown beside the verdict, never among what could not be done.
    """

    univariate: UnivariateDrift
    quality: QualityDrift
    prediction: PredictionDrift | None = None
    labels: LabelDrift | None = None
    multivariate: MultivariateDrift | None = None
    notes: tuple[str, ...] = ()
    how: tuple[str, ...] = ()

    TABLES = ("features", "quality", "prediction", "labels", "joint")
    PLOTS = ("summary", "heatmap", "overlay", "prediction", "joint_bands", "domain_features")

    @recording
    def record(self, recorder: Recorder) -> None:
        """Record every check, the findings, what could not be done and the verdict."""
        self.univariate.record(recorder)
        self.quality.record(recorder)
        for part in (self.prediction, self.labels, self.multivariate):
            if part is not None:
                part.record(recorder)
        for text in self.notes:
            recorder.cannot(text)
        alerting = self.univariate.drifted("alert")
        recorder.artefact("data_drift", {
            "alerting_features": alerting,
            "warning_features": [f for f in self.univariate.drifted("warn") if f not in alerting],
            "since": {f.feature: f.since for f in self.univariate.features if f.since},
        })
        recorder.verdict(self.verdict())

    def verdict(self) -> str:
        """One sentence on the window's data drift (inputs first, then scores, labels, joint)."""
        uni = self.univariate
        alerts = uni.drifted("alert")
        warns = [f for f in uni.drifted("warn") if f not in alerts]
        n = len(uni.features)
        if not alerts and not warns:
            parts = [f"No input drift: all {n} monitored features are within their bands"]
        else:
            parts = []
            if alerts:
                named = "; ".join(uni.get(a).moved for a in alerts[:3]) + ("…" if len(alerts) > 3 else "")
                since = sorted(f.since for f in uni.features if f.feature in alerts and f.since)
                when = f", since {since[0][:10]}" if since else ""
                parts.append(f"{len(alerts)} of {n} features drifted ({named}){when}")
            if warns:
                parts.append(f"{len(warns)} more shifted slightly ({', '.join(warns[:4])}"
                             f"{'…' if len(warns) > 4 else ''})")
        if self.prediction is not None and self.prediction.drift.status != "ok":
            parts.append("the model's scores moved")
        if self.labels is not None and self.labels.status != "ok":
            parts.append("the label distribution moved")
        mv = self.multivariate
        if mv is not None and any(c.status != "ok" for c in mv.checks) and not alerts:
            parts.append("the features moved jointly")
        return "; ".join(parts) + "."

    def table(self, kind: str = "features") -> pd.DataFrame:
        """A part's figures, worst first: ``features`` (the main table), ``quality`` (missing rates),
        ``prediction``, ``labels`` (label shares) or ``joint`` (multivariate checks); empty when the
        part could not be computed."""
        if kind == "features":
            return _worst_first(self.univariate.to_df())
        if kind == "quality":
            return self.quality.to_df()
        parts = {"prediction": self.prediction, "labels": self.labels, "joint": self.multivariate}
        if kind not in parts:
            raise _kind_error("DataDrift.table", self.TABLES, kind)
        part = parts[kind]
        if part is None:
            return pd.DataFrame()
        return part.to_df() if kind == "labels" else _worst_first(part.to_df())

    def plot(self, kind: str = "summary", **kwargs: Any):
        """A figure: ``summary``, ``heatmap``, ``overlay`` (``feature=``) of the features (see
        :meth:`UnivariateDrift.plot`), ``prediction`` (the scores' overlay), ``joint_bands`` or
        ``domain_features`` (the multivariate checks)."""
        if kind in ("summary", "heatmap", "overlay"):
            return self.univariate.plot(kind, **kwargs)
        if kind == "prediction":
            if self.prediction is None:
                raise UsageError("DataDrift.plot('prediction'): no scores were compared; see the result's notes.")
            return self.prediction.plot("overlay")
        if kind in ("joint_bands", "domain_features"):
            if self.multivariate is None:
                raise UsageError(f"DataDrift.plot({kind!r}): the multivariate checks did not run.")
            return self.multivariate.plot("bands" if kind == "joint_bands" else "features", **kwargs)
        raise _kind_error("DataDrift.plot", self.PLOTS, kind)
