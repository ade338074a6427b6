"""The attribution-drift figures: one registry of their names, display names and practical floors.

A figure *fires* when it leaves its band of natural variability **and** its effect reaches a
practical floor: warn at ``warn``, alert at ``alert`` (overridable per figure with
``thresholds.methods.<name>.warn/alert``). The names are those :mod:`mlmon_nb.alertable`
lets ``thresholds.methods`` use:

>>> from mlmon_nb.alertable import ATTRIBUTION_METHODS
>>> tuple(METHODS) == ATTRIBUTION_METHODS
True
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Thresholds


@dataclass(frozen=True)
class AttributionMethod:
    """One figure of the attribution-drift rule (see :mod:`mlmon_nb.explain.attribution_drift`)."""

    name: str
    display: str
    short: str
    warn: float
    alert: float


METHODS: dict[str, AttributionMethod] = {m.name: m for m in (
    AttributionMethod("attribution_reliance", "outcome reliance on the feature's attribution (|change|)",
                      "outcome reliance", warn=0.25, alert=0.5),
    AttributionMethod("attribution_distance", "Wasserstein distance of SHAP values (÷ total mean |SHAP|)",
                      "SHAP distance", warn=0.025, alert=0.05),
    AttributionMethod("attribution_share", "importance share (|change| of mean |SHAP| ÷ total)",
                      "importance share", warn=0.05, alert=0.10),
)}
"""The figures, by machine name, in tie-break order (reliance, then distance, then share)."""

METHOD_ORDER = tuple(METHODS)


def method_limits(thresholds: Thresholds | None = None) -> dict[str, tuple[float, float]]:
    """(warn, alert) floors per figure, with the ``thresholds.methods`` overrides.

    Examples
    --------
    >>> method_limits()["attribution_share"]
    (0.05, 0.1)
    >>> method_limits(Thresholds(methods={"attribution_share": {"alert": 0.2}}))["attribution_share"]
    (0.05, 0.2)
    """
    thresholds = thresholds if thresholds is not None else Thresholds()
    out = {}
    for name, m in METHODS.items():
        override = thresholds.method(name)
        out[name] = (float(override.get("warn", m.warn)), float(override.get("alert", m.alert)))
    return out
