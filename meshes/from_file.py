"""`file`: a user's mesh: gmsh .msh (physical names kept), our XDMF, or any meshio format.

* .msh is merged into a gmsh model as it is; physical groups become tags with their
  names. A file without physical groups gets one cell region "domain".
* .xdmf written by bmf-fem (or any dolfinx XDMF with a grid named "mesh") is read in
  parallel with dolfinx, tags and their names included.
* anything else meshio reads is converted: one integer cell-data array (gmsh:physical,
  medit:ref, cell_tags, ... or the one named by `tags`) gives the tag values, meshio's
  field_data gives names; without one, all cells form "domain".
"""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import gmsh
import numpy as np

from .data import MeshError
from .gmsh_model import Built, GmshSession, model_from_arrays
from .keys import Key

SHAPES: dict[int, tuple[str, ...]] = {}
"""The shapes of each dimension; the first of a dimension is its default."""
DEFAULT_DIM: int | None = None

KEYS: tuple[Key, ...] = (
    Key(
        "tags",
        "str",
        None,
        "meshio formats: name of the integer cell-data array holding region numbers",
        default_doc="the first of gmsh:physical, medit:ref, cell_tags, ...",
    ),
)

PREFERRED_TAG_ARRAYS = (
    "gmsh:physical",
    "medit:ref",
    "cell_tags",
    "CellEntityIds",
    "tags",
    "tag",
    "region",
    "regions",
    "material",
    "subdomains",
)

# meshio cell type -> gmsh element type (node orders agree for these types)
GMSH_TYPES = {
    "vertex": 15,
    "line": 1,
    "triangle": 2,
    "quad": 3,
    "tetra": 4,
    "hexahedron": 5,
    "line3": 8,
    "triangle6": 9,
    "quad9": 10,
}
DIMENSION = {
    "vertex": 0,
    "line": 1,
    "line3": 1,
    "triangle": 2,
    "triangle6": 2,
    "quad": 2,
    "quad9": 2,
    "tetra": 3,
    "hexahedron": 3,
}


def check(p: dict[str, Any]) -> None:
    if p["file"] is None:
        raise MeshError(
            'mesh.file is required for kind = "file": give the path of a .msh, '
            ".xdmf or other meshio-readable mesh"
        )
    path = Path(p["file"])
    if not path.is_file():
        raise MeshError(f"mesh.file = {p['file']!r}: no such file")
    if path.suffix.lower() not in (".msh", ".xdmf"):
        import meshio

        known = sorted(meshio.extension_to_filetypes)
        if path.suffix.lower() not in known:
            raise MeshError(
                f"mesh.file = {p['file']!r}: meshio does not know the extension "
                f"{path.suffix!r}; use .msh, .xdmf or one of {', '.join(known)}"
            )


def is_dolfinx_xdmf(p: dict[str, Any]) -> bool:
    """An XDMF file with a grid named "mesh", as dolfinx (and `write_mesh`) write them."""
    return Path(p["file"]).suffix.lower() == ".xdmf" and "mesh" in _xdmf_grids(Path(p["file"]))


def _xdmf_grids(path: Path) -> dict[str, Any]:
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as error:
        raise MeshError(f"mesh.file = {str(path)!r} is not a readable XDMF file: {error}") from None
    grids = {grid.get("Name", ""): grid for grid in root.iter("Grid")}
    grids["_information"] = {
        item.get("Name"): item.get("Value") or (item.text or "")
        for item in root.iter("Information")
    }
    return grids


def read_xdmf(p: dict[str, Any], comm: Any):
    """Mesh, tags and names from a dolfinx XDMF file (collective, parallel read)."""
    import dolfinx.mesh
    from dolfinx.io import XDMFFile

    path = Path(p["file"])
    grids = _xdmf_grids(path)
    information = grids["_information"]
    try:
        with XDMFFile(comm, str(path), "r") as xdmf:
            cell_type, degree = xdmf.read_cell_type(name="mesh")
            if cell_type.name == "interval" and comm.size > 1:
                mesh = _read_network(xdmf, comm, degree)
            else:
                mesh = xdmf.read_mesh(name="mesh")
            tdim = mesh.topology.dim
            mesh.topology.create_connectivity(tdim - 1, tdim)
            cell_tags = xdmf.read_meshtags(mesh, name="cell_tags") if "cell_tags" in grids else None
            facet_tags = (
                xdmf.read_meshtags(mesh, name="facet_tags") if "facet_tags" in grids else None
            )
    except RuntimeError as error:
        raise MeshError(f"mesh.file = {str(path)!r} could not be read: {error}") from None
    num_cells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    if cell_tags is None:
        cells = np.arange(num_cells, dtype=np.int32)
        cell_tags = dolfinx.mesh.meshtags(mesh, tdim, cells, np.ones(num_cells, dtype=np.int32))
        cell_regions = {"domain": 1}
    else:
        cell_regions = _names(information.get("cell_regions"), cell_tags.values, comm)
    if facet_tags is None:
        empty = np.empty(0, dtype=np.int32)
        facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, empty, empty)
        facet_regions = {}
    else:
        facet_regions = _names(information.get("facet_regions"), facet_tags.values, comm)
    cell_tags.name, facet_tags.name = "cell_tags", "facet_tags"
    return mesh, cell_tags, facet_tags, cell_regions, facet_regions


