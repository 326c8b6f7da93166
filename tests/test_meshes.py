"""The geometry library: parameters, tags, measures, determinism, files, MPI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import gmsh
import numpy as np
import pytest
from mpi4py import MPI

from bmf_fem.meshes import (
    KINDS,
    MeshData,
    MeshError,
    build_mesh,
    check_mesh_params,
    keys_of,
    region_measures,
    write_mesh,
)

COMM = MPI.COMM_WORLD
HEXAGON_AREA = 3 * math.sqrt(3) / 2  # times R^2


def build(kind: str, **params) -> MeshData:
    return build_mesh(kind, params, COMM)


def measures(data: MeshData, facets: bool = False) -> dict[str, float]:
    return region_measures(data, facets=facets)


def global_cells(data: MeshData) -> int:
    return data.mesh.topology.index_map(data.mesh.topology.dim).size_global


# --- parameters ------------------------------------------------------------------------


def test_kinds_are_the_contract():
    assert KINDS == ("crystal", "web", "tissue", "box", "file")


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("crystal", {"sise": 1.0}, "mesh.sise is not a key.*did you mean mesh.size"),
        ("crystal", {"turns": 3}, "mesh.turns .*belongs to kind = 'web'"),
        ("crystal", {"h": -0.1}, r"mesh.h = -0.1 is not valid: must be a number > 0"),
        ("crystal", {"h": "fine"}, "mesh.h = 'fine' is not valid: must be a number"),
        ("crystal", {"seed": 1.5}, "mesh.seed = 1.5 is not valid: must be an integer"),
        ("crystal", {"grains": True}, "mesh.grains = True is not valid"),
        ("crystal", {"shape": "hexagonn"}, "did you mean hexagon"),
        ("crystal", {"shape": "cube", "dim": 2}, "mesh.shape = 'cube' does not exist in dim = 2"),
        ("crystal", {"dim": 1}, "mesh.dim = 1 is not valid for kind = 'crystal'"),
        ("crystal", {"h": 2.0}, "mesh.h = 2 is larger than mesh.size = 1"),
        ("crystal", {"height": 2.0}, "mesh.height applies to crystal shape 'prism' only"),
        ("crystal", {"file": "x.msh"}, 'set mesh.kind = "file"'),
        ("crystal", {"grains": 3, "core_fraction": 0.3}, "cannot be combined"),
        ("crystal", {"core_fraction": 1.0}, "must be a number >= 0 and < 1"),
        ("crystal", {"inclusions": 2, "inclusion_centres": [[0, 0]]}, "make them agree"),
        ("crystal", {"h": 1e-4}, "would give about"),
        ("box", {"lengths": [1.0]}, "give 2 positive lengths for dim = 2"),
        ("crystl", {}, "mesh.kind = 'crystl' is not valid.*did you mean crystal"),
        ("file", {}, "mesh.file is required"),
        ("file", {"file": "/nonexistent.msh"}, "no such file"),
    ],
)
def test_invalid_parameters_name_the_key(kind, params, expected):
    with pytest.raises(MeshError, match=expected):
        check_mesh_params(kind, params)


def test_none_means_unset_and_defaults_apply():
    check_mesh_params("crystal", {"shape": None, "size": None, "h": None, "dim": None})
    check_mesh_params("box", {"dim": 3, "shape": None})
    data = build("crystal", h=None)
    assert data.params["shape"] == "hexagon"
    assert data.params["h"] == 0.04 and data.params["size"] == 1.0 and data.params["seed"] == 0


def test_command_line_options():
    from bmf_fem.meshes import describe_keys, parse_options

    params = parse_options(
        [
            "shape=cube",
            "h=0.1",
            "mesh.grains=3",
            "inclusion_centres=[[0, 0, 0]]",
            'file="my mesh.msh"',
            "structured=false",
        ]
    )
    assert params == {
        "shape": "cube",
        "h": 0.1,
        "grains": 3,
        "inclusion_centres": [[0, 0, 0]],
        "file": "my mesh.msh",
        "structured": False,
    }
    with pytest.raises(MeshError, match="write key=value"):
        parse_options(["h"])
    assert "spokes" in describe_keys("web") and "shapes: orb" in describe_keys("web")


def test_every_key_is_documented():
    text = (Path(__file__).parents[1] / "docs" / "geometry.md").read_text()
    for kind in KINDS:
        for key in keys_of(kind):
            assert f"`{key.name}`" in text, f"docs/geometry.md does not document {key.name}"


# --- box -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "facets"),
    [
        (1, ["left", "right"]),
        (2, ["left", "right", "bottom", "top"]),
        (3, ["left", "right", "front", "back", "bottom", "top"]),
    ],
)
def test_box_tags_and_measures(dim, facets):
    lengths = [1.0, 0.5, 0.25][:dim]
    data = build("box", dim=dim, h=0.125, lengths=lengths)
    assert data.mesh.topology.dim == dim
    assert data.cell_regions == {"domain": 1}
    assert list(data.facet_regions) == facets
    assert measures(data)["domain"] == pytest.approx(np.prod(lengths), rel=1e-12)
    # structured: round(L/h) cells along each side
    counts = [round(length / 0.125) for length in lengths]
    per_box = {1: 1, 2: 2, 3: 6}[dim]
    assert global_cells(data) == per_box * np.prod(counts)
    if dim > 1:
        facet_measures = measures(data, facets=True)
        assert facet_measures["left"] == pytest.approx(np.prod(lengths[1:]), rel=1e-12)
        assert facet_measures["top"] == pytest.approx(np.prod(lengths[:-1]), rel=1e-12)


def test_box_unstructured():
    data = build("box", structured=False, h=0.1)
    assert measures(data)["domain"] == pytest.approx(1.0, rel=1e-12)
    assert data.quality.min_angle > 25


# --- crystals --------------------------------------------------------------------------


def test_hexagon_default_demo_geometry():
    data = build("crystal")
    radius = 0.5
    assert data.description.startswith("crystal/hexagon size=1 h=0.04: ")
    assert data.description.endswith(f"{global_cells(data)} triangles")
    assert data.cell_regions == {"core": 1, "rim": 2}
    assert list(data.facet_regions) == [f"facet_{i}" for i in range(6)]
    area = measures(data)
    # a polygon: the mesh is exact up to round-off, whatever h
    assert area["core"] + area["rim"] == pytest.approx(HEXAGON_AREA * radius**2, rel=1e-12)
    assert area["core"] == pytest.approx(HEXAGON_AREA * (0.5 * radius) ** 2, rel=1e-12)
    for length in measures(data, facets=True).values():
        assert length == pytest.approx(radius, rel=1e-12)  # side = circumradius
    assert data.quality.min_angle > 30 and data.quality.radius_ratio_min > 0.6
    assert data.quality.degenerate == 0 and data.quality.inverted == 0
    # the mean cell is about an equilateral triangle of side h = 0.04
    mean_cell = (area["core"] + area["rim"]) / global_cells(data)
    assert 0.7 < mean_cell / (math.sqrt(3) / 4 * 0.04**2) < 1.3


def test_hexagon_facets_are_where_documented():
    data = build("crystal", h=0.1)
    mesh = data.mesh
    mesh.topology.create_connectivity(1, 0)
    for index in range(6):
        facets = data.facets(f"facet_{index}")
        angle = np.pi / 6 + index * np.pi / 3  # outward normal of facet_i
        normal = np.array([np.cos(angle), np.sin(angle)])
        vertices = mesh.topology.connectivity(1, 0)
        points = mesh.geometry.x[np.unique(np.concatenate([vertices.links(f) for f in facets]))]
        assert np.allclose(points[:, :2] @ normal, 0.5 * np.cos(np.pi / 6))


@pytest.mark.parametrize(
    ("shape", "params", "exact", "facet_count"),
    [
        ("square", {}, 1.0, 4),
        ("cube", {"h": 0.2}, 1.0, 6),
        ("octahedron", {"h": 0.15}, math.sqrt(2) / 3 * (1 / math.sqrt(2)) ** 3, 8),
        # prism: hexagon R = 0.5 times height 1, plus two pyramids of height 0.25
        ("prism", {"h": 0.2}, HEXAGON_AREA * 0.25 * (1 + 2 * 0.25 / 3), 18),
        ("prism", {"h": 0.2, "cap_height": 0.0, "height": 0.5}, HEXAGON_AREA * 0.25 * 0.5, 8),
    ],
)
def test_polyhedral_crystals_measure_exactly(shape, params, exact, facet_count):
    data = build("crystal", shape=shape, **params)
    total = sum(measures(data).values())
    assert total == pytest.approx(exact, rel=1e-10)
    assert list(data.facet_regions) == [f"facet_{i}" for i in range(facet_count)]
    assert measures(data)["core"] == pytest.approx(exact * 0.5**data.mesh.topology.dim, rel=1e-10)
    assert data.quality.degenerate == 0 and data.quality.inverted == 0


def test_octahedron_faces_are_equal_triangles():
    data = build("crystal", shape="octahedron", h=0.15)
    edge = 1 / math.sqrt(2)
    for area in measures(data, facets=True).values():
        assert area == pytest.approx(math.sqrt(3) / 4 * edge**2, rel=1e-10)


def test_snowflake_tips_and_refinement():
    data = build("crystal", shape="snowflake", h=0.05, levels=2)
    assert list(data.facet_regions)[:6] == [f"tip_{i}" for i in range(6)]
    lengths = measures(data, facets=True)
    for arm in range(6):
        assert lengths[f"tip_{arm}"] == pytest.approx(0.03, rel=1e-10)
    assert data.quality.edge_min < 0.05 / 2  # refined near the tips (h_min = h/3)
    assert data.quality.min_angle > 20
    # tip of arm 0 at x = size/2
    assert data.mesh.geometry.x[:, 0].max() == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("h", [0.08, 0.04])
def test_inclusions_area_converges(h):
    radius = 0.06
    data = build("crystal", inclusions=3, inclusion_radius=radius, h=h, core_fraction=0.0)
    assert data.cell_regions == {"crystal": 1}
    holes = [f"inclusion_{j}" for j in range(3)]
    assert [name for name in data.facet_regions if name.startswith("inclusion")] == holes
    exact = HEXAGON_AREA * 0.25 - 3 * math.pi * radius**2
    # inscribed polygons with edges <= h_min = h/3 miss at most pi*e^2/6 per hole
    bound = 3 * math.pi * (h / 3) ** 2 / 6 * 2
    assert abs(measures(data)["crystal"] - exact) < bound
    for name in holes:
        assert measures(data, facets=True)[name] == pytest.approx(2 * math.pi * radius, rel=0.02)


def test_inclusions_avoid_each_other_and_the_faces():
    data = build("crystal", inclusions=5, inclusion_radius=0.04, h=0.05, seed=3)
    x = data.mesh.geometry.x[:, :2]
    assert data.quality.degenerate == 0
    assert len([n for n in data.facet_regions if n.startswith("inclusion_")]) == 5
    # every face is still complete (no hole cut into it)
    for index in range(6):
        assert measures(data, facets=True)[f"facet_{index}"] == pytest.approx(0.5, rel=1e-12)
    assert np.abs(x).max() <= 0.5 + 1e-12


def test_explicit_inclusion_centres():
    data = build(
        "crystal",
        inclusion_centres=[[0.0, 0.0], [0.2, 0.1]],
        inclusion_radius=0.05,
        core_fraction=0.0,
        h=0.05,
    )
    assert [n for n in data.facet_regions if n.startswith("inclusion_")] == [
        "inclusion_0",
        "inclusion_1",
    ]
    with pytest.raises(MeshError, match=r"inclusion_centres\[0\].*not inside"):
        check_and_build("crystal", inclusion_centres=[[0.49, 0.0]], inclusion_radius=0.05)


def check_and_build(kind, **params):
    check_mesh_params(kind, params)
    return build(kind, **params)


@pytest.mark.parametrize(("shape", "h"), [("hexagon", 0.05), ("square", 0.05), ("cube", 0.2)])
def test_grains_partition_the_crystal(shape, h):
    data = build("crystal", shape=shape, grains=6, h=h)
    assert list(data.cell_regions) == [f"grain_{i}" for i in range(6)]
    areas = measures(data)
    total = HEXAGON_AREA * 0.25 if shape == "hexagon" else 1.0
    assert sum(areas.values()) == pytest.approx(total, rel=1e-10)
    assert all(area > 0 for area in areas.values())
    assert measures(data, facets=True)["grain_boundary"] > 0


def test_crystal_snowflake_with_grains_and_inclusion():
    data = build(
        "crystal",
        shape="snowflake",
        grains=4,
        h=0.05,
        inclusion_centres=[[0.0, 0.0]],
        inclusion_radius=0.03,
    )
    assert len(data.cell_regions) == 4
    assert "inclusion_0" in data.facet_regions


# --- tissues ---------------------------------------------------------------------------


def tiles(data: MeshData) -> bool:
    """Every cell of the mesh carries exactly one region tag."""
    return sum(data.quality.cell_counts.values()) == global_cells(data)


@pytest.mark.parametrize("h", [0.05, 0.025])
def test_tissue_disc_minus_lumen(h):
    data = build("tissue", lumen=0.4, cells=30, h=h)
    assert list(data.cell_regions) == [f"cell_{i}" for i in range(30)]
    assert list(data.facet_regions) == ["membrane", "outer", "lumen"]
    assert tiles(data)
    radius, lumen = 0.5, 0.2
    area = sum(measures(data).values())
    assert area == pytest.approx(data.quality.measure, rel=1e-12)  # no gaps, no overlaps
    # each circle is an inscribed polygon with edges <= h: it misses at most pi*h^2/6
    assert abs(area - math.pi * (radius**2 - lumen**2)) < 2 * 2 * math.pi * h**2 / 6
    lengths = measures(data, facets=True)
    assert lengths["outer"] == pytest.approx(2 * math.pi * radius, rel=h**2)
    assert lengths["lumen"] == pytest.approx(2 * math.pi * lumen, rel=h**2)
    assert data.quality.min_angle > 20


def test_tissue_lloyd_evens_cell_sizes():
    def spread(lloyd: int) -> float:
        areas = np.array(list(measures(build("tissue", cells=40, lloyd=lloyd, h=0.03)).values()))
        return float(areas.std() / areas.mean())

    relaxed, raw = spread(20), spread(0)
    assert relaxed < 0.2 and relaxed < raw / 2


def test_tissue_ellipse():
    data = build("tissue", shape="ellipse", aspect=0.5, cells=20, h=0.03)
    assert len(data.cell_regions) == 20 and tiles(data)
    assert data.quality.measure == pytest.approx(math.pi * 0.5 * 0.25, rel=0.01)
    assert np.abs(data.mesh.geometry.x[:, 1]).max() <= 0.25 + 1e-12
    with pytest.raises(MeshError, match=r"mesh\.aspect applies to tissue shape"):
        check_mesh_params("tissue", {"aspect": 0.5})


@pytest.mark.parametrize("lumen", [0.0, 0.4])
def test_tissue_spheroid(lumen):
    data = build("tissue", dim=3, cells=12, h=0.08, lumen=lumen)
    assert data.mesh.topology.dim == 3
    assert list(data.cell_regions) == [f"cell_{i}" for i in range(12)] and tiles(data)
    exact = 4 / 3 * math.pi * 0.5**3 * (1 - lumen**3)
    assert sum(measures(data).values()) == pytest.approx(exact, rel=0.03)
    assert "membrane" in data.facet_regions and "outer" in data.facet_regions
    assert ("lumen" in data.facet_regions) == (lumen > 0)
    assert data.quality.degenerate == 0


# --- webs ------------------------------------------------------------------------------


def cell_graph_components(data: MeshData, skip: np.ndarray | None = None) -> int:
    """Connected components of the cells (sharing a vertex), serial meshes only."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    mesh = data.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim, 0)
    cells_to_vertices = mesh.topology.connectivity(tdim, 0)
    num_cells = mesh.topology.index_map(tdim).size_local
    keep = np.ones(num_cells, dtype=bool)
    if skip is not None:
        keep[skip] = False
    rows, cols = [], []
    for cell in np.flatnonzero(keep):
        for vertex in cells_to_vertices.links(cell):
            rows.append(cell)
            cols.append(vertex)
    shape = (num_cells, mesh.topology.index_map(0).size_local)
    incidence = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=shape).tocsr()
    adjacency = incidence @ incidence.T
    _, labels = connected_components(adjacency, directed=False)
    return len(np.unique(labels[keep]))


