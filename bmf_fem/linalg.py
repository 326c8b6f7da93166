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

from collections.abc import Mapping, Sequence

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from bmf_fem.krylov import ConjugateGradients

# BoomerAMG (solver.pc_type = "hypre") for 2D and 1D operators: HMIS coarsening with one
# level of aggressive coarsening and extended+i interpolation truncated to 4 entries per
# row (operator complexity about 1.4, PETSc's Falgout/classical setting: 2.4), forward
# l1-Gauss-Seidel down and backward up (a symmetric cycle for CG at half the cost of
# hybrid symmetric Gauss-Seidel sweeps), stored transposes for the restriction.
BOOMERAMG_2D: dict[str, object] = {
    "pc_hypre_type": "boomeramg",
    "pc_hypre_boomeramg_coarsen_type": "HMIS",
    "pc_hypre_boomeramg_interp_type": "ext+i",
    "pc_hypre_boomeramg_P_max": 4,
    "pc_hypre_boomeramg_strong_threshold": 0.25,
    "pc_hypre_boomeramg_agg_nl": 1,
    "pc_hypre_boomeramg_relax_type_down": "l1-Gauss-Seidel",
    "pc_hypre_boomeramg_relax_type_up": "backward-l1-Gauss-Seidel",
    "pc_hypre_boomeramg_keeptranspose": True,
}

# BoomerAMG for 3D operators: the same, with the strong threshold hypre recommends for
# 3D diffusion (0.5).
BOOMERAMG_3D: dict[str, object] = {
    **BOOMERAMG_2D,
    "pc_hypre_boomeramg_strong_threshold": 0.5,
}

# PETSc's smoothed-aggregation AMG, what "auto" uses where diffusion dominates: one
# Chebyshev-Jacobi step per level and a small drop threshold for the aggregation graph.
# Its V-cycle costs about 6 SpMVs against 8-13 for BoomerAMG, whose Gauss-Seidel smoothers
# are most of its cycle, for the same iterations (2D and 3D, benchmarks/preconditioners.py).
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

# Most solves between two exact measurements of ||B b|| by :class:`RelativeTest`, and how
# far (relative) the ratio it estimates may move between two of them before they are made
# more often again.
CALIBRATION_INTERVAL = 16
CALIBRATION_DRIFT = 0.01

