"""Tests of mlmon_nb.rules: the one band fitter and the one decision rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mlmon_nb import rules
from mlmon_nb.errors import UsageError


def test_fit_band_is_mean_and_sample_sd_of_the_finite_chunk_values():
    values = [0.1, 0.3, float("nan"), 0.2, 0.6]
    band = rules.fit_band(values, [100, 120, 90, 110, 100])
    finite = np.array([0.1, 0.3, 0.2, 0.6])
    assert band.mean == pytest.approx(finite.mean())
    assert band.sd == pytest.approx(finite.std(ddof=1))
    assert (band.low_seen, band.high_seen, band.n_chunks) == (0.1, 0.6, 4)
    assert band.chunk_rows == pytest.approx(np.median([100, 120, 110, 100]))


def test_fit_band_needs_three_finite_values():
    assert rules.fit_band([1.0, 2.0, float("nan")], [1, 1, 1]) is None


@pytest.mark.parametrize("rows", [None, 250, 1000, 40_000])
def test_band_limits_scale_the_sd_with_rows_for_size_dependent_figures(rows):
    band = rules.Band(mean=0.5, sd=0.04, low_seen=0.4, high_seen=0.6, chunk_rows=1000, n_chunks=20)
    sd = 0.04 * (math.sqrt(1000 / rows) if rows else 1.0)
    assert rules.band_limits(band, rows) == pytest.approx((0.5 - 3 * sd, 0.5 + 3 * sd))
    fixed = rules.Band(0.5, 0.04, 0.4, 0.6, 1000, 20, scales_with_size=False)
    assert rules.band_limits(fixed, rows, sigmas=2.0) == pytest.approx((0.42, 0.58))


def test_band_limits_without_a_band_or_with_a_nan_sd():
    assert rules.band_limits(None, 100) == (None, None)
    flat = rules.Band(mean=1.0, sd=float("nan"), low_seen=1.0, high_seen=1.0, chunk_rows=10, n_chunks=3)
    assert rules.band_limits(flat, 100) == (1.0, 1.0)


def test_band_round_trips_through_its_dict_with_non_finite_numbers():
    band = rules.Band(mean=0.5, sd=float("nan"), low_seen=0.5, high_seen=0.5, chunk_rows=10, n_chunks=3)
    d = band.to_dict()
    assert d["sd"] is None
    back = rules.Band.from_dict(d)
    assert back.mean == 0.5 and math.isnan(back.sd)


def _brute(value, warn_at, alert_at, worse, outside, significant):
    if value is None or not outside or not significant or not np.isfinite(value):
        return "ok"
    sign = 1 if worse == "up" else -1
    if alert_at is not None and np.isfinite(alert_at) and sign * (value - alert_at) >= 0:
        return "alert"
    if warn_at is not None and np.isfinite(warn_at) and sign * (value - warn_at) >= 0:
        return "warn"
    return "ok"


def test_decide_matches_a_brute_force_reading_of_its_rule():
    rng = np.random.default_rng(0)
    candidates = [None, float("nan"), float("inf"), -float("inf")]
    for _ in range(3000):
        value = candidates[rng.integers(4)] if rng.random() < 0.1 else float(rng.normal())
        warn_at = None if rng.random() < 0.1 else float(rng.normal())
        alert_at = None if rng.random() < 0.1 else float(rng.normal())
        worse = "up" if rng.random() < 0.5 else "down"
        outside, significant = bool(rng.random() < 0.8), bool(rng.random() < 0.8)
        got = rules.decide(value, warn_at, alert_at, worse=worse, outside=outside, significant=significant)
        assert got == _brute(value, warn_at, alert_at, worse, outside, significant)


def test_decide_refuses_an_unknown_direction():
    with pytest.raises(UsageError, match="'worse' parameter of decide"):
        rules.decide(1.0, 0.5, 0.8, worse="sideways")


def test_bonferroni_sigmas_keeps_the_family_rate_of_one_comparison():
    z = rules.bonferroni_sigmas(3.0, 7)
    assert 7 * sps.norm.sf(z) == pytest.approx(sps.norm.sf(3.0))
    assert rules.bonferroni_sigmas(3.0, 1) == 3.0


def test_family_sigmas_keeps_the_two_sided_family_rate():
    z = rules.family_sigmas(8)
    per = 2 * sps.norm.sf(z)
    assert 1 - (1 - per) ** 8 == pytest.approx(2 * sps.norm.sf(3.0))
