"""Small display helpers for notebooks: escaped sentences, figures that close after showing."""

from __future__ import annotations

import html
from typing import Any


def say(text: str, *values: Any, tag: str = "p") -> None:
    """Display a sentence as HTML; ``{}`` fields are filled with escaped ``values``.

    Column names and category values are data: they may contain HTML, so they
    are always escaped. The template text itself is trusted (written by us).
    """
    from IPython.display import HTML, display

    filled = text.format(*(html.escape(str(v)) for v in values)) if values else html.escape(text)
    display(HTML(f"<{tag}>{filled}</{tag}>"))


def show(fig) -> None:
    """Display a matplotlib figure once and free it (no duplicate output at cell end)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def setup_notebook() -> None:
    """Figure format and pandas display options shared by every notebook."""
    import matplotlib.pyplot as plt
    import pandas as pd

    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3})
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.precision", 4)
