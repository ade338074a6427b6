"""Concept drift in summary mode (issue 17): every figure from score cells against the row-level value,
and the same checks from both paths (mlmon_nb/summary/performance.py, mlmon_nb/concept/summarised.py)."""

from __future__ import annotations

import collections

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot

import mlmon_nb as mn
from mlmon_nb.checks import Recorder
from mlmon_nb.concept import ModelSpec, fit_estimator
from mlmon_nb.concept.summarised import measure_cells
from mlmon_nb.concept.weighted import auc_delong, confidence_interval, realized
from mlmon_nb.metrics import calibration, expected_calibration_error, performance
from mlmon_nb.summary import chunk_sql
from mlmon_nb.summary.performance import (ScoreCells, auc_bound, auc_se, binary_realized, binned_calibration,
                                          performance_sql,
                                          pr_auc_bound, regression_binned)

from conftest import make_frame, write_project

START = pd.Timestamp("2026-09-07", tz="UTC")
BINARY = ("roc_auc", "pr_auc", "f1", "log_loss", "accuracy", "precision", "recall", "brier", "ece",
          "positive_rate", "mean_prediction")


def _cells(frame: pd.DataFrame, task: str, *, chunked: bool = False, **kw) -> ScoreCells:
    """The pass run by DuckDB over a frame registered as window_rows; its Spark transpilation must parse."""
    chunk = chunk_sql("ts", START.to_pydatetime(), 86400.0) if chunked else "CAST(0 AS BIGINT)"
    sql = performance_sql(task=task, prediction="score", target="y", chunk=chunk, **kw)
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    sqlglot.parse_one(spark, read="spark")  # valid Spark SQL (raises on a syntax error)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.register("window_rows", frame)
    return ScoreCells.from_arrow(con.sql(sql).to_arrow_table())


def _binary_frame(seed: int, n: int = 60_000, ties: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(1.3 * x - 1.4)))
    if ties:
        p = np.round(p, 2)  # heavy ties: many rows share a score
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 1.5 + 0.3 * rng.normal(size=n))))).astype(float)
    y[rng.random(n) < 0.3] = np.nan  # unlabelled rows
    ts = START + pd.to_timedelta(rng.uniform(0, 7 * 86400, n), unit="s")
    return pd.DataFrame({"ts": ts, "score": p, "y": y})


@pytest.mark.parametrize("seed,ties", [(0, False), (1, False), (2, False), (3, True)])
def test_binary_figures_from_cells_match_the_rows(seed, ties):
    f = _binary_frame(seed, ties=ties)
    cells = _cells(f, "binary_classification", threshold=0.37).cells()
    lab = f["y"].notna().to_numpy()
    y, p = f["y"].to_numpy()[lab], f["score"].to_numpy()[lab]
    got = binary_realized(cells, BINARY)
    exact = realized("binary_classification", y, p, 0.37, ("roc_auc", "pr_auc", "f1", "log_loss"))
    exact.update({k: v for k, v in performance("binary_classification", y, p, 0.37).items()
                  if k in ("accuracy", "precision", "recall", "brier", "positive_rate", "mean_prediction")})
    P, N = cells.get(1, "n"), cells.get(0, "n")
    bound, pr_bound = auc_bound(P, N), pr_auc_bound(P, N)
    assert abs(got["roc_auc"] - exact["roc_auc"]) <= bound + 1e-12
    assert bound <= 0.002 or ties  # the stated bound at 1e-4 bins on continuous scores
    assert abs(got["pr_auc"] - exact["pr_auc"]) <= pr_bound + 1e-12
    assert pr_bound <= 0.005 or ties
    if ties:  # scores on a 0.01 grid: every tie group is inside one cell, so the binned AUC is the exact one
        assert got["roc_auc"] == pytest.approx(exact["roc_auc"], abs=1e-12)
    for k in ("f1", "log_loss", "accuracy", "precision", "recall", "brier", "positive_rate", "mean_prediction"):
        assert got[k] == pytest.approx(exact[k], rel=1e-9, abs=1e-12), k  # exact up to float summation
    assert got["ece"] == pytest.approx(expected_calibration_error(y, np.clip(p, 1e-12, 1 - 1e-12)), abs=0.002)
    se_exact = auc_delong(y == 1, p)[1]
    assert auc_se(P, N) == pytest.approx(se_exact, rel=0.01)
    curve = binned_calibration(cells)
    ref = calibration(y, p)
    assert len(curve["observed_rate"]) == len(ref["observed_rate"]) or ties
    if not ties:
        assert np.allclose(curve["observed_rate"], ref["observed_rate"], atol=0.01)


