"""Reading one week out of a year of logs against reading the whole year (issue 2).

Writes a year of synthetic logs (hive-partitioned daily parquet, ROWS_PER_WEEK rows a week) under
bench/data/ (git-ignored), then times, for one week and for the whole year, the window check a
run starts with (mlmon_nb.data.window_stats: one DuckDB scan with the time filter and projection
pushed down) and reading the window's rows to Arrow, and reports what DuckDB's profiler says the
scans touched. (Reading a whole year of 52M rows into pandas is not something mlmon does: it
needs more than this machine's 24 GiB.)

    .venv/bin/python bench/bench_window_read.py --rows-per-week 1000000 --weeks 52
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from common import ROOT, machine

UTC = dt.timezone.utc


def build(folder: Path, weeks: int, rows_per_week: int, features: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    logs = folder / "logs"
    start = dt.datetime(2025, 11, 24, tzinfo=UTC)
    per_day = rows_per_week // 7
    if not (folder / "mlmon.yaml").exists():
        for day in range(weeks * 7):
            d0 = start + dt.timedelta(days=day)
            ts = pd.Timestamp(d0) + pd.to_timedelta(np.sort(rng.random(per_day)) * 86400, unit="s")
            frame = {"ts": ts, "score": rng.random(per_day)}
            for j in range(features):
                frame[f"f{j}"] = rng.normal(size=per_day)
            frame["device"] = rng.choice(["mobile", "desktop", "tablet"], per_day)
            part = logs / f"day={d0.date()}"
            part.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(frame).to_parquet(part / "part-0.parquet", row_group_size=50_000)
        ref = pd.DataFrame({f"f{j}": rng.normal(size=10_000) for j in range(features)})
        ref["device"] = rng.choice(["mobile", "desktop", "tablet"], 10_000)
        ref["y"] = rng.integers(0, 2, 10_000)
        ref.to_parquet(folder / "reference.parquet")
        cfg = {"archive": "reports", "models": {"m": {
            "task": "binary_classification", "timestamp": "ts", "prediction": "score", "target": "y",
            "features": {"numeric": [f"f{j}" for j in range(features)], "categorical": ["device"]},
            "reference": "reference.parquet", "logs": "logs/", "versions": {"1": {}}}}}
        (folder / "mlmon.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "mlmon.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows-per-week", type=int, default=1_000_000)
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "bench" / "data" / "year"))
    args = ap.parse_args()
    from mlmon_nb.config import load_project
    from mlmon_nb.data import read_window, scan_profile, window_stats

    t0 = time.perf_counter()
    path = build(Path(args.out), args.weeks, args.rows_per_week, args.features)
    print(f"data ready in {time.perf_counter() - t0:.0f} s: {args.weeks} weeks x {args.rows_per_week:,} rows, "
          f"{args.features} numeric + 1 categorical features")
    model = load_project(path).model("m")
    week = (dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 6, 8, tzinfo=UTC))
    year = (dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))

    def best(fn, repeat):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return min(times), out

    results = {}
    for label, (s, e) in (("one week", week), ("whole year", year)):
        rep = 3 if label == "one week" else 1
        # What a run does first: validate the source and count/fingerprint the window (one DuckDB scan).
        t_stats, stats = best(lambda: window_stats(model, s, e, labels=False), rep)
        # The window's rows with every monitored column, as Arrow (no pandas copy).
        t_arrow, n = best(lambda: _arrow_rows(model, s, e), rep)
        prof = scan_profile(model, s, e, columns=["ts", "f0"])
        results[label] = (t_stats, t_arrow)
        print(f"{label}: window_stats {t_stats:.2f} s, read to Arrow {t_arrow:.2f} s for {n:,} rows; "
              f"scan touched {prof['row_groups_scanned']}/{prof['row_groups_total']} row groups, "
              f"{prof['rows_scanned']:,} rows")
    t_week, _ = best(lambda: read_window(model, *week, labels=False), 3)
    print(f"one week into pandas with read_window: {t_week:.2f} s")
    print(f"whole year / one week: window_stats {results['whole year'][0] / results['one week'][0]:.1f}x, "
          f"read {results['whole year'][1] / results['one week'][1]:.1f}x")
    print(f"machine: {machine()}")


def _arrow_rows(model, start, end) -> int:
    from mlmon_nb.data import _window_query
    from mlmon_nb.sources import connect

    con = connect()
    q = _window_query(model, start, end, None, None, False, con)
    return con.execute(q.sql).to_arrow_table().num_rows


if __name__ == "__main__":
    main()
