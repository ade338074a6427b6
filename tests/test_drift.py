"""Data drift: the decision rule, null and power, since-when, quality, labels, joint drift, the demo."""

from __future__ import annotations

import dataclasses
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from mlmon_nb import drift, stats
from mlmon_nb.checks import Recorder
from mlmon_nb.config import FeaturesConfig, Thresholds, load_project
from mlmon_nb.drift.multivariate import cv_auc
from mlmon_nb.drift.rule import beyond, effective, feature_rule, significant
from mlmon_nb.errors import ConfigError
from mlmon_nb.fit import fit_frame
from mlmon_nb.rules import decide

from conftest import checks_of, write_project

matplotlib.use("Agg")

N_NUMERIC, N_CATEGORICAL = 20, 10
FAST = ("ks", "jensen_shannon")  # the decision statistics: the only bands the fast path needs
CHUNKS = 10  # the fewest chunks a baseline may have (config: baseline.chunks >= 10)


def thirty_features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """20 numeric features (normal, skewed, heavy-tailed, discrete, with ties and missing values)
    and 10 categorical ones (2 to 60 levels, skewed, one beyond the baseline's top 50).

    The distributions are fixed; ``rng`` draws the rows, so two calls sample the same distributions.
    """
    shape = np.random.default_rng(0)
    cols = {}
    for j in range(N_NUMERIC):
        kind = j % 5
        if kind == 0:
            x = rng.normal(10 * j, 1 + j, n)
        elif kind == 1:
            x = rng.lognormal(0, 0.8, n)
        elif kind == 2:
            x = rng.poisson(3 + j, n).astype(float)
        elif kind == 3:
            x = np.round(rng.gamma(2.0, 5.0, n), 0)
        else:
            x = rng.standard_t(3, n)
        if j % 4 == 0:
            x[rng.random(n) < 0.05] = np.nan
        cols[f"n{j:02d}"] = x
    for j in range(N_CATEGORICAL):
        k = 60 if j == 9 else 2 + j
        p = shape.dirichlet(np.ones(k) * 2)
        cols[f"c{j:02d}"] = pd.Categorical.from_codes(rng.choice(k, n, p=p), [f"v{i}" for i in range(k)])
    return pd.DataFrame(cols)


FEATURES = FeaturesConfig(numeric=tuple(f"n{j:02d}" for j in range(N_NUMERIC)),
                          categorical=tuple(f"c{j:02d}" for j in range(N_CATEGORICAL)))


def alerts(result) -> set[str]:
    return set(result.drifted("alert"))


# --------------------------------------------------------------------------- the rule

@pytest.mark.parametrize("value,p,band,expected", [
    (0.15, 1e-9, 0.04, "alert"),   # beyond band and alert floor, significant
    (0.15, 0.20, 0.04, "ok"),      # not significant
    (0.07, 1e-9, 0.04, "warn"),    # beyond band, only the warn floor
    (0.03, 1e-9, 0.01, "ok"),      # below both floors: negligible however significant
    (0.15, 1e-9, 0.20, "ok"),      # within the reference's own variability
    (0.15, 1e-9, None, "alert"),   # no band: floors only
    (float("nan"), 1e-9, 0.04, "ok"),
    (0.15, None, 0.04, "ok"),
])
def test_the_drift_rule(value, p, band, expected):
    status = decide(value, 0.05, 0.1, outside=beyond(value, band), significant=significant(p, 0.05))
    assert status == expected
    assert effective(band, 0.1) == max(band or -1, 0.1) and effective(band, 0.05) == max(band or -1, 0.05)


