"""Tests of the mlmon_nb.concept package.

Metrics are checked against scikit-learn, the DeLong error against its pairwise
definition, CBPE against labels drawn from calibrated scores, the segment
queries against ``DataFrame.query``; a synthetic stream from river's SEA
generator plants a concept switch at a known row with the inputs unchanged;
the demo plants a preference flip at 2026-10-28T12:00Z (week 8) and covariate
drift from week 5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as skm

from conftest import checks_of
from mlmon_nb import concept
from mlmon_nb.metrics import performance
from mlmon_nb.config import FeaturesConfig
from mlmon_nb.errors import UsageError
from mlmon_nb.checks import Recorder, worst
from mlmon_nb.diagnosis import notebook_status

FLIP_AT = pd.Timestamp("2026-10-28T12:00", tz="UTC")


# --------------------------------------------------------------------------- metrics and intervals

def _binary_sample(rng, n=3000, ties=False):
    p = rng.beta(2, 5, n)
    if ties:
        p = np.round(p, 2)
    y = (rng.random(n) < p).astype(float)
    return y, p


@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_match_sklearn_and_the_baseline(ties):
    y, p = _binary_sample(np.random.default_rng(1), ties=ties)
    got = concept.realized("binary_classification", y, p, 0.3)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, p >= 0.3), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    base = performance("binary_classification", y, p, 0.3)
    assert all(got[m] == pytest.approx(base[m], abs=1e-12) for m in got)


def test_multiclass_and_regression_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    P = rng.dirichlet([1, 1, 1], 500)
    y = np.array([rng.choice(3, p=row) for row in P])
    got = concept.realized("multiclass_classification", y, P, 0.5)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, P.argmax(1)))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, P.argmax(1), average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, P, labels=[0, 1, 2]))
    t, pred = rng.normal(size=300), rng.normal(size=300)
    got = concept.realized("regression", t, pred, 0.5)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(t, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(t, pred)))


def test_delong_error_matches_its_pairwise_definition():
    y, p = _binary_sample(np.random.default_rng(3), n=400, ties=True)
    pos, neg = p[y == 1], p[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    auc, se = concept.auc_delong(y, p)
    assert auc == pytest.approx(psi.mean())
    assert se == pytest.approx(np.sqrt(var))


def test_intervals_cover_the_true_value_about_95_percent_of_the_time():
    """Calibrated scores: the ROC AUC of fresh label draws falls in each draw's DeLong interval."""
    rng = np.random.default_rng(4)
    p = rng.beta(2, 5, 1500)
    big = (rng.random((200, len(p))) < p).astype(float)
    truth = np.mean([skm.roc_auc_score(b, p) for b in big[:50]])
    hits = 0
    for b in big[50:]:
        v = skm.roc_auc_score(b, p)
        lo, hi = concept.confidence_interval("binary_classification", "roc_auc", b, p, 0.5, v, rng)
        hits += lo <= truth <= hi
    assert 0.88 <= hits / 150 <= 0.99


# --------------------------------------------------------------------------- estimation without labels

def _spec(task="binary_classification", **kw):
    return concept.ModelSpec(task=task, target="y", prediction="__prediction__", timestamp="ts",
                             threshold=kw.pop("threshold", 0.3), features=kw.pop("features", FeaturesConfig()), **kw)


def test_cbpe_equals_the_mean_of_label_draws_and_nannyml_formula():
    """With calibrated scores, the CBPE estimate is the expected realized value; the ROC AUC
    estimate also equals NannyML's formula (cumulative calibrated probabilities, sklearn auc)."""
    rng = np.random.default_rng(5)
    ref_p = rng.beta(2, 5, 20_000)
    ref = pd.DataFrame({"y": (rng.random(20_000) < ref_p).astype(float), "__prediction__": ref_p})
    est = concept.fit_estimator(_spec(), ref, rng)
    p = rng.beta(2, 3, 4000)  # the inputs shifted: higher scores than in the reference
    expected = est.estimate(p)
    draws = (rng.random((300, len(p))) < est.calibrated(p)).astype(float)
    for m, f in (("roc_auc", skm.roc_auc_score), ("pr_auc", skm.average_precision_score),
                 ("f1", lambda y, s: skm.f1_score(y, s >= 0.3)), ("log_loss", skm.log_loss)):
        assert expected[m] == pytest.approx(np.mean([f(d, p) for d in draws]), abs=0.004), m
    q = est.calibrated(p)[np.argsort(p)[::-1]]
    tps, fps = np.r_[0, np.cumsum(q)], np.r_[0, np.cumsum(1 - q)]
    assert expected["roc_auc"] == pytest.approx(skm.auc(fps / fps[-1], tps / tps[-1]), abs=1e-3)


