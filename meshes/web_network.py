"""The web as a network before gmsh: its points, its thread pieces, and their exact lengths."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
