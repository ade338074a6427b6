"""The area's sentences: the verdict, a finding per fired check, and readings of the descriptive figures.

Pure functions of the result's parts; :class:`~.result.FeedbackResult` calls
them.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..checks import SEVERITY
from .measures import ITEM_SUBJECTS, PREDICTION_SUBJECTS
from .reinforcement import FAVOURED_FRACTION

__all__ = ["clause", "finding", "fmt", "readings", "verdict"]

VERDICT_ORDER = ("top1pct_share", "coverage", "homogenisation", "exposure_gini", "self_reinforcement",
                 "top10pct_share", "exposure_entropy", "prediction_spread", "prediction_extremity",
                 "training_provenance")
"""The order fired checks are named in the verdict (after severity): the most telling first."""


def fmt(v: Any, percent: bool = False) -> str:
    """A figure for a sentence or table: three significant digits, or a percentage.

    Examples
    --------
    >>> fmt(0.12345), fmt(0.12345, percent=True), fmt(float("nan"))
    ('0.123', '12.3%', 'n/a')
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if percent:
        return f"{v:.1%}" if abs(v) >= 0.001 else f"{v:.3%}"
    return f"{v:.3g}"


def verdict(configured: bool, checks: Sequence[Any]) -> str:
    """One plain-words sentence on whether the system is feeding on itself."""
    if not configured:
        return ("Feedback loops are not monitored for this model: mlmon.yaml has no 'feedback' block "
                "naming the item, user, exposure, outcome and training-provenance columns.")
    fired = sorted((a for a in checks if a.status != "ok"),
                   key=lambda a: (-SEVERITY[a.status], VERDICT_ORDER.index(a.subject)))
    n_alert = sum(a.status == "alert" for a in checks)
    if fired:
        head = "A feedback loop is likely: " if n_alert else "Early signs of a feedback loop: "
        clauses = [clause(a) for a in fired[:3]]
        text = head + ", ".join(clauses[:-1]) + (" and " if len(clauses) > 1 else "") + clauses[-1]
        tail = (f"{n_alert} of {len(checks)} feedback checks alert" if n_alert
                else f"{len(fired)} of {len(checks)} feedback checks {'is' if len(fired) == 1 else 'are'} "
                     f"outside the baseline band but not by a material amount")
        return f"{text}; {tail}."
    names = {a.subject for a in checks}
    if names & set(ITEM_SUBJECTS):
        parts = ["exposure concentration", "catalogue coverage"]
        parts += ["homogenisation"] if "homogenisation" in names else []
        parts += ["rich-get-richer correlation"] if "self_reinforcement" in names else []
        return ("No sign of a feedback loop: " + ", ".join(parts[:-1]) + " and " + parts[-1]
                + " stay within the baseline period's day-to-day variation.")
    if names & set(PREDICTION_SUBJECTS):
        return ("No sign of a feedback loop in the predictions (the model has no item column): their spread "
                "and extremity stay within the baseline period's day-to-day variation.")
    return "Feedback loops could not be checked for this window: the report says which columns are missing."


def clause(a: Any) -> str:
    """A short plain-words clause for one fired check (an :class:`~.decision.Assessment`)."""
    v, b = a.value, a.baseline_mean
    base = f" (baseline {fmt(b, a.measure.percent)})" if b is not None else ""
    if a.subject == "top1pct_share":
        return f"the top 1% of items took {v:.1%} of exposures per day{base}"
    if a.subject == "top10pct_share":
        return f"the top 10% of items took {v:.1%} of exposures per day{base}"
    if a.subject == "coverage":
        return f"only {v:.1%} of the catalogue was shown per day{base}"
    if a.subject == "exposure_gini":
        return f"the Gini coefficient of exposures rose to {v:.3f}{base}"
    if a.subject == "exposure_entropy":
        return f"the entropy of exposures fell to {v:.3f}{base}"
    if a.subject == "homogenisation" and b:
        return (f"what different users are shown became {v / b:.1f} times as similar (mean Jaccard {fmt(v)} "
                f"against {fmt(b)})")
    if a.subject == "self_reinforcement":
        return f"the rich-get-richer correlation rose to {v:.2f}{base}"
    if a.subject == "prediction_spread":
        return f"the spread of the predictions fell to {fmt(v)}{base}"
    if a.subject == "prediction_extremity":
        return f"{v:.1%} of predictions fall outside the reference's central 90%{base}"
    if a.subject == "training_provenance":
        return f"{v:.0%} of the training data was produced under the model's own influence"
    return f"{a.measure.short} is {fmt(v, a.measure.percent)}{base}"


