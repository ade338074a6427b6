"""Shared style and helpers of every figure.

Text that comes from data (column names, levels, versions, model names, and
titles built from them) goes through :func:`plain` before matplotlib sees it:
a ``$`` would otherwise start mathtext, which renders ``$price$`` as an
italic *price* and fails on a level such as ``$10_$25``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import matplotlib.pyplot as plt
from matplotlib import ticker

REF_COLOR = "#4C72B0"
CUR_COLOR = "#DD8452"
STATUS_COLORS = {"ok": "#2e7d32", "warn": "#f9a825", "alert": "#c62828", "error": "#6a1b1b"}


def _fig(width: float = 7.0, height: float = 3.6):
    fig, ax = plt.subplots(figsize=(width, height), dpi=90, layout="constrained")
    return fig, ax


def _grid(n: int, cols: int = 3, cell=(3.3, 2.4)):
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cell[0] * cols, cell[1] * rows), dpi=90,
                             layout="constrained", squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


_DOLLAR = re.compile(r"(?<!\\)\$")


def plain(text: Any, width: int | None = None) -> str:
    r"""Data as plain figure text: every ``$`` escaped (no mathtext), cut to ``width`` characters.

    Idempotent: text already escaped is left as it is, so a title built from
    escaped names can go through it again.

    Examples
    --------
    >>> plain("$10_$25")
    '\\$10_\\$25'
    >>> plain(plain("$price$")) == plain("$price$")
    True
    >>> plain("a_very_long_column_name", 10)
    'a_very_lo…'
    """
    s = str(text)
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return _DOLLAR.sub(r"\\$", s)


class ShortNumbers(ticker.Formatter):
    """Tick labels in the data's own units, short: '150k', '1.5M', '0.25' (no offset, no exponent corner).

    One scale for the whole axis, chosen from its view limits, so neighbouring
    labels read alike (never '5000' beside '10k').
    """

    _SCALES = ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k"))

    def __call__(self, x, pos=None):
        lo, hi = self.axis.get_view_interval() if self.axis is not None else (x, x)
        top = max(abs(lo), abs(hi))
        if abs(x) < 1e-12 * max(top, 1e-300):
            return "0"
        for above, divisor, suffix in self._SCALES:
            if top >= above:
                return _trim(x / divisor) + suffix
        if top < 1e-3:  # tiny figures: every label in the same scientific form
            mantissa, exponent = f"{x:.3e}".split("e")
            return _trim(float(mantissa)) + f"e{int(exponent)}".replace("-", "\u2212")
        return _trim(x)


def _trim(value: float) -> str:
    """'150', '2.5', '0.001', '−3' (up to 4 significant digits, with the minus sign matplotlib uses)."""
    if abs(value) < 1e-12:
        return "0"
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "\u2212")


def value_axis(axis, nbins: int = 5) -> None:
    """A numeric axis in the data's own units that never crowds: at most ``nbins`` + 1 round ticks,
    labelled by :class:`ShortNumbers` (pass ``ax.xaxis`` or ``ax.yaxis``)."""
    axis.set_major_locator(ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(ShortNumbers())
