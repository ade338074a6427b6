"""Wall time of the feedback-loops notebook: on a demo window and on a synthetic 1M-row window.

Usage::

    .venv/bin/python bench/bench_feedback.py [--work /tmp/mlmon-bench-feedback] [--rows 1000000]
                                             [--repeat 3] [--demo-scale 1.0]

Everything is written under ``--work`` (outside the repository). The first run builds the demo and
the synthetic project and archives their baselines (not timed); later runs reuse them. For each
project the script times, ``--repeat`` times:

* ``run``: ``runner.execute_plan`` with only ``feedback_loops`` (fresh kernel, papermill, nbconvert
  export, archive) — what ``mlmon run -n feedback_loops`` costs;
* ``open_window`` and ``feedback.analyse`` in this process — the data read and the computation.

The synthetic window has ``--rows`` exposures over 7 days on a catalogue of 50,000 Zipf-popular
items and 200,000 users; its reference period has 28 days of 10,000 exposures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REF_DAYS, REF_PER_DAY = 28, 10_000
ITEMS, USERS = 50_000, 200_000
WINDOW_START = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
REF_START = WINDOW_START - dt.timedelta(days=REF_DAYS + 7)


def _rows(rng, n, start, days, alpha):
    p = np.arange(1, ITEMS + 1, dtype=float) ** -alpha
    p /= p.sum()
    ts = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, days * 86_400_000_000, n)), unit="us")
    price = rng.lognormal(3.5, 0.5, n)
    score = 1 / (1 + np.exp(3.0 + 0.01 * (price - 35) - rng.normal(0, 0.5, n)))
    return pd.DataFrame({
        "ts": ts, "request_id": np.arange(n).astype(str), "user_id": rng.integers(0, USERS, n).astype(str),
        "item_id": rng.choice(ITEMS, n, p=p).astype(str), "price": price,
        "device": rng.choice(np.array(["mobile", "desktop", "tablet"]), n, p=[0.55, 0.35, 0.10]),
        "score": score, "clicked": (rng.random(n) < score).astype(int), "shown": rng.random(n) < 0.85,
    })


def build_synthetic(root: Path, rows: int) -> Path:
    """A project whose window [WINDOW_START, +7 days) holds ``rows`` exposures."""
    path = root / "mlmon.yaml"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    (root / "data" / "logs").mkdir(parents=True)
    ref = _rows(rng, REF_DAYS * REF_PER_DAY, REF_START, REF_DAYS, alpha=0.8)
    ref["from_model"] = ref["shown"]
    ref.drop(columns="request_id").to_parquet(root / "data" / "reference.parquet", index=False)
    win = _rows(rng, rows, WINDOW_START, 7, alpha=0.9)
    for day, part in win.groupby(win["ts"].dt.strftime("%Y-%m-%d")):
        folder = root / "data" / "logs" / f"day={day}"
        folder.mkdir()
        part.to_parquet(folder / "part-0.parquet", index=False, row_group_size=65_536)
    cfg = {"archive": "reports", "models": {"big": {
        "task": "binary_classification", "timestamp": "ts", "prediction": "score", "target": "clicked",
        "features": {"numeric": ["price"], "categorical": ["device"]},
        "reference": "data/reference.parquet", "logs": "data/logs", "versions": {"1": {}},
        "feedback": {"user": "user_id", "item": "item_id", "exposed": "shown", "outcome": "clicked",
                     "training_provenance": "from_model"},
    }}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def ensure_baseline(project: Path, model: str, version: str) -> None:
    from mlmon_nb.baseline import latest_baseline_id
    from mlmon_nb.config import load_project
    from mlmon_nb.runner import execute_baseline, prepare_baseline

    if latest_baseline_id(load_project(project), model, version) is None:
        outcome = execute_baseline(prepare_baseline(project, model, version))
        if outcome.exit_code:
            raise SystemExit(f"baseline failed: {outcome.run_dir}")


def time_project(label: str, project: Path, model: str, version: str, window: str, repeat: int) -> dict:
    import mlmon_nb as mn
    from mlmon_nb import feedback
    from mlmon_nb.runner import execute_plan, prepare_window_run

    runs, nb_secs, opens, analyses, statuses = [], [], [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = prepare_window_run(project, model, version, window, ["feedback_loops"])
        outcome = execute_plan(plan, fail_on="never")
        runs.append(time.perf_counter() - t0)
        nb_secs.append(outcome.summary["notebooks"]["feedback_loops"]["seconds"])
        statuses.append(outcome.summary["notebooks"]["feedback_loops"]["status"])
        t0 = time.perf_counter()
        ctx = mn.open_window(project, model, version, window, notebook="feedback_loops", load_estimator=False)
        t1 = time.perf_counter()
        res = feedback.analyse(ctx)
        t2 = time.perf_counter()
        opens.append(t1 - t0)
        analyses.append(t2 - t1)
    return {"label": label, "rows": len(ctx.frame), "per_chunk": res.per_chunk, "status": statuses[-1],
            "run": statistics.median(runs), "notebook": statistics.median(nb_secs),
            "open_window": statistics.median(opens), "analyse": statistics.median(analyses)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/mlmon-bench-feedback")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--demo-scale", type=float, default=1.0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    from mlmon_nb.demo import build_demo

    demo_root = work / f"demo-{args.demo_scale:g}"
    if not (demo_root / "mlmon.yaml").exists():
        build_demo(demo_root, scale=args.demo_scale, weeks=10)
    ensure_baseline(demo_root / "mlmon.yaml", "ctr-ranker", "2")
    big = build_synthetic(work / f"synthetic-{args.rows}", args.rows)
    ensure_baseline(big, "big", "1")

    end = WINDOW_START + dt.timedelta(days=7)
    results = [
        time_project(f"demo (scale {args.demo_scale:g}), week 10", demo_root / "mlmon.yaml", "ctr-ranker", "2",
                     "2026-11-09/2026-11-16", args.repeat),
        time_project(f"synthetic, {args.rows:,} rows", big, "big", "1",
                     f"{WINDOW_START.date()}/{end.date()}", args.repeat),
    ]
    print(f"cores: {os.cpu_count()}, repeat: {args.repeat} (medians)")
    print("| window | rows | exposures/day compared | status | `mlmon run -n feedback_loops` (s) "
          "| notebook in runner (s) | open_window (s) | feedback.analyse (s) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['label']} | {r['rows']:,} | {r['per_chunk']:,} | {r['status']} | {r['run']:.1f} "
              f"| {r['notebook']:.1f} | {r['open_window']:.1f} | {r['analyse']:.2f} |")


if __name__ == "__main__":
    main()
