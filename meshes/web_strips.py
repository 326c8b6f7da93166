"""Webs with thick threads: each piece of thread a 2D strip, the strips fused and tagged."""

from __future__ import annotations

import math
from typing import Any

import gmsh
import numpy as np

from .data import MeshError
from .gmsh_model import GmshSession, add_physical
from .web_network import Network


def build_strips(session: GmshSession, p: dict[str, Any], net: Network) -> None:
    """Threads of width `thickness`: OCC strips fused into one surface, tagged by piece."""
    occ = gmsh.model.occ
    half = p["thickness"] / 2
    lines = []
    for piece in net.pieces:
        line = net.polyline(piece)
        if piece[2] == "arc":  # centre is the middle point: sample the arc
            start, centre, end = line
            a0 = math.atan2(*(start - centre)[::-1])
            a1 = math.atan2(*(end - centre)[::-1])
            if a1 < a0:
                a1 += 2 * math.pi
            radius = float(np.linalg.norm(start - centre))
            angles = np.linspace(a0, a1, 9)
            line = centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
        lines.append(line)
    cuts, hubs = _joints(lines)
    surfaces = [(2, _strip(line, half, *cut)) for line, cut in zip(lines, cuts, strict=True)]
    for x, y in hubs:
        surfaces.append((2, occ.addDisk(x, y, 0.0, 2 * half, 2 * half)))
    fused, _ = occ.fuse(surfaces[:1], surfaces[1:])
    occ.synchronize()
    size = min(p["h"], p["thickness"])
    session.set("Mesh.MeshSizeMax", size)
    session.set("Mesh.MeshSizeMin", 0.0)
    session.set("Mesh.MeshSizeFromCurvature", 0)
    session.set("Mesh.Algorithm", 6)
    gmsh.model.mesh.generate(2)
    _tag_strips_by_piece(net, lines, [tag for _, tag in fused], p)


Cut = tuple[np.ndarray, np.ndarray] | None  # (direction of the cut, normal of the line)


def _joints(lines: list[np.ndarray]) -> tuple[list[list[Cut]], list[np.ndarray]]:
    """How each strip ends, so that joints leave no slivers.

    Where one thread crosses another (or ends on it), a strip's end is cut along the
    other thread, which puts its corners on that thread's axis, well inside its strip.
    Where many threads meet (hub centre, frame corners) the ends stay square and a disc
    of twice the half-width covers the joint.
    """
    ends: dict[tuple, list[tuple[int, int, np.ndarray]]] = {}
    for index, line in enumerate(lines):
        for side, (point, towards) in enumerate(((line[0], line[1]), (line[-1], line[-2]))):
            direction = towards - point
            key = tuple(np.round(point, 12))
            ends.setdefault(key, []).append((index, side, direction / np.linalg.norm(direction)))
    cuts: list[list[Cut]] = [[None, None] for _ in lines]
    hubs = []
    for key, incident in ends.items():
        if len(incident) < 2:
            continue
        # group the incident pieces into straight-through lines
        groups: list[list[tuple[int, int, np.ndarray]]] = []
        for item in incident:
            for group in groups:
                if len(group) == 1 and group[0][2] @ item[2] < -0.999:
                    group.append(item)
                    break
            else:
                groups.append([item])
        if len(groups) != 2:
            hubs.append(np.array(key))
            continue
        for this, other in ((groups[0], groups[1]), (groups[1], groups[0])):
            across = other[0][2]
            # the common direction of this line at the point, so both pieces of a
            # straight-through line get the very same corner points
            along = this[0][2] - this[1][2] if len(this) == 2 else this[0][2]
            along /= np.linalg.norm(along)
            for index, side, _ in this:
                cuts[index][side] = (across, np.array([-along[1], along[0]]))
    return cuts, hubs


