"""Small MPI helpers: rank-0 printing and global reductions of local arrays."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from mpi4py import MPI

T = TypeVar("T")


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


def elementwise_max(comm: MPI.Comm, local: np.ndarray) -> np.ndarray:
    """The elementwise maximum over all ranks of a small array (one reduction)."""
    return _elementwise(comm, local, MPI.MAX)


def elementwise_sum(comm: MPI.Comm, local: np.ndarray) -> np.ndarray:
    """The elementwise sum over all ranks of a small array of partial sums (one reduction)."""
    return _elementwise(comm, local, MPI.SUM)


def _elementwise(comm: MPI.Comm, local: np.ndarray, op: MPI.Op) -> np.ndarray:
    if comm.size == 1:
        return local
    result = np.empty_like(local)
    comm.Allreduce(local, result, op=op)
    return result


def global_min(comm: MPI.Comm, local: np.ndarray) -> float:
    value = float(local.min()) if local.size else np.inf
    return comm.allreduce(value, op=MPI.MIN)


def on_rank0(comm: MPI.Comm, work: Callable[[], T]) -> T:
    """``work()`` on rank 0 while the other ranks sleep instead of spinning in MPI.

    Drawing is slow; ranks busy-waiting in a broadcast would take its CPU cores. The
    result is broadcast; an error on rank 0 is raised on every rank.
    """
    result, error = None, None
    if comm.rank == 0:
        try:
            result = work()
        except Exception as failure:  # every rank must leave the barrier
            error = failure
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.02)
    result, failed = comm.bcast((result, repr(error) if error else None), root=0)
    if error is not None:
        raise error
    if failed:
        raise RuntimeError(f"rank 0 failed: {failed}")
    return result
