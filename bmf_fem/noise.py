"""Seeded Gaussian noise that does not depend on how the mesh is partitioned.

Each degree of freedom gets a key built from the original (input) indices of the mesh
vertices it sits on: a vertex dof the key of its vertex, an edge dof (P2) the sorted
pair of its edge's vertices. The noise value is a counter-based hash of
(seed, stream, step, key) turned into N(0, 1) by Box-Muller, so 1 or N ranks draw the
same number for the same dof and nothing has to be communicated.
"""

from __future__ import annotations

import basix
import numpy as np
from dolfinx import fem

# Noise streams: the local field u draws stream 0, the sites stream 1 (memory modes carry
# no noise), so the two never share numbers.
FIELD_NOISE_STREAM = 0
SITE_NOISE_STREAM = 1

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a bijective, well-mixing hash of uint64 values."""
    with np.errstate(over="ignore"):
        z = values + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def dof_keys(V: fem.FunctionSpace) -> np.ndarray:
    """Partition-independent uint64 keys of the local dofs (owned and ghost) of V.

    Supports scalar Lagrange spaces of degree 1 and 2 on affine meshes.
    """
    mesh = V.mesh
    degree = V.element.basix_element.degree
    if degree not in (1, 2) or mesh.geometry.cmap.degree != 1:
        raise NotImplementedError("noise keys need P1 or P2 on an affine mesh")
    original = np.asarray(mesh.geometry.input_global_indices, dtype=np.uint64)
    nodes = original[mesh.geometry.dofmap]  # (cells, vertices): original vertex indices
    cell_dofs = V.dofmap.list
    layout = V.dofmap.dof_layout
    n_local = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
    keys = np.zeros(n_local, dtype=np.uint64)
    shift = np.uint64(32)
    for vertex in range(nodes.shape[1]):
        (local,) = layout.entity_dofs(0, vertex)
        keys[cell_dofs[:, local]] = (nodes[:, vertex] << shift) | nodes[:, vertex]
    if degree == 2:
        cell_type = basix.CellType[mesh.topology.cell_name()]
        for edge, (a, b) in enumerate(basix.topology(cell_type)[1]):
            (local,) = layout.entity_dofs(1, edge)
            lo = np.minimum(nodes[:, a], nodes[:, b])
            hi = np.maximum(nodes[:, a], nodes[:, b])
            keys[cell_dofs[:, local]] = (lo << shift) | hi | np.uint64(1 << 63)
    return keys


class NoiseSource:
    """Standard normal numbers per dof, per step and per stream, from one seed."""

    def __init__(self, seed: int, keys: np.ndarray):
        self.seed = int(seed)
        self.hashed_keys = splitmix64(keys)

    def normal(self, step: int, stream: int) -> np.ndarray:
        """N(0, 1) values for every local dof at time step ``step`` of ``stream``."""
        base = np.array([self.seed], dtype=np.uint64)
        for counter in (stream, step):
            base = splitmix64(splitmix64(base) ^ np.uint64(counter))
        with np.errstate(over="ignore"):
            h1 = splitmix64(self.hashed_keys ^ base)
            h2 = splitmix64(h1 ^ _GOLDEN)
        scale = 2.0**-53
        u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 1.0) * scale  # (0, 1]
        u2 = (h2 >> np.uint64(11)).astype(np.float64) * scale  # [0, 1)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
