"""Figures drawn by background processes while a notebook goes on (notebooks that ``mlmon`` runs).

Drawing a figure to PNG takes 0.1-0.25 s of one core (matplotlib lays out and rasterises its text),
and a data-drift report draws a dozen: at 1M rows, about a quarter of the run. In a kernel the
runner started, :func:`mlmon_nb.display.show` hands each figure, pickled with the kernel's
``rcParams``, to a few worker processes and displays a placeholder with a display id in its place;
the notebook goes on. Each PNG replaces its placeholder (an ``update_display_data`` message) at the
next figure or the end of the cell that follows it, and :func:`settle`, which the runner's engine
calls after the last cell, waits for the rest before the notebook is saved. The saved notebook is
the one an inline drawing gives, byte for byte (tests/test_drawing.py).

- Workers are forks of the kernel, made by :func:`mlmon_nb.kernels.preload` (the first thing a
  runner's kernel runs) once the kernel's first modules, matplotlib among them, are imported and
  before anything else is: no import is under way, the kernel holds no data yet, and the fork
  costs a few milliseconds (its memory is the kernel's, shared until written). A worker keeps only its
  two pipes (every other descriptor, the kernel's sockets included, is closed), writes nothing
  to the kernel's streams, ignores the terminal's Ctrl-C, draws, and leaves with ``os._exit``. It
  ends when the kernel closes its pipe, however the kernel ends.
- A figure no worker drew (it does not pickle, its worker died) is drawn by the kernel itself:
  a report never lacks a figure.
- How many: :data:`WORKERS_ENV` in the kernel's environment (the runner sets it; 0 draws inline).
  Interactively (JupyterLab) figures are drawn at once, as before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import queue
import re
import signal
import sys
import textwrap
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

logger = logging.getLogger(__name__)

#: The kernel's environment variable naming how many drawing workers it starts (0 or unset: none).
WORKERS_ENV = "MLMON_FIGURE_WORKERS"
#: rcParams a worker keeps its own value of (the kernel's inline backend is not the worker's).
_OWN_PARAMS = ("backend", "backend_fallback", "interactive")
_HEADER = 8
#: A worker that delivers nothing for this long while figures wait is killed (its figures are drawn
#: by the kernel): the slowest figure of a report takes well under a second.
STALL_SECONDS = 60


def default_workers() -> int:
    """Workers a runner's kernel gets: one per core, at most two (none on one core: nothing runs beside it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else 2


def _send(stream: BinaryIO, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(_HEADER, "little"))
    stream.write(payload)
    stream.flush()