def test_web_threads_and_tags():
    data = build("web")
    assert data.mesh.topology.dim == 1 and data.mesh.geometry.dim == 2
    expected = [
        "anchor_0",
        "anchor_1",
        "anchor_2",
        "anchor_3",
        "anchor_4",
        "frame",
        "hub",
        "spiral",
        *[f"spoke_{i}" for i in range(12)],
    ]
    assert sorted(data.cell_groups) == sorted(expected)
    assert all("." in name for name in data.cell_regions)  # one region per segment
    assert len(data.region_values("hub")) == 24  # 12 spoke stubs + 12 ring arcs
    lengths = measures(data)
    for spoke in range(12):
        angle = 2 * math.pi * spoke / 12
        # the frame edge this spoke hits: pentagon with corners at 36 + 72 j degrees
        inradius = 0.4 * math.cos(math.pi / 5)
        offset = (angle - math.pi / 5) % (2 * math.pi / 5) - math.pi / 5
        assert lengths[f"spoke_{spoke}"] == pytest.approx(
            inradius / math.cos(offset) - 0.05, rel=1e-10
        )
    for anchor in range(5):
        assert lengths[f"anchor_{anchor}"] == pytest.approx(0.1, rel=1e-10)
    assert lengths["frame"] == pytest.approx(10 * 0.4 * math.sin(math.pi / 5), rel=1e-10)
    import dolfinx.mesh

    attachment = data.facets("attachment")
    nodes = dolfinx.mesh.entities_to_geometry(data.mesh, 0, attachment)
    radii = np.linalg.norm(data.mesh.geometry.x[nodes[:, 0], :2], axis=1)
    assert len(attachment) == 5 and np.allclose(radii, 0.5)  # anchors reach size/2
    assert set(data.facet_regions) == {"attachment", "junction"}
    assert data.quality.facet_counts["junction"] == len(data.facets("junction"))


