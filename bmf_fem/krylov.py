"""Preconditioned conjugate gradients that keep their last residual.

The same iteration as PETSc's KSPCG (Hestenes-Stiefel with left preconditioning), written
as a PETSc KSP of type "python" so that monitors, convergence tests and converged reasons
work as for any KSP. What KSPCG cannot give is its recursive residual ``r = b - A x``
after the solve; :class:`ProjectedGuess` needs ``A x`` of every solution for the next
step's guess, and with the residual that is ``b - r`` instead of a product with A.
"""

from __future__ import annotations

import math

from petsc4py import PETSc


class ConjugateGradients:
    """Context of a KSP of type "python": CG with the preconditioned or the plain norm."""

    def __init__(self):
        self.residual: PETSc.Vec | None = None  # r = b - A x of the last solve
        self.work: list[PETSc.Vec] = []

    def setUp(self, ksp: PETSc.KSP) -> None:  # petsc4py calls it by this name
        if not self.work:
            matrix = ksp.getOperators()[0]
            self.work = [matrix.createVecLeft() for _ in range(4)]
            self.residual = self.work[0]

    def reset(self, ksp: PETSc.KSP) -> None:
        for vec in self.work:
            vec.destroy()
        self.work = []
        self.residual = None

    def destroy(self, ksp: PETSc.KSP) -> None:
        self.reset(ksp)

    def solve(self, ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec) -> None:
        matrix = ksp.getOperators()[0]
        pc = ksp.getPC()
        preconditioned = ksp.getNormType() == PETSc.KSP.NormType.PRECONDITIONED
        max_it = ksp.getTolerances()[3]
        r, z, p, w = self.work
        if ksp.getInitialGuessNonzero():
            matrix.mult(x, r)
            r.aypx(-1.0, b)
        else:
            x.zeroEntries()
            b.copy(r)
        if preconditioned:
            pc.apply(r, z)
        iteration, rz_old = 0, 1.0
        Reason = PETSc.KSP.ConvergedReason
        while True:
            rnorm = z.norm() if preconditioned else r.norm()
            if not math.isfinite(rnorm):
                reason = Reason.DIVERGED_NANORINF
                break
            ksp.setIterationNumber(iteration)
            ksp.setResidualNorm(rnorm)
            ksp.logConvergenceHistory(rnorm)
            ksp.monitor(iteration, rnorm)
            reason = ksp.callConvergenceTest(iteration, rnorm)
            if reason == Reason.ITERATING and iteration >= max_it:
                reason = Reason.DIVERGED_ITS
            if reason != Reason.ITERATING:
                break
            if not preconditioned:
                pc.apply(r, z)  # after the test: a converged solve skips it
            rz = r.dot(z)
            if iteration == 0:
                z.copy(p)
            else:
                p.aypx(rz / rz_old, z)
            matrix.mult(p, w)
            curvature = p.dot(w)
            if curvature <= 0.0:
                reason = Reason.DIVERGED_INDEFINITE_MAT
                break
            alpha = rz / curvature
            x.axpy(alpha, p)
            r.axpy(-alpha, w)
            rz_old = rz
            iteration += 1
            if preconditioned:
                pc.apply(r, z)
        ksp.setConvergedReason(reason)
