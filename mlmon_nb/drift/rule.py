"""The drift rule: which statistic judges a subject, its practical floors, and how its status is decided.

Every drift check asks two questions and fires only when both say yes:

1. **Is the change larger than the reference's own variability, and large
   enough to matter?** The effect size must be beyond the upper edge of its
   band (:func:`mlmon_nb.rules.band_limits`, ``thresholds.band_margin`` adding
   standard deviations) and reach a *practical floor* (the registry's
   ``warn``/``alert`` effect, overridable per statistic or per feature in
   mlmon.yaml), so that a huge window does not alert on a negligible shift.
2. **Is it more than chance?** Its test must be significant after
   correction: adjusted p < ``thresholds.fdr``.

In code, with :func:`mlmon_nb.rules.decide`::

    decide(value, rule.warn, rule.alert, outside=beyond(value, band_high),
           significant=significant(p_adjusted, thresholds.fdr))

and the thresholds a check reports are :func:`effective` ``(band_high, floor)``,
the higher of the band's edge and the floor (kept inside what the statistic
can take: :func:`mlmon_nb.rules.within_range`).

**The default numeric decision has three parts** (:data:`NUMERIC_COMPONENTS`),
each with its own band and floors, their tests corrected together
(Benjamini-Hochberg over every feature's KS and tail tests):

* ``ks``: where the two distributions differ most (location, mostly);
* ``wasserstein`` (÷ the reference's sd): how far values moved on average, which
  sees a change of *spread* that KS under-weights (x1.5 spread: about 0.4 sd);
* ``tail``: the share of the window's rows where the reference almost never
  was (beyond its 0.5 %/99.5 % quantiles or in its empty stretches, minus the
  reference's share there; its test is binomial), which sees a new mode in a
  minority of rows that a volatile feature's wide KS band would allow.

The feature's status is the worst of its parts; the part that decided is
its ``method`` (KS first on ties, so a KS alert stays a KS alert). A feature
with its own ``thresholds.features.<f>.method`` is judged by that statistic alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import stats
from ..config import Thresholds
from ..errors import ConfigError, UsageError
from ..rules import within_range

#: The decision statistic per feature kind (why: see :mod:`mlmon_nb.drift`).
DEFAULT_METHODS = {"numeric": "ks", "categorical": "jensen_shannon"}
#: The parts of the default numeric decision, in the order ties are resolved.
NUMERIC_COMPONENTS = ("ks", "wasserstein", "tail")
#: The significance test per feature kind, used for statistics without a test of their own.
TESTS = {"numeric": "ks", "categorical": "chi2"}
#: The baseline's name of the model's predictions (its profile, sorted values and bands).
PREDICTION = "__prediction__"


@dataclass(frozen=True)
class Rule:
    """The resolved decision rule of one subject: method and practical floors."""

    subject: str
    kind: str
    method: str
    warn: float
    alert: float
    ignore: bool = False
    #: Every statistic that decides, with its (warn, alert) floors: ``method`` alone, or the
    #: default numeric decision's parts.
    components: tuple[tuple[str, float, float], ...] = ()

    @property
    def test(self) -> str:
        """The statistic whose p-value decides significance: the method's own test, else the kind's."""
        return test_of(self.method, self.kind)

    @property
    def parts(self) -> tuple[tuple[str, float, float], ...]:
        """``(statistic, warn, alert)`` of each part of the decision."""
        return self.components or ((self.method, self.warn, self.alert),)


def test_of(method: str, kind: str) -> str:
    """The statistic whose p-value decides a method's significance: its own test, else the kind's."""
    return method if stats.REGISTRY[method].has_test else TESTS[kind]


def floors(thresholds: Thresholds, method: str, subject: str | None = None) -> tuple[float, float]:
    """(warn, alert) practical floors of a statistic, with per-method and per-subject overrides.

    Examples
    --------
    >>> floors(Thresholds(), "ks")
    (0.05, 0.1)
    >>> floors(Thresholds(methods={"ks": {"alert": 0.2}}, features={"price": {"warn": 0.3}}), "ks", "price")
    (0.2, 0.2)
    """
    info = stats.get(method)
    per_method = thresholds.method(method)
    per_subject = thresholds.feature(subject) if subject is not None else {}
    warn = float(per_subject.get("warn", per_method.get("warn", info.warn)))
    alert = float(per_subject.get("alert", per_method.get("alert", info.alert)))
    return min(warn, alert), alert


def feature_rule(thresholds: Thresholds, subject: str, kind: str, default: str | None = None) -> Rule:
    """The decision rule of a feature (or of the prediction column) of a kind.

    Raises
    ------
    ConfigError
        When ``thresholds.features.<subject>.method`` does not apply to the kind.
    """
    per = thresholds.feature(subject)
    method = per.get("method") or default or DEFAULT_METHODS[kind]
    try:
        stats.get(method, kind)
    except UsageError as exc:
        raise ConfigError(f"thresholds.features.{subject}.method: {exc}") from exc
    warn, alert = floors(thresholds, method, subject)
    components: tuple[tuple[str, float, float], ...] = ()
    if kind == "numeric" and not per.get("method") and default is None and method == DEFAULT_METHODS[kind]:
        components = ((method, warn, alert),
                      *((m, *floors(thresholds, m)) for m in NUMERIC_COMPONENTS if m != method))
    return Rule(subject=subject, kind=kind, method=method, warn=warn, alert=alert,
                ignore=bool(per.get("ignore", False)), components=components)


def beyond(value: float | None, band_high: float | None) -> bool:
    """Whether a value is above its band's upper edge (any finite value is, without a band).

    Examples
    --------
    >>> beyond(0.15, 0.04), beyond(0.15, 0.2), beyond(0.15, None), beyond(float("nan"), None)
    (True, False, True, False)
    """
    if value is None or not math.isfinite(value):
        return False
    return band_high is None or not math.isfinite(band_high) or value > band_high


def significant(p_adjusted: float | None, fdr: float) -> bool:
    """Whether an (adjusted) p-value is below the false discovery rate; a missing one is not."""
    return p_adjusted is not None and math.isfinite(p_adjusted) and p_adjusted < fdr


def effective(band_high: float | None, floor: float) -> float:
    """The threshold a check reports: the higher of the band's upper edge and the practical floor."""
    if band_high is None or not math.isfinite(band_high):
        return float(floor)
    return float(max(band_high, floor))


def bounded(band_high: float | None, floor: float, method: str) -> tuple[float | None, str | None]:
    """The band's upper edge kept inside what ``method`` can take (the floor when it is not), and why."""
    return within_range(band_high, method, floor)