@pytest.mark.parametrize("h", [0.04, 0.02])
def test_web_spiral_length_matches_the_formula(h):
    from bmf_fem.meshes.parameters import resolve
    from bmf_fem.meshes.web import spiral_length

    params = {"h": h, "turns": 4.6}
    data = build("web", **params)
    exact = spiral_length(resolve("web", params))
    # chords of an arc of radius >= r0 = 0.1 and length <= h fall short by <= h^2/(24 r0^2)
    assert measures(data)["spiral"] == pytest.approx(exact, rel=h**2 / (24 * 0.1**2))
    assert measures(data)["spiral"] < exact
    assert "free_end" in data.facet_regions  # 4.6 turns stop between two spokes
    pieces = [name for name in data.cell_regions if name.startswith("spiral.")]
    assert len(pieces) == math.floor(4.6 * 12) + 1  # cut at each spoke, plus the free end
    assert measures(data)["spiral"] == pytest.approx(
        sum(measures(data)[name] for name in pieces), rel=1e-12
    )


def test_web_is_connected_and_survives_a_snapped_spoke():
    data = build("web", h=0.05)
    assert cell_graph_components(data) == 1
    for spoke in (0, 3):
        assert cell_graph_components(data, skip=data.cells(f"spoke_{spoke}")) == 1
    # without frame and anchors the spokes and the spiral still hold together
    frame_and_anchors = np.concatenate(
        [
            data.cells(name)
            for name in data.cell_groups
            if name == "frame" or name.startswith("anchor_")
        ]
    )
    assert cell_graph_components(data, skip=frame_and_anchors) == 1
    # without spiral, hub and frame: 12 loose spokes and 5 anchors, one of which holds
    # spoke 6 (it ends on the frame corner at 180 degrees)
    crossing_threads = np.concatenate([data.cells(name) for name in ("spiral", "hub", "frame")])
    assert cell_graph_components(data, skip=crossing_threads) == 12 + 5 - 1


