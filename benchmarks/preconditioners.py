"""Preconditioners for the implicit operator ((1/dt + delta) M + D K), side by side.

The PERF_NOTES problem: u' = div(D grad u) - delta u + S(x) on the unit square (or cube)
with P1 elements, a Gaussian source S, u = 0 at t = 0, backward Euler with dt = 0.1 and
delta = 0.05, D chosen to give each nominal diffusion number D dt / h^2 (h = 1/N; the
number bmf-fem measures on the mesh, with h the shortest longest-edge of a cell, is
printed next to it: half the nominal one on these right-angled triangles). Every variant
runs the same steps through bmf-fem's ImplicitSolver (CG, rtol 1e-8 relative to ||b||,
the stepper's initial guess from the latest --values values, 1 = the previous one) and
reports: setup (assembly + preconditioner), the median time of a step after the first
two (RHS SpMV + guess + solve), mean iterations, the cost of one preconditioner
application in SpMVs, and the relative max-norm difference of the final u from a solve
to rtol 1e-13. This is the data behind `solver.pc_type = "auto"` and the option sets in
bmf_fem/linalg/preconditioning.py.

    containers/run python3 benchmarks/preconditioners.py [--dim 2] [--n 256]
        [--numbers 6 30 100 300 6000] [--steps 10] [--values 4] [--groups amg mass crossover]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import ufl
from dolfinx import fem, mesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI

from bmf_fem.linalg import (
    ImplicitSolver,
    choose_preconditioner,
    diffusion_number,
    min_cell_size,
)

DT, DECAY = 0.1, 0.05

SGS = {
    "pc_hypre_boomeramg_relax_type_down": "symmetric-SOR/Jacobi",
    "pc_hypre_boomeramg_relax_type_up": "symmetric-SOR/Jacobi",
    "pc_hypre_boomeramg_keeptranspose": False,
}
PETSC_BOOMERAMG = {  # PETSc's own BoomerAMG settings
    **SGS,
    "pc_hypre_boomeramg_coarsen_type": "Falgout",
    "pc_hypre_boomeramg_interp_type": "classical",
    "pc_hypre_boomeramg_P_max": 0,
    "pc_hypre_boomeramg_agg_nl": 0,
    "pc_hypre_boomeramg_strong_threshold": 0.25,
}

# name -> (pc_type, options added to bmf-fem's own for that pc_type)
GROUPS: dict[str, dict[str, tuple[str, dict]]] = {
    "amg": {
        "hypre, PETSc defaults": ("hypre", PETSC_BOOMERAMG),
        "hypre HMIS ext+i, SGS": ("hypre", {**SGS, "pc_hypre_boomeramg_agg_nl": 0}),
        "hypre ... agg1, SGS": ("hypre", SGS),
        "hypre ... PMIS": ("hypre", {"pc_hypre_boomeramg_coarsen_type": "PMIS"}),
        "hypre ... agg2": ("hypre", {"pc_hypre_boomeramg_agg_nl": 2}),
        "hypre ... theta 0.5": ("hypre", {"pc_hypre_boomeramg_strong_threshold": 0.5}),
        "hypre ... 2 sweeps": ("hypre", {"pc_hypre_boomeramg_grid_sweeps_all": 2}),
        "hypre l1-GS (bmf)": ("hypre", {}),
        "gamg, 2 Chebyshev steps": ("gamg", {"mg_levels_ksp_max_it": 2}),
        "gamg, threshold 0": ("gamg", {"pc_gamg_threshold": 0.0}),
        "gamg (bmf)": ("gamg", {}),
    },
    "mass": {
        "icc(0)": ("icc", {"pc_factor_levels": 0}),
        "icc(2)": ("icc", {"pc_factor_levels": 2}),
        "icc(4)": ("icc", {"pc_factor_levels": 4}),
        "icc(8)": ("icc", {"pc_factor_levels": 8}),
        "icc (bmf)": ("icc", {}),
        "jacobi": ("jacobi", {}),
        "sor (SSOR)": ("sor", {}),
    },
    "crossover": {
        "icc (bmf)": ("icc", {}),
        "gamg (bmf)": ("gamg", {}),
    },
    "choice": {
        "auto (bmf)": ("auto", {}),
    },
}


class Problem:
    """Mesh, mass matrix and source of the benchmark problem."""

    def __init__(self, comm: MPI.Comm, dim: int, n: int):
        if dim == 3:
            self.domain = mesh.create_unit_cube(comm, n, n, n)
        else:
            self.domain = mesh.create_unit_square(comm, n, n)
        self.h = 1.0 / n
        self.V = fem.functionspace(self.domain, ("Lagrange", 1))
        self.trial, self.test = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self.mass = fem_petsc.assemble_matrix(fem.form(self.trial * self.test * ufl.dx))
        self.mass.assemble()
        self.source = fem.Function(self.V)
        centre = 0.5
        self.source.interpolate(lambda x: np.exp(-np.sum((x[:dim] - centre) ** 2, axis=0) / 0.01))

    def operator(self, number: float) -> fem.Form:
        diffusivity = fem.Constant(self.domain, number * self.h**2 / DT)
        w, v = self.trial, self.test
        return fem.form(
            (1 / DT + DECAY) * w * v * ufl.dx
            + diffusivity * ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx
        )

    def spmv_seconds(self) -> float:
        x, y = self.mass.createVecs()
        x.set(1.0)
        started = time.perf_counter()
        for _ in range(50):
            self.mass.mult(x, y)
        return (time.perf_counter() - started) / 50


def run_steps(problem: Problem, solver: ImplicitSolver, steps: int, values: int):
    """Backward Euler steps from u = 0: step times, iterations and the final u."""
    u = fem.Function(problem.V)
    nodal = fem.Function(problem.V)
    rhs = problem.mass.createVecLeft()
    times, iterations = [], []
    for _ in range(steps + 2):
        started = time.perf_counter()
        np.multiply(u.x.array, 1.0 / DT, out=nodal.x.array)
        nodal.x.array[:] += problem.source.x.array
        problem.mass.mult(nodal.x.petsc_vec, rhs)
        iterations.append(solver.solve(rhs, u, values))
        times.append(time.perf_counter() - started)
    rhs.destroy()
    return times, iterations, u.x.array.copy()


def pc_apply_seconds(solver: ImplicitSolver) -> float:
    x, y = solver.matrix.createVecs()
    x.set(1.0)
    pc = solver.ksp.getPC()
    pc.apply(x, y)
    started = time.perf_counter()
    for _ in range(5):
        pc.apply(x, y)
    return (time.perf_counter() - started) / 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2, choices=(2, 3))
    parser.add_argument("--n", type=int, help="cells per side (default 256 in 2D, 40 in 3D)")
    parser.add_argument(
        "--numbers", type=float, nargs="+", default=[6.0, 30.0, 100.0, 300.0, 6000.0]
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--values", type=int, default=4, help="values in the initial guess")
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    n = args.n or (256 if args.dim == 2 else 40)
    problem = Problem(comm, args.dim, n)
    spmv = problem.spmv_seconds()
    cell_size = min_cell_size(problem.domain)
    variants = {name: v for group in args.groups for name, v in GROUPS[group].items()}
    rows = []
    for number in args.numbers:
        operator = problem.operator(number)
        measured = diffusion_number(number * problem.h**2 / DT, DECAY, DT, cell_size)
        reference = ImplicitSolver(operator, "ref_", "cg", "hypre", 1e-13, 0.0, 5000, {})
        reference.assemble()
        *_, exact = run_steps(problem, reference, args.steps, 1)
        reference.destroy()
        scale = comm.allreduce(np.abs(exact).max(), op=MPI.MAX)
        for index, (name, (pc_type, options)) in enumerate(variants.items()):
            pc = choose_preconditioner(pc_type, measured, args.dim)
            solver = ImplicitSolver(
                operator, f"bench{index}_", "cg", pc, 1e-8, 0.0, 5000, options, measured
            )
            started = time.perf_counter()
            solver.assemble()
            setup = time.perf_counter() - started
            times, its, u = run_steps(problem, solver, args.steps, args.values)
            error = comm.allreduce(np.abs(u - exact).max(), op=MPI.MAX) / scale
            apply = pc_apply_seconds(solver)
            shown = name if pc_type != "auto" else f"{name}: {solver.pc_type}"
            step, mean_its = np.median(times[2:]), np.mean(its[2:])
            rows.append((number, measured, shown, setup, step, mean_its, apply, error))
            solver.destroy()
    if comm.rank == 0:
        dofs = problem.V.dofmap.index_map.size_global
        print(
            f"{args.dim}D P1, {dofs} dofs, {comm.size} rank(s), {args.steps} steps after "
            f"two, guess from {args.values} values; one SpMV = {1e3 * spmv:.2f} ms; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"{'D dt/h^2':>9} {'measured':>9} {'preconditioner':>28} {'setup ms':>9} "
            f"{'ms/step':>8} {'its':>6} {'PC SpMVs':>8} {'error':>8}"
        )
        for number, measured, name, setup, step, its, apply, error in rows:
            print(
                f"{number:>9g} {measured:>9.3g} {name:>28} {1e3 * setup:>9.1f} "
                f"{1e3 * step:>8.2f} {its:>6.1f} {apply / spmv:>8.1f} {error:>8.1e}"
            )


if __name__ == "__main__":
    main()
