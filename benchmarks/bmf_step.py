"""The full BMF step on a 2D crystal: time per step, field share, ranks and AMG iterations.

A hexagonal crystal plate (mesh kind crystal, shape hexagon, size 1) at several element
sizes h; P1, SBDF1, every unknown diffusing so that each one is a linear solve: u
(D = 0.2, decay 1, feedback 0.1), two memory modes (D_M = 0.002, tau = 5 and 50) and a
continuum site field (D_s = 0.001), with a pulsed Gaussian input in the middle. For each
size and rank count, after --warmup steps, the median over --steps steps of:

  step       a whole Simulation.step() (inputs, explicit terms, four solves, sites record)
  u          the u equation's share of that step (right-hand side and solve): one field-step
  m, s       the same for the memory modes (together) and the sites
  ratio      step / u, the cost of a BMF step in field-steps
  its        mean Krylov iterations per step of u, of both modes, and of s
  pc         the preconditioner "auto" chose for u / m / s (from each diffusion number)

The largest size also runs on 2 ranks: speed-up = time on 1 rank / time on 2 ranks and
parallel efficiency = speed-up / 2. Meshes are built once per size (gmsh, serial) and read
back by every run. One command, run from the checkout:

    containers/run python3 benchmarks/bmf_step.py [--h 0.0035 0.00175 0.000866]
        [--ranks 1 2] [--steps 10] [--warmup 3]

Timings on a shared machine: check `uptime` first (the load average is printed).
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

SCRIPT = Path(__file__).resolve()

CONFIG = {
    "time": {"dt": 0.05, "t_end": 1e6, "scheme": "sbdf1"},
    "field": {"D": 0.2, "decay": 1.0, "feedback": 0.1},
    "memory": {"D": 0.002, "tau": [5.0, 50.0], "weight": [0.5, 0.5]},
    "sites": {"mode": "continuum", "D": 0.001, "rate": 1.0, "coupling": 1.0},
    "input": [
        {
            "profile": "gaussian",
            "centre": [0.0, 0.0],
            "radius": 0.1,
            "amplitude": 1.0,
            "start": 0.0,
            "period": 0.5,
            "count": 1000000,
            "width": 0.2,
        }
    ],
    "output": {"every": 1000000},
}


def build_mesh_file(h: float, out: Path) -> None:
    """Build the crystal at element size h (serial gmsh) and write it as XDMF."""
    from mpi4py import MPI

    from bmf_fem.meshes import build_mesh
    from bmf_fem.meshes.output import write_xdmf

    data = build_mesh("crystal", {"shape": "hexagon", "size": 1.0, "h": h}, MPI.COMM_SELF)
    write_xdmf(data, out)


def measure(mesh_file: Path, steps: int, warmup: int) -> None:
    """Median times of a BMF step and of each unknown's advance (rank 0 prints JSON)."""
    import numpy as np
    from mpi4py import MPI

    from bmf_fem.config import config_from_dict
    from bmf_fem.simulation import Simulation

    comm = MPI.COMM_WORLD
    data = {**CONFIG, "mesh": {"kind": "file", "file": str(mesh_file)}}
    started = time.perf_counter()
    simulation = Simulation(config_from_dict(data), comm)
    setup = time.perf_counter() - started
    stepper = simulation.stepper
    shares: dict[str, list[float]] = {}
    for unknown in stepper.unknowns:
        group = unknown.equation.name.split("_")[0]
        shares.setdefault(group, [])
        unknown.advance = _timed(unknown.advance, shares[group])
    for _ in range(warmup):
        simulation.step()
    for times in shares.values():
        times.clear()
    step_times, its = [], {"u": [], "m": [], "s": []}
    for _ in range(steps):
        started = time.perf_counter()
        simulation.step()
        step_times.append(time.perf_counter() - started)
        for key, value in stepper.iterations.items():
            its[key].append(value)
    per_step = {
        group: np.asarray(times).reshape(steps, -1).sum(axis=1) for group, times in shares.items()
    }
    result = {
        "ranks": comm.size,
        "dofs": simulation.model.V.dofmap.index_map.size_global,
        "setup_s": setup,
        "step_ms": 1e3 * float(np.median(step_times)),
        **{f"{group}_ms": 1e3 * float(np.median(t)) for group, t in per_step.items()},
        **{f"its_{key}": float(np.mean(v)) for key, v in its.items()},
        "pc": {
            unknown.equation.name: unknown.solver.pc_type if unknown.solver else "pointwise"
            for unknown in stepper.unknowns
        },
        "numbers": {
            unknown.equation.name: stepper.diffusion_number(unknown.equation)
            for unknown in stepper.unknowns
        },
    }
    simulation.close()
    if comm.rank == 0:
        print(json.dumps(result))


