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

import math
from collections.abc import Mapping, Sequence

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

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

# Above these diffusion numbers (by mesh dimension) multigrid pays for its V-cycles;
# below them the mass term dominates and incomplete Cholesky converges in a few cheap
# iterations. In 1D ICC(0) of the tridiagonal operator is its exact Cholesky factor.
AUTO_AMG_THRESHOLDS: dict[int, float] = {1: np.inf, 2: 100.0, 3: 6.0}

# ICC fill levels in 2D grow with the diffusion number, ``round(log2(1 + number))`` up
# to this many: each level costs about a third of an SpMV more per application and saves
# a quarter to a third of the iterations. In 3D the fill of a level costs several SpMVs,
# and ICC(0) is the fastest.
MAX_FILL_LEVELS = 8

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

# Solves are accurate relative to what changes in a step: CG stops when the residual is
# rtol times that of w^n, ``b - A w^n`` (the right-hand side of the step's increment),
# not rtol times b (the size of the state), so a change of 1e-8 of a state of order one
# is solved to rtol of itself. The residual of w^n cannot be computed better than the
# rounding of ``A w^n`` and b, about 1e-16 of ||b|| per product and entry: the test asks
# for no less than this fraction of ||b|| (of ||B b|| with multigrid).
ROUNDING_FLOOR = 1e-14

# The guess's trust in its images (:func:`_trusted_projection`): the rounding of a product
# with A relative to its norm, the smallest image of a difference (relative to A w^n)
# taken as a direction, and the share of the tolerance the images' rounding may take of
# the guess's residual.
IMAGE_ROUNDING = 1e-14
DIFFERENCE_FLOOR = 1e-12
GUESS_ROUNDING_SHARE = 1e-3

# Directions of the guess's Gram matrix (scaled to a unit diagonal) with eigenvalues
# below this fraction of the largest are dropped: values that repeat each other, where
# rounding would decide the coefficients.
GRAM_CUTOFF = 1e-10


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


def choose_preconditioner(pc_type: str, diffusion_number: float, dim: int) -> str:
    """Resolve ``pc_type = "auto"`` from the diffusion number ``D dt / h^2`` of an
    operator on a ``dim``-D mesh."""
    if pc_type != "auto":
        return pc_type
    threshold = AUTO_AMG_THRESHOLDS[min(dim, 3)]
    return AUTO_AMG_PC if diffusion_number > threshold else MASS_DOMINATED_PC


def fill_levels(diffusion_number: float, dim: int) -> int:
    """ICC/ILU fill levels for an operator with this diffusion number on a ``dim``-D mesh."""
    if dim != 2:
        return 0
    return int(min(MAX_FILL_LEVELS, round(np.log2(1.0 + max(diffusion_number, 0.0)))))


def preconditioner_options(
    pc_type: str, dim: int, parallel: bool, diffusion_number: float = 0.0
) -> dict[str, object]:
    """The tuned PETSc options bmf-fem adds for ``pc_type`` on a ``dim``-D mesh."""
    if pc_type == "hypre":
        return dict(BOOMERAMG_3D if dim >= 3 else BOOMERAMG_2D)
    if pc_type == "gamg":
        return dict(GAMG_OPTIONS)
    if pc_type in ("icc", "ilu"):
        levels = fill_levels(diffusion_number, dim)
        if parallel:  # incomplete factorisations are local: one block per rank
            return {"pc_type": "bjacobi", "sub_pc_type": pc_type, "sub_pc_factor_levels": levels}
        return {"pc_factor_levels": levels}
    return {}