def test_unknown_method_is_a_clear_error_listing_the_registry(tmp_path):
    def load(thresholds, name):
        (tmp_path / name).mkdir()
        return load_project(write_project(tmp_path / name, model_extra={"thresholds": thresholds}))

    with pytest.raises(ConfigError) as err:
        load({"methods": {"kolmogorov": {"alert": 0.2}}}, "a")
    assert "kolmogorov" in str(err.value) and all(n in str(err.value) for n in stats.REGISTRY)
    with pytest.raises(ConfigError, match="thresholds.features.price.method: .*unknown statistic 'kss'"):
        load({"features": {"price": {"method": "kss"}}}, "b")
    with pytest.raises(ConfigError, match="'pricee' is not a monitored feature; monitored: price"):
        Thresholds(features={"pricee": {"alert": 0.3}}).check_features(["price"])
    with pytest.raises(ConfigError, match="does not apply to numeric"):
        feature_rule(Thresholds(features={"price": {"method": "chi2"}}), "price", "numeric")


def test_overrides_per_method_and_feature_and_ignore():
    rng = np.random.default_rng(11)
    ref = thirty_features(rng, 4000)
    cur = thirty_features(rng, 3000)
    cur["n00"] = cur["n00"] + 0.5 * ref["n00"].std()
    cur["c00"] = pd.Categorical.from_codes(np.where(rng.random(3000) < 0.3, 0, cur["c00"].cat.codes),
                                           cur["c00"].cat.categories)
    base = fit_frame(ref, FEATURES, methods=FAST + ("wasserstein",))
    plain = drift.univariate(base, cur, features=FEATURES)
    assert alerts(plain) == {"n00", "c00"}
    cfg = Thresholds(fdr=0.01, methods={"jensen_shannon": {"warn": 0.9, "alert": 0.95}},
                     features={"n00": {"method": "wasserstein", "warn": 0.6, "alert": 0.7}, "n01": {"ignore": True}})
    tuned = drift.univariate(base, cur, features=FEATURES, thresholds=cfg)
    n00 = tuned.get("n00")
    assert (n00.method, n00.test, n00.status) == ("wasserstein", "ks", "ok")  # 0.5 sd < the 0.7 floor
    assert n00.value == pytest.approx(0.5, abs=0.1)
    assert all(tuned.get(c).status == "ok" for c in FEATURES.categorical)  # JS floors raised to 0.95
    rec = Recorder("data_drift")
    tuned.record(rec)
    subjects = {c.subject: c for c in rec.checks}
    assert set(subjects) == set(FEATURES.numeric) | set(FEATURES.categorical)  # ignored ones too
    assert subjects["n01"].details["ignored"] is True and subjects["n01"].status == "ok"
    assert subjects["n00"].details["fdr"] == 0.01


# --------------------------------------------------------------------------- null and power (fast path)

def test_null_two_random_halves_raise_no_alert_in_95_of_100_seeds():
    false_alarms = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        data = thirty_features(rng, 4000)
        half = rng.permutation(len(data)) < len(data) // 2
        base = fit_frame(data[half].reset_index(drop=True), FEATURES, methods=FAST, n_chunks=CHUNKS,
                                   rng=rng)
        result = drift.univariate(base, data[~half].reset_index(drop=True), features=FEATURES)
        false_alarms += bool(alerts(result))
    assert false_alarms <= 5


def test_half_sd_mean_shift_in_one_of_30_features_is_found_in_95_of_100_seeds():
    found = extra = 0
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        ref, cur = thirty_features(rng, 5000), thirty_features(rng, 5000)
        target = FEATURES.numeric[seed % N_NUMERIC]
        cur[target] = cur[target] + 0.5 * np.nanstd(ref[target])
        base = fit_frame(ref, FEATURES, methods=FAST, n_chunks=CHUNKS, rng=rng)
        got = alerts(drift.univariate(base, cur, features=FEATURES))
        found += target in got
        extra += bool(got - {target})
    assert found >= 95
    assert extra <= 5


