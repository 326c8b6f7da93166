"""The measurements behind the resolution guard's thresholds (bmf_fem/resolution.py).

Four tables, each from runs stepped in memory (no output files), P1, one rank:

* ``front``: the speed of a site front under a uniform tilt b = g u (u held constant)
  against the travelling-wave speed sqrt(D_s alpha / 2) (s1 + s3 - 2 s2), s1 < s2 < s3
  the roots of s - s^3 + b, for fronts sqrt(D_s/alpha) = 0.02 wide at 0.5 to 2 cells,
  on a structured interval (1D) and an unstructured strip (2D).
* ``radius``: the peak of u (peak_u_max) of the default demo with sites.D = 0, for
  Gaussian inputs at 1.5 to 6 cells per radius, against h = 0.005.
* ``diffusion``: the same peaks for a short and a long field diffusion length
  sqrt(D_u/delta) (feedback 0) and memory length sqrt(D_M tau), at h = 0.04 and 0.02
  against h = 0.005: a length below a cell should make the error grow if it mattered.
* ``step``: the change of the peaks when h is halved, at three dt, i.e. sqrt(D dt) from
  a quarter of a cell to one cell.

    containers/run python3 benchmarks/resolution.py             # all four, about 3 min
    containers/run python3 benchmarks/resolution.py front       # one table
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mpi4py import MPI

from bmf_fem.buildup import build_up_report
from bmf_fem.config import config_from_dict, load_config
from bmf_fem.demos import demo_path
from bmf_fem.metrics import summarise_history
from bmf_fem.simulation import Simulation


def stepped(config) -> tuple[dict, list[dict]]:
    """Run ``config`` without output; its results and metric rows."""
    simulation = Simulation(config, MPI.COMM_SELF)
    try:
        rows = [simulation.metrics()]
        for step in range(1, simulation.n_steps + 1):
            simulation.step()
            if step % config.output.every == 0 or step == simulation.n_steps:
                rows.append(simulation.metrics())
        trains = [item.train for item in simulation.inputs]
        return {**summarise_history(rows), **build_up_report(rows, trains)}, rows
    finally:
        simulation.close()


TILTS = (0.05, 0.1, 0.2)


def front_config(tilt: float, h: float, dim: int) -> dict:
    """A front at x = 0.1 moving right under the tilt, on [0, 1] (x [0, 0.3] in 2D)."""
    mesh = {"kind": "box", "dim": dim, "h": h}
    if dim == 2:
        mesh.update(lengths=[1.0, 0.3], structured=False)
    return {
        "mesh": mesh,
        "time": {"dt": 0.01, "t_end": 16.0, "scheme": "sbdf2"},
        "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0, "initial": repr(tilt)},
        "memory": {"tau": [10.0], "source": "0"},
        "sites": {"rate": 4.0, "D": 0.0016, "initial": "tanh((0.1 - x)/0.02)"},
        "output": {"every": 10},
    }


def front_speed(tilt: float, h: float, dim: int) -> tuple[float, float]:
    """Measured and travelling-wave speed (from the growth of the mean of s)."""
    _, rows = stepped(config_from_dict(front_config(tilt, h, dim)))
    low, middle, high = np.sort(np.roots([-1.0, 0.0, 1.0, tilt]).real)
    exact = np.sqrt(0.0016 * 4.0 / 2.0) * (low + high - 2.0 * middle)
    t = np.array([row["t"] for row in rows])
    mean = np.array([row["s_mean"] for row in rows])
    window = (t >= 4.0) & (t <= 14.0)
    speed = np.polyfit(t[window], mean[window], 1)[0] / (high - low)
    return speed, exact


def table_front() -> None:
    width = 0.02
    print("site front sqrt(D_s/alpha) = 0.02: speed error against the travelling wave, %")
    print(f"{'cells':>6} {'h':>8}" + "".join(f"{f'{d}D b={b}':>12}" for d in (1, 2) for b in TILTS))
    for cells in (0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0):
        h = width / cells
        errors = []
        for dim in (1, 2):
            for tilt in TILTS:
                speed, exact = front_speed(tilt, h, dim)
                errors.append(100.0 * (speed / exact - 1.0))
        print(f"{cells:>6g} {h:>8.4g}" + "".join(f"{e:>12.1f}" for e in errors), flush=True)


def demo(overrides: list[str]) -> dict:
    return stepped(load_config(demo_path(), overrides=["sites.D=0", *overrides]))[0]


def table_radius() -> None:
    print("Gaussian input radius r: peak_u_max against h = min(0.005, r/12), %")
    print(f"{'r':>6} {'cells':>6} {'h':>8} {'error':>8}")
    for radius in (0.03, 0.06, 0.12):
        radii = [f"input.0.radius={radius}", f"input.1.radius={radius}"]
        reference = demo([*radii, f"mesh.h={min(0.005, radius / 12)}"])["peak_u_max"]
        for cells in (1.5, 2.0, 3.0, 4.0, 6.0):
            h = radius / cells
            peak = demo([*radii, f"mesh.h={h}"])["peak_u_max"]
            print(
                f"{radius:>6g} {cells:>6g} {h:>8.4g} {100 * (peak / reference - 1):>8.2f}",
                flush=True,
            )


def table_diffusion() -> None:
    print("diffusion lengths: peak error against h = 0.005, % (feedback 0)")
    print(f"{'length':>34} {'value':>7} {'h':>6} {'cells':>6} {'peak_u_max':>11} {'phi peak':>9}")
    cases = [
        ("sqrt(field.D/field.decay)", "field.D", 0.0002, 1.0),
        ("sqrt(field.D/field.decay)", "field.D", 0.005, 1.0),
        ("sqrt(memory.D*memory.tau[0])", "memory.D", 1e-6, 60.0),
        ("sqrt(memory.D*memory.tau[0])", "memory.D", 1e-4, 60.0),
    ]
    for name, key, value, factor in cases:
        setting = ["field.feedback=0", f"{key}={value}"]
        length = np.sqrt(value / factor) if key == "field.D" else np.sqrt(value * factor)
        reference = demo([*setting, "mesh.h=0.005"])
        for h in (0.04, 0.02):
            result = demo([*setting, f"mesh.h={h}"])
            errors = [
                100 * (result[k] / reference[k] - 1) for k in ("peak_u_max", "peak_intensity")
            ]
            print(
                f"{name:>34} {length:>7.3g} {h:>6g} {length / h:>6.2f}"
                f" {errors[0]:>11.2f} {errors[1]:>9.2f}",
                flush=True,
            )


def table_step() -> None:
    print("sqrt(field.D*time.dt) against h: change of the peaks when h = 0.03 is halved, %")
    print(f"{'dt':>7} {'cells':>6} {'peak_u_max':>11} {'phi peak':>9}")
    for dt, every in ((0.2, 1), (0.05, 4), (0.0125, 16)):
        setting = ["field.feedback=0", f"time.dt={dt}", f"output.every={every}"]
        coarse = demo([*setting, "mesh.h=0.03"])
        fine = demo([*setting, "mesh.h=0.015"])
        changes = [100 * (fine[k] / coarse[k] - 1) for k in ("peak_u_max", "peak_intensity")]
        cells = np.sqrt(0.005 * dt) / 0.03
        print(f"{dt:>7g} {cells:>6.2f} {changes[0]:>11.2f} {changes[1]:>9.2f}", flush=True)


TABLES = {
    "front": table_front,
    "radius": table_radius,
    "diffusion": table_diffusion,
    "step": table_step,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help=f"any of {', '.join(TABLES)} (default: all)")
    args = parser.parse_args()
    unknown = [name for name in args.tables if name not in TABLES]
    if unknown:
        parser.error(f"no table {unknown[0]!r}; the tables are {', '.join(TABLES)}")
    for name in args.tables or TABLES:
        started = time.perf_counter()
        TABLES[name]()
        print(f"({time.perf_counter() - started:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
