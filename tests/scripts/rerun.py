"""Run one reproducibility case and print the SHA-256 of its final fields as JSON.

Usage: rerun.py CASE
  turing  a Gierer-Meinhardt Turing mode of amplitude 1e-6 on [0, pi] (1D, ICC): every
          solve's change is a millionth of the state, so its tests sit near the tolerance
  noisy   a pulsed, noisy hexagonal crystal (2D, SBDF2, multigrid u, noisy sites)
"""

import hashlib
import json
import sys

import numpy as np
from mpi4py import MPI

from bmf_fem import Simulation, config_from_dict

CASES = {
    "turing": {
        "mesh": {"kind": "box", "dim": 1, "size": float(np.pi), "h": float(np.pi / 400)},
        "time": {"dt": 0.005, "t_end": 2.0, "scheme": "sbdf2"},
        "field": {
            "D": 0.01,
            "decay": 1.0,
            "feedback": 0.0,
            "reaction": "u*u/M",
            "initial": "2 + 1e-6*cos(5*x)",
        },
        "memory": {"D": 0.3, "tau": [0.5], "source": "u*abs(u)", "initial": "2"},
        "sites": {"rate": 0.0, "coupling": 0.0},
    },
    "noisy": {
        "mesh": {"kind": "crystal", "shape": "hexagon", "size": 1.0, "h": 0.05},
        "time": {"dt": 0.05, "t_end": 2.0, "scheme": "sbdf2"},
        "field": {"D": 0.5, "noise": 0.01},
        "memory": {"D": 0.01, "tau": [5.0, 50.0], "weight": [0.5, 0.5]},
        "sites": {"D": 0.001, "noise": 0.01, "rate": 4.0},
        "input": [
            {
                "profile": "gaussian",
                "centre": [0.0, 0.0],
                "radius": 0.2,
                "amplitude": 0.5,
                "start": 0.13,
                "period": 0.5,
                "count": 3,
                "width": 0.2,
            }
        ],
    },
}

data = {**CASES[sys.argv[1]], "output": {"every": 1000000}}
simulation = Simulation(config_from_dict(data), MPI.COMM_WORLD)
for _ in range(simulation.n_steps):
    simulation.step()
digest = hashlib.sha256()
for function in (*simulation.model.unknowns, simulation.model.expression_time):
    digest.update(function.x.array.tobytes())
if MPI.COMM_WORLD.rank == 0:
    print(
        json.dumps({"fields": digest.hexdigest(), "u_max": float(simulation.model.u.x.array.max())})
    )
simulation.close()
