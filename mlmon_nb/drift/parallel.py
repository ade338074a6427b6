"""Per-feature work on threads: statistics spend their time in sorts and binary searches, which release the GIL."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

#: Threads for per-feature statistics: their time goes to sorts and binary searches, which release
#: the GIL, so features run on every core.
WORKERS = max(1, min(4, os.cpu_count() or 1))


#: Below this many values in all (rows x items) the items run on the calling thread: starting threads
#: and trading the GIL cost more than small sorts gain (a 2,000-row window of 30 features took 10-25 %
#: more CPU on threads, measured on 2 cores).
PARALLEL_MIN_VALUES = 500_000


def parallel_map(fn, items: Sequence, *, values: int | None = None) -> list:
    """``[fn(x) for x in items]``, on :data:`WORKERS` threads (same order; the first error is raised).

    ``values``: how many values the items hold in all; below :data:`PARALLEL_MIN_VALUES` they run
    on the calling thread.
    """
    small = values is not None and values < PARALLEL_MIN_VALUES
    if WORKERS == 1 or len(items) < 2 or small:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlmon-features") as pool:
        return list(pool.map(fn, items))
