"""Element quality and region measures of a distributed mesh, and the text report.

Computed with numpy from the geometry of the cells each rank owns and summed with
MPI reductions, so no form is compiled. Angles: interior angles of triangles, dihedral
angles of tetrahedra, corner angles of quadrilaterals. The radius ratio is normalised to
1 for the regular simplex (2 r/R for triangles, 3 r/R for tetrahedra).
"""

from __future__ import annotations

import numpy as np

from .data import MeshData, MeshQuality

# A cell whose normalised radius ratio is below this is degenerate (flat to round-off).
DEGENERATE_RATIO = 1e-6


def vertex_coordinates(mesh, dim: int, entities: np.ndarray) -> np.ndarray:
    """(n, vertices, gdim) coordinates of the vertices of `entities` of dimension `dim`."""
    import dolfinx.mesh

    gdim = mesh.geometry.dim
    if len(entities) == 0:
        num_vertices = dolfinx.cpp.mesh.cell_num_entities(
            dolfinx.cpp.mesh.cell_entity_type(mesh.topology.cell_type, dim, 0), 0
        )
        return np.empty((0, num_vertices, gdim))
    nodes = dolfinx.mesh.entities_to_geometry(mesh, dim, entities.astype(np.int32))
    entity_type = dolfinx.cpp.mesh.cell_entity_type(mesh.topology.cell_type, dim, 0)
    num_vertices = dolfinx.cpp.mesh.cell_num_entities(entity_type, 0)
    return mesh.geometry.x[nodes[:, :num_vertices], :gdim]


def entity_measures(points: np.ndarray, dim: int, cell_type: str = "") -> np.ndarray:
    """Length/area/volume of straight simplices or bilinear quads given their vertices."""
    if dim == 0:
        return np.ones(len(points))
    if dim == 1:
        return np.linalg.norm(points[:, 1] - points[:, 0], axis=1)
    if dim == 2:
        if points.shape[1] == 3:
            return _area(points[:, 1] - points[:, 0], points[:, 2] - points[:, 0])
        # quadrilateral in dolfinx order 0-1-3-2: two triangles
        first = _area(points[:, 1] - points[:, 0], points[:, 3] - points[:, 0])
        second = _area(points[:, 3] - points[:, 0], points[:, 2] - points[:, 0])
        return first + second
    if points.shape[1] == 4:
        return (
            np.abs(
                _det3(
                    points[:, 1] - points[:, 0],
                    points[:, 2] - points[:, 0],
                    points[:, 3] - points[:, 0],
                )
            )
            / 6
        )
    # hexahedron in dolfinx order: six tetrahedra around the diagonal 0-7
    tets = ((0, 1, 3, 7), (0, 3, 2, 7), (0, 2, 6, 7), (0, 6, 4, 7), (0, 4, 5, 7), (0, 5, 1, 7))
    return sum(
        np.abs(
            _det3(
                points[:, b] - points[:, a],
                points[:, c] - points[:, a],
                points[:, d] - points[:, a],
            )
        )
        / 6
        for a, b, c, d in tets
    )


