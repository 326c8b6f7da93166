"""A run that diverges stops naming what drove it and a remedy that works."""

from __future__ import annotations

import numpy as np
import pytest
from model_setup import QUIET, advance, make

from bmf_fem.config import config_from_dict
from bmf_fem.divergence import SATURATING_SOURCE, memory_loop
from bmf_fem.simulation import SimulationError


def runaway(**changes) -> dict:
    """A small crystal with memory feedback and a train of strong pulses: u passes the
    loop's threshold delta / (gamma W) = 1 / (0.05 * 50) = 0.4 and keeps growing."""
    data = {
        "mesh": {"kind": "crystal", "h": 0.1},
        "time": {"dt": 0.05, "t_end": 60.0},
        "field": {"feedback": 0.05},
        "memory": {"tau": [50.0]},
        "input": [
            {"centre": [0.0, 0.0], "radius": 0.2, "amplitude": 4.0, "start": 1.0}
            | {"period": 1.0, "count": 20, "width": 0.2}
        ],
        **QUIET,
    }
    for section, values in changes.items():
        data[section] = {**data.get(section, {}), **values}
    return data


@pytest.mark.parametrize(
    ("feedback", "decay", "tau", "weight"),
    [(0.05, 1.0, [50.0], [1.0]), (0.3, 0.5, [2.0, 60.0], [0.25, 0.75])],
)
def test_the_loops_threshold_is_delta_over_gamma_w(feedback, decay, tau, weight):
    """For f = u|u| the uniform balance -delta u + gamma W u|u| turns positive at
    u_c = delta / (gamma W), W = sum w_k tau_k, and symmetrically below zero."""
    config = config_from_dict(
        {"field": {"feedback": feedback, "decay": decay}, "memory": {"tau": tau, "weight": weight}}
    )
    loop = memory_loop(config)
    expected = decay / (feedback * np.dot(weight, tau))
    assert loop.threshold == pytest.approx(expected, rel=1e-9)
    assert loop.negative_threshold == pytest.approx(-expected, rel=1e-9)
    assert loop.locks_at is None


def test_a_saturating_source_locks_the_loop_in_a_high_state():
    """f = u|u| / (1 + u^2) with gamma W = 2.5: -u + 2.5 u^2 / (1 + u^2) = 0 at u = 0.5
    (unstable) and u = 2 (stable): no runaway, a high state at 2. A uniform state past
    the saddle (u = 1, M = 20; u = gamma M there) settles at u = 2, M = W f(2) = 40, where
    u|u| runs away."""
    data = runaway(
        field={"initial": "1"},
        memory={"initial": "20", "source": SATURATING_SOURCE},
        sites={"coupling": 0.0},
        time={"dt": 0.5, "t_end": 1000.0},
    )
    data["input"] = []
    loop = memory_loop(config_from_dict(data))
    assert loop.threshold is None and loop.negative_threshold is None
    assert loop.locks_at == pytest.approx(2.0, rel=1e-9)
    simulation = make(data)
    advance(simulation, 1000.0)
    assert simulation.model.u.x.array == pytest.approx(2.0, rel=1e-4)
    assert simulation.model.M.x.array == pytest.approx(40.0, rel=1e-4)
    simulation.close()

    data["memory"]["source"] = "u*abs(u)"
    simulation = make(data)
    with pytest.raises(SimulationError, match=r"u ran away.*memory-feedback loop"):
        advance(simulation, 1000.0)
    simulation.close()


def test_the_memory_feedback_loop_is_named_with_its_threshold():
    """The run used to stop with "the site cubic diverged ... raise sites.stabilisation",
    advice that fails: u is running away. The message names the loop, the threshold 0.4
    of this configuration and the saturating source, with which the same run finishes."""
    simulation = make(runaway())
    with pytest.raises(SimulationError) as failure:
        advance(simulation, 60.0)
    simulation.close()
    message = str(failure.value)
    assert "u ran away" in message and "the memory-feedback loop" in message
    assert "passes 0.4;" in message
    assert SATURATING_SOURCE in message
    assert "did not converge" not in message

    simulation = make(runaway(memory={"source": SATURATING_SOURCE}))
    advance(simulation, 60.0)
    assert np.all(np.isfinite(simulation.model.phi.x.array))
    simulation.close()


def test_a_large_dt_that_feeds_the_loop_is_not_called_a_solver_failure():
    """dt = 5 used to end in "the s solve did not converge (PETSc reason -9)" with u at
    2e6: the loop is named, not the solver."""
    simulation = make(runaway(time={"dt": 5.0}))
    with pytest.raises(SimulationError, match=r"u ran away.*memory-feedback loop") as failure:
        advance(simulation, 60.0)
    assert "did not converge" not in str(failure.value)
    simulation.close()


def test_a_reaction_that_is_not_finite_is_named_where_it_fails():
    """reaction "u/0" used to end in "the u solve did not converge"."""
    simulation = make(runaway(field={"reaction": "u/0"}))
    with pytest.raises(SimulationError) as failure:
        advance(simulation, 1.0)
    simulation.close()
    message = str(failure.value)
    assert 'field.reaction = "u/0" is not finite at t = 0 (where u = 0' in message
    assert "did not converge" not in message


def test_an_explicit_term_unstable_at_dt_names_dt_and_a_dt_that_works():
    """R = -50 u taken explicitly at dt = 0.05 multiplies u by (1 - 2.5) / (1 + 0.05) per
    step: an oscillation that grows. The message names time.dt and a bound below the
    limit dt < 2 / 50 (less the implicit decay's share); the run at that dt finishes."""
    data = runaway(field={"reaction": "-50*u", "feedback": 0.0}, time={"t_end": 5.0})
    simulation = make(data)
    with pytest.raises(SimulationError, match=r"unstable at time\.dt = 0\.05") as failure:
        advance(simulation, 5.0)
    simulation.close()
    suggested = float(str(failure.value).split("reduce time.dt (below ")[1].split(")")[0])
    assert suggested < 0.04
    data["time"]["dt"] = suggested
    simulation = make(data)
    advance(simulation, 2.0)
    assert np.abs(simulation.model.u.x.array).max() < 1.0
    simulation.close()
