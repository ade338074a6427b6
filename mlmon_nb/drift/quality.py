"""Data quality: the missing-rate change of every monitored feature, and its non-finite values."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..config import FeaturesConfig, Thresholds
from ..profiles import count_non_finite, non_finite_status
from ..rules import band_limits, decide, sigmas
from .result import MissingRate, NonFinite, QualityDrift
from .rule import floors, significant


def missing_rates(baseline: Baseline, current: pd.DataFrame, *, features: FeaturesConfig | None = None,
                  thresholds: Thresholds | None = None) -> QualityDrift:
    """Missing-rate change of every monitored feature against the baseline.

    The expected range is the band of the reference chunks' missing rates
    scaled to the window's rows, widened to at least the binomial noise of
    two samples at the reference rate (so a reference without missing values
    does not make one missing value an alert). A feature fires when its rate
    leaves that range, the change reaches the floor (``missing_rate`` warn 1
    point, alert 5 points) and Fisher's exact test is significant after BH
    across features. A missing value is one without a finite number (NaN,
    ``inf``, ``-inf``), as in the baseline's profile.

    Numeric features with ``inf`` or ``-inf`` among the window's values also
    get a :class:`NonFinite` record (``non_finite``), judged by
    :func:`mlmon_nb.profiles.non_finite_status` against the count the
    baseline's profile holds; those values are left out of every drift
    statistic.
    """
    features = features or baseline.features
    counts = {}
    for name in [*features.numeric, *features.categorical]:
        col = current[name]
        numeric = name in features.numeric
        finite = int(np.isfinite(col.to_numpy(dtype=float)).sum()) if numeric or \
            baseline.profile(name).get("kind") != "categorical" else 0
        missing = int(col.isna().sum()) if baseline.profile(name).get("kind") == "categorical" else len(current) - finite
        counts[name] = (missing, count_non_finite(col) if numeric else 0, finite)
    return quality_from_counts(baseline, counts, len(current), features=features, thresholds=thresholds)


def quality_from_counts(baseline: Baseline, counts: Mapping[str, tuple[int, int, int]], n: int, *,
                        features: FeaturesConfig | None = None, thresholds: Thresholds | None = None) -> QualityDrift:
    """:func:`missing_rates` from counts: per feature ``(missing, inf or -inf, finite)`` among ``n`` window rows.

    A numeric feature's missing values are those without a finite number; a categorical one's
    its NULLs (the other two counts unused).
    """
    features = features or baseline.features
    thr = thresholds if thresholds is not None else Thresholds()
    monitored = [*features.numeric, *features.categorical]
    warn_floor, alert_floor = floors(thr, "missing_rate")
    width = sigmas(thr.band_margin)
    raw, bad = [], []
    for name in features.numeric:
        _, count, finite = counts[name]
        if count:
            values = count + finite
            before = baseline.profile(name).get("non_finite")
            bad.append(NonFinite(feature=name, count=count, rows=values, reference_count=before,
                                 status=non_finite_status(count, values, before)))
    for name in monitored:
        prof = baseline.profile(name)
        p0 = float(prof.get("missing_rate") or 0.0)
        n_ref = int(prof.get("rows") or baseline.manifest["reference"]["rows"])
        k = int(counts[name][0])
        stat = stats.rate_change(p0 * n_ref, n_ref, k, n)
        lo, hi = band_limits(baseline.band("quality", "missing_rate", name), n, width, worse="up")
        pooled = (k + p0 * n_ref + 1) / (n + n_ref + 2)  # Laplace-smoothed: never zero
        se = math.sqrt(pooled * (1 - pooled) * (1 / max(n, 1) + 1 / max(n_ref, 1)))
        lo = min(lo if lo is not None else p0, p0 - width * se)
        hi = max(hi if hi is not None else p0, p0 + width * se)
        raw.append((name, p0, k / n if n else float("nan"), lo, hi, stat))
    adjusted = stats.benjamini_hochberg([r[5].p_value if r[5].p_value is not None else np.nan for r in raw])
    out = []
    for (name, p0, rate, lo, hi, stat), p_adj in zip(raw, adjusted):
        p_adj_f = float(p_adj) if np.isfinite(p_adj) else None
        status = decide(abs(rate - p0), warn_floor, alert_floor, outside=rate > hi or rate < lo,
                        significant=significant(p_adj_f, thr.fdr))
        out.append(MissingRate(feature=name, reference_rate=p0, current_rate=float(rate), rows=n,
                               low=float(max(lo, 0.0)), high=float(min(hi, 1.0)), p_value=stat.p_value,
                               p_adjusted=p_adj_f, status=status))
    return QualityDrift(features=tuple(out), fdr=thr.fdr, non_finite=tuple(bad))
