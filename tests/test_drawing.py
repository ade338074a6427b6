"""Figures drawn by forked workers (mlmon_nb.drawing): the PNGs the kernel would have drawn, in
their places, whatever happens to the workers."""

from __future__ import annotations

import io
import json
import os
import signal
import time

import matplotlib
import pytest

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import FuncFormatter  # noqa: E402

from mlmon_nb import drawing  # noqa: E402

from conftest import run_window  # noqa: E402


def _figure(n: int):
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.plot(range(10), [i * (n + 1) for i in range(10)], label=f"series {n}")
    ax.bar([2, 4, 6], [n, 2 * n, 3 * n], alpha=0.4, label="bars")
    ax.set_title(f"Figure {n}: drift of feature_{n} (alert at 0.1)")
    ax.set_xlabel("value (EUR)")
    ax.set_ylabel("share of rows")
    ax.legend()
    return fig


def _inline(n: int) -> bytes:
    fig = _figure(n)
    buf = io.BytesIO()
    drawing.png_of(fig, buf)
    plt.close(fig)
    return buf.getvalue()


def _drawn(n_figures: int, workers: int = 2, before_deliver=None) -> tuple[dict[str, bytes], list[str]]:
    """Figures 0..n-1 through a Drawer: what was published (display id -> PNG) and in which order."""
    published: dict[str, bytes] = {}
    order: list[str] = []

    def publish(job, png):
        published[job.display_id] = png
        order.append(job.display_id)

    drawer = drawing.Drawer(workers, publish)
    try:
        for n in range(n_figures):
            fig = _figure(n)
            drawer.submit(drawing.Job(f"fig-{n}", f"Figure {n}", drawing.pickle_figure(fig)))
            plt.close(fig)
        if before_deliver:
            before_deliver(drawer)
        drawer.deliver(wait=True)
    finally:
        drawer.close()
    return published, order


def test_workers_draw_exactly_the_pngs_the_kernel_draws():
    published, order = _drawn(6)
    assert sorted(order) == [f"fig-{n}" for n in range(6)]  # each placeholder filled once
    for n in range(6):
        assert published[f"fig-{n}"] == _inline(n)


def test_the_kernels_drawing_parameters_travel_with_the_figure():
    # text.hinting is read while drawing, not when the figure is built: the worker must draw under
    # the kernel's value, not its own
    default = _inline(1)
    with matplotlib.rc_context({"text.hinting": "no_hinting"}):
        inline = _inline(1)
        published, _ = _drawn(2)
    assert inline != default
    assert published["fig-1"] == inline


def test_figures_of_dead_workers_are_drawn_by_the_kernel():
    def kill_all(drawer):
        for worker in drawer._workers:
            os.kill(worker.pid, signal.SIGKILL)

    published, _ = _drawn(4, before_deliver=kill_all)
    assert [published[f"fig-{n}"] for n in range(4)] == [_inline(n) for n in range(4)]


def test_a_hung_worker_is_killed_and_its_figures_drawn_by_the_kernel(monkeypatch):
    monkeypatch.setattr(drawing, "STALL_SECONDS", 1)

    def stop_all(drawer):
        for worker in drawer._workers:
            os.kill(worker.pid, signal.SIGSTOP)

    t0 = time.monotonic()
    published, _ = _drawn(3, before_deliver=stop_all)
    assert [published[f"fig-{n}"] for n in range(3)] == [_inline(n) for n in range(3)]
    assert time.monotonic() - t0 < 30


def test_a_figure_that_does_not_pickle_is_left_to_the_kernel():
    fig = _figure(0)
    fig.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f} EUR"))
    assert drawing.pickle_figure(fig) is None
    plt.close(fig)


def test_without_workers_asked_for_the_kernel_draws_inline(monkeypatch):
    monkeypatch.delenv(drawing.WORKERS_ENV, raising=False)
    assert drawing.start(lambda job, png: None) is None
    monkeypatch.setenv(drawing.WORKERS_ENV, "0")
    assert drawing.start(lambda job, png: None) is None


