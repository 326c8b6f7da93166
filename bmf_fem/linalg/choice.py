"""Which solver an operator gets.

On one rank an operator up to :data:`DIRECT_MAX_DOFS` (by mesh dimension) is factorised
once per dt and every step solves with the factors: two triangular sweeps cost less
than a preconditioned Krylov solve with its guess and stopping test, and they are exact.
Larger operators, and every operator on several ranks, get a Krylov method with the
preconditioner their diffusion number calls for (`preconditioning`). The operator's
symmetry decides the method: CG and Cholesky for symmetric operators, GMRES and LU
otherwise. benchmarks/small_steps.py measures the crossover (docs/performance.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bmf_fem.linalg.preconditioning import choose_preconditioner

# Largest operators (dofs) solved by a sparse factorisation on one rank, by mesh
# dimension. In 1D the operator is tridiagonal and its factors are as sparse as itself.
# In 2D nested-dissection Cholesky beat GAMG- and ICC-preconditioned CG up to about 60k
# dofs in a BMF step; in 3D its fill grows faster and the crossover lies between 2k and
# 9k dofs.
DIRECT_MAX_DOFS: dict[int, float] = {1: math.inf, 2: 40_000, 3: 4_000}

# Preconditioners that are a factorisation: with "preonly" they are the solver.
FACTORISATIONS = ("cholesky", "lu")

# Fill-reducing ordering of the factorisations bmf-fem sets up: nested dissection (at 28k
# dofs in 2D a third of the natural ordering's fill and factorisation time).
FACTOR_ORDERING = "nd"


@dataclass(frozen=True)
class SolverChoice:
    """The KSP and preconditioner types of one operator."""

    ksp_type: str
    pc_type: str

    @property
    def direct(self) -> bool:
        """Whether the solve is one application of a factorisation (no iterations)."""
        return self.ksp_type == "preonly" and self.pc_type in FACTORISATIONS


def direct_limit(direct_max_dofs: int, dim: int) -> float:
    """The largest operator factorised: ``solver.direct_max_dofs``, or by dimension (-1)."""
    return DIRECT_MAX_DOFS[min(dim, 3)] if direct_max_dofs < 0 else direct_max_dofs


def choose_solver(
    ksp_type: str,
    pc_type: str,
    symmetric: bool,
    diffusion_number: float,
    dim: int,
    size: int,
    ranks: int,
    direct_max_dofs: int = -1,
) -> SolverChoice:
    """Resolve ``[solver] ksp_type`` and ``pc_type`` ("auto" or PETSc's names) for an
    operator of ``size`` dofs on ``ranks`` ranks."""
    if pc_type == "auto" and ranks == 1 and size <= direct_limit(direct_max_dofs, dim):
        return SolverChoice("preonly", "cholesky" if symmetric else "lu")
    if pc_type in FACTORISATIONS and ksp_type == "auto":
        return SolverChoice("preonly", pc_type)
    method = ksp_type if ksp_type != "auto" else ("cg" if symmetric else "gmres")
    preconditioner = choose_preconditioner(pc_type, diffusion_number, dim)
    if not symmetric and preconditioner == "icc":
        preconditioner = "ilu"
    return SolverChoice(method, preconditioner)
