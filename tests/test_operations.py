"""Tests of the mlmon_nb.operations package: the decision functions, the DuckDB aggregates, the notebook.

Decision functions are checked against hand-worked cases and scipy; the
aggregates against pandas/numpy on a synthetic project with planted incidents;
the notebook end to end on the demo's latency-regression week and its
neighbours, and on a project without operational columns.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmon_nb import operations as op
from mlmon_nb.fit import fit
from mlmon_nb.rules import Band, bonferroni_sigmas
from mlmon_nb.config import Thresholds, load_project
from mlmon_nb.sources import connect
from mlmon_nb.context import open_window

from conftest import UTC, checks_of, make_frame, write_project

# --------------------------------------------------------------------------- expected traffic


def test_expected_traffic_sums_the_profile_over_the_window_hours():
    profile = np.arange(168, dtype=float)  # hour of week h expects h requests
    # Sunday 22:30 to Monday 02:00: half of hour 166, hours 167, 0 and 1.
    grid = op.expected_traffic(profile, dt.datetime(2026, 10, 4, 22, 30, tzinfo=UTC),
                               dt.datetime(2026, 10, 5, 2, tzinfo=UTC))
    assert grid["how"].tolist() == [166, 167, 0, 1]
    assert grid["covered"].tolist() == [0.5, 1.0, 1.0, 1.0]
    assert grid["expected"].sum() == pytest.approx(166 * 0.5 + 167 + 0 + 1)


def test_expected_traffic_matches_a_minute_by_minute_count():
    rng = np.random.default_rng(3)
    profile = rng.gamma(2.0, 20.0, 168)
    start = dt.datetime(2026, 10, 7, 9, 17, tzinfo=UTC)
    end = dt.datetime(2026, 10, 17, 3, 41, tzinfo=UTC)
    grid = op.expected_traffic(profile, start, end)
    minutes = pd.date_range(start, end, freq="min", inclusive="left")
    per_minute = profile[minutes.day_of_week * 24 + minutes.hour] / 60
    by_day = pd.Series(per_minute, index=minutes).groupby(minutes.floor("D")).sum()
    mine = grid.groupby(grid["hour"].dt.floor("D"))["expected"].sum()
    np.testing.assert_allclose(mine.to_numpy(), by_day.to_numpy())


def test_dispersion_of_the_baseline_days_around_their_profile():
    # Two weeks of daily counts; each weekday's expectation is the mean of its two days.
    week1 = np.array([100, 120, 90, 110, 105, 150, 160], dtype=float)
    week2 = np.array([110, 100, 95, 130, 95, 140, 170], dtype=float)
    mean = (week1 + week2) / 2
    per_how = np.repeat(mean / 24, 24)
    days = pd.date_range("2026-10-05", periods=14, freq="D")
    ops = {"window": ["2026-10-05T00:00:00+00:00", "2026-10-19T00:00:00+00:00"],
           "rows_per_hour_of_week": per_how.tolist(),
           "rows_per_day": {str(d.date()): float(c) for d, c in zip(days, np.concatenate([week1, week2]))}}
    phi, dof = op.baseline_traffic_dispersion(ops)
    pearson = np.sum((week1 - mean) ** 2 / mean + (week2 - mean) ** 2 / mean)
    assert dof == 7
    assert phi == pytest.approx(max(1.0, pearson / 7))


def test_profile_rates_divide_by_each_hours_own_occurrences():
    # Ten days from a Monday: Monday to Wednesday hours are seen twice, the others once.
    counts = np.where(np.arange(168) < 72, 20.0, 10.0)  # 10 requests per occurrence everywhere
    weeks = 10 / 7
    ops = {"window": ["2026-10-05T00:00:00+00:00", "2026-10-15T00:00:00+00:00"],
           "rows_per_hour_of_week": (counts / weeks).tolist()}
    rates, baseline = op.profile_rates(ops)
    assert rates == pytest.approx(np.full(168, 10.0))
    assert baseline == pytest.approx(counts)
    short = {"window": ["2026-10-05T00:00:00+00:00", "2026-10-08T00:00:00+00:00"],
             "rows_per_hour_of_week": [1.0] * 168}
    assert np.isnan(op.profile_rates(short)[0]).sum() == 168 - 72


def test_overdispersion_is_pearson_per_dof_and_never_below_poisson():
    assert op.overdispersion([10, 20], [15, 15], 1) == pytest.approx(50 / 15)
    assert op.overdispersion([15, 15], [15, 15], 1) == 1.0
    assert op.overdispersion([1, 2], [1, 2], 0) == 1.0


# --------------------------------------------------------------------------- count tests


def test_rate_ratio_test_hand_worked():
    # No request in an hour where the baseline counted 10 over w = 2 weeks: E = 5, pi = 5 / 15.
    # Two-sided binomial p on 10 trials: P(0) plus the upper outcomes no more likely than it (7..10).
    pi = 1 / 3
    pmf = [math.comb(10, k) * pi ** k * (1 - pi) ** (10 - k) for k in range(11)]
    hand = pmf[0] + sum(pmf[7:])
    assert hand == pytest.approx(0.0370, abs=1e-4)
    assert op.rate_ratio_test(0, 5, 10) == pytest.approx(hand)


def test_rate_ratio_test_with_dispersion_divides_both_counts():
    assert op.rate_ratio_test(300, 200, 400, dispersion=4) == pytest.approx(
        stats.binomtest(75, 175, 200 / 600).pvalue)


@pytest.mark.parametrize("dispersion", [1.0, 4.0])
def test_rate_ratio_test_keeps_its_size_under_the_null(dispersion):
    """Counts drawn with the baseline's rate (Poisson, or negative binomial with variance φ·mean)."""
    rng = np.random.default_rng(11)
    w, rate, sims = 2.0, 60.0, 1500

    def draw(mean, size):
        if dispersion == 1.0:
            return rng.poisson(mean, size)
        r = mean / (dispersion - 1)  # negative binomial: variance = mean * dispersion
        return rng.negative_binomial(r, r / (r + mean), size)

    observed, baseline = draw(rate, sims), draw(rate * w, sims)
    p = np.array([op.rate_ratio_test(o, b / w, b, dispersion) for o, b in zip(observed, baseline)])
    assert np.mean(p < 0.05) < 0.07
    assert np.mean(p < 0.01) < 0.02


