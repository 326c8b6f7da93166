"""Assembled operators and the Krylov solvers that own them.

One :class:`ImplicitSolver` per equation: its matrix is assembled once per dt (and when a
damage perturbation switches), its KSP and preconditioner are created once and set up
once per assembly. Operators without diffusion are diagonal after mass lumping and are
applied pointwise, with no matrix and no solve.

The preconditioner follows the operator's diffusion number ``D dt / h^2``: algebraic
multigrid where diffusion dominates, incomplete Cholesky where the mass term does. The
option sets below are the fastest measured by ``benchmarks/preconditioners.py``
(docs/performance.md has the numbers); every one of them can be overridden through
``[solver] petsc_options``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

# BoomerAMG for 2D (and 1D) operators: HMIS coarsening with one level of aggressive
# coarsening and extended+i interpolation truncated to 4 entries per row keep the
# operator complexity near 1.4 (Falgout with classical interpolation: 2.4), which
# halves the cost of a V-cycle for one more iteration.
BOOMERAMG_2D: dict[str, object] = {
    "pc_hypre_type": "boomeramg",
    "pc_hypre_boomeramg_coarsen_type": "HMIS",
    "pc_hypre_boomeramg_interp_type": "ext+i",
    "pc_hypre_boomeramg_P_max": 4,
    "pc_hypre_boomeramg_strong_threshold": 0.25,
    "pc_hypre_boomeramg_agg_nl": 1,
}

# BoomerAMG for 3D operators: the same, with the strong threshold hypre recommends for
# 3D diffusion (0.5), which keeps the coarse operators sparse.
BOOMERAMG_3D: dict[str, object] = {
    **BOOMERAMG_2D,
    "pc_hypre_boomeramg_strong_threshold": 0.5,
}

# PETSc's smoothed-aggregation AMG with one Chebyshev-Jacobi smoothing step per level and
# a small drop threshold for the aggregation graph: V-cycles of about 6 SpMVs, against 9-14
# for BoomerAMG, whose hybrid Gauss-Seidel smoother is most of its cycle.
GAMG_OPTIONS: dict[str, object] = {
    "pc_gamg_type": "agg",
    "pc_gamg_threshold": 0.02,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "mg_levels_ksp_max_it": 1,
}

# Above this diffusion number multigrid pays for its V-cycles; below it the mass term
# dominates and incomplete Cholesky converges in a few cheap iterations.
AUTO_AMG_THRESHOLD = 50.0

# What "auto" picks on either side of the threshold.
AUTO_AMG_PC = "gamg"
MASS_DOMINATED_PC = "icc"


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


def min_cell_size(mesh: dmesh.Mesh) -> float:
    """The smallest cell diameter (longest edge) of the mesh, over all ranks."""
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    local = mesh.h(tdim, cells).min() if cells.size else np.inf
    return mesh.comm.allreduce(float(local), op=MPI.MIN)


def diffusion_number(diffusivity: float, rate: float, dt: float, cell_size: float) -> float:
    """``D dt / ((1 + c dt) h^2)``: stiffness over mass in ``(1/dt + c) M + D K``.

    It is ``D dt / h^2`` when the rate ``c`` is small against ``1/dt``.
    """
    return diffusivity * dt / ((1.0 + rate * dt) * cell_size**2)


def choose_preconditioner(pc_type: str, diffusion_number: float) -> str:
    """Resolve ``pc_type = "auto"`` from the diffusion number ``D dt / h^2``."""
    if pc_type != "auto":
        return pc_type
    return AUTO_AMG_PC if diffusion_number > AUTO_AMG_THRESHOLD else MASS_DOMINATED_PC


def preconditioner_options(pc_type: str, dim: int, parallel: bool) -> dict[str, object]:
    """The tuned PETSc options bmf-fem adds for ``pc_type`` on a ``dim``-D mesh."""
    if pc_type == "hypre":
        return dict(BOOMERAMG_3D if dim >= 3 else BOOMERAMG_2D)
    if pc_type == "gamg":
        return dict(GAMG_OPTIONS)
    if pc_type in ("icc", "ilu") and parallel:
        # Incomplete factorisations are local: one block per rank.
        return {"pc_type": "bjacobi", "sub_pc_type": pc_type}
    return {}


class ImplicitSolver:
    """Solves ``A w = b`` for one equation's operator, reusing one KSP for every step.

    ``petsc_options`` (the user's ``[solver] petsc_options``) override the tuned options
    of :func:`preconditioner_options`, including ``pc_type`` itself.
    """

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
        mesh = operator.mesh
        comm = mesh.comm
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
        options.update(preconditioner_options(pc_type, mesh.topology.dim, comm.size > 1))
        options.update(petsc_options)
        database = PETSc.Options()
        for key, value in options.items():
            database[prefix + key] = _petsc_value(value)
        self.ksp.setFromOptions()
        self.ksp.setInitialGuessNonzero(True)
        # Multigrid levels and block-Jacobi blocks read their options when the
        # preconditioner is first set up: the options stay until then (assemble).
        self._options = [prefix + key for key in options]
        self.last_iterations = 0
        # Work vectors of the projected initial guess: A w^n, A w^{n-1} (kept from the last
        # step as long as w^{n-1} is the w^n it was computed from) and a residual.
        self._image = self.matrix.createVecLeft()
        self._image_older = self.matrix.createVecLeft()
        self._residual = self.matrix.createVecLeft()
        self._previous = self.matrix.createVecLeft()
        self._energy_older = 0.0  # w^n A w^n of the last step, identifies its image

    @property
    def pc_type(self) -> str:
        """The PETSc preconditioner in use (after the options were applied)."""
        return self.ksp.getPC().getType()

    def assemble(self) -> None:
        """Assemble the operator and set the preconditioner up (once per dt or damage)."""
        self.matrix.zeroEntries()
        fem_petsc.assemble_matrix(self.matrix, self.operator)
        self.matrix.assemble()
        self.ksp.setOperators(self.matrix)
        self.ksp.setUp()
        self._energy_older = 0.0  # a new operator: no image to reuse
        database = PETSc.Options()
        for key in self._options:
            del database[key]
        self._options = []

    def solve(
        self, rhs: PETSc.Vec, solution: fem.Function, previous: np.ndarray | None = None
    ) -> int:
        """Solve into ``solution``, starting from its current value, or with ``previous``
        (the value one step before, local array) from the best guess in their span."""
        if previous is not None and self.project_guess(rhs, solution.x.petsc_vec, previous):
            solution.x.scatter_forward()
            self.last_iterations = 0
            return 0
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

    def project_guess(self, rhs: PETSc.Vec, current: PETSc.Vec, previous: np.ndarray) -> bool:
        """Replace ``current`` (w^n) by the combination ``a w^n + b w^{n-1}`` closest to
        the solution in the energy norm (a Galerkin projection on the last two values).

        The span holds the plain guess w^n and the extrapolation 2 w^n - w^{n-1}, so the
        result is never worse than either in that norm. It costs one SpMV (A w^{n-1} is
        the last step's A w^n, recomputed when its energy does not match), and the images
        give its residual: True when that already meets ``||b - A x|| <= rtol ||b||``
        (or atol), so that no Krylov iteration is needed.
        """
        older = self._previous
        older.placeArray(previous[: current.getLocalSize()])
        try:
            image, image_older, residual = self._image, self._image_older, self._residual
            self.matrix.mult(current, image)
            g11, r1 = older.mDot([image_older, rhs])
            if not (self._energy_older > 0.0 and g11 == self._energy_older):
                self.matrix.mult(older, image_older)
                g11, r1 = older.mDot([image_older, rhs])
            g00, g01, r0 = current.mDot([image, image_older, rhs])
            # This step's A w^n is the next step's A w^{n-1}.
            self._image, self._image_older = image_older, image
            self._energy_older = g00
            determinant = g00 * g11 - g01 * g01
            if determinant > 1e-10 * g00 * g11:
                a = (g11 * r0 - g01 * r1) / determinant
                b = (g00 * r1 - g01 * r0) / determinant
            elif g00 > 0.0:
                a, b = r0 / g00, 0.0
            else:
                return False
            current.axpby(b, a, older)
            rhs.copy(residual)
            residual.axpy(-a, image)
            residual.axpy(-b, image_older)  # b - A x
            rtol, atol, *_ = self.ksp.getTolerances()
            return residual.norm() <= max(rtol * rhs.norm(), atol)
        finally:
            older.resetArray()

    def destroy(self) -> None:
        database = PETSc.Options()
        for key in self._options:
            del database[key]
        self.ksp.destroy()
        self.matrix.destroy()
        for vec in (self._image, self._image_older, self._residual, self._previous):
            vec.destroy()


class SolverError(RuntimeError):
    """A linear solve failed (diverged or hit the iteration limit)."""


def _petsc_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def owned(function: fem.Function) -> np.ndarray:
    """The owned (non-ghost) part of a function's local values."""
    return function.x.array[: function.function_space.dofmap.index_map.size_local]
