"""Time-step throughput of bmf-fem against the naive dolfinx way, side by side.

A 2D P1 unit square (structured box), u diffusing (D dt / h^2 >= 100 at the largest size,
so the stepper picks CG + BoomerAMG), memory and sites pointwise. For each size:
ms per SBDF1 step, dof-steps per second per field, KSP iterations per step. Then the
same u equation done the naive way: a dolfinx LinearProblem re-solved every step
(re-assembles the matrix and the right-hand side and sets AMG up every time).

    containers/run python3 benchmarks/step_throughput.py [--sizes 250 500 1000] [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem
from mpi4py import MPI

from bmf_fem.config import config_from_dict
from bmf_fem.simulation import Simulation

D, DT = 0.01, 0.01


def config(n: int, pc_type: str) -> dict:
    return {
        "solver": {"pc_type": pc_type},
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 1.0 / n},
        "time": {"dt": DT, "t_end": 1.0, "scheme": "sbdf1"},
        "field": {"D": D, "decay": 0.05, "feedback": 0.1},
        "memory": {"D": 0.0, "tau": [20.0]},
        "sites": {"D": 0.0},
        "input": [
            {
                "profile": "gaussian",
                "centre": [0.5, 0.5],
                "radius": 0.1,
                "amplitude": 1.0,
                "start": 0.0,
                "period": 1.0,
                "count": 1,
                "width": 1.0,
            }
        ],
    }


def bmf_steps(simulation: Simulation, steps: int) -> tuple[float, float]:
    simulation.step()  # warm-up
    its, started = [], time.perf_counter()
    for _ in range(steps):
        simulation.step()
        its.append(simulation.stepper.iterations["u"])
    return (time.perf_counter() - started) / steps, float(np.mean(its))


def naive_steps(simulation: Simulation, steps: int) -> tuple[float, float]:
    """The u equation with a LinearProblem: forms assembled and AMG set up every step."""
    model = simulation.model
    V = model.V
    u_n = fem.Function(V)
    u_n.x.array[:] = model.u.x.array
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(V.mesh)
    source = ufl.exp(-((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2) / 0.01)
    a = (1 / DT + 0.05) * w * v * ufl.dx + D * ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx
    L = (u_n / DT + 0.1 * model.M + source) * v * ufl.dx
    problem = LinearProblem(
        a,
        L,
        petsc_options={
            "ksp_type": "cg",
            "pc_type": "hypre",
            "pc_hypre_type": "boomeramg",
            "ksp_rtol": 1e-8,
        },
    )
    problem.solve()  # warm-up (and compilation)
    its, started = [], time.perf_counter()
    for _ in range(steps):
        solution = problem.solve()
        u_n.x.array[:] = solution.x.array
        its.append(problem.solver.getIterationNumber())
    return (time.perf_counter() - started) / steps, float(np.mean(its))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rows = []
    for n in args.sizes:
        for pc_type in ("auto", "hypre"):
            started = time.perf_counter()
            simulation = Simulation(config_from_dict(config(n, pc_type)), comm)
            setup = time.perf_counter() - started
            dofs = simulation.model.V.dofmap.index_map.size_global
            ours, ours_its = bmf_steps(simulation, args.steps)
            if pc_type == "auto":
                naive, naive_its = naive_steps(simulation, max(3, args.steps // 3))
            pc = simulation.stepper.unknowns[0].solver.ksp.getPC().getType()
            rows.append((n, dofs, f"{pc_type}:{pc}", setup, ours, ours_its, naive, naive_its))
            simulation.close()
    if comm.rank == 0:
        print(
            f"2D P1, D dt/h^2 = {D * DT:g} N^2, sbdf1, {comm.size} rank(s); "
            "3 fields (u solved, m and s pointwise)"
        )
        print(
            f"{'N':>6} {'dofs':>9} {'pc':>13} {'setup s':>8} {'bmf ms/step':>12} "
            f"{'Mdof-steps/s/field':>19} {'its u':>6} {'naive ms/step':>14} "
            f"{'naive its':>10} {'speed-up':>9}"
        )
        for n, dofs, pc, setup, ours, its, naive, naive_its in rows:
            print(
                f"{n:>6} {dofs:>9} {pc:>13} {setup:>8.1f} {1e3 * ours:>12.1f} "
                f"{dofs / ours / 1e6:>19.2f} {its:>6.1f} {1e3 * naive:>14.1f} "
                f"{naive_its:>10.1f} {naive / ours:>8.1f}x"
            )


if __name__ == "__main__":
    main()
