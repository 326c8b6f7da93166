"""Convex pieces: polygons and polyhedra as vertex arrays, their half-spaces, and OCC solids.

Crystals and Voronoi cells are unions of convex pieces. Keeping them as plain vertex
arrays lets us test points (inside? how far from the boundary?) with numpy, and turn
them into OpenCASCADE entities only once, in `occ_polygon` and `occ_polyhedron`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import gmsh
import numpy as np
from scipy.spatial import ConvexHull


@dataclass
class ConvexPiece:
    """A convex polygon (2D) or polyhedron (3D) given by its vertices."""

    vertices: np.ndarray  # (n, dim)

    @property
    def dim(self) -> int:
        return self.vertices.shape[1]

    @cached_property
    def _halfspaces(self) -> tuple[np.ndarray, np.ndarray]:
        hull = ConvexHull(self.vertices)
        normals = hull.equations[:, :-1]
        offsets = -hull.equations[:, -1]
        return normals, offsets

    def halfspaces(self) -> tuple[np.ndarray, np.ndarray]:
        """Outward unit normals n_i and offsets d_i with the piece = {x : n_i . x <= d_i}."""
        return self._halfspaces

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Distance from each point to the boundary, positive inside, negative outside.

        Outside it is a lower bound of the true distance (max over the faces' planes).
        """
        normals, offsets = self.halfspaces()
        return np.min(offsets[None, :] - np.atleast_2d(points) @ normals.T, axis=1)

    def measure(self) -> float:
        return float(ConvexHull(self.vertices).volume)


def regular_polygon(
    circumradius: float, sides: int, angle: float = 0.0, centre: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """Vertices of a regular polygon, the first at `angle` (radians), counterclockwise."""
    theta = angle + 2 * np.pi * np.arange(sides) / sides
    return np.column_stack(
        [centre[0] + circumradius * np.cos(theta), centre[1] + circumradius * np.sin(theta)]
    )


def union_depth(pieces: list[ConvexPiece], points: np.ndarray) -> np.ndarray:
    """How deep each point lies in the union of pieces (the best single piece)."""
    return np.max([piece.depth(points) for piece in pieces], axis=0)


def convex_faces(
    vertices: np.ndarray, decimals: int = 9
) -> list[tuple[np.ndarray, float, list[int]]]:
    """The faces of a convex polyhedron: (outward normal, offset, vertex indices in order).

    Qhull splits faces into triangles; coplanar triangles are merged here and the face's
    vertices ordered counterclockwise seen from outside.
    """
    hull = ConvexHull(vertices)
    scale = float(np.max(np.abs(vertices))) or 1.0
    faces: dict[tuple, set[int]] = {}
    planes: dict[tuple, tuple[np.ndarray, float]] = {}
    for simplex, equation in zip(hull.simplices, hull.equations, strict=True):
        key = tuple(np.round(np.append(equation[:3], equation[3] / scale), 6))
        faces.setdefault(key, set()).update(int(v) for v in simplex)
        planes.setdefault(key, (equation[:3], -equation[3]))
    result = []
    for key in sorted(faces):
        normal, offset = planes[key]
        indices = sorted(faces[key])
        points = vertices[indices]
        centre = points.mean(axis=0)
        u = points[0] - centre
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        angles = np.arctan2((points - centre) @ v, (points - centre) @ u)
        ordered = [indices[i] for i in np.argsort(angles)]
        result.append((normal, float(offset), ordered))
    return result


def occ_polygon(vertices: np.ndarray) -> int:
    """An OCC plane surface bounded by the polygon `vertices` (z = 0)."""
    occ = gmsh.model.occ
    points = [occ.addPoint(x, y, 0.0) for x, y in vertices]
    lines = [occ.addLine(points[i], points[(i + 1) % len(points)]) for i in range(len(points))]
    return occ.addPlaneSurface([occ.addCurveLoop(lines)])


def occ_polyhedron(vertices: np.ndarray) -> int:
    """An OCC volume: the convex hull of `vertices`, with shared edges between faces."""
    occ = gmsh.model.occ
    faces = convex_faces(vertices)
    used = sorted({i for _, _, ordered in faces for i in ordered})
    points = {i: occ.addPoint(*vertices[i]) for i in used}
    lines: dict[tuple[int, int], int] = {}

    def line(a: int, b: int) -> int:
        key = (min(a, b), max(a, b))
        if key not in lines:
            lines[key] = occ.addLine(points[key[0]], points[key[1]])
        return lines[key]

    surfaces = []
    for _, _, ordered in faces:
        loop = [line(ordered[i], ordered[(i + 1) % len(ordered)]) for i in range(len(ordered))]
        surfaces.append(occ.addPlaneSurface([occ.addCurveLoop(loop)]))
    return occ.addVolume([occ.addSurfaceLoop(surfaces)])


def occ_piece(piece: ConvexPiece) -> tuple[int, int]:
    """(dim, tag) of the OCC entity of a convex piece."""
    if piece.dim == 2:
        return (2, occ_polygon(_counterclockwise(piece.vertices)))
    return (3, occ_polyhedron(piece.vertices))


def _counterclockwise(vertices: np.ndarray) -> np.ndarray:
    hull = ConvexHull(vertices)
    return vertices[hull.vertices]  # Qhull gives 2D hull vertices counterclockwise
