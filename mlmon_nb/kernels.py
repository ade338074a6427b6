"""Warm kernels: start a notebook's kernel, and its imports, before the notebook needs them.

A headless run spends about three seconds per notebook before its first line of analysis: the
kernel process boots (ipykernel) and the notebook imports pandas, scipy, scikit-learn and
``mlmon_nb``. None of that depends on the run's inputs, so :class:`KernelPool` starts it early,
in the background: the first kernel while the command validates its inputs, the next one while
the current notebook runs. Each notebook still gets a fresh kernel of its own; a warm kernel has
only imported modules (``sys.modules``), never run a line of the notebook, and it is discarded if
it is not used.

The warm kernel is handed to papermill through the engine :func:`register_engine` registers
(``mlmon-warm``): papermill's nbclient engine run on a given kernel manager, which it shuts down
afterwards exactly as papermill's own engine does with a kernel it starts itself.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import queue
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from . import drawing
from .display import start_drawing
from .files import write_atomic
from .forkserver import ensure_server, kernel_env, running_server

logger = logging.getLogger(__name__)

KERNEL_NAME = "mlmon-nb"
ENGINE_NAME = "mlmon-warm"
#: Seconds a warm kernel may take to boot and import before it is given up (the notebook then
#: starts as usual, on a kernel of its own).
WARM_TIMEOUT_SECONDS = 60
#: How often a running notebook's partial output is written (what is left if the process dies).
SAVE_EVERY_SECONDS = 10
#: Arguments nbclient passes to every IPython kernel it starts itself (history in memory only).
KERNEL_ARGUMENTS = ("--HistoryManager.hist_file=:memory:",)

#: Modules every notebook imports first (``mlmon_nb.open_window`` and its figures): imported
#: before the kernel is handed over.
FIRST_MODULES = ("numpy", "pandas", "pyarrow", "duckdb", "matplotlib.pyplot", "mlmon_nb.context",
                 "mlmon_nb.display", "mlmon_nb.baseline", "mlmon_nb.plots.common")
#: Modules a shipped notebook uses after ``open_window`` (the heavy third-party ones are where
#: the time goes): imported on a background thread of the kernel while the notebook's first cell
#: reads its data; ``open_window`` joins that thread before it returns, so the notebook's area
#: cells (``mn.<area>.analyse(ctx)``, always after ``open_window``) find them imported. mlmon_nb has
#: no import cycle (tests/test_architecture.py); the join still keeps the third-party packages'
#: own imports on one thread at a time. Unknown notebooks get the first modules only, and no thread.
LATER_MODULES = {
    "data_drift": ("scipy.stats", "mlmon_nb.drift", "mlmon_nb.plots.drift", "sklearn.ensemble",
                   "sklearn.metrics", "sklearn.model_selection", "sklearn.decomposition"),
    "concept_drift": ("scipy.stats", "mlmon_nb.concept", "mlmon_nb.plots.concept", "river.drift",
                      "sklearn.isotonic", "sklearn.metrics"),
    "explainability": ("scipy.stats", "mlmon_nb.models", "mlmon_nb.explain", "mlmon_nb.plots.explain", "shap",
                       "skops.io"),  # loading the model: skops enumerates every scikit-learn estimator (0.6 s)
    "feedback_loops": ("scipy.stats", "mlmon_nb.feedback", "mlmon_nb.plots.feedback"),
    "operations": ("scipy.stats", "mlmon_nb.operations", "mlmon_nb.plots.operations"),
}


def ensure_kernel() -> str:
    """Make sure a Jupyter kernel running this interpreter exists; return its name.

    The kernel spec lives in this environment's prefix, so a run always uses
    the interpreter (and packages) of the ``mlmon`` command that started it.
    The kernel logs only errors: its start-up warnings would otherwise land
    in every scheduled run's output.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # Jupyter's machinery only when a notebook runs

    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
            "--IPKernelApp.log_level=CRITICAL"]
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv == argv:
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    folder = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv, "display_name": "Python (mlmon-nb)", "language": "python",
            "metadata": {"debugger": True}}
    write_atomic(folder / "kernel.json", json.dumps(spec, indent=1))
    return KERNEL_NAME