def test_null_sd_matches_the_spread_of_realized_minus_expected():
    rng = np.random.default_rng(6)
    ref_p = rng.beta(2, 5, 20_000)
    ref = pd.DataFrame({"y": (rng.random(20_000) < ref_p).astype(float), "__prediction__": ref_p})
    est = concept.fit_estimator(_spec(), ref, rng)
    p = rng.beta(2, 5, 3000)
    sd = est.null_sd(p, rng)
    exp = est.estimate(p)
    gaps = [concept.realized("binary_classification", (rng.random(len(p)) < p).astype(float), p, 0.3)["roc_auc"]
            - exp["roc_auc"] for _ in range(200)]
    assert sd["roc_auc"] == pytest.approx(np.std(gaps), rel=0.3)


def test_multiclass_cbpe_and_regression_dle_estimate_their_metrics():
    rng = np.random.default_rng(7)
    n = 6000
    P = rng.dirichlet([2, 2, 2], n)
    y = np.array([rng.choice(3, p=row) for row in P]).astype(float)
    ref = pd.DataFrame({"y": y, **{f"__proba_{j}__": P[:, j] for j in range(3)}})
    est = concept.fit_estimator(_spec("multiclass_classification"), ref, rng)
    P2 = rng.dirichlet([4, 1, 1], 3000)  # shifted inputs
    y2 = np.array([rng.choice(3, p=row) for row in P2]).astype(float)
    got = est.estimate(P2)
    real = concept.realized("multiclass_classification", y2, P2, 0.5)
    assert got["accuracy"] == pytest.approx(real["accuracy"], abs=0.03)

    x = rng.uniform(0, 4, 8000)
    t = 2 * x + rng.normal(0, 0.2 + 0.5 * x)  # the error grows with x
    reg = pd.DataFrame({"x": x, "y": t, "__prediction__": 2 * x})
    spec = _spec("regression", features=FeaturesConfig(numeric=("x",)))
    est = concept.fit_estimator(spec, reg.iloc[:5000], rng)
    shifted = reg.iloc[5000:][reg.iloc[5000:]["x"] > 2]  # covariate shift towards noisier rows
    got = est.estimate(shifted["__prediction__"].to_numpy(), shifted)
    real = concept.realized("regression", shifted["y"].to_numpy(), shifted["__prediction__"].to_numpy(), 0.5)
    assert got["mae"] == pytest.approx(real["mae"], rel=0.08)
    assert got["mae"] > est.reference_values["mae"] * 1.2


def test_concept_rule_needs_both_significance_and_a_material_gap():
    assert concept.gap_status("roc_auc", 0.60, 0.70, 0.02, 0.72)["status"] == "alert"
    assert concept.gap_status("roc_auc", 0.65, 0.70, 0.02, 0.72)["status"] == "warn"
    assert concept.gap_status("roc_auc", 0.69, 0.70, 0.001, 0.72)["status"] == "ok"  # tiny gap, huge sample
    assert concept.gap_status("log_loss", 0.30, 0.25, 0.01, 0.25)["status"] == "alert"  # lower is better
    from scipy.stats import norm

    alert4, warn4 = concept.z_limits(4)  # Bonferroni over four metrics
    assert norm.cdf(alert4) == pytest.approx(norm.cdf(-3) / 4) and norm.cdf(warn4) == pytest.approx(norm.cdf(-2) / 4)


# --------------------------------------------------------------------------- inhibition by a covariate shift

def _check(kind, subject, status, **figures):
    return {"kind": kind, "subject": subject, "status": status, **figures}


