"""River's drift detectors as used here: the registry, running one, dating its onset, calibrating it.

ADWIN, Page-Hinkley (upward) and KSWIN read the block z-scores of the loss
stream (:mod:`.stream`); DDM, EDDM, HDDM_A and HDDM_W read one bit per block,
1 when it is worse than the reference median. Every detector first reads
:data:`~.stream.WARMUP_BLOCKS` reference blocks, so it knows the reference
level when the window starts. Calibration on the reference: each detector runs
at the most sensitive of its settings whose false-alarm rate on
:data:`NULL_STREAMS` streams drawn from reference blocks (warm-up and window of
the real lengths) is at most :data:`FALSE_ALARM_TARGET`; a detector no setting
satisfies is not used. Requiring agreement of :data:`CONSENSUS_MIN` detectors
cuts false alarms further (the rate is measured on the same streams and
reported).

The onset of a detection is the clearest step up (standardised mean
difference ≥ :data:`ONSET_MIN_T`) inside the window between the detector's
last reset and half a day after it fired (the report is written after the
window closed); without one the change is dated to the window's start: it
happened at or before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .stream import LossStream

__all__ = ["DetectorInfo", "DETECTORS", "DetectorCalibration", "calibrate_detectors", "run_detector", "clusters",
           "is_consensus", "locate", "step_up", "ONSET_MIN_T", "NULL_STREAMS", "FALSE_ALARM_TARGET", "CONSENSUS_MIN",
           "KSWIN_WINDOW"]

ONSET_MIN_T = 2.0
NULL_STREAMS = 20
FALSE_ALARM_TARGET = 0.05
CONSENSUS_MIN = 2
KSWIN_WINDOW = 60


@dataclass(frozen=True)
class DetectorInfo:
    """A river drift detector as used here: display name, input kind, settings to calibrate."""

    name: str
    display: str
    kind: str  # "continuous" (z-scores) or "binary" (block worse than the reference median)
    levels: tuple[float, ...]  # settings, most sensitive first
    make: Callable[..., Any] = field(repr=False)
    prefill: int = 0  # > 0: starts from this many warm-up blocks as its window instead of reading them
    p_value: bool = False  # exposes the p-value it compares with its level: calibrated in one pass


def _adwin(delta, seed):
    from river import drift  # river loads with the first detector, not on import

    return drift.ADWIN(delta=delta, clock=1, grace_period=10, min_window_length=5)


def _page_hinkley(threshold, seed):
    from river import drift  # river loads with the first detector, not on import

    return drift.PageHinkley(min_instances=24, delta=0.25, threshold=threshold, mode="up")



def _kswin(alpha, seed, window=None):
    from river import drift  # river loads with the first detector, not on import

    return drift.KSWIN(alpha=alpha, window_size=KSWIN_WINDOW, stat_size=20, seed=seed, window=window)


def _ddm(threshold, seed):
    from river.drift.binary import DDM  # river loads with the first detector, not on import

    return DDM(warm_start=24, warning_threshold=min(2.0, threshold - 0.5), drift_threshold=threshold)


def _eddm(beta, seed):
    from river.drift.binary import EDDM  # river loads with the first detector, not on import

    return EDDM(warm_start=24, alpha=min(0.99, beta + 0.05), beta=beta)


def _hddm_a(confidence, seed):
    from river.drift.binary import HDDMA  # river loads with the first detector, not on import

    return HDDMA(drift_confidence=confidence, warning_confidence=max(confidence * 5, 0.005))


def _hddm_w(confidence, seed):
    from river.drift.binary import HDDMW  # river loads with the first detector, not on import

    return HDDMW(drift_confidence=confidence, warning_confidence=max(confidence * 5, 0.005))


#: The detectors, by machine name (river's implementations; only the settings are ours).
DETECTORS: dict[str, DetectorInfo] = {d.name: d for d in (
    DetectorInfo("adwin", "ADWIN", "continuous", (0.002, 2e-4, 2e-5, 2e-6), _adwin),
    DetectorInfo("page_hinkley", "Page-Hinkley", "continuous", (8.0, 12.0, 16.0, 24.0), _page_hinkley),
    DetectorInfo("kswin", "KSWIN", "continuous", (1e-3, 1e-4, 1e-5, 1e-6), _kswin, prefill=KSWIN_WINDOW,
                 p_value=True),
    DetectorInfo("ddm", "DDM", "binary", (3.0, 4.0, 5.0), _ddm),
    DetectorInfo("eddm", "EDDM", "binary", (0.9, 0.8, 0.7, 0.6), _eddm),
    DetectorInfo("hddm_a", "HDDM_A", "binary", (1e-3, 1e-4, 1e-5), _hddm_a),
    DetectorInfo("hddm_w", "HDDM_W", "binary", (1e-3, 1e-4, 1e-5), _hddm_w),
)}


def step_up(z: np.ndarray, start: int, stop: int, margin: int = 3, min_t: float = 0.0) -> int | None:
    """Where z[start:stop+1] most clearly steps up: first block of the worse part, or None.

    The split maximises the standardised mean difference (after − before) ·
    sqrt(k (n − k) / n), with at least ``margin`` blocks on each side; None
    when no split reaches ``min_t``.
    """
    seg = z[start:stop + 1]
    n = len(seg)
    if n < 2 * margin:
        return None
    c = np.cumsum(seg)
    k = np.arange(margin, n - margin + 1)
    before = c[k - 1] / k
    after = (c[-1] - c[k - 1]) / (n - k)
    t = (after - before) * np.sqrt(k * (n - k) / n)
    best = int(np.argmax(t))
    return start + int(k[best]) if t[best] > min_t else None


def locate(z: np.ndarray, seg_start: int, detected: int, first: int, lookahead: int) -> int | None:
    """Onset of a detection at ``detected`` (indices into warm-up + window; ``first`` = window start).

    Inside the window the onset is the clearest step up (t ≥ :data:`ONSET_MIN_T`) between the
    detector's last reset and ``lookahead`` blocks after the detection. Without such a step the
    change is dated to the window's start (it happened at or before it) when the window is worse
    than the blocks before it, and the detection is dropped otherwise (not a worsening).
    """
    stop = min(detected + lookahead, len(z) - 1)
    lo = max(seg_start, first)
    inside = step_up(z, lo, stop, min_t=ONSET_MIN_T)
    if inside is not None:
        return inside
    return lo if step_up(z, seg_start, stop) is not None else None


def run_detector(info: DetectorInfo, level: float, z: np.ndarray, threshold: float, seed: int,
                 first: int = 0, lookahead: int = 0) -> list[tuple[int, int]]:
    """(detection, onset) block indices of every worsening change a detector reports at or after
    block ``first``; onsets are clipped to ``first`` (the change happened at or before it).

    The onset is located on the blocks since the detector's last reset up to
    ``lookahead`` blocks after the detection (the report is written after the
    window closed, so those blocks are known; they sharpen the split of a
    change detected early).
    """
    values = (z > threshold).astype(int).tolist() if info.kind == "binary" else z.tolist()
    begin = 0
    if info.prefill and first >= info.prefill:
        # KSWIN runs a KS test at every update: start it from the last warm-up blocks (river's
        # ``window`` argument) rather than reading the whole warm-up; same state, far fewer tests.
        det = info.make(level, seed, window=values[first - info.prefill:first])
        begin = first
    else:
        det = info.make(level, seed)
    out = []
    seg_start = 0
    for i in range(begin, len(values)):
        det.update(values[i])
        if det.drift_detected:
            onset = locate(z, seg_start, i, first, lookahead) if i >= first else None
            if onset is not None:
                out.append((i - first, max(onset, first) - first))
            seg_start = i + 1
    return out


def clusters(found: Mapping[str, list[tuple[int, int]]],
             tolerance_blocks: int) -> list[list[tuple[str, int, int]]]:
    """Group detections whose onsets lie within ``tolerance_blocks`` of the previous one."""
    items = sorted(((onset, name, det) for name, hits in found.items() for det, onset in hits))
    groups: list[list[tuple[str, int, int]]] = []
    for onset, name, det in items:
        if groups and onset - groups[-1][-1][2] <= tolerance_blocks:
            groups[-1].append((name, det, onset))
        else:
            groups.append([(name, det, onset)])
    return groups


def is_consensus(group) -> bool:
    """Whether at least :data:`CONSENSUS_MIN` different detectors are in a group."""
    return len({name for name, _, _ in group}) >= CONSENSUS_MIN


@dataclass(frozen=True)
class DetectorCalibration:
    """The setting chosen for a detector on the reference, and its false-alarm rate there."""

    name: str
    level: float | None
    false_alarm_rate: float
    streams: int
    used: bool


def calibrate_detectors(stream: LossStream, rng: np.random.Generator, tolerance_blocks: int, *,
                        streams: int = NULL_STREAMS, target: float = FALSE_ALARM_TARGET,
                        detectors: Sequence[str] | None = None) -> tuple[dict[str, DetectorCalibration], float]:
    """Choose each detector's most sensitive setting with few false alarms on reference streams.

    A null stream is a warm-up and a window of the same lengths as the real
    ones, every block drawn from the reference blocks: nothing changes in it,
    so any detection in its window part is a false alarm.

    Returns the calibrations and the consensus false-alarm rate (share of
    null streams where :data:`CONSENSUS_MIN` detectors agree on a change).
    """
    names = list(detectors or DETECTORS)
    w, n = len(stream.warmup), len(stream)
    null = [rng.choice(stream.reference_blocks, size=w + n, replace=True) for _ in range(streams)]
    seeds = rng.integers(0, 2**31 - 1, size=streams)
    out: dict[str, DetectorCalibration] = {}
    hits_by_stream: list[dict[str, list]] = [dict() for _ in range(streams)]
    for name in names:
        info = DETECTORS[name]
        chosen = None
        rate = float("nan")
        if info.p_value:
            chosen, runs = _calibrate_by_p_value(info, null, seeds, w, tolerance_blocks, target)
            out[name] = chosen
            if chosen.used:
                for h, r in zip(hits_by_stream, runs):
                    h[name] = r
            continue
        for level in info.levels:
            runs = [run_detector(info, level, z, stream.bit_threshold, int(sd), first=w, lookahead=tolerance_blocks)
                    for z, sd in zip(null, seeds)]
            rate = float(np.mean([bool(r) for r in runs]))
            if rate <= target:
                chosen = DetectorCalibration(name, level, rate, streams, True)
                for h, r in zip(hits_by_stream, runs):
                    h[name] = r
                break
        out[name] = chosen or DetectorCalibration(name, None, rate, streams, False)
    consensus = float(np.mean([any(is_consensus(g) for g in clusters(h, tolerance_blocks))
                               for h in hits_by_stream]))
    return out, consensus


def _calibrate_by_p_value(info: DetectorInfo, null, seeds, first: int, lookahead: int,
                          target: float) -> tuple[DetectorCalibration, list[list[tuple[int, int]]]]:
    """One pass per null stream at level 0 (never fires), recording the detector's p-values: the
    streams it would flag at a level are those whose smallest p-value is at or below it (the first
    alarm decides whether a stream has any)."""
    pvals = []
    for z, sd in zip(null, seeds):
        values = z.tolist()
        det = info.make(0.0, int(sd), window=values[first - info.prefill:first]) if info.prefill \
            else info.make(0.0, int(sd))
        ps = []
        for i in range(first if info.prefill else 0, len(values)):
            det.update(values[i])
            if i >= first:
                ps.append(float(det.p_value))
        pvals.append(np.asarray(ps))
    rate = float("nan")
    for level in info.levels:
        hit = [np.flatnonzero(p <= level) for p in pvals]
        rate = float(np.mean([len(h) > 0 for h in hit]))
        if rate <= target:
            runs = []
            for z, h in zip(null, hit):
                if len(h):
                    d = first + int(h[0])
                    onset = locate(z, 0, d, first, lookahead)
                    runs.append([(d - first, max(onset, first) - first)] if onset is not None else [])
                else:
                    runs.append([])
            return DetectorCalibration(info.name, level, rate, len(null), True), runs
    return DetectorCalibration(info.name, None, rate, len(null), False), [[] for _ in null]
