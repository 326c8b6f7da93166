"""Travelling fronts of the site field against the exact speed of the Nagumo equation."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from bmf_fem.config import config_from_dict
from bmf_fem.simulation import Simulation


def nagumo_speed(tilt: float, D: float, alpha: float) -> float:
    """Exact speed of the front s_t = D s_xx + alpha (s - s^3 + tilt), upper well invading.

    With roots s1 < s2 < s3 of s - s^3 + tilt, u = (s - s1)/(s3 - s1) solves the Nagumo
    equation u(1 - u)(u - a) after rescaling, whose front moves at sqrt(2) (1/2 - a); back
    in these units v = sqrt(D alpha / 2) (s1 + s3 - 2 s2) = -3 s2 sqrt(D alpha / 2).
    """
    s1, s2, s3 = np.sort(np.roots([-1.0, 0.0, 1.0, tilt]).real)
    return float(np.sqrt(D * alpha / 2.0) * (s1 + s3 - 2.0 * s2))


def front_speed(tilt: float, h: float, dt: float, D: float = 1.0, alpha: float = 1.0) -> float:
    """Speed fitted to the expression times of the sites the front passed after x = 12
    (clear of the initial profile), up to 2 before where it stopped."""
    config = config_from_dict(
        {
            "mesh": {"kind": "box", "dim": 1, "size": 60.0, "h": h},
            "time": {"dt": dt, "t_end": 30.0, "scheme": "sbdf2"},
            # phi = u held at the tilt: no diffusion, decay, feedback or memory source
            "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0, "initial": f"{tilt}"},
            "memory": {"source": "0"},
            "sites": {"D": D, "rate": alpha, "coupling": 1.0, "initial": "-tanh((x - 10)/sqrt(2))"},
        }
    )
    simulation = Simulation(config, MPI.COMM_WORLD)
    for _ in range(simulation.n_steps):
        simulation.step()
    model = simulation.model
    x = model.expression_time.function_space.tabulate_dof_coordinates()[:, 0]
    t = model.expression_time.x.array
    simulation.close()
    comm = MPI.COMM_WORLD
    reached = comm.allreduce(x[t >= 0.0].max(), op=MPI.MAX)
    window = (x > 12.0) & (x < reached - 2.0) & (t > 0.0)
    x = np.concatenate(comm.allgather(x[window]))
    t = np.concatenate(comm.allgather(t[window]))
    assert x.size > 10
    return float(np.polyfit(t, x, 1)[0])


@pytest.mark.parametrize("tilt", [0.1, 0.25])
def test_front_travels_at_the_nagumo_speed(tilt):
    exact = nagumo_speed(tilt, 1.0, 1.0)
    coarse = front_speed(tilt, h=0.2, dt=0.04)
    fine = front_speed(tilt, h=0.1, dt=0.02)
    assert abs(fine - exact) < 1e-3 * exact  # measured 6.7e-4 (tilt 0.1), 2.2e-4 (0.25)
    assert abs(fine - exact) < abs(coarse - exact)  # converges


def test_no_tilt_no_motion():
    assert nagumo_speed(0.0, 1.0, 1.0) == pytest.approx(0.0, abs=1e-12)
