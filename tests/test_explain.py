"""Tests of the mlmon_nb.explain package: attributions, their drift, cohorts, local explanations and the notebook.

Planted models have known structure (outcome driven by x1 >> x2 > x3, nothing else); figures are
checked against independent computations (the estimators' own decision functions, exact linear
SHAP, scipy's optimiser) rather than numbers copied from our output.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from mlmon_nb import explain
from mlmon_nb.explain import Attribution, CohortError, attribution_drift, cohort_mask, parse_cohort
from mlmon_nb.models import LoadedModel

matplotlib.use("Agg")

FEATURES = [f"x{i}" for i in range(1, 11)]
COEF = {"x1": 3.0, "x2": 1.2, "x3": 0.6}  # x1 >> x2 > x3, x4..x10 do not matter


def planted(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    logit = -0.5 + sum(c * X[f] for f, c in COEF.items())
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def loaded(estimator, features, task="binary_classification") -> LoadedModel:
    return LoadedModel(version="t", path=Path("t.skops"), sha256="0" * 64, estimator=estimator, task=task,
                       features=tuple(features))


def top3(attr: Attribution) -> list[str]:
    return list(attr.importance().index[:3])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Fit and score on one thread: OpenMP workers spinning on a shared 2-core machine are far slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    return planted(6000)


# --------------------------------------------------------------------------- explainers

def test_tree_model_ranks_planted_features_and_adds_up(data):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    est = HistGradientBoostingClassifier(max_iter=80, random_state=0).fit(X, y)
    ex = explain.make_explainer(loaded(est, FEATURES), FEATURES)
    attr = ex.explain(X.iloc[:1500])
    assert ex.kind == "tree" and attr.units == "log-odds"
    assert top3(attr) == ["x1", "x2", "x3"]
    # additivity against the estimator's own log-odds
    expected = est.decision_function(X.iloc[:1500])
    assert attr.base_value + attr.values.sum(axis=1).to_numpy() == pytest.approx(expected, abs=1e-6)


def test_pipeline_with_one_hot_gives_the_same_ranking_in_raw_feature_space(data):
    import shap
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = data
    Xc = X.copy()
    # x2 (which matters) becomes 6 ordered levels, x5 (which does not) 4 random levels
    Xc["x2"] = pd.cut(X["x2"], [-np.inf, -1.5, -0.5, 0, 0.5, 1.5, np.inf], labels=list("abcdef")).astype(str)
    Xc["x5"] = np.random.default_rng(1).choice(["p", "q", "r", "s"], len(X))
    cats = ["x2", "x5"]
    pipe = Pipeline([
        ("prepare", ColumnTransformer([("cat", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), cats)],
                                      remainder="passthrough")),
        ("model", HistGradientBoostingClassifier(max_iter=80, random_state=0)),
    ]).fit(Xc, y)
    ex = explain.make_explainer(loaded(pipe, FEATURES), FEATURES)
    rows = Xc.iloc[:1500]
    attr = ex.explain(rows)
    assert list(attr.values.columns) == FEATURES
    assert top3(attr) == ["x1", "x2", "x3"]
    expected = pipe.decision_function(rows)
    assert attr.base_value + attr.values.sum(axis=1).to_numpy() == pytest.approx(expected, abs=1e-6)
    # independently: shap on the transformed columns, one-hot columns of x2 summed by name
    pre, est = pipe[:-1], pipe[-1]
    raw = shap.TreeExplainer(est).shap_values(pre.transform(rows))
    names = pre.get_feature_names_out()
    x2 = raw[:, [i for i, n in enumerate(names) if n.startswith("cat__x2_")]].sum(axis=1)
    assert attr.values["x2"].to_numpy() == pytest.approx(x2, abs=1e-9)


class Opaque:
    """A model the explainers know nothing of (its predictions are a logistic regression's)."""

    def __init__(self, est):
        self.est, self.classes_ = est, est.classes_

    def predict_proba(self, X):
        return self.est.predict_proba(X)


def test_model_agnostic_explainer_matches_exact_linear_shap(data):
    from sklearn.linear_model import LogisticRegression

    X, y = data
    est = LogisticRegression().fit(X, y)
    background = X.iloc[-100:]
    ex = explain.make_explainer(loaded(Opaque(est), FEATURES), FEATURES, background=background, seed=3)
    rows = X.iloc[:30]
    attr = ex.explain(rows)
    assert ex.kind == "permutation" and attr.method == "shap_permutation"
    # for a model linear in log-odds, interventional SHAP is exactly coef * (x - mean of the background)
    exact = est.coef_[0] * (rows.to_numpy() - background.to_numpy().mean(axis=0))
    assert attr.values.to_numpy() == pytest.approx(exact, abs=1e-6)
    assert top3(attr) == ["x1", "x2", "x3"]
    again = ex.explain(rows)  # seeded: the same numbers again
    assert np.array_equal(again.values.to_numpy(), attr.values.to_numpy())


@pytest.mark.parametrize("kind", ["logistic", "scaled logistic", "ridge"])
def test_linear_models_get_exact_linear_shap(data, kind):
    """scikit-learn linear models (also behind a scaler) are explained by shap's LinearExplainer:
    coefficient times the distance to the background's mean, in raw feature units (independently
    computed here), adding up to the model's log-odds or prediction."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    if kind == "ridge":
        est, task = Ridge().fit(X, X["x1"] * 2.0 + X["x3"]), "regression"
    elif kind == "scaled logistic":
        est, task = make_pipeline(StandardScaler(), LogisticRegression()).fit(X * 10 + 3, y), "binary_classification"
        X = X * 10 + 3
    else:
        est, task = LogisticRegression().fit(X, y), "binary_classification"
    background = X.iloc[-200:]
    ex = explain.make_explainer(loaded(est, FEATURES, task), FEATURES, background=background)
    rows = X.iloc[:50]
    attr = ex.explain(rows)
    assert ex.kind == "linear" and attr.method == "shap_linear" and ex.row_cap(2000) == 2000
    final = est[-1] if kind == "scaled logistic" else est
    coef = np.ravel(final.coef_) / (est[0].scale_ if kind == "scaled logistic" else 1.0)  # per raw unit
    exact = coef * (rows.to_numpy() - background.to_numpy().mean(axis=0))
    assert attr.values.to_numpy() == pytest.approx(exact, abs=1e-9)
    output = est.predict(rows) if task == "regression" else est.decision_function(rows)
    assert attr.base_value + attr.values.sum(axis=1).to_numpy() == pytest.approx(output, abs=1e-9)
    assert top3(attr)[0] == "x1"


def test_probability_trees_are_rescaled_to_log_odds_exactly(data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    est = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0, n_jobs=1).fit(X, y)
    attr = explain.make_explainer(loaded(est, FEATURES), FEATURES).explain(X.iloc[:800])
    p = np.clip(est.predict_proba(X.iloc[:800])[:, 1], 1e-9, 1 - 1e-9)
    assert attr.method == "shap_tree_rescaled"
    assert attr.base_value + attr.values.sum(axis=1).to_numpy() == pytest.approx(np.log(p / (1 - p)), abs=1e-6)
    assert top3(attr) == ["x1", "x2", "x3"]


def test_baseline_importance_keeps_its_signature(data):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    est = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    imp, method = explain.importance(loaded(est, FEATURES), X, FEATURES, pd.Series(y), np.random.default_rng(0),
                                     max_rows=500)
    assert list(imp.index[:3]) == ["x1", "x2", "x3"] and imp.sum() == pytest.approx(1.0)
    assert "SHAP" in method


# --------------------------------------------------------------------------- outcome reliance

def test_reliance_is_the_likelihood_maximiser():
    rng = np.random.default_rng(5)
    n = 5000
    phi = rng.normal(0, 0.8, n)
    f = -2.0 + phi + rng.normal(0, 0.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(f - phi - 0.7 * phi)))).astype(float)  # true rho = -0.7

    def nll(r):
        eta = f - phi + r * phi
        return float(np.sum(np.logaddexp(0, eta) - y * eta))

    best = optimize.minimize_scalar(nll, bounds=(-10, 10), method="bounded", options={"xatol": 1e-10}).x
    got = explain.reliance(f, phi, y)
    assert got.value == pytest.approx(best, abs=1e-5)
    p = 1 / (1 + np.exp(-(f - phi + best * phi)))
    assert got.se == pytest.approx(1 / math.sqrt(np.sum(phi**2 * p * (1 - p))), rel=1e-4)
    assert abs(got.value + 0.7) < 4 * got.se


def test_regression_attributions_and_reliance_are_in_target_units(data):
    from sklearn.ensemble import GradientBoostingRegressor

    X, _ = data
    target = 3 * X["x1"] + X["x2"] + np.random.default_rng(8).normal(0, 0.5, len(X))
    est = GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=0).fit(X, target)
    attr = explain.make_explainer(loaded(est, FEATURES, "regression"), FEATURES).explain(X.iloc[:500])
    assert attr.units == "prediction" and top3(attr)[:2] == ["x1", "x2"]
    assert attr.base_value + attr.values.sum(axis=1).to_numpy() == pytest.approx(est.predict(X.iloc[:500]), abs=1e-6)
    # least squares with the offset, solved independently
    phi, f, y = attr.values["x1"].to_numpy(), attr.output, target.iloc[:500].to_numpy() + attr.values["x1"].to_numpy()
    slope = np.linalg.lstsq(phi[:, None], y - (f - phi), rcond=None)[0][0]
    assert explain.reliance(f, phi, y, "regression").value == pytest.approx(slope, rel=1e-9)


def _synthetic(n, rng, shift_b=0.0, flip_a=False):
    """Attributions of three features and outcomes drawn from the model (or with a's effect reversed)."""
    vals = pd.DataFrame({"a": rng.normal(0, 0.6, n), "b": rng.normal(shift_b, 0.4, n), "c": rng.normal(0, 0.2, n)})
    out = -2.0 + vals.sum(axis=1).to_numpy()
    truth = out - 2 * vals["a"].to_numpy() if flip_a else out
    y = (rng.random(n) < 1 / (1 + np.exp(-truth))).astype(float)
    return Attribution(values=vals, base_value=-2.0, method="shap_tree", output=out), y


@pytest.mark.parametrize("case", ["none", "concept", "covariate"])
def test_attribution_drift_names_what_was_planted(case):
    rng = np.random.default_rng(11)
    base, yb = _synthetic(10_000, rng)
    win, yw = _synthetic(2_000, rng, shift_b=0.5 if case == "covariate" else 0.0, flip_a=case == "concept")
    res = attribution_drift(base, win, baseline_target=yb, window_target=yw)
    status = {f.feature: (f.status, f.method) for f in res.features}
    if case == "none":
        assert all(s == "ok" for s, _ in status.values())
    elif case == "concept":
        assert status["a"] == ("alert", "attribution_reliance")
        assert status["b"][0] == status["c"][0] == "ok"
        assert res.flagged("warn", "attribution_reliance") == ["a"]
    else:
        assert status["b"] == ("alert", "attribution_distance")
        assert status["a"][0] == "ok"


def test_attribution_drift_records_one_check_per_feature():
    from mlmon_nb.checks import Recorder

    rng = np.random.default_rng(2)
    base, yb = _synthetic(3000, rng)
    win, yw = _synthetic(1000, rng, flip_a=True)
    rec = Recorder("explainability")
    attribution_drift(base, win, baseline_target=yb, window_target=yw).record(rec)
    checks = {c.subject: c for c in rec.checks}
    assert set(checks) == {"a", "b", "c"} and all(c.kind == "attribution_drift" for c in checks.values())
    a = checks["a"].to_dict()
    assert a["status"] == "alert" and a["method"] == "attribution_reliance"
    assert a["reliance_window"] < a["reliance_band_low"] and a["value"] >= a["threshold"]
    assert rec.findings and "a" in rec.findings[0]["text"]


# --------------------------------------------------------------------------- cohorts

@pytest.fixture
def frame():
    return pd.DataFrame({"device": pd.Categorical(["mobile", "desktop", "mobile", "tablet"]),
                         "discount pct": [0, 30, 25, 10], "score": [0.1, 0.4, 0.3, 0.2]})


def test_cohort_query_top_bottom_and_segment(frame):
    spec = parse_cohort('device == "mobile" and `discount pct` > 20')
    assert cohort_mask(frame, spec).tolist() == [False, False, True, False]
    assert cohort_mask(frame, parse_cohort("top:2"), score=frame["score"]).tolist() == [False, True, True, False]
    assert cohort_mask(frame, parse_cohort("bottom:1"), score=frame["score"]).tolist() == [True, False, False, False]
    assert cohort_mask(frame, parse_cohort("top:1"), score=frame["score"], share=0.5).sum() == 2
    seg = parse_cohort("", {"worst_segment": {"column": "device", "level": "tablet"}})
    assert seg.source == "concept_drift" and cohort_mask(frame, seg).tolist() == [False, False, False, True]
    assert parse_cohort("worst_segment", {"worst_segment": 'device == "desktop"'}).query == 'device == "desktop"'
    assert parse_cohort("", {}) is None


@pytest.mark.parametrize("text, words", [
    ('devce == "mobile"', "devce"),
    ('device == "mobile" and', "is not a filter expression"),
    ("score", "True/False"),
])
def test_bad_cohort_queries_raise_one_line_messages(frame, text, words):
    with pytest.raises(CohortError) as err:
        cohort_mask(frame, parse_cohort(text))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bad_cohort_parameters(frame):
    with pytest.raises(CohortError, match="whole number"):
        parse_cohort("top:many")
    with pytest.raises(CohortError, match="no worst segment"):
        parse_cohort("worst_segment", {})


# --------------------------------------------------------------------------- local explanations and figures

def test_surprising_rows_are_the_largest_log_loss():
    rng = np.random.default_rng(4)
    attr, y = _synthetic(400, rng)
    data = pd.DataFrame({"a": rng.normal(size=400), "b": ["$5 <b>x</b>"] * 400, "c": rng.normal(size=400)})
    attr = Attribution(values=attr.values, base_value=attr.base_value, method=attr.method, output=attr.output,
                       data=data)
    y[::7] = np.nan
    p = 1 / (1 + np.exp(-attr.output))
    loss = np.where(np.isnan(y), -np.inf, -(np.nan_to_num(y) * np.log(p) + (1 - np.nan_to_num(y)) * np.log(1 - p)))
    got = explain.surprising(attr, y, k=3)
    assert [g.row_id for g in got] == [f"row {i}" for i in np.argsort(-loss)[:3]]
    assert got[0].loss == pytest.approx(loss.max())
    fig = got[0].plot()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any(r"\$5 <b>x</b>" in t for t in labels)  # mathtext disabled for data
    fig.canvas.draw()
    assert fig.axes[0].get_title() and fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()
    unlabelled = explain.surprising(attr, None, k=2)
    assert unlabelled[0].reason.startswith("most extreme")


def test_result_figures_have_titles_and_axis_labels():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(6)
    base, yb = _synthetic(3000, rng)
    win, yw = _synthetic(800, rng, flip_a=True)
    data_b = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.choice(["u", "v"], 3000), "c": rng.normal(size=3000)})
    data_w = pd.DataFrame({"a": rng.normal(1, 1, 800), "b": rng.choice(["u", "v"], 800), "c": rng.normal(size=800)})
    base = Attribution(base.values, base.base_value, base.method, base.output, data=data_b)
    win = Attribution(win.values, win.base_value, win.method, win.output, data=data_w)
    res = attribution_drift(base, win, baseline_target=yb, window_target=yw)
    comp = explain.CohortComparison(spec=parse_cohort("a > 0"), baseline=base.take(np.arange(100)),
                                    window=win.take(np.arange(50)), baseline_rows=100, window_rows=50,
                                    baseline_total=100, window_total=50)
    figs = [res.plot("importance"), res.plot("reliance"), res.plot("outcome", feature="a"), comp.plot(),
            explain.dependence(base, win, "a", "numeric").plot(),
            explain.dependence(base, win, "b", "categorical").plot()]
    for fig in figs:
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        plt.close(fig)
    assert comp.sentences()


