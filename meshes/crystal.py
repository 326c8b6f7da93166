"""`crystal`: plates, snowflakes and 3D crystals with core/rim, facets, inclusions, grains.

Every crystal is centred at the origin and is a union of convex pieces (`Outline`),
built with OpenCASCADE. One `occ.fragment` of the crystal with its core, its grains'
Voronoi cells and its inclusions (holes) gives pieces that are classified back into
regions, and boundary entities are named by the crystal face (plane) they lie on.
The outlines are made in `crystal_outline`, inclusions and grains placed in
`crystal_interior`; this module declares the kind's keys and builds the gmsh model.

Shapes and what `size` measures (see docs/geometry.md):
  hexagon     regular hexagon, circumradius size/2 (corner-to-corner width = size),
              a corner on the +x axis
  square      side size (a rock-salt section)
  snowflake   six tapered arms of tip-to-centre length size/2 on a hexagonal hub,
              with side branches (`branches` per arm and per level, `levels` deep)
  cube        side size
  prism       hexagonal prism (circumradius size/2, body height `height`) with
              hexagonal pyramids of height `cap_height` on both ends, axis z
  octahedron  corners at distance size/2 on the axes (edge size/sqrt(2))
"""

from __future__ import annotations

from typing import Any

import gmsh
import numpy as np

from .crystal_interior import grain_cells, place_inclusions
from .crystal_outline import Outline, make_outline
from .data import MeshError
from .gmsh_model import Built, GmshSession, add_physical
from .keys import Key, check_cell_estimate, requirement
from .shapes import occ_piece

SNOWFLAKE = ("snowflake",)

SHAPES: dict[int, tuple[str, ...]] = {
    2: ("hexagon", "square", "snowflake"),
    3: ("prism", "cube", "octahedron"),
}
"""The shapes of each dimension; the first of a dimension is its default."""
DEFAULT_DIM: int | None = 2

