"""One mesh per process for the runs that share it: the cases of a sweep.

Building a gmsh geometry, partitioning it and checking its quality is most of a small
case's fixed cost. A simulation does not change its mesh, so the cases of a sweep that
ask for the same mesh on the same ranks share the last one built. A mesh read from a
file is rebuilt when the file changes.
"""

from __future__ import annotations

import os
from typing import Any

from mpi4py import MPI

from bmf_fem.meshes import MeshData, build_mesh

_last: tuple[tuple, MeshData] | None = None


def mesh_for(kind: str, params: dict[str, Any], comm: MPI.Comm) -> MeshData:
    """The mesh of ``kind`` with ``params`` on ``comm`` (collective): the last one built
    if it is the same mesh on the same ranks, otherwise a new one."""
    global _last
    key = (kind, _frozen(params), _file_stamp(params))
    if _last is not None:
        last_key, data = _last
        # The mesh keeps its own duplicate of the communicator it was built on.
        same_ranks = MPI.Comm.Compare(comm, data.mesh.comm) in (MPI.IDENT, MPI.CONGRUENT)
        if comm.allreduce(last_key == key and same_ranks, op=MPI.LAND):
            return data
    _last = None  # the old mesh goes before the new one is built
    data = build_mesh(kind, params, comm)
    _last = (key, data)
    return data


def forget() -> None:
    """Drop the kept mesh (tests, and scripts that want the memory back)."""
    global _last
    _last = None


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _file_stamp(params: dict[str, Any]) -> tuple | None:
    """Size and modification time of a mesh file, so a changed file is read again."""
    path = params.get("path")
    if not isinstance(path, str | os.PathLike):
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)