def test_lime_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lime", None)
    monkeypatch.setitem(sys.modules, "lime.lime_tabular", None)
    local = explain.LocalExplanation("r", pd.Series({"a": 1.0}), pd.Series({"a": 0.5}), 0.0, 0.5, "log-odds",
                                     "binary_classification", None, None, "x")
    with pytest.raises(ImportError, match=r"mlmon-nb\[lime\]"):
        explain.lime_check(None, local, pd.DataFrame({"a": [1.0]}))


def test_lime_agrees_with_shap_on_the_strongest_feature(data):
    pytest.importorskip("lime")
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    est = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X, y)
    ex = explain.make_explainer(loaded(est, FEATURES), FEATURES)
    attr = ex.explain(X.iloc[:200])
    row = int(np.argmax(np.abs(attr.values["x1"].to_numpy())))
    local = explain.surprising(attr.take([row]), None, k=1)[0]
    df = explain.lime_check(ex, local, X.iloc[-500:], seed=0)
    assert df["feature"].iloc[0] == "x1" and bool(df["same sign"].iloc[0])
    assert "share" in explain.lime_agreement(df)


# --------------------------------------------------------------------------- the notebook on the demo

@pytest.mark.slow
def test_concept_drift_week_names_the_flipped_feature_and_the_cohort_works(demo):
    import html

    from conftest import checks_of, run_window

    summary, run_dir = run_window(demo, 8, ["explainability"], {"cohort": 'device == "mobile"'})
    assert summary["notebooks"]["explainability"]["status"] != "error"
    checks = {c["subject"]: c for c in checks_of(summary, "attribution_drift")}
    assert set(checks) == {"price", "discount_pct", "user_tenure_days", "item_rating", "session_depth",
                           "device", "region", "category"}
    flipped = checks["discount_pct"]
    assert flipped["status"] == "alert" and flipped["method"] == "attribution_reliance"
    assert flipped["reliance_window"] < 0 < flipped["reliance_baseline"]
    assert not [s for s, c in checks.items() if s != "discount_pct" and c["reliance_status"] != "ok"]
    assert "discount_pct" in summary["notebooks"]["explainability"]["verdict"]
    report = html.unescape((run_dir / "explainability.html").read_text())
    assert re.search(r'Cohort device == "mobile": [0-9,]+ window rows', report)
    assert 'Cohort device == "mobile": mean contribution per feature' in report  # the figure's alt text
    nb = json.loads((run_dir / "explainability.ipynb").read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] in ("error", "stream")
                and o.get("name") != "stdout"]


