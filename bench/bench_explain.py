"""Wall time of the explainability notebook on the demo window and on a 1M-row window (issue 6).

Builds the demo project (scale 0.25, its baseline archived) under --work, times
``mlmon run -n explainability`` on the concept-drift week (week 8) with a cohort query, then
writes a second project under --work whose week-8 logs hold --rows rows (resampled from the
demo's week 8, timestamps jittered within the week, labels for every row) and shares the demo's
reference, models and archived baseline, and times the same command on it. Nothing is written
inside the repository; the notebook explains at most ``max_rows`` (2,000) window rows either way.

    .venv/bin/python bench/bench_explain.py --work /tmp/mlmon-bench-explain --rows 1000000

``--weeks`` also runs the analysis in-process on each of the demo's 10 weeks for a few seeds and
prints which features' attribution drift fired and discount_pct's outcome reliance (the flip is in
week 8; covariate drift of price and device from week 5).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from common import MLMON, machine, run_measured

WEEK = 8
COHORT = 'device == "mobile"'


def demo_project(work: Path) -> Path:
    """The demo project with its baseline archived (built once)."""
    root = work / "demo"
    if not (root / "mlmon.yaml").exists():
        from mlmon_nb.demo import build_demo

        build_demo(root, scale=0.25, weeks=10, seed=0)
    if not (root / "reports" / "ctr-ranker" / "2" / "baseline").is_dir():
        res = run_measured([MLMON, "baseline", "-p", str(root / "mlmon.yaml"), "-m", "ctr-ranker", "-v", "2"])
        if res["code"] != 0:
            raise SystemExit(f"mlmon baseline failed: {res['stderr'][-2000:]}")
    return root / "mlmon.yaml"


def window_of(week: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp("2026-09-07", tz="UTC") + pd.Timedelta(days=7 * (week - 1))
    return start, start + pd.Timedelta(days=7)


def big_project(work: Path, demo: Path, rows: int, seed: int = 0) -> Path:
    """A copy of the demo whose week-8 logs hold ``rows`` rows (and labels for all of them)."""
    root = work / f"big-{rows}"
    if (root / "mlmon.yaml").exists():
        return root / "mlmon.yaml"
    src = demo.parent
    start, end = window_of(WEEK)
    logs = pd.concat([pd.read_parquet(p) for p in sorted((src / "data" / "logs").glob("day=*/part-0.parquet"))
                      if start.date() <= pd.Timestamp(p.parent.name[4:]).date() < end.date()], ignore_index=True)
    labels = pd.read_parquet(src / "data" / "labels")
    logs = logs.merge(labels[["request_id", "clicked"]], on="request_id", how="left")
    rng = np.random.default_rng(seed)
    big = logs.iloc[rng.integers(0, len(logs), rows)].reset_index(drop=True)
    jitter = pd.to_timedelta(rng.uniform(-3600, 3600, rows), unit="s")
    big["ts"] = (big["ts"] + jitter).clip(start, end - pd.Timedelta(microseconds=1))
    big = big.sort_values("ts", kind="stable").reset_index(drop=True)
    big["request_id"] = [f"b{i:08d}" for i in range(rows)]
    clicked = big.pop("clicked")
    (root / "data").mkdir(parents=True)
    shutil.copy(src / "mlmon.yaml", root / "mlmon.yaml")
    shutil.copy(src / "data" / "reference.parquet", root / "data" / "reference.parquet")
    shutil.copytree(src / "models", root / "models")
    archived = Path("reports") / "ctr-ranker" / "2" / "baseline"
    shutil.copytree(src / archived, root / archived)
    for day, part in big.groupby(big["ts"].dt.strftime("%Y-%m-%d")):
        folder = root / "data" / "logs" / f"day={day}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part-0.parquet", index=False, row_group_size=65_536)
    lab = pd.DataFrame({"request_id": big["request_id"], "clicked": clicked.astype("Int64"),
                        "labelled_at": big["ts"] + pd.Timedelta(hours=6)}).dropna(subset=["clicked"])
    (root / "data" / "labels").mkdir()
    lab.to_parquet(root / "data" / "labels" / "part-0.parquet", index=False)
    return root / "mlmon.yaml"


def timed_run(project: Path) -> dict:
    start, end = window_of(WEEK)
    cmd = [MLMON, "run", "-p", str(project), "-m", "ctr-ranker", "-v", "2", "-w",
           f"{start.date()}/{end.date()}", "-n", "explainability", "-P", f"cohort={COHORT}", "--fail-on", "never"]
    res = run_measured(cmd)
    if res["code"] != 0:
        raise SystemExit(f"mlmon run failed ({res['code']}): {res['stderr'][-3000:]}")
    run_dir = Path(res["stdout"].strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    nb = json.loads((run_dir / "explainability.ipynb").read_text())
    cells = {c["id"]: c["metadata"].get("papermill", {}).get("duration")
             for c in nb["cells"] if c["cell_type"] == "code"}
    checks = {c["subject"]: c for c in summary["checks"] if c["kind"] == "attribution_drift"}
    return {"seconds": res["seconds"], "peak_mib": res["peak_mib"], "rows": summary["data"]["current_rows"],
            "notebook_seconds": summary["notebooks"]["explainability"]["seconds"],
            "open_window": cells.get("explainability-02"), "explain_window": cells.get("explainability-04"),
            "cells_total": sum(v or 0 for v in cells.values()),
            "fired": sorted(f"{s} ({c['method'].removeprefix('attribution_')})" for s, c in checks.items()
                            if c["status"] != "ok")}


def weekly(project: Path, seeds: list[int]) -> None:
    """Attribution drift per demo week and seed (in-process, no notebook)."""
    from mlmon_nb import open_window
    from mlmon_nb.explain import explain_window

    print("\n| week | seed | discount_pct reliance: base → now [band] | fired (deciding figure) |")
    print("|---:|---:|---|---|")
    for week in range(1, 11):
        start, end = window_of(week)
        ctx = open_window(project, "ctr-ranker", "2", f"{start.date()}/{end.date()}", notebook="explainability")
        for seed in seeds:
            ex = explain_window(ctx, seed=seed)
            d = next(f for f in ex.drift.features if f.feature == "discount_pct")
            fired = [f"{f.feature} ({f.method.removeprefix('attribution_')}, {f.status})"
                     for f in sorted(ex.drift.features, key=lambda f: f.feature) if f.status != "ok"]
            print(f"| {week} | {seed} | {d.reliance_baseline:.2f} → {d.reliance_window:.2f} "
                  f"[{d.reliance_low:.2f}, {d.reliance_high:.2f}] | {', '.join(fired) or '-'} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/mlmon-bench-explain")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--weeks", action="store_true", help="also the per-week attribution drift of the demo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    demo = demo_project(work)
    big = big_project(work, demo, args.rows)
    print(f"machine: {machine()}")
    print("| window | rows | `mlmon run` wall (s) | notebook (s) | open_window cell (s) | explain_window cell (s) "
          "| peak RSS (MiB) | attribution drift fired |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, project in (("demo week 8", demo), (f"{args.rows:,}-row week 8", big)):
        for _ in range(args.repeat):
            r = timed_run(project)
            print(f"| {label} | {r['rows']:,} | {r['seconds']:.1f} | {r['notebook_seconds']:.1f} | "
                  f"{r['open_window']:.1f} | {r['explain_window']:.1f} | {r['peak_mib']:.0f} | "
                  f"{', '.join(r['fired'])} |")
    if args.weeks:
        weekly(demo, args.seeds)


if __name__ == "__main__":
    main()