def test_web_strips():
    data = build("web", thickness=0.006, spokes=6, turns=3, h=0.04)
    assert data.mesh.topology.dim == 2 and data.params["dim"] == 2
    assert "spiral" in data.cell_groups and "spoke_5" in data.cell_groups
    assert tiles(data)
    from bmf_fem.meshes.parameters import resolve
    from bmf_fem.meshes.web import total_length

    area = sum(measures(data)[name] for name in data.cell_regions)
    assert area == pytest.approx(data.quality.measure, rel=1e-12)
    # strips overlap where threads cross: a little less than width x length
    length = total_length(resolve("web", {"spokes": 6, "turns": 3}))
    assert 0.9 * 0.006 * length < area < 0.006 * length
    assert data.quality.facet_counts["attachment"] >= 5
    assert data.quality.degenerate == 0


# --- determinism, gmsh session, quality ------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("crystal", {"grains": 5, "inclusions": 2, "h": 0.06, "seed": 7}),
        ("crystal", {"shape": "prism", "h": 0.25, "grains": 3}),
        ("tissue", {"cells": 15, "h": 0.05, "lumen": 0.3}),
    ],
)
def test_same_seed_same_mesh(kind, params):
    first, second = build(kind, **params), build(kind, **params)
    assert np.array_equal(first.mesh.geometry.x, second.mesh.geometry.x)
    assert np.array_equal(first.mesh.geometry.dofmap, second.mesh.geometry.dofmap)
    assert np.array_equal(first.cell_tags.values, second.cell_tags.values)
    other = build(kind, **{**params, "seed": params.get("seed", 0) + 1})
    assert other.mesh.geometry.x.shape != first.mesh.geometry.x.shape or not np.array_equal(
        other.mesh.geometry.x, first.mesh.geometry.x
    )


