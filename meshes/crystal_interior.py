"""Inside a crystal: where its inclusions (holes) go and the Voronoi cells of its grains."""

from __future__ import annotations

from typing import Any

import numpy as np

from .crystal_outline import Outline
from .data import MeshError
from .keys import requirement
from .shapes import ConvexPiece
from .voronoi import bounded_cells, spaced_points


def place_inclusions(p: dict[str, Any], outline: Outline) -> np.ndarray:
    """Centres of the inclusions: given, or random (seeded) with clearances."""
    count, radius = p["inclusions"], p["inclusion_radius"]
    dim = outline.dim
    margin = max(2 * p["h_min"], 0.25 * radius)
    if p["inclusion_centres"] is not None:
        centres = np.array(p["inclusion_centres"], dtype=float).reshape(-1, dim)
        depths = outline.depth(centres)
        for index, (centre, depth) in enumerate(zip(centres, depths, strict=True)):
            requirement(
                depth >= radius + margin / 2,
                f"mesh.inclusion_centres[{index}] = {centre.tolist()} is not inside "
                f"the crystal with room for mesh.inclusion_radius = {radius:g}",
            )
        for i in range(count):
            for j in range(i):
                requirement(
                    np.linalg.norm(centres[i] - centres[j]) >= 2 * radius + margin / 2,
                    f"mesh.inclusion_centres[{j}] and [{i}] overlap (radius {radius:g})",
                )
        return centres
    rng = np.random.default_rng([p["seed"], 1])
    lower, upper = outline.bounds()
    centres: list[np.ndarray] = []
    for _ in range(count):
        for _attempt in range(20000):
            candidate = lower + (upper - lower) * rng.random(dim)
            if outline.depth(candidate[None, :])[0] < radius + margin:
                continue
            if outline.core is not None and abs(outline.core.depth(candidate)[0]) < radius + margin:
                continue
            if any(np.linalg.norm(candidate - c) < 2 * radius + margin for c in centres):
                continue
            centres.append(candidate)
            break
        else:
            raise MeshError(
                f"mesh.inclusions = {count} do not fit in the crystal with mesh.inclusion_radius"
                f" = {radius:g} (placed {len(centres)}); use fewer or smaller inclusions"
                " (random inclusions also keep clear of the core boundary; mesh.core_fraction"
                " = 0 removes the core)"
            )
    return np.array(centres).reshape(-1, dim)


def grain_cells(p: dict[str, Any], outline: Outline) -> list[ConvexPiece]:
    """Voronoi cells (clipped to a box around the crystal) of seeded grain centres."""
    rng = np.random.default_rng([p["seed"], 2])
    lower, upper = outline.bounds()
    spacing = 0.5 * (outline.measure_bound() / p["grains"]) ** (1 / outline.dim)
    seeds = spaced_points(rng, p["grains"], lower, upper, lambda x: outline.depth(x) > 0, spacing)
    pad = 0.05 * (upper - lower)
    return bounded_cells(seeds, lower - pad, upper + pad)