def _area(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if u.shape[1] == 2:
        return 0.5 * np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    return 0.5 * np.linalg.norm(np.cross(u, v), axis=1)


def _det3(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, np.cross(v, w))


def _angles_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    nu = np.linalg.norm(u, axis=1)
    nv = np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.einsum("ij,ij->i", u, v) / (nu * nv)
    return np.degrees(np.arccos(np.clip(np.nan_to_num(cosine, nan=1.0), -1.0, 1.0)))


def _cell_shape_numbers(points: np.ndarray, tdim: int, cell_type: str):
    """Per cell: (min angle in degrees, normalised radius ratio, all edge lengths)."""
    n = len(points)
    if tdim == 1:
        lengths = np.linalg.norm(points[:, 1] - points[:, 0], axis=1)
        return np.full(n, np.nan), np.ones(n), lengths[:, None]
    if cell_type == "triangle":
        a = np.linalg.norm(points[:, 1] - points[:, 2], axis=1)
        b = np.linalg.norm(points[:, 2] - points[:, 0], axis=1)
        c = np.linalg.norm(points[:, 0] - points[:, 1], axis=1)
        area = entity_measures(points, 2)
        angles = np.stack(
            [
                _angles_between(points[:, 1] - points[:, 0], points[:, 2] - points[:, 0]),
                _angles_between(points[:, 0] - points[:, 1], points[:, 2] - points[:, 1]),
                _angles_between(points[:, 0] - points[:, 2], points[:, 1] - points[:, 2]),
            ]
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            inradius = 2 * area / (a + b + c)
            circumradius = a * b * c / (4 * area)
            ratio = np.nan_to_num(2 * inradius / circumradius, nan=0.0, posinf=0.0)
        return angles.min(axis=0), ratio, np.stack([a, b, c], axis=1)
    if cell_type == "tetrahedron":
        edges = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
        lengths = np.stack(
            [np.linalg.norm(points[:, i] - points[:, j], axis=1) for i, j in edges], axis=1
        )
        volume = entity_measures(points, 3)
        faces = ((1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2))
        normals, face_areas = [], []
        for opposite, (i, j, k) in enumerate(faces):
            normal = np.cross(points[:, j] - points[:, i], points[:, k] - points[:, i])
            inward = np.einsum("ij,ij->i", normal, points[:, opposite] - points[:, i])
            normal = -normal * np.sign(inward)[:, None]  # outward
            normals.append(normal)
            face_areas.append(0.5 * np.linalg.norm(normal, axis=1))
        dihedral = [180.0 - _angles_between(normals[p], normals[q]) for p, q in _pairs(4)]
        surface = sum(face_areas)
        # opposite edge pairs: (01,23), (02,13), (03,12)
        products = [
            lengths[:, 0] * lengths[:, 5],
            lengths[:, 1] * lengths[:, 4],
            lengths[:, 2] * lengths[:, 3],
        ]
        p, q, r = products
        with np.errstate(invalid="ignore", divide="ignore"):
            circumradius = np.sqrt(np.abs((p + q + r) * (p + q - r) * (p - q + r) * (-p + q + r)))
            circumradius /= 24 * volume
            inradius = 3 * volume / surface
            ratio = np.nan_to_num(3 * inradius / circumradius, nan=0.0, posinf=0.0)
        return np.min(dihedral, axis=0), ratio, lengths
    if cell_type == "quadrilateral":
        order = (0, 1, 3, 2)  # dolfinx vertex order to a cycle
        cycle = points[:, order]
        angles = np.stack(
            [
                _angles_between(
                    cycle[:, (i + 1) % 4] - cycle[:, i], cycle[:, (i - 1) % 4] - cycle[:, i]
                )
                for i in range(4)
            ]
        )
        lengths = np.stack(
            [np.linalg.norm(cycle[:, (i + 1) % 4] - cycle[:, i], axis=1) for i in range(4)], axis=1
        )
        ratio = np.full(n, np.nan)
        return angles.min(axis=0), ratio, lengths
    # hexahedra and anything else: edges only
    lengths = np.linalg.norm(points[:, 1:] - points[:, :1], axis=2)
    return np.full(n, np.nan), np.full(n, np.nan), lengths


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(p, q) for p in range(n) for q in range(p + 1, n)]


def _inverted_tensor_cells(points: np.ndarray, tdim: int, cell_type: str) -> int:
    """Quadrilaterals/hexahedra whose corner Jacobians change sign (twisted or folded)."""
    if cell_type == "quadrilateral" and points.shape[2] == 2:
        cycle = points[:, (0, 1, 3, 2)]
        signs = []
        for i in range(4):
            u = cycle[:, (i + 1) % 4] - cycle[:, i]
            v = cycle[:, (i - 1) % 4] - cycle[:, i]
            signs.append(np.sign(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]))
        signs = np.stack(signs)
        return int(np.count_nonzero(np.any(signs != signs[:1], axis=0)))
    return 0


