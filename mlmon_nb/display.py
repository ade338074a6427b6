"""Small display helpers for notebooks: escaped sentences, figures that close after showing."""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

from . import drawing
from .drawing import png_of  # noqa: F401  (drawn figures' PNG; here since round 1)


class _Escaped:
    """A value for ``str.format`` that formats itself with the field's spec, then escapes the result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        return html.escape(format(self.value, spec))

    def __str__(self) -> str:  # "{!s}"
        return html.escape(str(self.value))

    def __repr__(self) -> str:  # "{!r}"
        return html.escape(repr(self.value))


def fill(text: str, *values: Any) -> str:
    """The HTML of :func:`say`: ``text`` is trusted markup; each value is formatted, then escaped.

    Format specs apply to the values themselves (``{:.1%}`` on a float), so numbers
    keep their type until they are written; only the written text is escaped.

    Examples
    --------
    >>> fill("<b>{}</b> at {:.1%}", "<price>", 0.1234)
    '<b>&lt;price&gt;</b> at 12.3%'
    >>> fill("{:,} rows", 19555)
    '19,555 rows'
    """
    if not values:
        return html.escape(text)
    return text.format(*(_Escaped(v) for v in values))


def say(text: str, *values: Any, tag: str = "p") -> None:
    """Display a sentence as HTML; ``{}`` fields are filled with ``values``, formatted then escaped.

    Column names and category values are data: they may contain HTML, so they
    are always escaped. The template text itself is trusted (written by us).
    Fields take format specs (``mn.say("{:.1%} of rows", rate)``).
    """
    from IPython.display import HTML, display  # IPython only inside a notebook kernel

    display(HTML(f"<{tag}>{fill(text, *values)}</{tag}>"))


def figure_title(fig) -> str:
    """The figure's title (suptitle or first axes title), used as its alt text."""
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        return sup.get_text()
    for ax in fig.axes:
        if ax.get_title():
            return ax.get_title()
    return "figure"


def show(fig) -> None:
    """Display a matplotlib figure as a PNG with its title as alt text, then free it.

    In a kernel ``mlmon`` runs, the figure is drawn by a background worker while the notebook goes
    on (:mod:`mlmon_nb.drawing`); a placeholder holds its place until the PNG arrives.
    """
    import matplotlib.pyplot as plt  # matplotlib only when drawing (the CLI never loads it)
    from IPython.display import display  # IPython only inside a notebook kernel

    title = figure_title(fig)
    drawer = _drawer()
    payload = drawing.pickle_figure(fig) if drawer is not None else None
    if drawer is not None and payload is not None:
        job = drawing.Job(display_id=drawing.new_id(), title=title, payload=payload)
        display({"text/plain": f"<Figure: {title}>"}, raw=True, display_id=job.display_id)
        plt.close(fig)
        drawer.submit(job)
        drawer.deliver()  # those drawn meanwhile
        return
    buf = io.BytesIO()
    png_of(fig, buf)
    plt.close(fig)
    data, metadata = _png_output(title, buf.getvalue())
    display(data, raw=True, metadata=metadata)


def _png_output(title: str, png: bytes) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    return ({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<Figure: {title}>"},
            {"image/png": {"alt": title}})


def start_drawing() -> None:
    """Start the figure workers of a kernel ``mlmon`` runs now (no-op elsewhere; a kernel that did
    not start them starts them at its first figure)."""
    _drawer()


def _drawer() -> drawing.Drawer | None:
    """The kernel's drawing workers (None: draw inline); each cell's end delivers what they drew."""
    started = drawing.current() is not None
    drawer = drawing.start(_publish)
    if drawer is not None and not started:
        from IPython import get_ipython  # IPython only inside a notebook kernel

        shell = get_ipython()
        if shell is not None and not getattr(shell, "_mlmon_delivers", False):
            shell.events.register("post_run_cell", _deliver_drawn)
            shell._mlmon_delivers = True
    return drawer


def _deliver_drawn(result=None) -> None:
    drawer = drawing.current()
    if drawer is not None:
        drawer.deliver()


def _publish(job: drawing.Job, png: bytes) -> None:
    """A figure a worker drew, in place of its placeholder."""
    from IPython.display import update_display  # IPython only inside a notebook kernel

    data, metadata = _png_output(job.title, png)
    update_display(data, raw=True, metadata=metadata, display_id=job.display_id)


def setup_notebook() -> None:
    """Figure format and pandas display options shared by every notebook."""
    import matplotlib.pyplot as plt  # matplotlib only when drawing (the CLI never loads it)
    import pandas as pd  # pandas only when a frame is asked for (the CLI starts without it)

    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats  # IPython only inside a notebook kernel

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3})
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.precision", 4)


def format_table(df, percent=(), digits: int = 4, max_rows: int | None = None) -> str:
    """A DataFrame as escaped HTML with sensible precision (percent columns as %)."""

    import pandas as pd  # pandas only when a frame is asked for (the CLI starts without it)

    shown = df.head(max_rows) if max_rows else df
    out = pd.DataFrame(index=shown.index)
    for col in shown.columns:
        s = shown[col]
        if col in percent:
            out[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}")
        elif pd.api.types.is_float_dtype(s) or s.map(lambda v: isinstance(v, float)).all():
            out[col] = s.map(lambda v: _num(v, digits))
        else:
            out[col] = s.map(lambda v: "" if v is None else str(v))
    html_text = out.to_html(index=False, escape=True, classes="mlmon-table", border=0)
    if max_rows and len(df) > max_rows:
        html_text += f"<p><i>{len(df) - max_rows} more rows not shown.</i></p>"
    return html_text


def _num(v, digits: int) -> str:

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if not isinstance(v, (int, float)):
        return str(v)
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1000:
        return f"{v:,.0f}"
    if mag < 1e-3:
        return f"{v:.2e}"
    return f"{v:.{digits}g}"


def table(df, percent=(), digits: int = 4, max_rows: int | None = None) -> None:
    """Display a DataFrame with :func:`format_table`."""
    from IPython.display import HTML, display  # IPython only inside a notebook kernel

    display(HTML(format_table(df, percent=percent, digits=digits, max_rows=max_rows)))
