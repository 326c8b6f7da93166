"""What checkpoints and sweeps cost: checkpoint overhead and sweep throughput.

1. Checkpoint overhead. A 2D P1 unit square with about ``--dofs`` dofs per field (u
   solved, memory and sites pointwise, noise on). Times the mean step, a checkpoint
   write (the first also writes checkpoint/mesh.bp once), a restore, and one field
   output (fields.xdmf is closed after every output time); reports the checkpoint
   cost as a share of the step time at ``--every`` steps between checkpoints.
   Run it under ``mpirun -n N`` for N ranks.

2. Sweep throughput (serial invocation only). The same 4 small cases run by
   ``mpirun -n 2 bmf sweep`` with 1 rank per case (two concurrent groups) and with 2
   ranks per case; wall time including process start-up, and cases per minute. Waiting
   ranks yield their core (OMPI_MCA_mpi_yield_when_idle=1 unless set otherwise).

    containers/run python3 benchmarks/checkpoint_overhead.py [--dofs 1e6] [--scheme sbdf2]
    containers/run mpirun -n 2 python3 benchmarks/checkpoint_overhead.py --no-sweep
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.checkpoint import plan_resume
from bmf_fem.config import config_from_dict
from bmf_fem.fieldseries import FieldWriter
from bmf_fem.simulation import Simulation


def run_config(n: int, scheme: str, steps: int) -> dict:
    """N x N cells; u diffusing (D dt / h^2 = N^2 / 1e4), a pulse, a little noise on u."""
    return {
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 1.0 / n},
        "time": {"dt": 0.01, "t_end": 0.01 * steps, "scheme": scheme},
        "field": {"D": 0.01, "noise": 0.001},
        "memory": {"tau": [20.0]},
        "input": [{"centre": [0.5, 0.5], "radius": 0.1, "start": 0.0, "width": 1.0}],
        "output": {"every": 10, "checkpoint_every": 0},
    }


def timed(comm: MPI.Comm, action) -> float:
    comm.barrier()
    started = time.perf_counter()
    action()
    comm.barrier()
    return time.perf_counter() - started


def checkpoint_overhead(args, comm: MPI.Comm, workdir: Path) -> None:
    n = max(2, round(math.sqrt(args.dofs)) - 1)
    config = config_from_dict(run_config(n, args.scheme, 1000))
    setup = time.perf_counter()
    simulation = Simulation(config, comm)
    setup = time.perf_counter() - setup
    dofs = simulation.model.V.dofmap.index_map.size_global
    for _ in range(3):  # warm-up; SBDF2 histories exist from here on
        simulation.step()
    steps = [timed(comm, simulation.step) for _ in range(args.steps)]
    step = float(np.median(steps))

    out = workdir / "run"
    if comm.rank == 0:
        out.mkdir(parents=True)
    writes = [timed(comm, lambda: simulation.write_checkpoint(out))]
    for _ in range(args.checkpoints - 1):
        simulation.step()
        writes.append(timed(comm, lambda: simulation.write_checkpoint(out)))
    later = float(np.median(writes[1:])) if len(writes) > 1 else writes[0]
    size = 0
    if comm.rank == 0:
        size = sum(f.stat().st_size for f in (out / "checkpoint").rglob("*") if f.is_file())

    config_state = plan_resume(out, config, comm).state
    restore = timed(comm, lambda: simulation.restore(config_state))

    with FieldWriter(
        out / "fields.xdmf", simulation.mesh_data, simulation.output_functions()
    ) as fields:
        outputs = [timed(comm, lambda t=float(i): fields.write(t)) for i in range(3)]
    simulation.close()

    if comm.rank == 0:
        print(
            f"checkpoint overhead: 2D P1 {n}x{n}, {dofs} dofs per field "
            f"({len(simulation.model.unknowns)} unknowns), {config.time.scheme}, "
            f"{comm.size} rank(s); setup {setup:.1f} s"
        )
        print(f"  step (median of {args.steps})        {1e3 * step:10.1f} ms")
        print(f"  first checkpoint (with mesh.bp) {1e3 * writes[0]:10.1f} ms")
        print(f"  later checkpoint (median)       {1e3 * later:10.1f} ms")
        print(f"  checkpoint directory            {size / 2**20:10.1f} MiB (mesh + 1 step)")
        print(f"  restore (read every function)   {1e3 * restore:10.1f} ms")
        print(f"  one field output (reopen+close) {1e3 * float(np.median(outputs)):10.1f} ms")
        print(
            f"  overhead at checkpoint_every = {args.every}: "
            f"{100 * later / (args.every * step):.2f} % of step time"
        )


SWEEP_BASE = """
[mesh]
kind = "box"
dim = 2
h = {h}
[time]
dt = 0.01
t_end = {t_end}
[field]
D = 0.01
noise = 0.02
[[input]]
centre = [0.5, 0.5]
radius = 0.1
amplitude = 1.0
start = 0.0
period = 0.5
count = 2
width = 0.1
[output]
every = 20
checkpoint_every = 100
"""


def sweep_throughput(args, workdir: Path) -> None:
    base = workdir / "base.toml"
    base.write_text(SWEEP_BASE.format(h=args.sweep_h, t_end=0.01 * args.sweep_steps))
    seeds = ", ".join(str(seed) for seed in range(1, args.sweep_cases + 1))
    sweep = workdir / "sweep.toml"
    sweep.write_text(f'base = "base.toml"\nseeds = [{seeds}]\n')
    env = dict(os.environ)
    env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
    # Ranks that wait yield the core: on a machine shared with other work, busy-polling
    # ranks of one case wait for each other's time slices at every reduction (10x).
    env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    dofs = (round(1 / args.sweep_h) + 1) ** 2
    print(
        f"sweep throughput: {args.sweep_cases} cases, 2D P1 {dofs} dofs per field, "
        f"{args.sweep_steps} steps each, mpirun -n 2, "
        f"mpi_yield_when_idle={env['OMPI_MCA_mpi_yield_when_idle']}"
    )
    for per_case in (1, 2):
        out = workdir / f"sweep-{per_case}"
        command = ["mpirun", "-n", "2", sys.executable, "-m", "bmf_fem", "sweep"]
        command += [str(sweep), "--out", str(out), "--ranks-per-case", str(per_case), "--quiet"]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stdout, result.stderr)
            raise SystemExit(f"the sweep with {per_case} rank(s) per case failed")
        print(
            f"  {per_case} rank(s) per case: {wall:6.1f} s, "
            f"{60 * args.sweep_cases / wall:5.1f} cases/min"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dofs", type=float, default=1e6, help="dofs per field (about)")
    parser.add_argument("--scheme", default="sbdf1", choices=("sbdf1", "sbdf2"))
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--checkpoints", type=int, default=3, help="timed checkpoints")
    parser.add_argument("--every", type=int, default=100, help="checkpoint_every to report")
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweep part")
    parser.add_argument("--no-checkpoint", action="store_true", help="skip the first part")
    parser.add_argument("--sweep-cases", type=int, default=4)
    parser.add_argument("--sweep-h", type=float, default=1 / 150)
    parser.add_argument("--sweep-steps", type=int, default=200)
    parser.add_argument("--workdir", default=".", help="where to write (a disk, not tmpfs)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    workdir = None
    if comm.rank == 0:
        workdir = Path(tempfile.mkdtemp(prefix="bench-checkpoint-", dir=args.workdir))
    workdir = comm.bcast(workdir, root=0)
    try:
        if not args.no_checkpoint:
            checkpoint_overhead(args, comm, workdir)
        if comm.size == 1 and not args.no_sweep:
            sweep_throughput(args, workdir)
    finally:
        comm.barrier()
        if comm.rank == 0:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
