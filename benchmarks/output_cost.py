"""What the field series costs: ms per output time against how many were written before.

For each mesh size (``--sizes``: cells per side of a 2D P1 box, default 20 and 316, that
is 441 and 100,489 dofs per field) the five default output fields (u, M, phi, s,
expression_time) are written ``--outputs`` times in a row through bmf-fem's FieldWriter;
the table gives the median ms of the 10 outputs ending at output 10, 100, 1000 and 10,000
(as far as the run goes), uncompressed and with ``output.compression = "on"``, and the
bytes per output time on disk (the 100k-dof mesh takes 4 MB an output: 1000 outputs
need 4 GB in the temporary directory, or in ``--dir``). ``--dolfinx`` adds the same
measurement for dolfinx's XDMFFile reopened in append mode for every output time (how a
series is commonly written with dolfinx), up to 1000 outputs on the small mesh.

``--run`` also runs the default demo (``bmf run``) and prints the share of its wall time
spent writing fields (summary.json: timings.fields_s of timings.run_s).

    containers/run python3 benchmarks/output_cost.py
    containers/run python3 benchmarks/output_cost.py --sizes 20 --outputs 10000 --dolfinx --run
    containers/run mpirun -n 2 python3 benchmarks/output_cost.py --sizes 316 --outputs 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.config import config_from_dict
from bmf_fem.fieldseries import FieldWriter
from bmf_fem.simulation import Simulation

MARKS = (10, 100, 1000, 10000)


def simulation_for(n: int, comm: MPI.Comm) -> Simulation:
    """A 2D box run with n x n cells, one memory mode and continuum sites, one step taken."""
    config = config_from_dict(
        {
            "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 1.0 / n},
            "time": {"dt": 0.01, "t_end": 1.0},
            "field": {"D": 0.01, "noise": 0.001},
            "input": [{"centre": [0.5, 0.5], "radius": 0.1, "start": 0.0, "width": 1.0}],
        }
    )
    simulation = Simulation(config, comm)
    simulation.step()
    return simulation


def time_writes(write, count: int, comm: MPI.Comm) -> np.ndarray:
    """Seconds of each of ``count`` consecutive writes (all ranks, barrier to barrier)."""
    seconds = np.empty(count)
    for i in range(count):
        comm.barrier()
        started = time.perf_counter()
        write(0.01 * i)
        comm.barrier()
        seconds[i] = time.perf_counter() - started
    return seconds


def marks(seconds: np.ndarray) -> list[str]:
    """Median ms of the 10 outputs ending at each mark the run reached."""
    cells = []
    for mark in MARKS:
        if mark <= len(seconds):
            cells.append(f"{1e3 * np.median(seconds[max(0, mark - 10) : mark]):8.2f}")
        else:
            cells.append(f"{'-':>8}")
    return cells


def bytes_per_output(run: Path, count: int) -> float:
    series = run / "fields.d"
    files = list(series.iterdir()) if series.is_dir() else []
    if files:
        return sum(f.stat().st_size for f in files) / count
    return sum(f.stat().st_size for f in run.glob("fields.*")) / count


def bmf_writer(simulation: Simulation, run: Path, count: int, compression: int) -> np.ndarray:
    comm = simulation.comm
    functions = simulation.output_functions()
    with FieldWriter(
        run / "fields.xdmf", simulation.mesh_data, functions, comm=comm, compression=compression
    ) as fields:
        return time_writes(fields.write, count, comm)


def dolfinx_writer(simulation: Simulation, run: Path, count: int) -> np.ndarray:
    from dolfinx import io

    comm = simulation.comm
    mesh = simulation.mesh_data.mesh
    functions = [
        f
        for f in simulation.output_functions()
        if f.function_space.element.basix_element.degree == 1
    ]
    with io.XDMFFile(comm, run / "fields.xdmf", "w") as xdmf:
        xdmf.write_mesh(mesh)

    def write(t: float) -> None:
        with io.XDMFFile(comm, run / "fields.xdmf", "a") as xdmf:
            for function in functions:
                xdmf.write_function(function, t)

    return time_writes(write, count, comm)


def default_run_share(workdir: Path) -> None:
    out = workdir / "default-run"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bmf_fem", "run", "--out", str(out), "--quiet"], check=True
    )
    wall = time.perf_counter() - started
    timings = json.loads((out / "summary.json").read_text())["timings"]
    size = sum(f.stat().st_size for f in out.rglob("fields*") if f.is_file())
    size += sum(f.stat().st_size for f in (out / "fields.d").iterdir())
    print(
        f"default bmf run: wall {wall:.1f} s (process), stepping loop {timings['run_s']:.2f} s, "
        f"writing fields {timings['fields_s']:.2f} s "
        f"({100 * timings['fields_s'] / timings['run_s']:.0f} % of the loop), "
        f"field files {size / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 316])
    parser.add_argument("--outputs", type=int, default=1000, help="output times per writer")
    parser.add_argument("--dolfinx", action="store_true", help="add dolfinx XDMFFile (append)")
    parser.add_argument("--run", action="store_true", help="time the default bmf run too")
    parser.add_argument("--dir", help="where to write (default: the temporary directory)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    workdir = None
    if comm.rank == 0:
        workdir = Path(tempfile.mkdtemp(prefix="bmf-output-cost-", dir=args.dir))
    workdir = Path(comm.bcast(str(workdir) if workdir else None, root=0))
    header = f"{'writer':<28}{'dofs':>9}" + "".join(f"{'@' + str(m):>9}" for m in MARKS)
    if comm.rank == 0:
        print(f"ms per output time (median of the 10 ending at each mark), {comm.size} rank(s)")
        print(f"load average {os.getloadavg()[0]:.2f}")
        print(header + f"{'kB/output':>11}")
    try:
        for n in args.sizes:
            measure(n, args, comm, workdir)
        if args.run and comm.rank == 0 and comm.size == 1:
            default_run_share(workdir)
    finally:
        if comm.rank == 0:
            subprocess.run(["rm", "-rf", str(workdir)], check=True)


def measure(n: int, args, comm: MPI.Comm, workdir: Path) -> None:
    """One mesh size: a table row per writer."""
    simulation = simulation_for(n, comm)
    dofs = simulation.model.V.dofmap.index_map.size_global
    writers = [("bmf-fem", 0), ("bmf-fem compression on", 1)]
    if args.dolfinx and n == min(args.sizes):
        writers.append(("dolfinx XDMFFile append", None))
    for label, compression in writers:
        run = workdir / f"{label.replace(' ', '-')}-{n}"
        if comm.rank == 0:
            run.mkdir()
        comm.barrier()
        if compression is None:
            count = min(args.outputs, 1000)
            seconds = dolfinx_writer(simulation, run, count)
        else:
            count = args.outputs
            seconds = bmf_writer(simulation, run, count, compression)
        if comm.rank == 0:
            size = bytes_per_output(run, count) / 1e3
            print(f"{label:<28}{dofs:>9}" + " ".join(marks(seconds)) + f"{size:>11.1f}", flush=True)
            subprocess.run(["rm", "-rf", str(run)], check=True)
    simulation.close()


if __name__ == "__main__":
    main()
