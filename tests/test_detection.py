"""Sites and detectors against known answers: fold, escape times, slowing down, trends."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import ufl
from dolfinx import fem
from model_setup import QUIET, advance, make
from scipy import integrate

from bmf_fem.config import DetectConfig
from bmf_fem.detectors import Timing
from bmf_fem.detectors.ews import indicators, kendall_tau
from bmf_fem.detectors.statistical import StatisticalDetector
from bmf_fem.potential import H_C
from bmf_fem.sites import stabilised_site_step


def lower_well(h: float) -> float:
    roots = np.roots([-1.0, 0.0, 1.0, h])
    return float(roots[np.abs(roots.imag) < 1e-12].real.min())


def ensemble(
    n: int,
    tilt,
    dt: float,
    t_end: float,
    sigma: float,
    seed: int,
    start: float,
    sample_every: int = 1,
    on: float | None = None,
    stabilisation=0.0,
):
    """Integrate n independent sites with the solver's own site step; yield samples."""
    rng = np.random.default_rng(seed)
    s = np.full(n, start)
    first = np.full(n, -1.0)
    for step in range(round(t_end / dt)):
        t = step * dt
        increment = sigma * np.sqrt(dt) * rng.standard_normal(n)
        s = stabilised_site_step(s, tilt(t), dt, 1.0, stabilisation, 0.0, increment)
        if on is not None:
            first[(s > on) & (first < 0)] = t + dt
            if np.all(first >= 0):
                break
        if step % sample_every == 0:
            yield step, t + dt, s, first


def first_passage_time(h: float, D: float, start: float, threshold: float) -> float:
    """Exact mean first-passage time of ds = -V'(s) dt + sqrt(2D) dW from start to threshold."""
    V = lambda s: s**4 / 4 - s**2 / 2 - h * s  # noqa: E731

    def inner(y):
        return integrate.quad(lambda z: np.exp(-V(z) / D), -4.0, y, limit=200)[0]

    return integrate.quad(lambda y: np.exp(V(y) / D) * inner(y), start, threshold, limit=200)[0] / D


def test_the_exact_first_passage_integral_reproduces_the_quoted_values():
    """The issue's numbers are to the far well's minimum."""
    assert first_passage_time(0.0, 0.05, -1.0, 1.0) == pytest.approx(729.7, rel=2e-3)
    far = -lower_well(-0.1)  # the upper well of V at h = 0.1
    assert first_passage_time(0.1, 0.04, lower_well(0.1), far) == pytest.approx(283.6, rel=2e-3)


@pytest.mark.slow
@pytest.mark.parametrize(("h", "D"), [(0.0, 0.05), (0.1, 0.04)])
def test_noise_escape_time_matches_the_first_passage_integral(h, D):
    n, dt, on = 1000, 0.01, 0.0
    start = lower_well(h)
    expected = first_passage_time(h, D, start, on)
    horizon = 3 * expected
    samples = ensemble(
        n,
        lambda t: h,
        dt,
        horizon,
        np.sqrt(2 * D),
        seed=7,
        start=start,
        sample_every=round(horizon / dt) - 1,
        on=on,
    )
    first = list(samples)[-1][3]
    # Escape over a barrier of 5-6 D is a Poisson process after a short relaxation: the
    # mean follows from runs censored at the horizon (exponential maximum likelihood).
    crossed = first > 0
    assert crossed.mean() > 0.9
    mean = np.where(crossed, first, horizon).sum() / crossed.sum()
    assert mean == pytest.approx(expected, rel=0.10), (mean, expected)


def detector_config(**changes) -> DetectConfig:
    base = DetectConfig(
        detectors=("statistical",),
        window=50.0,
        detrend="gaussian",
        bandwidth=25.0,
        sample_every=10,
        indicator="ac1",
        trend_window=100.0,
        tau_threshold=0.5,
        sustain=0.0,
    )
    return dataclasses.replace(base, **changes)


class Sites:
    """The part of a run's sites a detector reads: s now."""

    def __init__(self, values: np.ndarray):
        self.s = values

    def values(self) -> np.ndarray:
        return self.s


def statistical(n: int, config: DetectConfig, dt: float) -> StatisticalDetector:
    return StatisticalDetector(n, config, Timing.of(config, dt, np.inf))


def test_indicators_reproduce_the_stationary_variance_and_autocorrelation():
    """At fixed tilt h = 0.3: variance D / lambda, lag-1 autocorrelation exp(-lambda dt_s)."""
    h, D, dt = 0.3, 2e-4, 0.01
    well = lower_well(h)
    lam = 3 * well**2 - 1
    assert lam == pytest.approx(0.856, abs=1e-3)
    config = detector_config(window=200.0, bandwidth=50.0)
    detector = statistical(300, config, dt)
    for step, t, s, _ in ensemble(300, lambda t: h, dt, 230.0, np.sqrt(2 * D), seed=3, start=well):
        detector.update(step, t, Sites(s))
    variance = detector.last["variance"].mean()
    ac1 = detector.last["ac1"].mean()
    assert variance == pytest.approx(D / lam, rel=0.10), variance
    assert ac1 == pytest.approx(np.exp(-lam * dt * config.sample_every), rel=0.10), ac1


