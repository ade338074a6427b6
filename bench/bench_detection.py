"""Cost of issue 15's statistics on the 1M-row drift workload: Wasserstein, the tail share, units.

The data-drift benchmark's shape (``bench_data_drift.py``: 17 numeric and 8 categorical
features, 1M reference rows, a 1M-row window) in memory: the baseline is fitted once with
``fit_frame`` (timed with and without the split-half pass), then ``drift.univariate`` decides
every feature (a) with KS alone (``thresholds.features.<f>.method: ks``, the old decision) and
(b) with the default three-part decision (KS, Wasserstein/sd, tail share) plus the figures in
the features' own units. The difference is what the new statistics cost. Best of 3 runs each.

Usage::

    .venv/bin/python bench/bench_detection.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from mlmon_nb import fit as fitting
from mlmon_nb.config import FeaturesConfig, Thresholds
from mlmon_nb.drift.univariate import univariate

N_NUMERIC, N_CATEGORICAL = 17, 8


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    cols = {f"f{i:02d}": rng.normal(10 * i, 1 + i, n) for i in range(N_NUMERIC)}
    cols.update({f"c{i:02d}": rng.choice(list("abcdef"), n) for i in range(N_CATEGORICAL)})
    return pd.DataFrame(cols)


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ref, win = frame(rng, args.rows), frame(rng, args.rows)
    features = FeaturesConfig(numeric=tuple(c for c in ref if c.startswith("f")),
                              categorical=tuple(c for c in ref if c.startswith("c")))
    t = time.perf_counter()
    base = fitting.fit_frame(ref, features, n_chunks=20)
    fit_s = time.perf_counter() - t
    passes: list[float] = []
    original = fitting._chunk_figures

    def timed(*a, **k):
        t0 = time.perf_counter()
        out = original(*a, **k)
        passes.append(time.perf_counter() - t0)
        return out

    fitting._chunk_figures = timed
    fitting.fit_frame(ref, features, n_chunks=20)
    fitting._chunk_figures = original
    ks_only = Thresholds(features={f: {"method": "ks"} for f in features.numeric})
    old = best(lambda: univariate(base, win, features=features, thresholds=ks_only))
    new = best(lambda: univariate(base, win, features=features))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; rows {args.rows:,} reference, {args.rows:,} window; "
          f"{N_NUMERIC} numeric + {N_CATEGORICAL} categorical features")
    print(f"fit_frame: {fit_s:.1f} s (chunk pass {passes[0]:.1f} s, split-half pass {passes[1]:.1f} s)")
    print(f"univariate, KS alone:           {old:.2f} s")
    print(f"univariate, KS + W + tail + units: {new:.2f} s  (+{new - old:.2f} s)")


if __name__ == "__main__":
    main()
