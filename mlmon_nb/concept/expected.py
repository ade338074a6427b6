"""The concept test: realized performance against what the window's own inputs lead to expect.

Realized clearly below expected means P(y | x) changed (concept drift);
realized matching expected means the shift of inputs explains any change
against the baseline (covariate shift). The same test on the rows after each
consensus change point grades that change point (:func:`assess_changes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..checks import worst
from ..rules import Band
from .changes import ChangePoints
from .decisions import band_edges, beyond_band, change_status, gap_status
from .estimator import PerformanceEstimator
from .spec import ModelSpec
from .tables import table_html, when
from .weighted import realized

__all__ = ["ConceptTest", "concept_test", "decide_concept", "assess_changes"]


@dataclass(frozen=True)
class ConceptTest:
    """Realized against expected-under-the-window's-inputs, per metric.

    ``to_df()``: ``metric``, ``realized``, ``expected``, ``gap`` (realized −
    expected), ``worse_by``, ``sd``, ``z`` (negative = worse), ``p_value``,
    ``min_gap``, ``z_alert``, ``z_warn``, ``status``, ``rows``, ``scope``.
    """

    table: pd.DataFrame

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def status(self) -> str:
        """The worst status of the metrics."""
        return worst(self.table["status"]) if len(self.table) else "ok"

    def row(self, metric: str) -> dict[str, Any]:
        """One metric's row (empty when it was not tested)."""
        r = self.table[self.table["metric"] == metric]
        return r.iloc[0].to_dict() if len(r) else {}

    def _repr_html_(self) -> str:
        return table_html(self.table)


def concept_test(spec: ModelSpec, estimator: PerformanceEstimator, y: np.ndarray, scores: np.ndarray,
                 rng: np.random.Generator, frame: pd.DataFrame | None = None, scope: str = "window",
                 metrics: Sequence[str] | None = None) -> ConceptTest:
    """Is realized performance clearly below what the window's inputs lead to expect?

    Parameters
    ----------
    spec : ModelSpec
    estimator : PerformanceEstimator
    y, scores : arrays
        Labelled rows only.
    rng : numpy.random.Generator
    frame : DataFrame, optional
        The same rows (regression needs their features).
    scope : str
        A label for the rows tested (``window``, ``after 2026-10-28 12:00 UTC``).
    metrics : sequence of str, optional
        The metrics tested (the task's by default); the z limits are
        Bonferroni-adjusted for their number.
    """
    metrics = tuple(metrics or spec.metrics)
    real = realized(spec.task, y, scores, spec.threshold, metrics)
    exp = estimator.estimate(scores, frame, metrics)
    sd = estimator.null_sd(scores, rng, frame, metrics)
    return decide_concept(estimator, real, exp, sd, int(len(y)), scope, metrics)


def decide_concept(estimator: PerformanceEstimator, real, exp, sd, rows: int, scope: str,
                   metrics: Sequence[str]) -> ConceptTest:
    """The concept rule (:func:`~.decisions.gap_status`) on measured figures: realized, expected and the null
    sd per metric, for ``rows`` labelled rows (from rows in memory or from a window summary)."""
    out = []
    for m in metrics:
        g = gap_status(m, real[m], exp[m], sd[m], estimator.reference_values.get(m), n_tests=len(metrics))
        out.append({"metric": m, "realized": real[m], "expected": exp[m], **g, "rows": rows, "scope": scope})
    return ConceptTest(pd.DataFrame(out))


def assess_changes(changes: ChangePoints, spec: ModelSpec, estimator: PerformanceEstimator, frame: pd.DataFrame,
                   y: np.ndarray, scores: np.ndarray, ts: pd.DatetimeIndex, rng: np.random.Generator,
                   band: Band | None, test_after: Callable[[pd.Timestamp, str], ConceptTest | None] | None = None
                   ) -> tuple[ChangePoints, ConceptTest | None]:
    """Grade each consensus of detectors: a performance drop after its onset ⇒ alert, else warn.

    The drop test is the concept rule (every tracked metric, Bonferroni-adjusted)
    on the labelled rows from the onset on, or the primary metric there beyond
    its band limit. Detections no other detector confirms stay ``ok``.

    ``test_after(at, scope)``, when given, measures the test on the labelled rows from ``at`` on
    (a window summary); ``frame``, ``y``, ``scores`` and ``ts`` are then not read.

    Returns
    -------
    (ChangePoints, ConceptTest or None)
        The graded change points, and the test of the first consensus whose drop
        is confirmed (else of the first consensus; None without consensus).
    """
    if changes.detections.empty:
        return changes, None
    chosen = None
    statuses: dict[int, str] = {}
    m = spec.primary
    for cl in changes.consensus().to_dict("records"):
        if test_after is not None:  # a window summary measures the rows from the onset on
            test = test_after(cl["at"], f"after {when(cl['at'])}")
            if test is None:
                continue
            n_after = int(test.table["rows"].iloc[0])
        else:
            after = np.asarray(ts >= cl["at"])
            if after.sum() < 2:
                continue
            test = concept_test(spec, estimator, y[after], scores[after], rng,
                                frame.loc[after] if spec.task == "regression" else None,
                                scope=f"after {when(cl['at'])}")
            n_after = int(after.sum())
        lim = band_edges(band, n_after, spec.thresholds.band_margin, m, spec.thresholds.min_change(m))
        drop = test.status() == "alert" or beyond_band(m, test.row(m)["realized"], lim["low"], lim["high"])
        statuses[int(cl["cluster"])] = change_status(drop)
        if chosen is None or (drop and chosen.status() != "alert"):
            chosen = test
    return changes.graded(statuses), chosen
