"""The launcher of a forked kernel: ``python -m mlmon_nb.forkkernel -f CONNECTION_FILE ...``.

jupyter_client starts this where it would start ``ipykernel_launcher`` (see
:mod:`mlmon_nb.forkserver`). It asks the command's fork server for a kernel, then stands for it:
signals Jupyter sends are forwarded to the kernel, and the launcher exits as the kernel did. With
no server to ask, it becomes ``ipykernel_launcher`` itself. Only the standard library is imported
here: this process starts once per notebook.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from .forkserver import HEADER_BYTES, READY_TIMEOUT_SECONDS, SERVER_ENV

#: Signals jupyter_client may send to a kernel's process group, forwarded to the kernel.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def main(argv: list[str]) -> None:
    address = os.environ.pop(SERVER_ENV, "")  # kernels the notebook starts are plain ones
    conn = _connect(address) if address else None
    if conn is None:
        _plain(argv)
    life_r, _life_w = os.pipe()  # the write end stays open here, and only here, until this process ends
    payload = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        socket.send_fds(conn, [f"{len(payload):0{HEADER_BYTES}d}".encode()], [0, 1, 2, life_r])
        conn.sendall(payload)
        os.close(life_r)
        replies = conn.makefile("rb")
        line = replies.readline()
    except OSError:
        line = b""
    if not line:  # the server went away before it forked: nothing was started
        _plain(argv)
    pid = json.loads(line)["pid"]

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:  # already ended: its status is on its way
            pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    line = replies.readline()
    if not line:  # the server ended without a status: it killed its kernels on its way out
        os.kill(os.getpid(), signal.SIGKILL)
    status = json.loads(line)["status"]
    if os.WIFSIGNALED(status):  # end by the same signal (an out-of-memory SIGKILL stays one)
        signum = os.WTERMSIG(status)
        if signum != signal.SIGKILL:
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    sys.exit(os.waitstatus_to_exitcode(status))


def _connect(address: str) -> socket.socket | None:
    """A connection to the server at ``address``, waiting while it starts; None if there is none."""
    path, _, pid = address.rpartition(":")
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            return conn
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            return None  # the server is gone (or the address is not one): a plain kernel
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def _plain(argv: list[str]) -> None:
    """Become ``ipykernel_launcher`` (same process, same pid: jupyter_client sees no difference)."""
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
