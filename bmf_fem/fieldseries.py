"""The field series of a run: ``fields.xdmf``, ``fields.h5`` and ``fields.d/``.

``fields.h5`` holds the mesh and its tags, written once. Each output time gets its own
small HDF5 file, ``fields.d/NNNNNN.h5`` (one dataset per function, the time as an
attribute), written under a temporary name and renamed when complete. ``fields.xdmf`` is
the index ParaView's XDMF3 readers open: one temporal Grid per output time, appended
(`bmf_fem.xdmf_index`) so that the index is well formed at every moment. So an output
time costs the same whether it is the 10th or the 10,000th, and a kill at any moment
leaves an index that parses and points only at complete files.

Nodes and cells are stored in the order of the mesh's input numbering (gmsh's), not in
the order of a partition: every rank's owned values are gathered to rank 0, which
writes. The files are therefore the same on any number of ranks, and a run resumed on
another rank count continues its series without renumbering anything.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh

from bmf_fem.xdmf_index import AppendableIndex, document

SERIES_DIR = "fields.d"
MESH_FILE = "fields.h5"
INDEX_FILE = "fields.xdmf"
SERIES_FILES = (INDEX_FILE, MESH_FILE, SERIES_DIR)

# XDMF topology names, and the permutation from dolfinx's vertex order to XDMF's
CELL_TYPES = {
    "interval": ("Polyline", None),
    "triangle": ("Triangle", None),
    "tetrahedron": ("Tetrahedron", None),
    "quadrilateral": ("Quadrilateral", [0, 1, 3, 2]),
    "hexahedron": ("Hexahedron", [0, 1, 3, 2, 4, 5, 7, 6]),
}
FACET_TYPES = {0: "Polyvertex", 1: "Polyline", 2: "Triangle"}
_ENTRY = re.compile(r'<Time Value="([^"]+)"/>.*?' + SERIES_DIR + r"/(\d+)\.h5:", re.S)


class OrderedGather:
    """Rank 0 receives every rank's owned rows, placed in the order of their keys.

    ``keys`` are unique across ranks (input node or cell numbers). The layout is worked
    out once; each gather is then one MPI_Gatherv and one NumPy scatter on rank 0.
    """

    def __init__(self, comm, keys: np.ndarray):
        self.comm = comm
        self.counts = comm.gather(len(keys), root=0)
        gathered = self._gatherv(np.asarray(keys, dtype=np.int64))
        if comm.rank == 0:
            self.sorted_keys = np.sort(gathered)
            self.position = np.searchsorted(self.sorted_keys, gathered)
            self.size = len(gathered)

    def _gatherv(self, values: np.ndarray) -> np.ndarray | None:
        values = np.ascontiguousarray(values)
        if self.comm.size == 1:
            return values.copy()
        width = int(np.prod(values.shape[1:], dtype=np.int64))
        received = None
        if self.comm.rank == 0:
            counts = np.asarray(self.counts, dtype=np.int64) * width
            received = np.empty(
                (int(counts.sum() // max(width, 1)), *values.shape[1:]), values.dtype
            )
            self.comm.Gatherv(values, [received, counts], root=0)
        else:
            self.comm.Gatherv(values, None, root=0)
        return received

    def gather(self, values: np.ndarray) -> np.ndarray | None:
        """The rows of every rank in key order (rank 0), else None. Collective."""
        gathered = self._gatherv(values)
        if self.comm.rank != 0:
            return None
        ordered = np.empty_like(gathered)
        ordered[self.position] = gathered
        return ordered

    def number(self, keys: np.ndarray) -> np.ndarray:
        """Rank 0: the places of ``keys`` (any of the gathered ones) in key order."""
        return np.searchsorted(self.sorted_keys, keys)


class _Space:
    """How one function space's owned values reach rank 0 in input order."""

    def __init__(self, space: fem.FunctionSpace, mesh, nodes: OrderedGather, cells: OrderedGather):
        element = space.element.basix_element
        owned = space.dofmap.index_map.size_local
        dofs = space.dofmap.list
        if space.dofmap.index_map_bs != 1:
            raise ValueError(f"{space} is not scalar; the field series holds scalar fields")
        if element.degree == 1 and not element.discontinuous:
            self.center = "Node"
            node_of_dof = np.empty(dofs.max(initial=-1) + 1, dtype=np.int64)
            node_of_dof[dofs.ravel()] = mesh.geometry.dofmap.ravel()
            keys = mesh.geometry.input_global_indices[node_of_dof[:owned]]
            expected = nodes
        elif element.degree == 0 and element.discontinuous:
            self.center = "Cell"
            cell_of_dof = np.empty(dofs.max(initial=-1) + 1, dtype=np.int64)
            cell_of_dof[dofs[:, 0]] = np.arange(len(dofs))
            keys = mesh.topology.original_cell_index[cell_of_dof[:owned]]
            expected = cells
        else:
            raise ValueError("the field series holds P1 (nodal) and DG0 (cell) fields only")
        self.owned = owned
        self.gatherer = OrderedGather(mesh.comm, keys)
        if mesh.comm.rank == 0 and not np.array_equal(
            self.gatherer.sorted_keys, expected.sorted_keys
        ):
            raise RuntimeError("a field's degrees of freedom do not match the mesh's nodes")

    def gather(self, function: fem.Function) -> np.ndarray | None:
        return self.gatherer.gather(function.x.array[: self.owned])


