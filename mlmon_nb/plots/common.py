"""Shared style and helpers of every figure."""

from __future__ import annotations

import math

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
