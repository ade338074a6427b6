"""One diagnosis per run: the run's checks grouped by the problem that explains them.

Each notebook judges its own figures; several notebooks then see one problem.
A covariate shift moves the features (data drift), the joint distribution
(multivariate drift), the scores (prediction drift), the attributions
(explainability), the label rate and the performance the model can reach
(concept drift). Alerting on each of them is the alert chaos this module ends:
the checks are grouped into **causes**, and a consequence explained by a cause
is listed under it without raising an alert of its own (inhibition, as in
Prometheus Alertmanager).

Causes (:data:`CAUSES`), and what each one claims:

``covariate_shift``
    feature drift and multivariate drift (prediction drift when no feature
    moved); explains prediction drift, label drift, attribution drift of the
    shifted features, and performance, estimated performance and change points
    when no concept test fired.
``concept_drift``
    the concept tests (realized performance below what the inputs predict,
    P(y|x) residual shift), change points, outcome-reliance changes; with no
    covariate shift, performance below its band too.
``operational_regression``
    latency, errors, traffic. A figure of single days only (``*_daily``) is a
    blip: the cause is then at most ``warn``.
``data_quality``, ``feedback_loop``, ``label_shift`` (label drift with no
    covariate shift).

A check the notebook itself marked ``explained_by`` keeps that attribution.
Only causes at ``alert`` open incidents (:mod:`mlmon_nb.incidents`); a cause at
``warn`` is shown and watched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .checks import SEVERITY, worst

CAUSES = ("covariate_shift", "concept_drift", "operational_regression", "data_quality", "feedback_loop",
          "label_shift")
"""Every cause, in the order reports list them."""

LABELS = {
    "covariate_shift": "Covariate shift", "concept_drift": "Concept drift",
    "operational_regression": "Operational regression", "data_quality": "Data quality",
    "feedback_loop": "Feedback loop", "label_shift": "Label shift",
}
"""How pages name each cause."""

NOTEBOOKS = {
    "covariate_shift": ("data_drift",), "concept_drift": ("concept_drift",),
    "operational_regression": ("operations",), "data_quality": ("data_drift", "operations"),
    "feedback_loop": ("feedback_loops",), "label_shift": ("data_drift",),
}
"""The notebooks that observe each cause: a run without them says nothing about it."""

_PERFORMANCE = ("performance", "estimated_performance", "change_point")


@dataclass(frozen=True)
class Cause:
    """One problem seen in a run: its evidence and the consequences it explains."""

    cause: str
    status: str
    subjects: tuple[str, ...]
    since: str | None
    evidence: tuple[Mapping[str, Any], ...]
    explains: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def label(self) -> str:
        return LABELS[self.cause]

    def sentence(self) -> str:
        """One line: what, where, since when, and what it explains."""
        shown = ", ".join(self.subjects[:5]) + (f" and {len(self.subjects) - 5} more" if len(self.subjects) > 5 else "")
        text = f"{self.label} ({self.status}) in {shown}" if shown else f"{self.label} ({self.status})"
        if self.since:
            text += f" since {self.since[:16].replace('T', ' ')}"
        if self.explains:
            kinds = sorted({c["kind"].replace("_", " ") for c in self.explains})
            text += f"; it explains the {', '.join(kinds)} seen with it"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "status": self.status, "subjects": list(self.subjects), "since": self.since,
                "summary": self.sentence(),
                "evidence": [_ref(c) for c in self.evidence], "explains": [_ref(c) for c in self.explains]}


def _ref(check: Mapping[str, Any]) -> dict[str, Any]:
    return {k: check[k] for k in ("notebook", "kind", "subject", "method", "status") if check.get(k) is not None}


def _fired(checks: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in checks if SEVERITY.get(c.get("status"), 0) >= SEVERITY["warn"] and c.get("kind") != "notebook"]


def diagnose(checks: Iterable[Mapping[str, Any]]) -> list[Cause]:
    """Group a run's checks at warn or above into causes, worst first.

    Examples
    --------
    >>> checks = [{"notebook": "data_drift", "kind": "feature_drift", "subject": "price", "status": "alert",
    ...            "since": "2026-10-05T00:00:00+00:00"},
    ...           {"notebook": "concept_drift", "kind": "performance", "subject": "pr_auc", "status": "alert"}]
    >>> [(c.cause, c.status, [e["subject"] for e in c.explains]) for c in diagnose(checks)]
    [('covariate_shift', 'alert', ['pr_auc'])]
    """
    fired = _fired(checks)
    by: dict[str, list[Mapping[str, Any]]] = {c: [] for c in CAUSES}
    explained: dict[str, list[Mapping[str, Any]]] = {c: [] for c in CAUSES}
    marked = [c for c in fired if c.get("explained_by") in CAUSES]
    rest = [c for c in fired if c.get("explained_by") not in CAUSES]
    for c in marked:
        explained[c["explained_by"]].append(c)

    kinds = {c["kind"] for c in rest}
    shifted = {c["subject"] for c in rest if c["kind"] == "feature_drift"}
    covariate = bool(shifted) or "multivariate_drift" in kinds or (
        "prediction_drift" in kinds and "feature_drift" not in kinds)
    concept_tested = "concept_drift" in kinds or any(
        c["kind"] == "attribution_drift" and c.get("method") == "attribution_reliance" for c in rest)
    for c in rest:
        kind = c["kind"]
        if kind in ("feature_drift", "multivariate_drift"):
            by["covariate_shift"].append(c)
        elif kind == "prediction_drift":
            (by["covariate_shift"] if "feature_drift" not in kinds and "multivariate_drift" not in kinds
             else explained["covariate_shift"]).append(c)
        elif kind == "label_drift":
            (explained["covariate_shift"] if covariate else by["label_shift"]).append(c)
        elif kind == "attribution_drift":
            if c.get("method") == "attribution_reliance":
                (explained["concept_drift"] if "concept_drift" in kinds else by["concept_drift"]).append(c)
            elif covariate and (c["subject"] in shifted or not shifted):
                explained["covariate_shift"].append(c)
            else:
                by["covariate_shift"].append(c)
        elif kind == "concept_drift":
            by["concept_drift"].append(c)
        elif kind in _PERFORMANCE:
            if concept_tested:
                (by["concept_drift"] if kind != "change_point" else explained["concept_drift"]).append(c)
            elif covariate:
                explained["covariate_shift"].append(c)
            else:
                by["concept_drift"].append(c)
        elif kind == "operational":
            by["operational_regression"].append(c)
        elif kind == "data_quality":
            by["data_quality"].append(c)
        elif kind == "feedback_loop":
            by["feedback_loop"].append(c)
    causes = []
    for name in CAUSES:
        evidence = by[name]
        if not evidence:
            continue
        status = worst(c["status"] for c in evidence)
        if name == "operational_regression" and all(str(c["subject"]).endswith("_daily") for c in evidence
                                                    if c["status"] == "alert"):
            status = "warn" if status == "alert" else status  # single days only: a blip, watched
        primary = [c for c in evidence if c["status"] == status] or evidence
        if name == "covariate_shift" and any(c["kind"] == "feature_drift" for c in primary):
            primary = [c for c in primary if c["kind"] == "feature_drift"]
        subjects = tuple(dict.fromkeys(str(c["subject"]).removesuffix("_daily") for c in primary))
        # change points date a concept change even when they are listed as its consequence
        causes.append(Cause(cause=name, status=status, subjects=subjects, since=_since([*evidence, *explained[name]]),
                            evidence=tuple(evidence), explains=tuple(explained[name])))
    # consequences whose cause has no evidence of its own in this run stay visible under it
    for name in CAUSES:
        if explained[name] and not by[name]:
            causes.append(Cause(cause=name, status="warn", subjects=(), since=None, evidence=(),
                                explains=tuple(explained[name])))
    causes.sort(key=lambda c: (-SEVERITY[c.status], CAUSES.index(c.cause)))
    return causes


def _since(evidence: Iterable[Mapping[str, Any]]) -> str | None:
    """The earliest onset the evidence states (``since`` of drift, ``at`` of change points)."""
    moments = [str(c.get(k)) for c in evidence for k in ("since", "at") if c.get(k)]
    return min(moments) if moments else None


def status_of(causes: Iterable[Cause]) -> str:
    """A run's status from its causes (``ok`` when there are none)."""
    return worst(c.status for c in causes)


def notebook_status(checks: Iterable[Mapping[str, Any]]) -> str:
    """A notebook's status: the worst of its checks that no cause explains."""
    return worst(c["status"] for c in checks if not c.get("explained_by"))
