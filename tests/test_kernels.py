"""Warm kernels: started ahead, imports done, handed over once, never left running."""

from __future__ import annotations

import queue

from jupyter_core.utils import run_sync

from mlmon_nb import forkserver, kernels
from mlmon_nb.kernels import KernelPool, ensure_kernel


def _run(km, code: str) -> tuple[str, int]:
    """Execute code in the kernel; return its stdout and the execution count it got."""
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out: list[str] = []
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
        return "".join(out), reply["content"]["execution_count"]
    finally:
        kc.stop_channels()


def _alive(km) -> bool:
    return bool(run_sync(km.is_alive)())


def test_warm_kernel_has_its_imports_done_and_nothing_else():
    with KernelPool(ensure_kernel()) as pool:
        pool.prestart("data_drift")
        km = pool.take("data_drift")
        assert km is not None and _alive(km)
        try:
            names = list(kernels.FIRST_MODULES)
            out, count = _run(km, f"import sys; print(all(m in sys.modules for m in {names!r}), "
                                  f"sorted(k for k in globals() if not k.startswith('_')))")
            # Every first module is imported, the user namespace holds nothing of the preload, and the
            # silent preload did not take an execution count: the notebook's first cell is [1].
            assert out.split(" ", 1)[0] == "True"
            assert "kernels" not in out and "mlmon_nb" not in out.split(" ", 1)[1]
            assert count == 1
        finally:
            kernels.shutdown(km)
        assert not _alive(km)


def test_unused_or_mismatched_warm_kernels_are_shut_down(monkeypatch):
    monkeypatch.setattr(forkserver, "_server", None)  # no fork server in this process: nothing is started at take
    pool = KernelPool(ensure_kernel())
    pool.prestart("operations")
    warm = pool._warm
    assert warm is not None
    assert pool.take("explainability") is None  # started for another notebook: discarded
    assert not _alive(warm.km)
    pool.prestart("operations")
    warm = pool._warm
    pool.close()  # never taken: discarded
    assert not _alive(warm.km)
    assert pool.take("operations") is None


def test_preload_waits_are_no_ops_outside_a_warm_kernel():
    kernels.wait_for_preload()  # no preload thread in this process: returns at once
    assert set(kernels.LATER_MODULES) <= {"data_drift", "concept_drift", "explainability", "feedback_loops",
                                          "operations"}
    assert not set(kernels.BEFORE_MODULES) & set(kernels.LATER_MODULES)


def test_running_notebook_is_saved_at_most_every_few_seconds(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kernels.time, "monotonic", lambda: clock[0])

    class Manager:
        saves = 0

        def save(self, **kwargs):
            Manager.saves += 1

    nb_man = Manager()
    kernels._throttle_saves(nb_man)
    for _ in range(20):  # papermill saves before and after every cell
        nb_man.save()
    assert Manager.saves == 0
    clock[0] += kernels.SAVE_EVERY_SECONDS
    nb_man.save()
    nb_man.save()
    assert Manager.saves == 1


def test_a_dead_warm_kernel_is_not_handed_over(monkeypatch):
    monkeypatch.setattr(kernels, "WARM_TIMEOUT_SECONDS", 30)
    with KernelPool(ensure_kernel()) as pool:
        pool.prestart("operations")
        warm = pool._warm
        run_sync(warm.km.shutdown_kernel)(now=True)  # dies before its preload replies
        try:
            while True:
                warm._kc.get_shell_msg(timeout=0.1)  # drop a reply that made it out first
        except queue.Empty:
            pass
        assert pool.take("operations") is None
