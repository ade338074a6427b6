"""Feedback loops: is the system feeding on itself.

A recommender decides what users see; what they then click becomes the next
training data; the next model recommends more of the same. This package
measures the symptoms in a window of logs and compares them with the
*baseline period* (the reference data):

Exposure concentration (Fleder & Hosanagar 2009; Mansoury et al. 2020), :mod:`.concentration`
    Per chunk (one day by default, ``chunk`` in mlmon.yaml): the Gini
    coefficient of exposures over the catalogue's items, the normalised Shannon
    entropy of exposures, the share of exposures on the top 1% and top 10% of
    items, and catalogue coverage (items exposed / catalogue size).
Homogenisation (Chaney, Stewart & Engelhardt 2018), :mod:`.homogenisation`
    Mean Jaccard similarity of the item sets shown to two users, over sampled
    pairs of users of the same chunk.
Self-reinforcement (Jiang et al. 2019; Mansoury et al. 2020), :mod:`.reinforcement`, :mod:`.outcomes`
    The rich-get-richer correlation: Spearman's rho between an item's exposure
    in one chunk and in the next. Descriptive companions: the outcome rate on
    model-driven exposures against organic or randomised ones, and the share
    of positive outcomes landing on items the model already favoured.
Training provenance, :mod:`.provenance`
    Per model version, the share of its reference/training rows produced under
    the model's own influence.
Prediction narrowing (classifiers without items), :mod:`.predictions`
    Spread of the predictions (standard deviation) and their extremity (share
    outside the reference's central 90%), per chunk and per version.

Both periods are compared like with like (:mod:`.chunking`, :mod:`.exposure`)
and every figure is judged by one rule (:mod:`.decision`). :func:`analyse`
returns a :class:`FeedbackResult` (:mod:`.result`) built once; its figures are
drawn by :mod:`mlmon_nb.plots.feedback`.
"""

from __future__ import annotations

from .analysis import analyse, analyse_frames
from .chunking import chunk_figures, full_chunks
from .columns import Columns
from .concentration import coverage, gini, lorenz_curve, normalised_entropy, top_share
from .decision import Assessment, Limits, assess, limits
from .homogenisation import jaccard, mean_pairwise_jaccard
from .measures import ITEM_SUBJECTS, MEASURES, PREDICTION_SUBJECTS, Measure
from .predictions import prediction_figures
from .provenance import archived_provenance
from .reinforcement import rate_difference_interval, rich_get_richer, wilson_interval
from .result import Exposure, FeedbackResult, Outcomes, Predictions, Provenance

__all__ = [
    "ITEM_SUBJECTS", "MEASURES", "PREDICTION_SUBJECTS", "Assessment", "Columns", "Exposure", "FeedbackResult",
    "Limits", "Measure", "Outcomes", "Predictions", "Provenance", "analyse", "analyse_frames", "archived_provenance",
    "assess", "chunk_figures", "coverage", "full_chunks", "gini", "jaccard", "limits", "lorenz_curve",
    "mean_pairwise_jaccard", "normalised_entropy", "prediction_figures", "rate_difference_interval",
    "rich_get_richer", "top_share", "wilson_interval",
]
