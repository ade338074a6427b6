"""Prose: the verdict sentence and the findings, read from a finished result.

Nothing here decides a status: the sentences report the checks'
statuses (:mod:`.decisions`) and the figures behind them.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..checks import SEVERITY, worst
from .binning import SCORE_COLUMN
from .decisions import worse_direction
from .spec import DISPLAY
from .tables import when

__all__ = ["verdict", "findings", "segment_words", "shift_words", "explained_words"]

MAX_NAMED = 5
"""Shifted features a sentence names before "and N more"."""


def _num(value: float) -> str:
    """A metric at meaningful precision: three decimals below 10 (ROC AUC 0.734, MAE 5.624), then
    fewer as the value grows (MAE 27.35, 131.2, 82,990), never a long tail of digits.

    >>> _num(0.73412), _num(27.348), _num(131.24), _num(82989.624)
    ('0.734', '27.35', '131.2', '82,990')
    """
    size = abs(value) if np.isfinite(value) else 0.0
    if size >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{1 if size >= 100 else 2 if size >= 10 else 3}f}"


def _side(metric: str) -> str:
    """Where worse lies for ``metric``: ``below`` (ROC AUC) or ``above`` (log loss, MAE)."""
    return "below" if worse_direction(metric) == "down" else "above"


def _z(metric: str, z: float) -> str:
    """``z`` as a sentence beside "above"/"below" states it: in the metric's own direction (the
    checks' z is worse-oriented, negative when worse; a worse MAE is *above* expected, so positive)."""
    return f"z = {(z if worse_direction(metric) == 'down' else -z):.1f}"


def feature_name(name: str) -> str:
    """A feature as a sentence names it (the score bins as ``the model score``)."""
    return "the model score" if name == SCORE_COLUMN else name


def segment_words(ws: Mapping[str, Any]) -> str:
    """The worst segment in words: where, its share and what it lost."""
    if "observed" in ws and "expected" in ws:
        return (f"{ws['description']} ({ws['share']:.0%} of labelled rows: outcome rate {ws['observed']:.1%} "
                f"against {ws['expected']:.1%} from the scores)")
    return f"{ws['description']} ({ws['share']:.0%} of labelled rows, {_num(ws['loss'])} {ws['unit']} lost)"


def shift_words(shift) -> str:
    """What explains an explained drop: the shifted features (data-drift notebook) or the moved estimate.

    Examples
    --------
    >>> from mlmon_nb.concept.inhibition import ShiftEvidence
    >>> shift_words(ShiftEvidence(features=("price", "device")))
    'the covariate shift in price, device explains the drop (see the data drift report)'
    >>> shift_words(ShiftEvidence(metrics=("pr_auc",)))
    'the inputs shifted (the expected performance moved too)'
    """
    if shift.features:
        named = ", ".join(shift.features[:MAX_NAMED])
        more = len(shift.features) - MAX_NAMED
        named += f" and {more} more" if more > 0 else ""
        return f"the covariate shift in {named} explains the drop (see the data drift report)"
    return "the inputs shifted (the expected performance moved too)"


def explained_words(checks) -> str:
    """The explained drops in words: ``PR AUC 0.173 and F1 0.231 are below their bands``.

    Realized figures when any is explained, else the estimates, else the change points.
    """
    realized = [c for c in checks if c["kind"] == "performance"]
    estimated = [c for c in checks if c["kind"] == "estimated_performance"]
    shown = realized or estimated
    if not shown:
        n = sum(c["kind"] == "change_point" for c in checks)
        return f"{'a change point' if n == 1 else f'{n} change points'} in the loss stream"
    prefix = "" if realized else "estimated "
    figures = [f"{DISPLAY.get(c['subject'], c['subject'])} {_num(c['value'])}" for c in shown]
    listed = figures[0] if len(figures) == 1 else ", ".join(figures[:-1]) + " and " + figures[-1]
    sides = {"below" if worse_direction(c["subject"]) == "down" else "above" for c in shown}
    side = sides.pop() if len(sides) == 1 else "outside"
    return (f"{prefix}{listed} {'is' if len(shown) == 1 else 'are'} {side} "
            f"{'its band' if len(shown) == 1 else 'their bands'}")