class MeshLayout:
    """The mesh in input order (rank 0 holds the arrays): nodes, cells and tags."""

    def __init__(self, mesh_data):
        mesh = mesh_data.mesh
        comm = mesh.comm
        geometry, topology = mesh.geometry, mesh.topology
        if geometry.cmap.degree != 1:
            raise ValueError("the field series writes meshes of degree 1")
        tdim, gdim = topology.dim, geometry.dim
        owned_nodes = geometry.index_map().size_local
        owned_cells = topology.index_map(tdim).size_local
        node_keys = geometry.input_global_indices
        self.nodes = OrderedGather(comm, node_keys[:owned_nodes])
        self.cells = OrderedGather(comm, topology.original_cell_index[:owned_cells])
        coordinates = self.nodes.gather(geometry.x[:owned_nodes, : max(gdim, 2)])
        connectivity = self.cells.gather(node_keys[geometry.dofmap[:owned_cells]])
        cell_name = topology.cell_name()
        self.cell_type, permutation = CELL_TYPES[cell_name]
        self.arrays: dict[str, np.ndarray] = {}
        tags = mesh_data.cell_tags
        if tags is not None:
            values = np.full(owned_cells, -1, dtype=np.int32)
            mine = tags.indices < owned_cells
            values[tags.indices[mine]] = tags.values[mine]
            cell_tags = self.cells.gather(values)
        facet_rows = self._facets(mesh_data.facet_tags, mesh, node_keys)
        if comm.rank == 0:
            cells = self.nodes.number(connectivity)
            if permutation is not None:
                cells = cells[:, permutation]
            self.arrays = {"mesh/geometry": coordinates, "mesh/topology": cells}
            if tags is not None:
                self.arrays["mesh/cell_tags"] = cell_tags
            if facet_rows is not None:
                facets, values = facet_rows
                self.arrays["mesh/facet_tags/topology"] = self.nodes.number(facets)
                self.arrays["mesh/facet_tags/values"] = values
        self.facet_type = FACET_TYPES[tdim - 1]
        self.n_nodes = comm.bcast(len(coordinates) if comm.rank == 0 else 0, root=0)
        self.n_cells = comm.bcast(len(connectivity) if comm.rank == 0 else 0, root=0)
        self.gdim = max(gdim, 2)
        self.nodes_per_cell = geometry.dofmap.shape[1]
        self.has_cell_tags = tags is not None

    @staticmethod
    def _facets(tags, mesh, node_keys):
        """Rank 0: the tagged facets (input node numbers) and their values, or None."""
        if tags is None:
            return None
        tdim = mesh.topology.dim
        mesh.topology.create_entities(tdim - 1)
        owned = mesh.topology.index_map(tdim - 1).size_local
        mine = tags.indices < owned
        facets = tags.indices[mine].astype(np.int32)
        corners = {"hexahedron": 4, "quadrilateral": 2}.get(mesh.topology.cell_name(), tdim)
        if len(facets):
            vertices = dmesh.entities_to_geometry(mesh, tdim - 1, facets, False)
        else:  # (dolfinx 0.9 divides by zero on an empty list)
            vertices = np.empty((0, corners), dtype=np.int32)
        rows = mesh.comm.gather((node_keys[vertices], tags.values[mine]), root=0)
        if mesh.comm.rank != 0:
            return None
        keys = np.vstack([r[0].reshape(-1, corners) for r in rows])
        values = np.concatenate([r[1] for r in rows]).astype(np.int32)
        order = np.lexsort(np.sort(keys, axis=1).T[::-1])
        return keys[order], values[order]


