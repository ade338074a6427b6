"""The decision policy of the operations area: false-alarm rate, practical floors, method names.

Every check alerts only when a change is both unusual for the baseline (a
p-value below :data:`ALPHA` after Bonferroni correction, or a band) and at
least its floor in :data:`MIN_CHANGE`; the status itself comes from
:func:`mlmon_nb.rules.decide`.
"""

from __future__ import annotations

#: Family-wise false-alarm rate of one check (Bonferroni over the days, hours or features it covers).
ALPHA = 0.001
#: Smallest change that matters, (warn, alert), per check (see :mod:`mlmon_nb.operations` for units).
MIN_CHANGE = {
    "traffic": (0.2, 0.5),
    "latency": (0.1, 0.25),
    "error_rate": (0.25, 1.0),
    "serving_version": (0.1, 0.5),
    "missing_rate": (0.01, 0.05),
    "out_of_range": (0.001, 0.01),
    "unseen_categories": (0.001, 0.01),
}
#: Machine name → display name of every decision method used here.
METHODS = {
    "poisson_rate_ratio": "conditional binomial test of two Poisson rates (quasi-Poisson)",
    "baseline_band": "baseline band of per-day values (mean ± k sd)",
    "slo": "fixed limits from thresholds.metrics in mlmon.yaml",
    "binomial": "one-sided binomial test against the baseline rate",
    "range_binomial": "share outside the reference range, binomial test against 2/(N+1)",
    "good_turing_binomial": "share of unseen levels, binomial test against the Good-Turing rate",
    "type_family": "DuckDB type of the window's files against the reference's",
}
#: Latency percentiles judged, as named in the baseline and in checks (``latency_p95``).
PERCENTILES = ("p50", "p95", "p99")