def _receive(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = int.from_bytes(header, "little")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def draw(payload: bytes) -> bytes:
    """The PNG of a pickled ``(rcParams, figure)``, drawn under those parameters."""
    import matplotlib  # matplotlib only when drawing (the CLI never loads it)
    import matplotlib.pyplot as plt  # matplotlib only when drawing (the CLI never loads it)

    params, pickled = pickle.loads(payload)
    with contextlib.ExitStack() as stack:
        with warnings.catch_warnings():  # setting a deprecated parameter (the kernel's own value) warns
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            stack.enter_context(matplotlib.rc_context(params))
        fig = pickle.loads(pickled)
        try:
            buf = io.BytesIO()
            png_of(fig, buf)
            return buf.getvalue()
        finally:
            plt.close(fig)


def png_of(fig, buf) -> None:
    """Write a figure as PNG at its own dpi, drawing it once when it fits.

    Every figure of mlmon_nb uses the constrained layout, which places titles,
    labels and legends inside the figure during the draw; ``savefig`` would
    draw twice (once to lay out, once to render), and ``bbox_inches="tight"``
    a third time. So the figure is drawn once and the pixels encoded; only a
    figure whose text reaches past its edges (a long title on a narrow
    figure) is saved again with a tight bounding box, so nothing is cut.
    """
    import matplotlib.image  # matplotlib only when drawing (the CLI never loads it)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib only when drawing (the CLI never loads it)

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    wrap_long_text(fig, canvas.get_renderer())
    canvas.draw()
    inside = fig.bbox.padded(1.0)
    tight = fig.get_tightbbox(canvas.get_renderer()).transformed(fig.dpi_scale_trans)
    if tight.x0 < inside.x0 or tight.y0 < inside.y0 or tight.x1 > inside.x1 or tight.y1 > inside.y1:
        fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
        return
    matplotlib.image.imsave(buf, canvas.buffer_rgba(), format="png", origin="upper", dpi=fig.dpi)


#: Room kept between wrapped text and the edge of its cell, in pixels (the layout's own pad is ~4).
_TEXT_PAD = 10
_INF = float("inf")
_MATHTEXT = re.compile(r"(?<!\\)\$")


def wrap_long_text(fig, renderer) -> None:
    """Wrap titles and axis labels that would reach past the figure's edge onto more lines.

    Done before the figure is laid out, so the layout makes room for the lines: the figure keeps
    its size (a label cut by the edge would otherwise be saved with a tight bounding box, a wider
    picture than the page expects, at the cost of a second drawing). A title or x label is centred
    on its axes, which the y tick labels push right; a y label is centred between the title and the
    x labels. Only the figure's own edges limit a text (the layout keeps neighbouring cells apart).
    Text with mathtext (an unescaped ``$``) is left as it is.
    """
    width, height = fig.bbox.width, fig.bbox.height
    if fig._suptitle is not None:
        _wrap(fig._suptitle, width - 2 * _TEXT_PAD, renderer)
    for ax in fig.axes:
        if ax.get_visible():
            cells = _cell(ax, width, height)
            # The y label first (its lines push the axes right), the y label again once the x label
            # has its lines (they push the axes up).
            for wrap in (_wrap_y_label, _wrap_across, _wrap_y_label):
                wrap(ax, *cells, renderer)


def _wrap_across(ax, cols, rows, renderer) -> None:
    """Wrap the titles and x label of ``ax`` to the room its cell leaves them between the figure's edges."""
    x0, x1, first_col, last_col = cols
    width = ax.figure.bbox.width
    texts = [t for t in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label) if t.get_text()]
    if not any(_length(t, renderer) > 0.5 * (x1 - x0) for t in texts):  # tick labels measured only when it can matter
        return
    decor = max((t.get_window_extent(renderer).width for t in ax.yaxis.get_ticklabels() if t.get_text()),
                default=0.0) + _TEXT_PAD
    if ax.yaxis.label.get_text():
        decor += ax.yaxis.label.get_window_extent(renderer).width + _TEXT_PAD
    centre = (x0 + decor + x1) / 2
    half = min(centre - _TEXT_PAD if first_col else _INF, width - _TEXT_PAD - centre if last_col else _INF)
    for text in texts:
        _wrap(text, 2 * half, renderer)


def _wrap_y_label(ax, cols, rows, renderer) -> None:
    """Wrap the y label of ``ax`` to the room its cell leaves it between the figure's edges."""
    y0, y1, bottom_row, top_row = rows
    height = ax.figure.bbox.height
    if not ax.yaxis.label.get_text() or _length(ax.yaxis.label, renderer) <= 0.5 * (y1 - y0):
        return
    below = max((t.get_window_extent(renderer).height for t in ax.xaxis.get_ticklabels() if t.get_text()),
                default=0.0) + _TEXT_PAD
    if ax.xaxis.label.get_text():
        below += ax.xaxis.label.get_window_extent(renderer).height
    above = ax.title.get_window_extent(renderer).height + _TEXT_PAD if ax.title.get_text() else 0.0
    centre = (y0 + below + y1 - above) / 2
    half = min(centre - _TEXT_PAD if bottom_row else _INF, height - _TEXT_PAD - centre if top_row else _INF)
    _wrap(ax.yaxis.label, 2 * half, renderer)


