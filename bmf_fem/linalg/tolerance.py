"""When a solve has converged: relative to the step's change, not to the state."""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from bmf_fem.linalg.guess import ROUNDING_FLOOR, ProjectedGuess
from bmf_fem.parallel import elementwise_sum

# Most solves between two exact measurements of ||B b|| by :class:`RelativeTest`, and how
# far (relative) the ratio it estimates may move between two of them before they are made
# more often again.
CALIBRATION_INTERVAL = 16
CALIBRATION_DRIFT = 0.01


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
        norm, step_norm = np.sqrt(elementwise_sum(self.comm, local))
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
