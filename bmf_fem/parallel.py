"""Small MPI helpers: rank-0 printing and global reductions of local arrays."""

from __future__ import annotations

import sys

import numpy as np
from mpi4py import MPI


def print0(comm: MPI.Comm, *args, file=None, **kwargs) -> None:
    """Print on rank 0 only."""
    if comm.rank == 0:
        print(*args, file=file or sys.stdout, flush=True, **kwargs)


def global_sum(comm: MPI.Comm, value: float) -> float:
    return comm.allreduce(float(value), op=MPI.SUM)


def global_max(comm: MPI.Comm, local: np.ndarray) -> float:
    """The maximum over all ranks of an owned-values array (-inf when all are empty)."""
    value = float(local.max()) if local.size else -np.inf
    return comm.allreduce(value, op=MPI.MAX)


def global_min(comm: MPI.Comm, local: np.ndarray) -> float:
    value = float(local.min()) if local.size else np.inf
    return comm.allreduce(value, op=MPI.MIN)
