"""Where inputs and perturbations act: mesh-tag regions, balls and boxes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh

from bmf_fem.errors import ConfigError
from bmf_fem.meshes import MeshData, MeshError


class RegionSelector:
    """Turns a region description into dof masks and cell lists of one function space."""

    def __init__(self, mesh_data: MeshData, V: fem.FunctionSpace):
        self.mesh_data = mesh_data
        self.V = V
        mesh = mesh_data.mesh
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim, tdim)
        self.gdim = mesh.geometry.dim
        self.n_local_cells = mesh.topology.index_map(tdim).size_local
        self.dof_coordinates = V.tabulate_dof_coordinates()[:, : self.gdim]
        cells = np.arange(self.n_local_cells, dtype=np.int32)
        self.cell_midpoints = dmesh.compute_midpoints(mesh, tdim, cells)[:, : self.gdim]

    def point(self, values: Sequence[float], where: str) -> np.ndarray:
        """A point of the mesh's geometric dimension (shorter lists are padded with 0)."""
        if len(values) > self.gdim:
            raise ConfigError(
                f"{where} = {list(values)} has {len(values)} coordinates but the mesh is "
                f"{self.gdim}-dimensional"
            )
        point = np.zeros(self.gdim)
        point[: len(values)] = values
        return point

    def region_cells(self, name: str, where: str) -> np.ndarray:
        """Local cells of a named cell region (a gmsh physical group)."""
        try:
            return self.mesh_data.cells(name)
        except MeshError as error:
            raise ConfigError(f"{where}: {error}") from None

    def cells(self, spec: dict, where: str) -> np.ndarray:
        """Local cells selected by ``region``, ``centre`` + ``radius`` or ``box``."""
        if spec.get("region"):
            return self.region_cells(spec["region"], f"{where}.region")
        inside = self._inside(self.cell_midpoints, spec, where)
        return np.flatnonzero(inside).astype(np.int32)

    def dof_mask(self, spec: dict, where: str) -> np.ndarray:
        """Boolean mask over local dofs (owned and ghost) of the selected region."""
        mask = np.zeros(self.dof_coordinates.shape[0], dtype=bool)
        if spec.get("region"):
            cells = self.region_cells(spec["region"], f"{where}.region")
            tdim = self.mesh_data.mesh.topology.dim
            mask[fem.locate_dofs_topological(self.V, tdim, cells)] = True
        else:
            mask |= self._inside(self.dof_coordinates, spec, where)
        return mask

    def _inside(self, points: np.ndarray, spec: dict, where: str) -> np.ndarray:
        if spec.get("box") is not None:
            lo = self.point(spec["box"][0], f"{where}.box")
            hi = self.point(spec["box"][1], f"{where}.box")
            return np.all((points >= lo) & (points <= hi), axis=1)
        centre = self.point(spec["centre"], f"{where}.centre")
        return np.sum((points - centre) ** 2, axis=1) <= spec["radius"] ** 2


def require_nonempty(comm, count: int, where: str) -> None:
    """Reject a region that selects nothing on any rank."""
    if comm.allreduce(int(count)) == 0:
        raise ConfigError(f"{where} selects no part of the mesh; enlarge it or move it")
