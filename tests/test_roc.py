"""ROC scoring of early-warning indicators (bmf_fem.roc, after Bury et al. 2021)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from bmf_fem import roc


def test_kendall_tau_a_hand_case():
    # values [1, 3, 2, 4] against time: 5 concordant pairs, 1 discordant (3, 2).
    assert roc.kendall_tau_a(np.arange(4.0), np.array([1.0, 3.0, 2.0, 4.0])) == pytest.approx(4 / 6)


def test_kendall_tau_a_ties_count_zero_and_nan_dropped():
    # [1, 1, 2]: pairs (1,1) tie, (1,2) and (1,2) concordant -> 2 / 3 (tau-a, not tau-b).
    assert roc.kendall_tau_a(np.arange(3.0), np.array([1.0, 1.0, 2.0])) == pytest.approx(2 / 3)
    # A NaN is dropped, not ranked: [3, nan, 2, 1] is [3, 2, 1] -> -1.
    values = np.array([3.0, np.nan, 2.0, 1.0])
    assert roc.kendall_tau_a(np.arange(4.0), values) == pytest.approx(-1.0)
    assert np.isnan(roc.kendall_tau_a(np.arange(3.0), np.array([np.nan, 1.0, np.nan])))


def test_kendall_tau_a_matches_scipy_without_ties():
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 10, 60))
    values = rng.normal(size=60) + 0.1 * times
    expected = kendalltau(times, values).statistic
    assert roc.kendall_tau_a(times, values) == pytest.approx(expected, abs=1e-12)


def test_auc_hand_case_with_ties():
    forced, null = np.array([0.9, 0.5, 0.5]), np.array([0.5, 0.1])
    # 0.9 beats both; each 0.5 ties 0.5 (half) and beats 0.1 -> (2 + 1.5 + 1.5) / 6.
    assert roc.auc(forced, null) == pytest.approx(5 / 6)
    fpr, tpr = roc.roc_curve(forced, null)
    np.testing.assert_allclose(fpr, [0.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0.0, 1 / 3, 1.0, 1.0])
    assert np.trapezoid(tpr, fpr) == pytest.approx(5 / 6)


def test_auc_limits_nan_and_empty():
    assert roc.auc(np.array([2.0, 3.0, np.nan]), np.array([0.0, 1.0])) == 1.0
    assert roc.auc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 0.0
    same = np.random.default_rng(2).normal(size=50)
    assert roc.auc(same, same.copy()) == pytest.approx(0.5)
    assert np.isnan(roc.auc(np.array([]), np.array([1.0])))
    assert np.isnan(roc.auc(np.array([1.0]), np.array([np.nan])))


def test_auc_equals_trapezoid_area_of_roc_curve():
    rng = np.random.default_rng(3)
    # Rounded scores: many ties within and across the two sides.
    forced = np.round(rng.normal(0.4, 1.0, 300), 1)
    null = np.round(rng.normal(0.0, 1.0, 250), 1)
    fpr, tpr = roc.roc_curve(forced, null)
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = roc.auc(forced, null)
    assert np.trapezoid(tpr, fpr) == pytest.approx(area, abs=1e-12)
    wins = (forced[:, None] > null[None, :]).mean() + 0.5 * (forced[:, None] == null).mean()
    assert area == pytest.approx(wins, abs=1e-12)
    assert 0.55 < area < 0.75


def test_prediction_taus_increasing_indicator_is_one():
    times = np.linspace(0.0, 50.0, 101)
    for part in (roc.EARLY, roc.LATE):
        np.testing.assert_array_equal(
            roc.prediction_taus(times, np.exp(times / 10), 40.0, part), 1.0
        )


def dipped_series() -> tuple[np.ndarray, np.ndarray]:
    """Values equal to times 0..100, NaN before t = 10, a dip to -100 at t = 55."""
    times = np.arange(101.0)
    values = times.copy()
    values[:10] = np.nan
    values[55] = -100.0
    return times, values


def dip_tau(last: int) -> float:
    """Tau over samples 10..last (last >= 55): the dip is discordant with 45 earlier ones."""
    n = last - 9
    pairs = n * (n - 1) / 2
    return (pairs - 2 * 45) / pairs


def test_prediction_taus_point_positions():
    times, values = dipped_series()
    # t0 = 10, t1 = 60: early points 40..50 miss the dip; late points at 50 + k 10/9 see it
    # from k = 5 (p = 55.6) on, and the last point includes the sample at t1 itself.
    early = roc.prediction_taus(times, values, 60.0, roc.EARLY)
    np.testing.assert_array_equal(early, 1.0)
    late = roc.prediction_taus(times, values, 60.0, roc.LATE)
    np.testing.assert_array_equal(late[:5], 1.0)
    last_samples = np.floor(np.linspace(50.0, 60.0, 10)[5:]).astype(int)
    np.testing.assert_allclose(late[5:], [dip_tau(m) for m in last_samples], rtol=1e-12)
    assert late[-1] == pytest.approx((1275 - 90) / 1275)


def test_prediction_taus_too_few_samples_is_nan():
    times = np.arange(20.0)
    values = np.full(20, np.nan)
    values[[3, 15]] = [1.0, 2.0]
    assert np.all(np.isnan(roc.prediction_taus(times, values, 19.0, roc.LATE)))
    assert np.all(np.isnan(roc.prediction_taus(times, np.full(20, np.nan), 19.0, roc.LATE)))
    # Three finite samples on [t0, t1]: only points reaching the third one have a tau.
    values[9] = 0.0
    taus = roc.prediction_taus(times, values, 15.0, (0.0, 1.0), points=4)  # p = 3, 7, 11, 15
    assert np.all(np.isnan(taus[:3]))
    assert taus[3] == pytest.approx(1 / 3)  # (1, 0, 2): one discordant, two concordant


@pytest.mark.parametrize("chunk_elements", [roc.CHUNK_ELEMENTS, 500])
def test_series_taus_matches_prediction_taus(monkeypatch, chunk_elements):
    monkeypatch.setattr(roc, "CHUNK_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(4)
    times = np.cumsum(rng.uniform(0.5, 1.5, 80))
    n_series = 25
    values = np.cumsum(rng.normal(size=(80, n_series)), axis=0)
    values[rng.random(values.shape) < 0.05] = np.nan  # scattered gaps
    starts = rng.integers(0, 40, n_series)
    values[np.arange(80)[:, None] < starts[None, :]] = np.nan  # late-defined series
    values[:, 0] = np.nan  # never defined
    values[:, 1] = np.round(values[:, 1])  # ties in values
    t1 = rng.uniform(times[30], times[-1], n_series)
    t1[2] = times[50]  # a point exactly on a sample time
    t1[3] = times[starts[3]] - 1.0  # ends before the series starts
    for part in (roc.EARLY, roc.LATE, (0.0, 1.0)):
        got = roc.series_taus(times, values, t1, part)
        assert got.shape == (n_series, 10)
        expected = np.array(
            [roc.prediction_taus(times, values[:, s], t1[s], part) for s in range(n_series)]
        )
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15, equal_nan=True)
        assert np.isfinite(got[4:, 1:]).mean() > 0.8  # the comparison is not vacuous
    assert np.all(np.isnan(got[:, 0]))  # part (0, 1) starts at t0: a single sample
    assert np.all(np.isnan(roc.series_taus(times, values, t1, roc.LATE)[[0, 3]]))


def synthetic(rng, n_times, n_series, drift):
    """Random walks with drift (drift > 0) or stationary noise (drift None)."""
    noise = rng.normal(size=(n_times, n_series))
    if drift is None:
        return noise
    return np.cumsum(noise + drift, axis=0)


def test_evaluate_separates_trends_from_noise():
    rng = np.random.default_rng(5)
    times = np.linspace(0.0, 100.0, 150)
    forced = synthetic(rng, 150, 60, drift=0.3)
    null = synthetic(rng, 150, 60, drift=None)
    forced[:20] = np.nan  # indicator defined from t ~ 13 on
    forced_t1 = rng.uniform(80.0, 100.0, 60)
    null_t1 = rng.uniform(80.0, 100.0, 60)
    # Left out: never defined, and only two finite samples before t1.
    forced[:, 0] = np.nan
    forced[:, 1] = np.nan
    forced[[30, 40], 1] = [1.0, 2.0]
    forced_t1[1] = times[45]
    result = roc.evaluate(times, forced, forced_t1, null, null_t1)
    assert (result["forced"], result["null"]) == (58, 60)
    assert result["auc_late"] > 0.9
    assert result["auc_early"] > 0.5
    fpr, tpr = result["curve_late"]
    assert np.trapezoid(tpr, fpr) == pytest.approx(result["auc_late"], abs=1e-12)


def test_evaluate_same_distribution_is_near_half():
    rng = np.random.default_rng(6)
    times = np.arange(120.0)
    forced = synthetic(rng, 120, 400, drift=None)
    null = synthetic(rng, 120, 400, drift=None)
    t1 = rng.uniform(90.0, 119.0, 400)
    result = roc.evaluate(times, forced, t1, null, t1[::-1], points=10)
    assert (result["forced"], result["null"]) == (400, 400)
    for label in ("early", "late"):
        assert abs(result[f"auc_{label}"] - 0.5) < 0.1


def test_plot_roc_writes_png(tmp_path):
    results = {
        "variance": {
            "auc_early": 0.7,
            "auc_late": 0.8,
            "curve_early": [[0.0, 0.2, 1.0], [0.0, 0.6, 1.0]],
            "curve_late": [[0.0, 0.1, 1.0], [0.0, 0.7, 1.0]],
        },
        "ac1": {
            "auc_early": 0.5,
            "auc_late": 0.55,
            "curve_early": [[0.0, 1.0], [0.0, 1.0]],
            "curve_late": [[0.0, 0.5, 1.0], [0.0, 0.6, 1.0]],
        },
    }
    path = roc.plot_roc(tmp_path / "plots" / "roc.png", results)
    assert path == tmp_path / "plots" / "roc.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_series_taus_with_repeated_and_unsorted_times():
    rng = np.random.default_rng(7)
    times = rng.permutation(np.repeat(np.arange(30.0), 2))  # every time twice, shuffled
    values = rng.normal(size=(60, 6))
    t1 = np.array([29.0, 20.0, 25.5, 10.0, 29.0, 15.0])
    got = roc.series_taus(times, values, t1, (0.2, 1.0), points=5)
    expected = [roc.prediction_taus(times, values[:, s], t1[s], (0.2, 1.0), 5) for s in range(6)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.all(np.isfinite(got))