def test_gmsh_left_as_found_when_not_initialised():
    assert not gmsh.isInitialized()
    build("crystal", h=0.2)
    assert not gmsh.isInitialized()
    with pytest.raises(MeshError):
        build("crystal", inclusions=50, inclusion_radius=0.1)
    assert not gmsh.isInitialized()


def test_gmsh_left_as_found_when_user_initialised():
    gmsh.initialize(interruptible=False)
    try:
        gmsh.model.add("users_model")
        gmsh.model.occ.addDisk(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.321)
        gmsh.option.setNumber("General.Terminal", 1)
        build("crystal", h=0.2)
        with pytest.raises(MeshError):
            build("crystal", inclusions=50, inclusion_radius=0.1)
        assert gmsh.isInitialized()
        assert gmsh.model.getCurrent() == "users_model"
        assert gmsh.model.list() == ["users_model"] or "users_model" in gmsh.model.list()
        assert not [m for m in gmsh.model.list() if m.startswith("crystal")]
        assert gmsh.model.getEntities(2) == [(2, 1)]
        assert gmsh.option.getNumber("Mesh.MeshSizeMax") == 0.321
        assert gmsh.option.getNumber("General.Terminal") == 1
    finally:
        gmsh.finalize()


def _write_meshio(path: Path, points, cells) -> Path:
    import meshio

    points = np.column_stack([np.asarray(points, float), np.zeros(len(points))])
    meshio.write(path, meshio.Mesh(points, cells))
    return path


