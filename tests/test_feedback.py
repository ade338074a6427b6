"""Feedback loops: the measures against hand-worked cases and independent computations, the
decision rule, and the notebook on the demo (loop), its randomised control and a project
without a ``feedback`` block. Four notebook runs in all."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from mlmon_nb import feedback as fb
from mlmon_nb.alertable import METRICS
from mlmon_nb.rules import Band, decide
from mlmon_nb.checks import Recorder
from mlmon_nb.config import FeedbackConfig, ModelConfig
from mlmon_nb.errors import UsageError

from conftest import checks_of, run_window


# --------------------------------------------------------------------------- measures

def test_measures_are_the_alertable_feedback_names():
    assert tuple(fb.MEASURES) == METRICS["feedback_loop"]
    assert set(fb.ITEM_SUBJECTS) | set(fb.PREDICTION_SUBJECTS) | {"training_provenance"} == set(fb.MEASURES)


def _gini_mad(x):
    """Gini as the mean absolute difference over twice the mean (an independent definition)."""
    x = np.asarray(x, dtype=float)
    return np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())


def test_gini_hand_cases():
    assert fb.gini([5, 5, 5, 5]) == 0.0
    assert fb.gini([10], catalogue=4) == pytest.approx(0.75)          # one item of four takes all: (n-1)/n
    assert fb.gini([1, 2, 3, 4]) == pytest.approx(0.25)               # sum |xi-xj| = 20; 20 / (2*16*2.5)
    assert math.isnan(fb.gini([0, 0], catalogue=3))


def test_gini_matches_mean_absolute_difference_with_implicit_zeros():
    rng = np.random.default_rng(1)
    counts = rng.poisson(rng.gamma(0.5, 4.0, 300))
    nz = counts[counts > 0]
    assert fb.gini(nz, catalogue=len(counts)) == pytest.approx(_gini_mad(counts), rel=1e-12)
    assert fb.gini(counts) == pytest.approx(_gini_mad(counts), rel=1e-12)


def test_entropy_top_share_coverage():
    rng = np.random.default_rng(2)
    counts = rng.poisson(3.0, 500)
    nz = counts[counts > 0]
    expected = stats.entropy(counts / counts.sum()) / np.log(len(counts))
    assert fb.normalised_entropy(nz, catalogue=len(counts)) == pytest.approx(expected, rel=1e-12)
    assert fb.normalised_entropy([7, 7, 7, 7]) == pytest.approx(1.0)
    assert fb.normalised_entropy([9], catalogue=5) == 0.0
    # top 1% of 500 items = 5 items; top 10% = 50 items
    srt = np.sort(counts)[::-1]
    assert fb.top_share(nz, 0.01, catalogue=500) == pytest.approx(srt[:5].sum() / counts.sum())
    assert fb.top_share(nz, 0.10, catalogue=500) == pytest.approx(srt[:50].sum() / counts.sum())
    assert fb.top_share([50, 30, 10, 5, 5], 0.2) == pytest.approx(0.5)
    assert fb.top_share([1, 1, 1], 0.001) == pytest.approx(1 / 3)  # at least one item
    assert fb.coverage([3, 1], catalogue=8) == 0.25
    assert fb.coverage(nz, catalogue=500) == pytest.approx((counts > 0).mean())


def test_lorenz_curve_area_gives_gini():
    counts = np.array([0, 0, 1, 2, 3, 10, 20])
    x, y = fb.lorenz_curve(counts)
    assert (x[0], y[0], x[-1], y[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(y) >= 0)
    area = np.trapezoid(y, x)
    assert 1 - 2 * area == pytest.approx(fb.gini(counts))


def test_bad_counts_are_refused():
    with pytest.raises(UsageError, match="'counts' parameter of gini"):
        fb.gini([1, -2])
    with pytest.raises(UsageError, match="'catalogue' parameter of coverage"):
        fb.coverage([1, 2, 3], catalogue=2)
    with pytest.raises(UsageError, match="'fraction' parameter of top_share"):
        fb.top_share([1, 2], 0)


def _brute_mean_jaccard(users, items):
    sets: dict = {}
    for u, i in zip(users, items):
        sets.setdefault(u, set()).add(i)
    vals = [fb.jaccard(sets[a], sets[b]) for a, b in itertools.combinations(sets, 2)]
    return float(np.mean(vals))


def test_jaccard_hand_and_exact_pairs():
    assert fb.jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    assert fb.jaccard({1}, {2}) == 0.0
    # u: {1, 2}, v: {2}, w: {3}: pairs (u,v) 1/2, (u,w) 0, (v,w) 0
    assert fb.mean_pairwise_jaccard(["u", "u", "v", "w", "u"], [1, 2, 2, 3, 1], pairs=None) == pytest.approx(1 / 6)
    rng = np.random.default_rng(3)
    users = rng.integers(0, 40, 400)
    items = rng.zipf(1.6, 400) % 60
    assert fb.mean_pairwise_jaccard(users, items, pairs=None) == pytest.approx(_brute_mean_jaccard(users, items))
    assert math.isnan(fb.mean_pairwise_jaccard([1, 1], [1, 2], pairs=None))


def test_sampled_jaccard_estimates_the_exact_mean():
    rng = np.random.default_rng(4)
    users = rng.integers(0, 300, 3000)
    items = rng.zipf(1.5, 3000) % 200
    exact = _brute_mean_jaccard(users, items)
    sampled = fb.mean_pairwise_jaccard(users, items, np.random.default_rng(0), pairs=20_000)
    assert sampled == pytest.approx(exact, rel=0.1)
    again = fb.mean_pairwise_jaccard(users, items, np.random.default_rng(0), pairs=20_000)
    assert again == sampled  # seeded: reproducible
    with pytest.raises(UsageError, match="'rng' parameter"):
        fb.mean_pairwise_jaccard(users, items, None, pairs=10)


def test_rich_get_richer_and_intervals_match_scipy():
    rng = np.random.default_rng(5)
    past = rng.poisson(2.0, 300)
    later = rng.poisson(past + 0.5)
    rho, p = fb.rich_get_richer(past, later)
    ref = stats.spearmanr(past, later)
    assert (rho, p) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    assert all(math.isnan(v) for v in fb.rich_get_richer([1, 1, 1], [1, 2, 3]))
    for k, n in ((5, 10), (0, 40), (37, 480)):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert fb.wilson_interval(k, n) == (pytest.approx(ci.low, abs=1e-12), pytest.approx(ci.high, abs=1e-12))
    d, lo, hi = fb.rate_difference_interval(30, 100, 20, 100)
    assert d == pytest.approx(0.1) and lo < 0.1 < hi


# --------------------------------------------------------------------------- decision rule

BAND = Band(mean=0.5, sd=0.01, low_seen=0.48, high_seen=0.52, chunk_rows=600, n_chunks=20, scales_with_size=False)


@pytest.mark.parametrize("value, worse, material, status", [
    (0.52, "up", ("abs", 0.05), "ok"),
    (0.535, "up", ("abs", 0.05), "warn"),      # outside the band, small
    (0.55, "up", ("abs", 0.05), "alert"),      # outside the band and material
    (0.40, "up", ("abs", 0.05), "ok"),         # the other direction never fires
    (0.44, "down", ("ratio", 0.9), "alert"),   # outside the band and below 0.9 * 0.5
    (0.465, "down", ("ratio", 0.9), "warn"),
    (0.535, "up", None, "alert"),              # no material change: outside the band alerts
])
def test_decide(value, worse, material, status):
    lim = fb.limits(BAND, worse, material=material)
    assert decide(value, lim.warn_limit, lim.alert_limit, worse=worse) == status
    assert lim.z(value) == pytest.approx((value - 0.5) / 0.01)


def test_decide_margin_and_fixed_limits():
    wide = fb.limits(BAND, "up", margin=1.0)                            # band widened to 4 sd
    assert decide(0.535, wide.warn_limit, wide.alert_limit) == "ok"
    lim = fb.limits(None, "up", fixed={"warn": 0.2, "alert": 0.4})
    assert (decide(0.3, lim.warn_limit, lim.alert_limit), lim.warn_limit, lim.alert_limit) == ("warn", 0.2, 0.4)
    none = fb.limits(None, "up")                                         # no band: nothing to decide on
    assert decide(0.9, none.warn_limit, none.alert_limit) == "ok"


# --------------------------------------------------------------------------- analysis on planted frames

N_ITEMS = 400


def _frames(rng, *, days, per_day, alpha, start, shown=True):
    """Exposures per day; item popularity ~ rank^-alpha (alpha 0 = uniform)."""
    p = np.arange(1, N_ITEMS + 1, dtype=float) ** -alpha
    p /= p.sum()
    n = days * per_day
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
    return pd.DataFrame({
        "ts": ts, "item": [f"i{k}" for k in rng.choice(N_ITEMS, n, p=p)],
        "user": [f"u{k}" for k in rng.integers(0, 300, n)], "shown": shown,
        "clicked": (rng.random(n) < 0.1).astype(float), "from_model": rng.random(n) < 0.3, "score": rng.random(n),
    })


def _model(**feedback_cols):
    fbc = FeedbackConfig(**feedback_cols) if feedback_cols else None
    return ModelConfig(name="m", task="binary_classification", timestamp="ts", prediction="score", target="clicked",
                       reference=Path("ref.parquet"), logs=Path("logs"), feedback=fbc)


FULL = dict(user="user", item="item", exposed="shown", outcome="clicked", training_provenance="from_model")


def test_planted_concentration_alerts_and_equal_distribution_does_not():
    rng = np.random.default_rng(6)
    ref = _frames(rng, days=21, per_day=500, alpha=0.3, start="2026-01-01")
    same = _frames(rng, days=7, per_day=500, alpha=0.3, start="2026-03-01")
    loop = _frames(rng, days=7, per_day=500, alpha=1.1, start="2026-03-01")
    model = _model(**FULL)
    ok = fb.analyse_frames(same, ref, model, version="1")
    bad = fb.analyse_frames(loop, ref, model, version="1")
    subjects = {"exposure_gini", "exposure_entropy", "top1pct_share", "top10pct_share", "coverage",
                "homogenisation", "self_reinforcement", "training_provenance"}
    assert {a.subject for a in ok.checks()} == subjects
    assert ok.status == "ok", ok.to_df()
    statuses = {a.subject: a.status for a in bad.checks()}
    for s in ("exposure_gini", "top1pct_share", "top10pct_share", "coverage", "exposure_entropy"):
        assert statuses[s] == "alert", bad.to_df()
    assert ok.provenance.check.value == pytest.approx(ref["from_model"].mean())
    assert bad.verdict().startswith("A feedback loop is likely")


def test_like_with_like_heavy_traffic_does_not_alert():
    """Ten times the baseline's traffic with the same item distribution: raw daily Gini over the
    catalogue would fall a lot (more items covered); the equal-count subsample keeps it comparable."""
    rng = np.random.default_rng(7)
    ref = _frames(rng, days=21, per_day=300, alpha=0.5, start="2026-01-01")
    heavy = _frames(rng, days=7, per_day=3000, alpha=0.5, start="2026-03-01")
    res = fb.analyse_frames(heavy, ref, _model(**FULL), version="1")
    assert res.exposure.per_chunk <= 300
    assert res.status == "ok", res.to_df()
    day = heavy[heavy["ts"] < pd.Timestamp("2026-03-02", tz="UTC")]["item"].value_counts().to_numpy()
    ref_day = ref[ref["ts"] < pd.Timestamp("2026-01-02", tz="UTC")]["item"].value_counts().to_numpy()
    assert fb.coverage(day, N_ITEMS) > fb.coverage(ref_day, N_ITEMS) + 0.2  # what a naive comparison would see


def test_missing_configuration_and_columns_are_reported_not_raised():
    rng = np.random.default_rng(8)
    ref = _frames(rng, days=10, per_day=200, alpha=0.3, start="2026-01-01")
    win = _frames(rng, days=7, per_day=200, alpha=0.3, start="2026-03-01")
    none = fb.analyse_frames(win, ref, _model(), version="1")
    assert not none.configured and none.checks() == []
    assert "'feedback' block" in none.notes[0] and "item" in none.notes[0]
    assert none.verdict().startswith("Feedback loops are not monitored")
    no_user = fb.analyse_frames(win.drop(columns="user"), ref, _model(**FULL), version="1")
    assert "homogenisation" not in {a.subject for a in no_user.checks()}
    assert any("'user'" in m and "homogenisation" in m for m in no_user.notes)
    rec = Recorder("feedback_loops")
    no_user.record(rec)
    assert rec.missing == list(no_user.notes)
    assert {c.kind for c in rec.checks} == {"feedback_loop"}
    c = rec.checks[0].to_dict()
    assert {"value", "threshold", "method", "band_low", "band_high", "z"} <= set(c)


# --------------------------------------------------------------------------- the notebook

def test_demo_loop_alerts_late_not_in_week_1(demo, demo_archive):
    import mlmon_nb as mn

    summary, run_dir = demo_archive.week(10)
    assert summary["notebooks"]["feedback_loops"]["status"] == "alert"
    alerts = {c["subject"] for c in checks_of(summary, "feedback_loop", "alert")}
    assert {"exposure_gini", "top1pct_share", "coverage", "homogenisation"} <= alerts
    truth = demo.ground_truth["training_provenance"][demo.version]
    prov = next(c for c in checks_of(summary, "feedback_loop") if c["subject"] == "training_provenance")
    assert prov["value"] == pytest.approx(truth, abs=0.02) and prov["status"] == "ok"
    html = (run_dir / "feedback_loops.html").read_text()
    assert "Lorenz curves" in html and "Jiang et al. 2019" in html

    # Week 1, in process (the notebook's decision code without another kernel).
    start, end = demo.windows[0]
    ctx = mn.open_window(demo.project_path, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                         notebook="feedback_loops", load_estimator=False)
    week1 = fb.analyse(ctx)
    assert [a.subject for a in week1.checks() if a.status == "alert"] == []
    assert {a.subject for a in week1.checks()} >= {"exposure_gini", "coverage", "self_reinforcement"}


def test_randomised_exposure_control_raises_nothing(tmp_path):
    from mlmon_nb.demo import build_demo
    from mlmon_nb.runner import execute_baseline, prepare_baseline

    control = build_demo(tmp_path / "control", scale=0.25, weeks=10, exposure="randomised")
    outcome = execute_baseline(prepare_baseline(control.project_path, control.model, control.version))
    assert outcome.exit_code == 0, outcome.run_dir
    summary, _ = run_window(control, 10, ["feedback_loops"])
    fired = checks_of(summary, "feedback_loop", "warn")
    assert fired == [], fired
    assert len(checks_of(summary, "feedback_loop")) >= 7


def test_missing_feedback_block_runs_cleanly(demo, tmp_path):
    """A copy of the demo project without the feedback block, sharing its data and baseline."""
    cfg = yaml.safe_load(demo.project_path.read_text())
    model = cfg["models"][demo.model]
    del model["feedback"]
    root = demo.project_path.parent
    for key in ("reference", "logs"):
        model[key] = str(root / model[key])
    model["labels"]["path"] = str(root / model["labels"]["path"])
    for v in model["versions"].values():
        v["model"] = str(root / v["model"])
    cfg["archive"] = str(tmp_path / "reports")
    src = root / yaml.safe_load(demo.project_path.read_text())["archive"] / demo.model / demo.version / "baseline"
    shutil.copytree(src, tmp_path / "reports" / demo.model / demo.version / "baseline")
    path = tmp_path / "mlmon.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    nofb = dataclasses.replace(demo, project_path=path, root=tmp_path)

    summary, run_dir = run_window(nofb, 10, ["feedback_loops"])
    assert summary["status"] != "error"
    assert summary["notebooks"]["feedback_loops"]["status"] == "skipped"  # could not run: never a green OK
    assert "'feedback' block" in summary["notebooks"]["feedback_loops"]["reason"]
    assert checks_of(summary, "feedback_loop", "alert") == []
    result = json.loads((run_dir / "artefacts" / "feedback_loops.json").read_text())
    assert any("'feedback' block" in m and "training_provenance" in m for m in result["missing"])
    html = (run_dir / "feedback_loops.html").read_text()
    assert "training_provenance" in html and "item (the item shown" in html
    assert "skipped" in html.lower()
