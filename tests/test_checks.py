"""Tests of mlmon_nb.checks: the recorder, the summary schema, exit codes."""

from __future__ import annotations

import json

import pytest

from mlmon_nb.checks import Recorder, read_notebook_result, recording, validate_summary, worst
from mlmon_nb.errors import ArchiveError, UsageError


def _summary(**over):
    base = {
        "schema": "mlmon.summary/1", "model": "ctr-ranker", "version": "3",
        "window": {"start": "2026-11-16T00:00:00+00:00", "end": "2026-11-23T00:00:00+00:00"},
        "run_id": "20261123T060102Z", "generated_at": "2026-11-23T06:01:40+00:00",
        "mlmon_nb_version": "0.1.0", "status": "alert",
        "data": {"reference_rows": 50000, "current_rows": 48123, "labelled_rows": 30211,
                 "fingerprint": "sha256:" + "0" * 64},
        "notebooks": {"data_drift": {"status": "alert", "report": "data_drift.html"}},
        "checks": [{"notebook": "data_drift", "kind": "feature_drift", "subject": "price",
                    "method": "wasserstein", "value": 0.21, "threshold": 0.08, "p_value": 1.2e-30,
                    "status": "alert"}],
    }
    base.update(over)
    return base


def test_interface_example_validates():
    validate_summary(_summary())


@pytest.mark.parametrize("change, message", [
    ({"schema": "mlmon.summary/0"}, "not supported"),
    ({"status": "fine"}, "status"),
    ({"checks": [{"notebook": "x", "kind": "change_point", "subject": "auc", "status": "alert"}]}, "'at'"),
    ({"data": {"reference_rows": 1}}, "current_rows"),
])
def test_bad_summaries_are_refused(change, message):
    with pytest.raises(ArchiveError, match=message):
        validate_summary(_summary(**change))


def test_recorder_writes_what_the_runner_reads(tmp_path):
    out = tmp_path / "r.json"
    rec = Recorder("data_drift", out)
    rec.check("feature_drift", "price", "alert", method="ks", value=0.3, threshold=0.1,
              p_value=float("nan"), reference_rows=10)
    rec.check("feature_drift", "device", "ok", method="chi2", value=0.01, threshold=0.1)
    rec.finding("price drifted", "alert")
    rec.verdict("One feature drifted.")
    rec.cannot("label drift: configure 'target'")
    got = read_notebook_result(out)
    assert got["status"] == "alert"
    assert got["verdict"] == "One feature drifted."
    first = got["checks"][0]
    assert first["reference_rows"] == 10 and "p_value" not in first  # NaN dropped, not invalid JSON
    json.dumps(got, allow_nan=False)
    assert rec.to_df()["subject"].tolist() == ["price", "device"]


def test_an_area_result_writes_its_checks_once_at_the_end(tmp_path):
    """record() of an area result (checks.recording) writes the runner's file once, after its last
    check, not after each (the file is rewritten whole: a 64-check data-drift record wrote it 64 times)."""
    out = tmp_path / "r.json"

    class Area:
        @recording
        def record(self, recorder):
            for i in range(5):
                recorder.check("feature_drift", f"f{i}", "warn" if i == 3 else "ok", value=i)
                assert len(read_notebook_result(out)["checks"]) == 0  # nothing written inside the block
            recorder.verdict("One feature drifted.")

    rec = Recorder("data_drift", out)
    Area().record(rec)
    got = read_notebook_result(out)
    assert [c["subject"] for c in got["checks"]] == [f"f{i}" for i in range(5)]
    assert got["status"] == "warn" and got["verdict"] == "One feature drifted."
    rec.check("feature_drift", "f5", "alert")  # outside a record: written at once again
    assert read_notebook_result(out)["status"] == "alert"


def test_check_kind_and_status_are_validated():
    rec = Recorder("x")
    with pytest.raises(UsageError, match="kind"):
        rec.check("vibes", "a", "ok")
    with pytest.raises(UsageError, match="status"):
        rec.check("feature_drift", "a", "red")


def test_worst():
    assert worst([]) == "ok"
    assert worst(["ok", "warn", "alert", "ok"]) == "alert"
