"""`box`: an interval, rectangle or box for verification and benchmarks.

The box spans [0, Lx] x [0, Ly] x [0, Lz] with L = size on each axis unless `lengths`
is given. By default the mesh is structured (transfinite): each side of length L is cut
into round(L/h) equal pieces, so halving h halves every edge exactly, which is what a
convergence study needs. Cells form the region "domain"; facets are tagged left/right
(x = 0 / x = Lx), bottom/top (y in 2D, z in 3D) and front/back (y in 3D).
"""

from __future__ import annotations

import itertools
from typing import Any

import gmsh
import numpy as np

from .gmsh_model import Built, GmshSession, add_physical, model_from_arrays
from .keys import Key, check_cell_estimate, requirement

SHAPES: dict[int, tuple[str, ...]] = {1: ("interval",), 2: ("rectangle",), 3: ("box",)}
"""The shapes of each dimension; the first of a dimension is its default."""
DEFAULT_DIM: int | None = 2

KEYS: tuple[Key, ...] = (
    Key(
        "lengths",
        "floats",
        None,
        "side lengths [Lx, Ly, Lz] (as many as dim)",
        default_doc="size on every axis",
    ),
    Key(
        "structured",
        "bool",
        True,
        "structured mesh (each side cut into round(L/h) equal pieces) or unstructured",
    ),
)

# Facet names by axis: (low side, high side).
FACET_NAMES = {
    1: (("left", "right"),),
    2: (("left", "right"), ("bottom", "top")),
    3: (("left", "right"), ("front", "back"), ("bottom", "top")),
}


def check(p: dict[str, Any]) -> None:
    dim = p["dim"]
    lengths = p["lengths"]
    if lengths is None:
        p["lengths"] = [p["size"]] * dim
    else:
        requirement(
            len(lengths) == dim and all(length > 0 for length in lengths),
            f"mesh.lengths = {lengths} is not valid: give {dim} positive lengths for dim = {dim}",
        )
    for length in p["lengths"]:
        requirement(
            p["h"] <= length,
            f"mesh.h = {p['h']:g} is larger than the box side {length:g}; use h <= {length:g}",
        )
    measure = 1.0
    for length in p["lengths"]:
        measure *= length
    check_cell_estimate(p, measure, dim)


def divisions(p: dict[str, Any]) -> list[int]:
    """Number of cells along each axis of a structured box."""
    return [max(1, round(length / p["h"])) for length in p["lengths"]]


def build(session: GmshSession, p: dict[str, Any]) -> Built:
    dim, lengths, h = p["dim"], p["lengths"], p["h"]
    if dim == 3 and p["structured"]:
        _structured_box(divisions(p), lengths)
        return Built(gdim=3, details=_details(p))
    geo = gmsh.model.geo
    session.set("Mesh.MeshSizeMax", h)
    session.set("Mesh.MeshSizeMin", 0.0)
    if dim == 1:
        entities = _interval(geo, lengths[0], h)
    elif dim == 2:
        entities = _rectangle(geo, *lengths, h)
    else:
        entities = _box(geo, *lengths, h)
    geo.synchronize()
    if p["structured"]:
        counts = divisions(p)
        for curve, axis in entities["curves"]:
            gmsh.model.mesh.setTransfiniteCurve(curve, counts[axis] + 1)
        if dim == 2:
            for surface in entities["surfaces"]:
                gmsh.model.mesh.setTransfiniteSurface(surface, "Right")
    else:
        session.set("Mesh.Algorithm", 6)
    add_physical(dim, [entities["cell"]], 1, "domain")
    tag = 1
    for axis, names in enumerate(FACET_NAMES[dim]):
        for side, name in enumerate(names):
            tag += 1
            add_physical(dim - 1, [entities["facets"][axis][side]], tag, name)
    gmsh.model.mesh.generate(dim)
    return Built(gdim=dim, details=_details(p))


def _details(p: dict[str, Any]) -> str:
    cells = "x".join(str(n) for n in divisions(p)) if p["structured"] else "unstructured"
    if "lengths" in p["_given"]:
        return f"{cells}, lengths {'x'.join(f'{length:g}' for length in p['lengths'])}"
    return cells


def _interval(geo: Any, length: float, h: float) -> dict[str, Any]:
    start, end = geo.addPoint(0, 0, 0, h), geo.addPoint(length, 0, 0, h)
    line = geo.addLine(start, end)
    return {"cell": line, "facets": [(start, end)], "curves": [(line, 0)], "surfaces": []}


