"""Wall time of `mlmon demo` (issue 2): build, baseline and every weekly window.

    .venv/bin/python bench/bench_demo.py --scale 1
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import MLMON, machine, run_measured


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="1")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp()) / "demo"
    r = run_measured([MLMON, "demo", "--out", str(out), "--scale", args.scale])
    if r["code"]:
        raise SystemExit(r["stderr"][-3000:])
    runs = len(list(out.glob("reports/ctr-ranker/2/*_*/*/summary.json")))
    print(f"mlmon demo --scale {args.scale}: {r['seconds']:.0f} s wall, peak RSS {r['peak_mib']:.0f} MiB, "
          f"{runs} weekly runs archived")
    print(f"machine: {machine()}")
    shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
