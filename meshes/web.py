"""`web`: an orb web as a network of threads (1D intervals in the plane) or thin strips.

Threads, all centred at the origin (spoke 0 along +x):
  hub      the part of every spoke inside the hub ring, and the hub ring (radius
           hub_radius), cut at the spokes
  spoke_i  N radial threads from the hub ring to the frame, i = 0..N-1
  spiral   Archimedean capture spiral r = r0 + (r1 - r0) theta / (2 pi turns),
           theta in [0, 2 pi turns], counterclockwise from spoke 0
  frame    a regular polygon (frame_sides corners, circumradius frame_radius)
  anchor_j radial threads from frame corner j outwards by anchor_length

Every crossing is a shared point by construction (the spiral's crossings with the
spokes are computed exactly), so the network is connected. Each piece of thread between
two junctions is one cell region named "<thread>.<k>" (k counts along the thread); the
thread names (hub, spoke_i, spiral, frame, anchor_j) are groups of those regions.
Vertices: "attachment" (outer ends of the anchors), "junction" (where pieces meet) and
"free_end" (the spiral's last end if it stops between spokes). With thickness > 0 each
thread becomes a strip of that width (2D triangles, tagged by the nearest piece).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import gmsh
import numpy as np

from .data import MeshError
from .gmsh_model import Built, GmshSession, add_physical
from .keys import Key, check_cell_estimate, requirement

SHAPES: dict[int, tuple[str, ...]] = {1: ("orb",), 2: ("orb",)}
"""The shapes of each dimension; the first of a dimension is its default."""
DEFAULT_DIM: int | None = 1

KEYS: tuple[Key, ...] = (
    Key("spokes", "int", 12, "number of radial threads N", minimum=3, maximum=200),
    Key(
        "turns",
        "float",
        6.0,
        "turns of the capture spiral",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=200.0,
    ),
    Key(
        "hub_radius",
        "float",
        lambda p: 0.05 * p["size"],
        "radius of the hub ring",
        default_doc="0.05*size",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key("frame_sides", "int", 5, "corners of the frame polygon", minimum=3, maximum=12),
    Key(
        "frame_radius",
        "float",
        lambda p: 0.4 * p["size"],
        "circumradius of the frame polygon",
        default_doc="0.4*size",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key(
        "anchor_length",
        "float",
        lambda p: p["size"] / 2 - p["frame_radius"],
        "length of the anchor threads (0: none)",
        default_doc="size/2 - frame_radius",
        minimum=0.0,
    ),
    Key(
        "spiral_inner",
        "float",
        lambda p: 2 * p["hub_radius"],
        "radius where the spiral starts (on spoke 0)",
        default_doc="2*hub_radius",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key(
        "spiral_outer",
        "float",
        lambda p: 0.9 * p["frame_radius"] * math.cos(math.pi / p["frame_sides"]),
        "radius where the spiral ends",
        default_doc="0.9 * inradius of the frame",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key(
        "thickness",
        "float",
        lambda p: 0.01 * p["size"] if p["dim"] == 2 else 0.0,
        "thread width; > 0 gives 2D strips (elements no larger than the width)",
        default_doc="0 (dim 1), 0.01*size (dim 2)",
        minimum=0.0,
    ),
    Key(
        "h_min",
        "float",
        lambda p: p["h"] / 2,
        "element size at the hub",
        default_doc="h/2",
        minimum=0.0,
        exclusive_minimum=True,
    ),
)


def check(p: dict[str, Any]) -> None:
    given = p["_given"]
    if p["thickness"] > 0 and "dim" not in given:
        p["dim"] = 2
    requirement(
        not (p["dim"] == 1 and p["thickness"] > 0),
        f"mesh.thickness = {p['thickness']:g} needs mesh.dim = 2 (strips); "
        "use thickness = 0 for a 1D network",
    )
    requirement(
        p["dim"] == 1 or p["thickness"] > 0,
        "mesh.thickness must be > 0 for a web with mesh.dim = 2",
    )
    inradius = p["frame_radius"] * math.cos(math.pi / p["frame_sides"])
    requirement(
        p["hub_radius"] < p["spiral_inner"],
        f"mesh.spiral_inner = {p['spiral_inner']:g} must exceed mesh.hub_radius = "
        f"{p['hub_radius']:g}",
    )
    requirement(
        p["spiral_inner"] < p["spiral_outer"],
        f"mesh.spiral_outer = {p['spiral_outer']:g} must exceed mesh.spiral_inner = "
        f"{p['spiral_inner']:g}",
    )
    requirement(
        p["spiral_outer"] < inradius,
        f"mesh.spiral_outer = {p['spiral_outer']:g} must stay inside the frame "
        f"(inradius {inradius:.4g}); use a smaller value or a larger mesh.frame_radius",
    )
    requirement(
        p["h_min"] <= p["h"], f"mesh.h_min = {p['h_min']:g} is larger than mesh.h = {p['h']:g}"
    )
    if p["thickness"] > 0:
        gap = (p["spiral_outer"] - p["spiral_inner"]) / p["turns"]
        requirement(
            p["thickness"] < 0.5 * gap,
            f"mesh.thickness = {p['thickness']:g} is too wide: spiral turns are "
            f"{gap:.3g} apart; use thickness < {0.5 * gap:.3g}",
        )
        requirement(
            p["thickness"] < 0.5 * p["hub_radius"],
            f"mesh.thickness = {p['thickness']:g} must be below hub_radius/2",
        )
    length = total_length(p)
    if p["thickness"] > 0:
        size = min(p["h"], p["thickness"])
        estimate = {**p, "h": size}
        check_cell_estimate(estimate, length * p["thickness"], 2)
    else:
        check_cell_estimate(p, length, 1)


def spiral_radius(p: dict[str, Any], theta: np.ndarray | float) -> np.ndarray | float:
    r0, r1 = p["spiral_inner"], p["spiral_outer"]
    return r0 + (r1 - r0) * np.asarray(theta) / (2 * math.pi * p["turns"])


def spiral_length(p: dict[str, Any]) -> float:
    """Exact arc length of the Archimedean spiral r = r0 + b theta over its turns."""
    b = (p["spiral_outer"] - p["spiral_inner"]) / (2 * math.pi * p["turns"])

    def primitive(r: float) -> float:  # integral of sqrt(r^2 + b^2) d(theta), r = r0 + b theta
        u = r / b
        return 0.5 * b * (u * math.sqrt(1 + u * u) + math.asinh(u))

    return primitive(p["spiral_outer"]) - primitive(p["spiral_inner"])


def total_length(p: dict[str, Any]) -> float:
    """Exact total length of all threads (hub arcs and the spiral included)."""
    net = make_network(p)
    total = spiral_length(p)
    for name, ids, how in net.pieces:
        line = net.polyline((name, ids, how))
        if how == "arc":
            total += p["hub_radius"] * 2 * math.pi / p["spokes"]
        elif how == "line":
            total += float(np.linalg.norm(line[1] - line[0]))
    return total


# --- the network -----------------------------------------------------------------------


@dataclass
class Network:
    """Points and thread pieces of a web, before gmsh."""

    points: list[np.ndarray] = field(default_factory=list)
    pieces: list[tuple[str, list[int], str]] = field(default_factory=list)  # name, points, how
    attachments: list[int] = field(default_factory=list)
    free_ends: list[int] = field(default_factory=list)
    hub_points: list[int] = field(default_factory=list)

    def add_point(self, xy: np.ndarray) -> int:
        self.points.append(np.asarray(xy, dtype=float))
        return len(self.points) - 1

    def add_piece(self, thread: str, point_ids: list[int], how: str = "line") -> None:
        count = sum(1 for name, _, _ in self.pieces if name.rsplit(".", 1)[0] == thread)
        self.pieces.append((f"{thread}.{count}", point_ids, how))

    def polyline(self, piece: tuple[str, list[int], str]) -> np.ndarray:
        return np.array([self.points[i] for i in piece[1]])


def _direction(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def make_network(p: dict[str, Any]) -> Network:
    n, m = p["spokes"], p["frame_sides"]
    r_hub, r_frame = p["hub_radius"], p["frame_radius"]
    net = Network()
    centre = net.add_point([0.0, 0.0])
    net.hub_points.append(centre)
    spoke_angles = [2 * math.pi * i / n for i in range(n)]
    frame_angles = [2 * math.pi * (j + 0.5) / m for j in range(m)]
    corners = [net.add_point(r_frame * _direction(a)) for a in frame_angles]

    # where each spoke meets the frame: (edge index, parameter along the edge)
    spoke_ends: list[int] = []
    on_edge: dict[int, list[tuple[float, int]]] = {j: [] for j in range(m)}
    for angle in spoke_angles:
        direction = _direction(angle)
        for j in range(m):
            a, b = net.points[corners[j]], net.points[corners[(j + 1) % m]]
            # solve s*direction = a + t (b - a)
            matrix = np.column_stack([direction, a - b])
            if abs(np.linalg.det(matrix)) < 1e-12 * r_frame:
                continue  # the spoke runs parallel to this edge
            s, t = np.linalg.solve(matrix, a)
            if s > 0 and -1e-9 <= t <= 1 + 1e-9:
                break
        if t < 1e-9:
            spoke_ends.append(corners[j])
        elif t > 1 - 1e-9:
            spoke_ends.append(corners[(j + 1) % m])
        else:
            point = net.add_point(s * direction)
            spoke_ends.append(point)
            on_edge[j].append((t, point))

    # spiral crossings: theta = spoke angle + 2 pi k within [0, 2 pi turns]
    theta_end = 2 * math.pi * p["turns"]
    crossings: list[tuple[float, int, int]] = []  # (theta, spoke, point)
    k = 0
    while True:
        added = False
        for i, angle in enumerate(spoke_angles):
            theta = angle + 2 * math.pi * k
            if theta <= theta_end + 1e-12:
                radius = float(spiral_radius(p, theta))
                crossings.append((theta, i, net.add_point(radius * _direction(theta))))
                added = True
        if not added:
            break
        k += 1
    crossings.sort()

    # hub: centre to ring along each spoke, then the ring between spokes
    ring = [net.add_point(r_hub * _direction(a)) for a in spoke_angles]
    net.hub_points.extend(ring)
    for i in range(n):
        net.add_piece("hub", [centre, ring[i]])
    for i in range(n):
        net.add_piece("hub", [ring[i], centre, ring[(i + 1) % n]], how="arc")

    # spokes: ring -> spiral crossings (outwards) -> frame
    for i in range(n):
        along = [point for _, spoke, point in crossings if spoke == i]
        chain = [ring[i], *along, spoke_ends[i]]
        for a, b in itertools.pairwise(chain):
            net.add_piece(f"spoke_{i}", [a, b])

    # spiral: between consecutive crossings, sampled for a spline
    spacing = min(p["h"], p["h_min"]) / 4
    stops = [(theta, point) for theta, _, point in crossings]
    if theta_end - stops[-1][0] > 1e-9:
        end = net.add_point(float(spiral_radius(p, theta_end)) * _direction(theta_end))
        stops.append((theta_end, end))
        net.free_ends.append(end)
    for (theta_a, point_a), (theta_b, point_b) in itertools.pairwise(stops):
        length = float(spiral_radius(p, (theta_a + theta_b) / 2)) * (theta_b - theta_a)
        count = max(8, math.ceil(length / spacing))
        inner = [
            net.add_point(float(spiral_radius(p, t)) * _direction(t))
            for t in np.linspace(theta_a, theta_b, count + 1)[1:-1]
        ]
        net.add_piece("spiral", [point_a, *inner, point_b], how="spline")

    # frame: each edge, split where spokes end on it
    for j in range(m):
        chain = [corners[j], *[point for _, point in sorted(on_edge[j])], corners[(j + 1) % m]]
        for a, b in itertools.pairwise(chain):
            net.add_piece("frame", [a, b])

    # anchors
    if p["anchor_length"] > 0:
        for j, angle in enumerate(frame_angles):
            outer = net.add_point((r_frame + p["anchor_length"]) * _direction(angle))
            net.add_piece(f"anchor_{j}", [corners[j], outer])
            net.attachments.append(outer)
    else:
        net.attachments.extend(corners)
    return net


# --- the gmsh model --------------------------------------------------------------------


def build(session: GmshSession, p: dict[str, Any]) -> Built:
    net = make_network(p)
    if p["thickness"] > 0:
        return _build_strips(session, p, net)
    geo = gmsh.model.geo
    sizes = {i: p["h"] for i in range(len(net.points))}
    for i in net.hub_points:
        sizes[i] = p["h_min"]
    tags = {i: geo.addPoint(x, y, 0.0, sizes[i]) for i, (x, y) in enumerate(net.points)}
    curves = []
    for _, ids, how in net.pieces:
        if how == "arc":
            curves.append(geo.addCircleArc(tags[ids[0]], tags[ids[1]], tags[ids[2]]))
        elif how == "spline":
            curves.append(geo.addSpline([tags[i] for i in ids]))
        else:
            curves.append(geo.addLine(tags[ids[0]], tags[ids[1]]))
    geo.synchronize()
    for value, ((name, _, _), curve) in enumerate(zip(net.pieces, curves, strict=True), start=1):
        add_physical(1, [curve], value, name)
    value = len(net.pieces)
    ends = {ids[0] for _, ids, how in net.pieces} | {ids[-1] for _, ids, how in net.pieces}
    junctions = sorted(ends - set(net.attachments) - set(net.free_ends))
    for name, ids in (
        ("attachment", net.attachments),
        ("junction", junctions),
        ("free_end", net.free_ends),
    ):
        if ids:
            value += 1
            add_physical(0, [tags[i] for i in ids], value, name)
    session.set("Mesh.MeshSizeMax", p["h"])
    session.set("Mesh.MeshSizeMin", 0.0)
    gmsh.model.mesh.generate(1)
    return Built(gdim=2, details=_details(p))


def _details(p: dict[str, Any]) -> str:
    text = f"{p['spokes']} spokes, {p['turns']:g} turns"
    return text + (f", thickness {p['thickness']:g}" if p["thickness"] > 0 else "")


def _build_strips(session: GmshSession, p: dict[str, Any], net: Network) -> Built:
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
    return Built(gdim=2, details=_details(p))


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
