"""Resolution guard: the lengths a run must resolve, against the size of its cells.

Two lengths move results when the mesh does not resolve them, so they warn (measured
with P1 by ``benchmarks/resolution.py``; cells = length / cell size):

* site fronts (continuum sites, D_s > 0) are ``sqrt(D_s/alpha)`` wide and need
  ``CELLS_PER_FRONT`` = 1.25 cells. Against the travelling-wave speed
  ``sqrt(D_s alpha / 2) (s1 + s3 - 2 s2)`` (tilts 0.05-0.2) a front is 3.2-3.6 % too
  fast at 1 cell, 2.0-2.2 % at 1.25 and under 1 % at 2 on an unstructured 2D mesh
  (1D: 4.0-4.3, 2.7-3.0 and 1.1-1.2 %); below 0.6 cells weakly tilted 1D fronts slow
  down and stick. The old default demo (0.37 cells) expressed 17 % less than on fine
  meshes.
* Gaussian inputs of radius r need ``CELLS_PER_RADIUS`` = 3 cells: on the crystal the
  peak of u is 1.0-3.2 % low at 3 cells, 3.4-6.5 % at 2 and 7-10 % at 1.5 (the nearest
  node samples the peak), and halving h from 3 cells moves it by 2.5 % at most.

Diffusion lengths do not move results, so they are listed (summary.json) and never
warn: with ``sqrt(D_u/delta)`` at 0.35 cells or ``sqrt(D_M tau)`` at 0.2 cells the
peaks were as far from converged (within 0.3 %) as at 1.8 cells, and ``sqrt(D dt)``
from a quarter of a cell to one left the change under refinement the same to 0.01 %
(it picks the preconditioner, not the accuracy).

The cell size is the volume-weighted median cell diameter: the size of the cells that
cover half the domain, which a travelling front crosses (the smallest cell would hide
a coarse bulk); for gmsh meshes it is mesh.h. For P2 the node spacing h/2 is compared
(conservative: a P2 front at 0.4 cells of h was 1.6 % off).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from mpi4py import MPI

from bmf_fem.profiles import PROFILES

if TYPE_CHECKING:
    from dolfinx.mesh import Mesh

    from bmf_fem.config import Config

CELLS_PER_FRONT = 1.25
CELLS_PER_RADIUS = 3.0


@dataclass(frozen=True)
class LengthScale:
    """One length of a run, the cells it needs (None: none) and the key that widens it."""

    name: str
    formula: str
    length: float
    needed_cells: float | None = None
    stated: str = ""  # how a warning states it, e.g. "input.0.radius = 0.03 is"
    need: str = ""  # what it needs and why, e.g. "inputs need 3 cells, or ..."
    key: str = ""  # the key that widens it ...
    key_for: Callable[[float], float] | None = None  # ... and its value for a length


def length_scales(config: Config) -> list[LengthScale]:
    """Every length of the configuration that a mesh could fail to resolve."""
    field, memory, sites, dt = config.field, config.memory, config.sites, config.time.dt
    scales = []
    if sites.mode == "continuum" and sites.D > 0 and sites.rate > 0:
        width = math.sqrt(sites.D / sites.rate)
        scales.append(
            LengthScale(
                "site front",
                "sqrt(sites.D/sites.rate)",
                width,
                CELLS_PER_FRONT,
                f"sites.D = {sites.D:g} with sites.rate = {sites.rate:g} makes site fronts "
                f"sqrt(D_s/alpha) = {width:.2g} wide,",
                f"fronts need {CELLS_PER_FRONT:g} cells, or they move at the wrong speed and "
                "can stick",
                "sites.D",
                lambda length: sites.rate * length**2,
            )
        )
    for index, entry in enumerate(config.inputs):
        length = PROFILES[entry.profile].length
        if length is not None:
            key = f"input.{index}.{length}"
            value = getattr(entry, length)
            scales.append(
                LengthScale(
                    f"input {index}",
                    key,
                    value,
                    CELLS_PER_RADIUS,
                    f"the {PROFILES[entry.profile].doc} {key} = {value:g} is",
                    f"inputs need {CELLS_PER_RADIUS:g} cells, or the mesh cuts their peak",
                    key,
                    lambda length: length,
                )
            )
    if field.D > 0 and field.decay > 0:
        scales.append(
            LengthScale(
                "field decay", "sqrt(field.D/field.decay)", math.sqrt(field.D / field.decay)
            )
        )
    if memory.D > 0:
        for index, tau in enumerate(memory.tau):
            scales.append(
                LengthScale(
                    f"memory mode {index}",
                    f"sqrt(memory.D*memory.tau[{index}])",
                    math.sqrt(memory.D * tau),
                )
            )
    for name, diffusivity in (("field", field.D), ("memory", memory.D), ("sites", sites.D)):
        if diffusivity > 0 and not (name == "sites" and sites.mode == "cells"):
            scales.append(
                LengthScale(f"{name} step", f"sqrt({name}.D*time.dt)", math.sqrt(diffusivity * dt))
            )
    return scales


def configured_cell_size(config: Config) -> float | None:
    """mesh.h as the geometry library resolves it (None for a mesh file, which has none)."""
    from bmf_fem.meshes.parameters import resolve

    if config.mesh.kind == "file":
        return None
    return float(resolve(config.mesh.kind, dict(config.mesh.params))["h"])


def typical_cell_size(mesh: Mesh) -> float:
    """The volume-weighted median cell diameter over all ranks (collective).

    Each cell weighs diameter^dim, a proxy of its volume, so a refined patch does not
    hide a coarse bulk. Found by bisection on the global weight below a size.
    """
    comm = mesh.comm
    tdim = mesh.topology.dim
    count = mesh.topology.index_map(tdim).size_local
    sizes = mesh.h(tdim, np.arange(count, dtype=np.int32)) if count else np.zeros(0)
    weights = sizes**tdim
    half = 0.5 * comm.allreduce(float(weights.sum()), op=MPI.SUM)
    low = comm.allreduce(float(sizes.min()) if count else np.inf, op=MPI.MIN)
    high = comm.allreduce(float(sizes.max()) if count else 0.0, op=MPI.MAX)
    if comm.allreduce(float(weights[sizes <= low].sum()), op=MPI.SUM) >= half:
        return low
    while high > low * (1.0 + 1e-6):
        middle = math.sqrt(low * high)
        below = comm.allreduce(float(weights[sizes <= middle].sum()), op=MPI.SUM)
        low, high = (low, middle) if below >= half else (middle, high)
    return high


def resolution_report(config: Config, cell_size: float, measured: bool) -> dict:
    """The lengths in cells and the warnings for those below their need (summary.json).

    ``cell_size`` is the mesh's typical cell diameter (``measured``) or mesh.h.
    """
    spacing = cell_size / config.space.degree
    scales = []
    warnings = []
    for scale in length_scales(config):
        cells = scale.length / spacing
        scales.append(
            {
                "name": scale.name,
                "formula": scale.formula,
                "length": scale.length,
                "cells": cells,
                "needed_cells": scale.needed_cells,
            }
        )
        if scale.needed_cells is not None and cells < scale.needed_cells:
            warnings.append(_warning(config, scale, cell_size, measured))
    return {
        "cell_size": cell_size,
        "cell_size_from": "mesh (volume-weighted median diameter)" if measured else "mesh.h",
        "degree": config.space.degree,
        "scales": scales,
        "warnings": warnings,
    }


def summary_entries(config: Config, mesh: Mesh) -> dict:
    """``{"warnings": [...], "resolution": {...}}`` of a run on ``mesh`` (collective)."""
    report = resolution_report(config, typical_cell_size(mesh), measured=True)
    return {"warnings": report.pop("warnings"), "resolution": report}


def resolution_warnings(config: Config, cell_size: float, measured: bool = False) -> list[str]:
    """What to change for every length the cells of size ``cell_size`` do not resolve."""
    return resolution_report(config, cell_size, measured)["warnings"]


def _warning(config: Config, scale: LengthScale, cell_size: float, measured: bool) -> str:
    degree = config.space.degree
    cells = scale.length * degree / cell_size
    needed_length = scale.needed_cells * cell_size / degree
    needed_size = scale.length * degree / scale.needed_cells
    mesh_h = configured_cell_size(config)
    if mesh_h is None:
        size = f"typical cell {cell_size:.2g}"
        refine = f"a mesh file with cells <= {_down(needed_size)}"
    else:
        size = f"typical cell {cell_size:.2g}, " if measured else ""
        size += f"mesh.h = {mesh_h:g}"
        refine = f"mesh.h <= {_down(needed_size * mesh_h / cell_size)}"
    return (
        f"{scale.stated} {cells:.2g} cells ({size}); {scale.need}: use {refine} or {scale.key} >= "
        f"{_up(scale.key_for(needed_length))}"
    )


def _down(value: float) -> str:
    """``value`` rounded down to two significant digits."""
    digits = 1 - math.floor(math.log10(value))
    return f"{math.floor(value * 10**digits) / 10**digits:g}"


def _up(value: float) -> str:
    """``value`` rounded up to two significant digits."""
    digits = 1 - math.floor(math.log10(value))
    return f"{math.ceil(value * 10**digits - 1e-9) / 10**digits:g}"
