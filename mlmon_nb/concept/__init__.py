"""Concept drift: did the model get worse, since when, where, and why.

A window is compared with the version's baseline in four steps; each is a
function of frames and arrays returning a frozen result with ``to_df()``,
``plot(kind=...)`` and ``_repr_html_``. :func:`analyse` runs them all for a
window context and returns one :class:`ConceptDriftResult` (``record``,
``verdict``, ``notes``, ``table``, ``plot``).

1. **Performance per chunk** (:mod:`.per_chunk`): realized metrics on the
   labelled rows of each chunk with 95% intervals (:mod:`.weighted`), the
   baseline band, label coverage, and the performance *estimated without
   labels* on every row (:mod:`.estimator`: CBPE for classifiers, DLE for
   regression).
2. **Change points** (:mod:`.stream`, :mod:`.detectors`, :mod:`.changes`):
   river's detectors, calibrated on the reference, on the time-ordered
   *excess loss* of the labelled rows.
3. **Covariate shift or concept drift** (:mod:`.expected`, :mod:`.residuals`):
   realized performance against the performance the window's own inputs lead
   to expect, and P(y | x) tested per feature bin.
4. **Where** (:mod:`.binning`, :mod:`.segments`): feature levels, quartile bins
   (from the baseline profile) and pairs of them, ranked by lost performance × share.

A window opened in summary mode (``ctx.scan``: above :data:`mlmon_nb.summary.SUMMARISE_ABOVE`
rows, or on Spark) is never read into memory (:mod:`.summarised`): step 1 and the concept test
come from score cells × labels per chunk aggregated by the engine
(:mod:`mlmon_nb.summary.performance`), steps 2-4 read a seeded sample of at most 200,000 rows;
both paths share the measuring-free parts (:func:`.per_chunk.assemble`,
:func:`.expected.decide_concept`, :mod:`.labelled`) and every decision.

Every status is decided in :mod:`.decisions` (with :func:`mlmon_nb.rules.decide`);
when no concept test fires, the drops a covariate shift explains (drifted features
from the data-drift notebook of the same run, or an estimate that moved beyond its
band) are marked as its consequences in :mod:`.inhibition`; the verdict and findings
are written in :mod:`.prose`, the tables in :mod:`.tables`, the figures in
:mod:`mlmon_nb.plots.concept`.
"""

from __future__ import annotations

from .analysis import analyse, analyse_frames, window_scores
from .binning import Binning, make_binnings
from .changes import CONSENSUS_TOLERANCE, ChangePoints, detect_changes
from .decisions import MIN_RELATIVE_GAP, RESIDUAL_ALPHA, RESIDUAL_MIN_EFFECT, gap_status, z_limits
from .detectors import CONSENSUS_MIN, DETECTORS, FALSE_ALARM_TARGET, NULL_STREAMS, DetectorCalibration
from .estimator import PerformanceEstimator, fit_estimator
from .expected import ConceptTest, assess_changes, concept_test
from .inhibition import ShiftEvidence, explain_by_shift, shift_evidence
from .per_chunk import CHUNK_WHERE, MIN_LABELS_PER_CHUNK, ChunkPerformance, chunk_performance
from .residuals import ResidualShift, residual_shift
from .result import ConceptDriftResult
from .segments import SegmentResult, find_segments, segment_query
from .spec import DISPLAY, METRICS, PRIMARY, ModelSpec
from .stream import LossStream, loss_stream
from .weighted import auc_delong, confidence_interval, realized

__all__ = [
    "analyse", "analyse_frames", "window_scores", "ConceptDriftResult",
    "ModelSpec", "METRICS", "PRIMARY", "DISPLAY",
    "realized", "auc_delong", "confidence_interval",
    "PerformanceEstimator", "fit_estimator",
    "ChunkPerformance", "chunk_performance", "MIN_LABELS_PER_CHUNK", "CHUNK_WHERE",
    "LossStream", "loss_stream", "DETECTORS", "DetectorCalibration", "NULL_STREAMS", "FALSE_ALARM_TARGET",
    "CONSENSUS_MIN", "CONSENSUS_TOLERANCE", "ChangePoints", "detect_changes",
    "ConceptTest", "concept_test", "assess_changes", "gap_status", "z_limits",
    "ShiftEvidence", "shift_evidence", "explain_by_shift",
    "MIN_RELATIVE_GAP", "RESIDUAL_ALPHA", "RESIDUAL_MIN_EFFECT",
    "Binning", "make_binnings", "ResidualShift", "residual_shift",
    "SegmentResult", "find_segments", "segment_query",
]