#: Modules imported before hand-over for notebooks that do not start with ``open_window`` (the
#: baseline notebook imports scikit-learn at once: no background thread may import it meanwhile).
BEFORE_MODULES = {
    "baseline": ("scipy.stats", "sklearn.ensemble", "sklearn.metrics", "mlmon_nb.plots.baseline", "shap", "skops.io"),
}


def _import_all(names) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # an optional package: the notebook will say what it lacks
            logger.debug("preload: %s not importable", name)


_preload_thread = None


def preload(notebook: str) -> None:
    """Import what ``notebook`` will import (run inside a warm kernel; a missing module is skipped).

    Returns once :data:`FIRST_MODULES` are imported; the notebook's later
    modules continue on a daemon thread, which :func:`wait_for_preload` joins.
    """

    global _preload_thread
    _import_all((*FIRST_MODULES, *BEFORE_MODULES.get(notebook, ())))
    # Imported modules live as long as the kernel: in the collector's permanent generation, the
    # notebook's full collections no longer walk them (as in a forked kernel, mlmon_nb.forkserver).
    gc.freeze()
    # The figure workers fork now, while the kernel is small and no import is under way; they warm
    # up while the notebook has not started (mlmon_nb.drawing).
    start_drawing()
    later = LATER_MODULES.get(notebook, ())
    if later:
        _preload_thread = threading.Thread(target=_import_all, args=(later,), name="mlmon-preload", daemon=True)
        _preload_thread.start()


def wait_for_preload() -> None:
    """Wait until the background imports of a warm kernel are done (no-op anywhere else).

    :func:`mlmon_nb.open_window` calls it after reading the window, i.e. at the end of a notebook's
    first cell: the imports overlap the reads, and no later cell ever imports a module while the
    background thread imports another (two threads importing intertwined packages at once can
    fail with a deadlock error). Called from plain code, never from inside an import.
    """

    global _preload_thread
    thread = _preload_thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()
        _preload_thread = None
        gc.freeze()  # the later modules too (with the window just read: it lives as long)


def fork_modules() -> list[str]:
    """What a fork server imports: the kernel, then every module any shipped notebook preloads."""
    names = ["ipykernel.kernelapp", *FIRST_MODULES]
    for group in (*BEFORE_MODULES.values(), *LATER_MODULES.values()):
        names.extend(n for n in group if n not in names)
    return names


def start_fork_server() -> None:
    """Start this process's fork server now (a command about to run many notebooks: it imports meanwhile)."""
    ensure_server(fork_modules())


_FORKED_MANAGER = None