class FieldWriter:
    """``fields.xdmf`` with ``fields.h5`` and ``fields.d/``: named functions per output time.

    Fields of degree 2 are interpolated to degree 1 for output; DG0 fields (cells-mode
    sites) are cell data. With ``resume_time`` the series continues: output times after
    it (written after the checkpoint of a killed run) are removed, every earlier one is
    kept. ``compression`` is a gzip level (0 = none) for the per-time files.
    """

    def __init__(
        self,
        path: Path,
        mesh_data,
        functions: list[fem.Function],
        resume_time: float | None = None,
        comm=None,
        compression: int = 0,
    ):
        self.run = Path(path).parent
        self.index_path = Path(path)
        self.mesh_data = mesh_data
        self.functions = functions
        self.resume_time = resume_time
        self.comm = comm if comm is not None else mesh_data.mesh.comm
        self.compression = int(compression)
        self.warning: str | None = None
        self._index: AppendableIndex | None = None
        self.count = 0
        mesh = mesh_data.mesh
        self.layout = MeshLayout(mesh_data)
        output_space = None
        self.output_functions = []
        spaces: dict[int, _Space] = {}
        self._spaces = []
        for function in functions:
            element = function.function_space.element.basix_element
            if element.degree == 1 or (element.degree == 0 and element.discontinuous):
                target = function
            else:
                if output_space is None:
                    output_space = fem.functionspace(mesh, ("Lagrange", 1))
                target = fem.Function(output_space, name=function.name)
            self.output_functions.append(target)
            key = id(target.function_space)
            if key not in spaces:
                spaces[key] = _Space(
                    target.function_space, mesh, self.layout.nodes, self.layout.cells
                )
            self._spaces.append(spaces[key])

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> FieldWriter:
        verdict = None
        if self.comm.rank == 0:
            verdict = self._open()
        self.warning, self.count = self.comm.bcast(verdict, root=0)
        return self

    def write(self, t: float) -> None:
        """Add output time ``t`` (collective; rank 0 writes)."""
        for source, target in zip(self.functions, self.output_functions, strict=True):
            if source is not target:
                target.interpolate(source)
        arrays = [
            space.gather(f) for space, f in zip(self._spaces, self.output_functions, strict=True)
        ]
        if self.comm.rank == 0:
            names = [f.name for f in self.output_functions]
            self._write_time(t, dict(zip(names, arrays, strict=True)))
        self.count += 1

    def __exit__(self, *exc) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def files(self) -> tuple[str, ...]:
        """The names this writer owns in the run directory."""
        return SERIES_FILES

    # -- rank 0 --------------------------------------------------------------------------

    def _open(self) -> tuple[str | None, int]:
        """Start or continue the series (rank 0); the warning and the next output count."""
        warning = None
        kept: list[tuple[float, int]] = []
        if self.resume_time is not None:
            problem = self._mesh_differs()
            if problem is None:
                kept = self._kept_entries(self.resume_time)
            else:
                for name in SERIES_FILES:
                    old = self.run / name
                    if old.exists():
                        os.replace(old, old.with_name(name + ".before-resume"))
                warning = (
                    f"{problem}; the old files are kept as *.before-resume and the field "
                    f"series restarts at t = {self.resume_time:.6g}"
                )
        if not kept and (self.resume_time is None or warning):
            self._write_mesh()
        series = self.run / SERIES_DIR
        series.mkdir(exist_ok=True)
        keep = {f"{index:06d}.h5" for _, index in kept}
        for entry in os.scandir(series):
            if entry.name not in keep:
                os.unlink(entry.path)
        head = self._header() + "".join(self._grid(t, index) for t, index in kept)
        self._index = AppendableIndex(self.index_path, head)
        next_count = kept[-1][1] + 1 if kept else 0
        return warning, next_count

    def _write_time(self, t: float, arrays: dict[str, np.ndarray]) -> None:
        import h5py

        name = f"{self.count:06d}.h5"
        final = self.run / SERIES_DIR / name
        tmp = final.with_name(f".{name}.tmp")
        options = {}
        if self.compression:
            options = {"compression": "gzip", "compression_opts": self.compression, "shuffle": True}
        with h5py.File(tmp, "w") as h5:
            h5.attrs["t"] = t
            for key, values in arrays.items():
                h5.create_dataset(key, data=values, **options)
        os.replace(tmp, final)
        self._index.append(self._grid(t, self.count))

    def _write_mesh(self) -> None:
        import h5py

        path = self.run / MESH_FILE
        tmp = path.with_name(f".{MESH_FILE}.tmp")
        with h5py.File(tmp, "w") as h5:
            for key, values in self.layout.arrays.items():
                h5.create_dataset(key, data=values)
        os.replace(tmp, path)

    def _mesh_differs(self) -> str | None:
        """Why the stored mesh is not this run's mesh (rank 0), or None."""
        import h5py

        path = self.run / MESH_FILE
        if not path.exists() or not (self.run / SERIES_DIR).is_dir():
            return f"{MESH_FILE} or {SERIES_DIR}/ is missing"
        try:
            with h5py.File(path, "r") as h5:
                for key, values in self.layout.arrays.items():
                    if key not in h5 or not np.array_equal(h5[key][...], values):
                        return f"the mesh in {MESH_FILE} is not the mesh of this run"
        except OSError as error:
            return f"{MESH_FILE} could not be read ({error})"
        return None

    def _kept_entries(self, t_last: float) -> list[tuple[float, int]]:
        """Output times up to ``t_last`` whose files are complete, in order (rank 0)."""
        series = self.run / SERIES_DIR
        try:
            text = document(self.index_path.read_text())
            entries = [(float(t), int(i)) for t, i in _ENTRY.findall(text)]
        except (OSError, ValueError, UnicodeDecodeError):
            text, entries = "", []
        if not text:  # an index cut short (not by a kill): ask the files
            entries = _scan(series)
        present = {e.name for e in os.scandir(series)}
        tolerance = 1e-9 * max(1.0, abs(t_last))
        kept = sorted(
            {(t, i) for t, i in entries if t <= t_last + tolerance and f"{i:06d}.h5" in present},
            key=lambda entry: entry[1],
        )
        return kept

    def _header(self) -> str:
        return (
            '<?xml version="1.0"?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n'
            '<Xdmf Version="3.0">\n<Domain>\n'
            '<Grid Name="fields" GridType="Collection" CollectionType="Temporal">\n'
        )

    def _grid(self, t: float, index: int) -> str:
        layout = self.layout
        n, c = layout.n_nodes, layout.n_cells
        lines = [
            f'<Grid Name="mesh" GridType="Uniform"><Time Value="{t!r}"/>',
            f'<Topology TopologyType="{layout.cell_type}" NumberOfElements="{c}" '
            f'NodesPerElement="{layout.nodes_per_cell}">'
            f'<DataItem Dimensions="{c} {layout.nodes_per_cell}" NumberType="Int" '
            f'Precision="8" Format="HDF">{MESH_FILE}:/mesh/topology</DataItem></Topology>',
            f'<Geometry GeometryType="{"XYZ" if layout.gdim == 3 else "XY"}">'
            f'<DataItem Dimensions="{n} {layout.gdim}" NumberType="Float" Precision="8" '
            f'Format="HDF">{MESH_FILE}:/mesh/geometry</DataItem></Geometry>',
        ]
        if layout.has_cell_tags:
            lines.append(
                _attribute("cell_tags", "Cell", c, "Int", 4, f"{MESH_FILE}:/mesh/cell_tags")
            )
        for function, space in zip(self.output_functions, self._spaces, strict=True):
            size = n if space.center == "Node" else c
            ref = f"{SERIES_DIR}/{index:06d}.h5:/{function.name}"
            lines.append(_attribute(function.name, space.center, size, "Float", 8, ref))
        lines.append("</Grid>\n")
        return "\n".join(lines)


def _attribute(name: str, center: str, size: int, number: str, precision: int, ref: str) -> str:
    return (
        f'<Attribute Name="{name}" AttributeType="Scalar" Center="{center}">'
        f'<DataItem Dimensions="{size}" NumberType="{number}" Precision="{precision}" '
        f'Format="HDF">{ref}</DataItem></Attribute>'
    )


def _scan(series: Path) -> list[tuple[float, int]]:
    """(time, index) of every complete per-time file, read from the files themselves."""
    import h5py

    found = []
    for entry in os.scandir(series):
        match = re.fullmatch(r"(\d+)\.h5", entry.name)
        if match:
            try:
                with h5py.File(entry.path, "r") as h5:
                    found.append((float(h5.attrs["t"]), int(match.group(1))))
            except (OSError, KeyError):
                continue
    return found
