"""Assembled operators and the solvers that own them.

One :class:`ImplicitSolver` per equation (`krylov`): its matrix is assembled once per dt
(and when a damage perturbation switches), its KSP and preconditioner are created once
and set up once per assembly. Operators without diffusion are diagonal after mass
lumping (`mass`) and are applied pointwise, with no matrix and no solve. Small
operators on one rank are factorised, larger ones get a Krylov method (`choice`) whose
preconditioner follows the operator's diffusion number (`preconditioning`); a solve
starts from the best combination of the latest values (`guess`) and stops at a
tolerance relative to the step's change (`tolerance`).
"""

from bmf_fem.linalg.choice import (
    DIRECT_MAX_DOFS,
    FACTORISATIONS,
    SolverChoice,
    choose_solver,
    direct_limit,
)
from bmf_fem.linalg.guess import ProjectedGuess
from bmf_fem.linalg.krylov import ImplicitSolver, SolverError
from bmf_fem.linalg.mass import lumped_mass
from bmf_fem.linalg.preconditioning import (
    AUTO_AMG_PC,
    AUTO_AMG_THRESHOLDS,
    BOOMERAMG_2D,
    BOOMERAMG_3D,
    GAMG_OPTIONS,
    MASS_DOMINATED_PC,
    MAX_FILL_LEVELS,
    MULTIGRID_PCS,
    choose_preconditioner,
    diffusion_number,
    fill_levels,
    min_cell_size,
    preconditioner_options,
)
from bmf_fem.linalg.tolerance import RelativeTest

__all__ = [
    "AUTO_AMG_PC",
    "AUTO_AMG_THRESHOLDS",
    "BOOMERAMG_2D",
    "BOOMERAMG_3D",
    "DIRECT_MAX_DOFS",
    "FACTORISATIONS",
    "GAMG_OPTIONS",
    "MASS_DOMINATED_PC",
    "MAX_FILL_LEVELS",
    "MULTIGRID_PCS",
    "ImplicitSolver",
    "ProjectedGuess",
    "RelativeTest",
    "SolverChoice",
    "SolverError",
    "choose_preconditioner",
    "choose_solver",
    "diffusion_number",
    "direct_limit",
    "fill_levels",
    "lumped_mass",
    "min_cell_size",
    "preconditioner_options",
]
