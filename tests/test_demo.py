"""Tests of mlmon_nb.demo: the files it writes and the effects it plants.

Planted effects are measured from the written files with scipy and
scikit-learn, independently of the generator's own ground-truth figures.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from scipy import stats
from sklearn.metrics import roc_auc_score

from mlmon_nb.demo import DemoProject, build_demo
from mlmon_nb.demo import write as demo_write
from mlmon_nb.errors import UsageError

SCALE = 0.25
UTC = dt.timezone.utc
LOGS_START = pd.Timestamp("2026-09-07", tz="UTC")
DRIFT_START = pd.Timestamp("2026-10-05", tz="UTC")
FLIP_AT = pd.Timestamp("2026-10-28T12:00", tz="UTC")
NUMERIC = ["price", "discount_pct", "user_tenure_days", "item_rating", "session_depth"]
CATEGORICAL = ["device", "region", "category"]
LOG_COLUMNS = [
    "ts", "request_id", "user_id", "item_id", "model_version", *NUMERIC, *CATEGORICAL,
    "score", "shown", "latency_ms", "error_code",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> DemoProject:
    return build_demo(tmp_path_factory.mktemp("model") / "demo", scale=SCALE)


@pytest.fixture(scope="module")
def randomised(tmp_path_factory) -> DemoProject:
    return build_demo(tmp_path_factory.mktemp("randomised") / "demo", scale=SCALE,
                      exposure="randomised")


def read_logs(project: DemoProject) -> pd.DataFrame:
    parts = sorted((project.root / "data" / "logs").glob("day=*/part-0.parquet"))
    return pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)


@pytest.fixture(scope="module")
def logs(built) -> pd.DataFrame:
    return read_logs(built)


@pytest.fixture(scope="module")
def reference(built) -> pd.DataFrame:
    return pd.read_parquet(built.root / "data" / "reference.parquet")


@pytest.fixture(scope="module")
def labelled(built, logs) -> pd.DataFrame:
    labels = pd.read_parquet(built.root / "data" / "labels")
    return logs.merge(labels, on="request_id", how="inner", validate="one_to_one")


def week_of(ts: pd.Series) -> np.ndarray:
    return ((ts - LOGS_START) // pd.Timedelta(days=7)).to_numpy() + 1


def gini(counts: np.ndarray) -> float:
    """Gini as the mean absolute difference over twice the mean (not the sorted formula)."""
    counts = np.asarray(counts, dtype=float)
    return float(np.abs(counts[:, None] - counts[None, :]).mean() / (2 * counts.mean()))


def weekly_gini(frame: pd.DataFrame) -> list[float]:
    weeks = week_of(frame["ts"])
    return [gini(frame.loc[weeks == w, "item_id"].value_counts().to_numpy())
            for w in range(1, weeks.max() + 1)]


# --------------------------------------------------------------------------
# Files, project file, API.


def test_files_and_project(built):
    root = built.root
    assert built.project_path == root / "mlmon.yaml"
    assert (built.model, built.version) == ("ctr-ranker", "2")
    for path in ("mlmon.yaml", "ground_truth.json", "data/reference.parquet",
                 "data/labels/part-0.parquet", "models/ctr/1.skops", "models/ctr/2.skops"):
        assert (root / path).is_file(), path
    days = sorted(p.parent.name for p in (root / "data" / "logs").glob("day=*/part-0.parquet"))
    assert len(days) == 70
    assert days[0] == "day=2026-09-07" and days[-1] == "day=2026-11-15"
    assert json.loads((root / "ground_truth.json").read_text()) == built.ground_truth


def test_windows_are_weekly_utc(built):
    assert len(built.windows) == 10
    assert built.windows[0][0] == dt.datetime(2026, 9, 7, tzinfo=UTC)
    for start, end in built.windows:
        assert start.tzinfo is not None and start.utcoffset() == dt.timedelta(0)
        assert end - start == dt.timedelta(days=7)
    assert [[a.isoformat(), b.isoformat()] for a, b in built.windows] == \
        built.ground_truth["windows"]


def test_project_file_follows_the_interface(built):
    document = yaml.safe_load(built.project_path.read_text())
    model = document["models"]["ctr-ranker"]
    assert document["archive"] == "reports"
    assert model["features"] == {"numeric": NUMERIC, "categorical": CATEGORICAL}
    assert model["labels"] == {"path": "data/labels/", "key": "request_id"}
    assert model["versions"]["2"] == {"model": "models/ctr/2.skops",
                                      "deployed": dt.date(2026, 9, 7)}
    assert model["feedback"]["training_provenance"] == "from_model"
    assert model["segments"] == ["device", "region"]


def test_project_file_loads(built):
    from mlmon_nb.config import load_project

    project = load_project(built.project_path)
    model = project.models["ctr-ranker"]
    assert model.reference.is_file()
    assert set(model.versions) == {"1", "2"}
    assert all(version.model.is_file() for version in model.versions.values())


def test_log_and_reference_columns(logs, reference):
    assert list(logs.columns) == LOG_COLUMNS
    assert "clicked" not in logs.columns
    assert str(logs["ts"].dt.tz) == "UTC"
    assert logs["ts"].is_monotonic_increasing
    assert list(reference.columns) == [
        "ts", "request_id", "user_id", "item_id", *NUMERIC, *CATEGORICAL,
        "clicked", "from_model", "shown",
    ]
    assert set(reference["clicked"].unique()) == {0, 1}
    assert len(reference) == pytest.approx(4 * 20_000 * SCALE, rel=0.05)
    ids = pd.concat([reference["request_id"], logs["request_id"]])
    assert ids.is_unique and ids.str.fullmatch(r"r[0-9]{9}").all()


def test_feature_domains(logs):
    assert logs["discount_pct"].between(0, 60).all()
    assert (logs["user_tenure_days"] >= 0).all()
    assert logs["item_rating"].between(1, 5).all()
    assert np.allclose(logs["item_rating"], logs["item_rating"].round(1))
    assert logs["session_depth"].between(1, 30).all()
    assert set(logs["device"]) == {"mobile", "desktop", "tablet"}
    assert set(logs["region"]) == {"na", "eu", "apac", "latam"}
    assert logs["category"].nunique() == 8
    before = logs[logs["ts"] < DRIFT_START]
    assert before["price"].median() == pytest.approx(35, rel=0.05)
    assert before["device"].value_counts(normalize=True)["mobile"] == pytest.approx(0.55, abs=0.02)


def test_errors_and_rollout(logs):
    errors = logs["error_code"].dropna()
    assert set(errors) <= {"timeout", "upstream_5xx"}
    assert len(errors) / len(logs) == pytest.approx(0.003, abs=0.0015)
    rollout = logs["ts"] < LOGS_START + pd.Timedelta(days=2)
    assert set(logs.loc[~rollout, "model_version"]) == {"2"}
    assert (logs.loc[rollout, "model_version"] == "1").mean() == pytest.approx(0.10, abs=0.03)


# --------------------------------------------------------------------------
# Models.


@pytest.mark.parametrize("version, final", [
    ("1", "LogisticRegression"), ("2", "HistGradientBoostingClassifier"),
])
def test_model_loads_safely_and_reproduces_logged_scores(built, logs, version, final):
    from mlmon_nb.models import SKOPS_ALLOWLIST

    path = built.root / "models" / "ctr" / f"{version}.skops"
    untrusted = skops.io.get_untrusted_types(file=path)
    assert set(untrusted) <= SKOPS_ALLOWLIST
    model = skops.io.load(path, trusted=untrusted)
    assert type(model).__name__ == "Pipeline"
    assert type(model[-1]).__name__ == final
    served = logs[logs["model_version"] == version]
    scores = model.predict_proba(served[NUMERIC + CATEGORICAL])[:, 1]
    np.testing.assert_allclose(scores, served["score"], rtol=1e-12, atol=0)


def test_boosting_beats_logistic_regression_on_the_reference(built, reference):
    auc = {}
    for version in ("1", "2"):
        path = built.root / "models" / "ctr" / f"{version}.skops"
        model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
        auc[version] = roc_auc_score(reference["clicked"],
                                     model.predict_proba(reference[NUMERIC + CATEGORICAL])[:, 1])
    assert 0.70 <= auc["2"] <= 0.80
    assert auc["2"] > auc["1"]
    assert auc["2"] == pytest.approx(built.ground_truth["reference"]["auc_v2"], abs=1e-6)
    assert reference["clicked"].mean() == pytest.approx(0.065, abs=0.015)


# --------------------------------------------------------------------------
# Determinism.


def test_same_arguments_give_identical_data(built, logs, tmp_path):
    again = build_demo(tmp_path / "again", scale=SCALE)
    pd.testing.assert_frame_equal(read_logs(again), logs)
    for path in sorted(built.root.rglob("*.parquet")):
        twin = again.root / path.relative_to(built.root)
        assert twin.read_bytes() == path.read_bytes(), path
    assert again.ground_truth == built.ground_truth


def test_another_seed_gives_other_data(tmp_path):
    one = build_demo(tmp_path / "one", scale=0.02, weeks=1, seed=1)
    two = build_demo(tmp_path / "two", scale=0.02, weeks=1, seed=2)
    assert not read_logs(one)["price"].equals(read_logs(two)["price"])


# --------------------------------------------------------------------------
# Planted effects.


def test_only_price_and_device_drift_from_week_5(reference, logs):
    weeks = week_of(logs["ts"])
    stable_numeric = ["discount_pct", "user_tenure_days", "item_rating", "session_depth"]
    stable_categorical = ["region", "category"]
    n_tests = 10 * (len(stable_numeric) + len(stable_categorical))
    for week in range(1, 11):
        current = logs[weeks == week]
        for name in stable_numeric:
            p = stats.ks_2samp(reference[name], current[name]).pvalue
            assert p > 0.01 / n_tests, (week, name, p)
        for name in stable_categorical:
            p = chi2_p(reference[name], current[name])
            assert p > 0.01 / n_tests, (week, name, p)
        price_p = stats.ks_2samp(reference["price"], current["price"]).pvalue
        device_p = chi2_p(reference["device"], current["device"])
        if week < 5:
            assert price_p > 0.001 and device_p > 0.001, (week, price_p, device_p)
        else:
            assert price_p < 1e-10 and device_p < 1e-10, (week, price_p, device_p)
    drifted = logs[weeks >= 5]
    assert drifted["price"].median() / reference["price"].median() == pytest.approx(1.3, rel=0.05)
    assert (drifted["device"] == "mobile").mean() == pytest.approx(0.75, abs=0.02)


def chi2_p(reference: pd.Series, current: pd.Series) -> float:
    table = pd.concat([reference.value_counts(), current.value_counts()], axis=1).fillna(0)
    return float(stats.chi2_contingency(table.to_numpy()).pvalue)


def test_concept_drift_drops_realized_auc(built, labelled):
    v2 = labelled[labelled["model_version"] == "2"]
    before = v2[v2["ts"] < FLIP_AT]
    after = v2[v2["ts"] >= FLIP_AT]
    auc_before = roc_auc_score(before["clicked"], before["score"])
    auc_after = roc_auc_score(after["clicked"], after["score"])
    assert auc_before - auc_after >= 0.08
    event = next(e for e in built.ground_truth["events"] if e["kind"] == "concept_drift")
    assert event["occurred"] and event["feature"] == "discount_pct"
    assert event["auc_v2_before"] == pytest.approx(auc_before, abs=1e-6)
    assert event["auc_v2_after"] == pytest.approx(auc_after, abs=1e-6)
    # The inputs do not move at the flip: compare the weeks around it.
    weeks = week_of(v2["ts"])
    p = stats.ks_2samp(v2.loc[(weeks >= 5) & (weeks <= 7), "discount_pct"],
                       v2.loc[weeks >= 9, "discount_pct"]).pvalue
    assert p > 0.01


def test_latency_doubles_in_week_4_only(built, logs):
    weeks = week_of(logs["ts"])
    p95 = [np.percentile(logs.loc[weeks == w, "latency_ms"], 95) for w in range(1, 11)]
    median = [logs.loc[weeks == w, "latency_ms"].median() for w in range(1, 11)]
    normal = [w for w in range(1, 11) if w != 4]
    for w in normal:
        assert 90 <= p95[w - 1] <= 135, (w, p95[w - 1])
        assert 35 <= median[w - 1] <= 45, (w, median[w - 1])
    assert p95[3] / np.mean([p95[2], p95[4]]) == pytest.approx(2.0, rel=0.15)
    assert median[3] / np.mean([median[2], median[4]]) == pytest.approx(2.0, rel=0.15)
    truth = [week["latency_p95_ms"] for week in built.ground_truth["weeks"]]
    assert truth == pytest.approx(p95, abs=1e-3)
    assert built.ground_truth["latency_week"] == 4


def test_exposure_concentrates_every_week_under_the_model(built, logs, reference):
    ginis = weekly_gini(logs)
    assert all(b > a for a, b in zip(ginis, ginis[1:])), ginis
    assert ginis[-1] - ginis[0] > 0.15
    assert gini(reference["item_id"].value_counts().to_numpy()) < ginis[0]
    truth = [week["exposure_gini"] for week in built.ground_truth["weeks"]]
    assert truth == pytest.approx(ginis, abs=1e-6)
    assert logs["shown"].mean() == pytest.approx(0.85, abs=0.02)
    assert reference["from_model"].mean() == pytest.approx(0.6, abs=0.02)
    assert built.ground_truth["training_provenance"]["2"] == pytest.approx(0.6, abs=0.02)


def test_exposure_stays_flat_when_randomised(randomised):
    logs = read_logs(randomised)
    ginis = weekly_gini(logs)
    assert max(ginis) - min(ginis) < 0.03, ginis
    slope = stats.linregress(np.arange(len(ginis)), ginis)
    assert slope.pvalue > 0.01
    assert not logs["shown"].any()
    reference = pd.read_parquet(randomised.root / "data" / "reference.parquet")
    assert not reference["from_model"].any()
    assert randomised.ground_truth["exposure"] == "randomised"


def test_randomised_control_changes_only_the_exposures(logs, randomised):
    control = read_logs(randomised)
    pd.testing.assert_frame_equal(control[NUMERIC + CATEGORICAL + ["ts", "score"]],
                                  logs[NUMERIC + CATEGORICAL + ["ts", "score"]])


def test_labels_are_late_and_missing_at_the_end(built, logs, labelled):
    end = pd.Timestamp(built.windows[-1][1])
    cutoff = end - pd.Timedelta(days=3)
    assert pd.Timestamp(built.ground_truth["labelled_until"]) == cutoff
    assert (labelled["ts"] < cutoff).all()
    older = logs["ts"] < cutoff
    assert len(labelled) / older.sum() == pytest.approx(0.98, abs=0.005)
    delay = labelled["labelled_at"] - labelled["ts"]
    assert (delay > pd.Timedelta(0)).all() and (delay <= pd.Timedelta(hours=48)).all()
    assert delay.median() == pytest.approx(pd.Timedelta(hours=6), abs=pd.Timedelta(hours=1))
    assert set(labelled["clicked"].unique()) == {0, 1}


def test_traffic_follows_daily_and_weekly_curves(logs):
    hours = logs["ts"].dt.hour
    assert (hours.between(18, 21)).sum() > 3 * (hours.between(2, 5)).sum()
    weekday = logs["ts"].dt.day_of_week
    per_day = logs.groupby(logs["ts"].dt.floor("D")).size()
    weekend = per_day[per_day.index.day_of_week >= 5].mean()
    midweek = per_day[per_day.index.day_of_week.isin([1, 2])].mean()
    assert weekend > 1.1 * midweek
    per_week = np.bincount(week_of(logs["ts"]))[1:]
    assert per_week == pytest.approx(np.full(10, 20_000 * SCALE), rel=0.05)
    assert weekday.nunique() == 7


def test_ground_truth_records_every_event(built):
    truth = built.ground_truth
    assert truth["drifted_features"] == ["price", "device"]
    assert set(truth["stable_features"]) == set(NUMERIC + CATEGORICAL) - {"price", "device"}
    assert truth["flip"] == {"at": "2026-10-28T12:00:00+00:00", "feature": "discount_pct",
                             "occurred": True}
    kinds = {event["kind"]: event["occurred"] for event in truth["events"]}
    assert kinds == {"rollout": True, "latency_regression": True, "covariate_drift": True,
                     "concept_drift": True, "feedback_loop": True, "seasonality": True}
    assert [week["week"] for week in truth["weeks"]] == list(range(1, 11))
    assert all(math.isfinite(week["auc_v2"]) for week in truth["weeks"])


def test_fewer_weeks_leave_the_later_events_out(tmp_path):
    project = build_demo(tmp_path / "short", scale=0.02, weeks=3)
    kinds = {event["kind"]: event["occurred"] for event in project.ground_truth["events"]}
    assert kinds["latency_regression"] is False
    assert kinds["covariate_drift"] is False
    assert kinds["concept_drift"] is False
    assert project.ground_truth["drifted_features"] == []
    assert project.ground_truth["latency_week"] is None
    assert len(list((project.root / "data" / "logs").glob("day=*"))) == 21


# --------------------------------------------------------------------------
# Arguments.


@pytest.mark.parametrize("arguments, message", [
    ({"scale": 0}, "The 'scale' parameter of build_demo must be a float > 0. Got 0 instead."),
    ({"scale": -1.5}, "must be a float > 0. Got -1.5 instead."),
    ({"scale": float("nan")}, "must be a float > 0. Got nan instead."),
    ({"scale": "1"}, "must be a float > 0. Got '1' instead."),
    ({"scale": True}, "must be a float > 0. Got True instead."),
    ({"weeks": 0}, "The 'weeks' parameter of build_demo must be an int >= 1. Got 0 instead."),
    ({"weeks": 2.0}, "must be an int >= 1. Got 2.0 instead."),
    ({"seed": -1}, "The 'seed' parameter of build_demo must be an int >= 0. Got -1 instead."),
    ({"seed": None}, "must be an int >= 0. Got None instead."),
    ({"exposure": "random"}, "The 'exposure' parameter of build_demo must be a str among "
                             "{'model', 'randomised'}. Got 'random' instead."),
])
def test_bad_arguments_are_refused(tmp_path, arguments, message):
    out = tmp_path / "demo"
    with pytest.raises(UsageError) as caught:
        build_demo(out, **arguments)
    assert message in str(caught.value)
    assert not out.exists()


def test_out_dir_must_be_missing_or_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="'out_dir' parameter of build_demo must be a missing "
                                         "or empty directory"):
        build_demo(tmp_path)
    with pytest.raises(UsageError, match="which is a file"):
        build_demo(tmp_path / "keep.txt")
    with pytest.raises(UsageError, match="must be a str or path-like. Got 3 instead"):
        build_demo(3)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(demo_write, "write_models", broken)
    with pytest.raises(OSError, match="disk full"):
        build_demo(tmp_path / "demo", scale=0.02, weeks=1)
    assert not (tmp_path / "demo").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError):
        build_demo(tmp_path / "empty", scale=0.02, weeks=1)
    assert list((tmp_path / "empty").iterdir()) == []
