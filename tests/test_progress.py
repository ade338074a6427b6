"""Progress of long scans (issue 17, item 4): the kernel writes it, the command prints it."""

from __future__ import annotations

import threading
import time
import types

from mlmon_nb import progress


def test_a_scan_reports_rows_from_the_engines_share_and_ends_at_the_total(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.02)
    reporter = progress.Reporter(tmp_path, "data_drift")
    shares = iter([None, 0.1, 0.25, 0.25, 2.0, 0.9])  # unknown, moving, repeated, nonsense, moving
    seen = []

    def fraction():
        share = next(shares, 0.9)
        state = progress.read(progress.path_of(tmp_path, "data_drift"))
        if state:
            seen.append(state["done"])
        return share

    with reporter.scan("summary of the window", 1_000_000, fraction):
        time.sleep(0.3)
    final = progress.read(progress.path_of(tmp_path, "data_drift"))
    assert final["done"] == final["total"] == 1_000_000 and final["label"] == "summary of the window"
    assert {100_000, 250_000} <= set(seen)
    assert all(done <= 1_000_000 for done in seen)  # a share above 1 is never written
    assert progress.line(final) == "summary of the window: 1,000,000 of 1,000,000 rows scanned (100%)"


def test_without_a_run_folder_progress_is_only_logged(caplog):
    reporter = progress.Reporter(None, "concept_drift")
    with caplog.at_level("INFO", logger="mlmon_nb.progress"):
        reporter.write("scores by bin", 5, 10)
    assert "scores by bin, 5 of 10 rows scanned" in caplog.text


def test_a_failing_engine_poll_never_fails_the_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.01)

    def broken():
        raise RuntimeError("connection closed")

    with progress.Reporter(tmp_path, "x").scan("pass", 10, broken):
        time.sleep(0.05)
    assert progress.read(progress.path_of(tmp_path, "x"))["done"] == 10


def test_the_runner_prints_the_kernels_progress_and_archives_none_of_it(tmp_path, monkeypatch):
    from mlmon_nb import runner

    monkeypatch.setattr(progress, "POLL_SECONDS", 0.02)
    lines: list[str] = []
    reporter = progress.Reporter(tmp_path, "data_drift")
    with runner._scan_progress(tmp_path, "data_drift", lines.append):
        for done in (0, 3, 6, 12, 40, 45, 100):  # what a kernel writes while the command waits
            reporter.write("summary of the window", done, 100)
            time.sleep(0.1)
    # the start, every 10% of the rows (small steps are not printed) and the end
    assert [line.split(":")[1].split(" of")[0].strip() for line in lines] == ["0", "12", "40", "100"], lines
    assert lines[-1] == "summary of the window: 100 of 100 rows scanned (100%)"
    assert not (tmp_path / progress.FOLDER).exists()
    assert not [t for t in threading.enumerate() if t.name == "mlmon-progress-watch"]


def test_a_named_duckdb_pass_reports_its_scanned_share_while_it_runs(tmp_path, monkeypatch):
    """DuckDB's own measure (query_progress) while an aggregation runs; unnamed queries stay silent."""
    from mlmon_nb.config import FeaturesConfig
    from mlmon_nb.engines.duck import DuckDBScan
    from mlmon_nb.sources import connect

    monkeypatch.setattr(progress, "POLL_SECONDS", 0.05)
    written: list[tuple[str, int, int]] = []
    monkeypatch.setattr(progress.Reporter, "write", lambda self, label, done, total: written.append((label, done, total)))
    source = types.SimpleNamespace(where="a test", path="range(60000000)")
    scan = DuckDBScan(connect(threads=1), "SELECT i FROM range(60000000) AS t(i)", source=source, timestamp=None,
                      features=FeaturesConfig())
    scan.progress = progress.Reporter(tmp_path, "data_drift")
    scan.aggregate("SELECT count(*) AS n FROM window_rows")  # short queries: no pass, no progress
    assert written == []
    got = scan.aggregate("SELECT sum(hash(i) % 7) AS s FROM window_rows", pass_name="summary of the window")
    assert got.column("s")[0].as_py() is not None
    assert written[-1] == ("summary of the window", 60_000_000, 60_000_000)
    during = [done for _, done, _ in written[:-1]]
    assert during and all(0 <= d <= 60_000_000 for d in during), written
    assert during == sorted(during)
