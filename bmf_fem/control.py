"""Runs with detection: null runs that calibrate the statistical alarm, and a paired control.

The run's resolution warnings (bmf_fem.resolution) are printed before it starts and
written into its summary.json ("warnings", "resolution").

``detect.calibration_runs = N``: before the run, N runs without inputs (seeds seed+1 ..
seed+N) record each site's largest Kendall tau; ``tau_threshold`` becomes the
``calibration_quantile`` of those maxima, so a null run alarms at most that share of sites.
``detect.control = true``: after the run, the same configuration without inputs and with
the same noise seed runs in ``control/``; its alarms are false alarms.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from bmf_fem.parallel import print0
from bmf_fem.resolution import summary_entries
from bmf_fem.simulation import Simulation


def without_inputs(config, seed: int | None = None):
    """The same configuration with no inputs (and optionally another noise seed)."""
    output = config.output if seed is None else dataclasses.replace(config.output, seed=seed)
    return dataclasses.replace(config, inputs=(), output=output)


def calibrate_threshold(config, comm) -> tuple[float, list[float]]:
    """tau_threshold from null runs: a quantile of every site's largest tau."""
    maxima = []
    for run in range(config.detect.calibration_runs):
        null = without_inputs(config, seed=config.output.seed + 1 + run)
        null = dataclasses.replace(null, detect=dataclasses.replace(null.detect, control=False))
        simulation = Simulation(null, comm)
        for _ in range(simulation.n_steps):
            simulation.step()
        statistical = [d for d in simulation.detection.detectors if d.name == "statistical"]
        maxima.append(statistical[0].max_tau.copy())
        simulation.close()
    values = np.concatenate(maxima)
    threshold = float(np.quantile(values, config.detect.calibration_quantile))
    return min(threshold, 0.999), values.tolist()


def run_with_detection(
    config,
    out: Path,
    comm,
    force: bool = False,
    progress: bool = True,
    resume: bool = False,
    on_start=None,
):
    """Calibrate (if asked), run, and run the paired control (if asked); the summary.

    ``on_start(simulation)`` is called once the run is set up, before its first step.
    """
    calibration = None
    statistical = "statistical" in config.detect.detectors
    if statistical and config.detect.calibration_runs > 0:
        threshold, _maxima = calibrate_threshold(config, comm)
        print0(
            comm,
            f"bmf run: tau_threshold calibrated on {config.detect.calibration_runs} "
            f"null run(s): {threshold:.3f}",
        )
        config = dataclasses.replace(
            config, detect=dataclasses.replace(config.detect, tau_threshold=threshold)
        )
        calibration = {
            "runs": config.detect.calibration_runs,
            "quantile": config.detect.calibration_quantile,
            "tau_threshold": threshold,
        }
    simulation = Simulation(config, comm)
    try:
        resolution = summary_entries(config, simulation.mesh_data.mesh)
        for message in resolution["warnings"]:
            print0(comm, f"bmf: warning: {message}", file=sys.stderr)
        if on_start is not None:
            on_start(simulation)
        summary = simulation.run(out, force=force, progress=progress, resume=resume)
    finally:
        simulation.close()
    summary.update(resolution)
    if calibration:
        summary["detection"]["calibration"] = calibration
    if config.detect.control and config.detect.detectors:
        control = Simulation(without_inputs(config), comm)
        try:
            control_summary = control.run(
                Path(out) / "control", force=force, progress=False, resume=resume
            )
        finally:
            control.close()
        summary["detection"]["control"] = {
            name: {
                "sites": result["sites"],
                "false_alarms": result["false_alarms"],
                "false_alarm_rate": result["false_alarms"] / max(result["sites"], 1),
            }
            for name, result in control_summary["detection"].items()
        }
    from bmf_fem.output import write_json

    write_json(Path(out) / "summary.json", summary, comm)
    return summary
