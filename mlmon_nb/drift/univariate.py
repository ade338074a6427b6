"""Per-feature drift: each monitored feature of a window against the baseline, ranked by impact."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..config import FeaturesConfig, Thresholds
from ..errors import DataError
from ..checks import SEVERITY
from ..rules import band_limits, decide, sigmas
from .over_time import over_time
from .parallel import parallel_map
from .reference import categorical_reference, methods_for, numeric_reference
from .result import FeatureDrift, Part, TimeDrift, UnivariateDrift
from .rule import Rule, beyond, bounded, effective, feature_rule, significant, test_of
from .units import categorical_units, numeric_units


def importances(baseline: Baseline) -> dict[str, float]:
    """The baseline's feature importances relative to the most important feature (empty without any)."""
    imp = (baseline.manifest.get("importance") or {}).get("values") or {}
    top = max((float(v) for v in imp.values() if v is not None and np.isfinite(v)), default=0.0)
    return {k: float(v) / top for k, v in imp.items() if top > 0 and v is not None and np.isfinite(v)}


def _part(baseline: Baseline, name: str, kind: str, method: str, warn: float, alert: float,
          figures: dict[str, stats.Stat], rows: int, width: float, p_adjusted: float | None, fdr: float) -> Part:
    """One part of a feature's decision: its statistic against its band and floors."""
    value = float(figures[method].value)
    band = baseline.band("drift", method, name)
    lo, hi = band_limits(band, rows, width, worse="up")
    hi, moved = bounded(hi, alert, method)
    p_adj = float(p_adjusted) if p_adjusted is not None and np.isfinite(p_adjusted) else None
    status = decide(value, warn, alert, outside=beyond(value, hi), significant=significant(p_adj, fdr))
    samp, between = band.noise(rows) if band is not None else (None, None)
    return Part(method=method, value=value, band_low=lo, band_high=hi, warn_threshold=effective(hi, warn),
                threshold=effective(hi, alert), test=test_of(method, kind), p_adjusted=p_adj, status=status,
                sampling_sd=samp, between_sd=between, note=moved,
                compared_with=band.compared_with("up") if band is not None else None)


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
        # The window's values are digested once per feature (sorted, or counted per level); the
        # statistics and the figures in the feature's units share that.
        name, kind, rule, values = task
        wanted = [m for m, _, _ in rule.parts]
        methods = methods_for(kind, wanted[0], [*wanted[1:], *extra])
        if kind == "numeric":
            ref = numeric_reference(baseline, name)
            c = pd.Series(values).to_numpy(dtype=float)
            c = np.sort(c[np.isfinite(c)])
            figures = stats.numeric_against(ref, c, methods, assume_sorted=True)
            return name, kind, rule, figures, len(c), numeric_units(ref, c)
        ref = categorical_reference(baseline, name)
        counted = stats.level_counts(values)
        figures = stats.categorical_against(ref, None, methods, counts=ref.counts_from(counted))
        return name, kind, rule, figures, int(counted.sum()), categorical_units(ref, counted)

    computed = parallel_map(measure, tasks, values=len(current) * len(tasks))
    grid = None
    if timestamp is not None and chunk is not None and timestamp in current.columns and len(current):
        grid = over_time(baseline, current, rules, thr, timestamp=timestamp, chunk=chunk, start=start, end=end)
    missing = {name: float(pd.Series(current[name]).isna().mean()) if len(current) else 0.0 for name in rules}
    return decide_features(baseline, computed, thr, current=current, over_time=grid, missing=missing,
                           statistics=extra)


def decide_features(baseline: Baseline, computed: Sequence[tuple], thr: Thresholds, *, current: pd.DataFrame,
                    over_time: TimeDrift | None, missing: Mapping[str, float],
                    statistics: Sequence[str] = ()) -> UnivariateDrift:
    """Every feature's decision from its figures (the in-memory and the summary path alike).

    ``computed`` holds ``(name, kind, rule, figures, valid rows, units)`` per feature;
    ``missing`` each feature's missing share in the window; ``current`` the rows the result's
    plots draw (the window, or a sample of it).
    """
    grid = over_time
    # Every test behind every part of every feature, corrected together (Benjamini-Hochberg).
    keys = [(i, t) for i, (_, kind, rule, _, _, _) in enumerate(computed)
            for t in dict.fromkeys(test_of(m, kind) for m, _, _ in rule.parts)]
    raw = [np.nan if computed[i][2].ignore or computed[i][3][t].p_value is None else computed[i][3][t].p_value
           for i, t in keys]
    adjusted = dict(zip(keys, stats.benjamini_hochberg(raw)))
    imp = importances(baseline)
    width = sigmas(thr.band_margin)
    out = []
    for i, (name, kind, rule, figures, rows, units) in enumerate(computed):
        parts = [_part(baseline, name, kind, m, warn, alert, figures, rows, width, adjusted.get((i, test_of(m, kind))),
                       thr.fdr) for m, warn, alert in rule.parts]
        decided = max(parts, key=lambda p: SEVERITY[p.status])  # the first part on ties: KS
        status = "ok" if rule.ignore else decided.status
        importance = imp.get(name) if imp else None
        ratio = decided.value / decided.threshold if decided.threshold and np.isfinite(decided.value) else float("nan")
        out.append(FeatureDrift(
            feature=name, kind=kind, method=decided.method, value=decided.value, band_low=decided.band_low,
            band_high=decided.band_high, warn_threshold=decided.warn_threshold, threshold=decided.threshold,
            test=decided.test, p_value=figures[decided.test].p_value, p_adjusted=decided.p_adjusted, status=status,
            rows=rows, importance=importance,
            impact=float(ratio * importance) if importance is not None and np.isfinite(ratio) else None,
            since=grid.since(name, status) if grid is not None and status != "ok" else None,
            ignored=rule.ignore, reference_missing=float(baseline.profile(name).get("missing_rate") or 0.0),
            current_missing=float(missing.get(name, 0.0)),
            figures={k: float(v.value) for k, v in figures.items()},
            gap=figures["ks"].where if "ks" in figures else None,
            parts=tuple(parts), units=units,
            tail=figures["tail"].detail if "tail" in figures else None))
    return UnivariateDrift(features=tuple(out), fdr=thr.fdr, baseline=baseline, current=current, over_time=grid,
                           has_importance=bool(imp), statistics=tuple(statistics))
