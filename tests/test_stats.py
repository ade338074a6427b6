"""Statistics against scipy (or a hand-worked case), their baseline forms, and the registry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial import distance as spd

from mlmon_nb import stats
from mlmon_nb.profiles import categorical_profile, numeric_profile, sorted_sample
from mlmon_nb.errors import UsageError

EXACT = dict(rel=1e-9, abs=1e-9)


def _tied(rng, n, shift=0.0):
    """Values with many ties (rounded to one decimal) and a few missing."""
    x = np.round(rng.normal(shift, 1.0, n), 1)
    x[rng.random(n) < 0.02] = np.nan
    return x


@pytest.mark.parametrize("n_ref,n_cur", [(300, 200), (20_000, 15_000), (4_000, 30_000)])
def test_ks_equals_scipy_with_ties(n_ref, n_cur):
    rng = np.random.default_rng(n_ref)
    r, c = _tied(rng, n_ref), _tied(rng, n_cur, 0.05)
    got = stats.ks(r, c)
    want = sps.ks_2samp(r[np.isfinite(r)], c[np.isfinite(c)])
    assert got.value == pytest.approx(want.statistic, **EXACT)
    assert got.p_value == pytest.approx(want.pvalue, **EXACT)


@pytest.mark.parametrize("n_ref,n_cur", [(800, 500), (12_000, 11_000), (3_000, 40_000)])
def test_ks_against_the_baseline_equals_scipy_on_the_raw_reference(n_ref, n_cur):
    rng = np.random.default_rng(n_cur)
    r, c = _tied(rng, n_ref), _tied(rng, n_cur, 0.1)
    ref = stats.NumericReference.from_values(r)
    got = stats.numeric_against(ref, c, ["ks", "wasserstein"])
    rf, cf = r[np.isfinite(r)], c[np.isfinite(c)]
    want = sps.ks_2samp(rf, cf)
    assert got["ks"].value == pytest.approx(want.statistic, **EXACT)
    assert got["ks"].p_value == pytest.approx(want.pvalue, **EXACT)
    w = sps.wasserstein_distance(rf, cf)
    assert got["wasserstein"].statistic == pytest.approx(w, **EXACT)
    assert got["wasserstein"].value == pytest.approx(w / np.std(rf, ddof=1), **EXACT)


@pytest.mark.parametrize("n_ref,n_cur,ties", [(800, 500, True), (12_000, 30_000, True), (30_000, 12_000, False),
                                              (15_000, 100, True)])
def test_ks_reports_where_its_largest_gap_is(n_ref, n_cur, ties):
    """Stat.where = (x, reference ECDF, current ECDF) at the largest gap, checked by brute force over
    every distinct value, at the value (right-continuous ECDFs) and just before it (left limits)."""
    rng = np.random.default_rng(n_ref + n_cur)
    r, c = (_tied(rng, n_ref), _tied(rng, n_cur, 0.08)) if ties else (rng.normal(size=n_ref),
                                                                       rng.normal(0.05, 1.0, n_cur))
    got = stats.numeric_against(stats.NumericReference.from_values(r), c, ["ks"])["ks"]
    x, f_ref, f_cur = got.where
    rf, cf = np.sort(r[np.isfinite(r)]), np.sort(c[np.isfinite(c)])
    grid = np.unique(np.r_[rf, cf])
    gaps = {}
    for side in ("right", "left"):
        fr = np.searchsorted(rf, grid, side=side) / len(rf)
        fc = np.searchsorted(cf, grid, side=side) / len(cf)
        k = int(np.argmax(np.abs(fr - fc)))
        gaps[side] = (abs(fr[k] - fc[k]), grid[k], fr[k], fc[k])
    best = max(gaps.values(), key=lambda g: g[0])
    assert abs(f_ref - f_cur) == pytest.approx(got.value, **EXACT) == pytest.approx(best[0], **EXACT)
    # The same ECDF values at the reported x on one of its two sides.
    sides = [(np.searchsorted(rf, x, side=s) / len(rf), np.searchsorted(cf, x, side=s) / len(cf))
             for s in ("right", "left")]
    assert any(a == pytest.approx(f_ref, **EXACT) and b == pytest.approx(f_cur, **EXACT) for a, b in sides)


@pytest.mark.parametrize("n_ref,n_cur", [(12_000, 30_000), (30_000, 12_000), (15_000, 100)])
def test_ks_against_the_baseline_with_heavy_ties_equals_scipy(n_ref, n_cur):
    """Large samples, heavy ties, either sample the larger: the asymptotic path at the true sizes."""
    rng = np.random.default_rng(n_ref + n_cur)
    r = np.round(rng.gamma(2.0, 3.0, n_ref), 0)  # heavy ties
    c = np.round(rng.gamma(2.1, 3.0, n_cur), 0)
    got = stats.numeric_against(stats.NumericReference.from_values(r), c, ["ks"])["ks"]
    want = sps.ks_2samp(r, c)
    assert got.value == pytest.approx(want.statistic, **EXACT)
    assert got.p_value == pytest.approx(want.pvalue, **EXACT)


def test_numeric_against_a_profile_equals_scipy():
    """The path the baseline fit uses for its chunk bands: profile + sorted values + reference rows."""
    rng = np.random.default_rng(3)
    r = pd.Series(_tied(rng, 6_000))
    c = _tied(rng, 900, 0.3)
    ref = stats.NumericReference.from_profile(sorted_sample(r.to_numpy()), numeric_profile(r), len(r))
    got = stats.numeric_against(ref, c, ["ks"])["ks"]
    want = sps.ks_2samp(r.dropna(), c[np.isfinite(c)])
    assert got.value == pytest.approx(want.statistic, **EXACT)
    assert got.p_value == pytest.approx(want.pvalue, **EXACT)


def test_ks_asymptotic_pvalue_is_scipys_formula():
    d, n1, n2 = 0.013, 250_000, 40_000
    en = round(n1 * n2 / (n1 + n2))
    assert stats.ks_pvalue(d, n1, n2) == pytest.approx(sps.kstwo.sf(d, en), **EXACT)


@pytest.mark.parametrize("en", [100_001, 250_000])
def test_ks_pvalue_at_large_sizes_agrees_with_scipys_exact_survival(en):
    """Above KS_SERIES_ABOVE the p-value comes from an expansion, not kstwo.sf (0.4-1 s a call there):
    it agrees with kstwo.sf to 1e-4 down to p = 1e-8 and within 3 % below, from p = 1 to 1e-70."""
    assert en > stats.KS_SERIES_ABOVE
    for lam in (0.3, 1.2, 1.6, 2.6, 3.4, 6.0, 9.0):  # kstwo.sf: ~0.1 s per call at 100,000 above 1.5
        d = lam / np.sqrt(en)
        got, want = stats.ks_pvalue(d, 2 * en, 2 * en), float(sps.kstwo.sf(d, en))
        assert got == pytest.approx(want, rel=1e-4 if want >= stats.KS_TAIL_BELOW else 3e-2, abs=1e-300), lam


def test_ks_on_discrete_values_hand_worked():
    # ECDFs at 1: 2/3 vs 0; at 2: 1 vs 2/3; at 3: 1 vs 1 -> D = 2/3.
    assert stats.ks([1, 1, 2], [2, 2, 3]).value == pytest.approx(2 / 3, **EXACT)


def test_wasserstein_equals_scipy_divided_by_reference_sd():
    rng = np.random.default_rng(1)
    r, c = rng.lognormal(0, 1, 3000), rng.lognormal(0.2, 1, 2000)
    got = stats.wasserstein(r, c)
    assert got.value == pytest.approx(sps.wasserstein_distance(r, c) / np.std(r, ddof=1), **EXACT)


def _right_closed_shares(values, edges):
    """Shares per bin (e[i], e[i+1]] computed with pandas.cut, independently of stats._shares."""
    cut = pd.cut(pd.Series(values), bins=edges, right=True)
    return cut.value_counts(sort=False).to_numpy() / len(values)


def test_psi_and_js_on_the_baselines_bins_equal_hand_and_scipy():
    rng = np.random.default_rng(2)
    r = np.round(rng.gamma(2.0, 10.0, 5000), 0)
    c = np.round(rng.gamma(2.3, 10.0, 3000), 0)
    prof = numeric_profile(pd.Series(r))
    ref = stats.NumericReference.from_profile(sorted_sample(r), prof)
    got = stats.numeric_against(ref, c, ["psi", "jensen_shannon"])
    edges = np.array([float(e) for e in prof["bin_edges"]])
    rs, cs = _right_closed_shares(r, edges), _right_closed_shares(c, edges)
    assert rs == pytest.approx(prof["bin_shares"], **EXACT)
    rs_f, cs_f = np.maximum(rs, 1e-4), np.maximum(cs, 1e-4)
    assert got["psi"].value == pytest.approx(float(np.sum((cs_f - rs_f) * np.log(cs_f / rs_f))), **EXACT)
    assert got["jensen_shannon"].value == pytest.approx(spd.jensenshannon(rs, cs, base=2), **EXACT)


def test_psi_hand_worked():
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5)
    want = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert stats.psi_shares([0.5, 0.5], [0.25, 0.75]) == pytest.approx(want, **EXACT)


def test_anderson_equals_scipy():
    rng = np.random.default_rng(4)
    r, c = _tied(rng, 500), _tied(rng, 400, 0.2)
    got = stats.anderson(r, c)
    want = sps.anderson_ksamp([r[np.isfinite(r)], c[np.isfinite(c)]], variant="midrank")
    assert got.value == pytest.approx(want.statistic, **EXACT)
    assert got.p_value == pytest.approx(want.pvalue, **EXACT)


def _categories(rng, n, p):
    return rng.choice(["a", "b", "c", "d"], n, p=p)


def test_chi2_equals_scipy_and_cramers_v_by_hand():
    rng = np.random.default_rng(5)
    r, c = _categories(rng, 4000, [0.4, 0.3, 0.2, 0.1]), _categories(rng, 1500, [0.35, 0.3, 0.25, 0.1])
    got = stats.chi2(r, c)
    table = pd.crosstab(np.r_[np.zeros(len(r)), np.ones(len(c))], np.r_[r, c]).to_numpy()
    want = sps.chi2_contingency(table, correction=False)
    assert got.statistic == pytest.approx(want.statistic, **EXACT)
    assert got.p_value == pytest.approx(want.pvalue, **EXACT)
    assert got.value == pytest.approx(math.sqrt(want.statistic / table.sum()), **EXACT)


def test_categorical_statistics_against_the_baseline_equal_the_raw_ones():
    rng = np.random.default_rng(6)
    r = pd.Series(_categories(rng, 3000, [0.5, 0.3, 0.15, 0.05])).astype("category")
    c = pd.Series(_categories(rng, 1200, [0.45, 0.3, 0.2, 0.05]))
    ref = stats.CategoricalReference.from_profile(categorical_profile(r))
    got = stats.categorical_against(ref, c)
    want_chi2 = stats.chi2(r, c)
    assert got["chi2"].statistic == pytest.approx(want_chi2.statistic, **EXACT)
    assert got["chi2"].p_value == pytest.approx(want_chi2.p_value, **EXACT)
    rc, cc = r.value_counts(), c.value_counts()
    levels = sorted(rc.index)
    rs = rc.reindex(levels).to_numpy() / len(r)
    cs = cc.reindex(levels, fill_value=0).to_numpy() / len(c)
    assert got["jensen_shannon"].value == pytest.approx(spd.jensenshannon(rs, cs, base=2), **EXACT)
    assert got["tvd"].value == pytest.approx(0.5 * np.abs(rs - cs).sum(), **EXACT)
    assert got["unseen"].value == 0.0


def test_tvd_and_unseen_hand_worked():
    assert stats.tvd(["a", "a", "b", "b"], ["a", "b", "b", "b"]).value == pytest.approx(0.25, **EXACT)
    assert stats.unseen(["a", "b"], ["a", "c", "c", "b"]).value == pytest.approx(0.5, **EXACT)
    ref = stats.CategoricalReference.from_values(["a", "b", "b"])
    assert stats.categorical_against(ref, ["a", "z", "z", "b"], ["unseen"])["unseen"].value == 0.5


def test_unseen_is_unknown_when_the_baseline_pooled_levels():
    ref = stats.CategoricalReference.from_values([f"l{i}" for i in range(60)], top_k=50)
    assert ref.pooled
    assert math.isnan(stats.categorical_against(ref, ["l0", "new"], ["unseen"])["unseen"].value)


def test_rate_tests_equal_scipy():
    got = stats.rate_change(12, 4000, 30, 2000)
    assert got.p_value == pytest.approx(sps.fisher_exact([[12, 3988], [30, 1970]]).pvalue, **EXACT)
    assert got.value == pytest.approx(30 / 2000 - 12 / 4000, **EXACT)
    b = stats.binomial_rate(130, 1000, 0.1)
    assert b.p_value == pytest.approx(sps.binomtest(130, 1000, 0.1).pvalue, **EXACT)


def test_benjamini_hochberg_equals_a_hand_computation():
    p = np.array([0.001, 0.04, 0.03, 0.5, np.nan, 0.02])
    got = stats.benjamini_hochberg(p)
    finite = p[np.isfinite(p)]
    order = np.argsort(finite)
    m = len(finite)
    adj = np.minimum.accumulate((finite[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    want = np.empty(m)
    want[order] = np.minimum(adj, 1)
    assert np.isnan(got[4])
    assert got[np.isfinite(p)] == pytest.approx(want, **EXACT)


def test_holm_equals_a_hand_computation():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    # sorted: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    want = {0: 0.03, 1: 0.06, 3: 0.06, 4: 0.02}
    got = stats.holm(p)
    assert np.isnan(got[2])
    for i, v in want.items():
        assert got[i] == pytest.approx(v, **EXACT)


def test_level_counts_of_a_categorical_column_merge_same_spelling():
    s = pd.Series([1, "1", "b", None, "b"], dtype=object)
    assert stats.level_counts(s).to_dict() == {"1": 2.0, "b": 2.0}
    cat = pd.Series(["x", "y", "x"], dtype="category").cat.add_categories(["never"])
    assert stats.level_counts(cat).to_dict() == {"x": 2.0, "y": 1.0}


def test_empty_samples_give_nan_not_errors():
    assert math.isnan(stats.ks([], [1.0]).value)
    assert math.isnan(stats.wasserstein([np.nan], [1.0]).value)
    assert math.isnan(stats.numeric_against(stats.NumericReference.from_values([1.0, 2.0]), [np.nan])["ks"].value)


def test_registry_lists_every_statistic_with_display_kinds_and_direction():
    df = stats.registry_df()
    assert set(df["name"]) == set(stats.REGISTRY)
    for info in stats.REGISTRY.values():
        assert info.display and info.kinds and info.warn <= info.alert
    for kind, names in (("numeric", stats.NUMERIC_BASELINE_STATS), ("categorical", stats.CATEGORICAL_BASELINE_STATS)):
        assert set(names) <= set(stats.names(kind))


def test_unknown_statistic_lists_the_registry():
    with pytest.raises(UsageError) as err:
        stats.get("kolmogorov")
    for name in stats.REGISTRY:
        assert name in str(err.value)
    with pytest.raises(UsageError, match="does not apply to numeric"):
        stats.get("chi2", "numeric")


# --------------------------------------------------------------------------- values that are not finite


def _with_non_finite(rng, x):
    """``x`` with inf, -inf and NaN mixed in at random places."""
    out = np.asarray(x, dtype=float).copy()
    idx = rng.choice(len(out), size=9, replace=False)
    out[idx[:3]], out[idx[3:6]], out[idx[6:]] = np.inf, -np.inf, np.nan
    return out


@pytest.mark.parametrize("name", sorted(stats.names("numeric")))
def test_every_numeric_statistic_equals_the_one_of_the_finite_values(name):
    rng = np.random.default_rng(61)
    ref, cur = _with_non_finite(rng, rng.normal(0, 1, 600)), _with_non_finite(rng, rng.normal(0.3, 1, 500))
    got = stats.compute(name, "numeric", ref, cur)
    want = stats.compute(name, "numeric", ref[np.isfinite(ref)], cur[np.isfinite(cur)])
    assert got == want
    base = stats.NumericReference.from_values(ref)
    assert base.n == int(np.isfinite(ref).sum())
    against = stats.numeric_against(base, cur, stats.NUMERIC_BASELINE_STATS + ("anderson",))
    assert against == stats.numeric_against(base, cur[np.isfinite(cur)], stats.NUMERIC_BASELINE_STATS + ("anderson",))
    assert all(math.isfinite(s.value) for s in against.values())


def test_ks_gap_leaves_non_finite_values_out():
    r, c = np.array([-np.inf, 1.0, 2.0, np.inf, np.inf]), np.array([1.5, 3.0, np.nan])
    assert stats.ks_gap(r, c) == stats.ks_gap(np.array([1.0, 2.0]), np.array([1.5, 3.0]))
    assert math.isnan(stats.ks_gap(np.array([np.inf]), np.array([1.0]))[0])


@pytest.mark.parametrize("call", [
    lambda: stats.rate_change(np.nan, 1000, 3, 500),
    lambda: stats.rate_change(1, np.inf, 3, 500),
    lambda: stats.binomial_rate(np.nan, 1000, 0.1),
    lambda: stats.binomial_rate(3, 1000, np.nan),
    lambda: stats.shares_goodness_of_fit([10, np.inf, 30], [0.2, 0.3, 0.5]),
    lambda: stats.shares_goodness_of_fit([10, 20, 30], [0.2, np.nan, 0.5]),
    lambda: stats.chi2_counts([10, np.inf, 30], [20, 20, 20]),
    lambda: stats.wasserstein([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], scale=np.inf),
])
def test_non_finite_counts_rates_and_scales_give_nan_not_errors(call):
    got = call()
    assert math.isnan(got.value)
    assert got.p_value is None or math.isnan(got.p_value)


def test_bin_shares_of_sorted_values_count_each_bin_as_the_binning_does():
    """Sorted values are counted per bin with a search per edge: the same shares as binning each
    value, values on the edges, below the first and above the last included."""
    from mlmon_nb.shape import bin_shares

    rng = np.random.default_rng(5)
    for n in (1, 7, 1000):
        v = np.sort(np.round(rng.normal(0, 2, n), 0))  # many values exactly on integer edges
        edges = np.array([-3.0, -1.0, 0.0, 0.0, 1.0, 2.0, 4.0])
        np.testing.assert_array_equal(bin_shares(v, edges, assume_sorted=True), bin_shares(v, edges))
