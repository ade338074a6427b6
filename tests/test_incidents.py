"""Tests of mlmon_nb.diagnosis and mlmon_nb.incidents: one cause per problem, memory across windows,
pages only on news, acknowledgements (issue 14). Synthetic runs: no notebook runs here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mlmon_nb import diagnosis, incidents
from mlmon_nb.incidents import Policy, derive

from conftest import copy_demo

ALL = {"data_drift": "alert", "concept_drift": "ok", "explainability": "ok", "feedback_loops": "ok",
       "operations": "ok"}


def week(n: int) -> tuple[str, str]:
    start = dt.datetime(2026, 9, 7, tzinfo=dt.timezone.utc) + dt.timedelta(weeks=n - 1)
    return start.isoformat(), (start + dt.timedelta(weeks=1)).isoformat()


def run(n: int, causes=(), notebooks=None, made: int = 0, run_id: str | None = None) -> dict:
    start, end = week(n)
    made_at = (dt.datetime.fromisoformat(end) + dt.timedelta(hours=6 + made)).isoformat()
    rid = run_id or f"R{n:02d}{made}"
    return {"model": "m", "version": "1", "window": {"start": start, "end": end}, "run_id": rid,
            "generated_at": made_at, "href": f"m/1/w{n}/{rid}/index.html", "folder": f"m/1/w{n}/{rid}",
            "notebooks": dict(notebooks or ALL),
            "causes": [{"cause": c, "status": s, "subjects": list(subj), "since": since, "evidence": 1}
                       for c, s, subj, since in causes]}


def cov(status="alert", subjects=("price",), since=None):
    return ("covariate_shift", status, subjects, since)


def test_diagnosis_inhibits_consequences_of_a_covariate_shift():
    checks = [
        {"notebook": "data_drift", "kind": "feature_drift", "subject": "price", "status": "alert",
         "since": "2026-10-05T00:00:00+00:00"},
        {"notebook": "data_drift", "kind": "multivariate_drift", "subject": "domain_classifier", "status": "alert"},
        {"notebook": "data_drift", "kind": "prediction_drift", "subject": "score", "status": "warn"},
        {"notebook": "data_drift", "kind": "label_drift", "subject": "clicked", "status": "alert"},
        {"notebook": "concept_drift", "kind": "performance", "subject": "pr_auc", "status": "alert"},
        {"notebook": "explainability", "kind": "attribution_drift", "subject": "price", "status": "alert",
         "method": "attribution_distance"},
        {"notebook": "operations", "kind": "operational", "subject": "latency_p99_daily", "status": "alert"},
    ]
    causes = diagnosis.diagnose(checks)
    assert [(c.cause, c.status) for c in causes] == [("covariate_shift", "alert"), ("operational_regression", "warn")]
    shift = causes[0]
    assert shift.subjects == ("price",) and shift.since == "2026-10-05T00:00:00+00:00"
    assert {e["kind"] for e in shift.explains} == {"prediction_drift", "label_drift", "performance",
                                                    "attribution_drift"}
    assert "explains" in shift.sentence()


def test_performance_below_what_the_inputs_predict_is_concept_drift():
    checks = [
        {"notebook": "data_drift", "kind": "feature_drift", "subject": "price", "status": "alert"},
        {"notebook": "concept_drift", "kind": "concept_drift", "subject": "roc_auc", "status": "alert"},
        {"notebook": "concept_drift", "kind": "performance", "subject": "roc_auc", "status": "alert"},
        {"notebook": "concept_drift", "kind": "change_point", "subject": "roc_auc", "status": "alert",
         "at": "2026-10-28T12:03:00+00:00"},
    ]
    causes = {c.cause: c for c in diagnosis.diagnose(checks)}
    assert set(causes) == {"covariate_shift", "concept_drift"}
    assert causes["concept_drift"].since == "2026-10-28T12:03:00+00:00"
    assert [e["kind"] for e in causes["concept_drift"].explains] == ["change_point"]


def test_a_check_marked_explained_does_not_count_for_its_notebook():
    checks = [{"notebook": "concept_drift", "kind": "performance", "subject": "pr_auc", "status": "alert",
               "explained_by": "covariate_shift"},
              {"notebook": "concept_drift", "kind": "performance", "subject": "f1", "status": "warn"}]
    assert diagnosis.notebook_status(checks) == "warn"


def test_an_ongoing_problem_opens_one_incident_and_pages_once():
    runs = [run(1), run(2, [cov(since=week(2)[0])]), run(3, [cov()]), run(4, [cov()]), run(5)]
    h = derive(runs)
    [inc] = h.incidents
    assert inc.first_seen == week(2)[0] and inc.status == "recovered" and inc.closed == week(5)[0]
    assert [p.kind for p in h.pages] == ["new"]
    assert [t["status"] for t in inc.trajectory] == ["alert", "alert", "alert", "ok"]


def test_first_seen_comes_from_earlier_windows_that_showed_it_at_warn():
    runs = [run(1), run(2, [cov("warn", since=week(2)[0] + "x")]), run(3, [cov("warn")]),
            run(4, [cov(since=week(4)[0])])]
    [inc] = derive(runs).incidents
    assert inc.first_seen == week(2)[0] + "x"


def test_warn_alone_opens_nothing_and_worsening_pages():
    runs = [run(1, [cov("warn")]), run(2, [cov()]), run(3, [cov(subjects=("price", "device"))]),
            run(4, [cov(subjects=("price", "device"))]), run(5, [cov("warn")])]
    h = derive(runs)
    assert [p.kind for p in h.pages] == ["new", "worsening"]
    assert h.incidents[0].status == "ongoing"


def test_a_partial_rerun_never_hides_a_full_run():
    full = run(3, [cov()], made=0)
    partial = run(3, [], notebooks={"operations": "ok"}, made=5, run_id="R03p")
    h = derive([run(1), run(2, [cov()]), full, partial])
    [inc] = h.incidents
    assert inc.status == "ongoing"  # the operations-only re-run says nothing about covariate shift


def test_acknowledged_incidents_do_not_page_until_the_acknowledgement_expires():
    runs = [run(1), run(2, [cov()])]
    ack_at = runs[1]["generated_at"]
    until = (dt.datetime.fromisoformat(ack_at) + dt.timedelta(days=8)).isoformat()
    [inc] = derive(runs).incidents
    actions = [{"action": "ack", "incident": inc.id, "until": until, "at": ack_at + "z", "by": "alice"}]
    runs += [run(3, [cov(subjects=("price", "device"))]), run(4, [cov(subjects=("price", "device"))])]
    h = derive(runs, actions)
    assert [p.kind for p in h.pages] == ["new", "reminder"]
    assert h.pages[1].run["run_id"] == "R040"  # the first run after the acknowledgement ran out
    mid = derive(runs[:3], actions)
    assert mid.incidents[0].status == "acknowledged" and "alice" in mid.incidents[0].sentence()


def test_resolve_and_accept_close_incidents():
    runs = [run(1), run(2, [cov()])]
    [inc] = derive(runs).incidents
    resolved = derive([*runs, run(3, [cov()])],
                      [{"action": "resolve", "incident": inc.id, "at": runs[1]["generated_at"] + "z", "by": "bob"}])
    assert [i.status for i in resolved.incidents] == ["resolved", "new"]  # seen again: a new incident
    accepted = derive(runs, [{"action": "accept", "model": "m", "version": "1", "at": "2099-01-01T00:00:00+00:00",
                              "by": "carol"}], now="2099-01-02T00:00:00+00:00")
    assert accepted.incidents[0].status == "accepted"


def test_reminders_follow_the_repeat_policy_and_recoveries_are_optional():
    runs = [run(1, [cov()]), run(2, [cov()]), run(3, [cov()]), run(4)]
    kinds = [p.kind for p in derive(runs, policy=Policy(repeat="weekly", recovery=True)).pages]
    assert kinds == ["new", "reminder", "reminder", "recovery"]
    assert [p.kind for p in derive(runs).pages] == ["new"]


def test_causes_of_two_versions_are_separate_incidents():
    a = run(2, [cov()])
    b = {**run(2, [cov()], run_id="B"), "version": "2"}
    h = derive([a, b])
    assert sorted(i.id for i in h.incidents) == ["m.1.covariate_shift.20260914", "m.2.covariate_shift.20260914"]


@pytest.mark.parametrize("bad", ["../x", "a b", "", "x" * 300])
def test_incident_ids_from_the_command_line_are_checked(bad):
    with pytest.raises(incidents.UsageError):
        incidents.check_id(bad)


def test_the_onset_of_a_shift_present_at_the_window_start_comes_from_the_logs(demo, tmp_path):
    """No earlier run in the archive: the daily look-back dates the demo's covariate shift (planted
    on 2026-10-05) from a run of the week of 2026-10-12 alone."""
    import shutil

    from conftest import copy_demo
    from mlmon_nb.runner import execute_plan, prepare_window_run

    project = copy_demo(demo, tmp_path)
    plan = prepare_window_run(project, demo.model, demo.version, "2026-10-12/2026-10-19", ["data_drift"], {})
    out = execute_plan(plan, fail_on="alert")
    [shift] = [c for c in out.summary["causes"] if c["cause"] == "covariate_shift"]
    assert shift["since"] == "2026-10-05T00:00:00+00:00" and "look-back" in shift["since_from"]
    [page] = out.pages
    assert page.kind == "new" and page.incident.first_seen == shift["since"]
    assert out.exit_code == 1
    shutil.rmtree(tmp_path / "copy", ignore_errors=True)


# --------------------------------------------------------------------------- end to end (notebooks run)

def _hook_server():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, received


def test_an_acknowledged_incident_stops_paging_until_the_acknowledgement_ends(demo, tmp_path, capsys):
    import time

    import yaml

    from test_cli import invoke

    project = copy_demo(demo, tmp_path)
    httpd, received = _hook_server()
    cfg = yaml.safe_load(project.read_text())
    cfg["alerts"] = {"repeat": "every_run", "webhooks": [{"url": f"http://127.0.0.1:{httpd.server_port}/h",
                                                         "retries": 0, "timeout_seconds": 5}]}
    project.write_text(yaml.safe_dump(cfg))
    window = "2026-10-12/2026-10-19"
    args = ["run", "-p", str(project), "-m", demo.model, "-v", demo.version, "-w", window, "-n", "data_drift"]
    try:
        started = time.monotonic()
        code, _, err = invoke(args, capsys)
        assert code == 1 and len(received) == 1 and "new: Covariate shift" in err
        code, _, _ = invoke(args, capsys)
        assert code == 1 and len(received) == 2  # repeat: every_run reminds while nobody acknowledged it
        code, out, _ = invoke(["incidents", "-p", str(project), "--json"], capsys)
        [inc] = [i for i in __import__("json").loads(out) if i["cause"] == "covariate_shift"]
        # Long enough for the next run to end inside it on this machine (1.5 times one of the two runs
        # above), and no longer: the test then waits for it to run out.
        lasts = max(4.0, 0.75 * (time.monotonic() - started))
        until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=lasts + 1)).replace(microsecond=0)
        code, out, _ = invoke(["ack", "-p", str(project), inc["id"], "--until", until.isoformat(),
                               "--note", "JIRA-42"], capsys)
        assert code == 0 and "acknowledged until" in out
        code, out, _ = invoke(args, capsys)
        assert code == 0 and len(received) == 2  # no page, no webhook
        run_dir = Path(out.strip().splitlines()[-1])
        page = (run_dir / "index.html").read_text()
        assert "acknowledged" in page and inc["id"] in page
        summary = __import__("json").loads((run_dir / "summary.json").read_text())
        assert [i["status"] for i in summary["incidents"] if i["id"] == inc["id"]] == ["acknowledged"]
        time.sleep(max(0.0, (until - dt.datetime.now(dt.timezone.utc)).total_seconds() + 1))
        code, _, err = invoke(args, capsys)
        assert code == 1 and len(received) == 3 and "reminder" in err  # the acknowledgement ran out
    finally:
        httpd.shutdown()


def test_two_runs_at_once_on_one_archive_record_both(demo, tmp_path):
    import json
    import subprocess
    import sys

    project = copy_demo(demo, tmp_path)
    mlmon = str(Path(sys.executable).parent / "mlmon")
    procs = [subprocess.Popen([mlmon, "run", "-p", str(project), "-m", demo.model, "-v", demo.version, "-w", w,
                               "-n", "operations"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in ("2026-09-28/2026-10-05", "2026-09-21/2026-09-28")]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [1, 0], results
    archive = project.parent / "reports"
    lines = (archive / "alerts.jsonl").read_text().splitlines()
    records = [json.loads(x) for x in lines]  # every line valid
    assert [(r["notification"], r["cause"]) for r in records] == [("new", "operational_regression")]
    from mlmon_nb.catalog import scan

    assert len(scan(archive).runs) == 2 and not scan(archive).damaged


@pytest.mark.parametrize("args, message", [
    (["ack", "nope.x"], "no incident 'nope.x'"),
    (["ack", "../etc"], "expected an id"),
    (["resolve", "m.1.covariate_shift.20261005"], "no incident"),
])
def test_unknown_incidents_and_missing_archives_are_one_line_exit_2(tmp_path, capsys, args, message):
    from conftest import write_project
    from test_cli import invoke

    project = write_project(tmp_path)
    code, _, err = invoke([args[0], "-p", str(project), *args[1:]], capsys)
    assert code == 2 and "does not exist yet" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists()  # nothing written
    (tmp_path / "reports").mkdir()
    code, _, err = invoke([args[0], "-p", str(project), *args[1:]], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "reports" / "incidents.jsonl").exists()


def test_what_counts_as_worsening_is_configurable():
    runs = [run(1, [cov("warn")]), run(2, [cov()]), run(3, [cov(subjects=("price", "device"))])]
    assert [p.kind for p in derive(runs).pages] == ["new", "worsening"]
    assert [p.kind for p in derive(runs, policy=Policy(worsening=("status",))).pages] == ["new"]


def test_a_backfilled_earlier_window_keeps_the_incident_name_and_pages_nothing_new(tmp_path):
    """Week 3 ran first and paged; week 2 is run afterwards: same incident id, first seen moves back,
    no second 'new' line in the alert log."""
    from mlmon_nb import alerts

    later = run(3, [cov(since=week(3)[0])], made=0)
    h1 = derive([run(1), later])
    alerts.reconcile(tmp_path, h1.pages)
    [inc1] = h1.incidents
    backfill = run(2, [cov(since=week(2)[0])], made=200)  # made after week 3's run
    h2 = derive([run(1), later, backfill])
    [inc2] = h2.incidents
    assert inc2.id == inc1.id and inc2.first_seen == week(2)[0]
    assert alerts.unannounced(tmp_path, h2.for_run(backfill["href"])) == []
    alerts.reconcile(tmp_path, h2.pages)
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 1
