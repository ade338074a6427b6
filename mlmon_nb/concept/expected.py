"""The concept test: realized performance against what the window's own inputs lead to expect.

Realized clearly below expected means P(y | x) changed (concept drift);
realized matching expected means the shift of inputs explains any change
against the baseline (covariate shift). The same test on the rows after each
consensus change point grades that change point (:func:`assess_changes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

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

__all__ = ["ConceptTest", "concept_test", "assess_changes"]


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
    rows = []
    for m in metrics:
        g = gap_status(m, real[m], exp[m], sd[m], estimator.reference_values.get(m), n_tests=len(metrics))
        rows.append({"metric": m, "realized": real[m], "expected": exp[m], **g, "rows": int(len(y)), "scope": scope})
    return ConceptTest(pd.DataFrame(rows))


def assess_changes(changes: ChangePoints, spec: ModelSpec, estimator: PerformanceEstimator, frame: pd.DataFrame,
                   y: np.ndarray, scores: np.ndarray, ts: pd.DatetimeIndex, rng: np.random.Generator,
                   band: Band | None) -> tuple[ChangePoints, ConceptTest | None]:
    """Grade each consensus of detectors: a performance drop after its onset ⇒ alert, else warn.

    The drop test is the concept rule (every tracked metric, Bonferroni-adjusted)
    on the labelled rows from the onset on, or the primary metric there beyond
    its band limit. Detections no other detector confirms stay ``ok``.

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
        after = np.asarray(ts >= cl["at"])
        if after.sum() < 2:
            continue
        test = concept_test(spec, estimator, y[after], scores[after], rng,
                            frame.loc[after] if spec.task == "regression" else None,
                            scope=f"after {when(cl['at'])}")
        lim = band_edges(band, int(after.sum()), spec.thresholds.band_margin, m, spec.thresholds.min_change(m))
        drop = test.status() == "alert" or beyond_band(m, test.row(m)["realized"], lim["low"], lim["high"])
        statuses[int(cl["cluster"])] = change_status(drop)
        if chosen is None or (drop and chosen.status() != "alert"):
            chosen = test
    return changes.graded(statuses), chosen
