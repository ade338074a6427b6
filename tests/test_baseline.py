"""Tests of mlmon_nb.baseline, fit, profiles and metrics: profiles, performance, bands, the archive format, bad inputs.

Figures are checked against numpy, pandas, scipy and scikit-learn computed
here, and against planted properties of small synthetic projects.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from mlmon_nb import baseline as bl, metrics, profiles, rules
from mlmon_nb import fit as fitting
from mlmon_nb.config import load_project
from mlmon_nb.errors import ArchiveError, DataError

from conftest import make_frame, write_project

# --------------------------------------------------------------------------- profiles


def test_numeric_profile_matches_numpy_and_pandas():
    rng = np.random.default_rng(0)
    s = pd.Series(rng.lognormal(3.0, 0.5, 5000))
    s[rng.random(5000) < 0.05] = np.nan
    prof = profiles.numeric_profile(s)
    fin = s.dropna()
    assert prof["missing_rate"] == pytest.approx(s.isna().mean())
    assert prof["quantiles"] == pytest.approx(fin.quantile(np.linspace(0, 1, 101)).tolist())
    assert (prof["mean"], prof["std"]) == pytest.approx((fin.mean(), fin.std()))
    assert (prof["min"], prof["max"], prof["distinct"]) == (fin.min(), fin.max(), fin.nunique())
    edges = profiles.edges_of(prof)
    shares = pd.cut(fin, edges, right=True).value_counts(normalize=True, sort=False).to_numpy()
    assert prof["bin_shares"] == pytest.approx(shares)
    assert prof["bin_shares"] == pytest.approx([0.1] * 10, abs=0.002)  # quantile bins: equal shares
    assert not prof["constant"] and "note" not in prof


def test_infinite_values_count_as_missing():
    prof = profiles.numeric_profile(pd.Series([1.0, 2.0, np.inf, -np.inf, np.nan, 3.0]))
    assert prof["missing_rate"] == pytest.approx(0.5)
    assert (prof["min"], prof["max"]) == (1.0, 3.0)


def test_bin_shares_are_right_closed_like_pandas_cut():
    edges = np.array([-np.inf, 1.0, 2.0, np.inf])
    values = np.array([0.0, 1.0, 1.5, 2.0, 3.0, np.nan])
    expected = pd.Series(pd.cut(values, edges, right=True)).value_counts(normalize=True, sort=False).to_numpy()
    assert profiles.bin_shares(values, edges) == pytest.approx(expected)
    assert profiles.bin_shares(values, edges) == pytest.approx([0.4, 0.4, 0.2])
    assert profiles.bin_shares(np.array([np.nan]), edges) == pytest.approx([0, 0, 0])


def test_bin_edges_are_unique_quantiles_with_open_ends():
    assert profiles.bin_edges(np.full(100, 7.0)).tolist() == [-np.inf, 7.0, np.inf]
    assert profiles.bin_edges(np.array([np.nan])).tolist() == [-np.inf, np.inf]
    v = np.random.default_rng(1).normal(size=1000)
    edges = profiles.bin_edges(v)
    assert edges[1:-1] == pytest.approx(np.quantile(v, np.linspace(0.1, 0.9, 9)))


def test_sorted_sample_is_exact_below_the_cap_and_within_one_over_cap_above():
    rng = np.random.default_rng(2)
    small = rng.normal(size=500)
    assert np.array_equal(profiles.sorted_sample(np.append(small, np.nan), cap=1000), np.sort(small))
    big = rng.lognormal(0, 1, 100_000)
    sub = profiles.sorted_sample(big, cap=1000)
    assert len(sub) == 1000 and np.all(np.diff(sub) >= 0)
    assert stats.ks_2samp(big, sub).statistic <= 1 / 1000 + 1e-12


def test_categorical_profile_keeps_top_k_and_pools_the_rest():
    rng = np.random.default_rng(3)
    values = pd.Series(rng.zipf(1.6, 20_000).astype(str), dtype=object)
    values[rng.random(20_000) < 0.02] = None
    prof = profiles.categorical_profile(values, top_k=50)
    counts = values.value_counts()
    assert prof["cardinality"] == len(counts)
    assert prof["missing_rate"] == pytest.approx(values.isna().mean())
    assert list(prof["frequencies"]) == counts.index[:50].tolist()
    assert list(prof["frequencies"].values()) == pytest.approx((counts[:50] / counts.sum()).tolist())
    assert prof["other_share"] == pytest.approx(counts[50:].sum() / counts.sum())
    assert "top 50 kept" in prof["note"]


def test_category_shares_pool_unknown_levels_as_other():
    prof = profiles.categorical_profile(pd.Series(["a"] * 6 + ["b"] * 4))
    ref, cur, levels = profiles.category_shares(pd.Series(["a", "b", "b", "z", None]), prof)
    assert levels == ["a", "b", "(other)"]
    assert ref == pytest.approx([0.6, 0.4, 0.0])
    assert cur == pytest.approx([0.25, 0.5, 0.25])


# --------------------------------------------------------------------------- performance


def test_binary_performance_matches_sklearn():
    rng = np.random.default_rng(4)
    y = (rng.random(3000) < 0.2).astype(int)
    p = np.clip(0.2 + 0.25 * (y - 0.2) + rng.normal(0, 0.15, 3000), 0.001, 0.999)
    got = metrics.performance("binary_classification", y, p, threshold=0.3)
    pred = (p >= 0.3).astype(int)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert got["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert (got["positive_rate"], got["mean_prediction"]) == pytest.approx((y.mean(), p.mean()))


def test_binary_performance_with_one_class_is_nan_not_an_error():
    got = metrics.performance("binary_classification", np.zeros(50), np.full(50, 0.1))
    assert math.isnan(got["roc_auc"]) and math.isnan(got["pr_auc"])
    assert got["precision"] == 0.0 and got["accuracy"] == 1.0


def test_expected_calibration_error_hand_worked():
    # Two equal-count bins: {0.1, 0.2} with no positive, {0.3, 0.4} all positive.
    p = np.array([0.1, 0.2, 0.3, 0.4])
    y = np.array([0, 0, 1, 1])
    assert metrics.expected_calibration_error(y, p, bins=2) == pytest.approx(0.5 * 0.15 + 0.5 * 0.65)


def test_multiclass_and_regression_match_sklearn():
    rng = np.random.default_rng(5)
    P = rng.dirichlet([1, 1, 1], 500)
    y = rng.integers(0, 3, 500)
    got = metrics.performance("multiclass_classification", y, P)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, P.argmax(1)))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, P.argmax(1), average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, P))
    t = rng.normal(size=500)
    pred = t + rng.normal(0, 0.5, 500)
    got = metrics.performance("regression", t, pred)
    assert got["mae"] == pytest.approx(np.mean(np.abs(t - pred)))
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((t - pred) ** 2)))
    assert got["r2"] == pytest.approx(skm.r2_score(t, pred))


def test_bootstrap_interval_covers_the_planted_auc():
    # Scores N(1, 1) for positives and N(0, 1) for negatives: the true AUC is Phi(1 / sqrt(2)).
    rng = np.random.default_rng(6)
    y = (rng.random(3000) < 0.3).astype(int)
    score = rng.normal(y.astype(float), 1.0)
    p = 1 / (1 + np.exp(-score))
    out = metrics.bootstrap_performance("binary_classification", y, p, 0.5, np.random.default_rng(0), n_boot=100)
    true_auc = stats.norm.cdf(1 / math.sqrt(2))
    assert out["roc_auc"]["ci_low"] < true_auc < out["roc_auc"]["ci_high"]
    assert out["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, p))
    assert out["positive_rate"]["ci_low"] < 0.3 < out["positive_rate"]["ci_high"]


def test_bootstrap_interval_from_a_sample_is_widened_to_all_rows():
    rng = np.random.default_rng(7)
    n = 40_000
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(0.3 + rng.normal(0, 0.1, n), 0.01, 0.99)
    out = metrics.bootstrap_performance("binary_classification", y, p, 0.5, np.random.default_rng(1), n_boot=100,
                                   max_rows=4000)
    width = out["positive_rate"]["ci_high"] - out["positive_rate"]["ci_low"]
    analytic = 2 * 1.96 * math.sqrt(y.mean() * (1 - y.mean()) / n)  # the interval of all n rows
    assert width == pytest.approx(analytic, rel=0.3)


# --------------------------------------------------------------------------- bands


def test_band_limits_scale_with_rows_as_documented():
    band = rules.Band(mean=0.1, sd=0.02, low_seen=0.07, high_seen=0.13, chunk_rows=500, n_chunks=12)
    assert band.limits() == pytest.approx((0.1 - 3 * 0.02, 0.1 + 3 * 0.02))
    assert band.limits(2000) == pytest.approx((0.1 - 3 * 0.02 * 0.5, 0.1 + 3 * 0.02 * 0.5))
    assert band.limits(2000, sigmas=2) == pytest.approx((0.1 - 2 * 0.01, 0.1 + 2 * 0.01))
    fixed = rules.Band(mean=700, sd=50, low_seen=600, high_seen=800, chunk_rows=700, n_chunks=12,
                    scales_with_size=False)
    assert fixed.limits(70_000) == fixed.limits() == pytest.approx((550, 850))


def test_band_from_values_uses_mean_sd_and_median_rows():
    values = [0.10, 0.12, 0.08, np.nan, 0.11]
    band = rules.fit_band(values, [500, 510, 490, 500, 520])
    finite = np.array([0.10, 0.12, 0.08, 0.11])
    assert (band.mean, band.sd) == pytest.approx((finite.mean(), finite.std(ddof=1)))
    assert (band.low_seen, band.high_seen, band.n_chunks) == (0.08, 0.12, 4)
    assert band.chunk_rows == np.median([500, 510, 490, 520])
    assert rules.fit_band([0.1, np.nan, 0.2], [1, 1, 1]) is None


# --------------------------------------------------------------------------- a fitted project

def _project(root: Path, reference: pd.DataFrame, logs: pd.DataFrame | None = None, **model_extra):
    (root / "data/logs").mkdir(parents=True)
    reference.to_parquet(root / "data/reference.parquet")
    if logs is None:
        logs = make_frame(200, "2026-10-05", np.random.default_rng(99))
    logs.to_parquet(root / "data/logs/part.parquet")
    return load_project(write_project(root, model_extra=model_extra))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A baseline of a 6,000-row reference (10% of prices missing) and two weeks of logs."""
    rng = np.random.default_rng(8)
    ref = make_frame(6000, "2026-08-01", rng)
    ref.loc[rng.random(6000) < 0.1, "price"] = np.nan
    logs = make_frame(2 * 7 * 144 + 300, "2026-10-05", rng)
    n = len(logs)
    logs["latency_ms"] = rng.lognormal(np.log(40), 0.5, n).round(1)
    logs["error_code"] = np.where(rng.random(n) < 0.02, "timeout", np.where(rng.random(n) < 0.5, "", None))
    logs.loc[rng.random(n) < 0.2, "model_version"] = "0"
    project = _project(tmp_path_factory.mktemp("bl") / "p", ref, logs,
                       operational={"latency_ms": "latency_ms", "error": "error_code"},
                       version_column="model_version", baseline={"window": "2026-10-05/2026-10-19"})
    return project, ref, logs, fitting.fit(project, "m", "1", baseline_id="20261020T000000Z")