@pytest.mark.slow
def test_stable_week_has_no_attribution_alarm_and_a_bad_cohort_is_reported(demo):
    from mlmon_nb import open_window
    from mlmon_nb.checks import Recorder

    start, end = demo.windows[2]  # week 3: before the covariate drift and the flip
    ctx = open_window(demo.project_path, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                      notebook="explainability")
    ex = explain.analyse(ctx, cohort='devce == "mobile"')
    assert not ex.drift.flagged("warn"), ex.drift.table_df()
    assert ex.cohort is None and "devce" in ex.cohort_note
    rec = Recorder("explainability")
    ex.record(rec)
    assert len(rec.checks) == 8 and rec.status == "ok"
    assert any(m.startswith("Cohort not analysed") and "devce" in m for m in rec.missing)
    assert ex.verdict().startswith("No attribution drift")


# --------------------------------------------------------------------------- summary mode (issue 17)

def _explained(path, demo, week: int, summarise, **kw):
    """(context, result) of the explainability analysis of a demo week, opened as asked."""
    from mlmon_nb import open_window

    start, end = demo.windows[week - 1]
    ctx = open_window(path, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                      notebook="explainability", reference_rows=False, summarise=summarise)
    return ctx, explain.analyse(ctx, **kw)


def explain_checks(result) -> dict[tuple[str, str], str]:
    from mlmon_nb.checks import Recorder

    rec = Recorder("explainability")
    result.record(rec)
    return {(c.kind, c.subject): c.status for c in rec.checks}


