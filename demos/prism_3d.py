"""3D crystal: tickling one cap of a hexagonal prism builds the field up inside it.

A hexagonal prism with pyramidal caps (a quartz-like crystal, meshed with tetrahedra) is
tickled by a train of ten pulses in a ball under its top apex. The field u builds up
under the pulses and wanes between them, the memory M accumulates; after the last pulse
u wanes fast while M stays, so phi = u + M stays above the fold in the cap and the
sites there (a continuum site field) stay expressed. The numbers (peak of phi, scope,
expressed share, cost per step) are global MPI reductions, the same on any number of
ranks; the pictures show the fields on the crystal's surface, cut open, and along its
axis.

Run it in parallel with ``containers/run mpirun -n 2 bmf demo prism_3d`` (any rank
count works). Behaviour of the model, not evidence about crystals.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.demos.common import (
    DemoResult,
    configure,
    demo_main,
    format_table,
    line_plot,
    simulate,
)
from bmf_fem.parallel import on_rank0, print0
from bmf_fem.potential import H_C

HEIGHT, CAP = 1.0, 0.25  # the body and each pyramidal cap, along z
APEX = HEIGHT / 2 + CAP

BASE = {
    "mesh": {
        "kind": "crystal",
        "shape": "prism",
        "size": 1.0,
        "height": HEIGHT,
        "cap_height": CAP,
        "h": 0.035,
    },
    "time": {"dt": 0.05, "t_end": 30.0, "scheme": "sbdf2"},
    "field": {"D": 0.01, "decay": 1.0, "feedback": 0.1},
    "memory": {"tau": [60.0], "scope_threshold": 0.05},
    "sites": {"rate": 4.0, "coupling": 1.0, "D": 0.002},
    "input": [
        {
            "profile": "gaussian",
            "centre": [0.0, 0.0, APEX - 0.15],
            "radius": 0.2,
            "amplitude": 0.5,
            "start": 1.0,
            "period": 1.0,
            "count": 10,
            "width": 0.2,
        }
    ],
    # tight: 1 and N ranks (other block preconditioners) then agree to about 1e-10
    "solver": {"rtol": 1e-10},
    "output": {"every": 4},
}

QUICK = {
    "mesh": {"h": 0.1},
    "time": {"dt": 0.1, "t_end": 20.0},
    "output": {"every": 10},
}


def along_axis(points: np.ndarray, cells: np.ndarray, heights: np.ndarray) -> tuple:
    """For points (0, 0, z): the tetrahedron holding each and its barycentric weights."""
    origin = points[cells[:, 0]]
    edges = points[cells[:, 1:]] - origin[:, None, :]  # rows: the three edge vectors
    inverse = np.linalg.inv(np.transpose(edges, (0, 2, 1)))
    holders, weights = [], []
    for z in heights:
        local = np.einsum("nij,nj->ni", inverse, np.array([0.0, 0.0, z]) - origin)
        barycentric = np.column_stack([1.0 - local.sum(axis=1), local])
        holder = int(np.argmax(barycentric.min(axis=1)))  # inside: all weights >= 0
        holders.append(holder)
        weights.append(barycentric[holder])
    return np.array(holders), np.array(weights)


def plot_axis_profiles(run: Path, times: list[float], path: Path) -> Path:
    """phi along the crystal's axis at a few times (rank 0, from the written fields)."""
    from bmf_fem.results import read_series, values_at

    series = read_series(run)
    heights = np.linspace(-APEX, APEX, 121) * 0.999
    holders, weights = along_axis(series.points, series.cells, heights)
    stored = np.array([t for t, _ in series.functions["phi"]])
    curves = []
    for t in sorted({float(stored[np.argmin(np.abs(stored - t))]) for t in times}):
        phi = values_at(run, series, "phi", t)
        curves.append((heights, (phi[series.cells[holders]] * weights).sum(axis=1), f"t = {t:.3g}"))
    return line_plot(
        path,
        curves,
        "height z on the axis (non-dimensional; tickled apex at the right end)",
        "phi (non-dimensional)",
        "build-up along the crystal's axis",
        hline=(H_C, "fold h_c (coupling g = 1): sites flip above it"),
    )


def run(out: Path, quick: bool, comm: MPI.Comm) -> DemoResult:
    config = configure(BASE, **(QUICK if quick else {}))
    simulation, summary = simulate(config, out, comm, "prism", pictures=False)
    simulation.close()
    history = simulation.history
    peak = max(history, key=lambda row: row["phi_max"])
    final = history[-1]
    numbers = {
        "mesh": summary["mesh"],
        "dofs": summary["dofs"],
        "ranks": comm.size,
        "peak_phi": peak["phi_max"],
        "t_peak_phi": peak["t"],
        "peak_scope": max(row["scope"] for row in history),
        "final_M_integral": final["M_integral"],
        "final_expressed_fraction": final["expressed_fraction"],
        "steps": summary["timings"]["steps"],
        "ms_per_step": summary["timings"]["ms_per_step"],
    }
    rows = [
        ["mesh", summary["mesh"]],
        ["degrees of freedom (per field)", summary["dofs"]],
        ["MPI ranks", comm.size],
        ["peak of phi_max (output times)", peak["phi_max"]],
        ["time of the peak", peak["t"]],
        ["peak scope (volume with M > 0.05)", numbers["peak_scope"]],
        ["integral of M at the end", final["M_integral"]],
        ["expressed share at the end", final["expressed_fraction"]],
        ["time steps", numbers["steps"]],
        ["ms per step (with output)", numbers["ms_per_step"]],
    ]
    profile_times = [peak["t"] / 4, peak["t"] / 2, peak["t"], final["t"]]

    def pictures() -> list[Path]:
        from bmf_fem.report import write_report

        axis = plot_axis_profiles(out, profile_times, out / "plots" / "axis_profiles.png")
        return [*write_report(out), axis]

    started = time.perf_counter()
    drawn = on_rank0(comm, pictures)
    print0(comm, f"  pictures: {len(drawn)} in {time.perf_counter() - started:.1f} s")
    return DemoResult(format_table(["quantity", "value"], rows), numbers, drawn)


if __name__ == "__main__":
    sys.exit(demo_main("prism_3d", run, MPI.COMM_WORLD))
