"""Kernels forked from one process that has already imported what the notebooks import.

Every notebook runs in a kernel of its own, and every kernel started as a new Python process
spends about three seconds of CPU importing pandas, scipy, scikit-learn, matplotlib, shap and
``mlmon_nb`` before the notebook's first line. A command that runs many notebooks (a run of every
notebook, ``mlmon demo``'s weeks, a backfill, the test suite) paid that once per notebook. A fork
server pays it once per command: a helper process imports everything, then forks a kernel per
request; the fork shares the imported modules' memory with the server and starts in a few tens of
milliseconds.

Each kernel is still a fresh process that has run nothing of a notebook (only imports), exactly
like a warm kernel of :mod:`mlmon_nb.kernels`, and Jupyter manages it as usual:

- jupyter_client starts a small *launcher* (``python -m mlmon_nb.forkkernel``) where it would start
  ``ipykernel_launcher``. The launcher hands its arguments, working folder, environment and
  standard streams to the server (a Unix socket, file descriptors passed with ``SCM_RIGHTS``), the
  server forks, and the fork becomes the IPython kernel.
- The launcher stands for the kernel: it forwards the signals Jupyter sends (interrupt, terminate),
  and exits as the kernel did (an out-of-memory ``SIGKILL`` of the kernel reaches jupyter_client as
  the launcher's own ``SIGKILL``, so the run still says "killed, most likely out of memory").
- A kernel never outlives its launcher: it holds the read end of a pipe only the launcher writes;
  when the launcher dies (``SIGKILL`` from a shutdown included) the pipe ends and the kernel kills
  itself.
- The server never outlives the command that started it: it reads a pipe from the command and
  ends, killing its kernels, when that pipe does (the command ended, however it ended). It ignores
  a terminal's Ctrl-C, which is the command's to handle.
- Whenever the server is not there (not started, not ready within :data:`READY_TIMEOUT_SECONDS`,
  or gone), the launcher becomes a plain ``ipykernel_launcher`` in its own process (``exec``):
  never worse than a kernel without the server.

Forking is safe here because the server is single-threaded when it forks and has done nothing
but import: no open connections, no started thread pools. Random state is reseeded in each fork.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import traceback
import uuid
from typing import Sequence

logger = logging.getLogger(__name__)

#: The environment variable that tells a launcher where the server listens: ``<socket>:<server pid>``.
SERVER_ENV = "MLMON_FORK_SERVER"
#: How long a launcher waits for a starting server before it starts a plain kernel instead.
READY_TIMEOUT_SECONDS = 60.0
#: File descriptors a launcher passes: stdin, stdout, stderr, and the read end of its life pipe.
PASSED_FDS = 4
#: Bytes of the length header in front of a request (ASCII digits).
HEADER_BYTES = 10


# --------------------------------------------------------------------------- the command's side

class ForkServer:
    """A fork server process that imports ``modules`` (see :func:`ensure_server`)."""

    def __init__(self, modules: Sequence[str]):
        from jupyter_core.paths import jupyter_runtime_dir  # Jupyter's machinery only when a notebook runs

        folder = jupyter_runtime_dir()
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, f"mlmon-fork-{uuid.uuid4().hex[:12]}.sock")
        # stdin is the life pipe: the server ends when this process closes it (or dies). A session
        # of its own: a kill of the command's process group ends the server through that pipe, so
        # it still kills its kernels and removes its socket.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mlmon_nb.forkserver", self.path, *modules], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)

    @property
    def address(self) -> str:
        """What a launcher needs (:data:`SERVER_ENV`): the socket and the server's pid."""
        return f"{self.path}:{self._proc.pid}"

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self, timeout: float = 5.0) -> None:
        """End the server (it kills the kernels it still has) and wait for it."""
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class SharedServer:
    """A fork server another process started and shares through :data:`SERVER_ENV` (the test
    suite gives its command-line subprocesses its own): used as this process's, never closed here."""

    def __init__(self, address: str):
        self.address = address
        self.path, _, pid = address.rpartition(":")
        self.pid = int(pid) if pid.isdigit() else -1

    def alive(self) -> bool:
        if self.pid <= 0 or not os.path.exists(self.path):
            return False
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Nothing: the process that started it ends it."""


_server: ForkServer | None = None
_server_lock = threading.Lock()


def _shared() -> SharedServer | None:
    shared = SharedServer(os.environ.get(SERVER_ENV, ""))
    return shared if shared.alive() else None


def ensure_server(modules: Sequence[str]) -> ForkServer | SharedServer | None:
    """This process's fork server, started on first use with ``modules`` imported (None where
    fork is not available). A live server named by :data:`SERVER_ENV` in this process's
    environment is used instead of starting one.

    It lives as long as the process (ended at exit, or by its life pipe if the process is
    killed); :mod:`mlmon_nb.kernels` forks its kernels from it.
    """
    global _server
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
        return None
    if (_server is None or not _server.alive()) and (shared := _shared()) is not None:
        return shared
    with _server_lock:
        if _server is None or not _server.alive():
            try:
                _server = ForkServer(modules)
            except OSError as exc:  # no server: kernels start as separate processes
                logger.warning("could not start the kernel fork server: %s", exc)
                _server = None
                return None
            atexit.register(_server.close)
        return _server


def running_server() -> ForkServer | SharedServer | None:
    """The fork server if this process has one running, or shares one (never starts one)."""
    server = _server
    return server if server is not None and server.alive() else _shared()


def kernel_env(server: ForkServer | SharedServer) -> dict[str, str]:
    """The environment a forked kernel's launcher starts with (this process's, and the server's address)."""
    return {**os.environ, SERVER_ENV: server.address}


