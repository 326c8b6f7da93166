"""Sparse factorisations against incomplete Cholesky CG for one 2D diffusion operator.

The operator is ``20 M + 0.05 K`` (P1, unit square, n x n cells cut in two), what a
mass-dominated BMF step solves. For each size it prints the setup (factorisation) and
the mean time of one solve of a random right-hand side, in ms, for Cholesky in natural,
nested-dissection, reverse Cuthill-McKee and quotient minimum degree order, LU in
nested-dissection order, and ICC(0)-CG from zero to rtol 1e-8::

    containers/run python3 benchmarks/factorisations.py [--n 22 42 84 168] [--solves 20]
"""

from __future__ import annotations

import argparse
import time

import ufl
from dolfinx import fem, mesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

METHODS = (
    ("cholesky", "natural"),
    ("cholesky", "nd"),
    ("cholesky", "rcm"),
    ("cholesky", "qmd"),
    ("lu", "nd"),
    ("icc", "natural"),
)


def operator(n: int) -> tuple[PETSc.Mat, mesh.Mesh]:
    """The assembled operator, and its mesh (whose communicator the matrix uses: keep it)."""
    domain = mesh.create_unit_square(MPI.COMM_SELF, n, n)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    form = 20.0 * u * v * ufl.dx + 0.05 * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    matrix = fem_petsc.assemble_matrix(fem.form(form))
    matrix.assemble()
    return matrix, domain


def timed(matrix: PETSc.Mat, pc_type: str, ordering: str, solves: int) -> tuple[float, float]:
    """(setup, one solve) in seconds."""
    ksp = PETSc.KSP().create(MPI.COMM_SELF)
    ksp.setOperators(matrix)
    ksp.setType("cg" if pc_type == "icc" else "preonly")
    ksp.getPC().setType(pc_type)
    if pc_type != "icc":
        ksp.getPC().setFactorOrdering(ordering)
    ksp.setTolerances(rtol=1e-8)
    rhs, x = matrix.createVecLeft(), matrix.createVecRight()
    rhs.setRandom()
    started = time.perf_counter()
    ksp.setUp()
    setup = time.perf_counter() - started
    ksp.solve(rhs, x)
    started = time.perf_counter()
    for _ in range(solves):
        ksp.solve(rhs, x)
    solve = (time.perf_counter() - started) / solves
    for item in (ksp, rhs, x):
        item.destroy()
    return setup, solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[22, 42, 84, 168])
    parser.add_argument("--solves", type=int, default=20)
    args = parser.parse_args()
    print(f"{'dofs':>8} " + " ".join(f"{pc + '/' + order:>22}" for pc, order in METHODS))
    for n in args.n:
        matrix, _domain = operator(n)
        cells = []
        for pc_type, ordering in METHODS:
            setup, solve = timed(matrix, pc_type, ordering, args.solves)
            cells.append(f"{1e3 * setup:9.2f} / {1e3 * solve:8.3f}")
        print(f"{matrix.getSize()[0]:>8} " + " ".join(f"{c:>22}" for c in cells), flush=True)
        matrix.destroy()


if __name__ == "__main__":
    main()
