"""Baseline time, peak memory and artefact size for a large reference (issue 3).

Builds a synthetic reference (ROWS rows: 20 numeric + 10 categorical features, a binary target),
trains a HistGradientBoosting pipeline on 50k of its rows (saved with skops), then runs
`mlmon baseline` as a subprocess and measures wall time and peak RSS of the process tree.

    .venv/bin/python bench/bench_baseline.py --rows 1000000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from common import MLMON, ROOT, machine, run_measured


def build(folder: Path, rows: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    num = [f"x{j}" for j in range(20)]
    cat = [f"c{j}" for j in range(10)]
    df = pd.DataFrame({c: rng.normal(size=rows) for c in num})
    for j, c in enumerate(cat):
        df[c] = rng.choice([f"l{k}" for k in range(3 + 3 * j)], rows)
    df["ts"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(rows) * 2, unit="s")
    logit = -2 + df["x0"] + 0.5 * df["x1"] - 0.3 * (df["c0"] == "l1")
    df["y"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    df.to_parquet(folder / "reference.parquet")
    train = df.sample(50_000, random_state=seed)
    ct = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat)],
                           remainder="passthrough")
    model = Pipeline([("ct", ct), ("m", HistGradientBoostingClassifier(max_iter=100, random_state=seed))])
    model.fit(train[num + cat], train["y"])
    sio.dump(model, folder / "model.skops")
    df.head(1000).to_parquet(folder / "logs.parquet")
    cfg = {"archive": "reports", "models": {"big": {
        "task": "binary_classification", "timestamp": "ts", "prediction": "score", "target": "y",
        "features": {"numeric": num, "categorical": cat}, "reference": "reference.parquet",
        "logs": "logs.parquet", "versions": {"1": {"model": "model.skops"}}}}}
    (folder / "mlmon.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "mlmon.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "data" / "baseline"))
    args = ap.parse_args()
    folder = Path(args.out) / f"rows{args.rows}"
    path = folder / "mlmon.yaml"
    if not path.exists():
        t = time.perf_counter()
        build(folder, args.rows)
        print(f"built {args.rows:,} x 30 reference and model in {time.perf_counter() - t:.0f} s")
    r = run_measured([MLMON, "baseline", "-p", str(path), "-m", "big", "-v", "1"])
    if r["code"]:
        raise SystemExit(r["stderr"][-2000:])
    out = Path(r["stdout"].strip().splitlines()[-1])
    size = sum(p.stat().st_size for p in out.iterdir())
    parts = {p.name: p.stat().st_size for p in out.iterdir()}
    print(f"mlmon baseline on {args.rows:,} rows x 30 features: {r['seconds']:.1f} s wall, "
          f"peak RSS {r['peak_mib']:.0f} MiB (process tree), artefact {size / 2**20:.1f} MiB")
    print("  files: " + ", ".join(f"{k} {v / 2**20:.2f} MiB" for k, v in sorted(parts.items())))
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