def _cell(ax, width: float, height: float) -> tuple[tuple[float, float, bool, bool], tuple[float, float, bool, bool]]:
    """The pixels an axes' grid cell spans, and whether it touches each edge of the figure:
    ``((left, right, at the left edge, at the right edge), (bottom, top, at the bottom, at the top))``."""
    spec = ax.get_subplotspec()
    if spec is None:
        return (0.0, width, True, True), (0.0, height, True, True)
    grid = spec.get_gridspec()

    def span(ratios, cells, n, size):
        ratios = list(ratios) if ratios is not None else [1.0] * n
        total = sum(ratios)
        start = sum(ratios[:cells.start]) / total * size
        return start, start + sum(ratios[cells.start:cells.stop]) / total * size, cells.start == 0, cells.stop == n

    cols = span(grid.get_width_ratios(), spec.colspan, grid.ncols, width)
    lo, hi, top, bottom = span(grid.get_height_ratios(), spec.rowspan, grid.nrows, height)  # rows count from the top
    return cols, (height - hi, height - lo, bottom, top)


def _length(text, renderer) -> float:
    """A text's extent along its reading direction, in pixels."""
    box = text.get_window_extent(renderer)
    return box.height if abs(text.get_rotation() % 180 - 90) < 1 else box.width


def _wrap(text, room: float, renderer) -> None:
    content = text.get_text()
    if room <= 0 or _MATHTEXT.search(content):
        return
    length = _length(text, renderer)
    if length <= room:
        return
    longest = max(len(line) for line in content.split("\n"))
    chars = max(12, int(longest * room / length * 0.95))
    text.set_text("\n".join(textwrap.fill(line, chars, break_long_words=False) or line
                             for line in content.split("\n")))