def test_compare_counts_flags_a_missing_hour_and_a_spike_only():
    cells = pd.DataFrame({"observed": [0.0, 60.0, 200.0, 66.0], "expected": [60.0] * 4, "baseline": [120.0] * 4})
    out = op.compare_counts(cells, dispersion=1.0)
    assert out["status"].tolist() == ["alert", "ok", "alert", "ok"]
    assert out["ratio"].tolist() == pytest.approx([0.0, 1.0, 200 / 60, 1.1])
    assert (out["low"] <= 0.5).all() and (out["high"] >= 1.5).all()


def test_binomial_excess_matches_scipy():
    assert op.binomial_excess(30, 5000, 0.003) == pytest.approx(
        stats.binomtest(30, 5000, 0.003, alternative="greater").pvalue)
    assert op.binomial_excess(30, 5000, 0.003, dispersion=2) == pytest.approx(
        stats.binomtest(15, 2500, 0.003, alternative="greater").pvalue)
    assert op.binomial_excess(0, 100, 0.1) == 1.0
    assert op.binomial_excess(1, 100, 0.0) == 0.0


def test_binomial_critical_rate_is_the_first_significant_count():
    rate = op.binomial_critical_rate(5000, 0.003, 0.001)
    k = round(rate * 5000)
    assert stats.binom.sf(k - 1, 5000, 0.003) < 0.001 <= stats.binom.sf(k - 2, 5000, 0.003)


def test_bonferroni_sigmas():
    assert bonferroni_sigmas(3.0, 1) == 3.0
    assert bonferroni_sigmas(3.0, 7) == pytest.approx(stats.norm.isf(stats.norm.sf(3.0) / 7))
    assert bonferroni_sigmas(3.0, 7) == pytest.approx(3.55, abs=0.01)


