"""Every name a check or a ``thresholds`` block may use: one table, read by config and the areas.

``mlmon.yaml``'s ``thresholds`` refers to statistics (``methods``), to
monitored features (``features``) and to figures (``metrics``); checks carry
a ``kind``. Config validation, error messages and the areas all read the
tables below, so a typo such as ``latency_p59`` is refused with the list of
known names, and a name an area decides on cannot be missing here (a test
compares these tables with the areas' registries).

This module imports nothing: the CLI validates a project file without loading
numpy.
"""

from __future__ import annotations

KINDS = (
    "feature_drift", "multivariate_drift", "prediction_drift", "label_drift", "data_quality",
    "performance", "estimated_performance", "change_point", "concept_drift",
    "attribution_drift", "feedback_loop", "operational",
)
"""Check kinds (INTERFACE.md section 4)."""

STATISTICS = (
    "anderson", "chi2", "class_shares", "domain_classifier", "jensen_shannon", "ks", "missing_rate",
    "pca_reconstruction", "positive_rate", "psi", "tail", "tvd", "unseen", "wasserstein",
)
"""Drift statistics of :mod:`mlmon_nb.stats` (``thresholds.methods``, ``features.<f>.method``)."""

ATTRIBUTION_METHODS = ("attribution_reliance", "attribution_distance", "attribution_share")
"""Attribution-drift figures of the explainability area (``thresholds.methods``)."""

METRICS: dict[str, tuple[str, ...]] = {
    "performance": ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall", "f1", "ece",
                    "macro_f1", "mae", "rmse", "r2"),
    "operational": ("rows_per_day", "latency_p50", "latency_p95", "latency_p99", "error_rate"),
    "feedback_loop": ("exposure_gini", "exposure_entropy", "top1pct_share", "top10pct_share", "coverage",
                      "homogenisation", "self_reinforcement", "prediction_spread", "prediction_extremity",
                      "training_provenance"),
}
"""Figures with fixed limits under ``thresholds.metrics``, by the check kind that judges them."""

HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False, "accuracy": True,
                    "precision": True, "recall": True, "f1": True, "ece": False, "macro_f1": True,
                    "mae": False, "rmse": False, "r2": True}
"""Which way each performance metric improves."""


_INF = float("inf")
_UNIT = (0.0, 1.0)
_POSITIVE = (0.0, _INF)
RANGES: dict[str, tuple[float, float]] = {
    # drift statistics (distances and shares)
    "ks": _UNIT, "wasserstein": _POSITIVE, "psi": _POSITIVE, "jensen_shannon": _UNIT, "chi2": _UNIT, "tvd": _UNIT,
    "unseen": _UNIT, "tail": (-1.0, 1.0), "missing_rate": _UNIT, "positive_rate": _UNIT, "class_shares": _UNIT,
    "domain_classifier": _UNIT, "pca_reconstruction": _POSITIVE,
    # performance
    "roc_auc": _UNIT, "pr_auc": _UNIT, "log_loss": _POSITIVE, "brier": _UNIT, "accuracy": _UNIT,
    "precision": _UNIT, "recall": _UNIT, "f1": _UNIT, "ece": _UNIT, "macro_f1": _UNIT, "mae": _POSITIVE,
    "rmse": _POSITIVE, "r2": (-_INF, 1.0),
    # operations
    "rows_per_day": _POSITIVE, "latency_p50": _POSITIVE, "latency_p95": _POSITIVE, "latency_p99": _POSITIVE,
    "error_rate": _UNIT,
    # feedback loops
    "exposure_gini": _UNIT, "exposure_entropy": _POSITIVE, "top1pct_share": _UNIT, "top10pct_share": _UNIT,
    "coverage": _UNIT, "homogenisation": _UNIT, "self_reinforcement": (-1.0, 1.0),
    "prediction_spread": _POSITIVE, "prediction_extremity": _UNIT, "training_provenance": _UNIT,
    # attribution drift
    "attribution_share": _UNIT, "attribution_distance": _POSITIVE, "attribution_reliance": (-1.0, 1.0),
}
"""What each measure can take: no threshold is ever set outside (:func:`mlmon_nb.rules.within_range`)."""

MIN_CHANGE: dict[str, tuple[str, float]] = {
    "roc_auc": ("abs", 0.02), "pr_auc": ("abs", 0.02), "accuracy": ("abs", 0.02), "precision": ("abs", 0.03),
    "recall": ("abs", 0.03), "f1": ("abs", 0.03), "macro_f1": ("abs", 0.03), "brier": ("abs", 0.01),
    "ece": ("abs", 0.02), "log_loss": ("rel", 0.05), "mae": ("rel", 0.05), "rmse": ("rel", 0.05),
    "r2": ("abs", 0.03),
}
"""The smallest change of a performance metric that matters (alert; warn at half): ``abs`` in the
metric's units, ``rel`` a share of the reference value. ``thresholds.metrics.<m>.min_change`` overrides."""


def metric_names() -> tuple[str, ...]:
    """Every name allowed under ``thresholds.metrics``, in table order."""
    return tuple(name for names in METRICS.values() for name in names)


def method_names() -> tuple[str, ...]:
    """Every name allowed under ``thresholds.methods``."""
    return (*STATISTICS, *ATTRIBUTION_METHODS)
