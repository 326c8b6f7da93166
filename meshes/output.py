"""Mesh files and pictures: XDMF with named tags, and a PNG preview.

The XDMF file holds the mesh (grid "mesh"), the tags (grids "cell_tags" and
"facet_tags") and the tag names as JSON in the information items "cell_regions" and
"facet_regions", so `kind = "file"` reads it back with its names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .data import MeshData


def write_xdmf(data: MeshData, path: Path) -> None:
    """Write mesh, tags and tag names to `path` (.xdmf + .h5). Collective."""
    from dolfinx.io import XDMFFile

    mesh = data.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    with XDMFFile(mesh.comm, str(path), "w") as xdmf:
        xdmf.write_mesh(mesh)
        if data.cell_tags is not None:
            data.cell_tags.name = "cell_tags"
            xdmf.write_meshtags(data.cell_tags, mesh.geometry)
        if data.facet_tags is not None and data.facet_regions:
            data.facet_tags.name = "facet_tags"
            xdmf.write_meshtags(data.facet_tags, mesh.geometry)
        xdmf.write_information("cell_regions", json.dumps(data.cell_regions))
        xdmf.write_information("facet_regions", json.dumps(data.facet_regions))
        xdmf.write_information("description", data.description)


def _gather_entities(data: MeshData, dim: int, entities: np.ndarray, values: np.ndarray):
    """Vertex coordinates and values of owned entities, gathered on rank 0."""
    from .quality import vertex_coordinates

    points = vertex_coordinates(data.mesh, dim, entities)
    gathered = data.mesh.comm.gather((points, values), root=0)
    if gathered is None:
        return None, None
    return (np.concatenate([g[0] for g in gathered]), np.concatenate([g[1] for g in gathered]))


def write_preview(data: MeshData, path: Path) -> None:
    """A PNG picture of the mesh coloured by cell region (3D: its surface). Collective."""
    mesh = data.mesh
    topology = mesh.topology
    tdim, gdim = topology.dim, mesh.geometry.dim
    if tdim == 3:
        import dolfinx.mesh

        topology.create_connectivity(2, 3)
        facets = dolfinx.mesh.exterior_facet_indices(topology)
        facets = facets[facets < topology.index_map(2).size_local]
        # colour each boundary triangle by the region of the cell behind it
        cell_values = np.zeros(
            topology.index_map(3).size_local + topology.index_map(3).num_ghosts, dtype=np.int32
        )
        if data.cell_tags is not None:
            cell_values[data.cell_tags.indices] = data.cell_tags.values
        facet_cells = topology.connectivity(2, 3)
        values = np.array([cell_values[facet_cells.links(f)[0]] for f in facets], dtype=np.int32)
        points, values = _gather_entities(data, 2, facets, values)
    else:
        num_owned = topology.index_map(tdim).size_local
        cells = np.arange(num_owned, dtype=np.int32)
        values = np.zeros(num_owned, dtype=np.int32)
        if data.cell_tags is not None:
            owned = data.cell_tags.indices < num_owned
            values[data.cell_tags.indices[owned]] = data.cell_tags.values[owned]
        points, values = _gather_entities(data, tdim, cells, values)
    if mesh.comm.rank != 0:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    colours = colormaps["tab20"]
    unique = {value: i for i, value in enumerate(np.unique(values))}
    face_colours = [colours(unique[v] % 20) for v in values]
    figure = plt.figure(figsize=(6, 6), dpi=120)
    if tdim == 3:
        from mpl_toolkits.mplot3d.art3d import Poly3DCollection

        axes = figure.add_subplot(projection="3d")
        axes.set_box_aspect((1, 1, 1))
        axes.add_collection3d(
            Poly3DCollection(points, facecolors=face_colours, edgecolors="k", linewidths=0.1)
        )
        lower, upper = points.reshape(-1, 3).min(axis=0), points.reshape(-1, 3).max(axis=0)
        centre, half = (lower + upper) / 2, (upper - lower).max() / 2
        for axis, c in zip("xyz", centre, strict=True):
            getattr(axes, f"set_{axis}lim")(c - half, c + half)
    else:
        axes = figure.add_subplot()
        axes.set_aspect("equal")
        flat = points[:, :, :2] if gdim >= 2 else np.dstack([points, np.zeros_like(points)])
        if tdim == 2:
            from matplotlib.collections import PolyCollection

            if flat.shape[1] == 4:  # quadrilateral, dolfinx order 0-1-3-2
                flat = flat[:, (0, 1, 3, 2)]
            axes.add_collection(
                PolyCollection(flat, facecolors=face_colours, edgecolors="k", linewidths=0.15)
            )
        else:
            from matplotlib.collections import LineCollection

            axes.add_collection(LineCollection(flat, colors=face_colours, linewidths=1.2))
        axes.autoscale_view()
    axes.set_title(data.description, fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
