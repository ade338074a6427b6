"""`mlmon index` over many archived runs (issue 8): copies one real run folder N times under
new windows and run ids (summary.json rewritten accordingly), then times the index rebuild.

    .venv/bin/python bench/bench_index.py --project mlmon-demo/mlmon.yaml --runs 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from common import MLMON, machine, run_measured


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True, help="a project whose archive holds at least one run")
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args()
    project = Path(args.project).resolve()
    cfg = yaml.safe_load(project.read_text())
    archive = (project.parent / cfg["archive"]).resolve()
    source = next(archive.glob("*/*/*_*/*/summary.json")).parent
    summary = json.loads((source / "summary.json").read_text())
    work = Path(tempfile.mkdtemp())
    new_archive = work / "archive"
    start0 = dt.datetime(2020, 1, 6, tzinfo=dt.timezone.utc)
    models = ["ctr-ranker", "churn", "fraud", "search-rank", "eta"]
    for i in range(args.runs):
        model = models[i % len(models)]
        start = start0 + dt.timedelta(weeks=i // len(models))
        end = start + dt.timedelta(weeks=1)
        run_id = (end + dt.timedelta(hours=6, seconds=i)).strftime("%Y%m%dT%H%M%SZ")
        target = new_archive / model / "2" / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}" / run_id
        shutil.copytree(source, target)
        s = dict(summary, model=model, run_id=run_id, window={"start": start.isoformat(), "end": end.isoformat()},
                 generated_at=(end + dt.timedelta(hours=6)).isoformat())
        (target / "summary.json").write_text(json.dumps(s))
    cfg["archive"] = str(new_archive)
    for m in cfg["models"].values():
        for key in ("reference", "logs"):
            m[key] = str((project.parent / m[key]).resolve())
    (work / "mlmon.yaml").write_text(yaml.safe_dump(cfg))
    times = []
    for _ in range(3):
        r = run_measured([MLMON, "index", "-p", str(work / "mlmon.yaml")])
        assert r["code"] == 0, r["stderr"]
        times.append(r["seconds"])
    size = (new_archive / "index.html").stat().st_size
    print(f"mlmon index over {args.runs} runs ({len(models)} models): best {min(times):.2f} s, "
          f"median {sorted(times)[1]:.2f} s (whole command incl. Python start); index.html {size / 1024:.0f} KiB")
    print(f"machine: {machine()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