class ImplicitSolver:
    """Solves ``A w = b`` for one equation's operator, reusing one KSP for every step.

    ``petsc_options`` (the user's ``[solver] petsc_options``) override the tuned options
    of :func:`preconditioner_options` for the operator's ``diffusion_number``, including
    ``pc_type`` itself. The KSP is built and set up at each assembly (once per dt, SBDF2
    start or damage switch), with its options in PETSc's database only while that
    happens.
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
        diffusion_number: float = 0.0,
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
            **preconditioner_options(
                pc_type, mesh.topology.dim, mesh.comm.size > 1, diffusion_number
            ),
            **petsc_options,
        }
        if options["ksp_type"] == "cg" and options["pc_type"] not in MULTIGRID_PCS:
            options = {"ksp_norm_type": "unpreconditioned", **options}
        self.options = options
        self.ksp: PETSc.KSP | None = None
        self.guess = ProjectedGuess(self.matrix)
        self.test: RelativeTest | None = None
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
        if self.test is not None:  # its ratio belongs to the old operator
            self.test.destroy()
            self.test = None
        norm = self.ksp.getNormType()
        if norm == PETSc.KSP.NormType.UNPRECONDITIONED or (
            norm == PETSc.KSP.NormType.PRECONDITIONED and self.ksp.getPCSide() == PETSc.PC.Side.LEFT
        ):
            self.test = RelativeTest(self.ksp)
            self.ksp.setConvergenceTest(self.test)
        # With bmf-fem's test the KSP solves for the guess's correction from zero;
        # with PETSc's own (natural norm, right preconditioning) it starts from the guess.
        self.ksp.setInitialGuessNonzero(self.test is None)

    def solve(self, rhs: PETSc.Vec, solution: fem.Function, values: int = 1) -> int:
        """Solve into ``solution``, starting from the best combination of its current
        value w^n and the ``values - 1`` values it had at the solves before
        (:class:`ProjectedGuess`), which may already be converged. The solve is accurate
        to ``rtol`` of the step's change (:class:`RelativeTest`)."""
        vec = solution.x.petsc_vec
        guess = self.guess
        if guess.project(rhs, vec, values, *self.ksp.getTolerances()[:2]):
            solution.x.scatter_forward()
            return 0
        if self.test is None:
            self.ksp.solve(rhs, vec)
        else:
            # The guess's residual is known: solve A d = r from d = 0 (no product with A
            # for the initial residual) and add d.
            self.test.prepare(rhs, vec, guess)
            self.ksp.solve(guess.residual, self.correction)
            if self.ksp.getIterationNumber() > 0:  # else the correction is zero
                vec.axpy(1.0, self.correction)
            self.test.finish(vec)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(
                f"the {self.name} solve did not converge "
                f"(PETSc reason {reason}); try a smaller time.dt or another solver.pc_type"
            )
        solution.x.scatter_forward()
        return self.ksp.getIterationNumber()

    def destroy(self) -> None:
        if self.ksp is not None:
            self.ksp.destroy()
        if self.test is not None:
            self.test.destroy()
        self.correction.destroy()
        self.matrix.destroy()
        self.guess.destroy()