def findings(r) -> list[tuple[str, str]]:
    """(text, status) of every check that is not ok and no cause explains, each consensus of detectors,
    what a covariate shift explains (status ok), and the worst segment."""
    out = []
    for c in r.checks():
        if c["status"] == "ok" or c.get("explained_by"):
            continue
        if c["kind"] == "performance":
            out.append((f"realized {DISPLAY[c['subject']]} {_num(c['value'])} beyond its baseline band"
                        if SEVERITY[c["status"]] >= 2 else
                        f"realized {DISPLAY[c['subject']]} {_num(c['value'])} near the edge of its band",
                        c["status"]))
        elif c["kind"] == "estimated_performance":
            out.append((f"estimated {DISPLAY[c['subject']]} {_num(c['value'])} outside its baseline band",
                        c["status"]))
        elif c["kind"] == "concept_drift" and c["subject"] != "p(y|x)":
            scope = "" if c["scope"] == "window" else f" {c['scope']}"
            out.append((f"{DISPLAY[c['subject']]}{scope} {_num(c['realized'])} is {_side(c['subject'])} the "
                        f"{_num(c['expected'])} "
                        f"expected from the inputs ({_z(c['subject'], c['z'])})", c["status"]))
        elif c["kind"] == "concept_drift":
            out.append((f"residuals shifted along {feature_name(c['feature'])} (largest in {c['bin']})",
                        c["status"]))
    explained = r.explained()
    inhibited = {c.get("cluster") for c in explained if c["kind"] == "change_point"}
    clusters = r.changes.consensus() if r.changes is not None else pd.DataFrame()
    for cl in clusters.to_dict("records") if len(clusters) else []:
        if cl["cluster"] in inhibited:
            out.append((f"{cl['detectors']} agree on a change at {when(cl['at'])}, explained by the input shift",
                        "ok"))
        else:
            out.append((f"{cl['detectors']} agree on a change at {when(cl['at'])}",
                        r.changes.cluster_status(cl["cluster"])))
    if explained:
        out.append((f"{explained_words(explained)}, no more than the inputs predict: {shift_words(r.shift)}",
                    "ok"))
    ws = r.worst_segment()
    if ws is not None and r.status != "ok":
        out.append((f"moved most where {segment_words(ws)}", "warn"))
    return out