def compute_quality(data: MeshData, inverted: int = 0) -> MeshQuality:
    """The quality of `data.mesh` and the size of each region. Collective."""
    from mpi4py import MPI

    mesh = data.mesh
    comm = mesh.comm
    topology = mesh.topology
    tdim, gdim = topology.dim, mesh.geometry.dim
    cell_type = topology.cell_type.name
    num_owned = topology.index_map(tdim).size_local
    cells = np.arange(num_owned, dtype=np.int32)
    points = vertex_coordinates(mesh, tdim, cells)
    measures = entity_measures(points, tdim, cell_type)
    min_angle, ratio, lengths = _cell_shape_numbers(points, tdim, cell_type)
    flat = np.nan_to_num(ratio, nan=1.0) < DEGENERATE_RATIO
    if tdim > 0:
        flat |= measures <= 0.0
    degenerate = int(np.count_nonzero(flat))
    inverted_local = _inverted_tensor_cells(points, tdim, cell_type)

    def reduce(value, op):
        return comm.allreduce(value, op=op)

    finite_ratio = ratio[np.isfinite(ratio)]
    finite_angle = min_angle[np.isfinite(min_angle)]
    quality = MeshQuality(
        cell_type=cell_type,
        tdim=tdim,
        gdim=gdim,
        num_cells=topology.index_map(tdim).size_global,
        num_vertices=topology.index_map(0).size_global,
        measure=reduce(float(measures.sum()), MPI.SUM),
        min_angle=reduce(float(finite_angle.min()) if len(finite_angle) else np.inf, MPI.MIN),
        radius_ratio_min=reduce(
            float(finite_ratio.min()) if len(finite_ratio) else np.inf, MPI.MIN
        ),
        radius_ratio_mean=reduce(float(finite_ratio.sum()), MPI.SUM)
        / max(reduce(len(finite_ratio), MPI.SUM), 1),
        edge_min=reduce(float(lengths.min()) if lengths.size else np.inf, MPI.MIN),
        edge_max=reduce(float(lengths.max()) if lengths.size else 0.0, MPI.MAX),
        degenerate=reduce(degenerate, MPI.SUM),
        inverted=reduce(inverted_local, MPI.SUM) + inverted,
    )
    for value_name in ("min_angle", "radius_ratio_min"):
        if not np.isfinite(getattr(quality, value_name)):
            setattr(quality, value_name, float("nan"))
    if not np.isfinite(quality.radius_ratio_mean) or quality.radius_ratio_mean == 0:
        quality.radius_ratio_mean = quality.radius_ratio_min

    if data.cell_tags is not None:
        owned = data.cell_tags.indices < num_owned
        tag_cells, tag_values = data.cell_tags.indices[owned], data.cell_tags.values[owned]
        for name, value in data.cell_regions.items():
            selected = tag_values == value
            quality.cell_counts[name] = reduce(int(np.count_nonzero(selected)), MPI.SUM)
            quality.cell_measures[name] = reduce(
                float(measures[tag_cells[selected]].sum()), MPI.SUM
            )
    if data.facet_tags is not None and tdim > 0:
        topology.create_entities(tdim - 1)
        topology.create_connectivity(tdim - 1, tdim)
        facet_map = topology.index_map(tdim - 1)
        owned = data.facet_tags.indices < facet_map.size_local
        tag_facets, tag_values = data.facet_tags.indices[owned], data.facet_tags.values[owned]
        facet_points = vertex_coordinates(mesh, tdim - 1, tag_facets)
        facet_measures = entity_measures(facet_points, tdim - 1)
        for name, value in data.facet_regions.items():
            selected = tag_values == value
            quality.facet_counts[name] = reduce(int(np.count_nonzero(selected)), MPI.SUM)
            quality.facet_measures[name] = reduce(float(facet_measures[selected].sum()), MPI.SUM)
    return quality


def region_measures(data: MeshData, facets: bool = False) -> dict[str, float]:
    """Length/area/volume of every cell (or facet) region and group. Collective."""
    quality = data.quality if data.quality is not None else compute_quality(data)
    measures = quality.facet_measures if facets else quality.cell_measures
    regions = data.facet_regions if facets else data.cell_regions
    groups = data.facet_groups if facets else data.cell_groups
    result = dict(measures)
    by_value = {value: measures[name] for name, value in regions.items()}
    for name, values in groups.items():
        result[name] = sum(by_value[value] for value in values)
    return result
