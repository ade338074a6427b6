"""Inhibition: the performance drops a covariate shift explains are recorded as its consequences.

When no concept test fires (no check of kind ``concept_drift`` at warn or
above), realized performance is in line with what the window's own inputs
predict. A ``performance``, ``estimated_performance`` or ``change_point``
check at warn or above is then a consequence of the input shift, provided the
run holds evidence of one:

(a) the data-drift notebook of the same run names drifted features (its
    ``data_drift`` artefact: ``alerting_features``, ``warning_features``):
    every such check is explained, as :func:`mlmon_nb.diagnosis.diagnose`
    explains them for the whole run;
(b) otherwise, a metric whose estimate without labels (CBPE, DLE) is itself
    beyond its band (its ``estimated_performance`` check at warn or above): that
    metric's checks are explained. Both rules flag only the worse direction, so
    realized and expected moved the same way. The estimate moves only with the
    inputs, so (b) needs the concept test to have run (labels): without it the
    estimate would be the only evidence of its own explanation.

An explained check keeps its figures and its status and gets
``explained_by="covariate_shift"``; the notebook's status ignores it
(:attr:`mlmon_nb.checks.Recorder.status`). Nothing is explained when a concept
test fires: the drop is then the concept drift's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..checks import SEVERITY

__all__ = ["CAUSE", "EXPLAINABLE", "ShiftEvidence", "shift_evidence", "explain_by_shift"]

CAUSE = "covariate_shift"
"""The cause explained checks name (:data:`mlmon_nb.diagnosis.CAUSES`)."""
EXPLAINABLE = ("performance", "estimated_performance", "change_point")
"""The kinds of check a covariate shift can explain."""


def _fired(check: Mapping[str, Any]) -> bool:
    return SEVERITY.get(check.get("status"), 0) >= SEVERITY["warn"]


@dataclass(frozen=True)
class ShiftEvidence:
    """What shows the inputs shifted: features the data-drift notebook named, or moved estimates.

    ``features`` (alerting first) comes from the data-drift notebook of the same
    run (case a); ``metrics`` are the metrics whose estimate without labels is
    beyond its band (case b, used only without named features).
    """

    features: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.features or self.metrics)

    def covers(self, check: Mapping[str, Any]) -> bool:
        """Whether this evidence explains one check (an explainable kind; its metric's estimate moved in b)."""
        if check.get("kind") not in EXPLAINABLE:
            return False
        return bool(self.features) or str(check.get("subject")) in self.metrics


def drifted_features(drifted: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Features the data-drift artefact names at alert, then at warn (empty without it).

    Examples
    --------
    >>> drifted_features({"alerting_features": ["price"], "warning_features": ["device", "price"]})
    ('price', 'device')
    >>> drifted_features(None)
    ()
    """
    if not isinstance(drifted, Mapping):
        return ()
    named = [*(drifted.get("alerting_features") or ()), *(drifted.get("warning_features") or ())]
    return tuple(dict.fromkeys(str(f) for f in named))


def shift_evidence(checks: Iterable[Mapping[str, Any]], drifted: Mapping[str, Any] | None = None) -> ShiftEvidence:
    """The evidence of a covariate shift a window's concept checks allow (empty when a concept test fires).

    Parameters
    ----------
    checks : iterable of mapping
        The notebook's decided checks (``kind``, ``subject``, ``status``, figures).
    drifted : mapping, optional
        The ``data_drift`` artefact of the same run (``ctx.artefact("data_drift")["data_drift"]``);
        None when the data-drift notebook did not run.

    Returns
    -------
    ShiftEvidence
        Falsy when nothing may be explained.
    """
    checks = list(checks)
    concept = [c for c in checks if c.get("kind") == "concept_drift"]
    if any(_fired(c) for c in concept):
        return ShiftEvidence()
    features = drifted_features(drifted)
    if features:
        return ShiftEvidence(features=features)
    if not concept:  # no concept test (no labels): the estimate cannot vouch for itself
        return ShiftEvidence()
    moved = [str(c["subject"]) for c in checks if c.get("kind") == "estimated_performance" and _fired(c)]
    return ShiftEvidence(metrics=tuple(dict.fromkeys(moved)))


def explain_by_shift(checks: Iterable[Mapping[str, Any]], drifted: Mapping[str, Any] | None = None
                     ) -> tuple[tuple[dict[str, Any], ...], ShiftEvidence]:
    """The checks with those a covariate shift explains marked ``explained_by``, and the evidence used.

    Checks are copied, never changed; an explained check keeps its status and figures.

    Examples
    --------
    >>> checks = [{"kind": "performance", "subject": "pr_auc", "status": "alert"},
    ...           {"kind": "concept_drift", "subject": "pr_auc", "status": "ok"}]
    >>> out, ev = explain_by_shift(checks, {"alerting_features": ["price"], "warning_features": []})
    >>> [c.get("explained_by") for c in out], ev.features
    (['covariate_shift', None], ('price',))
    """
    checks = [dict(c) for c in checks]
    evidence = shift_evidence(checks, drifted)
    if not evidence:
        return tuple(checks), evidence
    for c in checks:
        if _fired(c) and evidence.covers(c):
            c["explained_by"] = CAUSE
    return tuple(checks), evidence
