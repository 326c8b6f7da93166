"""gmsh on rank 0, dolfinx everywhere: a safe gmsh session and the hand-over to dolfinx.

`GmshSession` initialises gmsh only when nobody has (a user's script may already have),
works in a model of its own, restores every option it changed and finalises only what it
initialised, also on error. `build_distributed` runs a geometry builder inside such a
session on one rank, tells the other ranks whether it worked, and distributes the mesh
with `gmshio.model_to_mesh`, keeping physical-group names as tag names.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gmsh
import numpy as np

from .data import MeshError

_model_counter = itertools.count()


class GmshSession:
    """A gmsh model of our own, with options restored and gmsh finalised as found."""

    def __init__(self, name: str = "bmf"):
        self.name = f"{name}-{next(_model_counter)}"
        self._owner = False
        self._previous_model: str | None = None
        self._saved_numbers: dict[str, float] = {}
        self._saved_strings: dict[str, str] = {}

    def __enter__(self) -> GmshSession:
        self._owner = not gmsh.isInitialized()
        if self._owner:
            gmsh.initialize(readConfigFiles=False, interruptible=False)
        else:
            self._previous_model = gmsh.model.getCurrent()
        try:
            self.set("General.Terminal", 0)
            self.set("General.Verbosity", 2)
            self.set("General.NumThreads", 1)  # determinism
            self.set("Mesh.RandomSeed", 1)
            gmsh.model.add(self.name)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def set(self, name: str, value: float | str) -> None:
        """Set a gmsh option, remembering its old value for the end of the session."""
        if isinstance(value, str):
            self._saved_strings.setdefault(name, gmsh.option.getString(name))
            gmsh.option.setString(name, value)
        else:
            self._saved_numbers.setdefault(name, gmsh.option.getNumber(name))
            gmsh.option.setNumber(name, value)

    def _close(self) -> None:
        if not gmsh.isInitialized():
            return
        if self._owner:
            gmsh.finalize()
            return
        try:
            if self.name in gmsh.model.list():
                gmsh.model.setCurrent(self.name)
                gmsh.model.remove()
            if self._previous_model is not None and self._previous_model in gmsh.model.list():
                gmsh.model.setCurrent(self._previous_model)
        finally:
            for name, value in self._saved_numbers.items():
                gmsh.option.setNumber(name, value)
            for name, value in self._saved_strings.items():
                gmsh.option.setString(name, value)


@dataclass
class Built:
    """What a builder reports about the model it meshed (on the building rank)."""

    gdim: int
    details: str = ""  # appended to the description, e.g. "6 spokes, 5 turns"


Builder = Callable[[GmshSession], Built]


def physical_groups(dim: int) -> dict[str, int]:
    """name -> tag of the physical groups of dimension `dim` in the current model."""
    groups = {}
    for d, tag in gmsh.model.getPhysicalGroups(dim):
        name = gmsh.model.getPhysicalName(d, tag) or f"tag_{tag}"
        groups[name] = tag
    return dict(sorted(groups.items(), key=lambda item: item[1]))


def top_dimension() -> int:
    """The highest dimension holding a physical group."""
    dims = [d for d, _ in gmsh.model.getPhysicalGroups()]
    if not dims:
        raise MeshError("the mesh has no physical groups (no tagged cells)")
    return max(dims)


def inverted_elements(tdim: int) -> int:
    """Elements of dimension `tdim` (in physical groups) with a negative Jacobian."""
    if tdim < 2:
        return 0
    count = 0
    for _, tag in gmsh.model.getPhysicalGroups(tdim):
        for entity in gmsh.model.getEntitiesForPhysicalGroup(tdim, tag):
            _, element_tags, _ = gmsh.model.mesh.getElements(tdim, entity)
            for tags in element_tags:
                if len(tags):
                    quality = gmsh.model.mesh.getElementQualities(tags, "minSJ")
                    count += int(np.count_nonzero(np.asarray(quality) < 0))
    return count


def build_distributed(
    comm: Any,
    builder: Builder,
    what: str,
    msh_out: Path | None = None,
    root: int = 0,
) -> tuple[Any, Any, Any, dict[str, int], dict[str, int], Built, int]:
    """Run `builder` on rank `root` in a gmsh session and distribute its mesh to `comm`.

    Collective. Returns (mesh, cell_tags, facet_tags, cell_regions, facet_regions,
    built, inverted) on every rank. An error on the building rank is raised as MeshError
    on every rank (no rank is left waiting).
    """
    from dolfinx.io import gmshio

    status: dict[str, Any]
    with GmshSession(what.replace("/", "-")) as session:
        if comm.rank == root:
            try:
                built = builder(session)
                gmsh.model.mesh.renumberNodes()
                gmsh.model.mesh.renumberElements()
                tdim = top_dimension()
                status = {
                    "error": None,
                    "built": built,
                    "tdim": tdim,
                    "cells": physical_groups(tdim),
                    "facets": physical_groups(tdim - 1) if tdim > 0 else {},
                    "inverted": inverted_elements(tdim),
                }
                if msh_out is not None:
                    session.set("Mesh.MshFileVersion", 4.1)
                    session.set("Mesh.SaveAll", 0)
                    gmsh.write(str(msh_out))
            except MeshError as error:
                status = {"error": str(error)}
            except Exception as error:  # gmsh raises plain Exceptions
                status = {"error": f"gmsh could not build {what}: {error}"}
        else:
            status = None  # type: ignore[assignment]
        status = comm.bcast(status, root=root)
        if status["error"] is not None:
            raise MeshError(status["error"])
        built = status["built"]
        model = gmsh.model if comm.rank == root else None
        partitioner = network_partitioner if status["tdim"] == 1 and comm.size > 1 else None
        mesh, cell_tags, facet_tags = gmshio.model_to_mesh(
            model, comm, root, gdim=built.gdim, partitioner=partitioner
        )
    cell_tags.name = "cell_tags"
    facet_tags.name = "facet_tags"
    return (
        mesh,
        cell_tags,
        facet_tags,
        status["cells"],
        status["facets"],
        built,
        status["inverted"],
    )


def network_partitioner(comm: Any, parts: int, cell_types: Any, cells: list[np.ndarray]) -> Any:
    """Cell destinations for a 1D network that keep every branching point on one rank.

    dolfinx 0.9 finds the vertices shared between ranks among the facets a rank sees
    only once; a junction of three threads split 2 + 1 between two ranks is then not
    recognised and duplicated, which cuts the network. So the cells around each junction
    are glued into one unit (units chain where a single cell joins two junctions), the
    units are ordered along the network (breadth first) and dealt out in equal shares.
    """
    from dolfinx.cpp.graph import AdjacencyList_int32

    connectivity = np.asarray(cells[0]).reshape(-1, 2) if len(cells) else np.empty((0, 2))
    count = len(connectivity)
    if count == 0:
        return AdjacencyList_int32(np.empty(0, dtype=np.int32), np.zeros(1, dtype=np.int32))
    vertex_cells: dict[int, list[int]] = {}
    for cell, (a, b) in enumerate(connectivity):
        vertex_cells.setdefault(int(a), []).append(cell)
        vertex_cells.setdefault(int(b), []).append(cell)
    parent = np.arange(count)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in vertex_cells.values():
        if len(group) > 2:
            for cell in group[1:]:
                parent[root(cell)] = root(group[0])
    # breadth-first order of the cells, for compact parts
    rank_in_order = np.empty(count, dtype=np.int64)
    seen = np.zeros(count, dtype=bool)
    position = 0
    for start in range(count):
        if seen[start]:
            continue
        seen[start] = True
        queue = [start]
        while queue:
            cell = queue.pop(0)
            rank_in_order[cell] = position
            position += 1
            for vertex in connectivity[cell]:
                for neighbour in vertex_cells[int(vertex)]:
                    if not seen[neighbour]:
                        seen[neighbour] = True
                        queue.append(neighbour)
    units = np.array([root(cell) for cell in range(count)])
    first = {}
    for cell in np.argsort(rank_in_order):
        first.setdefault(units[cell], len(first))
    unit_order = np.array([first[unit] for unit in units])
    order = np.lexsort((rank_in_order, unit_order))  # cells unit by unit
    sizes = np.bincount(unit_order)
    start_of_unit = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    share = np.minimum(start_of_unit * parts // count, parts - 1)
    destination = np.empty(count, dtype=np.int32)
    destination[order] = np.repeat(share, sizes).astype(np.int32)
    return AdjacencyList_int32(destination, np.arange(count + 1, dtype=np.int32))


def add_physical(dim: int, entities: list[int], tag: int, name: str) -> None:
    """A physical group with an explicit tag and name (entities sorted: deterministic)."""
    gmsh.model.addPhysicalGroup(dim, sorted(entities), tag, name)


def model_from_arrays(
    points: np.ndarray,
    blocks: list[tuple[int, np.ndarray, np.ndarray]],
    names: dict[tuple[int, int], str],
) -> None:
    """Fill the current (empty) gmsh model with a given mesh, as discrete entities.

    `points` (n, 3); `blocks` holds (gmsh element type, 0-based connectivity, tag value
    per element); `names` maps (dim, value) to a physical name. One discrete entity and
    one physical group per (dim, value), so that `model_to_mesh` keeps the tags.
    """
    node_tags = np.arange(1, len(points) + 1, dtype=np.uint64)
    element_tag = 1
    entities: dict[tuple[int, int], int] = {}
    first_entity: tuple[int, int] | None = None
    for element_type, connectivity, values in blocks:
        dim = gmsh.model.mesh.getElementProperties(element_type)[1]
        for value in np.unique(values):
            selected = connectivity[values == value]
            key = (dim, int(value))
            if key not in entities:
                entities[key] = gmsh.model.addDiscreteEntity(dim)
                if first_entity is None:
                    first_entity = (dim, entities[key])
                    gmsh.model.mesh.addNodes(dim, entities[key], node_tags, points.ravel())
            tags = np.arange(element_tag, element_tag + len(selected), dtype=np.uint64)
            element_tag += len(selected)
            gmsh.model.mesh.addElementsByType(
                entities[key], element_type, tags, (selected + 1).astype(np.uint64).ravel()
            )
    for (dim, value), entity in sorted(entities.items()):
        name = names.get((dim, value), f"tag_{value}")
        gmsh.model.addPhysicalGroup(dim, [entity], value, name)
