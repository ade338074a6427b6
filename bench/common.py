"""Shared helpers of the benchmarks: timing a command and its peak memory (whole process tree)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
MLMON = str(Path(sys.executable).parent / "mlmon")


def machine() -> str:
    """One line describing this machine."""
    mem = psutil.virtual_memory().total / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> dict:
    """Run a command; return wall seconds, peak RSS of its process tree (MiB), exit code, output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd)
    peak = 0
    done = threading.Event()

    def poll():
        nonlocal peak
        p = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [p, *p.children(recursive=True)]
                peak = max(peak, sum(q.memory_info().rss for q in procs if q.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    out, err = proc.communicate()
    done.set()
    thread.join()
    return {"seconds": time.perf_counter() - t0, "peak_mib": peak / 2**20, "code": proc.returncode,
            "stdout": out, "stderr": err}
