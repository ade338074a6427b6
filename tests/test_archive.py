"""Tests of the archive's bookkeeping: a catalogue that skips damaged runs, an alert log that
heals, run ids unique under concurrency, no stray temporary files (issue 13, findings 2, 4, 8)."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from mlmon_nb import archive, catalog, files
from mlmon_nb.diagnosis import diagnose
from mlmon_nb.errors import ArchiveError

FP = "sha256:" + "0" * 64


def summary(run_id="20261116T060000Z", start="2026-11-09", end="2026-11-16", status="alert", checks=None):
    checks = checks if checks is not None else [
        {"notebook": "data_drift", "kind": "feature_drift", "subject": "price", "status": "alert",
         "method": "ks", "value": 0.3, "threshold": 0.1},
        {"notebook": "data_drift", "kind": "feature_drift", "subject": "device", "status": "ok", "method": "chi2"},
        {"notebook": "operations", "kind": "operational", "subject": "latency_p95", "status": "warn", "value": 180.0},
    ]
    causes = [c.to_dict() for c in diagnose(checks)]
    return {
        "schema": "mlmon.summary/2", "model": "m", "version": "1", "causes": causes, "incidents": [],
        "window": {"start": f"{start}T00:00:00+00:00", "end": f"{end}T00:00:00+00:00"},
        "run_id": run_id, "generated_at": f"{end}T06:00:00+00:00", "mlmon_nb_version": "0.1.0",
        "status": status, "verdict": "words",
        "data": {"reference_rows": 10, "current_rows": 10, "labelled_rows": 0, "fingerprint": FP},
        "notebooks": {"data_drift": {"status": "alert", "report": "data_drift.html"},
                      "operations": {"status": "warn", "report": "operations.html"}},
        "checks": checks,
    }


def put(root: Path, s: dict | str, folder: str | None = None) -> Path:
    if folder is None:
        folder = f"m/1/{s['window']['start'][:10]}_{s['window']['end'][:10]}/{s['run_id']}"
    run = root / folder
    run.mkdir(parents=True)
    (run / "summary.json").write_text(s if isinstance(s, str) else json.dumps(s))
    (run / "index.html").write_text("<html></html>")
    return run


def test_damaged_run_folders_are_listed_and_skipped_never_fatal(tmp_path):
    good = put(tmp_path, summary())
    put(tmp_path, summary(run_id="20261117T000000Z", start="0001-01-01", end="2026-11-16"))
    bad_window = summary(run_id="20261118T000000Z")
    bad_window["window"] = "last week"
    put(tmp_path, bad_window, "m/1/2026-11-09_2026-11-16/20261118T000000Z")
    no_model = summary(run_id="20261119T000000Z")
    del no_model["model"]
    put(tmp_path, no_model)
    null_checks = summary(run_id="20261120T000000Z")
    null_checks["checks"] = None
    put(tmp_path, null_checks)
    put(tmp_path, "{not json", "m/1/2026-11-09_2026-11-16/20261121T000000Z")
    (tmp_path / "m/1/2026-11-09_2026-11-16/20261122T000000Z").mkdir()

    page = archive.write_index(tmp_path)  # used to crash with OverflowError on the year-1 window

    cat = catalog.scan(tmp_path)
    assert [r["folder"] for r in cat.runs] == [good.relative_to(tmp_path).as_posix()]
    reasons = {d.folder.rsplit("/", 1)[1]: d.reason for d in cat.damaged}
    assert "outside 1970" in reasons["20261117T000000Z"]
    assert reasons["20261118T000000Z"].startswith("window:")
    assert "must contain ['model'] properties" in reasons["20261119T000000Z"]
    assert reasons["20261120T000000Z"].startswith("checks:")
    assert "not valid JSON" in reasons["20261121T000000Z"]
    assert "no summary.json" in reasons["20261122T000000Z"]
    html = page.read_text()
    assert "Damaged run folders (6)" in html and "20261121T000000Z" in html


def test_a_run_killed_after_its_commit_loses_no_notification(tmp_path):
    """The folder is committed but the process died before the alert log: the next
    `mlmon index` (or run) re-derives the notification lines, once."""
    put(tmp_path, summary(run_id="20261109T060000Z", start="2026-11-02", end="2026-11-09", status="ok", checks=[]))
    put(tmp_path, summary())
    archive.write_index(tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [(x["notification"], x["cause"]) for x in lines] == [("new", "covariate_shift")]
    assert lines[0]["incident"] == "m.1.covariate_shift.20261109" and lines[0]["run_id"] == "20261116T060000Z"
    before = (tmp_path / "alerts.jsonl").read_bytes()
    archive.write_index(tmp_path)
    assert (tmp_path / "alerts.jsonl").read_bytes() == before


def test_a_torn_alert_line_is_repaired_and_its_record_re_derived(tmp_path):
    put(tmp_path, summary())
    archive.write_index(tmp_path)
    log = tmp_path / "alerts.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole[: len(whole) - 20])  # a writer killed mid-line
    archive.write_index(tmp_path)
    assert log.read_bytes() == whole


def test_the_catalogue_reads_each_run_folder_once(tmp_path, monkeypatch):
    for day in range(1, 8):
        put(tmp_path, summary(run_id=f"2026110{day}T000000Z", start=f"2026-10-0{day}", end=f"2026-10-1{day}"))
    catalog.scan(tmp_path)
    reads = []
    real = catalog._read_one
    monkeypatch.setattr(catalog, "_read_one", lambda p, rel: reads.append(rel) or real(p, rel))
    assert len(catalog.scan(tmp_path).runs) == 7
    assert reads == []
    put(tmp_path, summary(run_id="20261201T000000Z", start="2026-11-20", end="2026-11-27"))
    assert len(catalog.scan(tmp_path).runs) == 8 and len(reads) == 1
    (tmp_path / catalog.CACHE).write_text("garbage")
    assert len(catalog.scan(tmp_path).runs) == 8


def _reserve(parent: str, out) -> None:
    out.put(archive.reserve_run_id(Path(parent), "20261116T060000Z"))


def test_run_ids_are_unique_across_concurrent_processes(tmp_path):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_reserve, args=(str(tmp_path), q)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    ids = sorted(q.get(timeout=5) for _ in procs)
    assert ids == sorted(["20261116T060000Z", *(f"20261116T060000Z-{n}" for n in range(1, 6))])


def test_commit_moves_a_reserved_id_and_refuses_an_unreserved_clash(tmp_path):
    parent = tmp_path / "m/1/w"
    rid = archive.reserve_run_id(parent, "20261116T060000Z")
    staging = archive.stage(tmp_path)
    (staging / "summary.json").write_text("{}")
    run = archive.commit(staging, parent, rid)
    assert run.name == rid and not (parent / f".{rid}.reserved").exists()
    assert archive.reserve_run_id(parent, "20261116T060000Z") == "20261116T060000Z-1"
    with pytest.raises(ArchiveError, match="must be reserved"):
        archive.commit(archive.stage(tmp_path), parent, rid)


def test_write_atomic_leaves_no_temporary_file_when_the_disk_is_full(tmp_path, monkeypatch):
    target = tmp_path / "index.html"

    def full(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError):
        files.write_atomic(target, "x")
    assert list(tmp_path.iterdir()) == []


def test_runs_without_problems_write_no_notification(tmp_path):
    put(tmp_path, summary(status="ok", checks=[]))
    archive.write_index(tmp_path)
    assert not (tmp_path / "alerts.jsonl").exists() or (tmp_path / "alerts.jsonl").read_text() == ""