def test_fitted_profiles_and_performance(fitted):
    _, ref, _, base = fitted
    m = base.manifest
    assert m["schema"] == bl.SCHEMA and m["reference"]["rows"] == 6000
    assert base.profile("price")["missing_rate"] == pytest.approx(ref["price"].isna().mean())
    assert base.profile("device")["frequencies"] == pytest.approx(
        ref["device"].value_counts(normalize=True).to_dict())
    assert m["performance"]["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(ref["clicked"], ref["score"]))
    assert m["chunks"]["n"] == 12 and m["chunks"]["rows"] == 500  # at most 6,000 / 500 chunks
    assert list(base.numeric_df()["feature"]) == ["price", "user_tenure_days"]  # most missing first


def test_a_reference_above_the_fit_limit_is_sampled_by_day_and_label_never_read_whole(fitted, monkeypatch):
    project, ref, _, full = fitted
    monkeypatch.setattr(fitting, "FIT_ROWS", 4000)

    def whole_read(*args, **kwargs):
        raise AssertionError("the reference was read whole")

    monkeypatch.setattr(fitting, "read_reference", whole_read)
    base = fitting.fit(project, "m", "1", baseline_id="20261020T000000Z")
    m = base.manifest
    assert m["reference"]["rows"] == 6000 and m["reference"]["fingerprint"] == full.manifest["reference"]["fingerprint"]
    assert m["reference"]["sampled"] == {"rows": 4000, "of": 6000, "strata": "day and label", "seed": 0}
    assert any("has 6,000 rows: the baseline was fitted on a seeded sample of 4,000" in n for n in m["notes"])
    assert m["chunks"]["n"] * m["chunks"]["rows"] <= 4000 < full.manifest["chunks"]["n"] * full.manifest["chunks"]["rows"]
    # stratified: every day and the label's share kept in proportion (independent count on the rows)
    days = ref["ts"].dt.floor("D")
    sample = base.sample
    assert sample["ts"].dt.floor("D").nunique() == days.nunique()
    assert sample["clicked"].mean() == pytest.approx(ref["clicked"].mean(), abs=0.003)
    # the same figures within sampling error of the full fit
    assert base.profile("price")["missing_rate"] == pytest.approx(ref["price"].isna().mean(), abs=0.02)
    assert m["performance"]["roc_auc"]["value"] == pytest.approx(full.manifest["performance"]["roc_auc"]["value"],
                                                                  abs=0.03)
    assert fitting.fit(project, "m", "1", baseline_id="20261020T000000Z").manifest["reference"] == m["reference"]


def test_a_baseline_window_above_the_fit_limit_keeps_the_whole_windows_fingerprint(small_project, monkeypatch):
    project = load_project(small_project[0])
    window = (pd.Timestamp("2026-10-05", tz="UTC").to_pydatetime(), pd.Timestamp("2026-11-02", tz="UTC").to_pydatetime())
    whole = fitting.fit(project, "m", "1", window=window).manifest["reference"]
    monkeypatch.setattr(fitting, "FIT_ROWS", 2500)
    sampled = fitting.fit(project, "m", "1", window=window).manifest["reference"]
    assert sampled["sampled"] == {"rows": 2500, "of": whole["rows"], "strata": "day and label", "seed": 0}
    assert sampled["rows"] == whole["rows"] and sampled["fingerprint"] == whole["fingerprint"]


def test_missing_rate_band_matches_binomial_noise(fitted):
    base = fitted[3]
    band = base.band("quality", "missing_rate", "price")
    assert band.mean == pytest.approx(0.1, abs=0.01)
    assert band.chunk_rows == 500
    binomial_sd = math.sqrt(0.1 * 0.9 / 500)
    assert band.sd == pytest.approx(binomial_sd, rel=0.5)
    lo, hi = band.limits(2000)
    assert hi - lo == pytest.approx(6 * band.sd / 2)


def test_operational_figures_match_pandas(fitted):
    _, _, logs, base = fitted
    ops = base.manifest["operational"]
    w = logs[(logs["ts"] >= pd.Timestamp("2026-10-05", tz="UTC")) & (logs["ts"] < pd.Timestamp("2026-10-19", tz="UTC"))]
    assert ops["rows"] == len(w) == 2 * 7 * 144
    assert [ops["latency_ms"][k] for k in ("p50", "p95", "p99")] == pytest.approx(
        np.percentile(w["latency_ms"], [50, 95, 99]))
    errors = w["error_code"].notna() & (w["error_code"] != "")
    assert ops["error_rate"] == pytest.approx(errors.mean())
    assert ops["rows_per_version"] == w["model_version"].value_counts().to_dict()
    how = w["ts"].dt.day_of_week * 24 + w["ts"].dt.hour
    assert ops["rows_per_hour_of_week"] == pytest.approx((how.value_counts().sort_index() / 2).tolist())
    assert ops["rows_per_day"] == {str(d.date()): c for d, c in w.groupby(w["ts"].dt.floor("D")).size().items()}
    band = base.band("operational", "latency_p95", "all")
    per_day = w.groupby(w["ts"].dt.floor("D"))["latency_ms"].quantile(0.95).iloc[1:-1]  # full days only
    assert (band.mean, band.sd, band.n_chunks) == pytest.approx((per_day.mean(), per_day.std(), 12))
    assert not band.scales_with_size


def test_save_and_load_round_trip(fitted):
    project, _, _, base = fitted
    folder = bl.baseline_root(project, "m", "1") / base.baseline_id
    base.save(folder)
    loaded = bl.load_baseline(project, "m", "1")
    assert loaded.baseline_id == base.baseline_id and loaded.path == folder
    assert loaded.manifest == json.loads(json.dumps(base.manifest, default=bl._json_default))
    for name, values in base.sorted_values.items():
        np.testing.assert_array_equal(loaded.sorted_values[name], values)
    pd.testing.assert_frame_equal(loaded.chunks, base.chunks)
    pd.testing.assert_frame_equal(loaded.sample, base.sample, check_categorical=False, check_dtype=False)
    assert isinstance(loaded.sample["device"].dtype, pd.CategoricalDtype)
    assert loaded.band("quality", "missing_rate", "price") == base.band("quality", "missing_rate", "price")


def test_load_baseline_errors(tmp_path):
    project = _project(tmp_path / "p", make_frame(100, "2026-08-01", np.random.default_rng(0)))
    with pytest.raises(ArchiveError, match=r"no baseline for model 'm' version '1'.*mlmon baseline"):
        bl.load_baseline(project, "m", "1")
    folder = bl.baseline_root(project, "m", "1") / "20261020T000000Z"
    folder.mkdir(parents=True)
    (folder / "baseline.json").write_text(json.dumps({"schema": "mlmon.baseline/99", "generated_at": "x"}))
    with pytest.raises(ArchiveError, match=r"baseline.json: baseline format 'mlmon.baseline/99' is not supported"):
        bl.load_baseline(project, "m", "1")
    with pytest.raises(ArchiveError, match="not a baseline folder"):
        bl.load_baseline(project, "m", "1", baseline_id="nope")


def test_a_changed_or_incomplete_baseline_is_refused(fitted):
    """Baselines are immutable: tampered bands or a deleted artefact never go unnoticed (issue 13)."""
    project, _, _, base = fitted
    folder = base.save(bl.baseline_root(project, "m", "1") / "20261021T000000Z")
    assert bl.load_baseline(project, "m", "1", "20261021T000000Z").manifest == json.loads(
        (folder / "baseline.json").read_text())
    manifest = json.loads((folder / "baseline.json").read_text())
    key = next(iter(manifest["bands"]))
    manifest["bands"][key]["sd"] = 1e9  # a band nothing would ever leave
    (folder / "baseline.json").write_text(json.dumps(manifest, indent=1))
    with pytest.raises(ArchiveError, match="baseline.json was changed after the baseline was written"):
        bl.load_baseline(project, "m", "1", "20261021T000000Z")
    (folder / "sample.parquet").unlink()
    with pytest.raises(ArchiveError, match="sample.parquet missing"):
        bl.verify_baseline(folder)
    (folder / "baseline.json").write_text("{not json")
    with pytest.raises(ArchiveError, match="not valid JSON"):
        bl.verify_baseline(folder)


# --------------------------------------------------------------------------- bad input (issue 3)


def test_reference_without_target_computes_everything_else(tmp_path):
    ref = make_frame(6000, "2026-08-01", np.random.default_rng(9)).drop(columns="clicked")
    base = fitting.fit(_project(tmp_path / "p", ref), "m", "1")
    m = base.manifest
    assert m["performance"] is None and m["calibration"] is None and m["target_profile"] is None
    assert set(m["profiles"]) == {"price", "user_tenure_days", "device", "region"}
    assert base.band("drift", "ks", "price") is not None
    assert not any(k.startswith("performance/") for k in m["bands"])
    note = next(n for n in m["notes"] if "target" in n)
    assert "'clicked'" in note and "performance" in note and "calibration" in note
    assert base.performance_df().empty


def test_constant_and_all_missing_features(tmp_path):
    ref = make_frame(6000, "2026-08-01", np.random.default_rng(10)).drop(columns="clicked")  # no bootstrap: faster
    ref["price"] = 5.0
    ref["user_tenure_days"] = np.nan
    ref["region"] = None  # pandas writes an untyped all-null column
    base = fitting.fit(_project(tmp_path / "p", ref), "m", "1")
    price, tenure, region = (base.profile(c) for c in ("price", "user_tenure_days", "region"))
    assert price["constant"] and (price["min"], price["max"], price["std"]) == (5.0, 5.0, 0.0)
    assert price["bin_shares"] == pytest.approx([1.0, 0.0])
    assert tenure["missing_rate"] == 1.0 and tenure["mean"] is None and tenure["quantiles"] == []
    assert region["missing_rate"] == 1.0 and region["frequencies"] == {} and region["cardinality"] == 0
    notes = " ".join(base.manifest["notes"])
    assert "price: constant in the reference" in notes
    assert "user_tenure_days: all values missing" in notes and "region: all values missing" in notes
    assert base.band("drift", "ks", "user_tenure_days") is None  # nothing to compare with
    assert base.band("quality", "missing_rate", "user_tenure_days").mean == 1.0
    assert len(base.sorted_values["user_tenure_days"]) == 0


def test_categorical_with_100k_levels_keeps_top_k(tmp_path):
    # No target, so that the time measured is the profile and chunks, not the bootstrap.
    rng = np.random.default_rng(11)
    ref = make_frame(100_000, "2026-05-01", rng, freq_minutes=0.5).drop(columns=["clicked", "request_id"])
    ref["region"] = [f"level-{i}" for i in rng.permutation(100_000)]
    project = _project(tmp_path / "p", ref)
    t0 = time.perf_counter()
    base = fitting.fit(project, "m", "1")
    seconds = time.perf_counter() - t0
    prof = base.profile("region")
    assert prof["cardinality"] == 100_000
    assert len(prof["frequencies"]) == profiles.TOP_K
    assert prof["other_share"] == pytest.approx(1 - profiles.TOP_K / 100_000)
    assert "100,000 levels" in prof["note"]
    assert len(json.dumps(base.manifest, default=bl._json_default)) < 2_000_000  # levels are not all stored
    assert seconds < 20  # pooled before the chunk statistics: about 2 s on 2 busy cores


def test_reference_too_small_for_chunks(tmp_path):
    ref = make_frame(2000, "2026-08-01", np.random.default_rng(12))
    with pytest.raises(DataError, match=r"reference has 2,000 rows: at least 2,400 are needed \(8 chunks of 300"):
        fitting.fit(_project(tmp_path / "p", ref), "m", "1")


def test_logs_without_operational_columns(tmp_path):
    rng = np.random.default_rng(13)
    ref = make_frame(6000, "2026-08-01", rng).drop(columns="clicked")  # no bootstrap: faster
    logs = make_frame(14 * 144, "2026-10-05", rng)  # no latency_ms nor error_code column
    project = _project(tmp_path / "p", ref, logs, operational={"latency_ms": "latency_ms", "error": "error_code"},
                       version_column="model_version", baseline={"window": "2026-10-05/2026-10-19"})
    base = fitting.fit(project, "m", "1")
    ops = base.manifest["operational"]
    assert ops["rows"] == 14 * 144 and ops["rows_per_version"] == {"1": 14 * 144}
    assert "latency_ms" not in ops and "error_rate" not in ops
    notes = " ".join(base.manifest["notes"])
    assert "latency baseline skipped" in notes and "error-rate baseline skipped" in notes
    assert [k for k in base.manifest["bands"] if k.startswith("operational/")] == ["operational/rows_per_day/all"]


def test_chunk_figures_of_a_many_level_categorical_equal_those_of_its_raw_values():
    """The fit counts a chunk's levels through the profile's kept levels (a 100k-level column costs
    as much as a 51-level one); the figures must equal the statistics on the chunk's raw values."""
    from mlmon_nb import stats
    from mlmon_nb.config import FeaturesConfig

    rng = np.random.default_rng(14)
    values = pd.Series(rng.zipf(1.4, 5000).astype(str), dtype=object)
    values[rng.random(5000) < 0.05] = None
    frame = pd.DataFrame({"cat": values.astype("category"), "x": rng.normal(size=5000)})
    base = fitting.fit_frame(frame, FeaturesConfig(numeric=("x",), categorical=("cat",)), n_chunks=10,
                             rng=np.random.default_rng(0))
    prof = base.profile("cat")
    assert prof["other_share"] > 0
    ref = stats.CategoricalReference.from_profile(prof, 5000)
    chunk = np.arange(1000, 1500)  # the third of ten chunks, in row order
    own = 5000 / (5000 - 500)
    got = base.chunks[(base.chunks["chunk"] == 2) & (base.chunks["subject"] == "cat")].set_index("metric")["value"]
    for name in ("chi2", "tvd", "psi", "jensen_shannon", "unseen"):
        raw = stats.categorical_against(ref, values.iloc[chunk].astype("category"), [name])[name].value
        assert got[name] == pytest.approx(raw * (own if name != "unseen" else 1.0), nan_ok=True), name