def finding(a: Any) -> str:
    """The finding of one fired check: figure, window value, baseline and the limit it crossed."""
    m = a.measure
    base = f" (baseline {fmt(a.baseline_mean, m.percent)})" if a.baseline_mean is not None else ""
    limit = f", {a.status} limit {fmt(a.warn_limit if a.status == 'warn' else a.alert_limit, m.percent)}"
    return f"{m.display}: {fmt(a.value, m.percent)}{base}{limit if a.warn_limit is not None else ''}"


def readings(*, word: str, version: str, exposure: Any = None, outcomes: Any = None,
             provenance_check: Any = None) -> dict[str, str]:
    """Plain-words readings of the descriptive figures (empty strings where not computed).

    Keys: ``method`` (how the periods were made comparable), ``lift``
    (model-driven against organic outcome rates), ``favoured`` (the items the
    model favoured before), ``carry_over`` (rich-get-richer across periods),
    ``provenance``.
    """
    out = {"lift": "", "favoured": "", "carry_over": "", "provenance": "", "method": ""}
    if exposure is not None and exposure.per_chunk:
        out["method"] = (f"Every {word} of both periods was subsampled to {exposure.per_chunk:,} exposures "
                         f"(the smallest full {word} of either period) so that the figures compare like with "
                         f"like; the catalogue is the {exposure.catalogue:,} items exposed in the baseline period.")
    lift = outcomes.lift.get("window") if outcomes is not None else None
    if lift:
        d, lo, hi = lift["difference"], lift["ci_low"], lift["ci_high"]
        sig = lo > 0 or hi < 0
        out["lift"] = (f"In this window the outcome rate on model-driven exposures is {d * 100:+.2f} points "
                       f"against organic ones (95% CI {lo * 100:+.2f} to {hi * 100:+.2f}): "
                       + ("a clear difference." if sig else "no clear difference."))
        base = outcomes.lift.get("baseline")
        if base:
            out["lift"] += (f" In the baseline period it was {base['difference'] * 100:+.2f} points "
                            f"({base['ci_low'] * 100:+.2f} to {base['ci_high'] * 100:+.2f}).")
    elif outcomes is not None and not outcomes.rates.empty:
        win = outcomes.rates[outcomes.rates["period"] == "window"].set_index("exposures")["labelled"]
        lacking = [g for g in ("model-driven", "organic") if not win.get(g, 0)]
        out["lift"] = (f"The window has no labelled {' or '.join(lacking)} exposures, so the two kinds' outcome "
                       f"rates cannot be compared"
                       + (" (every exposure is organic or randomised: nothing for the model to reinforce)."
                          if lacking == ["model-driven"] else "."))
    f = exposure.favoured if exposure is not None else {}
    if f:
        text = (f"The model favoured {f['items']:,} items (the top {FAVOURED_FRACTION:.0%} of the catalogue by "
                f"{f['basis']} in the baseline period). They received {f['exposure_share']:.1%} of this "
                f"window's exposures (baseline period: {f['baseline_exposure_share']:.1%})")
        if "positive_share" in f:
            lo, hi = f["positive_ci"]
            text += (f" and {f['positive_share']:.1%} of its positive outcomes (95% CI {lo:.1%} to {hi:.1%}, "
                     f"{f['positives']:,} positives)")
        out["favoured"] = text + "."
    c = exposure.carry_over if exposure is not None else {}
    if c and c.get("rho") is not None and math.isfinite(c["rho"]):
        out["carry_over"] = (f"Across periods, an item's exposure in the baseline period and in this window "
                             f"have Spearman's rho {c['rho']:.2f} over {c['items']:,} items (positive: items "
                             f"shown more before are shown more now).")
    p = provenance_check
    if p is not None:
        prev = (f"; the previous version with a figure had {p.baseline_mean:.1%}"
                if p.baseline_mean is not None else "; no earlier version has a figure to compare with")
        out["provenance"] = (f"{p.value:.1%} of the reference data of version {version} was produced under "
                             f"the model's own influence (status {p.status}: {p.rule}){prev}.")
    return out
