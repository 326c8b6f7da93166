"""The whirlpool and the stick: a steady tickled pattern survives a burst, then wanes.

Steady tickling at the centre of a hexagonal plate holds a stationary pattern (the
whirlpool). A burst of wrong-sign input and extra noise off-centre (the stick thrown in)
knocks it away; while the tickling goes on the pattern comes back to what it was. After
the opt-out the field returns to base (u -> 0) while the memory keeps most of what it
gathered. Printed: how far the burst pushed u from its pre-perturbation pattern, how
long it took to come back, and how fast the field fell to base after the opt-out.
Behaviour of the model, not evidence about whirlpools.

    containers/run bmf demo whirlpool [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.demos.common import DemoResult, configure, format_table, line_plot, simulate
from bmf_fem.simulation import Simulation

BURST = (15.0, 17.0)  # wrong-sign input and noise
OPT_OUT = 35.0  # the steady tickling stops
T_END = 50.0
STICK = [0.2, 0.1]  # where the stick goes in
TOLERANCE = 0.05  # "back to the pattern" / "at base": within 5 %


def config(quick: bool):
    dt = 0.05 if quick else 0.02
    return configure(
        {},
        mesh={"kind": "crystal", "shape": "hexagon", "size": 1.0, "h": 0.04 if quick else 0.012},
        time={"dt": dt, "t_end": T_END, "scheme": "sbdf2"},
        field={"D": 0.002, "decay": 0.5, "feedback": 0.0},
        memory={"tau": [200.0], "weight": [0.05]},
        sites={"rate": 2.0, "coupling": 0.2, "D": 0.0},
        input=[
            # steady tickling: back-to-back pulses are a constant rate
            {
                "profile": "gaussian",
                "centre": [0.0, 0.0],
                "radius": 0.15,
                "amplitude": 1.0,
                "start": 0.0,
                "period": 1.0,
                "width": 1.0,
                "count": int(OPT_OUT),
            },
            # the stick: a burst of wrong-sign input off-centre
            {
                "profile": "gaussian",
                "centre": STICK,
                "radius": 0.1,
                "amplitude": -1.5,
                "start": BURST[0],
                "period": 1.0,
                "width": 1.0,
                "count": int(BURST[1] - BURST[0]),
            },
        ],
        perturbation=[
            {
                "kind": "noise",
                "centre": STICK,
                "radius": 0.15,
                "sigma": 0.05,
                "start": BURST[0],
                "stop": BURST[1],
            },
        ],
        output={"every": round(0.25 / dt)},
    )


class PatternDistance:
    """After every step: ||u - u_pre|| / ||u_pre|| (lumped-mass L2), u_pre taken at BURST[0]."""

    def __init__(self):
        self.t: list[float] = []
        self.distance: list[float] = []
        self.u_max: list[float] = []
        self.pattern: np.ndarray | None = None
        self.pattern_norm = 1.0

    def __call__(self, simulation: Simulation) -> None:
        n = simulation.stepper.n_owned
        u = simulation.model.u.x.array[:n]
        weight = simulation.stepper.lumped[:n]
        comm = simulation.comm
        if self.pattern is None and simulation.t >= BURST[0] - 1e-9:
            self.pattern = u.copy()
            self.pattern_norm = np.sqrt(comm.allreduce(weight @ u**2, op=MPI.SUM))
        self.t.append(simulation.t)
        self.u_max.append(comm.allreduce(u.max(initial=-np.inf), op=MPI.MAX))
        if self.pattern is None:
            self.distance.append(np.nan)
        else:
            squared = comm.allreduce(weight @ (u - self.pattern) ** 2, op=MPI.SUM)
            self.distance.append(float(np.sqrt(squared) / self.pattern_norm))


def first_time(t: np.ndarray, condition: np.ndarray, after: float) -> float | None:
    """The first time after ``after`` from which ``condition`` holds to the next event."""
    index = np.flatnonzero((t > after) & condition)
    return float(t[index[0]] - after) if index.size else None


def run(out: Path, quick: bool, comm: MPI.Comm) -> DemoResult:
    probe = PatternDistance()
    simulation, _ = simulate(config(quick), out / "run", comm, "whirlpool", on_step=probe)
    simulation.close()
    t, distance, u_max = map(np.array, (probe.t, probe.distance, probe.u_max))
    during = (t > BURST[0]) & (t <= BURST[1])
    u_pre = u_max[np.searchsorted(t, BURST[0]) - 1]
    rows = simulation.history
    m_at_opt_out = next(r["M_integral"] for r in rows if r["t"] >= OPT_OUT - 1e-9)
    tickled = t <= OPT_OUT
    numbers = {
        "largest_distance": float(np.nanmax(distance[during])),
        "distance_before_opt_out": float(distance[tickled][-1]),
        "recovery_time": first_time(t, (distance < TOLERANCE) & tickled, BURST[1]),
        "time_to_base": first_time(t, u_max < TOLERANCE * u_pre, OPT_OUT),
        "u_max_end_fraction": float(u_max[-1] / u_pre),
        "memory_kept_percent": float(100.0 * rows[-1]["M_integral"] / m_at_opt_out),
    }
    table = format_table(
        ["quantity", "value"],
        [
            ["largest distance from the pattern during the burst", numbers["largest_distance"]],
            ["time after the burst to come within 5 % of it", numbers["recovery_time"]],
            ["distance just before the opt-out", numbers["distance_before_opt_out"]],
            ["time after the opt-out to fall below 5 % (base)", numbers["time_to_base"]],
            ["memory (integral of M) kept at the end (%)", numbers["memory_kept_percent"]],
        ],
    )
    pictures = sorted((out / "run" / "plots").glob("*.png"))
    if comm.rank == 0:
        pictures.append(
            line_plot(
                out / "whirlpool.png",
                [
                    (t, np.where(tickled, distance, np.nan), "||u - u_pre|| / ||u_pre||", "C0"),
                    (t, u_max / u_pre, "u_max / u_max before the burst", "C2:"),
                ],
                "time (non-dimensional)",
                "relative distance and level (non-dimensional)",
                "Whirlpool and stick: the pattern returns, then the opt-out returns u to base",
                spans=[
                    (0.0, OPT_OUT, "steady tickling"),
                    (*BURST, "burst: wrong-sign input + noise"),
                ],
                hline=(TOLERANCE, "5 %"),
            )
        )
    pictures = comm.bcast(pictures, root=0)
    return DemoResult(table, numbers, pictures)


if __name__ == "__main__":
    from bmf_fem.demos.common import demo_main

    sys.exit(demo_main("whirlpool", run, MPI.COMM_WORLD))