class RelativeTest:
    """Convergence relative to the step's change, for a KSP that solves for the guess's
    correction.

    The KSP solves ``A d = r_0`` from ``d = 0`` for the guess's residual r_0; its residual
    ``r_0 - A d = b - A (x_0 + d)`` is the equation's own. PETSc's default test would
    compare it with r_0 (or b): relative to b, a step that changes a state of order one by
    1e-8 passes before anything is solved, and the change is lost. This test compares it
    with the step's change:

    - unpreconditioned norm: ``||r|| <= max(rtol ||b - A w^n||, 1e-14 ||b||, atol)``, the
      residual of w^n (the right-hand side of the increment) measured exactly by
      :class:`ProjectedGuess`;
    - preconditioned norm (multigrid): ``||B r|| <= max(rtol rho (||x_k - w^n|| -
      ||B r|| / rho), 1e-14 ||B b||, atol)`` for the iterate x_k (the change less the
      iterate's error). With ``B ~ A^-1``, ``||B A e|| = rho
      ||e||`` for a ratio rho that belongs to the preconditioner (GAMG 0.998), so
      ``rho ||x_k - w^n||`` stands for ``||B (b - A w^n)||`` without a V-cycle on it. The
      change is measured (one vector update and norm) only at iterations whose residual
      has passed a bound on it. rho comes from ``||B b|| = rho ||x||``, measured by
      applying B to b on every other solve after a setup; while rho stays within
      :data:`CALIBRATION_DRIFT` of the last measurement the interval doubles up to
      :data:`CALIBRATION_INTERVAL` solves, and it falls back to one when rho moves.
    """

    def __init__(self, ksp: PETSc.KSP):
        self.ksp = ksp
        self.comm = ksp.getComm().tompi4py()
        self.rtol, self.atol, self.dtol, self.max_it = ksp.getTolerances()
        self.preconditioned = ksp.getNormType() == PETSc.KSP.NormType.PRECONDITIONED
        self.ratio: float | None = None  # rho = ||B b|| / ||x|| at the last calibration
        self.solves = 0  # since the last calibration
        self.interval = 1  # solves between calibrations
        self.reference = 0.0  # ||B b|| (measured, or rho ||x_0||) of the current solve
        self.exact = False  # the current solve measures ||B b||
        self.tolerance = 0.0  # unpreconditioned: what ||r|| must reach
        self.initial = 0.0  # the first residual norm
        self.guess_step = 0.0  # ||x_0 - w^n||
        self.guess: PETSc.Vec | None = None  # x_0 (the solution vector, unchanged in the solve)
        self.start: PETSc.Vec | None = None  # w^n
        self.work = ksp.getOperators()[0].createVecLeft()
        self.iterate = ksp.getOperators()[0].createVecRight()

    def prepare(self, rhs: PETSc.Vec, guess: PETSc.Vec, projection: ProjectedGuess) -> None:
        """Set the tolerance of the coming solve of ``A x = b`` from the guess x_0."""
        if not self.preconditioned:
            self.tolerance = projection.tolerance
            return
        self.guess, self.start = guess, projection.values[0]
        guess_norm, self.guess_step = self._norms(guess.array_r)
        self.exact = self.ratio is None or self.solves >= self.interval
        if guess_norm == 0.0:
            self.reference = -1.0  # the guess is zero: the first residual norm is ||B b||
        elif self.exact:
            self.ksp.getPC().apply(rhs, self.work)
            self.reference = self.work.norm()
        else:
            self.reference = self.ratio * guess_norm
        self.solves += 1

    def _norms(self, iterate: np.ndarray) -> tuple[float, float]:
        """``||x||`` and ``||x - w^n||`` of an iterate x (one reduction)."""
        step = np.subtract(iterate, self.start.array_r, out=self.work.array_w)
        self.work.stateIncrease()
        local = np.array([np.dot(iterate, iterate), np.dot(step, step)])
        norm, step_norm = np.sqrt(_global_sum(self.comm, local))
        return float(norm), float(step_norm)

    def finish(self, solution: PETSc.Vec) -> None:
        """After an exact solve: rho from ``||B b||`` and the solution's norm."""
        if self.preconditioned and self.exact and self.reference > 0.0:
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
        if iteration == 0:
            self.initial = rnorm
            if self.preconditioned and self.reference < 0.0:
                self.reference = rnorm
        if not np.isfinite(rnorm):
            return Reason.DIVERGED_NANORINF
        if rnorm <= self.atol:
            return Reason.CONVERGED_ATOL
        if self.preconditioned:
            if self._converged_preconditioned(ksp, rnorm):
                return Reason.CONVERGED_RTOL
        elif rnorm <= self.tolerance:
            return Reason.CONVERGED_RTOL
        if iteration > 0 and rnorm >= self.dtol * self.initial:
            return Reason.DIVERGED_DTOL
        if iteration >= self.max_it:
            return Reason.DIVERGED_ITS
        return Reason.ITERATING

    def _converged_preconditioned(self, ksp: PETSc.KSP, rnorm: float) -> bool:
        """``||B r|| <= max(rtol rho ||x_k - w^n||, 1e-14 ||B b||)``."""
        if rnorm <= ROUNDING_FLOOR * self.reference:
            return True
        ratio = self.ratio
        # ||x_k - w^n|| <= ||x_0 - w^n|| + ||d_k||, and ||d_k|| is near ||x - x_0||,
        # about the first residual norm over rho: a generous bound to test first.
        scale = ratio if ratio is not None else 1.0
        bound = self.guess_step + 2.0 * self.initial / scale
        if rnorm > self.rtol * scale * bound and ratio is not None:
            return False
        ksp.buildSolution(self.iterate)  # d_k
        np.add(self.iterate.array_r, self.guess.array_r, out=self.iterate.array_w)
        norm, step_norm = self._norms(self.iterate.array_r)
        if ratio is None:  # the first solve after a setup: rho from ||B b|| and ||x_k||
            ratio = self.reference / norm if norm > 0.0 else 1.0
        # The change x - w^n is at least ||x_k - w^n|| - ||x - x_k||, ||x - x_k|| being
        # about ||B r_k|| / rho: an iterate far from x (a guess that extrapolated a
        # switched-off pulse) does not pass for the change.
        change = step_norm - rnorm / ratio
        return rnorm <= self.rtol * ratio * change

    def destroy(self) -> None:
        self.work.destroy()
        self.iterate.destroy()