def test_dispersion_from_band_compares_with_binomial_noise():
    band = Band(mean=0.01, sd=2 * math.sqrt(0.01 * 0.99 / 1000), low_seen=0, high_seen=0.02,
                chunk_rows=1000, n_chunks=14)
    assert op.dispersion_from_band(band, 0.01) == pytest.approx(4.0)
    assert op.dispersion_from_band(None, 0.01) == 1.0


@pytest.mark.parametrize("errors, status", [(15, "ok"), (22, "ok"), (45, "alert")])
def test_error_rate_rule(errors, status):
    d = op.error_decision(errors, 5000, 0.003, None, None, baseline_rows=10_000)
    p = stats.binomtest(errors, 5000, 0.003, alternative="greater").pvalue
    assert d.p_value == pytest.approx(p)
    assert d.status == status
    assert d.value == pytest.approx(errors / 5000)
    assert d.threshold >= 0.006  # the alert edge: at least double the baseline rate


def test_error_rate_warns_on_a_significant_but_moderate_rise():
    # 1.5x the baseline on a big window: significant, past the warn floor, short of doubling.
    d = op.error_decision(4500, 1_000_000, 0.003, None, None)
    assert d.status == "warn"


def test_error_rate_with_fixed_limits():
    d = op.error_decision(40, 1000, 0.003, None, {"warn": 0.02, "alert": 0.05})
    assert (d.status, d.method) == ("warn", "slo")


def test_good_turing_unseen():
    # 10 values: a x5, b x3, c x1, d x1 -> two levels seen once.
    freqs = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.1}
    assert op.good_turing_unseen(freqs, 10) == pytest.approx(3 / 11)


@pytest.mark.parametrize("ref, win, status", [
    ("BIGINT", "BIGINT", "ok"), ("INTEGER", "BIGINT", "ok"), ("DOUBLE", "FLOAT", "ok"),
    ("BIGINT", "DOUBLE", "warn"), ("DOUBLE", "VARCHAR", "alert"), ("VARCHAR", "BIGINT", "alert"),
    ("VARCHAR", "BOOLEAN", "alert"), ("DOUBLE", None, "alert"), ("DECIMAL(18,3)", "DOUBLE", "ok"),
])
def test_type_rule(ref, win, status):
    assert op.type_status(ref, win) == status


# --------------------------------------------------------------------------- latency and versions


def _band(mean, sd, rows=700):
    return Band(mean=mean, sd=sd, low_seen=mean - 2 * sd, high_seen=mean + 2 * sd, chunk_rows=rows,
                n_chunks=12, scales_with_size=False)


@pytest.mark.parametrize("value, status", [(43.0, "ok"), (44.5, "warn"), (50.5, "alert"), (80.0, "alert")])
def test_latency_needs_both_the_band_and_the_floor(value, status):
    band = _band(40.0, 1.2)  # band edge 43.6; floors 44 (warn) and 50 (alert)
    daily = pd.DataFrame({"day": pd.date_range("2026-09-28", periods=2, freq="D", tz="UTC"),
                          "rows": [700, 700], "p50": [40.0, 40.0], "p95": [np.nan] * 2, "p99": [np.nan] * 2})
    res = op.latency({"p50": value}, daily, {"p50": band, "p95": None, "p99": None}, Thresholds(), {"p50": 40.0})
    window = next(d for d in res.decisions if d.subject == "latency_p50")
    assert window.status == status
    assert res.limits["p50"].warn_at == pytest.approx(44.0)
    assert res.limits["p50"].alert_at == pytest.approx(50.0)


