"""Per-feature work on threads: statistics spend their time in sorts and binary searches, which release the GIL."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

#: Threads for per-feature statistics: their time goes to sorts and binary searches, which release
#: the GIL, so features run on every core.
WORKERS = max(1, min(4, os.cpu_count() or 1))


def parallel_map(fn, items: Sequence) -> list:
    """``[fn(x) for x in items]``, on :data:`WORKERS` threads (same order; the first error is raised)."""
    if WORKERS == 1 or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlmon-features") as pool:
        return list(pool.map(fn, items))
