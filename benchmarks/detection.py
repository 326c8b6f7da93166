"""How well the build-up is seen before expression, scored as the early-warning field scores
detectors: ROC areas of every indicator (Bury et al., PNAS 2021) and hit tables.

Scenarios (``--scenarios``, default all):

- ``slow``: a slow uniform build-up on a 90-cell epithelium: steady input everywhere
  feeds a slow memory, so every cell's tilt creeps from 0.15 to the fold over ~200 time
  units (sites noise 0.05). ``--seeds N`` forced runs (default 20) against N null runs
  (inputs off, other seeds), which also calibrate the thresholds; a paired control per
  forced seed counts false alarms.
- ``epithelium``, ``tissue_wave``: the shipped demos (their own calibration and control).
- ``crystal``: the default run (continuum sites, no noise) with every detector, two null
  runs and a control.

Then the online cost of detection (``--cost``): ms per step of a continuum run with
about 10k sites without detectors, with the field detector and with every one, in one
process, alternating; and the time spent inside the detectors, timed around them (the
steadier number on a busy machine), as a share of the rest of the step.

    containers/run python3 benchmarks/detection.py                 # all, about 10 min
    containers/run python3 benchmarks/detection.py --scenarios slow --seeds 4
    containers/run python3 benchmarks/detection.py --scenarios none --cost
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.config import config_from_dict, load_config
from bmf_fem.control import calibrate, roc_series, run_with_detection, without_inputs
from bmf_fem.demos import demo_path
from bmf_fem.detect import detector_results
from bmf_fem.roc import evaluate as roc_evaluate
from bmf_fem.simulation import Simulation

SLOW = {
    "mesh": {"kind": "tissue", "h": 0.06, "cells": 90},
    "time": {"dt": 0.1, "t_end": 300.0},
    "field": {"D": 0.01, "decay": 1.0, "feedback": 0.0},
    # M = 0.01 m, dm/dt = u - m / 400: phi = u + M creeps from 0.15 to the fold by t ~ 200
    "memory": {"tau": [400.0], "weight": [0.01], "source": "u"},
    "sites": {"mode": "cells", "regions": "cell_*", "noise": 0.05, "D": 0.0},
    "input": [
        {"profile": "everywhere", "amplitude": 0.15, "period": 1.0, "width": 1.0, "count": 300}
    ],
    "detect": {
        "detectors": ["all"],
        "window": 20.0,
        "trend_window": 60.0,
        "sustain": 2.0,
        "calibration_quantile": 0.95,
    },
    "output": {"every": 100},
}
COUNTS = ("expressed", "hits", "late", "misses", "false_alarms")


def slow_build_up(seeds: int, comm, scratch: Path) -> tuple[dict, dict]:
    """ROC and detection of the slow build-up over ``seeds`` forced and null seeds."""
    base = config_from_dict(SLOW)
    base = dataclasses.replace(
        base, detect=dataclasses.replace(base.detect, calibration_runs=seeds)
    )
    thresholds, nulls = calibrate(base, comm)
    config = dataclasses.replace(
        base, detect=dataclasses.replace(base.detect, calibration_runs=0, **thresholds)
    )
    pooled: dict[str, list] = {}
    units: dict[str, dict] = {}
    false_alarms: dict[str, list[int]] = {}
    for k in range(seeds):
        seeded = dataclasses.replace(config, output=dataclasses.replace(config.output, seed=k))
        simulation = Simulation(seeded, comm)
        simulation.run(scratch / f"slow{k}", force=True, progress=False)
        series = roc_series(seeded, simulation.detection, [nulls[k]], comm)
        if comm.rank == 0:
            for indicator, arrays in series.items():
                pooled.setdefault(indicator, []).append(arrays)
        detection = simulation.detection
        for name, row in detector_results(detection.summary()).items():
            totals = units.setdefault(name, {key: 0 for key in COUNTS} | {"leads": []})
            for key in COUNTS:
                totals[key] += row[key]
            alarm = detection.alarm_times()[name]
            expressed = detection.expressed_at
            both = (alarm >= 0) & (expressed >= 0)
            totals["leads"].extend((expressed - alarm)[both].tolist())
        simulation.close()
        control = Simulation(without_inputs(seeded), comm)
        control.run(scratch / f"control{k}", force=True, progress=False)
        for name, row in detector_results(control.detection.summary()).items():
            false_alarms.setdefault(name, []).append(row["false_alarms"] / row["sites"])
        control.close()
    roc = {}
    if comm.rank == 0:
        for indicator, runs in pooled.items():
            times = runs[0][0]
            parts = [np.concatenate([run[i] for run in runs], axis=-1) for i in range(1, 5)]
            roc[indicator] = roc_evaluate(times, *parts)
    table = {}
    for name, totals in units.items():
        leads = np.asarray(totals.pop("leads"))
        table[name] = totals | {
            "lead_median": float(np.median(leads)) if leads.size else None,
            "control_fa": float(np.mean(false_alarms[name])),
        }
    return roc, table


def from_summary(summary: dict) -> tuple[dict, dict]:
    detection = summary["detection"]
    control = detection.get("control", {})
    table = {
        name: {key: row[key] for key in COUNTS}
        | {
            "lead_median": row["lead_median"],
            "control_fa": control.get(name, {}).get("false_alarm_rate"),
        }
        for name, row in detector_results(detection).items()
    }
    return detection.get("roc", {}), table


def shipped(name: str, comm, scratch: Path) -> tuple[dict, dict]:
    """A shipped scenario with every detector, its null runs and control."""
    if name == "tissue_wave":
        from bmf_fem.demos import tissue_wave
        from bmf_fem.demos.common import configure

        config = configure(tissue_wave.BASE)
    elif name == "epithelium":
        config = load_config(demo_path("epithelium"))
    else:
        config = load_config(
            demo_path("tickling"),
            overrides=[
                'detect.detectors=["all"]',
                "detect.calibration_runs=2",
                "detect.control=true",
            ],
        )
    summary = run_with_detection(config, scratch / name, comm, force=True, progress=False)
    return from_summary(summary)


def cost(comm, repeats: int = 7, steps: int = 50) -> list[tuple[str, float, float]]:
    """ms per step with no detectors, the field detector and every continuum one, the
    variants alternating; and the ms of each step spent in the detectors (timed inside)."""
    variants = {"none": [], "field": ["field"], "all": ["all"]}
    simulations = {}
    inside = {label: 0.0 for label in variants}
    for label, detectors in variants.items():
        config = load_config(
            demo_path("tickling"),
            overrides=["mesh.h=0.0085", f"detect.detectors={detectors!r}".replace("'", '"')],
        )
        simulation = simulations[label] = Simulation(config, comm)
        if simulation.detection is not None:
            update = simulation.detection.update

            def timed(step, t, update=update, label=label):
                started = time.perf_counter()
                update(step, t)
                inside[label] += time.perf_counter() - started

            simulation.detection.update = timed
    timings: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(repeats):
        for label, simulation in simulations.items():
            comm.barrier()
            started = time.perf_counter()
            for _ in range(steps):
                simulation.step()
            comm.barrier()
            timings[label].append(1e3 * (time.perf_counter() - started) / steps)
    sites = simulations["none"].model.V.dofmap.index_map.size_global
    for simulation in simulations.values():
        simulation.close()
    return [
        (f"{label} ({sites} sites)", float(np.median(ms)), 1e3 * inside[label] / (repeats * steps))
        for label, ms in timings.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["slow", "epithelium", "tissue_wave", "crystal"],
        help="slow, epithelium, tissue_wave, crystal, or none",
    )
    parser.add_argument("--seeds", type=int, default=20, help="slow: forced and null seeds")
    parser.add_argument("--cost", action="store_true", help="also the online cost per step")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    say = (lambda *a, **k: print(*a, **k, flush=True)) if comm.rank == 0 else (lambda *a, **k: None)
    with tempfile.TemporaryDirectory(prefix="bmf-detection-") as directory:
        scratch = Path(comm.bcast(directory, root=0))
        for name in args.scenarios:
            if name == "none":
                continue
            started = time.perf_counter()
            if name == "slow":
                roc, table = slow_build_up(args.seeds, comm, scratch)
            else:
                roc, table = shipped(name, comm, scratch)
            title = (
                f"{name} ({args.seeds} forced + {args.seeds} null seeds)"
                if name == "slow"
                else name
            )
            say(f"\n## {title}: {time.perf_counter() - started:.0f} s")
            say(f"{'indicator':<18} {'AUC early':>9} {'AUC late':>9} {'forced':>7} {'null':>6}")
            for indicator, row in roc.items():
                say(
                    f"{indicator:<18} {row['auc_early']:>9.3f} {row['auc_late']:>9.3f}"
                    f" {row['forced']:>7} {row['null']:>6}"
                )
            say(
                f"\n{'detector':<12} {'expressed':>9} {'hits':>6} {'late':>5} {'misses':>6}"
                f" {'false':>6} {'hit %':>6} {'lead med':>8} {'control FA':>10}"
            )
            for detector, row in table.items():
                share = 100.0 * row["hits"] / max(row["expressed"], 1)
                lead = row["lead_median"]
                control = row["control_fa"]
                say(
                    f"{detector:<12} {row['expressed']:>9} {row['hits']:>6} {row['late']:>5}"
                    f" {row['misses']:>6} {row['false_alarms']:>6} {share:>6.1f}"
                    f" {lead if lead is None else f'{lead:.3g}':>8}"
                    f" {control if control is None else f'{control:.3f}':>10}"
                )
    if args.cost:
        rows = cost(comm)
        baseline = rows[0][1]
        say(
            f"\n## online cost (median of 7 x 50 steps, variants alternating)\n"
            f"{'detectors':<24} {'ms/step':>8} {'vs none':>8} {'in detectors':>13} {'share':>6}"
        )
        for label, ms, detecting in rows:
            say(
                f"{label:<24} {ms:>8.2f} {100.0 * (ms / baseline - 1.0):>7.1f}%"
                f" {detecting:>10.3f} ms {100.0 * detecting / (ms - detecting):>5.1f}%"
            )


if __name__ == "__main__":
    main()
