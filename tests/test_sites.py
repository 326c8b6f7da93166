"""The site field: the fold of the double well and the stabilised cubic."""

from __future__ import annotations

import numpy as np
import pytest
from model_setup import QUIET, advance, make

from bmf_fem.simulation import SimulationError

H_C = 2 / (3 * np.sqrt(3))


def held_tilt(tilt: float, rate: float = 1.0, dt: float = 0.1) -> dict:
    """phi held at ``tilt`` (no decay, no memory source), g = 1, s from the lower well."""
    return {
        "mesh": {"kind": "box", "dim": 1, "size": 1.0, "h": 0.25},
        "time": {"dt": dt, "t_end": 150.0, "scheme": "sbdf1"},
        "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0, "initial": repr(float(tilt))},
        "memory": {"source": "0"},
        "sites": {"coupling": 1.0, "rate": rate, "initial": "-1"},
        **QUIET,
    }


@pytest.mark.parametrize(("tilt", "flips"), [(H_C - 0.005, False), (H_C + 0.005, True)])
def test_deterministic_fold_brackets_h_c(tilt, flips):
    simulation = make(held_tilt(tilt))
    advance(simulation, 150.0)
    s = simulation.model.s.x.array
    assert np.allclose(simulation.model.phi.x.array, tilt)
    assert bool(np.all(s > 0)) is flips
    assert bool(np.all(simulation.model.expression_time.x.array >= 0)) is flips
    if not flips:
        # Below the fold s settles at the lower root of s - s^3 + h = 0.
        roots = np.roots([-1, 0, 1, tilt]).real
        assert s == pytest.approx(roots.min(), abs=1e-6)
    simulation.close()


def test_stabilisation_keeps_large_alpha_dt_stable():
    """alpha dt = 5: the stabilised scheme still lands in the upper well without blowing up."""
    simulation = make(held_tilt(0.5, rate=50.0, dt=0.1))
    advance(simulation, 5.0)
    s = simulation.model.s.x.array
    roots = np.roots([-1, 0, 1, 0.5])
    upper = roots[np.abs(roots.imag) < 1e-12].real.max()
    assert s == pytest.approx(upper, abs=1e-6)
    simulation.close()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_strong_tilt_beyond_the_stabilisation_stops_naming_the_key():
    """Tilt 200 puts the upper root at s* = 5.95, where alpha dt (3 s*^2 - 1) = 10.5
    exceeds 2 (1 + alpha S dt) = 2.4 for the default S = 2: the first step throws s to 15.7,
    the cubic then grows it without bound, and the error names sites.stabilisation.
    S = 1.5 s*^2 - 0.5 = 52.6 makes it settle at s*."""
    tilt = 200.0
    roots = np.roots([-1, 0, 1, tilt])
    upper = roots[np.abs(roots.imag) < 1e-12].real.max()
    simulation = make(held_tilt(tilt))
    with pytest.raises(SimulationError, match=r"field s is not finite.*sites\.stabilisation"):
        advance(simulation, 20.0)
    simulation.close()

    settled = held_tilt(tilt)
    settled["sites"]["stabilisation"] = 1.5 * upper**2 - 0.5
    simulation = make(settled)
    advance(simulation, 20.0)
    assert simulation.model.s.x.array == pytest.approx(upper, abs=1e-9)
    simulation.close()


def test_the_site_potential_against_its_formulas():
    """Force, stiffness, wells, barrier and fold of V = s^4/4 - s^2/2 - h s, against
    finite differences and the closed forms at h = 0 (wells -1, 0, 1; barrier 1/4)."""
    from bmf_fem.potential import DoubleWell

    well = DoubleWell()

    V = lambda s, h: s**4 / 4 - s**2 / 2 - h * s  # noqa: E731
    s, h, eps = np.linspace(-1.5, 1.5, 31), 0.2, 1e-6
    np.testing.assert_allclose(
        well.force(s, h), -(V(s + eps, h) - V(s - eps, h)) / (2 * eps), atol=1e-8
    )
    out = np.empty_like(s)
    np.testing.assert_allclose(
        well.force_into(out, s, np.full_like(s, h)), s - s**3 + h, atol=1e-15
    )
    np.testing.assert_allclose(
        well.stiffness(s), (V(s + eps, h) - 2 * V(s, h) + V(s - eps, h)) / eps**2, atol=1e-3
    )
    np.testing.assert_allclose(well.wells(0.0), [-1.0, 0.0, 1.0], atol=1e-12)
    assert well.barrier(0.0) == pytest.approx(0.25)
    assert well.barrier(well.fold - 1e-9) == pytest.approx(0.0, abs=1e-9)
    assert len(well.wells(well.fold + 1e-6)) == 1 and well.barrier(well.fold + 1e-6) == 0.0
    # "auto" stabilisation makes the step exactly stable at |s| = stable_range
    for scheme in ("sbdf1", "sbdf2"):
        S = well.stabilisation("auto", 4.0, 0.5, scheme)
        assert well.stable_extent(4.0, 0.5, S, scheme) == pytest.approx(well.stable_range)
