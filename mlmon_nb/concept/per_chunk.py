"""Performance per chunk: realized on the labelled rows, estimated on every row, with bands.

Realized metrics come with 95% intervals (ROC AUC: DeLong; log loss,
accuracy, MAE: normal approximation of a mean; RMSE: delta method; PR AUC, F1,
macro F1: Poisson bootstrap), the baseline band at the chunk's labelled rows,
label coverage, and the performance *estimated without labels* on every row
(:class:`~.estimator.PerformanceEstimator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..chunks import chunk_word, parse_chunk, to_utc
from ..errors import UsageError
from ..metrics import MIN_POSITIVES_PER_CHUNK
from ..plots import concept as plots
from ..rules import Band
from .decisions import band_edges, beyond_band, worse_direction
from .estimator import PerformanceEstimator
from .spec import DISPLAY, ModelSpec
from .tables import summary_table, table_html
from .weighted import confidence_interval, realized

__all__ = ["ChunkPerformance", "ChunkMeasures", "chunk_performance", "assemble", "chunk_bounds", "MIN_LABELS_PER_CHUNK", "MIN_CLASS_ROWS", "CHUNK_WHERE"]

MIN_LABELS_PER_CHUNK = 200
MIN_CLASS_ROWS = MIN_POSITIVES_PER_CHUNK
CHUNK_WHERE = "the 'chunk' parameter of concept_drift"


@dataclass(frozen=True)
class ChunkPerformance:
    """Realized and estimated performance per chunk and for the whole window.

    ``to_df()`` has one row per (chunk, metric); the chunk ``window`` holds
    the whole window. Columns: ``start``, ``end``, ``rows``, ``labelled``,
    ``coverage``, ``positives``, ``enough_labels``, ``metric``, ``realized``,
    ``ci_low``, ``ci_high``, ``estimated`` (all rows), ``expected``
    (labelled rows), ``null_sd``, ``z``, ``band_low``/``band_high`` (alert
    limits of the realized figure, at the labelled rows),
    ``band_warn_low``/``band_warn_high`` (its warn limits), ``band_mean``,
    ``est_band_low``/``est_band_high`` and ``est_band_warn_low``/``est_band_warn_high``
    (the same at all rows), ``below_band`` (realized beyond the alert limit in
    the worse direction, in a chunk with enough labels).
    """

    table: pd.DataFrame
    task: str
    metrics: tuple[str, ...]
    chunk: str
    min_labels: int

    @property
    def unit(self) -> str:
        """How the report names one chunk (``day``, ``6-hour chunk``)."""
        return chunk_word(parse_chunk(self.chunk, CHUNK_WHERE))

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def window(self, metric: str) -> dict[str, Any]:
        """The whole window's row of one metric (empty when the metric is not tracked)."""
        row = self.table[(self.table["chunk"] == "window") & (self.table["metric"] == metric)]
        return row.iloc[0].to_dict() if len(row) else {}

    def chunks(self, metric: str | None = None) -> pd.DataFrame:
        """The chunk rows of one metric (the primary by default)."""
        t = self.table[self.table["chunk"] != "window"]
        return t[t["metric"] == (metric or self.metrics[0])].reset_index(drop=True)

    def coverage_df(self) -> pd.DataFrame:
        """One row per chunk: rows, labelled rows, coverage, whether enough labels."""
        t = self.chunks()
        cols = ["start", "rows", "labelled", "coverage", "positives", "enough_labels"]
        return t[[c for c in cols if c in t.columns]]

    def summary_df(self) -> pd.DataFrame:
        """The window row of every metric, for display."""
        return summary_table(self)

    def plot(self, kind: str = "timeline", metric: str | None = None, changes=None):
        """``timeline`` (realized with CIs, estimated, band, change points) or ``coverage``."""
        if kind == "timeline":
            m = metric or self.metrics[0]
            return plots.performance_timeline(self, m, changes, label=DISPLAY.get(m, m))
        if kind == "coverage":
            return plots.label_coverage(self)
        raise UsageError(f"The 'kind' parameter of ChunkPerformance.plot must be 'timeline' or 'coverage'. "
                         f"Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return table_html(self.summary_df())


def naive64(values) -> np.ndarray:
    """UTC datetime64 values without a time zone (fast comparisons)."""
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_localize(None).to_numpy()


def window_bounds(ts: pd.Series | pd.DatetimeIndex, start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window's bounds in UTC; by default the rows' first day and just after their last time."""
    start = to_utc(start) if start is not None else ts.min().floor("D")
    end = to_utc(end) if end is not None else ts.max() + pd.Timedelta(microseconds=1)
    return start, end


def chunk_bounds(start: pd.Timestamp, end: pd.Timestamp,
                  delta: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    out = []
    t = start
    while t < end:
        out.append((t, min(t + delta, end)))
        t = t + delta
    return out


def chunk_performance(spec: ModelSpec, frame: pd.DataFrame, estimator: PerformanceEstimator,
                      rng: np.random.Generator, *, bands: Mapping[str, Band | None] | None = None,
                      start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, chunk: str = "1d",
                      min_labels: int = MIN_LABELS_PER_CHUNK) -> ChunkPerformance:
    """Realized (labelled rows) and estimated (all rows) performance per chunk and for the window.

    Parameters
    ----------
    spec : ModelSpec
    frame : DataFrame
        The window's rows: timestamp, model output, target (NaN where unlabelled).
    estimator : PerformanceEstimator
    rng : numpy.random.Generator
        For the bootstrap intervals and the label draws.
    bands : mapping of metric -> Band, optional
        Baseline bands (``performance/<metric>/all``).
    start, end : Timestamp, optional
        Window bounds; chunks are cut from ``start``. Default: the rows' first day and last time.
    chunk : str
        Chunk size (``1d``, ``12h``, ``1w``).
    min_labels : int
        Labelled rows a chunk needs before its realized figures are trusted.

    Returns
    -------
    ChunkPerformance
    """
    delta = parse_chunk(chunk, CHUNK_WHERE)
    ts = pd.to_datetime(frame[spec.timestamp], utc=True)
    start, end = window_bounds(ts, start, end)
    y_all = spec.labels(frame)
    s_all = spec.scores(frame)
    tsv = naive64(ts)
    parts = [(str(a.isoformat()), a, b, (tsv >= naive64([a])[0]) & (tsv < naive64([b])[0]))
             for a, b in chunk_bounds(start, end, delta)]
    parts.append(("window", start, end, np.ones(len(frame), dtype=bool)))
    nan = {m: float("nan") for m in spec.metrics}
    measured = []
    for name, a, b, mask in parts:
        s = s_all[mask]
        y = y_all[mask]
        lab = np.isfinite(y)
        yl, sl = y[lab], s[lab]
        n_lab = int(lab.sum())
        pos = int((yl == 1).sum()) if spec.task == "binary_classification" else None
        sub = frame.loc[mask] if spec.task == "regression" else None
        est_all = estimator.estimate(s, sub) if len(s) else nan
        sub_lab = sub.loc[lab] if sub is not None else None
        exp_lab = estimator.estimate(sl, sub_lab) if n_lab else nan
        sd_lab = estimator.null_sd(sl, rng, sub_lab) if n_lab >= 2 else nan
        real = realized(spec.task, yl, sl, spec.threshold) if n_lab else nan
        ci = {m: confidence_interval(spec.task, m, yl, sl, spec.threshold, real.get(m, float("nan")), rng)
              if n_lab >= 2 else (float("nan"), float("nan")) for m in spec.metrics}
        measured.append((name, a, b, ChunkMeasures(rows=int(mask.sum()), labelled=n_lab, positives=pos,
                                                   realized=real, ci=ci, estimated=est_all, expected=exp_lab,
                                                   null_sd=sd_lab)))
    return assemble(spec, measured, bands=bands, chunk=chunk, min_labels=min_labels)


@dataclass(frozen=True)
class ChunkMeasures:
    """What one chunk's rows (or the whole window's) measure, before any band is applied.

    ``realized``, ``ci`` (95% interval per metric), ``estimated`` (all rows), ``expected`` and
    ``null_sd`` (labelled rows) are per metric; from rows (:func:`chunk_performance`) or from a
    window summary (:mod:`.summarised`).
    """

    rows: int
    labelled: int
    positives: int | None
    realized: Mapping[str, float]
    ci: Mapping[str, tuple[float, float]]
    estimated: Mapping[str, float]
    expected: Mapping[str, float]
    null_sd: Mapping[str, float]


def assemble(spec: ModelSpec, measured, *, bands: Mapping[str, Band | None] | None = None, chunk: str = "1d",
             min_labels: int = MIN_LABELS_PER_CHUNK) -> ChunkPerformance:
    """The per-chunk table from measured chunks ``(name, start, end, ChunkMeasures)``: bands, limits, flags.

    One place for both paths (rows in memory, or a window summary): whether a chunk has enough
    labels, its band limits at its labelled and at all its rows, and whether it is beyond its band.
    """
    bands = dict(bands or {})
    margin = spec.thresholds.band_margin
    rows = []
    for name, a, b, ms in measured:
        n_lab, pos, n_rows = ms.labelled, ms.positives, ms.rows
        enough = n_lab >= min_labels and (pos is None or min(pos, n_lab - pos) >= MIN_CLASS_ROWS)
        real, exp_lab, sd_lab, est_all = ms.realized, ms.expected, ms.null_sd, ms.estimated
        for m in spec.metrics:
            v = real.get(m, float("nan"))
            lo, hi = ms.ci[m]
            floor = spec.thresholds.min_change(m)
            lim = band_edges(bands.get(m), n_lab, margin, m, floor)
            elim = band_edges(bands.get(m), n_rows, margin, m, floor)
            z = (v - exp_lab[m]) / sd_lab[m] if np.isfinite(v) and sd_lab.get(m) else float("nan")
            rows.append({"chunk": name, "start": a, "end": b, "rows": n_rows, "labelled": n_lab,
                         "coverage": n_lab / n_rows if n_rows else float("nan"), "positives": pos,
                         "enough_labels": bool(enough), "metric": m, "realized": v, "ci_low": lo, "ci_high": hi,
                         "estimated": est_all[m], "expected": exp_lab[m], "null_sd": sd_lab[m],
                         "z": z if worse_direction(m) == "down" else -z,
                         "band_low": lim["low"], "band_high": lim["high"], "band_warn_low": lim["warn_low"],
                         "band_warn_high": lim["warn_high"], "band_mean": lim["mean"],
                         "est_band_low": elim["low"], "est_band_high": elim["high"],
                         "est_band_warn_low": elim["warn_low"], "est_band_warn_high": elim["warn_high"],
                         **{f"band_{k}": lim[k] for k in ("note", "sampling_sd", "between_sd", "compared_with",
                                                          "min_change", "trend")},
                         **{f"est_band_{k}": elim[k] for k in ("note", "sampling_sd", "between_sd")},
                         "below_band": bool(enough) and beyond_band(m, v, lim["low"], lim["high"])})
    return ChunkPerformance(table=pd.DataFrame(rows), task=spec.task, metrics=spec.metrics, chunk=chunk,
                            min_labels=min_labels)