def test_latency_days_use_a_bonferroni_widened_band_and_skip_thin_days():
    band = _band(100.0, 10.0)
    daily = pd.DataFrame({"day": pd.date_range("2026-09-28", periods=7, freq="D", tz="UTC"),
                          "rows": [700] * 6 + [50],
                          "p95": [100, 100, 133, 137, 100, 100, 400], "p50": np.nan, "p99": np.nan})
    res = op.latency({"p95": 110.0}, daily, {"p95": band}, Thresholds(), {"p95": 100.0}, min_day_rows=350)
    edge = 100 + bonferroni_sigmas(3, 6) * 10  # six days judged
    assert res.daily_limits["p95"].alert_at == pytest.approx(edge)
    day = next(d for d in res.decisions if d.subject == "latency_p95_daily")
    assert (day.status, day.value, day.details["days_flagged"]) == ("alert", 137, 1)
    assert res.daily["status"].tolist() == ["ok", "ok", "ok", "alert", "ok", "ok", "ok"]


def test_latency_slo_replaces_the_band():
    daily = pd.DataFrame({"day": pd.date_range("2026-09-28", periods=1, tz="UTC"), "rows": [10],
                          "p50": [1.0], "p95": [180.0], "p99": [1.0]})
    res = op.latency({"p95": 180.0}, daily, {"p95": _band(100, 1)},
                     Thresholds(metrics={"latency_p95": {"warn": 150, "alert": 200}}), {"p95": 100.0})
    d = next(d for d in res.decisions if d.subject == "latency_p95")
    assert (d.status, d.method, d.threshold) == ("warn", "slo", 150)


@pytest.mark.parametrize("rows, status", [({"2": 980, "1": 20}, "ok"), ({"2": 800, "1": 200}, "warn"),
                                          ({"2": 300, "1": 700}, "alert"), ({"1": 1000}, "alert")])
def test_serving_version_rule(rows, status):
    per_version = pd.DataFrame({"version": list(rows), "rows": list(rows.values())})
    res = op.serving_versions(per_version, "2", {"2": 9800, "1": 200})
    d = res.decisions[0]
    assert d.status == status
    assert d.value == pytest.approx(rows.get("2", 0) / 1000)
    assert d.details["baseline_share"] == pytest.approx(0.98)


# --------------------------------------------------------------------------- a synthetic project

WEEK3 = (dt.datetime(2026, 10, 19, tzinfo=UTC), dt.datetime(2026, 10, 26, tzinfo=UTC))
WEEK4 = (dt.datetime(2026, 10, 26, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC))


def _write_logs(root: Path, logs: pd.DataFrame) -> None:
    for day, part in logs.groupby(logs["ts"].dt.strftime("%Y-%m-%d")):
        folder = root / "data/logs" / f"day={day}"
        folder.mkdir(parents=True)
        part.drop(columns="day", errors="ignore").to_parquet(folder / "part-0.parquet")


@pytest.fixture(scope="module")
def incidents(tmp_path_factory):
    """Four weeks of logs (one request a minute) whose fourth week holds planted incidents.

    Weeks 1-2 are the baseline window. Week 4: no request on Wednesday 10:00-16:00, latency x3
    on Thursday, errors 1% -> 3%, 30% of requests served by version 2, price missing in 10%,
    user_tenure_days negative in 3%, region written as integer codes.
    """
    root = tmp_path_factory.mktemp("ops") / "project"
    (root / "data").mkdir(parents=True)
    rng = np.random.default_rng(5)
    make_frame(6000, "2026-08-01", rng).to_parquet(root / "data/reference.parquet")
    logs = make_frame(4 * 7 * 1440, "2026-10-05", rng, freq_minutes=1)
    n = len(logs)
    week4 = (logs["ts"] >= pd.Timestamp(WEEK4[0])).to_numpy()
    logs["latency_ms"] = rng.lognormal(np.log(40), 0.5, n).round(1)
    thursday = (logs["ts"].dt.strftime("%Y-%m-%d") == "2026-10-29").to_numpy()
    logs.loc[thursday, "latency_ms"] *= 3
    logs["error_code"] = np.where(rng.random(n) < np.where(week4, 0.03, 0.01), "timeout", None)
    logs.loc[week4 & (rng.random(n) < 0.3), "model_version"] = "2"
    logs.loc[week4 & (rng.random(n) < 0.10), "price"] = np.nan
    negative = week4 & (rng.random(n) < 0.03)
    logs.loc[negative, "user_tenure_days"] = -logs.loc[negative, "user_tenure_days"]
    gap = ((logs["ts"] >= pd.Timestamp("2026-10-28T10:00Z")) & (logs["ts"] < pd.Timestamp("2026-10-28T16:00Z")))
    logs = logs[~gap.to_numpy()].reset_index(drop=True)
    plain = logs[logs["ts"] < pd.Timestamp(WEEK4[0])]
    coded = logs[logs["ts"] >= pd.Timestamp(WEEK4[0])].copy()
    coded["region"] = coded["region"].map({"na": 0, "eu": 1, "apac": 2}).astype("int64")
    _write_logs(root, plain)
    _write_logs(root, coded)
    path = write_project(root, model_extra={
        "operational": {"latency_ms": "latency_ms", "error": "error_code", "request_id": "request_id"},
        "version_column": "model_version", "versions": {"1": {}, "2": {}},
        "baseline": {"window": "2026-10-05/2026-10-19"}})
    project = load_project(path)
    fit(project, "m", "1", baseline_id="20261020T000000Z").save(
        project.archive / "m" / "1" / "baseline" / "20261020T000000Z")
    return path, logs


