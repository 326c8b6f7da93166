"""What a geometry hands to the solver: the distributed mesh, its tags, their names and its
quality record (computed by bmf_fem.meshes.quality)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bmf_fem.suggest import closest

if TYPE_CHECKING:
    import dolfinx.mesh


class MeshError(ValueError):
    """A mesh could not be described or built; the message names the `mesh.<key>` at fault."""


def groups_from_names(regions: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Named unions of regions: a region called ``"spoke_3.2"`` belongs to group ``"spoke_3"``.

    The web names each thread segment ``<thread>.<k>``; the thread is then a group of
    segment tags. Deriving groups from names keeps them through .msh and XDMF files.
    """
    groups: dict[str, list[int]] = {}
    for name, value in regions.items():
        if "." in name:
            groups.setdefault(name.rsplit(".", 1)[0], []).append(value)
    return {name: tuple(sorted(values)) for name, values in sorted(groups.items())}


@dataclass
class MeshData:
    """A dolfinx mesh with named cell and facet tags.

    ``cell_regions`` and ``facet_regions`` map physical-group names to tag values;
    ``cell_groups`` and ``facet_groups`` map names of unions of regions (web threads)
    to the tag values they contain. ``region_values`` resolves either kind of name.
    """

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags | None
    facet_tags: dolfinx.mesh.MeshTags | None
    cell_regions: dict[str, int]
    facet_regions: dict[str, int]
    description: str
    cell_groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    facet_groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    kind: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    quality: MeshQuality | None = None

    def region_values(self, name: str, facets: bool = False) -> tuple[int, ...]:
        """Tag values a region or group name stands for (cells, or facets if `facets`)."""
        regions = self.facet_regions if facets else self.cell_regions
        groups = self.facet_groups if facets else self.cell_groups
        if name in regions:
            return (regions[name],)
        if name in groups:
            return groups[name]
        what = "facet" if facets else "cell"
        raise MeshError(
            f"the mesh has no {what} region {name!r}; {_choices(name, [*regions, *groups])}"
        )

    def region_names(self, facets: bool = False) -> list[str]:
        """All names usable in `region_values`: regions first, then groups."""
        if facets:
            return [*self.facet_regions, *self.facet_groups]
        return [*self.cell_regions, *self.cell_groups]

    def cells(self, name: str) -> np.ndarray:
        """Local indices (owned and ghost) of the cells of a region or group."""
        return _find(self.cell_tags, self.region_values(name))

    def facets(self, name: str) -> np.ndarray:
        """Local indices of the facets of a facet region or group."""
        return _find(self.facet_tags, self.region_values(name, facets=True))


def _choices(name: str, known: list[str], shown: int = 8) -> str:
    """The closest names to ``name`` and a short list of the rest."""
    if not known:
        return "it has none"
    close = closest(name, known, count=3)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    names = sorted(known)
    listed = ", ".join(names[:shown])
    more = f", ... ({len(names)} in all; summary.json lists them)" if len(names) > shown else ""
    return f"{hint}it has: {listed}{more}"


def _find(tags: dolfinx.mesh.MeshTags | None, values: tuple[int, ...]) -> np.ndarray:
    if tags is None:
        return np.empty(0, dtype=np.int32)
    found = [tags.indices[tags.values == value] for value in values]
    return np.unique(np.concatenate(found)).astype(np.int32) if found else np.empty(0, np.int32)


MEASURE_NAME = {0: "count", 1: "length", 2: "area", 3: "volume"}
PLURAL = {
    "interval": "intervals",
    "triangle": "triangles",
    "tetrahedron": "tetrahedra",
    "quadrilateral": "quadrilaterals",
    "hexahedron": "hexahedra",
}


@dataclass
class MeshQuality:
    """Global quality numbers (the same on every rank)."""

    cell_type: str
    tdim: int
    gdim: int
    num_cells: int
    num_vertices: int
    measure: float
    min_angle: float  # degrees; nan for intervals
    radius_ratio_min: float  # nan where not defined
    radius_ratio_mean: float
    edge_min: float
    edge_max: float
    degenerate: int
    inverted: int
    cell_counts: dict[str, int] = field(default_factory=dict)
    cell_measures: dict[str, float] = field(default_factory=dict)
    facet_counts: dict[str, int] = field(default_factory=dict)
    facet_measures: dict[str, float] = field(default_factory=dict)

    @property
    def cells_name(self) -> str:
        return PLURAL.get(self.cell_type, self.cell_type + "s")

    def problems(self) -> str:
        """Why the mesh is unusable, or "" when it is fine."""
        issues = []
        if self.num_cells == 0:
            issues.append("the mesh has no cells")
        if self.degenerate:
            issues.append(f"{self.degenerate} degenerate cells (zero {MEASURE_NAME[self.tdim]})")
        if self.inverted:
            issues.append(f"{self.inverted} inverted cells (negative Jacobian)")
        return "; ".join(issues)

    def report(self, description: str) -> str:
        """A few lines for `bmf mesh`: counts, quality, and every region's size."""
        cells = f"{self.num_cells} {self.cells_name}"
        lines = [
            description,
            f"  {cells}, {self.num_vertices} vertices, tdim {self.tdim}, gdim {self.gdim}, "
            f"{MEASURE_NAME[self.tdim]} {self.measure:.6g}",
        ]
        if self.tdim >= 2:
            lines.append(
                f"  min angle {self.min_angle:.1f} deg, radius ratio min "
                f"{self.radius_ratio_min:.3f} mean {self.radius_ratio_mean:.3f}"
            )
        lines.append(f"  edge length {self.edge_min:.3g} .. {self.edge_max:.3g}")
        lines.append(f"  degenerate cells {self.degenerate}, inverted cells {self.inverted}")
        lines.extend(_region_lines("cell", self.cell_counts, self.cell_measures, self.tdim))
        lines.extend(_region_lines("facet", self.facet_counts, self.facet_measures, self.tdim - 1))
        return "\n".join(lines)


def _region_lines(what: str, counts: dict, measures: dict, dim: int) -> list[str]:
    if not counts:
        return [f"  {what} regions: none"]
    lines = [f"  {what} regions ({len(counts)}):"]
    shown = list(counts)
    if len(shown) > 24:
        shown = [*shown[:20], "...", *shown[-3:]]
    for name in shown:
        if name == "...":
            lines.append("    ...")
            continue
        size = "" if dim == 0 else f"  {MEASURE_NAME[dim]} {measures[name]:.6g}"
        lines.append(f"    {name:<16} {counts[name]:>8} {what}s{size}")
    return lines
