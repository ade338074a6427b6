"""Result objects of the feedback area: built once by :func:`~mlmon_nb.feedback.analyse`, never mutated.

:class:`FeedbackResult` is the area's result (``record``, ``verdict``,
``notes``, ``table``, ``plot``). It holds one part per topic, each a frozen
dataclass computed on its own: :class:`Exposure` (items: concentration,
coverage, homogenisation, rich-get-richer), :class:`Outcomes` (model-driven
against organic outcome rates), :class:`Provenance` (training provenance per
version) and :class:`Predictions` (prediction narrowing, for models without
items). Every part's ``notes`` say what it could not do and what it needs; its
``remarks`` say how it compared the periods.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..checks import SEVERITY, Recorder, recording, worst
from ..chunks import chunk_word as _chunk_word, parse_chunk
from ..display import format_table
from ..errors import UsageError
from ..plots import feedback as plots
from .columns import Columns
from .decision import Assessment
from .measures import ITEM_SUBJECTS, MEASURES, PREDICTION_SUBJECTS
from .wording import finding, fmt, readings, verdict

__all__ = ["PLOT_KINDS", "TABLE_KINDS", "Exposure", "FeedbackResult", "Outcomes", "Predictions", "Provenance"]

PLOT_KINDS = ("lorenz", "over_time", "outcomes", "provenance", "predictions")
TABLE_KINDS = ("checks", "whole", "outcomes", "columns", "provenance", "versions")


@dataclass(frozen=True, eq=False)
class Exposure:
    """Exposures item by item: per-chunk figures and their checks, and the whole periods.

    Attributes
    ----------
    catalogue : int or None
        Items exposed in the baseline period.
    per_chunk : int or None
        Exposures every chunk was subsampled to (None: no per-chunk comparison).
    chunks : DataFrame
        Per-chunk figures of both periods (``period``, ``start``, ``chunk``,
        ``exposures`` and one column per subject of :data:`ITEM_SUBJECTS`).
    assessments : tuple of Assessment
        One per item figure the window has a value for.
    whole : DataFrame
        Whole-period figures at equal exposure counts (``figure``, ``baseline``, ``window``).
    whole_exposures : int or None
        Exposures each whole period was subsampled to.
    lorenz : mapping
        ``{period: (x, y, gini)}``: the Lorenz curve of each whole period.
    carry_over : mapping
        Rich-get-richer across periods: ``rho``, ``p_value``, ``items``.
    favoured : mapping
        The items the model favoured in the baseline period and their share of the window.
    """

    catalogue: int | None = None
    per_chunk: int | None = None
    chunks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    assessments: tuple[Assessment, ...] = ()
    whole: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    whole_exposures: int | None = None
    lorenz: Mapping[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict, repr=False)
    carry_over: Mapping[str, Any] = field(default_factory=dict)
    favoured: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        """The whole-period figures (equal exposure counts) formatted for reading."""
        if self.whole.empty:
            return self.whole
        pct = {"top 1% share", "top 10% share", "coverage"}
        counts = {"exposures", "items exposed"}
        out = self.whole.copy()
        for col in ("baseline", "window"):
            out[col] = [f"{v:,.0f}" if f in counts else f"{v:.1%}" if f in pct else f"{v:.3f}"
                        for f, v in zip(out["figure"], out[col])]
        out.columns = ["figure", "baseline period", "window"]
        return out


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Outcome rates of model-driven against organic exposures.

    ``rates``: one row per period and kind of exposure (``rows``, ``labelled``,
    ``positives``, ``rate``, ``ci low``, ``ci high``); ``lift``: per period, the
    difference of the two rates with its 95% interval (binary outcomes).
    """

    rates: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    lift: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    remarks: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        """Outcome rates per period and exposure kind, formatted for reading."""
        df = self.rates
        if df.empty:
            return df
        out = pd.DataFrame({"period": df["period"].map({"baseline": "baseline period", "window": "window"}),
                            "exposures": df["exposures"]})
        for col in ("rows", "labelled", "positives"):
            out[col] = [f"{v:,.0f}" if v is not None and np.isfinite(v) else "" for v in df[col]]
        out["rate"] = [fmt(v, True) for v in df["rate"]]
        out["95% CI"] = [f"{fmt(lo, True)} to {fmt(hi, True)}" if np.isfinite(lo) else ""
                         for lo, hi in zip(df["ci low"], df["ci high"])]
        return out