def test_kendall_tau_of_monotone_and_reversed_series():
    series = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], [1.0, 3.0, 2.0, 4.0]])
    assert kendall_tau(series) == pytest.approx([1.0, -1.0, 4 / 6])


def test_indicators_of_white_noise_have_no_memory():
    rng = np.random.default_rng(1)
    variance, ac1 = indicators(rng.normal(0.0, 2.0, (50, 2000)), "mean", 1.0, "reflect")
    assert variance.mean() == pytest.approx(4.0, rel=0.02)
    assert abs(ac1.mean()) < 0.01


@pytest.mark.slow
def test_a_slow_ramp_raises_autocorrelation_and_its_trend_before_the_flip():
    """Ramp of the tilt towards h_c versus a fixed tilt: tau positive vs spread around 0.

    The alarm threshold is the 95 % quantile of the null runs' largest tau, not a guess.
    """
    n, dt, D, ramp_time = 100, 0.02, 2e-4, 1000.0
    sigma = np.sqrt(2 * D)
    config = detector_config(window=100.0, trend_window=400.0)

    def run(tilt, seed):
        detector = statistical(n, config, dt)
        before_flip = np.full(n, np.nan)
        for step, t, s, first in ensemble(
            n, tilt, dt, ramp_time, sigma, seed, start=lower_well(tilt(0.0)), on=0.0
        ):
            detector.update(step, t, Sites(s))
            if detector.history["ac1"].full:
                alive = first < 0
                before_flip[alive] = detector.last["tau"][alive]
        return detector, before_flip

    null, null_tau = run(lambda t: 0.1, seed=11)
    ramp, ramp_tau = run(lambda t: 0.1 + (H_C - 0.1) * t / ramp_time, seed=12)
    threshold = np.quantile(null.score_max, 0.95)
    print(
        f"null tau {np.nanmean(null_tau):.3f} +- {np.nanstd(null_tau):.3f}; ramp tau "
        f"{np.nanmean(ramp_tau):.3f} +- {np.nanstd(ramp_tau):.3f}; threshold {threshold:.3f};"
        f" ramp sites above it before the flip {np.mean(ramp_tau > threshold):.2f}"
    )
    assert abs(np.nanmean(null_tau)) < 0.2
    assert np.nanstd(null_tau) > 0.1  # spread, not pinned
    assert np.nanmean(ramp_tau) > np.nanmean(null_tau) + 2 * np.nanstd(null_tau)
    assert np.mean(ramp_tau > threshold) > 0.5
    assert ramp.last["ac1"].mean() > null.last["ac1"].mean()


@pytest.mark.parametrize(("tilt", "flips"), [(H_C - 0.005, False), (H_C + 0.005, True)])
def test_fold_in_cells_mode(tilt, flips):
    data = {
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 0.25},
        "time": {"dt": 0.1, "t_end": 150.0},
        "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0, "initial": repr(float(tilt))},
        "memory": {"source": "0"},
        "sites": {"mode": "cells", "regions": "domain", "coupling": 1.0, "initial": "-1"},
        **QUIET,
    }
    simulation = make(data)
    advance(simulation, 150.0)
    sites = simulation.sites
    assert sites.n_sites == 1
    assert bool(sites.s[0] > 0) is flips
    assert bool(sites.expression_times()[0] >= 0) is flips
    if not flips:
        assert sites.s[0] == pytest.approx(lower_well(tilt), abs=1e-6)
    simulation.close()


def test_region_average_drives_each_site():
    """Two halves of a box as sites, phi = x: each site sees its own average of x."""
    data = {
        "mesh": {"kind": "tissue", "h": 0.1, "cells": 6, "seed": 2},
        "time": {"dt": 0.1, "t_end": 0.1},
        "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0, "initial": "x"},
        "memory": {"source": "0"},
        "sites": {"mode": "cells", "regions": "cell_*"},
        **QUIET,
    }
    simulation = make(data)
    sites = simulation.sites
    averages = sites.region_average(simulation.model.phi)
    mesh_data = simulation.mesh_data
    x = ufl.SpatialCoordinate(mesh_data.mesh)
    dx = ufl.Measure("dx", domain=mesh_data.mesh, subdomain_data=mesh_data.cell_tags)
    for index, name in enumerate(sites.names):
        tag = mesh_data.cell_regions[name]
        moment = fem.assemble_scalar(fem.form(x[0] * dx(tag)))
        area = fem.assemble_scalar(fem.form(1.0 * dx(tag)))
        moment = simulation.comm.allreduce(moment)
        area = simulation.comm.allreduce(area)
        assert averages[index] == pytest.approx(moment / area, rel=1e-10, abs=1e-12)
    simulation.close()