def _window_checks(concept_status="ok", est_pr_auc="ok"):
    """A window's decided checks: PR AUC and F1 below their bands, a change point, the concept tests."""
    return [_check("performance", "pr_auc", "alert", value=0.173), _check("performance", "f1", "warn", value=0.231),
            _check("performance", "roc_auc", "ok", value=0.73),
            _check("estimated_performance", "pr_auc", est_pr_auc, value=0.17),
            _check("estimated_performance", "f1", "ok", value=0.26),
            _check("change_point", "roc_auc", "warn", method="ADWIN", cluster=0),
            _check("concept_drift", "pr_auc", concept_status, method="realized_vs_expected"),
            _check("concept_drift", "p(y|x)", "ok", method="residual_shift")]


DRIFTED = {"alerting_features": ["price"], "warning_features": ["device", "price"], "since": {}}


def _explained(checks):
    return [(c["kind"], c["subject"]) for c in checks if c.get("explained_by") == "covariate_shift"]


def test_drifted_features_of_the_run_explain_every_drop_when_no_concept_test_fires():
    planted = _window_checks()
    checks, shift = concept.explain_by_shift(planted, DRIFTED)
    assert shift.features == ("price", "device") and not shift.metrics
    assert _explained(checks) == [("performance", "pr_auc"), ("performance", "f1"), ("change_point", "roc_auc")]
    # figures and statuses are kept; the input is not changed
    assert [(c["status"], c.get("value")) for c in checks] == [(c["status"], c.get("value")) for c in planted]
    assert not any("explained_by" in c for c in planted)
    rec = Recorder("concept_drift")
    for c in checks:
        c = dict(c)
        rec.check(c.pop("kind"), c.pop("subject"), c.pop("status"), **c)
    assert rec.status == "ok" and notebook_status(rec.to_dict()["checks"]) == "ok"
    assert rec.checks[0].explained_by == "covariate_shift" and rec.checks[0].status == "alert"


def test_without_the_data_drift_notebook_a_moved_estimate_explains_its_own_metric():
    checks, shift = concept.explain_by_shift(_window_checks(est_pr_auc="warn"), None)
    assert shift.metrics == ("pr_auc",) and not shift.features
    assert _explained(checks) == [("performance", "pr_auc"), ("estimated_performance", "pr_auc")]
    assert worst(c["status"] for c in checks if not c.get("explained_by")) == "warn"  # F1 and the change point
    # an artefact naming no feature is no evidence; the estimate still is
    assert _explained(concept.explain_by_shift(_window_checks(est_pr_auc="warn"),
                                               {"alerting_features": [], "warning_features": []})[0]) \
        == _explained(checks)
    # estimates within their bands: no evidence, nothing explained
    assert not _explained(concept.explain_by_shift(_window_checks(), None)[0])


def test_a_moved_estimate_does_not_explain_itself_without_labels():
    blind = [_check("estimated_performance", "pr_auc", "alert", value=0.15)]
    assert not _explained(concept.explain_by_shift(blind, None)[0])
    assert _explained(concept.explain_by_shift(blind, DRIFTED)[0]) == [("estimated_performance", "pr_auc")]


@pytest.mark.parametrize("fired", ["pr_auc", "p(y|x)"])
def test_nothing_is_explained_when_a_concept_test_fires(fired):
    planted = [c if c["kind"] != "concept_drift" or c["subject"] != fired else {**c, "status": "warn"}
               for c in _window_checks(est_pr_auc="alert")]
    checks, shift = concept.explain_by_shift(planted, DRIFTED)
    assert not shift and not _explained(checks)
    assert checks == tuple(planted)


def test_a_reference_without_labels_is_reported_not_an_error():
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"y": np.nan, "__prediction__": rng.random(500)})
    win = ref.assign(ts=pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(np.arange(500), unit="min"))
    result = concept.analyse_frames(_spec(), ref, win)
    assert result.chunks is None and result.checks() == []
    assert "labelled reference rows" in result.notes[0] and "could not be assessed" in result.verdict()