def test_degenerate_cells_are_rejected(tmp_path):
    path = _write_meshio(
        tmp_path / "flat.vtu",
        [[0, 0], [1, 0], [2, 0], [1, 1]],
        [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))],
    )
    with pytest.raises(MeshError, match=r"1 degenerate cells .*rejected"):
        build("file", file=str(path))


def test_inverted_cells_are_rejected(tmp_path):
    path = _write_meshio(
        tmp_path / "twisted.vtu",
        [[0, 0], [1, 0], [1, 1], [0, 1], [2, 0], [2, 1]],
        [("quad", np.array([[0, 1, 2, 3], [1, 4, 2, 5]]))],
    )
    with pytest.raises(MeshError, match="1 inverted cells"):
        build("file", file=str(path))


# --- files -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".xdmf", ".msh"])
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("crystal", {"inclusions": 2, "h": 0.08, "seed": 1}),
        ("web", {"spokes": 6, "turns": 2}),
        ("tissue", {"cells": 10, "lumen": 0.3, "h": 0.05}),
        ("crystal", {"shape": "octahedron", "h": 0.2}),
    ],
)
def test_write_and_read_back_keeps_tags(tmp_path, suffix, kind, params):
    out = tmp_path / f"{kind}{suffix}"
    report = write_mesh(kind, params, out, COMM)
    assert out.is_file() and out.with_suffix(".png").stat().st_size > 5000
    assert "edge length" in report and "degenerate cells 0, inverted cells 0" in report
    original = build(kind, **params)
    assert report.startswith(original.description)
    copy = build("file", file=str(out))
    assert copy.cell_regions == original.cell_regions
    assert copy.facet_regions == original.facet_regions
    assert measures(copy) == pytest.approx(measures(original), rel=1e-12)
    assert measures(copy, facets=True) == pytest.approx(measures(original, facets=True), rel=1e-12)
    assert copy.quality.facet_counts == original.quality.facet_counts
    assert copy.cell_groups == original.cell_groups


