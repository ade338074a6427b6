"""Kernels forked from a fork server: same kernel as a process of its own, signals and deaths included."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

import pytest
from jupyter_core.utils import run_sync

from mlmon_nb import forkserver, kernels
from mlmon_nb.forkserver import ForkServer
from mlmon_nb.kernels import KernelPool, WarmKernel, ensure_kernel

from test_kernels import _alive, _run


@pytest.fixture(scope="module")
def server():
    srv = ForkServer(kernels.fork_modules())
    yield srv
    srv.close()


def _forked(server, notebook="operations"):
    km = WarmKernel(ensure_kernel(), notebook, server=server).take()
    assert km is not None
    return km


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_forked_kernel_is_a_fresh_kernel_with_everything_imported(server, monkeypatch, tmp_path):
    monkeypatch.setenv("MLMON_PROBE", "from the command")
    monkeypatch.chdir(tmp_path)
    first, second = _forked(server), _forked(server, "explainability")
    try:
        code = ("import gc, os, sys, numpy, matplotlib\n"
                "print(os.getpid(), os.environ.get('MLMON_PROBE'), os.getcwd(), matplotlib.get_backend(),\n"
                "      gc.isenabled() and gc.get_freeze_count() > 50_000,\n"
                "      all(m in sys.modules for m in ('shap', 'sklearn.ensemble', 'river.drift')), numpy.random.random(),\n"
                "      sorted(k for k in globals() if not k.startswith('_') and k not in\n"
                "             ('In', 'Out', 'exit', 'quit', 'open', 'get_ipython', 'gc', 'os', 'sys', 'numpy', 'matplotlib')), sep='|')")
        outs = [_run(km, code) for km in (first, second)]
    finally:
        kernels.shutdown(first)
        kernels.shutdown(second)
    draws = []
    for (out, count), km in zip(outs, (first, second)):
        pid, probe, cwd, backend, frozen, imported, draw, names = out.strip().split("|")
        assert int(pid) != km.provisioner.pid  # the kernel is the fork, not the launcher Jupyter started
        assert (probe, cwd) == ("from the command", str(tmp_path))  # the command's environment and folder
        assert backend == "module://matplotlib_inline.backend_inline"  # figures inline, as in any kernel
        # the server's imports sit in the collector's permanent generation; collection still runs
        assert frozen == "True"
        assert imported == "True" and count == 1 and names == "[]"  # imports done, nothing run
        draws.append(draw)
    assert draws[0] != draws[1]  # each fork reseeds numpy's global random state
    assert not _alive(first) and not _alive(second)


@contextmanager
def _session(server):
    """A forked kernel and a ready client; both shut down afterwards."""
    km = _forked(server)
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        yield km, kc
    finally:
        kc.stop_channels()
        kernels.shutdown(km)


def test_an_interrupt_reaches_the_forked_kernel(server):
    with _session(server) as (km, kc):
        msg_id = kc.execute("import time; time.sleep(60)")
        time.sleep(0.5)
        t0 = time.monotonic()
        run_sync(km.interrupt_kernel)()
        while True:
            reply = kc.get_shell_msg(timeout=20)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - t0 < 10
        assert _alive(km)  # interrupted, not killed


def test_a_kernel_killed_by_the_system_shows_as_killed_to_jupyter(server):
    """An out-of-memory SIGKILL of the kernel reaches jupyter_client as its process's SIGKILL."""
    with _session(server) as (km, kc):
        kc.execute("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        deadline = time.monotonic() + 10
        while km.provisioner.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert km.provisioner.process.poll() == -signal.SIGKILL


def test_a_kernel_never_outlives_its_launcher(server):
    km = _forked(server)
    out, _ = _run(km, "import os; print(os.getpid())")
    kernel_pid = int(out)
    os.kill(km.provisioner.pid, signal.SIGKILL)  # what a shutdown with now=True does to the process Jupyter has
    assert _gone(kernel_pid), "the forked kernel survived its launcher"
    kernels.shutdown(km)


def test_a_closed_server_takes_its_kernels_and_launchers_fall_back_to_plain_kernels(monkeypatch):
    srv = ForkServer(kernels.fork_modules())
    km = _forked(srv)
    out, _ = _run(km, "import os; print(os.getpid())")
    srv.close()
    assert _gone(int(out)) and not _alive(km)
    kernels.shutdown(km)
    plain = _forked(srv)  # the server is gone: the launcher becomes ipykernel_launcher itself
    try:
        out, count = _run(plain, "import os; print(os.getpid())")
        assert int(out) == plain.provisioner.pid and count == 1
    finally:
        kernels.shutdown(plain)


def test_pools_fork_when_asked_or_when_the_process_has_a_server(monkeypatch, server):
    monkeypatch.setattr(forkserver, "_server", None)
    assert KernelPool(ensure_kernel())._server() is None  # one notebook in a fresh process: its own kernel
    monkeypatch.setattr(forkserver, "_server", server)
    with KernelPool(ensure_kernel()) as pool:  # a server runs: every pool of the process forks
        km = pool.take("operations")  # nothing warm: a fork now, not a kernel importing for itself
        try:
            assert type(km).__name__ == "ForkedKernelManager" and _alive(km)
        finally:
            kernels.shutdown(km)


def test_a_server_named_in_the_environment_is_shared_and_never_closed_by_its_users(monkeypatch, server):
    """A command whose environment names a live server (the suite's CLI subprocesses) forks from it
    instead of starting its own; a dead or malformed address is ignored."""
    monkeypatch.setattr(forkserver, "_server", None)
    monkeypatch.setenv(forkserver.SERVER_ENV, server.address)
    shared = forkserver.running_server()
    assert isinstance(shared, forkserver.SharedServer) and shared.address == server.address
    assert forkserver.ensure_server(kernels.fork_modules()).address == server.address
    assert forkserver._server is None  # nothing started
    with KernelPool(ensure_kernel()) as pool:
        km = pool.take("operations")
        try:
            out, count = _run(km, "import os; print(os.getppid())")
            assert int(out) == shared.pid and count == 1  # a fork of the shared server
        finally:
            kernels.shutdown(km)
    shared.close()
    assert server.alive()
    for address in (f"{server.path}:999999999", "/nonexistent.sock:1", "garbage"):
        monkeypatch.setenv(forkserver.SERVER_ENV, address)
        assert forkserver.running_server() is None
