"""Values that come from data, however odd (issue 13): non-finite numbers and text that looks like mathtext.

- Non-finite numbers (``inf``, ``-inf``) are left out of every statistic, counted, and reported as a
  ``data_quality`` check (``<column>:non_finite``) by one rule: alert from 1 % of rows, warn from
  0.1 %, and at least warn whenever the baseline had none. Never "ok" with a value of null.
- Column names and levels are plain text in every figure: ``$`` never starts matplotlib's mathtext.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import types

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib import cbook
from matplotlib.text import Text
from scipy import stats as sps

from mlmon_nb import drift, operations as op, plots, profiles
from mlmon_nb.checks import Recorder
from mlmon_nb.config import FeaturesConfig, Thresholds, load_project
from mlmon_nb.context import open_window
from mlmon_nb.drift import PREDICTION
from mlmon_nb.fit import fit, fit_frame
from mlmon_nb.sources import connect

from conftest import UTC, make_frame, write_project

matplotlib.use("Agg")

# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("count, rows, baseline_count, status", [
    (0, 10_000, 0, "ok"),
    (1, 10_000, 0, "warn"),        # any non-finite value where the baseline had none
    (1, 10_000, None, "warn"),     # a baseline from before the count: taken as none
    (1, 10_000, 5, "ok"),          # the baseline had some too, and 0.01 % is below the warn floor
    (10, 10_000, 5, "warn"),       # 0.1 % of rows
    (99, 10_000, 5, "warn"),
    (100, 10_000, 5, "alert"),     # 1 % of rows
    (1_100, 10_000, 0, "alert"),
])
def test_non_finite_rule(count, rows, baseline_count, status):
    assert profiles.non_finite_status(count, rows, baseline_count) == status


def test_profiles_count_non_finite_values_apart_from_missing_ones():
    prof = profiles.numeric_profile(pd.Series([1.0, np.inf, -np.inf, np.nan, 3.0]))
    assert prof["non_finite"] == 2
    assert prof["missing_rate"] == pytest.approx(0.6)  # as before: no usable number
    assert profiles.count_non_finite(pd.Series([1.0, np.inf, None, -np.inf])) == 2
    assert profiles.count_non_finite(np.array([], dtype=float)) == 0


# --------------------------------------------------------------------------- operations: latency logged as inf

WEEK = dt.timedelta(days=7)
START = dt.datetime(2026, 10, 5, tzinfo=UTC)
W3 = (START + 2 * WEEK, START + 3 * WEEK)
W4 = (START + 3 * WEEK, START + 4 * WEEK)


@pytest.fixture(scope="module")
def latency_project(tmp_path_factory):
    """Four weeks of logs, a request every 5 minutes. Weeks 1-2 are the baseline window (no
    non-finite latency); week 3 logs ``inf`` in 11 % of rows; week 4 in a single row."""
    root = tmp_path_factory.mktemp("values") / "project"
    (root / "data/logs").mkdir(parents=True)
    rng = np.random.default_rng(13)
    make_frame(6000, "2026-08-01", rng).to_parquet(root / "data/reference.parquet")
    logs = make_frame(4 * 7 * 288, "2026-10-05", rng, freq_minutes=5)
    logs["latency_ms"] = rng.lognormal(np.log(40), 0.5, len(logs)).round(1)
    week3 = ((logs["ts"] >= pd.Timestamp(W3[0])) & (logs["ts"] < pd.Timestamp(W3[1]))).to_numpy()
    logs.loc[week3 & (rng.random(len(logs)) < 0.11), "latency_ms"] = np.inf
    week4 = np.flatnonzero((logs["ts"] >= pd.Timestamp(W4[0])).to_numpy())
    logs.loc[week4[100], "latency_ms"] = -np.inf
    logs["error_code"] = np.where(rng.random(len(logs)) < 0.01, "timeout", None)
    logs.to_parquet(root / "data/logs/part.parquet")
    path = write_project(root, model_extra={
        "operational": {"latency_ms": "latency_ms", "error": "error_code"},
        "baseline": {"window": "2026-10-05/2026-10-19"}})
    project = load_project(path)
    fit(project, "m", "1", baseline_id="20261020T000000Z").save(
        project.archive / "m" / "1" / "baseline" / "20261020T000000Z")
    return path, logs


def _operations(path, window):
    ctx = open_window(path, "m", "1", f"{window[0].isoformat()}/{window[1].isoformat()}", notebook="operations",
                      labels=False, load_estimator=False)
    return op.analyse(ctx)


def _in(logs, window):
    return logs[(logs["ts"] >= pd.Timestamp(window[0])) & (logs["ts"] < pd.Timestamp(window[1]))]


def test_latency_percentiles_leave_non_finite_values_out_and_report_them(latency_project):
    path, logs = latency_project
    report = _operations(path, W3)
    lat = _in(logs, W3)["latency_ms"].to_numpy()
    finite = lat[np.isfinite(lat)]
    n_bad = int((~np.isfinite(lat)).sum())
    assert 0.09 < n_bad / len(lat) < 0.13
    got = {d.subject: d for d in report.decisions}
    for p, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        d = got[f"latency_{p}"]
        assert d.value == pytest.approx(np.percentile(finite, q)), p  # never "ok" with a null value
        assert report.latency.window[p] == pytest.approx(np.percentile(finite, q))
    nf = got["latency_ms:non_finite"]
    assert (nf.kind, nf.status) == ("data_quality", "alert")
    assert nf.value == pytest.approx(n_bad / len(lat))
    assert (nf.details["count"], nf.details["rows"], nf.details["baseline_count"]) == (n_bad, len(lat), 0)
    rec = Recorder("operations")
    report.record(rec)
    check = next(c for c in rec.checks if c.subject == "latency_ms:non_finite")
    assert check.details["count"] == n_bad
    finding = next(f for f in rec.findings if "non-finite" in f["text"])
    assert "latency_ms" in finding["text"] and f"{n_bad:,}" in finding["text"]
    assert f"{n_bad / len(lat):.1%}" in finding["text"] and finding["status"] == "alert"
    assert sum(report.latency.histogram.values()) == len(finite)
    fig = report.plot("latency_distribution")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def test_a_single_non_finite_latency_warns_when_the_baseline_had_none(latency_project):
    path, _ = latency_project
    got = {d.subject: d for d in _operations(path, W4).decisions}
    nf = got["latency_ms:non_finite"]
    assert (nf.status, nf.details["count"]) == ("warn", 1)
    assert all(d.value is not None for s, d in got.items() if s.startswith("latency_p"))


def test_a_baseline_window_with_non_finite_latency_fits_finite_figures(latency_project):
    path, logs = latency_project
    model = load_project(path).model("m")
    model = dataclasses.replace(model, baseline=dataclasses.replace(model.baseline, window=W3))
    notes: list[str] = []
    ops, chunks = op.fit_operational(model, connect(), notes)
    lat = _in(logs, W3)["latency_ms"].to_numpy()
    finite = lat[np.isfinite(lat)]
    figures = ops["latency_ms"]
    assert figures["non_finite"] == len(lat) - len(finite)
    assert [figures[p] for p in op.PERCENTILES] == pytest.approx(np.percentile(finite, [50, 95, 99]))
    assert (figures["min"], figures["max"]) == (finite.min(), finite.max())
    assert sum(ops["latency_histogram"].values()) == len(finite)
    assert all(np.isfinite(v) for (_, _, _, metric, _, v, _) in chunks if metric.startswith("latency"))
    json.dumps(ops, allow_nan=False)


# --------------------------------------------------------------------------- data drift: inf in a feature


def _drift_frames():
    rng = np.random.default_rng(17)

    def frame(n, start):
        return pd.DataFrame({
            "ts": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 7 * 86400, n)), unit="s"),
            "price": rng.lognormal(3.5, 0.4, n), "tenure": rng.gamma(2.0, 100.0, n),
            "device": pd.Categorical(rng.choice(["mobile", "desktop", "tablet"], n)),
            "score": rng.beta(2, 20, n)})

    ref, cur = frame(5000, "2026-09-01"), frame(4200, "2026-10-05")
    day = np.flatnonzero((cur["ts"] < pd.Timestamp("2026-10-06", tz="UTC")).to_numpy())
    bad = rng.choice(day, size=max(2, len(day) // 100), replace=False)  # 1 % of one day's rows
    cur.loc[bad[0], "price"] = -np.inf
    cur.loc[bad[1:], "price"] = np.inf
    return ref, cur, len(bad)


def _ctx(base, frame, feats):
    model = types.SimpleNamespace(name="m", timestamp="ts", chunk="1d", task="binary_classification",
                                  prediction="score", target="clicked")
    return types.SimpleNamespace(baseline=base, frame=frame, model=model, thresholds=Thresholds(), features=feats,
                                 start=pd.Timestamp("2026-10-05", tz="UTC"), end=pd.Timestamp("2026-10-12", tz="UTC"),
                                 estimator=None)


def _checks_of(result):
    rec = Recorder("data_drift")
    result.record(rec)
    return rec.checks


def test_drift_leaves_non_finite_values_out_and_reports_them():
    ref, cur, n_bad = _drift_frames()
    feats = FeaturesConfig(numeric=("price", "tenure"), categorical=("device",))
    base = fit_frame(ref.drop(columns="ts"), feats, prediction="score",
                     methods=("ks", "jensen_shannon", "wasserstein", "psi"))
    extra = ("wasserstein", "psi", "jensen_shannon")
    got = drift.analyse(_ctx(base, cur, feats), statistics=extra)
    finite_only = cur.assign(price=cur["price"].where(np.isfinite(cur["price"])))
    want = drift.analyse(_ctx(base, finite_only, feats), statistics=extra)

    cols = ["feature", "value", "p_value", "status", "rows", *[f"stat_{s}" for s in ("ks", *extra)]]
    pd.testing.assert_frame_equal(got.univariate.to_df()[cols], want.univariate.to_df()[cols])
    np.testing.assert_array_equal(got.univariate.over_time.values, want.univariate.over_time.values)
    assert [c.value for c in got.multivariate.checks] == [c.value for c in want.multivariate.checks]
    assert len(got.multivariate.checks) == 2
    price = got.univariate.get("price")
    values = cur["price"].to_numpy()
    assert price.rows == len(cur) - n_bad
    assert price.value == pytest.approx(sps.ks_2samp(ref["price"], values[np.isfinite(values)]).statistic)
    assert price.figures["wasserstein"] == pytest.approx(
        sps.wasserstein_distance(ref["price"], values[np.isfinite(values)]) / ref["price"].std())

    nf = {r.feature: r for r in got.quality.non_finite}
    assert set(nf) == {"price"}  # only features with non-finite values get the check
    assert (nf["price"].count, nf["price"].rows, nf["price"].status) == (n_bad, len(cur), "warn")
    assert any("price" in n and "non-finite" in n for n in got.notes)
    rec = Recorder("data_drift")
    got.record(rec)
    check = next(c for c in rec.checks if c.subject == "price:non_finite")
    assert (check.kind, check.status, check.details["count"]) == ("data_quality", "warn", n_bad)
    assert check.value == pytest.approx(n_bad / len(cur))
    finding = next(f for f in rec.findings if "non-finite" in f["text"])
    assert "price" in finding["text"] and f"{n_bad:,}" in finding["text"]
    assert f"{n_bad / len(cur):.2%}" in finding["text"]  # two decimals below 1 %
    assert not any(c.subject.endswith(":non_finite") for c in _checks_of(want))
    for fig in (got.plot("overlay", feature="price"), got.plot("heatmap"), got.plot("summary"),
                got.plot("prediction"), got.plot("joint_bands")):
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)


def test_non_finite_values_in_the_reference_are_counted_by_the_baseline():
    ref, cur, _ = _drift_frames()
    ref.loc[ref.index[:40], "price"] = np.inf  # 0.8 % of the reference
    feats = FeaturesConfig(numeric=("price",))
    base = fit_frame(ref.drop(columns="ts"), feats, methods=("ks",))
    assert base.profile("price")["non_finite"] == 40
    q = drift.missing_rates(base, cur.assign(price=cur["price"].replace(np.inf, 1.0)), features=feats)
    (nf,) = q.non_finite
    assert (nf.count, nf.reference_count, nf.status) == (1, 40, "ok")  # the baseline had some: 0.02 % is fine


# --------------------------------------------------------------------------- text from data in figures


def _assert_plain(fig):
    """Draw the figure to PNG, then no text in it may be parsed as mathtext."""
    fig.savefig(io.BytesIO(), format="png")
    texts = [t.get_text() for t in fig.findobj(Text) if t.get_parse_math()]
    plt.close(fig)
    for text in texts:
        assert not cbook.is_math_text(text), text


def test_names_and_levels_with_dollars_are_plain_text_in_every_figure():
    rng = np.random.default_rng(23)
    n = 3000
    levels = ["$10_$25", "$25_$50", "a$b", "$x^2$"]

    def frame(shift=0.0):
        return pd.DataFrame({"$price$": rng.lognormal(3 + shift, 0.4, n), "tenure": rng.gamma(2.0, 100.0, n),
                             "band": pd.Categorical(rng.choice(levels, n)), "$tier$": rng.choice(["$1$", "$2$"], n),
                             "ts": pd.Timestamp("2026-10-05", tz="UTC")
                             + pd.to_timedelta(np.sort(rng.uniform(0, 7 * 86400, n)), unit="s"),
                             PREDICTION: rng.beta(2, 20, n)})

    ref, cur = frame(), frame(0.3)
    ref["$y$"] = (rng.random(n) < ref[PREDICTION]).astype(int)
    feats = FeaturesConfig(numeric=("$price$", "tenure"), categorical=("band", "$tier$"))
    # The prediction column named as fit() names it, so that the baseline's figures find it in the sample.
    base = fit_frame(ref.drop(columns="ts"), feats, prediction=PREDICTION, target="$y$",
                     methods=("ks", "jensen_shannon"),
                     importance={"$price$": 0.6, "tenure": 0.1, "band": 0.2, "$tier$": 0.1})
    for fig in (plots.baseline_numeric(base), plots.baseline_categorical(base), plots.prediction_distribution(base),
                plots.importance_bars({"$price$": 0.7, "band": 0.3}, "$perm$")):
        _assert_plain(fig)
    uni = drift.univariate(base, cur, features=feats, timestamp="ts", chunk="1d",
                           start=pd.Timestamp("2026-10-05", tz="UTC"), end=pd.Timestamp("2026-10-12", tz="UTC"))
    assert "$price$" in uni.drifted("warn")
    for fig in (uni.plot("overlay", feature="$price$"), uni.plot("overlay", feature="band"),
                uni.plot("overlay", feature="$tier$"), uni.plot("summary"), uni.plot("heatmap")):
        _assert_plain(fig)
    pred = drift.prediction_drift(base, cur[PREDICTION], subject="$score$")
    _assert_plain(pred.plot())


def test_other_figures_keep_names_from_data_plain():
    _assert_plain(plots.trends([], "m$1$ v$2$: trends across windows"))
    rates = pd.DataFrame({"period": ["baseline", "window"] * 2, "exposures": ["model-driven"] * 2 + ["organic"] * 2,
                          "rate": [0.1, 0.12, 0.09, 0.1], "ci low": [0.08, 0.1, 0.07, 0.08],
                          "ci high": [0.12, 0.14, 0.11, 0.12], "labelled": [100, 120, 90, 95]})
    _assert_plain(plots.outcome_rates(rates, "$clicked$"))
    versions = pd.DataFrame({"version": ["$1$", "$2$"], "share": [0.1, 0.3], "ci low": [0.05, 0.2],
                             "ci high": [0.15, 0.4], "deployed": ["$d$", ""], "source": ["a", "b"]})
    _assert_plain(plots.provenance_bars(versions, "$2$", warn_at=0.2, alert_at=0.5))