def test_the_threshold_is_exact_on_any_value_and_non_finite_scores_are_counted_apart():
    f = _binary_frame(4, n=20_000)
    f.loc[:4, "score"] = np.array([np.nan, np.inf, -np.inf, np.nan, 0.123456789])
    thr = 0.123456789  # not on a bin edge
    sc = _cells(f, "binary_classification", threshold=thr)
    assert sc.non_finite() == 4
    ok = np.isfinite(f["score"].to_numpy()) & f["y"].notna().to_numpy()
    y, p = f["y"].to_numpy()[ok], f["score"].to_numpy()[ok]
    got = binary_realized(sc.cells(), ("f1", "accuracy", "recall", "precision"))
    exact = performance("binary_classification", y, p, thr)
    for k in got:
        assert got[k] == pytest.approx(exact[k], rel=1e-12), k


def test_per_chunk_cells_add_up_to_the_window():
    f = _binary_frame(5, n=30_000)
    sc = _cells(f, "binary_classification", chunked=True)
    day = ((f["ts"] - START) // pd.Timedelta("1d")).to_numpy()
    assert list(sc.chunk_rows(7)) == list(np.bincount(day, minlength=7))
    assert list(sc.chunk_rows(7, (1, 0))) == list(np.bincount(day[f["y"].notna().to_numpy()], minlength=7))
    for j in (0, 6):
        m = (day == j) & f["y"].notna().to_numpy()
        got = binary_realized(sc.cells(j), ("f1", "log_loss"))
        exact = realized("binary_classification", f["y"].to_numpy()[m], f["score"].to_numpy()[m], 0.5,
                         ("f1", "log_loss"))
        assert got == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_figures_from_cells_are_exact(seed):
    rng = np.random.default_rng(seed)
    n = 40_000
    pred = rng.gamma(3.0, 10.0, n)
    y = pred + rng.normal(0, 5 + 0.2 * pred, n)
    y[rng.random(n) < 0.2] = np.nan
    f = pd.DataFrame({"ts": START + pd.to_timedelta(rng.uniform(0, 7 * 86400, n), unit="s"), "score": pred, "y": y})
    cells = _cells(f, "regression", low=float(np.quantile(pred, 0.001)), high=float(np.quantile(pred, 0.999))).cells()
    lab = np.isfinite(y)
    got = regression_binned(cells)
    exact = performance("regression", y[lab], pred[lab])
    for k in ("mae", "rmse", "r2"):
        assert got[k] == pytest.approx(exact[k], rel=1e-9), k
    from mlmon_nb.concept.summarised import _regression_ci

    for m in ("mae", "rmse"):
        lo, hi = confidence_interval("regression", m, y[lab], pred[lab], 0.5, exact[m], rng)
        assert _regression_ci(m, cells, got[m]) == pytest.approx((lo, hi), rel=1e-6)


def test_cbpe_and_its_null_spread_from_cells_agree_with_the_rows():
    rng = np.random.default_rng(7)
    spec = ModelSpec(task="binary_classification", target="y", prediction="score", threshold=0.5)
    ref = _binary_frame(8, n=8_000).dropna()
    est = fit_estimator(spec, ref, rng)
    f = _binary_frame(9, n=50_000)
    cells = _cells(f, "binary_classification").cells()
    lab = f["y"].notna().to_numpy()
    ms = measure_cells(spec, est, cells, len(f), int(lab.sum()), np.random.default_rng(0))
    on_rows = est.estimate(f["score"].to_numpy())
    on_lab = est.estimate(f["score"].to_numpy()[lab])
    sd = est.null_sd(f["score"].to_numpy()[lab], np.random.default_rng(0))
    for m in spec.metrics:
        assert ms.estimated[m] == pytest.approx(on_rows[m], abs=0.002), m
        assert ms.expected[m] == pytest.approx(on_lab[m], abs=0.002), m
        assert ms.null_sd[m] == pytest.approx(sd[m], rel=0.35), m  # two simulations of the same spread
    real = realized("binary_classification", f["y"].to_numpy()[lab], f["score"].to_numpy()[lab], 0.5)
    for m in spec.metrics:
        lo, hi = ms.ci[m]
        assert lo < real[m] < hi


# --------------------------------------------------------------------------- both paths, same checks


def _archive_baseline(path):
    """Fit the baseline in this process and archive it (both paths then load the same one, once fitted)."""
    from mlmon_nb.baseline import baseline_root
    from mlmon_nb.config import load_project
    from mlmon_nb.fit import fit

    proj = load_project(path)
    base = fit(proj, "m", "1")
    base.save(baseline_root(proj, "m", "1") / base.baseline_id)
    return path


def _checks(project, model, version, window, summarise):
    ctx = mn.open_window(project, model, version, window, notebook="concept_drift", reference_rows=False,
                         summarise=summarise)
    if summarise is not None:  # None: the engine decides (Spark: always summarised)
        assert (ctx.scan is not None) is summarise and ctx.current.frame.empty is summarise
    r = mn.concept.analyse(ctx)
    rec = Recorder("concept_drift", None)
    r.record(rec)
    return collections.Counter((c.kind, c.subject, c.status) for c in rec.checks), r


def _same_checks(memory, summary, rm, rs):
    """The same (kind, subject, status) from both paths; change points: the same consensus and onset.

    One ``change_point`` check is recorded per detector in a consensus; a detector whose calibrated
    setting sits at its false-alarm limit may join in one path and not the other (its setting is
    calibrated on random reference streams, drawn after different draws), so the number of such
    checks may differ by a detector, never their statuses or the onset; for the same reason a lone
    detection no other detector confirms (status ``ok``, decides nothing) may appear in one path only.
    """
    def decided(checks):
        return {k for k in checks if not (k[0] == "change_point" and k[2] == "ok")}

    assert decided(summary) == decided(memory)
    assert {k: v for k, v in summary.items() if k[0] != "change_point"} == \
        {k: v for k, v in memory.items() if k[0] != "change_point"}
    onset = [r.consensus_onset() for r in (rm, rs)]
    assert onset[0] == onset[1]


def _both(project, model, version, window):
    memory, rm = _checks(project, model, version, window, False)
    summary, rs = _checks(project, model, version, window, True)
    assert rs.how and rs.how[0].startswith("Summary mode") and not any(n.startswith("Summary mode") for n in rs.notes)
    return memory, summary, rm, rs


def _same_figures(rm, rs):
    a, b = rm.chunks.to_df(), rs.chunks.to_df()
    assert list(a["rows"]) == list(b["rows"]) and list(a["labelled"]) == list(b["labelled"])
    assert list(a["enough_labels"]) == list(b["enough_labels"])
    for m in rm.spec.metrics:
        x, y = a[a["metric"] == m], b[b["metric"] == m]
        tol = 0.002 if m in ("roc_auc", "pr_auc", "f1", "log_loss") else 1e-9
        assert np.allclose(x["realized"], y["realized"], atol=tol, equal_nan=True), m
        assert np.allclose(x["estimated"], y["estimated"], atol=0.002, rtol=0.01, equal_nan=True), m


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Week 1 healthy, week 2 with P(click | x) reversed from its middle on (concept flip); baselines in memory."""
    root = tmp_path_factory.mktemp("concept-planted")
    rng = np.random.default_rng(11)
    (root / "data/logs").mkdir(parents=True)
    make_frame(8000, "2026-08-01", rng, freq_minutes=5).to_parquet(root / "data/reference.parquet")
    null = make_frame(6000, "2026-09-07", rng, freq_minutes=1.68)
    flip = make_frame(6000, "2026-09-14", rng, freq_minutes=1.68)
    half = len(flip) // 2
    flip.loc[half:, "clicked"] = (rng.random(len(flip) - half) < 1 - flip["score"].iloc[half:]).astype(int)
    pd.concat([null, flip]).to_parquet(root / "data/logs/part-0.parquet")
    return _archive_baseline(write_project(root, model_extra={"chunk": "1d"}))


@pytest.mark.parametrize("window,status", [("2026-09-07/2026-09-14", "ok"), ("2026-09-14/2026-09-21", "alert")])
def test_both_paths_decide_the_same_on_a_planted_flip_and_a_null_week(planted, window, status):
    memory, summary, rm, rs = _both(planted, "m", "1", window)
    _same_checks(memory, summary, rm, rs)
    assert rs.status == rm.status == status
    _same_figures(rm, rs)


def test_both_paths_decide_the_same_on_a_regression_window(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "data/logs").mkdir(parents=True)

    def frame(n, start, worse=0.0):
        f = make_frame(n, start, rng, freq_minutes=2)
        f["score"] = 20 + 0.3 * f["price"] + 0.01 * f["user_tenure_days"]
        f["clicked"] = f["score"] + rng.normal(0, 2 + worse, n)
        return f

    frame(3000, "2026-08-01").to_parquet(tmp_path / "data/reference.parquet")
    frame(3000, "2026-09-14", worse=3.0).to_parquet(
        tmp_path / "data/logs/part-0.parquet")
    path = _archive_baseline(write_project(tmp_path, model_extra={"task": "regression", "chunk": "1d"}))
    for window, status in (("2026-09-14/2026-09-21", "alert"),):  # errors 2.5x larger: MAE and RMSE alert
        memory, summary, rm, rs = _both(path, "m", "1", window)
        _same_checks(memory, summary, rm, rs)
        assert rs.status == status
        a, b = rm.chunks.to_df(), rs.chunks.to_df()
        assert np.allclose(a["realized"], b["realized"], rtol=1e-9, equal_nan=True)  # MAE, RMSE exact


@pytest.mark.parametrize("week", [8, 3])
def test_both_paths_decide_the_same_on_the_demo(demo, week):
    """Week 8: the planted concept flip (2026-10-28 12:00); week 3: nothing planted for concept drift."""
    start, end = demo.windows[week - 1]
    memory, summary, rm, rs = _both(demo.project_path, demo.model, demo.version,
                                    f"{start.isoformat()}/{end.isoformat()}")
    _same_checks(memory, summary, rm, rs)
    assert (rs.status == "alert") is (week == 8)
    if week == 8:
        assert {c["kind"] for c in rs.checks() if c["status"] == "alert"} >= {"concept_drift", "change_point"}
        from mlmon_nb.concept.result import PLOTS, TABLES

        for kind in TABLES:  # every table and figure of the notebook renders from the summary path's result
            assert not rs.table(kind).empty, kind
        for kind in PLOTS:
            assert rs.plot(kind) is not None, kind
    _same_figures(rm, rs)


def test_missing_logged_scores_are_scored_with_the_model_file_by_the_engine(tmp_path):
    """Logged scores missing in 5% of rows: both paths complete them with the model file (the summary path
    through a scored scan), and the same checks follow."""
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(5)
    (tmp_path / "data/logs").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    ref = make_frame(4000, "2026-08-01", rng, freq_minutes=10)
    cols = ["price", "user_tenure_days", "device", "region"]
    model = Pipeline([("pre", ColumnTransformer([("num", StandardScaler(), cols[:2]),
                                                  ("cat", OneHotEncoder(handle_unknown="ignore"), cols[2:])])),
                      ("clf", LogisticRegression(max_iter=200))]).fit(ref[cols], ref["clicked"])
    joblib.dump(model, tmp_path / "models/1.joblib")
    ref["score"] = model.predict_proba(ref[cols])[:, 1]
    ref.to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(4000, "2026-09-14", rng, freq_minutes=2.5)
    half = len(logs) // 2
    logs.loc[half:, "clicked"] = (rng.random(len(logs) - half) < 1 - logs["score"].iloc[half:]).astype(int)
    logs["score"] = model.predict_proba(logs[cols])[:, 1]
    logs.loc[rng.random(len(logs)) < 0.05, "score"] = np.nan
    logs.to_parquet(tmp_path / "data/logs/part-0.parquet")
    path = write_project(tmp_path, model_extra={"chunk": "1d", "versions": {"1": {"model": "models/1.joblib",
                                                                                  "trusted": True}}})
    _archive_baseline(path)
    memory, summary, rm, rs = _both(path, "m", "1", "2026-09-14/2026-09-21")
    _same_checks(memory, summary, rm, rs)
    assert "were scored with the model file" in rs.how[0]
    _same_figures(rm, rs)