# Preconditioners that approximate A^-1 across the spectrum: for them CG keeps PETSc's
# preconditioned test ||B r|| <= rtol ||B b||, a relative error of about rtol. With any
# other preconditioner bmf-fem's CG tests the plain residual, ||r|| <= rtol ||b||: on the
# mass-dominated operators these serve the two norms agree within the operator's small
# condition number, and CG applies such a preconditioner after the plain test, so a
# converged solve saves one application. (With multigrid the plain test asks for errors
# a thousand times below rtol and takes twice the iterations in a pulsed run.)
MULTIGRID_PCS = ("gamg", "hypre", "mg", "ml")


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
    of :func:`preconditioner_options`, including ``pc_type`` itself. The KSP is built
    and set up at each assembly (once per dt, SBDF2 start or damage switch), with its
    options in PETSc's database only while that happens.
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
        options = {
            "ksp_type": ksp_type,
            "pc_type": pc_type,
            "ksp_rtol": rtol,
            "ksp_atol": atol,
            "ksp_max_it": max_it,
            **preconditioner_options(pc_type, mesh.topology.dim, mesh.comm.size > 1),
            **petsc_options,
        }
        if options["ksp_type"] == "cg" and options["pc_type"] not in MULTIGRID_PCS:
            options = {"ksp_norm_type": "unpreconditioned", **options}
        self.options = options
        self.ksp: PETSc.KSP | None = None
        self.last_iterations = 0
        self.guess = ProjectedGuess(self.matrix)
        self.test: RelativeTest | None = None
        self.cg: ConjugateGradients | None = None
        self.correction = self.matrix.createVecRight()

    @property
    def pc_type(self) -> str:
        """The PETSc preconditioner in use (after the options were applied)."""
        return self.ksp.getPC().getType()

    def assemble(self) -> None:
        """Assemble the operator and set its solver up (once per dt or damage switch)."""
        self.matrix.zeroEntries()
        fem_petsc.assemble_matrix(self.matrix, self.operator)
        self.matrix.assemble()
        if self.ksp is not None:
            self.ksp.destroy()
        self.ksp = PETSc.KSP().create(self.matrix.getComm())
        self.ksp.setOptionsPrefix(self.prefix)
        self.ksp.setOperators(self.matrix)
        database = PETSc.Options()
        for key, value in self.options.items():
            database[self.prefix + key] = _petsc_value(value)
        try:
            # Multigrid levels and block-Jacobi blocks read theirs during the setup.
            self.ksp.setFromOptions()
            self.ksp.setUp()
        finally:
            for key in self.options:
                del database[self.prefix + key]
        _explicit_restrictions(self.ksp.getPC())
        self.guess.forget_images()
        self.cg = None
        if self.test is not None:  # its ratio belongs to the old operator
            self.test.destroy()
            self.test = None
        norm = self.ksp.getNormType()
        if norm == PETSc.KSP.NormType.UNPRECONDITIONED or (
            norm == PETSc.KSP.NormType.PRECONDITIONED and self.ksp.getPCSide() == PETSc.PC.Side.LEFT
        ):
            if self.ksp.getType() == PETSc.KSP.Type.CG:
                # The same CG, keeping its residual for the next guess's image.
                self.cg = ConjugateGradients()
                self.ksp.setType(PETSc.KSP.Type.PYTHON)
                self.ksp.setPythonContext(self.cg)
                self.ksp.setNormType(norm)
                self.ksp.setUp()
            self.test = RelativeTest(self.ksp)
            self.ksp.setConvergenceTest(self.test)
        # With bmf-fem's test the KSP solves for the guess's correction from zero;
        # with PETSc's own (natural norm, right preconditioning) it starts from the guess.
        self.ksp.setInitialGuessNonzero(self.test is None)

    def solve(
        self, rhs: PETSc.Vec, solution: fem.Function, history: Sequence[np.ndarray] = ()
    ) -> int:
        """Solve into ``solution``, starting from the best combination of its current
        value and the earlier values in ``history`` (local arrays, newest first;
        :class:`ProjectedGuess`), which may already be converged."""
        vec = solution.x.petsc_vec
        if self.guess.project(rhs, vec, history, *self.ksp.getTolerances()[:2]):
            self.guess.remember(vec, rhs, self.guess.residual)
            solution.x.scatter_forward()
            self.last_iterations = 0
            return 0
        if self.test is None:
            self.ksp.solve(rhs, vec)
        else:
            # The guess's residual is known: solve A d = r from d = 0 (no product with A
            # for the initial residual) and add d.
            self.test.prepare(rhs, vec, self.guess.rhs_norm)
            self.ksp.solve(self.guess.residual, self.correction)
            vec.axpy(1.0, self.correction)
            self.test.finish(vec)
            if self.cg is not None:
                self.guess.remember(vec, rhs, self.cg.residual)
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
        if self.ksp is not None:
            self.ksp.destroy()
        if self.test is not None:
            self.test.destroy()
        self.correction.destroy()
        self.matrix.destroy()
        self.guess.destroy()