def test_in_memory_baseline_learns_the_same_bands_as_the_archived_one(demo):
    from mlmon_nb.baseline import load_baseline
    from mlmon_nb.config import load_project
    from mlmon_nb.data import read_reference

    project = load_project(demo.project_path)
    archived = load_baseline(project, demo.model, demo.version)
    ref = read_reference(project.model(demo.model))
    mem = fit_frame(ref.frame, archived.features, methods=FAST)  # what fit() builds on, without a project
    for key in ("drift/ks/price", "drift/jensen_shannon/device", "quality/missing_rate/price"):
        a, b = archived.manifest["bands"][key], mem.manifest["bands"][key]
        assert b["mean"] == pytest.approx(a["mean"], rel=1e-9, abs=1e-12), key
        assert b["sd"] == pytest.approx(a["sd"], rel=1e-9, abs=1e-12), key


# --------------------------------------------------------------------------- since when, impact

def week_of(rng, n, start="2026-10-05", shift_from_day=None):
    df = thirty_features(rng, n).iloc[:, [0, 5, 20, 21]].copy()
    df["ts"] = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 7 * 86400, n)), unit="s")
    if shift_from_day is not None:
        late = df["ts"] >= pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=shift_from_day)
        df.loc[late, "n00"] += 1.0 * df["n00"].std()
    return df


def test_since_is_the_first_chunk_of_a_planted_shift_and_the_heatmap_shows_it():
    rng = np.random.default_rng(21)
    ref = week_of(rng, 6000, start="2026-09-01")
    cur = week_of(rng, 7000, shift_from_day=3)
    feats = FeaturesConfig(numeric=("n00", "n05"), categorical=("c00", "c01"))
    base = fit_frame(ref.drop(columns="ts"), feats, methods=FAST,
                               importance={"n00": 0.1, "n05": 0.6, "c00": 0.2, "c01": 0.1})
    result = drift.univariate(base, cur, features=feats, timestamp="ts", chunk="1d",
                              start=pd.Timestamp("2026-10-05", tz="UTC"), end=pd.Timestamp("2026-10-12", tz="UTC"))
    n00 = result.get("n00")
    assert n00.status == "alert"
    assert n00.since == "2026-10-08T00:00:00+00:00"
    grid = result.over_time
    assert len(grid.starts) == 7 and list(grid.status[grid.features.index("n00")][:3]) == ["ok"] * 3
    assert n00.impact == pytest.approx(n00.value / n00.threshold * (0.1 / 0.6))
    assert result.to_df()["feature"].iloc[0] == "n00"  # still first: only it drifted
    fig = result.plot("heatmap")
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(dataclasses.FrozenInstanceError):  # built once, with its grid: never patched afterwards
        result.over_time = None


def test_every_plot_has_a_title_and_labelled_axes_and_names_are_escaped():
    rng = np.random.default_rng(22)
    evil = "<i>c00</i>"
    ref = week_of(rng, 3000, start="2026-09-01").rename(columns={"c00": evil})
    cur = week_of(rng, 3000, shift_from_day=0).rename(columns={"c00": evil})
    cur[evil] = cur[evil].cat.add_categories(["<b>new</b>"])
    cur.loc[cur.index[:600], evil] = "<b>new</b>"
    feats = FeaturesConfig(numeric=("n00", "n05"), categorical=(evil, "c01"))
    base = fit_frame(ref.drop(columns="ts"), feats, methods=FAST)
    result = drift.univariate(base, cur, features=feats)
    assert {"n00", evil} <= alerts(result)
    figures = [result.plot("summary"), result.plot("overlay", feature="n00"), result.plot("overlay", feature=evil)]
    for fig in figures:
        title = fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()
        assert title
        for ax in fig.axes:
            assert ax.get_xlabel(), title
    html = str(result.html())
    assert "&lt;i&gt;c00&lt;/i&gt;" in html and evil not in html


# --------------------------------------------------------------------------- quality, labels, scores

