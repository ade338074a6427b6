"""Attribution drift: the three figures per feature against bands from the baseline's own chunks.

``attribution_share``
    the feature's share of the total mean |SHAP|. Band: mean ± k sd of the chunk
    shares, sd scaled to the window's size (sqrt(chunk rows / window rows)); the
    effect is the absolute change in share. Shares are relative (one feature's
    growth shrinks every other share), so this figure fires only when the feature's
    own mean |SHAP| also left its band (built the same way) in the same direction.
``attribution_distance``
    Wasserstein distance between the window's and the baseline's per-row SHAP values
    of the feature, divided by the baseline's total mean |SHAP| (so 0.05 = the
    feature's attributions moved by 5% of the model's typical total attribution).
    Band: mean + k sd of chunk-against-rest distances, each rescaled to the
    window's comparison by sqrt((1/w + 1/n) / (1/m + 1/(n - m))) (how a two-sample
    distance shrinks with sample sizes under no drift).
``attribution_reliance`` (needs labels)
    the slope rho of ``logit P(y) = f(x) - phi_j(x) + rho * phi_j(x)`` (see
    :mod:`mlmon_nb.explain.reliance`). Band: baseline rho ± k * sqrt(od * (se_w² + se_b²))
    with the standard errors from the likelihood and ``od`` >= 1 the over-dispersion the
    baseline chunks show (variance of chunk rho over their mean squared standard
    error, median over features).

A figure fires when it is outside its band **and** its effect reaches the figure's
practical floor (:func:`mlmon_nb.rules.decide`). k is :func:`mlmon_nb.rules.family_sigmas`
of the number of features (3 sd for one, 3.58 for 8: a window without any change trips
some feature's band about as rarely as one 3-sd band would), plus
``thresholds.band_margin``. The feature's status is the worst of its figures; the check
reports the deciding one (all ok: the figure closest to its alert floor).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm, wasserstein_distance

from ..checks import SEVERITY
from ..config import Thresholds
from ..errors import UsageError
from ..rules import decide, family_sigmas, fit_band
from .attributions import Attribution
from .methods import METHOD_ORDER, method_limits
from .reliance import NO_RELIANCE, reliance, target_array
from .result import AttributionDriftResult, FeatureAttributionDrift

N_CHUNKS = 10
"""Time-ordered chunks of the explained baseline rows the bands come from."""
MIN_CHUNK_ROWS = 30
"""Fewest rows per chunk: fewer chunks when the baseline rows are few."""


def _rescaled_distance(a: np.ndarray, b: np.ndarray, w: int, n: int) -> float:
    """Wasserstein distance of a chunk against the rest, rescaled to a window of w rows against n."""
    m, rest = len(a), len(b)
    if m == 0 or rest == 0:
        return float("nan")
    factor = math.sqrt((1 / w + 1 / n) / (1 / m + 1 / rest))
    return float(wasserstein_distance(a, b)) * factor


def attribution_drift(baseline: Attribution, window: Attribution, *, baseline_target=None, window_target=None,
                      task: str = "binary_classification", n_chunks: int = N_CHUNKS,
                      thresholds: Thresholds | None = None) -> AttributionDriftResult:
    """Compare a window's attributions with the baseline's (rule in the module docstring).

    Parameters
    ----------
    baseline, window : Attribution
        Attributions of baseline rows (in time order: chunks are consecutive rows) and of
        window rows, from the same explainer.
    baseline_target, window_target : array-like, optional
        Outcomes of those rows (NaN where unknown); without them no outcome reliance.
    task : str
        The model's task.
    n_chunks : int
        Chunks of the baseline rows the bands come from.
    thresholds : Thresholds, optional
        The model's thresholds (``band_margin``, ``methods.<name>.warn/alert``).

    Returns
    -------
    AttributionDriftResult
    """
    if list(baseline.values.columns) != list(window.values.columns):
        raise UsageError("attribution_drift: baseline and window attributions explain different features")
    if not isinstance(n_chunks, int) or n_chunks < 3:
        raise UsageError(f"The 'n_chunks' parameter of attribution_drift must be an int >= 3. "
                         f"Got {n_chunks!r} instead.")
    thresholds = thresholds if thresholds is not None else Thresholds()
    limits = method_limits(thresholds)
    cols = list(baseline.values.columns)
    sigmas = family_sigmas(len(cols)) + thresholds.band_margin
    n, w = len(baseline), len(window)
    yb = target_array(baseline_target, n) if baseline_target is not None else None
    yw = target_array(window_target, w) if window_target is not None else None
    chunks = [c for c in np.array_split(np.arange(n), min(n_chunks, max(n // MIN_CHUNK_ROWS, 1))) if len(c)]

    imp_b, imp_w = baseline.values.abs().mean(), window.values.abs().mean()
    share_b, share_w = baseline.shares(), window.shares()
    rank_b = imp_b.rank(ascending=False, method="first").astype(int)
    rank_w = imp_w.rank(ascending=False, method="first").astype(int)
    total = float(imp_b.sum()) or 1.0
    vb = baseline.values.to_numpy()
    vw = window.values.to_numpy()
    chunk_shares = [baseline.take(c).shares() for c in chunks]
    rows_of = [len(c) for c in chunks]

    can_rely = (task in ("binary_classification", "regression") and yb is not None and yw is not None
                and baseline.output is not None and window.output is not None)
    rel_b, rel_w, od_ratios = {}, {}, []
    if can_rely:
        for j, c in enumerate(cols):
            rel_b[c] = reliance(baseline.output, vb[:, j], yb, task)
            rel_w[c] = reliance(window.output, vw[:, j], yw, task)
            parts = [reliance(baseline.output[ix], vb[ix, j], yb[ix], task) for ix in chunks]
            vals = np.array([r.value for r in parts])
            ses = np.array([r.se for r in parts])
            ok = np.isfinite(vals) & np.isfinite(ses)
            if ok.sum() >= 3:
                od_ratios.append(float(np.var(vals[ok], ddof=1) / np.mean(ses[ok] ** 2)))
    od = max(1.0, float(np.median(od_ratios))) if od_ratios else 1.0

    out = []
    for j, c in enumerate(cols):
        sb = fit_band([s[c] for s in chunk_shares], rows_of, scales_with_size=True)
        s_lo, s_hi = sb.limits(w, sigmas) if sb else (float("nan"), float("nan"))
        s_eff = abs(float(share_w[c] - share_b[c]))
        ib = fit_band([np.abs(vb[ix, j]).mean() for ix in chunks], rows_of, scales_with_size=True)
        i_lo, i_hi = ib.limits(w, sigmas) if ib else (float("nan"), float("nan"))
        # A share also moves when *another* feature's attribution grows: it fires only when the
        # feature's own mean |SHAP| left its band in the same direction.
        own = (share_w[c] > s_hi and imp_w[c] > i_hi) or (share_w[c] < s_lo and imp_w[c] < i_lo)
        s_status = decide(s_eff, *limits["attribution_share"], outside=sb is not None and ib is not None and bool(own))

        dist = float(wasserstein_distance(vw[:, j], vb[:, j])) / total if w and n else float("nan")
        d_vals = [_rescaled_distance(vb[ix, j], np.delete(vb[:, j], ix), max(w, 1), n) / total for ix in chunks]
        db = fit_band(d_vals, rows_of, scales_with_size=False)
        d_hi = db.limits(None, sigmas)[1] if db else float("nan")
        d_status = decide(dist, *limits["attribution_distance"], outside=db is not None and dist > d_hi)

        r_b, r_w = rel_b.get(c, NO_RELIANCE), rel_w.get(c, NO_RELIANCE)
        if np.isfinite(r_b.value) and np.isfinite(r_w.value):
            sd = math.sqrt(od * (r_b.se ** 2 + r_w.se ** 2))
            r_lo, r_hi = r_b.value - sigmas * sd, r_b.value + sigmas * sd
            r_eff = abs(r_w.value - r_b.value)
            r_p = float(2 * norm.sf(r_eff / sd)) if sd > 0 else float("nan")
            r_status = decide(r_eff, *limits["attribution_reliance"], outside=not (r_lo <= r_w.value <= r_hi))
        else:
            r_lo = r_hi = r_eff = r_p = float("nan")
            r_status = "ok"

        comps = {"attribution_reliance": (r_status, r_eff), "attribution_distance": (d_status, dist),
                 "attribution_share": (s_status, s_eff)}
        worst = max(SEVERITY[s] for s, _ in comps.values())
        if worst > 0:
            method = next(m for m in METHOD_ORDER if SEVERITY[comps[m][0]] == worst)
        else:  # all ok: report the figure closest to its alert floor
            method = max((m for m in METHOD_ORDER if np.isfinite(comps[m][1])),
                         key=lambda m: comps[m][1] / limits[m][1], default="attribution_distance")
        status, effect = comps[method]
        out.append(FeatureAttributionDrift(
            feature=c, status=status, method=method, effect=float(effect), threshold=limits[method][1],
            rank_baseline=int(rank_b[c]), rank_window=int(rank_w[c]),
            importance_baseline=float(imp_b[c]), importance_window=float(imp_w[c]),
            share_baseline=float(share_b[c]), share_window=float(share_w[c]), share_low=float(s_lo),
            share_high=float(s_hi), share_status=s_status, distance=dist, distance_high=float(d_hi),
            distance_status=d_status, reliance_baseline=float(r_b.value), reliance_window=float(r_w.value),
            reliance_low=float(r_lo), reliance_high=float(r_hi), reliance_p=float(r_p), reliance_status=r_status,
            mean_baseline=float(baseline.values[c].mean()) if n else float("nan"),
            mean_window=float(window.values[c].mean()) if w else float("nan")))
    return AttributionDriftResult(
        features=tuple(out), baseline=baseline, window=window, baseline_target=yb, window_target=yw, task=task,
        limits=limits, sigmas=sigmas, overdispersion=od, chunks=len(chunks),
        labelled_window_rows=int(np.isfinite(yw).sum()) if yw is not None else 0,
        labelled_baseline_rows=int(np.isfinite(yb).sum()) if yb is not None else 0)