class RelativeTest:
    """PETSc's default convergence test for a KSP that solves for the guess's correction.

    The KSP solves ``A d = r_0`` from ``d = 0`` for the guess's residual r_0; its residual
    ``r_0 - A d = b - A (x_0 + d)`` is the equation's own, and the test compares it with
    the equation's b (PETSc's test would compare it with r_0). With the unpreconditioned
    norm that is ``||r|| <= max(rtol ||b||, atol)``; with the preconditioned norm it is
    ``||B r|| <= max(rtol ||B b||, atol)``, without applying B to b on every solve.

    From a nonzero initial guess PETSc's own test applies B to b once per solve for
    ``||B b||``: a whole V-cycle when the guess is so good that the solve takes one
    iteration. But ``B b = B A x`` for the solution x, so ``||B b|| = rho ||x||`` with a
    ratio rho that belongs to the preconditioner and the kind of solution, not to the
    step (GAMG 0.998, ICC at weak diffusion 0.459, constant to 1e-3 over steps). This
    test measures ``||B b||`` exactly, takes rho from it, and in between uses
    ``rho ||x_0||`` for the initial guess x_0 (the Galerkin projection of the solution:
    no larger in energy). Measurements come on every other solve after a setup; while rho
    stays within :data:`CALIBRATION_DRIFT` of the last measurement the interval doubles
    up to :data:`CALIBRATION_INTERVAL` solves, and it falls back to one when rho moves.
    A zero guess gives ``||B b||`` exactly as the first residual norm.
    """

    def __init__(self, ksp: PETSc.KSP):
        self.ksp = ksp
        self.rtol, self.atol, self.dtol, self.max_it = ksp.getTolerances()
        self.preconditioned = ksp.getNormType() == PETSc.KSP.NormType.PRECONDITIONED
        self.ratio: float | None = None  # rho = ||B b|| / ||x|| at the last calibration
        self.solves = 0  # since the last calibration
        self.interval = 1  # solves between calibrations
        self.reference = 0.0  # ||B b|| or its estimate for the current solve
        self.exact = False  # the current solve measures ||B b||
        self.work = ksp.getOperators()[0].createVecLeft()

    def prepare(self, rhs: PETSc.Vec, guess: PETSc.Vec, rhs_norm: float) -> None:
        """Set the reference norm of the coming solve of ``A x = b`` from ``guess``."""
        if not self.preconditioned:
            self.reference = rhs_norm
            return
        guess_norm = guess.norm()
        self.exact = self.ratio is None or self.solves >= self.interval
        if guess_norm == 0.0:
            self.reference = -1.0  # the first residual norm is ||B b||
        elif self.exact:
            self.ksp.getPC().apply(rhs, self.work)
            self.reference = self.work.norm()
        else:
            self.reference = self.ratio * guess_norm
        self.solves += 1

    def finish(self, solution: PETSc.Vec) -> None:
        """After an exact solve: rho from ``||B b||`` and the solution's norm."""
        if self.exact and self.reference > 0.0:
            norm = solution.norm()
            if norm > 0.0:
                ratio = self.reference / norm
                steady = (
                    self.ratio is not None and abs(ratio / self.ratio - 1.0) <= CALIBRATION_DRIFT
                )
                self.interval = min(2 * self.interval, CALIBRATION_INTERVAL) if steady else 1
                self.ratio = ratio
                self.solves = 0

    def __call__(self, ksp: PETSc.KSP, iteration: int, rnorm: float) -> int:
        Reason = PETSc.KSP.ConvergedReason
        if iteration == 0 and self.reference < 0.0:
            self.reference = rnorm
        if not np.isfinite(rnorm):
            return Reason.DIVERGED_NANORINF
        if rnorm <= self.atol:
            return Reason.CONVERGED_ATOL
        if rnorm <= self.rtol * self.reference:
            return Reason.CONVERGED_RTOL
        if iteration > 0 and rnorm >= self.dtol * self.reference:
            return Reason.DIVERGED_DTOL
        if iteration >= self.max_it:
            return Reason.DIVERGED_ITS
        return Reason.ITERATING

    def destroy(self) -> None:
        self.work.destroy()