def test_write_rejects_unknown_suffix(tmp_path):
    with pytest.raises(MeshError, match=r"must end in \.msh or \.xdmf"):
        write_mesh("crystal", {}, tmp_path / "mesh.vtk", COMM)


def test_meshio_file_with_tags(tmp_path):
    import meshio

    points = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0]], float)
    cells = [("triangle", np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]))]
    path = tmp_path / "square.vtu"
    meshio.write(path, meshio.Mesh(points, cells, cell_data={"region": [np.array([1, 1, 2, 2])]}))
    data = build("file", file=str(path))
    assert data.cell_regions == {"tag_1": 1, "tag_2": 2}
    assert measures(data) == pytest.approx({"tag_1": 0.5, "tag_2": 0.5})
    assert data.mesh.geometry.dim == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [("garbage", "could not be read"), ("", "could not be read|holds no")],
)
def test_unreadable_files(tmp_path, content, expected):
    for suffix in (".msh", ".vtu"):
        path = tmp_path / f"bad{suffix}"
        path.write_text(content)
        with pytest.raises(MeshError, match=expected):
            build("file", file=str(path))


def test_empty_mesh_file(tmp_path):
    path = _write_meshio(tmp_path / "empty.vtu", [[0, 0], [1, 0]], [])
    with pytest.raises(MeshError, match=f"mesh.file = '{path}'"):
        build("file", file=str(path))


# --- a heat equation on every geometry -------------------------------------------------

HEAT_CASES = [
    ("box", {"dim": 1, "h": 0.05}),
    ("box", {"dim": 3, "h": 0.25}),
    ("crystal", {"h": 0.08}),
    ("crystal", {"shape": "snowflake", "h": 0.05, "grains": 3}),
    ("crystal", {"shape": "octahedron", "h": 0.25}),
    ("tissue", {"cells": 10, "lumen": 0.3, "h": 0.06}),
    ("tissue", {"dim": 3, "cells": 6, "h": 0.12}),
    ("web", {"spokes": 6, "turns": 3}),
    ("web", {"spokes": 6, "turns": 2, "thickness": 0.008}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "params"), HEAT_CASES)
