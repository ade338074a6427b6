"""Data drift of a window against the baseline: per feature, over time, jointly, and whether it matters.

Everything is compared with the *baseline* (:class:`~mlmon_nb.baseline.Baseline`):
sorted reference values, bin edges and level shares, the reference sample,
and the bands learned from the reference's chunks. The reference rows are
never read again. ``analyse(ctx)`` runs it all and returns a :class:`DataDrift`.

The decision rule (:mod:`mlmon_nb.drift.rule`, explained in plain words in the
data-drift notebook) asks two questions of every feature and alerts only when
both say yes:

1. **Is the change larger than the reference's own variability, and large
   enough to matter?** The feature's effect size (by default the KS distance
   for numbers, the Jensen-Shannon distance for categories) must exceed the
   upper end of its *band* - mean + 3 sd of the same statistic computed on
   the reference's chunks, the sd rescaled to the window's row count
   (:func:`mlmon_nb.rules.band_limits`; ``thresholds.band_margin`` adds
   standard deviations) - and a *practical floor* (the registry's ``alert``
   effect, overridable per method or feature in mlmon.yaml), so that a huge
   window does not alert on a negligible shift.
2. **Is it more than chance?** The feature's test (KS for numbers,
   chi-square for categories) must be significant after Benjamini-Hochberg
   correction across all monitored features: adjusted p < ``thresholds.fdr``
   (default 0.05).

A feature *warns* when it is significant and beyond its band but only above
the lower ``warn`` floor. Every other case is ``ok``. The same rule, with
its own floors, decides prediction drift, label drift, missing-rate changes
and the two multivariate checks; :func:`mlmon_nb.rules.decide` turns each
into a status.

Non-finite values (``inf``, ``-inf``) of a numeric feature are left out of
every statistic (per feature, over time, jointly, in the figures) and
counted: a feature with any gets a ``data_quality`` check
``<feature>:non_finite`` (:func:`mlmon_nb.profiles.non_finite_status`: alert
from 1 % of its values, warn from 0.1 %, at least warn when the baseline had
none) and a note.

Why KS for numbers and Jensen-Shannon for categories by default. The KS
distance is its own test (effect and significance are the same number),
exact with ties, unchanged by any monotone transformation (units, logs),
bounded in [0, 1] so one floor (warn 0.05, alert 0.1: the cumulative shares
differ by 10 points somewhere) suits every numeric feature, and robust to a
few extreme values, which inflate Wasserstein ÷ sd. The Jensen-Shannon
distance is bounded and symmetric, finite when a level is absent on one
side (PSI needs a floor), and for small shifts its square is proportional
to the chi-square divergence, so it pairs with the chi-square test; Cramér's
V depends on the ratio of the two sample sizes, not only on the shares.
Floors: warn 0.03, alert 0.05 (a 10-point move of a 50/50 binary feature is
0.085). With these, the demo's covariate drift is flagged on exactly the
injected features, and the null and power tests of ``tests/test_drift.py``
hold (no alert for two halves of one sample in at least 95 of 100 seeds; a
0.5 sd shift in one of 30 features found in at least 95 of 100).

Modules: ``rule`` (methods, floors, the rule), ``reference`` (the baseline's
representation of a feature), ``univariate``, ``over_time``, ``quality``,
``prediction``, ``labels``, ``multivariate`` (the computations), ``result``
(the frozen result objects), ``html`` (their tables), ``analysis`` (the
notebook's call). Figures: :mod:`mlmon_nb.plots.drift`.
"""

from .analysis import analyse
from .labels import label_drift
from .multivariate import DOMAIN_ROWS, NULL_CHUNKS, NULL_ROWS, domain_classifier, domain_null, multivariate, \
    pca_reconstruction
from .over_time import over_time
from .prediction import prediction_drift, window_scores
from .quality import missing_rates
from .reference import categorical_reference, numeric_reference
from .result import DataDrift, FeatureDrift, JointCheck, LabelDrift, MissingRate, MultivariateDrift, NonFinite, \
    PredictionDrift, QualityDrift, TimeDrift, UnivariateDrift
from .rule import DEFAULT_METHODS, PREDICTION, TESTS, Rule, feature_rule, floors
from .univariate import univariate

__all__ = [
    "analyse", "DataDrift",
    "univariate", "UnivariateDrift", "FeatureDrift", "over_time", "TimeDrift",
    "missing_rates", "QualityDrift", "MissingRate", "NonFinite",
    "prediction_drift", "window_scores", "PredictionDrift", "label_drift", "LabelDrift",
    "multivariate", "MultivariateDrift", "JointCheck", "domain_classifier", "domain_null", "pca_reconstruction",
    "DOMAIN_ROWS", "NULL_CHUNKS", "NULL_ROWS",
    "Rule", "feature_rule", "floors", "DEFAULT_METHODS", "TESTS", "PREDICTION",
    "numeric_reference", "categorical_reference",
]