def test_missing_rate_change_is_its_own_check_and_binomial_aware():
    rng = np.random.default_rng(31)
    ref = thirty_features(rng, 5000)[["n01", "n02", "c00"]]
    cur = thirty_features(rng, 4000)[["n01", "n02", "c00"]]
    cur.loc[cur.index[:1], "n01"] = np.nan  # one missing value where the reference had none: noise
    cur.loc[cur.index[:400], "n02"] = np.nan  # 10 points more: an alert
    feats = FeaturesConfig(numeric=("n01", "n02"), categorical=("c00",))
    base = fit_frame(ref, feats, methods=FAST)
    q = drift.missing_rates(base, cur, features=feats)
    status = {f.feature: f.status for f in q.features}
    assert status == {"n01": "ok", "n02": "alert", "c00": "ok"}
    rec = Recorder("data_drift")
    q.record(rec)
    assert [c.subject for c in rec.checks if c.status == "alert"] == ["n02:missing_rate"]
    assert all(c.kind == "data_quality" for c in rec.checks)


def test_label_drift_binomial_and_prediction_drift():
    rng = np.random.default_rng(41)
    ref = pd.DataFrame({"x": rng.normal(size=8000), "score": rng.beta(2, 20, 8000)})
    ref["y"] = (rng.random(8000) < ref["score"]).astype(int)
    feats = FeaturesConfig(numeric=("x",))
    base = fit_frame(ref, feats, prediction="score", target="y", methods=FAST)
    same = drift.label_drift(base, (rng.random(3000) < 0.09).astype(float), task="binary_classification",
                             subject="y")
    moved = drift.label_drift(base, (rng.random(3000) < 0.15).astype(float), task="binary_classification",
                              subject="y")
    assert (same.status, moved.status) == ("ok", "alert")
    assert moved.reference == pytest.approx(ref["y"].mean())
    none = drift.label_drift(base, pd.Series([np.nan] * 10), task="binary_classification", subject="y")
    assert none is None
    pred_same = drift.prediction_drift(base, rng.beta(2, 20, 3000), subject="score")
    pred_moved = drift.prediction_drift(base, rng.beta(3, 20, 3000), subject="score")
    assert (pred_same.drift.status, pred_moved.drift.status) == ("ok", "alert")
    rec = Recorder("data_drift")
    pred_moved.record(rec)
    moved.record(rec)
    assert [(c.kind, c.subject) for c in rec.checks] == [("prediction_drift", "score"), ("label_drift", "y")]


# --------------------------------------------------------------------------- multivariate

def test_joint_drift_with_unchanged_marginals_is_found_only_by_the_multivariate_checks():
    rng = np.random.default_rng(51)
    n = 6000

    def frame(sign):
        a = rng.normal(size=n)
        b = sign * a + 0.3 * rng.normal(size=n)
        return pd.DataFrame({"a": a, "b": b, "c": rng.normal(size=n),
                             "d": pd.Categorical(rng.choice(["x", "y"], n))})

    feats = FeaturesConfig(numeric=("a", "b", "c"), categorical=("d",))
    base = fit_frame(frame(1.0), feats, methods=FAST)
    same, flipped = frame(1.0), frame(-1.0)  # b's marginal is symmetric: unchanged by the flip
    assert not alerts(drift.univariate(base, flipped, features=feats))
    mv_same = drift.multivariate(base, same, features=feats, rng=np.random.default_rng(0))
    mv_flip = drift.multivariate(base, flipped, features=feats, rng=np.random.default_rng(0))
    assert [c.status for c in mv_same.checks] == ["ok", "ok"]
    assert [c.status for c in mv_flip.checks] == ["alert", "alert"]
    assert set(mv_flip.top_features.index[:2]) == {"a", "b"}
    fig = mv_flip.plot("features")
    assert fig.axes[0].get_title() and fig.axes[0].get_xlabel()