def _analyse(path, window):
    ctx = open_window(path, "m", "1", f"{window[0].isoformat()}/{window[1].isoformat()}", notebook="operations",
                      labels=False, load_estimator=False)
    return ctx, op.analyse(ctx)


def test_duckdb_aggregates_match_pandas(incidents):
    path, logs = incidents
    model = load_project(path).model("m")
    w = logs[(logs["ts"] >= pd.Timestamp(WEEK4[0])) & (logs["ts"] < pd.Timestamp(WEEK4[1]))]
    scan = op.LogsWindow.open(model, *WEEK4)
    window, daily, per_version = scan.figures()
    assert window["rows"] == len(w)
    assert window["errors"] == w["error_code"].notna().sum()
    np.testing.assert_allclose([window[p] for p in op.PERCENTILES],
                               np.percentile(w["latency_ms"], [50, 95, 99]))
    by_day = w.groupby(w["ts"].dt.floor("D"))
    np.testing.assert_array_equal(daily["rows"], by_day.size().to_numpy())
    np.testing.assert_allclose(daily["p95"], by_day["latency_ms"].quantile(0.95).to_numpy())
    assert dict(zip(per_version["version"], per_version["rows"])) == w["model_version"].value_counts().to_dict()
    hourly = scan.hourly_counts()
    expected = w.groupby(w["ts"].dt.floor("h")).size()
    pd.testing.assert_series_equal(hourly, expected.astype(float), check_names=False, check_index_type=False,
                                   check_freq=False)


def test_baseline_operational_figures_match_pandas(incidents):
    path, logs = incidents
    model = load_project(path).model("m")
    notes: list[str] = []
    ops, chunks = op.fit_operational(model, connect(), notes)
    start, end = model.baseline.window
    b = logs[(logs["ts"] >= pd.Timestamp(start)) & (logs["ts"] < pd.Timestamp(end))]
    assert ops["rows"] == len(b)
    by_day = b.groupby(b["ts"].dt.floor("D"))
    assert ops["rows_per_day"] == {str(d.date()): int(n) for d, n in by_day.size().items()}
    np.testing.assert_allclose([ops["latency_ms"][p] for p in op.PERCENTILES],
                               np.percentile(b["latency_ms"], [50, 95, 99]))
    assert ops["error_rate"] == pytest.approx(b["error_code"].notna().mean())
    assert ops["rows_per_version"] == b["model_version"].value_counts().to_dict()
    how = (b["ts"].dt.day_of_week * 24 + b["ts"].dt.hour).value_counts()
    np.testing.assert_allclose(ops["rows_per_hour_of_week"], how.reindex(range(168), fill_value=0) / 2)
    assert sum(ops["latency_histogram"].values()) == len(b)
    p95 = [v for (_, _, _, metric, _, v, _) in chunks if metric == "latency_p95"]
    # One chunk per day, the first and last days left out (partial in general).
    np.testing.assert_allclose(p95, by_day["latency_ms"].quantile(0.95).to_numpy()[1:-1])
    assert notes == []