def _rectangle(geo: Any, lx: float, ly: float, h: float) -> dict[str, Any]:
    corners = [geo.addPoint(x, y, 0, h) for x, y in ((0, 0), (lx, 0), (lx, ly), (0, ly))]
    bottom = geo.addLine(corners[0], corners[1])
    right = geo.addLine(corners[1], corners[2])
    top = geo.addLine(corners[2], corners[3])
    left = geo.addLine(corners[3], corners[0])
    surface = geo.addPlaneSurface([geo.addCurveLoop([bottom, right, top, left])])
    return {
        "cell": surface,
        "facets": [(left, right), (bottom, top)],
        "curves": [(bottom, 0), (top, 0), (left, 1), (right, 1)],
        "surfaces": [surface],
    }


def _box(geo: Any, lx: float, ly: float, lz: float, h: float) -> dict[str, Any]:
    point = {}
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                point[i, j, k] = geo.addPoint(i * lx, j * ly, k * lz, h)
    lines: dict[tuple, int] = {}
    curves = []

    def line(a: tuple, b: tuple) -> int:
        if (a, b) in lines:
            return lines[a, b]
        if (b, a) in lines:
            return -lines[b, a]
        lines[a, b] = geo.addLine(point[a], point[b])
        axis = next(n for n in range(3) if a[n] != b[n])
        curves.append((lines[a, b], axis))
        return lines[a, b]

    def face(corners: list[tuple]) -> int:
        loop = [line(corners[n], corners[(n + 1) % 4]) for n in range(4)]
        return geo.addPlaneSurface([geo.addCurveLoop(loop)])

    faces = []
    for axis in range(3):
        pair = []
        for side in (0, 1):
            others = [n for n in range(3) if n != axis]
            corners = []
            for u, v in ((0, 0), (1, 0), (1, 1), (0, 1)):
                index = [0, 0, 0]
                index[axis], index[others[0]], index[others[1]] = side, u, v
                corners.append(tuple(index))
            pair.append(face(corners))
        faces.append(tuple(pair))
    surfaces = [f for pair in faces for f in pair]
    volume = geo.addVolume([geo.addSurfaceLoop(surfaces)])
    return {
        "cell": volume,
        "facets": faces,
        "curves": curves,
        "surfaces": surfaces,
        "volume": volume,
    }


def _structured_box(counts: list[int], lengths: list[float]) -> None:
    """A structured tetrahedral box (each hexahedron cut into the 6 Kuhn tetrahedra).

    gmsh's transfinite volumes split hexahedra in ways that do not match the boundary
    triangles, so the box is put together here and handed to gmsh as discrete entities;
    every tetrahedron has the cube diagonal from its low to its high corner, which makes
    neighbours conform and the boundary triangles faces of the tetrahedra.
    """
    nx, ny, nz = counts
    axes = [np.linspace(0.0, length, n + 1) for length, n in zip(lengths, counts, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)

    def node(i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
        return (i * (ny + 1) + j) * (nz + 1) + k

    i, j, k = (
        a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    )
    tets = []
    for order in itertools.permutations(range(3)):
        corner = np.zeros((3, len(i)), dtype=np.int64)
        path = [node(i, j, k)]
        for axis in order:
            corner[axis] += 1
            path.append(node(i + corner[0], j + corner[1], k + corner[2]))
        tets.append(np.stack(path, axis=1))
    tets = np.concatenate(tets)
    edges = grid[tets[:, 1:]] - grid[tets[:, :1]]
    negative = np.linalg.det(edges) < 0
    tets[negative] = tets[negative][:, [0, 2, 1, 3]]  # positive orientation throughout

    triangles, values = [], []
    tag = 1
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        u, v = np.meshgrid(
            np.arange(counts[others[0]]), np.arange(counts[others[1]]), indexing="ij"
        )
        u, v = u.ravel(), v.ravel()
        for side in (0, counts[axis]):
            tag += 1
            corner = {}
            for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):
                index = [np.full_like(u, side)] * 3
                index[others[0]], index[others[1]] = u + du, v + dv
                corner[du, dv] = node(*index)
            low, high = corner[0, 0], corner[1, 1]
            for middle in (corner[1, 0], corner[0, 1]):
                triangles.append(np.stack([low, middle, high], axis=1))
                values.append(np.full(len(u), tag))
    names = {(3, 1): "domain"}
    tag = 1
    for axis_names in FACET_NAMES[3]:
        for name in axis_names:
            tag += 1
            names[2, tag] = name
    model_from_arrays(
        grid,
        [
            (4, tets, np.ones(len(tets), dtype=np.int64)),
            (2, np.concatenate(triangles), np.concatenate(values)),
        ],
        names,
    )