def test_domain_classifier_skips_columns_that_cannot_separate_anything():
    """All-missing and constant columns (scikit-learn cannot bin them) are left out; a planted
    separating column still wins."""
    rng = np.random.default_rng(52)
    n = 3000
    X = np.column_stack([np.full(2 * n, np.nan), np.full(2 * n, 3.0), rng.normal(size=2 * n),
                         np.r_[rng.normal(size=n), rng.normal(1.0, 1.0, size=n)]])
    y = np.r_[np.zeros(n), np.ones(n)]
    auc, drops = cv_auc(X, y, np.zeros(4, dtype=bool), np.random.default_rng(0), importance=True)
    assert 0.7 < auc < 0.8  # two unit-sd normals one sd apart: AUC = Phi(1/sqrt(2)) = 0.76
    assert drops[0] == drops[1] == 0.0 and int(np.argmax(drops)) == 3


def test_archived_baseline_stores_the_domain_null_and_windows_reuse_it(demo):
    """The null band depends on the reference sample only: fitted once with the baseline, and what
    the archived sample gives again (so reusing it is the same as recomputing it)."""
    from mlmon_nb.baseline import load_baseline
    from mlmon_nb.config import load_project
    from mlmon_nb.data import read_window

    project = load_project(demo.project_path)
    base = load_baseline(project, demo.model, demo.version)
    stored = base.manifest["multivariate"]["domain_classifier"]
    assert stored["rows_per_side"] == drift.NULL_ROWS and len(stored["null_aucs"]) == drift.NULL_CHUNKS
    again = drift.domain_null(base.sample, base.features, rows=drift.NULL_ROWS,
                              rng=np.random.default_rng([base.manifest["seed"], 1]))
    assert again["null_aucs"] == pytest.approx(stored["null_aucs"], abs=1e-12)
    start, end = demo.windows[0]
    frame = read_window(project.model(demo.model), start, end, version=demo.version, labels=False).frame
    mv = drift.multivariate(base, frame, rng=np.random.default_rng(0))
    dc = next(c for c in mv.checks if c.subject == "domain_classifier")
    assert dc.details["null_from"] == "baseline" and dc.details["null_aucs"] == [round(v, 4) for v in
                                                                                  stored["null_aucs"]]
    ignored = Thresholds(features={"price": {"ignore": True}})
    mv = drift.multivariate(base, frame, thresholds=ignored, rng=np.random.default_rng(0))
    dc = next(c for c in mv.checks if c.subject == "domain_classifier")
    assert dc.details["null_from"] == "computed for this window"  # other features: not the stored null


# --------------------------------------------------------------------------- the demo

def test_demo_covariate_drift_is_flagged_on_exactly_price_and_device_from_week_5(demo):
    """In process, every week: the functions the notebook calls, on the archived baseline."""
    from mlmon_nb.baseline import load_baseline
    from mlmon_nb.config import load_project
    from mlmon_nb.data import read_window

    project = load_project(demo.project_path)
    mcfg = project.model(demo.model)
    base = load_baseline(project, demo.model, demo.version)
    truth = set(demo.ground_truth["drifted_features"])
    assert truth == {"price", "device"}
    for week, (start, end) in enumerate(demo.windows, 1):
        frame = read_window(mcfg, start, end, version=demo.version, labels=False).frame
        result = drift.univariate(base, frame, thresholds=mcfg.thresholds)
        assert alerts(result) == (truth if week >= 5 else set()), week


