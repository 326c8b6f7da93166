"""The lumped mass of a consistent mass matrix."""

from __future__ import annotations

from petsc4py import PETSc


def lumped_mass(mass: PETSc.Mat) -> tuple[PETSc.Vec, PETSc.Vec]:
    """Row-sum and diagonally scaled (HRZ) lumped masses of a consistent mass matrix.

    The row sum integrates exactly (``1^T M u``); the HRZ diagonal is positive for every
    Lagrange degree and is the one used for pointwise updates and noise scaling.
    """
    ones = mass.createVecRight()
    ones.set(1.0)
    rowsum = mass.createVecLeft()
    mass.mult(ones, rowsum)
    diagonal = mass.getDiagonal()
    diagonal.scale(rowsum.sum() / diagonal.sum())
    ones.destroy()
    return rowsum, diagonal