@dataclass(frozen=True, eq=False)
class Provenance:
    """Training provenance per version (in deployment order) and this version's check.

    ``versions``: ``version``, ``rows``, ``share``, ``ci low``, ``ci high``,
    ``deployed``, ``source``; ``warn_at``/``alert_at``: the limits the check uses.
    """

    versions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    check: Assessment | None = None
    warn_at: float | None = None
    alert_at: float | None = None


@dataclass(frozen=True, eq=False)
class Predictions:
    """Spread and extremity of the predictions per chunk and per version (models without items).

    ``recorded``: whether the assessments are recorded as checks (only with a
    ``feedback`` block; otherwise they are shown for information).
    """

    chunks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    assessments: tuple[Assessment, ...] = ()
    versions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    recorded: bool = False
    notes: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class FeedbackResult:
    """Everything the feedback-loops notebook shows and decides.

    Attributes
    ----------
    model, version : str
        The monitored model and version.
    chunk : str
        Chunk size (``1d``).
    configured : bool
        Whether mlmon.yaml has a ``feedback`` block for the model.
    columns : Columns
        The column playing each role.
    exposure, outcomes, provenance, predictions : part or None
        The parts that could be computed (see the module's docstring).
    how : str
        How a summarised window's figures were computed (empty in memory mode).
    """

    model: str
    version: str
    chunk: str
    configured: bool
    columns: Columns
    exposure: Exposure | None = None
    outcomes: Outcomes | None = None
    provenance: Provenance | None = None
    predictions: Predictions | None = None
    how: str = ""

    # ----------------------------------------------------------------- views
    @property
    def notes(self) -> tuple[str, ...]:
        """What could not be done and which configuration or columns it needs."""
        return (*self.columns.notes, *(self.exposure.notes if self.exposure else ()),
                *(self.predictions.notes if self.predictions else ()))

    @property
    def remarks(self) -> tuple[str, ...]:
        """How the periods were compared (subsampling, partial chunks, reference predictions)."""
        out = [*(self.exposure.remarks if self.exposure else ()), *(self.outcomes.remarks if self.outcomes else ())]
        if self.predictions is not None:
            out += self.predictions.remarks
            out.append("Without an item column the feedback loop is watched through the predictions only: a loop "
                       "shows as predictions narrowing or becoming more extreme." if self.configured else
                       "Prediction narrowing is shown for information only: without a 'feedback' block it is not "
                       "recorded as a check.")
        return tuple(out)

    @property
    def assessments(self) -> tuple[Assessment, ...]:
        """Every figure judged against its band (recorded or not); training provenance apart."""
        return (*(self.exposure.assessments if self.exposure else ()),
                *(self.predictions.assessments if self.predictions else ()))

    @property
    def status(self) -> str:
        return worst(a.status for a in self.checks())

    @property
    def chunk_word(self) -> str:
        """How the report names one chunk (``day``)."""
        return _chunk_word(parse_chunk(self.chunk, f"models.{self.model}.chunk"))

    def checks(self) -> list[Assessment]:
        """The assessments recorded as ``feedback_loop`` checks."""
        out = list(self.exposure.assessments if self.exposure else ())
        if self.predictions is not None and self.predictions.recorded:
            out += self.predictions.assessments
        if self.provenance is not None and self.provenance.check is not None:
            out.append(self.provenance.check)
        return out

    def available(self, kind: str) -> bool:
        """Whether :meth:`plot` has something to draw for ``kind``."""
        if kind == "lorenz":
            return self.exposure is not None and bool(self.exposure.lorenz)
        if kind == "over_time":
            return self.exposure is not None and not self.exposure.chunks.empty and bool(self.exposure.assessments)
        if kind == "outcomes":
            return self.outcomes is not None and not self.outcomes.rates.empty
        if kind == "provenance":
            return self.provenance is not None and bool(self.provenance.versions["share"].notna().any())
        if kind == "predictions":
            return self.predictions is not None and not self.predictions.chunks.empty
        raise UsageError(f"The 'kind' parameter of FeedbackResult.available must be one of "
                         f"{', '.join(PLOT_KINDS)}. Got {kind!r} instead.")

    def to_df(self) -> pd.DataFrame:
        """One row per check: subject, window value, baseline mean and band, limits, z, status."""
        rows = []
        for a in self.checks():
            m = a.measure
            rows.append({"subject": a.subject, "figure": m.display, "window": a.value,
                         "baseline mean": a.baseline_mean, "band low": a.band_low, "band high": a.band_high,
                         "warn at": a.warn_limit, "alert at": a.alert_limit, "z": a.z,
                         "worse when": "higher" if m.worse == "up" else "lower", "status": a.status})
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        return df.sort_values("_sev", ascending=False, kind="stable").drop(columns="_sev").reset_index(drop=True)

    def table(self, kind: str = "checks") -> pd.DataFrame:
        """A table for reading.

        ``checks``: :meth:`to_df` formatted (shares as percentages, few
        digits); ``whole``: the whole-period figures; ``outcomes``: outcome
        rates; ``columns``: which column plays which role; ``provenance``:
        training provenance per version; ``versions``: prediction figures per
        version. Empty when the part was not computed.
        """
        if kind == "checks":
            return self._checks_table()
        if kind == "whole":
            return self.exposure.table() if self.exposure else pd.DataFrame()
        if kind == "outcomes":
            return self.outcomes.table() if self.outcomes else pd.DataFrame()
        if kind == "columns":
            return self.columns.table()
        if kind == "provenance":
            return self.provenance.versions if self.provenance else pd.DataFrame()
        if kind == "versions":
            return self.predictions.versions if self.predictions else pd.DataFrame()
        raise UsageError(f"The 'kind' parameter of FeedbackResult.table must be one of {', '.join(TABLE_KINDS)}. "
                         f"Got {kind!r} instead.")

    def _checks_table(self) -> pd.DataFrame:
        df = self.to_df()
        if df.empty:
            return df
        out = pd.DataFrame({"figure": df["figure"], "status": df["status"]})
        for col in ("window", "baseline mean", "band low", "band high", "alert at"):
            out[col] = [fmt(v, MEASURES[s].percent) for v, s in zip(df[col], df["subject"])]
        out["z (sd from mean)"] = df["z"].map(lambda v: "" if v is None or not np.isfinite(v) else f"{v:+.1f}")
        out["worse when"] = df["worse when"]
        return out

    def plot(self, kind: str = "over_time", subjects: Sequence[str] | None = None):
        """Plot one view: ``lorenz``, ``over_time``, ``outcomes``, ``provenance`` or ``predictions``.

        ``subjects`` chooses the figures of ``over_time`` (every item figure by default).
        """
        parts = {"lorenz": self.exposure, "over_time": self.exposure, "outcomes": self.outcomes,
                 "provenance": self.provenance, "predictions": self.predictions}
        if kind in parts and parts[kind] is None:
            raise UsageError(f"FeedbackResult.plot: nothing to draw for {kind!r}: it was not computed for this "
                             f"window (see the result's notes).")
        if kind == "lorenz":
            return plots.lorenz_curves(self.exposure.lorenz, self.exposure.whole_exposures)
        if kind == "over_time":
            chunks = self.exposure.chunks
            by = {a.subject: a for a in self.exposure.assessments}
            wanted = [s for s in (subjects or ITEM_SUBJECTS) if s in by and s in chunks.columns]
            if not wanted:
                wanted = [s for s in (subjects or ITEM_SUBJECTS) if s in chunks.columns][:1]
            return plots.feedback_over_time(chunks, [(MEASURES[s], by.get(s)) for s in wanted],
                                            word=self.chunk_word, per_chunk=self.exposure.per_chunk)
        if kind == "outcomes":
            return plots.outcome_rates(self.outcomes.rates, self.columns.outcome)
        if kind == "provenance":
            p = self.provenance
            return plots.provenance_bars(p.versions, self.version, warn_at=p.warn_at, alert_at=p.alert_at)
        if kind == "predictions":
            by = {a.subject: a for a in self.predictions.assessments}
            return plots.prediction_narrowing(self.predictions.chunks,
                                              [(MEASURES[s], by.get(s)) for s in PREDICTION_SUBJECTS],
                                              self.predictions.versions, word=self.chunk_word)
        raise UsageError(f"The 'kind' parameter of FeedbackResult.plot must be one of {', '.join(PLOT_KINDS)}. "
                         f"Got {kind!r} instead.")

    # ----------------------------------------------------------------- recording
    @recording
    def record(self, recorder: Recorder) -> None:
        """Record every ``feedback_loop`` check and its finding, what could not be done, and the verdict."""
        per_chunk = self.exposure.per_chunk if self.exposure else None
        for a in self.checks():
            m = a.measure
            extra = {k: v for k, v in {
                "warn_threshold": a.warn_limit, "baseline_mean": a.baseline_mean, "band_low": a.band_low,
                "band_high": a.band_high, "z": a.z, "rule": a.rule,
                "worse_when": "higher" if m.worse == "up" else "lower",
                "window_chunks": a.chunks, "baseline_chunks": a.baseline_chunks,
                "exposures_per_chunk": per_chunk if a.subject in ITEM_SUBJECTS else None,
                "chunk": self.chunk if a.subject != "training_provenance" else None,
                "band_note": getattr(a, "note", None), "compared_with": getattr(a, "compared_with", None),
                "baseline_trend": getattr(a, "trend", None),
            }.items() if v is not None}
            recorder.check("feedback_loop", a.subject, a.status, method=a.method, value=a.value,
                           threshold=a.alert_limit, **extra)
            if a.status != "ok":
                recorder.finding(finding(a), a.status)
        for text, status in self.trends():
            recorder.finding(text, status)
        for text in self.notes:
            recorder.cannot(text)
        recorder.verdict(self.verdict())
        recorder.artefact("feedback", {
            "status": self.status, "per_chunk": per_chunk,
            "catalogue": self.exposure.catalogue if self.exposure else None,
            "values": {a.subject: a.value for a in self.checks()},
        })

    def verdict(self) -> str:
        """One plain-words sentence on whether the system is feeding on itself (and what the baseline carried)."""
        text = verdict(self.configured, self.checks())
        trends = self.trends()
        return text if not trends else f"{text} {trends[0][0][0].upper()}{trends[0][0][1:]}."

    def trends(self) -> list[tuple[str, str]]:
        """(sentence, status of its check) for each baseline trend toward a loop: the training data carries one."""
        out = []
        for a in sorted(self.checks(), key=lambda a: -SEVERITY[a.status]):
            if a.trend and ((" rose " in a.trend) == (a.measure.worse == "up")):
                out.append((f"{a.trend}: the training data already carries a feedback loop", a.status))
        return out

    def sentences(self) -> dict[str, str]:
        """Plain-words readings of the descriptive figures (empty strings where not computed).

        Keys: ``method``, ``lift``, ``favoured``, ``carry_over``, ``provenance``.
        """
        return readings(word=self.chunk_word, version=self.version, exposure=self.exposure, outcomes=self.outcomes,
                        provenance_check=self.provenance.check if self.provenance else None)

    def _repr_html_(self) -> str:
        if not self.configured:
            return f"<p>{html.escape(self.verdict())}</p>"
        return f"<p>{html.escape(self.verdict())}</p>" + format_table(self.table())