def verdict(r) -> str:
    """One sentence: did it get worse, since when, where, covariate shift or concept drift."""
    m = r.spec.primary
    name = DISPLAY[m]
    if r.chunks is None:
        return "Performance could not be assessed: " + (r.notes[0] if r.notes else "no usable rows")
    w = r.chunks.window(m)
    band = f"baseline {_num(w['band_mean'])}" if np.isfinite(w.get("band_mean", float("nan"))) else ""
    if r.labelled == 0 or r.concept is None:
        est = next((c for c in r.checks("estimated_performance") if c["subject"] == m), {"status": "ok"})
        state = "within" if est["status"] == "ok" else "outside"
        text = (f"No labels in this window yet: estimated {name} {_num(w['estimated'])} from "
                f"{'the inputs' if m in ('mae', 'rmse') else 'calibrated scores'} "
                f"({state} the baseline band{', ' + band if band else ''}); realized performance and concept "
                f"drift need labels.")
        if r.explained():
            words = explained_words(r.explained())
            text += f" {words[0].upper()}{words[1:]}: {shift_words(r.shift)}."
        return text
    tests = [t for t in (r.concept, r.after_onset) if t is not None]
    cstatus = worst(t.status() for t in tests)
    test = next(t for t in tests if t.status() == cstatus)
    t = test.table
    lead = t.iloc[0] if t.iloc[0]["status"] == cstatus else t[t["status"] == cstatus].sort_values("z").iloc[0]
    lm = lead["metric"]
    lw = r.chunks.window(lm)
    if test is r.concept:
        ci = f" [{_num(lw['ci_low'])}, {_num(lw['ci_high'])}]" if np.isfinite(lw["ci_low"]) else ""
        figure = f"{DISPLAY[lm]} {_num(lead['realized'])}{ci}"
    else:
        figure = f"{DISPLAY[lm]} {_num(lead['realized'])} {test.table['scope'].iloc[0]}"
    if cstatus == "alert":
        return _worse(r, figure, lead, lw)
    if cstatus == "warn":
        return (f"{figure} is somewhat {_side(lm)} the {_num(lead['expected'])} expected from this window's inputs "
                f"({_z(lm, lead['z'])}): possible concept drift, not conclusive; watch the next window.")
    bad = [c for c in r.checks("performance") if c["status"] != "ok" and not c.get("explained_by")]
    row = r.concept.row(m)
    residual = r.residuals is not None and r.residuals.status() != "ok"
    tail = ""
    if residual:
        tail = (f" Residuals did shift along {feature_name(r.residuals.flagged()[0])}, without a "
                f"measurable loss of performance.")
    head = f"{r.status.upper()}: "
    explained = r.explained()
    if explained:
        rest = ""
        if bad:
            names = " and ".join(DISPLAY[c["subject"]] for c in bad)
            rest = (f" {names} {'is' if len(bad) == 1 else 'are'} outside the baseline band without such an "
                    f"explanation; watch the next window.")
        return (f"{head}{explained_words(explained)}, but no more than the inputs predict: "
                f"{shift_words(r.shift)}.{rest}{tail}")
    if bad:
        names = ", ".join(DISPLAY[c["subject"]] for c in bad)
        lead = r.concept.row(bad[0]["subject"]) or row
        figure = f"{DISPLAY[lead['metric']]} {_num(lead['realized'])} vs {_num(lead['expected'])} expected"
        if residual:
            return (f"{head}{names} moved outside the baseline band; realized performance is not clearly "
                    f"{_side(lead['metric'])} "
                    f"what this window's inputs lead to expect ({figure}), but residuals shifted along "
                    f"{feature_name(r.residuals.flagged()[0])}: a change in P(y | x) cannot be ruled out; "
                    f"watch the next window.")
        return (f"{head}{names} moved outside the baseline band; realized performance is not clearly "
                f"{_side(lead['metric'])} "
                f"what this window's inputs lead to expect ({figure}), and nothing recorded in this run explains "
                f"the drop (no drifted features from the data-drift notebook, and the expected performance "
                f"stayed within its band); watch the next window.")
    if not np.isfinite(row["realized"]):  # e.g. a tiny window with one class only: say so, never "nan is within"
        labelled = int(w.get("labelled", 0) or 0)
        return (f"{head}{name} could not be computed on this window ({labelled:,} labelled rows"
                f"{', of one class only' if labelled else ''}): performance is not judged; a longer window or "
                f"more labels are needed.{tail}")
    ci = f" [{_num(w['ci_low'])}, {_num(w['ci_high'])}]" if np.isfinite(w["ci_low"]) else ""
    return (f"No performance drop: {name} {_num(row['realized'])}{ci} is within the baseline band"
            f"{' (' + band + ')' if band else ''} and matches the {_num(row['expected'])} expected from the inputs; "
            f"no concept drift.{tail}")


def _worse(r, figure: str, lead: Mapping[str, Any], lw: Mapping[str, Any]) -> str:
    """The alert sentence: the drop, since when, where, and that the inputs do not explain it."""
    lband = f"baseline {_num(lw['band_mean'])}" if np.isfinite(lw.get("band_mean", float("nan"))) else ""
    parts = [f"Performance got worse: {figure} against {_num(lead['expected'])} expected from this window's "
             f"inputs" + (f" ({lband})" if lband else "")]
    onset = r.consensus_onset()
    at_start = onset is not None and bool(
        r.changes.detections.loc[r.changes.detections["at"] == onset, "at_window_start"].any())
    if at_start:
        parts.append("since before this window began (detectors date the change to its start)")
    elif onset is not None and not r.first_chunk_below:
        parts.append(f"detectors agree it started around {when(onset)}")
    elif onset is not None:
        parts.append(f"already {_side(lead['metric'])} expectation on the first {r.chunks.unit} of the "
                     f"window, and worse again from about {when(onset)}")
    else:
        parts.append("already from the start of the window (no change point inside it)")
    ws = r.worst_segment()
    if ws is not None:
        parts.append(f"it moved most where {segment_words(ws)}")
    parts.append("the input shift does not explain it: concept drift")
    return "; ".join(parts) + "."