def test_summary_mode_explains_the_engines_sample_with_the_in_memory_checks(demo, monkeypatch):
    # Week 8: discount_pct's effect flips and price drifts (alerts), the other six features are quiet.
    memory_ctx, memory = _explained(demo.project_path, demo, 8, False, max_rows=1000)
    ctx, summarised = _explained(demo.project_path, demo, 8, True, max_rows=1000)
    assert ctx.scan is not None and ctx.current.frame.empty  # never read into pandas
    # The sample covers the whole window: the same rows, in the same (time) order, typed alike.
    pd.testing.assert_frame_equal(explain.window.window_rows(ctx, seed=0, task=ctx.model.task)[0],
                                  memory_ctx.frame.reset_index(drop=True))
    assert explain_checks(summarised) == explain_checks(memory)
    assert {s for (_, s), st in explain_checks(summarised).items() if st == "alert"} == {"discount_pct", "price"}
    assert summarised.window_total == memory.window_total == ctx.rows
    assert summarised.how[0].startswith(f"Explained on all {ctx.rows:,} of the window's rows") and not memory.how

    # A window larger than the sample: the sentence says how many of how many, and by what.
    monkeypatch.setattr(explain.window, "SAMPLE_ROWS", 1000)
    ctx, small = _explained(demo.project_path, demo, 8, True, max_rows=500)
    assert small.window_total == ctx.rows > small.window_sample == 1000 and len(small.window) == 500
    assert small.how[0].startswith(f"Explained on a stratified sample of 1,000 of the window's {ctx.rows:,} rows "
                                   f"(by day and label")
    assert ctx.current.frame.empty


