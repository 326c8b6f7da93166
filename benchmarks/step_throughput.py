"""One field-step against mesh size and preconditioner: the scaling of bmf-fem's solves.

The PERF_NOTES problem (du/dt = D lap u - delta u + S(x), Gaussian source, u(0) = 0, dt
= 0.1, delta = 0.05, rtol 1e-8) run through bmf_fem.Simulation on the structured unit
square (mesh kind box) of N x N cells, at weak (D = 1e-3) and strong (D = 1) diffusion.
Memory and sites do not diffuse (pointwise updates), so the u solve is the only solve.
For each size, case and preconditioner (auto and each forced choice): the median time of
the u equation's share of a step (right-hand side, projected guess and solve) over
--steps steps after --warmup, mega dof-steps per second, and the mean iterations. The
growth of the iterations with N shows how far each preconditioner is from
mesh-independent convergence; peers.py compares the same problem with other codes.

    containers/run python3 benchmarks/step_throughput.py [--sizes 128 256 512 1024]
        [--pcs auto gamg hypre icc] [--steps 10] [--warmup 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from mpi4py import MPI

from bmf_fem.config import config_from_dict
from bmf_fem.simulation import Simulation

DT, DECAY, RADIUS = 0.1, 0.05, 0.1
CASES = {"weak": 1e-3, "strong": 1.0}


def config(n: int, D: float, pc_type: str) -> dict:
    hold = 1e6  # one pulse that lasts the whole run: a constant source of rate 1
    return {
        "solver": {"pc_type": pc_type},
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 1.0 / n},
        "time": {"dt": DT, "t_end": hold, "scheme": "sbdf1"},
        "field": {"D": D, "decay": DECAY, "feedback": 0.0},
        "memory": {"D": 0.0, "tau": [20.0]},
        "sites": {"D": 0.0},
        "input": [
            {
                "profile": "gaussian",
                "centre": [0.5, 0.5],
                "radius": RADIUS,
                "amplitude": hold,
                "start": 0.0,
                "width": hold,
            }
        ],
        "output": {"every": 1000000},
    }


def field_steps(simulation: Simulation, steps: int, warmup: int) -> tuple[float, float]:
    """Median seconds of the u equation's share of a step, and its mean iterations."""
    field = simulation.stepper.unknowns[0]
    advance, seconds = field.advance, []

    def timed(*args, **kwargs):
        started = time.perf_counter()
        advance(*args, **kwargs)
        seconds.append(time.perf_counter() - started)

    field.advance = timed
    for _ in range(warmup):
        simulation.step()
    seconds.clear()
    its = []
    for _ in range(steps):
        simulation.step()
        its.append(field.iterations)
    return float(np.median(seconds)), float(np.mean(its))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--pcs", nargs="+", default=["auto", "gamg", "hypre", "icc"])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rows = []
    for case in args.cases:
        for n in args.sizes:
            for pc_type in args.pcs:
                simulation = Simulation(config_from_dict(config(n, CASES[case], pc_type)), comm)
                solver = simulation.stepper.unknowns[0].solver
                number = simulation.stepper.diffusion_number(simulation.model.field)
                seconds, its = field_steps(simulation, args.steps, args.warmup)
                dofs = simulation.model.V.dofmap.index_map.size_global
                rows.append((case, n, dofs, number, f"{pc_type}:{solver.pc_type}", seconds, its))
                simulation.close()
    if comm.rank == 0:
        print(
            f"One field-step (u: RHS + guess + solve), 2D P1 box, {comm.size} rank(s), median of "
            f"{args.steps} steps after {args.warmup}; load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"{'case':>6} {'N':>5} {'dofs':>8} {'D dt/h^2':>9} {'pc':>13} {'ms':>8} "
            f"{'Mdof-steps/s':>12} {'its':>5}"
        )
        for case, n, dofs, number, pc, seconds, its in rows:
            print(
                f"{case:>6} {n:>5} {dofs:>8} {number:>9.3g} {pc:>13} {1e3 * seconds:>8.2f} "
                f"{dofs / seconds / 1e6:>12.2f} {its:>5.1f}"
            )


if __name__ == "__main__":
    main()
