"""Scoring at scale (issue 17, item 3): wall time and peak memory of scoring a window in batches on DuckDB.

The windows of ``bench/bench_summary.py`` (1M-row reference, 25 features, its model a scikit-learn
pipeline: scaler + one-hot encoder + logistic regression; logs of N rows in 1M-row parquet files).
For each N a fresh Python process opens the window's DuckDB scan, scores every row with
``scan.scored(model, keep=["ts"], batch_rows=B)`` (streamed Arrow batches, a parquet spill of
timestamp + score) and runs one aggregation over the scored scan (rows, mean score, daily rows);
the spill is removed on close. Peak memory is the largest sum of RSS of the process tree (sampled
every 50 ms).

Usage (after ``bench/bench_summary.py --rows 1000000 10000000`` has written the windows)::

    .venv/bin/python bench/bench_scoring.py --rows 1000000 10000000 [--batch-rows 100000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_data_drift import WINDOW  # noqa: E402
from common import machine, run_measured  # noqa: E402

SCORE = """
import sys, time
from mlmon_nb.config import load_project
from mlmon_nb.engines import engine_for
from mlmon_nb.models import load_model
from mlmon_nb.windows import parse_window
t0 = time.perf_counter()
proj = load_project("mlmon.yaml")
mcfg = proj.model("bench")
model = load_model(mcfg, proj.version("bench", "1"))
engine = engine_for(proj, mcfg)
scan = engine.window(mcfg, *parse_window(sys.argv[1]))
t1 = time.perf_counter()
with scan.scored(model, keep=["ts"], batch_rows=int(sys.argv[2])) as s:
    t2 = time.perf_counter()
    spill = sum(p.stat().st_size for p in s.spill.iterdir())
    out = s.aggregate("SELECT count(*) AS n, avg(__score__) AS mean, count(DISTINCT CAST(date_trunc('day', ts) AS DATE)) AS days FROM window_rows")
    t3 = time.perf_counter()
    folder = s.spill
engine.close()
print({"rows": out.column("n")[0].as_py(), "mean_score": round(out.column("mean")[0].as_py(), 6),
       "batches": s.batches, "spill_mib": round(spill / 2**20, 1), "open_s": round(t1 - t0, 1),
       "score_s": round(t2 - t1, 1), "aggregate_s": round(t3 - t2, 2), "spill_left": folder.exists()})
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--batch-rows", type=int, default=100_000)
    args = parser.parse_args()
    window = f"{WINDOW[0].date()}/{WINDOW[1].date()}"
    print(f"machine: {machine()}", flush=True)
    for rows in args.rows:
        folder = HERE / "data" / "summary" / f"rows-{rows}"
        if not (folder / "mlmon.yaml").is_file():
            sys.exit(f"{folder} missing: run bench/bench_summary.py --rows {rows} first")
        res = run_measured([sys.executable, "-c", SCORE, window, str(args.batch_rows)], cwd=str(folder))
        if res["code"]:
            sys.exit(res["stderr"])
        print(f"rows {rows:,}, batch_rows {args.batch_rows:,}: {res['seconds']:.1f} s wall, "
              f"peak RSS {res['peak_mib']:.0f} MiB; {res['stdout'].strip()}", flush=True)


if __name__ == "__main__":
    main()
