"""Crystal with a hole cut (reset) mid-run: recovery time of the facet pattern.

Six pulse trains near the facets of a hexagonal crystal plate build a pattern of u, of
the memory M and of phi = u + M. At ``t_cut`` a ball around one of the spots (the hole)
is reset to the initial state. Each cut run is compared, at the same times, with an
uncut reference run of the same configuration: the relative distance
``||w_cut - w_ref|| / ||w_ref||`` (L2 over the plate, lumped mass) for w = u and phi.
The recovery time is the time after the cut from which the distance stays below 5 %;
the re-expression time is the time after the cut until the share of the hole where
s > sites.on is back at 90 % of the uncut run's. Three variants show what the memory
does: the hole resets u, the memory and s; it resets u and s but keeps the memory; the
memory has weight 0 (no memory).

This shows behaviour of the BMF model, not evidence about crystals.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.demos.common import (
    DemoResult,
    configure,
    demo_main,
    format_table,
    line_plot,
    save_figure,
    simulate,
)
from bmf_fem.noise import dof_keys
from bmf_fem.parallel import global_sum, print0
from bmf_fem.simulation import Simulation

TOLERANCE = 0.05
"""Recovered once the relative distance to the uncut run stays below this."""

BASE = {
    "mesh": {"kind": "crystal", "shape": "hexagon", "size": 1.0},
    "field": {"D": 0.005, "decay": 1.0, "feedback": 0.1},
    "memory": {"tau": [5.0], "weight": [1.0]},
    "sites": {"rate": 4.0, "coupling": 0.5},
}

PLOT_FLOOR = 1e-6
"""Distances below this are not drawn (the run without memory goes down to round-off)."""

VARIANTS = (
    # name, memory weight, fields the cut resets
    ("memory reset with the hole", 1.0, ["u", "m", "s"]),
    ("memory kept", 1.0, ["u", "s"]),
    ("no memory (weight 0)", 0.0, ["u", "m", "s"]),
)


COLUMNS = {
    "distance_u_after_cut": "u dist. after cut",
    "distance_phi_after_cut": "phi dist. after cut",
    "recovery_u": "u recovery time",
    "recovery_phi": "phi recovery time",
    "distance_phi_end": "phi dist. at end",
    "reexpression": "hole re-expressed after",
}
"""The table's columns: keys of a variant's numbers and their headers."""


def facet_spots(size: float, count: int = 6) -> list[list[float]]:
    """Centres of the tickled spots: on the normals of the facets, 70 % of the apothem out."""
    apothem = 0.5 * size * math.cos(math.pi / 6)
    angles = [math.radians(30 + 60 * i) for i in range(count)]
    return [[0.7 * apothem * math.cos(a), 0.7 * apothem * math.sin(a)] for a in angles]


def facet_inputs(size: float, t_end: float) -> list[dict]:
    """A steady pulse train (one pulse per time unit) on every facet spot."""
    return [
        {
            "profile": "gaussian",
            "centre": centre,
            "radius": 0.1 * size,
            "amplitude": 0.8,
            "start": 1.0,
            "period": 1.0,
            "count": int(t_end),
            "width": 0.2,
        }
        for centre in facet_spots(size)
    ]


def probe(measure: Callable[[Simulation], object], samples: dict) -> Callable:
    """An ``on_step`` probe: after every step store ``measure(simulation)`` by step."""

    def record(simulation: Simulation) -> None:
        samples[simulation.stepper.step_index] = (simulation.t, measure(simulation))

    return record


def hole_mask(simulation: Simulation, hole: dict) -> np.ndarray:
    """Owned dofs inside the hole (a ball)."""
    n = simulation.stepper.n_owned
    points = simulation.model.coordinates[:n, :2]
    return np.sum((points - hole["centre"]) ** 2, axis=1) <= hole["radius"] ** 2


class GlobalOrder:
    """Whole-mesh vectors in an order that does not depend on the partition.

    Two runs of the same configuration may partition the mesh differently; their fields
    are compared in the order of the dofs' partition-independent keys, on every rank.
    """

    def __init__(self, simulation: Simulation):
        n = simulation.stepper.n_owned
        keys = dof_keys(simulation.model.V)[:n]
        every = np.sort(np.concatenate(simulation.comm.allgather(keys)))
        self.comm, self.n, self.size = simulation.comm, n, every.size
        self.position = np.searchsorted(every, keys)

    def gather(self, local: np.ndarray) -> np.ndarray:
        whole = np.zeros(self.size)
        whole[self.position] = local[: self.n]
        self.comm.Allreduce(MPI.IN_PLACE, whole, op=MPI.SUM)
        return whole


def snapshot(hole: dict) -> Callable[[Simulation], dict]:
    """u, phi and the lumped masses of the whole mesh (GlobalOrder), and the share of the
    hole where s > sites.on (expressed now)."""
    order: list[GlobalOrder] = []

    def measure(simulation: Simulation) -> dict:
        if not order:
            order.append(GlobalOrder(simulation))
        n = simulation.stepper.n_owned
        model, weights = simulation.model, simulation.stepper.lumped[:n]
        inside = hole_mask(simulation, hole)
        active = inside & (model.s.x.array[:n] > simulation.config.sites.on)
        area = global_sum(simulation.comm, weights[inside].sum())
        return {
            "u": order[0].gather(model.u.x.array),
            "phi": order[0].gather(model.phi.x.array),
            "weights": order[0].gather(weights),
            "hole_expressed": global_sum(simulation.comm, weights[active].sum()) / area,
        }

    return measure


def compare_with(reference: dict, hole: dict) -> Callable[[Simulation], dict]:
    """Relative L2 distances of u and phi to the reference run at the same step."""
    current = snapshot(hole)

    def measure(simulation: Simulation) -> dict:
        now, then = current(simulation), reference[simulation.stepper.step_index][1]
        weights = now["weights"]
        result = {"hole_expressed": now["hole_expressed"]}
        for name in ("u", "phi"):
            difference = weights @ (now[name] - then[name]) ** 2
            norm = weights @ then[name] ** 2
            result[name] = math.sqrt(difference / norm) if norm > 0 else 0.0
        return result

    return measure


def recovery_time(times: np.ndarray, distance: np.ndarray, t_cut: float) -> float | None:
    """Time after the cut from which ``distance`` stays below TOLERANCE (None: never)."""
    above = np.flatnonzero(distance >= TOLERANCE)
    if above.size == 0:
        return 0.0
    if above[-1] == len(distance) - 1:
        return None
    return float(times[above[-1] + 1] - t_cut)


def reexpression_time(
    times: np.ndarray, cut: np.ndarray, reference: np.ndarray, t_cut: float
) -> float | None:
    """Time after the cut until the hole's expressed share is back at 90 % of the uncut run's."""
    if reference[-1] < 0.05:
        return None  # the uncut run does not express there
    back = np.flatnonzero(cut >= 0.9 * reference)
    return float(times[back[0]] - t_cut) if back.size else None


def recovery_numbers(
    samples: dict, reference: dict, t_cut: float, dt: float
) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
    """A cut run's numbers, and its times and distances after the cut."""
    after = [step for step in sorted(samples) if samples[step][0] > t_cut + 0.5 * dt]
    times = np.array([samples[step][0] for step in after])
    series = {key: np.array([samples[step][1][key] for step in after]) for key in ("u", "phi")}
    expressed = np.array([samples[step][1]["hole_expressed"] for step in after])
    uncut_expressed = np.array([reference[step][1]["hole_expressed"] for step in after])
    before = [samples[step][1] for step in samples if step not in after]
    record = {
        # Zero when both runs are the same step for step (same mesh and partition).
        "distance_before_cut": max(max(sample["u"], sample["phi"]) for sample in before),
        **{f"distance_{key}_after_cut": float(series[key][0]) for key in series},
        **{f"distance_{key}_end": float(series[key][-1]) for key in series},
        **{f"recovery_{key}": recovery_time(times, series[key], t_cut) for key in series},
        "hole_expressed_end": float(expressed[-1]),
        "hole_expressed_uncut_end": float(uncut_expressed[-1]),
        "reexpression": reexpression_time(times, expressed, uncut_expressed, t_cut),
    }
    return record, times, series


