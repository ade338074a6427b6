"""Label drift (prior shift): the labelled rows' label distribution against the baseline's target profile."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..config import Thresholds
from ..rules import band_limits, decide, sigmas
from .result import LabelDrift
from .rule import beyond, effective, floors, significant

#: A finite stand-in for the infinite relative change of a positive rate from zero (decide ignores non-finite values).
_FROM_ZERO = float(np.finfo(float).max)


def label_drift(baseline: Baseline, labels, *, task: str, subject: str,
                thresholds: Thresholds | None = None) -> LabelDrift | None:
    """Compare the labelled rows' label distribution with the baseline's target profile.

    Binary: the positive rate against the reference's, exact binomial test;
    the expected range is the band of the reference chunks' positive rates
    scaled to the labelled rows, widened to at least the relative floor
    (``positive_rate`` warn 10 %, alert 25 % relative change). Multiclass: class
    shares, chi-square goodness of fit, TVD floors. Regression: KS of the
    targets against the baseline sample's. None when nothing is labelled or the
    baseline has no target profile.
    """
    thr = thresholds if thresholds is not None else Thresholds()
    y = pd.Series(labels).dropna()
    n_rows = len(labels)
    tp = baseline.manifest.get("target_profile")
    if len(y) == 0 or not tp:
        return None
    if task == "regression":
        target = baseline.manifest.get("target")
        ref = stats.NumericReference.from_values(baseline.sample[target]) if target in baseline.sample else None
        if ref is None or ref.n == 0:
            return None
        st = stats.numeric_against(ref, y.to_numpy(dtype=float), ["ks"])["ks"]
        warn, alert = floors(thr, "ks")
        status = decide(st.value, warn, alert, outside=beyond(st.value, None),
                        significant=significant(st.p_value, thr.fdr))
        shares = pd.DataFrame({"quantile": [0.1, 0.5, 0.9],
                               "baseline": np.quantile(ref.sorted, [0.1, 0.5, 0.9]),
                               "window": np.quantile(y.to_numpy(dtype=float), [0.1, 0.5, 0.9])})
        return LabelDrift(subject=subject, method="ks", value=st.value, reference=None, low=None,
                          high=effective(None, alert), p_value=st.p_value, status=status, labelled=len(y),
                          rows=n_rows, shares=shares)
    return label_counts_drift(baseline, _label_keys(y).value_counts(), n_rows, task=task, subject=subject,
                              thresholds=thr)


def label_counts_drift(baseline: Baseline, counts: pd.Series, n_rows: int, *, task: str, subject: str,
                       thresholds: Thresholds | None = None) -> LabelDrift | None:
    """:func:`label_drift` of a classifier from label counts (keys as the baseline spells them) among ``n_rows``.

    None when nothing is labelled or the baseline has no target profile.
    """
    thr = thresholds if thresholds is not None else Thresholds()
    tp = baseline.manifest.get("target_profile")
    counts = counts[counts > 0].astype(float)
    if counts.sum() == 0 or not tp:
        return None
    labelled = int(counts.sum())
    ref_shares = pd.Series(tp["frequencies"], dtype=float)
    levels = list(dict.fromkeys([*ref_shares.index, *counts.index]))
    table = pd.DataFrame({"label": levels, "baseline": ref_shares.reindex(levels, fill_value=0.0).to_numpy(),
                          "window": (counts.reindex(levels, fill_value=0.0) / counts.sum()).to_numpy()})
    if task == "binary_classification" and set(ref_shares.index) <= {"0", "1"}:
        p0 = float(ref_shares.get("1", 0.0))
        k = int(counts.get("1", 0))
        st = stats.binomial_rate(k, labelled, p0)
        warn, alert = floors(thr, "positive_rate")
        lo_b, hi_b = band_limits(baseline.band("performance", "positive_rate", "all"), labelled,
                                 sigmas(thr.band_margin))
        hi = min(max(hi_b if hi_b is not None else p0, p0 * (1 + alert)), 1.0)  # a rate stays in [0, 1]
        lo = max(min(lo_b if lo_b is not None else p0, p0 * (1 - alert)), 0.0)
        rel = abs(st.value - p0) / p0 if p0 > 0 else (_FROM_ZERO if st.value > 0 else 0.0)
        outside_band = hi_b is None or st.value > hi_b or st.value < lo_b
        status = decide(rel, warn, alert, outside=outside_band, significant=significant(st.p_value, thr.fdr))
        return LabelDrift(subject=subject, method="positive_rate", value=st.value, reference=p0, low=lo, high=hi,
                          p_value=st.p_value, status=status, labelled=labelled, rows=n_rows, shares=table)
    st = stats.shares_goodness_of_fit(table["window"].to_numpy() * labelled, table["baseline"].to_numpy())
    warn, alert = floors(thr, "class_shares")
    status = decide(st.value, warn, alert, outside=beyond(st.value, None), significant=significant(st.p_value, thr.fdr))
    return LabelDrift(subject=subject, method="class_shares", value=st.value, reference=0.0, low=None,
                      high=effective(None, alert), p_value=st.p_value, status=status, labelled=labelled, rows=n_rows,
                      shares=table)


def _label_keys(y: pd.Series) -> pd.Series:
    """Labels as the baseline's target profile spells them (integers as '0', '1', ...).

    Examples
    --------
    >>> _label_keys(pd.Series([1.0, 0.0])).tolist(), _label_keys(pd.Series(["a", "b"])).tolist()
    (['1', '0'], ['a', 'b'])
    """
    try:
        num = pd.to_numeric(y)
        if np.all(np.mod(num, 1) == 0):
            return num.astype("int64").astype(str)
    except (ValueError, TypeError):
        pass
    return y.astype(str)