def test_bad_arguments_say_what_was_expected():
    ref = pd.DataFrame({"y": np.nan, "__prediction__": np.linspace(0, 1, 10)})
    win = ref.assign(ts=pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(np.arange(10), unit="min"))
    with pytest.raises(UsageError, match="the 'chunk' parameter of concept_drift: expected a chunk size like 1d"):
        concept.analyse_frames(_spec(), ref, win, chunk="daily")
    with pytest.raises(UsageError, match="The 'task' parameter of ModelSpec"):
        concept.ModelSpec(task="ranking", target="y")
    with pytest.raises(UsageError, match="must name detectors among adwin"):
        concept.detect_changes(None, np.random.default_rng(0), detectors=["cusum"])


# --------------------------------------------------------------------------- segments

def test_segment_queries_select_exactly_their_rows():
    rng = np.random.default_rng(8)
    n = 3000
    frame = pd.DataFrame({
        "discount pct": rng.integers(0, 40, n).astype(float),
        "class": pd.Categorical(rng.choice(["a", 'say "hi"', "<b>x</b>"], n)),
        "device": pd.Categorical(rng.choice(["mobile", "desktop"], n)),
    })
    feats = FeaturesConfig(numeric=("discount pct",), categorical=("class", "device"))
    binnings = concept.make_binnings(frame, feats)
    values = rng.normal(size=n) + 0.8 * (frame["device"] == "mobile") * (frame["class"] == 'say "hi"')
    seg = concept.find_segments(binnings, frame, values.to_numpy(), frame, rng.normal(size=n),
                                direction="higher", unit="test")
    assert len(seg.table) > 10
    for r in seg.table.to_dict("records"):
        assert len(concept.segment_query(frame, r["query"])) == r["rows"], r["query"]
    assert "`discount pct`" in seg.table["query"].iloc[0] or "`class`" in " ".join(seg.table["query"])
    worst = seg.worst()  # the loss sits where both hold: the pair, not its parent level
    assert worst["query"] == '`class` == "say \\"hi\\"" and device == "mobile"', worst


# --------------------------------------------------------------------------- a synthetic concept switch

def _sea(variant, n, seed):
    from river.datasets import synth

    rows = list(synth.SEA(variant=variant, noise=0.1, seed=seed).take(n))
    frame = pd.DataFrame([{f"x{k + 1}": v for k, v in x.items()} for x, _ in rows])
    frame["y"] = [float(label) for _, label in rows]
    return frame


@pytest.fixture(scope="module")
def sea_model():
    from sklearn.linear_model import LogisticRegression

    train = _sea(0, 5000, 1)
    model = LogisticRegression().fit(train[["x1", "x2", "x3"]], train["y"])
    ref = _sea(0, 20_000, 2)
    ref["__prediction__"] = model.predict_proba(ref[["x1", "x2", "x3"]])[:, 1]
    return model, ref


def _sea_window(model, variant_after, switch=4000, n=8000):
    win = pd.concat([_sea(0, switch, 3), _sea(variant_after, n - switch, 4)], ignore_index=True)
    win["__prediction__"] = model.predict_proba(win[["x1", "x2", "x3"]])[:, 1]
    win["ts"] = pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(np.arange(n) * 2, unit="min")
    return win


SEA_SPEC = concept.ModelSpec(task="binary_classification", target="y", timestamp="ts", threshold=0.5,
                             features=FeaturesConfig(numeric=("x1", "x2", "x3")))


def test_synthetic_switch_is_detected_with_its_delay_and_no_feature_drift(sea_model):
    from mlmon_nb import drift
    from mlmon_nb.fit import fit_frame

    model, ref = sea_model
    win = _sea_window(model, variant_after=2)  # SEA threshold 8 -> 7 at row 4000; inputs unchanged
    switch = win["ts"].iloc[4000]
    result = concept.analyse_frames(SEA_SPEC, ref, win, seed=0)
    points = [c for c in result.change_checks() if c["status"] == "alert"]
    assert len({c["method"] for c in points}) >= 2
    for c in points:
        assert abs(pd.Timestamp(c["at"]) - switch) <= pd.Timedelta("12h")
        assert pd.Timestamp(c["detected_at"]) >= pd.Timestamp(c["at"])
        assert c["delay_hours"] == pytest.approx(
            (pd.Timestamp(c["detected_at"]) - pd.Timestamp(c["at"])).total_seconds() / 3600)
    assert result.status == "alert"
    # The inputs did not move: the data-drift checks stay quiet on the same rows.
    base = fit_frame(ref[["x1", "x2", "x3"]], FeaturesConfig(numeric=("x1", "x2", "x3")))
    assert all(f.status != "alert" for f in drift.univariate(base, win[["x1", "x2", "x3"]]).features)