def test_quality_counts_match_pandas(incidents):
    path, logs = incidents
    ctx, report = _analyse(path, WEEK4)
    w = logs[(logs["ts"] >= pd.Timestamp(WEEK4[0])) & (logs["ts"] < pd.Timestamp(WEEK4[1]))
             & (logs["model_version"] == "1")]
    ref = ctx.reference.frame
    assert report.version_rows == len(w)
    table = report.quality.columns.set_index("column")
    assert table.loc["price", "missing (window)"] == pytest.approx(w["price"].isna().mean())
    tenure = w["user_tenure_days"]
    outside = ((tenure < ref["user_tenure_days"].min()) | (tenure > ref["user_tenure_days"].max())).mean()
    assert table.loc["user_tenure_days", "out of range"] == pytest.approx(outside)
    assert table.loc["region", "unseen levels"] == 1.0  # integer codes are no known level
    assert table.loc["device", "unseen levels"] == 0.0


def test_planted_incidents_are_found(incidents):
    path, _ = incidents
    ctx, report = _analyse(path, WEEK4)
    got = {d.subject: d for d in report.decisions}
    assert got["traffic_hourly"].status == "alert"
    assert got["traffic_hourly"].details["hours_flagged"] == 6
    assert got["traffic_hourly"].at.startswith("2026-10-28T1")
    assert got["traffic_daily"].status == "warn"  # a quarter of Wednesday missing
    assert got["traffic"].status == "ok"
    assert got["latency_p95_daily"].status == "alert"
    assert got["latency_p95_daily"].at.startswith("2026-10-29")
    assert got["error_rate"].status == "alert"
    assert got["serving_version"].status == "warn"
    assert got["serving_version"].details["other_versions"] == {"2": pytest.approx(0.3 * report.rows, rel=0.05)}
    assert got["price:missing_rate"].status == "alert"
    assert got["user_tenure_days:out_of_range"].status == "alert"
    assert got["region:unseen_categories"].status == "alert"
    assert (got["region:type"].status, got["region:type"].details["window_type"]) == ("alert", "BIGINT")
    for quiet in ("device:unseen_categories", "device:missing_rate", "user_tenure_days:missing_rate",
                  "price:out_of_range", "price:type"):
        assert got[quiet].status == "ok", quiet
    assert report.notes == ()
    assert "Error rate" in report.verdict() or "Version" in report.verdict()


def test_a_quiet_week_raises_nothing(incidents):
    path, _ = incidents
    _, report = _analyse(path, WEEK3)
    flagged = [(d.subject, d.status) for d in report.decisions if d.status != "ok"]
    assert flagged == []
    assert report.verdict().startswith("Operations healthy")


def test_without_operational_config_the_rest_still_runs(tmp_path):
    """No operational block, no version column, no baseline window; hostile column names and levels."""
    rng = np.random.default_rng(2)
    odd = 'we"ird <b>region</b>'
    (tmp_path / "data/logs").mkdir(parents=True)
    ref = make_frame(6000, "2026-08-01", rng).rename(columns={"region": odd})
    ref[odd] = ref[odd].replace({"eu": "O'Brien"})
    ref.to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(7 * 144, "2026-10-05", rng).rename(columns={"region": odd})
    logs[odd] = logs[odd].replace({"eu": "O'Brien", "apac": "new'); DROP"})
    logs.to_parquet(tmp_path / "data/logs/part.parquet")
    project = load_project(write_project(tmp_path, model_extra={
        "features": {"numeric": ["price", "user_tenure_days"], "categorical": ["device", odd]}}))
    fit(project, "m", "1").save(project.archive / "m" / "1" / "baseline" / "20261001T000000Z")
    ctx, report = _analyse(project.path, (dt.datetime(2026, 10, 5, tzinfo=UTC), dt.datetime(2026, 10, 12, tzinfo=UTC)))
    assert report.traffic is report.latency is report.errors is report.versions is None
    text = " ".join(report.notes)
    for needed in ("baseline.window", "operational.latency_ms", "operational.error", "version_column"):
        assert needed in text
    assert {d.kind for d in report.decisions} == {"data_quality"}
    got = {d.subject: d for d in report.decisions}
    unseen = got[f"{odd}:unseen_categories"]
    assert unseen.status == "alert"  # a third of the rows carry a level the reference never had
    assert unseen.value == pytest.approx((logs[odd] == "new'); DROP").mean())
    assert all(d.status == "ok" for s, d in got.items() if not s.startswith(odd))


