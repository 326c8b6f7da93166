"""Peak resident memory of a full BMF run per dof and field, at several mesh sizes.

The problem of bmf_step.py: a hexagonal crystal plate (size 1), P1, every unknown
diffusing so that each is a linear solve with its own operator and preconditioner: u
(D = 0.2), two memory modes (D_M = 0.002, tau = 5 and 50) and a continuum site field
(D_s = 0.001), a pulsed Gaussian input; --scheme (SBDF2 by default, which keeps more
history than SBDF1). Element sizes are chosen for about --sizes dofs per field.

For each size the mesh is built once by gmsh in a process of its own (its peak is shown
apart: `bmf run` of a crystal configuration builds it in the run's process, on rank 0)
and written as XDMF. Then each of --ranks processes (mpirun when more than one) imports
bmf-fem, dolfinx and PETSc, takes its peak resident size (ru_maxrss) as the baseline,
runs the whole pipeline with `Simulation.run()` (mesh read from the file, model, forms,
operators, preconditioners, writers, --steps steps with the fields written at t = 0 and
at the end, summary) into a temporary directory, and takes its peak again. Columns:

  ranks        MPI processes of the run
  base MB      the baseline: the imported process (the largest rank's)
  setup MB     peak above the baseline once the Simulation is built (summed over ranks)
  run MB       peak above the baseline at the end of the run (summed over ranks)
  max MB       the same, of the largest rank
  B/dof/field  run MB / (dofs x fields), fields = the 4 solved unknowns (u, m_1, m_2, s);
               the derived functions (M, phi, expression_time), operators, factors,
               multigrid hierarchies and output buffers are all in it
  marginal     (run MB - run MB of the next smaller size) / (dofs added x fields), same
               ranks: the cost of one more dof and field without the fixed part (code
               and libraries loaded on first use: 20-30 MB), which dominates small runs
  gmsh MB      peak above its imported baseline of the process that built the mesh

    containers/run python3 benchmarks/memory_per_dof.py [--sizes 16000 64000 256000]
        [--ranks 1] [--steps 3] [--scheme sbdf2]
    containers/run python3 benchmarks/memory_per_dof.py --sizes 1000000   # about 1M dofs

Memory is the peak of each process, so concurrent runs (a sweep's groups) add up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
# dofs ~ AREA_PER_DOF / h^2 for the P1 hexagon of size 1 (4,921 dofs at h = 0.0125,
# 1,005,268 at 0.000866), used only to choose h for a requested number of dofs.
AREA_PER_DOF = 0.764
FIELDS = 4  # u, two memory modes, s: the solved unknowns

sys.path.insert(0, str(SCRIPT.parent))
from bmf_step import CONFIG  # noqa: E402  (bmf_step.py's problem; time set per run)


def peak_mb() -> float:
    """This process's peak resident size so far, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def element_size(dofs: float) -> float:
    """The crystal's mesh.h for about ``dofs`` P1 dofs (3 significant digits)."""
    return float(f"{math.sqrt(AREA_PER_DOF / dofs):.3g}")


def build_mesh_file(h: float, out: Path) -> None:
    """Build the crystal at element size h (serial gmsh), write it, print the peak."""
    from mpi4py import MPI

    from bmf_fem.meshes import build_mesh
    from bmf_fem.meshes.output import write_xdmf

    baseline = peak_mb()
    data = build_mesh("crystal", {"shape": "hexagon", "size": 1.0, "h": h}, MPI.COMM_SELF)
    write_xdmf(data, out)
    print(json.dumps({"gmsh_mb": peak_mb() - baseline}))