KEYS: tuple[Key, ...] = (
    Key(
        "core_fraction",
        "float",
        0.5,
        "core = the crystal scaled by this factor (snowflake: a hexagon of circumradius "
        'core_fraction*size/2); 0 gives one region "crystal"',
        minimum=0.0,
        maximum=1.0,
        exclusive_maximum=True,
    ),
    Key(
        "inclusions",
        "int",
        0,
        "number of spherical/circular holes (impurities), placed at "
        "random (seeded) away from the faces, each other and the core boundary",
        minimum=0,
    ),
    Key(
        "inclusion_radius",
        "float",
        lambda p: 0.05 * p["size"],
        "radius of the inclusions",
        default_doc="0.05*size",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key(
        "inclusion_centres",
        "points",
        None,
        "explicit centres [[x, y(, z)], ...] of the inclusions instead of random ones",
        default_doc="random",
    ),
    Key(
        "grains",
        "int",
        0,
        "number of Voronoi grains (regions grain_i); 0: core and rim",
        minimum=0,
        maximum=2000,
    ),
    Key(
        "h_min",
        "float",
        lambda p: p["h"] / 3,
        "element size at snowflake tips and inclusions",
        default_doc="h/3",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key(
        "arm_width",
        "float",
        lambda p: 0.1 * p["size"],
        "width of a snowflake arm at its base",
        default_doc="0.1*size",
        minimum=0.0,
        exclusive_minimum=True,
        shapes=SNOWFLAKE,
    ),
    Key(
        "tip_width",
        "float",
        lambda p: 0.03 * p["size"],
        "width of the flat tip of every arm and branch",
        default_doc="0.03*size",
        minimum=0.0,
        exclusive_minimum=True,
        shapes=SNOWFLAKE,
    ),
    Key(
        "hub_radius",
        "float",
        lambda p: p["arm_width"],
        "circumradius of the central hexagon",
        default_doc="arm_width",
        minimum=0.0,
        exclusive_minimum=True,
        shapes=SNOWFLAKE,
    ),
    Key(
        "branches",
        "int",
        2,
        "side-branch pairs along each arm (and each branch)",
        minimum=0,
        maximum=8,
        shapes=SNOWFLAKE,
    ),
    Key(
        "levels",
        "int",
        1,
        "side-branch levels: 0 arms only, 1 branches on arms, 2 branches on branches, 3",
        minimum=0,
        maximum=3,
        shapes=SNOWFLAKE,
    ),
    Key(
        "branch_length",
        "float",
        0.5,
        "branch length as a fraction of the parent's length "
        "beyond the branch point (capped at half the distance from the parent's base)",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        shapes=SNOWFLAKE,
    ),
    Key(
        "height",
        "float",
        lambda p: p["size"],
        "height of the prism body (without caps)",
        default_doc="size",
        minimum=0.0,
        exclusive_minimum=True,
        shapes=("prism",),
    ),
    Key(
        "cap_height",
        "float",
        lambda p: 0.25 * p["size"],
        "height of each pyramidal cap (0: flat ends)",
        default_doc="0.25*size",
        minimum=0.0,
        shapes=("prism",),
    ),
)


def check(p: dict[str, Any]) -> None:
    given = p["_given"]
    requirement(
        p["h_min"] <= p["h"],
        f"mesh.h_min = {p['h_min']:g} is larger than mesh.h = {p['h']:g}; use h_min <= h",
    )
    if p["grains"] > 0 and "core_fraction" in given:
        raise MeshError(
            "mesh.core_fraction cannot be combined with mesh.grains > 0: grains "
            "replace the core and rim regions; remove one of them"
        )
    centres = p["inclusion_centres"]
    if centres is not None:
        if "inclusions" in given and p["inclusions"] != len(centres):
            raise MeshError(
                f"mesh.inclusions = {p['inclusions']} but mesh.inclusion_centres "
                f"has {len(centres)} points; give one of them or make them agree"
            )
        p["inclusions"] = len(centres)
        for index, centre in enumerate(centres):
            requirement(
                len(centre) == p["dim"],
                f"mesh.inclusion_centres[{index}] = {centre} is not a point in "
                f"{p['dim']}D; write {'[x, y]' if p['dim'] == 2 else '[x, y, z]'}",
            )
    if p["shape"] == "snowflake":
        requirement(
            p["tip_width"] <= p["arm_width"],
            f"mesh.tip_width = {p['tip_width']:g} is wider than mesh.arm_width = "
            f"{p['arm_width']:g}; arms taper from arm_width to tip_width",
        )
        requirement(
            p["hub_radius"] < p["size"] / 2,
            f"mesh.hub_radius = {p['hub_radius']:g} must be smaller than the arm "
            f"length size/2 = {p['size'] / 2:g}",
        )
        requirement(
            p["arm_width"] < p["size"] / 2,
            f"mesh.arm_width = {p['arm_width']:g} must be smaller than size/2 = {p['size'] / 2:g}",
        )
    outline = make_outline(p)
    check_cell_estimate(p, outline.measure_bound(), p["dim"])


# --- the gmsh model --------------------------------------------------------------------


def build(session: GmshSession, p: dict[str, Any]) -> Built:
    occ = gmsh.model.occ
    outline = make_outline(p)
    dim = outline.dim
    centres = place_inclusions(p, outline)
    radius = p["inclusion_radius"]

    crystal = [occ_piece(piece) for piece in outline.pieces]
    if len(crystal) > 1:
        crystal, _ = occ.fuse(crystal[:1], crystal[1:])
    tools: list[tuple[int, int]] = []
    roles: list[tuple[str, int]] = []  # what each tool is: ("core", 0), ("grain", i), ("hole", j)
    if p["grains"] > 0:
        for index, cell in enumerate(grain_cells(p, outline)):
            tools.append(occ_piece(cell))
            roles.append(("grain", index))
    elif outline.core is not None:
        tools.append(occ_piece(outline.core))
        roles.append(("core", 0))
    for index, centre in enumerate(centres):
        if dim == 2:
            tools.append((2, occ.addDisk(centre[0], centre[1], 0.0, radius, radius)))
        else:
            tools.append((3, occ.addSphere(*centre, radius)))
        roles.append(("hole", index))

    if tools:
        _, piece_map = occ.fragment(crystal, tools)
        crystal_pieces = {tag for _, tag in piece_map[0]}
        owner: dict[int, tuple[str, int]] = {}
        for (role, index), pieces in zip(roles, piece_map[1:], strict=True):
            for _, tag in pieces:
                if role == "hole":
                    owner[tag] = ("hole", index)
                else:
                    owner.setdefault(tag, (role, index))
        keep: dict[int, str] = {}
        remove = []
        plain = ("rim" if outline.core is not None else "crystal", 0)
        for tag in sorted({tag for _, tag in occ.getEntities(dim)}):
            role, index = owner.get(tag, plain)
            if tag not in crystal_pieces or role == "hole":
                remove.append((dim, tag))
            elif role == "grain":
                keep[tag] = f"grain_{index}"
            else:
                keep[tag] = role  # "core", "rim" or "crystal"
        if remove:
            occ.remove(remove, recursive=True)
    else:
        keep = {tag: "crystal" for _, tag in crystal}
    occ.synchronize()

    cell_names = _cell_region_names(p, outline)
    for value, name in enumerate(cell_names, start=1):
        entities = [tag for tag, region in keep.items() if region == name]
        if not entities:
            raise MeshError(f"the crystal has no {name} region; check mesh.core_fraction")
        add_physical(dim, entities, value, name)
    grain_of = {tag: region for tag, region in keep.items()}
    boundary = _classify_boundary(p, outline, centres, grain_of)
    value = len(cell_names)
    for name in _facet_region_names(outline, len(centres)):
        if boundary.get(name):
            value += 1
            add_physical(dim - 1, boundary[name], value, name)

    _mesh_sizes(session, p, outline, boundary)
    gmsh.model.mesh.generate(dim)
    return Built(gdim=dim, details=_details(p))


def _cell_region_names(p: dict[str, Any], outline: Outline) -> list[str]:
    if p["grains"] > 0:
        return [f"grain_{i}" for i in range(p["grains"])]
    if outline.core is None:
        return ["crystal"]
    return ["core", "rim"]


def _facet_region_names(outline: Outline, holes: int) -> list[str]:
    names = [face.name for face in outline.faces]
    names += [f"inclusion_{j}" for j in range(holes)]
    if outline.other_boundary:
        names.append(outline.other_boundary)
    return [*names, "grain_boundary"]


def _classify_boundary(
    p: dict[str, Any], outline: Outline, centres: np.ndarray, region_of: dict[int, str]
) -> dict[str, list[int]]:
    """Name every boundary entity: the face it lies on, an inclusion, or a grain boundary."""
    dim = outline.dim
    tolerance = 1e-6 * p["size"]
    radius = p["inclusion_radius"]
    named: dict[str, list[int]] = {}
    for _, tag in gmsh.model.getEntities(dim - 1):
        upward, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        neighbours = [t for t in upward if t in region_of]
        if len(neighbours) == 0:
            continue
        if len(neighbours) == 2:
            first, second = (region_of[t] for t in neighbours)
            if p["grains"] > 0 and first != second:
                named.setdefault("grain_boundary", []).append(tag)
            continue
        centre = np.array(gmsh.model.occ.getCenterOfMass(dim - 1, tag))[:dim]
        name = next(
            (
                face.name
                for face in outline.faces
                if abs(face.normal @ centre - face.offset) < tolerance
            ),
            None,
        )
        if name is None:
            for index, hole in enumerate(centres):
                if np.linalg.norm(centre - hole) <= radius * (1 + 1e-6):
                    name = f"inclusion_{index}"
                    break
        if name is None:
            name = outline.other_boundary or "boundary"
        named.setdefault(name, []).append(tag)
    if "boundary" in named and not outline.other_boundary:
        raise MeshError("internal error: a crystal boundary piece lies on no face")
    return named


def _mesh_sizes(
    session: GmshSession, p: dict[str, Any], outline: Outline, boundary: dict[str, list[int]]
) -> None:
    """Size h everywhere, h_min near inclusions and snowflake tips (graded over ~4 h)."""
    h, h_min = p["h"], p["h_min"]
    dim = outline.dim
    session.set("Mesh.MeshSizeMax", h)
    session.set("Mesh.MeshSizeMin", 0.0)
    session.set("Mesh.MeshSizeFromPoints", 0)
    session.set("Mesh.MeshSizeFromCurvature", 0)
    session.set("Mesh.MeshSizeExtendFromBoundary", 0)
    session.set("Mesh.Algorithm", 6)  # Frontal-Delaunay: well-shaped triangles
    session.set("Mesh.Algorithm3D", 1)
    session.set("Mesh.Optimize", 1)
    refined = [
        tag for name, tags in boundary.items() if name.startswith("inclusion_") for tag in tags
    ]
    if outline.tips:
        tip_tolerance = p["tip_width"]
        for _, tag in gmsh.model.getEntities(dim - 1):
            centre = np.array(gmsh.model.occ.getCenterOfMass(dim - 1, tag))[:dim]
            if min(np.linalg.norm(centre - tip) for tip in outline.tips) < tip_tolerance:
                refined.append(tag)
    if not refined or h_min >= h:
        return
    field = gmsh.model.mesh.field
    distance = field.add("Distance")
    field.setNumbers(distance, "CurvesList" if dim == 2 else "SurfacesList", sorted(refined))
    field.setNumber(distance, "Sampling", 40)
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", distance)
    field.setNumber(threshold, "SizeMin", h_min)
    field.setNumber(threshold, "SizeMax", h)
    field.setNumber(threshold, "DistMin", h_min)
    field.setNumber(threshold, "DistMax", h_min + 4 * h)
    field.setAsBackgroundMesh(threshold)


def _details(p: dict[str, Any]) -> str:
    parts = []
    if p["grains"]:
        parts.append(f"{p['grains']} grains")
    if p["inclusions"]:
        parts.append(f"{p['inclusions']} inclusions r={p['inclusion_radius']:g}")
    return ", ".join(parts)
