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
    "pca_reconstruction", "positive_rate", "psi", "tvd", "unseen", "wasserstein",
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


def metric_names() -> tuple[str, ...]:
    """Every name allowed under ``thresholds.metrics``, in table order."""
    return tuple(name for names in METRICS.values() for name in names)


def method_names() -> tuple[str, ...]:
    """Every name allowed under ``thresholds.methods``."""
    return (*STATISTICS, *ATTRIBUTION_METHODS)
