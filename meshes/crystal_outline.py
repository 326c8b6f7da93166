"""Crystal outlines: each shape as a union of convex pieces with named plane faces and a core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import MeshError
from .shapes import ConvexPiece, regular_polygon, union_depth


@dataclass
class Face:
    """A named plane face of a crystal: {x : normal . x = offset}."""

    name: str
    normal: np.ndarray
    offset: float


@dataclass
class Outline:
    """A crystal as a union of convex pieces, with its named faces and its core."""

    dim: int
    pieces: list[ConvexPiece]
    faces: list[Face]
    core: ConvexPiece | None
    tips: list[np.ndarray] = field(default_factory=list)  # snowflake tip centres
    other_boundary: str = ""  # name for boundary not on a named face ("" = none expected)

    def depth(self, points: np.ndarray) -> np.ndarray:
        return union_depth(self.pieces, points)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        everything = np.vstack([piece.vertices for piece in self.pieces])
        return everything.min(axis=0), everything.max(axis=0)

    def measure_bound(self) -> float:
        return sum(piece.measure() for piece in self.pieces)


def make_outline(p: dict[str, Any]) -> Outline:
    shape, size = p["shape"], p["size"]
    fraction = p["core_fraction"] if p["grains"] == 0 else 0.0
    if shape == "hexagon":
        return _polygon_outline(regular_polygon(size / 2, 6), fraction)
    if shape == "square":
        return _polygon_outline(regular_polygon(size / np.sqrt(2), 4, np.pi / 4), fraction)
    if shape == "snowflake":
        return _snowflake(p, fraction)
    if shape == "cube":
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
        return _polyhedron_outline(corners * size / 2, _axis_faces(size / 2), fraction)
    if shape == "prism":
        return _prism(p, fraction)
    if shape == "octahedron":
        s = size / 2
        corners = np.array([[s, 0, 0], [-s, 0, 0], [0, s, 0], [0, -s, 0], [0, 0, s], [0, 0, -s]])
        faces = []
        for index in range(8):
            signs = np.array([1.0 if index >> bit & 1 else -1.0 for bit in range(3)])
            faces.append(Face(f"facet_{index}", signs / np.sqrt(3), s / np.sqrt(3)))
        return _polyhedron_outline(corners, faces, fraction)
    raise MeshError(f"mesh.shape = {shape!r} is not a crystal shape")


def _polygon_outline(vertices: np.ndarray, core_fraction: float) -> Outline:
    """A convex polygon with faces facet_0.. counterclockwise from the first vertex."""
    faces = []
    count = len(vertices)
    for index in range(count):
        a, b = vertices[index], vertices[(index + 1) % count]
        normal = np.array([b[1] - a[1], a[0] - b[0]])
        normal /= np.linalg.norm(normal)
        faces.append(Face(f"facet_{index}", normal, float(normal @ a)))
    core = ConvexPiece(vertices * core_fraction) if core_fraction > 0 else None
    return Outline(2, [ConvexPiece(vertices)], faces, core)


def _axis_faces(half: float) -> list[Face]:
    faces = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            normal = np.zeros(3)
            normal[axis] = sign
            faces.append(Face(f"facet_{len(faces)}", normal, half))
    return faces


def _polyhedron_outline(corners: np.ndarray, faces: list[Face], core_fraction: float) -> Outline:
    core = ConvexPiece(corners * core_fraction) if core_fraction > 0 else None
    return Outline(3, [ConvexPiece(corners)], faces, core)


def _prism(p: dict[str, Any], core_fraction: float) -> Outline:
    radius, half, cap = p["size"] / 2, p["height"] / 2, p["cap_height"]
    ring = regular_polygon(radius, 6)
    top = np.column_stack([ring, np.full(6, half)])
    bottom = np.column_stack([ring, np.full(6, -half)])
    corners = [top, bottom]
    faces = []
    for index in range(6):
        angle = np.pi / 6 + index * np.pi / 3
        normal = np.array([np.cos(angle), np.sin(angle), 0.0])
        faces.append(Face(f"facet_{index}", normal, float(normal @ top[index])))
    if cap > 0:
        for sign, rim in ((1.0, top), (-1.0, bottom)):
            apex = np.array([0.0, 0.0, sign * (half + cap)])
            corners.append(apex[None, :])
            for index in range(6):
                a, b = rim[index], rim[(index + 1) % 6]
                normal = np.cross(a - apex, b - apex) * sign
                normal /= np.linalg.norm(normal)
                faces.append(Face(f"facet_{len(faces)}", normal, float(normal @ apex)))
    else:
        faces.append(Face("facet_6", np.array([0.0, 0.0, 1.0]), half))
        faces.append(Face("facet_7", np.array([0.0, 0.0, -1.0]), half))
    return _polyhedron_outline(np.vstack(corners), faces, core_fraction)


def _snowflake(p: dict[str, Any], core_fraction: float) -> Outline:
    """Hub hexagon + six tapered arms + recursive side branches at +-60 degrees."""
    length = p["size"] / 2
    tip_half = p["tip_width"] / 2
    pieces = [ConvexPiece(regular_polygon(p["hub_radius"], 6))]
    tips: list[np.ndarray] = []
    faces = []

    def limb(
        base: np.ndarray, direction: np.ndarray, extent: float, base_half: float, level: int
    ) -> None:
        normal = np.array([-direction[1], direction[0]])
        tip = base + extent * direction
        pieces.append(
            ConvexPiece(
                np.array(
                    [
                        base - base_half * normal,
                        tip - tip_half * normal,
                        tip + tip_half * normal,
                        base + base_half * normal,
                    ]
                )
            )
        )
        tips.append(tip)
        if level >= p["levels"]:
            return
        count = p["branches"]
        for index in range(count):
            position = extent * (index + 1) / (count + 1)
            branch = min(p["branch_length"] * (extent - position), 0.5 * position)
            local_half = base_half + (tip_half - base_half) * position / extent
            branch_half = 0.6 * local_half
            if branch < 3 * tip_half or branch_half < tip_half:
                continue  # too small to be a branch
            for turn in (np.pi / 3, -np.pi / 3):
                c, s = np.cos(turn), np.sin(turn)
                rotated = np.array(
                    [c * direction[0] - s * direction[1], s * direction[0] + c * direction[1]]
                )
                limb(base + position * direction, rotated, branch, branch_half, level + 1)

    for arm in range(6):
        angle = arm * np.pi / 3
        direction = np.array([np.cos(angle), np.sin(angle)])
        faces.append(Face(f"tip_{arm}", direction, length))
        limb(np.zeros(2), direction, length, p["arm_width"] / 2, 0)
    core = None
    if core_fraction > 0:
        core = ConvexPiece(regular_polygon(core_fraction * length, 6))
    return Outline(2, pieces, faces, core, tips=tips, other_boundary="boundary")