# --------------------------------------------------------------------------- the baseline side, once per baseline

def test_baseline_attributions_are_explained_once_per_baseline_and_reused_exactly(demo, monkeypatch):
    """The baseline rows a window is compared with are explained once and read back by later
    windows (the same rows, model and explainer); another seed, a damaged file or an unwritable
    folder only cost the time."""
    import shutil

    from mlmon_nb import open_window
    from mlmon_nb.explain import explainers, reuse

    calls = []
    real = explainers.Explainer.explain

    def counted(self, frame):
        calls.append(len(frame))
        return real(self, frame)

    monkeypatch.setattr(explainers.Explainer, "explain", counted)

    def analysed(week: int, seed: int = 0):
        start, end = demo.windows[week - 1]
        ctx = open_window(demo.project_path, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                          notebook="explainability", reference_rows=False)
        calls.clear()
        return ctx, explain.analyse(ctx, max_rows=300, seed=seed)

    ctx, first = analysed(2)
    cache = ctx.baseline.path / reuse.CACHE_DIR
    shutil.rmtree(cache, ignore_errors=True)
    ctx, first = analysed(2)
    assert calls == [1500, 300] and len(list(cache.glob("attributions-*.npz"))) == 1  # baseline, then window
    _, again = analysed(6)  # another week: only its own rows are explained
    assert calls == [300]
    pd.testing.assert_frame_equal(again.baseline.values, first.baseline.values)
    np.testing.assert_array_equal(again.baseline.output, first.baseline.output)
    assert (again.baseline.base_value, again.baseline.method) == (first.baseline.base_value, first.baseline.method)
    pd.testing.assert_frame_equal(again.baseline.data, first.baseline.data)

    _, other = analysed(6, seed=1)  # other rows: explained, and kept beside the first
    assert calls == [1500, 300] and len(list(cache.glob("attributions-*.npz"))) == 2
    for path in cache.glob("attributions-*.npz"):
        path.write_bytes(b"not an npz")
    _, damaged = analysed(6)
    assert calls == [1500, 300]
    pd.testing.assert_frame_equal(damaged.baseline.values, first.baseline.values)

    shutil.rmtree(cache)
    cache.write_text("a file where the folder would be")  # nothing can be written there
    try:
        _, unwritable = analysed(6)
        assert calls == [1500, 300]
        pd.testing.assert_frame_equal(unwritable.baseline.values, first.baseline.values)
    finally:
        cache.unlink()
