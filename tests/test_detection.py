"""Detection quality: references that trend or swing, changes of shape and spread, materiality.

Planted effects with known ground truth, seeded; the null rates are counted over
independent seeds. The decisions are the real ones (``drift.univariate``,
``feedback.analyse_frames``, the concept area's band edges and metric rule), on
baselines fitted by ``fit.fit_frame``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmon_nb import rules
from mlmon_nb.alertable import RANGES
from mlmon_nb.config import FeaturesConfig, Thresholds
from mlmon_nb.drift.univariate import univariate
from mlmon_nb.fit import fit_frame

sys.path.insert(0, str(Path(__file__).parent))

DAY = 1000


# --------------------------------------------------------------------------- the band itself

def test_a_steady_trend_is_found_and_does_not_widen_the_band():
    rng = np.random.default_rng(0)
    values = 0.69 + 0.006 * np.arange(20) + rng.normal(0, 0.004, 20)
    band = rules.fit_band(values, [600] * 20, scales_with_size=False)
    assert band.trending and band.trend_p < 1e-4
    assert band.spread < band.sd / 2                         # detrended spread, not the trend's range
    assert band.centre("up") == pytest.approx(band.start)     # higher is worse: the earliest end
    assert band.centre("down") == pytest.approx(band.end)
    assert band.limits(None, 3, "up")[1] < 0.74               # not mean + 3 sd (~0.86)
    assert "rose steadily" in band.trend_sentence("exposure Gini")


def test_weekly_regimes_in_daily_chunks_are_not_a_trend():
    """Seven alike daily chunks per week: Mann-Kendall alone would see trends in noise."""
    found = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        values = np.repeat(rng.normal(0, 1, 8), 7) + rng.normal(0, 0.1, 56)
        found += rules.fit_band(values, [DAY] * 56).trending
    assert found <= 2


def test_split_halves_estimate_the_sampling_noise_of_iid_chunks():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=40 * DAY)})
    band = fit_frame(ref, FeaturesConfig(numeric=("x",)), n_chunks=40).band("drift", "tail", "x")
    expected = math.sqrt(0.01 * 0.99 / DAY)                  # binomial sd of a 1 % share at a chunk's size
    assert band.sampling_sd == pytest.approx(expected, rel=0.35)
    assert band.components()[1] == 0.0                        # no between-chunk variation in iid data


# --------------------------------------------------------------------------- a volatile feature

def _week(rng, phase, rows=7 * DAY):
    return rng.normal(2.0 * np.sin(2 * np.pi * phase / 8), 1.0, size=rows)


def _seasonal(rng, phases):
    temp = np.concatenate([_week(rng, p) for p in phases])
    price = np.exp(0.3 * np.concatenate([_week(rng, p) for p in phases]) + 3)
    return pd.DataFrame({"temp": temp, "price": price, "steady": rng.normal(size=len(temp))})


SEASONAL = FeaturesConfig(numeric=("temp", "price", "steady"))


@pytest.fixture(scope="module")
def seasonal_refs():
    """Five references of eight weeks whose means swing through a seasonal cycle (daily chunks)."""
    return [(fit_frame(ref, SEASONAL, n_chunks=56), ref)
            for ref in (_seasonal(np.random.default_rng(s), range(8)) for s in range(5))]


def test_another_week_of_a_swinging_feature_does_not_alert(seasonal_refs):
    false = 0
    for i, (base, _) in enumerate(seasonal_refs):
        for s in range(20):                                   # 100 null windows in all
            rng = np.random.default_rng([i, s])
            result = univariate(base, _seasonal(rng, [rng.uniform(0, 8)]), features=SEASONAL)
            false += sum(f.status == "alert" for f in result.features)
    assert false <= 5


def test_a_new_mode_beyond_the_reference_alerts_and_names_its_share(seasonal_refs):
    base, ref = seasonal_refs[0]
    rng = np.random.default_rng(99)
    window = _seasonal(rng, [3.0])
    edge = float(np.quantile(ref["temp"], 0.995))
    moved = rng.choice(len(window), int(0.15 * len(window)), replace=False)
    window.loc[moved, "temp"] = edge + 0.5
    plain = univariate(base, _seasonal(np.random.default_rng(99), [3.0]), features=SEASONAL).get("temp")
    temp = univariate(base, window, features=SEASONAL).get("temp")
    assert plain.status == "ok"
    assert temp.status == "alert" and temp.method == "tail"
    ks = next(p for p in temp.parts if p.method == "ks")
    assert ks.status == "ok"                                  # KS alone stays inside its wide band
    assert ks.between_sd > 10 * ks.sampling_sd                # because the reference swings week to week
    assert "of rows above" in temp.moved and "where the reference had 0.5%" in temp.moved
    share = float(temp.moved.split(":")[1].split("%")[0])
    assert share == pytest.approx(100 * ((window["temp"] > edge).mean()), abs=0.2)


# --------------------------------------------------------------------------- spread and location together

K = 30
NAMES = tuple(f"f{i}" for i in range(K))


@pytest.fixture(scope="module")
def normal_baseline():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(rng.normal(size=(200_000, K)), columns=list(NAMES))
    return fit_frame(ref, FeaturesConfig(numeric=NAMES), n_chunks=20)


def test_a_wider_spread_with_the_same_mean_alerts(normal_baseline):
    rng = np.random.default_rng(7)
    window = pd.DataFrame(rng.normal(size=(100_000, K)), columns=list(NAMES))
    window["f0"] *= 1.5
    f0 = univariate(normal_baseline, window, features=FeaturesConfig(numeric=NAMES)).get("f0")
    ks = next(p for p in f0.parts if p.method == "ks")
    assert ks.value < 0.1 and ks.status != "alert"            # KS alone would only warn
    assert f0.status == "alert" and f0.method in ("wasserstein", "tail")
    assert f0.figures["wasserstein"] == pytest.approx(0.5 * math.sqrt(2 / math.pi), abs=0.02)


def test_null_windows_stay_quiet_over_thirty_features(normal_baseline):
    false = 0
    for s in range(100):
        rng = np.random.default_rng(1000 + s)
        window = pd.DataFrame(rng.normal(size=(50_000, K)), columns=list(NAMES))
        result = univariate(normal_baseline, window, features=FeaturesConfig(numeric=NAMES))
        false += sum(f.status == "alert" for f in result.features)
    assert false <= 5


# --------------------------------------------------------------------------- a reference that trends

def _growing(rng, days, a0, a1, start, per_day=500):
    from test_feedback import _frames

    return pd.concat([_frames(rng, days=1, per_day=per_day, alpha=a0 + (a1 - a0) * d / max(days - 1, 1),
                              start=str((pd.Timestamp(start) + pd.Timedelta(days=d)).date()))
                      for d in range(days)], ignore_index=True)


def test_concentration_growing_through_the_reference_and_the_window_alerts_naming_the_trend():
    import mlmon_nb.feedback as fb
    from test_feedback import FULL, _model

    rng = np.random.default_rng(3)
    ref = _growing(rng, 28, 0.2, 0.6, "2026-01-01")
    window = _growing(rng, 7, 0.62, 0.7, "2026-01-29")
    result = fb.analyse_frames(window, ref, _model(**FULL), version="1")
    gini = next(a for a in result.checks() if a.subject == "exposure_gini")
    assert gini.status == "alert" and gini.compared_with == "the reference's earliest chunks"
    assert gini.alert_limit <= 1.0
    assert "rose steadily through the reference period" in result.verdict()
    assert "the training data already carries a feedback loop" in result.verdict()


def test_flat_concentration_raises_nothing():
    import mlmon_nb.feedback as fb
    from test_feedback import FULL, _model

    rng = np.random.default_rng(4)
    result = fb.analyse_frames(_growing(rng, 7, 0.4, 0.4, "2026-01-29"), _growing(rng, 28, 0.4, 0.4, "2026-01-01"),
                               _model(**FULL), version="1")
    assert result.status == "ok" and "steadily" not in result.verdict()


# --------------------------------------------------------------------------- materiality for performance

def test_a_million_rows_from_the_reference_raise_no_performance_alert():
    from mlmon_nb.concept.decisions import band_edges, metric_status
    from mlmon_nb.concept.estimator import fit_estimator
    from mlmon_nb.concept.spec import ModelSpec
    from mlmon_nb.metrics import performance

    spec = ModelSpec(task="binary_classification", target="y", timestamp="ts", threshold=0.5)

    def draw(rng, n):
        score = rng.beta(2, 5, n)
        return pd.DataFrame({"__prediction__": score, "y": (rng.random(n) < score).astype(float)})

    ref = draw(np.random.default_rng(0), 200_000)
    base = fit_frame(ref, FeaturesConfig(), prediction="__prediction__", target="y", n_chunks=20)
    estimator = fit_estimator(spec, base.sample, np.random.default_rng(0))
    statuses = []
    for seed in range(10):
        window = draw(np.random.default_rng(100 + seed), 1_000_000)
        y, s = window["y"].to_numpy(), window["__prediction__"].to_numpy()
        realized = performance("binary_classification", y, s, 0.5)
        estimated = estimator.estimate(s)
        for m in spec.metrics:
            lim = band_edges(base.band("performance", m, "all"), len(window), 0.0, m)
            statuses.append(metric_status(m, realized[m], lim)[0])
            statuses.append(metric_status(m, estimated[m], lim)[0])
    assert "alert" not in statuses


def test_a_material_drop_still_alerts_on_a_large_window():
    band = rules.Band(mean=0.80, sd=0.01, low_seen=0.78, high_seen=0.82, chunk_rows=10_000, n_chunks=20,
                      sampling_sd=0.01)
    from mlmon_nb.concept.decisions import band_edges, metric_status

    lim = band_edges(band, 1_000_000, 0.0, "roc_auc")
    assert lim["low"] == pytest.approx(0.78)                    # the material change, not 3 sd at 1M rows
    assert metric_status("roc_auc", 0.775, lim)[0] == "alert"
    assert metric_status("roc_auc", 0.795, lim)[0] == "ok"
    custom = band_edges(band, 1_000_000, 0.0, "roc_auc", min_change=0.05)
    assert custom["low"] == pytest.approx(0.75)


# --------------------------------------------------------------------------- no threshold out of range

def _random_bands(rng, measure, n=80):
    lo, hi = RANGES[measure]
    scale = 1.0 if math.isfinite(hi - lo) else 100.0
    for _ in range(n):
        mean = rng.uniform(lo if math.isfinite(lo) else -scale, hi if math.isfinite(hi) else scale)
        sd = abs(rng.normal(0, scale)) * rng.choice([0.01, 0.3, 3.0])
        values = mean + sd * rng.standard_normal(20) + rng.choice([0, 1]) * np.linspace(0, sd * 3, 20)
        if math.isfinite(lo) or math.isfinite(hi):
            values = np.clip(values, lo, hi)
        yield rules.fit_band(values, rng.integers(50, 5000, 20), scales_with_size=bool(rng.integers(2)),
                             sampling_sd=float(sd * rng.uniform(0, 1.5)))


def test_no_alert_threshold_outside_its_measures_range():
    from mlmon_nb.concept.decisions import band_edges, worse_direction
    from mlmon_nb.drift.rule import bounded, effective
    from mlmon_nb.feedback.decision import limits
    from mlmon_nb.feedback.measures import MEASURES
    from mlmon_nb import stats

    rng = np.random.default_rng(5)
    checked = 0
    for measure, (lo, hi) in RANGES.items():
        for band in _random_bands(rng, measure):
            if band is None:
                continue
            rows = float(rng.choice([10, 1000, 1e6]))
            thresholds = []
            if measure in stats.REGISTRY and measure in ("ks", "wasserstein", "tail", "psi", "jensen_shannon",
                                                         "chi2", "tvd", "unseen"):
                info = stats.REGISTRY[measure]
                high, _ = bounded(rules.band_limits(band, rows, 3.0, worse="up")[1], info.alert, measure)
                thresholds.append(effective(high, info.alert))
            if measure in MEASURES:
                m = MEASURES[measure]
                lim = limits(band, m.worse, material=m.material, measure=measure)
                thresholds += [lim.alert_limit, lim.warn_limit]
            if worse_direction(measure) and measure in rules.MIN_CHANGE:
                e = band_edges(band, rows, 0.0, measure)
                thresholds += [e["low"], e["high"], e["warn_low"], e["warn_high"]]
            for t in thresholds:
                if t is not None and math.isfinite(t):
                    checked += 1
                    assert lo <= t <= hi, (measure, band, rows, t)
    assert checked > 1000


def test_within_range_says_why_and_falls_back_to_the_floor():
    limit, why = rules.within_range(1.37, "exposure_gini", 0.74)
    assert limit == 0.74 and "1.37" in why and "0 to 1" in why
    assert rules.within_range(-0.2, "latency_p99", None)[0] == 0.0
    assert rules.within_range(0.4, "roc_auc", 0.7) == (0.4, None)


def test_thresholds_min_change_loads_and_is_validated(tmp_path):
    from test_config import config_error, example, load_project, model_of, write

    doc = example()
    model_of(doc)["thresholds"] = {"metrics": {"roc_auc": {"min_change": 0.05}}}
    project = load_project(write(tmp_path, doc))
    thresholds = project.model("ctr-ranker").thresholds
    assert thresholds.min_change("roc_auc") == 0.05 and thresholds.metric("roc_auc") is None
    assert Thresholds().min_change("roc_auc") is None
    model_of(doc)["thresholds"] = {"metrics": {"roc_auc": {"min_change": -0.05}}}
    assert "thresholds.metrics.roc_auc.min_change" in config_error(tmp_path, doc)
