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

The network is laid out in `web_network` and the strips are built in `web_strips`; this
module declares the kind's keys and builds the 1D network in gmsh.
"""

from __future__ import annotations

import math
from typing import Any

import gmsh

from .gmsh_model import Built, GmshSession, add_physical
from .keys import Key, check_cell_estimate, requirement
from .web_network import make_network, spiral_length, total_length
from .web_strips import build_strips

__all__ = ["DEFAULT_DIM", "KEYS", "SHAPES", "build", "check", "spiral_length", "total_length"]

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


# --- the gmsh model --------------------------------------------------------------------


def build(session: GmshSession, p: dict[str, Any]) -> Built:
    net = make_network(p)
    if p["thickness"] > 0:
        build_strips(session, p, net)
        return Built(gdim=2, details=_details(p))
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
