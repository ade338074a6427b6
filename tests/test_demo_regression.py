"""The demo's regression model, ``delivery-eta``: its files, its planted events found by the notebooks,
and its pages read in Chromium.

One archive for the module: a private copy of the session demo (``conftest.copy_demo``) with the
delivery model's baseline, then four windows: week 5 (quiet, before both events) with every notebook,
week 6 (road works from Wednesday 2026-10-14) with data drift and concept drift, week 8 and week 9
(before and after the harbour zone opens) with data drift, and explainability after it. The planted figures come from ground_truth.json (measured with numpy, not with mlmon).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmon_nb.resources import default_window_notebooks

from conftest import checks_of, copy_demo

MODEL, VERSION = "delivery-eta", "1"
ROAD_WORKS_AT = dt.datetime(2026, 10, 14, 6, tzinfo=dt.timezone.utc)
QUIET, WORKS, BEFORE_ZONE, ZONE = 5, 6, 8, 9
DRIFTED = {"distance_km", "zone"}
EXPLAINED_ROWS = 300  # explainability on a few rows: the test is about rendering, not precision
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def project(demo, tmp_path_factory):
    """The copy's mlmon.yaml with the delivery model's baseline archived."""
    from mlmon_nb.runner import execute_baseline, prepare_baseline

    path = copy_demo(demo, tmp_path_factory.mktemp("regression"))
    outcome = execute_baseline(prepare_baseline(path, MODEL, VERSION))
    assert outcome.exit_code == 0, outcome.run_dir
    return path


@pytest.fixture(scope="module")
def runs(project, demo):
    """{week: (summary, run folder)} of the delivery model's four windows, run in order."""
    from mlmon_nb.runner import execute_plan, prepare_window_run

    plan = {QUIET: default_window_notebooks(), WORKS: ["data_drift", "concept_drift"],
            BEFORE_ZONE: ["data_drift"], ZONE: ["data_drift", "explainability"]}
    out = {}
    for week, notebooks in plan.items():
        start, end = demo.windows[week - 1]
        prepared = prepare_window_run(project, MODEL, VERSION, f"{start.isoformat()}/{end.isoformat()}",
                                      list(notebooks),
                                      {"max_rows": EXPLAINED_ROWS} if "explainability" in notebooks else {})
        outcome = execute_plan(prepared, fail_on="never")
        assert all(nb["status"] != "error" for nb in outcome.summary["notebooks"].values()), \
            (week, outcome.summary["notebooks"])
        out[week] = (outcome.summary, outcome.run_dir)
    return out


def truth_of(demo) -> dict:
    return demo.ground_truth["delivery"]


def feature_status(summary) -> dict[str, str]:
    return {c["subject"]: c["status"] for c in checks_of(summary, "feature_drift")}


# --------------------------------------------------------------------------- the files


def test_the_files_the_model_and_the_planted_figures(demo):
    from mlmon_nb.config import load_project
    from mlmon_nb.models import load_model, score

    cfg = load_project(demo.project_path)
    mcfg = cfg.model(MODEL)
    assert (mcfg.task, mcfg.prediction, mcfg.target, mcfg.feedback) == ("regression", "eta_minutes",
                                                                         "actual_minutes", None)
    assert demo.monitored == (("ctr-ranker", "2"), (MODEL, VERSION))
    loaded = load_model(mcfg, mcfg.versions[VERSION])  # through the skops allowlist, without trust
    reference = pd.read_parquet(mcfg.reference)
    assert len(reference) >= 2_400
    predicted = score(loaded, reference, list(loaded.features))
    np.testing.assert_allclose(predicted, reference["eta_minutes"], atol=0.051)  # logged with one decimal

    truth = truth_of(demo)
    works, zone = truth["events"]
    assert works["kind"] == "concept_drift" and works["at"] == ROAD_WORKS_AT.isoformat()
    assert works["after"]["mae"] > 1.4 * works["before"]["mae"]
    assert zone["kind"] == "covariate_drift" and set(truth["drifted_features"]) == DRIFTED

    # Independent of mlmon: only distance and zone move in week 9; nothing moves in week 6.
    logs = pd.concat(pd.read_parquet(p) for p in sorted(Path(mcfg.logs).glob("day=*/*.parquet")))
    for week, moved in ((WORKS, set()), (ZONE, DRIFTED)):
        start, end = demo.windows[week - 1]
        current = logs[(logs["ts"] >= start) & (logs["ts"] < end)]
        for name in truth["features"]["numeric"]:
            p = stats.ks_2samp(reference[name], current[name]).pvalue
            assert (p < 1e-6) if name in moved else (p > 0.001), (week, name, p)
        for name in truth["features"]["categorical"]:
            table = pd.crosstab(pd.concat([reference[name], current[name]]),
                                np.r_[np.zeros(len(reference)), np.ones(len(current))])
            p = stats.chi2_contingency(table).pvalue
            assert (p < 1e-6) if name in moved else (p > 0.001), (week, name, p)


def test_the_ctr_files_do_not_depend_on_the_second_model(tmp_path, monkeypatch):
    """Separate seed streams: without the delivery model the CTR model's data are byte-identical."""
    from mlmon_nb.demo import build_demo, delivery

    with_it = build_demo(tmp_path / "with", scale=0.01, weeks=1)
    monkeypatch.setattr(delivery, "build", lambda root, **kw: ({}, {}))
    without = build_demo(tmp_path / "without", scale=0.01, weeks=1)
    ctr = sorted(p.relative_to(with_it.root) for p in (with_it.root / "data").rglob("*.parquet")
                 if "delivery" not in p.parts)
    assert ctr and ctr == sorted(p.relative_to(without.root) for p in (without.root / "data").rglob("*.parquet"))
    for rel in ctr:
        assert (with_it.root / rel).read_bytes() == (without.root / rel).read_bytes(), rel
    assert ({k: v for k, v in with_it.ground_truth.items() if k != "delivery"}
            == {k: v for k, v in without.ground_truth.items() if k != "delivery"})