class ProjectedGuess:
    """The initial guess with the smallest residual in the span of the latest values.

    For ``A x = b`` and the values ``w^n, w^{n-1}, ...`` of the latest calls, the guess
    minimises ``||b - A x||`` over their span: the least-squares counterpart of
    P. Fischer's projection for successive right-hand sides, and the norm the solve's
    skip check and plain-residual test measure. The span holds the plain guess w^n and
    every polynomial extrapolation of the values, so the guess's residual is never
    larger than theirs, and with noise or a switching input the values are simply
    weighted differently.

    The guess is ``w^n + sum_j c_j d_j`` over the backward differences ``d_0 = w^n``,
    ``d_{j+1} = d_j - d_j^{old}``, whose images ``A d_0 = A w^n``,
    ``A d_{j+1} = A d_j - (A d_j)^{old}`` are kept as a table updated by one vector update
    per entry and call; c minimises ``||r_n - sum_j c_j A d_j||`` for the residual of w^n,
    ``r_n = b - A w^n``, the right-hand side of the step's increment. In the basis of the
    values themselves the Gram matrix cannot be computed in floating point beyond three:
    values that agree to 1e-3 and better give condition numbers of 1e12-1e15, and a guess
    worse than the one from three values. A call costs one SpMV (the image of w^n: every
    image is a product with A, so no rounding is carried from step to step), one vector
    update per difference, the Gram matrix of the rows ``r_n, A d_0, A d_1, ...`` (one
    array, one matrix-vector product per row, one reduction; PETSc's VecMDot gives digits
    that depend on where the vectors lie in memory, so reruns would differ) and two
    combinations (the guess from the values, its residual from the images). The values
    are kept for the guess and for checkpoints: :meth:`restore` rebuilds the same table
    from them, digit for digit.
    """

    def __init__(self, matrix: PETSc.Mat):
        self.matrix = matrix
        self.comm = matrix.getComm().tompi4py()
        self.values: list[PETSc.Vec] = []  # w^n, w^{n-1}, ... of the last calls
        self.spare: list[PETSc.Vec] = []  # value vectors to reuse
        self.count = 0  # images in the table
        self.tables: list[np.ndarray] = []  # two arrays of rows r_n, A d_0, A d_1, ...
        self.rows: list[list[PETSc.Vec]] = []  # the rows of each table as vectors
        self.active = 0  # the table holding the current images
        self.rhs_norm = 0.0  # ||b|| of the last call
        self.step_rhs_norm = 0.0  # ||b - A w^n|| of the last call
        self.tolerance = 0.0  # the residual norm the last call's solve must reach

    def forget_images(self) -> None:
        """The operator changed: the images become products with the new one."""
        values = [value.array_r.copy() for value in self.values]
        self.restore(values, len(values))

    def restore(self, values: Sequence[np.ndarray], count: int) -> None:
        """Start again from ``values`` (local arrays, newest first), as if the calls
        that saw them had just been made."""
        self.spare += self.values
        self.values, self.count = [], 0
        for array in reversed(values):
            value = self._take()
            value.array_w[:] = array[: value.getLocalSize()]
            value.stateIncrease()
            self._add(value, count)

    def project(
        self, rhs: PETSc.Vec, current: PETSc.Vec, values: int, rtol: float, atol: float
    ) -> bool:
        """Overwrite ``current`` (w^n) with the guess from it and the ``values - 1``
        values of the calls before, and ``residual`` with the guess's residual; True when
        that already meets ``||b - A x|| <= max(rtol ||b - A w^n||, 1e-14 ||b||, atol)``."""
        value = self._take()
        current.copy(value)
        self._add(value, values)
        table = self.tables[self.active]
        rows = self.rows[self.active]
        count = self.count
        np.subtract(rhs.array_r, table[1], out=table[0])  # r_n = b - A w^n
        rows[0].stateIncrease()  # PETSc caches norms: tell it the array changed
        local = np.zeros((count + 2, count + 1))  # the Gram matrix of the rows, then ||b||^2
        for i in range(count + 1):
            local[i, i:] = table[i : count + 1] @ table[i]
        local[-1, 0] = np.dot(rhs.array_r, rhs.array_r)
        products = _global_sum(self.comm, local)
        self.rhs_norm = float(np.sqrt(products[-1, 0]))
        products = np.triu(products[:-1]) + np.triu(products[:-1], 1).T
        gram, moments = products[1:, 1:], products[0, 1:]
        self.step_rhs_norm = float(np.sqrt(max(products[0, 0], 0.0)))
        self.tolerance = max(rtol * self.step_rhs_norm, ROUNDING_FLOOR * self.rhs_norm, atol)
        image_norm = float(np.sqrt(max(gram[0, 0], 0.0)))  # ||A w^n||
        coefficients = _trusted_projection(
            gram, moments, image_norm, GUESS_ROUNDING_SHARE * self.tolerance
        )
        if coefficients is None:  # A w^n and every difference are zero: the guess is w^n
            coefficients = np.zeros(1)
        used = len(coefficients)
        weights = _value_weights(coefficients)
        weights[0] += 1.0
        current.zeroEntries()
        current.maxpy(weights, self.values[:used])
        rows[0].maxpy(-coefficients, rows[1 : used + 1])  # r_n becomes the guess's residual
        return rows[0].norm() <= self.tolerance

    @property
    def residual(self) -> PETSc.Vec:
        """``b - A x`` of the last guess x."""
        return self.rows[self.active][0]

    def _add(self, value: PETSc.Vec, count: int) -> None:
        """Take ``value`` as the newest of at most ``count`` values; the images of the
        differences become ``new_0 = A value``, ``new_{j+1} = new_j - old_j``."""
        self._tables(count)
        old = self.tables[self.active]
        self.active = 1 - self.active
        new = self.tables[self.active]
        self.matrix.mult(value, self.rows[self.active][1])
        kept = min(self.count, count - 1)
        for j in range(kept):
            np.subtract(new[j + 1], old[j + 1], out=new[j + 2])
            self.rows[self.active][j + 2].stateIncrease()
        self.count = kept + 1
        self.spare += self.values[count - 1 :]
        self.values = [value, *self.values[: count - 1]]

    def _tables(self, count: int) -> None:
        """Two tables of ``count + 1`` rows (made at the first call, or for more values)."""
        if self.tables and self.tables[0].shape[0] >= count + 1:
            return
        local, size = self.matrix.getLocalSize()[0], self.matrix.getSize()[0]
        previous = self.tables
        self.tables, self.rows = [], []
        for index in range(2):
            table = np.zeros((count + 1, local))
            if previous:
                rows = previous[index].shape[0]
                table[:rows] = previous[index]
            self.tables.append(table)
            self.rows.append(
                [
                    PETSc.Vec().createWithArray(row, size=(local, size), comm=self.matrix.getComm())
                    for row in table
                ]
            )

    def _take(self) -> PETSc.Vec:
        return self.spare.pop() if self.spare else self.matrix.createVecLeft()

    def destroy(self) -> None:
        for vec in (*self.values, *self.spare):
            vec.destroy()
        for rows in self.rows:
            for vec in rows:
                vec.destroy()