def test_heat_equation_runs_on_every_geometry(kind, params):
    """Backward Euler with no-flux boundaries: the integral of u is conserved."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import LinearProblem

    data = build(kind, **params)
    mesh = data.mesh
    space = fem.functionspace(mesh, ("Lagrange", 1))
    previous = fem.Function(space)
    previous.interpolate(lambda x: np.exp(-((x[0] - 0.1) ** 2 + x[1] ** 2) / 0.02))
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    dt = fem.Constant(mesh, 0.01)
    a = u * v * ufl.dx + dt * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    problem = LinearProblem(
        a,
        previous * v * ufl.dx,
        petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12, "ksp_atol": 1e-14},
    )
    total = fem.form(previous * ufl.dx)
    mass0 = COMM.allreduce(fem.assemble_scalar(total), op=MPI.SUM)
    peak0 = previous.x.array.max()
    for _ in range(3):
        previous.x.array[:] = problem.solve().x.array
    mass = COMM.allreduce(fem.assemble_scalar(total), op=MPI.SUM)
    assert mass0 > 0 and mass == pytest.approx(mass0, rel=1e-8)
    assert previous.x.array.max() < peak0  # diffusion flattens the bump
    # the region tags cover the mesh: the region integrals add up
    by_region = sum(
        COMM.allreduce(
            fem.assemble_scalar(
                fem.form(
                    previous
                    * ufl.dx(domain=mesh, subdomain_data=data.cell_tags, subdomain_id=value)
                )
            ),
            op=MPI.SUM,
        )
        for value in data.cell_regions.values()
    )
    assert by_region == pytest.approx(mass, rel=1e-10)


# --- MPI -------------------------------------------------------------------------------

MPI_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from mpi4py import MPI
    from bmf_fem.meshes import build_mesh, region_measures
    results = []
    for kind, params in json.loads(sys.argv[1]):
        data = build_mesh(kind, params, MPI.COMM_WORLD)
        tdim = data.mesh.topology.dim
        results.append({
            "cells": data.mesh.topology.index_map(tdim).size_global,
            "local": data.mesh.topology.index_map(tdim).size_local,
            "vertices": data.mesh.topology.index_map(0).size_global,
            "measures": region_measures(data),
            "facets": data.quality.facet_counts,
        })
    locals_ = MPI.COMM_WORLD.gather([r["local"] for r in results])
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"size": MPI.COMM_WORLD.size, "results": results, "locals": locals_}))
    """
)

MPI_CASES = [
    ("crystal", {}),
    ("crystal", {"shape": "prism", "h": 0.25, "grains": 3}),
    ("box", {"dim": 3, "h": 0.25}),
    ("tissue", {"cells": 12, "lumen": 0.3}),
    ("web", {}),
]


@pytest.mark.mpi
@pytest.mark.slow
def test_two_ranks_match_one(tmp_path):
    script = tmp_path / "mpi_meshes.py"
    script.write_text(MPI_SCRIPT)
    web_file = tmp_path / "web.xdmf"  # a network read back in parallel keeps its junctions
    write_mesh("web", {"spokes": 8, "turns": 3}, web_file, COMM)
    cases = [*MPI_CASES, ("file", {"file": str(web_file)})]
    run = subprocess.run(
        ["mpirun", "-n", "2", sys.executable, str(script), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    parallel = json.loads(run.stdout.strip().splitlines()[-1])
    assert parallel["size"] == 2
    for index, (kind, params) in enumerate(cases):
        serial = build(kind, **params)
        result = parallel["results"][index]
        assert result["cells"] == global_cells(serial)
        assert result["vertices"] == serial.mesh.topology.index_map(0).size_global
        assert result["facets"] == serial.quality.facet_counts
        assert result["measures"] == pytest.approx(measures(serial), rel=1e-12)
        assert all(local[index] > 0 for local in parallel["locals"])  # really distributed
