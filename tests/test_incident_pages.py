"""Tests of the incident pages (issue 14, item 6): the archive index opens with the open
incidents and a causes-by-window timeline, one page per incident, `mlmon bundle --incident`.
Synthetic run folders (summaries written by hand, diagnosed by mlmon_nb.diagnosis): no notebook runs."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from mlmon_nb import archive, diagnosis
from mlmon_nb.checks import SCHEMA
from mlmon_nb.incidents import Policy
from mlmon_nb.report import incident_file, render_run_index
from mlmon_nb.resources import WINDOW_NOTEBOOKS

from conftest import write_project
from test_cli import invoke

FP = "sha256:" + "0" * 64
EVIL = "<script>alert(1)</script>"
MONDAY = dt.datetime(2026, 10, 5, tzinfo=dt.timezone.utc)


def feature(subject: str, status: str, since: str | None = None, value: float = 0.3) -> dict:
    check = {"notebook": "data_drift", "kind": "feature_drift", "subject": subject, "status": status,
             "method": "wasserstein", "value": value if status != "ok" else 0.01, "threshold": 0.08}
    return {**check, "since": since} if since else check


def write_run(root: Path, week: int, checks: list[dict], notebooks=WINDOW_NOTEBOOKS, made_hours: int = 6,
              model: str = "m", version: str = "1") -> Path:
    """A run folder as the runner commits it: summary.json (diagnosed), index.html, one report per notebook."""
    start = MONDAY + dt.timedelta(weeks=week - 1)
    end = start + dt.timedelta(weeks=1)
    made = end + dt.timedelta(hours=made_hours)
    run_id = f"{made:%Y%m%dT%H%M%SZ}"
    causes = diagnosis.diagnose(checks)
    statuses = {nb: diagnosis.notebook_status([c for c in checks if c["notebook"] == nb]) for nb in notebooks}
    summary = {
        "schema": SCHEMA, "model": model, "version": version,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "run_id": run_id, "generated_at": made.isoformat(), "mlmon_nb_version": "0.1.0",
        "status": diagnosis.status_of(causes),
        "data": {"reference_rows": 10, "current_rows": 10, "labelled_rows": 0, "fingerprint": FP},
        "notebooks": {nb: {"status": statuses[nb], "report": f"{nb}.html"} for nb in notebooks},
        "causes": [c.to_dict() for c in causes], "incidents": [], "checks": checks,
    }
    folder = root / model / version / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}" / run_id
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "index.html").write_text(render_run_index(summary))
    for nb in notebooks:
        (folder / f"{nb}.html").write_text(f'<html><head><title>{nb}</title></head><body><div class="mlmon-page">'
                                          f'<h1 id="top">{nb} report</h1><a href="#top">top</a></div></body></html>')
    return folder


def ops(status: str = "ok") -> dict:
    return {"notebook": "operations", "kind": "operational", "subject": "latency_p95", "status": status,
            "value": 180.0 if status != "ok" else 40.0, "threshold": 120.0}


@pytest.fixture
def scenario(tmp_path):
    """Four weekly windows of m v1: quiet, a covariate shift opens (price), worsens (a hostile subject
    alerts too), then fades to warn; a later partial re-run of week 4 saw nothing (it ran no drift)."""
    project = write_project(tmp_path)
    root = tmp_path / "reports"
    since = (MONDAY + dt.timedelta(weeks=1, days=2)).isoformat()
    runs = {
        1: write_run(root, 1, [feature("price", "ok"), ops()]),
        2: write_run(root, 2, [feature("price", "alert", since), ops("warn")]),
        3: write_run(root, 3, [feature("price", "alert", since), feature(EVIL, "alert", since), ops()]),
        4: write_run(root, 4, [feature("price", "warn", since), ops()]),
        "4b": write_run(root, 4, [ops()], notebooks=("operations",), made_hours=30),
    }
    catalogue, history = archive.update(root, Policy())
    return project, root, runs, history


def _section(html: str, marker: str) -> str:
    at = html.index(marker)
    return html[at:html.index("</section>", at)]


def test_index_opens_with_the_open_incident(scenario):
    _, root, runs, history = scenario
    [inc] = [i for i in history.incidents if i.cause == "covariate_shift"]
    assert inc.status == "ongoing" and inc.severity == "alert"
    html = (root / "index.html").read_text()
    assert html.index('id="mlmon-incidents-title"') < html.index('id="mlmon-versions-title"') \
        < html.index('id="mlmon-runs-title"')
    table = _section(html, 'id="mlmon-incidents-title"')
    rows = re.findall(r'<tr data-incident="([^"]+)">', table)
    assert rows == [inc.id]
    assert f'href="incidents/{incident_file(inc.id)}"' in table
    assert "Covariate shift" in table and "ongoing" in table
    assert "1 open incident" in html
    assert EVIL not in html and "&lt;script&gt;" in table


def test_open_incidents_sort_worst_then_oldest(tmp_path):
    from mlmon_nb.report import render_archive_index

    def inc(i, severity, first_seen, status="ongoing"):
        return {"id": f"m.1.c{i}", "model": "m", "version": "1", "cause": "data_quality", "subjects": ["x"],
                "status": status, "severity": severity, "first_seen": first_seen, "last_seen": "2026-11-01",
                "actions": []}

    html = render_archive_index([], incidents=[
        inc(1, "warn", "2026-09-01"), inc(2, "alert", "2026-10-01"), inc(3, "alert", "2026-09-15"),
        inc(4, "alert", "2026-08-01", status="resolved"),
        {**inc(5, "alert", "2026-10-02", status="acknowledged"),
         "actions": [{"action": "ack", "at": "2026-10-03", "by": "alice", "until": "2026-12-15", "note": EVIL}]}])
    table = _section(html, 'id="mlmon-incidents-title"')
    assert re.findall(r'<tr data-incident="([^"]+)">', table.split('id="mlmon-closed"')[0]) == \
        ["m.1.c3", "m.1.c2", "m.1.c5", "m.1.c1"]
    assert "alice" in table and "2026-12-15" in table and EVIL not in html
    assert "Closed incidents (1)" in table


def _cells(html: str, model="m", version="1") -> dict[tuple[str, str], str]:
    grid = html[html.index(f'<table class="mlmon-grid" data-model="{model}" data-version="{version}">'):]
    grid = grid[:grid.index("</table>")]
    return {(c, w[:10]): s for c, w, s in
            re.findall(r'<td data-cause="([^"]+)" data-window="([^"]+)" data-status="([^"]+)">', grid)}


def test_timeline_cells_per_cause_and_window(scenario):
    _, root, _, _ = scenario
    cells = _cells((root / "index.html").read_text())
    assert cells == {
        ("covariate_shift", "2026-10-05"): "ok", ("covariate_shift", "2026-10-12"): "alert",
        ("covariate_shift", "2026-10-19"): "alert", ("covariate_shift", "2026-10-26"): "warn",
        ("operational_regression", "2026-10-05"): "ok", ("operational_regression", "2026-10-12"): "warn",
        ("operational_regression", "2026-10-19"): "ok", ("operational_regression", "2026-10-26"): "ok",
    }


def test_a_later_partial_run_hides_neither_the_window_nor_the_latest_badge(scenario):
    _, root, runs, _ = scenario
    html = (root / "index.html").read_text()
    assert _cells(html)[("covariate_shift", "2026-10-26")] == "warn"  # the complete run's word, not the partial's
    row = re.search(r'<tr data-series="m/1">(.*?)</tr>', html, re.DOTALL).group(1)
    latest = re.search(r'class="mlmon-latest"><span class="mlmon-badge mlmon-s-(\w+)"', row).group(1)
    assert latest == "warn"
    full = runs[4].relative_to(root).as_posix()
    assert f'href="{full}/index.html"' in row and runs["4b"].name not in row
    # the partial run is still listed among the runs, newest first
    runs_table = _section(html, 'id="mlmon-runs-title"')
    assert runs_table.index(runs["4b"].name) < runs_table.index(runs[4].name)


def test_a_window_with_only_a_partial_run_shows_it(tmp_path):
    root = tmp_path / "reports"
    write_run(root, 1, [feature("price", "ok"), ops()])
    write_run(root, 2, [feature("price", "ok"), ops("alert")], notebooks=("operations",))
    archive.update(root, Policy())
    html = (root / "index.html").read_text()
    assert _cells(html) == {("operational_regression", "2026-10-05"): "ok",
                            ("operational_regression", "2026-10-12"): "alert"}
    assert "(partial run)" in html


def test_incident_page_content_and_escaping(scenario):
    _, root, runs, history = scenario
    [inc] = history.incidents
    page = root / "incidents" / incident_file(inc.id)
    html = page.read_text()
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    head = html[:html.index('id="mlmon-timeline"')]
    for expected in ("Covariate shift", "price", "ongoing", "mlmon-s-alert", "2026-10-14"):
        assert expected in head, expected
    assert 'class="mlmon-verdict"' in head
    timeline = _section(html, 'id="mlmon-timeline"')
    for week in (2, 3, 4):
        assert f'href="../{runs[week].relative_to(root).as_posix()}/index.html"' in timeline
    assert runs["4b"].name not in timeline
    evidence = _section(html, 'id="mlmon-evidence"')
    assert "wasserstein" in evidence and "0.3" in evidence and "0.08" in evidence
    assert f"mlmon ack -p mlmon.yaml {inc.id}" in html and f"mlmon resolve -p mlmon.yaml {inc.id}" in html
    assert "Nobody has acted on this incident yet." in html


def test_incident_page_shows_actions_and_is_rewritten_only_when_it_changes(scenario):
    from mlmon_nb.incidents import record_action

    _, root, _, history = scenario
    [inc] = history.incidents
    page = root / "incidents" / incident_file(inc.id)
    before = page.stat().st_mtime_ns
    archive.update(root, Policy())
    assert page.stat().st_mtime_ns == before  # nothing changed: not rewritten
    record_action(root, "ack", incident=inc, until="2099-01-01T00:00:00+00:00", note=f"JIRA-42 {EVIL}")
    _, history = archive.update(root, Policy())
    html = page.read_text()
    actions = _section(html, 'id="mlmon-actions"')
    assert "acknowledged" in actions and "JIRA-42" in actions and "2099-01-01" in actions and EVIL not in html
    index = (root / "index.html").read_text()
    assert "JIRA-42" in _section(index, 'id="mlmon-incidents-title"')


def test_incident_page_tolerates_a_damaged_run(scenario):
    _, root, runs, history = scenario
    (runs[3] / "summary.json").write_text("{broken")
    _, history = archive.update(root, Policy())  # the run is now damaged: the incident's history changes
    [inc] = history.incidents
    assert (root / "incidents" / incident_file(inc.id)).is_file()


def test_incident_file_names_are_safe():
    assert incident_file("m.1.covariate_shift.20261007") == "m.1.covariate_shift.20261007.html"
    assert "/" not in incident_file("../../etc/passwd") and not incident_file("../x").startswith(".")
    assert incident_file("") == "incident.html"


def test_bundle_of_an_incident(scenario, capsys, tmp_path, monkeypatch):
    project, root, runs, history = scenario
    [inc] = history.incidents
    out = tmp_path / "out" / "postmortem.html"
    code, stdout, err = invoke(["bundle", "--incident", inc.id, "-p", str(project), "-o", str(out)], capsys)
    assert code == 0, err
    assert stdout.strip() == str(out)
    html = out.read_text()
    assert EVIL not in html and "<script" not in html
    assert html.index('id="mlmon-timeline"') < html.index('id="run-1"')
    for n in (1, 2, 3):
        assert f'id="run-{n}"' in html and f'href="#run-{n}"' in html
    assert 'href="../' not in html  # links to runs point at their sections
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert 'id="run-1--nb-data_drift"' in html and 'href="#run-1--nb-data_drift"' in html
    # the run-folder form still works
    monkeypatch.chdir(tmp_path)
    code, stdout, err = invoke(["bundle", str(runs[2])], capsys)
    assert code == 0, err and Path(stdout.strip()).is_file()


def test_bundle_of_an_unknown_incident_exits_2_and_writes_nothing(scenario, capsys, tmp_path):
    project, _, _, _ = scenario
    out = tmp_path / "out" / "x.html"
    code, stdout, err = invoke(["bundle", "--incident", "m.1.covariate_shift.19990101", "-p", str(project),
                                "-o", str(out)], capsys)
    assert code == 2 and stdout == ""
    assert err.startswith("mlmon: error: no incident 'm.1.covariate_shift.19990101'") and err.count("\n") == 1
    assert not out.exists() and not out.parent.exists()
    code, _, err = invoke(["bundle", "--incident", "m.1.x"], capsys)
    assert code == 2 and "-p mlmon.yaml is required" in err
    code, _, err = invoke(["bundle"], capsys)
    assert code == 2 and "RUN_FOLDER" in err


def test_run_index_shows_causes_incidents_and_skipped_notebooks():
    checks = [feature("price", "alert", "2026-10-07T00:00:00+00:00"),
              {"notebook": "concept_drift", "kind": "performance", "subject": "pr_auc", "status": "alert"}]
    causes = diagnosis.diagnose(checks)
    summary = {
        "schema": SCHEMA, "model": "m", "version": "1", "status": "alert",
        "window": {"start": "2026-10-12T00:00:00+00:00", "end": "2026-10-19T00:00:00+00:00"},
        "run_id": "20261019T060000Z", "generated_at": "2026-10-19T06:00:00+00:00",
        "notebooks": {"data_drift": {"status": "alert", "report": "data_drift.html"},
                      "concept_drift": {"status": "ok", "report": "concept_drift.html"},
                      "feedback_loops": {"status": "skipped", "report": "feedback_loops.html",
                                         "reason": "No 'feedback' block: set feedback.user and feedback.item."}},
        "causes": [c.to_dict() for c in causes], "checks": checks,
        "incidents": [{"id": "m.1.covariate_shift.20261007", "cause": "covariate_shift", "subjects": [EVIL],
                       "status": "new", "severity": "alert", "first_seen": "2026-10-07T00:00:00+00:00",
                       "last_seen": "2026-10-19T00:00:00+00:00", "notification": "new",
                       "summary": "Covariate shift in price, new since 2026-10-07 00:00"}],
    }
    html = render_run_index(summary)
    banner, problems = html.index('class="mlmon-verdict"'), html.index('id="mlmon-causes"')
    assert banner < problems < html.index('id="mlmon-notebooks"')
    part = html[problems:html.index('id="mlmon-notebooks"')]
    assert "Covariate shift (alert) in price" in part and "Explained checks: performance (pr_auc)" in part
    assert 'href="../../../../incidents/m.1.covariate_shift.20261007.html"' in part
    assert 'mlmon-notif-new' in part and EVIL not in html
    nb_row = re.search(r"<tr><td>(<span class=\"mlmon-badge[^<]*</span>)</td><td><a href=\"feedback_loops.html\">",
                       html).group(1)
    assert "mlmon-s-skipped" in nb_row and ">skipped<" in nb_row
    assert "Skipped: No &#39;feedback&#39; block" in html
    # the badge agrees with the verdict sentence
    verdict = re.search(r'<p class="mlmon-verdict">(.*?)</p>', html).group(1)
    assert verdict.startswith("ALERT") and 'class="mlmon-banner mlmon-s-alert"' in html
