"""Preconditioners for the implicit operator (c M + D K), side by side.

For a 2D P1 unit square of N x N cells and a range of diffusion numbers D dt / h^2, the
setup and median solve time of CG with each preconditioner, through bmf-fem's own
ImplicitSolver (previous solution as the initial guess, rtol 1e-8). This is the data
behind `solver.pc_type = "auto"`.

    containers/run python3 benchmarks/preconditioners.py [--n 500] [--numbers 1 25 300 3000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import ufl
from dolfinx import fem, mesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI

from bmf_fem.linalg import ImplicitSolver

DT = 0.01
VARIANTS = {
    "hypre (bmf)": ("hypre", {}),
    "hypre HMIS ext+i": (
        "hypre",
        {
            "pc_hypre_boomeramg_coarsen_type": "HMIS",
            "pc_hypre_boomeramg_interp_type": "ext+i",
            "pc_hypre_boomeramg_P_max": 4,
        },
    ),
    "gamg": ("gamg", {}),
    "jacobi": ("jacobi", {}),
    "icc": ("icc", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--numbers", type=float, nargs="+", default=[1.0, 25.0, 300.0, 3000.0])
    parser.add_argument("--solves", type=int, default=5)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    domain = mesh.create_unit_square(comm, args.n, args.n)
    V = fem.functionspace(domain, ("Lagrange", 1))
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    mass = fem_petsc.assemble_matrix(fem.form(w * v * ufl.dx))
    mass.assemble()
    start = fem.Function(V)
    start.interpolate(lambda x: np.exp(-((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2) / 0.01))
    load = fem.Function(V)
    load.x.array[:] = start.x.array / DT
    rhs = mass.createVecLeft()
    mass.mult(load.x.petsc_vec, rhs)
    h = 1.0 / args.n
    rows = []
    for number in args.numbers:
        diffusivity = fem.Constant(domain, number * h**2 / DT)
        operator = fem.form(
            (1 / DT) * w * v * ufl.dx + diffusivity * ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx
        )
        for index, (name, (pc_type, options)) in enumerate(VARIANTS.items()):
            solver = ImplicitSolver(
                operator, f"bench{index}_", "cg", pc_type, 1e-8, 1e-12, 5000, options
            )
            started = time.perf_counter()
            solver.assemble()
            setup = time.perf_counter() - started
            solution = fem.Function(V)
            times, its = [], []
            for _ in range(args.solves):
                solution.x.array[:] = start.x.array
                started = time.perf_counter()
                its.append(solver.solve(rhs, solution))
                times.append(time.perf_counter() - started)
            rows.append((number, name, setup, float(np.median(times)), its[-1]))
            solver.destroy()
    started = time.perf_counter()
    for _ in range(20):
        mass.mult(load.x.petsc_vec, rhs)
    spmv = (time.perf_counter() - started) / 20
    if comm.rank == 0:
        dofs = V.dofmap.index_map.size_global
        print(f"2D P1, {dofs} dofs, {comm.size} rank(s); one SpMV = {1e3 * spmv:.2f} ms")
        print(
            f"{'D dt/h^2':>9} {'preconditioner':>18} {'setup ms':>9} {'solve ms':>9} "
            f"{'its':>5} {'SpMVs':>6}"
        )
        for number, name, setup, solve, its in rows:
            print(
                f"{number:>9g} {name:>18} {1e3 * setup:>9.1f} {1e3 * solve:>9.1f} "
                f"{its:>5} {solve / spmv:>6.0f}"
            )


if __name__ == "__main__":
    main()
