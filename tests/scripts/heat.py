"""Heat equation on a gmsh square, solved with bmf-fem's reusable implicit solver.

du/dt = D lap u with no flux, u0 = cos(pi x) cos(pi y): the exact solution decays as
exp(-2 pi^2 D t). Writes XDMF, reads it back, prints one JSON line on rank 0.
Usage: heat.py OUTDIR
"""

import json
import sys
from pathlib import Path

import gmsh
import h5py
import numpy as np
import ufl
from dolfinx import fem, io
from dolfinx.fem import petsc as fem_petsc
from dolfinx.io import gmshio
from mpi4py import MPI

from bmf_fem.linalg import ImplicitSolver

comm = MPI.COMM_WORLD
out = Path(sys.argv[1])
D, dt, t_end, h = 0.1, 0.005, 0.1, 0.04

if comm.rank == 0:
    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("square")
    gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [1], 1, name="domain")
    gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
    gmsh.model.mesh.generate(2)
mesh, _, _ = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=2)[:3]
if comm.rank == 0:
    gmsh.finalize()

V = fem.functionspace(mesh, ("Lagrange", 1))
u = fem.Function(V, name="u")
u.interpolate(lambda x: np.cos(np.pi * x[0]) * np.cos(np.pi * x[1]))
w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
operator = fem.form((1 / dt) * w * v * ufl.dx + D * ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx)
mass = fem_petsc.assemble_matrix(fem.form(w * v * ufl.dx))
mass.assemble()
solver = ImplicitSolver(operator, "heat_", "cg", "hypre", 1e-10, 1e-14, 200, {})
solver.assemble()
rhs = mass.createVecLeft()
previous = fem.Function(V)
steps = round(t_end / dt)
iterations = []
for _ in range(steps):
    previous.x.array[:] = u.x.array / dt
    mass.mult(previous.x.petsc_vec, rhs)
    iterations.append(solver.solve(rhs, u))

exact = fem.Function(V)
decay = np.exp(-2 * np.pi**2 * D * t_end)
exact.interpolate(lambda x: decay * np.cos(np.pi * x[0]) * np.cos(np.pi * x[1]))


def integrate(expr) -> float:
    return comm.allreduce(fem.assemble_scalar(fem.form(expr * ufl.dx)), op=MPI.SUM)


error = np.sqrt(integrate((u - exact) ** 2) / integrate(exact**2))
norm2 = integrate(u**2)

out.mkdir(parents=True, exist_ok=True)
with io.XDMFFile(comm, out / "heat.xdmf", "w") as xdmf:
    xdmf.write_mesh(mesh)
    xdmf.write_function(u, t_end)

# Read back: the mesh from XDMF and the nodal values from the HDF5 file.
with io.XDMFFile(comm, out / "heat.xdmf", "r") as xdmf:
    mesh_back = xdmf.read_mesh(name="mesh")
with h5py.File(out / "heat.h5", "r") as h5:
    group = h5["Function"]["u"]
    values = np.asarray(group[list(group.keys())[-1]]).reshape(-1)
V_back = fem.functionspace(mesh_back, ("Lagrange", 1))
u_back = fem.Function(V_back)
nodes = mesh_back.geometry.input_global_indices
u_back.x.array[V_back.dofmap.list.reshape(-1)] = values[
    nodes[mesh_back.geometry.dofmap.reshape(-1)]
]
norm2_back = comm.allreduce(fem.assemble_scalar(fem.form(u_back**2 * ufl.dx)), op=MPI.SUM)
cells = mesh.topology.index_map(2).size_global
cells_back = mesh_back.topology.index_map(2).size_global
if comm.rank == 0:
    print(
        json.dumps(
            {
                "error": error,
                "norm2": norm2,
                "norm2_back": norm2_back,
                "cells": cells,
                "cells_back": cells_back,
                "its": iterations,
                "ranks": comm.size,
            }
        )
    )