def _read_network(xdmf: Any, comm: Any, degree: int) -> Any:
    """A 1D network from XDMF, distributed so that no junction is split (see gmsh_model)."""
    import basix.ufl
    import dolfinx.mesh

    from .gmsh_model import network_partitioner

    cells = xdmf.read_topology_data(name="mesh")
    points = xdmf.read_geometry_data(name="mesh")
    gdim = points.shape[1] if points.ndim == 2 else 1
    all_cells = comm.gather(cells.reshape(-1, degree + 1), root=0)
    all_points = comm.gather(points.reshape(-1, gdim), root=0)
    if comm.rank == 0:
        cells, points = np.vstack(all_cells), np.vstack(all_points)
    else:
        cells, points = np.empty((0, degree + 1), np.int64), np.empty((0, gdim))
    element = basix.ufl.element("Lagrange", "interval", degree, shape=(gdim,))
    return dolfinx.mesh.create_mesh(comm, cells, points, element, partitioner=network_partitioner)


def _names(stored: str | None, values: np.ndarray, comm: Any) -> dict[str, int]:
    if stored:
        try:
            return {str(k): int(v) for k, v in json.loads(stored).items()}
        except (ValueError, AttributeError):
            pass
    present = sorted(set().union(*comm.allgather(set(np.unique(values).tolist()))))
    return {f"tag_{value}": value for value in present}


def build(session: GmshSession, p: dict[str, Any]) -> Built:
    path = Path(p["file"])
    if path.suffix.lower() == ".msh":
        return _merge_msh(path)
    return _convert_meshio(path, p["tags"])