# --------------------------------------------------------------------------- the server

def serve(path: str, modules: Sequence[str]) -> None:
    """Import ``modules``, then fork a kernel for each launcher that connects."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the command's to handle
    # As ipykernel_launcher does: the command's folder is not an import path of the kernel ...
    if sys.path and (sys.path[0] in ("", os.getcwd())):
        del sys.path[0]
    # ... and as ipykernel does before any import: matplotlib draws inline (read at its import).
    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    _preimport(modules)
    # The imported modules' objects (about 180,000 of them) live as long as any kernel: moved to
    # the collector's permanent generation, a kernel's full collections no longer walk them
    # (0.3-0.4 s of a 1M-row data-drift run) and do not write to the pages kernels share.
    gc.freeze()
    sys.stdout.flush()
    sys.stderr.flush()

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)  # only now: a launcher that finds the socket finds everything imported
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wake-up fd is written
    kernels: dict[int, socket.socket] = {}
    server_fds = [listener, wake_r, wake_w]
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(0, selectors.EVENT_READ, "life")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "accept":
                    conn, _ = listener.accept()
                    _fork_kernel(conn, kernels, server_fds, sel)
                elif key.data == "child":
                    os.read(wake_r, 4096)
                    _reap(kernels)
                elif not os.read(0, 4096):  # the command ended
                    return
    finally:
        for pid in kernels:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _preimport(modules: Sequence[str]) -> None:
    """Import ``modules`` (one that fails is skipped: the notebook that needs it will say so)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional package: skipped, as a warm kernel skips it
            logger.debug("fork server: %s not importable: %s", name, exc)
    if "shap" in sys.modules:
        try:  # shap's Numba functions cached on disk, as the explainability notebook turns on
            from .explain.explainers import JIT_MODULES, cache_jit  # here: only a server that imported shap

            cache_jit(JIT_MODULES)
        except Exception as exc:  # optional: a kernel then does it itself
            logger.debug("fork server: no Numba cache: %s", exc)


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(n - got)
        if not chunk:
            raise ConnectionError("the launcher went away mid-request")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _fork_kernel(conn: socket.socket, kernels: dict[int, socket.socket], server_fds, sel) -> None:
    conn.settimeout(10.0)
    fds: list[int] = []
    try:
        header, fds, _, _ = socket.recv_fds(conn, HEADER_BYTES, PASSED_FDS)
        if len(fds) != PASSED_FDS:
            raise ConnectionError(f"expected {PASSED_FDS} file descriptors, got {len(fds)}")
        header += _recv_exactly(conn, HEADER_BYTES - len(header))
        request = json.loads(_recv_exactly(conn, int(header)))
        pid = os.fork()
    except (OSError, ValueError, ConnectionError) as exc:
        logger.warning("fork server: bad request: %s", exc)
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    if pid == 0:  # the kernel
        code = 1
        try:
            _close_server_side(server_fds, sel, kernels, conn)
            code = _become_kernel(request, fds)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    kernels[pid] = conn
    try:
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    except OSError:  # the launcher is gone: its kernel follows it (life pipe)
        pass


def _reap(kernels: dict[int, socket.socket]) -> None:
    while kernels:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = kernels.pop(pid, None)
        if conn is not None:
            try:
                conn.sendall(json.dumps({"status": status}).encode() + b"\n")
            except OSError:
                pass
            conn.close()


def _close_server_side(server_fds, sel, kernels, conn) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # an interrupt is a KeyboardInterrupt again
    sel.close()
    for item in server_fds:
        if isinstance(item, socket.socket):
            item.close()
        else:
            os.close(item)
    for other in kernels.values():
        other.close()
    conn.close()


def _become_kernel(request: dict, fds: list[int]) -> int:
    """In the fork: take the launcher's streams, folder, environment and arguments; run ipykernel."""
    os.setsid()  # its own process group: the launcher forwards signals to it
    stdin, stdout, stderr, life = fds
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    threading.Thread(target=_die_with_launcher, args=(life,), name="mlmon-launcher-watch", daemon=True).start()
    if "numpy" in sys.modules:  # the forks of one server would otherwise share numpy's global random state
        sys.modules["numpy"].random.seed()
    sys.argv = ["ipykernel_launcher", *request["argv"]]
    try:
        from ipykernel import kernelapp  # imported by the server already: this only binds the name

        kernelapp.launch_new_instance()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # the kernel crashed: say why where its output goes, as a kernel process would
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # a closed stream: nothing left to write
                pass
    return 0


def _die_with_launcher(life: int) -> None:
    """Block until the launcher's end of the life pipe closes; then end this kernel at once."""
    while True:
        try:
            if not os.read(life, 1):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
