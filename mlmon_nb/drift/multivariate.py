"""Joint (multivariate) drift: a domain classifier and PCA reconstruction error against the baseline's sample.

Both see changes no single feature shows (a correlation that flips, a new
combination of values). Their null bands come from the reference sample
itself: time chunks of it against the rest (domain classifier), a held-out
half cut into chunks (PCA).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from threadpoolctl import threadpool_limits

from .. import stats
from ..baseline import Baseline
from ..config import FeaturesConfig, Thresholds
from ..errors import DataError
from ..rules import band_limits, decide, fit_band, sigmas
from .result import JointCheck, MultivariateDrift
from .rule import beyond, effective, floors, significant

DOMAIN_ROWS = 3000  # rows per side for the domain classifier
NULL_CHUNKS = 4  # reference-sample chunks compared with the rest for the classifier's null band
NULL_ROWS = 1200  # rows per side of each null comparison (its sd is rescaled to the compared size)
PCA_VARIANCE = 0.65  # share of variance the PCA keeps (NannyML's default)
PCA_MAX_ROWS = 50_000  # window rows scored by the PCA (a mean of 50k errors is precise enough)


def _level_lookup(values: pd.Series, lookup: Mapping[str, float], unknown: float) -> np.ndarray:
    """Map each value (by its string form) through ``lookup``; ``unknown`` for others, NaN when missing.

    Vectorised through the column's categories: one dictionary look-up per level, not per row.
    """
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    lut = np.array([lookup.get(str(c), unknown) for c in cat.cat.categories], dtype=float)
    raw = cat.cat.codes.to_numpy()
    out = np.full(len(values), np.nan)
    ok = raw >= 0
    out[ok] = lut[raw[ok]]
    return out


def _numbers(values: pd.Series) -> np.ndarray:
    """A numeric column as floats, its non-finite values (and anything not a number) as NaN: missing."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(x), x, np.nan)


def _encode(frames: Sequence[pd.DataFrame], numeric: Sequence[str], categorical: Sequence[str],
            reference: pd.DataFrame) -> list[np.ndarray]:
    """Numeric columns as floats (non-finite ones missing) and categories as codes of the reference's
    levels (unknown -> own code)."""
    codes = {c: {k: float(i) for i, k in enumerate(stats.level_counts(reference[c]).index[:250])}
             for c in categorical}
    out = []
    for f in frames:
        cols = [_numbers(f[c]) for c in numeric]
        cols += [_level_lookup(f[c], codes[c], 251.0) for c in categorical]  # HGB: categories < 255
        out.append(np.column_stack(cols) if cols else np.empty((len(f), 0)))
    return out


