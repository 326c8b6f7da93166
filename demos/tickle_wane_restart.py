"""Tickle, wane, restart on a hexagonal crystal plate, next to the notes' toy numbers.

Twenty tickles (one per unit time) at the centre of a hexagonal plate build the field;
thirty idle periods (the opt-out) let its intensity wane while the memory keeps its
scope; a restart then climbs back to the old peak. The notes' toy model gives a peak of
about 12.45 single-tickle responses after 20 pulses, about 78 % wane after 30 idle steps
and about 17 pulses to recover. Here the same story is computed with the BMF equations
(decay 0.05 per period, one slow memory mode) without and with memory feedback gamma,
which makes the restart faster still. Behaviour of the model, not evidence about crystals.

    containers/run bmf demo tickle_wane_restart [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.demos.common import DemoResult, configure, format_table, line_plot, simulate

PULSES, IDLE, RESTART_PULSES = 20, 30, 24
NOTES = {"peak": 12.45, "wane": 78.0, "recover": 17}
FEEDBACK = 0.05


def base(quick: bool) -> dict:
    """The plate, the field and its memory; pulses of one unit period."""
    dt = 0.1 if quick else 0.05
    return {
        "mesh": {"kind": "crystal", "shape": "hexagon", "size": 1.0, "h": 0.04 if quick else 0.015},
        "time": {"dt": dt, "t_end": 1.0 + PULSES + IDLE + RESTART_PULSES, "scheme": "sbdf2"},
        "field": {"D": 0.00003, "decay": 0.05, "feedback": 0.0},
        "memory": {"tau": [400.0], "weight": [0.004], "scope_threshold": 0.05},
        "sites": {"rate": 2.0, "coupling": 0.3, "D": 0.0},
        "input": [
            train(start=1.0, count=PULSES),
            train(start=1.0 + PULSES + IDLE, count=RESTART_PULSES),
        ],
        "output": {"every": round(0.5 / dt)},
    }


def train(start: float, count: int) -> dict:
    return {
        "profile": "gaussian",
        "centre": [0.0, 0.0],
        "radius": 0.15,
        "amplitude": 0.1,
        "start": start,
        "period": 1.0,
        "count": count,
        "width": 0.2,
    }


def scenario_numbers(history: list[dict]) -> dict:
    """Peak in single-tickle responses, wane %, and pulses to recover, from metric rows."""
    t = np.array([row["t"] for row in history])
    u = np.array([row["u_max"] for row in history])
    phi = np.array([row["phi_max"] for row in history])
    restart = 1.0 + PULSES + IDLE
    first_pulse = (t > 1.0) & (t <= 2.0)
    build = (t > 1.0) & (t <= 1.0 + PULSES)
    peak_phi = phi[build].max()
    peak_u = u[build].max()
    before_restart = u[t <= restart][-1]
    again = np.flatnonzero((t > restart) & (phi >= 0.999 * peak_phi))
    recover = int(np.ceil(t[again[0]] - restart)) if again.size else None
    return {
        "peak_in_single_tickles": float(peak_u / u[first_pulse].max()),
        "peak_phi": float(peak_phi),
        "wane_percent": float(100.0 * (1.0 - before_restart / peak_u)),
        "pulses_to_recover": recover,
        "expressed_fraction_end": float(history[-1]["expressed_fraction"]),
        "M_integral_at_restart": float(
            history[int(np.flatnonzero(t <= restart)[-1])]["M_integral"]
        ),
    }


def run(out: Path, quick: bool, comm: MPI.Comm) -> DemoResult:
    numbers, histories, pictures = {}, {}, []
    for label, feedback in (("gamma = 0", 0.0), (f"gamma = {FEEDBACK}", FEEDBACK)):
        key = "no_feedback" if feedback == 0.0 else "feedback"
        config = configure(base(quick), field={"feedback": feedback})
        simulation, _ = simulate(config, out / key, comm, label, pictures=key == "feedback")
        simulation.close()
        histories[label] = simulation.history
        numbers[key] = scenario_numbers(simulation.history)
        if key == "feedback":
            pictures += sorted((out / key / "plots").glob("*.png"))
    plain, fed = numbers["no_feedback"], numbers["feedback"]
    table = format_table(
        ["quantity", "notes (toy)", "BMF gamma=0", f"BMF gamma={FEEDBACK}"],
        [
            [
                "peak after 20 pulses (single tickles)",
                NOTES["peak"],
                plain["peak_in_single_tickles"],
                fed["peak_in_single_tickles"],
            ],
            [
                "u wane after 30 idle periods (%)",
                NOTES["wane"],
                plain["wane_percent"],
                fed["wane_percent"],
            ],
            [
                "pulses to recover the peak",
                NOTES["recover"],
                plain["pulses_to_recover"],
                fed["pulses_to_recover"],
            ],
            [
                "expressed share of the plate at the end",
                None,
                plain["expressed_fraction_end"],
                fed["expressed_fraction_end"],
            ],
        ],
    )
    if comm.rank == 0:
        restart = 1.0 + PULSES + IDLE
        curves = []
        for colour, (label, history) in zip(("C0", "C3"), histories.items(), strict=True):
            t = [row["t"] for row in history]
            curves.append((t, [row["phi_max"] for row in history], f"phi_max, {label}", colour))
            curves.append((t, [row["u_max"] for row in history], f"u_max, {label}", colour + ":"))
        pictures.append(
            line_plot(
                out / "tickle_wane_restart.png",
                curves,
                "time (non-dimensional; one tickle per unit)",
                "field (non-dimensional)",
                "Tickle, wane, restart: phi = u + M keeps its memory while u wanes",
                spans=[
                    (1.0, 1.0 + PULSES, "tickling"),
                    (restart, restart + RESTART_PULSES, "tickling"),
                ],
                hline=(plain["peak_phi"], "first peak of phi_max (gamma = 0)"),
            )
        )
    pictures = comm.bcast(pictures, root=0)
    return DemoResult(table, numbers, pictures)


if __name__ == "__main__":
    from bmf_fem.demos.common import demo_main

    sys.exit(demo_main("tickle_wane_restart", run, MPI.COMM_WORLD))