# --------------------------------------------------------------------------- the notebook, end to end


@pytest.fixture
def demo_weeks(demo_archive):
    return {week: demo_archive.week(week)[0] for week in (3, 4, 5)}


def test_latency_regression_week_alerts_and_its_neighbours_do_not(demo_weeks):
    week4 = demo_weeks[4]
    alerts = {c["subject"] for c in checks_of(week4, "operational", "alert")}
    assert {"latency_p50", "latency_p95"} <= alerts
    p95 = next(c for c in week4["checks"] if c["subject"] == "latency_p95")
    assert p95["value"] > 2 * 100 and p95["threshold"] < p95["value"]
    assert p95["method"] == "baseline_band"
    for week in (3, 5):
        assert checks_of(demo_weeks[week], "operational", "warn") == [], week


def test_operations_checks_follow_the_contract(demo_weeks, demo):
    summary = demo_weeks[4]
    subjects = {c["subject"] for c in checks_of(summary, "operational")}
    assert {"traffic", "traffic_daily", "traffic_hourly", "latency_p50", "latency_p95", "latency_p99",
            "error_rate", "serving_version"} <= subjects
    quality = {c["subject"] for c in checks_of(summary, "data_quality")}
    for feature in ("price", "device"):
        assert {f"{feature}:missing_rate", f"{feature}:type"} <= quality
    assert "price:out_of_range" in quality and "device:unseen_categories" in quality
    for c in summary["checks"]:
        assert {"notebook", "kind", "subject", "status", "method"} <= set(c)
    assert "Latency p95" in summary["notebooks"]["operations"]["verdict"]


def test_notebook_runs_on_logs_without_operational_columns(tmp_path):
    from mlmon_nb.runner import execute_plan, prepare_window_run

    rng = np.random.default_rng(4)
    (tmp_path / "data/logs").mkdir(parents=True)
    make_frame(6000, "2026-08-01", rng).to_parquet(tmp_path / "data/reference.parquet")
    make_frame(14 * 144, "2026-10-05", rng).to_parquet(tmp_path / "data/logs/part.parquet")
    path = write_project(tmp_path, model_extra={
        "operational": {"latency_ms": "latency_ms", "error": "error_code"},
        "baseline": {"window": "2026-10-05/2026-10-12"}})
    project = load_project(path)
    fit(project, "m", "1").save(project.archive / "m" / "1" / "baseline" / "20261001T000000Z")
    outcome = execute_plan(prepare_window_run(path, "m", "1", "2026-10-12/2026-10-19", ["operations"]),
                           fail_on="never")
    summary = outcome.summary
    assert summary["notebooks"]["operations"]["status"] != "error"
    assert {c["subject"] for c in checks_of(summary, "operational")} == {"traffic", "traffic_daily", "traffic_hourly"}
    assert checks_of(summary, "data_quality")
    report = (outcome.run_dir / "operations.html").read_text()
    assert "latency_ms&#x27; (models.m.operational.latency_ms) is not in the logs" in report or \
        "latency_ms' (models.m.operational.latency_ms) is not in the logs" in report
    assert "version_column" in report
    assert json.loads((outcome.run_dir / "summary.json").read_text())["status"] in ("ok", "warn")
