"""The registry of feedback figures: one :class:`Measure` per monitored figure.

Every check of the area is one of these figures; its machine name is the
check's subject and the name ``thresholds.metrics`` uses for fixed limits (the
names equal ``mlmon_nb.alertable.METRICS["feedback_loop"]``, which config
validates against).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ITEM_SUBJECTS", "MEASURES", "PREDICTION_SUBJECTS", "Measure"]


@dataclass(frozen=True)
class Measure:
    """One monitored figure: machine name, display name, the direction that signals a loop.

    Attributes
    ----------
    name, display : str
        Machine name (the check's subject) and the name tables and plots show.
    method : str
        The statistic behind it (the check's ``method``).
    worse : {"up", "down"}
        The direction in which the figure signals a feedback loop.
    unit : str
        What the figure's numbers mean (a plot's axis label).
    percent : bool
        Whether the figure is a share shown as a percentage.
    material : (str, float) or None
        ``("abs", delta)`` or ``("ratio", factor)``: the change from the
        baseline mean that makes a move material (it then alerts).
    phrase : str
        How a sentence names the figure.
    """

    name: str
    display: str
    method: str
    worse: str
    unit: str
    percent: bool = False
    material: tuple[str, float] | None = None
    phrase: str = ""

    @property
    def short(self) -> str:
        return self.phrase or self.display[0].lower() + self.display[1:]


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("exposure_gini", "Gini coefficient of exposures", "gini", "up", "0 = equal, 1 = one item takes all",
            material=("abs", 0.05), phrase="the Gini coefficient of exposures"),
    Measure("exposure_entropy", "Normalised entropy of exposures", "normalised_entropy", "down",
            "1 = uniform over the catalogue", material=("abs", 0.03), phrase="the normalised entropy of exposures"),
    Measure("top1pct_share", "Share of exposures on the top 1% of items", "top_share", "up", "%", True,
            material=("ratio", 1.5), phrase="the top 1% of items' share of exposures"),
    Measure("top10pct_share", "Share of exposures on the top 10% of items", "top_share", "up", "%", True,
            material=("ratio", 1.25), phrase="the top 10% of items' share of exposures"),
    Measure("coverage", "Catalogue coverage", "coverage", "down", "% of catalogue items exposed", True,
            material=("ratio", 0.9), phrase="catalogue coverage"),
    Measure("homogenisation", "Mean Jaccard similarity of users' exposed items", "jaccard", "up",
            "0 = no shared items", material=("ratio", 2.0),
            phrase="the similarity of what different users are shown (mean Jaccard)"),
    Measure("self_reinforcement", "Rich-get-richer correlation (chunk to next chunk)", "spearman", "up",
            "Spearman's rho", material=("abs", 0.2), phrase="the rich-get-richer correlation"),
    Measure("prediction_spread", "Spread of the predictions (sd)", "std", "down", "sd of the prediction",
            material=("ratio", 0.8), phrase="the spread of the predictions"),
    Measure("prediction_extremity", "Predictions outside the reference's central 90%", "tail_share", "up",
            "%", True, material=("ratio", 1.5),
            phrase="the share of predictions outside the reference's central 90%"),
    Measure("training_provenance", "Share of training data produced under the model's influence", "share",
            "up", "%", True, phrase="the share of training data produced under the model's influence"),
)}
"""Every feedback figure by machine name."""

ITEM_SUBJECTS = ("exposure_gini", "exposure_entropy", "top1pct_share", "top10pct_share", "coverage",
                 "homogenisation", "self_reinforcement")
"""Figures of exposures item by item (need the item column)."""

PREDICTION_SUBJECTS = ("prediction_spread", "prediction_extremity")
"""Figures of the predictions (a model without an item column)."""
