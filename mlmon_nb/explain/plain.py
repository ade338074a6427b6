"""The explainability report in three sentences anyone can read (no SHAP, log-odds or distances).

Computed from an :class:`~mlmon_nb.explain.result.ExplainResult` only: which inputs drive the
model's predictions now, what changed since the baseline, and for whom. Every figure in the
sentences is a share of rows or of what moves a prediction, or a value in the data's own units.
The sentences are plain text (feature names and levels are data: escape before display).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

TOP = 3
"""Inputs named in the first sentence."""


def _names(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _value(v: float) -> str:
    """A value in the data's own units, short: 34.2, 1,250, 0.0031."""
    if not math.isfinite(v):
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def drivers(result) -> str:
    """Which inputs drive the model's predictions now (and whether they are the baseline's)."""
    feats = sorted(result.drift.features, key=lambda f: -f.share_window)
    top = feats[:TOP]
    share = sum(f.share_window for f in top)
    names = [f.feature for f in top]
    then = [f.feature for f in sorted(result.drift.features, key=lambda f: -f.share_baseline)[:TOP]]
    same = ("the same inputs as at baseline" if set(then) == set(names)
            else f"at baseline it was {_names(then)}")
    if len(top) == 1:
        return f"The model's predictions rest on one input, {names[0]}."
    return (f"Right now the model's predictions depend most on {_names(names)}: together they account for "
            f"{share:.0%} of what moves a prediction ({same}).")


def _reliance_words(f) -> str:
    if f.reliance_window < 0:
        return (f"real outcomes no longer respond to {f.feature} the way the model expects; where the model "
                f"counts on {f.feature} to raise a prediction, outcomes now go the other way")
    if f.reliance_window < f.reliance_baseline:
        return f"{f.feature} matters less for real outcomes than the model assumes"
    return f"{f.feature} matters more for real outcomes than the model assumes"


def _moved_words(result, feature: str) -> str:
    dep = result.dependence.get(feature)
    if dep is None:
        return f"the model now uses {feature} differently"
    if dep.kind == "numeric":
        b = pd.to_numeric(dep.baseline_values, errors="coerce").to_numpy(dtype=float)
        w = pd.to_numeric(dep.window_values, errors="coerce").to_numpy(dtype=float)
        b, w = b[np.isfinite(b)], w[np.isfinite(w)]
        if len(b) and len(w):
            return (f"the model sees different values of {feature} (typical value {_value(float(np.median(b)))} at "
                    f"baseline, {_value(float(np.median(w)))} now), so it weighs it differently")
    else:
        level, before, now = _moved_level(dep)
        if level is not None:
            return (f"the mix of {feature} changed ({feature} = {level}: {before:.0%} of predictions at baseline, "
                    f"{now:.0%} now), so the model weighs it differently")
    return f"the model now uses {feature} differently"


def _moved_level(dep) -> tuple[Any, float, float]:
    w = dep.window_values.astype(object).astype(str).value_counts(normalize=True)
    b = dep.baseline_values.astype(object).astype(str).value_counts(normalize=True)
    diff = w.sub(b, fill_value=0)
    if diff.empty:
        return None, 0.0, 0.0
    level = diff.abs().idxmax()
    return level, float(b.get(level, 0.0)), float(w.get(level, 0.0))


def changes(result) -> str:
    """What changed since the baseline, in words."""
    rel = result.drift.flagged("warn", "attribution_reliance")
    moved = [f for f in result.drift.flagged("warn") if f not in rel]
    by = {f.feature: f for f in result.drift.features}
    parts = [_reliance_words(by[f]) for f in rel[:2]] + [_moved_words(result, f) for f in moved[:2]]
    if not parts:
        labelled = result.drift.labelled_window_rows
        tail = "" if labelled else " (outcomes are not known yet for this window, so only the inputs were compared)"
        return ("Since the baseline nothing important changed: the model weighs its inputs as it did then, and "
                f"outcomes still follow them{tail}.")
    more = len(rel) + len(moved) - len(parts)
    extra = f" ({more} more input{'s' if more != 1 else ''} in the tables below)" if more > 0 else ""
    return f"Since the baseline: {'; '.join(parts)}{extra}."


def _cohort_words(result) -> str | None:
    c = result.cohort
    if c is None or not c.window_total or not c.window_size:
        return None
    share = c.window_total / c.window_size
    where = (", the group where the model lost the most accuracy" if c.spec.source == "concept_drift"
             else ", the group this report was asked about")
    return f"Most affected: predictions where {c.spec.label} ({share:.0%} of this window's predictions){where}."


def _region_words(result) -> str | None:
    best = None
    for feature, dep in result.dependence.items():
        if dep.kind == "numeric":
            lo, hi = dep.region()
            v = pd.to_numeric(dep.window_values, errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(dep.baseline_values, errors="coerce").to_numpy(dtype=float)
            for name, now, then, edge in (("above", v > hi, b > hi, hi), ("below", v < lo, b < lo, lo)):
                share, before = float(now.mean()) if len(v) else 0.0, float(then.mean()) if len(b) else 0.0
                if share >= 0.02 and share >= 2 * before and (best is None or share > best[0]):
                    best = (share, f"predictions where {feature} is {name} {_value(edge)} ({share:.0%} of this "
                                   f"window, {before:.0%} at baseline): the model rarely saw such values, so it "
                                   f"is guessing more there")
        else:
            level, before, now = _moved_level(dep)
            if level is not None and abs(now - before) >= 0.05 and (best is None or abs(now - before) > best[0]):
                best = (abs(now - before), f"predictions with {feature} = {level}, now {now:.0%} of this window "
                                           f"({before:.0%} at baseline)")
    return f"Most affected: {best[1]}." if best else None


def for_whom(result) -> str:
    """For whom it changed: where outcomes stopped following the model, the investigated cohort (the
    concept-drift notebook's worst segment, or the one asked for); where only inputs moved, the
    predictions in new territory. Nothing changed: nobody stands out."""
    flagged = result.drift.flagged("warn")
    if not flagged:
        return "No group of predictions stands out either."
    if result.drift.flagged("warn", "attribution_reliance"):
        said = _cohort_words(result) or _region_words(result)
    else:
        said = _region_words(result) or _cohort_words(result)
    return said or "No single group of predictions stands out: the change concerns all of them alike."


def summary(result) -> tuple[str, ...]:
    """Three plain sentences: what drives the predictions, what changed since the baseline, for whom.

    When nothing could be explained, one sentence saying so (the notes say why).
    """
    if result.drift is None or not result.drift.features:
        return ("The model's reasoning could not be examined in this window: see what this report could not do, "
                "above.",)
    return drivers(result), changes(result), for_whom(result)
