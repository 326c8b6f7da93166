"""Orb web with a snapped spoke and a later repair: the signal at the far side of the web.

A pulse train tickles the outer part of spoke 0 of an orb web (a network of threads, mesh
kind "web"; the capture spiral ends at r = 0.22, so the spokes' outer parts are free of
it). The signal is the mean of u over the outermost segment of the opposite spoke
(spoke 6, at 180 degrees). Three runs: the intact web; spoke 0 snapped for the whole run
(a ``damage`` perturbation multiplying its diffusivities by 1e-4); spoke 0 snapped and
repaired at ``t_repair``. The table gives the arrival time (the first time the far-side
signal exceeds half of the intact run's peak), the delay from the first pulse or the
repair to the arrival, the peak and the level over the last two pulse periods.

This shows behaviour of the BMF model, not evidence about spider webs.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from bmf_fem.demos.common import (
    DemoResult,
    configure,
    demo_main,
    format_table,
    save_figure,
    simulate,
)
from bmf_fem.parallel import global_sum, print0
from bmf_fem.simulation import Simulation

SNAPPED_SPOKE = "spoke_0"
FAR_SPOKE = "spoke_6"
ARRIVAL = 0.5
"""The signal has arrived once it exceeds this fraction of the intact run's peak."""

TICKLES = {"profile": "gaussian", "centre": [0.275, 0.0], "radius": 0.015, "amplitude": 0.2}
"""On the outer part of spoke 0, between the end of the capture spiral and the frame."""

BASE = {
    "mesh": {"kind": "web", "size": 1.0, "spokes": 12, "spiral_outer": 0.22},
    "field": {"D": 0.05, "decay": 1.0, "feedback": 0.1},
    "memory": {"tau": [10.0]},
}


COLUMNS = {
    "damage_window": "spoke 0 snapped",
    "arrival_time": "arrival time",
    "arrival_delay": "delay",
    "peak": "peak signal",
    "final_level": "final level",
    "final_level_relative": "final / intact",
}
"""The table's columns: keys of a run's numbers and their headers."""


def far_segment(simulation: Simulation) -> str:
    """The outermost segment of the far spoke (segments are numbered outwards)."""
    names = [n for n in simulation.mesh_data.cell_regions if n.startswith(f"{FAR_SPOKE}.")]
    return max(names, key=lambda name: int(name.split(".")[1]))


class FarSideProbe:
    """An ``on_step`` probe appending (t, mean u over the far segment) after each step."""

    def __init__(self):
        self.signal: list[tuple[float, float]] = []
        self.dofs: np.ndarray | None = None

    def __call__(self, simulation: Simulation) -> None:
        if self.dofs is None:  # the far segment's owned dofs and their lumped masses
            n = simulation.stepper.n_owned
            cells = simulation.mesh_data.cells(far_segment(simulation))
            dofs = fem.locate_dofs_topological(simulation.model.V, 1, cells)
            self.dofs = dofs[dofs < n]
            self.weights = simulation.stepper.lumped[self.dofs]
            self.length = global_sum(simulation.comm, self.weights.sum())
        u = simulation.model.u.x.array[self.dofs]
        mean = global_sum(simulation.comm, self.weights @ u) / self.length
        self.signal.append((simulation.t, mean))


def arrival_time(times: np.ndarray, signal: np.ndarray, threshold: float) -> float | None:
    """The first time the signal exceeds ``threshold`` (None: never)."""
    above = np.flatnonzero(signal > threshold)
    return float(times[above[0]]) if above.size else None


