"""Building small simulations for the verification tests."""

from __future__ import annotations

import copy

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from bmf_fem.config import config_from_dict
from bmf_fem.simulation import Simulation

QUIET = {"output": {"every": 1000000}}


def make(data: dict, sources=None, comm=MPI.COMM_WORLD) -> Simulation:
    """A Simulation of the config ``data`` (with no inputs unless given)."""
    return Simulation(config_from_dict(copy.deepcopy(data)), comm, sources=sources)


def advance(simulation: Simulation, t_end: float) -> None:
    steps = round(t_end / simulation.stepper.dt)
    for _ in range(steps):
        simulation.step()


def l2_error(function: fem.Function, exact) -> float:
    """||function - exact||_L2 with ``exact(x)`` a UFL expression of the coordinates."""
    mesh = function.function_space.mesh
    x = ufl.SpatialCoordinate(mesh)
    metadata = {"quadrature_degree": 8}
    form = fem.form((function - exact(x)) ** 2 * ufl.dx(metadata=metadata))
    return np.sqrt(mesh.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM))


def rates(errors: list[float], sizes: list[float]) -> np.ndarray:
    """Observed orders log(e_i / e_{i+1}) / log(h_i / h_{i+1})."""
    e, h = np.asarray(errors), np.asarray(sizes)
    return np.log(e[:-1] / e[1:]) / np.log(h[:-1] / h[1:])