def _figure_outputs(run_dir, name):
    nb = json.loads((run_dir / f"{name}.ipynb").read_text())
    return [o for c in nb["cells"] for o in c.get("outputs", [])
            if "<Figure" in "".join(o.get("data", {}).get("text/plain", ""))]


@pytest.mark.parametrize("notebook", ["data_drift"])
def test_a_notebook_run_with_workers_saves_the_same_figures_as_one_without(demo, monkeypatch, notebook):
    runs = {}
    for workers in ("0", "2"):
        monkeypatch.setenv(drawing.WORKERS_ENV, workers)
        _, run_dir = run_window(demo, 3, [notebook])
        runs[workers] = _figure_outputs(run_dir, notebook)
    inline, drawn = runs["0"], runs["2"]
    assert len(inline) >= 5
    assert all("image/png" in o["data"] for o in drawn)  # no placeholder left
    assert [o["data"]["image/png"] for o in drawn] == [o["data"]["image/png"] for o in inline]
    assert [o["metadata"] for o in drawn] == [o["metadata"] for o in inline]  # alt texts


# --------------------------------------------------------------------------- text that would not fit

def _png_size(fig, monkeypatch) -> tuple[tuple[int, int], list[str]]:
    """(pixel size of the PNG png_of writes, the ways it saved it): a second, tight save is recorded."""
    from PIL import Image

    saves: list[str] = []
    real = fig.savefig
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (saves.append("tight"), real(*a, **k)))
    buf = io.BytesIO()
    drawing.png_of(fig, buf)
    return Image.open(io.BytesIO(buf.getvalue())).size, saves


def _inside(fig, text) -> bool:
    box = text.get_window_extent(fig.canvas.get_renderer())
    return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height


def test_a_title_and_labels_longer_than_the_figure_are_wrapped_and_the_figure_keeps_its_size(monkeypatch):
    fig, ax = plt.subplots(figsize=(5, 3), dpi=90, layout="constrained")
    ax.barh(range(3), [1, 2, 3])
    ax.set_yticks(range(3), ["a rather long level name", "b", "c"])
    ax.set_title("Cohort tenure > 165.5 and tenure <= 386.0 and device = mobile: mean contribution per feature")
    ax.set_xlabel("lost performance × share (outcome rate, 0.01 = 1 point; red: 95% interval above 0)")
    ax.set_ylabel("mean residual of the calibrated score, per bin of rows (label − score)")
    size, saves = _png_size(fig, monkeypatch)
    assert size == (450, 270) and saves == []  # drawn once, at the size the page expects
    for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
        assert "\n" in text.get_text() and _inside(fig, text), text.get_text()
    assert ax.title.get_text().replace("\n", " ") == ("Cohort tenure > 165.5 and tenure <= 386.0 and device = mobile: "
                                                      "mean contribution per feature")  # words kept, in order
    plt.close(fig)


def test_text_that_fits_is_left_alone_and_mathtext_is_never_broken(monkeypatch):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), dpi=90, layout="constrained")
    axes[0].set_title("Effect")
    axes[0].set_xlabel("effect ÷ alert threshold (1 = at the threshold)")  # room in its half: never wrapped
    long_math = r"$\rho$ outcome reliance (dimensionless: 1 = as the model assumes, 0 = no effect, < 0 = reversed)"
    axes[1].set_xlabel(long_math)
    size, saves = _png_size(fig, monkeypatch)
    assert axes[0].title.get_text() == "Effect"
    assert axes[0].xaxis.label.get_text() == "effect ÷ alert threshold (1 = at the threshold)"
    assert axes[1].xaxis.label.get_text() == long_math and saves == ["tight"]  # the tight save still catches it
    plt.close(fig)


def test_wrapping_is_the_same_in_a_worker_as_in_the_kernel():
    fig, ax = plt.subplots(figsize=(4, 3), dpi=90, layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set_title("device: baseline vs window — Jensen-Shannon distance 0.194 (alert at 0.05), alert")
    payload = drawing.pickle_figure(fig)
    buf = io.BytesIO()
    drawing.png_of(fig, buf)
    plt.close(fig)
    assert drawing.draw(payload) == buf.getvalue()