def signal_picture(
    path: Path,
    run_dir: Path,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    t_repair: float,
    threshold: float,
    far: str,
) -> Path:
    """Left: the web with the tickled spot, the snapped spoke and the far segment; right:
    the far-side signal of the three runs with the damage windows shaded."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from bmf_fem.results import read_series

    series = read_series(run_dir)
    regions = json.loads((run_dir / "summary.json").read_text())["regions"]
    segments = series.points[series.cells][:, :, :2]
    fig, (web, ax) = plt.subplots(
        1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.6]}, layout="constrained"
    )
    web.add_collection(LineCollection(segments, colors="0.75", linewidths=0.8))
    for selected, colour, label in (
        (lambda name: name.startswith(f"{SNAPPED_SPOKE}."), "tab:red", "snapped spoke"),
        (lambda name: name == far, "tab:blue", f"far side: {far}"),
    ):
        tags = [value for name, value in regions.items() if selected(name)]
        chosen = np.isin(series.cell_tags, tags)
        web.add_collection(
            LineCollection(segments[chosen], colors=colour, linewidths=2.5, label=label)
        )
    centre = TICKLES["centre"]
    web.plot(*centre, "o", color="tab:orange", markersize=8, label="tickled spot")
    web.set_aspect("equal")
    web.autoscale()
    web.set_xlabel("x (non-dimensional)")
    web.set_ylabel("y (non-dimensional)")
    web.set_title("the web", fontsize=10)
    web.legend(fontsize=8, loc="lower left")
    t_end = max(times[-1] for times, _ in curves.values())
    ax.axvspan(
        0.0, t_repair, color="tab:red", alpha=0.15, lw=0, label="snapped (both damaged runs)"
    )
    ax.axvspan(t_repair, t_end, color="tab:red", alpha=0.07, lw=0, label="snapped (never repaired)")
    for name, (times, signal) in curves.items():
        ax.plot(times, signal, lw=1.6, label=name)
    ax.axhline(threshold, color="k", ls="--", lw=1, label="arrival threshold")
    ax.set_xlim(0.0, t_end)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    ax.set_xlabel("t (non-dimensional)")
    ax.set_ylabel(f"mean u over {far} (non-dimensional)")
    ax.set_title("signal at the far side of the web", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    return save_figure(fig, path, dpi=110)


def web_picture(path: Path, run_dirs: dict[str, Path], times: list[float]) -> Path:
    """u on the web (log colour scale) for every run (rows) at ``times`` (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from bmf_fem.report import draw_field, frame_axes
    from bmf_fem.results import read_series, values_at

    norm = LogNorm(vmin=1e-6, vmax=1.0)
    fig, axes = plt.subplots(
        len(run_dirs),
        len(times),
        figsize=(3.4 * len(times) + 1.2, 3.2 * len(run_dirs)),
        squeeze=False,
        layout="constrained",
    )
    for row, (name, run_dir) in enumerate(run_dirs.items()):
        series = read_series(run_dir)
        for column, t in enumerate(times):
            u = np.clip(values_at(run_dir, series, "u", t), norm.vmin, None)
            lines = draw_field(axes[row, column], series, u, "viridis")
            lines.set_norm(norm)
            frame_axes(axes[row, column], f"{name}, t = {t:.3g}")
    fig.colorbar(lines, ax=axes, label="u (non-dimensional, log scale)", shrink=0.6)
    return save_figure(fig, path, dpi=100)


def run(out: Path, quick: bool, comm: MPI.Comm) -> DemoResult:
    h, dt, t_end = (0.01, 0.05, 25.0) if quick else (0.004, 0.02, 40.0)
    t_repair = 12.0
    tickles = {**TICKLES, "start": 1.0, "period": 1.0, "count": math.floor(t_end), "width": 0.2}
    snap = {"kind": "damage", "region": SNAPPED_SPOKE, "factor": 1e-4, "start": 0.0}
    runs = (
        ("intact", []),
        ("snapped", [snap]),
        (f"repaired at t = {t_repair:g}", [{**snap, "stop": t_repair}]),
    )
    base = {
        **BASE,
        "mesh": {**BASE["mesh"], "h": h},
        "time": {"dt": dt, "t_end": t_end},
        "input": [tickles],
        "output": {"every": max(1, round(0.25 / dt))},
    }
    curves, far = {}, ""
    for index, (name, perturbations) in enumerate(runs):
        probe = FarSideProbe()
        simulation, _ = simulate(
            configure(base, perturbation=perturbations),
            out / f"run_{index}",
            comm,
            name,
            pictures=index == len(runs) - 1,
            on_step=probe,
        )
        far = far_segment(simulation)
        simulation.close()
        curves[name] = tuple(np.array(column) for column in zip(*probe.signal, strict=True))
    intact_peak = float(curves["intact"][1].max())
    threshold = ARRIVAL * intact_peak
    last = slice(-round(2.0 / dt), None)  # the last two pulse periods
    rows, numbers = [], {"runs": {}}
    for (name, perturbations), (times, signal) in zip(runs, curves.values(), strict=True):
        level = float(signal[last].mean())
        stop = min([p.get("stop", math.inf) for p in perturbations], default=0.0)
        arrival = arrival_time(times, signal, threshold)
        record = {
            "damage_window": f"[0, {stop:g})" if perturbations else "-",
            "arrival_time": arrival,
            "arrival_delay": None if arrival is None else arrival - max(tickles["start"], stop),
            "peak": float(signal.max()),
            "final_level": level,
            "final_level_relative": level / float(curves["intact"][1][last].mean()),
        }
        numbers["runs"][name] = record
        rows.append([name, *(record[key] for key in COLUMNS)])
    numbers.update(
        {"far_segment": far, "threshold": threshold, "t_repair": t_repair, "h": h, "dt": dt}
    )
    print0(comm, f"web_spoke: far side = {far}, arrival threshold {threshold:.3g}")
    pictures = sorted((out / f"run_{len(runs) - 1}" / "plots").glob("*.png"))
    if comm.rank == 0:
        pictures.append(
            signal_picture(
                out / "far_side_signal.png", out / "run_0", curves, t_repair, threshold, far
            )
        )
        run_dirs = {name: out / f"run_{i}" for i, (name, _) in enumerate(runs)}
        pictures.append(web_picture(out / "web_u.png", run_dirs, [t_repair - 0.5, t_end]))
    pictures = comm.bcast(pictures, root=0)
    return DemoResult(format_table(["run", *COLUMNS.values()], rows), numbers, pictures)


if __name__ == "__main__":
    sys.exit(demo_main("web_spoke", run, MPI.COMM_WORLD))
