"""Assembled operators and the Krylov solvers that own them.

One :class:`ImplicitSolver` per equation: its matrix is assembled once per dt (and when a
damage perturbation switches), its KSP and preconditioner are created once and set up
once per assembly. Operators without diffusion are diagonal after mass lumping and are
applied pointwise, with no matrix and no solve.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

# BoomerAMG as PETSc configures it (Falgout coarsening, classical interpolation, strong
# threshold 0.25): on these operators it beats HMIS with ext+i interpolation by 2-3x per
# solve (benchmarks/preconditioners.py).
HYPRE_DEFAULTS = {"pc_hypre_type": "boomeramg"}

# Above this diffusion number D dt / h^2 multigrid pays for its V-cycles; below it the
# mass term dominates and incomplete Cholesky converges in a few cheap iterations
# (benchmarks/step_throughput.py shows the crossover).
AUTO_AMG_THRESHOLD = 300.0


def lumped_mass(mass: PETSc.Mat) -> tuple[PETSc.Vec, PETSc.Vec]:
    """Row-sum and diagonally scaled (HRZ) lumped masses of a consistent mass matrix.

    The row sum integrates exactly (``1^T M u``); the HRZ diagonal is positive for every
    Lagrange degree and is the one used for pointwise updates and noise scaling.
    """
    ones = mass.createVecRight()
    ones.set(1.0)
    rowsum = mass.createVecLeft()
    mass.mult(ones, rowsum)
    diagonal = mass.getDiagonal()
    diagonal.scale(rowsum.sum() / diagonal.sum())
    ones.destroy()
    return rowsum, diagonal


def choose_preconditioner(pc_type: str, diffusion_number: float) -> str:
    """Resolve ``pc_type = "auto"`` from the diffusion number ``D dt / h^2``."""
    if pc_type != "auto":
        return pc_type
    return "hypre" if diffusion_number > AUTO_AMG_THRESHOLD else "icc"


class ImplicitSolver:
    """Solves ``A w = b`` for one equation's operator, reusing one KSP for every step."""

    def __init__(
        self,
        operator: fem.Form,
        prefix: str,
        ksp_type: str,
        pc_type: str,
        rtol: float,
        atol: float,
        max_it: int,
        petsc_options: Mapping[str, object],
    ):
        self.operator = operator
        self.prefix = prefix
        self.name = prefix.removeprefix("bmf_").rstrip("_")
        self.matrix = fem_petsc.create_matrix(operator)
        comm = operator.mesh.comm
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(prefix)
        self.ksp.setOperators(self.matrix)
        options = {
            "ksp_type": ksp_type,
            "pc_type": pc_type,
            "ksp_rtol": rtol,
            "ksp_atol": atol,
            "ksp_max_it": max_it,
        }
        if pc_type == "hypre":
            options.update(HYPRE_DEFAULTS)
        if pc_type in ("icc", "ilu") and comm.size > 1:
            # Incomplete factorisations are local: one block per rank.
            options.update({"pc_type": "bjacobi", "sub_pc_type": pc_type})
        options.update(petsc_options)
        database = PETSc.Options()
        for key, value in options.items():
            database[prefix + key] = _petsc_value(value)
        self.ksp.setFromOptions()
        self.ksp.setInitialGuessNonzero(True)
        for key in options:
            del database[prefix + key]
        self.last_iterations = 0

    def assemble(self) -> None:
        """Assemble the operator and set the preconditioner up (once per dt or damage)."""
        self.matrix.zeroEntries()
        fem_petsc.assemble_matrix(self.matrix, self.operator)
        self.matrix.assemble()
        self.ksp.setOperators(self.matrix)
        self.ksp.setUp()

    def solve(self, rhs: PETSc.Vec, solution: fem.Function) -> int:
        """Solve into ``solution`` (its current value is the initial guess)."""
        self.ksp.solve(rhs, solution.x.petsc_vec)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(
                f"the {self.name} solve did not converge "
                f"(PETSc reason {reason}); try a smaller time.dt or another solver.pc_type"
            )
        solution.x.scatter_forward()
        self.last_iterations = self.ksp.getIterationNumber()
        return self.last_iterations

    def destroy(self) -> None:
        self.ksp.destroy()
        self.matrix.destroy()


class SolverError(RuntimeError):
    """A linear solve failed (diverged or hit the iteration limit)."""


def _petsc_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def owned(function: fem.Function) -> np.ndarray:
    """The owned (non-ghost) part of a function's local values."""
    return function.x.array[: function.function_space.dofmap.index_map.size_local]
