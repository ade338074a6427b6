"""The concept-drift result: every part of the analysis and its checks, built once.

:func:`~.analysis.analyse` computes the parts, decides every check
(:mod:`.decisions`) and constructs one :class:`ConceptDriftResult`; nothing
changes it afterwards. Its words come from :mod:`.prose`, its tables from
:mod:`.tables`, its figures from :mod:`mlmon_nb.plots.concept`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from ..checks import SEVERITY, Recorder, recording, worst
from ..errors import UsageError
from ..plots import concept as plots
from . import prose, tables
from .changes import ChangePoints
from .estimator import PerformanceEstimator
from .expected import ConceptTest
from .inhibition import ShiftEvidence
from .per_chunk import ChunkPerformance
from .residuals import ResidualShift
from .segments import SegmentResult
from .spec import DISPLAY, ModelSpec

__all__ = ["ConceptDriftResult", "TABLES", "PLOTS"]

TABLES = ("checks", "summary", "coverage", "estimation", "changes", "detectors", "concept", "residuals", "segments")
"""Kinds of :meth:`ConceptDriftResult.table`."""
PLOTS = ("timeline", "coverage", "stream", "segments", "residuals", "calibration")
"""Kinds of :meth:`ConceptDriftResult.plot`."""


@dataclass(frozen=True)
class ConceptDriftResult:
    """Everything the concept-drift notebook shows, and the checks it records.

    Attributes
    ----------
    spec : ModelSpec
    start, end : Timestamp
        The window (UTC, end excluded).
    rows, labelled : int
        The window's rows and its labelled rows.
    chunks : ChunkPerformance or None
        Realized and estimated performance per chunk (None when nothing could be estimated).
    concept, after_onset : ConceptTest or None
        Realized against expected on the window's labelled rows, and on those after
        the consensus change point whose drop is confirmed.
    changes : ChangePoints or None
        The detectors' findings, graded.
    residuals : ResidualShift or None
    segments : SegmentResult or None
    calibration : mapping or None
        Calibration curves of the reference and the window (binary).
    decisions : tuple of dict
        Every check (kind, subject, status and figures) in recording order; those a covariate
        shift explains carry ``explained_by`` (:mod:`.inhibition`).
    shift : ShiftEvidence
        The evidence of a covariate shift the checks were judged with (falsy when none, or
        when a concept test fired).
    first_chunk_below : bool
        Whether the first well-labelled chunk is already below expectation.
    notes : tuple of str
        What could not be done, and which configuration or columns it needs.
    how : tuple of str
        How the figures were computed when not the usual way (summary mode): shown beside the
        verdict, never among what could not be done.
    estimator : PerformanceEstimator or None
        The label-free estimator fitted on the reference.
    """

    spec: ModelSpec
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    labelled: int
    chunks: ChunkPerformance | None = None
    concept: ConceptTest | None = None
    after_onset: ConceptTest | None = None
    changes: ChangePoints | None = None
    residuals: ResidualShift | None = None
    segments: SegmentResult | None = None
    calibration: Mapping[str, Any] | None = None
    decisions: tuple[Mapping[str, Any], ...] = ()
    shift: ShiftEvidence = ShiftEvidence()
    first_chunk_below: bool = False
    notes: tuple[str, ...] = ()
    how: tuple[str, ...] = ()
    estimator: PerformanceEstimator | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- checks
    def checks(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every check this notebook records (of one kind), as new dicts: kind, subject, status, figures."""
        return [dict(c) for c in self.decisions if kind is None or c["kind"] == kind]

    def performance_checks(self) -> list[dict[str, Any]]:
        return self.checks("performance")

    def estimated_checks(self) -> list[dict[str, Any]]:
        return self.checks("estimated_performance")

    def change_checks(self) -> list[dict[str, Any]]:
        return self.checks("change_point")

    def concept_checks(self) -> list[dict[str, Any]]:
        return self.checks("concept_drift")

    def explained(self) -> list[dict[str, Any]]:
        """The checks at warn or above that a covariate shift explains (see :mod:`.inhibition`)."""
        return [dict(c) for c in self.decisions if c.get("explained_by")]

    @property
    def status(self) -> str:
        """The worst status of the checks no cause explains (the notebook's status)."""
        return worst(c["status"] for c in self.decisions if not c.get("explained_by"))

    def worst_segment(self) -> dict[str, Any] | None:
        """The segment that lost the most (significantly), with its query; None when none did."""
        return self.segments.worst() if self.segments is not None else None

    def consensus_onset(self) -> pd.Timestamp | None:
        """The earliest onset of a confirmed (alert) change point."""
        if self.changes is None:
            return None
        det = self.changes.detections
        hit = det[det["status"] == "alert"] if len(det) else det
        return pd.Timestamp(hit["at"].min()) if len(hit) else None

    # ---------------------------------------------------------------- recording and words
    @recording
    def record(self, recorder: Recorder) -> None:
        """Record checks, what could not be done, findings, the worst segment and the verdict."""
        for c in self.checks():
            recorder.check(c.pop("kind"), c.pop("subject"), c.pop("status"), **c)
        for text in self.notes:
            recorder.cannot(text)
        for text, status in self.findings():
            recorder.finding(text, status)
        ws = self.worst_segment()
        if ws is not None:
            recorder.artefact("worst_segment", ws)
        recorder.verdict(self.verdict())

    def findings(self) -> list[tuple[str, str]]:
        """(text, status) of each finding worth a line in the report's banner (and the baseline's trends)."""
        trends = [(f"{c['baseline_trend']}: the window is compared with {c['compared_with']}", c["status"])
                  for c in self.checks() if c["kind"] == "performance" and c.get("baseline_trend")]
        return prose.findings(self) + trends

    def verdict(self) -> str:
        """One sentence: did it get worse, since when, where, covariate shift or concept drift."""
        return prose.verdict(self)

    # ---------------------------------------------------------------- tables and plots
    def table(self, kind: str = "checks", **kwargs: Any) -> pd.DataFrame:
        """A table of one kind (:data:`TABLES`), as a new DataFrame.

        ``checks`` (one row per check, worst first), ``summary`` (the window per
        metric), ``coverage`` (labels per chunk), ``estimation`` (estimated next to
        realized per chunk; ``metric=``), ``changes`` (detections), ``detectors``
        (their calibration), ``concept`` (realized against expected),
        ``residuals`` (per feature), ``segments`` (``top=``).
        """
        if kind == "checks":
            df = pd.DataFrame([{k: v for k, v in c.items() if not isinstance(v, (list, dict))}
                               for c in self.decisions])
            if df.empty:
                return df
            order = df["status"].map(SEVERITY).sort_values(ascending=False, kind="stable").index
            return df.loc[order].reset_index(drop=True)
        if kind in ("summary", "coverage", "estimation") and self.chunks is None:
            return pd.DataFrame()
        if kind == "summary":
            return tables.summary_table(self.chunks)
        if kind == "coverage":
            return tables.coverage_table(self.chunks, self.spec.task)
        if kind == "estimation":
            return tables.estimation_table(self.chunks, kwargs.get("metric") or self.spec.primary)
        if kind == "changes":
            return tables.changes_table(self.changes)
        if kind == "detectors":
            return tables.detectors_table(self.changes)
        if kind == "concept":
            return tables.concept_table((self.concept, self.after_onset))
        if kind == "residuals":
            return tables.residuals_table(self.residuals)
        if kind == "segments":
            return tables.segments_table(self.segments, kwargs.get("top", 15))
        raise UsageError(f"The 'kind' parameter of ConceptDriftResult.table must be one of {', '.join(TABLES)}. "
                         f"Got {kind!r} instead.")

    def to_df(self) -> pd.DataFrame:
        """One row per check, worst first (``table("checks")``)."""
        return self.table("checks")

    def plot(self, kind: str = "timeline", **kwargs: Any):
        """A figure of one kind (:data:`PLOTS`): ``timeline`` (``metric=``), ``coverage``, ``stream``,
        ``segments`` (``top=``), ``residuals`` (``feature=``) or ``calibration``."""
        if kind == "timeline" and self.chunks is not None:
            m = kwargs.get("metric", self.spec.primary)
            return plots.performance_timeline(self.chunks, m, self.changes, label=DISPLAY.get(m, m))
        if kind == "coverage" and self.chunks is not None:
            return self.chunks.plot("coverage")
        if kind == "stream" and self.changes is not None:
            return self.changes.plot("stream")
        if kind == "segments" and self.segments is not None:
            return self.segments.plot("bars", kwargs.get("top", 10))
        if kind == "residuals" and self.residuals is not None:
            return self.residuals.plot("bins", kwargs.get("feature"))
        if kind == "calibration" and self.calibration is not None:
            return plots.calibration_compare(self.calibration)
        raise UsageError(f"The 'kind' parameter of ConceptDriftResult.plot must be one of {', '.join(PLOTS)} "
                         f"(with the data it needs). Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.verdict())}</p>" + tables.table_html(self.to_df())
