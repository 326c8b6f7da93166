"""The preconditioner an operator gets: by its diffusion number ``D dt / h^2``, algebraic
multigrid where diffusion dominates, incomplete Cholesky where the mass term does. The
option sets below are the fastest measured by ``benchmarks/preconditioners.py``
(docs/performance.md has the numbers); every one of them can be overridden through
``[solver] petsc_options``."""

from __future__ import annotations

import numpy as np
from dolfinx import mesh as dmesh
from mpi4py import MPI

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

# Preconditioners that approximate A^-1 across the spectrum: for them CG keeps PETSc's
# preconditioned test ||B r|| <= rtol ||B b||, a relative error of about rtol. With any
# other preconditioner bmf-fem's CG tests the plain residual, ||r|| <= rtol ||b||: on the
# mass-dominated operators these serve the two norms agree within the operator's small
# condition number, and CG applies such a preconditioner after the plain test, so a
# converged solve saves one application. (With multigrid the plain test asks for errors
# a thousand times below rtol and takes twice the iterations in a pulsed run.)
MULTIGRID_PCS = ("gamg", "hypre", "mg", "ml")


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
