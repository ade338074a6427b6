"""Per-feature drift: each monitored feature of a window against the baseline, ranked by impact."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..config import FeaturesConfig, Thresholds
from ..errors import DataError
from ..rules import band_limits, decide, sigmas
from .over_time import over_time
from .parallel import parallel_map
from .reference import categorical_reference, methods_for, numeric_reference, stats_of, valid_count
from .result import FeatureDrift, UnivariateDrift
from .rule import Rule, beyond, effective, feature_rule, significant


def importances(baseline: Baseline) -> dict[str, float]:
    """The baseline's feature importances relative to the most important feature (empty without any)."""
    imp = (baseline.manifest.get("importance") or {}).get("values") or {}
    top = max((float(v) for v in imp.values() if v is not None and np.isfinite(v)), default=0.0)
    return {k: float(v) / top for k, v in imp.items() if top > 0 and v is not None and np.isfinite(v)}


def univariate(baseline: Baseline, current: pd.DataFrame, *, features: FeaturesConfig | None = None,
               thresholds: Thresholds | None = None, timestamp: str | None = None,
               chunk: str | None = None, start=None, end=None, statistics: Sequence[str] = ()) -> UnivariateDrift:
    """Compare every monitored feature of a window with the baseline.

    Parameters
    ----------
    baseline : Baseline
        The archived baseline (or one fitted in memory by :func:`mlmon_nb.fit.fit_frame`).
    current : DataFrame
        The window's rows.
    features : FeaturesConfig, optional
        Features to compare; the baseline's by default.
    thresholds : Thresholds, optional
        The model's validated ``thresholds`` block (defaults when None).
    timestamp, chunk : str, optional
        Timestamp column and chunk size ("1d", "12h", "1w") for the over-time
        view and the *since* of each drifted feature.
    start, end : datetime, optional
        The window's bounds (chunks start at ``start``); from the data otherwise.
    statistics : sequence of str
        Registered statistics to compute besides the decision one and its
        test, where they apply (e.g. ``("wasserstein", "psi", "anderson")``);
        shown in the table and in ``to_df()``.

    Returns
    -------
    UnivariateDrift
    """
    features = features or baseline.features
    thr = thresholds if thresholds is not None else Thresholds()
    extra = [stats.get(name).name for name in statistics]
    rules: dict[str, Rule] = {}
    tasks = []
    for kind, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        for name in names:
            if name not in baseline.manifest["profiles"]:
                raise DataError(f"feature {name!r} is monitored but not in baseline {baseline.baseline_id}; "
                                f"refit the baseline ('mlmon baseline') after changing the features")
            if name not in current.columns:
                raise DataError(f"feature {name!r} is not a column of the window; columns: "
                                f"{', '.join(map(str, current.columns[:30]))}")
            rules[name] = feature_rule(thr, name, kind)
            tasks.append((name, kind, rules[name], current[name]))

    def measure(task):
        name, kind, rule, values = task
        ref = numeric_reference(baseline, name) if kind == "numeric" else categorical_reference(baseline, name)
        figures = stats_of(kind, ref, values, methods_for(kind, rule.method, extra))
        return name, kind, rule, figures, valid_count(kind, values)

    computed = parallel_map(measure, tasks)
    adjusted = stats.benjamini_hochberg([
        np.nan if rule.ignore or figures[rule.test].p_value is None else figures[rule.test].p_value
        for _, _, rule, figures, _ in computed])
    grid = None
    if timestamp is not None and chunk is not None and timestamp in current.columns and len(current):
        grid = over_time(baseline, current, rules, thr, timestamp=timestamp, chunk=chunk, start=start, end=end)
    imp = importances(baseline)
    width = sigmas(thr.band_margin)
    out = []
    for (name, kind, rule, figures, rows), p_adj in zip(computed, adjusted):
        stat = figures[rule.method]
        value = float(stat.value)
        lo, hi = band_limits(baseline.band("drift", rule.method, name), rows, width)
        p_adj_f = float(p_adj) if np.isfinite(p_adj) else None
        status = decide(value, rule.warn, rule.alert, outside=beyond(value, hi),
                        significant=significant(p_adj_f, thr.fdr))
        if rule.ignore:
            status = "ok"
        alert_thr = effective(hi, rule.alert)
        importance = imp.get(name) if imp else None
        ratio = value / alert_thr if alert_thr and np.isfinite(value) else float("nan")
        out.append(FeatureDrift(
            feature=name, kind=kind, method=rule.method, value=value, band_low=lo, band_high=hi,
            warn_threshold=effective(hi, rule.warn), threshold=alert_thr, test=rule.test,
            p_value=figures[rule.test].p_value, p_adjusted=p_adj_f, status=status, rows=rows, importance=importance,
            impact=float(ratio * importance) if importance is not None and np.isfinite(ratio) else None,
            since=grid.since(name, status) if grid is not None and status != "ok" else None,
            ignored=rule.ignore, reference_missing=float(baseline.profile(name).get("missing_rate") or 0.0),
            current_missing=float(pd.Series(current[name]).isna().mean()) if len(current) else 0.0,
            figures={k: float(v.value) for k, v in figures.items()},
            gap=figures["ks"].where if "ks" in figures else None))
    return UnivariateDrift(features=tuple(out), fdr=thr.fdr, baseline=baseline, current=current, over_time=grid,
                           has_importance=bool(imp), statistics=tuple(extra))