def _global_sum(comm: MPI.Comm, local: np.ndarray) -> np.ndarray:
    """The sum over ranks of a small array of local partial sums (one reduction)."""
    if comm.size == 1:
        return local
    total = np.empty_like(local)
    comm.Allreduce(local, total, op=MPI.SUM)
    return total


def _value_weights(coefficients: np.ndarray) -> np.ndarray:
    """Weights of the values w^n, w^{n-1}, ... in ``sum_j c_j d_j``, d_j the j-th backward
    difference ``sum_l (-1)^l binom(j, l) w^{n-l}``."""
    count = len(coefficients)
    weights = np.zeros(count)
    for j, c in enumerate(coefficients):
        for back in range(j + 1):
            weights[back] += c * (-1) ** back * math.comb(j, back)
    return weights


def _trusted_projection(
    gram: np.ndarray, moments: np.ndarray, image_norm: float, allowed: float
) -> np.ndarray | None:
    """Least-squares coefficients ``gram c = moments`` over the leading differences
    whose images can be trusted; None when every value is zero.

    An image ``A d_j`` is a signed sum of 2^j products with A, each rounded by about
    1e-14 of ``||A w^n||``; the guess's residual is then off by up to
    ``1e-14 ||A w^n|| sum_j 2^j |c_j|``. Images below 1e-12 of ``A w^n`` are rounding
    themselves and end the table; beyond that the highest differences are dropped until
    that bound is within ``allowed``: a tiny difference with a large coefficient (a
    residual chased along a direction made of rounding) would otherwise give a residual
    that is not the guess's.
    """
    count = len(moments)
    for j in range(1, count):
        if gram[j, j] <= DIFFERENCE_FLOOR**2 * gram[0, 0]:
            count = j
            break
    while True:
        coefficients = _pseudo_solve(gram[:count, :count], moments[:count])
        if coefficients is None or count == 1:
            return coefficients
        weights = 2.0 ** np.arange(count)
        if IMAGE_ROUNDING * image_norm * np.sum(weights * np.abs(coefficients)) <= allowed:
            return coefficients
        count -= 1


def _pseudo_solve(gram: np.ndarray, moments: np.ndarray) -> np.ndarray | None:
    """``gram c = moments`` for a symmetric semi-definite ``gram``: scaled to a unit
    diagonal, then dropping directions whose eigenvalue is below GRAM_CUTOFF of the largest
    (vectors that are zero or repeat each other)."""
    diagonal = np.diag(gram)
    if diagonal.max(initial=0.0) <= 0.0:
        return None
    scale = np.zeros_like(diagonal)
    positive = diagonal > 0.0
    scale[positive] = 1.0 / np.sqrt(diagonal[positive])
    values, vectors = np.linalg.eigh(scale[:, None] * gram * scale[None, :])
    keep = values > GRAM_CUTOFF * values[-1]
    projected = vectors[:, keep].T @ (scale * moments) / values[keep]
    return scale * (vectors[:, keep] @ projected)


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
