"""`tissue`: an epithelium (2D) or organoid (3D) of Voronoi cells, Lloyd-relaxed.

The domain is a disc (radius size/2), an ellipse (semi-axes size/2 and aspect*size/2) or
a spheroid (semi-axes size/2, size/2, aspect*size/2; aspect 1 is a ball), with an
optional central lumen: the same shape scaled by `lumen`, cut out. Seeds placed at
random (seeded) are Lloyd-relaxed so cells have even sizes; the Voronoi cells clipped to
the domain are the regions cell_0.. (cell_0 nearest the centre). Facets: "membrane"
between cells, "outer" on the domain's boundary, "lumen" around the lumen.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gmsh
import numpy as np

from .data import MeshError
from .gmsh_model import Built, GmshSession, add_physical
from .keys import Key, check_cell_estimate, requirement
from .shapes import occ_polygon
from .voronoi import grid_samples, lloyd, polygons_2d, polyhedra_3d, spaced_points

SHAPES: dict[int, tuple[str, ...]] = {2: ("disc", "ellipse"), 3: ("spheroid",)}
"""The shapes of each dimension; the first of a dimension is its default."""
DEFAULT_DIM: int | None = 2

KEYS: tuple[Key, ...] = (
    Key(
        "cells",
        "int",
        lambda p: 40 if p["dim"] == 2 else 20,
        "number of biological cells",
        default_doc="40 (2D), 20 (3D)",
        minimum=1,
        maximum=5000,
    ),
    Key(
        "lloyd",
        "int",
        20,
        "Lloyd relaxation steps (0: raw random Voronoi cells)",
        minimum=0,
        maximum=1000,
    ),
    Key(
        "lumen",
        "float",
        0.0,
        "relative size of the central lumen (hole): the domain scaled by this factor; 0: none",
        minimum=0.0,
        maximum=0.9,
    ),
    Key(
        "aspect",
        "float",
        lambda p: 0.6 if p["shape"] == "ellipse" else 1.0,
        "minor/major semi-axis ratio (ellipse: y axis; spheroid: z axis)",
        default_doc="0.6 (ellipse), 1 (spheroid)",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        shapes=("ellipse", "spheroid"),
    ),
)


def check(p: dict[str, Any]) -> None:
    if p["shape"] == "disc":
        p["aspect"] = 1.0
    axes = semi_axes(p)
    measure = np.pi * np.prod(axes) * (4 / 3 if p["dim"] == 3 else 1.0)
    measure *= 1 - p["lumen"] ** p["dim"]
    check_cell_estimate(p, measure, p["dim"])
    per_cell = (measure / p["cells"]) ** (1 / p["dim"])
    requirement(
        p["h"] <= per_cell,
        f"mesh.h = {p['h']:g} is larger than a tissue cell (about {per_cell:.3g} across for "
        f"mesh.cells = {p['cells']}); use h <= {per_cell:.2g} or fewer cells",
    )


def semi_axes(p: dict[str, Any]) -> np.ndarray:
    radius = p["size"] / 2
    if p["dim"] == 2:
        return np.array([radius, p["aspect"] * radius])
    return np.array([radius, radius, p["aspect"] * radius])


def seeds(p: dict[str, Any]) -> np.ndarray:
    """Cell centres: random (seeded), spaced, then Lloyd-relaxed; sorted from the centre."""
    axes = semi_axes(p)
    dim, lumen = p["dim"], p["lumen"]

    def inside(points: np.ndarray) -> np.ndarray:
        level = np.sum((points / axes) ** 2, axis=1)
        return (level < 1.0) & (level > lumen**2)

    rng = np.random.default_rng([p["seed"], 3])
    measure = np.prod(2 * axes) * (np.pi / 4 if dim == 2 else np.pi / 6) * (1 - lumen**dim)
    spacing = 0.5 * (measure / p["cells"]) ** (1 / dim)
    points = spaced_points(rng, p["cells"], -axes, axes, inside, spacing)
    if p["lloyd"] > 0:
        samples = grid_samples(-axes, axes, inside, max(20000, 400 * p["cells"]))
        points = lloyd(points, samples, p["lloyd"])
    radius = np.linalg.norm(points / axes, axis=1)
    angle = np.arctan2(points[:, 1], points[:, 0])
    order = np.lexsort((angle, np.round(radius, 6)))
    return points[order]


def build(session: GmshSession, p: dict[str, Any]) -> Built:
    occ = gmsh.model.occ
    dim = p["dim"]
    axes = semi_axes(p)
    centres = seeds(p)
    if dim == 2:
        spacing = np.sqrt(np.pi * np.prod(axes) / len(centres))
        merge = min(p["h"] / 2, spacing / 4)
        polygons = polygons_2d(
            centres,
            -1.1 * axes,
            1.1 * axes,
            merge_below=merge,
            adjust=partial(_keep_off_boundaries, axes=axes, p=p),
        )
        domain = _ellipse(axes, _seam_angle(polygons, axes))
        tools = [(2, occ_polygon(polygon)) for polygon in polygons]
        lumen_axes = axes * p["lumen"]
        lumen = _ellipse(lumen_axes, _seam_angle(polygons, lumen_axes)) if p["lumen"] else None
    else:
        spacing = (4 / 3 * np.pi * np.prod(axes) / len(centres)) ** (1 / 3)
        merge = min(p["h"] / 2, spacing / 4)
        vertices, faces, cells = polyhedra_3d(
            centres,
            -1.1 * axes,
            1.1 * axes,
            merge_below=merge,
            adjust=partial(_keep_off_boundaries, axes=axes, p=p),
        )
        domain = _ellipsoid(axes, _seam_rotation(vertices, faces, axes))
        tools = _occ_cells_3d(vertices, faces, cells)
        lumen = None
        if p["lumen"] > 0:
            lumen_axes = axes * p["lumen"]
            lumen = _ellipsoid(lumen_axes, _seam_rotation(vertices, faces, lumen_axes))
    if lumen is not None:
        tools.append(lumen)
    _, piece_map = occ.fragment([domain], tools)
    inside = {tag for _, tag in piece_map[0]}
    in_lumen = {tag for _, tag in piece_map[-1]} if lumen is not None else set()
    region: dict[int, int] = {}
    for index in range(len(centres)):
        for _, tag in piece_map[1 + index]:
            if tag in inside and tag not in in_lumen:
                region.setdefault(tag, index)
    remove = [(dim, tag) for _, tag in occ.getEntities(dim) if tag not in region]
    if remove:
        occ.remove(remove, recursive=True)
    occ.synchronize()

    for index in range(len(centres)):
        entities = [tag for tag, owner in region.items() if owner == index]
        if not entities:
            raise MeshError(f"tissue cell {index} vanished; try another mesh.seed")
        add_physical(dim, entities, index + 1, f"cell_{index}")
    facets = _classify_facets(dim, axes, p["lumen"], region)
    value = len(centres)
    for name in ("membrane", "outer", "lumen"):
        if facets.get(name):
            value += 1
            add_physical(dim - 1, facets[name], value, name)

    session.set("Mesh.MeshSizeMax", p["h"])
    session.set("Mesh.MeshSizeMin", 0.0)
    session.set("Mesh.MeshSizeFromPoints", 0)
    session.set("Mesh.MeshSizeFromCurvature", 0)
    session.set("Mesh.Algorithm", 6)
    session.set("Mesh.Algorithm3D", 1)
    gmsh.model.mesh.generate(dim)
    lumen_text = f", lumen {p['lumen']:g}" if p["lumen"] > 0 else ""
    return Built(gdim=dim, details=f"{len(centres)} cells{lumen_text}")


def _keep_off_boundaries(vertices: np.ndarray, axes: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """Move Voronoi vertices lying within h/2 of the outer boundary or the lumen to h/2.

    A junction of membranes right next to a boundary would leave a tiny boundary piece
    and tiny elements; moving it radially, on the side it is on, keeps the tiling.
    """
    level = np.linalg.norm(vertices / axes, axis=1)
    gap = 0.5 * p["h"] / axes.min()
    moved = level.copy()
    for boundary in (1.0, p["lumen"]) if p["lumen"] > 0 else (1.0,):
        close = np.abs(level - boundary) < gap
        moved[close] = boundary + np.where(level[close] >= boundary, gap, -gap)
    safe = level > 0
    vertices = vertices.copy()
    vertices[safe] *= (moved[safe] / level[safe])[:, None]
    return vertices


def _occ_cells_3d(
    vertices: np.ndarray, faces: list[list[int]], cells: list[list[int]]
) -> list[tuple[int, int]]:
    """OCC volumes of polyhedral cells sharing their faces; bent faces become fans."""
    occ = gmsh.model.occ
    scale = float(np.abs(vertices).max())
    points: dict[int, int] = {}
    lines: dict[tuple[int, int], int] = {}
    extra: list[np.ndarray] = []  # fan centres, indexed after the vertices

    def point(i: int) -> int:
        if i not in points:
            xyz = vertices[i] if i < len(vertices) else extra[i - len(vertices)]
            points[i] = occ.addPoint(*xyz)
        return points[i]

    def line(i: int, j: int) -> int:
        key = (min(i, j), max(i, j))
        if key not in lines:
            lines[key] = occ.addLine(point(key[0]), point(key[1]))
        return lines[key]

    def plane(ring: list[int]) -> int:
        loop = [line(ring[k], ring[(k + 1) % len(ring)]) for k in range(len(ring))]
        return occ.addPlaneSurface([occ.addCurveLoop(loop)])

    surfaces = []
    for ring in faces:
        corners = vertices[ring]
        centre = corners.mean(axis=0)
        _, singular, _ = np.linalg.svd(corners - centre)
        if len(ring) == 3 or singular[-1] < 1e-10 * scale:
            surfaces.append([plane(ring)])
        else:
            extra.append(centre)
            hub = len(vertices) + len(extra) - 1
            surfaces.append(
                [plane([hub, ring[k], ring[(k + 1) % len(ring)]]) for k in range(len(ring))]
            )
    volumes = []
    for cell in cells:
        shell = [surface for face in cell for surface in surfaces[face]]
        volumes.append((3, occ.addVolume([occ.addSurfaceLoop(shell, sewing=True)])))
    return volumes


def _seam_angle(polygons: list[np.ndarray], axes: np.ndarray) -> float:
    """Where to start the ellipse curve: mid-way between the membranes crossing it.

    The start point of a closed OCC curve is a vertex of the geometry; a membrane
    crossing next to it would leave a tiny arc and tiny elements.
    """
    angles = []
    for polygon in polygons:
        start = polygon / axes
        points = _unit_sphere_crossings(start, np.roll(polygon, -1, axis=0) / axes - start)
        angles.extend(np.arctan2(points[:, 1], points[:, 0]))
    if not angles:
        return 0.0
    angles = np.sort(np.mod(angles, 2 * np.pi))
    gaps = np.diff(np.append(angles, angles[0] + 2 * np.pi))
    widest = int(np.argmax(gaps))
    return float(angles[widest] + gaps[widest] / 2)


def _ellipse(axes: np.ndarray, seam: float) -> tuple[int, int]:
    occ = gmsh.model.occ
    curve = occ.addEllipse(0.0, 0.0, 0.0, axes[0], axes[1], angle1=seam, angle2=seam + 2 * np.pi)
    return (2, occ.addPlaneSurface([occ.addCurveLoop([curve])]))


def _ellipsoid(axes: np.ndarray, rotation: tuple[np.ndarray, float]) -> tuple[int, int]:
    """An OCC ball or spheroid, turned so its seam and poles avoid the membranes."""
    occ = gmsh.model.occ
    ball = (3, occ.addSphere(0.0, 0.0, 0.0, axes[0]))
    axis, angle = rotation
    if angle != 0.0:
        occ.rotate([ball], 0.0, 0.0, 0.0, *axis, angle)
    if axes[2] != axes[0]:
        occ.dilate([ball], 0.0, 0.0, 0.0, 1.0, 1.0, axes[2] / axes[0])
    return ball


def _seam_rotation(
    vertices: np.ndarray, faces: list[list[int]], axes: np.ndarray
) -> tuple[np.ndarray, float]:
    """A rotation keeping the sphere's seam and poles away from membrane junctions.

    An OCC sphere has a seam (half a great circle through the poles, in the xz-plane at
    x > 0) and two poles; a junction of membranes on the surface right next to them would
    leave tiny faces. Among deterministic candidate rotations (about z only for a
    spheroid, which must keep its axis), take the one whose seam and poles are farthest
    from the points where membrane edges cross the surface.
    """
    crossings = []
    for ring in faces:
        start = vertices[ring] / axes
        crossings.append(_unit_sphere_crossings(start, vertices[np.roll(ring, -1)] / axes - start))
    points = np.vstack(crossings) if crossings else np.empty((0, 3))
    if not len(points):
        return np.array([0.0, 0.0, 1.0]), 0.0  # on the unit sphere from here on
    candidates = [
        (np.array([0.0, 0.0, 1.0]), angle) for angle in np.linspace(0, 2 * np.pi, 73)[:-1]
    ]
    if axes[2] == axes[0]:
        rng = np.random.default_rng(12345)  # fixed: part of the construction
        for _ in range(200):
            axis = rng.normal(size=3)
            candidates.append((axis / np.linalg.norm(axis), float(rng.uniform(0, np.pi))))

    def clearance(axis: np.ndarray, angle: float) -> float:
        # coordinates in the sphere's own frame: rotate the points back
        c, s = np.cos(-angle), np.sin(-angle)
        local = points * c + np.cross(axis, points) * s + np.outer(points @ axis, axis) * (1 - c)
        seam = np.where(local[:, 0] > 0, np.abs(local[:, 1]), np.hypot(local[:, 0], local[:, 1]))
        pole = np.array([0.0, 0.0, 1.0])
        poles = np.minimum(
            np.linalg.norm(local - pole, axis=1), np.linalg.norm(local + pole, axis=1)
        )
        return float(np.min(np.minimum(seam, poles)))

    return max(candidates, key=lambda candidate: clearance(*candidate))


def _classify_facets(
    dim: int, axes: np.ndarray, lumen: float, region: dict[int, int]
) -> dict[str, list[int]]:
    """membrane (between two cells), outer or lumen (one cell: which ellipsoid it is on)."""
    named: dict[str, list[int]] = {}
    for _, tag in gmsh.model.getEntities(dim - 1):
        upward, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        neighbours = [t for t in upward if t in region]
        if len(neighbours) == 2:
            named.setdefault("membrane", []).append(tag)
        elif len(neighbours) == 1:
            low, high = gmsh.model.getParametrizationBounds(dim - 1, tag)
            point = np.array(gmsh.model.getValue(dim - 1, tag, list((np.array(low) + high) / 2)))
            level = float(np.sum((point[:dim] / axes) ** 2))
            on_lumen = lumen > 0 and abs(level - lumen**2) < abs(level - 1.0)
            named.setdefault("lumen" if on_lumen else "outer", []).append(tag)
    return named


def _unit_sphere_crossings(start: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Points where the segments start + t step, 0 <= t <= 1, cross the unit sphere."""
    a = np.sum(step**2, axis=1)
    b = 2 * np.sum(start * step, axis=1)
    c = np.sum(start**2, axis=1) - 1
    disc = b**2 - 4 * a * c
    points = []
    for sign in (-1.0, 1.0):
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (-b + sign * np.sqrt(disc)) / (2 * a)
        hit = (disc >= 0) & (t >= 0) & (t <= 1)
        points.append(start[hit] + t[hit, None] * step[hit])
    return np.vstack(points)