def _timed(function, sink: list[float]):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        function(*args, **kwargs)
        sink.append(time.perf_counter() - started)

    return timed


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=float, nargs="+", default=[0.0035, 0.00175, 0.000866])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--mesh-dir", type=Path, help="keep the meshes here (default: temporary)")
    parser.add_argument("--worker", choices=("mesh", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--mesh", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "mesh":
        build_mesh_file(args.h[0], args.mesh)
        return
    if args.worker == "measure":
        measure(args.mesh, args.steps, args.warmup)
        return

    with tempfile.TemporaryDirectory() as scratch:
        mesh_dir = args.mesh_dir or Path(scratch)
        mesh_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        largest = min(args.h)
        for h in args.h:
            mesh = mesh_dir / f"crystal-h{h:g}.xdmf"
            if not mesh.exists():
                _run([sys.executable, str(SCRIPT), "--worker=mesh", f"--h={h}", f"--mesh={mesh}"])
            for ranks in args.ranks if h == largest else [1]:
                worker = [sys.executable, str(SCRIPT), "--worker", "measure", f"--mesh={mesh}"]
                counts = [f"--steps={args.steps}", f"--warmup={args.warmup}"]
                output = _run(["mpirun", "-n", str(ranks), *worker, *counts])
                rows.append((h, json.loads(output.strip().splitlines()[-1])))
    print_table(rows, args)


def print_table(rows: list[tuple[float, dict]], args) -> None:
    load = os.getloadavg()
    print(
        f"BMF step on a hexagonal crystal (P1, SBDF1, u + 2 memory modes + sites, all solved), "
        f"median of {args.steps} steps after {args.warmup}; load average {load[0]:.2f}"
    )
    print(
        f"{'h':>9} {'dofs':>9} {'ranks':>5} {'step ms':>9} {'u ms':>8} {'m ms':>8} {'s ms':>8} "
        f"{'ratio':>6} {'its u':>6} {'its m':>6} {'its s':>6} {'pc u/m/s':>22} {'D dt/h^2 u':>10}"
    )
    for h, r in rows:
        pcs = "/".join(r["pc"][name] for name in ("u", "m_0", "s"))
        print(
            f"{h:>9g} {r['dofs']:>9} {r['ranks']:>5} {r['step_ms']:>9.1f} {r['u_ms']:>8.1f} "
            f"{r['m_ms']:>8.1f} {r['s_ms']:>8.1f} {r['step_ms'] / r['u_ms']:>6.2f} "
            f"{r['its_u']:>6.1f} {r['its_m']:>6.1f} {r['its_s']:>6.1f} {pcs:>22} "
            f"{r['numbers']['u']:>10.0f}"
        )
    largest = min(h for h, _ in rows)
    by_ranks = {r["ranks"]: r for h, r in rows if h == largest}
    if 1 in by_ranks:
        for ranks, r in sorted(by_ranks.items()):
            if ranks > 1:
                speedup = by_ranks[1]["step_ms"] / r["step_ms"]
                print(
                    f"h = {largest:g}: {ranks} ranks, speed-up {speedup:.2f}x, "
                    f"parallel efficiency {speedup / ranks:.0%} (step); field-step speed-up "
                    f"{by_ranks[1]['u_ms'] / r['u_ms']:.2f}x"
                )


if __name__ == "__main__":
    main()
