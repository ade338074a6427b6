"""The baseline's representation of a feature, and the statistics of a window's values against it.

The reference rows are never read again: numeric features are compared with
the baseline's sorted values and bins, categorical ones with its level shares
(:class:`mlmon_nb.stats.NumericReference`, :class:`~mlmon_nb.stats.CategoricalReference`).
"""

from __future__ import annotations

from typing import Sequence

from .. import stats
from ..baseline import Baseline
from .rule import TESTS


def numeric_reference(baseline: Baseline, name: str) -> stats.NumericReference:
    """The baseline's representation of a numeric feature (or of the prediction)."""
    profile = baseline.manifest["prediction"] if name == baseline.prediction_column and \
        name not in baseline.manifest["profiles"] else baseline.profile(name)
    return stats.NumericReference.from_profile(baseline.sorted_values[name], profile)


def categorical_reference(baseline: Baseline, name: str) -> stats.CategoricalReference:
    """The baseline's representation of a categorical feature."""
    return stats.CategoricalReference.from_profile(baseline.profile(name))


def methods_for(kind: str, method: str, extra: Sequence[str] = ()) -> list[str]:
    """The decision statistic, the kind's test when it has none, and the extra ones that apply."""
    wanted = [method, method if stats.REGISTRY[method].has_test else TESTS[kind], *extra]
    return [m for m in dict.fromkeys(wanted) if kind in stats.REGISTRY[m].kinds]
