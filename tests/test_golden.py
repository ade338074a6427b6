"""The demo end to end (scale 0.25, 10 weeks, every notebook): decisions against the committed
golden file, and incidents against the demo's planted ground truth (issues 12 and 14).

The archive is the session's ten demo weeks (``conftest.demo_archive``), shared with the other
tests that read a demo week.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from collect import collect  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "demo_decisions.json"


@pytest.fixture
def weekly(demo_archive):
    """(project file, [exit code per week]) of the ten demo weeks run in order."""
    return demo_archive.project, [code for _, code in demo_archive.runs]


def test_decisions_match_the_golden_file(weekly):
    """Every run's checks (notebook, kind, subject, method, status), notebook statuses and verdicts.

    Regenerate after an intended change (and say why in the commit)::

        .venv/bin/python tests/golden/collect.py --build /tmp/g > tests/golden/demo_decisions.json
    """
    project, _ = weekly
    got = collect(project.parent / "reports")
    want = json.loads(GOLDEN.read_text())
    assert sorted(got) == sorted(want)
    for window in want:
        assert got[window]["checks"] == want[window]["checks"], window
        assert got[window]["notebooks"] == want[window]["notebooks"], window
        assert got[window]["status"] == want[window]["status"], window
        assert got[window]["verdict"] == want[window]["verdict"], window


def _history(project):
    from mlmon_nb.catalog import scan
    from mlmon_nb.incidents import derive, read_actions

    archive = project.parent / "reports"
    return derive(scan(archive).runs, read_actions(archive))


def test_one_incident_per_planted_event_and_no_other(weekly, demo):
    project, exit_codes = weekly
    history = _history(project)
    by_cause = {}
    for inc in history.incidents:
        by_cause.setdefault(inc.cause, []).append(inc)
    assert sorted(by_cause) == ["concept_drift", "covariate_shift", "feedback_loop", "operational_regression"]
    assert all(len(v) == 1 for v in by_cause.values()), {k: [i.id for i in v] for k, v in by_cause.items()}

    [latency] = by_cause["operational_regression"]
    assert latency.opened_in.startswith("ctr-ranker/2/2026-09-28_2026-10-05/")
    assert latency.status == "recovered" and latency.closed == "2026-10-05T00:00:00+00:00"
    assert set(latency.subjects) >= {"latency_p95"}

    [shift] = by_cause["covariate_shift"]
    assert shift.first_seen == "2026-10-05T00:00:00+00:00"
    assert shift.status == "ongoing" and len(shift.runs) == 6  # weeks 5-10, never reopened
    assert set(shift.subjects) >= {"price", "device"}

    [flip] = by_cause["concept_drift"]
    import datetime as dt
    planted = dt.datetime(2026, 10, 28, 12, tzinfo=dt.timezone.utc)
    assert abs(dt.datetime.fromisoformat(flip.first_seen) - planted) <= dt.timedelta(days=1), flip.first_seen
    assert flip.is_open

    [loop] = by_cause["feedback_loop"]
    kinds = [p.kind for p in history.pages if p.incident.id == loop.id]
    assert kinds[0] == "new" and "worsening" in kinds and loop.is_open

    pages = [p for p in history.pages if p.pages]
    assert len(pages) <= 10, [(p.kind, p.incident.id) for p in pages]
    alert_lines = (project.parent / "reports" / "alerts.jsonl").read_text().splitlines()
    assert len(alert_lines) == len(history.pages)  # one line per notification, not per check
    # exit 1 only for a week with news
    news_weeks = {p.run["window"]["start"] for p in pages}
    for (start, _), exit_code in zip(demo.windows, exit_codes):
        assert exit_code == (1 if start.isoformat() in news_weeks else 0), start


def test_a_covariate_shift_week_is_not_a_concept_alert(demo_archive):
    """Week of 2026-10-12: the shift explains the performance drop; concept_drift says so and is not alert."""
    summary, _ = demo_archive.week(6)
    assert summary["window"]["start"].startswith("2026-10-12")
    concept = summary["notebooks"]["concept_drift"]
    assert concept["status"] != "alert"
    assert "covariate shift" in concept["verdict"].lower() and "price" in concept["verdict"]
    assert [c["cause"] for c in summary["causes"] if c["status"] == "alert"] == ["covariate_shift",
                                                                                 "feedback_loop"]


def test_a_notebook_rerun_leaves_the_window_as_the_full_run_made_it(weekly, demo, tmp_path):
    import shutil

    from mlmon_nb.catalog import scan
    from mlmon_nb.runner import execute_plan, prepare_window_run

    shared, _ = weekly
    project = Path(shutil.copytree(shared.parent, tmp_path / "copy")) / shared.name  # a copy: the archive is shared
    archive = project.parent / "reports"
    before = _history(project)
    start, end = demo.windows[6]
    execute_plan(prepare_window_run(project, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                                    ["operations"], {}), fail_on="never")
    after = _history(project)
    assert [(i.id, i.status) for i in after.incidents] == [(i.id, i.status) for i in before.incidents]
    from mlmon_nb.plots.trends import trend_points

    runs = [r for r in scan(archive).runs]
    points = trend_points(runs)
    full = [r for r in runs if r["window"]["start"] == start.isoformat() and r["complete"]][0]
    day = dict(points["alerting features"])[start]
    assert day == full["figures"]["alerting features"]