def cv_auc(X: np.ndarray, y: np.ndarray, categorical: np.ndarray, rng: np.random.Generator, folds: int = 3,
            importance: bool = False) -> tuple[float, np.ndarray | None]:
    """Out-of-fold ROC AUC of a gradient-boosted classifier; permutation AUC drop per column on the first
    held-out fold."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # scikit-learn loads with the first fit
    from sklearn.metrics import roc_auc_score  # scikit-learn loads with the first fit
    from sklearn.model_selection import StratifiedKFold  # scikit-learn loads with the first fit

    oof = np.zeros(len(y))
    drops = np.zeros(X.shape[1]) if importance else None
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    # One thread: on a few thousand rows OpenMP's start-up and contention cost more than they
    # save (ten times slower on a loaded 2-core machine).
    with threadpool_limits(limits=1):
        for k, (train, test) in enumerate(skf.split(X, y)):
            # A column with fewer than two values (all missing, constant) separates nothing, and
            # scikit-learn's binning fails on it: leave it out.
            cols = np.array([j for j in range(X.shape[1]) if _distinct_at_least(X[train, j], 2)], dtype=int)
            seed = int(rng.integers(2**31 - 1))
            if len(cols) == 0:
                oof[test] = 0.5
                continue
            clf = HistGradientBoostingClassifier(
                max_iter=30, learning_rate=0.15, max_leaf_nodes=15, min_samples_leaf=40, early_stopping=False,
                categorical_features=categorical[cols] if categorical[cols].any() else None, random_state=seed)
            clf.fit(X[train][:, cols], y[train])
            p = clf.predict_proba(X[test][:, cols])[:, 1]
            oof[test] = p
            if importance and k == 0:  # one held-out fold ranks the features well enough
                base = roc_auc_score(y[test], p)
                for j in cols:
                    Xp = X[test][:, cols]
                    pos = int(np.flatnonzero(cols == j)[0])
                    Xp[:, pos] = Xp[rng.permutation(len(test)), pos]
                    drops[j] = base - roc_auc_score(y[test], clf.predict_proba(Xp)[:, 1])
    return float(roc_auc_score(y, oof)), drops


def _distinct_at_least(values: np.ndarray, k: int) -> bool:
    return len(np.unique(values[~np.isnan(values)])) >= k


def _null_rows(n_ref: int, rows: int, null_chunks: int) -> int:
    """Rows a side of each null comparison: at most ``rows`` and NULL_ROWS, and what the chunks allow."""
    sizes = [len(b) for b in np.array_split(np.arange(n_ref), null_chunks)]
    return int(min(rows, NULL_ROWS, min(sizes), n_ref - max(sizes)))


def domain_null(sample: pd.DataFrame, features: FeaturesConfig, *, rows: int, rng: np.random.Generator,
                null_chunks: int = NULL_CHUNKS) -> dict[str, Any] | None:
    """The domain classifier's null: how well it tells the reference sample's own time chunks apart.

    The sample, in time order, is cut into ``null_chunks`` chunks and each
    chunk's rows are classified against the rest of the sample, ``m`` rows a
    side (``m`` = ``rows`` at most, and what the chunks allow). Depends on the
    baseline only, so :func:`mlmon_nb.fit.fit` stores it for ``rows`` =
    :data:`NULL_ROWS` (``manifest["multivariate"]["domain_classifier"]``) and
    a window then reuses it. None when the sample is too small.
    """
    numeric, categorical = list(features.numeric), list(features.categorical)
    ref = sample[numeric + categorical].reset_index(drop=True)
    if len(ref) < 2 * null_chunks:
        return None
    is_cat = np.array([False] * len(numeric) + [True] * len(categorical))
    (Xall,) = _encode([ref], numeric, categorical, ref)
    bounds = np.array_split(np.arange(len(ref)), null_chunks)
    m = _null_rows(len(ref), rows, null_chunks)
    if m < 25:
        return None
    aucs = []
    for b in bounds:
        rest = np.setdiff1d(np.arange(len(ref)), b, assume_unique=True)
        a = rng.choice(b, size=m, replace=False)
        r = rng.choice(rest, size=m, replace=False)
        aucs.append(cv_auc(np.vstack([Xall[r], Xall[a]]), np.r_[np.zeros(m), np.ones(m)], is_cat, rng)[0])
    return {"features": numeric + categorical, "rows_per_side": m, "null_aucs": [float(v) for v in aucs],
            "chunks": null_chunks, "sample_rows": int(len(ref))}


def domain_classifier(sample: pd.DataFrame, current: pd.DataFrame, features: FeaturesConfig, *,
                      rng: np.random.Generator, thresholds: Thresholds | None = None,
                      max_rows: int = DOMAIN_ROWS, null_chunks: int = NULL_CHUNKS,
                      null: Mapping[str, Any] | None = None) -> tuple[JointCheck, pd.Series]:
    """Can a classifier tell the window's rows from the reference's? Cross-validated ROC AUC.

    A gradient-boosted classifier learns reference-sample rows (label 0)
    against window rows (label 1), equal numbers of each (at most
    ``max_rows``); its out-of-fold ROC AUC is 0.5 when they are
    indistinguishable. The null band comes from the baseline itself
    (:func:`domain_null`: each time chunk of the reference sample against the
    rest); ``null`` is the one the baseline stored, used when it was computed
    for the same features and size, else it is computed here. The band is the
    null AUCs' mean ± 3 sd scaled to the compared size, with the sd at least
    the Mann-Whitney sd of an AUC under no difference. The p-value is that of
    the AUC's excess over the null mean in those sd. Permutation importance
    (AUC drop on a held-out fold) says which features separate them.
    """
    thr = thresholds if thresholds is not None else Thresholds()
    numeric, categorical = list(features.numeric), list(features.categorical)
    cols = numeric + categorical
    is_cat = np.array([False] * len(numeric) + [True] * len(categorical))
    ref = sample[cols].reset_index(drop=True)
    n = int(min(max_rows, len(ref) // 2, len(current)))
    if n < 50:
        raise DataError(f"domain classifier: {min(len(ref) // 2, len(current))} rows per side; at least 50 needed")
    ref_idx = np.sort(rng.choice(len(ref), size=n, replace=False))
    cur_idx = np.sort(rng.choice(len(current), size=n, replace=False))
    Xr, Xc = _encode([ref.iloc[ref_idx], current.iloc[cur_idx]], numeric, categorical, ref)
    X = np.vstack([Xr, Xc])
    y = np.r_[np.zeros(n), np.ones(n)]
    auc, drops = cv_auc(X, y, is_cat, rng, importance=True)
    m_wanted = _null_rows(len(ref), n, null_chunks)
    reuse = (null is not None and list(null.get("features", [])) == cols and null.get("rows_per_side") == m_wanted
             and null.get("chunks") == null_chunks and null.get("sample_rows") == len(ref))
    if not reuse:
        null = domain_null(sample, features, rows=n, rng=rng, null_chunks=null_chunks)
    nulls = list(null["null_aucs"]) if null else []
    m = int(null["rows_per_side"]) if null else n
    band = fit_band(nulls, [m] * len(nulls))
    sd_mw = math.sqrt((2 * n + 1) / (12.0 * n * n))
    mean = band.mean if band else 0.5
    sd_band = band.sd * math.sqrt(m / n) if band else 0.0
    sd = max(sd_band, sd_mw)
    width = sigmas(thr.band_margin)
    lo, hi = mean - width * sd, mean + width * sd
    p = float(sps.norm.sf((auc - mean) / sd))
    warn, alert = floors(thr, "domain_classifier")
    status = decide(auc, warn, alert, outside=beyond(auc, hi), significant=significant(p, thr.fdr))
    top = pd.Series(drops, index=cols).sort_values(ascending=False)
    check = JointCheck(subject="domain_classifier", method="domain_classifier", value=auc, band_low=lo, band_high=hi,
                       warn_threshold=effective(hi, warn), threshold=effective(hi, alert), p_value=p, status=status,
                       rows=2 * n,
                       details={"null_aucs": [round(v, 4) for v in nulls], "null_rows_per_side": m,
                                "null_from": "baseline" if reuse else "computed for this window",
                                "top_features": {str(k): round(float(v), 4) for k, v in top.head(5).items()}})
    return check, top


def pca_reconstruction(sample: pd.DataFrame, current: pd.DataFrame, features: FeaturesConfig, *,
                       rng: np.random.Generator, thresholds: Thresholds | None = None, chunks: int = 10,
                       variance: float = PCA_VARIANCE) -> JointCheck:
    """PCA reconstruction error of the window relative to the reference's (NannyML's data reconstruction).

    The reference sample is split at random in halves. On the first, numbers
    (non-finite ones as missing) are median-imputed and standardised,
    categories replaced by their reference share (standardised), and a PCA
    keeps ``variance`` of the variance. The second half, cut in time order
    into ``chunks`` chunks, gives the band of the mean reconstruction error
    (scaled to the window's rows); values are divided by the second half's
    mean error, so 1 means "as in the reference". When the relationships
    between features change, rows no longer lie near the reference's
    principal subspace and the error grows. The p-value is Welch's one-sided
    t-test of the window's row errors against the held-out half's.
    """
    from sklearn.decomposition import PCA  # scikit-learn loads with the first fit, not on import

    thr = thresholds if thresholds is not None else Thresholds()
    numeric, categorical = list(features.numeric), list(features.categorical)
    ref = sample[numeric + categorical].reset_index(drop=True)
    if len(ref) < 2 * chunks * 20 or len(numeric) + len(categorical) < 2:
        raise DataError("PCA reconstruction needs at least 2 features and 400 reference sample rows")
    perm = rng.permutation(len(ref))
    fit_idx, hold_idx = np.sort(perm[: len(ref) // 2]), np.sort(perm[len(ref) // 2:])
    fit = ref.iloc[fit_idx]
    numbers = {c: _numbers(fit[c]) for c in numeric}
    med = {c: float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0 for c, v in numbers.items()}
    freq = {c: (stats.level_counts(fit[c]) / max(stats.level_counts(fit[c]).sum(), 1)).to_dict() for c in categorical}

    def encode(f: pd.DataFrame) -> np.ndarray:
        cols = [np.where(np.isnan(x), med[c], x) for c, x in zip(numeric, (_numbers(f[c]) for c in numeric))]
        for c in categorical:
            shares = _level_lookup(f[c], freq[c], 0.0)  # a level never seen in the reference: share 0
            cols.append(np.where(np.isnan(shares), -1.0, shares))  # missing: its own value
        return np.column_stack(cols)

    A = encode(fit)
    mu, sd = A.mean(axis=0), A.std(axis=0)
    sd[sd == 0] = 1.0
    pca = PCA(n_components=variance, svd_solver="full", random_state=0).fit((A - mu) / sd)

    def errors(f: pd.DataFrame) -> np.ndarray:
        Z = (encode(f) - mu) / sd
        return np.linalg.norm(Z - pca.inverse_transform(pca.transform(Z)), axis=1)

    hold_err = errors(ref.iloc[hold_idx])
    scale = float(hold_err.mean())
    parts = np.array_split(np.arange(len(hold_idx)), chunks)
    band = fit_band([hold_err[p].mean() / scale for p in parts], [len(p) for p in parts])
    cur = current if len(current) <= PCA_MAX_ROWS else current.iloc[np.sort(rng.choice(len(current), PCA_MAX_ROWS,
                                                                                        replace=False))]
    cur_err = errors(cur)
    value = float(cur_err.mean() / scale)
    lo, hi = band_limits(band, len(cur_err), sigmas(thr.band_margin))
    p = float(sps.ttest_ind(cur_err, hold_err, equal_var=False, alternative="greater").pvalue)
    warn, alert = floors(thr, "pca_reconstruction")
    status = decide(value, warn, alert, outside=beyond(value, hi), significant=significant(p, thr.fdr))
    return JointCheck(subject="pca_reconstruction", method="pca_reconstruction", value=value, band_low=lo,
                      band_high=hi, warn_threshold=effective(hi, warn), threshold=effective(hi, alert), p_value=p,
                      status=status,
                      rows=len(cur_err), details={"components": int(pca.n_components_), "variance_kept": variance,
                                                  "reference_error": scale})


def multivariate(baseline: Baseline, current: pd.DataFrame, *, features: FeaturesConfig | None = None,
                 thresholds: Thresholds | None = None, rng: np.random.Generator | None = None) -> MultivariateDrift:
    """Both multivariate checks on the monitored (not ignored) features, from the baseline's sample."""
    features = features or baseline.features
    thr = thresholds if thresholds is not None else Thresholds()
    rng = rng if rng is not None else np.random.default_rng(0)
    keep = FeaturesConfig(
        numeric=tuple(f for f in features.numeric if not thr.feature(f).get("ignore")),
        categorical=tuple(f for f in features.categorical if not thr.feature(f).get("ignore")))
    checks, notes, top = [], [], pd.Series(dtype=float)
    sample = baseline.sample
    missing = [c for c in (*keep.numeric, *keep.categorical) if c not in sample.columns]
    if missing:
        return MultivariateDrift(checks=(), notes=(f"the baseline sample lacks {', '.join(missing)}: "
                                                   f"refit the baseline",))
    try:
        stored = (baseline.manifest.get("multivariate") or {}).get("domain_classifier")
        check, top = domain_classifier(sample, current, keep, rng=rng, thresholds=thr, null=stored)
        checks.append(check)
    except DataError as exc:
        notes.append(str(exc))
    try:
        checks.append(pca_reconstruction(sample, current, keep, rng=rng, thresholds=thr))
    except DataError as exc:
        notes.append(str(exc))
    return MultivariateDrift(checks=tuple(checks), top_features=top, notes=tuple(notes))
