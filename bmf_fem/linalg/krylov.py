"""One equation's operator and the KSP that owns it."""

from __future__ import annotations

from collections.abc import Mapping

from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from bmf_fem.linalg.choice import FACTOR_ORDERING, FACTORISATIONS
from bmf_fem.linalg.guess import ProjectedGuess
from bmf_fem.linalg.preconditioning import MULTIGRID_PCS, preconditioner_options
from bmf_fem.linalg.tolerance import RelativeTest


class ImplicitSolver:
    """Solves ``A w = b`` for one equation's operator, reusing one KSP for every step.

    ``petsc_options`` (the user's ``[solver] petsc_options``) override the tuned options
    of :func:`preconditioner_options` for the operator's ``diffusion_number``, including
    ``pc_type`` itself. The KSP is built and set up at each assembly (once per dt, SBDF2
    start or damage switch), with its options in PETSc's database only while that
    happens. With ``ksp_type = "preonly"`` and a factorisation (`choice`) the setup
    factorises the operator and a solve applies the factors: no guess, no iterations.
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
        self.direct = options["ksp_type"] == "preonly" and options["pc_type"] in FACTORISATIONS
        if self.direct:
            options = {"pc_factor_mat_ordering_type": FACTOR_ORDERING, **options}
        self.options = options
        self.ksp: PETSc.KSP | None = None
        self.guess = None if self.direct else ProjectedGuess(self.matrix)
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
        if self.direct:
            self.ksp.setInitialGuessNonzero(False)
            return
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
        if self.direct:
            self.ksp.solve(rhs, vec)
            self._check_converged()
            solution.x.scatter_forward()
            return 1
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
        self._check_converged()
        solution.x.scatter_forward()
        return self.ksp.getIterationNumber()

    def _check_converged(self) -> None:
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise SolverError(
                f"the {self.name} solve did not converge "
                f"(PETSc reason {reason}); try a smaller time.dt or another solver.pc_type"
            )

    def destroy(self) -> None:
        if self.ksp is not None:
            self.ksp.destroy()
        if self.test is not None:
            self.test.destroy()
        self.correction.destroy()
        self.matrix.destroy()
        if self.guess is not None:
            self.guess.destroy()


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
