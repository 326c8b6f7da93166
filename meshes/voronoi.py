"""Voronoi partitions for grains and tissue cells: bounded cells and Lloyd relaxation.

`bounded_cells` mirrors the seeds across the faces of a box, so that the Voronoi cells of
the original seeds are exactly the Voronoi cells clipped to the box (all finite and
convex). `lloyd` moves each seed to the centroid of its cell within the domain, estimated
from a fixed grid of sample points (discrete Lloyd): deterministic and indifferent to the
domain's shape (discs, ellipses, holes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import Voronoi, cKDTree

from .shapes import ConvexPiece


def bounded_cells(seeds: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> list[ConvexPiece]:
    """The Voronoi cells of `seeds` clipped to the box [lower, upper], one per seed."""
    seeds = np.asarray(seeds, dtype=float)
    dim = seeds.shape[1]
    mirrored = [seeds]
    generators = np.vstack(mirrored)
    for axis in range(dim):
        for bound in (lower[axis], upper[axis]):
            image = generators.copy()
            image[:, axis] = 2 * bound - image[:, axis]
            mirrored.append(image)
    diagram = Voronoi(np.vstack(mirrored))
    cells = []
    for index in range(len(seeds)):
        region = diagram.regions[diagram.point_region[index]]
        if -1 in region or not region:  # cannot happen with mirrored seeds
            raise RuntimeError("unbounded Voronoi cell")
        vertices = np.clip(diagram.vertices[region], lower, upper)
        cells.append(ConvexPiece(vertices))
    return cells


def grid_samples(
    lower: np.ndarray, upper: np.ndarray, inside: Callable[[np.ndarray], np.ndarray], count: int
) -> np.ndarray:
    """About `count` points of a regular grid over the box that lie inside the domain."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    dim = len(lower)
    spacing = (np.prod(upper - lower) / count) ** (1 / dim)
    axes = [np.arange(lo + spacing / 2, hi, spacing) for lo, hi in zip(lower, upper, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    return grid[inside(grid)]


def lloyd(seeds: np.ndarray, samples: np.ndarray, iterations: int) -> np.ndarray:
    """Lloyd relaxation of `seeds` over the sampled domain (k-means on the samples)."""
    seeds = np.array(seeds, dtype=float)
    for _ in range(iterations):
        _, owner = cKDTree(seeds).query(samples)
        sums = np.zeros_like(seeds)
        np.add.at(sums, owner, samples)
        counts = np.bincount(owner, minlength=len(seeds))
        filled = counts > 0
        seeds[filled] = sums[filled] / counts[filled, None]
    return seeds


def spaced_points(
    rng: np.random.Generator,
    count: int,
    lower: np.ndarray,
    upper: np.ndarray,
    inside: Callable[[np.ndarray], np.ndarray],
    spacing: float,
    attempts: int = 200,
) -> np.ndarray:
    """`count` random points in the domain, no two closer than `spacing` when possible.

    The spacing is halved whenever `attempts` candidates per point fail, so the call
    always ends; the candidates come from `rng` in a fixed order (deterministic).
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    points: list[np.ndarray] = []
    failures = 0
    while len(points) < count:
        candidate = lower + (upper - lower) * rng.random(len(lower))
        ok = bool(inside(candidate[None, :])[0])
        if ok and points:
            ok = float(np.min(np.linalg.norm(np.array(points) - candidate, axis=1))) >= spacing
        if ok:
            points.append(candidate)
            failures = 0
        else:
            failures += 1
            if failures >= attempts:
                spacing /= 2
                failures = 0
    return np.array(points).reshape(-1, len(lower))


def polygons_2d(
    seeds: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    merge_below: float = 0.0,
    adjust: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Voronoi polygons of 2D seeds clipped to a box, with short edges collapsed.

    Edges shorter than `merge_below` are collapsed to their midpoint everywhere at once
    (a vertex shared by three cells moves for all three), so the polygons still tile the
    box; such tiny edges would otherwise force tiny, badly shaped elements. Each polygon
    is ordered counterclockwise around its seed. `adjust` may move the (shared) vertices
    once more, e.g. off a curved boundary.
    """
    seeds = np.asarray(seeds, dtype=float)
    mirrored = [seeds]
    generators = np.vstack(mirrored)
    for axis in range(2):
        for bound in (lower[axis], upper[axis]):
            image = generators.copy()
            image[:, axis] = 2 * bound - image[:, axis]
            mirrored.append(image)
    diagram = Voronoi(np.vstack(mirrored))
    vertices = diagram.vertices.copy()
    parent = np.arange(len(vertices))

    def root(i: int) -> int:
        return _root(parent, i)

    if merge_below > 0:
        for a, b in diagram.ridge_vertices:
            if a >= 0 and b >= 0 and np.linalg.norm(vertices[a] - vertices[b]) < merge_below:
                parent[root(a)] = root(b)
        roots = np.array([root(i) for i in range(len(vertices))])
        for group in np.unique(roots):
            members = roots == group
            vertices[members] = vertices[members].mean(axis=0)
    else:
        roots = np.arange(len(vertices))
    if adjust is not None:
        vertices = adjust(vertices)
    polygons = []
    for index, seed in enumerate(seeds):
        region = diagram.regions[diagram.point_region[index]]
        angles = np.arctan2(*(vertices[region] - seed).T[::-1])
        ordered = [roots[region[i]] for i in np.argsort(angles)]
        unique = [v for i, v in enumerate(ordered) if v != ordered[i - 1]] or ordered[:1]
        polygons.append(np.clip(vertices[unique], lower, upper))
    return polygons


def polyhedra_3d(
    seeds: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    merge_below: float = 0.0,
    adjust: Callable[[np.ndarray], np.ndarray] | None = None,
):
    """Voronoi cells of 3D seeds in a box as shared faces, with short edges collapsed.

    Returns (vertices, faces, cells): `faces` are polygons (ordered vertex indices), each
    listed once even when two cells share it; `cells[i]` holds the indices of the faces
    of seed i. Edges shorter than `merge_below` collapse as in `polygons_2d`, after which
    a face may no longer be flat (the caller triangulates it).
    """
    seeds = np.asarray(seeds, dtype=float)
    count = len(seeds)
    generators = [seeds]
    for axis in range(3):
        for bound in (lower[axis], upper[axis]):
            image = seeds.copy()
            image[:, axis] = 2 * bound - image[:, axis]
            generators.append(image)
    diagram = Voronoi(np.vstack(generators))
    vertices = diagram.vertices.copy()
    ridges = []
    for (a, b), ridge in zip(diagram.ridge_points, diagram.ridge_vertices, strict=True):
        if a >= count and b >= count:
            continue
        if -1 in ridge:
            raise RuntimeError("unbounded Voronoi ridge")
        points = vertices[ridge]
        centre = points.mean(axis=0)
        normal = diagram.points[a] - diagram.points[b]
        normal /= np.linalg.norm(normal)
        u = points[0] - centre
        u /= np.linalg.norm(u)
        v = np.cross(normal, u)
        order = np.argsort(np.arctan2((points - centre) @ v, (points - centre) @ u))
        ridges.append((int(a), int(b), [ridge[i] for i in order]))

    parent = np.arange(len(vertices))

    def root(i: int) -> int:
        return _root(parent, i)

    if merge_below > 0:
        for _, _, ring in ridges:
            for i, j in zip(ring, ring[1:] + ring[:1], strict=True):
                if np.linalg.norm(vertices[i] - vertices[j]) < merge_below:
                    parent[root(i)] = root(j)
    roots = np.array([root(i) for i in range(len(vertices))])
    for group in np.unique(roots):
        members = roots == group
        vertices[members] = vertices[members].mean(axis=0)
    if adjust is not None:
        vertices = adjust(vertices)
    vertices = np.clip(vertices, lower, upper)
    faces: list[list[int]] = []
    cells: list[list[int]] = [[] for _ in range(count)]
    for a, b, ring in ridges:
        merged = [int(roots[i]) for i in ring]
        unique = [v for k, v in enumerate(merged) if v != merged[k - 1]]
        if len(set(unique)) < 3:
            continue  # the face collapsed
        faces.append(unique)
        for owner in (a, b):
            if owner < count:
                cells[owner].append(len(faces) - 1)
    return vertices, faces, cells


def _root(parent: np.ndarray, i: int) -> int:
    """Union-find representative of i (with path halving), for merging close vertices."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i