def measure(mesh_file: Path, steps: int, scheme: str) -> None:
    """One run's peaks above the imported baseline, per rank (rank 0 prints JSON)."""
    from mpi4py import MPI

    from bmf_fem.config import config_from_dict
    from bmf_fem.simulation import Simulation

    comm = MPI.COMM_WORLD
    baseline = peak_mb()
    dt = CONFIG["time"]["dt"]
    data = {
        **CONFIG,
        "time": {"dt": dt, "t_end": steps * dt, "scheme": scheme},
        "mesh": {"kind": "file", "file": str(mesh_file)},
        "output": {"every": steps, "checkpoint_every": 0},
    }
    with tempfile.TemporaryDirectory() as scratch:
        out = comm.bcast(scratch if comm.rank == 0 else None, root=0)
        simulation = Simulation(config_from_dict(data), comm)
        setup = peak_mb() - baseline
        started = time.perf_counter()
        simulation.run(Path(out) / "run", progress=False)
        seconds = time.perf_counter() - started
        run = peak_mb() - baseline
        dofs = simulation.model.V.dofmap.index_map.size_global
        simulation.close()
        comm.barrier()
    per_rank = comm.gather((baseline, setup, run), root=0)
    if comm.rank == 0:
        result = {
            "ranks": comm.size,
            "dofs": dofs,
            "steps": steps,
            "seconds": seconds,
            "baseline_mb": max(r[0] for r in per_rank),
            "setup_mb": sum(r[1] for r in per_rank),
            "run_mb": sum(r[2] for r in per_rank),
            "run_max_mb": max(r[2] for r in per_rank),
        }
        print(json.dumps(result))


def _run(command: list[str]) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict], args) -> None:
    print(
        f"Peak resident memory of a full BMF run (crystal, P1, {args.scheme}, u + 2 memory "
        f"modes + sites, all solved; {args.steps} steps, fields written twice) above the "
        f"imported process; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'h':>9} {'dofs':>9} {'ranks':>5} {'base MB':>8} {'setup MB':>9} {'run MB':>8} "
        f"{'max MB':>8} {'B/dof/field':>11} {'marginal':>8} {'gmsh MB':>8} {'run s':>6}"
    )
    smaller: dict[int, dict] = {}
    for r in sorted(rows, key=lambda row: (row["ranks"], row["dofs"])):
        per_dof = r["run_mb"] * 1e6 / (r["dofs"] * FIELDS)
        below = smaller.get(r["ranks"])
        marginal = "-"
        if below is not None and r["dofs"] > below["dofs"]:
            added = (r["dofs"] - below["dofs"]) * FIELDS
            marginal = f"{(r['run_mb'] - below['run_mb']) * 1e6 / added:.0f}"
        smaller[r["ranks"]] = r
        print(
            f"{r['h']:>9g} {r['dofs']:>9} {r['ranks']:>5} {r['baseline_mb']:>8.0f} "
            f"{r['setup_mb']:>9.1f} {r['run_mb']:>8.1f} {r['run_max_mb']:>8.1f} "
            f"{per_dof:>11.0f} {marginal:>8} {r['gmsh_mb']:>8.1f} {r['seconds']:>6.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16000, 64000, 256000])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--scheme", choices=("sbdf1", "sbdf2"), default="sbdf2")
    parser.add_argument("--mesh-dir", type=Path, help="keep the meshes here (default: temporary)")
    parser.add_argument("--worker", choices=("mesh", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--h", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--mesh", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "mesh":
        build_mesh_file(args.h, args.mesh)
        return
    if args.worker == "measure":
        measure(args.mesh, args.steps, args.scheme)
        return

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        mesh_dir = args.mesh_dir or Path(scratch)
        mesh_dir.mkdir(parents=True, exist_ok=True)
        for dofs in args.sizes:
            h = element_size(dofs)
            mesh = mesh_dir / f"crystal-h{h:g}.xdmf"
            worker = [sys.executable, str(SCRIPT), "--worker"]
            built = _run([*worker, "mesh", f"--h={h}", f"--mesh={mesh}"])
            for ranks in args.ranks:
                command = [*worker, "measure", f"--mesh={mesh}", f"--steps={args.steps}"]
                command.append(f"--scheme={args.scheme}")
                if ranks > 1:
                    command = ["mpirun", "-n", str(ranks), *command]
                rows.append({"h": h, **built, **_run(command)})
    print_table(rows, args)


if __name__ == "__main__":
    main()