def _refuse_quoted_names(path: Path) -> None:
    """gmsh cuts a physical name at an inner '"': refuse such a name rather than lose it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MeshError(f"mesh.file = {str(path)!r} cannot be read: {error.strerror}") from None
    start, end = data.find(b"$PhysicalNames"), data.find(b"$EndPhysicalNames")
    if start < 0 or end < start:
        return
    for line in data[start:end].splitlines()[2:]:
        if line.count(b'"') > 2:
            name = line[line.find(b'"') :].decode("utf-8", "replace")
            raise MeshError(
                f"mesh.file = {str(path)!r} has the region name {name}, which holds a '\"';"
                " gmsh would cut it: rename the physical group without quotes"
            )


def _merge_msh(path: Path) -> Built:
    _refuse_quoted_names(path)
    try:
        gmsh.merge(str(path))
    except Exception as error:
        raise MeshError(f"mesh.file = {str(path)!r} could not be read by gmsh: {error}") from None
    element_dims = [dim for dim in range(4) if _has_elements(dim)]
    if not element_dims:
        raise MeshError(f"mesh.file = {str(path)!r} holds no mesh elements")
    tdim = max(element_dims)
    tagged = {
        entity
        for _, group in gmsh.model.getPhysicalGroups(tdim)
        for entity in gmsh.model.getEntitiesForPhysicalGroup(tdim, group)
    }
    untagged = [
        tag
        for _, tag in gmsh.model.getEntities(tdim)
        if tag not in tagged and _has_elements(tdim, tag)
    ]
    if untagged:
        used = [tag for _, tag in gmsh.model.getPhysicalGroups(tdim)]
        name = "domain" if not used else "untagged"
        gmsh.model.addPhysicalGroup(tdim, untagged, max(used, default=0) + 1, name)
    types = set()
    for _, tag in gmsh.model.getEntities(tdim):
        types.update(gmsh.model.mesh.getElements(tdim, tag)[0])
    if len(types) > 1:
        raise MeshError(
            f"mesh.file = {str(path)!r} mixes cell types "
            f"({', '.join(gmsh.model.mesh.getElementProperties(t)[0] for t in types)})"
            "; dolfinx needs one cell type"
        )
    return Built(gdim=_geometric_dimension(gmsh.model.mesh.getNodes()[1].reshape(-1, 3), tdim))


def _has_elements(dim: int, tag: int = -1) -> bool:
    return any(len(tags) for tags in gmsh.model.mesh.getElements(dim, tag)[1])


def _geometric_dimension(points: np.ndarray, tdim: int) -> int:
    scale = max(float(np.abs(points).max()) if points.size else 1.0, 1e-300)
    if tdim <= 2 and np.all(np.abs(points[:, 2]) <= 1e-12 * scale):
        if tdim == 1 and np.all(np.abs(points[:, 1]) <= 1e-12 * scale):
            return 1
        return 2
    return 3


def _convert_meshio(path: Path, tag_array: str | None) -> Built:
    import meshio

    messages = io.StringIO()
    try:
        # meshio prints its complaints and may call sys.exit: keep both in the error
        with contextlib.redirect_stdout(messages), contextlib.redirect_stderr(messages):
            source = meshio.read(path)
    except (Exception, SystemExit) as error:
        said = " ".join(messages.getvalue().split()) or str(error)
        raise MeshError(f"mesh.file = {str(path)!r} could not be read: {said}") from None
    blocks = [block for block in source.cells if len(block.data)]
    unsupported = sorted({b.type for b in blocks if b.type not in GMSH_TYPES})
    blocks = [b for b in blocks if b.type in GMSH_TYPES]
    if not blocks or len(source.points) == 0:
        detail = f" (unsupported cell types: {', '.join(unsupported)})" if unsupported else ""
        raise MeshError(f"mesh.file = {str(path)!r} holds no usable cells{detail}")
    tdim = max(DIMENSION[b.type] for b in blocks)
    cell_types = {b.type for b in blocks if DIMENSION[b.type] == tdim}
    if len(cell_types) > 1:
        raise MeshError(
            f"mesh.file = {str(path)!r} mixes cell types ({', '.join(cell_types)})"
            "; dolfinx needs one cell type"
        )
    name = _tag_array_name(source, tag_array, path)
    names: dict[tuple[int, int], str] = {}
    for region, (value, dim) in getattr(source, "field_data", {}).items():
        names[int(dim), int(value)] = region
    out_blocks = []
    top_values = []
    for index, block in enumerate(source.cells):
        if block.type not in GMSH_TYPES or not len(block.data):
            continue
        dim = DIMENSION[block.type]
        if dim not in (tdim, tdim - 1):
            continue
        values = None
        if name is not None:
            values = np.asarray(source.cell_data[name][index]).astype(np.int64).ravel()
        if dim == tdim:
            top_values.append(values)
            out_blocks.append((GMSH_TYPES[block.type], np.asarray(block.data), values))
        elif values is not None and np.any(values > 0):
            keep = values > 0
            out_blocks.append((GMSH_TYPES[block.type], np.asarray(block.data)[keep], values[keep]))
    # cells without a usable tag form one region
    present = [v for v in top_values if v is not None]
    spare = max([int(v.max()) for v in present if len(v)] + [0]) + 1
    final = []
    for element_type, connectivity, values in out_blocks:
        dim = gmsh.model.mesh.getElementProperties(element_type)[1]
        if dim == tdim:
            if values is None:
                values = np.ones(len(connectivity), dtype=np.int64)
                names.setdefault((tdim, 1), "domain")
            else:
                values = np.where(values > 0, values, spare)
                if np.any(values == spare):
                    names[tdim, spare] = "untagged"
        final.append((element_type, connectivity, values))
    points = np.zeros((len(source.points), 3))
    points[:, : source.points.shape[1]] = source.points
    model_from_arrays(points, final, names)
    return Built(gdim=_geometric_dimension(points, tdim))


def _tag_array_name(source: Any, requested: str | None, path: Path) -> str | None:
    arrays = {
        name
        for name, data in source.cell_data.items()
        if all(np.issubdtype(np.asarray(d).dtype, np.integer) for d in data)
    }
    if requested is not None:
        if requested not in source.cell_data:
            raise MeshError(
                f"mesh.tags = {requested!r}: {str(path)!r} has no such cell data; "
                f"it has {', '.join(sorted(source.cell_data)) or 'none'}"
            )
        return requested
    for name in PREFERRED_TAG_ARRAYS:
        if name in arrays:
            return name
    return sorted(arrays)[0] if arrays else None
