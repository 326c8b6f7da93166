"""The runs of one process that ask for the same mesh share it (sweeps), and a shared
mesh gives the same run as a new one."""

from __future__ import annotations

import numpy as np
from model_setup import QUIET, advance, make
from mpi4py import MPI

from bmf_fem import mesh_reuse
from bmf_fem.config import config_from_dict


def config(h: float = 0.1, D: float = 0.01) -> dict:
    return {
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": h},
        "time": {"dt": 0.05, "t_end": 1.0},
        "field": {"D": D, "noise": 0.05},
        "input": [{"centre": [0.5, 0.5], "radius": 0.2, "start": 0.0, "width": 0.3}],
        **QUIET,
    }


def run(data: dict) -> tuple[object, np.ndarray]:
    simulation = make(data)
    advance(simulation, 0.5)
    values = simulation.model.u.x.array.copy()
    mesh = simulation.mesh_data
    simulation.close()
    return mesh, values


def test_the_same_mesh_is_built_once_and_gives_the_same_run():
    mesh_reuse.forget()
    fresh_mesh, fresh = run(config())
    shared_mesh, shared = run(config())
    assert shared_mesh is fresh_mesh
    np.testing.assert_array_equal(shared, fresh)
    mesh_reuse.forget()
    rebuilt_mesh, rebuilt = run(config())
    assert rebuilt_mesh is not fresh_mesh
    np.testing.assert_array_equal(rebuilt, fresh)


def test_other_mesh_keys_or_ranks_build_another_mesh():
    mesh_reuse.forget()
    first, _ = run(config(h=0.1))
    other_model, _ = run(config(h=0.1, D=0.02))
    assert other_model is first  # model keys do not touch the mesh
    finer, _ = run(config(h=0.05))
    assert finer is not first
    params = dict(config_from_dict(config(h=0.05)).mesh.params)
    alone = mesh_reuse.mesh_for("box", params, MPI.COMM_SELF)
    same = MPI.Comm.Compare(MPI.COMM_SELF, MPI.COMM_WORLD) != MPI.UNEQUAL
    assert (alone is finer) == same


def test_a_changed_mesh_file_is_read_again(tmp_path):
    path = tmp_path / "box.txt"
    path.write_text("one")
    key = ("file", {"path": str(path)})
    stamp = mesh_reuse._file_stamp(key[1])
    path.write_text("a longer text")
    assert mesh_reuse._file_stamp(key[1]) != stamp