def healing_picture(
    cut_run: Path, uncut_run: Path, hole: dict, times: list[float], path: Path
) -> Path:
    """phi of the cut run at a few times after the cut and of the uncut run at the end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.tri as mtri

    from bmf_fem.results import read_series, values_at

    panels = [(cut_run, t, f"cut, t = {t:.3g}") for t in times]
    panels.append((uncut_run, times[-1], f"uncut, t = {times[-1]:.3g}"))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.0 * len(panels) + 1, 3.3), layout="constrained"
    )
    drawn = []
    for run_dir, t, title in panels:
        series = read_series(run_dir)
        mesh = mtri.Triangulation(series.points[:, 0], series.points[:, 1], series.cells)
        drawn.append((mesh, values_at(run_dir, series, "phi", t), title))
    low = min(values.min() for _, values, _ in drawn)
    high = max(values.max() for _, values, _ in drawn)
    for ax, (mesh, values, title) in zip(axes, drawn, strict=True):
        artist = ax.tripcolor(mesh, values, cmap="plasma", shading="gouraud", vmin=low, vmax=high)
        ax.add_patch(plt.Circle(hole["centre"], hole["radius"], fill=False, ls="--", color="w"))
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x (non-dimensional)")
    axes[0].set_ylabel("y (non-dimensional)")
    fig.colorbar(artist, ax=axes, label="phi (non-dimensional)", shrink=0.9)
    fig.suptitle("phi after the hole (dashed) is cut, memory reset with it", fontsize=11)
    return save_figure(fig, path, dpi=110)


def run(out: Path, quick: bool, comm: MPI.Comm) -> DemoResult:
    size = 1.0
    h, dt = (0.04, 0.1) if quick else (0.015, 0.05)
    t_cut, t_end = 30.5, 75.0  # the cut falls between two pulses
    hole = {"centre": facet_spots(size)[0], "radius": 0.12 * size}
    print0(comm, f"crystal_hole: hole {hole} cut at t = {t_cut}")
    base = {
        **BASE,
        "mesh": {**BASE["mesh"], "h": h},
        "time": {"dt": dt, "t_end": t_end},
        "input": facet_inputs(size, t_end),
        "output": {"every": max(1, round(0.5 / dt))},
    }
    references: dict[float, dict] = {}
    rows, curves, numbers, pictures = [], {"u": [], "phi": []}, {}, []
    for index, (name, weight, fields) in enumerate(VARIANTS):
        if weight not in references:
            references[weight] = {}
            simulation, _ = simulate(
                configure(base, memory={"weight": [weight]}),
                out / f"uncut_w{weight:g}",
                comm,
                f"uncut, memory weight {weight:g}",
                pictures=False,
                on_step=probe(snapshot(hole), references[weight]),
            )
            simulation.close()
        cut = {"kind": "reset", **hole, "start": t_cut, "fields": fields}
        samples: dict[int, tuple[float, dict]] = {}
        simulation, _ = simulate(
            configure(base, memory={"weight": [weight]}, perturbation=[cut]),
            out / f"cut_{index}",
            comm,
            f"cut, {name}",
            pictures=index == 0,
            on_step=probe(compare_with(references[weight], hole), samples),
        )
        simulation.close()
        record, times, series = recovery_numbers(samples, references[weight], t_cut, dt)
        record.update({"memory_weight": weight, "reset_fields": fields})
        numbers[name] = record
        rows.append([name, *(record[key] for key in COLUMNS)])
        for key in curves:  # drawn down to PLOT_FLOOR
            shown = np.where(series[key] >= PLOT_FLOOR, series[key], np.nan)
            curves[key].append((times, shown, name))
        if index == 0:
            pictures += sorted((out / "cut_0" / "plots").glob("*.png"))
    numbers["setup"] = {"t_cut": t_cut, "t_end": t_end, "tolerance": TOLERANCE, "h": h, "dt": dt}
    if comm.rank == 0:
        after_cut = [t_cut + 0.5, t_cut + 5.0, t_cut + 15.0, t_end]
        pictures.append(
            healing_picture(out / "cut_0", out / "uncut_w1", hole, after_cut, out / "healing.png")
        )
        for key, series_list in curves.items():
            pictures.append(
                line_plot(
                    out / f"recovery_{key}.png",
                    series_list,
                    "t (non-dimensional)",
                    f"||{key} - {key}_uncut|| / ||{key}_uncut||",
                    f"crystal plate: distance of {key} to the uncut run "
                    f"(drawn down to {PLOT_FLOOR:g})",
                    spans=[(t_cut - 0.25, t_cut + 0.25, f"hole cut at t = {t_cut:g}")],
                    hline=(TOLERANCE, f"tolerance {TOLERANCE:g}"),
                    logy=True,
                )
            )
    pictures = comm.bcast(pictures, root=0)
    return DemoResult(format_table(["variant", *COLUMNS.values()], rows), numbers, pictures)


if __name__ == "__main__":
    sys.exit(demo_main("crystal_hole", run, MPI.COMM_WORLD))
