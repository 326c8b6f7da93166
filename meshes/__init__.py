"""Geometry library: crystals, spider webs, tissues, boxes and mesh files as dolfinx meshes.

Every geometry carries named regions (gmsh physical groups) that become dolfinx mesh
tags, so inputs, perturbations and sites can name them. The public entry points:

    check_mesh_params(kind, params)       validate a [mesh] table without building
    build_mesh(kind, params, comm)        collective; gmsh runs on rank 0 only
    write_mesh(kind, params, out, comm)   .msh or .xdmf plus a PNG preview; a report

`params` holds the [mesh] keys except `kind`; a key set to None counts as unset.
Parameters, defaults and tags of each kind are documented in docs/geometry.md.

This folder is installed as ``bmf_fem.meshes`` (the package-dir mapping in
pyproject.toml).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from .data import MeshData, MeshError, MeshQuality, groups_from_names
from .parameters import KINDS as _REGISTRY
from .parameters import SHAPES, describe_keys, keys_of, kind_module, parse_options, resolve
from .quality import compute_quality, region_measures

KINDS: tuple[str, ...] = tuple(_REGISTRY)
"""The mesh kinds by name, from the registry in bmf_fem.meshes.parameters."""

__all__ = [
    "KINDS",
    "SHAPES",
    "MeshData",
    "MeshError",
    "MeshQuality",
    "build_mesh",
    "check_mesh_params",
    "describe_keys",
    "keys_of",
    "parse_options",
    "region_measures",
    "write_mesh",
]


def check_mesh_params(kind: str, params: dict[str, Any]) -> None:
    """Validate a mesh request without building it; raise MeshError naming the key."""
    resolve(kind, params)


def build_mesh(kind: str, params: dict[str, Any], comm: Any) -> MeshData:
    """Build the mesh of `kind` with `params` on `comm` (collective).

    gmsh runs on rank 0 only and the mesh is distributed with gmshio.model_to_mesh.
    Raises MeshError (on every rank) for invalid parameters, a failed build, or a mesh
    with degenerate or inverted cells.
    """
    return _build(kind, params, comm)


def write_mesh(kind: str, params: dict[str, Any], out: Path | str, comm: Any) -> str:
    """Build a mesh and write it to `out` (.msh or .xdmf) with a PNG preview next to it.

    Collective. Returns the quality report (counts, angles, radius ratios, regions).
    """
    from .output import write_preview, write_xdmf

    out = Path(out)
    if out.suffix not in (".msh", ".xdmf"):
        raise MeshError(f"cannot write a mesh to {out}: the file name must end in .msh or .xdmf")
    if comm.rank == 0:
        out.parent.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    data = _build(kind, params, comm, msh_out=out if out.suffix == ".msh" else None)
    if out.suffix == ".xdmf":
        write_xdmf(data, out)
    preview = out.with_suffix(".png")
    write_preview(data, preview)
    return f"{data.quality.report(data.description)}\nwrote {out} and {preview}"


def describe(p: dict[str, Any]) -> str:
    """The parameter part of a description, e.g. "crystal/hexagon size=1 h=0.04"."""
    if p["kind"] == "file":
        return f"file {p['file']}"
    return f"{p['kind']}/{p['shape']} size={p['size']:g} h={p['h']:g}"


def _build(kind: str, params: dict[str, Any], comm: Any, msh_out: Path | None = None) -> MeshData:
    from .gmsh_model import build_distributed

    p = resolve(kind, params)
    module = kind_module(kind)
    inverted = 0
    if kind == "file" and module.is_dolfinx_xdmf(p):
        if msh_out is not None:
            raise MeshError(
                f"converting the XDMF file {p['file']} to .msh is not supported; "
                "write .xdmf instead"
            )
        mesh, cell_tags, facet_tags, cell_regions, facet_regions = module.read_xdmf(p, comm)
        details = ""
    else:
        mesh, cell_tags, facet_tags, cell_regions, facet_regions, built, inverted = (
            build_distributed(comm, partial(module.build, p=p), describe(p), msh_out=msh_out)
        )
        details = built.details
    public = {k: v for k, v in p.items() if not k.startswith("_")}
    data = MeshData(
        mesh=mesh,
        cell_tags=cell_tags,
        facet_tags=facet_tags,
        cell_regions=cell_regions,
        facet_regions=facet_regions,
        description="",
        cell_groups=groups_from_names(cell_regions),
        facet_groups=groups_from_names(facet_regions),
        kind=kind,
        params=public,
    )
    data.quality = compute_quality(data, inverted)
    extra = f" ({details})" if details else ""
    data.description = f"{describe(p)}{extra}: {data.quality.num_cells} {data.quality.cells_name}"
    problems = data.quality.problems()
    if problems:
        raise MeshError(
            f"{data.description}: {problems}; the mesh is rejected "
            "(try another mesh.h, or check the geometry)"
        )
    if kind == "file" and p["dim"] is not None and p["dim"] != mesh.topology.dim:
        raise MeshError(f"mesh.dim = {p['dim']} but {p['file']} holds a {mesh.topology.dim}D mesh")
    return data