def pickle_figure(fig) -> bytes | None:
    """``fig`` with the kernel's rcParams, as a worker's input (None if the figure does not pickle)."""
    import matplotlib  # matplotlib only when drawing (the CLI never loads it)

    with warnings.catch_warnings():  # reading a deprecated parameter warns; the figure's reader has no use for that
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
        params = {k: v for k, v in matplotlib.rcParams.items() if k not in _OWN_PARAMS}
    try:
        return pickle.dumps((params, pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)),
                            protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an artist holding a lambda, an open file, ...: drawn inline instead
        logger.debug("figure not picklable, drawn inline: %s", exc)
        return None


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """A worker: read pickled figures from ``inp`` until it ends, answer ``(ok, png or error)`` on ``out``."""
    import matplotlib  # matplotlib only when drawing (the CLI never loads it)

    matplotlib.use("agg")
    warnings.simplefilter("ignore")  # nobody reads a worker's warnings; the kernel's drawing would show them
    _warm_up()
    while (payload := _receive(inp)) is not None:
        try:
            reply = (True, draw(payload))
        except Exception as exc:  # the kernel draws this one itself
            reply = (False, f"{type(exc).__name__}: {exc}")
        _send(out, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def _warm_up() -> None:
    """Draw a figure with text and PNG output once, while the kernel still computes: the font
    files, glyph caches and the PNG encoder are loaded before the first real figure arrives."""
    import matplotlib.pyplot as plt  # matplotlib only when drawing (the CLI never loads it)

    fig, ax = plt.subplots(figsize=(2, 1.5), layout="constrained")
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.set_title("Warm-up 0.123", fontweight="bold")
    ax.legend()
    png_of(fig, io.BytesIO())
    plt.close(fig)


@dataclass
class Job:
    """One figure on its way: its placeholder's display id, title and pickled input."""

    display_id: str
    title: str
    payload: bytes


class _Worker:
    """A drawing worker: a fork of the kernel, talking over two pipes."""

    def __init__(self) -> None:
        child_in, kernel_out = os.pipe()
        kernel_in, child_out = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the worker: nothing of the kernel but its memory; exits without cleanup
            code = 1
            try:
                _become_worker(child_in, child_out)
                code = 0
            finally:
                os._exit(code)
        os.close(child_in)
        os.close(child_out)
        self.inp = os.fdopen(kernel_out, "wb")
        self.out = os.fdopen(kernel_in, "rb")

    def close(self) -> None:
        for stream in (self.inp, self.out):
            try:
                stream.close()
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _become_worker(inp_fd: int, out_fd: int) -> None:
    """In the fork: keep only the two pipes (the kernel's sockets and files stay the kernel's), then serve."""
    low, high = sorted((inp_fd, out_fd))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, os.sysconf("SC_OPEN_MAX"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the kernel's: the worker ends with its pipe
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    serve(os.fdopen(inp_fd, "rb"), os.fdopen(out_fd, "wb"))


class Drawer:
    """The kernel's drawing workers and the figures they have not drawn yet.

    ``publish(job, png)`` puts a drawn figure in place of its placeholder; it is only ever called
    from the kernel's main thread (inside a cell's execution, where the message belongs).
    """

    def __init__(self, workers: int, publish: Callable[[Job, bytes], None]):
        self._publish = publish
        self._todo: queue.Queue[Job | None] = queue.Queue()
        self._done: queue.Queue[tuple[Job, bool, Any]] = queue.Queue()
        self._pending: dict[str, Job] = {}
        self._workers = [_Worker() for _ in range(workers)]
        self._threads = [threading.Thread(target=self._pump, args=(w,), name="mlmon-drawing", daemon=True)
                         for w in self._workers]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        self._pending[job.display_id] = job
        self._todo.put(job)

    def _pump(self, worker: _Worker) -> None:
        """One worker's figures, one at a time (a thread per worker; the pipes release the GIL)."""
        while (job := self._todo.get()) is not None:
            try:
                _send(worker.inp, job.payload)
                answer = _receive(worker.out)
            except OSError:
                answer = None
            if answer is None:  # the worker is gone: its job, and the others, go to the kernel
                self._done.put((job, False, "the drawing worker ended"))
                return
            ok, data = pickle.loads(answer)
            self._done.put((job, ok, data))

    def deliver(self, wait: bool = False) -> None:
        """Publish the figures drawn so far; with ``wait``, all of them (drawing here what no worker can).

        A worker silent for :data:`STALL_SECONDS` while figures wait is killed: its figure and the
        rest are then drawn here (a hung worker never holds a run).
        """
        last = time.monotonic()
        while self._pending:
            try:
                job, ok, data = self._done.get(block=wait, timeout=0.5 if wait else None)
            except queue.Empty:
                if not wait:
                    return
                if not any(t.is_alive() for t in self._threads):  # no worker left: the rest are drawn here
                    self._draw_here_all()
                elif time.monotonic() - last > STALL_SECONDS:
                    logger.warning("a figure worker answered nothing for %d s: the kernel draws the rest",
                                   STALL_SECONDS)
                    self._kill()
                continue
            last = time.monotonic()
            if job.display_id not in self._pending:
                continue
            if not ok:
                logger.debug("figure %r drawn in the kernel: %s", job.title, data)
                data = draw(job.payload)
            del self._pending[job.display_id]
            self._publish(job, data)

    def _draw_here_all(self) -> None:
        """Every worker ended (each reported the figure it held): the queued figures are the kernel's."""
        while True:
            try:
                job = self._todo.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._done.put((job, False, "no drawing worker left"))

    def _kill(self) -> None:
        for worker in self._workers:
            try:
                os.kill(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Stop the workers (after :meth:`deliver` with ``wait``: nothing is left to draw)."""
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        for worker in self._workers:
            worker.close()


_drawer: Drawer | None = None


def start(publish: Callable[[Job, bytes], None]) -> Drawer | None:
    """This kernel's drawer, started on first use when :data:`WORKERS_ENV` asks for workers."""
    global _drawer
    if _drawer is None:
        try:
            workers = int(os.environ.get(WORKERS_ENV, "0") or 0)
        except ValueError:
            workers = 0
        if workers <= 0:
            return None
        try:
            _drawer = Drawer(workers, publish)
        except OSError as exc:  # no workers: figures are drawn inline
            logger.warning("could not start the drawing workers: %s", exc)
            os.environ[WORKERS_ENV] = "0"
            return None
    return _drawer


def current() -> Drawer | None:
    """The drawer if this kernel has started one."""
    return _drawer


def settle() -> None:
    """Put every figure still being drawn in its place and stop the workers (the runner's engine
    calls it after a notebook's last cell, inside the kernel)."""
    global _drawer
    drawer, _drawer = _drawer, None
    if drawer is not None:
        try:
            drawer.deliver(wait=True)
        finally:
            drawer.close()


def new_id() -> str:
    return f"mlmon-figure-{uuid.uuid4().hex}"