def _forked_manager_class():
    """jupyter_client's kernel manager, launching :mod:`mlmon_nb.forkkernel` where it would launch
    ``ipykernel_launcher`` (the kernel spec stays the one JupyterLab shows)."""
    global _FORKED_MANAGER
    if _FORKED_MANAGER is None:
        from jupyter_client import AsyncKernelManager  # Jupyter's machinery only when a notebook runs

        class ForkedKernelManager(AsyncKernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                cmd = super().format_kernel_cmd(extra_arguments)
                if cmd[1:3] == ["-m", "ipykernel_launcher"]:
                    cmd[1:3] = ["-m", "mlmon_nb.forkkernel"]
                return cmd

        _FORKED_MANAGER = ForkedKernelManager
    return _FORKED_MANAGER


class WarmKernel:
    """One kernel started in the background, importing a notebook's modules."""

    def __init__(self, kernel_name: str, notebook: str, server=None):
        from jupyter_client import AsyncKernelManager  # Jupyter's machinery only when a notebook runs
        from jupyter_core.utils import run_sync  # Jupyter's machinery only when a notebook runs

        self.notebook = notebook
        if server is None:  # a process of its own, importing for itself
            cls, env = AsyncKernelManager, dict(os.environ)
        else:  # forked from the command's fork server, its imports already done
            cls, env = _forked_manager_class(), kernel_env(server)
        env.setdefault(drawing.WORKERS_ENV, str(drawing.default_workers()))  # figures drawn beside the notebook
        launch = {"env": env}
        self.km = kernel_manager(cls, kernel_name)
        try:
            run_sync(self.km.start_kernel)(extra_arguments=list(KERNEL_ARGUMENTS), **launch)
            self._kc = self.km.blocking_client()
            self._kc.start_channels(hb=False)
            # Queued by ZeroMQ until the kernel binds its sockets; the kernel runs it first thing.
            code = f"__import__('mlmon_nb.kernels').kernels.preload({notebook!r})"
            self._msg_id = self._kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        except BaseException:  # Ctrl-C while it starts included: nobody else knows this kernel yet
            shutdown(self.km)
            raise
        self._started = time.monotonic()

    def take(self):
        """Wait until the imports are done and hand the kernel manager over (or None if it failed)."""
        ok = self._wait()
        self._kc.stop_channels()
        if ok:
            return self.km
        self.discard()
        return None

    def _wait(self) -> bool:
        deadline = self._started + WARM_TIMEOUT_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning("warm kernel for %s not ready in %d s; starting a fresh one",
                               self.notebook, WARM_TIMEOUT_SECONDS)
                return False
            try:
                msg = self._kc.get_shell_msg(timeout=min(remaining, 1.0))
            except queue.Empty:  # still booting or importing
                if not _alive(self.km):
                    logger.warning("warm kernel for %s died while starting", self.notebook)
                    return False
                continue
            if msg.get("parent_header", {}).get("msg_id") == self._msg_id:
                return True

    def discard(self) -> None:
        """Shut the kernel down (it was not used)."""
        from jupyter_core.utils import run_sync  # Jupyter's machinery only when a notebook runs

        try:
            self._kc.stop_channels()
        except Exception:  # already stopped
            pass
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception as exc:  # already gone
            logger.debug("warm kernel shutdown: %s", exc)


def shutdown(km) -> None:
    """Shut a kernel down if it still runs (after papermill, which normally has done it)."""
    from jupyter_core.utils import run_sync  # Jupyter's machinery only when a notebook runs

    try:
        if km.has_kernel and run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
    except Exception as exc:  # already gone
        logger.debug("kernel shutdown: %s", exc)


def _alive(km) -> bool:
    from jupyter_core.utils import run_sync  # Jupyter's machinery only when a notebook runs

    try:
        return bool(run_sync(km.is_alive)())
    except Exception:  # the manager lost its process
        return False


class KernelPool:
    """At most one warm kernel ahead of the notebook that will use it.

    ``prestart(name)`` starts a kernel for the notebook ``name`` in the
    background; ``take(name)`` returns it (a started kernel manager) or None,
    in which case papermill starts a kernel as usual. Always ``close()`` the
    pool: an unused warm kernel is shut down.

    With ``fork=True`` (a command that runs more than one notebook) kernels are forked from this
    process's fork server (:mod:`mlmon_nb.forkserver`), started on first use: the imports are paid
    once per process instead of once per notebook. Once a server runs, every pool of the process
    forks from it. A single notebook in a fresh process gets a kernel of its own, which imports
    only what that notebook needs.
    """

    def __init__(self, kernel_name: str, fork: bool = False):
        self.kernel_name = kernel_name
        self.fork = fork
        self._warm: WarmKernel | None = None

    def _server(self):
        return ensure_server(fork_modules()) if self.fork else running_server()

    def prestart(self, notebook: str) -> None:
        self.close()
        try:
            self._warm = WarmKernel(self.kernel_name, notebook, server=self._server())
        except Exception as exc:  # no kernel now: papermill will report its own start-up error
            logger.warning("could not prestart a kernel for %s: %s", notebook, exc)
            self._warm = None

    def take(self, notebook: str):
        warm, self._warm = self._warm, None
        if warm is None and self._server() is not None:  # forking is quick: a kernel now, imports done
            self.prestart(notebook)
            warm, self._warm = self._warm, None
        if warm is None:
            return None
        if warm.notebook != notebook:
            warm.discard()
            return None
        return warm.take()

    def close(self) -> None:
        warm, self._warm = self._warm, None
        if warm is not None:
            warm.discard()

    def __enter__(self) -> "KernelPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _throttle_saves(nb_man) -> None:
    save = nb_man.save
    last = [time.monotonic()]

    def throttled(**kwargs):
        if time.monotonic() - last[0] >= SAVE_EVERY_SECONDS:
            save(**kwargs)
            last[0] = time.monotonic()

    nb_man.save = throttled


#: Kernels talk over Unix sockets, not TCP ports: a port jupyter_client found free can be taken by
#: another process (a second run, a Spark JVM) before the kernel binds it ("Address already in use",
#: the kernel dies before its first reply). Socket files live beside the connection file.
TRANSPORT = "ipc" if os.name == "posix" else "tcp"


def kernel_manager(cls, kernel_name: str):
    """A kernel manager of ``cls`` on :data:`TRANSPORT`; Unix socket files in Jupyter's runtime folder.

    (jupyter_client's default for ipc is a relative name: the socket files would land in the
    working folder.)
    """
    if TRANSPORT != "ipc":
        return cls(kernel_name=kernel_name)
    from jupyter_core.paths import jupyter_runtime_dir  # Jupyter's machinery only when a notebook runs

    folder = jupyter_runtime_dir()
    os.makedirs(folder, exist_ok=True)
    return cls(kernel_name=kernel_name, transport="ipc", ip=os.path.join(folder, f"mlmon-{uuid.uuid4().hex[:12]}"))


#: Run in the kernel after a notebook's last cell: figures still being drawn take their places.
SETTLE_CODE = "__import__('mlmon_nb.drawing').drawing.settle()"


def _settling_client(base):
    """papermill's notebook client that, after the last cell, waits in the kernel for the figures
    its drawing workers have not delivered yet (:mod:`mlmon_nb.drawing`).

    The wait runs as one more execution request, not as a cell of the notebook: its messages only
    update outputs already there (by display id), so the saved notebook has the cells it had.
    """
    import nbformat  # papermill only when a notebook runs

    class SettlingClient(base):
        def papermill_execute_cells(self):
            super().papermill_execute_cells()
            code_cells = [i for i, cell in enumerate(self.nb.cells) if cell.cell_type == "code"]
            if not code_cells:
                return
            index = code_cells[-1]
            kept = self.nb.cells[index]
            try:  # nbclient puts the executed cell at its index: the notebook's own goes back there
                self.execute_cell(nbformat.v4.new_code_cell(SETTLE_CODE), index, store_history=False)
            except Exception as exc:  # the notebook has already failed or its kernel died: said elsewhere
                logger.debug("settling figures: %s", exc)
            finally:
                self.nb.cells[index] = kept

    return SettlingClient


def register_engine() -> str:
    """Register :class:`WarmEngine` with papermill (once); return its name."""
    from papermill.engines import NBClientEngine, papermill_engines  # papermill only when a notebook runs

    if ENGINE_NAME in papermill_engines._engines:
        return ENGINE_NAME

    class WarmEngine(NBClientEngine):
        """papermill's nbclient engine, on a kernel manager that may already be started (``km=``).

        The notebook client then owns the kernel as if it had started it: it
        stops the client's channels and shuts the kernel down at the end. The
        executed notebook is saved at most every :data:`SAVE_EVERY_SECONDS`
        while it runs (papermill saves it before and after every cell, which
        for a report full of figures is a large JSON file written twenty
        times); papermill still writes it in full when the notebook ends or
        fails.
        """

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            from papermill.clientwrap import PapermillNotebookClient  # papermill only when a notebook runs
            from papermill.engines import logger as pm_logger  # papermill only when a notebook runs
            from papermill.utils import merge_kwargs, remove_args  # papermill only when a notebook runs

            km = kwargs.pop("km", None)
            if km is None:  # no warm kernel: one started by the notebook client, on the same transport
                from jupyter_client import AsyncKernelManager  # papermill only when a notebook runs

                km = kernel_manager(AsyncKernelManager, kernel_name)
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout, kernel_name=kernel_name, log=pm_logger,
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                # Every output has arrived when the last cell ends: stop the kernel at once rather
                # than wait up to a second for it to wind down.
                shutdown_kernel="immediate")
            _throttle_saves(nb_man)
            client = _settling_client(PapermillNotebookClient)(nb_man, km=km, **final_kwargs)
            return client.execute(cleanup_kc=True)

    papermill_engines.register(ENGINE_NAME, WarmEngine)
    return ENGINE_NAME