def test_demo_notebook_week_4_is_quiet_and_week_5_alerts_with_since(demo_archive):
    summary, run_dir = demo_archive.week(4)
    features = checks_of(summary, "feature_drift")
    assert {c["subject"] for c in features} == {"price", "discount_pct", "user_tenure_days", "item_rating",
                                                "session_depth", "device", "region", "category"}
    assert not checks_of(summary, "feature_drift", "alert")

    summary, run_dir = demo_archive.week(5)
    fired = {c["subject"]: c for c in checks_of(summary, "feature_drift", "alert")}
    assert set(fired) == {"price", "device"}
    for c in fired.values():
        assert c["since"] == "2026-10-05T00:00:00+00:00"
        assert c["value"] > c["threshold"] and c["p_value"] < 0.05 and c["impact"] > 0
    for c in checks_of(summary, "feature_drift"):
        assert {"method", "value", "threshold", "p_value", "status", "impact"} <= set(c), c["subject"]
    kinds = {c["kind"] for c in summary["checks"]}
    assert {"feature_drift", "data_quality", "prediction_drift", "label_drift", "multivariate_drift"} <= kinds
    assert {c["subject"] for c in checks_of(summary, "multivariate_drift")} == {"domain_classifier",
                                                                               "pca_reconstruction"}
    assert checks_of(summary, "multivariate_drift", "alert")[0]["subject"] == "domain_classifier"
    assert any(c["subject"] == "price:missing_rate" for c in checks_of(summary, "data_quality"))
    html = (run_dir / "data_drift.html").read_text()
    for heading in ("Which inputs changed", "Since when", "Joint drift"):
        assert heading in html
    assert html.count("data:image/png;base64,") >= 7
    artefact = json.loads((run_dir / "artefacts" / "data_drift.json").read_text())["artefacts"]["data_drift"]
    assert set(artefact["alerting_features"]) == {"price", "device"}


# --------------------------------------------------------------------------- the summary path (issue 17)

def _checks(ctx, dd) -> dict[tuple[str, str], str]:
    rec = Recorder("data_drift", None)
    dd.record(rec)
    return {(c.kind, c.subject): c.status for c in rec.checks}


def _both_paths(project_path, model, version, window):
    """(in-memory checks, summary checks, summary DataDrift) of one data_drift window."""
    import mlmon_nb as mn

    out = []
    for summarise in (False, True):
        ctx = mn.open_window(project_path, model, version, window, notebook="data_drift", reference_rows=False,
                             summarise=summarise)
        assert (ctx.scan is not None) is summarise and (ctx.current.frame.empty is summarise)
        dd = drift.analyse(ctx)
        out.append((_checks(ctx, dd), dd))
    return out[0][0], out[1][0], out[1][1]


def test_summary_path_gives_the_in_memory_checks_on_a_demo_window(demo):
    start, end = demo.windows[4]  # week 5: price and device drifted
    memory, summary, dd = _both_paths(demo.project_path, demo.model, demo.version,
                                      f"{start.isoformat()}/{end.isoformat()}")
    assert summary == memory
    assert dd.univariate.over_time is not None and dd.how[0].startswith("Summary mode")
    assert not any(n.startswith("Summary mode") for n in dd.notes)  # how it was computed is no limitation
    ks = dd.univariate.get("price").parts[0]
    assert ks.method == "ks"


@pytest.fixture(scope="module")
def planted_project(tmp_path_factory):
    """A project whose reference is healthy, week 1 of its logs the same (null), week 2 with price moved 0.5 sd."""
    from mlmon_nb.runner import execute_baseline, prepare_baseline
    from conftest import make_frame

    root = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(11)
    (root / "data/logs").mkdir(parents=True)
    make_frame(8000, "2026-08-01", rng, freq_minutes=5).to_parquet(root / "data/reference.parquet")
    null = make_frame(6000, "2026-09-07", rng, freq_minutes=1.68)
    sd = float(np.std(rng.lognormal(3.5, 0.4, 100_000)))
    shifted = make_frame(6000, "2026-09-14", rng, freq_minutes=1.68, shift=0.5 * sd)
    pd.concat([null, shifted]).to_parquet(root / "data/logs/part-0.parquet")
    path = write_project(root, model_extra={"chunk": "1d"})
    outcome = execute_baseline(prepare_baseline(path, "m", "1"))
    assert outcome.exit_code == 0
    return path


@pytest.mark.parametrize("window,alerting", [("2026-09-07/2026-09-14", set()),
                                             ("2026-09-14/2026-09-21", {"price"})])
def test_summary_path_on_a_planted_shift_and_a_null_window(planted_project, window, alerting):
    memory, summary, dd = _both_paths(planted_project, "m", "1", window)
    assert summary == memory
    assert {s for (k, s), st in summary.items() if k == "feature_drift" and st == "alert"} == alerting
