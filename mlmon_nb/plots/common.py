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