def _strip(line: np.ndarray, half: float, start_cut: Cut = None, end_cut: Cut = None) -> int:
    """An OCC polygon of half-width `half` around a polyline (mitred joints).

    An end is square unless a cut direction is given: then it runs along that direction.
    """
    from .shapes import occ_polygon

    # No vertex just outside a joint: its offset would land on the other strip's edge.
    keep = np.ones(len(line), dtype=bool)
    for cut, end in ((start_cut, line[0]), (end_cut, line[-1])):
        if cut is not None:
            keep[1:-1] &= np.linalg.norm(line[1:-1] - end, axis=1) > 2 * half
    line = line[keep]
    tangents = np.diff(line, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1)[:, None]
    normals = np.column_stack([-tangents[:, 1], tangents[:, 0]])
    vertex_normals = np.vstack([normals[:1], normals[:-1] + normals[1:], normals[-1:]])
    vertex_normals /= np.linalg.norm(vertex_normals, axis=1)[:, None]
    scale = np.full(len(line), half)
    scale[1:-1] = half / np.clip(np.einsum("ij,ij->i", vertex_normals[1:-1], normals[1:]), 0.5, 1.0)
    offsets = vertex_normals * scale[:, None]
    for position, cut, normal in ((0, start_cut, normals[0]), (-1, end_cut, normals[-1])):
        if cut is None:
            continue
        direction, line_normal = cut
        line_normal = line_normal if line_normal @ normal > 0 else -line_normal
        if abs(direction @ line_normal) > 0.2:
            offsets[position] = half * direction / (direction @ line_normal)
    return occ_polygon(np.vstack([line + offsets, (line - offsets)[::-1]]))


def _tag_strips_by_piece(
    net: Network, lines: list[np.ndarray], surfaces: list[int], p: dict[str, Any]
) -> None:
    """Move each triangle into a discrete surface of the thread piece nearest to it."""
    nodes = []
    for surface in surfaces:
        _, _, node_tags = gmsh.model.mesh.getElements(2, surface)
        nodes.append(node_tags[0].reshape(-1, 3))
    nodes = np.concatenate(nodes)
    coordinates = _node_coordinates()
    centroids = coordinates[nodes].mean(axis=1)[:, :2]
    owner = _nearest_piece(centroids, lines)
    for surface in surfaces:
        gmsh.model.mesh.removeElements(2, surface)
    for value, (name, _, _) in enumerate(net.pieces, start=1):
        selected = nodes[owner == value - 1]
        if not len(selected):
            raise MeshError(f"web piece {name} got no elements; use a smaller mesh.h")
        entity = gmsh.model.addDiscreteEntity(2)
        gmsh.model.mesh.addElementsByType(entity, 2, [], selected.ravel())
        add_physical(2, [entity], value, name)
    # boundary: the strip edges; attachment: the boundary near anchor ends
    boundary = [
        tag for _, tag in gmsh.model.getBoundary([(2, s) for s in surfaces], oriented=False)
    ]
    attach_points = np.array([net.points[i] for i in net.attachments])
    near, far = [], []
    for curve in boundary:
        centre = np.array(gmsh.model.occ.getCenterOfMass(1, curve))[:2]
        distance = np.min(np.linalg.norm(attach_points - centre, axis=1))
        (near if distance <= p["thickness"] else far).append(curve)
    value = len(net.pieces)
    for name, curves in (("attachment", near), ("edge", far)):
        if curves:
            value += 1
            add_physical(1, curves, value, name)


def _node_coordinates() -> np.ndarray:
    tags, coords, _ = gmsh.model.mesh.getNodes()
    coordinates = np.zeros((int(tags.max()) + 1, 3))
    coordinates[tags.astype(np.int64)] = coords.reshape(-1, 3)
    return coordinates


def _nearest_piece(points: np.ndarray, lines: list[np.ndarray]) -> np.ndarray:
    """Index of the polyline nearest to each point."""
    starts = np.vstack([line[:-1] for line in lines])
    ends = np.vstack([line[1:] for line in lines])
    owner_of_segment = np.concatenate([np.full(len(line) - 1, i) for i, line in enumerate(lines)])
    best = np.full(len(points), np.inf)
    owner = np.zeros(len(points), dtype=np.int64)
    for chunk in range(0, len(starts), 256):
        a, b = starts[chunk : chunk + 256], ends[chunk : chunk + 256]
        d = b - a
        along = np.einsum("pk,sk->ps", points, d) - np.einsum("sk,sk->s", a, d)[None, :]
        t = np.clip(along / np.maximum(np.einsum("sk,sk->s", d, d), 1e-300)[None, :], 0, 1)
        closest = a[None, :, :] + t[:, :, None] * d[None, :, :]
        distance = np.linalg.norm(points[:, None, :] - closest, axis=2)
        index = np.argmin(distance, axis=1)
        value = distance[np.arange(len(points)), index]
        better = value < best
        best[better] = value[better]
        owner[better] = owner_of_segment[chunk + index[better]]
    return owner
