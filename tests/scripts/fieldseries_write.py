"""Write a field series of known functions with FieldWriter; rank 0 prints JSON.

    mpirun -n N python3 fieldseries_write.py OUT [RESUME_TIME]

A 6 x 5 unit square of triangles with the left half of the cells tagged 1 and the
right half 2 and the bottom boundary facets tagged 7; at t = 0, 1, 2, 3 it writes
a = (1 + t)(x + 2y) (P1), b = t + x - y (DG0, cell data) and c = t x y (P2, written at
the nodes). With RESUME_TIME the series is continued from there (t = 4 and 5 added).
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from dolfinx import fem, mesh
from mpi4py import MPI

from bmf_fem.fieldseries import FieldWriter

comm = MPI.COMM_WORLD
out = Path(sys.argv[1])
resume = float(sys.argv[2]) if len(sys.argv) > 2 else None
domain = mesh.create_unit_square(comm, 6, 5)
tdim = domain.topology.dim
cells = np.arange(domain.topology.index_map(tdim).size_local, dtype=np.int32)
midpoints = mesh.compute_midpoints(domain, tdim, cells)
cell_tags = mesh.meshtags(domain, tdim, cells, np.where(midpoints[:, 0] < 0.5, 1, 2))
domain.topology.create_connectivity(tdim - 1, tdim)
bottom = mesh.locate_entities_boundary(domain, tdim - 1, lambda x: np.isclose(x[1], 0.0))
facet_tags = mesh.meshtags(domain, tdim - 1, bottom, np.full(len(bottom), 7, dtype=np.int32))
data = SimpleNamespace(mesh=domain, cell_tags=cell_tags, facet_tags=facet_tags)

a = fem.Function(fem.functionspace(domain, ("Lagrange", 1)), name="a")
b = fem.Function(fem.functionspace(domain, ("DG", 0)), name="b")
c = fem.Function(fem.functionspace(domain, ("Lagrange", 2)), name="c")
times = [4.0, 5.0] if resume is not None else [0.0, 1.0, 2.0, 3.0]
if comm.rank == 0:
    out.mkdir(parents=True, exist_ok=True)
comm.barrier()
with FieldWriter(out / "fields.xdmf", data, [a, b, c], resume_time=resume) as writer:
    for t in times:
        a.interpolate(lambda x, t=t: (1 + t) * (x[0] + 2 * x[1]))
        b.interpolate(lambda x, t=t: t + x[0] - x[1])
        c.interpolate(lambda x, t=t: t * x[0] * x[1])
        writer.write(t)
if comm.rank == 0:
    print(json.dumps({"outputs": writer.count, "warning": writer.warning}))
