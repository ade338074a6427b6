"""Drift over time: each feature's decision statistic on consecutive chunks of the window (since when)."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from .. import stats
from ..baseline import Baseline
from ..chunks import parse_chunk, to_utc
from ..config import Thresholds
from ..rules import band_limits, decide, sigmas
from .parallel import parallel_map
from .reference import categorical_reference, numeric_reference
from .result import TimeDrift
from .rule import Rule, beyond, effective, significant

MIN_CHUNK_ROWS = 30  # a window chunk with fewer valid values gets no statistic
GRID_ROWS = 20_000  # rows per window chunk the over-time grid measures (a systematic sample above)
MAX_CHUNKS = 62  # more time chunks than this are merged (a heatmap stays readable)


def over_time(baseline: Baseline, current: pd.DataFrame, rules: Mapping[str, Rule], thresholds: Thresholds, *,
              timestamp: str, chunk: str, start=None, end=None) -> TimeDrift:
    """Each feature's decision statistic on consecutive chunks of the window.

    Chunks start at ``start`` (the window's start; the first timestamp when
    None) and last ``chunk``; more than :data:`MAX_CHUNKS` chunks are merged.
    A chunk with more than :data:`GRID_ROWS` rows is measured on a
    systematic sample of that many (every k-th row in time order), its band
    scaled to the sample: at that size the practical floor already dominates
    the band, so more rows would change the cost, not the decisions. Only
    cells beyond their band and floor get a p-value; the others count as
    p = 1 in the grid's Holm correction, which can only make it more
    conservative.
    """
    ts = pd.to_datetime(current[timestamp], utc=True)
    t0 = to_utc(start) if start is not None else ts.min().floor("D")
    t1 = to_utc(end) if end is not None else ts.max() + pd.Timedelta(microseconds=1)
    length, n_chunks, notes = chunking(chunk, t0, t1)
    idx = ((ts - t0) // length).to_numpy()
    order = np.argsort(idx, kind="stable")  # the window is read in time order: usually the identity
    bounds = np.searchsorted(idx[order], np.arange(n_chunks + 1))
    names = list(rules)
    F, C = len(names), n_chunks
    values = np.full((F, C), np.nan)
    band_hi = np.full((F, C), np.nan)
    pvals = np.full((F, C), 1.0)
    rows = np.diff(bounds)
    width = sigmas(thresholds.band_margin)

    def measure(item):
        i, name, series = item
        rule = rules[name]
        if rule.ignore:
            return
        test = rule.test
        floor = min(rule.warn, rule.alert)
        band = baseline.band("drift", rule.method, name)
        if rule.kind == "numeric":
            ref = numeric_reference(baseline, name)
            column = series.to_numpy(dtype=float)[order]
        else:
            ref = categorical_reference(baseline, name)
            column = ref.codes(series)[order]
        for j in range(C):
            part = column[bounds[j]:bounds[j + 1]]
            if len(part) > GRID_ROWS:
                part = part[:: math.ceil(len(part) / GRID_ROWS)]
            if rule.kind == "numeric":
                part = part[np.isfinite(part)]
                fig = stats.numeric_against(ref, part, [rule.method], p_values=False)[rule.method]
            else:
                counts = ref.counts_of(part)
                figs = stats.categorical_against(ref, None, list(dict.fromkeys([rule.method, test])), counts=counts)
                fig = figs[rule.method]
            n_valid = len(part) if rule.kind == "numeric" else int((part >= 0).sum())
            if n_valid < MIN_CHUNK_ROWS or not np.isfinite(fig.value):
                continue
            _, hi = band_limits(band, n_valid, width, worse="up")
            values[i, j] = fig.value
            band_hi[i, j] = hi if hi is not None else np.nan
            # Only a cell beyond its band and floor can fire: the others keep p = 1, which
            # keeps Holm conservative and spares most (slow, large-sample) p-values.
            if fig.value > max(hi if hi is not None else -np.inf, floor):
                if rule.kind == "categorical":
                    p = figs[test].p_value
                else:
                    p = stats.numeric_against(ref, part, [test])[test].p_value
                pvals[i, j] = p if p is not None else 1.0

    # Each feature fills its own row of the grid: features run on every core.
    parallel_map(measure, [(i, name, current[name]) for i, name in enumerate(names)],
                 values=len(current) * len(names))
    return decide_grid(names, rules, values, band_hi, pvals, rows, thresholds, t0=t0, length=length, notes=notes)


def chunking(chunk: str, t0, t1) -> tuple[pd.Timedelta, int, list[str]]:
    """Chunk length and count of ``[t0, t1)``, merged when there would be more than :data:`MAX_CHUNKS`."""
    length = parse_chunk(chunk, "chunk")
    n_chunks = max(1, math.ceil((t1 - t0) / length))
    notes = []
    if n_chunks > MAX_CHUNKS:
        factor = math.ceil(n_chunks / MAX_CHUNKS)
        notes.append(f"{n_chunks} chunks of {chunk} would not be readable: merged {factor} at a time.")
        length, n_chunks = length * factor, math.ceil(n_chunks / factor)
    return length, n_chunks, notes


def decide_grid(names, rules: Mapping[str, Rule], values: np.ndarray, band_hi: np.ndarray, pvals: np.ndarray,
                rows: np.ndarray, thresholds: Thresholds, *, t0, length, notes) -> TimeDrift:
    """The grid's statuses from its cells' figures, band edges and raw p-values (Holm over the grid)."""
    F, C = values.shape
    pvals = pvals.copy()
    pvals[~np.isfinite(values)] = np.nan
    status = np.full((F, C), "ok", dtype=object)
    ratio = np.full((F, C), np.nan)
    # Holm over the whole grid (family-wise error at fdr): among hundreds of cells an outline,
    # and the "since" it dates, is then rarely noise (BH would let 5% of them be).
    adjusted = stats.holm(pvals.ravel()).reshape(pvals.shape)
    for j in range(C):
        for i, name in enumerate(names):
            if not np.isfinite(values[i, j]):
                continue
            r = rules[name]
            value = float(values[i, j])
            p = float(adjusted[i, j]) if np.isfinite(adjusted[i, j]) else None
            hi = float(band_hi[i, j]) if np.isfinite(band_hi[i, j]) else None
            status[i, j] = decide(value, r.warn, r.alert, outside=beyond(value, hi),
                                  significant=significant(p, thresholds.fdr))
            alert_thr = effective(hi, r.alert)
            ratio[i, j] = value / alert_thr if alert_thr > 0 else np.nan
    starts = tuple(t0 + k * length for k in range(C))
    return TimeDrift(features=tuple(names), starts=starts, length=length, rows=rows, values=values, ratio=ratio,
                     status=status, notes=tuple(notes))
