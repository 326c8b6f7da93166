"""Checkpoints for ``bmf run --resume``: the whole state of a run at a step boundary.

Layout in the run directory::

    checkpoint/
        mesh.bp/                the mesh in its input order (adios4dolfinx), written once
        step-000000100/         the previous complete checkpoint (the fallback)
        step-000000200/         the newest complete checkpoint; older ones are removed
            functions.bp/       every dof-based array, in input order (adios4dolfinx),
                                the functions of one space stacked as one blocked
                                function g<group>_0
            state.json          step, time, resolved config and its hash, mesh
                                fingerprint, and every component's small global values
        step-000000300.partial/ a checkpoint being written: ignored, removed later

A checkpoint is written into ``step-N.partial`` by all ranks; after a barrier rank 0
writes ``state.json`` last, syncs the files and renames the directory to ``step-N``
(atomic on POSIX file systems). A kill at any moment therefore leaves the previous
complete ``step-M`` in place, and resume picks the complete directory with the largest
step.

Functions are written with ``adios4dolfinx.write_function_on_input_mesh`` and read back
with ``adios4dolfinx.read_function`` into the mesh the configuration builds again
(gmsh numbers cells the same way on any rank count), so a run checkpointed on N ranks
resumes on M. ``mesh.bp`` makes a checkpoint self-contained for post-processing:
``adios4dolfinx.read_mesh(mesh.bp)`` then ``read_function(functions.bp, f, name="g0_0")``
into a blocked function (``state.json`` maps each component's function to its group
and component).

Components: adding state to checkpoints
---------------------------------------
A run's state is the union of its components' states (``Simulation.checkpoint_components``:
the run's metric history, the model's unknowns, the stepper's SBDF histories and step
counter, the perturbations' flags, and the ``sites`` and ``detection`` objects when
they implement the two methods below). A component is any object with

``checkpoint_state() -> CheckpointState``
    ``functions``: name -> ``fem.Function`` holding its dof-based data (live functions,
    or scratch functions filled from arrays); ``values``: small JSON-able data that is
    the same on every rank (scalars, flags, per-site lists). Per-rank arrays that are
    not functions cannot be moved to another rank count; put them in a DG0 (per cell)
    or P1 function.
``restore_checkpoint(state: CheckpointState) -> None``
    called on resume with the functions of a fresh ``checkpoint_state()`` already read
    in place and ``state.values`` replaced by the stored values.

A component must not depend on anything the run rebuilds from the configuration (it is
rebuilt before the restore). Noise needs no state: it is a pure function of
(seed, stream, step, dof), so the step index is enough.

Finding the complete checkpoints is in `bmf_fem.checkpoint_files`, deciding how to
resume in `bmf_fem.resume`, and a run's identity (configuration hash, mesh fingerprint)
in `bmf_fem.run_identity`; their public names are re-exported here.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from bmf_fem.checkpoint_files import CHECKPOINT_DIR, complete_checkpoints, latest_checkpoint
from bmf_fem.errors import ConfigError
from bmf_fem.resume import ResumePlan, plan_resume
from bmf_fem.run_identity import (
    config_data,
    config_differences,
    config_hash,
    mesh_fingerprint,
    require_same_config,
    same_mesh,
)
from bmf_fem.signals import deferred

__all__ = [
    "CHECKPOINT_DIR",
    "FORMAT_VERSION",
    "KEEP_CHECKPOINTS",
    "CheckpointState",
    "Checkpointable",
    "ResumePlan",
    "complete_checkpoints",
    "config_data",
    "config_differences",
    "config_hash",
    "latest_checkpoint",
    "mesh_fingerprint",
    "plan_resume",
    "require_same_config",
    "restore_checkpoint",
    "write_checkpoint",
]

FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 2  # the newest two: resume falls back to the older when the newer is damaged


@dataclass
class CheckpointState:
    """What one component contributes to a checkpoint (see the module docstring)."""

    functions: dict[str, fem.Function] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


class Checkpointable(Protocol):
    def checkpoint_state(self) -> CheckpointState: ...

    def restore_checkpoint(self, state: CheckpointState) -> None: ...


# ---------------------------------------------------------------------------------------
# Writing and reading


def write_checkpoint(
    run_dir: Path, components: dict[str, Checkpointable], meta: dict, mesh
) -> Path:
    """Write the state of every component as checkpoint ``step-<meta['step']>`` (collective).

    Returns the checkpoint directory. The previous checkpoint stays usable until the
    new one is complete, then it is removed. A second stop signal waits for the end.
    """
    with deferred():
        return _write_checkpoint(run_dir, components, meta, mesh)


def _write_checkpoint(
    run_dir: Path, components: dict[str, Checkpointable], meta: dict, mesh
) -> Path:
    adios2, adios4dolfinx = _adios()
    comm = mesh.comm
    directory = Path(run_dir) / CHECKPOINT_DIR
    name = f"step-{int(meta['step']):09d}"
    partial = directory / f"{name}.partial"
    final = directory / name
    if comm.bcast((final / "state.json").is_file() if comm.rank == 0 else None, root=0):
        return final  # this step is checkpointed already (the state of a step is unique)
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.partial"):
            shutil.rmtree(stale, ignore_errors=True)
        partial.mkdir()
    if comm.bcast(not (directory / "mesh.bp").exists(), root=0):
        adios4dolfinx.write_mesh_input_order(partial / "mesh.bp", mesh)
        comm.barrier()
        if comm.rank == 0:
            _sync_tree(partial / "mesh.bp")
            os.replace(partial / "mesh.bp", directory / "mesh.bp")

    functions_file = partial / "functions.bp"
    names: dict[str, dict[str, list]] = {}
    values: dict[str, dict] = {}
    members: dict[int, list[fem.Function]] = {}  # one group per function space
    for component_name, component in components.items():
        state = component.checkpoint_state()
        values[component_name] = state.values
        names[component_name] = {}
        for key, function in state.functions.items():
            space = id(function.function_space)
            group = members.setdefault(space, [])
            group.append(function)
            names[component_name][key] = [list(members).index(space), len(group) - 1]
    mode = adios2.Mode.Write
    groups = {}
    for number, functions in enumerate(members.values()):
        packed = _packed(functions, comm)
        for part, function in enumerate(packed):
            # Stored as g<group>_<part>: adios4dolfinx reserves names ending in "_time".
            adios4dolfinx.write_function_on_input_mesh(
                functions_file, function, mode=mode, time=0.0, name=f"g{number}_{part}"
            )
            mode = adios2.Mode.Append
        groups[number] = {"functions": len(functions), "parts": len(packed)}
    comm.barrier()
    if comm.rank == 0:
        document = {
            "format": FORMAT_VERSION,
            **meta,
            "functions": names,
            "groups": groups,
            "components": values,
        }
        _write_json_synced(partial / "state.json", document)
        _sync_tree(partial)
        os.replace(partial, final)
        _sync_directory(directory)
        for entry in complete_checkpoints(run_dir)[KEEP_CHECKPOINTS:]:
            shutil.rmtree(entry, ignore_errors=True)
    comm.barrier()
    return final


def restore_checkpoint(state: dict, components: dict[str, Checkpointable], mesh) -> None:
    """Read checkpoint ``state`` (from plan_resume) into the components (collective)."""
    _, adios4dolfinx = _adios()
    path = Path(state["path"])
    current = mesh_fingerprint(mesh)
    if not same_mesh(state["mesh"], current):
        raise ConfigError(
            f"cannot resume from {path}: the mesh built from the configuration "
            f"({current['cells']} cells, {current['nodes']} nodes) is not the mesh of the "
            f"checkpoint ({state['mesh']['cells']} cells, {state['mesh']['nodes']} nodes); "
            "was the mesh file or the gmsh version changed?"
        )
    missing = [name for name in components if name not in state["components"]]
    unknown = [name for name in state["components"] if name not in components]
    if missing or unknown:
        raise ConfigError(
            f"cannot resume from {path}: it holds the state of {sorted(state['components'])} "
            f"but this run has {sorted(components)}; it was written by another version"
        )
    fresh = {name: component.checkpoint_state() for name, component in components.items()}
    members: dict[int, list] = {}
    for name, state_now in fresh.items():
        stored_names = state["functions"][name]
        if set(stored_names) != set(state_now.functions):
            raise ConfigError(
                f"cannot resume from {path}: component {name} stored functions "
                f"{sorted(stored_names)} but now has {sorted(state_now.functions)}"
            )
        for key, (group, index) in stored_names.items():
            members.setdefault(group, {})[index] = state_now.functions[key]
    for group, by_index in sorted(members.items()):
        functions = [by_index[index] for index in range(len(by_index))]
        if any(f.function_space is not functions[0].function_space for f in functions):
            raise ConfigError(f"cannot resume from {path}: its function groups do not match")
        packed = _packed(functions, mesh.comm, fill=False)
        if len(packed) != state["groups"][str(group)]["parts"]:
            raise ConfigError(f"cannot resume from {path}: its function groups do not match")
        for part, target in enumerate(packed):
            adios4dolfinx.read_function(
                path / "functions.bp", target, time=0.0, name=f"g{group}_{part}"
            )
        _unpack(packed, functions)
    for name, component in components.items():
        fresh[name].values = state["components"][name]
        component.restore_checkpoint(fresh[name])


_BLOCKED_SPACES: dict[int, dict] = {}  # id(V) -> {k: blocked function}; dropped with V


def _packed(functions: list[fem.Function], comm, fill: bool = True) -> list[fem.Function]:
    """The functions of one scalar space stacked into one blocked function.

    adios4dolfinx stores a dofmap with every function (larger than the values for P1),
    so k functions as one function with k components cost one dofmap, not k. Spaces
    that cannot be stacked give the functions themselves.
    """
    V = functions[0].function_space
    k = len(functions)
    if k == 1 or V.dofmap.index_map_bs != 1:
        return list(functions)
    if id(V) not in _BLOCKED_SPACES:
        _BLOCKED_SPACES[id(V)] = {}
        weakref.finalize(V, _BLOCKED_SPACES.pop, id(V), None)
    cache = _BLOCKED_SPACES[id(V)]
    if k not in cache:
        import basix.ufl

        W = fem.functionspace(V.mesh, basix.ufl.blocked_element(V.ufl_element(), shape=(k,)))
        same = (
            W.dofmap.index_map.size_local == V.dofmap.index_map.size_local
            and W.dofmap.index_map.num_ghosts == V.dofmap.index_map.num_ghosts
            and np.array_equal(W.dofmap.list, V.dofmap.list)
        )
        cache[k] = fem.Function(W) if comm.allreduce(same, op=MPI.LAND) else None
    packed = cache[k]
    if packed is None:
        return list(functions)
    if fill:
        stacked = packed.x.array.reshape(-1, k)
        for component, function in enumerate(functions):
            stacked[:, component] = function.x.array
    return [packed]


def _unpack(packed: list[fem.Function], functions: list[fem.Function]) -> None:
    if len(packed) == len(functions) and all(map(operator.is_, packed, functions)):
        return
    stacked = packed[0].x.array.reshape(-1, len(functions))
    for component, function in enumerate(functions):
        function.x.array[:] = stacked[:, component]


def _adios():
    """adios2 (MPI bindings) and adios4dolfinx.

    Debian's adios2 loads its serial bindings unless it sees mpirun's environment, and
    adios4dolfinx refuses those; a serial run (no mpirun) needs ADIOS2_ALWAYS_USE_MPI.
    """
    os.environ.setdefault("ADIOS2_ALWAYS_USE_MPI", "1")
    import adios2
    import adios4dolfinx

    return adios2.bindings, adios4dolfinx


def _write_json_synced(path: Path, data: dict) -> None:
    with open(path, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _sync_tree(path: Path) -> None:
    """fsync every file below ``path`` and the directories themselves (power cuts)."""
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                descriptor = os.open(os.path.join(root, name), os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
        _sync_directory(Path(root))


def _sync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
