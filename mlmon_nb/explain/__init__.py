"""Explainability: feature attributions in the raw feature space, and how they drift.

:func:`analyse` explains a window against its baseline and returns an
:class:`ExplainResult` (``record``, ``verdict``, ``notes``, ``table``, ``plot``).

Modules, one job each:

``explainers``, ``pipelines``, ``codec``
    SHAP values of a model's rows in raw feature space (TreeExplainer for tree models,
    also behind a ColumnTransformer; shap's PermutationExplainer for anything else).
``attributions``
    :class:`Attribution`, the per-row SHAP values every other part reads.
``importance``
    Global importance for the baseline fit (:func:`importance`).
``reliance``, ``methods``, ``attribution_drift``
    The attribution-drift rule: importance share, SHAP distance and outcome reliance per
    feature, each against a band from the baseline's own time chunks and a practical floor,
    decided by :func:`mlmon_nb.rules.decide`.
``cohorts``, ``query``, ``selection``, ``cohort_result``
    The cohort to investigate, the one function evaluating a cohort query, its rows, and
    its comparison with the same cohort at baseline.
``local``, ``dependence``, ``crosscheck``
    The most surprising predictions, how the model responds where inputs drifted, LIME.
``plain``
    The report's opening: three sentences without jargon (:meth:`ExplainResult.summary`).
``result``
    The frozen result objects; figures are drawn by :mod:`mlmon_nb.plots.explain`.
``window``
    :func:`analyse`: all of the above for one window.
"""

from .attribution_drift import N_CHUNKS, attribution_drift
from .attributions import Attribution
from .cohort_result import MIN_COHORT_ROWS, CohortComparison
from .cohorts import CohortError, CohortSpec, parse_cohort
from .crosscheck import lime_agreement, lime_available, lime_check
from .dependence import MAX_DEPENDENCE, Dependence, dependence
from .explainers import Explainer, make_explainer, shap_values
from .importance import importance
from .local import TOP_SURPRISING, LocalExplanation, surprising
from .methods import METHODS, AttributionMethod, method_limits
from .query import evaluate_cohort_query
from .reliance import MIN_RELIANCE_ROWS, Reliance, reliance
from .result import AttributionDriftResult, ExplainResult, FeatureAttributionDrift
from .selection import cohort_mask
from .window import MAX_ROWS, analyse, drifted_features

__all__ = [
    "analyse", "ExplainResult", "importance",
    "Attribution", "Explainer", "make_explainer", "shap_values",
    "Reliance", "reliance", "MIN_RELIANCE_ROWS",
    "METHODS", "AttributionMethod", "method_limits",
    "attribution_drift", "AttributionDriftResult", "FeatureAttributionDrift", "N_CHUNKS",
    "CohortError", "CohortSpec", "parse_cohort", "cohort_mask", "evaluate_cohort_query", "CohortComparison",
    "MIN_COHORT_ROWS",
    "LocalExplanation", "surprising", "TOP_SURPRISING",
    "Dependence", "dependence", "MAX_DEPENDENCE",
    "lime_check", "lime_agreement", "lime_available",
    "drifted_features", "MAX_ROWS",
]