def test_no_switch_no_alert(sea_model):
    model, ref = sea_model
    result = concept.analyse_frames(SEA_SPEC, ref, _sea_window(model, variant_after=0), seed=1)
    assert result.status != "alert", result.to_df()
    assert not [c for c in result.checks() if c["kind"] in ("change_point", "concept_drift") and c["status"] == "alert"]


# --------------------------------------------------------------------------- the demo

def _window_of(demo, week):
    start, end = demo.windows[week - 1]
    return f"{start.isoformat()}/{end.isoformat()}"


@pytest.fixture
def flip_run(demo_archive):
    return demo_archive.week(8)


def test_preference_flip_raises_concept_drift_with_a_change_point_near_the_flip(flip_run):
    summary, run_dir = flip_run
    assert summary["notebooks"]["concept_drift"]["status"] == "alert"
    assert checks_of(summary, "concept_drift", "alert")
    assert any(c["subject"] == "roc_auc" for c in checks_of(summary, "concept_drift", "alert"))
    points = checks_of(summary, "change_point", "alert")
    assert points, checks_of(summary, "change_point")
    assert any(abs(pd.Timestamp(c["at"]) - FLIP_AT) <= pd.Timedelta("1D") for c in points)
    assert all({"at", "detected_at", "delay_hours", "method"} <= set(c) for c in points)
    perf = {c["subject"]: c for c in checks_of(summary, "performance")}
    assert perf["roc_auc"]["status"] == "alert" and perf["roc_auc"]["chunks"]
    assert {c["subject"] for c in checks_of(summary, "estimated_performance")} >= {"roc_auc", "f1"}


def test_worst_segment_is_a_valid_query_for_the_explainability_notebook(demo, flip_run):
    import mlmon_nb as mn

    summary, run_dir = flip_run
    artefacts = list(run_dir.glob("**/concept_drift.json"))
    assert artefacts, list(run_dir.iterdir())
    worst = json.loads(artefacts[0].read_text())["artefacts"]["worst_segment"]
    assert "discount_pct" in worst["query"]
    ctx = mn.open_window(demo.project_path, demo.model, demo.version, _window_of(demo, 8), notebook="t",
                         load_estimator=False)
    assert 0 < len(ctx.frame.query(worst["query"], engine="python")) < len(ctx.frame)
    assert worst["rows"] > 0 and worst["loss"] > 0 and worst["description"]


@pytest.fixture(scope="module")
def covariate_weeks(demo):
    """Weeks 5 and 6 analysed in-process, with and without labels (the notebook calls the same)."""
    import mlmon_nb as mn

    out = {}
    for week in (5, 6):
        kw = dict(notebook="concept_drift", load_estimator=False)
        labelled = mn.open_window(demo.project_path, demo.model, demo.version, _window_of(demo, week), **kw)
        blind = mn.open_window(demo.project_path, demo.model, demo.version, _window_of(demo, week), labels=False, **kw)
        out[week] = (concept.analyse(labelled), concept.analyse(blind))
    return out


@pytest.mark.parametrize("week", [5, 6])
def test_covariate_drift_weeks_do_not_raise_concept_drift(covariate_weeks, week):
    result, _ = covariate_weeks[week]
    concept_checks = [c for c in result.checks() if c["kind"] == "concept_drift" and c["subject"] != "p(y|x)"]
    assert concept_checks and all(c["status"] == "ok" for c in concept_checks), concept_checks
    assert not [c for c in result.checks() if c["kind"] == "change_point" and c["status"] == "alert"]
    assert "concept drift" not in result.verdict() or "no concept drift" in result.verdict() \
        or "not a change" in result.verdict()


