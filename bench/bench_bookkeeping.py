"""The archive's bookkeeping with many runs archived (issues 13 and 14).

Builds an archive of N run folders from the real summaries of a demo archive (10 weekly runs,
replicated over 5 models and consecutive windows, each with its causes), then times:

- ``mlmon index`` (whole command: Python start, scan, incidents, alert log, index page),
  cold (no catalogue cache, no chart cache) and warm;
- a run's bookkeeping after its notebooks (in process, as ``execute_plan`` does it): scan
  with the new run, derive the incidents and this run's pages, commit, re-derive the alert
  log and rebuild the index page, first with the chart of the run's model version redrawn
  (the common case) and without any chart work, to show where the time goes;
- the re-derivation after a kill: alert log removed, ``mlmon index`` writes every line again.

    .venv/bin/python bench/bench_bookkeeping.py --demo /tmp/golden-demo --runs 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import MLMON, machine, run_measured

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(demo: Path, runs: int, root: Path) -> list[dict]:
    from mlmon_nb.diagnosis import diagnose

    sources = sorted(demo.glob("reports/*/*/*_*/*/summary.json"))
    summaries = [json.loads(p.read_text()) for p in sources]
    models = ["ctr-ranker", "churn", "fraud", "search-rank", "eta"]
    start0 = dt.datetime(2020, 1, 6, tzinfo=dt.timezone.utc)
    out = []
    for i in range(runs):
        model = models[i % len(models)]
        k = i // len(models)
        base = summaries[k % len(summaries)]
        start = start0 + dt.timedelta(weeks=k)
        end = start + dt.timedelta(weeks=1)
        run_id = (end + dt.timedelta(hours=6, seconds=i)).strftime("%Y%m%dT%H%M%SZ")
        s = dict(base, schema="mlmon.summary/2", model=model, run_id=run_id,
                 window={"start": start.isoformat(), "end": end.isoformat()},
                 generated_at=(end + dt.timedelta(hours=6)).isoformat())
        s["causes"] = [c.to_dict() for c in diagnose(s["checks"])]
        s["incidents"] = []
        folder = root / model / "2" / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}" / run_id
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(s))
        (folder / "index.html").write_text("<html></html>")
        out.append(s)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", type=Path, required=True, help="a demo folder whose archive holds weekly runs")
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args()
    from mlmon_nb import archive
    from mlmon_nb.catalog import entry_of, scan
    from mlmon_nb.incidents import Policy, derive, read_actions

    work = Path(tempfile.mkdtemp())
    root = work / "archive"
    summaries = build(args.demo, args.runs, root)
    (work / "mlmon.yaml").write_text(json.dumps({"archive": "archive", "models": {
        "ctr-ranker": json.loads(json.dumps(__import__("yaml").safe_load(
            (args.demo / "mlmon.yaml").read_text())["models"]["ctr-ranker"], default=str))}}))
    project = work / "mlmon.yaml"

    cold = run_measured([MLMON, "index", "-p", str(project)])
    assert cold["code"] == 0, cold["stderr"]
    warm = [run_measured([MLMON, "index", "-p", str(project)])["seconds"] for _ in range(3)]
    lines = len((root / "alerts.jsonl").read_text().splitlines())

    def one_run(i: int, charts: bool) -> float:
        s = dict(summaries[-1], run_id=f"2099010{i}T000000Z",
                 generated_at=f"2099-01-0{i}T00:00:00+00:00")
        folder = f"ctr-ranker/2/{s['window']['start'][:10]}_{s['window']['end'][:10]}/{s['run_id']}"
        t0 = time.perf_counter()
        with archive.locked(root):
            entry = entry_of(s, folder)
            history = derive([*scan(root).runs, entry], read_actions(root), Policy())
            history.for_run(entry["href"])
            (root / folder).mkdir(parents=True)
            (root / folder / "summary.json").write_text(json.dumps(s))
            if charts:
                archive.update(root, Policy())
            else:
                real = archive.trend_charts
                archive.trend_charts = lambda runs, cache=None: []
                try:
                    archive.update(root, Policy())
                finally:
                    archive.trend_charts = real
        return time.perf_counter() - t0

    import matplotlib  # noqa: F401  the CLI process pre-imports it while notebooks run
    with_chart = [one_run(i, True) for i in range(1, 4)]
    without_chart = [one_run(i, False) for i in range(4, 7)]

    (root / "alerts.jsonl").unlink()
    healed = run_measured([MLMON, "index", "-p", str(project)])
    healed_lines = len((root / "alerts.jsonl").read_text().splitlines())

    print(f"archive: {args.runs} run folders, 5 models, {lines} notification lines")
    print(f"mlmon index (whole command): cold {cold['seconds']:.2f} s, warm median "
          f"{statistics.median(warm):.2f} s (best {min(warm):.2f})")
    print(f"a run's bookkeeping (scan, incidents, commit, alert log, index page): median "
          f"{statistics.median(with_chart):.3f} s with its model's trend chart redrawn, "
          f"{statistics.median(without_chart):.3f} s without chart work")
    print(f"re-derivation after losing alerts.jsonl: mlmon index {healed['seconds']:.2f} s, "
          f"{healed_lines} lines written back (was {lines} + the new runs')")
    print(f"machine: {machine()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
