"""Operations: traffic, latency, errors, serving versions and data quality of a window.

A window is compared with the operational baseline (``manifest["operational"]``,
fitted by :func:`fit_operational`, and the ``operational/...`` and
``quality/...`` bands of the archived :class:`~mlmon_nb.baseline.Baseline`).
Both are computed by the same DuckDB aggregates over the logs
(:mod:`.aggregate`). ``analyse(ctx)`` returns an :class:`OperationsResult`:
``record(recorder)``, ``verdict()``, ``notes``, ``table(part)``, ``plot(kind)``.

Modules: :mod:`.aggregate` (the SQL), :mod:`.fitting` (the baseline's
figures), :mod:`.counts` (significance of counts), :mod:`.traffic`,
:mod:`.latency`, :mod:`.error_rate`, :mod:`.versions`, :mod:`.quality` (one
topic each), :mod:`.result` (the result objects), :mod:`.analysis`
(``analyse``), :mod:`.policy` (alpha and floors).

Decision rules
--------------
Every check alerts only when a change is both *unusual* for the baseline (a
test or band) and *large enough to matter* (a floor in :data:`MIN_CHANGE`,
``(warn, alert)``); the same pair of requirements as data drift, so big
windows do not alert on negligible changes nor small windows on noise.
Unusual means a p-value below :data:`ALPHA` after Bonferroni correction over
the days, hours or features the check covers. The status is always
:func:`mlmon_nb.rules.decide` of the change against its floors (or of the
figure against its band edge or fixed limits).

traffic (window, each day, each hour)
    Expected requests are the baseline's hour-of-week profile (mean requests
    per hour-of-week over ``baseline.window``) summed over the hours compared. Counts are compared with the *conditional binomial
    test of two Poisson rates*: given ``O`` requests now and ``B`` in the
    baseline over the same hours-of-week, ``O ~ Binomial(O + B, E / (E + B))``
    when nothing changed (``E`` = expected). Traffic is usually noisier than
    Poisson: both counts are divided by the dispersion ``φ`` (Pearson χ² per
    degree of freedom of the baseline's days around the profile, at least 1)
    — quasi-Poisson. The daily ``φ`` is also used for hours, which is
    conservative (extra-Poisson noise grows with the counted period).
    Floors: ``|O/E − 1|`` ≥ 0.2 (warn), 0.5 (alert).
latency p50 / p95 / p99 (window and each day)
    The baseline band of the per-day percentile (``mean ± 3 sd`` of the
    baseline days; for single days the 3 is raised so that a week of days has
    the same false-alarm rate as one comparison). Only increases are judged.
    Floors: +10 % (warn), +25 % (alert) over the baseline mean.
    ``thresholds.metrics.latency_p95: {warn: 150, alert: 200}`` (ms) in
    mlmon.yaml replaces the band by fixed limits (an SLO). Percentiles are of
    the finite latencies.
<latency column>:non_finite (data quality, only when the window has any)
    Latencies logged as inf, -inf or NaN, left out of the percentiles:
    :func:`mlmon_nb.profiles.non_finite_status` of their share of the logged
    latencies — alert from 1 %, warn from 0.1 %, at least warn when the
    baseline window had none.
error_rate
    One-sided binomial test of the window's error count against the
    baseline rate, with the sample sizes divided by the band's over-dispersion
    relative to binomial noise. Floors: +25 % (warn), ×2 (alert).
    ``thresholds.metrics.error_rate`` gives fixed limits instead.
serving_version
    Share of requests served by the analysed version, against its share in
    the baseline window (100 % without one): one-sided binomial test of a
    drop. Floors: a drop of 10 points (warn), 50 points (alert); not serving
    at all is an alert.
<column>:missing_rate
    One-sided binomial test against the reference missing rate (over-dispersion
    from the ``quality/missing_rate`` band). Floors: +1 point (warn), +5 (alert).
<column>:out_of_range
    Finite values below the reference minimum or above its maximum. For
    continuous data a new value falls outside the range of ``N`` reference
    values with probability ``2 / (N + 1)``; one-sided binomial test against
    that. Floors: 0.1 % of values (warn), 1 % (alert).
<column>:unseen_categories
    Rows whose level is not among the reference's levels, checked only when
    the reference profile lists every level. The chance of an unseen level
    when nothing changed is the Good–Turing estimate ``(n1 + 1) / (N + 1)``
    (``n1`` levels seen once among ``N`` reference values); one-sided binomial
    test. Floors: 0.1 % of rows (warn), 1 % (alert).
<column>:type
    DuckDB type of the column in the window's files against the reference's:
    same family (e.g. INTEGER → BIGINT) ok, integer ↔ floating point warn,
    any other change (number ↔ string, string ↔ boolean, column gone) alert.
"""

from __future__ import annotations

from .aggregate import LogsWindow
from .analysis import analyse
from .counts import (binomial_critical_rate, binomial_excess, binomial_shortfall, dispersion_from_band,
                     overdispersion, rate_ratio_test)
from .error_rate import error_decision, error_rate
from .fitting import fit_operational, latency_edges
from .latency import band_limit, latency, non_finite_decision, slo_limit
from .policy import ALPHA, MIN_CHANGE, PERCENTILES
from .quality import good_turing_unseen, quality, type_family, type_status
from .result import (Decision, ErrorResult, LatencyResult, Limit, OperationsResult, QualityResult, TrafficResult,
                     VersionResult)
from .traffic import baseline_traffic_dispersion, compare_counts, expected_traffic, hour_of_week, profile_rates, traffic
from .versions import serving_versions

__all__ = [
    "ALPHA", "MIN_CHANGE", "PERCENTILES",
    "analyse", "fit_operational", "latency_edges", "LogsWindow",
    "OperationsResult", "TrafficResult", "LatencyResult", "ErrorResult", "VersionResult", "QualityResult",
    "Decision", "Limit",
    "hour_of_week", "expected_traffic", "profile_rates", "baseline_traffic_dispersion", "compare_counts", "traffic",
    "overdispersion", "rate_ratio_test", "binomial_excess", "binomial_shortfall", "binomial_critical_rate",
    "dispersion_from_band",
    "band_limit", "slo_limit", "latency", "non_finite_decision", "error_decision", "error_rate", "serving_versions",
    "good_turing_unseen", "type_family", "type_status", "quality",
]