class ProjectedGuess:
    """The initial guess closest to the solution in the span of the latest values.

    For ``A x = b`` and values ``v_0 = w^n, v_1 = w^{n-1}, ...`` the Galerkin projection
    ``x = sum c_i v_i`` with ``(v_i, A v_j) c_j = (v_i, b)`` minimises the energy norm of
    the error over the span (P. Fischer's projection for successive right-hand sides).
    The span holds the plain guess w^n and every polynomial extrapolation of the
    values, so the result is never worse than those. A step costs a few vector
    reductions: the images ``A v_i`` and the Gram matrix of the older values are the last
    step's, reused while ``(v_1, A v_1)`` shows that v_1 is the w^n they were computed
    from (recomputed otherwise), and the image of w^n is ``b - r`` of the solve that ended
    at w^n (:meth:`remember`) while w^n is still exactly that solution (one SpMV
    otherwise). The images also give the guess's residual.
    """

    def __init__(self, matrix: PETSc.Mat):
        self.matrix = matrix
        self.images: list[PETSc.Vec] = []  # A v_i of the last call, newest first
        self.gram: np.ndarray | None = None  # (v_i, A v_j) of the last call
        self.views: list[PETSc.Vec] = []  # PETSc views of the history arrays
        self.residual = matrix.createVecLeft()
        self.rhs_norm = 0.0  # ||b|| of the last call
        # The last solution and its image b - r, while ``solved`` holds.
        self.solution = matrix.createVecLeft()
        self.solution_image = matrix.createVecLeft()
        self.solved = False

    def forget_images(self) -> None:
        """The operator changed: nothing of the last call can be reused."""
        self.gram = None
        self.solved = False

    def remember(self, solution: PETSc.Vec, rhs: PETSc.Vec, residual: PETSc.Vec) -> None:
        """The solve of ``A x = b`` ended at ``solution`` with residual ``b - A x``: keep
        its image ``A x = b - r`` for the next call."""
        self.solution_image.waxpy(-1.0, residual, rhs)
        solution.copy(self.solution)
        self.solved = True

    def project(
        self,
        rhs: PETSc.Vec,
        current: PETSc.Vec,
        history: Sequence[np.ndarray],
        rtol: float,
        atol: float,
    ) -> bool:
        """Overwrite ``current`` (w^n) with the projected guess and ``residual`` with
        its residual; True when that already meets ``||b - A x|| <= max(rtol ||b||, atol)``."""
        size = current.getLocalSize()
        count = 1 + len(history)
        while len(self.images) < count:
            self.images.append(self.matrix.createVecLeft())
        while len(self.views) < len(history):
            self.views.append(self.matrix.createVecLeft())
        for view, values in zip(self.views, history, strict=False):
            view.placeArray(values[:size])
        try:
            # The last call's images, newest first, are this call's images of v_1, v_2...
            self.images = [self.images[-1], *self.images[:-1]]
            if self.solved and current.equal(self.solution):
                self.images[0], self.solution_image = self.solution_image, self.images[0]
            else:  # a first step, or w^n changed after its solve (noise, a reset)
                self.matrix.mult(current, self.images[0])
            self.solved = False
            images = self.images[:count]
            vectors = [current, *self.views[: len(history)]]
            gram = np.empty((count, count))
            if self._reusable(count, vectors, images):
                gram[1:, 1:] = self.gram[: count - 1, : count - 1]
            else:
                for i in range(1, count):
                    self.matrix.mult(vectors[i], images[i])
                for i in range(1, count):
                    gram[i, i:] = gram[i:, i] = vectors[i].mDot(images[i:])
            gram[0, :] = gram[:, 0] = current.mDot(images)
            *moments, norm2 = rhs.mDot([*vectors, rhs])
            self.rhs_norm = float(np.sqrt(norm2))
            self.gram = gram
            coefficients = _pseudo_solve(gram, np.asarray(moments))
            if coefficients is None:  # every value is zero, and so is the guess
                rhs.copy(self.residual)
                return False
            current.scale(coefficients[0])
            if count > 1:
                current.maxpy(coefficients[1:], vectors[1:])
            rhs.copy(self.residual)
            self.residual.maxpy(-coefficients, images)
            return self.residual.norm() <= max(rtol * self.rhs_norm, atol)
        finally:
            for view in self.views[: len(history)]:
                view.resetArray()

    def _reusable(self, count: int, vectors: list[PETSc.Vec], images: list[PETSc.Vec]) -> bool:
        """Whether the last call's Gram matrix and images hold for ``vectors[1:]``."""
        last = self.gram
        if count < 2 or last is None or last.shape[0] < count - 1 or last[0, 0] <= 0.0:
            return False
        energy = vectors[1].mDot([images[1]])[0]
        return abs(energy - last[0, 0]) <= 1e-12 * last[0, 0]

    def destroy(self) -> None:
        for vec in (*self.images, *self.views, self.residual, self.solution, self.solution_image):
            vec.destroy()


def _pseudo_solve(gram: np.ndarray, moments: np.ndarray) -> np.ndarray | None:
    """``gram c = moments`` for a symmetric semi-definite ``gram``, dropping directions
    whose eigenvalue is below 1e-12 of the largest (values that repeat each other)."""
    values, vectors = np.linalg.eigh(gram)
    if values[-1] <= 0.0:
        return None
    keep = values > 1e-12 * values[-1]
    projected = vectors[:, keep].T @ moments / values[keep]
    return vectors[:, keep] @ projected


class SolverError(RuntimeError):
    """A linear solve failed (diverged or hit the iteration limit)."""


def _explicit_restrictions(pc: PETSc.PC) -> None:
    """Give a multigrid preconditioner its restrictions as matrices (R = P^T).

    PCMG otherwise restricts with P^T products, which cost about twice a product with
    the stored transpose: 10-15 % of a GAMG V-cycle.
    """
    if pc.getType() not in ("gamg", "mg"):
        return
    for level in range(1, pc.getMGLevels()):
        restriction = pc.getMGInterpolation(level).transpose()
        pc.setMGRestriction(level, restriction)
        restriction.destroy()


def _petsc_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def owned(function: fem.Function) -> np.ndarray:
    """The owned (non-ghost) part of a function's local values."""
    return function.x.array[: function.function_space.dofmap.index_map.size_local]