@pytest.fixture(scope="module")
def shifted_week(demo, tmp_path_factory):
    """Week 6 analysed as after the data-drift notebook of the same run (its artefact planted)."""
    import mlmon_nb as mn

    work = tmp_path_factory.mktemp("run")
    (work / "data_drift.json").write_text(json.dumps({"artefacts": {"data_drift": DRIFTED}}))
    ctx = mn.open_window(demo.project_path, demo.model, demo.version, _window_of(demo, 6), notebook="concept_drift",
                         load_estimator=False, work_dir=str(work))
    return concept.analyse(ctx)


def test_a_covariate_shift_week_is_ok_and_its_verdict_names_the_shift(covariate_weeks, shifted_week):
    alone, _ = covariate_weeks[6]
    fired = [(c["subject"], c["status"]) for c in alone.checks("performance") if c["status"] != "ok"]
    assert fired and alone.status != "ok"
    assert alone.verdict().startswith(f"{alone.status.upper()}:"), alone.verdict()  # badge and sentence agree
    r = shifted_week
    assert [(c["subject"], c["status"]) for c in r.explained()] == fired  # same checks, same statuses
    assert r.status == "ok" and r.verdict().startswith("OK:"), r.verdict()
    assert "covariate shift in price, device explains the drop" in r.verdict()
    rec = Recorder("concept_drift")
    r.record(rec)
    assert rec.status == "ok" and {c.explained_by for c in rec.checks if c.status != "ok"} == {"covariate_shift"}
    assert [f["status"] for f in rec.findings if "price, device" in f["text"]] == ["ok"]
    assert all(f["status"] == "ok" for f in rec.findings), rec.findings


@pytest.mark.parametrize("week", [5, 6])
def test_estimated_auc_without_labels_is_within_003_of_realized(covariate_weeks, week):
    labelled, blind = covariate_weeks[week]
    assert blind.labelled == 0 and blind.concept is None and blind.notes
    realized = labelled.chunks.window("roc_auc")["realized"]
    estimated = blind.chunks.window("roc_auc")["estimated"]
    assert abs(estimated - realized) <= 0.03, (estimated, realized)
    kinds = {c["kind"] for c in blind.checks()}
    assert kinds == {"estimated_performance"}
    assert "No labels" in blind.verdict()


def test_notebook_without_labels_still_runs_and_says_what_it_needs(demo, tmp_path):
    """A copy of the project file without its labels block (same data and archive)."""
    from mlmon_nb.runner import execute_plan, prepare_window_run

    root = Path(demo.project_path).parent
    cfg = yaml.safe_load(Path(demo.project_path).read_text())
    model = cfg["models"][demo.model]
    del model["labels"]
    for key in ("reference", "logs"):
        model[key] = str((root / model[key]).resolve())
    for v in model["versions"].values():
        v["model"] = str((root / v["model"]).resolve())
    cfg["archive"] = str((root / cfg["archive"]).resolve())
    path = tmp_path / "mlmon.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    plan = prepare_window_run(path, demo.model, demo.version, _window_of(demo, 10), ["concept_drift"], {})
    outcome = execute_plan(plan, fail_on="never")
    summary = outcome.summary
    assert summary["notebooks"]["concept_drift"]["status"] in ("ok", "warn", "alert")
    assert {c["kind"] for c in checks_of(summary)} == {"estimated_performance"}
    html = (outcome.run_dir / "concept_drift.html").read_text()
    assert "labels" in html and "No labels in this window yet" in html


def test_a_tiny_window_of_one_class_says_performance_could_not_be_judged():
    """Used to read "ROC AUC nan is within the baseline band" (issue 13, finding 10)."""
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"y": (rng.random(4000) < 0.3).astype(float), "__prediction__": rng.random(4000)})
    win = pd.DataFrame({"y": np.zeros(12), "__prediction__": rng.random(12),
                        "ts": pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(np.arange(12), unit="h")})
    result = concept.analyse_frames(_spec(), ref, win)
    text = result.verdict()
    assert "nan" not in text.lower(), text