# --------------------------------------------------------------------------- the planted events


def test_a_quiet_week_is_not_red_and_feedback_is_skipped(runs):
    summary, run_dir = runs[QUIET]
    assert summary["status"] != "alert", summary["verdict"]
    assert not checks_of(summary, status="alert")
    nbs = summary["notebooks"]
    assert set(nbs) == set(default_window_notebooks())
    assert nbs["feedback_loops"]["status"] == "skipped"  # no feedback block: never OK, never an error
    assert "'feedback' block" in nbs["feedback_loops"]["verdict"]
    assert nbs["explainability"]["status"] in ("ok", "warn")
    assert checks_of(summary, "attribution_drift")
    html = (run_dir / "explainability.html").read_text()
    assert "data:image/png;base64," in html and "Traceback" not in html
    perf = {c["subject"]: c for c in checks_of(summary, "performance")}
    assert set(perf) == {"mae", "rmse"} and all(c["status"] != "alert" for c in perf.values())
    assert all(c["ci_low"] <= c["baseline"] <= c["ci_high"] for c in perf.values())  # the week is as good


def test_road_works_are_concept_drift_dated_to_their_day(runs, demo):
    summary, _ = runs[WORKS]
    assert not checks_of(summary, "feature_drift", status="warn")  # the inputs did not move
    perf = {c["subject"]: c for c in checks_of(summary, "performance")}
    assert perf["mae"]["status"] == perf["rmse"]["status"] == "alert"
    week = truth_of(demo)["weeks"][WORKS - 1]
    assert perf["mae"]["value"] == pytest.approx(week["mae"], abs=0.05)
    assert perf["rmse"]["value"] == pytest.approx(week["rmse"], abs=0.05)
    assert perf["mae"]["value"] > perf["mae"]["threshold"] > perf["mae"]["baseline"]
    concept = [c for c in checks_of(summary, "concept_drift", status="alert") if c["subject"] == "mae"]
    assert concept, summary["checks"]
    cause = next(c for c in summary["causes"] if c["cause"] == "concept_drift")
    since = dt.datetime.fromisoformat(cause["since"])
    assert abs(since - ROAD_WORKS_AT) <= dt.timedelta(days=2), since
    verdict = summary["notebooks"]["concept_drift"]["verdict"]
    assert "concept drift" in verdict and "MAE" in verdict
    findings = str(summary["findings"])
    assert "is above the" in findings and "is below the" not in findings
    # z in the sentence's own direction: a worse MAE is above expected, so its z is positive
    zs = [float(z) for z in re.findall(r"z = (-?[0-9.]+)", findings)]
    assert zs and all(z > 0 for z in zs), findings


def test_the_new_zone_is_covariate_drift_on_distance_and_zone_only(runs):
    before, _ = runs[BEFORE_ZONE]
    assert not checks_of(before, "feature_drift", status="warn")
    after, _ = runs[ZONE]
    status = feature_status(after)
    assert {name for name, s in status.items() if s == "alert"} == DRIFTED
    assert all(s == "ok" for name, s in status.items() if name not in DRIFTED), status
    since = {c["subject"]: c.get("since") for c in checks_of(after, "feature_drift", status="alert")}
    assert all(s and s.startswith("2026-11-02") for s in since.values()), since
    verdict = after["notebooks"]["data_drift"]["verdict"]
    assert "distance_km: median" in verdict and "new: harbour" in verdict


# --------------------------------------------------------------------------- the pages


LONG_FIGURE = re.compile(r"(?<![\d.])[1-9]\d*\.\d{4,}(?![\d])")
"""A figure of 1 or more with four or more decimals (a timestamp's microseconds, an unrounded MAE)."""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_pages_of_a_regression_run_read_well(runs, tmp_path):
    from playwright.sync_api import sync_playwright

    _, run_dir = runs[ZONE]
    _, quiet_dir = runs[QUIET]
    _, works_dir = runs[WORKS]
    pages = [run_dir / "index.html", run_dir / "data_drift.html", run_dir / "explainability.html",
             works_dir / "index.html", works_dir / "concept_drift.html",
             quiet_dir / "index.html", quiet_dir / "feedback_loops.html", quiet_dir / "operations.html"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri(), wait_until="load")
            where = f"{path.parent.parent.name}/{path.name}"
            text = page.inner_text("body")
            assert not errors, (where, errors)
            assert "{'" not in text, where
            assert not LONG_FIGURE.findall(text), (where, LONG_FIGURE.findall(text)[:5])
            width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width[0] <= width[1] + 1, (where, width)
            if path.name == "index.html":
                assert page.evaluate("document.documentElement.scrollHeight") < 6000, where
            page.screenshot(path=str(tmp_path / f"{where.replace('/', '_')}.png"))
            page.close()
        browser.close()
    index = (quiet_dir / "index.html").read_text()
    assert index.count("needs a &#39;feedback&#39; block") + index.count("needs a 'feedback' block") == 1
    concept = (works_dir / "concept_drift.html").read_text()
    assert "is above the" in concept and "is below the" not in concept  # MAE: worse is higher
