"""Which sites are neighbours: the adjacency graph the spatial detectors read.

Cells mode: sites whose regions share a facet (a vertex on a web), a small global graph
held on every rank (SciPy). Continuum mode: degrees of freedom that share a mesh cell, a
distributed PETSc matrix (one SpMV per product, any rank count).

The neighbourhood of a site is everything within ``hops`` steps of the graph, weighted
by the kernel ``W = (I + A)^hops`` (the number of walks of at most ``hops`` steps: the
site itself and near neighbours count most).
"""

from __future__ import annotations

import numpy as np

REFERENCE = -1.0
"""The sites' lower well at zero tilt, where s sits before it expresses."""


class Neighbourhood:
    """What both kinds share: the kernel and the constant sums over it. A subclass gives
    ``adjacent(x)`` (``A x``) and calls ``_measure(n, hops)`` once it can."""

    def adjacent(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def kernel(self, values: np.ndarray) -> np.ndarray:
        """``W x = (I + A)^hops x`` (collective in continuum mode)."""
        result = np.asarray(values, dtype=np.float64)
        for _ in range(self.hops):
            result = result + self.adjacent(result)
        return result

    def _measure(self, n: int, hops: int) -> None:
        self.hops = hops
        self.degree = self.adjacent(np.ones(n))
        self.weights = self.kernel(np.ones(n))  # N_i
        self.degree_weights = self.kernel(self.degree)  # sum_j w_ij d_j

    def destroy(self) -> None:
        """Nothing to release."""


class GraphNeighbourhood(Neighbourhood):
    """The adjacency of ``n`` sites given as edge lists (each edge once)."""

    def __init__(self, n: int, first: np.ndarray, second: np.ndarray, hops: int):
        import scipy.sparse as sp  # here: reading a configuration stays fast

        ones = np.ones(len(first))
        upper = sp.coo_matrix((ones, (first, second)), shape=(n, n))
        self.matrix = (upper + upper.T).tocsr()
        self._measure(n, hops)

    def adjacent(self, values: np.ndarray) -> np.ndarray:
        """``A x``: the sum over each site's neighbours."""
        return self.matrix @ values


class MeshNeighbourhood(Neighbourhood):
    """The adjacency of the owned dofs of a scalar space (dofs sharing a cell)."""

    def __init__(self, V, hops: int):
        import ufl
        from dolfinx import fem
        from dolfinx.fem import petsc as fem_petsc
        from petsc4py import PETSc

        pattern = fem_petsc.assemble_matrix(
            fem.form(ufl.TrialFunction(V) * ufl.TestFunction(V) * ufl.dx)
        )
        pattern.assemble()
        start, _ = pattern.getOwnershipRange()
        indptr, indices, _values = pattern.getValuesCSR()
        rows = np.repeat(np.arange(len(indptr) - 1) + start, np.diff(indptr))
        weights = (indices != rows).astype(PETSc.ScalarType)
        self.matrix = PETSc.Mat().createAIJ(
            pattern.getSizes(), csr=(indptr, indices, weights), comm=pattern.comm
        )
        self.matrix.assemble()
        pattern.destroy()
        self.x, self.y = self.matrix.createVecs()
        self._measure(self.x.getLocalSize(), hops)

    def adjacent(self, values: np.ndarray) -> np.ndarray:
        """``A x`` at the owned dofs (collective)."""
        self.x.array[:] = values
        self.matrix.mult(self.x, self.y)
        return self.y.array.copy()

    def destroy(self) -> None:
        """Release the PETSc objects (collectively)."""
        for item in (self.matrix, self.x, self.y):
            item.destroy()


def spatial_indicators(
    values: np.ndarray, neighbourhood
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spatial variance, skewness and Moran's I of s over every site's neighbourhood.

    With kernel weights ``w_ij`` of site i's neighbourhood, ``N_i = sum_j w_ij``, its mean
    ``m_i``, ``z_j = s_j - m_i`` and the adjacency ``a_jk``:

        variance_i = sum_j w_ij z_j^2 / N_i
        skewness_i = sum_j w_ij z_j^3 / N_i / variance_i^(3/2)
        moran_i    = sum_j w_ij z_j sum_k a_jk z_k / (sum_j w_ij d_j variance_i)

    (``d_j = sum_k a_jk``): Moran's I of the neighbourhood, each pair weighted by the
    kernel of its first site. All from kernel and adjacency products of s, s^2, s^3.
    Where s is flat (variance 0) skewness and Moran's I are 0. The sums are taken of
    ``s - REFERENCE`` (the lower well), which changes none of the results but keeps the
    variance of small fluctuations about the well from cancelling away.
    """
    s = np.asarray(values, dtype=np.float64) - REFERENCE
    kernel, adjacent = neighbourhood.kernel, neighbourhood.adjacent
    degree = neighbourhood.degree
    total = neighbourhood.weights
    mean = kernel(s) / total
    second = kernel(s * s) / total
    third = kernel(s**3) / total
    variance = np.maximum(second - mean**2, 0.0)
    central_third = third - 3.0 * mean * second + 2.0 * mean**3
    neighbours_sum = adjacent(s)
    pairs = (
        kernel(s * neighbours_sum)
        - mean * kernel(s * degree)
        - mean * kernel(neighbours_sum)
        + mean**2 * neighbourhood.degree_weights
    )
    # A relative floor: a variance at rounding level of s^2 is a flat neighbourhood.
    flat = variance <= 1e-12 * np.maximum(second, 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        skewness = np.where(flat, 0.0, central_third / variance**1.5)
        moran = np.where(flat, 0.0, pairs / (neighbourhood.degree_weights * variance))
    return variance, skewness, moran
