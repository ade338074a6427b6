"""Change points: the calibrated detectors on the loss stream, grouped where they agree."""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..plots import concept as plots
from .detectors import DETECTORS, DetectorCalibration, calibrate_detectors, clusters, is_consensus, run_detector
from .stream import LossStream
from .tables import table_html

__all__ = ["ChangePoints", "detect_changes", "MIN_STREAM_BLOCKS", "CONSENSUS_TOLERANCE"]

MIN_STREAM_BLOCKS = 30
CONSENSUS_TOLERANCE = pd.Timedelta("12h")


@dataclass(frozen=True)
class ChangePoints:
    """Detections of river's detectors on the excess-loss stream, and where they agree.

    ``to_df()``: one row per detection (``detector``, ``at`` = estimated onset,
    ``detected_at``, ``delay_hours``, ``cluster``, ``consensus``, ``status``).
    ``clusters`` has one row per group of detections with close onsets.
    """

    stream: LossStream
    detections: pd.DataFrame
    calibration: Mapping[str, DetectorCalibration]
    consensus_false_alarm_rate: float
    tolerance: pd.Timedelta
    clusters: pd.DataFrame
    note: str = ""

    def graded(self, statuses: Mapping[int, str]) -> "ChangePoints":
        """A new result whose detections carry their cluster's status (``ok`` for clusters not listed)."""
        det = self.detections.assign(status=[statuses.get(int(c), "ok") for c in self.detections["cluster"]])
        return replace(self, detections=det)

    def to_df(self) -> pd.DataFrame:
        return self.detections.copy()

    def calibration_df(self) -> pd.DataFrame:
        """Each detector's setting and its false-alarm rate on the reference streams."""
        return pd.DataFrame([{
            "detector": DETECTORS[c.name].display, "input": DETECTORS[c.name].kind, "setting": c.level,
            "false alarms on reference streams": c.false_alarm_rate, "used": "yes" if c.used else "no (too noisy)",
        } for c in self.calibration.values()])

    def consensus(self) -> pd.DataFrame:
        """Clusters where at least :data:`~.detectors.CONSENSUS_MIN` detectors agree, earliest first."""
        if self.clusters.empty:
            return self.clusters
        return self.clusters[self.clusters["consensus"]].reset_index(drop=True)

    def cluster_status(self, cluster: int) -> str:
        """The worst status of a cluster's detections."""
        st = self.detections.loc[self.detections["cluster"] == cluster, "status"]
        return "alert" if (st == "alert").any() else "warn" if (st == "warn").any() else "ok"

    def plot(self, kind: str = "stream"):
        """``stream``: the block z-scores and, per detector, its onsets and detections."""
        if kind == "stream":
            return plots.loss_stream(self, {name: info.display for name, info in DETECTORS.items()})
        raise UsageError(f"The 'kind' parameter of ChangePoints.plot must be 'stream'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        if self.detections.empty:
            return f"<p>No detector found a worsening change. {html.escape(self.note)}</p>"
        return table_html(self.detections)


def detect_changes(stream: LossStream, rng: np.random.Generator, *,
                   tolerance: pd.Timedelta = CONSENSUS_TOLERANCE,
                   detectors: Sequence[str] | None = None) -> ChangePoints:
    """Run the calibrated river detectors on a loss stream; group detections by onset.

    Parameters
    ----------
    stream : LossStream
        From :func:`~.stream.loss_stream`.
    rng : numpy.random.Generator
        For the reference null streams and KSWIN's sampling.
    tolerance : Timedelta
        Detectors agree when their onsets are this close.
    detectors : sequence of str, optional
        Names from :data:`~.detectors.DETECTORS` (all by default).

    Returns
    -------
    ChangePoints
        Every detection ``ok`` (unconfirmed); :func:`~.expected.assess_changes` grades the
        consensus clusters with the performance test and :meth:`ChangePoints.graded` builds
        the final result.
    """
    names = list(detectors or DETECTORS)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise UsageError(f"The 'detectors' parameter of detect_changes must name detectors among "
                         f"{', '.join(DETECTORS)}. Got {', '.join(map(repr, unknown))} instead.")
    empty_cols = ["detector", "method", "block", "onset_block", "at", "detected_at", "at_window_start",
                  "delay_hours", "cluster", "consensus", "status"]
    n = len(stream)
    if n < MIN_STREAM_BLOCKS:
        note = (f"Only {n} blocks of labelled rows ({stream.block_size} rows each): change detection needs at "
                f"least {MIN_STREAM_BLOCKS}.")
        return ChangePoints(stream, pd.DataFrame(columns=empty_cols), {}, float("nan"), tolerance,
                            pd.DataFrame(columns=["cluster", "at", "detectors", "consensus"]), note)
    span = (stream.last_ts[-1] - stream.first_ts[0]) / max(n, 1)
    tol_blocks = max(2, int(round(tolerance / span))) if span > pd.Timedelta(0) else 2
    calib, consensus_fa = calibrate_detectors(stream, rng, tol_blocks, detectors=names)
    seed = int(rng.integers(0, 2**31 - 1))
    full = np.concatenate([stream.warmup, stream.z])
    w = len(stream.warmup)
    found = {name: run_detector(DETECTORS[name], c.level, full, stream.bit_threshold, seed, first=w,
                                lookahead=tol_blocks)
             for name, c in calib.items() if c.used}
    groups = clusters(found, tol_blocks)
    rows, crow = [], []
    for gi, g in enumerate(groups):
        cons = is_consensus(g)
        onsets = [o for _, _, o in g]
        at = stream.first_ts[int(np.median(onsets))]
        crow.append({"cluster": gi, "at": at,
                     "detectors": ", ".join(sorted({DETECTORS[nm].display for nm, _, _ in g})),
                     "n_detectors": len({nm for nm, _, _ in g}), "consensus": cons,
                     "first_detected_at": min(stream.last_ts[d] for _, d, _ in g)})
        for name, det, onset in g:
            t_on, t_det = stream.first_ts[onset], stream.last_ts[det]
            rows.append({"detector": name, "method": DETECTORS[name].display, "block": det, "onset_block": onset,
                         "at": t_on, "detected_at": t_det, "at_window_start": onset == 0,
                         "delay_hours": (t_det - t_on).total_seconds() / 3600, "cluster": gi,
                         "consensus": cons, "status": "ok"})
    det_df = pd.DataFrame(rows, columns=empty_cols) if rows else pd.DataFrame(columns=empty_cols)
    cluster_df = pd.DataFrame(crow) if crow else pd.DataFrame(columns=["cluster", "at", "detectors", "n_detectors",
                                                                       "consensus", "first_detected_at"])
    unused = [DETECTORS[c.name].display for c in calib.values() if not c.used]
    note = (f"Not used (too many false alarms on the reference at every setting): {', '.join(unused)}."
            if unused else "")
    return ChangePoints(stream, det_df.sort_values("at", kind="stable").reset_index(drop=True), calib,
                        consensus_fa, tolerance, cluster_df, note)
