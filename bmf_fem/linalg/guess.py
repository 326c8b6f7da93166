"""The initial guess of a solve: the best combination of the latest values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from petsc4py import PETSc

from bmf_fem.parallel import elementwise_sum

# Solves are accurate relative to what changes in a step: CG stops when the residual is
# rtol times that of w^n, ``b - A w^n`` (the right-hand side of the step's increment),
# not rtol times b (the size of the state), so a change of 1e-8 of a state of order one
# is solved to rtol of itself. The residual of w^n cannot be computed better than the
# rounding of ``A w^n`` and b, about 1e-16 of ||b|| per product and entry: the test asks
# for no less than this fraction of ||b|| (of ||B b|| with multigrid).
ROUNDING_FLOOR = 1e-14

# The guess's trust in its images (:func:`_trusted_projection`): the rounding of a product
# with A relative to its norm, the smallest image of a difference (relative to A w^n)
# taken as a direction, and the share of the tolerance the images' rounding may take of
# the guess's residual.
IMAGE_ROUNDING = 1e-14
DIFFERENCE_FLOOR = 1e-12
GUESS_ROUNDING_SHARE = 1e-3

# Directions of the guess's Gram matrix (scaled to a unit diagonal) with eigenvalues
# below this fraction of the largest are dropped: values that repeat each other, where
# rounding would decide the coefficients.
GRAM_CUTOFF = 1e-10


class ProjectedGuess:
    """The initial guess with the smallest residual in the span of the latest values.

    For ``A x = b`` and the values ``w^n, w^{n-1}, ...`` of the latest calls, the guess
    minimises ``||b - A x||`` over their span: the least-squares counterpart of
    P. Fischer's projection for successive right-hand sides, and the norm the solve's
    skip check and plain-residual test measure. The span holds the plain guess w^n and
    every polynomial extrapolation of the values, so the guess's residual is never
    larger than theirs, and with noise or a switching input the values are simply
    weighted differently.

    The guess is ``w^n + sum_j c_j d_j`` over the backward differences ``d_0 = w^n``,
    ``d_{j+1} = d_j - d_j^{old}``, whose images ``A d_0 = A w^n``,
    ``A d_{j+1} = A d_j - (A d_j)^{old}`` are kept as a table updated by one vector update
    per entry and call; c minimises ``||r_n - sum_j c_j A d_j||`` for the residual of w^n,
    ``r_n = b - A w^n``, the right-hand side of the step's increment. In the basis of the
    values themselves the Gram matrix cannot be computed in floating point beyond three:
    values that agree to 1e-3 and better give condition numbers of 1e12-1e15, and a guess
    worse than the one from three values. A call costs one SpMV (the image of w^n: every
    image is a product with A, so no rounding is carried from step to step), one vector
    update per difference, the Gram matrix of the rows ``r_n, A d_0, A d_1, ...`` (one
    array, one matrix-vector product per row, one reduction; PETSc's VecMDot gives digits
    that depend on where the vectors lie in memory, so reruns would differ) and two
    combinations (the guess from the values, its residual from the images). The values
    are kept for the guess and for checkpoints: :meth:`restore` rebuilds the same table
    from them, digit for digit.
    """

    def __init__(self, matrix: PETSc.Mat):
        self.matrix = matrix
        self.comm = matrix.getComm().tompi4py()
        self.values: list[PETSc.Vec] = []  # w^n, w^{n-1}, ... of the last calls
        self.spare: list[PETSc.Vec] = []  # value vectors to reuse
        self.count = 0  # images in the table
        self.tables: list[np.ndarray] = []  # two arrays of rows r_n, A d_0, A d_1, ...
        self.rows: list[list[PETSc.Vec]] = []  # the rows of each table as vectors
        self.active = 0  # the table holding the current images
        self.rhs_norm = 0.0  # ||b|| of the last call
        self.step_rhs_norm = 0.0  # ||b - A w^n|| of the last call
        self.tolerance = 0.0  # the residual norm the last call's solve must reach

    def forget_images(self) -> None:
        """The operator changed: the images become products with the new one."""
        values = [value.array_r.copy() for value in self.values]
        self.restore(values, len(values))

    def restore(self, values: Sequence[np.ndarray], count: int) -> None:
        """Start again from ``values`` (local arrays, newest first), as if the calls
        that saw them had just been made."""
        self.spare += self.values
        self.values, self.count = [], 0
        for array in reversed(values):
            value = self._take()
            value.array_w[:] = array[: value.getLocalSize()]
            value.stateIncrease()
            self._add(value, count)

    def project(
        self, rhs: PETSc.Vec, current: PETSc.Vec, values: int, rtol: float, atol: float
    ) -> bool:
        """Overwrite ``current`` (w^n) with the guess from it and the ``values - 1``
        values of the calls before, and ``residual`` with the guess's residual; True when
        that already meets ``||b - A x|| <= max(rtol ||b - A w^n||, 1e-14 ||b||, atol)``."""
        value = self._take()
        current.copy(value)
        self._add(value, values)
        table = self.tables[self.active]
        rows = self.rows[self.active]
        count = self.count
        np.subtract(rhs.array_r, table[1], out=table[0])  # r_n = b - A w^n
        rows[0].stateIncrease()  # PETSc caches norms: tell it the array changed
        local = np.zeros((count + 2, count + 1))  # the Gram matrix of the rows, then ||b||^2
        for i in range(count + 1):
            local[i, i:] = table[i : count + 1] @ table[i]
        local[-1, 0] = np.dot(rhs.array_r, rhs.array_r)
        products = elementwise_sum(self.comm, local)
        self.rhs_norm = float(np.sqrt(products[-1, 0]))
        products = np.triu(products[:-1]) + np.triu(products[:-1], 1).T
        gram, moments = products[1:, 1:], products[0, 1:]
        self.step_rhs_norm = float(np.sqrt(max(products[0, 0], 0.0)))
        self.tolerance = max(rtol * self.step_rhs_norm, ROUNDING_FLOOR * self.rhs_norm, atol)
        image_norm = float(np.sqrt(max(gram[0, 0], 0.0)))  # ||A w^n||
        coefficients = _trusted_projection(
            gram, moments, image_norm, GUESS_ROUNDING_SHARE * self.tolerance
        )
        if coefficients is None:  # A w^n and every difference are zero: the guess is w^n
            coefficients = np.zeros(1)
        used = len(coefficients)
        weights = _value_weights(coefficients)
        weights[0] += 1.0
        current.zeroEntries()
        current.maxpy(weights, self.values[:used])
        rows[0].maxpy(-coefficients, rows[1 : used + 1])  # r_n becomes the guess's residual
        return rows[0].norm() <= self.tolerance

    @property
    def residual(self) -> PETSc.Vec:
        """``b - A x`` of the last guess x."""
        return self.rows[self.active][0]

    def _add(self, value: PETSc.Vec, count: int) -> None:
        """Take ``value`` as the newest of at most ``count`` values; the images of the
        differences become ``new_0 = A value``, ``new_{j+1} = new_j - old_j``."""
        self._tables(count)
        old = self.tables[self.active]
        self.active = 1 - self.active
        new = self.tables[self.active]
        self.matrix.mult(value, self.rows[self.active][1])
        kept = min(self.count, count - 1)
        for j in range(kept):
            np.subtract(new[j + 1], old[j + 1], out=new[j + 2])
            self.rows[self.active][j + 2].stateIncrease()
        self.count = kept + 1
        self.spare += self.values[count - 1 :]
        self.values = [value, *self.values[: count - 1]]

    def _tables(self, count: int) -> None:
        """Two tables of ``count + 1`` rows (made at the first call, or for more values)."""
        if self.tables and self.tables[0].shape[0] >= count + 1:
            return
        local, size = self.matrix.getLocalSize()[0], self.matrix.getSize()[0]
        previous = self.tables
        self.tables, self.rows = [], []
        for index in range(2):
            table = np.zeros((count + 1, local))
            if previous:
                rows = previous[index].shape[0]
                table[:rows] = previous[index]
            self.tables.append(table)
            self.rows.append(
                [
                    PETSc.Vec().createWithArray(row, size=(local, size), comm=self.matrix.getComm())
                    for row in table
                ]
            )

    def _take(self) -> PETSc.Vec:
        return self.spare.pop() if self.spare else self.matrix.createVecLeft()

    def destroy(self) -> None:
        for vec in (*self.values, *self.spare):
            vec.destroy()
        for rows in self.rows:
            for vec in rows:
                vec.destroy()


def _value_weights(coefficients: np.ndarray) -> np.ndarray:
    """Weights of the values w^n, w^{n-1}, ... in ``sum_j c_j d_j``, d_j the j-th backward
    difference ``sum_l (-1)^l binom(j, l) w^{n-l}``."""
    count = len(coefficients)
    weights = np.zeros(count)
    for j, c in enumerate(coefficients):
        for back in range(j + 1):
            weights[back] += c * (-1) ** back * math.comb(j, back)
    return weights


def _trusted_projection(
    gram: np.ndarray, moments: np.ndarray, image_norm: float, allowed: float
) -> np.ndarray | None:
    """Least-squares coefficients ``gram c = moments`` over the leading differences
    whose images can be trusted; None when every value is zero.

    An image ``A d_j`` is a signed sum of 2^j products with A, each rounded by about
    1e-14 of ``||A w^n||``; the guess's residual is then off by up to
    ``1e-14 ||A w^n|| sum_j 2^j |c_j|``. Images below 1e-12 of ``A w^n`` are rounding
    themselves and end the table; beyond that the highest differences are dropped until
    that bound is within ``allowed``: a tiny difference with a large coefficient (a
    residual chased along a direction made of rounding) would otherwise give a residual
    that is not the guess's.
    """
    count = len(moments)
    for j in range(1, count):
        if gram[j, j] <= DIFFERENCE_FLOOR**2 * gram[0, 0]:
            count = j
            break
    while True:
        coefficients = _pseudo_solve(gram[:count, :count], moments[:count])
        if coefficients is None or count == 1:
            return coefficients
        weights = 2.0 ** np.arange(count)
        if IMAGE_ROUNDING * image_norm * np.sum(weights * np.abs(coefficients)) <= allowed:
            return coefficients
        count -= 1


def _pseudo_solve(gram: np.ndarray, moments: np.ndarray) -> np.ndarray | None:
    """``gram c = moments`` for a symmetric semi-definite ``gram``: scaled to a unit
    diagonal, then dropping directions whose eigenvalue is below GRAM_CUTOFF of the largest
    (vectors that are zero or repeat each other)."""
    diagonal = np.diag(gram)
    if diagonal.max(initial=0.0) <= 0.0:
        return None
    scale = np.zeros_like(diagonal)
    positive = diagonal > 0.0
    scale[positive] = 1.0 / np.sqrt(diagonal[positive])
    values, vectors = np.linalg.eigh(scale[:, None] * gram * scale[None, :])
    keep = values > GRAM_CUTOFF * values[-1]
    projected = vectors[:, keep].T @ (scale * moments) / values[keep]
    return scale * (vectors[:, keep] @ projected)
